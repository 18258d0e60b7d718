"""Helpers shared by the passes that lower to the llvm dialect.

Types follow docs/internals.md section 2: `index` is `i64` and a rank-r memref
is the descriptor `!llvm.struct<(ptr, array<r x i64>, array<r x i64>)>`.
Values cross between lowered and not-yet-lowered ops through
`builtin.unrealized_conversion_cast`; lower-func-to-llvm removes them all.
"""

from xdsl.builder import Builder
from xdsl.dialects import arith, func, llvm
from xdsl.dialects.builtin import (
    IndexType,
    IntegerAttr,
    IntegerType,
    MemRefType,
    UnrealizedConversionCastOp,
    i8,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.rt import CtxOp

PTR = llvm.LLVMPointerType()

# struct ctx { ptr arena; i64 err_code; i64 err_a; i64 err_b; i64 err_c; }
CTX_TYPE = llvm.LLVMStructType.from_type_list([PTR, i64, i64, i64, i64])
CTX_ERR_CODE, CTX_ERR_A, CTX_ERR_B, CTX_ERR_C = 1, 2, 3, 4


def descriptor_type(memref: MemRefType) -> llvm.LLVMStructType:
    """The descriptor struct of a memref type."""
    dims = llvm.LLVMArrayType(memref.get_num_dims(), i64)
    return llvm.LLVMStructType.from_type_list([PTR, dims, dims])


def convert_type(t: Attribute) -> Attribute:
    """The llvm-dialect type of a value of type `t`."""
    if isinstance(t, MemRefType):
        return descriptor_type(t)
    if isinstance(t, IndexType):
        return i64
    return t


def storage_type(element: Attribute) -> Attribute:
    """How an array element sits in memory: a NumPy bool is one byte."""
    if isinstance(element, IntegerType) and element.width.data == 1:
        return i8
    return element


def as_llvm(value: SSAValue) -> SSAValue:
    """`value` in its llvm-dialect type: the source of a cast from that type, or
    one cast placed right after the definition and shared by all users."""
    target = convert_type(value.type)
    if value.type == target:
        return value
    owner = value.owner
    if isinstance(owner, UnrealizedConversionCastOp) and owner.inputs[0].type == target:
        return owner.inputs[0]
    if isinstance(owner, Operation):
        point, after = InsertPoint.after(owner), owner.next_op
    else:
        point, after = InsertPoint.at_start(owner), owner.first_op
    while isinstance(after, UnrealizedConversionCastOp | CtxOp):
        if after.operands[:1] == (value,) and after.results[0].type == target:
            return after.results[0]
        after = after.next_op
    cast = UnrealizedConversionCastOp.get([value], [target])
    Rewriter.insert_op(cast, point)
    return cast.results[0]


def from_llvm(builder: Builder, value: SSAValue, original: Attribute) -> SSAValue:
    """`value` cast back to the type `original` that the unlowered users expect."""
    if value.type == original:
        return value
    return builder.insert(UnrealizedConversionCastOp.get([value], [original])).results[0]


def constant_int(value: SSAValue) -> int | None:
    """The integer of a constant `value` (arith or llvm, maybe cast), else None."""
    while isinstance(value.owner, UnrealizedConversionCastOp):
        value = value.owner.inputs[0]
    owner = value.owner
    if isinstance(owner, arith.ConstantOp | llvm.ConstantOp) and isinstance(
        owner.value, IntegerAttr
    ):
        return owner.value.value.data
    return None


def i64_constant(builder: Builder, n: int) -> SSAValue:
    return builder.insert(llvm.ConstantOp(IntegerAttr(n, i64), i64)).result


def function_ctx(op: Operation) -> SSAValue:
    """The call context of the function around `op`: an `rt.ctx` among the
    casts at the top of the entry block, created on first use."""
    function = op.parent_op()
    while function is not None and not isinstance(function, func.FuncOp):
        function = function.parent_op()
    if function is None or not function.body.blocks:
        raise PassFailedException(f"{op.name} is not inside a func.func body")
    entry = function.body.blocks[0]
    first = entry.first_op
    while isinstance(first, UnrealizedConversionCastOp | CtxOp):
        if isinstance(first, CtxOp):
            return first.ctx
        first = first.next_op
    return Builder(InsertPoint.at_start(entry)).insert(CtxOp()).ctx


def erase_dead_casts(module: Operation) -> None:
    """Drop unrealized casts whose results are unused (pure, so safe)."""
    for op in reversed(list(module.walk())):
        if isinstance(op, UnrealizedConversionCastOp) and all(
            r.first_use is None for r in op.results
        ):
            Rewriter.erase_op(op)
