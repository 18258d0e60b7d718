"""Float reductions over library math (`split-math-reductions`): the math runs
64 iterations ahead in a loop of its own, the sum in order as written. Values
and derivatives must match CPython and the analytic ones for every length,
across strip boundaries (libmvec's functions are within 4 ulp of libm's)."""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import cofactor
from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import stage_text
from cofactor.compiler.types import F64, ArrayType


def logsumexp(v):
    m = v[0]
    for i in range(1, v.shape[0]):
        m = max(m, v[i])
    s = 0.0
    for i in range(v.shape[0]):
        s += math.exp(v[i] - m)
    return math.log(s) + m


def trig_energy(x, w):
    """Two library calls per term, a weight loaded beside them."""
    s = 0.0
    for i in range(x.shape[0]):
        s += w[i] * math.sin(x[i]) * math.cos(0.5 * x[i]) + math.log1p(x[i] * x[i])
    return s


def test_the_sums_math_gets_a_loop_of_its_own():
    text = stage_text(logsumexp, (ArrayType(F64, 1),), Options(), "ad")
    assert "memref.alloca() : memref<64xf64>" in text
    assert text.count("math.exp") == 1 and "arith.minsi" in text


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2**31))
def test_logsumexp_and_its_gradient_for_every_length(n, seed):
    rng = np.random.default_rng(seed)
    v = rng.normal(0.0, 3.0, n)
    assert math.isclose(cofactor.jit(logsumexp)(v), logsumexp(v), rel_tol=1e-14, abs_tol=1e-14)
    softmax = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
    np.testing.assert_allclose(cofactor.grad(logsumexp)(v), softmax, rtol=1e-12, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300), st.integers(0, 2**31))
def test_two_library_calls_per_term_for_every_length(n, seed):
    rng = np.random.default_rng(seed)
    x, w = rng.uniform(-4.0, 4.0, n), rng.normal(size=n)
    want = trig_energy(x, w)
    assert math.isclose(cofactor.jit(trig_energy)(x, w), want, rel_tol=1e-13, abs_tol=1e-13)
    dx, dw = cofactor.grad(trig_energy, argnums=(0, 1))(x, w)
    analytic_dx = (w * (np.cos(x) * np.cos(0.5 * x) - 0.5 * np.sin(x) * np.sin(0.5 * x))
                   + 2.0 * x / (1.0 + x * x))
    np.testing.assert_allclose(dx, analytic_dx, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(dw, np.sin(x) * np.cos(0.5 * x), rtol=1e-12, atol=1e-13)


def test_hessian_of_logsumexp_is_the_softmax_covariance():
    rng = np.random.default_rng(3)
    for n in (1, 5, 64, 65, 130):
        v = rng.normal(size=n)
        p = np.exp(v - v.max()) / np.exp(v - v.max()).sum()
        np.testing.assert_allclose(cofactor.hessian(logsumexp)(v), np.diag(p) - np.outer(p, p),
                                   rtol=1e-10, atol=1e-13)
