"""lower-memref-to-llvm: memref ops to llvm ops on the array descriptor.

A memref value becomes the descriptor of docs/internals.md section 2 (data
pointer with the offset applied, sizes, strides in elements). Element
addresses are a GEP on the data pointer with the element type, never
ptrtoint arithmetic, so LLVM's alias analysis keeps working. Memref and index
operands and results not yet lowered are bridged with unrealized casts, and
allocation takes the call context from `rt.ctx` (see `function_ctx`).
"""

import math
from collections.abc import Callable, Sequence

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import llvm, memref
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseArrayBase,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from cofactor.passes._llvm_types import (
    PTR,
    as_llvm,
    constant_int,
    descriptor_type,
    erase_dead_casts,
    from_llvm,
    function_ctx,
    i64_constant,
    storage_type,
)

_ELEMENT_BYTES = {"f64": 8, "f32": 4, "i64": 8, "i1": 1}
_RUNTIME = {
    "cofactor_alloc": llvm.LLVMFunctionType([PTR, i64], PTR),
    "cofactor_free": llvm.LLVMFunctionType([PTR, PTR]),
}


def _extract(b: Builder, desc: SSAValue, position: Sequence[int], t: Attribute) -> SSAValue:
    pos = DenseArrayBase.from_list(i64, position)
    return b.insert(llvm.ExtractValueOp(pos, desc, t)).res


def _mul(b: Builder, x: SSAValue, y: SSAValue) -> SSAValue:
    return b.insert(llvm.MulOp(x, y)).res


def _add(b: Builder, x: SSAValue, y: SSAValue) -> SSAValue:
    return b.insert(llvm.AddOp(x, y)).res


def _descriptor(
    b: Builder, t: MemRefType, ptr: SSAValue, sizes: Sequence[SSAValue], strides: Sequence[SSAValue]
) -> SSAValue:
    desc = b.insert(llvm.UndefOp(descriptor_type(t))).res
    fields = [([0], ptr)]
    fields += [([1, k], s) for k, s in enumerate(sizes)]
    fields += [([2, k], s) for k, s in enumerate(strides)]
    for position, value in fields:
        pos = DenseArrayBase.from_list(i64, position)
        desc = b.insert(llvm.InsertValueOp(pos, desc, value)).res
    return desc


def _mixed(b: Builder, static: DenseArrayBase, dynamic: Sequence[SSAValue]) -> list[SSAValue]:
    """i64 values of a static/dynamic index list (memref.subview style)."""
    values = iter(dynamic)
    return [
        as_llvm(next(values)) if s == DYNAMIC_INDEX else i64_constant(b, s)
        for s in static.get_values()
    ]


def _address(b: Builder, ref: SSAValue, indices: Sequence[SSAValue]) -> SSAValue:
    """Pointer to element `indices`: GEP(ptr, sum(index_k * stride_k)). A stride
    the type fixes (a cache buffer's 1) is a constant, not read from the
    descriptor, so LLVM sees unit-stride accesses it can vectorize."""
    desc = as_llvm(ref)
    ptr = _extract(b, desc, [0], PTR)
    static = ref.type.get_strides() or [None] * len(indices)
    offset = None
    for k, index in enumerate(indices):
        if static[k] == 1:
            term = as_llvm(index)
        elif static[k] is not None:
            term = _mul(b, as_llvm(index), i64_constant(b, static[k]))
        else:
            term = _mul(b, as_llvm(index), _extract(b, desc, [2, k], i64))
        offset = term if offset is None else _add(b, offset, term)
    if offset is None:
        return ptr
    element = storage_type(ref.type.element_type)
    return b.insert(llvm.GEPOp.from_mixed_indices(ptr, [offset], element, inbounds=True)).result


def _load(b: Builder, op: memref.LoadOp) -> list[SSAValue]:
    element = op.res.type
    stored = storage_type(element)
    value = b.insert(llvm.LoadOp(_address(b, op.memref, op.indices), stored)).dereferenced_value
    if stored != element:
        zero = b.insert(llvm.ConstantOp(IntegerAttr(0, stored), stored)).result
        ne = IntegerAttr(llvm.ICmpPredicateFlag.NE.to_int(), i64)
        value = b.insert(llvm.ICmpOp(value, zero, ne)).res
    return [value]


def _store(b: Builder, op: memref.StoreOp) -> list[SSAValue]:
    value = op.value
    stored = storage_type(value.type)
    if stored != value.type:
        value = b.insert(llvm.ZExtOp(value, stored)).res
    b.insert(llvm.StoreOp(value, _address(b, op.memref, op.indices)))
    return []


def _dim(b: Builder, op: memref.DimOp) -> list[SSAValue]:
    desc = as_llvm(op.source)
    rank = op.source.type.get_num_dims()
    k = constant_int(op.index)
    if k is not None:
        return [_extract(b, desc, [1, k], i64)]
    # Dynamic axis: select among the sizes.
    index = as_llvm(op.index)
    eq = IntegerAttr(llvm.ICmpPredicateFlag.EQ.to_int(), i64)
    size = _extract(b, desc, [1, rank - 1], i64)
    for axis in reversed(range(rank - 1)):
        is_axis = b.insert(llvm.ICmpOp(index, i64_constant(b, axis), eq)).res
        size = b.insert(llvm.SelectOp(is_axis, _extract(b, desc, [1, axis], i64), size)).res
    return [size]


def _alloc(b: Builder, op: memref.AllocOp) -> list[SSAValue]:
    t = op.memref.type
    dynamic = iter(op.dynamic_sizes)
    sizes = [
        as_llvm(next(dynamic)) if s == DYNAMIC_INDEX else i64_constant(b, s) for s in t.get_shape()
    ]
    strides = [i64_constant(b, 1)]
    for size in reversed(sizes[1:]):
        strides.insert(0, size if len(strides) == 1 else _mul(b, strides[0], size))
    nbytes = i64_constant(b, _ELEMENT_BYTES[str(t.element_type)])
    for size in sizes:
        nbytes = _mul(b, nbytes, size)
    call = llvm.CallOp("cofactor_alloc", function_ctx(op), nbytes, return_type=PTR)
    return [_descriptor(b, t, b.insert(call).returned, sizes, strides)]


def _alloca(b: Builder, op: memref.AllocaOp) -> list[SSAValue]:
    """A static-shape buffer on the stack (the split loops' scratch)."""
    t = op.memref.type
    shape = t.get_shape()
    if DYNAMIC_INDEX in shape:
        raise PassFailedException("memref.alloca: only static shapes are lowered")
    strides = [1]
    for size in reversed(shape[1:]):
        strides.insert(0, strides[0] * size)
    count = i64_constant(b, math.prod(shape))
    ptr = b.insert(llvm.AllocaOp(count, storage_type(t.element_type), alignment=64)).res
    return [_descriptor(b, t, ptr, [i64_constant(b, s) for s in shape],
                        [i64_constant(b, s) for s in strides])]


def _dealloc(b: Builder, op: memref.DeallocOp) -> list[SSAValue]:
    ptr = _extract(b, as_llvm(op.memref), [0], PTR)
    b.insert(llvm.CallOp("cofactor_free", function_ctx(op), ptr))
    return []


def _cast(b: Builder, op: memref.CastOp) -> list[SSAValue]:
    return [as_llvm(op.source)]


def _reduced_dims(static_sizes: Sequence[int], result_shape: Sequence[int]) -> list[int]:
    """Source dims kept by a rank-reducing subview (MLIR's rank-reduction mask:
    unmatched dims of static size 1 are dropped)."""
    kept: list[int] = []
    for k, size in enumerate(static_sizes):
        if len(kept) < len(result_shape) and size == result_shape[len(kept)]:
            kept.append(k)
        elif size != 1:
            raise PassFailedException("memref.subview: cannot match result shape to sizes")
    if len(kept) != len(result_shape):
        raise PassFailedException("memref.subview: cannot match result shape to sizes")
    return kept


def _subview(b: Builder, op: memref.SubviewOp) -> list[SSAValue]:
    source_t: MemRefType = op.source.type
    result_t: MemRefType = op.result.type
    desc = as_llvm(op.source)
    offsets = _mixed(b, op.static_offsets, op.offsets)
    sizes = _mixed(b, op.static_sizes, op.sizes)
    steps = _mixed(b, op.static_strides, op.strides)
    strides = [_extract(b, desc, [2, k], i64) for k in range(source_t.get_num_dims())]
    offset = _mul(b, offsets[0], strides[0])
    for k in range(1, len(offsets)):
        offset = _add(b, offset, _mul(b, offsets[k], strides[k]))
    element = storage_type(source_t.element_type)
    ptr = b.insert(
        llvm.GEPOp.from_mixed_indices(_extract(b, desc, [0], PTR), [offset], element)
    ).result
    kept = range(len(sizes))
    if result_t.get_num_dims() != len(sizes):
        kept = _reduced_dims(op.static_sizes.get_values(), result_t.get_shape())
    new_sizes = [sizes[k] for k in kept]
    new_strides = [_mul(b, strides[k], steps[k]) for k in kept]
    return [_descriptor(b, result_t, ptr, new_sizes, new_strides)]


_LOWERINGS: dict[type[Operation], Callable[[Builder, Operation], list[SSAValue]]] = {
    memref.LoadOp: _load,
    memref.StoreOp: _store,
    memref.DimOp: _dim,
    memref.AllocOp: _alloc,
    memref.AllocaOp: _alloca,
    memref.DeallocOp: _dealloc,
    memref.CastOp: _cast,
    memref.SubviewOp: _subview,
}


def _declare_runtime(module: ModuleOp) -> None:
    """Declare cofactor_alloc/cofactor_free (defined by code generation)."""
    existing = {op.sym_name.data for op in module.ops if isinstance(op, llvm.FuncOp)}
    for name, signature in _RUNTIME.items():
        if name not in existing:
            decl = llvm.FuncOp(name, signature, linkage=llvm.LinkageAttr("external"))
            module.body.block.add_op(decl)


class LowerMemrefToLLVM(ModulePass):
    name = "lower-memref-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        uses_runtime = False
        for o in list(op.walk()):
            lower = _LOWERINGS.get(type(o))
            if lower is None:
                continue
            uses_runtime |= isinstance(o, memref.AllocOp | memref.DeallocOp)
            b = Builder(InsertPoint.before(o))
            new = lower(b, o)
            for old, value in zip(o.results, new, strict=True):
                old.replace_all_uses_with(from_llvm(b, value, old.type))
            Rewriter.erase_op(o)
        if uses_runtime:
            _declare_runtime(op)
        erase_dead_casts(op)
