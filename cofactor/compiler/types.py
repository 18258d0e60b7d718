"""cofactor's value types: what a specialization is keyed on.

A type says how a Python value is represented natively. Scalars map to one IR
type; arrays are keyed on element type and rank only (strides are runtime
values), so one compiled specialization serves every layout of an array.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ScalarType:
    name: str
    dtype: np.dtype
    is_float: bool

    def __str__(self) -> str:
        return self.name

    @property
    def ir(self):
        from xdsl.dialects.builtin import f32, f64, i1, i64

        return {"f64": f64, "f32": f32, "i64": i64, "bool": i1}[self.name]


F64 = ScalarType("f64", np.dtype(np.float64), True)
F32 = ScalarType("f32", np.dtype(np.float32), True)
I64 = ScalarType("i64", np.dtype(np.int64), False)
BOOL = ScalarType("bool", np.dtype(np.bool_), False)

SCALARS = {t.name: t for t in (F64, F32, I64, BOOL)}
_DTYPE_TO_SCALAR = {t.dtype: t for t in (F64, F32, I64, BOOL)}


@dataclass(frozen=True)
class ArrayType:
    dtype: ScalarType
    ndim: int

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(':' * self.ndim)}]"

    @property
    def ir(self):
        from xdsl.dialects.builtin import DYNAMIC_INDEX, MemRefType, NoneAttr, StridedLayoutAttr

        dyn = [DYNAMIC_INDEX] * self.ndim
        layout = StridedLayoutAttr([NoneAttr()] * self.ndim, NoneAttr())
        return MemRefType(self.dtype.ir, dyn, layout, NoneAttr())


@dataclass(frozen=True)
class TupleType:
    elements: tuple[ValueType, ...]

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.elements)) + ")"


@dataclass(frozen=True)
class NoneType:
    def __str__(self) -> str:
        return "None"


NONE = NoneType()
ValueType = ScalarType | ArrayType | TupleType | NoneType

SUPPORTED = "float, int, bool, numpy.float32/float64/int64/bool scalars, and numpy arrays " \
    "of float64, float32, int64 or bool with ndim >= 1"


def scalar_of_dtype(dtype: np.dtype) -> ScalarType | None:
    return _DTYPE_TO_SCALAR.get(np.dtype(dtype))


def typeof(value: object) -> ValueType:
    """The type a Python argument value is specialized on; TypeError if unsupported."""
    if isinstance(value, bool | np.bool_):
        return BOOL
    if isinstance(value, int | np.integer) and not isinstance(value, np.uint64):
        return I64
    if isinstance(value, np.float32):
        return F32
    if isinstance(value, float | np.floating):
        return F64
    if isinstance(value, np.ndarray):
        scalar = scalar_of_dtype(value.dtype)
        if scalar is not None and value.ndim >= 1:
            return ArrayType(scalar, value.ndim)
        raise TypeError(
            f"unsupported array argument: dtype {value.dtype}, ndim {value.ndim}; "
            f"expected {SUPPORTED}"
        )
    if isinstance(value, tuple):
        return TupleType(tuple(typeof(v) for v in value))
    raise TypeError(f"unsupported argument type {type(value).__name__}; expected {SUPPORTED}")


def ir_type_to_value_type(attr) -> ValueType:
    """Inverse of `.ir` for scalar and array types."""
    from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType, MemRefType

    if isinstance(attr, MemRefType):
        return ArrayType(ir_type_to_value_type(attr.element_type), attr.get_num_dims())
    if isinstance(attr, Float64Type):
        return F64
    if isinstance(attr, Float32Type):
        return F32
    if isinstance(attr, IntegerType):
        return BOOL if attr.width.data == 1 else I64
    raise TypeError(f"no cofactor type for IR type {attr}")


_ALIASES = {"float": "f64", "float64": "f64", "double": "f64", "float32": "f32",
            "int": "i64", "int64": "i64", "b1": "bool", "i1": "bool"}
_SIG_ITEM = re.compile(r"^\s*(\w+)\s*(?:\[\s*((?::\s*,\s*)*:)\s*\])?\s*$")


def parse_signature(text: str) -> tuple[ValueType, ...]:
    """Parse "f64, f64[:,:], i64" into types; ValueError names the bad item."""
    types: list[ValueType] = []
    for item in filter(None, (s.strip() for s in _split_top(text))):
        match = _SIG_ITEM.match(item)
        name = _ALIASES.get(match.group(1), match.group(1)) if match else None
        if match is None or name not in SCALARS:
            raise ValueError(
                f"cannot parse signature item {item!r}; expected one of "
                f"{', '.join(SCALARS)} optionally followed by [:], [:,:], ..."
            )
        scalar = SCALARS[name]
        dims = match.group(2)
        types.append(ArrayType(scalar, dims.count(":")) if dims else scalar)
    return tuple(types)


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def is_differentiable(t: ValueType) -> bool:
    """Whether values of type `t` carry derivatives: floats and float arrays."""
    scalar = t.dtype if isinstance(t, ArrayType) else t
    return isinstance(scalar, ScalarType) and scalar.is_float
