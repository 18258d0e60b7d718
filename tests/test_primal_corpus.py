"""Compiled corpus functions must behave exactly like CPython running them.

Every function of `corpus.CASES` is compiled once with `cofactor.jit` and run
on many random inputs next to the original under CPython. Results must agree
in value and kind (int, float, bool, array dtype and shape), NaNs must sit in
the same places, and arguments mutated in place must end up identical (CPython
runs on an independent copy of the inputs). The same comparison is repeated on
non-contiguous views, other dtypes, and mixed int/float specializations.
"""

from __future__ import annotations

import functools
import gc
import math
from collections.abc import Callable

import corpus
import numpy as np
import pytest
from corpus import CASES, FLOAT32, Case

import cofactor

N_INPUTS = 24  # random inputs per corpus function
N_LAYOUT_INPUTS = 6  # random inputs per (function, layout) pair


@functools.cache
def compiled(func: Callable) -> Callable:
    """One jit object per function, so specializations are compiled once per session."""
    return cofactor.jit(func)


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------
# Comparison


def describe(args: tuple) -> str:
    parts = []
    for a in args:
        if isinstance(a, np.ndarray):
            parts.append(f"array(dtype={a.dtype}, shape={a.shape}, strides={a.strides}, "
                         f"values={np.array2string(a, threshold=20, precision=17)})")
        else:
            parts.append(f"{type(a).__name__}({a!r})")
    return "(" + ", ".join(parts) + ")"


def _kind(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, int | np.integer):
        return "int"
    if isinstance(value, float | np.floating):
        return "float"
    return type(value).__name__


def assert_same(expected: object, got: object, rtol: float, atol: float, where: str) -> None:
    """`got` (compiled) matches `expected` (CPython) in structure, kind and value."""
    if isinstance(expected, tuple):
        assert isinstance(got, tuple), f"{where}: expected a tuple, got {got!r}"
        assert len(got) == len(expected), f"{where}: expected {expected!r}, got {got!r}"
        for k, (e, g) in enumerate(zip(expected, got, strict=True)):
            assert_same(e, g, rtol, atol, f"{where}[{k}]")
        return
    if expected is None:
        assert got is None, f"{where}: expected None, got {got!r}"
        return
    if isinstance(expected, np.ndarray):
        assert type(got) is np.ndarray, f"{where}: expected an ndarray, got {type(got)}"
        assert got.shape == expected.shape, f"{where}: shape {got.shape} != {expected.shape}"
        assert got.dtype == expected.dtype, f"{where}: dtype {got.dtype} != {expected.dtype}"
        if expected.dtype.kind == "f":
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True,
                                       err_msg=where)
        else:
            np.testing.assert_array_equal(got, expected, err_msg=where)
        return
    kind = _kind(expected)
    assert _kind(got) == kind, f"{where}: expected {kind} {expected!r}, got {got!r}"
    if kind != "float":
        assert got == expected, f"{where}: expected {expected!r}, got {got!r}"
        return
    e, g = float(expected), float(got)
    if math.isnan(e) or math.isinf(e):
        assert math.isnan(g) if math.isnan(e) else g == e, f"{where}: expected {e!r}, got {g!r}"
        return
    assert abs(g - e) <= atol + rtol * abs(e), (
        f"{where}: expected {e!r}, got {g!r} (rel. error {abs(g - e) / max(abs(e), 1e-300):.3g})")


def check_call(func: Callable, py_args: tuple, jit_args: tuple, rtol: float, atol: float,
               label: str) -> None:
    """Run CPython on `py_args` and compiled code on the equal `jit_args`; compare all."""
    shown = describe(py_args)
    expected = func(*py_args)
    got = compiled(func)(*jit_args)
    where = f"{label}{shown}"
    assert_same(expected, got, rtol, atol, f"{where} -> result")
    for k, (a, b) in enumerate(zip(py_args, jit_args, strict=True)):
        if isinstance(a, np.ndarray):
            assert_same(a, b, 0.0, 0.0, f"{where} -> argument {k} after the call")
            if a.base is not None and b.base is not None:
                assert_same(a.base, b.base, 0.0, 0.0, f"{where} -> memory around argument {k}")


def case_ids(case: Case) -> str:
    return case.name


# ---------------------------------------------------------------------------
# The corpus on its own generators


@pytest.mark.parametrize("case", CASES, ids=case_ids)
def test_matches_cpython(case: Case) -> None:
    for seed in range(N_INPUTS):
        check_call(case.func, case.make_args(rng(seed)), case.make_args(rng(seed)), case.rtol,
                   case.atol, f"{case.name} seed={seed} ")


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 90
    assert len({c.name for c in CASES}) == len(CASES)


# ---------------------------------------------------------------------------
# Non-contiguous layouts: the same values, laid out differently in memory


def relayout(array: np.ndarray, layout: str) -> np.ndarray:
    """A view equal to `array` whose strides follow `layout`; its base holds other values."""
    every = (slice(None, None, 2),) * array.ndim
    backwards = (slice(None, None, -1),) * array.ndim
    if layout == "step2":
        fill = True if array.dtype == np.bool_ else 7
        base = np.full(tuple(2 * s for s in array.shape), fill, dtype=array.dtype)
        view = base[every]
    elif layout == "reversed":
        base = np.ascontiguousarray(array[backwards])
        view = base[backwards]
    elif layout == "transposed":
        if array.ndim == 1:  # a column of a C-ordered matrix: stride of 3 elements
            base = np.zeros((array.shape[0], 3), dtype=array.dtype)
            view = base[:, 1]
        else:  # the transpose of a C-ordered array, as `x.T` gives (Fortran order for 2-D)
            base = np.zeros(array.shape[::-1], dtype=array.dtype)
            view = base.T
    else:
        raise ValueError(layout)
    view[...] = array
    return view


def relayout_args(args: tuple, layout: str) -> tuple:
    return tuple(relayout(a, layout) if isinstance(a, np.ndarray) else a for a in args)


ARRAY_CASES = [c for c in CASES if any(isinstance(a, np.ndarray) for a in c.make_args(rng(0)))]


@pytest.mark.parametrize("layout", ["step2", "reversed", "transposed"])
@pytest.mark.parametrize("case", ARRAY_CASES, ids=case_ids)
def test_non_contiguous_inputs(case: Case, layout: str) -> None:
    for seed in range(N_LAYOUT_INPUTS):
        py_args = relayout_args(case.make_args(rng(seed)), layout)
        jit_args = relayout_args(case.make_args(rng(seed)), layout)
        check_call(case.func, py_args, jit_args, case.rtol, case.atol,
                   f"{case.name} {layout} seed={seed} ")


def test_layouts_really_are_non_contiguous() -> None:
    x = np.arange(12.0).reshape(3, 4)
    for layout in ("step2", "reversed", "transposed"):
        view = relayout(x, layout)
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(view, x)
        assert not relayout(x[0], layout).flags.c_contiguous


def test_transpose_and_fortran_views_directly() -> None:
    a = rng(1).uniform(-1.0, 1.0, (4, 6))
    x = rng(2).uniform(-1.0, 1.0, 4)
    np.testing.assert_array_equal(compiled(corpus.transpose_copy)(a.T), a)
    np.testing.assert_allclose(compiled(corpus.matvec)(a.T, x), corpus.matvec(a.T, x),
                               rtol=1e-12)
    f = np.asfortranarray(a)
    np.testing.assert_allclose(compiled(corpus.matvec)(f, rng(3).uniform(-1, 1, 6)),
                               corpus.matvec(f, rng(3).uniform(-1, 1, 6)), rtol=1e-12)
    col = f[:, 2]
    assert compiled(corpus.array_sum)(col) == corpus.array_sum(col)
    assert compiled(corpus.array_sum)(a[1, ::-2]) == corpus.array_sum(a[1, ::-2])
    # in-place mutation through a transposed view writes the right elements
    ours, theirs = a.copy(), a.copy()
    compiled(corpus.cumsum_rows_inplace)(ours.T)
    corpus.cumsum_rows_inplace(theirs.T)
    np.testing.assert_array_equal(ours, theirs)


# ---------------------------------------------------------------------------
# Other dtypes through functions written with float64 in mind


def _f32(rng_: np.random.Generator, n: int) -> np.ndarray:
    return rng_.uniform(-5.0, 5.0, n).astype(np.float32)


def _i64(rng_: np.random.Generator, n: int) -> np.ndarray:
    return rng_.integers(-100, 100, n, endpoint=True, dtype=np.int64)


def _b(rng_: np.random.Generator, n: int) -> np.ndarray:
    return rng_.random(n) < 0.5


DTYPE_CASES = [
    ("array_sum-float32", corpus.array_sum, lambda r: (_f32(r, 30),), FLOAT32),
    ("array_sum-int64", corpus.array_sum, lambda r: (_i64(r, 30),), {}),
    ("array_sum-bool", corpus.array_sum, lambda r: (_b(r, 30),), {}),
    ("dot-int64", corpus.dot, lambda r: (_i64(r, 20), _i64(r, 20)), {}),
    ("dot-float32-float64", corpus.dot,
     lambda r: (_f32(r, 20), r.uniform(-1.0, 1.0, 20)), {}),
    ("argmax-int64", corpus.argmax, lambda r: (_i64(r, 25),), {}),
    ("argmax-float32", corpus.argmax, lambda r: (_f32(r, 25),), {}),
    ("is_sorted-int64", corpus.is_sorted, lambda r: (np.sort(_i64(r, 10)),), {}),
    ("binary_search-int64", corpus.binary_search,
     lambda r: (np.sort(_i64(r, 20)), int(r.integers(-120, 120))), {}),
    ("prefix_sum_inplace-int64", corpus.prefix_sum_inplace, lambda r: (_i64(r, 30),), {}),
    ("prefix_sum_inplace-float32", corpus.prefix_sum_inplace, lambda r: (_f32(r, 30),), {}),
    ("bubble_sort_inplace-int64", corpus.bubble_sort_inplace, lambda r: (_i64(r, 20),), {}),
    ("reverse_inplace-bool", corpus.reverse_inplace, lambda r: (_b(r, 9),), {}),
    ("min_max_index-int64", corpus.min_max_index, lambda r: (_i64(r, 20),), {}),
    ("matvec-float32", corpus.matvec,
     lambda r: (r.uniform(-1, 1, (4, 5)).astype(np.float32), r.uniform(-1, 1, 5)), {}),
    ("matvec-int64", corpus.matvec,
     lambda r: (r.integers(-9, 9, (4, 5)), r.integers(-9, 9, 5)), {}),
    ("transpose_copy-int64", corpus.transpose_copy, lambda r: (r.integers(-9, 9, (3, 5)),),
     {}),
    ("stencil_3pt-float32", corpus.stencil_3pt, lambda r: (_f32(r, 15),), FLOAT32),
    ("softmax-float32", corpus.softmax, lambda r: (_f32(r, 15),), FLOAT32),
    ("count_true-int64", corpus.count_true, lambda r: (r.integers(0, 2, 20),), {}),
    ("threshold_mask-int64", corpus.threshold_mask, lambda r: (_i64(r, 20), 3), {}),
    ("scale_shift_inplace-float32", corpus.scale_shift_inplace,
     lambda r: (_f32(r, 12), 2.0, 0.5), {}),
    ("frobenius-int64", corpus.frobenius, lambda r: (r.integers(-9, 9, (3, 4)),), {}),
    ("sum_3d-int64", corpus.sum_3d, lambda r: (r.integers(-9, 9, (2, 3, 4)),), {}),
    ("sum_3d-bool", corpus.sum_3d, lambda r: (r.random((2, 3, 4)) < 0.5,), {}),
]


@pytest.mark.parametrize(("func", "make_args", "tol"),
                         [pytest.param(f, m, t, id=i) for i, f, m, t in DTYPE_CASES])
def test_other_dtypes(func: Callable, make_args: Callable, tol: dict) -> None:
    rtol, atol = tol.get("rtol", 1e-12), tol.get("atol", 0.0)
    for seed in range(N_LAYOUT_INPUTS):
        check_call(func, make_args(rng(seed)), make_args(rng(seed)), rtol, atol,
                   f"{func.__name__} seed={seed} ")


def test_one_jit_object_serves_several_array_types() -> None:
    f = compiled(corpus.array_sum)
    x64 = np.arange(10.0)
    for x in (x64, x64.astype(np.float32), x64.astype(np.int64), x64 > 4.0, x64):
        assert f(x) == corpus.array_sum(x)
    m = compiled(corpus.sum_3d)
    t = np.arange(24.0).reshape(2, 3, 4)
    assert m(t) == corpus.sum_3d(t)
    assert compiled(corpus.row_sums)(t[0]).tolist() == corpus.row_sums(t[0]).tolist()


# ---------------------------------------------------------------------------
# Returned arrays


ARRAY_RESULTS = [
    ("stencil_3pt", corpus.stencil_3pt, (np.linspace(0.0, 1.0, 7) ** 2,)),
    ("empty_then_fill", corpus.empty_then_fill, (6,)),
    ("pascal_row", corpus.pascal_row, (10,)),
    ("sieve", corpus.sieve, (30,)),
    ("threshold_mask", corpus.threshold_mask, (np.linspace(-1.0, 1.0, 9), 0.1)),
    ("float32_scale", corpus.float32_scale, (np.arange(5, dtype=np.float32),)),
    ("arrays_of_every_dtype", corpus.arrays_of_every_dtype, (7,)),
    ("grid_with_tuple_shape", corpus.grid_with_tuple_shape, (3, 4)),
    ("tuple_of_arrays", corpus.tuple_of_arrays, (np.linspace(-1.0, 1.0, 8),)),
    ("matmul", corpus.matmul, (np.ones((2, 3)), np.ones((3, 4)))),
    ("bool_2d_count", corpus.bool_2d_count, (np.eye(3, dtype=bool),)),
]


def _arrays(value: object) -> list[np.ndarray]:
    if isinstance(value, tuple):
        return [a for v in value for a in _arrays(v)]
    return [value] if isinstance(value, np.ndarray) else []


@pytest.mark.parametrize(("func", "args"),
                         [pytest.param(f, a, id=i) for i, f, a in ARRAY_RESULTS])
def test_returned_arrays_are_fresh_writable_ndarrays(func: Callable, args: tuple) -> None:
    expected = func(*args)
    first = compiled(func)(*args)
    assert_same(expected, first, 1e-12, 0.0, func.__name__)
    for out, ref in zip(_arrays(first), _arrays(expected), strict=True):
        assert type(out) is np.ndarray
        assert out.flags.writeable
        assert out.dtype == ref.dtype and out.shape == ref.shape
        out[...] = out[...]  # writing must be allowed and harmless
        if out.size:
            out.flat[0] = not out.flat[0] if out.dtype == np.bool_ else out.flat[0] + 1
            out.flat[0] = ref.flat[0]
    # later calls must not reuse or free the memory of earlier results
    second = compiled(func)(*args)
    for a, b in zip(_arrays(first), _arrays(second), strict=True):
        if a.size:
            assert not np.shares_memory(a, b)
    del second
    for _ in range(5):
        compiled(func)(*args)
    assert_same(expected, first, 1e-12, 0.0, f"{func.__name__} (first result, later)")


def test_returning_an_argument_returns_a_view_of_it() -> None:
    x = np.arange(5.0)
    out = compiled(corpus.clip_inplace)(x, 1.0, 3.0)
    assert np.shares_memory(out, x)
    np.testing.assert_array_equal(out, [1.0, 1.0, 2.0, 3.0, 3.0])
    np.testing.assert_array_equal(x, [1.0, 1.0, 2.0, 3.0, 3.0])
    del x
    np.testing.assert_array_equal(out, [1.0, 1.0, 2.0, 3.0, 3.0])  # `out` keeps x alive


def test_one_array_returned_twice() -> None:
    first, second = compiled(corpus.same_array_twice)(4)
    assert np.shares_memory(first, second)
    np.testing.assert_array_equal(first, [0.0, 1.0, 2.0, 3.0])
    first[0] = 7.0
    assert second[0] == 7.0
    del first
    gc.collect()
    np.testing.assert_array_equal(second, [7.0, 1.0, 2.0, 3.0])
    del second
    gc.collect()


def test_zero_stride_and_read_only_inputs() -> None:
    ones = np.broadcast_to(2.0, (5,))
    assert compiled(corpus.array_sum)(ones) == 10.0
    grid = np.broadcast_to(np.arange(3.0), (4, 3))
    np.testing.assert_array_equal(compiled(corpus.row_sums)(grid), corpus.row_sums(grid))
    x = np.arange(6.0)
    x.flags.writeable = False
    assert compiled(corpus.dot)(x, x) == corpus.dot(x, x)


@pytest.mark.parametrize(("func", "args"), [
    pytest.param(corpus.row_sums, (np.zeros((0, 3)),), id="row_sums-0x3"),
    pytest.param(corpus.row_sums, (np.zeros((3, 0)),), id="row_sums-3x0"),
    pytest.param(corpus.matmul, (np.ones((2, 0)), np.ones((0, 3))), id="matmul-inner-0"),
    pytest.param(corpus.matmul, (np.ones((0, 2)), np.ones((2, 3))), id="matmul-0-rows"),
    pytest.param(corpus.transpose_copy, (np.zeros((0, 4)),), id="transpose_copy-0x4"),
    pytest.param(corpus.frobenius, (np.zeros((0, 0)),), id="frobenius-0x0"),
    pytest.param(corpus.sum_3d, (np.zeros((2, 0, 3)),), id="sum_3d-2x0x3"),
    pytest.param(corpus.outer, (np.zeros(0), np.ones(3)), id="outer-0x3"),
])
def test_empty_arrays(func: Callable, args: tuple) -> None:
    assert_same(func(*args), compiled(func)(*args), 0.0, 0.0, func.__name__)


# ---------------------------------------------------------------------------
# One function, several scalar specializations


SPECIALIZATIONS = [
    ("gcd", corpus.gcd, [(12, 18), (12.0, 18.0), (-35, 21), (7.5, 2.5), (np.int64(9), 6)]),
    ("clamp", corpus.clamp, [(5, 0, 3), (2.5, 0.0, 3.0), (-1, 0, 3), (-1.5, -2.0, 3.0),
                             (np.float64(0.25), 0.0, 1.0)]),
    ("sign_function", corpus.sign_function, [(3,), (-2.5,), (0,), (0.0,), (True,)]),
    ("horner_scalar", corpus.horner_scalar, [(2,), (2.0,), (-1,), (0.5,)]),
    ("mixed_promotion", corpus.mixed_promotion, [(5, 2), (5, 2.0), (7, -3), (7, -3.5)]),
    ("int_pow", corpus.int_pow, [(3, 4), (3.0, 4), (2, 10), (1.5, 3), (-2, 5)]),
    ("float_floor_ops", corpus.float_floor_ops, [(7, 2), (7.0, 2.0), (-7, 2), (-7.5, 2)]),
    ("keyword_helpers", corpus.keyword_helpers, [(1, 2), (1.0, 2.0), (-3, 0.5)]),
    ("conversions", corpus.conversions, [(3.7,), (-3.7,), (5,), (np.float32(2.5),)]),
]


@pytest.mark.parametrize(("func", "calls"),
                         [pytest.param(f, c, id=i) for i, f, c in SPECIALIZATIONS])
def test_int_and_float_specializations(func: Callable, calls: list[tuple]) -> None:
    # interleave the calls so that each specialization is looked up again after others
    for args in calls + calls[::-1]:
        assert_same(func(*args), compiled(func)(*args), 1e-12, 0.0,
                    f"{func.__name__}{describe(args)}")


_JITTED_HELPER = cofactor.jit(corpus._middle)


def calls_a_jitted_function(x):
    return _JITTED_HELPER(x) + _JITTED_HELPER(x, 0.5)


def test_compiled_code_calls_a_jitted_function() -> None:
    for x in (-1.5, 0.0, 2.25):
        assert compiled(calls_a_jitted_function)(x) == calls_a_jitted_function(x)


def test_keyword_and_default_arguments_at_the_entry() -> None:
    poly = compiled(corpus._poly3)
    assert poly(2.0) == corpus._poly3(2.0)
    assert poly(2.0, c=1.5) == corpus._poly3(2.0, c=1.5)
    assert poly(x=3.0, b=-1.0) == corpus._poly3(x=3.0, b=-1.0)
    assert poly(2, 3, 4, 5) == corpus._poly3(2, 3, 4, 5)
    assert isinstance(poly(2, 3, 4, 5), int)
