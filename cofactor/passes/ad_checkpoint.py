"""`ad-checkpoint`: split each `scf.for` marked `ad.checkpoint` into segments
whose reverse sweep recomputes instead of taping.

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

Tape limit (`grad(..., tape_limit=bytes)`): each top-level loop of the
differentiated function marked `ad.tape_limit` (and not `ad.checkpoint`) gets
an estimate of its tape, trip count times 8 bytes per scalar value one step
computes (inner loops times their trip counts when their bounds are known
before the loop, once otherwise): an over-estimate of what `ad-reverse`
caches. A constant trip count decides at compile time (the loop is left as
it is when it fits); otherwise an `scf.if` picks at run time between the
loop as it is and its binomial checkpointed copy (about sqrt(n) snapshots).
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.context import Context
from xdsl.dialects import arith, func, math, scf
from xdsl.dialects.builtin import (
    AnyFloat,
    Float64Type,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    i64,
)
from xdsl.ir import Block, BlockArgument, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.ad import CHECKPOINT, checkpoint_attr, read_checkpoint

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


def _captures(loop: scf.ForOp) -> list[SSAValue]:
    """Values from outside `loop` that its body uses (constants apart)."""
    found: dict[SSAValue, None] = {}
    for inner in loop.body.walk():
        for v in inner.operands:
            block = v.block if isinstance(v, BlockArgument) else v.owner.parent_block()
            assert block is not None
            if not loop.is_ancestor(block) and not isinstance(v.owner, arith.ConstantOp):
                found[v] = None
    return list(found)


def _outline(module: ModuleOp, fn: func.FuncOp, loop: scf.ForOp, schedule: str,
             snapshots: int) -> None:
    """Replace `loop` by calls of a new function running its steps [lo, hi)."""
    captures = _captures(loop)
    inits = list(loop.iter_args)
    types = [v.type for v in (*inits, loop.lb, loop.ub, loop.step, *captures)]
    results = [r.type for r in loop.results]
    name, k = f"{fn.sym_name.data}_segment", 0
    while SymbolTable.lookup_symbol(module, name) is not None:
        k += 1
        name = f"{fn.sym_name.data}_segment_{k}"
    entry = Block(arg_types=types)
    n = len(inits)
    args = entry.args
    mapper: dict[SSAValue, SSAValue] = dict(zip(captures, args[n + 3:], strict=True))
    at = _emit(InsertPoint.at_end(entry))
    for inner in loop.body.walk():
        for v in inner.operands:
            if isinstance(v.owner, arith.ConstantOp) and v not in mapper \
                    and not loop.is_ancestor(v.owner):
                mapper[v] = at(v.owner.clone())
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


def mark_outer_loops(module: ModuleOp, symbol: str, schedule: str, snapshots: int) -> None:
    """Checkpoint the `scf.for` loops of @symbol's top block that carry no mark
    (`grad(..., checkpoint=...)`): the long loops are the outer ones."""
    fn = SymbolTable.lookup_symbol(module, symbol)
    assert isinstance(fn, func.FuncOp)
    attr = checkpoint_attr(schedule, snapshots)
    for loop in fn.body.block.ops:
        if isinstance(loop, scf.ForOp) and CHECKPOINT not in loop.attributes:
            loop.attributes[CHECKPOINT] = attr


TAPE_LIMIT = "ad.tape_limit"


def limit_outer_loops(module: ModuleOp, symbol: str, limit: int) -> None:
    """Mark the unmarked `scf.for` loops of @symbol's top block with the tape
    limit (`grad(..., tape_limit=...)`)."""
    fn = SymbolTable.lookup_symbol(module, symbol)
    assert isinstance(fn, func.FuncOp)
    for loop in fn.body.block.ops:
        if isinstance(loop, scf.ForOp) and CHECKPOINT not in loop.attributes:
            loop.attributes[TAPE_LIMIT] = IntegerAttr(limit, i64)


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
                top: scf.ForOp) -> tuple[int, list[SSAValue | None]]:
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
    copy = loop.clone()
    copy.attributes[CHECKPOINT] = checkpoint_attr("binomial", 0)
    then_block, else_block = Block(), Block()
    then_block.add_ops([copy, scf.YieldOp(*copy.results)])
    branch = scf.IfOp(cond, [r.type for r in loop.results], Region(then_block),
                      Region(else_block))
    Rewriter.insert_op(branch, InsertPoint.before(loop))
    for old, new in zip(loop.results, branch.results, strict=True):
        old.replace_all_uses_with(new)
    loop.detach()
    else_block.add_ops([loop, scf.YieldOp(*loop.results)])


class AdCheckpoint(ModulePass):
    """Outline the segments of checkpointed loops (see the module docstring)."""

    name = "ad-checkpoint"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for fn in [f for f in op.ops if isinstance(f, func.FuncOp)]:
            for loop in [o for o in fn.walk() if TAPE_LIMIT in o.attributes]:
                assert isinstance(loop, scf.ForOp)
                _limit(op, fn, loop)
            loops = [o for o in fn.walk() if isinstance(o, scf.ForOp) and read_checkpoint(o)]
            for loop in loops:
                if any(other.is_ancestor(loop) for other in loops if other is not loop):
                    continue  # the outer one's segment function holds it as it is
                found = read_checkpoint(loop)
                assert found is not None
                if loop.lb.type != i64:
                    raise PassFailedException("ad-checkpoint: the loop must count in i64")
                _outline(op, fn, loop, *found)
