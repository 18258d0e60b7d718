"""Property tests: compiled scalar operations agree with CPython.

Each operation is a tiny module-level function, compiled once per argument-type
specialization (the jit object caches them), while hypothesis drives the
values. Basic IEEE operations (+ - * /), floor division and modulo (CPython's
algorithm is implemented exactly), comparisons, min/max/abs and conversions
must agree bit for bit, signed zeros included; any NaN matches any NaN.
Functions that reach libm (math.*, ** with a float or runtime int exponent)
must agree to a relative 1e-12, with NaN, infinities and signed zeros exact.

Values stay inside the range where CPython neither raises nor leaves 64-bit
integers; the documented differences (wrapping, IEEE division by zero, NaN for
math domain errors) have explicit tests at the end.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import cofactor

SETTINGS = settings(max_examples=250, deadline=None)

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@functools.cache
def compiled(func: Callable) -> Callable:
    return cofactor.jit(func)


# ---------------------------------------------------------------------------
# The operations under test


def op_add(a, b):
    return a + b


def op_sub(a, b):
    return a - b


def op_mul(a, b):
    return a * b


def op_truediv(a, b):
    return a / b


def op_floordiv(a, b):
    return a // b


def op_mod(a, b):
    return a % b


def op_pow(a, b):
    return a ** b


def op_neg(a):
    return -a


def op_pos(a):
    return +a


def op_abs(a):
    return abs(a)


def op_not(a):
    return not a


def op_and(a, b):
    return a and b


def op_or(a, b):
    return a or b


def op_lt(a, b):
    return a < b


def op_le(a, b):
    return a <= b


def op_gt(a, b):
    return a > b


def op_ge(a, b):
    return a >= b


def op_eq(a, b):
    return a == b


def op_ne(a, b):
    return a != b


def op_chains(a, b, c):
    return a < b < c, a <= b >= c, a == b == c, a != b != c, a > b > c, a < b == c


def op_min2(a, b):
    return min(a, b)


def op_max2(a, b):
    return max(a, b)


def op_min3(a, b, c):
    return min(a, b, c)


def op_max3(a, b, c):
    return max(a, b, c)


def conv_int(x):
    return int(x)


def conv_float(x):
    return float(x)


def conv_bool(x):
    return bool(x)


def conv_round(x):
    return round(x)


def pow_square_const(x):
    return x ** 2


def pow_negative_const(x):
    return x ** -1


def pow_half_const(x):
    return x ** 0.5


def m_sin(x):
    return math.sin(x)


def m_cos(x):
    return math.cos(x)


def m_tan(x):
    return math.tan(x)


def m_asin(x):
    return math.asin(x)


def m_acos(x):
    return math.acos(x)


def m_atan(x):
    return math.atan(x)


def m_sinh(x):
    return math.sinh(x)


def m_cosh(x):
    return math.cosh(x)


def m_tanh(x):
    return math.tanh(x)


def m_asinh(x):
    return math.asinh(x)


def m_acosh(x):
    return math.acosh(x)


def m_atanh(x):
    return math.atanh(x)


def m_exp(x):
    return math.exp(x)


def m_expm1(x):
    return math.expm1(x)


def m_log(x):
    return math.log(x)


def m_log1p(x):
    return math.log1p(x)


def m_log2(x):
    return math.log2(x)


def m_log10(x):
    return math.log10(x)


def m_sqrt(x):
    return math.sqrt(x)


def m_fabs(x):
    return math.fabs(x)


def m_floor(x):
    return math.floor(x)


def m_ceil(x):
    return math.ceil(x)


def m_isnan(x):
    return math.isnan(x)


def m_isinf(x):
    return math.isinf(x)


def m_isfinite(x):
    return math.isfinite(x)


def np_sqrt(x):
    return np.sqrt(x)


def m_pow(x, y):
    return math.pow(x, y)


def m_atan2(y, x):
    return math.atan2(y, x)


def m_hypot(x, y):
    return math.hypot(x, y)


def m_copysign(x, y):
    return math.copysign(x, y)


def m_fmod(x, y):
    return math.fmod(x, y)


# ---------------------------------------------------------------------------
# Comparison helpers


def same_float(expected: float, got: float) -> bool:
    """Bit-exact up to NaN payloads: equal values with equal signs, or both NaN."""
    expected, got = float(expected), float(got)
    if math.isnan(expected):
        return math.isnan(got)
    return got == expected and math.copysign(1.0, got) == math.copysign(1.0, expected)


def close_float(expected: float, got: float, rtol: float = 1e-12) -> bool:
    """Within `rtol` for ordinary values; NaN, infinities and zeros exactly."""
    expected, got = float(expected), float(got)
    if math.isnan(expected) or math.isinf(expected) or expected == 0.0:
        return same_float(expected, got)
    return abs(got - expected) <= rtol * abs(expected)


def check_exact(func: Callable, *args: object) -> None:
    """`func` compiled gives CPython's result, same kind, floats bit for bit."""
    expected = func(*args)
    got = compiled(func)(*args)
    assert_exact(expected, got, f"{func.__name__}{args!r}")


def assert_exact(expected: object, got: object, where: str) -> None:
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected), f"{where}: {got!r}"
        for e, g in zip(expected, got, strict=True):
            assert_exact(e, g, where)
        return
    if isinstance(expected, bool):
        assert isinstance(got, bool | np.bool_) and got == expected, (
            f"{where}: expected {expected!r}, got {got!r}")
    elif isinstance(expected, int):
        assert isinstance(got, int | np.integer) and not isinstance(got, bool | np.bool_), (
            f"{where}: expected int {expected!r}, got {got!r}")
        assert got == expected, f"{where}: expected {expected!r}, got {got!r}"
    else:
        assert isinstance(got, float | np.floating), f"{where}: expected float, got {got!r}"
        assert same_float(expected, got), f"{where}: expected {expected!r}, got {got!r}"


def cpython_raises_or_is_complex(func: Callable, *args: object) -> bool:
    """Whether CPython refuses `func(*args)` (a documented difference) or leaves the reals."""
    try:
        return isinstance(func(*args), complex)
    except (ZeroDivisionError, OverflowError, ValueError):
        return True


def check_close(func: Callable, *args: object, rtol: float = 1e-12) -> None:
    expected = func(*args)
    got = compiled(func)(*args)
    assert isinstance(got, float | np.floating), f"{func.__name__}{args!r}: got {got!r}"
    assert close_float(expected, got, rtol), (
        f"{func.__name__}{args!r}: expected {expected!r}, got {got!r}")


# ---------------------------------------------------------------------------
# Strategies

any_float = st.floats(allow_nan=True, allow_infinity=True)
finite_float = st.floats(allow_nan=False, allow_infinity=False)
nonzero_float = any_float.filter(lambda v: v != 0.0)
# interesting values hypothesis should try often: signed zeros, infinities, NaN, ties
special_float = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.5, -2.5, math.inf,
                                 -math.inf, math.nan, 5e-324, -5e-324, 1.7976931348623157e308])
float_values = st.one_of(special_float, any_float)

int64 = st.integers(INT64_MIN, INT64_MAX)
additive_int = st.integers(-(2**62), 2**62 - 1)  # sums and differences fit in 64 bits
multiplicative_int = st.integers(-(2**31), 2**31)
exact_int = st.integers(-(2**53), 2**53)  # converts to float exactly
nonzero_int64 = int64.filter(lambda v: v != 0)
small_int = st.integers(-50, 50)

BINARY_OPS = {"add": op_add, "sub": op_sub, "mul": op_mul}


# ---------------------------------------------------------------------------
# int op int


@pytest.mark.parametrize("name", ["add", "sub"])
@SETTINGS
@given(a=additive_int, b=additive_int)
def test_int_add_sub(name: str, a: int, b: int) -> None:
    check_exact(BINARY_OPS[name], a, b)


@SETTINGS
@given(a=multiplicative_int, b=multiplicative_int)
def test_int_mul(a: int, b: int) -> None:
    check_exact(op_mul, a, b)


@SETTINGS
@given(a=int64, b=nonzero_int64)
def test_int_floordiv_mod(a: int, b: int) -> None:
    assume(not (a == INT64_MIN and b == -1))  # the one quotient that overflows
    check_exact(op_floordiv, a, b)
    check_exact(op_mod, a, b)


@SETTINGS
@given(a=st.integers(-1000, 1000), b=st.integers(-1000, 1000).filter(lambda v: v != 0))
def test_int_floordiv_mod_small(a: int, b: int) -> None:
    check_exact(op_floordiv, a, b)
    check_exact(op_mod, a, b)


@SETTINGS
@given(a=exact_int, b=exact_int.filter(lambda v: v != 0))
def test_int_truediv(a: int, b: int) -> None:
    check_exact(op_truediv, a, b)


@SETTINGS
@given(a=small_int, b=st.integers(0, 40))
def test_int_pow(a: int, b: int) -> None:
    assume(INT64_MIN <= a ** b <= INT64_MAX)
    check_exact(op_pow, a, b)


@SETTINGS
@given(a=st.integers(INT64_MIN + 1, INT64_MAX))
def test_int_unary(a: int) -> None:
    check_exact(op_neg, a)
    check_exact(op_pos, a)
    check_exact(op_abs, a)
    check_exact(op_not, a)


@SETTINGS
@given(a=int64, b=int64)
def test_int_comparisons(a: int, b: int) -> None:
    for op in (op_lt, op_le, op_gt, op_ge, op_eq, op_ne):
        check_exact(op, a, b)


@SETTINGS
@given(a=st.integers(-3, 3), b=st.integers(-3, 3), c=st.integers(-3, 3))
def test_int_chained_comparisons(a: int, b: int, c: int) -> None:
    check_exact(op_chains, a, b, c)


@SETTINGS
@given(a=st.integers(-3, 3) | int64, b=st.integers(-3, 3) | int64)
def test_int_and_or(a: int, b: int) -> None:
    check_exact(op_and, a, b)
    check_exact(op_or, a, b)


@SETTINGS
@given(a=int64, b=int64, c=int64)
def test_int_min_max(a: int, b: int, c: int) -> None:
    check_exact(op_min2, a, b)
    check_exact(op_max2, a, b)
    check_exact(op_min3, a, b, c)
    check_exact(op_max3, a, b, c)


# ---------------------------------------------------------------------------
# float op float


@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@SETTINGS
@given(a=float_values, b=float_values)
def test_float_add_sub_mul(name: str, a: float, b: float) -> None:
    check_exact(BINARY_OPS[name], a, b)


@SETTINGS
@given(a=float_values, b=float_values)
def test_float_truediv_floordiv_mod(a: float, b: float) -> None:
    assume(b != 0.0)  # CPython raises; see test_float_division_by_zero_is_ieee
    check_exact(op_truediv, a, b)
    check_exact(op_floordiv, a, b)
    check_exact(op_mod, a, b)


@SETTINGS
@given(a=st.integers(-10**6, 10**6).map(lambda v: v / 8),
       b=st.integers(-64, 64).filter(lambda v: v != 0).map(lambda v: v / 4))
def test_float_floordiv_mod_on_exact_quotients(a: float, b: float) -> None:
    # quotients land on and near integers, where floor division must round carefully
    check_exact(op_floordiv, a, b)
    check_exact(op_mod, a, b)
    check_exact(op_floordiv, -a, b)
    check_exact(op_mod, -a, b)


@SETTINGS
@given(a=float_values, b=float_values)
def test_float_pow(a: float, b: float) -> None:
    assume(not cpython_raises_or_is_complex(op_pow, a, b))
    check_close(op_pow, a, b)


@SETTINGS
@given(a=st.floats(-10.0, 10.0).filter(lambda v: v == 0.0 or abs(v) > 1e-3),
       n=st.integers(-60, 60))
def test_float_pow_int_exponent(a: float, n: int) -> None:
    assume(not (a == 0.0 and n < 0))
    check_close(op_pow, a, n)


@SETTINGS
@given(a=float_values)
def test_float_pow_constant_exponents(a: float) -> None:
    for func in (pow_square_const, pow_half_const, pow_negative_const):
        if not cpython_raises_or_is_complex(func, a):
            check_close(func, a)


@SETTINGS
@given(a=float_values)
def test_float_unary(a: float) -> None:
    check_exact(op_neg, a)
    check_exact(op_pos, a)
    check_exact(op_abs, a)
    check_exact(op_not, a)


@SETTINGS
@given(a=float_values, b=float_values)
def test_float_comparisons(a: float, b: float) -> None:
    for op in (op_lt, op_le, op_gt, op_ge, op_eq, op_ne):
        check_exact(op, a, b)


@SETTINGS
@given(a=special_float, b=special_float, c=special_float)
def test_float_chained_comparisons(a: float, b: float, c: float) -> None:
    check_exact(op_chains, a, b, c)


@SETTINGS
@given(a=float_values, b=float_values)
def test_float_and_or(a: float, b: float) -> None:
    check_exact(op_and, a, b)
    check_exact(op_or, a, b)


@SETTINGS
@given(a=float_values, b=float_values, c=float_values)
def test_float_min_max_abs_with_nan_and_signed_zero(a: float, b: float, c: float) -> None:
    check_exact(op_min2, a, b)
    check_exact(op_max2, a, b)
    check_exact(op_min3, a, b, c)
    check_exact(op_max3, a, b, c)
    check_exact(op_abs, c)


def test_min_max_nan_position() -> None:
    nan = math.nan
    assert math.isnan(compiled(op_max2)(nan, 1.0))
    assert compiled(op_max2)(1.0, nan) == 1.0
    assert math.isnan(compiled(op_min2)(nan, 1.0))
    assert compiled(op_min2)(1.0, nan) == 1.0
    assert math.copysign(1.0, compiled(op_max2)(-0.0, 0.0)) == -1.0
    assert math.copysign(1.0, compiled(op_min2)(0.0, -0.0)) == 1.0


def test_float32_arithmetic_stays_single_precision() -> None:
    values = np.random.default_rng(5).standard_normal(200).astype(np.float32)
    for a, b in zip(values[:-1], values[1:], strict=True):
        for op in (op_add, op_sub, op_mul, op_truediv):
            expected = op(a, b)
            got = compiled(op)(a, b)
            assert got == expected, f"{op.__name__}({a!r}, {b!r}): {expected!r} != {got!r}"


# ---------------------------------------------------------------------------
# mixed int and float, and bool


@pytest.mark.parametrize("name", ["add", "sub", "mul"])
@SETTINGS
@given(a=int64, b=float_values)
def test_mixed_add_sub_mul(name: str, a: int, b: float) -> None:
    check_exact(BINARY_OPS[name], a, b)
    check_exact(BINARY_OPS[name], b, a)


@SETTINGS
@given(a=int64, b=float_values)
def test_mixed_division(a: int, b: float) -> None:
    if b != 0.0:
        check_exact(op_truediv, a, b)
        check_exact(op_floordiv, a, b)
        check_exact(op_mod, a, b)
    if a != 0:
        check_exact(op_truediv, b, a)
        check_exact(op_floordiv, b, a)
        check_exact(op_mod, b, a)


@SETTINGS
@given(a=exact_int, b=float_values)
def test_mixed_comparisons(a: int, b: float) -> None:
    for op in (op_lt, op_le, op_gt, op_ge, op_eq, op_ne):
        check_exact(op, a, b)
        check_exact(op, b, a)


@st.composite
def int_and_nearby_float(draw: st.DrawFn) -> tuple[int, float]:
    """A 64-bit int and a float within a few ulps of it (or a special value)."""
    a = draw(int64 | st.sampled_from([INT64_MIN, INT64_MAX, 2**53 + 1, -(2**53) - 1]))
    b = float(a)
    for _ in range(draw(st.integers(0, 3))):
        b = math.nextafter(b, draw(st.sampled_from([math.inf, -math.inf])))
    return a, draw(st.just(b) | special_float)


@SETTINGS
@given(pair=int_and_nearby_float())
def test_mixed_comparisons_over_the_whole_int_range(pair: tuple[int, float]) -> None:
    a, b = pair
    for op in (op_lt, op_le, op_gt, op_ge, op_eq, op_ne):
        check_exact(op, a, b)
        check_exact(op, b, a)


@pytest.mark.parametrize(("a", "b"), [
    (2**53 + 1, 2.0**53), (2**63 - 1, 2.0**63), (-(2**63), -(2.0**63)), (2**60 + 1, 2.0**60),
])
def test_compare_large_int_with_float_is_exact(a: int, b: float) -> None:
    # CPython compares int and float exactly, without rounding the int to a float
    for op in (op_lt, op_le, op_gt, op_ge, op_eq, op_ne):
        check_exact(op, a, b)
        check_exact(op, b, a)


@SETTINGS
@given(a=exact_int, b=float_values)
def test_mixed_min_max_values(a: int, b: float) -> None:
    # CPython returns the winning object itself (int or float); compiled code returns the
    # promoted float, so only the value is compared
    for op in (op_min2, op_max2):
        for args in ((a, b), (b, a)):
            expected = op(*args)
            got = compiled(op)(*args)
            assert same_float(float(expected), float(got)), f"{op.__name__}{args}: {got!r}"


@pytest.mark.parametrize("a", [True, False])
@pytest.mark.parametrize("b", [True, False, 3, -2.5])
def test_bool_arithmetic(a: bool, b: bool | int | float) -> None:
    for op in (op_add, op_sub, op_mul, op_lt, op_eq):
        check_exact(op, a, b)
    if isinstance(b, bool):  # with other types, CPython's result type depends on the values
        for op in (op_and, op_or, op_min2, op_max2):
            check_exact(op, a, b)
    check_exact(op_neg, a)
    check_exact(op_abs, a)
    if b:
        check_exact(op_truediv, a, b)
        check_exact(op_floordiv, a, b)
        check_exact(op_mod, a, b)


# ---------------------------------------------------------------------------
# conversions


@SETTINGS
@given(x=st.floats(-9.2e18, 9.2e18) | st.sampled_from([-0.0, 0.5, -0.5, 0.999999, -1.5]))
def test_int_of_float_truncates(x: float) -> None:
    check_exact(conv_int, x)


@SETTINGS
@given(x=st.floats(-4.6e18, 4.6e18) | st.sampled_from([0.5, 1.5, 2.5, -0.5, -2.5, 3.5]))
def test_round_of_float_is_half_even(x: float) -> None:
    check_exact(conv_round, x)


@SETTINGS
@given(i=int64)
def test_int_conversions(i: int) -> None:
    check_exact(conv_float, i)
    check_exact(conv_int, i)
    check_exact(conv_bool, i)
    check_exact(conv_round, i)


@SETTINGS
@given(x=float_values)
def test_float_conversions(x: float) -> None:
    check_exact(conv_float, x)
    check_exact(conv_bool, x)


@pytest.mark.parametrize("b", [True, False])
def test_bool_conversions(b: bool) -> None:
    for f in (conv_int, conv_float, conv_bool, conv_round):
        check_exact(f, b)


# ---------------------------------------------------------------------------
# math functions over their domains

UNARY_DOMAINS = [
    (m_sin, st.floats(-1e6, 1e6)),
    (m_cos, st.floats(-1e6, 1e6)),
    (m_tan, st.floats(-1e6, 1e6)),
    (m_asin, st.floats(-1.0, 1.0)),
    (m_acos, st.floats(-1.0, 1.0)),
    (m_atan, float_values),
    (m_sinh, st.floats(-700.0, 700.0)),
    (m_cosh, st.floats(-700.0, 700.0)),
    (m_tanh, float_values),
    (m_asinh, float_values),
    (m_acosh, st.floats(1.0, math.inf)),
    (m_atanh, st.floats(-1.0, 1.0, exclude_min=True, exclude_max=True)),
    (m_exp, st.floats(-800.0, 709.0)),
    (m_expm1, st.floats(-800.0, 709.0)),
    (m_log, st.floats(0.0, math.inf, exclude_min=True)),
    (m_log1p, st.floats(-1.0, math.inf, exclude_min=True)),
    (m_log2, st.floats(0.0, math.inf, exclude_min=True)),
    (m_log10, st.floats(0.0, math.inf, exclude_min=True)),
    (m_sqrt, st.floats(0.0, math.inf) | st.just(-0.0)),
]


@pytest.mark.parametrize(("func", "domain"),
                         [pytest.param(f, d, id=f.__name__[2:]) for f, d in UNARY_DOMAINS])
def test_unary_math_functions(func: Callable, domain: st.SearchStrategy) -> None:
    @SETTINGS
    @given(x=domain | st.just(math.nan))
    def check(x: float) -> None:
        check_close(func, x)

    check()


@SETTINGS
@given(x=float_values)
def test_exact_math_functions(x: float) -> None:
    check_exact(m_fabs, x)
    check_exact(m_isnan, x)
    check_exact(m_isinf, x)
    check_exact(m_isfinite, x)


@SETTINGS
@given(x=st.floats(-4.6e18, 4.6e18))
def test_floor_ceil_return_ints(x: float) -> None:
    check_exact(m_floor, x)
    check_exact(m_ceil, x)


@SETTINGS
@given(x=float_values, y=float_values)
def test_binary_math_functions(x: float, y: float) -> None:
    check_close(m_atan2, x, y)
    check_close(m_hypot, x, y)
    check_exact(m_copysign, x, y)


@SETTINGS
@given(x=finite_float | st.just(math.nan), y=nonzero_float)
def test_fmod(x: float, y: float) -> None:
    check_exact(m_fmod, x, y)


@SETTINGS
@given(x=st.floats(1e-3, 1e3), y=st.floats(-50.0, 50.0))
def test_math_pow(x: float, y: float) -> None:
    check_close(m_pow, x, y)


@SETTINGS
@given(x=st.integers(-1000, 1000), y=st.integers(-1000, 1000))
def test_math_functions_accept_ints(x: int, y: int) -> None:
    check_close(m_atan2, x, y)
    check_close(m_hypot, x, y)
    check_exact(m_fabs, x)
    check_exact(m_floor, x)
    check_close(m_sin, x)
    if x > 0:
        check_close(m_log, x)
        check_close(m_sqrt, x)


@pytest.mark.parametrize("func", [m_sqrt, m_exp, m_sin, m_log, m_atan, m_tanh],
                         ids=lambda f: f.__name__[2:])
def test_math_functions_of_float32_compute_in_double(func: Callable) -> None:
    # math.* convert their argument to a Python float: the result has double precision
    for v in (0.1, 2.0, 3.7, 10.5, 1e-3):
        x = np.float32(v)
        expected, got = func(x), compiled(func)(x)
        assert close_float(expected, got), f"{func.__name__}({x!r}): {expected!r} != {got!r}"


def test_numpy_functions_of_float32_stay_single_precision() -> None:
    for v in (0.1, 2.0, 3.7, 10.5, 1e-3):
        x = np.float32(v)
        assert float(compiled(np_sqrt)(x)) == float(np.sqrt(x))


def test_int_pow_with_a_runtime_negative_exponent_is_not_silently_wrong() -> None:
    # CPython gives a float (2 ** -1 == 0.5); a compiled int ** int cannot, so refusing
    # is acceptable, but an int like 0 is not
    for base, exponent in [(2, -1), (3, -2), (-2, -3)]:
        try:
            got = compiled(op_pow)(base, exponent)
        except (ValueError, ArithmeticError, TypeError):
            continue
        assert got == base ** exponent, f"{base} ** {exponent}: got {got!r}"


# ---------------------------------------------------------------------------
# documented differences from CPython


def test_int_overflow_wraps() -> None:
    assert compiled(op_add)(INT64_MAX, 1) == INT64_MIN
    assert compiled(op_sub)(INT64_MIN, 1) == INT64_MAX
    assert compiled(op_mul)(2**62, 4) == 0
    assert compiled(op_mul)(2**32 + 1, 2**32 + 1) == ((2**32 + 1) ** 2 + 2**63) % 2**64 - 2**63
    assert compiled(op_neg)(INT64_MIN) == INT64_MIN
    assert compiled(op_pow)(3, 41) == (3**41 + 2**63) % 2**64 - 2**63


@SETTINGS
@given(a=int64)
def test_int_division_by_zero_raises(a: int) -> None:
    with pytest.raises(ZeroDivisionError):
        compiled(op_floordiv)(a, 0)
    with pytest.raises(ZeroDivisionError):
        compiled(op_mod)(a, 0)


@pytest.mark.parametrize(("a", "expected"), [
    (1.0, math.inf), (-1.0, -math.inf), (0.0, math.nan), (math.inf, math.inf),
    (math.nan, math.nan),
])
def test_float_division_by_zero_is_ieee(a: float, expected: float) -> None:
    assert same_float(expected, compiled(op_truediv)(a, 0.0))
    assert same_float(-expected, compiled(op_truediv)(a, -0.0))
    floor = compiled(op_floordiv)(a, 0.0)
    assert math.isnan(floor) or math.isinf(floor)
    assert math.isnan(compiled(op_mod)(a, 0.0))


def test_float_pow_where_cpython_raises_is_ieee() -> None:
    assert compiled(op_pow)(0.0, -1.0) == math.inf  # CPython: ZeroDivisionError
    assert compiled(op_pow)(10.0, 400.0) == math.inf  # CPython: OverflowError
    assert math.isnan(compiled(op_pow)(-8.0, 1.0 / 3.0))  # CPython: a complex number


def test_float_pow_large_int_exponent() -> None:
    # CPython computes float ** int as pow(x, float(n)) whatever the size of n
    for x, n in [(0.5, 2**32 + 1), (1.0000001, 2**31), (-1.0, 2**40 + 1), (0.999, 2**33),
                 (2.0, -(2**32) - 3)]:
        check_close(op_pow, x, n)


@pytest.mark.parametrize(("func", "x"), [
    (m_sqrt, -1.0), (m_sqrt, -math.inf), (m_log, -1.0), (m_log2, -2.0), (m_log10, -3.0),
    (m_log1p, -2.0), (m_asin, 1.5), (m_acos, -1.5), (m_acosh, 0.5), (m_atanh, 2.0),
    (m_sin, math.inf), (m_cos, -math.inf), (m_tan, math.inf),
], ids=lambda v: v.__name__[2:] if callable(v) else repr(v))
def test_math_domain_errors_give_nan(func: Callable, x: float) -> None:
    with pytest.raises(ValueError):
        func(x)
    assert math.isnan(compiled(func)(x))


def test_math_pole_and_overflow_give_infinities() -> None:
    assert compiled(m_log)(0.0) == -math.inf  # CPython: ValueError
    assert compiled(m_atanh)(1.0) == math.inf  # CPython: ValueError
    assert compiled(m_exp)(1000.0) == math.inf  # CPython: OverflowError
    assert compiled(m_cosh)(-1000.0) == math.inf
    assert math.isnan(compiled(m_fmod)(math.inf, 1.0))  # CPython: ValueError
    assert math.isnan(compiled(m_fmod)(1.0, 0.0))
