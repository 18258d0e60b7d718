"""Which Python callables compile to what: builtins, `math.*` and NumPy functions.

Callables are matched by identity, so `from math import sin`, `import numpy as
xp` and `math.sin` all resolve to the same entry.
"""

from __future__ import annotations

import ast
import builtins
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects import arith
from xdsl.dialects import math as mathd

from cofactor.compiler.emitter import Val
from cofactor.compiler.types import BOOL, F32, F64, I64, ArrayType, ScalarType, TupleType

if TYPE_CHECKING:
    from cofactor.compiler.frontend import FunctionCompiler

Handler = Callable[["FunctionCompiler", ast.Call], Val]

BINOPS = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv",
    ast.Mod: "mod", ast.Pow: "pow", ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor",
    ast.LShift: "lshift", ast.RShift: "rshift",
}
CMPOPS = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt",
          ast.GtE: "ge"}


def _args(fc: FunctionCompiler, node: ast.Call, n: int | tuple[int, int], name: str
          ) -> list[Val]:
    low, high = (n, n) if isinstance(n, int) else n
    if node.keywords or not low <= len(node.args) <= high:
        expected = str(low) if low == high else f"{low} to {high}"
        raise fc.error(f"{name}() takes {expected} positional arguments", node)
    vals = [fc.expr(a) for a in node.args]
    for v, a in zip(vals, node.args, strict=True):
        if not isinstance(v.type, ScalarType):
            raise fc.error(f"{name}() expects a number here, got {v.type}", a)
    return vals


def _unary_math(name: str, result: str = "float", double: bool = True) -> Handler:
    """`math.*` computes in double, as CPython does; NumPy keeps float32."""
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        (x,) = _args(fc, node, 1, name)
        v = fc.em.math_unary(name, fc.em.cast(x, F64) if double and x.type is F32 else x)
        return fc.em.cast(v, I64) if result == "int" else v
    return handler


def _binary_math(name: str, double: bool = True) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        a, b = _args(fc, node, 2, name)
        if double:
            a, b = fc.em.cast(a, F64), fc.em.cast(b, F64)
        return fc.em.math_binary(name, a, b)
    return handler


def _abs(fc: FunctionCompiler, node: ast.Call) -> Val:
    (x,) = _args(fc, node, 1, "abs")
    return fc.em.abs(fc.em.cast(x, I64) if x.type is BOOL else x)


def _min_max(which: str) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        if len(node.args) == 1:
            seq = fc.expr(node.args[0])
            if isinstance(seq.type, TupleType) and seq.items:
                vals = list(seq.items)
            else:
                raise fc.error(f"{which}() of a single argument needs a tuple", node)
        else:
            vals = _args(fc, node, (2, 64), which)
        acc = vals[0]
        for v in vals[1:]:
            acc = fc.em.min_max(which, acc, v)
        return acc
    return handler


def _convert(t: ScalarType) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        if not node.args and not node.keywords:
            return fc.em.const(0, t)
        (x,) = _args(fc, node, 1, t.name)
        return fc.em.cast(x, t)
    return handler


def _len(fc: FunctionCompiler, node: ast.Call) -> Val:
    if len(node.args) != 1 or node.keywords:
        raise fc.error("len() takes exactly one argument", node)
    v = fc.expr(node.args[0])
    if isinstance(v.type, ArrayType):
        return fc.dim(v, 0)
    if isinstance(v.type, TupleType):
        return fc.em.const(len(v.items), I64)
    raise fc.error(f"object of type {v.type} has no len()", node)


def _round(fc: FunctionCompiler, node: ast.Call) -> Val:
    (x,) = _args(fc, node, 1, "round")
    if not x.type.is_float:
        return fc.em.cast(x, I64)
    return fc.em.cast(Val(fc.em.res(mathd.RoundEvenOp(x.ssa)), x.type), I64)


def _range(fc: FunctionCompiler, node: ast.Call) -> Val:
    raise fc.error("range() can only be used as the iterable of a for loop", node)


def _np_abs(fc: FunctionCompiler, node: ast.Call) -> Val:
    (x,) = _args(fc, node, 1, "abs")
    return fc.em.abs(fc.em.cast(x, I64) if x.type is BOOL else x)


def _np_rounding(name: str) -> Handler:
    """np.floor/ceil/trunc keep the float type, unlike math.floor."""
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        (x,) = _args(fc, node, 1, name)
        if not x.type.is_float:
            x = fc.em.cast(x, F64)
        return fc.em.math_unary(name, x)
    return handler


def _np_extremum(which: str) -> Handler:
    """np.maximum/np.minimum on scalars propagate NaN, unlike builtin max."""
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        a, b = _args(fc, node, 2, which)
        if not (a.type.is_float or b.type.is_float):
            return fc.em.min_max("max" if which == "maximum" else "min", a, b)
        t = F32 if a.type is F32 and b.type is F32 else F64
        a, b = fc.em.cast(a, t), fc.em.cast(b, t)
        cls = arith.MaximumfOp if which == "maximum" else arith.MinimumfOp
        return Val(fc.em.res(cls(a.ssa, b.ssa)), t)
    return handler


def _np_power(fc: FunctionCompiler, node: ast.Call) -> Val:
    a, b = _args(fc, node, 2, "power")
    return fc.em.power(a, b)


_DTYPES: dict[object, ScalarType] = {
    float: F64, np.float64: F64, int: I64, np.int64: I64, bool: BOOL, np.bool_: BOOL,
    np.float32: F32, "float64": F64, "float32": F32, "int64": I64, "bool": BOOL,
    "f8": F64, "f4": F32, "i8": I64,
}


def _dtype_arg(fc: FunctionCompiler, node: ast.Call, default: ScalarType | None
               ) -> ScalarType | None:
    for kw in node.keywords:
        if kw.arg == "dtype":
            value = kw.value.value if isinstance(kw.value, ast.Constant) else fc.static_value(
                kw.value)
            dtype = _DTYPES.get(value) if not isinstance(value, np.dtype) else _DTYPES.get(
                value.type)
            if dtype is None:
                raise fc.error("dtype must be float64, float32, int64 or bool", kw.value)
            return dtype
        raise fc.error(f"unsupported keyword argument '{kw.arg}'", node)
    return default


def _shape_arg(fc: FunctionCompiler, node: ast.expr) -> list[Val]:
    v = fc.expr(node)
    items = list(v.items) if isinstance(v.type, TupleType) else [v]
    if not items:
        raise fc.error("0-dimensional arrays are not supported", node)
    for item in items:
        if not isinstance(item.type, ScalarType) or item.type.is_float:
            raise fc.error("array shapes must be integers", node)
    return items


def _creation(fill: float | None, with_value: bool = False) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        want = 2 if with_value else 1
        if len(node.args) != want:
            raise fc.error(f"expected {want} positional arguments", node)
        shape = _shape_arg(fc, node.args[0])
        value = fc.expr(node.args[1]) if with_value else None
        default = value.type if value is not None and isinstance(value.type, ScalarType) \
            else F64
        dtype = _dtype_arg(fc, node, default)
        if with_value:
            return fc.allocate(dtype, shape, value)
        return fc.allocate(dtype, shape, None if fill is None else fc.em.const(fill, dtype))
    return handler


def _like(fill: float | None, with_value: bool = False) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        want = 2 if with_value else 1
        if len(node.args) != want:
            raise fc.error(f"expected {want} positional arguments", node)
        proto = fc.expr(node.args[0])
        if not isinstance(proto.type, ArrayType):
            raise fc.error("the first argument must be an array", node.args[0])
        shape = [fc.dim(proto, d) for d in range(proto.type.ndim)]
        dtype = _dtype_arg(fc, node, proto.type.dtype)
        value = fc.expr(node.args[1]) if with_value else (
            None if fill is None else fc.em.const(fill, dtype))
        return fc.allocate(dtype, shape, value)
    return handler


def _scalar_type(t: ScalarType) -> Handler:
    return _convert(t)


_MATH_UNARY = ["sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
               "asinh", "acosh", "atanh", "exp", "expm1", "log1p", "log2", "log10", "fabs",
               "erf", "erfc", "cbrt", "exp2", "lgamma", "gamma"]
_NP_NAMES = {"sqrt": "sqrt", "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin",
             "arccos": "acos", "arctan": "atan", "sinh": "sinh", "cosh": "cosh", "tanh": "tanh",
             "arcsinh": "asinh", "arccosh": "acosh", "arctanh": "atanh", "exp": "exp",
             "expm1": "expm1", "log": "log", "log1p": "log1p", "log2": "log2",
             "log10": "log10", "fabs": "fabs", "cbrt": "cbrt", "exp2": "exp2"}


def _math_log(fc: FunctionCompiler, node: ast.Call) -> Val:
    """math.log(x[, base]), in double precision."""
    args = [fc.em.cast(v, F64) for v in _args(fc, node, (1, 2), "log")]
    logs = [fc.em.math_unary("log", v) for v in args]
    return logs[0] if len(logs) == 1 else fc.em.binary("div", logs[0], logs[1])


def _build() -> dict[int, Handler]:
    entries: list[tuple[object, Handler]] = [
        (builtins.abs, _abs), (builtins.min, _min_max("min")), (builtins.max, _min_max("max")),
        (builtins.int, _convert(I64)), (builtins.float, _convert(F64)),
        (builtins.bool, _convert(BOOL)), (builtins.len, _len), (builtins.round, _round),
        (builtins.range, _range),
        (math.log, _math_log), (math.floor, _unary_math("floor", "int")),
        (math.ceil, _unary_math("ceil", "int")), (math.trunc, _unary_math("trunc", "int")),
        (math.isnan, _unary_math("isnan")), (math.isinf, _unary_math("isinf")),
        (math.isfinite, _unary_math("isfinite")),
        (math.pow, _binary_math("pow")), (math.atan2, _binary_math("atan2")),
        (math.hypot, _binary_math("hypot")), (math.copysign, _binary_math("copysign")),
        (math.fmod, _binary_math("fmod")),
        (np.abs, _np_abs), (np.absolute, _np_abs),
        (np.floor, _np_rounding("floor")), (np.ceil, _np_rounding("ceil")),
        (np.trunc, _np_rounding("trunc")),
        (np.maximum, _np_extremum("maximum")), (np.minimum, _np_extremum("minimum")),
        (np.power, _np_power), (np.arctan2, _binary_math("atan2", double=False)),
        (np.hypot, _binary_math("hypot", double=False)),
        (np.copysign, _binary_math("copysign", double=False)),
        (np.isnan, _unary_math("isnan", double=False)),
        (np.isinf, _unary_math("isinf", double=False)),
        (np.isfinite, _unary_math("isfinite", double=False)),
        (np.float64, _convert(F64)), (np.float32, _convert(F32)), (np.int64, _convert(I64)),
        (np.bool_, _convert(BOOL)),
        (np.zeros, _creation(0.0)), (np.ones, _creation(1.0)), (np.empty, _creation(None)),
        (np.full, _creation(None, with_value=True)),
        (np.zeros_like, _like(0.0)), (np.ones_like, _like(1.0)), (np.empty_like, _like(None)),
        (np.full_like, _like(None, with_value=True)),
    ]
    entries += [(getattr(math, n), _unary_math(n)) for n in _MATH_UNARY]
    entries += [(getattr(np, n), _unary_math(m, double=False)) for n, m in _NP_NAMES.items()]
    return {id(obj): h for obj, h in entries}


_TABLE = _build()


def handler_for(callee: object) -> Handler | None:
    return _TABLE.get(id(callee))
