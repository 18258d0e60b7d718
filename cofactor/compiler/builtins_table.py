"""Which Python callables compile to what: builtins, `math.*` and NumPy functions.

Callables are matched by identity, so `from math import sin`, `import numpy as
xp` and `math.sin` all resolve to the same entry. NumPy ufuncs take numbers
or arrays: on numbers they emit scalar code, on arrays they build an
elementwise expression (see `arrays`) from the same scalar code. `METHODS`
holds the array methods (`x.sum()`, ...).
"""

from __future__ import annotations

import ast
import builtins
import functools
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from xdsl.dialects import arith
from xdsl.dialects import math as mathd

from cofactor.compiler import arrays
from cofactor.compiler.arrays import Lazy, Operand, constant_int
from cofactor.compiler.emitter import Val
from cofactor.compiler.types import BOOL, F32, F64, I64, ArrayType, ScalarType, TupleType

if TYPE_CHECKING:
    from cofactor.compiler.frontend import FunctionCompiler

Handler = Callable[["FunctionCompiler", ast.Call], Operand]
Method = Callable[["FunctionCompiler", Lazy, ast.Call], Operand]

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


def _unary_math(name: str, result: str = "float") -> Handler:
    """`math.*` on a number, in double as CPython does (NumPy keeps float32)."""
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        (x,) = _args(fc, node, 1, name)
        v = fc.em.math_unary(name, fc.em.cast(x, F64) if x.type is F32 else x)
        return fc.em.cast(v, I64) if result == "int" else v
    return handler


def _binary_math(name: str) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Val:
        a, b = _args(fc, node, 2, name)
        return fc.em.math_binary(name, fc.em.cast(a, F64), fc.em.cast(b, F64))
    return handler


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


# -- NumPy ufuncs: scalar code, applied elementwise to arrays ------------------
ScalarFn = Callable[..., Val]  # (fc, *numbers) -> number


def _array_or_number(fc: FunctionCompiler, node: ast.expr) -> Operand:
    """An argument of a NumPy function; a list or tuple of numbers is an array."""
    if isinstance(node, ast.List | ast.Tuple):
        return arrays.from_values(fc, *arrays.literal(fc, node), None)
    v = fc.operand(node)
    if isinstance(v, Val) and isinstance(v.type, TupleType):
        return arrays.from_values(fc, *arrays.tuple_items(fc, v, node), None)
    if isinstance(v, Val) and not isinstance(v.type, ScalarType | ArrayType):
        raise fc.error(f"expected a number or an array, got {v.type}", node)
    return v


def _operands(fc: FunctionCompiler, node: ast.Call, n: int, name: str) -> list[Operand]:
    if node.keywords or len(node.args) != n:
        raise fc.error(f"{name}() takes {n} positional arguments", node)
    return fc.operands(node.args, lambda a: _array_or_number(fc, a))


def _ufunc(name: str, arity: int, scalar: ScalarFn, kind: str) -> Handler:
    """A NumPy ufunc: `scalar` on numbers, elementwise on arrays; `kind` is
    how the result type follows from the arguments' (see `arrays.apply`)."""
    def handler(fc: FunctionCompiler, node: ast.Call) -> Operand:
        vals = _operands(fc, node, arity, name)
        if any(arrays.is_array(v) for v in vals):
            return arrays.apply(fc, lambda *xs: scalar(fc, *xs), vals, kind)
        return scalar(fc, *vals)
    return handler


def _abs_of(fc: FunctionCompiler, x: Val) -> Val:
    return fc.em.abs(fc.em.cast(x, I64) if x.type is BOOL else x)


def _math_of(name: str) -> ScalarFn:
    return lambda fc, *xs: (fc.em.math_unary(name, *xs) if len(xs) == 1
                            else fc.em.math_binary(name, *xs))


def _rounding_of(name: str) -> ScalarFn:
    """np.floor/ceil/trunc keep the float type, unlike math.floor."""
    def scalar(fc: FunctionCompiler, x: Val) -> Val:
        return fc.em.math_unary(name, x if x.type.is_float else fc.em.cast(x, F64))
    return scalar


def _extremum_of(which: str) -> ScalarFn:
    """np.maximum/np.minimum propagate NaN, unlike builtin max."""
    def scalar(fc: FunctionCompiler, a: Val, b: Val) -> Val:
        if not (a.type.is_float or b.type.is_float):
            return fc.em.min_max("max" if which == "maximum" else "min", a, b)
        t = F32 if a.type is F32 and b.type is F32 else F64
        a, b = fc.em.cast(a, t), fc.em.cast(b, t)
        cls = arith.MaximumfOp if which == "maximum" else arith.MinimumfOp
        return Val(fc.em.res(cls(a.ssa, b.ssa)), t)
    return scalar


def _where(fc: FunctionCompiler, node: ast.Call) -> Operand:
    if len(node.args) != 3 or node.keywords:
        raise fc.error("np.where() takes 3 positional arguments (the 1-argument form is "
                       "not supported)", node)
    return arrays.where(fc, *fc.operands(node.args, lambda a: _array_or_number(fc, a)))


def _clip(fc: FunctionCompiler, node: ast.Call) -> Operand:
    """np.clip(x, low, high); either bound may be None."""
    if len(node.args) != 3 or node.keywords:
        raise fc.error("np.clip() takes 3 positional arguments", node)
    def bound(a: ast.expr) -> Operand | None:
        return None if isinstance(a, ast.Constant) and a.value is None else _array_or_number(
            fc, a)

    x, *bounds = fc.operands(node.args, bound)
    if x is None or all(b is None for b in bounds):
        raise fc.error("np.clip() takes a value and a lower or an upper bound", node)
    given = [b for b in bounds if b is not None]

    def clip(fc: FunctionCompiler, v: Val, *limits: Val) -> Val:
        rest = iter(limits)
        for which, bound in zip(("maximum", "minimum"), bounds, strict=True):
            if bound is not None:
                v = _extremum_of(which)(fc, v, next(rest))
        return v

    if any(arrays.is_array(v) for v in (x, *given)):
        return arrays.apply(fc, lambda *xs: clip(fc, *xs), [x, *given], "same")
    return clip(fc, x, *given)


# -- reductions, products, shapes -------------------------------------------
def _axis(fc: FunctionCompiler, args: list[ast.expr], keywords: list[ast.keyword],
          node: ast.Call) -> int | None:
    """The `axis` argument (positional or keyword): a constant int or None."""
    given = list(args)
    for kw in keywords:
        if kw.arg != "axis":
            raise fc.error(f"unsupported keyword argument '{kw.arg}'", node)
        given.append(kw.value)
    if len(given) > 1:
        raise fc.error("expected at most one argument, the axis", node)
    if not given or isinstance(given[0], ast.Constant) and given[0].value is None:
        return None
    axis = constant_int(given[0])
    static = fc.static_value(given[0])
    if axis is None and type(static) is int:
        axis = static
    if axis is None:
        raise fc.error("axis must be an integer constant or None", given[0])
    return axis


def _reduction(kind: str) -> Handler:
    def handler(fc: FunctionCompiler, node: ast.Call) -> Operand:
        if not 1 <= len(node.args) <= 2:
            raise fc.error(f"np.{kind}() takes an array and an optional axis", node)
        x = _array_or_number(fc, node.args[0])
        return arrays.reduce(fc, x, kind, _axis(fc, node.args[1:], node.keywords, node), node)
    return handler


def _reduction_method(kind: str) -> Method:
    def method(fc: FunctionCompiler, x: Lazy, node: ast.Call) -> Operand:
        return arrays.reduce(fc, x, kind, _axis(fc, node.args, node.keywords, node), node)
    return method


def _dot(fc: FunctionCompiler, node: ast.Call) -> Operand:
    """np.dot: a product for 1-D and 2-D arrays, else `*`, where (unlike for
    `*`) a Python float scalar makes a float32 array float64."""
    a, b = _operands(fc, node, 2, "dot")
    if arrays.is_array(a) and arrays.is_array(b):
        return arrays.matmul(fc, a, b, node)
    if not (arrays.is_array(a) or arrays.is_array(b)):
        return fc.em.binary("mul", a, b)
    a, b = (arrays.lazy(fc, v) if arrays.is_array(v) else v for v in (a, b))
    t = functools.reduce(arrays.promote_dtypes, (v.dtype if isinstance(v, Lazy) else v.type
                                                 for v in (a, b)))
    return arrays.ufunc(fc, lambda x, y: fc.em.binary("mul", x, y), [a, b], [t, t], t)


def _matmul(fc: FunctionCompiler, node: ast.Call) -> Operand:
    return arrays.matmul(fc, *_operands(fc, node, 2, "matmul"), node)


def _outer(fc: FunctionCompiler, node: ast.Call) -> Operand:
    return arrays.outer(fc, *_operands(fc, node, 2, "outer"), node)


def _array_arg(fc: FunctionCompiler, node: ast.Call, name: str) -> Lazy:
    (x,) = _operands(fc, node, 1, name)
    if not arrays.is_array(x):
        raise fc.error(f"np.{name}() of a number is not supported; it needs an array", node)
    return arrays.lazy(fc, x)


def _reshape_to(fc: FunctionCompiler, x: Lazy, nodes: list[ast.expr], node: ast.Call) -> Val:
    """x.reshape(2, 3), x.reshape((2, -1)), x.reshape(y.shape): a copy."""
    if len(nodes) == 1 and isinstance(nodes[0], ast.Tuple | ast.List):
        nodes = list(nodes[0].elts)
    if not nodes or node.keywords:
        raise fc.error("reshape() takes the new shape, as integers or one tuple", node)
    infer = [k for k, n in enumerate(nodes) if constant_int(n) == -1]
    if len(infer) > 1:
        raise fc.error("reshape() can only infer one dimension (-1)", node)
    if len(nodes) == 1 and not infer:
        sizes = _shape_arg(fc, nodes[0])
    else:
        sizes = [fc.em.const(1, I64) if k in infer else fc.int_value(n)
                 for k, n in enumerate(nodes)]
    shape = [fc.em.cast(s, I64) for s in sizes]
    return arrays.reshape(fc, x, shape, infer[0] if infer else None)


def _np_reshape(fc: FunctionCompiler, node: ast.Call) -> Operand:
    if len(node.args) != 2:
        raise fc.error("np.reshape() takes an array and a shape", node)
    x = _array_or_number(fc, node.args[0])
    if not arrays.is_array(x):
        raise fc.error("np.reshape() needs an array", node)
    return _reshape_to(fc, arrays.lazy(fc, x), node.args[1:], node)


def _np_array(fc: FunctionCompiler, node: ast.Call) -> Operand:
    """np.array of a (nested) list or tuple of numbers, or a copy of an array."""
    if len(node.args) != 1:
        raise fc.error("np.array() takes one positional argument", node)
    dtype = _dtype_arg(fc, node, None)
    if isinstance(node.args[0], ast.List | ast.Tuple):
        return arrays.from_values(fc, *arrays.literal(fc, node.args[0]), dtype)
    x = _array_or_number(fc, node.args[0])
    if not arrays.is_array(x):
        raise fc.error("0-dimensional arrays are not supported", node)
    x = arrays.lazy(fc, x)
    return arrays.copy(fc, arrays.astype(fc, x, dtype) if dtype else x)


def _no_arguments(name: str, run: Callable[[FunctionCompiler, Lazy], Operand]) -> Method:
    def method(fc: FunctionCompiler, x: Lazy, node: ast.Call) -> Operand:
        if node.args or node.keywords:
            raise fc.error(f".{name}() takes no arguments here", node)
        return run(fc, x)
    return method


def _astype(fc: FunctionCompiler, x: Lazy, node: ast.Call) -> Operand:
    if len(node.args) != 1 or node.keywords:
        raise fc.error(".astype() takes one argument, the dtype", node)
    return arrays.astype(fc, x, _dtype_of(fc, node.args[0]))


def _dot_method(fc: FunctionCompiler, x: Lazy, node: ast.Call) -> Operand:
    if len(node.args) != 1 or node.keywords:
        raise fc.error(".dot() takes one argument", node)
    return arrays.matmul(fc, x, _array_or_number(fc, node.args[0]), node)


def _flat(fc: FunctionCompiler, x: Lazy) -> Val:
    return arrays.reshape(fc, x, [fc.em.const(1, I64)], 0)


METHODS: dict[str, Method] = {
    **{k: _reduction_method(k) for k in ("sum", "prod", "mean", "max", "min", "argmax",
                                         "argmin")},
    "copy": _no_arguments("copy", arrays.copy),
    "transpose": _no_arguments("transpose", arrays.transpose),
    "flatten": _no_arguments("flatten", _flat),
    "ravel": _no_arguments("ravel", _flat),
    "reshape": lambda fc, x, node: _reshape_to(fc, x, node.args, node),
    "astype": _astype,
    "dot": _dot_method,
}


_DTYPES: dict[object, ScalarType] = {
    float: F64, np.float64: F64, int: I64, np.int64: I64, bool: BOOL, np.bool_: BOOL,
    np.float32: F32, "float64": F64, "float32": F32, "int64": I64, "bool": BOOL,
    "f8": F64, "f4": F32, "i8": I64,
}


def _dtype_arg(fc: FunctionCompiler, node: ast.Call, default: ScalarType | None
               ) -> ScalarType | None:
    for kw in node.keywords:
        if kw.arg == "dtype":
            return _dtype_of(fc, kw.value)
        raise fc.error(f"unsupported keyword argument '{kw.arg}'", node)
    return default


def _dtype_of(fc: FunctionCompiler, node: ast.expr) -> ScalarType:
    value = node.value if isinstance(node, ast.Constant) else fc.static_value(node)
    dtype = _DTYPES.get(value) if not isinstance(value, np.dtype) else _DTYPES.get(value.type)
    if dtype is None:
        raise fc.error("dtype must be float64, float32, int64 or bool", node)
    return dtype


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
        (builtins.abs, _ufunc("abs", 1, _abs_of, "same")),
        (builtins.min, _min_max("min")), (builtins.max, _min_max("max")),
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
        (np.abs, _ufunc("abs", 1, _abs_of, "same")),
        (np.absolute, _ufunc("absolute", 1, _abs_of, "same")),
        (np.maximum, _ufunc("maximum", 2, _extremum_of("maximum"), "same")),
        (np.minimum, _ufunc("minimum", 2, _extremum_of("minimum"), "same")),
        (np.power, _ufunc("power", 2, lambda fc, a, b: fc.em.power(a, b), "same")),
        (np.square, _ufunc("square", 1, lambda fc, x: fc.em.binary("mul", x, x), "same")),
        (np.arctan2, _ufunc("arctan2", 2, _math_of("atan2"), "float")),
        (np.hypot, _ufunc("hypot", 2, _math_of("hypot"), "float")),
        (np.copysign, _ufunc("copysign", 2, _math_of("copysign"), "float")),
        (np.where, _where), (np.clip, _clip),
        (np.sum, _reduction("sum")), (np.prod, _reduction("prod")),
        (np.mean, _reduction("mean")), (np.max, _reduction("max")),
        (np.min, _reduction("min")), (np.amax, _reduction("max")),
        (np.amin, _reduction("min")), (np.argmax, _reduction("argmax")),
        (np.argmin, _reduction("argmin")),
        (np.dot, _dot), (np.matmul, _matmul), (np.outer, _outer),
        (np.transpose, lambda fc, node: arrays.transpose(fc, _array_arg(fc, node, "transpose"))),
        (np.copy, lambda fc, node: arrays.copy(fc, _array_arg(fc, node, "copy"))),
        (np.reshape, _np_reshape), (np.array, _np_array),
        (np.float64, _convert(F64)), (np.float32, _convert(F32)), (np.int64, _convert(I64)),
        (np.bool_, _convert(BOOL)),
        (np.zeros, _creation(0.0)), (np.ones, _creation(1.0)), (np.empty, _creation(None)),
        (np.full, _creation(None, with_value=True)),
        (np.zeros_like, _like(0.0)), (np.ones_like, _like(1.0)), (np.empty_like, _like(None)),
        (np.full_like, _like(None, with_value=True)),
    ]
    entries += [(getattr(math, n), _unary_math(n)) for n in _MATH_UNARY]
    entries += [(getattr(np, n), _ufunc(n, 1, _math_of(m), "float"))
                for n, m in _NP_NAMES.items()]
    entries += [(getattr(np, n), _ufunc(n, 1, _math_of(n), "bool"))
                for n in ("isnan", "isinf", "isfinite")]
    entries += [(getattr(np, n), _ufunc(n, 1, _rounding_of(n), "same"))
                for n in ("floor", "ceil", "trunc")]
    return {id(obj): h for obj, h in entries}


_TABLE = _build()


def handler_for(callee: object) -> Handler | None:
    return _TABLE.get(id(callee))
