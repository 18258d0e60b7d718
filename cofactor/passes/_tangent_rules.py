"""Derivative rules as tables, one per dialect, shared by forward and reverse mode.

As in Enzyme-MLIR's `*Derivatives.td`, an entry maps an op class to its local
partial derivatives, one per operand, each built from the primal op's operands
and result (`(emit, *operands, result)`), and only for the operands that carry
a derivative. Both modes combine the same partials:

    forward:  tangent    = sum_i  d_i * t_i
    reverse:  adjoint_i += d_i * ybar

A partial is an SSA value, or one of the markers `ZERO` (no dependence: a
condition, an integer, a rounding op), `ONE` / `NEG_ONE` (linear: no multiply;
`ONE` also converts between float widths, for extf/truncf), or `Where(cond,
when)`: 1 where `cond == when`, else 0 (select and min/max pass a derivative
through by a condition, so no multiply can turn 0 * inf into NaN).

Multiplying by a derivative is "checked" (`checked_mul`): a zero derivative
gives zero even when the partial is inf or NaN, as with Enzyme's strong zero
(a finite constant partial skips the check, it cannot make NaN). Singular
points are guarded as Enzyme does: sqrt at 0, hypot at 0, pow's exponent
derivative at base 0, powi with exponent 0 give 0.

Which products are checked. In reverse mode a zero adjoint reaches the
partials of a value that a select or max discarded, such as log(0) * y in
max(log(x) * y, -1), so reverse mode checks every product except one by a
`Finite` partial whose op's operands `_finite` proves finite when the
function's arguments are (and a division by a value at least some c > 0).
Forward mode does not check a
product whose rule entry is `Finite`: a partial that is finite wherever the
op's operands are finite (the other operand of mulf and fma, cos/sin, tanh,
tan, atan, asinh, erf, abs, copysign). So in both modes a zero derivative
stays zero at every point where an op's partial is inf or NaN at finite
operands (log, sqrt, cbrt, rsqrt, pow and powi at 0, a division by 0,
asin/acos/acosh/atanh at the edges, exp, sinh, cosh overflowing, ...);
what forward mode gives up is only a zero tangent times a `Finite` partial
whose operands are already inf or NaN (0 * inf in x * y with y = inf, cos at
x = inf: NaN); tests/test_forward.py checks both sides of the line. The
check sits on the tangent's dependency chain (compare, then select, after
the multiply), and the products by operands are the most common ones:
unchecking them halves vanderpol_rk4's jvp time (benchmarks/README.md).
In forward mode a second checked product of the same tangent tests it
with a compare of its own (`checked_mul(..., again=True)`).

Ops in `INACTIVE` never carry derivatives (integers, comparisons, index ops,
int-to-float conversions, runtime checks). scf and func.call are handled
structurally by the passes; `MEMREF_*` say how shadow arrays follow memref ops,
and `LIBM_CALLS` gives the rules of C library functions the frontend calls
(`func.call @fmod`). Adding an op is adding one entry.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xdsl.dialects import arith, func, math, memref, ub
from xdsl.dialects.builtin import AnyFloat, FloatAttr, IndexType, IntegerAttr, IntegerType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.dialects import rt


class _Marker:
    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return self.name


ZERO, ONE, NEG_ONE = _Marker("ZERO"), _Marker("ONE"), _Marker("NEG_ONE")


@dataclass(frozen=True)
class Where:
    """The partial that is 1 where `cond` equals `when` and 0 elsewhere."""

    cond: SSAValue
    when: bool


class Finite:
    """A rule entry whose partial is finite wherever the op's operands are
    finite (see the module docstring): forward mode multiplies by it unchecked."""

    def __init__(self, fn: Callable[..., SSAValue]):
        self.fn = fn

    def __call__(self, *args: SSAValue) -> SSAValue:
        return self.fn(*args)


Partial = SSAValue | _Marker | Where
# Builds one partial from the op's operands and result: (emit, *operands, result).
PartialFn = Callable[..., Partial]
# One entry per operand: a builder or a marker.
Rule = tuple[PartialFn | Finite | _Marker, ...]


class Emit:
    """Inserts the scalar ops of derivative code at one insertion point."""

    def __init__(self, point: InsertPoint):
        self.point = point
        self._consts: dict[tuple[str, Attribute], SSAValue] = {}
        self._cmps: dict[tuple[str, SSAValue, SSAValue], SSAValue] = {}
        self.uses: dict[SSAValue, int] = {}

    def insert(self, op: Operation) -> Operation:
        Rewriter.insert_op(op, self.point)
        return op

    def op(self, op: Operation) -> SSAValue:
        """Insert an op of one result; returns the result."""
        return self.insert(op).results[0]

    def const(self, value: float, like: SSAValue | Attribute) -> SSAValue:
        """A constant of the type of `like`, made once per insertion point."""
        t = like.type if isinstance(like, SSAValue) else like
        key = (repr(value), t)  # repr keeps -0.0 apart from 0.0
        if key not in self._consts:
            integer = isinstance(t, IntegerType | IndexType)
            attr = IntegerAttr(int(value), t) if integer else FloatAttr(value, t)
            self._consts[key] = self.op(arith.ConstantOp(attr))
        return self._consts[key]

    def add(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.op(arith.AddfOp(a, b))

    def sub(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.op(arith.SubfOp(a, b))

    def mul(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.op(arith.MulfOp(a, b))

    def div(self, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.op(arith.DivfOp(a, b))

    def neg(self, a: SSAValue) -> SSAValue:
        return self.op(arith.NegfOp(a))

    def recip(self, a: SSAValue) -> SSAValue:
        return self.div(self.const(1.0, a), a)

    def square(self, a: SSAValue) -> SSAValue:
        return self.mul(a, a)

    def cmp(self, pred: str, a: SSAValue, b: SSAValue) -> SSAValue:
        """A comparison, made once per insertion point (so that the partials of
        min/max share their condition)."""
        key = (pred, a, b)
        if key not in self._cmps:
            self._cmps[key] = self.op(arith.CmpfOp(a, b, pred))
        return self._cmps[key]

    def is_zero(self, a: SSAValue) -> SSAValue:
        if isinstance(a.type, IntegerType):
            return self.op(arith.CmpiOp(a, self.const(0, a), "eq"))
        return self.cmp("oeq", a, self.const(0.0, a))

    def select(self, c: SSAValue, a: SSAValue, b: SSAValue) -> SSAValue:
        return self.op(arith.SelectOp(c, a, b))

    def zero_where(self, c: SSAValue, a: SSAValue) -> SSAValue:
        """`a`, or 0 where `c` holds: the guard of a singular point."""
        return self.select(c, self.const(0.0, a), a)

    def apply(self, cls: type[Operation], *args: SSAValue) -> SSAValue:
        """The result of a new `cls(*args)` (a math op)."""
        return self.op(cls(*args))

    def convert(self, a: SSAValue, t: Attribute) -> SSAValue:
        """`a` as float type `t` (extf/truncf), unchanged if it already is."""
        if a.type == t:
            return a
        assert isinstance(a.type, AnyFloat) and isinstance(t, AnyFloat)
        cls = arith.ExtFOp if t.bitwidth > a.type.bitwidth else arith.TruncFOp
        return self.op(cls(a, t))


_SMALLEST = {16: 6e-8, 32: 1.4e-45, 64: 5e-324}  # the smallest subnormal per width


def checked_mul(e: Emit, d: SSAValue, t: SSAValue, again: bool = False,
                finite: bool = False) -> SSAValue:
    """`d * t`, but 0 where the derivative `t` is 0, so that an infinite or NaN
    partial times a zero derivative stays 0. A finite constant partial needs
    no check.

    `again`: a further product of the same `t`, which tests t = 0 as |t| < the
    smallest subnormal: the same test (unless the CPU treats subnormal inputs
    as zero), but a compare of its own, which LLVM does not merge with the
    first (LLVM's x86 backend routes a float compare with several users
    through general registers, several cycles on the dependency chain).

    `finite`: the caller knows `d` is finite where the op's operands are (see
    `FINITE`), and wants no check."""
    product = e.mul(d, t)
    if finite:
        return product
    owner = d.owner
    if isinstance(owner, arith.ConstantOp) and isinstance(owner.value, FloatAttr):
        if pymath.isfinite(owner.value.value.data):
            return product
    if again:
        tiny = e.const(_SMALLEST[t.type.bitwidth], t)
        return e.zero_where(e.op(arith.CmpfOp(e.apply(math.AbsFOp, t), tiny, "olt")), product)
    return e.zero_where(e.is_zero(t), product)


# --------------------------------------------------------------------------
# arith


def _min_max(pred: str, when: bool) -> PartialFn:
    """Operand 1 is taken where `pred(a, b)` holds, operand 0 elsewhere."""
    return lambda e, a, b, y: Where(e.cmp(pred, a, b), when)


ARITH: dict[type[Operation], Rule] = {
    arith.AddfOp: (ONE, ONE),
    arith.SubfOp: (ONE, NEG_ONE),
    arith.NegfOp: (NEG_ONE,),
    arith.MulfOp: (Finite(lambda e, a, b, y: b), Finite(lambda e, a, b, y: a)),
    arith.DivfOp: (lambda e, a, b, y: e.recip(b), lambda e, a, b, y: e.neg(e.div(y, b))),
    arith.ExtFOp: (ONE,),
    arith.TruncFOp: (ONE,),
    arith.SelectOp: (ZERO, lambda e, c, a, b, y: Where(c, True),
                     lambda e, c, a, b, y: Where(c, False)),
    arith.MaximumfOp: (_min_max("olt", False), _min_max("olt", True)),
    arith.MaxnumfOp: (_min_max("olt", False), _min_max("olt", True)),
    arith.MinimumfOp: (_min_max("ogt", False), _min_max("ogt", True)),
    arith.MinnumfOp: (_min_max("ogt", False), _min_max("ogt", True)),
}


# --------------------------------------------------------------------------
# math: x is the operand, y the result


def _rsqrt_of(e: Emit, x: SSAValue, shift: float, sign: float) -> SSAValue:
    """1 / sqrt(shift + sign * x^2), the derivative of the inverse sine and the
    inverse hyperbolic functions (asin: shift 1, sign -1; asinh: 1, 1; acosh: -1, 1)."""
    x2 = e.square(x)
    inner = e.add(e.const(shift, x), x2) if sign > 0 else e.sub(e.const(shift, x), x2)
    return e.recip(e.apply(math.SqrtOp, inner))


def _one_over_1_plus(e: Emit, x: SSAValue, sign: float) -> SSAValue:
    x2 = e.square(x)
    one = e.const(1.0, x)
    return e.recip(e.add(one, x2) if sign > 0 else e.sub(one, x2))


def _log_base(ln_base: float) -> Rule:
    return (lambda e, x, y: e.recip(e.mul(x, e.const(ln_base, x))),)


def _sign(e: Emit, x: SSAValue) -> SSAValue:
    return e.apply(math.CopySignOp, e.const(1.0, x), x)


def _fpowi(e: Emit, x: SSAValue, n: SSAValue, y: SSAValue) -> SSAValue:
    """n * x^(n-1), and 0 for n = 0 (x^-1 is infinite at x = 0)."""
    power = e.op(math.FPowIOp(x, e.op(arith.SubiOp(n, e.const(1, n)))))
    d = e.mul(e.op(arith.SIToFPOp(n, x.type)), power)
    return e.select(e.is_zero(n), e.const(0.0, x), d)


_ZERO_DERIVATIVE: Rule = (ZERO,)

MATH: dict[type[Operation], Rule] = {
    math.SinOp: (Finite(lambda e, x, y: e.apply(math.CosOp, x)),),
    math.CosOp: (Finite(lambda e, x, y: e.neg(e.apply(math.SinOp, x))),),
    # |tan x| < 1.7e16 at every finite double x
    math.TanOp: (Finite(lambda e, x, y: e.add(e.const(1.0, y), e.square(y))),),
    math.SinhOp: (lambda e, x, y: e.apply(math.CoshOp, x),),
    math.CoshOp: (lambda e, x, y: e.apply(math.SinhOp, x),),
    math.TanhOp: (Finite(lambda e, x, y: e.sub(e.const(1.0, y), e.square(y))),),
    math.AsinOp: (lambda e, x, y: _rsqrt_of(e, x, 1.0, -1.0),),
    math.AcosOp: (lambda e, x, y: e.neg(_rsqrt_of(e, x, 1.0, -1.0)),),
    math.AtanOp: (Finite(lambda e, x, y: _one_over_1_plus(e, x, 1.0)),),
    math.AsinhOp: (Finite(lambda e, x, y: _rsqrt_of(e, x, 1.0, 1.0)),),
    math.AcoshOp: (lambda e, x, y: _rsqrt_of(e, x, -1.0, 1.0),),
    math.AtanhOp: (lambda e, x, y: _one_over_1_plus(e, x, -1.0),),
    # atan2(a, b): b / (a^2 + b^2), -a / (a^2 + b^2)
    math.Atan2Op: (lambda e, a, b, y: e.div(b, e.add(e.square(a), e.square(b))),
                   lambda e, a, b, y: e.neg(e.div(a, e.add(e.square(a), e.square(b))))),
    math.ExpOp: (lambda e, x, y: y,),
    math.Exp2Op: (lambda e, x, y: e.mul(y, e.const(pymath.log(2.0), y)),),
    math.ExpM1Op: (lambda e, x, y: e.add(y, e.const(1.0, y)),),
    math.LogOp: (lambda e, x, y: e.recip(x),),
    math.Log1pOp: (lambda e, x, y: e.recip(e.add(e.const(1.0, x), x)),),
    math.Log2Op: _log_base(pymath.log(2.0)),
    math.Log10Op: _log_base(pymath.log(10.0)),
    math.SqrtOp: (lambda e, x, y: e.zero_where(e.is_zero(x), e.div(e.const(0.5, y), y)),),
    math.RsqrtOp: (lambda e, x, y: e.mul(e.const(-0.5, y), e.mul(y, e.square(y))),),
    math.CbrtOp: (lambda e, x, y: e.recip(e.mul(e.const(3.0, y), e.square(y))),),
    math.ErfOp: (Finite(lambda e, x, y: e.mul(e.const(2.0 / pymath.sqrt(pymath.pi), x),
                                              e.apply(math.ExpOp, e.neg(e.square(x))))),),
    math.AbsFOp: (Finite(lambda e, x, y: e.select(e.cmp("olt", x, e.const(0.0, x)),
                                                  e.const(-1.0, x), e.const(1.0, x))),),
    # copysign(a, b) = |a| sign(b): sign(a) sign(b), and 0 for b
    math.CopySignOp: (Finite(lambda e, a, b, y: e.mul(_sign(e, a), _sign(e, b))), ZERO),
    # pow(x, p): p x^(p-1), 0 for p = 0; y log x, 0 for x = 0
    math.PowFOp: (
        lambda e, x, p, y: e.zero_where(e.is_zero(p), e.mul(
            p, e.apply(math.PowFOp, x, e.sub(p, e.const(1.0, p))))),
        lambda e, x, p, y: e.zero_where(e.is_zero(x), e.mul(y, e.apply(math.LogOp, x))),
    ),
    math.FPowIOp: (_fpowi, ZERO),
    math.FmaOp: (Finite(lambda e, a, b, c, y: b), Finite(lambda e, a, b, c, y: a), ONE),
    math.FloorOp: _ZERO_DERIVATIVE,
    math.CeilOp: _ZERO_DERIVATIVE,
    math.TruncOp: _ZERO_DERIVATIVE,
    math.RoundOp: _ZERO_DERIVATIVE,
    math.RoundEvenOp: _ZERO_DERIVATIVE,
}


# --------------------------------------------------------------------------
# func: calls of C library declarations, by callee name (f32 names end in f)


def _hypot(e: Emit, v: SSAValue, y: SSAValue) -> SSAValue:
    """v / hypot(a, b), and 0 at the origin."""
    return e.zero_where(e.is_zero(y), e.div(v, y))


LIBM_CALLS: dict[str, Rule] = {}
for _name, _rule in (
    # fmod(a, b) = a - trunc(a / b) * b
    ("fmod", (ONE, lambda e, a, b, y: e.neg(e.apply(math.TruncOp, e.div(a, b))))),
    ("hypot", (lambda e, a, b, y: _hypot(e, a, y), lambda e, a, b, y: _hypot(e, b, y))),
):
    LIBM_CALLS[_name] = LIBM_CALLS[_name + "f"] = _rule


def rule_for(op: Operation) -> Rule | None:
    """The derivative rule of `op`, None if there is none."""
    if isinstance(op, func.CallOp):
        return LIBM_CALLS.get(op.callee.root_reference.data)
    return ARITH.get(type(op)) or MATH.get(type(op))


def finite_partials(rule: Rule) -> list[bool]:
    """Which entries of `rule` are `Finite`."""
    return [isinstance(entry, Finite) for entry in rule]


def partials(e: Emit, rule: Rule, op: Operation, wanted: Sequence[bool]) -> list[Partial]:
    """The partials of `op` by `rule`, built only for the `wanted` operands
    (ZERO for the others)."""
    return [
        ZERO if not want else entry if isinstance(entry, _Marker)
        else entry(e, *op.operands, *op.results)
        for entry, want in zip(rule, wanted, strict=True)
    ]


# --------------------------------------------------------------------------
# memref: how a shadow array follows its primal

# The result aliases operand 0: the shadow is the same op on the shadow.
MEMREF_VIEWS: tuple[type[Operation], ...] = (
    memref.CastOp, memref.SubviewOp, memref.ReinterpretCastOp, memref.ExpandShapeOp,
    memref.CollapseShapeOp,
)
# A new array: its shadow is a new zero-filled array of the same shape.
MEMREF_ALLOCS: tuple[type[Operation], ...] = (memref.AllocOp, memref.AllocaOp)
# Frees its operand: the shadow is freed too.
MEMREF_FREES: tuple[type[Operation], ...] = (memref.DeallocOp,)


# --------------------------------------------------------------------------
# ops that never carry a derivative

INACTIVE: frozenset[type[Operation]] = frozenset({
    arith.ConstantOp, arith.CmpfOp, arith.CmpiOp,
    arith.AddiOp, arith.SubiOp, arith.MuliOp, arith.DivSIOp, arith.DivUIOp, arith.RemSIOp,
    arith.RemUIOp, arith.FloorDivSIOp, arith.CeilDivSIOp, arith.CeilDivUIOp,
    arith.AndIOp, arith.OrIOp, arith.XOrIOp, arith.ShLIOp, arith.ShRSIOp, arith.ShRUIOp,
    arith.MaxSIOp, arith.MinSIOp, arith.MaxUIOp, arith.MinUIOp,
    arith.MulSIExtendedOp, arith.MulUIExtendedOp, arith.AddUIExtendedOp,
    arith.ExtSIOp, arith.ExtUIOp, arith.TruncIOp, arith.IndexCastOp,
    arith.SIToFPOp, arith.UIToFPOp, arith.FPToSIOp, arith.FPToUIOp,
    math.AbsIOp, math.IPowIOp, math.CountLeadingZerosOp, math.CountTrailingZerosOp,
    math.CtPopOp,
    memref.DimOp, ub.PoisonOp,
    rt.CheckIndexOp, rt.RaiseIfOp, rt.CtxOp,
})
