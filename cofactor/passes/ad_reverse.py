"""`ad-reverse`: reverse-mode AD, Enzyme-style, over func/arith/math/scf/memref IR.

Each `ad.autodiff @f(...)` becomes a call to a generated function
`revdiff_<f>_<args>_<results>` (one letter per activity: c const, d dup,
n dupnoneed, a active, x activenoneed) with the request's signature. Its body
is the forward sweep (the primal, plus a zero-filled shadow for every array
that can hold active values) followed by the reverse sweep, which walks the
primal backwards and accumulates adjoints (see _activity: only active values
get any):

- arith/math ops and libm calls: `adjoint_i += d_i * ybar` with the partials
  of `_tangent_rules`, multiplied "checked" (ybar = 0 gives 0);
- a load adds its adjoint into the shadow element (`+=`); a store moves the
  shadow element into the stored value's adjoint and zeroes it, except an
  increment `a[i] = a[i] +- v`, whose element adjoint stays (v gets +-it);
- `scf.for` runs backwards as an `scf.for` over the trip count; `scf.while`
  counts its iterations in the forward sweep and is reversed as an `scf.for`
  over count + 1 executions of the before region (the after region under
  `scf.if` on all but the last); `scf.if` is reversed under the same
  condition. Adjoints of loop-carried values and of outer values used inside
  are carried as iter_args/results. break, continue and early return are
  flags inside scf, so they need nothing more;
- a call of a function with a body calls its augmented forward function
  `augmented_<g>_...` in the forward sweep and its reverse function
  `reverse_<g>_...` at the mirrored point of the reverse sweep, made once per
  activity pattern (and per "the caller may overwrite this array argument
  later" flags), but once per call site for a leaf function given shadow
  arrays, so that LLVM inlines both and vectorizes their loops knowing the
  caller's arrays; both take the caller's caches. A call marked
  `ad.checkpoint` (a loop segment, see `ad-checkpoint`) runs plainly in the
  forward sweep after pushing the arrays it writes or that change later (the
  snapshot); at its mirrored point the reverse sweep pops them back, calls the
  augmented function (taping that segment only) and at once the reverse one;
  a binomial one (all the loop's steps) is reversed by Revolve (`_Revolve`).
  An `scf.while` marked `ad.segment` (outlined by `ad-checkpoint`) is
  checkpointed online (`_Online`): snapshots thinned as it runs, then each
  segment reversed by Revolve.

Cache or recompute: the reverse sweep needs forward values. A value of the
function's top block is in scope there (same function). A value defined in a
loop body or branch is materialized once at the head of the mirrored reverse
block. A pre-pass lists, per primal block, the values the reverse sweep reads
(partials, indices, call operands, loop bounds, branch conditions); then, per
block, a minimum vertex cut (max flow, as Enzyme's min-cut) between the values
only a cache can give and the needed ones picks the fewest to cache. The rest
is recomputed from those:

- recomputable: ops that are cheap and pure (integer and float arithmetic
  except transcendental math, comparisons, selects, casts, `memref.dim`,
  views, `scf.if` of such ops) and loads from arrays that no later store may
  overwrite; a load right after a store to the same element is the stored
  value; operands from enclosing blocks are materialized there, once per
  outer iteration;
- free: the loop counter and integer induction variables (from the reverse
  iteration number), and a load that its enclosing loops do not change, which
  is materialized outside them (loaded again, or read once before them and
  cached), its adjoint carried through their reverse in a register;
- cache only: loop-carried values, call results, transcendental results, and
  loads from arrays stored into later (which saves values overwritten in
  place before the overwrite). A cached value is pushed at the end of its
  forward block (one push per execution) and popped, in reverse order, at the
  head of the mirrored reverse block.

Only values that reverse code asks for reach a cache, so inactive values never
do. Caches are LIFO, one per element type per gradient (`ad.init` in the
gradient function, passed to callees). Every push is covered by an
`ad.reserve` placed before the outermost `scf.for` whose pushes (nested for
loops included) can be counted before it starts: the trip counts times the
pushes per iteration, so a loop nest's cache is one preallocated buffer with no
check per push. Pushes that cannot be counted ahead (in `scf.while` bodies, or
in loops that call functions which push too) reserve per execution of their
block, and `ad-lower-cache` grows the buffer geometrically.

Its reverse `scf.for` loops are marked `ad.adjoint`, so that
`split-adjoint-loops` and `jam-adjoint-loops` may reorder their shadow
increments (taking distinct arrays not to alias).

Memory: the primal arrays keep their forward-sweep contents during the reverse
sweep (nothing is restored but checkpointed segments' snapshots, before their
re-run); distinct array arguments are assumed not to alias.
"""

from __future__ import annotations

import math as pymath
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref, scf, ub
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    AnyFloat,
    Float64Type,
    FloatAttr,
    FunctionType,
    IndexType,
    IntegerType,
    MemRefType,
    ModuleOp,
    SymbolRefAttr,
    UnitAttr,
    i1,
    i64,
)
from xdsl.ir import Attribute, Block, BlockArgument, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.ad import (
    ADJOINT,
    CHECKPOINT,
    SEGMENT,
    WHILE_SNAPSHOTS,
    Activity,
    AutoDiffOp,
    CacheType,
    InitOp,
    PopOp,
    PushOp,
    ReserveOp,
    has_seed,
    read_checkpoint,
)
from cofactor.passes._activity import ActivityAnalysis, FunctionActivity, has_body
from cofactor.passes._affine import constant_int
from cofactor.passes._finite import FiniteSummaries, FiniteValues
from cofactor.passes._requests import replace_request
from cofactor.passes._shadows import for_each_element, index_const, zero_array, zero_fill
from cofactor.passes._tangent_rules import (
    INACTIVE,
    MEMREF_ALLOCS,
    MEMREF_FREES,
    MEMREF_VIEWS,
    NEG_ONE,
    ONE,
    ZERO,
    Emit,
    Where,
    checked_mul,
    finite_partials,
    partials,
    rule_for,
)

_LETTER = {Activity.CONST: "c", Activity.DUP: "d", Activity.DUPNONEED: "n",
           Activity.ACTIVE: "a", Activity.ACTIVENONEED: "x"}

# Cheap, pure ops that the reverse sweep recomputes rather than caches.
_RECOMPUTE: frozenset[type[Operation]] = frozenset({
    arith.ConstantOp, arith.AddfOp, arith.SubfOp, arith.MulfOp, arith.DivfOp, arith.NegfOp,
    arith.AddiOp, arith.SubiOp, arith.MuliOp, arith.DivSIOp, arith.DivUIOp, arith.RemSIOp,
    arith.RemUIOp, arith.FloorDivSIOp, arith.CeilDivSIOp, arith.AndIOp, arith.OrIOp,
    arith.XOrIOp, arith.ShLIOp, arith.ShRSIOp, arith.ShRUIOp, arith.CmpfOp, arith.CmpiOp,
    arith.SelectOp, arith.IndexCastOp, arith.SIToFPOp, arith.UIToFPOp, arith.FPToSIOp,
    arith.FPToUIOp, arith.ExtFOp, arith.TruncFOp, arith.ExtSIOp, arith.ExtUIOp,
    arith.TruncIOp, arith.MaxSIOp, arith.MinSIOp, arith.MaxUIOp, arith.MinUIOp,
    arith.MaximumfOp, arith.MinimumfOp, arith.MaxnumfOp, arith.MinnumfOp,
    math.AbsFOp, math.AbsIOp, math.CopySignOp, math.FloorOp, math.CeilOp, math.TruncOp,
    memref.DimOp, ub.PoisonOp, *MEMREF_VIEWS,
})
_MAX_RECOMPUTE_DEPTH = 64
# Recomputing a value the plan did not foresee may cache this many others.
_MAX_CACHED_FOR_RECOMPUTE = 2
# Ops on active arrays that the sweeps handle (loads, stores and calls apart).
_ARRAY_OPS = (*MEMREF_VIEWS, *MEMREF_ALLOCS, memref.DimOp, memref.LoadOp, memref.StoreOp,
              arith.SelectOp, ub.PoisonOp)


def _is_float(v: SSAValue) -> bool:
    return isinstance(v.type, AnyFloat)


def _block_of(v: SSAValue) -> Block:
    if isinstance(v, BlockArgument):
        return v.block
    block = v.owner.parent_block()
    assert block is not None
    return block


def _trip_count(e: Emit, lb: SSAValue, ub_: SSAValue, step: SSAValue) -> SSAValue:
    """Iterations of `scf.for lb to ub step step` (step > 0): 0 when ub <= lb."""
    span = ub_ if constant_int(lb) == 0 else e.op(arith.SubiOp(ub_, lb))
    if not constant_int(step) == 1:
        one = e.const(1, lb.type)
        span = e.op(arith.DivSIOp(e.op(arith.SubiOp(e.op(arith.AddiOp(span, step)), one)),
                                  step))
    return e.select(e.op(arith.CmpiOp(ub_, lb, "sgt")), span, e.const(0, lb.type))


def _as_i64(e: Emit, v: SSAValue) -> SSAValue:
    return e.op(arith.IndexCastOp(v, i64)) if isinstance(v.type, IndexType) else v


def _invariant(v: SSAValue, loop: Operation) -> bool:
    """Whether `v` has the same value in every iteration of `loop`: defined
    outside it, or by cheap pure ops of such values."""
    if not loop.is_ancestor(_block_of(v)):
        return True
    owner = v.owner
    return (isinstance(owner, Operation) and type(owner) in _RECOMPUTE
            and not owner.regions and all(_invariant(u, loop) for u in owner.operands))


def _rebuild(v: SSAValue, loop: Operation, leaf: Callable[[SSAValue], SSAValue],
             e: Emit) -> SSAValue:
    """Loop-invariant `v` computed again at `e` (outside `loop`), its inputs
    from outside `loop` given by `leaf`."""
    if not loop.is_ancestor(_block_of(v)):
        return leaf(v)
    owner = v.owner
    assert isinstance(owner, Operation)
    mapper = {u: _rebuild(u, loop, leaf, e) for u in owner.operands}
    return e.insert(owner.clone(value_mapper=mapper, clone_name_hints=False)).results[v.index]


_SMALLEST = {16: 6e-8, 32: 1.4e-45, 64: 5e-324}  # the smallest subnormal per width


def _checked_again(e: Emit, d: SSAValue, t: SSAValue) -> SSAValue:
    """`checked_mul(d, t)` for a further product of the same `t`, testing
    t = 0 as |t| < the smallest subnormal: the same test (unless the CPU
    treats subnormal inputs as zero), but a compare of its own, which LLVM
    does not merge with the first. (LLVM's x86 backend routes a
    floating-point compare with several users through general registers,
    several cycles on the adjoint's dependency chain.)"""
    product = e.mul(d, t)
    owner = d.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, FloatAttr) and \
            pymath.isfinite(owner.value.value.data):
        return product
    tiny = e.op(arith.ConstantOp(FloatAttr(_SMALLEST[t.type.bitwidth], t.type)))
    return e.zero_where(e.op(arith.CmpfOp(e.apply(math.AbsFOp, t), tiny, "olt")), product)


class _Recorder(Emit):
    """An `Emit` that remembers what it inserted."""

    def __init__(self, point: InsertPoint):
        super().__init__(point)
        self.made: list[Operation] = []

    def insert(self, op: Operation) -> Operation:
        self.made.append(op)
        return super().insert(op)


@dataclass
class _Scope:
    """A reverse block mirroring primal block `old`: the forward values it
    needs, materialized once at its head (pops first, then recomputation)."""

    old: Block
    block: Block
    head: Operation | None
    values: dict[tuple[str, object], SSAValue] = field(default_factory=dict)
    pops: dict[tuple[str, object], PopOp] = field(default_factory=dict)
    needs: dict[SSAValue, frozenset[SSAValue] | None] = field(default_factory=dict)

    def emit(self) -> Emit:
        return Emit(InsertPoint.before(self.head) if self.head is not None
                    else InsertPoint.at_end(self.block))


class _Invariant:
    """The adjoint of a loop-invariant load (see `_Sweeps._chain`): carried
    through the reverse loops as a scalar, added into the shadow once after."""

    __slots__ = ("load",)

    def __init__(self, load: memref.LoadOp):
        self.load = load

    @property
    def type(self) -> Attribute:
        return self.load.res.type


@dataclass
class _Pair:
    """The augmented forward and reverse functions of one callee activity."""

    augmented: func.FuncOp
    reverse: func.FuncOp
    tapes: list[Attribute]  # element types of the caches both take, in order


class ReverseDiff:
    """Makes the reverse-mode derivatives of one module's functions, cached."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self.analysis = ActivityAnalysis(module)
        self.finite = FiniteSummaries(self.analysis)
        self._gradients: dict[tuple, func.FuncOp] = {}
        self._pairs: dict[tuple, _Pair] = {}
        self._in_progress: set[str] = set()

    def _function(self, name: str, args: Sequence[Activity], results: Sequence[Activity]
                  ) -> func.FuncOp:
        fn = SymbolTable.lookup_symbol(self.module, name)
        if not isinstance(fn, func.FuncOp) or not has_body(fn):
            raise PassFailedException(f"ad-reverse: @{name} is not a function with a body")
        if len(fn.body.blocks) != 1:
            raise PassFailedException(f"ad-reverse: @{name} is not structured (several blocks)")
        if name in self._in_progress:
            raise PassFailedException(f"ad-reverse: @{name} is recursive, which reverse mode "
                                      "does not support")
        ftype = fn.function_type
        if len(args) != len(ftype.inputs) or len(results) != len(ftype.outputs):
            raise PassFailedException(
                f"ad-reverse: @{name} has {len(ftype.inputs)} arguments and "
                f"{len(ftype.outputs)} results, the request gives {len(args)} and "
                f"{len(results)} activities")
        for t, act in zip((*ftype.inputs, *ftype.outputs), (*args, *results), strict=True):
            ok = (act is Activity.CONST
                  or act in (Activity.ACTIVE, Activity.ACTIVENONEED) and isinstance(t, AnyFloat)
                  or act.has_shadow and isinstance(t, MemRefType)
                  and isinstance(t.element_type, AnyFloat))
            if not ok:
                raise PassFailedException(f"ad-reverse: @{name}: a {t} cannot be {act}")
        return fn

    def _symbol(self, base: str) -> str:
        symbol, n = base, 0
        while SymbolTable.lookup_symbol(self.module, symbol) is not None:
            n += 1
            symbol = f"{base}_{n}"
        return symbol

    def gradient(self, name: str, args: Sequence[Activity], results: Sequence[Activity]
                 ) -> func.FuncOp:
        """The function of an `ad.autodiff` request (forward + reverse sweep)."""
        key = (name, tuple(args), tuple(results))
        if key not in self._gradients:
            fn = self._function(name, args, results)
            ftype = fn.function_type
            inputs = [u for t, a in zip(ftype.inputs, args, strict=True)
                      for u in [t] * (1 + a.has_shadow)]
            inputs += [t for t, a in zip(ftype.outputs, results, strict=True) if has_seed(a)]
            outputs = [t for t, a in zip(ftype.outputs, results, strict=True) if a.returns_primal]
            outputs += [t for t, a in zip(ftype.inputs, args, strict=True)
                        if a is Activity.ACTIVE]
            sig = "".join(_LETTER[a] for a in args) + "_" + "".join(_LETTER[a] for a in results)
            made = func.FuncOp(self._symbol(f"revdiff_{name}_{sig}"), (inputs, outputs),
                               visibility="private")
            Rewriter.insert_op(made, InsertPoint.after(fn))
            self._gradients[key] = made
            self._in_progress.add(name)
            try:
                _Sweeps(self, fn, args, results, (False,) * len(args),
                        self.finite.values(fn, (True,) * len(args))).gradient(made)
            finally:
                self._in_progress.discard(name)
        return self._gradients[key]

    def pair(self, name: str, args: Sequence[Activity], results: Sequence[Activity],
             overwritten: Sequence[bool], finite: Sequence[bool] | None = None,
             site: Operation | None = None) -> _Pair:
        """The augmented forward and reverse functions of a callee; `finite`:
        which arguments the caller knows to be finite (`_finite`; None: none).
        Callers whose flags leave the same products unchecked share a pair,
        unless `site` (a call) asks for a pair of its own."""
        fn = self._function(name, args, results)
        values = self.finite.values(fn, finite or (False,) * len(args))
        unchecked = values.unchecked()
        key = (name, tuple(args), tuple(results), tuple(overwritten), unchecked, site)
        if key not in self._pairs:
            ftype = fn.function_type
            inputs = [u for t, a in zip(ftype.inputs, args, strict=True)
                      for u in [t] * (1 + a.has_shadow)]
            shadows = [t for t, a in zip(ftype.outputs, results, strict=True) if a.has_shadow]
            seeds = [t for t, a in zip(ftype.outputs, results, strict=True)
                     if a is Activity.ACTIVE]
            adjoints = [t for t, a in zip(ftype.inputs, args, strict=True)
                        if a is Activity.ACTIVE]
            sig = "".join(_LETTER[a] for a in args) + "_" + "".join(_LETTER[a] for a in results)
            if any(overwritten):
                sig += "_o" + "".join("1" if w else "0" for w in overwritten)
            aug = func.FuncOp(self._symbol(f"augmented_{name}_{sig}"),
                              (inputs, [*ftype.outputs, *shadows]), visibility="private")
            rev = func.FuncOp(self._symbol(f"reverse_{name}_{sig}"),
                              ([*inputs, *shadows, *seeds], adjoints), visibility="private")
            Rewriter.insert_op(aug, InsertPoint.after(fn))
            Rewriter.insert_op(rev, InsertPoint.after(aug))
            self._in_progress.add(name)
            try:
                sweeps = _Sweeps(self, fn, args, results, tuple(overwritten), values)
                sweeps.pair(aug, rev)
            finally:
                self._in_progress.discard(name)
            self._pairs[key] = _Pair(aug, rev, sweeps.tape_types)
        return self._pairs[key]


class _Memory:
    """Which arrays may be stored into after a given op (alias classes)."""

    def __init__(self, fn: func.FuncOp, info: FunctionActivity, analysis: ActivityAnalysis,
                 external: set[SSAValue]):
        self.fn, self.info, self.analysis, self.external = fn, info, analysis, external
        self._writes: dict[Operation, frozenset[SSAValue]] = {}
        self._after: dict[Operation, frozenset[SSAValue]] = {}

    def writes(self, op: Operation) -> frozenset[SSAValue]:
        """The alias classes `op` may store into (its regions included)."""
        if op not in self._writes:
            found: set[SSAValue] = set()
            if isinstance(op, memref.StoreOp):
                found.add(self.info.key(op.memref))
            elif isinstance(op, func.CallOp) and (callee := self.analysis.callee(op)):
                found.update(self.info.key(v) for v, w in zip(
                    op.operands, self.analysis.written_args(callee), strict=True) if w)
            for region in op.regions:
                for block in region.blocks:
                    for inner in block.ops:
                        found |= self.writes(inner)
            self._writes[op] = frozenset(found)
        return self._writes[op]

    def _later(self, op: Operation) -> frozenset[SSAValue]:
        """The classes written by the ops after `op` in its block."""
        if op not in self._after:
            block = op.parent_block()
            assert block is not None
            acc: frozenset[SSAValue] = frozenset()
            for other in reversed(list(block.ops)):
                self._after[other] = acc
                acc = acc | self.writes(other)
        return self._after[op]

    def overwritten_after(self, op: Operation, array: SSAValue) -> bool:
        """Whether the contents of `array` may change after `op` runs: a later
        store, one in an enclosing loop, or the caller's (an argument flagged)."""
        key = self.info.key(array)
        if key in self.external:
            return True
        while op is not self.fn:
            if key in self._later(op):
                return True
            parent = op.parent_op()
            assert parent is not None
            if isinstance(parent, scf.ForOp | scf.WhileOp) and key in self.writes(parent):
                return True
            op = parent
        return False


class _Sweeps:
    """Builds the forward and reverse sweeps of one function for one activity
    pattern: `primal` maps primal values to forward ones, `shadow` primal
    arrays to forward shadows, `adj` active primal scalars to their adjoints
    at the current point of the reverse sweep."""

    def __init__(self, diff: ReverseDiff, fn: func.FuncOp, args: Sequence[Activity],
                 results: Sequence[Activity], overwritten: Sequence[bool],
                 finite: FiniteValues):
        self.diff, self.fn, self.args, self.results = diff, fn, tuple(args), tuple(results)
        self.top = fn.body.block
        self.info = diff.analysis.analyze(
            fn, [a is not Activity.CONST for a in args],
            [a is not Activity.CONST for a in results])
        external = {self.info.key(a) for a, w in zip(fn.args, overwritten, strict=True) if w}
        self.memory = _Memory(fn, self.info, diff.analysis, external)
        self.finite = finite
        self.forwarded = self._forwarding()
        self.cut: dict[Block, set[SSAValue]] = {}
        self.old_values: set[SSAValue] = {a for op in fn.walk() for r in op.regions
                                          for b in r.blocks for a in b.args}
        self.old_values |= {r for op in fn.walk() for r in op.results}
        self.old_values |= set(fn.args)
        self.primal: dict[SSAValue, SSAValue] = {}
        self.shadow: dict[SSAValue, SSAValue] = {}
        self.adj: dict[SSAValue, SSAValue] = {}
        self.forward_blocks: dict[Block, Block] = {}
        self.forward_ops: dict[Operation, Operation] = {}
        self.counters: dict[Operation, SSAValue] = {}
        self.call_pairs: dict[Operation, tuple[_Pair, list[Activity], list[Activity]]] = {}
        self.snapshots: dict[Operation, list[SSAValue]] = {}
        self.scopes: list[_Scope] = []
        self.instances: dict[Block, list[_Scope]] = {}
        self.cached: dict[Block, dict[tuple[str, object], SSAValue]] = {}
        self.tape_types: list[Attribute] = []
        self._tapes: dict[Attribute, tuple[SSAValue, SSAValue]] = {}
        self._pair_mode = False
        self._functions: tuple[func.FuncOp, func.FuncOp] | None = None
        self._reverses: dict[Operation, bool] = {}
        self._free: dict[Operation, list[SSAValue | _Invariant]] = {}
        self._chains: dict[memref.LoadOp, list[scf.ForOp]] = {}
        self._invariants: dict[memref.LoadOp, _Invariant] = {}
        self._returned: func.ReturnOp | None = None

    # -- activity ----------------------------------------------------------

    def active_scalar(self, v: SSAValue) -> bool:
        return _is_float(v) and self.info.is_active(v)

    def has_shadow(self, v: SSAValue) -> bool:
        return isinstance(v.type, MemRefType) and self.info.is_active(v)

    def needs_reverse(self, op: Operation) -> bool:
        """Whether the reverse sweep has anything to do for region op `op`."""
        if op not in self._reverses:
            self._reverses[op] = any(self.info.is_active(r) for r in op.results) or any(
                self._active_inside(inner) for inner in op.walk())
        return self._reverses[op]

    def _online(self, op: Operation) -> bool:
        """Whether `op` is a while loop reversed by online checkpointing."""
        return isinstance(op, scf.WhileOp) and SEGMENT in op.attributes \
            and self.needs_reverse(op)

    def _active_inside(self, op: Operation) -> bool:
        if any(self.info.is_active(r) for r in op.results):
            return True
        if any(self.info.is_active(a) for r in op.regions for b in r.blocks for a in b.args):
            return True
        if isinstance(op, memref.StoreOp | func.CallOp):
            return any(self.has_shadow(v) for v in op.operands)
        return False

    def free_adjoints(self, op: Operation) -> list[SSAValue]:
        """Active scalars defined outside `op` and used inside: their adjoints
        are carried through its reverse."""
        if op not in self._free:
            found: dict[SSAValue, None] = {}
            for inner in op.walk():
                if inner is op:
                    continue
                for v in inner.operands:
                    if self.active_scalar(v) and not op.is_ancestor(_block_of(v)):
                        found[v] = None
                if self._accumulated(inner) and op in self._chain(inner):
                    found[self._invariant(inner)] = None
            self._free[op] = list(found)
        return self._free[op]

    def _chain(self, load: memref.LoadOp) -> list[scf.ForOp]:
        if load not in self._chains:
            self._chains[load] = self._invariant_in(load)
        return self._chains[load]

    def _accumulated(self, op: Operation) -> bool:
        """A load whose adjoint goes into a shadow array."""
        return (isinstance(op, memref.LoadOp) and self.active_scalar(op.res)
                and self.has_shadow(op.memref))

    def _invariant(self, load: memref.LoadOp) -> _Invariant:
        return self._invariants.setdefault(load, _Invariant(load))

    # -- caches ------------------------------------------------------------

    def tape(self, t: Attribute, reverse: bool) -> SSAValue:
        """The cache of element type `t`, in the forward or reverse function."""
        if t not in self._tapes:
            self.tape_types.append(t)
            assert self._functions is not None
            aug, rev = self._functions
            if self._pair_mode:
                self._tapes[t] = (aug.body.block.insert_arg(CacheType(t), len(aug.args)),
                                  rev.body.block.insert_arg(CacheType(t), len(rev.args)))
            else:
                init = InitOp(t)
                Rewriter.insert_op(init, InsertPoint.at_start(aug.body.block))
                init.cache.name_hint = "tape"
                self._tapes[t] = (init.cache, init.cache)
        return self._tapes[t][reverse]

    def _scope_of(self, block: Block) -> _Scope:
        for scope in reversed(self.scopes):
            if scope.old is block:
                return scope
        raise PassFailedException("ad-reverse: internal error: a value is used outside its scope")

    def _materialize(self, block: Block, key: tuple[str, object],
                     forward: Callable[[], SSAValue],
                     recompute: Callable[[_Scope], SSAValue | None]) -> SSAValue:
        """The reverse-sweep value of forward value `forward()`, defined in
        primal block `block` (known as `key` there): in scope, recomputed at
        the head of its mirrored reverse block, or popped from a cache there."""
        if block is self.top and not self._pair_mode:
            return forward()
        scope = self._scope_of(block)
        if key not in scope.values:
            value = recompute(scope)
            if value is None:
                value = self._cache(scope, key, forward())
            scope.values[key] = value
        return scope.values[key]

    def _cache(self, scope: _Scope, key: tuple[str, object], forward: SSAValue) -> SSAValue:
        entries = self.cached.setdefault(scope.old, {})
        entries.setdefault(key, forward)
        t = forward.type
        stored = i64 if isinstance(t, IndexType) else t
        pop = PopOp(self.tape(stored, True))
        Rewriter.insert_op(pop, InsertPoint.at_start(scope.block))
        scope.pops[key] = pop
        value = pop.value
        if isinstance(t, IndexType):
            value = scope.emit().op(arith.IndexCastOp(value, t))
        value.name_hint = forward.name_hint
        return value

    def get(self, v: SSAValue) -> SSAValue:
        """Primal value `v` at the current point of the reverse sweep."""
        if v not in self.old_values:
            return v
        if v in self.forwarded:
            return self.get(self.forwarded[v])
        if isinstance(v.owner, memref.LoadOp) and (loops := self._chain(v.owner)):
            return self._hoisted(v.owner, loops)
        if isinstance(v, BlockArgument) and (step := self._induction(v)) is not None:
            return self._materialize(v.block, ("p", v), lambda: self.primal[v],
                                     lambda scope: self._induction_value(v, step, scope))
        return self._materialize(_block_of(v), ("p", v), lambda: self.primal[v],
                                 lambda scope: self._recompute(v, scope))

    def _forwarding(self) -> dict[SSAValue, SSAValue]:
        """Loads that read what a store just before them in the same block
        wrote (same array value and indices, nothing in between that may write
        the array): the load is the stored value."""
        found: dict[SSAValue, SSAValue] = {}
        for op in self.fn.walk():
            for region in op.regions:
                for block in region.blocks:
                    stored: dict[tuple[SSAValue, ...], SSAValue] = {}
                    for inner in block.ops:
                        if isinstance(inner, memref.LoadOp):
                            key = (inner.memref, *inner.indices)
                            if key in stored:
                                found[inner.res] = stored[key]
                            continue
                        written = self.memory.writes(inner)
                        if written:
                            stored = {k: x for k, x in stored.items()
                                      if self.info.key(k[0]) not in written}
                        if isinstance(inner, memref.StoreOp):
                            stored[(inner.memref, *inner.indices)] = inner.value
        return found

    def _invariant_in(self, load: memref.LoadOp) -> list[scf.ForOp]:
        """The scf.for loops, innermost first, that `load` sits directly in
        (no branch between) and that do not change what it reads, as far out
        as the trip counts of the inner ones are known before the outermost."""
        loops: list[scf.ForOp] = []
        key = self.info.key(load.memref)
        op: Operation = load
        while True:
            loop = op.parent_op()
            if not isinstance(loop, scf.ForOp) or key in self.memory.writes(loop):
                return loops
            inputs = [load.memref, *load.indices]
            inputs += [b for inner in loops for b in (inner.lb, inner.ub, inner.step)]
            if not all(_invariant(u, loop) for u in inputs):
                return loops
            loops.append(loop)
            op = loop

    def _hoisted(self, load: memref.LoadOp, loops: list[scf.ForOp]) -> SSAValue:
        """A loop-invariant load, materialized outside the loops: loaded again
        if nothing overwrites the array later, else read before the outermost
        loop in the forward sweep (when the loops run at all) and cached there."""
        outer = loops[-1]
        parent = outer.parent_block()
        assert parent is not None

        def forward() -> SSAValue:
            e = Emit(InsertPoint.before(self.forward_ops[outer]))

            def rebuilt(v: SSAValue) -> SSAValue:
                return _rebuild(v, outer, lambda u: self.primal[u], e)

            runs = None
            for loop in loops:
                more = e.op(arith.CmpiOp(rebuilt(loop.lb), rebuilt(loop.ub), "slt"))
                runs = more if runs is None else e.op(arith.AndIOp(runs, more))
            then_block, else_block = Block(), Block()
            value = memref.LoadOp.get(rebuilt(load.memref), [rebuilt(i) for i in load.indices])
            then_block.add_ops([value, scf.YieldOp(value)])
            poison = ub.PoisonOp(load.res.type)
            else_block.add_ops([poison, scf.YieldOp(poison)])
            return e.insert(scf.IfOp(runs, [load.res.type], Region(then_block),
                                     Region(else_block))).results[0]

        def again(scope: _Scope) -> SSAValue | None:
            if self.memory.overwritten_after(outer, load.memref):
                return None
            e = scope.emit()
            return _rebuild(load.res, outer, self.get, e)

        return self._materialize(parent, ("h", load), forward, again)

    def _induction(self, v: BlockArgument) -> SSAValue | None:
        """The step c of a loop-carried integer of an scf.for that the body
        yields as `v + c` (c from outside the loop), else None."""
        loop = v.block.parent_op()
        if not isinstance(loop, scf.ForOp) or v.index == 0 or not isinstance(
                v.type, IntegerType | IndexType):
            return None
        yielded = v.block.last_op.operands[v.index - 1]
        if isinstance(yielded.owner, arith.AddiOp):
            a, b = yielded.owner.operands
            step = b if a is v else a if b is v else None
            if step is not None and not loop.is_ancestor(_block_of(step)):
                return step
        return None

    def _induction_value(self, v: BlockArgument, step: SSAValue, scope: _Scope) -> SSAValue:
        """The value of induction variable `v` in the forward iteration that
        reverse block `scope` mirrors: init + m step."""
        loop = v.block.parent_op()
        assert isinstance(loop, scf.ForOp)
        init = self.get(loop.iter_args[v.index - 1])
        e = scope.emit()
        m = scope.values[("m", loop)]
        if m.type != v.type:
            m = e.op(arith.IndexCastOp(m, v.type))
        return e.op(arith.AddiOp(init, e.op(arith.MuliOp(m, self.get(step)))))

    def get_shadow(self, v: SSAValue) -> SSAValue:
        """The shadow of primal array `v` at the current point of the reverse sweep."""
        def view(scope: _Scope) -> SSAValue | None:
            owner = v.owner
            if isinstance(owner, MEMREF_VIEWS):
                mapper = {u: self.get(u) for u in owner.operands[1:]}
                mapper[owner.operands[0]] = self.get_shadow(owner.operands[0])
                new = scope.emit().insert(owner.clone(value_mapper=mapper,
                                                      clone_name_hints=False))
                return new.results[0]
            return None

        return self._materialize(_block_of(v), ("s", v), lambda: self.shadow[v], view)

    def _inputs(self, op: Operation) -> list[SSAValue]:
        """Operands of `op` and values its regions use from outside."""
        found = dict.fromkeys(op.operands)
        for inner in op.walk():
            for u in inner.operands:
                if not op.is_ancestor(_block_of(u)):
                    found[u] = None
        return list(found)

    def _cheap(self, op: Operation) -> bool:
        if type(op) in _RECOMPUTE:
            return True
        if isinstance(op, memref.LoadOp):
            return not self.memory.overwritten_after(op, op.memref)
        if isinstance(op, scf.IfOp):
            return all(inner is op or isinstance(inner, scf.YieldOp) or self._cheap(inner)
                       for inner in op.walk())
        return False

    def _inputs_in(self, v: SSAValue) -> list[SSAValue] | None:
        """How `v` can be had at the head of its mirrored reverse block: []
        when it costs nothing there (a loop counter, an induction variable, a
        load materialized outside its loops, an array), the values of its own
        block it is recomputed from, or None when only a cache can give it."""
        if isinstance(v.type, MemRefType | CacheType):
            return []
        if v in self.forwarded:
            return self._inputs_in(self.forwarded[v]) if _block_of(
                self.forwarded[v]) is _block_of(v) else []
        if isinstance(v, BlockArgument):
            loop = v.block.parent_op()
            if isinstance(loop, scf.ForOp) and (v.index == 0 or self._induction(v) is not None):
                return []
            return None
        op = v.owner
        assert isinstance(op, Operation)
        if isinstance(op, memref.LoadOp) and self._chain(op):
            return []
        if not self._cheap(op):
            return None
        block = _block_of(v)
        return [u for u in self._inputs(op) if _block_of(u) is block]

    def _needs(self, v: SSAValue, scope: _Scope, depth: int = 0) -> frozenset[SSAValue] | None:
        """The values of `scope` not yet materialized that recomputing `v`
        there would cache (the planned cut, or up to a few loop-carried
        values); None if `v` cannot be recomputed."""
        if ("p", v) in scope.values:
            return frozenset()
        if v in self.cut.get(scope.old, ()) and depth:
            return frozenset({v})
        if depth > _MAX_RECOMPUTE_DEPTH:
            return None
        if v not in scope.needs:
            inputs = self._inputs_in(v)
            found: frozenset[SSAValue] | None
            if inputs is None:
                found = frozenset({v}) if isinstance(v, BlockArgument) and depth else None
            else:
                found = frozenset()
                for u in inputs:
                    more = self._needs(u, scope, depth + 1)
                    if more is None:
                        found = None
                        break
                    found |= more
            scope.needs[v] = found
        return scope.needs[v]

    def _recompute(self, v: SSAValue, scope: _Scope) -> SSAValue | None:
        """`v` recomputed at the head of `scope`, unless the plan caches it or
        recomputing would cache values the plan does not (beyond a few
        loop-carried ones, for requests the plan did not foresee)."""
        if isinstance(v, BlockArgument) or v in self.cut.get(scope.old, ()):
            return None
        needs = self._needs(v, scope)
        if needs is None or len(needs - self.cut.get(scope.old, set())) > \
                _MAX_CACHED_FOR_RECOMPUTE:
            return None
        op = v.owner
        assert isinstance(op, Operation)
        mapper = {u: self.get(u) for u in self._inputs(op)}
        new = scope.emit().insert(op.clone(value_mapper=mapper, clone_name_hints=False))
        for old, res in zip(op.results, new.results, strict=True):
            scope.values[("p", old)] = res
            res.name_hint = old.name_hint
        return new.results[v.index]

    # -- the plan: what to cache -------------------------------------------

    def _reversed(self, op: Operation) -> bool:
        """Whether the reverse sweep visits `op` (all its scf ancestors are reversed)."""
        parent = op.parent_op()
        while parent is not None and parent is not self.fn:
            if not self.needs_reverse(parent) or self._online(parent):
                return False
            parent = parent.parent_op()
        return True

    def _needed_by(self, op: Operation) -> list[SSAValue]:
        """The primal scalars the reverse of `op` reads."""
        if isinstance(op, scf.ForOp) and self.needs_reverse(op):
            return [op.lb, op.ub, op.step]
        if isinstance(op, scf.IfOp) and self.needs_reverse(op):
            return [op.cond]
        if self._online(op):  # the captured values (see _Online)
            test = op.regions[0].block.first_op
            assert test is not None
            return list(test.operands[len(op.operands):])
        if isinstance(op, memref.LoadOp) and self._accumulated(op) and not self._chain(op):
            return list(op.indices)
        if isinstance(op, memref.StoreOp) and self.has_shadow(op.memref):
            return list(op.indices)
        if isinstance(op, func.CallOp) and self.diff.analysis.callee(op) is not None:
            args, results = self._call_activities(op)
            return list(op.operands) if any(
                a is not Activity.CONST for a in (*args, *results)) else []
        rule = rule_for(op) if type(op) not in INACTIVE else None
        if rule is None or len(op.results) != 1 or not self.active_scalar(op.results[0]):
            return []
        wanted = [self.active_scalar(u) for u in op.operands]
        if not any(wanted):
            return []
        scratch = Block()
        rec = _Recorder(InsertPoint.at_end(scratch))
        ds = partials(rec, rule, op, wanted)
        found = [d.cond if isinstance(d, Where) else d for d in ds
                 if isinstance(d, SSAValue | Where)]
        found += [u for made in rec.made for u in made.operands]
        for made in reversed(rec.made):
            Rewriter.erase_op(made, safe_erase=False)
        return [u for u in found if u in self.old_values]

    def _plan(self) -> dict[Block, set[SSAValue]]:
        """Per primal block, the values to cache: a minimum vertex cut between
        the values that only a cache can give and those the reverse sweep
        reads, through the cheap ops that recompute the rest."""
        needed: dict[Block, dict[SSAValue, None]] = {}
        for op in self.fn.walk():
            if op is self.fn or not self._reversed(op):
                continue
            for u in self._needed_by(op):
                while u in self.forwarded:
                    u = self.forwarded[u]
                if not isinstance(u.type, MemRefType | CacheType):
                    needed.setdefault(_block_of(u), {})[u] = None
        if not self._pair_mode:
            needed.pop(self.top, None)
        return {block: _min_cut(values, self._inputs_in) for block, values in needed.items()}

    def _enter(self, old: Block, block: Block) -> _Scope:
        head = ub.PoisonOp(i1)
        block.add_op(head)
        scope = _Scope(old, block, head)
        self.scopes.append(scope)
        self.instances.setdefault(old, []).append(scope)
        return scope

    def _exit(self, scope: _Scope) -> None:
        assert self.scopes.pop() is scope
        for op in scope.old.ops:
            for r in op.results:
                self.adj.pop(r, None)
        for a in scope.old.args:
            self.adj.pop(a, None)

    def _finish(self) -> None:
        """Push the cached values at the end of their forward blocks and pop
        them, in reverse order, at the start of every mirrored block; reserve
        cache space; drop the scope markers."""
        for old, entries in self.cached.items():
            forward = self.forward_blocks[old]
            term = forward.last_op
            assert term is not None
            e = Emit(InsertPoint.before(term))
            for value in entries.values():
                t = value.type
                if isinstance(t, IndexType):
                    value = e.op(arith.IndexCastOp(value, i64))
                e.insert(PushOp(self.tape(value.type, False), value))
            for scope in self.instances[old]:
                for key, value in entries.items():
                    if key not in scope.pops:
                        stored = i64 if isinstance(value.type, IndexType) else value.type
                        scope.pops[key] = PopOp(self.tape(stored, True))
                    pop = scope.pops[key]
                    if pop.parent is not None:
                        pop.detach()
                    Rewriter.insert_op(pop, InsertPoint.at_start(scope.block))
        for scopes in self.instances.values():
            for scope in scopes:
                if scope.head is not None:
                    Rewriter.erase_op(scope.head)
        assert self._functions is not None
        reserve_caches(self._functions[0].body.block)

    # -- forward sweep -----------------------------------------------------

    def _map(self, old: Sequence[SSAValue], new: Sequence[SSAValue]) -> None:
        for a, b in zip(old, new, strict=True):
            self.primal[a] = b
            if b.name_hint is None:
                b.name_hint = a.name_hint

    def _map_shadows(self, old: Sequence[SSAValue], new: Sequence[SSAValue]) -> None:
        for a, b in zip(old, new, strict=True):
            self.shadow[a] = b
            if a.name_hint is not None:
                b.name_hint = "d" + a.name_hint

    def forward_block(self, old: Block, new: Block) -> None:
        self.forward_blocks[old] = new
        e = Emit(InsertPoint.at_end(new))
        for op in old.ops:
            self.forward_op(e, op)

    def _clone(self, e: Emit, op: Operation) -> Operation:
        new = e.insert(op.clone(value_mapper={v: self.primal[v] for v in op.operands},
                                clone_name_hints=False))
        self._map(op.results, new.results)
        return new

    def forward_op(self, e: Emit, op: Operation) -> None:
        match op:
            case scf.ForOp():
                self.forward_for(e, op)
            case scf.WhileOp() if self._online(op):
                _Online(self, op).forward(e)
            case scf.WhileOp():
                self.forward_while(e, op)
            case scf.IfOp():
                self.forward_if(e, op)
            case func.ReturnOp():
                self._returned = op
            case scf.YieldOp() | scf.ConditionOp():
                self._clone(e, op)  # the parent op adds the shadows
            case func.CallOp() if self.diff.analysis.callee(op) is not None:
                self.forward_call(e, op)
            case _ if isinstance(op, MEMREF_FREES):
                pass  # arrays live until the call returns (the arena frees them)
            case _:
                if op.regions:
                    raise PassFailedException(f"ad-reverse: {op.name} is not supported")
                new = self._clone(e, op)
                if not any(self.has_shadow(v) for v in (*op.results, *op.operands)):
                    return
                if not isinstance(op, _ARRAY_OPS):
                    raise PassFailedException(f"ad-reverse: no derivative rule for {op.name} "
                                              "on arrays")
                if not any(self.has_shadow(r) for r in op.results):
                    return
                if isinstance(op, MEMREF_ALLOCS):
                    self._map_shadows(op.results, [zero_fill(e, e.insert(
                        op.clone(value_mapper={v: self.primal[v] for v in op.operands},
                                 clone_name_hints=False)).results[0])])
                elif isinstance(op, MEMREF_VIEWS):
                    mapper = {v: self.primal[v] for v in op.operands}
                    mapper[op.operands[0]] = self.shadow[op.operands[0]]
                    self._map_shadows(op.results, e.insert(
                        op.clone(value_mapper=mapper, clone_name_hints=False)).results)
                elif isinstance(op, arith.SelectOp):
                    self._map_shadows(op.results, [e.op(arith.SelectOp(
                        new.operands[0], self.shadow[op.operands[1]],
                        self.shadow[op.operands[2]]))])
                elif isinstance(op, ub.PoisonOp):
                    self._map_shadows(op.results, [e.op(ub.PoisonOp(op.results[0].type))])

    def _terminate(self, block: Block, extra: Sequence[SSAValue]) -> None:
        cloned = block.last_op
        assert cloned is not None
        Rewriter.replace_op(cloned, cloned.create(operands=[*cloned.operands, *extra]))

    def forward_for(self, e: Emit, op: scf.ForOp) -> None:
        old = op.body.block
        n = len(op.iter_args)
        slots = [i for i in range(n) if self.has_shadow(old.args[i + 1])]
        inits = [self.primal[v] for v in op.iter_args]
        inits += [self.shadow[op.iter_args[i]] for i in slots]
        body = Block(arg_types=[old.args[0].type, *(v.type for v in inits)])
        new = scf.ForOp(self.primal[op.lb], self.primal[op.ub], self.primal[op.step], inits,
                        Region(body))
        e.insert(new)
        self.forward_ops[op] = new
        self._map(old.args, body.args[:n + 1])
        self._map_shadows([old.args[i + 1] for i in slots], body.args[n + 1:])
        self._map(op.results, new.results[:n])
        self._map_shadows([op.results[i] for i in slots], new.results[n:])
        self.forward_block(old, body)
        yields = old.last_op.operands
        self._terminate(body, [self.shadow[yields[i]] for i in slots])

    def forward_while(self, e: Emit, op: scf.WhileOp) -> None:
        before, after = op.before_region.block, op.after_region.block
        counted = self.needs_reverse(op)
        bslots = [i for i, a in enumerate(before.args) if self.has_shadow(a)]
        aslots = [i for i, a in enumerate(after.args) if self.has_shadow(a)]
        inits = [self.primal[v] for v in op.arguments]
        inits += [self.shadow[op.arguments[i]] for i in bslots]
        inits += [e.const(0, i64)] * counted
        new_before = Block(arg_types=[v.type for v in inits])
        after_types = [a.type for a in after.args] + [after.args[i].type for i in aslots]
        after_types += [i64] * counted
        new_after = Block(arg_types=after_types)
        new = scf.WhileOp(inits, after_types, Region(new_before), Region(new_after))
        e.insert(new)
        nb, na = len(before.args), len(after.args)
        self._map(before.args, new_before.args[:nb])
        self._map_shadows([before.args[i] for i in bslots], new_before.args[nb:nb + len(bslots)])
        self._map(after.args, new_after.args[:na])
        self._map_shadows([after.args[i] for i in aslots], new_after.args[na:na + len(aslots)])
        self._map(op.results, new.results[:na])
        self._map_shadows([op.results[i] for i in aslots], new.results[na:na + len(aslots)])
        self.forward_block(before, new_before)
        self.forward_block(after, new_after)
        cargs = before.last_op.operands[1:]
        yields = after.last_op.operands
        count: list[SSAValue] = []
        if counted:
            count = [new_before.args[-1]]
            ae = Emit(InsertPoint.before(new_after.last_op))
            next_count = ae.op(arith.AddiOp(new_after.args[-1], ae.const(1, i64)))
            self.counters[op] = new.results[-1]
            new.results[-1].name_hint = "count"
        self._terminate(new_before, [self.shadow[cargs[i]] for i in aslots] + count)
        self._terminate(new_after, [self.shadow[yields[i]] for i in bslots]
                        + ([next_count] if counted else []))

    def forward_if(self, e: Emit, op: scf.IfOp) -> None:
        slots = [i for i, r in enumerate(op.results) if self.has_shadow(r)]
        types = [r.type for r in op.results] + [op.results[i].type for i in slots]
        regions = [Region(Block()) if old.blocks else Region() for old in op.regions]
        new = scf.IfOp(self.primal[op.cond], types, regions[0], regions[1])
        e.insert(new)
        n = len(op.results)
        self._map(op.results, new.results[:n])
        self._map_shadows([op.results[i] for i in slots], new.results[n:])
        for old, region in zip(op.regions, new.regions, strict=True):
            if old.blocks:
                self.forward_block(old.block, region.block)
                yields = old.block.last_op.operands
                self._terminate(region.block, [self.shadow[yields[i]] for i in slots])

    def _call_activities(self, op: func.CallOp) -> tuple[list[Activity], list[Activity]]:
        def act(v: SSAValue) -> Activity:
            return (Activity.ACTIVE if self.active_scalar(v)
                    else Activity.DUP if self.has_shadow(v) else Activity.CONST)

        return [act(v) for v in op.operands], [act(r) for r in op.results]

    def forward_call(self, e: Emit, op: func.CallOp) -> None:
        args, results = self._call_activities(op)
        if all(a is Activity.CONST for a in (*args, *results)):
            self._clone(e, op)
            return
        if CHECKPOINT in op.attributes and not any(a.has_shadow for a in results):
            self._forward_checkpointed(e, op, args, results)
            return
        overwritten = [isinstance(v.type, MemRefType) and self.memory.overwritten_after(op, v)
                       for v in op.operands]
        # A leaf function (no calls) given shadow arrays gets a pair per call
        # site: called once, LLVM inlines both functions whatever their size,
        # and then knows the caller's arrays (unit strides, distinct
        # allocations), so that their loops vectorize (as in ad-forward).
        target = self.diff.analysis.callee(op)
        per_site = (any(a.has_shadow for a in args) and target is not None
                    and not any(isinstance(o, func.CallOp) for o in target.walk()))
        pair = self.diff.pair(op.callee.root_reference.data, args, results, overwritten,
                              [self.finite.finite(v) for v in op.operands],
                              op if per_site else None)
        operands: list[SSAValue] = []
        for v, a in zip(op.operands, args, strict=True):
            operands.append(self.primal[v])
            if a.has_shadow:
                operands.append(self.shadow[v])
        operands += [self.tape(t, False) for t in pair.tapes]
        call = e.insert(func.CallOp(pair.augmented.sym_name.data, operands,
                                    pair.augmented.function_type.outputs.data))
        n = len(op.results)
        self._map(op.results, call.results[:n])
        self._map_shadows([r for r, a in zip(op.results, results, strict=True) if a.has_shadow],
                          call.results[n:])
        self.call_pairs[op] = (pair, args, results)

    def _forward_checkpointed(self, e: Emit, op: func.CallOp, args: list[Activity],
                              results: list[Activity]) -> None:
        """A checkpointed call (`ad-checkpoint`): snapshot the arrays it writes
        (or that change after it) on the tape, then run the plain primal; the
        reverse sweep restores them and re-runs it taped (see reverse_call)."""
        callee = self.diff.analysis.callee(op)
        assert callee is not None
        written = self.diff.analysis.written_args(callee)
        snapshot = [v for v, w in zip(op.operands, written, strict=True)
                    if isinstance(v.type, MemRefType)
                    and (w or self.memory.overwritten_after(op, v))]
        self._push_arrays(e, [self.primal[v] for v in snapshot], reverse=False)
        self._clone(e, op).attributes.pop(CHECKPOINT)
        found = read_checkpoint(op)
        if found is not None and found[0] == "binomial":
            # a step's adjoint state feeds the step before: the same activity for both
            for i, r in enumerate(op.results):
                if _is_float(r) and Activity.ACTIVE in (args[i], results[i]):
                    args[i] = results[i] = Activity.ACTIVE
        pair = self.diff.pair(op.callee.root_reference.data, args, results,
                              [False] * len(args))
        self.call_pairs[op] = (pair, args, results)
        self.snapshots[op] = snapshot

    def _push_arrays(self, e: Emit, arrays: Sequence[SSAValue], reverse: bool) -> None:
        """Push every element of `arrays`, last element first (so that
        `_pop_arrays` pops them in order), on the forward or reverse tapes."""
        for array in arrays:
            def push(inner: Emit, idx: list[SSAValue], array: SSAValue = array) -> None:
                last = [inner.op(arith.SubiOp(inner.op(memref.DimOp(array, index_const(
                    inner, d))), inner.op(arith.AddiOp(i, index_const(inner, 1)))))
                        for d, i in enumerate(idx)]
                value = inner.op(memref.LoadOp.get(array, last))
                inner.insert(PushOp(self.tape(value.type, reverse), value))

            for_each_element(e, array, push)

    def _pop_arrays(self, e: Emit, arrays: Sequence[SSAValue]) -> None:
        """Pop what `_push_arrays` pushed back into `arrays` (reverse tapes)."""
        for array in reversed(arrays):
            for_each_element(e, array, lambda inner, idx, array=array: inner.insert(
                memref.StoreOp.get(inner.op(PopOp(self.tape(
                    array.type.element_type, True))), array, idx)))

    # -- reverse sweep -----------------------------------------------------

    def add_adjoint(self, e: Emit, v: SSAValue, contribution: SSAValue) -> None:
        if not self.active_scalar(v):
            return
        contribution = e.convert(contribution, v.type)
        current = self.adj.get(v)
        self.adj[v] = contribution if current is None else e.add(current, contribution)

    def take(self, e: Emit, v: SSAValue) -> SSAValue:
        """The adjoint of `v`, 0 if it has none; `v` has no adjoint after."""
        found = self.adj.pop(v, None)
        return e.const(0.0, v.type) if found is None else found

    def reverse_block(self, old: Block, scope: _Scope) -> None:
        for op in reversed(list(old.ops)):
            self.reverse_op(Emit(InsertPoint.at_end(scope.block)), op)

    def reverse_op(self, e: Emit, op: Operation) -> None:
        match op:
            case scf.ForOp():
                self.reverse_for(e, op)
            case scf.WhileOp() if self._online(op):
                _Online(self, op).reverse(e)
            case scf.WhileOp():
                self.reverse_while(e, op)
            case scf.IfOp():
                self.reverse_if(e, op)
            case scf.YieldOp() | scf.ConditionOp() | func.ReturnOp():
                pass
            case memref.LoadOp():
                self.reverse_load(e, op)
            case memref.StoreOp():
                self.reverse_store(e, op)
            case func.CallOp() if op in self.call_pairs:
                self.reverse_call(e, op)
            case _:
                if type(op) in INACTIVE or not any(self.active_scalar(r) for r in op.results):
                    return
                rule = rule_for(op)
                if rule is None or len(op.results) != 1:
                    raise PassFailedException(f"ad-reverse: no derivative rule for {op.name}")
                self.reverse_rule(e, op, rule)

    def _rev(self, v: SSAValue) -> SSAValue:
        return self.get(v) if v in self.old_values else v

    def reverse_rule(self, e: Emit, op: Operation, rule) -> None:
        ybar = self.adj.pop(op.results[0], None)
        wanted = [self.active_scalar(u) for u in op.operands]
        if ybar is None or not any(wanted):
            return
        rec = _Recorder(e.point)
        ds = partials(rec, rule, op, wanted)
        for made in rec.made:
            made.operands = [self._rev(u) for u in made.operands]
        unchecked = self.finite.finite_partials(op, ds, finite_partials(rule))
        first = True
        for u, d, want, fin in zip(op.operands, ds, wanted, unchecked, strict=True):
            if not want or d is ZERO:
                continue
            if d is ONE:
                term = ybar
            elif d is NEG_ONE:
                term = rec.neg(ybar)
            elif isinstance(d, Where):
                zero = rec.const(0.0, ybar.type)
                cond = self._rev(d.cond)
                term = rec.select(cond, ybar, zero) if d.when else rec.select(cond, zero, ybar)
            elif fin:
                term = rec.mul(self._rev(d), ybar)
            elif first:
                term = checked_mul(rec, self._rev(d), ybar)
                first = False
            else:
                term = _checked_again(rec, self._rev(d), ybar)
            self.add_adjoint(rec, u, term)

    def reverse_load(self, e: Emit, op: memref.LoadOp) -> None:
        ybar = self.adj.pop(op.res, None)
        if ybar is None or not self.has_shadow(op.memref):
            return
        if self._chain(op):  # loop-invariant: accumulate in a register
            key = self._invariant(op)
            current = self.adj.get(key)
            self.adj[key] = ybar if current is None else e.add(current, ybar)
            return
        shadow = self.get_shadow(op.memref)
        indices = [self.get(i) for i in op.indices]
        old = e.op(memref.LoadOp.get(shadow, indices))
        e.insert(memref.StoreOp.get(e.add(old, ybar), shadow, indices))

    def reverse_store(self, e: Emit, op: memref.StoreOp) -> None:
        if not self.has_shadow(op.memref):
            return
        shadow = self.get_shadow(op.memref)
        indices = [self.get(i) for i in op.indices]
        bar = e.op(memref.LoadOp.get(shadow, indices))
        if (increment := _increment(op)) is not None:
            # a[i] = a[i] +- v: the element's adjoint stays, v's gets +-it
            v, negated = increment
            self.add_adjoint(e, v, e.op(arith.NegfOp(bar)) if negated else bar)
            return
        e.insert(memref.StoreOp.get(e.const(0.0, bar.type), shadow, indices))
        self.add_adjoint(e, op.value, bar)

    def reverse_call(self, e: Emit, op: func.CallOp) -> None:
        pair, args, results = self.call_pairs[op]
        operands: list[SSAValue] = []
        for v, a in zip(op.operands, args, strict=True):
            operands.append(self.get(v))
            if a.has_shadow:
                operands.append(self.get_shadow(v))
        if op in self.snapshots:
            self._pop_arrays(e, [self.get(v) for v in self.snapshots[op]])
            found = read_checkpoint(op)
            assert found is not None
            if found[0] == "binomial":
                _Revolve(self, op.callee.root_reference.data, pair, args, operands,
                         [r.type for r in op.results],
                         [self.get(v) for v in self.snapshots[op]]).run(e, op, found[1])
                return
            e.insert(func.CallOp(pair.augmented.sym_name.data,
                                 [*operands, *(self.tape(t, True) for t in pair.tapes)],
                                 pair.augmented.function_type.outputs.data))
            if os.environ.get("COFACTOR_CHECKPOINT_PROBE"):  # the steps re-run taped
                n = len(op.results)
                self.probe(e, _trip_count(e, *(self.get(v) for v in op.operands[n:n + 3])))
        operands += [self.get_shadow(r) for r, a in zip(op.results, results, strict=True)
                     if a.has_shadow]
        operands += [self.take(e, r) for r, a in zip(op.results, results, strict=True)
                     if a is Activity.ACTIVE]
        operands += [self.tape(t, True) for t in pair.tapes]
        call = e.insert(func.CallOp(pair.reverse.sym_name.data, operands,
                                    pair.reverse.function_type.outputs.data))
        active = [v for v, a in zip(op.operands, args, strict=True) if a is Activity.ACTIVE]
        for v, bar in zip(active, call.results, strict=True):
            self.add_adjoint(e, v, bar)

    def probe(self, e: Emit, count: SSAValue) -> None:
        """Test hook (COFACTOR_CHECKPOINT_PROBE set at compile time): call the
        external `cofactor_checkpoint_probe(steps)` with the steps a loop
        reversed by Revolve re-ran untaped, or a periodic segment re-ran taped."""
        module = self.diff.module
        if SymbolTable.lookup_symbol(module, "cofactor_checkpoint_probe") is None:
            module.body.block.add_op(func.FuncOp.external("cofactor_checkpoint_probe", [i64], []))
        e.insert(func.CallOp("cofactor_checkpoint_probe", [count], []))

    def _carry(self, e: Emit, free: Sequence[SSAValue]) -> list[SSAValue]:
        return [self.adj[f] if f in self.adj else e.const(0.0, f.type) for f in free]

    def reverse_for(self, e: Emit, op: scf.ForOp) -> None:
        if not self.needs_reverse(op):
            return
        old = op.body.block
        slots = [i for i in range(len(op.iter_args)) if self.active_scalar(old.args[i + 1])]
        free = self.free_adjoints(op)
        lb, ub_, step = self.get(op.lb), self.get(op.ub), self.get(op.step)
        trips = _trip_count(e, lb, ub_, step)
        inits = [self.take(e, op.results[i]) for i in slots] + self._carry(e, free)
        body = Block(arg_types=[lb.type, *(v.type for v in inits)])
        rev = e.insert(scf.ForOp(e.const(0, lb.type), trips, e.const(1, lb.type), inits,
                                 Region(body)))
        rev.attributes[ADJOINT] = UnitAttr()
        scope = self._enter(old, body)
        h = scope.emit()
        last = h.op(arith.SubiOp(trips, h.const(1, lb.type)))
        m = h.op(arith.SubiOp(last, body.args[0]))  # the forward iteration
        iv = h.op(arith.AddiOp(lb, h.op(arith.MuliOp(m, step))))
        iv.name_hint = old.args[0].name_hint
        scope.values[("p", old.args[0])] = iv
        scope.values[("m", op)] = m
        n = len(slots)
        for f, arg in zip(free, body.args[1 + n:], strict=True):
            self.adj[f] = arg
        be = Emit(InsertPoint.at_end(body))
        yields = old.last_op.operands
        for i, carried in zip(slots, body.args[1:1 + n], strict=True):
            self.add_adjoint(be, yields[i], carried)
        self.reverse_block(old, scope)
        be = Emit(InsertPoint.at_end(body))
        outs = [self.take(be, old.args[i + 1]) for i in slots] + [self.adj.pop(f) for f in free]
        body.add_op(scf.YieldOp(*outs))
        self._exit(scope)
        for i, bar in zip(slots, rev.results[:n], strict=True):
            self.add_adjoint(e, op.iter_args[i], bar)
        for f, bar in zip(free, rev.results[n:], strict=True):
            self.adj[f] = bar
        for f in free:
            if isinstance(f, _Invariant) and self._chain(f.load)[-1] is op:
                self._accumulate_invariant(e, f, op)

    def _accumulate_invariant(self, e: Emit, key: _Invariant, outer: scf.ForOp) -> None:
        """shadow[index] += the adjoint of a load that is invariant in the
        loops up to `outer`, after the reverse of `outer`."""
        bar = self.adj.pop(key)
        load = key.load
        shadow = _rebuild(load.memref, outer, self.get_shadow, e)
        indices = [_rebuild(i, outer, self.get, e) for i in load.indices]
        old = e.op(memref.LoadOp.get(shadow, indices))
        e.insert(memref.StoreOp.get(e.add(old, bar), shadow, indices))

    def reverse_while(self, e: Emit, op: scf.WhileOp) -> None:
        if not self.needs_reverse(op):
            return
        before, after = op.before_region.block, op.after_region.block
        cargs = before.last_op.operands[1:]
        yields = after.last_op.operands
        bslots = [i for i, a in enumerate(before.args) if self.active_scalar(a)]
        aslots = [i for i, a in enumerate(after.args) if self.active_scalar(a)]
        free = self.free_adjoints(op)
        parent = op.parent_block()
        assert parent is not None
        count = self._materialize(parent, ("n", op), lambda: self.counters[op],
                                  lambda scope: None)
        one = e.const(1, i64)
        # Iteration j reverses the before region's execution n - j, then (for
        # j < n) the after region's execution n - 1 - j.
        cbar = [self.take(e, op.results[i]) for i in aslots]
        bbar = [e.const(0.0, before.args[i].type) for i in bslots]
        inits = cbar + bbar + self._carry(e, free)
        body = Block(arg_types=[i64, *(v.type for v in inits)])
        rev = e.insert(scf.ForOp(e.const(0, i64), e.op(arith.AddiOp(count, one)), one, inits,
                                 Region(body)))
        na, nb = len(aslots), len(bslots)
        for f, arg in zip(free, body.args[1 + na + nb:], strict=True):
            self.adj[f] = arg
        scope = self._enter(before, body)
        be = Emit(InsertPoint.at_end(body))
        for i, bar in zip(aslots, body.args[1:1 + na], strict=True):
            self.add_adjoint(be, cargs[i], bar)
        self.reverse_block(before, scope)
        be = Emit(InsertPoint.at_end(body))
        new_bbar = [self.take(be, before.args[i]) for i in bslots]
        more = be.op(arith.CmpiOp(body.args[0], count, "slt"))
        then_block, else_block = Block(), Block()
        types = [after.args[i].type for i in aslots] + [f.type for f in free]
        branch = be.insert(scf.IfOp(more, types, Region(then_block), Region(else_block)))
        outer = self._carry(be, free)
        inner = self._enter(after, then_block)
        te = Emit(InsertPoint.at_end(then_block))
        for i, bar in zip(bslots, new_bbar, strict=True):
            self.add_adjoint(te, yields[i], bar)
        self.reverse_block(after, inner)
        te = Emit(InsertPoint.at_end(then_block))
        outs = [self.take(te, after.args[i]) for i in aslots] + self._carry(te, free)
        then_block.add_op(scf.YieldOp(*outs))
        self._exit(inner)
        ee = Emit(InsertPoint.at_end(else_block))
        else_block.add_op(scf.YieldOp(*[ee.const(0.0, after.args[i].type) for i in aslots],
                                      *outer))
        be = Emit(InsertPoint.at_end(body))
        body.add_op(scf.YieldOp(*branch.results[:na], *new_bbar, *branch.results[na:]))
        self._exit(scope)
        for i, bar in zip(bslots, rev.results[na:na + nb], strict=True):
            self.add_adjoint(e, op.arguments[i], bar)
        for f, bar in zip(free, rev.results[na + nb:], strict=True):
            self.adj[f] = bar

    def reverse_if(self, e: Emit, op: scf.IfOp) -> None:
        if not self.needs_reverse(op):
            return
        slots = [i for i, r in enumerate(op.results) if self.active_scalar(r)]
        free = self.free_adjoints(op)
        rbar = [self.take(e, op.results[i]) for i in slots]
        cond = self.get(op.cond)
        outer = self._carry(e, free)
        blocks = [Block(), Block()]
        new = e.insert(scf.IfOp(cond, [f.type for f in free], Region(blocks[0]),
                                Region(blocks[1])))
        for old_region, block in zip(op.regions, blocks, strict=True):
            if not old_region.blocks:
                block.add_op(scf.YieldOp(*outer))
                continue
            old = old_region.block
            scope = self._enter(old, block)
            for f, value in zip(free, outer, strict=True):
                self.adj[f] = value
            be = Emit(InsertPoint.at_end(block))
            for i, bar in zip(slots, rbar, strict=True):
                self.add_adjoint(be, old.last_op.operands[i], bar)
            self.reverse_block(old, scope)
            block.add_op(scf.YieldOp(*[self.adj.pop(f) for f in free]))
            self._exit(scope)
        for f, bar in zip(free, new.results, strict=True):
            self.adj[f] = bar

    # -- the two kinds of derivative functions -----------------------------

    def _enter_arguments(self, block: Block, forward: bool) -> list[SSAValue]:
        """Map the primal arguments to `block`'s leading arguments (each `dup`
        one followed by its shadow); a const array that can hold active values
        gets a zero-filled shadow. Returns the remaining arguments."""
        args = iter(block.args)
        e = Emit(InsertPoint.at_end(block))
        for arg, act in zip(self.fn.args, self.args, strict=True):
            new = next(args)
            new.name_hint = arg.name_hint
            if forward:
                self.primal[arg] = new
            else:
                self.instances[self.top][0].values[("p", arg)] = new
            if act.has_shadow:
                shadow = next(args)
                shadow.name_hint = None if arg.name_hint is None else "d" + arg.name_hint
            elif self.has_shadow(arg):
                shadow = zero_array(e, new)
            else:
                continue
            if forward:
                self.shadow[arg] = shadow
            else:
                self.instances[self.top][0].values[("s", arg)] = shadow
        return list(args)

    def gradient(self, made: func.FuncOp) -> None:
        """Forward then reverse sweep in one function."""
        self._functions = (made, made)
        self.cut = self._plan()
        block = made.body.block
        seeds = iter(self._enter_arguments(block, forward=True))
        self.forward_block(self.top, block)
        ret = self._returned
        assert ret is not None
        scope = _Scope(self.top, block, None)
        self.scopes.append(scope)
        e = Emit(InsertPoint.at_end(block))
        for v, act in zip(ret.operands, self.results, strict=True):
            if not has_seed(act):
                continue
            seed = next(seeds)
            if isinstance(v.type, MemRefType):
                if self.has_shadow(v):
                    self._accumulate(e, self.shadow[v], seed)
            else:
                self.add_adjoint(e, v, seed)
        self.reverse_block(self.top, scope)
        e = Emit(InsertPoint.at_end(block))
        values = [self.primal[v] for v, a in zip(ret.operands, self.results, strict=True)
                  if a.returns_primal]
        adjoints = [self.take(e, arg) for arg, a in zip(self.fn.args, self.args, strict=True)
                    if a is Activity.ACTIVE]
        block.add_op(func.ReturnOp(*values, *adjoints))
        self._finish()

    def pair(self, aug: func.FuncOp, rev: func.FuncOp) -> None:
        """The forward sweep in `aug`, the reverse sweep in `rev`."""
        self._pair_mode = True
        self._functions = (aug, rev)
        self.cut = self._plan()
        self._enter_arguments(aug.body.block, forward=True)
        self.forward_block(self.top, aug.body.block)
        ret = self._returned
        assert ret is not None
        aug.body.block.add_op(func.ReturnOp(
            *(self.primal[v] for v in ret.operands),
            *(self.shadow[v] for v, a in zip(ret.operands, self.results, strict=True)
              if a.has_shadow)))
        block = rev.body.block
        scope = self._enter(self.top, block)
        rest = iter(self._enter_arguments(block, forward=False))
        for v, act in zip(ret.operands, self.results, strict=True):
            if act.has_shadow:
                scope.values[("s", v)] = next(rest)
        e = Emit(InsertPoint.at_end(block))
        for v, act in zip(ret.operands, self.results, strict=True):
            if act is Activity.ACTIVE:
                self.add_adjoint(e, v, next(rest))
        self.reverse_block(self.top, scope)
        e = Emit(InsertPoint.at_end(block))
        block.add_op(func.ReturnOp(*(self.take(e, arg) for arg, a in zip(
            self.fn.args, self.args, strict=True) if a is Activity.ACTIVE)))
        self.scopes.pop()
        self._finish()
        for made in (aug, rev):
            made.function_type = FunctionType.from_lists(
                [a.type for a in made.body.block.args], made.function_type.outputs.data)

    def _accumulate(self, e: Emit, shadow: SSAValue, seed: SSAValue) -> None:
        """shadow += seed, elementwise."""
        def add(inner: Emit, idx: list[SSAValue]) -> None:
            total = inner.add(inner.op(memref.LoadOp.get(shadow, idx)),
                              inner.op(memref.LoadOp.get(seed, idx)))
            inner.insert(memref.StoreOp.get(total, shadow, idx))

        for_each_element(e, shadow, add)


def _increment(store: memref.StoreOp) -> tuple[SSAValue, bool] | None:
    """`(v, negated)` when `store` writes `a[i] + v` or `a[i] - v` computed from
    a load of the same element that nothing between writes, each used once:
    its reverse leaves the element's adjoint in place instead of moving it
    out and adding it back through the load."""
    total = store.value
    op = total.owner
    if not isinstance(op, arith.AddfOp | arith.SubfOp) or not total.has_one_use():
        return None
    for k, operand in enumerate(op.operands):
        load = operand.owner
        if (k == 1 and isinstance(op, arith.SubfOp)) or not isinstance(load, memref.LoadOp):
            continue
        if (load.memref is not store.memref or list(load.indices) != list(store.indices)
                or not operand.has_one_use() or load.parent is not store.parent):
            continue
        between = load.next_op
        while between is not None and between is not store and (
                between.dialect_name() in ("arith", "math") or isinstance(between, memref.LoadOp)):
            between = between.next_op
        if between is store:
            return op.operands[1 - k], isinstance(op, arith.SubfOp)
    return None


def _stored(t: Attribute) -> Attribute:
    """The type a state value of type `t` has on the tape (i1 as i64)."""
    return i64 if t == i1 else t


def _push_state(sw: _Sweeps, e: Emit, state: Sequence[SSAValue], arrays: Sequence[SSAValue],
                reverse: bool) -> None:
    """Push a snapshot: the state scalars, then every element of `arrays`."""
    for v in state:
        if v.type == i1:
            v = e.op(arith.ExtUIOp(v, i64))
        e.insert(PushOp(sw.tape(v.type, reverse), v))
    sw._push_arrays(e, arrays, reverse=reverse)


def _pop_state(sw: _Sweeps, e: Emit, types: Sequence[Attribute],
               arrays: Sequence[SSAValue]) -> list[SSAValue]:
    """Pop a snapshot `_push_state` pushed: restore `arrays`, return the state."""
    sw._pop_arrays(e, arrays)
    state: list[SSAValue] = []
    for t in reversed(types):
        v = e.op(PopOp(sw.tape(_stored(t), True)))
        state.append(e.op(arith.TruncIOp(v, i1)) if t == i1 else v)
    return state[::-1]


class _Revolve:
    """Binomial checkpointing (Revolve) of a segment call over all its steps,
    in the reverse sweep. Work items (lo, hi, c) on a small stack each start
    from the snapshot on top of the tape, the state at step lo: a single step
    is re-run taped and reversed, then its snapshot dropped; with c = 0 free
    snapshots every step is reached from lo again; else the state advances to
    lo + j and is snapshotted, and (lo + j, hi, c - 1) then (lo, lo + j, c)
    follow. j is Griewank's optimal split: with s = c + 1 snapshots and r the
    fewest repetitions such that beta(s, r) = C(s + r, s) >= m = hi - lo,
    j = max(1, beta(s, r - 2), m - beta(s - 1, r)). At most `snapshots`
    snapshots are held (0: about sqrt(n)); a stack item per live snapshot.
    `sweep` reverses steps [base, base + m) from the snapshot on top of the
    tape (`run`: a binomial call; `_Online`: one segment of a while loop)."""

    def __init__(self, sweeps: _Sweeps, segment: str, pair: _Pair, args: list[Activity],
                 operands: list[SSAValue], types: list[Attribute], arrays: list[SSAValue]):
        self.sw, self.segment, self.pair = sweeps, segment, pair
        n = self.n = len(types)
        self.operands = operands  # primal values, each dup one followed by its shadow
        self.types = types
        self.arrays = arrays  # reverse-sweep values of the arrays a snapshot holds
        self.carried = [i for i in range(n) if args[i] is Activity.ACTIVE]
        self.captured = [i for i in range(n + 3, len(args)) if args[i] is Activity.ACTIVE]
        self.tapes = [sweeps.tape(t, True) for t in pair.tapes]
        self.shadowed = [a.has_shadow for a in args]
        lb_at = sum(1 + a.has_shadow for a in args[:n])
        self.lb, self.step = operands[lb_at], operands[lb_at + 2]
        self.base: SSAValue | None = None  # the first step `sweep` reverses

    # -- pieces --------------------------------------------------------------

    def call_operands(self, state: Sequence[SSAValue], e: Emit, lo: SSAValue, hi: SSAValue,
                      shadows: bool) -> list[SSAValue]:
        """The segment's operands for steps [lo, hi) from `state`."""
        out = iter(self.operands)
        values: list[SSAValue] = []
        for i, shadowed in enumerate(self.shadowed):
            v = next(out)
            if i < self.n:
                v = state[i]
            elif i in (self.n, self.n + 1):
                assert self.base is not None
                k = e.op(arith.AddiOp(self.base, lo if i == self.n else hi))
                v = e.op(arith.AddiOp(self.lb, e.op(arith.MuliOp(k, self.step))))
            values.append(v)
            shadow = next(out) if shadowed else None
            if shadows and shadow is not None:
                values.append(shadow)
        return values

    def advance(self, e: Emit, state: Sequence[SSAValue], lo: SSAValue, hi: SSAValue
                ) -> list[SSAValue]:
        """Run steps [lo, hi) untaped."""
        operands = self.call_operands(state, e, lo, hi, False)
        call = e.insert(func.CallOp(self.segment, operands, self.types))
        return list(call.results)

    def reverse_step(self, e: Emit, state: Sequence[SSAValue], k: SSAValue,
                     adjoints: Sequence[SSAValue]) -> list[SSAValue]:
        """Re-run step k taped and reverse it: the adjoints of the state
        before it, then those of the captured scalars (increments)."""
        after = e.op(arith.AddiOp(k, e.const(1, i64)))
        operands = self.call_operands(state, e, k, after, True)
        aug, rev = self.pair.augmented, self.pair.reverse
        e.insert(func.CallOp(aug.sym_name.data, [*operands, *self.tapes],
                             aug.function_type.outputs.data))
        seeds = adjoints[:len(self.carried)]
        call = e.insert(func.CallOp(rev.sym_name.data, [*operands, *seeds, *self.tapes],
                                    rev.function_type.outputs.data))
        out = list(call.results)
        return out[:len(seeds)] + [e.add(a, b) for a, b in zip(
            adjoints[len(seeds):], out[len(seeds):], strict=True)]

    def push_state(self, e: Emit, state: Sequence[SSAValue]) -> None:
        _push_state(self.sw, e, state, self.arrays, reverse=True)

    def pop_state(self, e: Emit) -> list[SSAValue]:
        return _pop_state(self.sw, e, self.types, self.arrays)

    def peek(self, e: Emit) -> list[SSAValue]:
        state = self.pop_state(e)
        self.push_state(e, state)
        return state

    def split(self, e: Emit, m: SSAValue, c: SSAValue) -> SSAValue:
        """Griewank's optimal first step count j (see the class docstring)."""
        one = e.const(1, i64)
        s = e.op(arith.AddiOp(c, one))
        before, after = Block(arg_types=[i64, i64]), Block(arg_types=[i64, i64])
        b = Emit(InsertPoint.at_end(before))
        before.add_op(scf.ConditionOp(b.op(arith.CmpiOp(before.args[1], m, "slt")),
                                      *before.args))
        a = Emit(InsertPoint.at_end(after))
        r = a.op(arith.AddiOp(after.args[0], one))
        beta = a.op(arith.DivSIOp(a.op(arith.MuliOp(after.args[1], a.op(arith.AddiOp(s, r)))),
                                  r))
        after.add_op(scf.YieldOp(r, beta))
        r, beta = e.insert(scf.WhileOp([e.const(0, i64), one], [i64, i64], Region(before),
                                       Region(after))).results
        sr = e.op(arith.AddiOp(s, r))
        left = e.op(arith.DivSIOp(e.op(arith.MuliOp(beta, r)), sr))  # beta(s, r - 1)
        left = e.op(arith.DivSIOp(e.op(arith.MuliOp(left, e.op(arith.SubiOp(r, one)))),
                                  e.op(arith.SubiOp(sr, one))))  # beta(s, r - 2), 0 for r = 1
        right = e.op(arith.DivSIOp(e.op(arith.MuliOp(beta, s)), sr))  # beta(s - 1, r)
        return e.op(arith.MaxSIOp(e.op(arith.MaxSIOp(one, left)),
                                  e.op(arith.SubiOp(m, right))))

    # -- the driver ----------------------------------------------------------

    def run(self, e: Emit, op: func.CallOp, snapshots: int) -> None:
        """Reverse binomial call `op` over all its steps."""
        n = self.n
        one, zero = e.const(1, i64), e.const(0, i64)
        lo_v, hi_v = self.operands_at(n), self.operands_at(n + 1)
        span = e.op(arith.MaxSIOp(e.op(arith.SubiOp(hi_v, lo_v)), zero))
        m = e.op(arith.DivSIOp(e.op(arith.SubiOp(e.op(arith.AddiOp(span, self.step)), one)),
                               self.step))
        if snapshots:
            free = e.const(snapshots - 1, i64)
        else:
            root = e.op(math.SqrtOp(e.op(arith.SIToFPOp(m, Float64Type()))))
            free = e.op(arith.MaxSIOp(e.op(arith.SubiOp(
                e.op(arith.FPToSIOp(e.op(math.CeilOp(root)), i64)), one)), zero))
        first = Block()
        self.push_state(Emit(InsertPoint.at_end(first)),
                        [self.operands_at(i) for i in range(n)])
        first.add_op(scf.YieldOp())
        e.insert(scf.IfOp(e.op(arith.CmpiOp(m, zero, "sgt")), [], Region(first)))
        if self.sw._pair_mode:
            reserve_caches(first)
        captured = [op.operands[i] for i in self.captured]
        seeds = [self.sw.take(e, op.results[i]) for i in self.carried]
        sums = [e.const(0.0, v.type) for v in captured]
        count, adjoints = self.sweep(e, zero, m, free, zero, [*seeds, *sums])
        for i, adjoint in zip(self.carried, adjoints, strict=False):
            self.sw.add_adjoint(e, op.operands[i], adjoint)
        for v, adjoint in zip(captured, adjoints[len(self.carried):], strict=True):
            self.sw.add_adjoint(e, v, adjoint)
        if os.environ.get("COFACTOR_CHECKPOINT_PROBE"):
            self.sw.probe(e, count)

    def sweep(self, e: Emit, base: SSAValue, m: SSAValue, free: SSAValue, count: SSAValue,
              adjoints: Sequence[SSAValue]) -> tuple[SSAValue, list[SSAValue]]:
        """Reverse steps [base, base + m) with `free` snapshots beyond the
        state at `base`, on top of the tape (popped at the end if m > 0),
        seeded with `adjoints` (the active state's, then the captured
        scalars' sums). Returns `count` plus the steps re-run untaped, and
        the adjoints before the steps."""
        self.base = base
        zero = e.const(0, i64)
        size = e.op(arith.IndexCastOp(e.op(arith.MuliOp(e.op(arith.AddiOp(
            free, e.const(3, i64))), e.const(3, i64))), IndexType()))
        work = e.op(memref.AllocOp([size], [], MemRefType(i64, [DYNAMIC_INDEX])))
        for k, v in enumerate((zero, m, free)):
            e.insert(memref.StoreOp.get(v, work, [index_const(e, k)]))
        nonempty = e.op(arith.CmpiOp(m, zero, "sgt"))
        types = [i64, i64, *(v.type for v in adjoints)]
        before, after = Block(arg_types=types), Block(arg_types=types)
        b = Emit(InsertPoint.at_end(before))
        before.add_op(scf.ConditionOp(b.op(arith.CmpiOp(before.args[0], zero, "sgt")),
                                      *before.args))
        self.item(after, work)
        loop = e.insert(scf.WhileOp([e.op(arith.ExtUIOp(nonempty, i64)), count, *adjoints],
                                    types, Region(before), Region(after)))
        e.insert(memref.DeallocOp.get(work))
        if self.sw._pair_mode:
            reserve_caches(after)
        return loop.results[1], list(loop.results[2:])

    def operands_at(self, i: int) -> SSAValue:
        """The primal operand i (shadows skipped)."""
        return [v for v, k in zip(self.operands, self._positions(), strict=True) if k][i]

    def _positions(self) -> list[bool]:
        return [flag for s in self.shadowed for flag in (True, *(False,) * s)]

    def item(self, body: Block, work: SSAValue) -> None:
        """One work item: the after region of the driver's loop."""
        e = Emit(InsertPoint.at_end(body))
        sp, count, *adjoints = body.args
        one, zero = e.const(1, i64), e.const(0, i64)
        top = e.op(arith.SubiOp(sp, one))
        base = e.op(arith.MuliOp(top, e.const(3, i64)))

        def at(k: int, emit: Emit) -> SSAValue:
            return emit.op(arith.IndexCastOp(emit.op(arith.AddiOp(base, emit.const(k, i64))),
                                             IndexType()))

        lo, hi, c = (e.op(memref.LoadOp.get(work, [at(k, e)])) for k in range(3))
        state = self.peek(e)
        m = e.op(arith.SubiOp(hi, lo))
        types = [a.type for a in body.args]

        single = Block()
        s = Emit(InsertPoint.at_end(single))
        new = self.reverse_step(s, state, lo, adjoints)
        self.pop_state(s)
        single.add_op(scf.YieldOp(top, count, *new))

        repeat = Block()
        r = Emit(InsertPoint.at_end(repeat))
        steps = Block(arg_types=[i64, i64, *(a.type for a in adjoints)])
        f = Emit(InsertPoint.at_end(steps))
        k = f.op(arith.SubiOp(f.op(arith.SubiOp(hi, f.const(1, i64))), steps.args[0]))
        moved = self.advance(f, self.peek(f), lo, k)
        done = f.op(arith.AddiOp(steps.args[1], f.op(arith.SubiOp(k, lo))))
        steps.add_op(scf.YieldOp(done, *self.reverse_step(f, moved, k, steps.args[2:])))
        loop = r.insert(scf.ForOp(zero, m, one, [count, *adjoints], Region(steps)))
        self.pop_state(r)
        repeat.add_op(scf.YieldOp(top, *loop.results))

        split = Block()
        p = Emit(InsertPoint.at_end(split))
        j = self.split(p, m, c)
        mid = p.op(arith.AddiOp(lo, j))
        self.push_state(p, self.advance(p, state, lo, mid))
        for k, v in enumerate((lo, mid, c, mid, hi, p.op(arith.SubiOp(c, one)))):
            p.insert(memref.StoreOp.get(v, work, [at(k, p)]))
        split.add_op(scf.YieldOp(p.op(arith.AddiOp(sp, one)),
                                 p.op(arith.AddiOp(count, j)), *adjoints))

        longer = Block()
        g = Emit(InsertPoint.at_end(longer))
        inner = g.insert(scf.IfOp(g.op(arith.CmpiOp(c, zero, "eq")), types, Region(repeat),
                                  Region(split)))
        longer.add_op(scf.YieldOp(*inner.results))
        outer = e.insert(scf.IfOp(e.op(arith.CmpiOp(m, one, "eq")), types, Region(single),
                                  Region(longer)))
        body.add_op(scf.YieldOp(*outer.results))


class _Online:
    """Online checkpointing of a while loop that `ad-checkpoint` outlined
    (`ad.segment`): its trip count is unknown until it ends (the scheme and
    its bounds are in `ad-checkpoint`'s docstring).

    Forward sweep: the loop runs untaped, counting its steps, and keeps at
    most s snapshots in a buffer, slot j the state before step j p: when a
    snapshot falls due with all s slots full, every other one is dropped
    (slot j <- slot 2j) and p doubles. After the loop, the kept snapshots
    (first to last), the final state and (n, kept, p) go on the tape.
    Reverse sweep: restore the final state and reverse the last run of the
    condition region (its forwarded values are the loop's results), then
    reverse each segment, last first, with Revolve (s snapshots) from its
    kept snapshot."""

    def __init__(self, sweeps: _Sweeps, op: scf.WhileOp):
        self.sw, self.op = sweeps, op
        before, after = op.before_region.block, op.after_region.block
        test, body = before.first_op, after.first_op
        assert isinstance(test, func.CallOp) and isinstance(body, func.CallOp)
        segment = op.attributes[SEGMENT]
        assert isinstance(segment, SymbolRefAttr)
        self.test, self.body = test.callee.root_reference.data, body.callee.root_reference.data
        self.segment = segment.root_reference.data
        self.state = list(before.arg_types)
        self.forwarded = list(after.arg_types)
        self.captures = list(test.operands[len(self.state):])
        found = read_checkpoint(op)
        assert found is not None
        self.snapshots = found[1] or WHILE_SNAPSHOTS
        self.active = [Activity.ACTIVE if sweeps.active_scalar(a) else Activity.CONST
                       for a in before.args]
        self.held = [Activity.ACTIVE if sweeps.active_scalar(v) else Activity.DUP
                     if sweeps.has_shadow(v) else Activity.CONST for v in self.captures]
        fn = SymbolTable.lookup_symbol(sweeps.diff.module, self.segment)
        assert isinstance(fn, func.FuncOp)
        written = sweeps.diff.analysis.written_args(fn)[len(self.state) + 3:]
        self.arrays = [v for v, w in zip(self.captures, written, strict=True)
                       if isinstance(v.type, MemRefType)
                       and (w or sweeps.memory.overwritten_after(op, v))]

    # -- forward sweep -------------------------------------------------------

    def forward(self, e: Emit) -> None:
        sw, nx, nc = self.sw, len(self.state), len(self.forwarded)
        captures = [sw.primal[v] for v in self.captures]
        arrays = [sw.primal[v] for v in self.arrays]
        slots = index_const(e, self.snapshots)
        scalars = [e.op(memref.AllocOp([slots], [], MemRefType(_stored(t), [DYNAMIC_INDEX])))
                   for t in self.state]
        sizes = [_size(e, a) for a in arrays]
        chunks = [e.op(memref.AllocOp([e.op(arith.IndexCastOp(e.op(arith.MuliOp(
            e.const(self.snapshots, i64), size)), IndexType()))], [], MemRefType(
                a.type.element_type, [DYNAMIC_INDEX])))
                  for a, size in zip(arrays, sizes, strict=True)]
        types = [*self.state, i64, i64, i64]  # the state, steps run, snapshots kept, period
        before = Block(arg_types=types)
        b = Emit(InsertPoint.at_end(before))
        xs, (k, kept, period) = list(before.args[:nx]), before.args[nx:]
        test = b.insert(func.CallOp(self.test, [*xs, *captures], [i1, *self.forwarded]))
        keep = Block()
        self._keep(Emit(InsertPoint.at_end(keep)), xs, k, kept, period,
                   (scalars, chunks, arrays, sizes))
        skip = Block()
        skip.add_op(scf.YieldOp(kept, period))
        kept, period = b.insert(scf.IfOp(test.results[0], [i64, i64], Region(keep),
                                         Region(skip))).results
        before.add_op(scf.ConditionOp(test.results[0], *test.results[1:], *xs, k, kept, period))
        after = Block(arg_types=[*self.forwarded, *types])
        a = Emit(InsertPoint.at_end(after))
        step = a.insert(func.CallOp(self.body, [*after.args[:nc], *captures], self.state))
        k = a.op(arith.AddiOp(after.args[nc + nx], a.const(1, i64)))
        after.add_op(scf.YieldOp(*step.results, k, *after.args[nc + nx + 1:]))
        zero, one = e.const(0, i64), e.const(1, i64)
        loop = e.insert(scf.WhileOp([*(sw.primal[v] for v in self.op.arguments), zero, zero, one],
                                    [*self.forwarded, *types], Region(before), Region(after)))
        sw._map(self.op.results, loop.results[:nc])
        final = loop.results[nc:nc + nx]
        n, kept, period = loop.results[nc + nx:]
        n.name_hint, kept.name_hint, period.name_hint = "steps", "kept", "period"
        row = Block(arg_types=[i64])
        r = Emit(InsertPoint.at_end(row))
        slot = r.op(arith.IndexCastOp(row.args[0], IndexType()))
        for buf in scalars:
            v = r.op(memref.LoadOp.get(buf, [slot]))
            r.insert(PushOp(sw.tape(v.type, False), v))
        for chunk, size in zip(chunks, sizes, strict=True):
            _push_chunk(sw, r, chunk, r.op(arith.MuliOp(row.args[0], size)), size)
        row.add_op(scf.YieldOp())
        e.insert(scf.ForOp(zero, kept, one, [], Region(row)))
        _push_state(sw, e, final, arrays, reverse=False)
        for v in (n, kept, period):
            e.insert(PushOp(sw.tape(i64, False), v))
        for buf in (*scalars, *chunks):
            e.insert(memref.DeallocOp.get(buf))

    def _keep(self, e: Emit, xs: Sequence[SSAValue], k: SSAValue, kept: SSAValue,
              period: SSAValue, buffers: tuple[list, list, list, list]) -> None:
        """Fill `e`'s block (the condition held at step k): if a snapshot is
        due (k = kept p), thin the slots when they are full, then snapshot
        the state if step k is still due; yield the new (kept, period)."""
        scalars, chunks, arrays, sizes = buffers
        half = (self.snapshots + 1) // 2

        def due(emit: Emit, kept: SSAValue, period: SSAValue) -> SSAValue:
            return emit.op(arith.CmpiOp(k, emit.op(arith.MuliOp(kept, period)), "eq"))

        move = Block(arg_types=[i64])  # slot j <- slot 2j, for 0 < j < half
        m = Emit(InsertPoint.at_end(move))
        dst, src = move.args[0], m.op(arith.MuliOp(move.args[0], m.const(2, i64)))
        for buf in scalars:
            value = m.op(memref.LoadOp.get(buf, [m.op(arith.IndexCastOp(src, IndexType()))]))
            m.insert(memref.StoreOp.get(value, buf, [m.op(arith.IndexCastOp(dst, IndexType()))]))
        for chunk, size in zip(chunks, sizes, strict=True):
            _copy(m, chunk, m.op(arith.MuliOp(src, size)), m.op(arith.MuliOp(dst, size)), size)
        move.add_op(scf.YieldOp())
        thin = Block()
        t = Emit(InsertPoint.at_end(thin))
        t.insert(scf.ForOp(t.const(1, i64), t.const(half, i64), t.const(1, i64), [],
                           Region(move)))
        thin.add_op(scf.YieldOp(t.const(half, i64), t.op(arith.MuliOp(period, t.const(2, i64)))))
        room = Block()
        room.add_op(scf.YieldOp(kept, period))

        now = Block()  # a snapshot is due
        d = Emit(InsertPoint.at_end(now))
        full = d.op(arith.CmpiOp(kept, d.const(self.snapshots, i64), "eq"))
        kept1, period1 = d.insert(scf.IfOp(full, [i64, i64], Region(thin),
                                           Region(room))).results
        store = Block()
        w = Emit(InsertPoint.at_end(store))
        slot = w.op(arith.IndexCastOp(kept1, IndexType()))
        for x, buf in zip(xs, scalars, strict=True):
            w.insert(memref.StoreOp.get(w.op(arith.ExtUIOp(x, i64)) if x.type == i1 else x,
                                        buf, [slot]))
        for a, chunk, size in zip(arrays, chunks, sizes, strict=True):
            base = w.op(arith.MuliOp(kept1, size))
            for_each_element(w, a, lambda inner, idx, a=a, chunk=chunk, base=base: inner.insert(
                memref.StoreOp.get(inner.op(memref.LoadOp.get(a, idx)), chunk,
                                   _at(inner, base, _linear(inner, a, idx)))))
        store.add_op(scf.YieldOp(w.op(arith.AddiOp(kept1, w.const(1, i64)))))
        skip = Block()
        skip.add_op(scf.YieldOp(kept1))
        kept2 = d.insert(scf.IfOp(due(d, kept1, period1), [i64], Region(store),
                                  Region(skip))).results[0]
        now.add_op(scf.YieldOp(kept2, period1))
        later = Block()
        later.add_op(scf.YieldOp(kept, period))
        e.insert(scf.YieldOp(*e.insert(scf.IfOp(due(e, kept, period), [i64, i64], Region(now),
                                                Region(later))).results))

    # -- reverse sweep -------------------------------------------------------

    def _operands(self, values: Sequence[SSAValue]) -> list[SSAValue]:
        """`values` (the captures in the reverse sweep), each dup one followed
        by its shadow."""
        out: list[SSAValue] = []
        for old, v, act in zip(self.captures, values, self.held, strict=True):
            out.append(v)
            if act.has_shadow:
                out.append(self.sw.get_shadow(old))
        return out

    def reverse(self, e: Emit) -> None:
        sw, op, nx = self.sw, self.op, len(self.state)
        period, kept, n = (e.op(PopOp(sw.tape(i64, True))) for _ in range(3))
        arrays = [sw.get(v) for v in self.arrays]
        captures = self._operands([sw.get(v) for v in self.captures])
        final = _pop_state(sw, e, self.state, arrays)
        # the last run of the condition region, at the final state
        results = [Activity.CONST] + [Activity.ACTIVE if sw.active_scalar(r) else Activity.CONST
                                      for r in op.results]
        last = sw.diff.pair(self.test, [*self.active, *self.held], results,
                            [False] * (nx + len(self.held)))
        tapes = [sw.tape(t, True) for t in last.tapes]
        e.insert(func.CallOp(last.augmented.sym_name.data, [*final, *captures, *tapes],
                             last.augmented.function_type.outputs.data))
        seeds = [sw.take(e, r) for r, a in zip(op.results, results[1:], strict=True)
                 if a is Activity.ACTIVE]
        adjoints = list(e.insert(func.CallOp(
            last.reverse.sym_name.data, [*final, *captures, *seeds, *tapes],
            last.reverse.function_type.outputs.data)).results)
        # the segments, last first
        args = [*self.active, Activity.CONST, Activity.CONST, Activity.CONST, *self.held]
        pair = sw.diff.pair(self.segment, args, self.active, [False] * len(args))
        zero, one = e.const(0, i64), e.const(1, i64)
        revolve = _Revolve(sw, self.segment, pair, args, [*final, zero, zero, one, *captures],
                           self.state, arrays)
        body = Block(arg_types=[i64, i64, *(v.type for v in adjoints)])
        b = Emit(InsertPoint.at_end(body))
        j = b.op(arith.SubiOp(b.op(arith.SubiOp(kept, b.const(1, i64))), body.args[0]))
        lo = b.op(arith.MuliOp(j, period))
        m = b.op(arith.MinSIOp(period, b.op(arith.SubiOp(n, lo))))
        count, outs = revolve.sweep(b, lo, m, b.const(self.snapshots - 1, i64), body.args[1],
                                    body.args[2:])
        body.add_op(scf.YieldOp(count, *outs))
        loop = e.insert(scf.ForOp(zero, kept, one, [zero, *adjoints], Region(body)))
        count, *adjoints = loop.results
        held = [v for v, a in zip(op.arguments, self.active, strict=True)
                if a is Activity.ACTIVE]
        held += [v for v, a in zip(self.captures, self.held, strict=True)
                 if a is Activity.ACTIVE]
        for v, bar in zip(held, adjoints, strict=True):
            sw.add_adjoint(e, v, bar)
        if os.environ.get("COFACTOR_CHECKPOINT_PROBE"):
            sw.probe(e, count)


def _size(e: Emit, array: SSAValue) -> SSAValue:
    """The number of elements of `array` (i64)."""
    size = e.const(1, i64)
    for d in range(len(array.type.get_shape())):
        dim = e.op(arith.IndexCastOp(e.op(memref.DimOp(array, index_const(e, d))), i64))
        size = e.op(arith.MuliOp(size, dim))
    return size


def _linear(e: Emit, array: SSAValue, idx: Sequence[SSAValue]) -> SSAValue:
    """The row-major position of element `idx` of `array` (i64)."""
    at = e.op(arith.IndexCastOp(idx[0], i64))
    for d in range(1, len(idx)):
        dim = e.op(arith.IndexCastOp(e.op(memref.DimOp(array, index_const(e, d))), i64))
        at = e.op(arith.AddiOp(e.op(arith.MuliOp(at, dim)),
                               e.op(arith.IndexCastOp(idx[d], i64))))
    return at


def _at(e: Emit, a: SSAValue, b: SSAValue) -> list[SSAValue]:
    """The index a + b (i64 values), as memref indices."""
    return [e.op(arith.IndexCastOp(e.op(arith.AddiOp(a, b)), IndexType()))]


def _copy(e: Emit, chunk: SSAValue, src: SSAValue, dst: SSAValue, size: SSAValue) -> None:
    """chunk[dst + i] = chunk[src + i] for i < size (i64 values)."""
    body = Block(arg_types=[i64])
    c = Emit(InsertPoint.at_end(body))
    value = c.op(memref.LoadOp.get(chunk, _at(c, src, body.args[0])))
    c.insert(memref.StoreOp.get(value, chunk, _at(c, dst, body.args[0])))
    body.add_op(scf.YieldOp())
    e.insert(scf.ForOp(e.const(0, i64), size, e.const(1, i64), [], Region(body)))


def _push_chunk(sw: _Sweeps, e: Emit, chunk: SSAValue, base: SSAValue, size: SSAValue) -> None:
    """Push chunk[base:base + size] as `_push_arrays` pushes an array of that
    many elements (last first), on the forward tape (i64 values)."""
    body = Block(arg_types=[i64])
    c = Emit(InsertPoint.at_end(body))
    last = c.op(arith.SubiOp(size, c.op(arith.AddiOp(body.args[0], c.const(1, i64)))))
    value = c.op(memref.LoadOp.get(chunk, _at(c, base, last)))
    c.insert(PushOp(sw.tape(value.type, False), value))
    body.add_op(scf.YieldOp())
    e.insert(scf.ForOp(e.const(0, i64), size, e.const(1, i64), [], Region(body)))

# --------------------------------------------------------------------------
# the cut


def _min_cut(needed: dict[SSAValue, None],
             inputs_of: Callable[[SSAValue], list[SSAValue] | None]) -> set[SSAValue]:
    """The fewest values to cache so that every `needed` value is cached or
    recomputable from cached ones: a minimum vertex cut (max flow, each value
    of capacity 1) from the values that cannot be recomputed (`inputs_of` is
    None) to the needed ones, along "is an input of"."""
    inputs: dict[SSAValue, list[SSAValue] | None] = {}
    stack = list(needed)
    while stack:
        v = stack.pop()
        if v not in inputs:
            inputs[v] = inputs_of(v)
            stack += inputs[v] or []
    order = {v: k for k, v in enumerate(inputs)}
    source, sink = 2 * len(order), 2 * len(order) + 1
    residual: dict[int, dict[int, float]] = {n: {} for n in range(sink + 1)}

    def edge(a: int, b: int, capacity: float) -> None:
        residual[a][b] = residual[a].get(b, 0) + capacity
        residual[b].setdefault(a, 0)

    inf = float("inf")
    for v, k in order.items():
        edge(2 * k, 2 * k + 1, 1)  # in -> out: caching v
        if inputs[v] is None:
            edge(source, 2 * k, inf)
        for u in inputs[v] or []:
            edge(2 * order[u] + 1, 2 * k, inf)
        if v in needed:
            edge(2 * k + 1, sink, inf)
    while True:  # Edmonds-Karp; every augmenting path carries one unit
        parent = {source: source}
        queue = [source]
        for n in queue:
            for m, c in residual[n].items():
                if c > 0 and m not in parent:
                    parent[m] = n
                    queue.append(m)
        if sink not in parent:
            break
        n = sink
        while n != source:
            residual[parent[n]][n] -= 1
            residual[n][parent[n]] += 1
            n = parent[n]
    return {v for v, k in order.items() if 2 * k in parent and 2 * k + 1 not in parent}


# --------------------------------------------------------------------------
# cache reservations


def _count(e: Emit, term: tuple, outer: scf.ForOp) -> SSAValue:
    """Emit a push count before `outer`: ("const", k) | ("trip", for op) |
    (op name, a, b); the bounds of inner loops are recomputed there."""
    match term:
        case ("const", k):
            return e.const(k, i64)
        case ("trip", loop):
            lb, ub_, step = (_rebuild(v, outer, lambda u: u, e)
                             for v in (loop.lb, loop.ub, loop.step))
            return _as_i64(e, _trip_count(e, lb, ub_, step))
        case ("mul", a, ("const", 1)):
            return _count(e, a, outer)
        case ("mul", a, b):
            return e.op(arith.MuliOp(_count(e, a, outer), _count(e, b, outer)))
        case ("add", a, b):
            return e.op(arith.AddiOp(_count(e, a, outer), _count(e, b, outer)))
        case ("max", a, b):
            return e.op(arith.MaxSIOp(_count(e, a, outer), _count(e, b, outer)))
    raise AssertionError(term)


def _combine(a: tuple | None, b: tuple | None, how: str) -> tuple | None:
    if a is None or b is None:
        return None
    if a[0] == "const" and b[0] == "const":
        return ("const", a[1] + b[1] if how == "add" else max(a[1], b[1]))
    return (how, a, b)


def _pushes(block: Block, outer: scf.ForOp) -> dict[SSAValue, tuple | None]:
    """Pushes per cache in one execution of `block`, as terms computable
    before `outer` (None: not countable there)."""
    counts: dict[SSAValue, tuple | None] = {}

    def add(cache: SSAValue, term: tuple | None, how: str = "add") -> None:
        counts[cache] = _combine(counts[cache], term, how) if cache in counts else term

    for op in block.ops:
        if isinstance(op, PushOp):
            add(op.cache, ("const", 1))
        elif isinstance(op, scf.ForOp):
            known = all(_invariant(v, outer) for v in (op.lb, op.ub, op.step))
            for cache, term in _pushes(op.body.block, outer).items():
                add(cache, ("mul", ("trip", op), term) if known and term is not None else None)
        elif isinstance(op, scf.IfOp):
            branches = [_pushes(r.block, outer) if r.blocks else {} for r in op.regions]
            for cache in {c for b in branches for c in b}:
                add(cache, _combine(*(b.get(cache, ("const", 0)) for b in branches), "max"))
        elif isinstance(op, scf.WhileOp):
            for inner in op.walk():
                if isinstance(inner, PushOp):
                    add(inner.cache, None)
        elif isinstance(op, func.CallOp):
            for v in op.operands:  # the callee pushes an unknown number of values
                if isinstance(v.type, CacheType):
                    add(v, None)
    return counts


def reserve_caches(block: Block, covered: frozenset[SSAValue] = frozenset()) -> None:
    """Insert an `ad.reserve` for every push not yet `covered`: before the
    outermost `scf.for` that can count its pushes ahead, else before the
    pushes of its block."""
    for op in list(block.ops):
        if isinstance(op, scf.ForOp):
            counts = {c: t for c, t in _pushes(op.body.block, op).items()
                      if t is not None and c not in covered}
            e = Emit(InsertPoint.before(op))
            for cache, term in counts.items():
                n = _count(e, ("mul", ("trip", op), term), op)
                if n.name_hint is None and not isinstance(n.owner, arith.ConstantOp):
                    n.name_hint = "cache_size"
                e.insert(ReserveOp(cache, n))
            reserve_caches(op.body.block, covered | counts.keys())
        elif isinstance(op, scf.WhileOp | scf.IfOp):
            for region in op.regions:
                for inner in region.blocks:
                    reserve_caches(inner, covered)
    groups: dict[SSAValue, list[PushOp]] = {}
    for op in block.ops:
        if isinstance(op, PushOp) and op.cache not in covered:
            groups.setdefault(op.cache, []).append(op)
    for cache, pushes in groups.items():
        e = Emit(InsertPoint.before(pushes[0]))
        e.insert(ReserveOp(cache, e.const(len(pushes), i64)))


class AdReverse(ModulePass):
    """Replace `ad.autodiff` requests by calls of generated gradient functions."""

    name = "ad-reverse"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        diff = ReverseDiff(op)
        for request in [o for o in op.walk() if isinstance(o, AutoDiffOp)]:
            made = diff.gradient(request.fn.root_reference.data, request.arg_activities,
                                 request.result_activities)
            replace_request(request, made, self.name)
