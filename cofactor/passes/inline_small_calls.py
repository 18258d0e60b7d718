"""`inline-small-calls`: inline calls of small straight-line functions, before AD.

Why: a call is a wall for the reverse pass's cache-or-recompute choice. Its
results are cached, since re-running a call is taken to be costly, and its
operands too, for its own reverse function. Once a callee of a few arithmetic
ops is inlined, its values are ordinary arithmetic that the min-cut policy can
recompute from what the caller caches anyway: a Runge-Kutta step that calls
`accel(x, v)` four times tapes `x` and `v`, not also the three accelerations
and each call's operands. LLVM inlines such calls in the compiled code anyway,
so only what the derivative passes see changes.

A callee qualifies when its body is one block of at most `MAX_OPS` ops, each
from arith or math, or a `memref.load`: no loops, branches, calls or writes.
"""

from xdsl.context import Context
from xdsl.dialects import arith, func, math, memref
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.traits import SymbolTable

MAX_OPS = 40


def _is_small_straight_line(fn: Operation | None) -> bool:
    if not isinstance(fn, func.FuncOp) or len(fn.body.blocks) != 1:
        return False
    ops = list(fn.body.block.ops)
    return len(ops) <= MAX_OPS and all(
        isinstance(op, memref.LoadOp | func.ReturnOp)
        or (op.dialect_name() in (arith.Arith.name, math.Math.name) and not op.regions)
        for op in ops
    )


def _inline(call: func.CallOp, callee: func.FuncOp) -> None:
    """Replace `call` by a copy of `callee`'s body."""
    args = callee.body.block.args
    values: dict[SSAValue, SSAValue] = dict(zip(args, call.arguments, strict=True))
    for op in callee.body.block.ops:
        if isinstance(op, func.ReturnOp):
            Rewriter.replace_op(call, [], [values.get(v, v) for v in op.arguments])
            return
        Rewriter.insert_op(op.clone(value_mapper=values), InsertPoint.before(call))


class InlineSmallCalls(ModulePass):
    """Inline every call of a small straight-line function."""

    name = "inline-small-calls"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for call in [o for o in op.walk() if isinstance(o, func.CallOp)]:
            callee = SymbolTable.lookup_symbol(op, call.callee)
            if _is_small_straight_line(callee):
                _inline(call, callee)
