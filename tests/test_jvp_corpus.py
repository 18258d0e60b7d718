"""Forward mode on the primal corpus: `cofactor.jvp` against finite differences.

Every function of `corpus.CASES` that takes a float (scalar or array) and returns one
is differentiated at several random points along random tangents: None for int and
bool arguments, and on every third point one of several float arguments is passed as
a constant too. The tangent of each float output must match central differences
`D(h) = (f(x + h t) - f(x - h t)) / 2h` of the function run by CPython, with
`h = 1e-5` and the tangents scaled elementwise by `max(1, |x|)`, so that the step is
relative to the inputs; the reference is the Richardson extrapolation of D(h) and
D(h/10). Outputs that are not floats must get None; non-finite outputs are not
compared. Float32 functions are differentiated in float32 and compared with finite
differences of the same function on float64 copies of the inputs, to a float32
tolerance.

Kinks. Where a function is not differentiable (abs at 0, min/max ties, branch
boundaries, floor and the like) finite differences near the kink mean nothing. The
rule, deterministic and independent of cofactor: a point is kept only if D(h) and
D(h/10) agree to the tolerance of the test, and the forward and backward differences
with step h/10 agree to 1% (a kink at the point itself, such as a tie in a sort,
passes the first check but not this one); otherwise the inputs and tangents are drawn
again from the same generator, at most `MAX_DRAWS` times per point. Piecewise-constant
outputs are tested like the others (away from their jumps the finite differences are
0); those in `PIECEWISE_CONSTANT` must have a tangent of exactly 0. Two functions get
special treatment, explained at `UNTIE` and `BISECTION`.

Also here: vector mode (`BatchDuplicated`, `jacfwd`) gives bit for bit what one
scalar sweep per tangent gives; `autodiff` with `Duplicated` leaves in the shadow of
an array that the function modifies the tangent of its final value; and `jvp` and
`jacfwd` never modify the caller's arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import pytest
from corpus import CASES, Case

import cofactor

N_POINTS = 20  # points per function
MAX_DRAWS = 30  # draws allowed per point to land away from kinks
H = 1e-5  # finite-difference step, relative to the inputs
RTOL, ATOL = 1e-5, 1e-7  # |tangent - fd| <= RTOL |fd| + ATOL max(1, max |f|)
F32_RTOL, F32_ATOL = 1e-4, 1e-5  # float32 functions
ONE_SIDED_RTOL = 1e-2  # forward vs backward differences, for the kink rule
WIDTH = 8  # tangents per sweep in the vector-mode tests

# (function, output leaf indices) whose tangent is exactly 0 wherever it is defined
PIECEWISE_CONSTANT = {
    "sign_function": (0,),
    "float_floor_ops": (0, 2, 4),
    "conversions": (1,),
}
# Their generators round the values, to make ties on purpose; a tie is a kink of a
# sort, so here every element moves by up to 0.25 (drawn from the same generator).
UNTIE = {"bubble_sort_inplace", "insertion_sort_inplace"}
# Piecewise affine on pieces about 1e-14 wide (each bisection step is a branch), so
# finite differences see the root, flat, while the derivative at the point is a convex
# combination of the two tangents: see test_bisection_tangent_is_a_convex_combination.
BISECTION = "bisect_root"


# ---------------------------------------------------------------------------
# Values


def is_float(value: object) -> bool:
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    return isinstance(value, float | np.floating)


def is_float32(value: object) -> bool:
    return np.asarray(value).dtype == np.float32 and is_float(value)


def leaves(value: object) -> list:
    if isinstance(value, tuple):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def copy(value: object) -> object:
    return np.array(value, copy=True) if isinstance(value, np.ndarray) else value


def describe(values: tuple | list) -> str:
    parts = []
    for v in values:
        if isinstance(v, np.ndarray):
            parts.append(f"np.array({np.array2string(v, precision=17, separator=', ')}, "
                         f"dtype=np.{v.dtype})")
        else:
            parts.append(repr(v))
    return "(" + ", ".join(parts) + ")"


def assert_identical(a: object, b: object, where: str) -> None:
    """Same structure, bit for bit (NaNs in the same places)."""
    if isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    elif a is None:
        assert b is None, f"{where}: None vs {b!r}"
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where, strict=True)


def scaled_tangent(x: object, rng: np.random.Generator) -> object:
    """A random tangent for float `x`, scaled elementwise by max(1, |x|)."""
    magnitude = np.abs(np.asarray(x, dtype=np.float64))
    scale = np.where(np.isfinite(magnitude), np.maximum(1.0, magnitude), 1.0)
    t = rng.normal(size=np.shape(x)) * scale
    if isinstance(x, np.ndarray):
        return t.astype(x.dtype)
    return type(x)(t) if isinstance(x, np.floating) else float(t)


def upcast(args: tuple) -> tuple:
    """float32 arguments as float64, the others unchanged."""
    return tuple(np.asarray(a, np.float64) if isinstance(a, np.ndarray) and is_float32(a)
                 else float(a) if isinstance(a, np.float32) else copy(a) for a in args)


def shifted(args: tuple, tangents: tuple, h: float) -> tuple:
    out = []
    for a, t in zip(args, tangents, strict=True):
        if t is None:
            out.append(copy(a))
        elif isinstance(a, np.ndarray):
            out.append(a + h * np.asarray(t, np.float64))
        else:
            out.append(float(a + h * float(t)))
    return tuple(out)


# ---------------------------------------------------------------------------
# Finite differences and the kink rule


def observe(func: Callable, args: tuple) -> list:
    """The float leaves of `func(*args)`, then the final values of its float array
    arguments (which it may modify); None in place of every other leaf."""
    args = tuple(copy(a) for a in args)
    result = func(*args)
    out = leaves(result) + [a for a in args if isinstance(a, np.ndarray) and is_float(a)]
    return [np.asarray(v, np.float64) if is_float(v) else None for v in out]


def differences(func: Callable, args: tuple, tangents: tuple, values: list, h: float
                ) -> tuple[list, list, list]:
    """Central, forward and backward differences of `observe` with step `h`."""
    plus = observe(func, shifted(args, tangents, h))
    minus = observe(func, shifted(args, tangents, -h))
    central, forward, backward = [], [], []
    for p, m, v in zip(plus, minus, values, strict=True):
        central.append(None if v is None else (p - m) / (2.0 * h))
        forward.append(None if v is None else (p - v) / h)
        backward.append(None if v is None else (v - m) / h)
    return central, forward, backward


def tolerance(value: np.ndarray, float32: bool) -> tuple[float, float]:
    rtol, atol = (F32_RTOL, F32_ATOL) if float32 else (RTOL, ATOL)
    finite = np.abs(value[np.isfinite(value)])
    return rtol, atol * max(1.0, float(finite.max()) if finite.size else 0.0)


def close(got: np.ndarray, want: np.ndarray, value: np.ndarray, float32: bool,
          rtol: float | None = None) -> np.ndarray:
    """Elementwise: does `got` match the finite difference `want` (at output `value`)?"""
    default, atol = tolerance(value, float32)
    rtol = default if rtol is None else rtol
    return (np.abs(got - want) <= rtol * np.abs(want) + atol) | ~np.isfinite(value)


def smooth(values: list, coarse: list, fine: tuple[list, list, list], float32: bool) -> bool:
    """The kink rule: central differences with steps h and h/10 agree, and so do the
    one-sided differences with step h/10 (to ONE_SIDED_RTOL: they differ by O(h))."""
    central, forward, backward = fine
    return all(v is None or (close(c, f, v, float32).all()
                             and close(fw, bw, v, float32, ONE_SIDED_RTOL).all())
               for v, c, f, fw, bw in zip(values, coarse, central, forward, backward,
                                          strict=True))


def richardson(coarse: list, fine: list) -> list:
    """`(100 D(h/10) - D(h)) / 99`, which cancels the h^2 error of central differences."""
    return [None if c is None else f + (f - c) / 99.0 for c, f in zip(coarse, fine, strict=True)]


@functools.cache
def float_cases() -> list[Case]:
    """Cases with a float argument and a float output (on their seed-0 arguments)."""
    chosen = []
    for case in CASES:
        args = case.make_args(np.random.default_rng(0))
        if case.name != BISECTION and any(is_float(a) for a in args) and any(
                is_float(v) for v in leaves(case.func(*[copy(a) for a in args]))):
            chosen.append(case)
    return chosen


def draw_point(case: Case, seed: int) -> tuple[tuple, tuple, list, list, int]:
    """Arguments, tangents, observed outputs, their derivatives by finite differences,
    and the draw number, at the first draw for `seed` that passes the kink rule."""
    rng = np.random.default_rng(seed)
    for draw in range(MAX_DRAWS):
        args = case.make_args(rng)
        if case.name in UNTIE:
            args = tuple(a + rng.uniform(-0.25, 0.25, a.shape) if is_float(a) else a
                         for a in args)
        tangents = [scaled_tangent(a, rng) if is_float(a) else None for a in args]
        floats = [i for i, t in enumerate(tangents) if t is not None]
        if seed % 3 == 2 and len(floats) > 1:
            tangents[floats[seed // 3 % len(floats)]] = None
        tangents = tuple(tangents)
        f32 = any(is_float32(a) for a in args)
        wide = upcast(args)
        values = observe(case.func, wide)
        coarse = differences(case.func, wide, tangents, values, H)[0]
        fine = differences(case.func, wide, tangents, values, H / 10)
        if smooth(values, coarse, fine, f32):
            return args, tangents, values, richardson(coarse, fine[0]), draw
    pytest.fail(f"{case.name} seed={seed}: finite differences with steps h and h/10 "
                f"disagreed at {MAX_DRAWS} draws")


# ---------------------------------------------------------------------------
# jvp against finite differences


def check_tangent(label: str, expected: object, got: object, fd: np.ndarray,
                  value: np.ndarray, float32: bool, exact_zero: bool) -> None:
    """`got` is the tangent of the float output `expected` and matches `fd`."""
    if isinstance(expected, np.ndarray):
        assert isinstance(got, np.ndarray), f"{label}: expected an array tangent, got {got!r}"
        assert got.shape == expected.shape and got.dtype == expected.dtype, (
            f"{label}: tangent {got.dtype}{got.shape}, output {expected.dtype}{expected.shape}")
    else:
        assert isinstance(got, float | np.floating), f"{label}: expected a float, got {got!r}"
    g = np.asarray(got, np.float64)
    if exact_zero:
        assert np.all(g == 0.0), f"{label}: piecewise constant, tangent {got!r} is not 0"
    ok = close(g, fd, value, float32)
    if not ok.all():
        rtol, atol = tolerance(value, float32)
        bad = np.argwhere(~ok)[:5] if g.ndim else [()]
        rows = [f"    at {tuple(int(i) for i in k)}: expected {fd[tuple(k)]!r}, got {g[tuple(k)]!r}"
                for k in bad]
        raise AssertionError(f"{label}: tangent differs from finite differences "
                             f"(rtol {rtol:g}, atol {atol:g}) in {int((~ok).sum())} of "
                             f"{ok.size} elements:\n" + "\n".join(rows))


@pytest.mark.parametrize("case", float_cases(), ids=lambda c: c.name)
def test_jvp_matches_finite_differences(case: Case) -> None:
    for seed in range(N_POINTS):
        args, tangents, values, fd, draw = draw_point(case, seed)
        label = (f"{case.name} seed={seed} draw={draw} args={describe(args)} "
                 f"tangents={describe(tangents)}")
        kept = [copy(a) for a in args + tangents]
        primal, tangent = cofactor.jvp(case.func, args, tangents)
        assert_identical(list(args + tangents), kept, f"{label}: jvp modified an argument")
        expected = leaves(case.func(*[copy(a) for a in args]))
        got_primal, got_tangent = leaves(primal), leaves(tangent)
        assert len(got_primal) == len(expected) == len(got_tangent), label
        f32 = any(is_float32(a) for a in args)
        zero = PIECEWISE_CONSTANT.get(case.name, ())
        for i, (e, p, t) in enumerate(zip(expected, got_primal, got_tangent, strict=True)):
            where = f"{label} -> output {i}"
            if is_float(e):
                np.testing.assert_allclose(p, e, rtol=case.rtol, atol=case.atol,
                                           equal_nan=True, err_msg=f"{where}: primal")
                check_tangent(where, e, t, fd[i], values[i], f32, i in zero)
            else:
                assert t is None, f"{where}: {e!r} is not a float, its tangent {t!r}"


def test_every_float_function_is_covered() -> None:
    names = {c.name for c in float_cases()} | {BISECTION}
    assert len(names) >= 70
    assert {"sign_function", "softmax", "matmul", "power_iteration", "float32_dot"} <= names


def test_bisection_tangent_is_a_convex_combination() -> None:
    """`bisect_root(lo, hi)` returns `a lo + b hi` with `a + b = 1` on each piece."""
    case = next(c for c in CASES if c.name == BISECTION)
    for seed in range(N_POINTS):
        rng = np.random.default_rng(seed)
        args = case.make_args(rng)
        t = rng.normal(size=2)
        _, same = cofactor.jvp(case.func, args, (t[0], t[0]))
        assert same == pytest.approx(t[0], rel=1e-12), f"seed={seed} args={args}"
        _, a = cofactor.jvp(case.func, args, (1.0, 0.0))
        _, b = cofactor.jvp(case.func, args, (0.0, 1.0))
        assert 0.0 <= a <= 1.0 and a + b == pytest.approx(1.0, rel=1e-12), (seed, args, a, b)
        _, mixed = cofactor.jvp(case.func, args, tuple(t))
        assert mixed == pytest.approx(a * t[0] + b * t[1], rel=1e-12, abs=1e-15)


def without_float_output() -> list[Case]:
    """Cases with a float argument and no float output."""
    return [c for c in CASES if c not in float_cases() and c.name != BISECTION
            and any(is_float(a) for a in c.make_args(np.random.default_rng(0)))]


@pytest.mark.parametrize("case", without_float_output(), ids=lambda c: c.name)
def test_outputs_without_floats_get_no_tangent(case: Case) -> None:
    """Ints, bools and None get None as their tangent; arguments stay as they were."""
    for seed in range(2):
        rng = np.random.default_rng(seed)
        args = case.make_args(rng)
        tangents = tuple(scaled_tangent(a, rng) if is_float(a) else None for a in args)
        kept = [copy(a) for a in args]
        primal, tangent = cofactor.jvp(case.func, args, tangents)
        assert all(t is None for t in leaves(tangent)), f"{case.name}: {tangent!r}"
        assert len(leaves(tangent)) == len(leaves(primal))
        assert_identical(list(args), kept, f"{case.name}: jvp modified an argument")


# ---------------------------------------------------------------------------
# In place: autodiff with Duplicated shadows


@functools.cache
def mutating_cases() -> list[Case]:
    """Float cases that modify a float array argument."""
    chosen = []
    for case in CASES:
        args = case.make_args(np.random.default_rng(0))
        after = [copy(a) for a in args]
        case.func(*after)
        if any(is_float(a) and isinstance(a, np.ndarray) and not np.array_equal(a, b)
               for a, b in zip(args, after, strict=True)):
            chosen.append(case)
    return chosen


@pytest.mark.parametrize("case", mutating_cases(), ids=lambda c: c.name)
def test_autodiff_shadows_of_modified_arrays(case: Case) -> None:
    for seed in range(N_POINTS):
        args, tangents, values, fd, draw = draw_point(case, seed)
        label = f"{case.name} seed={seed} draw={draw} args={describe(args)}"
        wrapped = [cofactor.Const(copy(a)) if t is None else
                   cofactor.Duplicated(copy(a), copy(t)) for a, t in zip(args, tangents,
                                                                         strict=True)]
        _, tangent = cofactor.autodiff(case.func, *wrapped)
        arrays = [w for w, a in zip(wrapped, args, strict=True)
                  if isinstance(a, np.ndarray) and is_float(a)]
        shadows = [w.shadow if isinstance(w, cofactor.Duplicated) else None for w in arrays]
        n_out = len(leaves(tangent))
        f32 = any(is_float32(a) for a in args)
        for k, (w, s) in enumerate(zip(arrays, shadows, strict=True)):
            np.testing.assert_allclose(w.value, values[n_out + k], rtol=1e-6 if f32 else 1e-12,
                                       err_msg=f"{label}: array argument {k} after the call")
            if s is not None:
                check_tangent(f"{label} -> shadow of array argument {k}", w.value, s,
                              fd[n_out + k], values[n_out + k], f32, False)


# ---------------------------------------------------------------------------
# Vector mode: one sweep of W tangents equals W scalar sweeps


JACFWD_SAMPLE = [
    "horner_scalar", "misc_math", "logistic_map", "mean_variance", "running_max",
    "cumulative_product", "softmax", "logsumexp", "convolve_valid", "tuple_of_arrays",
    "clip_inplace", "heat_ping_pong", "matvec", "matmul", "laplacian_2d", "jacobi_step",
    "forward_substitution", "power_iteration", "scale_matrix_inplace", "prefix_sum_inplace",
]


def test_jacfwd_sample_is_in_the_corpus() -> None:
    assert {c.name for c in CASES} >= set(JACFWD_SAMPLE)


@pytest.mark.parametrize("case", list(dict.fromkeys(float_cases() + mutating_cases())),
                         ids=lambda c: c.name)
def test_batch_duplicated_equals_scalar_sweeps(case: Case) -> None:
    """W tangents in one sweep give, bit for bit, what W sweeps of one give."""
    for seed in range(2):
        rng = np.random.default_rng(seed)
        args = case.make_args(rng)
        seeds = [[scaled_tangent(a, rng) for _ in range(WIDTH)] if is_float(a) else None
                 for a in args]
        batch = [cofactor.Const(copy(a)) if s is None else
                 cofactor.BatchDuplicated(copy(a), [copy(t) for t in s])
                 for a, s in zip(args, seeds, strict=True)]
        primal, tangents = cofactor.autodiff(case.func, *batch)
        label = f"{case.name} seed={seed} args={describe(args)}"
        for k in range(WIDTH):
            one = [cofactor.Const(copy(a)) if s is None else
                   cofactor.Duplicated(copy(a), copy(s[k]))
                   for a, s in zip(args, seeds, strict=True)]
            p, t = cofactor.autodiff(case.func, *one)
            assert_identical(p, primal, f"{label} sweep {k}: primal")
            kth = [None if v is None else v[k] for v in leaves(tangents)]
            assert_identical(leaves(t), kth, f"{label} sweep {k}: tangent")
            for i, (b, o) in enumerate(zip(batch, one, strict=True)):
                if isinstance(o, cofactor.Duplicated) and isinstance(o.value, np.ndarray):
                    assert_identical(o.shadow, b.shadows[k], f"{label} sweep {k}: shadow {i}")


@pytest.mark.parametrize("name", JACFWD_SAMPLE)
def test_jacfwd_equals_unit_jvps(name: str) -> None:
    """Sweeps of up to 16 tangents give the columns that single jvps give, and the
    caller's arrays stay as they were."""
    case = next(c for c in CASES if c.name == name)
    args = case.make_args(np.random.default_rng(1))
    kept = [copy(a) for a in args]
    for k, x in enumerate(args):
        if not is_float(x) or np.size(x) > 40:
            continue
        jac = cofactor.jacfwd(case.func, argnums=k)(*args)
        assert_identical(list(args), kept, f"{name}: jacfwd modified an argument")
        for j in range(np.size(x)):
            unit = np.zeros(np.size(x), np.asarray(x).dtype)
            unit[j] = 1.0
            seed = unit.reshape(x.shape) if isinstance(x, np.ndarray) else 1.0
            tangents = [seed if i == k else None for i in range(len(args))]
            _, column = cofactor.jvp(case.func, args, tangents)
            index = np.unravel_index(j, np.shape(x))
            got = [None if c is None else np.asarray(c)[(..., *index)] for c in leaves(jac)]
            want = [None if c is None else np.asarray(c) for c in leaves(column)]
            assert_identical(got, want, f"{name} d/d argument {k}, column {j}")
