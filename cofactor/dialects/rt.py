"""The `rt` dialect: runtime checks that record errors in the call context.

See docs/internals.md, section 1 (`check_index`, `raise_if`) and section 2
(`ctx`, the placeholder for the call context used during lowering).
"""

from xdsl.dialects.builtin import I64, IntegerAttr, i1, i64
from xdsl.dialects.llvm import LLVMPointerType
from xdsl.ir import Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import NoMemoryEffect


@irdl_op_definition
class CheckIndexOp(IRDLOperation):
    """True when `0 <= idx < size`; otherwise records IndexError(idx, axis, size)."""

    name = "rt.check_index"

    idx = operand_def(i64)
    size = operand_def(i64)
    axis = prop_def(IntegerAttr[I64])
    ok = result_def(i1)

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$idx `,` $size attr-dict `:` type($idx)"

    def __init__(self, idx: SSAValue | Operation, size: SSAValue | Operation, axis: int):
        super().__init__(
            operands=[idx, size],
            result_types=[i1],
            properties={"axis": IntegerAttr(axis, i64)},
        )


@irdl_op_definition
class RaiseIfOp(IRDLOperation):
    """When `cond` is true, records error `code` with `info`."""

    name = "rt.raise_if"

    cond = operand_def(i1)
    code = prop_def(IntegerAttr[I64])
    info = prop_def(IntegerAttr[I64])

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$cond attr-dict"

    def __init__(self, cond: SSAValue | Operation, code: int, info: int = 0):
        super().__init__(
            operands=[cond],
            properties={"code": IntegerAttr(code, i64), "info": IntegerAttr(info, i64)},
        )


@irdl_op_definition
class NoErrorOp(IRDLOperation):
    """True while no error has been recorded in this call: a loop whose body can
    record one tests it, so that an error ends the loop as an exception would."""

    name = "rt.no_error"

    ok = result_def(i1)

    assembly_format = "attr-dict"

    def __init__(self):
        super().__init__(result_types=[i1])


@irdl_op_definition
class CtxOp(IRDLOperation):
    """The enclosing function's call context, before lower-func-to-llvm adds the
    `ctx` argument that replaces it."""

    name = "rt.ctx"

    ctx = result_def(LLVMPointerType)

    traits = traits_def(NoMemoryEffect())
    assembly_format = "attr-dict `:` type($ctx)"

    def __init__(self):
        super().__init__(result_types=[LLVMPointerType()])


RT = Dialect("rt", [CheckIndexOp, RaiseIfOp, NoErrorOp, CtxOp])
