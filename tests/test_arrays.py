"""NumPy array expressions in compiled code (issue #6): values and dtypes
against NumPy, broadcasting, reductions, products, views, stores, errors,
derivatives (forward mode, and reverse mode once `cofactor.grad` exists),
fusion and memory.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import cofactor

RNG = np.random.default_rng(6)


def check(got, want, rtol=1e-12):
    """Same values and dtypes as NumPy, element by element through tuples."""
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            check(g, w, rtol)
        return
    if np.ndim(want) == 0 and not isinstance(got, np.ndarray):
        # scalar results come back as Python bool, int or float (float32 too)
        assert type(got) is {"b": bool, "i": int, "f": float}[np.asarray(want).dtype.kind]
        np.testing.assert_allclose(got, want, rtol=rtol, equal_nan=True)
        return
    want = np.asarray(want)
    got = np.asarray(got)
    assert got.dtype == want.dtype, f"dtype {got.dtype}, NumPy gives {want.dtype}"
    assert got.shape == want.shape, f"shape {got.shape}, NumPy gives {want.shape}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, want)


def same_as_numpy(f, *args, rtol=1e-12):
    """Run `f` compiled and under NumPy on copies of the arguments; compare
    the results and what happened to the arguments."""
    copies = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = cofactor.jit(f)(*args)
    want = f(*copies)
    check(got, want, rtol)
    for a, c in zip(args, copies, strict=True):
        if isinstance(a, np.ndarray):
            check(a, c, rtol)
    return got


# ---------------------------------------------------------------------------
# Elementwise operators, dtypes and broadcasting


def arithmetic(a, b):
    return a + b, a - b, a * b, a / b, a // b, a % b, a ** b


def comparisons(a, b):
    return a < b, a <= b, a > b, a >= b, a == b, a != b


def positive(dtype, shape):
    if np.dtype(dtype).kind == "i":
        return RNG.integers(1, 4, size=shape).astype(dtype)
    return RNG.uniform(0.5, 2.0, size=shape).astype(dtype)


DTYPES = [np.float64, np.float32, np.int64]


@pytest.mark.parametrize("left", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("right", DTYPES, ids=lambda d: np.dtype(d).name)
def test_operators_between_arrays_promote_like_numpy(left, right):
    a, b = positive(left, (3, 4)), positive(right, (4,))
    rtol = 1e-6 if np.float32 in (left, right) else 1e-12
    same_as_numpy(arithmetic, a, b, rtol=rtol)
    same_as_numpy(comparisons, a, b)


@pytest.mark.parametrize("array_dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("scalar", [2, 1.5, np.float32(1.5)], ids=["int", "float", "float32"])
def test_operators_with_scalars_follow_nep50(array_dtype, scalar):
    a = positive(array_dtype, (5,))
    rtol = 1e-6 if array_dtype is np.float32 or isinstance(scalar, np.float32) else 1e-12
    same_as_numpy(arithmetic, a, scalar, rtol=rtol)
    same_as_numpy(arithmetic, scalar, a, rtol=rtol)
    same_as_numpy(comparisons, scalar, a)


def integer_powers(a, n):
    return a ** 2, a ** 0, 2 ** n, n ** n, a ** 2.0, a ** -1.0


def floor_division(a, b):
    return a // b, a % b, a / b


def test_integer_powers_and_floor_semantics():
    a = np.array([-7, -3, 0, 2, 5])
    same_as_numpy(integer_powers, a[a != 0], np.array([0, 1, 3, 5]))
    b = np.array([-2, 3, 4, -5, 2])
    same_as_numpy(floor_division, a, b)
    same_as_numpy(floor_division, a.astype(float), b.astype(float))
    with pytest.raises(ValueError, match="negative integer powers"):
        cofactor.jit(arithmetic)(a, b)


def bool_ops(p, q):
    return p + q, p * q, p & q, p | q, p ^ q, ~p, p == q, p != q, p + 1, p * 2.5, p / q


def int_bit_ops(a, b):
    return a & b, a | b, a ^ b, ~a, a << 2, a >> 1, -a, +a


def test_bool_and_bitwise_operators():
    p = np.array([True, True, False, False])
    q = np.array([True, False, True, True])
    with np.errstate(divide="ignore", invalid="ignore"):
        same_as_numpy(bool_ops, p, q)
    same_as_numpy(int_bit_ops, np.array([5, -3, 12, 0]), np.array([3, 6, -1, 7]))


BROADCAST_SHAPES = [
    ((3, 1), (1, 4)), ((4,), (3, 4)), ((2, 3, 4), (3, 1)), ((1,), (5,)), ((2, 1, 3), (4, 1)),
    ((5,), (1, 1)), ((0, 3), (1, 3)), ((3, 4), (3, 4)),
]


def mixed(a, b):
    return a * b + np.exp(a) - b / 2.0


@pytest.mark.parametrize(("sa", "sb"), BROADCAST_SHAPES, ids=str)
def test_broadcasting_with_runtime_shapes(sa, sb):
    a, b = RNG.normal(size=sa), RNG.normal(size=sb)
    same_as_numpy(mixed, a, b)
    same_as_numpy(mixed, b, a)


def test_broadcast_mismatch_raises_value_error():
    f = cofactor.jit(mixed)
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="broadcast"):
        f(np.ones(0), np.ones(2))
    check(f(np.ones(3), np.ones(1)), mixed(np.ones(3), np.ones(1)))  # still fine afterwards


def ufuncs(x, y):
    return (np.exp(x), np.log(y), np.log1p(y), np.sqrt(y), np.sin(x), np.cos(x), np.tan(x),
            np.tanh(x), np.sinh(x), np.cosh(x), np.arctan(x), np.abs(x), abs(x),
            np.maximum(x, y), np.minimum(x, 0.0), np.where(x > 0, x, y), np.clip(x, -0.5, 0.5),
            np.clip(x, None, 0.1), np.floor(x), np.ceil(x), np.square(x), np.power(y, x),
            np.arctan2(x, y), np.hypot(x, y), np.isnan(x), np.isfinite(y), -x, x.astype(np.int64),
            np.exp(x).astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_ufuncs_on_arrays(dtype):
    x = RNG.normal(size=(4, 3)).astype(dtype)
    y = RNG.uniform(0.1, 3.0, size=(3,)).astype(dtype)
    same_as_numpy(ufuncs, x, y, rtol=1e-5 if dtype is np.float32 else 1e-12)


def int_ufuncs(a, b):
    return (np.exp(a), np.sqrt(np.abs(a)), np.abs(a), np.maximum(a, b), np.minimum(a, 1.5),
            np.where(a > b, a, b), np.where(a > 0, 1, 0.5), np.clip(a, -1, 2), np.floor(a),
            np.square(a))


def nan_ufuncs(x, y):
    return np.maximum(x, y), np.minimum(y, x), np.clip(x, 0.0, 1.0), np.isnan(x), np.exp(x) * y


def test_ufuncs_on_int_arrays_and_nan_propagation():
    same_as_numpy(int_ufuncs, np.array([-3, 0, 2, 7]), np.array([1, 1, 5, -2]))
    same_as_numpy(nan_ufuncs, np.array([1.0, np.nan, -2.0]), np.array([0.5, 2.0, np.nan]))


def bump(x):
    x += 1.0
    return 0.0


def evaluation_order(x, y):
    """NumPy computes `x * 2.0` before bump() changes x; a view is read after."""
    return (x * 2.0) + bump(x), np.maximum(x * 2.0, bump(x)), y[1:] + bump(y), (x + 1.0) < bump(x)


def test_array_expressions_are_computed_before_later_calls_change_their_arrays():
    same_as_numpy(evaluation_order, np.arange(3.0), np.arange(4.0))


# ---------------------------------------------------------------------------
# Reductions


def reductions(x):
    return (np.sum(x), x.sum(), np.mean(x), x.mean(), np.prod(x), x.prod(), np.max(x),
            x.max(), np.min(x), x.min(), np.argmax(x), x.argmax(), np.argmin(x), x.argmin())


def axis_reductions(x):
    return (np.sum(x, axis=0), x.sum(axis=-1), np.mean(x, 1), x.mean(axis=0), np.prod(x, -1),
            np.max(x, axis=1), x.min(axis=0), np.argmax(x, axis=0), x.argmin(axis=-1),
            np.amax(x, 0), np.amin(x, axis=-2))


def test_reductions_over_everything():
    x = RNG.normal(size=(3, 4))
    same_as_numpy(reductions, x)
    same_as_numpy(reductions, x.astype(np.float32), rtol=1e-5)
    same_as_numpy(reductions, RNG.integers(-5, 5, size=7))
    same_as_numpy(reductions, np.array([True, False, True]))
    same_as_numpy(reductions, RNG.normal(size=(2, 3, 2)))


def test_reductions_along_an_axis():
    same_as_numpy(axis_reductions, RNG.normal(size=(3, 5)))
    same_as_numpy(axis_reductions, RNG.integers(-9, 9, size=(4, 2)))
    same_as_numpy(axis_reductions, RNG.normal(size=(2, 3, 4)))
    same_as_numpy(axis_reductions, RNG.normal(size=(1, 1)))


def fused_reductions(x, y):
    return np.sum(x * y), np.mean((x - y) ** 2), np.max(np.abs(x - y), axis=0), np.sum([x[0, 0],
                                                                                    y[0], 2.0])


def test_reductions_of_expressions_and_lists():
    same_as_numpy(fused_reductions, RNG.normal(size=(3, 4)), RNG.normal(size=4))


def test_max_and_argmax_with_nan_follow_numpy():
    x = np.array([1.0, np.nan, 3.0, np.nan])
    same_as_numpy(reductions, x)
    same_as_numpy(axis_reductions, np.array([[1.0, np.nan], [2.0, 0.0]]))


def maximum_of(x):
    return np.max(x)


def sum_and_mean(x):
    return np.sum(x), np.mean(x)


def argmin_of(x):
    return np.argmin(x, axis=1)


def test_empty_reductions_without_identity_raise():
    with pytest.raises(ValueError, match="zero-size array to reduction operation maximum"):
        cofactor.jit(maximum_of)(np.zeros(0))
    with pytest.raises(ValueError, match="empty sequence"):
        cofactor.jit(argmin_of)(np.zeros((2, 0)))
    total, mean = cofactor.jit(sum_and_mean)(np.zeros(0))
    assert total == 0.0 and np.isnan(mean)


# ---------------------------------------------------------------------------
# Linear algebra


def products(A, B, v, w):
    """A (3, 4), B (4, 5), v (4,), w (3,)."""
    return (A @ B, A @ v, v @ B, v @ v, np.dot(A, B), np.dot(A, v), np.dot(w, A), np.dot(v, v),
            np.outer(v, w), A.T @ w, B.T @ A.T, A.dot(v), np.matmul(A, B), np.dot(2.0, v),
            (A * 2.0) @ (B + 1.0), A @ np.exp(v * 0.1), (w[:, None] * A) @ B)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64], ids=["f64", "f32", "i64"])
def test_products_in_every_mix_of_1d_and_2d(dtype):
    A = (RNG.normal(size=(3, 4)) * 3).astype(dtype)
    B = (RNG.normal(size=(4, 5)) * 3).astype(dtype)
    v, w = (RNG.normal(size=4) * 3).astype(dtype), (RNG.normal(size=3) * 3).astype(dtype)
    same_as_numpy(products, A, B, v, w, rtol=1e-5 if dtype is np.float32 else 1e-12)


def transposes(A, x):
    return A.T, A.T + A.T.T.T, np.transpose(A) * 2.0, A.T.copy(), x.T, (A * 2.0).T


def test_transpose_reads_in_place_and_copies_when_stored():
    A = RNG.normal(size=(3, 4))
    same_as_numpy(transposes, A, RNG.normal(size=3))
    same_as_numpy(transposes, np.asfortranarray(A)[::-1], RNG.normal(size=3))


def test_matmul_inner_dimension_mismatch_raises():
    with pytest.raises(ValueError, match="inner dimensions"):
        cofactor.jit(products)(np.ones((3, 4)), np.ones((5, 5)), np.ones(4), np.ones(3))


# ---------------------------------------------------------------------------
# Views, slicing and stores


def views(X, x):
    return (x[1:], x[:-1], x[::2], x[::-1], x[-3:], x[5:1:-2], x[100:], x[-100:2], X[1],
            X[-1], X[1, :], X[:, 2], X[1:, ::-2], X[..., 0], X[-2:, 1:3], x[:, np.newaxis],
            x[None, :] - x[:, None], X[:, None, :], X[0][1:])


def test_views_match_numpy():
    same_as_numpy(views, RNG.normal(size=(4, 5)), RNG.normal(size=7))
    same_as_numpy(views, RNG.normal(size=(4, 8))[:, ::2], RNG.normal(size=14)[::-2])


def dynamic_slice(x, a, b, c):
    return x[a:b:c]


def slice_forms(x, a, b):
    return x[a:], x[:b], x[a:b], x[a::-1], x[:b:-1], x[a:b:2]


@settings(max_examples=120, deadline=None)
@given(n=st.integers(0, 9), a=st.integers(-12, 12), b=st.integers(-12, 12),
       c=st.integers(-4, 4).filter(bool))
def test_slices_follow_python_rules(n, a, b, c):
    x = np.arange(float(n))
    check(cofactor.jit(dynamic_slice)(x, a, b, c), x[a:b:c])
    check(cofactor.jit(slice_forms)(x, a, b), slice_forms(x, a, b))


def test_zero_slice_step_raises():
    with pytest.raises(ValueError, match="slice step cannot be zero"):
        cofactor.jit(dynamic_slice)(np.arange(3.0), 0, 3, 0)


def writes_through_views(X, x):
    X[0, :] = 1.0
    X[:, -1] = x[:3]
    X[1:, :2] = X[1:, :2] * 10.0
    row = X[2]
    row[0] = -5.0
    x[::2] = 0.5
    x[1:4] += 1.0
    X[0] -= x[2:6]
    y = x[2:5]
    x[3] = 99.0
    return y


def test_writes_through_views_reach_the_array():
    same_as_numpy(writes_through_views, RNG.normal(size=(3, 4)), RNG.normal(size=8))


def slice_assignments(X, x):
    X[:, :] = x  # broadcast a row to every row
    X[0] = 3
    x[1:] = x[:-1]  # overlapping: NumPy copies first
    x[::-1] = x.copy()
    X[1:, 1:] = X[:-1, :-1] + 1.0  # overlapping again
    X[2, 1:] = X[0, :3]
    return X, x


def in_place_updates(X, x, s):
    X += x
    X *= 2.0
    x -= x[::-1]  # overlapping: NumPy buffers
    X[0] /= s
    t = X
    t **= 2
    return X, x, t


def test_slice_assignment_and_in_place_operators():
    same_as_numpy(slice_assignments, RNG.normal(size=(3, 4)), RNG.normal(size=4))
    same_as_numpy(in_place_updates, RNG.normal(size=(3, 4)), RNG.normal(size=4), 2.0)
    same_as_numpy(in_place_updates, RNG.normal(size=(3, 4)).astype(np.float32),
                  RNG.normal(size=4).astype(np.float32), 2.0, rtol=1e-6)


def assign_mismatch(X, x):
    X[0] = x


def test_slice_assignment_shape_mismatch_raises():
    with pytest.raises(ValueError, match="could not broadcast"):
        cofactor.jit(assign_mismatch)(np.zeros((2, 3)), np.ones(4))


def loop_over_rows(X, w):
    total = 0.0
    for row in X:
        total += np.dot(row, w)
        row[:] = row * w
    for plane in X[None, :, :].copy():
        total += plane.sum()
    return total


def test_iterating_over_rows_gives_views():
    same_as_numpy(loop_over_rows, RNG.normal(size=(5, 3)), RNG.normal(size=3))


def construction(a, b, n):
    return (np.array([a, b, 3.0]), np.array([[a, b], [b, a]], dtype=np.float32), np.array([n, 2]),
            np.array([True, False]), np.array((a, n)), np.copy(np.array([a])),
            np.sum([a, b, n]), np.max((a, b)), np.mean([a, b]))


def reshapes(x):
    return (x.reshape(2, -1), x.reshape((3, 2)), np.reshape(x, (6,)), x.reshape(2, 3).T,
            x.reshape(-1, 1) * x, x.reshape(3, 2).flatten(), x[::-1].reshape(3, 2),
            x.reshape(x.shape), x.reshape(1, 2, 3).ravel(), x.copy())


def test_construction_reshape_and_copy():
    same_as_numpy(construction, 1.5, -2.0, 4)
    same_as_numpy(reshapes, np.arange(6.0))


def test_reshape_size_mismatch_raises():
    with pytest.raises(ValueError, match="cannot reshape"):
        cofactor.jit(reshapes)(np.arange(5.0))


def returns_views(x):
    return x[1:], x[::-1]


def test_returned_views_alias_the_argument():
    x = np.arange(5.0)
    head, rev = cofactor.jit(returns_views)(x)
    x[2] = 42.0
    assert head[1] == 42.0 and rev[2] == 42.0


def view_index(X, i):
    return X[i, 1:].sum()


def test_boundscheck_on_integer_index_of_a_view():
    f = cofactor.jit(view_index, boundscheck=True)
    assert f(np.ones((2, 3)), -1) == 2.0
    with pytest.raises(IndexError):
        f(np.ones((2, 3)), 2)


def writes_view(x):
    x[1:] = 0.0


def test_a_read_only_argument_written_through_a_view_is_refused():
    x = np.arange(3.0)
    x.flags.writeable = False
    with pytest.raises((ValueError, TypeError)):
        cofactor.jit(writes_view)(x)
    assert x[1] == 1.0


# ---------------------------------------------------------------------------
# Unsupported constructs: clear compile errors


def write_into_transpose(A):
    B = A.T
    B[0, 1] = 1.0
    return B


def write_into_reshape(x):
    y = x.reshape(2, 2)
    y[0] = 1.0
    return y


def fancy_index(x):
    return x[x > 0]


def chained_array_comparison(x):
    return 0 < x < 1


def bool_subtract(p):
    return p - p


def matmul_3d(x):
    return x @ x


def runtime_axis(x, k):
    return np.sum(x, axis=k)


def array_truth(x):
    if x:
        return 1.0
    return 0.0


def newaxis_target(x):
    x[None, :] = 1.0


def int_in_place_float(x):
    x += 1.5


@pytest.mark.parametrize(("func", "args", "pattern"), [
    (write_into_transpose, (np.ones((2, 2)),), r"\.T.*copy"),
    (write_into_reshape, (np.ones(4),), r"reshape.*copy"),
    (fancy_index, (np.ones(3),), r"fancy|mask"),
    (chained_array_comparison, (np.ones(3),), r"chained"),
    (bool_subtract, (np.ones(3, dtype=bool),), r"bool"),
    (matmul_3d, (np.ones((2, 2, 2)),), r"1-D and 2-D"),
    (runtime_axis, (np.ones(3), 0), r"axis must be an integer constant"),
    (array_truth, (np.ones(3),), r"ambiguous"),
    (newaxis_target, (np.ones(3),), r"newaxis"),
    (int_in_place_float, (np.ones(3, dtype=np.int64),), r"f64.*i64"),
], ids=lambda v: getattr(v, "__name__", ""))
def test_unsupported_array_code_raises_compile_error(func, args, pattern):
    with pytest.raises(cofactor.CompileError) as info:
        cofactor.jit(func)(*args)
    message = str(info.value)
    assert re.search(pattern, message), message
    assert "test_arrays.py" in message


# ---------------------------------------------------------------------------
# Property tests: random shapes against NumPy


def expression(a, b):
    return np.tanh(a) * b - np.maximum(a, b) / (1.0 + b * b), np.sum(a * b), np.max(a - b)


@settings(max_examples=60, deadline=None)
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3,
                                                min_side=1, max_side=4),
       seed=st.integers(0, 2**32 - 1))
def test_broadcast_property(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (rng.normal(size=s) for s in shapes.input_shapes)
    same_as_numpy(expression, a, b)


def axis_sum_and_product(x):
    return np.sum(x, axis=0), np.sum(x, axis=-1), x.T @ x, np.mean(x * x)


@settings(max_examples=40, deadline=None)
@given(shape=hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
       seed=st.integers(0, 2**32 - 1), transposed=st.booleans())
def test_reductions_and_products_property(shape, seed, transposed):
    x = np.random.default_rng(seed).normal(size=shape)
    same_as_numpy(axis_sum_and_product, x.T if transposed else x)


# ---------------------------------------------------------------------------
# Derivatives: forward mode against finite differences


def logistic_loss(w, X, y):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z))) + 0.01 * np.sum(w * w)


def mlp_loss(W1, b1, W2, X, y):
    h = np.tanh(X @ W1 + b1)
    out = h @ W2
    return np.mean((out - y) ** 2)


def view_mix(x):
    return (np.sum(x[1:] * x[:-1]) + np.max(x[::-1] ** 3) + np.min(np.sqrt(x * x + 1.0))
            + np.dot(x[::2], x[::-2]))


def broadcast_mix(M, v):
    centered = M - np.mean(M, axis=0)
    scaled = centered / np.sqrt(np.sum(centered ** 2, axis=0) + 1.0)
    return np.sum(np.where(scaled > 0, scaled, 0.1 * scaled) * v) + np.sum(np.outer(v, v))


def stores_and_rows(M, v):
    out = np.zeros_like(M)
    for i in range(M.shape[0]):
        out[i] = M[i] * v
    out[:, 0] = np.clip(out[:, 0], -0.5, 0.5)
    total = 0.0
    for row in out:
        total += np.sum(np.sin(row))
    return total + np.sum(M.T @ M)


def elementwise_out(x):
    return np.exp(x) * x[::-1]


def central_difference(f, args, k, tangent, h=1e-6):
    plus, minus = list(args), list(args)
    plus[k] = args[k] + h * tangent
    minus[k] = args[k] - h * tangent
    return (np.asarray(f(*plus)) - np.asarray(f(*minus))) / (2 * h)


def _mlp_args():
    return (RNG.normal(size=(4, 6)), RNG.normal(size=6), RNG.normal(size=(6, 2)),
            RNG.normal(size=(10, 4)), RNG.normal(size=(10, 2)))


DIFFERENTIABLE = [
    (logistic_loss, lambda: (RNG.normal(size=5), RNG.normal(size=(12, 5)),
                             np.sign(RNG.normal(size=12)))),
    (mlp_loss, _mlp_args),
    (view_mix, lambda: (RNG.normal(size=9),)),
    (broadcast_mix, lambda: (RNG.normal(size=(5, 3)), RNG.normal(size=3))),
    (stores_and_rows, lambda: (RNG.normal(size=(4, 3)), RNG.normal(size=3))),
    (elementwise_out, lambda: (RNG.normal(size=6),)),
]


@pytest.mark.parametrize(("func", "make_args"), DIFFERENTIABLE, ids=lambda v: getattr(
    v, "__name__", ""))
def test_forward_mode_matches_finite_differences(func, make_args):
    args = make_args()
    for k in range(len(args)):
        tangent = RNG.normal(size=np.shape(args[k]))
        tangents = [tangent if i == k else None for i in range(len(args))]
        out, dout = cofactor.jvp(func, args, tangents)
        check(out, func(*args), rtol=1e-10)
        np.testing.assert_allclose(dout, central_difference(func, args, k, tangent),
                                   rtol=1e-5, atol=1e-7)


def test_jacobian_of_an_array_function():
    x = RNG.normal(size=4)
    jac = cofactor.jacfwd(elementwise_out)(x)
    expected = np.diag(np.exp(x) * x[::-1]) + np.exp(x)[:, None] * np.eye(4)[::-1]
    np.testing.assert_allclose(jac, expected, rtol=1e-12)


@pytest.mark.skipif(not hasattr(cofactor, "grad"), reason="reverse mode is not there yet")
@pytest.mark.parametrize(("func", "make_args"), DIFFERENTIABLE, ids=lambda v: getattr(
    v, "__name__", ""))
def test_reverse_mode_is_the_adjoint_of_forward_mode(func, make_args):
    """<cotangent, J t> from forward mode equals <J^T cotangent, t> from reverse
    mode, with every argument differentiated at once."""
    args = make_args()
    tangents = [RNG.normal(size=np.shape(a)) for a in args]
    out, directional = cofactor.jvp(func, args, tangents)
    if np.ndim(out) == 0:
        cotangent = 1.0
        adjoints = cofactor.grad(func, argnums=tuple(range(len(args))))(*args)
    else:
        cotangent = RNG.normal(size=np.shape(out))
        adjoints = cofactor.vjp(func, *args)[1](cotangent)
    forward = np.sum(cotangent * directional)
    reverse = sum(np.sum(a * t) for a, t in zip(adjoints, tangents, strict=True))
    np.testing.assert_allclose(reverse, forward, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------------------
# Fusion and memory


def allocations(f, *args):
    return cofactor.jit(f).ir(*args, stage="input").count("memref.alloc")


def chain(x, y):
    return x * y + np.exp(x) - 2.0 * np.sin(y)


def reduced_chain(x, y):
    return np.sum((x - y) ** 2) / np.max(np.abs(x) + 1.0)


def accumulate(x, y):
    out = np.zeros_like(x)
    out += x * y
    out[1:] -= np.exp(y[1:]) / 2.0
    return out


def test_elementwise_chains_fuse_into_one_loop():
    x = np.ones(4)
    assert allocations(chain, x, x) == 1  # the result only
    assert allocations(reduced_chain, x, x) == 0
    assert allocations(accumulate, x, x) == 1  # in place into a local array: no temporary
    # arguments may overlap, so an update of one from another is buffered as in NumPy
    assert allocations(in_place_updates, np.ones((2, 4)), x, 1.0) == 2


def temporaries(x):
    y = x * 2.0
    z = np.exp(y[::-1]) + y
    return np.sum(z) + np.sum(y[1:] * z[:-1])


def resident_kib():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_temporaries_are_freed_after_every_call():
    f = cofactor.jit(temporaries)
    x = RNG.normal(size=1000)
    for _ in range(1000):
        f(x)
    before = resident_kib()
    for _ in range(100_000):
        f(x)
    # 100000 calls with two 8 KB temporaries each would leak 1.6 GB
    assert resident_kib() - before < 20_000
