"""`ad-checkpoint`: split each loop (`scf.for`, `scf.while`) marked
`ad.checkpoint` into segments whose reverse sweep recomputes instead of
taping.

The loop's body becomes a function `<f>_segment` running iterations
[lo, hi) of the loop; the loop becomes an outer loop over segments calling it
with `ad.checkpoint` on the call. `ad-reverse` runs such a call as the plain
primal in the forward sweep (after snapshotting the arrays it writes, on the
tape; its scalar inputs are cached as any call's), and in the reverse sweep
restores the snapshot, re-runs the segment with taping (its augmented
function) and reverses it at once. So the tape holds the snapshots plus one
segment's values, not the whole loop's: with n steps and period p that is
n / p snapshots and p steps, sqrt(n) each with the default period, for one
extra forward run of every step (periodic schedule; `snapshots = k` gives k
segments).

Binomial schedule (Revolve): the loop becomes one call of the segment
function over all its steps, and `ad-reverse` reverses it with at most
`snapshots` snapshots (default about sqrt(n)) and the fewest forward steps
re-run (Griewank's binomial checkpointing).

While loops (`scf.while`, unknown trip count; either schedule) get an
online scheme, "doubling-period thinning, then Revolve per segment": the
before region becomes `<f>_segment_test`, the after region
`<f>_segment_body`, and `<f>_segment` runs steps [lo, hi) of both as an
`scf.for`; the loop calls the first two and is marked `ad.segment`. With s
snapshots (`snapshots = s`; 0: 16, as n is unknown when the loop starts),
`ad-reverse`'s forward sweep runs the loop untaped and keeps the state
before steps 0, p, 2p, ... in s slots; when a snapshot falls due with all
slots full, every other one is dropped and p doubles. When the loop ends
after n steps, p is the least power of two with ceil(n / p) <= s and the
ceil(n / p) kept snapshots start segments of p steps (the last one shorter;
p < 2n / s for n > s). The reverse sweep restores the final state, reverses
the last run of the condition region (whose forwarded values are the loop's
results), then reverses the segments last to first, each from its snapshot
by Revolve with s snapshots. Bounds: at most 2s + 1 states held (the s
slots and their copies on the tape as the loop ends, or up to s kept and
s - 1 more inside Revolve; and the final state) plus one step's tape,
whatever n; each step runs once untaped forward and once taped in reverse,
plus sum over segments of Revolve's re-runs r m - C(s + r, s + 1) for a
segment of m steps (r the fewest with C(s + r, s) >= m), which the tests
check is never more than offline Revolve with s snapshots over all n steps
re-runs. Why this scheme: thinning needs no trip count and keeps the
segments equal (a power of two) but the last, and once the loop has ended
n is known, so each segment gets the offline optimum. Loops that carry
arrays keep the full tape: the arrays their steps allocate live until the
gradient returns anyway (the arena frees them), so snapshots would not bound
the memory.

Tape limit (`grad(..., tape_limit=bytes)`): each top-level loop of the
differentiated function marked `ad.tape_limit` (and not `ad.checkpoint`) gets
an estimate of its tape, trip count times 8 bytes per scalar value one step
computes (inner loops times their trip counts when their bounds are known
before the loop, once otherwise): an over-estimate of what `ad-reverse`
caches. A constant trip count decides at compile time (the loop is left as
it is when it fits); otherwise an `scf.if` picks at run time between the
loop as it is and its binomial checkpointed copy (about sqrt(n) snapshots).
A loop also marked `ad.tape_guard` (`grad`'s default limit) gets no copy:
over the limit, the call stops with rt error 5 and the caller builds the
version with the copy, so most gradients compile and run without it.
A top-level `scf.while` so marked (under a limit below the default only) is
split at run time instead: a copy of it runs (taped) while its steps fit the
limit at the estimated bytes per step; if the loop goes on, the rest runs
with the online scheme from there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref, scf
from xdsl.dialects.builtin import (
    AnyFloat,
    Float64Type,
    IndexType,
    IntegerAttr,
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
    CHECKPOINT,
    DEFAULT_TAPE_LIMIT,
    SEGMENT,
    checkpoint_attr,
    read_checkpoint,
)
from cofactor.dialects.rt import RaiseIfOp

_Op = Callable[[Operation], SSAValue]


def _emit(point: InsertPoint) -> _Op:
    """Insert ops at `point`, returning each one's result."""
    def op(o: Operation) -> SSAValue:
        Rewriter.insert_op(o, point)
        return o.results[0]
    return op


def _ceil_div(op: _Op, a: SSAValue, b: SSAValue) -> SSAValue:
    one = op(arith.ConstantOp(IntegerAttr(1, i64)))
    return op(arith.DivSIOp(op(arith.SubiOp(op(arith.AddiOp(a, b)), one)), b))


def _period(op: _Op, trip: SSAValue, snapshots: int) -> SSAValue:
    """Steps per segment: ceil(n / snapshots), or ceil(sqrt(n)) for 0; >= 1."""
    one = op(arith.ConstantOp(IntegerAttr(1, i64)))
    if snapshots:
        p = _ceil_div(op, trip, op(arith.ConstantOp(IntegerAttr(snapshots, i64))))
    else:
        root = op(math.SqrtOp(op(arith.SIToFPOp(trip, Float64Type()))))
        p = op(arith.FPToSIOp(op(math.CeilOp(root)), i64))
    return op(arith.MaxSIOp(p, one))


def _captures(loop: Operation) -> list[SSAValue]:
    """Values from outside `loop` that its regions use (constants apart)."""
    found: dict[SSAValue, None] = {}
    for region in loop.regions:
        for inner in region.walk():
            for v in inner.operands:
                block = v.block if isinstance(v, BlockArgument) else v.owner.parent_block()
                assert block is not None
                if not loop.is_ancestor(block) and not isinstance(v.owner, arith.ConstantOp):
                    found[v] = None
    return list(found)


def _outer_constants(loop: Operation, at: Block, mapper: dict[SSAValue, SSAValue]) -> None:
    """Copy the constants from outside `loop` that its regions use into `at`."""
    op = _emit(InsertPoint.at_end(at))
    for region in loop.regions:
        for inner in region.walk():
            for v in inner.operands:
                if isinstance(v.owner, arith.ConstantOp) and v not in mapper \
                        and not loop.is_ancestor(v.owner):
                    mapper[v] = op(v.owner.clone())


def _fresh_name(module: ModuleOp, base: str, suffixes: tuple[str, ...] = ("",)) -> str:
    """`base`, or `base_k` for the first k free with every suffix."""
    name, k = base, 0
    while any(SymbolTable.lookup_symbol(module, name + s) is not None for s in suffixes):
        k += 1
        name = f"{base}_{k}"
    return name


def _outline(module: ModuleOp, fn: func.FuncOp, loop: scf.ForOp, schedule: str,
             snapshots: int) -> None:
    """Replace `loop` by calls of a new function running its steps [lo, hi)."""
    captures = _captures(loop)
    inits = list(loop.iter_args)
    types = [v.type for v in (*inits, loop.lb, loop.ub, loop.step, *captures)]
    results = [r.type for r in loop.results]
    name = _fresh_name(module, f"{fn.sym_name.data}_segment")
    entry = Block(arg_types=types)
    n = len(inits)
    args = entry.args
    mapper: dict[SSAValue, SSAValue] = dict(zip(captures, args[n + 3:], strict=True))
    _outer_constants(loop, entry, mapper)
    body = Region()
    loop.body.clone_into(body, value_mapper=mapper)
    inner = scf.ForOp(args[n], args[n + 1], args[n + 2], list(args[:n]), body)
    entry.add_op(inner)
    entry.add_op(func.ReturnOp(*inner.results))
    segment = func.FuncOp(name, (types, results), Region(entry), visibility="private")
    Rewriter.insert_op(segment, InsertPoint.after(fn))

    if schedule == "binomial":  # one call: ad-reverse runs Revolve over its steps
        call = func.CallOp(name, [*inits, loop.lb, loop.ub, loop.step, *captures], results)
        call.attributes[CHECKPOINT] = loop.attributes[CHECKPOINT]
        Rewriter.replace_op(loop, call)
        return
    before = _emit(InsertPoint.before(loop))
    zero = before(arith.ConstantOp(IntegerAttr(0, i64)))
    one = before(arith.ConstantOp(IntegerAttr(1, i64)))
    span = before(arith.MaxSIOp(before(arith.SubiOp(loop.ub, loop.lb)), zero))
    trip = _ceil_div(before, span, loop.step)
    period = _period(before, trip, snapshots)
    count = _ceil_div(before, trip, period)
    outer_block = Block(arg_types=[i64, *(v.type for v in inits)])
    op = _emit(InsertPoint.at_end(outer_block))
    k0 = op(arith.MuliOp(outer_block.args[0], period))
    k1 = op(arith.MinSIOp(op(arith.AddiOp(k0, period)), trip))
    lo = op(arith.AddiOp(loop.lb, op(arith.MuliOp(k0, loop.step))))
    hi = op(arith.AddiOp(loop.lb, op(arith.MuliOp(k1, loop.step))))
    call = func.CallOp(name, [*outer_block.args[1:], lo, hi, loop.step, *captures], results)
    call.attributes[CHECKPOINT] = loop.attributes[CHECKPOINT]
    outer_block.add_op(call)
    outer_block.add_op(scf.YieldOp(*call.results))
    outer = scf.ForOp(zero, count, one, inits, Region(outer_block))
    Rewriter.replace_op(loop, outer)


def _inline(block: Block, args: Sequence[SSAValue], at: Block,
            mapper: dict[SSAValue, SSAValue]) -> list[SSAValue]:
    """Clone `block` (its terminator apart) at the end of `at` with its
    arguments bound to `args`; the terminator's operands there."""
    mapper.update(zip(block.args, args, strict=True))
    for inner in list(block.ops)[:-1]:
        at.add_op(inner.clone(value_mapper=mapper))
    last = block.last_op
    assert last is not None
    return [mapper.get(v, v) for v in last.operands]


def _outline_while(module: ModuleOp, fn: func.FuncOp, loop: scf.WhileOp) -> None:
    """Outline `loop`'s before region (`<name>_test`: state -> condition and
    forwarded values), its after region (`<name>_body`: forwarded values ->
    state) and `<name>`, steps [lo, hi) of both as an `scf.for` (the condition
    is known to hold there), all taking the captured values last. The loop
    calls the first two and names the segment in `ad.segment`."""
    before, after = loop.before_region.block, loop.after_region.block
    captures = _captures(loop)
    state = list(before.arg_types)
    forwarded = list(after.arg_types)
    held = [v.type for v in captures]
    name = _fresh_name(module, f"{fn.sym_name.data}_segment", ("", "_test", "_body"))

    def define(symbol: str, inputs: list[Attribute], outputs: list[Attribute],
               fill: Callable[[Block, dict[SSAValue, SSAValue]], list[SSAValue]]) -> None:
        entry = Block(arg_types=[*inputs, *held])
        mapper = dict(zip(captures, entry.args[len(inputs):], strict=True))
        _outer_constants(loop, entry, mapper)
        entry.add_op(func.ReturnOp(*fill(entry, mapper)))
        made = func.FuncOp(symbol, ([*inputs, *held], outputs), Region(entry),
                           visibility="private")
        Rewriter.insert_op(made, InsertPoint.after(fn))

    def steps(entry: Block, mapper: dict[SSAValue, SSAValue]) -> list[SSAValue]:
        body = Block(arg_types=[i64, *state])
        _, *values = _inline(before, body.args[1:], body, mapper)
        body.add_op(scf.YieldOp(*_inline(after, values, body, mapper)))
        lo, hi, step = entry.args[len(state):len(state) + 3]
        loop_op = scf.ForOp(lo, hi, step, list(entry.args[:len(state)]), Region(body))
        entry.add_op(loop_op)
        return list(loop_op.results)

    define(f"{name}_test", state, [i1, *forwarded],
           lambda entry, mapper: _inline(before, entry.args[:len(state)], entry, mapper))
    define(f"{name}_body", forwarded, state,
           lambda entry, mapper: _inline(after, entry.args[:len(forwarded)], entry, mapper))
    define(name, [*state, i64, i64, i64], state, steps)
    test_block, body_block = Block(arg_types=state), Block(arg_types=forwarded)
    test = func.CallOp(f"{name}_test", [*test_block.args, *captures], [i1, *forwarded])
    test_block.add_ops([test, scf.ConditionOp(test.results[0], *test.results[1:])])
    body = func.CallOp(f"{name}_body", [*body_block.args, *captures], state)
    body_block.add_ops([body, scf.YieldOp(*body.results)])
    new = scf.WhileOp(list(loop.arguments), forwarded, Region(test_block), Region(body_block))
    new.attributes[CHECKPOINT] = loop.attributes[CHECKPOINT]
    new.attributes[SEGMENT] = SymbolRefAttr(name)
    Rewriter.replace_op(loop, new)


def mark_outer_loops(module: ModuleOp, symbol: str, schedule: str, snapshots: int) -> None:
    """Checkpoint the `scf.for` and `scf.while` loops of @symbol's top block
    that carry no mark (`grad(..., checkpoint=...)`): the long loops are the
    outer ones."""
    fn = SymbolTable.lookup_symbol(module, symbol)
    assert isinstance(fn, func.FuncOp)
    attr = checkpoint_attr(schedule, snapshots)
    for loop in fn.body.block.ops:
        if isinstance(loop, scf.ForOp | scf.WhileOp) and CHECKPOINT not in loop.attributes:
            loop.attributes[CHECKPOINT] = attr


TAPE_LIMIT = "ad.tape_limit"
TAPE_GUARD = "ad.tape_guard"
TAPE_LIMIT_ERROR = 5  # rt error code of a guarded loop over its limit


def limit_outer_loops(module: ModuleOp, symbol: str, limit: int, guard: bool = False) -> None:
    """Mark the unmarked `scf.for` loops of @symbol's top block, and its
    `scf.while` loops under a limit below the default (see
    DEFAULT_TAPE_LIMIT), with the tape limit (`grad(..., tape_limit=...)`);
    with `guard`, a `for` loop over the limit raises instead (TAPE_GUARD)."""
    fn = SymbolTable.lookup_symbol(module, symbol)
    assert isinstance(fn, func.FuncOp)
    kinds = scf.ForOp | scf.WhileOp if limit < DEFAULT_TAPE_LIMIT else scf.ForOp
    for loop in fn.body.block.ops:
        if isinstance(loop, kinds) and CHECKPOINT not in loop.attributes:
            loop.attributes[TAPE_LIMIT] = IntegerAttr(limit, i64)
            if guard and isinstance(loop, scf.ForOp):
                loop.attributes[TAPE_GUARD] = UnitAttr()


_COMPARE = {"slt": int.__lt__, "sle": int.__le__, "sgt": int.__gt__, "sge": int.__ge__,
            "eq": int.__eq__, "ne": int.__ne__}


def _constant(v: SSAValue) -> int | None:
    """The value of an i64 known at compile time (constants, and the clamps of
    `range` bounds: select of a comparison, max, min), or None."""
    o = v.owner
    if isinstance(o, arith.ConstantOp) and isinstance(o.value, IntegerAttr):
        return o.value.value.data
    if isinstance(o, arith.MaxSIOp | arith.MinSIOp):
        a, b = _constant(o.lhs), _constant(o.rhs)
        if a is None or b is None:
            return None
        return max(a, b) if isinstance(o, arith.MaxSIOp) else min(a, b)
    if isinstance(o, arith.SelectOp) and isinstance(o.cond.owner, arith.CmpiOp):
        cmp = o.cond.owner
        a, b = _constant(cmp.lhs), _constant(cmp.rhs)
        name = arith.CMPI_COMPARISON_OPERATIONS[cmp.predicate.value.data]
        if a is None or b is None or name not in _COMPARE:
            return None
        return _constant(o.lhs if _COMPARE[name](a, b) else o.rhs)
    return None


def _trip(op: _Op, loop: scf.ForOp) -> SSAValue:
    zero = op(arith.ConstantOp(IntegerAttr(0, i64)))
    span = op(arith.MaxSIOp(op(arith.SubiOp(loop.ub, loop.lb)), zero))
    return _ceil_div(op, span, loop.step)


def _step_bytes(op: _Op | None, block: Block,
                top: Operation) -> tuple[int, list[SSAValue | None]]:
    """Bytes of the scalars one run of `block` computes: a constant part and
    run-time terms (inner loops with bounds known before `top`; with no `op`
    to emit them, None for each)."""
    static, terms = 0, list[SSAValue | None]()
    for inner in block.ops:
        static += 8 * sum(isinstance(r.type, AnyFloat | IntegerType | IndexType)
                          for r in inner.results)
        for region in inner.regions:
            for b in region.blocks:
                s, t = _step_bytes(op, b, top)
                outside = isinstance(inner, scf.ForOp) and inner.lb.type == i64 and all(
                    not top.is_ancestor(v.block if isinstance(v, BlockArgument)
                                        else v.owner.parent_block())
                    for v in (inner.lb, inner.ub, inner.step))
                if not outside:
                    static, terms = static + s, terms + t
                    continue
                assert isinstance(inner, scf.ForOp)
                if op is None:
                    terms.append(None)
                    continue
                per = op(arith.ConstantOp(IntegerAttr(s, i64)))
                for term in t:
                    assert term is not None
                    per = op(arith.AddiOp(per, term))
                terms.append(op(arith.MuliOp(_trip(op, inner), per)))
    return static, terms


def _limit(module: ModuleOp, fn: func.FuncOp, loop: scf.ForOp) -> None:
    """Checkpoint `loop` (binomial) where its estimated tape exceeds its limit."""
    limit_attr = loop.attributes.pop(TAPE_LIMIT)
    assert isinstance(limit_attr, IntegerAttr)
    limit = limit_attr.value.data
    if loop.lb.type != i64:
        return
    bounds = [_constant(v) for v in (loop.lb, loop.ub, loop.step)]
    static, terms = _step_bytes(None, loop.body.block, loop)
    if not terms and None not in bounds:
        lb, ub, step = bounds
        assert lb is not None and ub is not None and step is not None
        trip = max(0, -(-(ub - lb) // step)) if step > 0 else 0
        if trip * static > limit:
            loop.attributes[CHECKPOINT] = checkpoint_attr("binomial", 0)
        return
    before = _emit(InsertPoint.before(loop))
    per = before(arith.ConstantOp(IntegerAttr(static, i64)))
    for term in _step_bytes(before, loop.body.block, loop)[1]:
        assert term is not None
        per = before(arith.AddiOp(per, term))
    total = before(arith.MuliOp(_trip(before, loop), per))
    cond = before(arith.CmpiOp(total, before(arith.ConstantOp(IntegerAttr(limit, i64))),
                               "sgt"))
    then_block, else_block = Block(), Block()
    if loop.attributes.pop(TAPE_GUARD, None) is not None:
        # stop the call instead; the loop's results are its initial values meanwhile
        then_block.add_ops([RaiseIfOp(cond, TAPE_LIMIT_ERROR), scf.YieldOp(*loop.iter_args)])
    else:
        copy = loop.clone()
        copy.attributes[CHECKPOINT] = checkpoint_attr("binomial", 0)
        then_block.add_ops([copy, scf.YieldOp(*copy.results)])
    branch = scf.IfOp(cond, [r.type for r in loop.results], Region(then_block),
                      Region(else_block))
    Rewriter.insert_op(branch, InsertPoint.before(loop))
    for old, new in zip(loop.results, branch.results, strict=True):
        old.replace_all_uses_with(new)
    loop.detach()
    else_block.add_ops([loop, scf.YieldOp(*loop.results)])


def _limit_while(loop: scf.WhileOp) -> None:
    """Run `loop`'s first steps as they are, as many as its limit holds at
    the estimated bytes per step, then, if it goes on, the rest checkpointed
    (online): the trip count is unknown, so the split is made at run time.
    The condition region is run again at the split: one that stores or
    calls keeps the full tape."""
    limit_attr = loop.attributes.pop(TAPE_LIMIT)
    assert isinstance(limit_attr, IntegerAttr)
    before, after = loop.before_region.block, loop.after_region.block
    if any(isinstance(t, MemRefType) for t in (*before.arg_types, *loop.result_types)) or any(
            isinstance(o, memref.StoreOp | func.CallOp) for o in before.walk()):
        return
    at = _emit(InsertPoint.before(loop))
    per = at(arith.ConstantOp(IntegerAttr(
        max(1, sum(_step_bytes(None, b, loop)[0] for b in (before, after))), i64)))
    for block in (before, after):
        for term in _step_bytes(at, block, loop)[1]:
            assert term is not None
            per = at(arith.AddiOp(per, term))
    steps = at(arith.DivSIOp(at(arith.ConstantOp(limit_attr)), per))
    state, forwarded = list(before.arg_types), list(after.arg_types)
    last = before.last_op
    assert last is not None
    # the state to go on from: the forwarded values when they are the arguments
    # (as the frontend makes them), else the arguments forwarded too
    extra = [] if list(last.operands[1:]) == list(before.args) else state
    head = Block(arg_types=[*state, i64])
    cond, *values = _inline(before, head.args[:-1], head, {})
    op = _emit(InsertPoint.at_end(head))
    within = op(arith.CmpiOp(head.args[-1], steps, "slt"))
    head.add_op(scf.ConditionOp(op(arith.AndIOp(cond, within)), *values,
                                *head.args[:len(extra)], head.args[-1]))
    body = Block(arg_types=[*forwarded, *extra, i64])
    yields = _inline(after, body.args[:len(forwarded)], body, {})
    op = _emit(InsertPoint.at_end(body))
    count = op(arith.AddiOp(body.args[-1], op(arith.ConstantOp(IntegerAttr(1, i64)))))
    body.add_op(scf.YieldOp(*yields, count))
    first = scf.WhileOp([*loop.arguments, at(arith.ConstantOp(IntegerAttr(0, i64)))],
                        [*forwarded, *extra, i64], Region(head), Region(body))
    Rewriter.insert_op(first, InsertPoint.before(loop))
    # steps run out: go on (the rest runs no step if the condition fails there)
    more = at(arith.CmpiOp(first.results[-1], steps, "sge"))
    rest, done = Block(), Block()
    branch = scf.IfOp(more, forwarded, Region(rest), Region(done))
    Rewriter.insert_op(branch, InsertPoint.before(loop))
    for old, new in zip(loop.results, branch.results, strict=True):
        old.replace_all_uses_with(new)
    loop.detach()
    loop.operands = first.results[len(forwarded) if extra else 0:][:len(state)]
    loop.attributes[CHECKPOINT] = checkpoint_attr("binomial", 0)
    rest.add_ops([loop, scf.YieldOp(*loop.results)])
    done.add_op(scf.YieldOp(*first.results[:len(forwarded)]))


class AdCheckpoint(ModulePass):
    """Outline the segments of checkpointed loops (see the module docstring)."""

    name = "ad-checkpoint"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in [f for f in op.ops if isinstance(f, func.FuncOp)]:
            for loop in [o for o in fn.walk() if TAPE_LIMIT in o.attributes]:
                if isinstance(loop, scf.WhileOp):
                    _limit_while(loop)
                else:
                    assert isinstance(loop, scf.ForOp)
                    _limit(op, fn, loop)
            loops = [o for o in fn.walk()
                     if isinstance(o, scf.ForOp | scf.WhileOp) and read_checkpoint(o)]
            for loop in loops:
                if any(other.is_ancestor(loop) for other in loops if other is not loop):
                    continue  # the outer one's segment function holds it as it is
                found = read_checkpoint(loop)
                assert found is not None
                if isinstance(loop, scf.WhileOp):
                    carried = (*loop.before_region.block.arg_types, *loop.result_types)
                    if not any(isinstance(t, MemRefType) for t in carried):
                        _outline_while(op, fn, loop)  # carried arrays: the full tape
                    continue
                if loop.lb.type != i64:
                    raise PassFailedException("ad-checkpoint: the loop must count in i64")
                _outline(op, fn, loop, *found)
