"""Shadow-array helpers shared by the AD passes: zero-filled arrays and loops
over every element, emitted as scf/memref ops."""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import DYNAMIC_INDEX, IndexType, IntegerAttr, MemRefType, NoneAttr, i64
from xdsl.ir import Block, Region, SSAValue
from xdsl.rewriter import InsertPoint

from cofactor.passes._tangent_rules import Emit


def index_const(e: Emit, n: int) -> SSAValue:
    return e.op(arith.ConstantOp(IntegerAttr(n, IndexType())))


def for_each_element(e: Emit, array: SSAValue,
                     body: Callable[[Emit, list[SSAValue]], None]) -> None:
    """A loop nest over every element of `array`; `body(emit, indices)` fills
    the innermost loop."""
    t = array.type
    assert isinstance(t, MemRefType)
    sizes = [e.op(arith.IndexCastOp(e.op(memref.DimOp(array, index_const(e, d))), i64))
             for d in range(len(t.shape))]
    lb, step = e.const(0, i64), e.const(1, i64)
    indices: list[SSAValue] = []
    for size in sizes:
        block = Block(arg_types=[i64])
        e.insert(scf.ForOp(lb, size, step, [], Region(block)))
        e = Emit(InsertPoint.at_end(block))
        indices.append(e.op(arith.IndexCastOp(block.args[0], IndexType())))
        block.add_op(scf.YieldOp())
        e = Emit(InsertPoint.before(block.last_op))
    body(e, indices)


def zero_fill(e: Emit, array: SSAValue) -> SSAValue:
    """Store 0 into every element of `array`; returns `array`."""
    zero = e.const(0.0, array.type.element_type)
    for_each_element(e, array, lambda inner, idx: inner.insert(
        memref.StoreOp.get(zero, array, idx)))
    return array


def zero_array(e: Emit, like: SSAValue) -> SSAValue:
    """A new zero-filled array of the shape and type of `like`."""
    t = like.type
    assert isinstance(t, MemRefType)
    sizes = [e.op(memref.DimOp(like, index_const(e, d)))
             for d, n in enumerate(t.get_shape()) if n == DYNAMIC_INDEX]
    plain = MemRefType(t.element_type, t.get_shape(), NoneAttr(), t.memory_space)
    array = e.op(memref.AllocOp(sizes, [], plain))
    zero_fill(e, array)
    return array if plain == t else e.op(memref.CastOp.get(array, t))
