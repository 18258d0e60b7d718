"""lower-func-to-llvm: functions, calls and returns to the llvm dialect.

The last lowering pass. A function with a body gains the leading call-context
argument `ctx: !llvm.ptr`, which replaces every `rt.ctx` placeholder left by
earlier passes and is passed on to the functions it calls; a bodiless
declaration keeps its C signature. Several results travel as one struct.
The pass then converts the type of every block argument and op result in the
bodies (memref to descriptor, index to i64: earlier passes may leave such
types behind, e.g. an `llvm.add` of two `index` loop counters) and removes all
`builtin.unrealized_conversion_cast`s: once everything is lowered, each cast
chain starts at a value that already has the llvm type its end stands for, so
the chain is replaced by that value.
"""

from collections.abc import Sequence

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import func, llvm
from xdsl.dialects.builtin import DenseArrayBase, ModuleOp, UnrealizedConversionCastOp, i64
from xdsl.ir import Attribute, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.rt import CtxOp
from cofactor.passes._llvm_types import PTR, convert_type

CAST = UnrealizedConversionCastOp


def _result_type(types: Sequence[Attribute]) -> Attribute | None:
    """None (void), the one result type, or a struct of several."""
    converted = [convert_type(t) for t in types]
    if len(converted) <= 1:
        return converted[0] if converted else None
    return llvm.LLVMStructType.from_type_list(converted)


def _lower_return(op: func.ReturnOp) -> None:
    values = list(op.arguments)
    if len(values) > 1:
        b = Builder(InsertPoint.before(op))
        packed = b.insert(llvm.UndefOp(_result_type([v.type for v in values]))).res
        for k, value in enumerate(values):
            pos = DenseArrayBase.from_list(i64, [k])
            packed = b.insert(llvm.InsertValueOp(pos, packed, value)).res
        values = [packed]
    Rewriter.replace_op(op, llvm.ReturnOp(*values))


def _lower_call(op: func.CallOp, ctx: SSAValue, with_ctx: set[str]) -> None:
    b = Builder(InsertPoint.before(op))
    args = list(op.arguments)
    if op.callee.string_value() in with_ctx:
        args.insert(0, ctx)
    call = b.insert(llvm.CallOp(op.callee, *args, return_type=_result_type(op.res.types)))
    results = [call.returned] if op.res else []
    if len(op.res) > 1:
        results = []
        for k, r in enumerate(op.res):
            pos = DenseArrayBase.from_list(i64, [k])
            unpacked = llvm.ExtractValueOp(pos, call.returned, convert_type(r.type))
            results.append(b.insert(unpacked).res)
    # Users may still expect the old types: the final cast removal settles that.
    Rewriter.replace_op(op, [], results)


def _lower_function(op: func.FuncOp, with_ctx: set[str]) -> None:
    inputs = [convert_type(t) for t in op.function_type.inputs]
    result = _result_type(op.function_type.outputs.data)
    if not op.body.blocks:
        signature = llvm.LLVMFunctionType(inputs, result)
        decl = llvm.FuncOp(op.sym_name, signature, linkage=llvm.LinkageAttr("external"))
        Rewriter.replace_op(op, decl)
        return
    body = Rewriter.move_region_contents_to_new_regions(op.body)
    ctx = body.blocks[0].insert_arg(PTR, 0)
    ctx.name_hint = "ctx"
    for o in list(body.walk()):
        if isinstance(o, CtxOp):
            o.ctx.replace_all_uses_with(ctx)
            Rewriter.erase_op(o)
        elif isinstance(o, func.ReturnOp):
            _lower_return(o)
        elif isinstance(o, func.CallOp):
            _lower_call(o, ctx, with_ctx)
    values = [arg for block in body.blocks for arg in block.args]
    values += [r for o in body.walk() if not isinstance(o, CAST) for r in o.results]
    for value in values:
        if (new_type := convert_type(value.type)) != value.type:
            Rewriter.replace_value_with_new_type(value, new_type)
    private = op.sym_visibility is not None and op.sym_visibility.data == "private"
    linkage = llvm.LinkageAttr("internal" if private else "external")
    signature = llvm.LLVMFunctionType([PTR, *inputs], result)
    Rewriter.replace_op(op, llvm.FuncOp(op.sym_name, signature, linkage=linkage, body=body))


def _remove_casts(module: ModuleOp) -> None:
    casts = [op for op in module.walk() if isinstance(op, CAST)]
    for cast in casts:
        source = cast.inputs[0]
        while isinstance(source.owner, CAST):
            source = source.owner.inputs[0]
        if source.type != convert_type(cast.outputs[0].type):
            raise PassFailedException(
                f"unresolved cast from {source.type} to {cast.outputs[0].type}: "
                "an op producing it was not lowered"
            )
        cast.outputs[0].replace_all_uses_with(source)
    for cast in casts:
        Rewriter.erase_op(cast)


class LowerFuncToLLVM(ModulePass):
    name = "lower-func-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        functions = [o for o in op.ops if isinstance(o, func.FuncOp)]
        with_ctx = {f.sym_name.data for f in functions if f.body.blocks}
        for f in functions:
            _lower_function(f, with_ctx)
        _remove_casts(op)
