"""`split-math-reductions`: compute a float reduction's library math in a loop of its own.

Why: `s += exp(v[i] - m)` does not vectorize. The sum must be added in order
(LLVM reorders float sums only under fast-math), and the exp stays scalar with
it, where the vector math library would compute 4 or 8 at a time. Strip-mined
by 64, the loop becomes: compute the next 64 exps into a stack buffer (a loop
that vectorizes), then add them in order as before. The sum keeps its order;
the exps are libmvec's, within 4 ulp of libm's, as in any vectorized loop.

Which loops: innermost `scf.for` loops with step 1 that carry a float value and
hold only pure arith/math ops, loads and `ad.push`es (the tape, which no load
here reads), with no stores. A library math op (exp, log, sin, pow, ...; not
sqrt or fabs, which are instructions) in the loop's own block moves when its
operands come from pure ops, loads, the counter and values defined outside
the loop, not from the carried values. Loops with stores are left: a moved
load could then run before a store to an array that aliases it.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref, scf
from xdsl.dialects.builtin import AnyFloat, IndexType, IntegerAttr, ModuleOp
from xdsl.ir import Attribute, Block, BlockArgument, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.dialects.ad import PushOp
from cofactor.passes._affine import constant_int, inside, pure

STRIP = 64

# math ops that lower to a call into libm (or libmvec once vectorized)
LIBRARY_CALLS = (
    math.ExpOp, math.Exp2Op, math.ExpM1Op, math.LogOp, math.Log2Op, math.Log10Op,
    math.Log1pOp, math.PowFOp, math.SinOp, math.CosOp, math.TanOp, math.AsinOp,
    math.AcosOp, math.AtanOp, math.Atan2Op, math.SinhOp, math.CoshOp, math.TanhOp,
    math.AsinhOp, math.AcoshOp, math.AtanhOp, math.ErfOp, math.CbrtOp,
)


def _splittable(loop: scf.ForOp) -> bool:
    body = loop.body.block
    return (constant_int(loop.step) == 1
            and any(isinstance(a.type, AnyFloat) for a in body.args[1:])
            and all(pure(op) or isinstance(op, (memref.LoadOp, PushOp, scf.YieldOp))
                    for op in body.ops))


def _slice(op: Operation, body: Block) -> set[Operation] | None:
    """The body ops `op` needs, itself included, if none is loop-carried."""
    needed: set[Operation] = set()
    work = [op]
    while work:
        o = work.pop()
        if o in needed:
            continue
        needed.add(o)
        for v in o.operands:
            if not inside(v, body) or v is body.args[0]:
                continue
            if isinstance(v, BlockArgument):
                return None  # a carried value
            work.append(v.owner)
    return needed


def _buffer(loop: scf.ForOp, element: Attribute) -> SSAValue:
    """A stack buffer of STRIP elements, allocated once at the function's entry."""
    parent = loop.parent_op()
    while not isinstance(parent, func.FuncOp):
        parent = parent.parent_op()
    alloca = memref.AllocaOp.get(element, shape=[STRIP])
    Rewriter.insert_op(alloca, InsertPoint.at_start(parent.body.block))
    return alloca.memref


def _split(loop: scf.ForOp, moved: list[Operation], needed: set[Operation]) -> None:
    body = loop.body.block
    iv = body.args[0]
    buffers = [_buffer(loop, op.results[0].type) for op in moved]
    strip = arith.ConstantOp(IntegerAttr(STRIP, iv.type))
    outer_block = Block(arg_types=[iv.type, *(a.type for a in body.args[1:])])
    outer = scf.ForOp(loop.lb, loop.ub, strip, list(loop.iter_args), Region(outer_block))
    Rewriter.insert_op([strip, outer], InsertPoint.before(loop))
    for old, new in zip(loop.results, outer.results, strict=True):
        old.replace_all_uses_with(new)
    start = outer_block.args[0]
    far = arith.AddiOp(start, strip)
    end = arith.MinSIOp(far, loop.ub)
    outer_block.add_ops([far, end])

    def offset(i: SSAValue) -> list[Operation]:
        """`i - start` as an index (the last op's result)."""
        ops: list[Operation] = [arith.SubiOp(i, start)]
        if not isinstance(i.type, IndexType):
            ops.append(arith.IndexCastOp(ops[0].results[0], IndexType()))
        return ops

    first = Block(arg_types=[iv.type])
    mapping: dict[SSAValue, SSAValue] = {iv: first.args[0]}
    for op in body.ops:
        if op in needed:
            first.add_op(op.clone(value_mapper=mapping))
    place = offset(first.args[0])
    first.add_ops(place)
    for op, buffer in zip(moved, buffers, strict=True):
        first.add_op(memref.StoreOp.get(mapping[op.results[0]], buffer, [place[-1].results[0]]))
    first.add_op(scf.YieldOp())
    outer_block.add_op(scf.ForOp(start, end.result, loop.step, [], Region(first)))

    loop.detach()
    loop.operands = [start, end.result, loop.step, *outer_block.args[1:]]
    outer_block.add_ops([loop, scf.YieldOp(*loop.results)])
    place = offset(iv)
    loads = [memref.LoadOp.get(buffer, [place[-1].results[0]]) for buffer in buffers]
    Rewriter.insert_op([*place, *loads], InsertPoint.at_start(body))
    for op, load in zip(moved, loads, strict=True):
        op.results[0].replace_all_uses_with(load.res)
    for op in reversed(list(body.ops)):
        if op in needed and not any(r.uses for r in op.results):
            Rewriter.erase_op(op)


class SplitMathReductions(ModulePass):
    """Compute a float reduction's library math 64 iterations ahead, in a loop that vectorizes."""

    name = "split-math-reductions"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [loop for loop in op.walk()
                 if isinstance(loop, scf.ForOp) and _splittable(loop)]
        for loop in loops:
            body = loop.body.block
            moved, needed = [], set()
            for o in body.ops:
                if isinstance(o, LIBRARY_CALLS) and (s := _slice(o, body)) is not None:
                    moved.append(o)
                    needed |= s
            # one computed only for another's slice needs no buffer of its own
            moved = [o for o in moved if any(u.operation not in needed for u in o.results[0].uses)]
            if moved:
                _split(loop, moved, needed)
