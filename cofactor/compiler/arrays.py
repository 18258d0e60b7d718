"""NumPy array expressions in compiled code, lowered to plain loops.

An elementwise expression (`a * x + np.exp(y)`, comparisons, ufuncs with
broadcasting, `.T`, `x[:, np.newaxis]`) is built as a `Lazy` tree: its
runtime shape and a function that emits the scalar code of one element.
Nothing is computed until a statement needs an array (binding a name, a
return, a call argument) or consumes the elements (a reduction, a slice
assignment, a product): then one loop nest evaluates the whole tree, so a
chain of elementwise operations makes no temporaries. Everything becomes
`scf.for` loops over `memref.load`/`memref.store` and arith/math ops, which
both AD modes differentiate as they would hand-written loops.

Slicing and integer indexing give `memref.subview` views, so writes through
them reach the original array. The lowered memref ops cannot express a
transposed or reshaped view or a new axis, so `.T`, `np.newaxis` and
`.reshape()` are read in place inside expressions but copied when bound to a
name; writing into such a copy is a compile error rather than a silent
difference from NumPy.

Broadcasting follows NumPy with shapes known only at run time: an operand
axis whose size differs from the result's (so it must be 1) is read at index
0, by multiplying the index by a 0/1 flag computed once per operation, and
incompatible sizes record a ValueError.
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import i64
from xdsl.ir import Block, SSAValue

from cofactor.compiler.emitter import Val
from cofactor.compiler.types import BOOL, F32, F64, I64, ArrayType, ScalarType, TupleType
from cofactor.dialects.rt import RaiseIfOp

if TYPE_CHECKING:
    from cofactor.compiler.frontend import FunctionCompiler

Indices = list[Val]


@dataclass(frozen=True)
class Read:
    """An array an expression loads from. `straight`: element i of the
    expression reads element i of the array (no transpose or new axis), so
    storing the expression back into that same array is safe."""

    array: SSAValue
    straight: bool


@dataclass(frozen=True)
class Lazy:
    """An array expression not stored anywhere yet."""

    dtype: ScalarType
    shape: tuple[Val, ...]  # i64 sizes
    element: Callable[[Indices], Val]  # emits element `indices` (i64) where the caller is
    reads: tuple[Read, ...]
    array: Val | None = None  # the expression is exactly this array
    cheap: bool = True  # elements are plain loads: fine to evaluate more than once
    copy_of_view: str | None = None  # what NumPy gives as a view but we copy when stored
    transpose_of: Lazy | None = None  # the expression is this one's .T

    @property
    def ndim(self) -> int:
        return len(self.shape)


Operand = Val | Lazy


def is_array(v: Operand) -> bool:
    return isinstance(v, Lazy) or isinstance(v.type, ArrayType)


def lazy(fc: FunctionCompiler, v: Operand) -> Lazy:
    """An array value as an expression (a leaf of the tree)."""
    if isinstance(v, Lazy):
        return v
    assert isinstance(v.type, ArrayType)
    shape = tuple(fc.dim(v, d) for d in range(v.type.ndim))
    return Lazy(v.type.dtype, shape, lambda idx: load(fc, v, idx), (Read(v.ssa, True),), array=v)


def value(fc: FunctionCompiler, v: Operand) -> Val:
    return materialize(fc, v) if isinstance(v, Lazy) else v


def materialize(fc: FunctionCompiler, x: Lazy) -> Val:
    """The array an expression denotes: the array itself for a leaf, else a new one."""
    if x.array is not None:
        return x.array
    out = copy(fc, x)
    if x.copy_of_view is not None:
        fc.copies[_root(out.ssa)] = x.copy_of_view
    return out


def copy(fc: FunctionCompiler, x: Lazy) -> Val:
    out = fc.allocate(x.dtype, list(x.shape), None)
    write(fc, out, x)
    return out


def write(fc: FunctionCompiler, out: Val, x: Lazy) -> None:
    """Store every element of `x` into `out` (of x's shape), in one loop nest."""
    for_each(fc, x.shape, lambda idx: store(fc, out, idx, fc.em.cast(x.element(idx),
                                                                     out.type.dtype)))


def reusable(fc: FunctionCompiler, x: Lazy) -> Lazy:
    """`x`, stored first unless its elements are plain loads: for a consumer
    that reads each element many times (a product, a broadcast)."""
    return x if x.cheap else lazy(fc, copy(fc, x))


def settle(fc: FunctionCompiler, v: Operand) -> Operand:
    """`v` with its computation done now, where NumPy would have done it;
    views (plain loads) read the array later, as NumPy's views do."""
    return reusable(fc, v) if isinstance(v, Lazy) else v


# -- loops and element access ---------------------------------------------
def fold(fc: FunctionCompiler, sizes: Sequence[Val], carried: list[Val],
         body: Callable[[Indices, list[Val]], list[Val]]) -> list[Val]:
    """A row-major nest of scf.for loops over `sizes` that threads the scalars
    `carried` through: `body(indices, carried)` gives their next values."""
    em = fc.em

    def level(depth: int, idx: Indices, values: list[Val]) -> list[Val]:
        if depth == len(sizes):
            return [em.cast(new, old.type) for new, old in zip(body(idx, values), values,
                                                              strict=True)]
        block = Block(arg_types=[i64, *(v.type.ir for v in values)])
        inner = [Val(a, v.type) for a, v in zip(block.args[1:], values, strict=True)]
        with em.at(block):
            out = level(depth + 1, [*idx, Val(block.args[0], I64, lower=0)], inner)
            em.op(scf.YieldOp(*(v.ssa for v in out)))
        zero, one = em.const(0, I64), em.const(1, I64)
        loop = em.op(scf.ForOp(zero.ssa, sizes[depth].ssa, one.ssa, [v.ssa for v in values],
                               block))
        return [Val(r, v.type) for r, v in zip(loop.results, values, strict=True)]

    return level(0, [], carried)


def for_each(fc: FunctionCompiler, sizes: Sequence[Val], body: Callable[[Indices], None]
             ) -> None:
    def step(idx: Indices, _: list[Val]) -> list[Val]:
        body(idx)
        return []

    fold(fc, sizes, [], step)


def load(fc: FunctionCompiler, array: Val, idx: Indices) -> Val:
    assert isinstance(array.type, ArrayType)
    index = [fc.em.to_index(i) for i in idx]
    return Val(fc.em.res(memref.LoadOp.get(array.ssa, index)), array.type.dtype)


def store(fc: FunctionCompiler, array: Val, idx: Indices, v: Val) -> None:
    index = [fc.em.to_index(i) for i in idx]
    fc.em.op(memref.StoreOp.get(v.ssa, array.ssa, index))


def raise_unless(fc: FunctionCompiler, ok: Val, message: str) -> None:
    """Record a ValueError with `message` where `ok` is false."""
    failed = fc.em.logical_not(ok)
    fc.em.op(RaiseIfOp(failed.ssa, code=4, info=fc.program.message_index(message)))


def _product(fc: FunctionCompiler, sizes: Sequence[Val]) -> Val:
    total = fc.em.const(1, I64)
    for s in sizes:
        total = fc.em.binary("mul", total, s)
    return total


# -- shapes and broadcasting ----------------------------------------------
def _size_key(v: Val) -> object:
    """What makes two sizes equal at compile time: one SSA value, the same
    axis of the same array, or the same constant."""
    owner = v.ssa.owner
    if isinstance(owner, arith.IndexCastOp) and isinstance(owner.input.owner, memref.DimOp):
        dim = owner.input.owner
        if isinstance(dim.index.owner, arith.ConstantOp):
            return ("dim", dim.source, dim.index.owner.value.value.data)
    if isinstance(owner, arith.ConstantOp):
        return ("const", owner.value.value.data)
    return v.ssa


def same_size(a: Val, b: Val) -> bool:
    return a.ssa is b.ssa or _size_key(a) == _size_key(b)


def broadcast_shapes(fc: FunctionCompiler, shapes: Sequence[Sequence[Val]]) -> tuple[Val, ...]:
    """NumPy's broadcast shape, checked at run time. On a mismatch the size is
    one that keeps every access in bounds (the error ends the call anyway)."""
    em = fc.em
    rank = max(len(s) for s in shapes)
    result = []
    for d in range(rank):
        sizes = [s[d - rank + len(s)] for s in shapes if d - rank + len(s) >= 0]
        size = sizes[0]
        for other in sizes[1:]:
            if same_size(size, other):
                continue
            one = em.const(1, I64)
            size_one, other_one = em.compare("eq", size, one), em.compare("eq", other, one)
            ok = em.binary("or", em.binary("or", em.compare("eq", size, other), size_one),
                           other_one)
            raise_unless(fc, ok, "operands could not be broadcast together")
            keep = em.select(other_one, size, em.min_max("min", size, other))
            size = Val(em.select(size_one, other, keep).ssa, I64, lower=0)
        result.append(size)
    return tuple(result)


def broadcast_to(fc: FunctionCompiler, x: Lazy, shape: Sequence[Val], check: bool) -> Lazy:
    """`x` read at the indices of `shape` (trailing axes aligned). With
    `check`, a size that is neither the target nor 1 records a ValueError and
    the result gets size 0 on that axis, so that nothing is read."""
    em = fc.em
    offset = len(shape) - x.ndim
    assert offset >= 0
    flags: list[Val | None] = []
    new_shape = list(shape)
    for k, (size, target) in enumerate(zip(x.shape, shape[offset:], strict=True)):
        if same_size(size, target):
            flags.append(None)
            continue
        equal = em.compare("eq", size, target)
        if check:
            ok = em.binary("or", equal, em.compare("eq", size, em.const(1, I64)))
            raise_unless(fc, ok, "could not broadcast the value to the shape of the target")
            new_shape[offset + k] = em.select(ok, target, em.const(0, I64))
        flags.append(Val(em.res(arith.ExtUIOp(equal.ssa, i64)), I64, lower=0))
    if offset == 0 and all(f is None for f in flags):
        return x

    def element(idx: Indices) -> Val:
        own = [i if f is None else em.binary("mul", i, f)
               for i, f in zip(idx[offset:], flags, strict=True)]
        return x.element(own)

    return replace(x, shape=tuple(new_shape), element=element, array=None, copy_of_view=None,
                   transpose_of=None)


# -- element types -------------------------------------------------------
_ORDER = (BOOL, I64, F32, F64)


def promote_dtypes(a: ScalarType, b: ScalarType) -> ScalarType:
    """NumPy's promotion of two array dtypes (int64 with float32 gives float64)."""
    if {a, b} == {I64, F32}:
        return F64
    return max(a, b, key=_ORDER.index)


def result_type(operands: Sequence[Operand]) -> ScalarType:
    """NumPy 2 promotion (NEP 50): arrays and np.float32 scalars count by
    dtype; Python bool/int/float scalars only by kind, so `x32 * 2.0` stays
    float32 and `xint * 2.0` becomes float64."""
    strong = [o.dtype if isinstance(o, Lazy) else o.type for o in operands
              if isinstance(o, Lazy) or o.type is F32]
    weak = [o.type for o in operands if isinstance(o, Val) and o.type is not F32]
    if not strong:
        return max(weak, key=_ORDER.index)
    t = functools.reduce(promote_dtypes, strong)
    for w in weak:
        if w.is_float and not t.is_float:
            t = F64
        elif w is I64 and t is BOOL:
            t = I64
    return t


def _float_of(t: ScalarType) -> ScalarType:
    return t if t.is_float else F64


# -- elementwise operations -------------------------------------------------
def ufunc(fc: FunctionCompiler, fn: Callable[..., Val], operands: Sequence[Operand],
          casts: Sequence[ScalarType | None], out: ScalarType) -> Lazy:
    """`fn` applied elementwise with broadcasting. Operand i is converted to
    `casts[i]` (None: left as it is), the result to `out`."""
    em = fc.em
    arrays = [o for o in operands if isinstance(o, Lazy)]
    shape = broadcast_shapes(fc, [a.shape for a in arrays])
    prepared: list[Operand] = []
    for o, t in zip(operands, casts, strict=True):
        if isinstance(o, Lazy):
            # Stored first when a broadcast would evaluate its elements many times.
            o = reusable(fc, o) if o.ndim < len(shape) else o
            prepared.append(broadcast_to(fc, o, shape, check=False))
        else:
            prepared.append(o if t is None else em.cast(o, t))

    def element(idx: Indices) -> Val:
        args = [p.element(idx) if isinstance(p, Lazy) else p for p in prepared]
        args = [a if t is None else em.cast(a, t) for a, t in zip(args, casts, strict=True)]
        return em.cast(fn(*args), out)

    return Lazy(out, shape, element, tuple(r for a in arrays for r in a.reads), cheap=False)


def apply(fc: FunctionCompiler, fn: Callable[..., Val], operands: Sequence[Operand],
          kind: str) -> Lazy:
    """A NumPy ufunc on arrays. `kind` gives its types from the promoted dtype:
    "same" keeps it, "float" makes ints float64, "bool" gives bool."""
    operands = [lazy(fc, o) if is_array(o) else _scalar(o) for o in operands]
    t = result_type(operands)
    if kind == "float":
        t = _float_of(t)
    return ufunc(fc, fn, operands, [t] * len(operands), BOOL if kind == "bool" else t)


def _scalar(v: Val) -> Val:
    if not isinstance(v.type, ScalarType):
        raise TypeError(f"expected a number or an array, got {v.type}")
    return v


_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%",
            "pow": "**", "and": "&", "or": "|", "xor": "^", "lshift": "<<", "rshift": ">>"}


def binop(fc: FunctionCompiler, opname: str, a: Operand, b: Operand, node: ast.AST) -> Lazy:
    """An arithmetic or bitwise operator with at least one array operand."""
    a, b = (lazy(fc, o) if is_array(o) else _scalar(o) for o in (a, b))
    t = result_type([a, b])
    if t is BOOL:
        if opname == "sub":
            raise fc.error("the - operator on bool arrays is not supported (NumPy raises "
                           "TypeError); use ^ or np.logical_xor", node)
        # NumPy's bool + and * are logical; // % ** << >> give integers.
        opname = {"add": "or", "mul": "and"}.get(opname, opname)
        if opname not in ("and", "or", "xor", "div"):
            t = I64
    if opname in ("and", "or", "xor", "lshift", "rshift") and t.is_float:
        raise fc.error(f"the {_SYMBOLS[opname]} operator is not defined for float arrays",
                       node)
    casts: list[ScalarType | None] = [t, t]
    if opname == "div":
        t = _float_of(t)
        casts = [t, t]
    elif opname == "pow" and t.is_float and isinstance(b, Val) and not b.type.is_float:
        casts[1] = None  # x ** 2 stays powi, as for scalars
    if opname == "pow":
        return ufunc(fc, fc.em.power, [a, b], casts, t)
    return ufunc(fc, lambda x, y: fc.em.binary(opname, x, y), [a, b], casts, t)


def compare(fc: FunctionCompiler, pred: str, a: Operand, b: Operand) -> Lazy:
    """A comparison with an array operand: a bool array."""
    a, b = (lazy(fc, o) if is_array(o) else _scalar(o) for o in (a, b))
    t = result_type([a, b])
    return ufunc(fc, lambda x, y: fc.em.compare(pred, x, y), [a, b], [t, t], BOOL)


def unary(fc: FunctionCompiler, op: ast.unaryop, x: Lazy, node: ast.AST) -> Lazy:
    em = fc.em
    if isinstance(op, ast.UAdd):
        return x
    if isinstance(op, ast.Not):
        raise fc.error("the truth value of an array is ambiguous", node)
    if isinstance(op, ast.USub):
        if x.dtype is BOOL:
            raise fc.error("the - operator on bool arrays is not supported (NumPy raises "
                           "TypeError); use ~", node)
        return ufunc(fc, em.negate, [x], [x.dtype], x.dtype)
    if x.dtype.is_float:
        raise fc.error("the ~ operator is not defined for float arrays", node)
    fn = em.logical_not if x.dtype is BOOL else em.invert
    return ufunc(fc, fn, [x], [x.dtype], x.dtype)


def where(fc: FunctionCompiler, cond: Operand, a: Operand, b: Operand) -> Operand:
    """np.where(cond, a, b) with broadcasting; scalars give a scalar."""
    a, b = (lazy(fc, o) if is_array(o) else _scalar(o) for o in (a, b))
    t = result_type([a, b])
    if not is_array(cond) and isinstance(a, Val) and isinstance(b, Val):
        return fc.em.select(fc.em.truth(cond), fc.em.cast(a, t), fc.em.cast(b, t))
    cond = lazy(fc, cond) if is_array(cond) else _scalar(cond)
    return ufunc(fc, fc.em.select, [cond, a, b], [BOOL, t, t], t)


def astype(fc: FunctionCompiler, x: Lazy, dtype: ScalarType) -> Lazy:
    return ufunc(fc, lambda v: v, [x], [dtype], dtype)


def transpose(fc: FunctionCompiler, x: Lazy) -> Lazy:
    """`x.T`: the axes reversed, read in place."""
    if x.ndim == 1:
        return x

    def element(idx: Indices) -> Val:
        return x.element(idx[::-1])

    reads = tuple(Read(r.array, False) for r in x.reads)
    return replace(x, shape=x.shape[::-1], element=element, reads=reads, array=None,
                   copy_of_view=".T" if x.cheap else None, transpose_of=x)


# -- reductions ----------------------------------------------------------
@dataclass(frozen=True)
class _Reducer:
    """How one reduction folds elements: the result type, the initial
    carried values, the step, and the result from the carried values."""

    dtype: ScalarType
    init: Callable[[], list[Val]]
    step: Callable[[list[Val], Val], list[Val]]
    finish: Callable[[list[Val], Val], Val]  # carried values, element count
    empty_error: str | None = None


def _reducer(fc: FunctionCompiler, kind: str, dtype: ScalarType) -> _Reducer:
    em = fc.em
    if kind in ("sum", "prod", "mean"):
        acc_t = _float_of(dtype) if kind == "mean" else (I64 if dtype is BOOL else dtype)
        op = "mul" if kind == "prod" else "add"

        def finish(c: list[Val], count: Val) -> Val:
            return em.binary("div", c[0], em.cast(count, acc_t)) if kind == "mean" else c[0]

        return _Reducer(acc_t, lambda: [em.const(int(kind == "prod"), acc_t)],
                        lambda c, x: [em.binary(op, c[0], em.cast(x, acc_t))], finish)
    largest = kind in ("max", "argmax")
    if dtype.is_float:
        start = -math.inf if largest else math.inf
    elif dtype is BOOL:
        start = not largest
    else:
        start = -(2**63) if largest else 2**63 - 1
    pred = "gt" if largest else "lt"
    name = "maximum" if largest else "minimum"
    if kind in ("max", "min"):
        def step(c: list[Val], x: Val) -> list[Val]:
            if dtype.is_float:
                cls = arith.MaximumfOp if largest else arith.MinimumfOp
                return [Val(em.res(cls(c[0].ssa, x.ssa)), dtype)]  # NaN propagates
            return [em.min_max(kind, c[0], x)]

        return _Reducer(dtype, lambda: [em.const(start, dtype)], step, lambda c, _: c[0],
                        f"zero-size array to reduction operation {name} which has no identity")

    def arg_step(c: list[Val], x: Val) -> list[Val]:
        best, index, counter = c
        better = em.compare(pred, x, best)
        if dtype.is_float:  # the first NaN wins, as in NumPy
            first_nan = em.binary("and", em.math_unary("isnan", x),
                                  em.logical_not(em.math_unary("isnan", best)))
            better = em.binary("or", better, first_nan)
        return [em.select(better, x, best), em.select(better, counter, index),
                em.binary("add", counter, em.const(1, I64))]

    return _Reducer(I64, lambda: [em.const(start, dtype), em.const(0, I64), em.const(0, I64)],
                    arg_step, lambda c, _: c[1], f"attempt to get {kind} of an empty sequence")


def reduce(fc: FunctionCompiler, x: Operand, kind: str, axis: int | None,
           node: ast.AST) -> Val:
    """np.sum/prod/mean/max/min/argmax/argmin over all elements or one axis."""
    if not is_array(x):
        x = _scalar(x)
        if kind in ("argmax", "argmin"):
            return fc.em.const(0, I64)
        return fc.em.cast(x, _reducer(fc, kind, x.type).dtype)
    x = lazy(fc, x)
    if axis is not None:
        if not -x.ndim <= axis < x.ndim:
            raise fc.error(f"axis {axis} is out of bounds for an array of dimension {x.ndim}",
                           node)
        axis %= x.ndim
    r = _reducer(fc, kind, x.dtype)
    if axis is None or x.ndim == 1:
        count = _product(fc, x.shape)
        if r.empty_error:
            raise_unless(fc, fc.em.compare("ne", count, fc.em.const(0, I64)), r.empty_error)
        carried = fold(fc, x.shape, r.init(), lambda idx, c: r.step(c, x.element(idx)))
        return r.finish(carried, count)
    count = x.shape[axis]
    if r.empty_error:
        raise_unless(fc, fc.em.compare("ne", count, fc.em.const(0, I64)), r.empty_error)
    out_shape = [s for d, s in enumerate(x.shape) if d != axis]
    out = fc.allocate(r.dtype, out_shape, None)

    def outer(idx: Indices) -> None:
        def inner(k: Indices, c: list[Val]) -> list[Val]:
            return r.step(c, x.element([*idx[:axis], k[0], *idx[axis:]]))

        store(fc, out, idx, r.finish(fold(fc, [count], r.init(), inner), count))

    for_each(fc, out_shape, outer)
    return out


# -- linear algebra ------------------------------------------------------
def matmul(fc: FunctionCompiler, a: Operand, b: Operand, node: ast.AST) -> Val:
    """`a @ b` and np.dot for 1-D and 2-D operands, with loops that read
    row-major operands along rows: a column of `b` that is a row of an array
    (b 1-D, or some m.T) makes dot products, else the loop over the columns of
    `b` is innermost (out[i, :] += a[i, k] * b[k, :]) and can be vectorized."""
    em = fc.em
    if not (is_array(a) and is_array(b)):
        raise fc.error("matrix multiplication needs two arrays; use * with a scalar", node)
    a, b = lazy(fc, a), lazy(fc, b)
    if a.ndim > 2 or b.ndim > 2:
        raise fc.error("@ and np.dot support 1-D and 2-D arrays only", node)
    t = promote_dtypes(a.dtype, b.dtype)
    if t is BOOL:
        raise fc.error("matrix multiplication of bool arrays is not supported", node)
    if a.ndim == 2 and b.ndim == 1 and a.transpose_of is not None:
        return matmul(fc, b, a.transpose_of, node)  # m.T @ v = v @ m: along m's rows
    dots = b.ndim == 1 or b.transpose_of is not None
    # An operand whose elements each take part in several products is stored first.
    a = reusable(fc, a) if dots and b.ndim == 2 else a
    b = reusable(fc, b) if a.ndim == 2 else b
    k = a.shape[-1]
    if not same_size(k, b.shape[0]):
        raise_unless(fc, em.compare("eq", k, b.shape[0]),
                     "matmul: the inner dimensions of the operands differ")
        k = em.min_max("min", k, b.shape[0])

    def dot(row: Indices, column: Indices) -> Val:
        def term(i: Val) -> Val:
            x = em.cast(a.element([*row, i]), t)
            return em.binary("mul", x, em.cast(b.element([i, *column]), t))

        return _sum(fc, k, term, t)

    shape = [*a.shape[:-1], *b.shape[1:]]
    if not shape:
        return dot([], [])
    if dots:
        out = fc.allocate(t, shape, None)
        split = a.ndim - 1
        for_each(fc, shape, lambda idx: store(fc, out, idx, dot(idx[:split], idx[split:])))
        return out
    out = fc.allocate(t, shape, em.const(0, t))

    def row_update(idx: Indices) -> None:
        row, i = idx[:-1], idx[-1:]
        x = em.cast(a.element([*row, *i]), t)

        def column(j: Indices) -> None:
            y = em.cast(b.element([*i, *j]), t)
            at = [*row, *j]
            store(fc, out, at, em.binary("add", load(fc, out, at), em.binary("mul", x, y)))

        for_each(fc, [b.shape[1]], column)

    for_each(fc, [*a.shape[:-1], k], row_update)
    return out


def _sum(fc: FunctionCompiler, n: Val, term: Callable[[Val], Val], t: ScalarType) -> Val:
    """The sum of term(i) for i < n in four interleaved partial sums, so that
    each addition need not wait for the one before (like NumPy, not in order)."""
    em = fc.em
    lanes = 4
    blocks = Val(em.res(arith.DivSIOp(n.ssa, em.const(lanes, I64).ssa)), I64, lower=0)
    done = em.binary("mul", blocks, em.const(lanes, I64))

    def step(idx: Indices, acc: list[Val]) -> list[Val]:
        first = em.binary("mul", idx[0], em.const(lanes, I64))
        return [em.binary("add", a, term(em.binary("add", first, em.const(lane, I64))))
                for lane, a in enumerate(acc)]

    partial = fold(fc, [blocks], [em.const(0, t)] * lanes, step)
    total = em.binary("add", em.binary("add", partial[0], partial[1]),
                      em.binary("add", partial[2], partial[3]))

    def rest(idx: Indices, acc: list[Val]) -> list[Val]:
        return [em.binary("add", acc[0], term(em.binary("add", done, idx[0])))]

    return fold(fc, [em.binary("sub", n, done)], [total], rest)[0]


def outer(fc: FunctionCompiler, a: Operand, b: Operand, node: ast.AST) -> Lazy:
    if not (is_array(a) and is_array(b)):
        raise fc.error("np.outer needs two arrays; use * with a scalar", node)
    a, b = lazy(fc, a), lazy(fc, b)
    if a.ndim != 1 or b.ndim != 1:
        raise fc.error("np.outer supports two 1-D arrays only", node)
    a, b = reusable(fc, a), reusable(fc, b)
    t = promote_dtypes(a.dtype, b.dtype)
    op = "and" if t is BOOL else "mul"

    def element(idx: Indices) -> Val:
        x, y = fc.em.cast(a.element(idx[:1]), t), fc.em.cast(b.element(idx[1:]), t)
        return fc.em.binary(op, x, y)

    reads = tuple(Read(r.array, False) for r in (*a.reads, *b.reads))
    return Lazy(t, (a.shape[0], b.shape[0]), element, reads, cheap=False)


# -- indexing and views --------------------------------------------------
def constant_int(node: ast.expr | None) -> int | None:
    """The value of an integer literal, possibly negated."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = constant_int(node.operand)
        return None if inner is None else -inner
    return None


def _is_newaxis(fc: FunctionCompiler, item: ast.expr) -> bool:
    if isinstance(item, ast.Constant):
        return item.value is None
    return isinstance(item, ast.Name | ast.Attribute) and fc.static_value(item) is None


def _index_items(fc: FunctionCompiler, array: Val, node: ast.Subscript
                 ) -> list[tuple[str, ast.expr | None]]:
    """The index of `array[...]` as (kind, node) pairs, kinds "int", "slice",
    "new" (np.newaxis) and "all" (a whole axis: from `...` or left out)."""
    raw = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    items: list[tuple[str, ast.expr | None]] = []
    for item in raw:
        if isinstance(item, ast.Slice):
            items.append(("slice", item))
        elif isinstance(item, ast.Constant) and item.value is Ellipsis:
            items.append(("...", item))
        elif _is_newaxis(fc, item):
            items.append(("new", item))
        else:
            items.append(("int", item))
    ndim = array.type.ndim
    used = sum(kind in ("int", "slice") for kind, _ in items)
    if sum(kind == "..." for kind, _ in items) > 1:
        raise fc.error("an index can only have a single ellipsis ('...')", node)
    if used > ndim:
        raise fc.error(f"too many indices for array: array is {ndim}-dimensional, but {used} "
                       "were indexed", node)
    fill = [("all", None)] * (ndim - used)
    if any(kind == "..." for kind, _ in items):
        at = next(k for k, (kind, _) in enumerate(items) if kind == "...")
        return items[:at] + fill + items[at + 1:]
    return items + fill


def is_element(fc: FunctionCompiler, array: Val, node: ast.Subscript) -> bool:
    """Whether `array[...]` names one element (every axis indexed by an integer)."""
    if not isinstance(array.type, ArrayType):
        return True
    return all(kind == "int" for kind, _ in _index_items(fc, array, node))


def index_value(fc: FunctionCompiler, node: ast.expr) -> Val:
    v = fc.expr(node)
    if isinstance(v.type, ArrayType):
        raise fc.error("indexing with an array (fancy or boolean-mask indexing) is not "
                       "supported", node)
    if not isinstance(v.type, ScalarType) or v.type.is_float:
        raise fc.error(f"array indices must be integers, got {v.type}", node)
    return fc.em.cast(v, I64)


def subscript(fc: FunctionCompiler, array: Val, node: ast.Subscript) -> Operand:
    """`array[...]`: an element, a view (slices, integers on some axes), or
    with np.newaxis an expression over a view."""
    items = _index_items(fc, array, node)
    if all(kind in ("int", "new") for kind, _ in items):
        scalar = fc.load_element(array, [index_value(fc, i) for k, i in items if k == "int"],
                                 node)
        if all(kind == "int" for kind, _ in items):
            return scalar
        one = fc.em.const(1, I64)
        return Lazy(scalar.type, tuple(one for kind, _ in items if kind == "new"),
                    lambda idx: scalar, ())
    view = _view(fc, array, items)
    if not any(kind == "new" for kind, _ in items):
        return view
    x = lazy(fc, view)
    one = fc.em.const(1, I64)
    axes = []  # view axis of each result axis; None for a new one
    for kind, _ in items:
        if kind == "new":
            axes.append(None)
        elif kind != "int":
            axes.append(sum(a is not None for a in axes))
    shape = tuple(one if a is None else x.shape[a] for a in axes)

    def element(idx: Indices) -> Val:
        return x.element([i for i, a in zip(idx, axes, strict=True) if a is not None])

    return Lazy(x.dtype, shape, element, (Read(view.ssa, False),),
                copy_of_view="indexing with np.newaxis")


def target_view(fc: FunctionCompiler, array: Val, node: ast.Subscript) -> Val:
    """The view an assignment `array[...] = value` writes into."""
    items = _index_items(fc, array, node)
    if any(kind == "new" for kind, _ in items):
        raise fc.error("np.newaxis in an assignment target is not supported", node)
    return _view(fc, array, items)


def row(fc: FunctionCompiler, array: Val, k: Val) -> Val:
    """`array[k]` of a 2-D or higher array, `k` known in range (a loop counter)."""
    assert isinstance(array.type, ArrayType)
    em = fc.em
    rest = range(1, array.type.ndim)
    sizes = [1, *(em.to_index(fc.dim(array, d)) for d in rest)]
    t = ArrayType(array.type.dtype, array.type.ndim - 1)
    op = memref.SubviewOp.get(array.ssa, [em.to_index(k), *(0 for _ in rest)], sizes,
                              [1] * array.type.ndim, t.ir)
    return Val(em.res(op), t)


def _view(fc: FunctionCompiler, array: Val, items: list[tuple[str, ast.expr | None]]) -> Val:
    """memref.subview for integer and slice items (at least one of them a
    slice); an integer drops its axis. A failed bounds check gives a view with
    no elements."""
    assert isinstance(array.type, ArrayType)
    em = fc.em
    offsets: list[Val] = []
    sizes: list[Val | None] = []  # None: dropped axis (static size 1)
    steps: list[Val] = []
    ok: Val | None = None
    axis = 0
    for kind, item in items:
        if kind == "new":
            continue
        n = fc.dim(array, axis)
        if kind == "int":
            i, check = fc.wrap_index(index_value(fc, item), n, axis)
            if check is not None:
                ok = check if ok is None else em.binary("and", ok, check)
            offsets.append(i)
            sizes.append(None)
            steps.append(em.const(1, I64))
        elif kind == "slice":
            start, length, step = _slice(fc, item, n)
            offsets.append(start)
            sizes.append(length)
            steps.append(step)
        else:
            offsets.append(em.const(0, I64))
            sizes.append(n)
            steps.append(em.const(1, I64))
        axis += 1
    kept = [s for s in sizes if s is not None]
    if ok is not None:
        zero = em.const(0, I64)
        sizes = [None if s is None else em.select(ok, s, zero) for s in sizes]
    t = ArrayType(array.type.dtype, len(kept))
    op = memref.SubviewOp.get(
        array.ssa, [em.to_index(o) for o in offsets],
        [1 if s is None else em.to_index(s) for s in sizes],
        [em.to_index(s) for s in steps], t.ir)
    return Val(em.res(op), t)


def _slice(fc: FunctionCompiler, s: ast.Slice, n: Val) -> tuple[Val, Val, Val]:
    """Start, length and step of `lower:upper:step` on an axis of size `n`,
    with Python's rules (PySlice_AdjustIndices) at run time."""
    em = fc.em
    const_step = 1 if s.step is None else constant_int(s.step)
    if const_step == 0:
        raise fc.error("slice step cannot be zero", s.step)
    lower = None if s.lower is None else index_value(fc, s.lower)
    upper = None if s.upper is None else index_value(fc, s.upper)
    if const_step is not None:
        step = em.const(const_step, I64)
        bounds = _slice_bounds(fc, lower, upper, step, n, const_step > 0, abs(const_step) == 1)
        return (*bounds, step)
    step = index_value(fc, s.step)
    zero = em.const(0, I64)
    raise_unless(fc, em.compare("ne", step, zero), "slice step cannot be zero")
    step = em.select(em.compare("eq", step, zero), em.const(1, I64), step)
    up = _slice_bounds(fc, lower, upper, step, n, True, False)
    down = _slice_bounds(fc, lower, upper, step, n, False, False)
    positive = em.compare("gt", step, zero)
    start, length = (em.select(positive, u, d) for u, d in zip(up, down, strict=True))
    return start, Val(length.ssa, I64, lower=0), step


def _slice_bounds(fc: FunctionCompiler, lower: Val | None, upper: Val | None, step: Val,
                  n: Val, positive: bool, unit: bool) -> tuple[Val, Val]:
    """Start and length for one sign of the step; `unit` when it is 1 or -1."""
    em = fc.em
    if positive:
        start = em.const(0, I64) if lower is None else _clamp(fc, lower, n, 0, n)
        stop = n if upper is None else _clamp(fc, upper, n, 0, n)
        span, stride = em.binary("sub", stop, start), step
    else:
        last = em.binary("sub", n, em.const(1, I64))
        start = last if lower is None else _clamp(fc, lower, n, -1, last)
        stop = em.const(-1, I64) if upper is None else _clamp(fc, upper, n, -1, last)
        span, stride = em.binary("sub", start, stop), em.negate(step)
    if not unit:
        # ceil(span / stride); span may be negative (empty), stride is positive
        rounded = em.binary("sub", em.binary("add", span, stride), em.const(1, I64))
        span = Val(em.res(arith.DivSIOp(rounded.ssa, stride.ssa)), I64)
    length = em.min_max("max", span, em.const(0, I64))
    return start, Val(length.ssa, I64, lower=0)


def _clamp(fc: FunctionCompiler, v: Val, n: Val, low: int, high: Val) -> Val:
    """A slice bound: negative counts from the end, then clipped to [low, high]."""
    em = fc.em
    clipped = em.min_max("min", v, high)
    if v.lower is not None and v.lower >= 0:
        return clipped
    wrapped = em.min_max("max", em.binary("add", v, n), em.const(low, I64))
    return em.select(em.compare("lt", v, em.const(0, I64)), wrapped, clipped)


# -- stores ----------------------------------------------------------------
def _root(v: SSAValue) -> SSAValue:
    """The array a view was taken from."""
    while isinstance(v.owner, memref.SubviewOp | memref.CastOp):
        v = v.owner.source
    return v


def _may_alias(a: SSAValue, b: SSAValue) -> bool:
    """Whether two arrays may share memory: the same array, or two that did
    not come from this call's allocations (arguments may overlap)."""
    ra, rb = _root(a), _root(b)
    if ra is rb:
        return True
    if isinstance(ra.owner, memref.AllocOp) or isinstance(rb.owner, memref.AllocOp):
        return False
    return a.type.element_type == b.type.element_type


def check_writable(fc: FunctionCompiler, array: Val, node: ast.AST) -> None:
    what = fc.copies.get(_root(array.ssa))
    if what is not None:
        raise fc.error(f"cannot write into the result of {what}: compiled code copies it "
                       "where NumPy gives a view; write into the original array, or make "
                       "the copy explicit with .copy()", node)


def store_into(fc: FunctionCompiler, dest: Val, src: Operand, node: ast.AST) -> None:
    """`dest[...] = src` for a view `dest`: src broadcast to dest's shape and
    converted to its dtype. A source that may overlap dest other than
    element by element is evaluated into a temporary first, as NumPy does."""
    assert isinstance(dest.type, ArrayType)
    check_writable(fc, dest, node)
    fc.mark_written(dest)
    em = fc.em
    shape = [fc.dim(dest, d) for d in range(dest.type.ndim)]
    if not is_array(src):
        v = em.cast(_scalar(src), dest.type.dtype)
        for_each(fc, shape, lambda idx: store(fc, dest, idx, v))
        return
    src = lazy(fc, src)
    if src.ndim > dest.type.ndim:
        raise fc.error(f"cannot assign a {src.ndim}-D array to a {dest.type.ndim}-D target",
                       node)
    if any(not (r.straight and r.array is dest.ssa) and _may_alias(r.array, dest.ssa)
           for r in src.reads):
        src = lazy(fc, copy(fc, src))
    src = broadcast_to(fc, src, shape, check=True)
    write(fc, dest, src)


def augment(fc: FunctionCompiler, dest: Val, opname: str, rhs: Operand, node: ast.AST) -> None:
    """In-place `dest op= rhs` on an array, as NumPy's `out=` ufuncs do."""
    assert isinstance(dest.type, ArrayType)
    result = binop(fc, opname, lazy(fc, dest), rhs, node)
    t = dest.type.dtype
    if result.dtype.is_float and not t.is_float or result.dtype is I64 and t is BOOL:
        raise fc.error(f"in-place {_SYMBOLS[opname]}= would store {result.dtype} values into "
                       f"a {dest.type} array (NumPy refuses this cast)", node)
    store_into(fc, dest, result, node)


# -- construction and reshaping ------------------------------------------------
def from_values(fc: FunctionCompiler, shape: Sequence[int], values: Sequence[Val],
                dtype: ScalarType | None) -> Val:
    """A new array of the given static shape filled with scalars in C order."""
    em = fc.em
    t = dtype or functools.reduce(promote_dtypes, (v.type for v in values))
    out = fc.allocate(t, [em.const(s, I64) for s in shape], None)
    for flat, v in enumerate(values):
        idx, rest = [], flat
        for size in reversed(shape):
            idx.insert(0, em.const(rest % size, I64))
            rest //= size
        store(fc, out, idx, em.cast(v, t))
    return out


def literal(fc: FunctionCompiler, node: ast.expr) -> tuple[list[int], list[Val]]:
    """The shape and scalars (C order) of a nested list or tuple display."""
    if not isinstance(node, ast.List | ast.Tuple):
        v = fc.expr(node)
        if isinstance(v.type, TupleType):
            return tuple_items(fc, v, node)
        if not isinstance(v.type, ScalarType):
            raise fc.error(f"a list of {v.type} values is not supported here; lists must "
                           "hold numbers", node)
        return [], [v]
    if not node.elts:
        raise fc.error("empty lists are not supported here", node)
    parts = [literal(fc, e) for e in node.elts]
    if any(p[0] != parts[0][0] for p in parts):
        raise fc.error("nested lists of different lengths (ragged arrays) are not supported",
                       node)
    return [len(parts), *parts[0][0]], [v for p in parts for v in p[1]]


def tuple_items(fc: FunctionCompiler, v: Val, node: ast.AST) -> tuple[list[int], list[Val]]:
    """A tuple of numbers as the shape and values of a 1-D array."""
    if not v.items or not all(isinstance(i.type, ScalarType) for i in v.items):
        raise fc.error(f"cannot make an array of {v.type}", node)
    return [len(v.items)], list(v.items)


def reshape(fc: FunctionCompiler, x: Lazy, shape: list[Val], infer: int | None) -> Val:
    """A copy of `x` with a new shape (axis `infer` is computed, from -1)."""
    em = fc.em
    total = _product(fc, x.shape)
    if infer is not None:
        known = _product(fc, [s for k, s in enumerate(shape) if k != infer])
        safe = em.select(em.compare("eq", known, em.const(0, I64)), em.const(1, I64), known)
        shape[infer] = Val(em.res(arith.DivSIOp(total.ssa, safe.ssa)), I64, lower=0)
    ok = em.compare("eq", _product(fc, shape), total)
    raise_unless(fc, ok, "cannot reshape the array into the requested shape")
    out = fc.allocate(x.dtype, shape, None)
    sizes = [em.select(ok, x.shape[0], em.const(0, I64)), *x.shape[1:]]

    def body(idx: Indices, c: list[Val]) -> list[Val]:
        rest, target = c[0], []
        for size in reversed(shape[1:]):
            target.insert(0, Val(em.res(arith.RemSIOp(rest.ssa, size.ssa)), I64))
            rest = Val(em.res(arith.DivSIOp(rest.ssa, size.ssa)), I64)
        store(fc, out, [rest, *target], x.element(idx))
        return [em.binary("add", c[0], em.const(1, I64))]

    fold(fc, sizes, [em.const(0, I64)], body)
    fc.copies[_root(out.ssa)] = ".reshape()"
    return out

