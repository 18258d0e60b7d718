"""Forward-mode AD end to end: Python -> IR -> `ad.fwddiff` -> ad-forward -> native code.

Each test compiles a wrapper around an `ad.fwddiff` request for a plain Python
function (canonicalize, cse, ad-forward, then the lowering pipeline, code
generation and the JIT) and checks the tangents against analytic derivatives
and central finite differences of the original function run by CPython, over
many random inputs.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np
import pytest
from xdsl.dialects import func
from xdsl.ir import Block, Region

from cofactor.compiler import codegen
from cofactor.compiler.frontend import Program
from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import LOWER, OPTIMIZE, Instrumentation
from cofactor.compiler.types import F32, F64, I64, ArrayType, TupleType, ir_type_to_value_type
from cofactor.dialects.ad import Activity, FwdDiffOp
from cofactor.runtime import engine, marshal

A1 = ArrayType(F64, 1)
A2 = ArrayType(F64, 2)


@functools.cache
def jvp(pyfunc: Callable, arg_types: tuple, acts: tuple[str, ...],
        rets: tuple[str, ...] | None = None, width: int = 1, boundscheck: bool = False
        ) -> Callable:
    """The compiled `ad.fwddiff` of `pyfunc`: takes each argument, followed by
    its `width` shadows when it is `dup`; returns the primal results that are
    not `dupnoneed`, then `width` tangents per differentiated result."""
    program = Program(Options(boundscheck=boundscheck))
    spec = program.specialize(pyfunc, arg_types)
    module = program.module
    Instrumentation().run(OPTIMIZE, module)
    target = next(op for op in module.body.block.ops
                  if isinstance(op, func.FuncOp) and op.sym_name.data == spec.symbol)
    outputs = list(target.function_type.outputs.data)
    rets = rets or ("dup",) * len(outputs)
    args = [t for t, a in zip(arg_types, acts, strict=True)
            for t in [t] * (1 + width * Activity(a).has_shadow)]
    results = [t for t, a in zip(outputs, rets, strict=True) if Activity(a).returns_primal]
    results += [t for t, a in zip(outputs, rets, strict=True)
                for t in [t] * (width * Activity(a).has_shadow)]
    block = Block(arg_types=[t.ir for t in args])
    request = FwdDiffOp(spec.symbol, block.args, acts, rets, results, width)
    block.add_ops([request, func.ReturnOp(*request.results)])
    module.body.block.add_op(func.FuncOp("jvp", ([t.ir for t in args], results), Region(block)))
    Instrumentation().run(("canonicalize", "cse", "ad-forward", "canonicalize", "cse", *LOWER),
                          module)
    result_type = TupleType(tuple(ir_type_to_value_type(t) for t in results))
    info = marshal.EntryInfo("jvp_entry", args, result_type)
    llmod = codegen.to_llvmlite(module)
    codegen.add_entry_wrapper(llmod, info.name, "jvp", args, result_type)
    marshal.add_python_entry(llmod, info)
    library = engine.add_object(codegen.emit_object(codegen.optimize(llmod)))
    return marshal.python_callable(library, info)


def central_difference(f: Callable[[float], object], h: float = 1e-6) -> object:
    """(f(h) - f(-h)) / 2h, elementwise over tuples and arrays."""
    plus, minus = f(h), f(-h)
    if isinstance(plus, tuple):
        return tuple((np.asarray(p) - np.asarray(m)) / (2 * h)
                     for p, m in zip(plus, minus, strict=True))
    return (np.asarray(plus) - np.asarray(minus)) / (2 * h)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# straight-line scalar code


def poly(x, y):
    return 3.0 * x * x * x * y - 2.0 * x * y * y + x / y + 5.0


def test_polynomial_analytic():
    dx_only = jvp(poly, (F64, F64), ("dup", "const"))
    dy_only = jvp(poly, (F64, F64), ("const", "dup"))
    both = jvp(poly, (F64, F64), ("dup", "dup"))
    for x, y in rng(0).uniform(0.2, 3.0, size=(50, 2)):
        fx = 9.0 * x * x * y - 2.0 * y * y + 1.0 / y
        fy = 3.0 * x ** 3 - 4.0 * x * y - x / (y * y)
        value, tangent = dx_only(x, 1.0, y)
        assert value == pytest.approx(poly(x, y), rel=1e-13)
        assert tangent == pytest.approx(fx, rel=1e-12)
        assert dy_only(x, y, 1.0)[1] == pytest.approx(fy, rel=1e-12)
        assert both(x, 0.5, y, -2.0)[1] == pytest.approx(0.5 * fx - 2.0 * fy, rel=1e-12)


def chain(x):
    return math.log(1.0 + math.exp(math.sin(x)) * x * x) + math.sqrt(x) * math.tanh(x)


def chain_derivative(x):
    e = math.exp(math.sin(x))
    inner = 1.0 + e * x * x
    d_inner = e * math.cos(x) * x * x + 2.0 * e * x
    d_sqrt_tanh = (0.5 / math.sqrt(x)) * math.tanh(x) + math.sqrt(x) * (1 - math.tanh(x) ** 2)
    return d_inner / inner + d_sqrt_tanh


def test_sin_exp_log_chain():
    d = jvp(chain, (F64,), ("dup",))
    for x in rng(1).uniform(0.1, 4.0, size=50):
        value, tangent = d(x, 1.0)
        assert value == pytest.approx(chain(x), rel=1e-13)
        assert tangent == pytest.approx(chain_derivative(x), rel=1e-11)
        assert d(x, -3.0)[1] == pytest.approx(-3.0 * chain_derivative(x), rel=1e-11)


def u_sin(x):
    return math.sin(x)


def u_cos(x):
    return math.cos(x)


def u_tan(x):
    return math.tan(x)


def u_sinh(x):
    return math.sinh(x)


def u_cosh(x):
    return math.cosh(x)


def u_tanh(x):
    return math.tanh(x)


def u_asin(x):
    return math.asin(x)


def u_acos(x):
    return math.acos(x)


def u_atan(x):
    return math.atan(x)


def u_asinh(x):
    return math.asinh(x)


def u_acosh(x):
    return math.acosh(x + 2.0)


def u_atanh(x):
    return math.atanh(x)


def u_exp(x):
    return math.exp(x)


def u_exp2(x):
    return 2.0 ** x


def u_expm1(x):
    return math.expm1(x)


def u_log(x):
    return math.log(x + 1.0)


def u_log1p(x):
    return math.log1p(x)


def u_log2(x):
    return math.log2(x + 1.0)


def u_log10(x):
    return math.log10(x + 1.0)


def u_sqrt(x):
    return math.sqrt(x + 1.0)


def u_cbrt(x):
    return math.cbrt(x - 0.3)


def u_erf(x):
    return math.erf(x)


def u_abs(x):
    return abs(x - 0.2)


def u_np_exp2(x):
    return np.exp2(x)


def u_powi(x):
    return x ** 3 - 2.0 * x ** -2


def u_floor(x):
    return math.floor(3.0 * x) + x


def u_neg_div(x):
    return -1.0 / (x + 1.5)


def u_f32(x):
    return float(np.float32(x) * np.float32(x))


UNARY = [u_sin, u_cos, u_tan, u_sinh, u_cosh, u_tanh, u_asin, u_acos, u_atan, u_asinh,
         u_acosh, u_atanh, u_exp, u_exp2, u_expm1, u_log, u_log1p, u_log2, u_log10, u_sqrt,
         u_cbrt, u_erf, u_abs, u_np_exp2, u_powi, u_floor, u_neg_div]


@pytest.mark.parametrize("f", UNARY, ids=lambda f: f.__name__)
def test_unary_rules_match_finite_differences(f):
    d = jvp(f, (F64,), ("dup",))
    for x in rng(2).uniform(-0.9, 0.9, size=40):
        value, tangent = d(x, 1.0)
        assert value == pytest.approx(f(x), rel=1e-12, abs=1e-300)
        fd = central_difference(lambda h, x=x: f(x + h))
        assert tangent == pytest.approx(float(fd), rel=1e-6, abs=1e-6)


def test_float32_tangent_is_extended_and_truncated():
    d = jvp(u_f32, (F64,), ("dup",))
    for x in rng(2).uniform(-0.9, 0.9, size=40):
        # truncf then extf: the tangent goes through float32 too
        assert d(x, 1.0)[1] == float(2 * np.float32(x) * np.float32(1.0))


def b_pow(x, y):
    return x ** y


def b_atan2(x, y):
    return math.atan2(x, y)


def b_hypot(x, y):
    return math.hypot(x, y)


def b_fmod(x, y):
    return math.fmod(x, y)


def b_mod(x, y):
    return x % y


def b_copysign(x, y):
    return math.copysign(x, y) * y


def b_max_min(x, y):
    return max(x, y) * 2.0 + min(x, y) + np.maximum(x, y) - np.minimum(x, 2.0 * y)


def b_div(x, y):
    return (x + 1.0) / (y * y + 0.5)


BINARY = [b_pow, b_atan2, b_hypot, b_fmod, b_mod, b_copysign, b_max_min, b_div]


@pytest.mark.parametrize("f", BINARY, ids=lambda f: f.__name__)
def test_binary_rules_match_finite_differences(f):
    d = jvp(f, (F64, F64), ("dup", "dup"))
    for x, y in rng(3).uniform(0.3, 2.5, size=(40, 2)):
        y = -y if f in (b_copysign, b_atan2) and x > 1.4 else y
        for dx, dy in ((1.0, 0.0), (0.0, 1.0), (0.7, -1.3)):
            value, tangent = d(x, dx, y, dy)
            assert value == pytest.approx(f(x, y), rel=1e-12)
            fd = central_difference(lambda h, x=x, y=y, dx=dx, dy=dy: f(x + h * dx, y + h * dy))
            assert tangent == pytest.approx(float(fd), rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------
# singular points: guarded partials and checked multiplication


def sqrt_at(x):
    return math.sqrt(x)


def log_plus(x, y):
    return math.log(x) + y


def pow_xy(x, y):
    return x ** y


def test_sqrt_at_zero_is_guarded():
    d = jvp(sqrt_at, (F64,), ("dup",))
    assert d(0.0, 1.0) == (0.0, 0.0)
    assert d(4.0, 1.0)[1] == 0.25


def test_zero_tangent_times_infinite_partial_is_zero():
    d = jvp(log_plus, (F64, F64), ("dup", "dup"))
    value, tangent = d(0.0, 0.0, 2.0, 1.0)
    assert value == -math.inf
    assert tangent == 1.0
    assert math.isinf(d(0.0, 1.0, 2.0, 0.0)[1])


def exp_plus(x, y):
    return math.exp(x) + y


def log_and_recip(x, y):
    return math.log(x) + 1.0 / x + y


def discarded_product(x, y):
    return max(math.log(x) * y, -1.0) + x + y


def test_checked_products_at_singular_points():
    # exp overflows at a finite x: its partial is checked
    assert jvp(exp_plus, (F64, F64), ("dup", "dup"))(1000.0, 0.0, 2.0, 1.0)[1] == 1.0
    # two checked products of one tangent (the second has a compare of its own)
    assert jvp(log_and_recip, (F64, F64), ("dup", "dup"))(0.0, 0.0, 2.0, 1.0)[1] == 1.0
    # mul's partials (the other operand) are not checked in forward mode, but a
    # discarded branch is passed over by a select, not multiplied
    d = jvp(discarded_product, (F64, F64), ("dup", "dup"))
    assert d(0.0, 1.0, 2.0, 0.0)[1] == 1.0
    assert d(0.0, 0.0, 2.0, 1.0)[1] == 1.0


def test_pow_exponent_derivative_at_zero_base_is_guarded():
    d = jvp(pow_xy, (F64, F64), ("dup", "dup"))
    assert d(0.0, 0.0, 2.0, 1.0) == (0.0, 0.0)
    assert d(2.0, 0.0, 3.0, 1.0)[1] == pytest.approx(8.0 * math.log(2.0), rel=1e-14)
    assert d(3.0, 1.0, 0.0, 0.0) == (1.0, 0.0)


# ---------------------------------------------------------------------------
# control flow


def loop_sum(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i) / (i + 1)
    return s


def test_for_loop_accumulates_tangent():
    d = jvp(loop_sum, (F64, I64), ("dup", "const"))
    for x in rng(4).uniform(-2.0, 2.0, size=20):
        for n in (0, 1, 7, 30):
            value, tangent = d(x, 1.0, n)
            assert value == pytest.approx(loop_sum(x, n), rel=1e-12, abs=1e-14)
            expected = sum(i * math.cos(x * i) / (i + 1) for i in range(n))
            assert tangent == pytest.approx(expected, rel=1e-11, abs=1e-13)


def nested(x, n):
    p = 1.0
    for i in range(n):
        q = 0.0
        for j in range(i + 1):
            q += x ** j / (j + 1.0)
        p = p * q * 0.5
    return p


def test_nested_loops():
    d = jvp(nested, (F64, I64), ("dup", "const"))
    for x in rng(5).uniform(0.3, 1.7, size=20):
        for n in (1, 4, 6):
            value, tangent = d(x, 1.0, n)
            assert value == pytest.approx(nested(x, n), rel=1e-12)
            fd = central_difference(lambda h, x=x, n=n: nested(x + h, n))
            assert tangent == pytest.approx(float(fd), rel=1e-6)


def grow(x, rate):
    while x < 10.0:
        x = x * rate + 0.1
    return x


def test_while_loop_with_data_dependent_exit():
    d = jvp(grow, (F64, F64), ("dup", "dup"))
    vector = jvp(grow, (F64, F64), ("dup", "dup"), width=2)
    for x, rate in rng(6).uniform([0.5, 1.1], [9.0, 2.0], size=(40, 2)):
        value, dx = d(x, 1.0, rate, 0.0)
        _, drate = d(x, 0.0, rate, 1.0)
        # x_{k+1} = rate x_k + 0.1: dx_{k+1} = rate dx_k (+ x_k d rate)
        v, tx, tr = x, 1.0, 0.0
        while v < 10.0:
            v, tx, tr = v * rate + 0.1, tx * rate, tr * rate + v
        assert value == pytest.approx(v, rel=1e-13)
        assert dx == pytest.approx(tx, rel=1e-12)
        assert drate == pytest.approx(tr, rel=1e-12)
        assert vector(x, 1.0, 0.0, rate, 0.0, 1.0) == (value, dx, drate)


def search(x, limit):
    s = 0.0
    for i in range(100):
        if s > limit:
            break
        s += x * math.exp(-0.1 * i)
    return s * x


def test_loop_with_break():
    d = jvp(search, (F64, F64), ("dup", "const"))
    for x in rng(7).uniform(0.2, 2.0, size=30):
        value, tangent = d(x, 1.0, 3.0)
        assert value == pytest.approx(search(x, 3.0), rel=1e-12)
        fd = central_difference(lambda h, x=x: search(x + h, 3.0))
        assert tangent == pytest.approx(float(fd), rel=1e-6)


def piecewise(x, y):
    if x > 1.0:
        r = x * y
    elif x > 0.0:
        r = math.sin(x) + y * y
    else:
        return -x * 3.0
    if r > 2.0:
        r = r - math.log(r)
    return r


def test_branches():
    d = jvp(piecewise, (F64, F64), ("dup", "dup"))
    vector = jvp(piecewise, (F64, F64), ("dup", "dup"), width=2)
    for x, y in rng(8).uniform(-2.0, 3.0, size=(60, 2)):
        for dx, dy in ((1.0, 0.0), (0.0, 1.0)):
            value, tangent = d(x, dx, y, dy)
            assert value == pytest.approx(piecewise(x, y), rel=1e-13)
            fd = central_difference(lambda h, x=x, y=y, dx=dx, dy=dy:
                                    piecewise(x + h * dx, y + h * dy))
            assert tangent == pytest.approx(float(fd), rel=1e-5, abs=1e-6)
        assert vector(x, 1.0, 0.0, y, 0.0, 1.0) == (d(x, 1.0, y, 0.0) + d(x, 0.0, y, 1.0)[1:])


# ---------------------------------------------------------------------------
# arrays: shadows


def update(a, x):
    for i in range(a.shape[0]):
        a[i] = a[i] * x + math.sin(a[i])
    return a[0] + a[a.shape[0] - 1]


@pytest.mark.parametrize("boundscheck", [False, True])
def test_in_place_array_updates_in_a_loop(boundscheck):
    d = jvp(update, (A1, F64), ("dup", "dup"), boundscheck=boundscheck)
    r = rng(9)
    for _ in range(20):
        a, da = r.normal(size=7), r.normal(size=7)
        x, dx = r.normal(), r.normal()
        a_out, da_out = a.copy(), da.copy()
        value, tangent = d(a_out, da_out, x, dx)

        def run(h, a=a, da=da, x=x, dx=dx):
            b = a + h * da
            return update(b, x + h * dx), b

        expected_value, expected_a = run(0.0)
        assert value == pytest.approx(expected_value, rel=1e-13)
        np.testing.assert_allclose(a_out, expected_a, rtol=1e-13)
        fd_value, fd_a = central_difference(run)
        assert tangent == pytest.approx(float(fd_value), rel=1e-6, abs=1e-8)
        np.testing.assert_allclose(da_out, fd_a, rtol=1e-6, atol=1e-8)


def sum_of_squares(x, n):
    b = np.zeros(n)
    for i in range(n):
        b[i] = x * i + math.cos(x)
    s = 0.0
    for i in range(n):
        s += b[i] * b[i]
    return s


def test_local_array_gets_a_zeroed_shadow():
    d = jvp(sum_of_squares, (F64, I64), ("dup", "const"))
    for x in rng(10).uniform(-1.0, 1.0, size=20):
        value, tangent = d(x, 1.0, 6)
        expected = sum(2 * (x * i + math.cos(x)) * (i - math.sin(x)) for i in range(6))
        assert value == pytest.approx(sum_of_squares(x, 6), rel=1e-13)
        assert tangent == pytest.approx(expected, rel=1e-12)


def write_into(a, x):
    a[1] = x * x
    a[2] = 3.0
    return a[0] * a[1] + a[2]


def test_const_array_receiving_active_values():
    d = jvp(write_into, (A1, F64), ("const", "dup"))
    a = np.array([2.0, 5.0, 7.0])
    value, tangent = d(a, 1.5, 1.0)
    assert value == 2.0 * 2.25 + 3.0
    assert tangent == 2.0 * 2.0 * 1.5
    dup = jvp(write_into, (A1, F64), ("dup", "dup"))
    a, da = np.array([2.0, 5.0, 7.0]), np.array([1.0, 1.0, 1.0])
    value, tangent = dup(a, da, 1.5, 0.0)
    # a[2] = 3.0 overwrites the tangent with 0; a[1] = x*x has tangent 0 for dx = 0
    np.testing.assert_array_equal(da, [1.0, 0.0, 0.0])
    assert tangent == 2.25


def choose(a, b, x):
    c = a if x > 0 else b
    c[0] = x * x
    return a[0] * b[0]


def test_array_chosen_by_a_branch():
    d = jvp(choose, (A1, A1, F64), ("dup", "dup", "dup"))
    for x in (-1.5, 2.0):
        a, da = np.array([3.0, 1.0]), np.array([1.0, 0.0])
        b, db = np.array([5.0, 1.0]), np.array([0.0, 0.0])
        value, tangent = d(a, da, b, db, x, 1.0)
        # the chosen array's first element becomes x^2, with tangent 2x
        if x > 0:
            assert (value, tangent) == (x * x * 5.0, 2 * x * 5.0)
            np.testing.assert_array_equal(da, [2 * x, 0.0])
        else:
            assert (value, tangent) == (3.0 * x * x, 1.0 * x * x + 3.0 * 2 * x)
            np.testing.assert_array_equal(db, [2 * x, 0.0])


def scaled(a, x):
    b = np.empty_like(a)
    for i in range(a.shape[0]):
        b[i] = a[i] * x
    return b, x * 2.0


def test_returned_array_and_tuple():
    d = jvp(scaled, (A1, F64), ("dup", "dup"))
    a, da = np.array([1.0, -2.0, 4.0]), np.array([0.5, 0.0, 1.0])
    b, y, db, dy = d(a, da, 3.0, 2.0)
    np.testing.assert_array_equal(b, a * 3.0)
    np.testing.assert_array_equal(db, da * 3.0 + a * 2.0)
    assert (y, dy) == (6.0, 4.0)


def matvec(m, v, x):
    n, k = m.shape[0], m.shape[1]
    s = 0.0
    for i in range(n):
        row = 0.0
        for j in range(k):
            row += m[i, j] * v[j] * x
        s += math.tanh(row)
    return s


def test_two_dimensional_arrays():
    d = jvp(matvec, (A2, A1, F64), ("dup", "const", "dup"))
    r = rng(11)
    for _ in range(10):
        m, dm = r.normal(size=(3, 4)), r.normal(size=(3, 4))
        v, x, dx = r.normal(size=4), r.normal(), r.normal()
        value, tangent = d(m, dm, v, x, dx)
        assert value == pytest.approx(matvec(m, v, x), rel=1e-13)
        fd = central_difference(lambda h, m=m, dm=dm, v=v, x=x, dx=dx:
                                matvec(m + h * dm, v, x + h * dx))
        assert tangent == pytest.approx(float(fd), rel=1e-6, abs=1e-8)
        # a transposed (strided) view differentiates the same
        mt, dmt = np.ascontiguousarray(m.T).T, np.asfortranarray(dm)
        assert d(mt, dmt, v, x, dx)[1] == pytest.approx(tangent, rel=1e-13)


def grid(x, n, m):
    g = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            g[i, j] = math.sin(x * i + j)
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += g[i, j] * g[i, j]
    return s


def test_local_two_dimensional_array():
    d = jvp(grid, (F64, I64, I64), ("dup", "const", "const"))
    for x in rng(15).uniform(-1.0, 1.0, size=10):
        value, tangent = d(x, 1.0, 3, 4)
        expected = sum(2 * math.sin(x * i + j) * math.cos(x * i + j) * i
                       for i in range(3) for j in range(4))
        assert value == pytest.approx(grid(x, 3, 4), rel=1e-13)
        assert tangent == pytest.approx(expected, rel=1e-12, abs=1e-14)


def early_exit(a, x):
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * x
        if s > 5.0:
            return s * s
    return s


def test_early_return_from_a_loop():
    d = jvp(early_exit, (A1, F64), ("const", "dup"))
    a = np.array([1.0, 2.0, 3.0, 4.0])
    assert d(a, 0.4, 1.0) == (pytest.approx(4.0), 10.0)
    # s passes 5 after three elements: s * s with s = 6x
    assert d(a, 1.5, 1.0) == (81.0, 2 * 9.0 * 6.0)


def grow_array(a, x):
    i = 0
    while i < a.shape[0] and a[i] < 10.0:
        a[i] = a[i] * x + 1.0
        i += 1
    return a[0]


def test_while_loop_writing_an_array():
    d = jvp(grow_array, (A1, F64), ("dup", "dup"))
    a0, da0 = np.array([1.0, 2.0, 30.0, 3.0]), np.array([0.1, 0.2, 0.3, 0.4])
    a, da = a0.copy(), da0.copy()
    value, tangent = d(a, da, 1.5, 1.0)
    np.testing.assert_array_equal(a, [2.5, 4.0, 30.0, 3.0])
    # the loop stops at 30: elements after it keep their tangents
    np.testing.assert_allclose(da, [0.1 * 1.5 + 1.0, 0.2 * 1.5 + 2.0, 0.3, 0.4], rtol=1e-15)
    assert (value, tangent) == (2.5, da[0])


def scale_in_place(a, x):
    a[0] = a[0] * x
    return a


def test_returning_the_argument_array():
    d = jvp(scale_in_place, (A1, F64), ("dup", "dup"))
    a, da = np.array([2.0, 3.0]), np.array([1.0, 1.0])
    b, db = d(a, da, 3.0, 1.0)
    np.testing.assert_array_equal(b, [6.0, 3.0])
    np.testing.assert_array_equal(db, [5.0, 1.0])
    # the results are views of the arguments and their shadows
    assert np.shares_memory(b, a) and np.shares_memory(db, da)


def sum_f32(a, x):
    s = np.float32(0.0)
    for i in range(a.shape[0]):
        s += a[i] * np.float32(x)
    return float(s)


def test_float32_arrays():
    d = jvp(sum_f32, (ArrayType(F32, 1), F64), ("dup", "dup"))
    a = np.array([2.0, 3.0], dtype=np.float32)
    da = np.array([1.0, -1.0], dtype=np.float32)
    assert d(a, da, 3.0, 1.0) == (15.0, 3.0 * 0.0 + 5.0)


# ---------------------------------------------------------------------------
# calls


def helper(x, k):
    return x * math.exp(k * x)


def calls(x):
    return helper(x, 1.0) + helper(2.0 * x, -0.5) * helper(x, 0.0)


def test_calls_to_helpers():
    d = jvp(calls, (F64,), ("dup",))
    for x in rng(12).uniform(-2.0, 2.0, size=30):
        value, tangent = d(x, 1.0)
        expected = (1 + x) * math.exp(x) + 2 * (1 - x) * math.exp(-x) * x \
            + 2 * x * math.exp(-x)
        assert value == pytest.approx(calls(x), rel=1e-13)
        assert tangent == pytest.approx(expected, rel=1e-12)


def fill(b, x):
    for i in range(b.shape[0]):
        b[i] = b[i] * x + x


def dot_filled(a, x):
    b = np.ones(a.shape[0])
    fill(b, x)
    fill(b, x)
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


def scale_at(a, i, x):
    a[i] = a[i] * x
    return a[i] + x


def calls_in_a_loop(a, x):
    s = 0.0
    for i in range(a.shape[0]):
        s += scale_at(a, i, x)
    return s


def test_call_in_a_loop_updating_an_array():
    d = jvp(calls_in_a_loop, (A1, F64), ("dup", "dup"))
    a0, da0 = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])
    a, da = a0.copy(), da0.copy()
    value, tangent = d(a, da, 1.5, 1.0)
    np.testing.assert_allclose(a, a0 * 1.5, rtol=1e-15)
    np.testing.assert_allclose(da, da0 * 1.5 + a0, rtol=1e-15)
    assert value == pytest.approx(a0.sum() * 1.5 + 4.5, rel=1e-15)
    assert tangent == pytest.approx((da0 * 1.5 + a0).sum() + 3.0, rel=1e-15)


def test_call_writing_into_a_shadowed_array():
    d = jvp(dot_filled, (A1, F64), ("const", "dup"))
    for x in rng(13).uniform(-2.0, 2.0, size=20):
        a = np.array([1.0, 2.0, 3.0])
        # b = (x + x) x + x = 2x^2 + x per element
        value, tangent = d(a, x, 1.0)
        assert value == pytest.approx(6.0 * (2 * x * x + x), rel=1e-13)
        assert tangent == pytest.approx(6.0 * (4 * x + 1), rel=1e-13)


# ---------------------------------------------------------------------------
# vector mode


def mixed(a, x, y):
    s = 0.0
    for i in range(a.shape[0]):
        a[i] = a[i] * y + math.sin(x * a[i])
        s += a[i] * x
    return s, s * y


@pytest.mark.parametrize("width", [2, 3, 16])
def test_vector_mode_equals_scalar_sweeps(width):
    vector = jvp(mixed, (A1, F64, F64), ("dup", "dup", "dup"), width=width)
    scalar = jvp(mixed, (A1, F64, F64), ("dup", "dup", "dup"))
    r = rng(14)
    a = r.normal(size=5)
    x, y = r.normal(), r.normal()
    das = [r.normal(size=5) for _ in range(width)]
    dxs, dys = r.normal(size=width), r.normal(size=width)
    a_vec, da_vec = a.copy(), [da.copy() for da in das]
    out = vector(a_vec, *da_vec, x, *dxs, y, *dys)
    assert len(out) == 2 + 2 * width
    for k in range(width):
        a_k, da_k = a.copy(), das[k].copy()
        s, t, ds, dt = scalar(a_k, da_k, x, dxs[k], y, dys[k])
        assert out[:2] == (s, t)
        assert out[2 + k] == pytest.approx(ds, rel=1e-14, abs=1e-14)
        assert out[2 + width + k] == pytest.approx(dt, rel=1e-14, abs=1e-14)
        np.testing.assert_allclose(da_vec[k], da_k, rtol=1e-14, atol=1e-14)
        np.testing.assert_allclose(a_vec, a_k, rtol=0)


def test_dupnoneed_drops_the_primal():
    d = jvp(poly, (F64, F64), ("dup", "dup"), ("dupnoneed",), width=2)
    x, y = 1.5, 0.5
    fx = 9.0 * x * x * y - 2.0 * y * y + 1.0 / y
    fy = 3.0 * x ** 3 - 4.0 * x * y - x / (y * y)
    tangents = d(x, 1.0, 0.0, y, 0.0, 1.0)
    assert tangents == pytest.approx((fx, fy), rel=1e-13)
