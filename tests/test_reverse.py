"""Reverse-mode AD end to end: `ad.autodiff` -> ad-reverse -> ad-lower-cache -> native code.

Gradients are checked against analytic derivatives, against central finite
differences of the original function run by CPython, and by the dot-product
test against forward mode: for random v and w, <w, J v> from `jvp` equals
<J^T w, v> from `vjp`. Hessians (forward mode over the reverse-mode gradient)
are checked against finite differences of the gradient.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from corpus import CASES
from hypothesis import given, settings
from hypothesis import strategies as st

import cofactor
from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import Derivative, stage_text
from cofactor.compiler.types import F64, I64, ArrayType

A1 = ArrayType(F64, 1)


def is_float(x) -> bool:
    return isinstance(x, float | np.floating) or (
        isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating))


def copies(args):
    return [np.copy(a) if isinstance(a, np.ndarray) else a for a in args]


def directional_fd(f, args, wrt, directions, h=1e-6):
    """(f(args + h v) - f(args - h v)) / 2h, v moving the arguments `wrt`."""
    def at(s):
        moved = copies(args)
        for k, d in zip(wrt, directions, strict=True):
            moved[k] = moved[k] + s * d if isinstance(moved[k], np.ndarray) else moved[k] + s * d
        return f(*moved)
    return (at(h) - at(-h)) / (2 * h)


# ---------------------------------------------------------------------------
# straight-line scalar code and the API


def poly(x, y):
    return 3.0 * x * x * x * y - 2.0 * x * y * y + x / y + math.sin(x * y)


@pytest.mark.parametrize("seed", range(5))
def test_polynomial_analytic(seed):
    x, y = np.random.default_rng(seed).uniform(0.3, 2.0, 2)
    dx = 9 * x * x * y - 2 * y * y + 1 / y + y * math.cos(x * y)
    dy = 3 * x ** 3 - 4 * x * y - x / (y * y) + x * math.cos(x * y)
    assert cofactor.grad(poly)(x, y) == pytest.approx(dx, rel=1e-13)
    gx, gy = cofactor.grad(poly, argnums=(0, 1))(x, y)
    assert (gx, gy) == (pytest.approx(dx, rel=1e-13), pytest.approx(dy, rel=1e-13))
    value, g = cofactor.value_and_grad(poly, argnums=1)(x, y)
    assert value == pytest.approx(poly(x, y), rel=1e-15)
    assert g == pytest.approx(dy, rel=1e-13)


def test_every_math_rule_against_finite_differences():
    def f(x, y):
        a = math.tanh(x) * math.atan2(y, x) + math.exp(x / 3.0) - math.log1p(y * y)
        b = math.sqrt(x + y) * math.cos(y) + math.asinh(x) - math.acos(y / 4.0)
        c = math.hypot(x, y) + x ** y + math.fmod(x * 7.0, 1.3) + abs(x - y) + max(x, y)
        return a * b + c / (1.0 + math.erf(y)) + min(x * x, y) + math.expm1(-x) * math.cbrt(y)

    rng = np.random.default_rng(0)
    g = cofactor.grad(f, argnums=(0, 1))
    for x, y in rng.uniform(0.2, 2.5, (20, 2)):
        gx, gy = g(x, y)
        assert gx == pytest.approx(directional_fd(f, (x, y), [0], [1.0]), rel=1e-6, abs=1e-8)
        assert gy == pytest.approx(directional_fd(f, (x, y), [1], [1.0]), rel=1e-6, abs=1e-8)


def test_zero_adjoint_times_infinite_partial_is_zero():
    def f(x):
        return max(math.log(x), -1.0) + x  # log(0) is not taken; 1/x = inf there

    def g(x, y):
        return max(math.log(x) * y, -1.0) + x + y  # both partials of * meet a zero adjoint

    assert cofactor.grad(f)(0.0) == 1.0
    assert cofactor.grad(g, argnums=(0, 1))(0.0, 2.0) == (1.0, 1.0)
    assert all(map(math.isnan, cofactor.grad(g, argnums=(0, 1))(math.nan, 2.0)))


def heavy(x, y):
    """Not inlined (more than 40 ops): its result is a call result."""
    s = x
    for _ in range(3):
        s = s * y + x - s * s * 0.5 + y * x * 0.25 + s * 0.125 - y * 0.0625 + s * x * s * y
    return math.log(x) + s * 0.0


@pytest.mark.parametrize("where", ["exp", "division", "array", "loop", "call", "branch"])
def test_zero_adjoint_stays_zero_after_values_that_may_be_infinite(where):
    """The reverse products left unchecked (`_finite`) never meet an inf or
    NaN the function makes: each of these builds -inf or inf at finite
    inputs, discards it by max, and multiplies it by y on the way."""
    def by_exp(x, y):
        return min(math.exp(x) * y, 1.0) + y

    def by_division(x, y):
        return max(-1.0 / x * y, -1.0) + y

    def by_array(x, y, a):
        a[0] = math.log(x)
        return max(a[0] * y, -1.0) + y

    def by_loop(x, y):
        s = math.log(x)
        for _ in range(3):
            s = s * 2.0 + 1.0
        return max(s * y, -1.0) + y

    def by_call(x, y):
        return max(heavy(x, y) * y, -1.0) + y

    def by_branch(x, y):
        s = math.log(x) if x < 1.0 else x
        return max(s * y, -1.0) + y

    f, args = {"exp": (by_exp, (1000.0, 2.0)), "division": (by_division, (0.0, 2.0)),
               "array": (by_array, (0.0, 2.0, np.zeros(1))), "loop": (by_loop, (0.0, 2.0)),
               "call": (by_call, (0.0, 2.0)), "branch": (by_branch, (0.0, 2.0))}[where]
    assert cofactor.grad(f, argnums=1)(*args) == 1.0


def test_unchecked_products_give_nan_at_an_infinite_argument():
    """The line `_finite` draws: an argument that is already inf times a
    zero adjoint gives NaN, as in JAX; at finite arguments the gradient is
    the analytic one over many inputs."""
    def f(x, y):
        return max(x * y * math.sin(y), -1.0) + y

    assert math.isnan(cofactor.grad(f, argnums=1)(-math.inf, 2.0))
    g = cofactor.grad(f, argnums=(0, 1))
    for x, y in np.random.default_rng(1).uniform(-3.0, 3.0, (50, 2)):
        taken = x * y * math.sin(y) > -1.0
        dx = y * math.sin(y) if taken else 0.0
        dy = (x * math.sin(y) + x * y * math.cos(y) if taken else 0.0) + 1.0
        assert g(x, y) == (pytest.approx(dx, rel=1e-14, abs=1e-15),
                           pytest.approx(dy, rel=1e-14, abs=1e-15))


def test_checked_products_in_float32():
    def f(x, y):
        return max(math.log(x) * y, np.float32(-1.0)) + y

    gx, gy = cofactor.grad(f, argnums=(0, 1))(np.float32(0.0), np.float32(2.0))
    assert (gx, gy) == (0.0, 1.0)


# ---------------------------------------------------------------------------
# the corpus: gradients against finite differences, adjoints against tangents

SMOOTH_EXCLUDED = {"bisect_root"}  # piecewise linear at 1e-15: FD sees the root


def _float_scalar_cases():
    for case in CASES:
        args = case.make_args(np.random.default_rng(1))
        if case.name in SMOOTH_EXCLUDED or not any(map(is_float, args)):
            continue
        if isinstance(case.func(*copies(args)), float):
            yield case


@pytest.mark.parametrize("case", list(_float_scalar_cases()), ids=lambda c: c.name)
def test_corpus_gradient_against_finite_differences(case):
    for seed in range(3):
        args = case.make_args(np.random.default_rng(seed))
        wrt = [k for k, a in enumerate(args) if is_float(a)]
        grads = cofactor.grad(case.func, argnums=tuple(wrt))(*args)
        rng = np.random.default_rng(seed + 10)
        directions = [rng.normal(size=np.shape(args[k])) for k in wrt]
        exact = sum(float(np.sum(g * d)) for g, d in zip(grads, directions, strict=True))
        approx = directional_fd(case.func, args, wrt, directions)
        assert exact == pytest.approx(approx, rel=1e-5, abs=1e-6), case.name


def _float_output_cases():
    for case in CASES:
        args = case.make_args(np.random.default_rng(2))
        if not any(map(is_float, args)):
            continue
        out = case.func(*copies(args))
        leaves = list(out) if isinstance(out, tuple) else [out]
        if any(map(is_float, leaves)) and not any(isinstance(x, tuple) for x in leaves):
            yield case


@pytest.mark.parametrize("case", list(_float_output_cases()), ids=lambda c: c.name)
def test_corpus_dot_product_against_forward_mode(case):
    args = case.make_args(np.random.default_rng(2))
    rng = np.random.default_rng(3)

    def random_like(x):
        if isinstance(x, np.ndarray):
            return rng.normal(size=x.shape).astype(x.dtype)
        return float(rng.normal())

    tangents = [random_like(a) if is_float(a) else None for a in args]
    out, jv = cofactor.jvp(case.func, args, tangents)
    leaves = list(out) if isinstance(out, tuple) else [out]
    jv = list(jv) if isinstance(out, tuple) else [jv]
    cotangents = [random_like(x) if is_float(x) else None for x in leaves]
    out_r, pullback = cofactor.vjp(case.func, *args)
    grads = pullback(tuple(cotangents) if isinstance(out, tuple) else cotangents[0])
    lhs = sum(float(np.sum(np.asarray(w) * np.asarray(t)))
              for w, t in zip(cotangents, jv, strict=True) if w is not None)
    rhs = sum(float(np.sum(np.asarray(g) * np.asarray(t)))
              for g, t in zip(grads, tangents, strict=True) if t is not None)
    tol = max(case.rtol, 1e-11) * 100
    assert lhs == pytest.approx(rhs, rel=tol, abs=tol), case.name
    for g, a in zip(grads, args, strict=True):
        assert (g is None) == (not is_float(a))


# ---------------------------------------------------------------------------
# loops, branches, early exits


def nested(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i + 1):
            s += math.sin(x[i] * x[j]) * x[(i + j) % n]
    return s


def grow(x):
    k = 0
    while x < 100.0:
        x = x * 1.5 + math.sin(x)
        k += 1
    return x * k


def early_return(x, n):
    s = 0.0
    for i in range(n):
        s += x[i] * x[i]
        if s > 10.0:
            return s * 2.0
    return s


def break_continue(x):
    s = 0.0
    for i in range(x.shape[0]):
        if x[i] < 0.0:
            continue
        s += math.exp(x[i]) * s + x[i]
        if s > 50.0:
            break
    return s


def newton_sqrt(a):
    x = a
    while abs(x * x - a) > 1e-12 * a:
        x = 0.5 * (x + a / x)
    return x


def test_nested_triangular_loops():
    x = np.random.default_rng(4).uniform(-1.0, 1.0, 7)
    g = cofactor.grad(nested)(x, 7)
    fd = [directional_fd(nested, (x, 7), [0], [e]) for e in np.eye(7)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("x", [1.3, 7.0, 99.0, 150.0])
def test_while_loop_with_data_dependent_exit(x):
    assert cofactor.grad(grow)(x) == pytest.approx(directional_fd(grow, (x,), [0], [1.0]),
                                                   rel=1e-6)


def test_while_loop_gradient_of_newton_iteration():
    for a in [0.5, 2.0, 10.0]:
        assert cofactor.grad(newton_sqrt)(a) == pytest.approx(0.5 / math.sqrt(a), rel=1e-8)


def test_early_return_and_break_continue():
    x = np.linspace(0.5, 3.0, 6)
    # s passes 10 at i = 4: the result is 2 * sum(x[:5]^2)
    np.testing.assert_allclose(cofactor.grad(early_return)(x, 6), [2, 4, 6, 8, 10, 0])
    np.testing.assert_allclose(cofactor.grad(early_return)(x, 3), 2 * x * [1, 1, 1, 0, 0, 0])
    y = np.array([0.3, -1.0, 0.8, 1.2, -0.5, 2.0, 0.1])
    fd = [directional_fd(break_continue, (y,), [0], [e]) for e in np.eye(7)]
    np.testing.assert_allclose(cofactor.grad(break_continue)(y), fd, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# arrays: shadows, in-place updates, overwritten values, allocation in loops


def heat(u, steps, alpha):
    """In place in a time loop: u[i] = u[i] + alpha * laplacian(u)[i]."""
    for _ in range(steps):
        for i in range(1, u.shape[0] - 1):
            u[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1]) * u[i]
    s = 0.0
    for i in range(u.shape[0]):
        s += u[i] * u[i]
    return s


def ping_pong(x, steps):
    a = x
    b = np.zeros(x.shape[0])
    for _ in range(steps):
        for i in range(1, x.shape[0] - 1):
            b[i] = a[i] * a[i - 1] * 0.5 + a[i + 1]
        a, b = b, a
    return a[1] + a[2]


def allocate_each_step(x, k):
    out = np.zeros(x.shape[0])
    for step in range(k):
        t = np.zeros(x.shape[0])
        for i in range(x.shape[0]):
            t[i] = math.sin(x[i] * (step + 1)) * out[i] + x[i]
        out = t
    s = 0.0
    for i in range(x.shape[0]):
        s += out[i] * out[i]
    return s


def matrix_form(a, x):
    y = np.zeros(a.shape[0])
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            y[i] += a[i, j] * x[j]
    s = 0.0
    for i in range(a.shape[0]):
        s += y[i] * y[i] * x[i % x.shape[0]]
    return s


def test_in_place_update_in_time_loop_saves_overwritten_values():
    u = np.random.default_rng(5).uniform(0.0, 1.0, 9)
    keep = u.copy()
    g_u, g_alpha = cofactor.grad(heat, argnums=(0, 2))(u, 6, 0.1)
    np.testing.assert_array_equal(u, keep)  # the caller's array is untouched
    fd = [directional_fd(heat, (u, 6, 0.1), [0], [e]) for e in np.eye(9)]
    np.testing.assert_allclose(g_u, fd, rtol=1e-6, atol=1e-9)
    assert g_alpha == pytest.approx(directional_fd(heat, (u, 6, 0.1), [2], [1.0]), rel=1e-6)


@pytest.mark.parametrize("f", [ping_pong, allocate_each_step], ids=lambda f: f.__name__)
def test_arrays_carried_by_loops(f):
    x = np.linspace(0.1, 1.0, 5)
    fd = [directional_fd(f, (x, 3), [0], [e]) for e in np.eye(5)]
    np.testing.assert_allclose(cofactor.grad(f)(x, 3), fd, rtol=1e-6, atol=1e-9)


def test_two_dimensional_arrays():
    rng = np.random.default_rng(6)
    a, x = rng.normal(size=(4, 3)), rng.normal(size=3)
    ga, gx = cofactor.grad(matrix_form, argnums=(0, 1))(a, x)
    assert ga.shape == (4, 3)
    v, w = rng.normal(size=(4, 3)), rng.normal(size=3)
    exact = np.sum(ga * v) + np.sum(gx * w)
    assert exact == pytest.approx(directional_fd(matrix_form, (a, x), [0, 1], [v, w]), rel=1e-6)


def test_float32():
    def f(x):
        s = np.float32(0.0)
        for i in range(x.shape[0]):
            s += x[i] * x[i]
        return s

    x = np.arange(1.0, 5.0, dtype=np.float32)
    g = cofactor.grad(f)(x)
    assert g.dtype == np.float32
    np.testing.assert_allclose(g, 2 * x)


# ---------------------------------------------------------------------------
# calls


def _rhs(x, forcing, out):
    n = x.shape[0]
    for j in range(n):
        out[j] = (x[(j + 1) % n] - x[j - 2]) * x[j - 1] - x[j] + forcing


def lorenz(x0, forcing, dt, steps):
    n = x0.shape[0]
    x = np.zeros(n)
    k = np.zeros(n)
    for j in range(n):
        x[j] = x0[j]
    total = 0.0
    for _ in range(steps):
        _rhs(x, forcing, k)
        for j in range(n):
            x[j] = x[j] + dt * k[j]
            total += x[j] * x[j]
    return total


def _accel(x, v, mu):
    return mu * (1.0 - x * x) * v - x


def oscillator(x, v, mu, dt, steps):
    total = 0.0
    step = 0
    while step < steps:
        a = _accel(x, v, mu)
        x, v = x + dt * v, v + dt * _accel(x + 0.5 * dt * v, v + 0.5 * dt * a, mu)
        total += x * x
        step += 1
    return total


def _scaled_copy(x, s):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = s * x[i] * x[i]
    return out


def uses_returned_array(x, s):
    y = _scaled_copy(x, s)
    t = 0.0
    for i in range(y.shape[0]):
        t += math.sin(y[i])
    return t


def test_call_writing_an_array_that_the_caller_overwrites_later():
    x0 = 8.0 + np.random.default_rng(7).normal(size=6)
    gx, gf = cofactor.grad(lorenz, argnums=(0, 1))(x0, 8.0, 0.01, 20)
    fd = [directional_fd(lorenz, (x0, 8.0, 0.01, 20), [0], [e]) for e in np.eye(6)]
    np.testing.assert_allclose(gx, fd, rtol=1e-5)
    assert gf == pytest.approx(directional_fd(lorenz, (x0, 8.0, 0.01, 20), [1], [1.0]),
                               rel=1e-5)


def test_scalar_calls_in_while_loop():
    args = (1.5, 0.0, 2.0, 0.01, 50)
    grads = cofactor.grad(oscillator, argnums=(0, 1, 2))(*args)
    for k, g in enumerate(grads):
        assert g == pytest.approx(directional_fd(oscillator, args, [k], [1.0]), rel=1e-6)


def test_call_returning_an_array():
    x = np.linspace(-1.0, 1.0, 5)
    gx, gs = cofactor.grad(uses_returned_array, argnums=(0, 1))(x, 0.7)
    np.testing.assert_allclose(gx, np.cos(0.7 * x * x) * 1.4 * x, rtol=1e-13)
    assert gs == pytest.approx(np.sum(np.cos(0.7 * x * x) * x * x), rel=1e-13)


# ---------------------------------------------------------------------------
# vjp, jacrev, hessian, hvp, autodiff


def square_shift(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i] + x[(i + 1) % x.shape[0]]
    return out, x.shape[0]


def rosenbrock(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] * x[i]) ** 2 + (1.0 - x[i]) ** 2
    return s


def mixed(x, y, n):
    s = 0.0
    for i in range(n):
        s += math.sin(x[i] * y) * x[i]
    return s * y


def test_vjp_of_array_output_and_jit_function():
    f = cofactor.jit(square_shift)
    x = np.linspace(-1.0, 1.0, 6)
    (out, n), pullback = cofactor.vjp(f, x)
    np.testing.assert_allclose(out, square_shift(x)[0])
    w = np.arange(6.0)
    (gx,) = pullback((w, None))
    np.testing.assert_allclose(gx, 2 * x * w + np.roll(w, 1), rtol=1e-14)


def test_jacrev_matches_jacfwd():
    x = np.random.default_rng(8).normal(size=5)
    jr, _ = cofactor.jacrev(square_shift)(x)
    jf, _ = cofactor.jacfwd(square_shift)(x)
    np.testing.assert_allclose(jr, jf, rtol=1e-14)
    g = cofactor.jacrev(rosenbrock)(x)
    np.testing.assert_allclose(g, cofactor.grad(rosenbrock)(x), rtol=1e-14)


@pytest.mark.parametrize("n", [3, 20])
def test_hessian_against_finite_differences_of_grad(n):
    x = np.random.default_rng(n).uniform(-1.0, 1.0, n)
    h = cofactor.hessian(rosenbrock)(x)
    g = cofactor.grad(rosenbrock)
    fd = np.stack([(g(x + 1e-6 * e) - g(x - 1e-6 * e)) / 2e-6 for e in np.eye(n)], axis=-1)
    np.testing.assert_allclose(h, fd, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(h, h.T, rtol=1e-12, atol=1e-12)


def test_hessian_blocks_and_hvp():
    x, y = np.linspace(0.1, 0.9, 4), 1.3
    (hxx, hxy), (hyx, hyy) = cofactor.hessian(mixed, argnums=(0, 1))(x, y, 4)
    assert hxx.shape == (4, 4) and hxy.shape == (4,) and np.shape(hyy) == ()
    np.testing.assert_allclose(hxy, (cofactor.grad(mixed)(x, y + 1e-6, 4)
                                     - cofactor.grad(mixed)(x, y - 1e-6, 4)) / 2e-6, rtol=1e-6)
    np.testing.assert_allclose(hxy, hyx, rtol=1e-12)
    v, w = np.random.default_rng(9).normal(size=4), 0.7
    hv_x, hv_y, none = cofactor.hvp(mixed, (x, y, 4), (v, w, None))
    np.testing.assert_allclose(hv_x, hxx @ v + hxy * w, rtol=1e-12)
    assert hv_y == pytest.approx(hyx @ v + hyy * w, rel=1e-12) and none is None


def test_autodiff_reverse_accumulates_in_place():
    x = np.array([1.0, 2.0, 3.0])
    dx = np.ones(3)
    value, (dy,) = cofactor.autodiff(mixed, cofactor.Duplicated(x, dx), cofactor.Active(0.5),
                                     cofactor.Const(3), mode="reverse")
    assert value == pytest.approx(mixed(x, 0.5, 3))
    gx, gy = cofactor.grad(mixed, argnums=(0, 1))(x, 0.5, 3)
    np.testing.assert_allclose(dx, 1.0 + gx, rtol=1e-14)  # += into the shadow
    assert dy == pytest.approx(gy, rel=1e-14)


def test_errors():
    with pytest.raises(TypeError, match="argument 2 has type i64"):
        cofactor.grad(mixed, argnums=2)(np.ones(2), 1.0, 2)
    with pytest.raises(TypeError, match="only a float scalar result can be active"):
        cofactor.grad(_scaled_copy)(np.ones(3), 2.0)
    with pytest.raises(TypeError, match="returns 2 values"):
        cofactor.grad(square_shift)(np.ones(3))
    with pytest.raises(TypeError, match="Active takes a float scalar"):
        cofactor.autodiff(rosenbrock, cofactor.Active(np.ones(3)), mode="reverse")


# ---------------------------------------------------------------------------
# the IR


def test_gradient_ir_shows_caches_and_their_reservation():
    text = stage_text(heat, (A1, I64, F64), Options(), "ad",
                      derivative=Derivative("reverse", ("dup", "const", "active")))
    assert "func.func private @revdiff_heat_dca_a(" in text
    assert "ad.init : !ad.cache<f64>" in text
    # one reservation per inner loop, before it; one push per iteration inside it
    assert text.count("ad.reserve") == 1 and text.count("ad.push") == 2
    assert text.count("ad.pop") == 2
    lowered = stage_text(heat, (A1, I64, F64), Options(), "llvm-dialect",
                         derivative=Derivative("reverse", ("dup", "const", "active")))
    assert "ad." not in lowered and "@realloc" in lowered and "@free" in lowered


def heat_2d(u, steps, alpha):
    """Explicit 5-point heat steps (edges fixed), then a weighted sum."""
    ny, nx = u.shape
    w = u.copy()
    scratch = u.copy()
    for _ in range(steps):
        for i in range(1, ny - 1):
            for j in range(1, nx - 1):
                scratch[i, j] = w[i, j] + alpha * (w[i - 1, j] + w[i + 1, j] + w[i, j - 1]
                                                   + w[i, j + 1] - 4.0 * w[i, j])
        for i in range(1, ny - 1):
            for j in range(1, nx - 1):
                w[i, j] = scratch[i, j]
    total = 0.0
    for i in range(ny):
        for j in range(nx):
            total += w[i, j] * (1.0 + 0.01 * i * j)
    return total


def heat_2d_adjoint(u, steps, alpha):
    """The gradient by hand: the step is linear, its transpose a gather."""
    ny, nx = u.shape
    g = np.fromfunction(lambda i, j: 1.0 + 0.01 * i * j, u.shape)
    for _ in range(steps):
        inner = g[1:-1, 1:-1].copy()
        g[1:-1, 1:-1] = (1.0 - 4.0 * alpha) * inner
        g[:-2, 1:-1] += alpha * inner
        g[2:, 1:-1] += alpha * inner
        g[1:-1, :-2] += alpha * inner
        g[1:-1, 2:] += alpha * inner
    return g


def test_stencil_adjoint_loops_are_split_and_exact():
    """The reverse stencil's increments at offsets (-1, 0), (1, 0), (0, -1),
    (0, 1), (0, 0) each get a loop (`split-adjoint-loops`); the gradient
    equals the hand-written adjoint on many grids."""
    a2 = ArrayType(F64, 2)
    text = stage_text(heat_2d, (a2, I64, F64), Options(), "ad",
                      derivative=Derivative("reverse", ("dup", "const", "const")))
    reverse = text[text.index("func.func private @revdiff_heat_2d"):]
    # alpha * w_sum in the forward sweep, alpha * the adjoint in each of the
    # reverse stencil's five loops (one loop: 2)
    assert reverse.count("arith.mulf %alpha") == 6
    g = cofactor.grad(heat_2d)
    rng = np.random.default_rng(7)
    for _ in range(12):
        ny, nx, steps = rng.integers(1, 12), rng.integers(1, 12), rng.integers(0, 6)
        alpha = rng.uniform(0.05, 0.25)
        u = rng.uniform(-1.0, 1.0, (ny, nx))
        np.testing.assert_allclose(g(u, steps, alpha), heat_2d_adjoint(u, steps, alpha),
                                   rtol=1e-13, atol=1e-14)


SKEW = ((0.5, -2), (0.1, -1), (-0.25, 0), (0.75, 1))  # (coefficient, offset)


def skewed_stencil(x, w, steps):
    """An asymmetric 4-point stencil over time, then a weighted sum."""
    n = x.shape[0]
    u = x.copy()
    v = x.copy()
    for _ in range(steps):
        for i in range(2, n - 1):
            v[i] = 0.5 * u[i - 2] + 0.1 * u[i - 1] - 0.25 * u[i] + 0.75 * u[i + 1]
        for i in range(2, n - 1):
            u[i] = v[i]
    s = 0.0
    for i in range(n):
        s += w[i] * u[i]
    return s


def skewed_stencil_adjoint(x, w, steps):
    """The transposed steps, by hand."""
    n = x.shape[0]
    g = w.copy()
    for _ in range(steps if n > 3 else 0):  # no interior below n = 4
        inner = g[2:n - 1].copy()
        g[2:n - 1] = 0.0
        for c, o in SKEW:
            g[2 + o:n - 1 + o] += c * inner
    return g


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 16), st.integers(0, 4), st.integers(0, 2**31))
def test_split_stencil_adjoints_equal_the_transposed_steps(n, steps, seed):
    """Four offsets, four reverse loops (`split-adjoint-loops`): the gradient
    is the hand-transposed stencil's, for every size and step count."""
    rng = np.random.default_rng(seed)
    x, w = rng.normal(size=n), rng.normal(size=n)
    got = cofactor.grad(skewed_stencil)(x, w, steps)
    np.testing.assert_allclose(got, skewed_stencil_adjoint(x, w, steps), rtol=1e-12,
                               atol=1e-13)


def triangular_energy(lower, mu, x):
    """As in the GMM objective: q_j = sum_{i<j} L_ij (x_i - mu_i), column-wise
    over the K columns, then sum q^2 / 2."""
    d = mu.shape[0]
    k = mu.shape[1]
    q = np.zeros((d, k))
    idx = 0
    for i in range(d):
        for j in range(i + 1, d):
            for c in range(k):
                q[j, c] += lower[idx, c] * (x[i] - mu[i, c])
            idx += 1
    s = 0.0
    for j in range(d):
        for c in range(k):
            s += 0.5 * q[j, c] * q[j, c]
    return s


def triangular_energy_adjoint(lower, mu, x):
    """The gradient by hand, in numpy."""
    d = mu.shape[0]
    rows, cols = np.tril_indices(d, -1)
    order = np.lexsort((rows, cols))  # packed column by column, as the loops
    rows, cols = rows[order], cols[order]
    xc = x[:, None] - mu  # (d, K)
    q = np.zeros_like(mu)
    np.add.at(q, rows, lower[:len(rows)] * xc[cols])
    dlower = np.zeros_like(lower)
    dlower[:len(rows)] = q[rows] * xc[cols]
    dmu = np.zeros_like(mu)
    np.add.at(dmu, cols, -q[rows] * lower[:len(rows)])
    return dlower, dmu


def test_matvec_adjoint_loops_are_jammed():
    """The reverse of the triangular loop runs four rows per pass of its
    column loop (`jam-adjoint-loops`), and dmu[i, :] is stored once per pass."""
    a2, a1 = ArrayType(F64, 2), ArrayType(F64, 1)
    text = stage_text(triangular_energy, (a2, a2, a1), Options(), "ad",
                      derivative=Derivative("reverse", ("dup", "dup", "const")))
    reverse = text[text.index("func.func private @revdiff_triangular_energy"):]
    # the jammed loop and the remainder loop: dlower is stored by 4 + 1 copies,
    # dmu by the last copy and the remainder
    assert "arith.remsi" in reverse
    assert len(re.findall(r"memref.store %\w+, %dlower\[", reverse)) == 5
    assert len(re.findall(r"memref.store %\w+, %dmu\[", reverse)) == 2


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 9), st.integers(1, 19), st.integers(0, 2**31))
def test_jammed_matvec_adjoints_equal_the_hand_written_ones(d, k, seed):
    """Every row count (all remainders of the jam by 4) and column count (the
    vector remainders): the gradient is the hand-written one."""
    rng = np.random.default_rng(seed)
    lower = rng.normal(size=(max(d * (d - 1) // 2, 1), k))
    mu, x = rng.normal(size=(d, k)), rng.normal(size=d)
    got = cofactor.grad(triangular_energy, argnums=(0, 1))(lower, mu, x)
    want = triangular_energy_adjoint(lower, mu, x)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


def test_cli_shows_the_gradient(tmp_path, capsys):
    from cofactor.cli import main

    source = tmp_path / "kernel.py"
    source.write_text("def power(x, n):\n    s = 1.0\n    for i in range(n):\n"
                      "        s = s * x\n    return s\n")
    assert main(["ir", f"{source}:power", "--signature", "f64, i64", "--grad", "0",
                 "--stage", "ad"]) == 0
    out = capsys.readouterr().out
    assert "@revdiff_power_ac_a(" in out
    assert "ad.reserve %tape" in out and "ad.push %tape" in out and "ad.pop %tape" in out
    assert main(["ir", f"{source}:power", "--signature", "f64, i64", "--grad", "1"]) == 1
    assert "--grad 1: no float argument 1" in capsys.readouterr().err
