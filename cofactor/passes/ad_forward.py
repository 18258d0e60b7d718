"""`ad-forward`: forward-mode AD, Enzyme-style, over func/arith/math/scf/memref IR.

Each `ad.fwddiff @f(...)` becomes a call to a generated function
`fwddiff_<f>_<args>_<results>[_w<W>]` (one letter per activity: c const, d dup,
n dupnoneed), made once per function, activity pattern and width (but see
calls below; a copy is `..._1`, `..._2`). It has the
request's signature: every argument, each `dup` one followed by its W shadows;
then the primal results that are not `noneed`, then W tangents per `dup` or
`dupnoneed` result. Its body is the primal, op by op, with tangent code after
each active op (see _activity: varied and useful):

- arith/math ops and libm calls: `tangent = sum_i d_i * t_i` with the
  partials of `_tangent_rules` (computed once, shared by the W tangents),
  checked products except for `Finite` partials (see `_tangent_rules`);
- scf.for / scf.while / scf.if carry each active value's tangents as extra
  iter_args, condition/yield operands and results;
- an array that can hold active values has a shadow array per tangent: an
  array argument takes the caller's shadows (a const one that gets active
  values written, a zero-filled shadow of its own), `memref.alloc` gets a
  zero-filled shadow alloc, views apply to shadows too, a load of an active
  value also loads the shadows, a store also stores the tangents (zero for an
  inactive value);
- a call of a function with a body calls that function's derivative, made
  for the activities at the call (once per activity pattern, but once per
  call site for a leaf function given shadow arrays, so that LLVM inlines
  it and vectorizes its loops knowing the caller's arrays); a value or
  array nobody differentiates is passed `const`;
- `ub.poison` has no tangent (zero where one is needed) and `rt` checks stay
  primal-only;
- a reverse-mode cache (`ad.init`) that holds active values has W tangent
  caches: each push, pop and reservation is repeated on them, so forward mode
  differentiates gradient functions (Hessians are forward over reverse).

Vector mode (width W) keeps W separate tangents per scalar and W shadow arrays
per array: W copies of the tangent code, no vector types, so the lowering
needs nothing new and LLVM's SLP vectorizer may pack them.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.context import Context
from xdsl.dialects import func, memref, scf, ub
from xdsl.dialects.builtin import (
    AnyFloat,
    MemRefType,
    ModuleOp,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.ad import (
    Activity,
    CacheType,
    FwdDiffOp,
    InitOp,
    PopOp,
    PushOp,
    ReserveOp,
)
from cofactor.passes._activity import ActivityAnalysis, FunctionActivity, has_body
from cofactor.passes._requests import replace_request
from cofactor.passes._shadows import zero_array, zero_fill
from cofactor.passes._tangent_rules import (
    INACTIVE,
    MEMREF_ALLOCS,
    MEMREF_FREES,
    MEMREF_VIEWS,
    NEG_ONE,
    ONE,
    ZERO,
    Emit,
    Partial,
    Where,
    checked_mul,
    finite_partials,
    partials,
    rule_for,
)

_LETTER = {Activity.CONST: "c", Activity.DUP: "d", Activity.DUPNONEED: "n"}


class ForwardDiff:
    """Makes the derivative functions of one module, cached by activity pattern."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self.analysis = ActivityAnalysis(module)
        self._made: dict[tuple, func.FuncOp] = {}

    def derivative(self, name: str, args: Sequence[Activity], results: Sequence[Activity],
                   width: int, site: Operation | None = None) -> func.FuncOp:
        """`site`: a call that gets a derivative of its own (see `call`)."""
        key = (name, tuple(args), tuple(results), width, site)
        if key in self._made:
            return self._made[key]
        fn = SymbolTable.lookup_symbol(self.module, name)
        if not isinstance(fn, func.FuncOp) or not has_body(fn):
            raise PassFailedException(f"ad-forward: @{name} is not a function with a body")
        if len(fn.body.blocks) != 1:
            raise PassFailedException(f"ad-forward: @{name} is not structured (several blocks)")
        ftype = fn.function_type
        if len(args) != len(ftype.inputs) or len(results) != len(ftype.outputs):
            raise PassFailedException(
                f"ad-forward: @{name} has {len(ftype.inputs)} arguments and "
                f"{len(ftype.outputs)} results, the request gives {len(args)} and "
                f"{len(results)} activities")
        for t, act in zip((*ftype.inputs, *ftype.outputs), (*args, *results), strict=True):
            if act.has_shadow and not isinstance(t, AnyFloat | MemRefType | CacheType):
                raise PassFailedException(f"ad-forward: @{name}: a {t} cannot be {act}")
        inputs = [u for t, a in zip(ftype.inputs, args, strict=True)
                  for u in [t] * (1 + width * a.has_shadow)]
        outputs = [t for t, a in zip(ftype.outputs, results, strict=True) if a.returns_primal]
        outputs += [u for t, a in zip(ftype.outputs, results, strict=True)
                    for u in [t] * (width * a.has_shadow)]
        sig = "".join(_LETTER[a] for a in args) + "_" + "".join(_LETTER[a] for a in results)
        base = f"fwddiff_{name}_{sig}" + (f"_w{width}" if width > 1 else "")
        symbol, n = base, 0
        while SymbolTable.lookup_symbol(self.module, symbol) is not None:
            n += 1
            symbol = f"{base}_{n}"
        made = func.FuncOp(symbol, (inputs, outputs), visibility="private")
        Rewriter.insert_op(made, InsertPoint.after(fn))
        self._made[key] = made
        info = self.analysis.analyze(fn, [a.has_shadow for a in args],
                                     [a.has_shadow for a in results])
        _Tangents(self, info, width).function(fn, made, args, results)
        return made


class _Tangents:
    """Builds one derivative function: `primal` maps old values to their clones,
    `tangent` maps each active old value to its W tangents (or shadows)."""

    def __init__(self, diff: ForwardDiff, info: FunctionActivity, width: int):
        self.diff, self.info, self.width = diff, info, width
        self.primal: dict[SSAValue, SSAValue] = {}
        self.tangent: dict[SSAValue, list[SSAValue]] = {}

    def function(self, fn: func.FuncOp, made: func.FuncOp, args: Sequence[Activity],
                 results: Sequence[Activity]) -> None:
        block = made.body.block
        e = Emit(InsertPoint.at_end(block))
        new_args = iter(block.args)
        for arg, act in zip(fn.args, args, strict=True):
            self.primal[arg] = new = next(new_args)
            new.name_hint = arg.name_hint
            shadows = [next(new_args) for _ in range(self.width * act.has_shadow)]
            for s in shadows:
                s.name_hint = _tangent_name(arg)
            if self.info.is_active(arg):
                self.tangent[arg] = shadows or self._zeros(e, arg)
        self.block(fn.body.block, block)
        ret = block.last_op
        assert isinstance(ret, func.ReturnOp)
        e = Emit(InsertPoint.before(ret))
        values = [v for v, a in zip(ret.operands, results, strict=True) if a.returns_primal]
        tangents = [t for v, a in zip(fn.body.block.last_op.operands, results, strict=True)
                    if a.has_shadow for t in self._tangent_or_zero(e, v)]
        Rewriter.replace_op(ret, func.ReturnOp(*values, *tangents))

    # -- helpers ----------------------------------------------------------

    def _zeros(self, e: Emit, like: SSAValue) -> list[SSAValue]:
        """W zero tangents for old value `like`: one zero constant, or W new
        zero-filled arrays of its shape."""
        if isinstance(like.type, MemRefType):
            return [zero_array(e, self.primal[like]) for _ in range(self.width)]
        if isinstance(like.type, CacheType):
            return [e.op(InitOp(like.type.element)) for _ in range(self.width)]
        return [e.const(0.0, like.type)] * self.width

    def _tangent_or_zero(self, e: Emit, v: SSAValue) -> list[SSAValue]:
        return self.tangent[v] if v in self.tangent else self._zeros(e, v)

    def _active(self, v: SSAValue) -> bool:
        return self.info.is_active(v)

    def _clone(self, e: Emit, op: Operation) -> Operation:
        """`op` on the primal values, its results mapped as the primal's."""
        new = self._shadow_op(e, op)
        for old, res in zip(op.results, new.results, strict=True):
            self.primal[old] = res
            res.name_hint = old.name_hint
        return new

    def _shadow_op(self, e: Emit, op: Operation, source: SSAValue | None = None
                   ) -> Operation:
        """Another `op` on the primal values, with `source` as operand 0 if given."""
        mapper = {v: self.primal[v] for v in op.operands}
        if source is not None:
            mapper[op.operands[0]] = source
        return e.insert(op.clone(value_mapper=mapper, clone_name_hints=False))

    def _set_tangents(self, old: SSAValue, values: Sequence[SSAValue]) -> None:
        self.tangent[old] = list(values)
        for v in values:
            if v.name_hint is None:
                v.name_hint = _tangent_name(old)

    # -- ops --------------------------------------------------------------

    def block(self, old: Block, new: Block) -> None:
        """Emit primal and tangent code of `old` into `new`, its terminator too
        (scf terminators are rebuilt by their parent op)."""
        e = Emit(InsertPoint.at_end(new))
        for op in old.ops:
            self.op(e, op)

    def op(self, e: Emit, op: Operation) -> None:
        match op:
            case scf.ForOp():
                self.for_op(e, op)
            case scf.WhileOp():
                self.while_op(e, op)
            case scf.IfOp():
                self.if_op(e, op)
            case scf.YieldOp() | scf.ConditionOp() | func.ReturnOp():
                self.terminator(e, op)
            case func.CallOp() if self.diff.analysis.callee(op) is not None:
                self.call(e, op)
            case memref.LoadOp():
                new = self._clone(e, op)
                if self._active(op.res):
                    self._set_tangents(op.res, [
                        e.op(memref.LoadOp.get(s, new.indices)) for s in self.tangent[op.memref]])
            case memref.StoreOp():
                new = self._clone(e, op)
                if self._active(op.memref):
                    for t, s in zip(self._tangent_or_zero(e, op.value), self.tangent[op.memref],
                                    strict=True):
                        e.insert(memref.StoreOp.get(t, s, new.indices))
            case InitOp() | ReserveOp() | PushOp() | PopOp():
                self.cache_op(e, op)
            case _:
                self.generic(e, op)

    def generic(self, e: Emit, op: Operation) -> None:
        if op.regions:
            raise PassFailedException(f"ad-forward: {op.name} is not supported")
        new = self._clone(e, op)
        touches_active = any(self._active(v) for v in (*op.results, *op.operands)
                             if isinstance(v.type, MemRefType))
        if isinstance(op, (*MEMREF_VIEWS, *MEMREF_ALLOCS, *MEMREF_FREES, ub.PoisonOp)):
            if touches_active:
                self.memref_op(e, op)
            return
        if type(op) in INACTIVE:
            return
        if not touches_active and not any(self._active(r) for r in op.results):
            return
        rule = rule_for(op)
        if rule is None or len(op.results) != 1 or touches_active:
            raise PassFailedException(f"ad-forward: no derivative rule for {op.name}")
        operand_tangents = [self.tangent.get(v) for v in op.operands]
        ds = partials(e, rule, new, [ts is not None for ts in operand_tangents])
        finite = finite_partials(rule)
        self._set_tangents(op.results[0], [
            _combine(e, ds, [None if ts is None else ts[k] for ts in operand_tangents],
                     new.results[0].type, finite)
            for k in range(self.width)])

    def cache_op(self, e: Emit, op: Operation) -> None:
        """The same op on the tangent caches of an active cache, so that they
        stay in step with it (a pop is repeated even if its value is not
        active)."""
        new = self._clone(e, op)
        if isinstance(op, InitOp):
            if self._active(op.cache):
                self._set_tangents(op.cache, [e.op(InitOp(op.cache.type.element))
                                              for _ in range(self.width)])
            return
        if not self._active(op.cache):
            return
        caches = self.tangent[op.cache]
        if isinstance(op, ReserveOp):
            for c in caches:
                e.insert(ReserveOp(c, new.count))
        elif isinstance(op, PushOp):
            for c, t in zip(caches, self._tangent_or_zero(e, op.value), strict=True):
                e.insert(PushOp(c, t))
        else:
            popped = [e.insert(PopOp(c)).results[0] for c in caches]
            if self._active(op.value):
                self._set_tangents(op.value, popped)

    def memref_op(self, e: Emit, op: Operation) -> None:
        if isinstance(op, MEMREF_FREES):
            for s in self.tangent[op.operands[0]]:
                self._shadow_op(e, op, s)
        elif isinstance(op, MEMREF_VIEWS):
            self._set_tangents(op.results[0], [
                self._shadow_op(e, op, s).results[0] for s in self.tangent[op.operands[0]]])
        elif isinstance(op, MEMREF_ALLOCS):
            self._set_tangents(op.results[0], [
                zero_fill(e, self._shadow_op(e, op).results[0]) for _ in range(self.width)])
        else:
            self._set_tangents(op.results[0],
                               [e.op(ub.PoisonOp(op.results[0].type))] * self.width)

    def terminator(self, e: Emit, op: Operation) -> None:
        """Primal clone; func.return gets its tangents once the body is done,
        scf terminators from their parent op (`_terminate`)."""
        self._clone(e, op)

    def _terminate(self, new_block: Block, old_term: Operation,
                   tangent_slots: Sequence[int]) -> None:
        """Replace the cloned terminator of `new_block` by one that also passes
        the tangents of old operands at `tangent_slots`."""
        cloned = new_block.last_op
        e = Emit(InsertPoint.before(cloned))
        tangents = [t for i in tangent_slots
                    for t in self._tangent_or_zero(e, old_term.operands[i])]
        Rewriter.replace_op(cloned, cloned.create(operands=[*cloned.operands, *tangents]))

    def for_op(self, e: Emit, op: scf.ForOp) -> None:
        old_body = op.body.block
        slots = [i for i, a in enumerate(old_body.args[1:]) if self._active(a)]
        inits = [self.primal[v] for v in op.iter_args]
        inits += [t for i in slots for t in self._tangent_or_zero(e, op.iter_args[i])]
        body = Block(arg_types=[old_body.args[0].type, *(v.type for v in inits)])
        new = scf.ForOp(self.primal[op.lb], self.primal[op.ub], self.primal[op.step], inits,
                        Region(body))
        Rewriter.insert_op(new, e.point)
        n = len(op.iter_args)
        self._map_values(old_body.args, body.args[:n + 1], body.args[n + 1:],
                         [old_body.args[i + 1] for i in slots])
        self._map_values(op.results, new.results[:n], new.results[n:],
                         [op.results[i] for i in slots])
        self.block(old_body, body)
        self._terminate(body, old_body.last_op, slots)

    def while_op(self, e: Emit, op: scf.WhileOp) -> None:
        old_before, old_after = op.before_region.block, op.after_region.block
        before_slots = [i for i, a in enumerate(old_before.args) if self._active(a)]
        after_slots = [i for i, a in enumerate(old_after.args) if self._active(a)]
        inits = [self.primal[v] for v in op.arguments]
        inits += [t for i in before_slots for t in self._tangent_or_zero(e, op.arguments[i])]
        before = Block(arg_types=[v.type for v in inits])
        after_types = [a.type for a in old_after.args]
        after_types += [old_after.args[i].type for i in after_slots for _ in range(self.width)]
        after = Block(arg_types=after_types)
        new = scf.WhileOp(inits, after_types, Region(before), Region(after))
        Rewriter.insert_op(new, e.point)
        n_before, n_after = len(old_before.args), len(old_after.args)
        self._map_values(old_before.args, before.args[:n_before], before.args[n_before:],
                         [old_before.args[i] for i in before_slots])
        self._map_values(old_after.args, after.args[:n_after], after.args[n_after:],
                         [old_after.args[i] for i in after_slots])
        self._map_values(op.results, new.results[:n_after], new.results[n_after:],
                         [op.results[i] for i in after_slots])
        self.block(old_before, before)
        self.block(old_after, after)
        condition = old_before.last_op
        self._terminate(before, condition, [i + 1 for i in after_slots])
        self._terminate(after, old_after.last_op, before_slots)

    def if_op(self, e: Emit, op: scf.IfOp) -> None:
        slots = [i for i, r in enumerate(op.results) if self._active(r)]
        types = [r.type for r in op.results]
        types += [op.results[i].type for i in slots for _ in range(self.width)]
        regions = [Region(Block()) if old.blocks else Region() for old in op.regions]
        new = scf.IfOp(self.primal[op.cond], types, regions[0], regions[1])
        Rewriter.insert_op(new, e.point)
        n = len(op.results)
        self._map_values(op.results, new.results[:n], new.results[n:],
                         [op.results[i] for i in slots])
        for old, region in zip(op.regions, new.regions, strict=True):
            if old.blocks:
                self.block(old.block, region.block)
                self._terminate(region.block, old.block.last_op, slots)

    def _map_values(self, old: Sequence[SSAValue], new: Sequence[SSAValue],
                    new_tangents: Sequence[SSAValue], active: Sequence[SSAValue]) -> None:
        """Map old values to new ones, and the `active` ones to W tangents each,
        taken in order from `new_tangents`."""
        for a, b in zip(old, new, strict=True):
            self.primal[a] = b
            b.name_hint = a.name_hint
        for k, a in enumerate(active):
            self._set_tangents(a, new_tangents[k * self.width:(k + 1) * self.width])

    def call(self, e: Emit, op: func.CallOp) -> None:
        args = [Activity.DUP if self._active(v) else Activity.CONST for v in op.operands]
        results = [Activity.DUP if self._active(r) else Activity.CONST for r in op.results]
        writes_shadow = any(a.has_shadow and isinstance(v.type, MemRefType | CacheType)
                            for v, a in zip(op.operands, args, strict=True))
        if not writes_shadow and Activity.DUP not in results:
            self.generic(e, op)  # no derivative leaves the call
            return
        callee = op.callee.root_reference.data
        # A leaf function (no calls) that is given shadow arrays gets a
        # derivative per call site: called once, LLVM inlines it whatever its
        # size, and then knows the layout of the caller's arrays (strides,
        # distinct allocations), so that it can vectorize its loops.
        target = self.diff.analysis.callee(op)
        per_site = writes_shadow and target is not None and not any(
            isinstance(o, func.CallOp) for o in target.walk())
        made = self.diff.derivative(callee, args, results, self.width,
                                    op if per_site else None)
        operands = []
        for v, a in zip(op.operands, args, strict=True):
            operands.append(self.primal[v])
            if a.has_shadow:
                operands += self.tangent[v]
        call = e.insert(func.CallOp(made.sym_name.data, operands,
                                    made.function_type.outputs.data))
        n = len(op.results)
        self._map_values(op.results, call.results[:n], call.results[n:],
                         [r for r, a in zip(op.results, results, strict=True) if a.has_shadow])


def _combine(e: Emit, partials: Sequence[Partial], tangents: Sequence[SSAValue | None],
             t: Attribute, finite: Sequence[bool]) -> SSAValue:
    """sum_i d_i * t_i over the operands that have a tangent, of type `t`;
    `finite[i]`: d_i is finite where the op's operands are, so its product
    is not checked (see `_tangent_rules`). A product that appears twice (x * x)
    is made once."""
    terms: list[SSAValue] = []
    passed: list[tuple[Where, SSAValue]] = []
    products: dict[tuple[SSAValue, SSAValue], SSAValue] = {}
    for d, dt, fin in zip(partials, tangents, finite, strict=True):
        if dt is None or d is ZERO:
            continue
        if d is ONE:
            terms.append(e.convert(dt, t))
        elif d is NEG_ONE:
            terms.append(e.neg(e.convert(dt, t)))
        elif isinstance(d, Where):
            passed.append((d, dt))
        elif (d, dt) in products:
            terms.append(products[d, dt])
        else:
            again = not fin and e.uses.get(dt, 0) > 0
            if not fin:
                e.uses[dt] = e.uses.get(dt, 0) + 1
            products[d, dt] = checked_mul(e, d, dt, again, fin)
            terms.append(products[d, dt])
    if len(passed) == 2 and passed[0][0].cond is passed[1][0].cond:
        (w, a), (_, b) = passed
        terms.append(e.select(w.cond, a, b) if w.when else e.select(w.cond, b, a))
    elif passed:
        zero = e.const(0.0, t)
        for w, dt in passed:
            terms.append(e.select(w.cond, dt, zero) if w.when else e.select(w.cond, zero, dt))
    if not terms:
        return e.const(0.0, t)
    total = terms[0]
    for term in terms[1:]:
        total = e.add(total, term)
    return total


def _tangent_name(v: SSAValue) -> str | None:
    return None if v.name_hint is None else "d" + v.name_hint


class AdForward(ModulePass):
    """Replace `ad.fwddiff` requests by calls of generated tangent functions."""

    name = "ad-forward"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        diff = ForwardDiff(op)
        for request in [o for o in op.walk() if isinstance(o, FwdDiffOp)]:
            made = diff.derivative(request.fn.root_reference.data, request.arg_activities,
                                   request.result_activities, request.vector_width)
            replace_request(request, made, self.name)
