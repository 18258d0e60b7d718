"""`split-loop-ranges` end to end: loops whose counter tests change value at a
few points (periodic neighbours, boundary branches) give CPython's results for
every size, including the small ones the split version leaves to the original
loop, and their gradients stay right."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import cofactor
from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import stage_text
from cofactor.compiler.types import F64, ArrayType

A1 = ArrayType(F64, 1)


def periodic_rhs(x, out):
    """Lorenz-96's right-hand side, neighbours wrapped by tests."""
    n = x.shape[0]
    for j in range(n):
        jp1 = j + 1
        if jp1 == n:
            jp1 = 0
        jm1 = j - 1
        if jm1 < 0:
            jm1 += n
        jm2 = j - 2
        if jm2 < 0:
            jm2 += n
        out[j] = (x[jp1] - x[jm2]) * x[jm1] - x[j] + 8.0


def boundaries(x, k):
    """Different formulas near both ends: tests against k and n - k."""
    n = x.shape[0]
    s = 0.0
    for j in range(1, n):
        if j < 3:
            s += 2.0 * x[j]
        elif j >= n - 2:
            s -= x[j] * x[j - 1]
        else:
            s += x[j] * k
        if j == n - 1:
            s *= 0.5
    return s


def wrapped_loss(x):
    out = np.zeros(x.shape[0])
    periodic_rhs(x, out)
    s = 0.0
    for j in range(x.shape[0]):
        s += out[j] * out[j] * (1.0 + 0.1 * j)
    return s


def test_periodic_loop_is_split_into_plain_pieces():
    text = stage_text(periodic_rhs, (A1, A1), Options(), "opt")
    # the pieces for j = 0, 1 fold to straight code; [2, n - 1) and [n - 1, n)
    # stay loops, and the original loop is the fallback for small n
    assert text.count("scf.for") == 3
    middle = text[text.index("scf.for"):]
    middle = middle[:middle.index("scf.yield")]
    assert "scf.if" not in middle and "arith.select" not in middle


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 12), st.integers(0, 2**31))
def test_split_loops_match_cpython_at_every_size(n, seed):
    x = np.random.default_rng(seed).normal(size=n)
    expected, got = np.zeros(n), np.zeros(n)
    periodic_rhs(x, expected)  # n = 1: jm2 = -1 reads x[-1], as in CPython
    cofactor.jit(periodic_rhs)(x, got)
    np.testing.assert_array_equal(got, expected)
    k = float(seed % 7)
    assert cofactor.jit(boundaries)(x, k) == boundaries(x, k)


@pytest.mark.parametrize("n", [3, 4, 5, 17])
def test_gradient_through_split_loops(n):
    x = np.random.default_rng(n).normal(size=n)
    g = cofactor.grad(wrapped_loss)(x)
    h = 1e-6
    fd = [(wrapped_loss(x + h * e) - wrapped_loss(x - h * e)) / (2 * h) for e in np.eye(n)]
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
