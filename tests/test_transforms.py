"""The public derivative API against finite differences and analytic answers."""

import math

import numpy as np
import pytest

import cofactor


def poly(x, y):
    return 3.0 * x ** 3 - 2.0 * x * y + math.sin(y)


def weighted_sum(x, w, n):
    s = 0.0
    for i in range(n):
        s += w[i] * math.exp(x[i]) * x[i]
    return s


def square_shift(x):
    out = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        out[i] = x[i] * x[i] + x[(i + 1) % x.shape[0]]
    return out, x.shape[0]


def in_place(x, a):
    for i in range(x.shape[0]):
        x[i] = x[i] * a
    return x[0] + x[x.shape[0] - 1]


def fd(f, args, k, tangent, h=1e-6):
    plus = list(args)
    minus = list(args)
    plus[k] = args[k] + h * tangent
    minus[k] = args[k] - h * tangent
    fp, fm = f(*[np.copy(a) for a in plus]), f(*[np.copy(a) for a in minus])
    if isinstance(fp, tuple):
        fp, fm = fp[0], fm[0]
    return (np.asarray(fp) - np.asarray(fm)) / (2 * h)


@pytest.mark.parametrize("seed", range(10))
def test_jvp_scalar_analytic(seed):
    rng = np.random.default_rng(seed)
    x, y, tx, ty = rng.normal(size=4)
    out, tangent = cofactor.jvp(poly, (x, y), (tx, ty))
    assert out == pytest.approx(poly(x, y), rel=1e-14)
    expected = (9 * x * x - 2 * y) * tx + (-2 * x + math.cos(y)) * ty
    assert tangent == pytest.approx(expected, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_jvp_array_against_finite_differences(seed):
    rng = np.random.default_rng(seed)
    x, w, t = rng.normal(size=(3, 7))
    out, tangent = cofactor.jvp(weighted_sum, (x, w, 7), (t, None, None))
    assert out == pytest.approx(weighted_sum(x, w, 7))
    assert tangent == pytest.approx(fd(weighted_sum, (x, w, 7), 0, t), rel=1e-6)
    _, wrt_w = cofactor.jvp(weighted_sum, (x, w, 7), (None, t, None))
    assert wrt_w == pytest.approx(np.sum(t * np.exp(x) * x), rel=1e-12)


def test_jvp_on_jit_function_and_tuple_output():
    f = cofactor.jit(square_shift)
    x = np.linspace(-1.0, 1.0, 6)
    t = np.arange(6.0)
    (out, n), (tangent, n_tangent) = cofactor.jvp(f, (x,), (t,))
    np.testing.assert_allclose(out, square_shift(x)[0])
    assert n == 6 and n_tangent is None
    np.testing.assert_allclose(tangent, 2 * x * t + np.roll(t, -1), rtol=1e-14)


def test_jvp_never_modifies_caller_arrays():
    x = np.array([1.0, 2.0, 3.0])
    t = np.array([1.0, 0.0, 0.0])
    keep_x, keep_t = x.copy(), t.copy()
    out, tangent = cofactor.jvp(in_place, (x, 2.0), (t, 1.0))
    np.testing.assert_array_equal(x, keep_x)
    np.testing.assert_array_equal(t, keep_t)
    assert out == 8.0 and tangent == pytest.approx(2.0 + 1.0 + 3.0)


def test_jvp_rejects_tangent_for_int():
    with pytest.raises(TypeError, match="no derivative"):
        cofactor.jvp(weighted_sum, (np.ones(3), np.ones(3), 3), (None, None, 1))


@pytest.mark.parametrize("n", [1, 5, 16, 17, 40])
def test_jacfwd_uses_sweeps_of_up_to_16(n):
    x = np.linspace(0.0, 1.0, n)
    jac = cofactor.jacfwd(weighted_sum)(x, np.ones(n), n)
    np.testing.assert_allclose(jac, np.exp(x) * (1 + x), rtol=1e-13)


def test_jacfwd_vector_output_matches_finite_differences():
    x = np.random.default_rng(3).normal(size=5)
    jac, _ = cofactor.jacfwd(square_shift)(x)
    expected = np.stack([fd(square_shift, (x,), 0, e) for e in np.eye(5)], axis=-1)
    np.testing.assert_allclose(jac, expected, rtol=1e-6, atol=1e-8)


def test_jacfwd_several_argnums():
    dx, dy = cofactor.jacfwd(poly, argnums=(0, 1))(0.5, -1.5)
    assert dx == pytest.approx(9 * 0.25 + 3.0)
    assert dy == pytest.approx(-1.0 + math.cos(-1.5))


def test_autodiff_forward_in_place_and_batched():
    x = np.linspace(0.0, 1.0, 4)
    w = np.ones(4)
    dx = np.array([1.0, 0.0, 2.0, 0.0])
    out, tangent = cofactor.autodiff(weighted_sum, cofactor.Duplicated(x, dx),
                                     cofactor.Const(w), 4)
    assert tangent == pytest.approx(np.sum(dx * np.exp(x) * (1 + x)))
    seeds = [np.eye(4)[k] for k in range(4)]
    out2, tangents = cofactor.autodiff(weighted_sum, cofactor.BatchDuplicated(x, seeds), w, 4)
    assert out2 == out
    np.testing.assert_allclose(tangents, np.exp(x) * (1 + x), rtol=1e-13)


def test_autodiff_forward_writes_into_caller_arrays():
    x = np.array([1.0, 2.0])
    dx = np.array([1.0, 1.0])
    cofactor.autodiff(in_place, cofactor.Duplicated(x, dx), cofactor.Duplicated(3.0, 0.0))
    np.testing.assert_array_equal(x, [3.0, 6.0])
    np.testing.assert_array_equal(dx, [3.0, 3.0])


def scale_then_dot(x, w):
    """Writes `x` in place, only reads `w`."""
    for i in range(x.shape[0]):
        x[i] = x[i] * 2.0
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i] * w[i] * w[i]
    return s


def test_transforms_copy_only_the_arrays_the_function_writes():
    """The caller's `x` is never written (it is copied); `w`, which the function
    only reads, is passed as it is, so a read-only array is accepted."""
    x = np.array([1.0, -2.0, 0.5])
    w = np.array([3.0, 1.0, -1.0])
    w.flags.writeable = False
    keep = x.copy()
    want_gx, want_gw = 2.0 * w * w, 4.0 * x * w
    gx, gw = cofactor.grad(scale_then_dot, argnums=(0, 1))(x, w)
    np.testing.assert_allclose(gx, want_gx, rtol=1e-15)
    np.testing.assert_allclose(gw, want_gw, rtol=1e-15)
    value, pullback = cofactor.vjp(scale_then_dot, x, w)
    assert value == pytest.approx(np.sum(2.0 * x * w * w), rel=1e-15)
    np.testing.assert_allclose(pullback(1.0)[1], want_gw, rtol=1e-15)
    _, tangent = cofactor.jvp(scale_then_dot, (x, w), (np.ones(3), np.ones(3)))
    assert tangent == pytest.approx(np.sum(want_gx + want_gw), rel=1e-14)
    h = cofactor.hessian(scale_then_dot, argnums=1)(x, w)
    np.testing.assert_allclose(h, np.diag(4.0 * x), rtol=1e-15)
    np.testing.assert_allclose(cofactor.jacrev(scale_then_dot, argnums=1)(x, w), want_gw,
                               rtol=1e-15)
    np.testing.assert_array_equal(x, keep)
