"""lower-rt-to-llvm: runtime checks to inline compares plus an error path.

The check itself is a single compare and branch on the hot path; recording
the error (only if none is recorded yet: the first one wins) sits in separate
blocks, so the normal path has no store to the call context, which would
hinder LLVM's optimizations (the context pointer may alias array data).
The ops must be in a function's CFG region (run after convert-scf-to-cf),
because their block is split.
"""

from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import func, llvm
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Block, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.rt import CheckIndexOp, NoErrorOp, RaiseIfOp
from cofactor.passes._llvm_types import (
    CTX_ERR_A,
    CTX_ERR_B,
    CTX_ERR_C,
    CTX_ERR_CODE,
    CTX_TYPE,
    function_ctx,
    i64_constant,
)

INDEX_ERROR = 1


def _field(b: Builder, ctx: SSAValue, field: int) -> SSAValue:
    return b.insert(llvm.GEPOp(ctx, [0, field], CTX_TYPE)).result


def _record_error(
    op: CheckIndexOp | RaiseIfOp,
    cond: SSAValue,
    failed_when: bool,
    code: int,
    fields: Sequence[tuple[int, SSAValue | int]],
) -> None:
    """Replace `op` by: if `cond == failed_when` and ctx.err_code == 0, store
    `code` and `fields` into ctx."""
    ctx = function_ctx(op)
    block = op.parent_block()
    if block is None or not isinstance(block.parent_op(), func.FuncOp):
        raise PassFailedException(f"{op.name} must be in a function's CFG (run convert-scf-to-cf)")
    cont = block.split_before(op)
    check, record = Block(), Block()
    block.parent.insert_block_after([check, record], block)
    branch = (check, [], cont, []) if failed_when else (cont, [], check, [])
    Builder(InsertPoint.at_end(block)).insert(llvm.CondBrOp(cond, *branch))

    b = Builder(InsertPoint.at_end(check))
    code_ptr = _field(b, ctx, CTX_ERR_CODE)
    recorded = b.insert(llvm.LoadOp(code_ptr, i64)).dereferenced_value
    eq = IntegerAttr(llvm.ICmpPredicateFlag.EQ.to_int(), i64)
    first = b.insert(llvm.ICmpOp(recorded, i64_constant(b, 0), eq)).res
    b.insert(llvm.CondBrOp(first, record, [], cont, []))

    b = Builder(InsertPoint.at_end(record))
    b.insert(llvm.StoreOp(i64_constant(b, code), code_ptr))
    for field, value in fields:
        if isinstance(value, int):
            value = i64_constant(b, value)
        b.insert(llvm.StoreOp(value, _field(b, ctx, field)))
    b.insert(llvm.BrOp(cont))
    Rewriter.erase_op(op)


def _check_index(op: CheckIndexOp) -> None:
    b = Builder(InsertPoint.before(op))
    # Sizes are never negative, so one unsigned compare tests 0 <= idx < size.
    ult = IntegerAttr(llvm.ICmpPredicateFlag.ULT.to_int(), i64)
    ok = b.insert(llvm.ICmpOp(op.idx, op.size, ult)).res
    op.ok.replace_all_uses_with(ok)
    fields = [(CTX_ERR_A, op.idx), (CTX_ERR_B, op.axis.value.data), (CTX_ERR_C, op.size)]
    _record_error(op, ok, False, INDEX_ERROR, fields)


def _raise_if(op: RaiseIfOp) -> None:
    _record_error(op, op.cond, True, op.code.value.data, [(CTX_ERR_A, op.info.value.data)])


def _no_error(op: NoErrorOp) -> None:
    b = Builder(InsertPoint.before(op))
    recorded = b.insert(llvm.LoadOp(_field(b, function_ctx(op), CTX_ERR_CODE), i64))
    eq = IntegerAttr(llvm.ICmpPredicateFlag.EQ.to_int(), i64)
    ok = b.insert(llvm.ICmpOp(recorded.dereferenced_value, i64_constant(b, 0), eq)).res
    op.ok.replace_all_uses_with(ok)
    Rewriter.erase_op(op)


class LowerRtToLLVM(ModulePass):
    name = "lower-rt-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for o in list(op.walk()):
            if isinstance(o, CheckIndexOp):
                _check_index(o)
            elif isinstance(o, RaiseIfOp):
                _raise_if(o)
            elif isinstance(o, NoErrorOp):
                _no_error(o)
