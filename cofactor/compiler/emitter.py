"""Emits typed IR for Python's scalar semantics.

The frontend walks the AST; this class knows how each Python operation on
typed values becomes arith/math ops: promotion, floor division and modulo that
round toward minus infinity, `**`, comparisons, truthiness. It appends to the
current block, which the frontend switches with `at(block)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from xdsl.dialects import arith, func
from xdsl.dialects import math as mathd
from xdsl.dialects.builtin import FloatAttr, IndexType, IntegerAttr, ModuleOp
from xdsl.dialects.ub import PoisonOp
from xdsl.ir import Block, Operation, SSAValue

from cofactor.compiler.types import (
    BOOL,
    F32,
    F64,
    I64,
    NONE,
    ArrayType,
    ScalarType,
    TupleType,
    ValueType,
)


@dataclass(frozen=True)
class Val:
    """A typed value: an SSA value, or a compile-time tuple of values."""

    ssa: SSAValue | None
    type: ValueType
    items: tuple[Val, ...] = ()
    # A known lower bound of an integer, so that indexing can skip the
    # negative-index wrap where it cannot apply (a range loop index plus 1).
    lower: int | None = None

    @staticmethod
    def tuple(items: tuple[Val, ...]) -> Val:
        return Val(None, TupleType(tuple(v.type for v in items)), items)


NONE_VAL = Val(None, NONE)

_FLOAT_CMP = {"eq": "oeq", "ne": "une", "lt": "olt", "le": "ole", "gt": "ogt", "ge": "oge"}
_INT_CMP = {"eq": "eq", "ne": "ne", "lt": "slt", "le": "sle", "gt": "sgt", "ge": "sge"}

UNARY_MATH = {
    "sqrt": mathd.SqrtOp, "sin": mathd.SinOp, "cos": mathd.CosOp, "tan": mathd.TanOp,
    "asin": mathd.AsinOp, "acos": mathd.AcosOp, "atan": mathd.AtanOp,
    "sinh": mathd.SinhOp, "cosh": mathd.CoshOp, "tanh": mathd.TanhOp,
    "asinh": mathd.AsinhOp, "acosh": mathd.AcoshOp, "atanh": mathd.AtanhOp,
    "exp": mathd.ExpOp, "expm1": mathd.ExpM1Op, "exp2": mathd.Exp2Op,
    "log": mathd.LogOp, "log1p": mathd.Log1pOp, "log2": mathd.Log2Op, "log10": mathd.Log10Op,
    "fabs": mathd.AbsFOp, "erf": mathd.ErfOp, "cbrt": mathd.CbrtOp, "trunc": mathd.TruncOp,
}
BINARY_MATH = {"atan2": mathd.Atan2Op, "pow": mathd.PowFOp, "copysign": mathd.CopySignOp}
LIBM_BINARY = ("hypot", "fmod")
NEGATIVE_POWER = ("integers to negative integer powers are not supported in compiled code; "
                  "make the base or the exponent a float")
LIBM_UNARY = {"lgamma": "lgamma", "gamma": "tgamma", "erfc": "erfc"}


class Emitter:
    def __init__(self, module: ModuleOp, message_index: Callable[[str], int]):
        self.module = module
        self.message_index = message_index
        self.block: Block | None = None

    # -- insertion -------------------------------------------------------
    def op(self, op: Operation) -> Operation:
        assert self.block is not None
        self.block.add_op(op)
        return op

    def res(self, op: Operation) -> SSAValue:
        return self.op(op).results[0]

    @contextmanager
    def at(self, block: Block) -> Iterator[Block]:
        saved, self.block = self.block, block
        try:
            yield block
        finally:
            self.block = saved

    # -- constants and conversions -------------------------------------
    def const(self, value: float | int | bool, t: ScalarType) -> Val:
        if t is BOOL:
            attr = IntegerAttr(int(bool(value)), BOOL.ir)
        elif t.is_float:
            attr = FloatAttr(float(value), t.ir)
        else:
            attr = IntegerAttr(int(value), I64.ir, truncate_bits=True)
            return Val(self.res(arith.ConstantOp(attr)), t, lower=int(value))
        return Val(self.res(arith.ConstantOp(attr)), t)

    def poison(self, t: ValueType) -> Val:
        if isinstance(t, TupleType):
            return Val.tuple(tuple(self.poison(e) for e in t.elements))
        return Val(self.res(PoisonOp(t.ir)), t)

    def cast(self, v: Val, t: ValueType) -> Val:
        """Convert a scalar to another scalar type, as Python's int()/float() do."""
        if v.type == t:
            return v
        if not (isinstance(v.type, ScalarType) and isinstance(t, ScalarType)):
            raise TypeError(f"cannot convert {v.type} to {t}")
        src, s = v.type, v.ssa
        if t is BOOL:
            return self.truth(v)
        if src is BOOL:
            s = self.res(arith.ExtUIOp(s, I64.ir))
            src = I64
            if t is I64:
                return Val(s, I64)
        if t.is_float and src.is_float:
            cls = arith.ExtFOp if t is F64 else arith.TruncFOp
            return Val(self.res(cls(s, t.ir)), t)
        if t.is_float:
            return Val(self.res(arith.SIToFPOp(s, t.ir)), t)
        return Val(self.res(arith.FPToSIOp(s, t.ir)), t)

    def truth(self, v: Val) -> Val:
        """Python truthiness of a scalar as an i1."""
        if v.type is BOOL:
            return v
        if not isinstance(v.type, ScalarType):
            raise TypeError(f"truth value of {v.type} is ambiguous")
        zero = self.const(0, v.type)
        return self.compare("ne", v, zero)

    def to_index(self, v: Val) -> SSAValue:
        return self.res(arith.IndexCastOp(self.cast(v, I64).ssa, IndexType()))

    def from_index(self, s: SSAValue, lower: int | None = None) -> Val:
        return Val(self.res(arith.IndexCastOp(s, I64.ir)), I64, lower=lower)

    # -- arithmetic ------------------------------------------------------
    def binary(self, opname: str, a: Val, b: Val) -> Val:
        """A Python binary operator on two scalars."""
        if opname == "div":
            t = a.type if a.type == b.type and a.type is F32 else F64
            a, b = self.cast(a, t), self.cast(b, t)
            return Val(self.res(arith.DivfOp(a.ssa, b.ssa)), t)
        if opname == "pow":
            return self.power(a, b)
        t = _promote(a.type, b.type)
        if opname in ("and", "or", "xor", "lshift", "rshift"):
            if t.is_float:
                raise TypeError(f"bitwise operator on {t}")
            if t is BOOL and opname in ("lshift", "rshift"):
                t = I64
            a, b = self.cast(a, t), self.cast(b, t)
            cls = {"and": arith.AndIOp, "or": arith.OrIOp, "xor": arith.XOrIOp,
                   "lshift": arith.ShLIOp, "rshift": arith.ShRSIOp}[opname]
            return Val(self.res(cls(a.ssa, b.ssa)), t)
        if t is BOOL:
            t = I64
        a, b = self.cast(a, t), self.cast(b, t)
        if opname in ("add", "sub", "mul"):
            cls = {
                "add": (arith.AddfOp, arith.AddiOp), "sub": (arith.SubfOp, arith.SubiOp),
                "mul": (arith.MulfOp, arith.MuliOp),
            }[opname][0 if t.is_float else 1]
            return Val(self.res(cls(a.ssa, b.ssa)), t, lower=_lower_bound(opname, a, b))
        if opname == "floordiv":
            return self.float_floordiv(a, b) if t.is_float else self.int_floordiv(a, b)
        if opname == "mod":
            return self.float_mod(a, b) if t.is_float else self.int_mod(a, b)
        raise TypeError(f"unsupported operator {opname}")

    def select(self, cond: Val, a: Val, b: Val) -> Val:
        return Val(self.res(arith.SelectOp(cond.ssa, a.ssa, b.ssa)), a.type)

    def _safe_divisor(self, b: Val) -> tuple[Val, Val, Val]:
        """Divisor with 0 and -1 replaced by 1 (both trap in LLVM), and the two tests."""
        zero, one, minus_one = self.const(0, I64), self.const(1, I64), self.const(-1, I64)
        is_zero = self.compare("eq", b, zero)
        is_minus_one = self.compare("eq", b, minus_one)
        bad = Val(self.res(arith.OrIOp(is_zero.ssa, is_minus_one.ssa)), BOOL)
        return self.select(bad, one, b), is_zero, is_minus_one

    def int_floordiv(self, a: Val, b: Val) -> Val:
        self.raise_on_zero(b)
        safe, _, is_minus_one = self._safe_divisor(b)
        q = Val(self.res(arith.FloorDivSIOp(a.ssa, safe.ssa)), I64)
        neg = Val(self.res(arith.SubiOp(self.const(0, I64).ssa, a.ssa)), I64)
        result = self.select(is_minus_one, neg, q)
        if a.lower is not None and a.lower >= 0 and b.lower is not None and b.lower > 0:
            return Val(result.ssa, I64, lower=0)
        return result

    def int_mod(self, a: Val, b: Val) -> Val:
        self.raise_on_zero(b)
        safe, _, is_minus_one = self._safe_divisor(b)
        r = Val(self.res(arith.RemSIOp(a.ssa, safe.ssa)), I64)
        zero = self.const(0, I64)
        sign_differs = self.compare("lt", Val(self.res(arith.XOrIOp(r.ssa, b.ssa)), I64), zero)
        nonzero = self.compare("ne", r, zero)
        adjust = Val(self.res(arith.AndIOp(sign_differs.ssa, nonzero.ssa)), BOOL)
        r = self.select(adjust, Val(self.res(arith.AddiOp(r.ssa, b.ssa)), I64), r)
        result = self.select(is_minus_one, zero, r)
        return Val(result.ssa, I64, lower=0) if b.lower is not None and b.lower > 0 else result

    def raise_negative_power(self, b: Val) -> None:
        """int ** int is an int here; Python would give a float for a negative
        exponent, so that case is an error rather than a wrong answer."""
        from cofactor.dialects.rt import RaiseIfOp

        cond = self.compare("lt", b, self.const(0, I64))
        self.op(RaiseIfOp(cond.ssa, code=4, info=self.message_index(NEGATIVE_POWER)))

    def raise_on_zero(self, b: Val) -> None:
        from cofactor.dialects.rt import RaiseIfOp

        cond = self.compare("eq", b, self.const(0, b.type))
        self.op(RaiseIfOp(cond.ssa, code=2, info=0))

    def libm(self, name: str, args: list[Val], t: ScalarType) -> Val:
        """Call a C math function with no math-dialect op, declaring it once."""
        sym = name if t is F64 else name + "f"
        block = self.module.body.block
        if not any(isinstance(o, func.FuncOp) and o.sym_name.data == sym for o in block.ops):
            block.add_op(func.FuncOp.external(sym, [t.ir] * len(args), [t.ir]))
        call = func.CallOp(sym, [self.cast(a, t).ssa for a in args], [t.ir])
        return Val(self.res(call), t)

    def float_mod(self, a: Val, b: Val) -> Val:
        """CPython's float modulo: the result has the sign of the divisor."""
        t = a.type
        r = self.libm("fmod", [a, b], t)
        zero = self.const(0.0, t)
        nonzero = self.compare("ne", r, zero)
        r_neg = self.compare("lt", r, zero)
        b_neg = self.compare("lt", b, zero)
        differs = Val(self.res(arith.XOrIOp(r_neg.ssa, b_neg.ssa)), BOOL)
        adjust = Val(self.res(arith.AndIOp(nonzero.ssa, differs.ssa)), BOOL)
        r2 = self.select(adjust, Val(self.res(arith.AddfOp(r.ssa, b.ssa)), t), r)
        signed_zero = Val(self.res(mathd.CopySignOp(zero.ssa, b.ssa)), t)
        return self.select(nonzero, r2, signed_zero)

    def float_floordiv(self, a: Val, b: Val) -> Val:
        """CPython's float floor division (floatobject.c's float_floor_div)."""
        t = a.type
        mod = self.libm("fmod", [a, b], t)
        zero, one, half = self.const(0.0, t), self.const(1.0, t), self.const(0.5, t)
        div = Val(self.res(arith.DivfOp(self.res(arith.SubfOp(a.ssa, mod.ssa)), b.ssa)), t)
        mod_nonzero = self.compare("ne", mod, zero)
        differs = Val(self.res(arith.XOrIOp(self.compare("lt", b, zero).ssa,
                                            self.compare("lt", mod, zero).ssa)), BOOL)
        adjust = Val(self.res(arith.AndIOp(mod_nonzero.ssa, differs.ssa)), BOOL)
        div = self.select(adjust, Val(self.res(arith.SubfOp(div.ssa, one.ssa)), t), div)
        floored = Val(self.res(mathd.FloorOp(div.ssa)), t)
        frac = Val(self.res(arith.SubfOp(div.ssa, floored.ssa)), t)
        bump = self.compare("gt", frac, half)
        floored = self.select(bump, Val(self.res(arith.AddfOp(floored.ssa, one.ssa)), t), floored)
        quotient = Val(self.res(arith.DivfOp(a.ssa, b.ssa)), t)
        signed_zero = Val(self.res(mathd.CopySignOp(zero.ssa, quotient.ssa)), t)
        return self.select(self.compare("ne", div, zero), floored, signed_zero)

    def power(self, a: Val, b: Val, exponent_const: object = None) -> Val:
        """Python `**`: int**int stays int, a float side or negative constant gives float."""
        if isinstance(a.type, ScalarType) and isinstance(b.type, ScalarType):
            if not a.type.is_float and not b.type.is_float:
                if isinstance(exponent_const, int) and exponent_const < 0:
                    return self.power(self.cast(a, F64), b)
                a, b = self.cast(a, I64), self.cast(b, I64)
                if b.lower is None or b.lower < 0:
                    self.raise_negative_power(b)
                return Val(self.res(mathd.IPowIOp(a.ssa, b.ssa)), I64)
            if not b.type.is_float:
                exponent = self.cast(b, I64)
                return Val(self.res(mathd.FPowIOp(a.ssa, exponent.ssa)), a.type)
            t = _promote(a.type, b.type)
            a, b = self.cast(a, t), self.cast(b, t)
            return Val(self.res(mathd.PowFOp(a.ssa, b.ssa)), t)
        raise TypeError(f"unsupported operand types for **: {a.type} and {b.type}")

    def negate(self, v: Val) -> Val:
        if v.type is BOOL:
            v = self.cast(v, I64)
        if v.type.is_float:
            return Val(self.res(arith.NegfOp(v.ssa)), v.type)
        return Val(self.res(arith.SubiOp(self.const(0, I64).ssa, v.ssa)), I64)

    def invert(self, v: Val) -> Val:
        if v.type is BOOL:
            v = self.cast(v, I64)
        if v.type.is_float:
            raise TypeError("bad operand type for unary ~: 'float'")
        return Val(self.res(arith.XOrIOp(v.ssa, self.const(-1, I64).ssa)), I64)

    def logical_not(self, v: Val) -> Val:
        t = self.truth(v)
        return Val(self.res(arith.XOrIOp(t.ssa, self.const(True, BOOL).ssa)), BOOL)

    def compare(self, pred: str, a: Val, b: Val) -> Val:
        if {a.type, b.type} == {I64, F64}:
            return self.compare_int_float(pred, a, b)
        t = _promote(a.type, b.type)
        a, b = self.cast(a, t), self.cast(b, t)
        if t.is_float:
            return Val(self.res(arith.CmpfOp(a.ssa, b.ssa, _FLOAT_CMP[pred])), BOOL)
        if t is BOOL:
            if pred in ("eq", "ne"):
                return Val(self.res(arith.CmpiOp(a.ssa, b.ssa, pred)), BOOL)
            a, b = self.cast(a, I64), self.cast(b, I64)
        return Val(self.res(arith.CmpiOp(a.ssa, b.ssa, _INT_CMP[pred])), BOOL)

    def compare_int_float(self, pred: str, a: Val, b: Val) -> Val:
        """Compare an int with a float exactly, as Python does, not through rounding."""
        swapped = a.type is F64
        i, f = (b, a) if swapped else (a, b)
        if swapped:
            pred = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}.get(pred, pred)
        fi = self.cast(i, F64)
        by_float = Val(self.res(arith.CmpfOp(fi.ssa, f.ssa, _FLOAT_CMP[pred])), BOOL)
        rounded = Val(self.res(arith.CmpfOp(fi.ssa, f.ssa, "une")), BOOL)
        beyond = self.compare("ge", f, self.const(2.0**63, F64))
        by_int = Val(self.res(arith.CmpiOp(i.ssa, self.cast(f, I64).ssa, _INT_CMP[pred])), BOOL)
        below = self.const(pred in ("lt", "le", "ne"), BOOL)
        exact = self.select(beyond, below, by_int)
        return self.select(rounded, by_float, exact)

    def abs(self, v: Val) -> Val:
        if v.type.is_float:
            return Val(self.res(mathd.AbsFOp(v.ssa)), v.type)
        v = self.cast(v, I64)
        return Val(self.res(mathd.AbsIOp(v.ssa)), I64)

    def min_max(self, which: str, a: Val, b: Val) -> Val:
        """Python's min/max: the first argument wins ties and NaN comparisons."""
        t = _promote(a.type, b.type)
        a, b = self.cast(a, t), self.cast(b, t)
        take_b = self.compare("lt" if which == "min" else "gt", b, a)
        return self.select(take_b, b, a)

    def math_unary(self, name: str, v: Val) -> Val:
        t = v.type if v.type is F32 else F64
        v = self.cast(v, t)
        if name in ("isnan", "isinf", "isfinite"):
            if name == "isnan":
                return Val(self.res(arith.CmpfOp(v.ssa, v.ssa, "uno")), BOOL)
            mag = self.res(mathd.AbsFOp(v.ssa))
            inf = self.const(math.inf, t).ssa
            return Val(self.res(arith.CmpfOp(mag, inf, "oeq" if name == "isinf" else "olt")),
                       BOOL)
        if name in LIBM_UNARY:
            return self.libm(LIBM_UNARY[name], [v], t)
        if name in ("floor", "ceil"):
            cls = mathd.FloorOp if name == "floor" else mathd.CeilOp
            return Val(self.res(cls(v.ssa)), t)
        return Val(self.res(UNARY_MATH[name](v.ssa)), t)

    def math_binary(self, name: str, a: Val, b: Val) -> Val:
        t = F32 if a.type is F32 and b.type is F32 else F64
        a, b = self.cast(a, t), self.cast(b, t)
        if name in LIBM_BINARY:
            return self.libm(name, [a, b], t)
        return Val(self.res(BINARY_MATH[name](a.ssa, b.ssa)), t)


def _lower_bound(opname: str, a: Val, b: Val) -> int | None:
    """A lower bound of an integer sum, difference or product, when one follows.

    Wrap-around is ignored: a bound only decides whether an array index can
    be negative, and an index near 2**63 is out of bounds either way."""
    la, lb = a.lower, b.lower
    if la is None or lb is None:
        return None
    if opname == "add":
        return la + lb
    if opname == "sub" and isinstance(b.ssa.owner, arith.ConstantOp):
        return la - lb
    if opname == "mul" and la >= 0 and lb >= 0:
        return la * lb
    return None


def _promote(a: ValueType, b: ValueType) -> ScalarType:
    if not (isinstance(a, ScalarType) and isinstance(b, ScalarType)):
        raise TypeError(f"unsupported operand types {a} and {b}")
    order = [BOOL, I64, F32, F64]
    return max(a, b, key=order.index)


def unify(a: ValueType, b: ValueType) -> ValueType:
    """The type a variable has where two control-flow paths merge."""
    if a == b:
        return a
    if isinstance(a, ScalarType) and isinstance(b, ScalarType):
        return _promote(a, b)
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.elements) == len(
        b.elements
    ):
        return TupleType(tuple(unify(x, y) for x, y in zip(a.elements, b.elements, strict=True)))
    raise TypeError(f"a variable is {a} on one path and {b} on another")


__all__ = ["Emitter", "Val", "NONE_VAL", "unify", "ArrayType"]
