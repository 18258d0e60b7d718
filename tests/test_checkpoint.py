"""Checkpointed reverse mode (`cofactor.checkpointed`, `Checkpoint`,
`ad-checkpoint`): the gradient of a checkpointed loop equals the fully taped
one, for both schedules, every number of snapshots (more snapshots than
steps, one step, none, binomial boundaries) and the loop state a checkpoint
must restore: loop-carried scalars, arrays written in place, arrays read by
the loop but overwritten after it. Revolve re-runs exactly Griewank's fewest
steps, counted through the pass's test hook. While loops (unknown trip
count) get the online scheme: the same gradients, the re-runs of a Python
model of it, and a peak tape that does not grow with the trip count."""

from __future__ import annotations

import ctypes
import functools
import math

import numpy as np
import pytest

import cofactor
from cofactor.compiler.diagnostics import CompileError
from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import Derivative, stage_text
from cofactor.compiler.types import F64, I64, ArrayType

SCHEDULES = ("periodic", "binomial")
SNAPSHOTS = (0, 1, 2, 3, 8, 64)
STEPS = (0, 1, 2, 3, 7, 10, 16, 50)  # 10 = beta(2, 3), 16 = beta(2, 4) + 1


def scalar_with(k, schedule="periodic"):
    """The checkpointed recurrence with `k` snapshots (constants of the closure)."""
    def f(x, n):
        s = 0.0
        for t in cofactor.checkpointed(range(n), snapshots=k, schedule=schedule):
            x = math.sin(x) * 1.1 + 0.01 * t
            s += x * x
        return s
    return f


def scalar_tape(x, n, k):
    s = 0.0
    for t in range(n):
        x = math.sin(x) * 1.1 + 0.01 * t
        s += x * x
    return s


def test_plain_python_runs_the_range():
    assert cofactor.checkpointed(range(2, 9, 3), snapshots=4) == range(2, 9, 3)
    assert scalar_with(2)(0.3, 5) == scalar_tape(0.3, 5, 2)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("n", STEPS)
@pytest.mark.parametrize("k", SNAPSHOTS)
def test_scalar_recurrence(n, k, schedule):
    got = cofactor.grad(scalar_with(k, schedule))(0.3, n)
    assert got == pytest.approx(cofactor.grad(scalar_tape)(0.3, n, k), rel=1e-12, abs=1e-14)


def heat_ckpt(u, n, c):
    m = u.shape[0]
    for _ in cofactor.checkpointed(range(n), snapshots=4):
        for i in range(1, m - 1):
            u[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + 0.01 * math.sin(u[i])
    s = 0.0
    for i in range(m):
        s += u[i] * u[i] * (i + 1)
    return s


def heat_revolve(u, n, c):
    m = u.shape[0]
    for _ in cofactor.checkpointed(range(n), snapshots=3, schedule="binomial"):
        for i in range(1, m - 1):
            u[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + 0.01 * math.sin(u[i])
    s = 0.0
    for i in range(m):
        s += u[i] * u[i] * (i + 1)
    return s


def heat_tape(u, n, c):
    m = u.shape[0]
    for _ in range(n):
        for i in range(1, m - 1):
            u[i] = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + 0.01 * math.sin(u[i])
    s = 0.0
    for i in range(m):
        s += u[i] * u[i] * (i + 1)
    return s


@pytest.mark.parametrize("heat", (heat_ckpt, heat_revolve))
@pytest.mark.parametrize("n", (1, 3, 4, 5, 17, 40))
def test_array_written_in_place(n, heat):
    u = np.random.default_rng(n).uniform(-1, 1, 9)
    gu, gc = cofactor.grad(heat, argnums=(0, 2))(u.copy(), n, 0.2)
    tu, tc = cofactor.grad(heat_tape, argnums=(0, 2))(u.copy(), n, 0.2)
    np.testing.assert_allclose(gu, tu, rtol=1e-12, atol=1e-14)
    assert gc == pytest.approx(tc, rel=1e-12)


def forcing_ckpt(x, w, n):
    for t in cofactor.checkpointed(range(n), snapshots=3, schedule="binomial"):
        x = x * w[t % w.shape[0]] + math.cos(x)
    for i in range(w.shape[0]):
        w[i] = 2.0 * w[i]  # after the loop: its snapshot keeps the old values
    return x + w[0]


def forcing_tape(x, w, n):
    for t in range(n):
        x = x * w[t % w.shape[0]] + math.cos(x)
    for i in range(w.shape[0]):
        w[i] = 2.0 * w[i]
    return x + w[0]


@pytest.mark.parametrize("n", (1, 2, 6, 11))
def test_array_overwritten_after_the_loop(n):
    w = np.random.default_rng(n).uniform(0.5, 0.9, 4)
    got = cofactor.grad(forcing_ckpt, argnums=(0, 1))(0.4, w.copy(), n)
    want = cofactor.grad(forcing_tape, argnums=(0, 1))(0.4, w.copy(), n)
    assert got[0] == pytest.approx(want[0], rel=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12)


def inner_ckpt(x, n):
    for t in cofactor.checkpointed(range(2, n, 3), snapshots=2):
        x = math.exp(-x * x) + 0.1 * t * x
    return x


def inner_revolve(x, n):
    for t in cofactor.checkpointed(range(2, n, 3), snapshots=2, schedule="binomial"):
        x = math.exp(-x * x) + 0.1 * t * x
    return x


def outer_ckpt(x, n):
    s = 0.0
    for _ in range(3):
        x = inner_ckpt(x, n)
        s += x
    return s


def outer_revolve(x, n):
    s = 0.0
    for _ in range(3):
        x = inner_revolve(x, n)
        s += x
    return s


def inner_tape(x, n):
    for t in range(2, n, 3):
        x = math.exp(-x * x) + 0.1 * t * x
    return x


def outer_tape(x, n):
    s = 0.0
    for _ in range(3):
        x = inner_tape(x, n)
        s += x
    return s


@pytest.mark.parametrize("outer", (outer_ckpt, outer_revolve))
@pytest.mark.parametrize("n", (2, 3, 5, 12, 30))
def test_in_a_callee_with_a_stepped_range(n, outer):
    got = cofactor.grad(outer)(0.7, n)
    assert got == pytest.approx(cofactor.grad(outer_tape)(0.7, n), rel=1e-12)


def test_the_loop_becomes_segment_calls():
    text = stage_text(scalar_with(0), (F64, I64), Options(), "input")
    assert 'ad.checkpoint = {schedule = "periodic", snapshots = 0 : i64}' in text
    text = stage_text(heat_ckpt, (ArrayType(F64, 1), I64, F64), Options(), "ad",
                      derivative=Derivative("reverse", ("dup", "const", "active")))
    assert "func.func private @heat_ckpt_segment" in text
    assert "func.call @augmented_heat_ckpt_segment" in text


def test_errors():
    def unknown(x, n):
        for _ in cofactor.checkpointed(range(n), schedule="treeverse"):
            x = x * 0.5
        return x

    with pytest.raises(CompileError, match="schedule must be one of"):
        cofactor.grad(unknown)(1.0, 3)


def breaks_ckpt(x, n):
    for _ in cofactor.checkpointed(range(n), snapshots=2):
        x = 0.9 * x + 0.05 * math.sin(x)
        if x < 0.1:
            break
    return x * x


def breaks_tape(x, n):
    for _ in range(n):
        x = 0.9 * x + 0.05 * math.sin(x)
        if x < 0.1:
            break
    return x * x


@pytest.mark.parametrize("n", (0, 1, 2, 5, 9, 40, 200))
@pytest.mark.parametrize("x", (3.0, 0.5, 0.12, 0.05))
def test_checkpointed_loop_that_breaks(n, x):
    """A marked `for` loop that can break is a while loop: checkpointed online."""
    got = cofactor.value_and_grad(breaks_ckpt)(x, n)
    want = cofactor.value_and_grad(breaks_tape)(x, n)
    assert got[0] == pytest.approx(want[0], rel=1e-14)
    close(got[1], want[1])
    assert got[0] == pytest.approx(breaks_ckpt(x, n), rel=1e-14)


def test_checkpointed_loop_that_breaks_is_marked_in_the_ir():
    text = stage_text(breaks_ckpt, (F64, I64), Options(), "input")
    assert "scf.while" in text
    assert 'ad.checkpoint = {schedule = "periodic", snapshots = 2 : i64}' in text
    text = stage_text(breaks_ckpt, (F64, I64), Options(), "ad",
                      derivative=Derivative("reverse", ("active", "const")))
    assert "func.func private @breaks_ckpt_segment_body" in text


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("k", (0, 1, 5))
def test_per_call_option_checkpoints_the_outer_loops(k, schedule):
    u = np.random.default_rng(k).uniform(-1, 1, 7)
    ckpt = cofactor.Checkpoint(snapshots=k, schedule=schedule)
    got = cofactor.value_and_grad(heat_tape, argnums=(0, 2), checkpoint=ckpt)(u.copy(), 13, 0.2)
    value, (tu, tc) = cofactor.value_and_grad(heat_tape, argnums=(0, 2))(u.copy(), 13, 0.2)
    assert got[0] == pytest.approx(value, rel=1e-14)
    np.testing.assert_allclose(got[1][0], tu, rtol=1e-12, atol=1e-14)
    assert got[1][1] == pytest.approx(tc, rel=1e-12)
    text = stage_text(heat_tape, (ArrayType(F64, 1), I64, F64), Options(), "ad",
                      derivative=Derivative("reverse", ("dup", "const", "active"),
                                            checkpoint=(schedule, k)))
    assert "func.call @augmented_heat_tape_segment" in text
    with pytest.raises(ValueError, match="schedule"):
        cofactor.grad(heat_tape, checkpoint=cofactor.Checkpoint(schedule="treeverse"))


def revolve_optimum(m, snapshots):
    """Griewank's fewest forward steps re-run to reverse m steps holding at
    most `snapshots` states: r m - beta(s + 1, r - 1), beta(s, r) = C(s + r, s),
    r the fewest repetitions with beta(s, r) >= m."""
    r = 0
    while math.comb(snapshots + r, snapshots) < m:
        r += 1
    return r * m - math.comb(snapshots + r, snapshots + 1) if m > 1 else 0


@functools.cache
def fewest_steps(m, free):
    """The same optimum by exhaustive search over first splits (free snapshots
    beyond the one at the start)."""
    if m <= 1:
        return 0
    if free == 0:
        return m * (m - 1) // 2
    return min(j + fewest_steps(m - j, free - 1) + fewest_steps(j, free) for j in range(1, m))


def test_revolve_formula_is_the_optimum():
    for m in range(1, 60):
        for s in range(1, 7):
            assert revolve_optimum(m, s) == fewest_steps(m, s - 1), (m, s)


PROBED: list[int] = []


@ctypes.CFUNCTYPE(None, ctypes.c_int64)
def _probe(steps):
    PROBED.append(steps)


@pytest.mark.parametrize("k", (1, 2, 3, 5, 0))
def test_binomial_reruns_the_fewest_steps(k, monkeypatch):
    from llvmlite import binding

    from cofactor.runtime.dispatcher import build_callable

    binding.add_symbol("cofactor_checkpoint_probe", ctypes.cast(_probe, ctypes.c_void_p).value)
    monkeypatch.setenv("COFACTOR_CHECKPOINT_PROBE", "1")
    compiled = build_callable(scalar_with(k, "binomial"), (F64, I64), Options(),
                              Derivative("reverse", ("active", "const"), ("activenoneed",)),
                              use_cache=False)
    # n = 1, beta boundaries for 2 and 3 snapshots (10 = C(5, 2), 20 = C(6, 3)), around them
    for n in (0, 1, 2, 9, 10, 11, 20, 21, 100):
        PROBED.clear()
        _, (adjoint,) = compiled(0.3, n, 1.0)
        # no limit: the reference must hold no probe call (the disk cache keeps it)
        want = cofactor.grad(scalar_tape, tape_limit=None)(0.3, n, k)
        assert adjoint == pytest.approx(want, rel=1e-12)
        snapshots = k or max(1, math.ceil(math.sqrt(n)))
        assert PROBED == [revolve_optimum(n, snapshots)], (n, k)


# `tape_limit`: a top-level loop whose estimated tape (trip count times 8 bytes
# per scalar one step computes: 56 for `scalar_tape`) exceeds the limit is
# checkpointed on its own (binomial, about sqrt(n) snapshots), decided at run
# time for a trip count known only then.


@pytest.mark.parametrize("n", (0, 1, 5, 17, 18, 50))
def test_tape_limit_keeps_the_gradient(n):
    u = np.random.default_rng(n).uniform(-1, 1, 7)
    want = cofactor.grad(heat_tape, argnums=(0, 2), tape_limit=None)(u.copy(), n, 0.2)
    got = cofactor.grad(heat_tape, argnums=(0, 2), tape_limit=1000)(u.copy(), n, 0.2)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
    assert got[1] == pytest.approx(want[1], rel=1e-12)
    got = cofactor.value_and_grad(scalar_tape, tape_limit=0)(0.3, n, 0)
    want = cofactor.value_and_grad(scalar_tape, tape_limit=None)(0.3, n, 0)
    assert got[0] == pytest.approx(want[0], rel=1e-14)
    assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-14)


def test_default_limit_builds_the_checkpointed_version_only_when_needed(monkeypatch):
    """Under `grad`'s default limit the first build has no checkpointed copies;
    a call whose loop goes over the limit stops (TapeLimitExceeded), and the
    version with the copies is built and answers it, and the calls after it."""
    from cofactor.runtime import transforms

    monkeypatch.setattr(transforms, "TAPE_LIMIT", 1000)  # 56 bytes a step: 17 steps fit
    built = []
    reverse = transforms._reverse

    def spy(*args):
        built.append(args[-2:])  # tape_limit, tape_guard
        return reverse(*args)

    monkeypatch.setattr(transforms, "_reverse", spy)
    grad = transforms.value_and_grad(scalar_tape, tape_limit=1000)
    for n in (0, 5, 17, 18, 100, 3):
        got = grad(0.3, n, 0)
        want = cofactor.value_and_grad(scalar_tape, tape_limit=None)(0.3, n, 0)
        assert got[0] == pytest.approx(want[0], rel=1e-14)
        assert got[1] == pytest.approx(want[1], rel=1e-12, abs=1e-14)
    # the guarded build, then at n = 18 the one with the checkpointed copy, kept after
    assert [guard for limit, guard in built if limit == 1000] == [True, False]


@pytest.mark.parametrize("limit", (1000, None))
def test_tape_limit_checkpoints_only_long_loops(limit, monkeypatch):
    from llvmlite import binding

    from cofactor.runtime.dispatcher import build_callable

    binding.add_symbol("cofactor_checkpoint_probe", ctypes.cast(_probe, ctypes.c_void_p).value)
    monkeypatch.setenv("COFACTOR_CHECKPOINT_PROBE", "1")
    derivative = Derivative("reverse", ("active", "const", "const"), ("activenoneed",),
                            tape_limit=limit)
    compiled = build_callable(scalar_tape, (F64, I64, I64), Options(), derivative,
                              use_cache=False)
    for n in (0, 1, 17, 18, 100, 1000):
        PROBED.clear()
        _, (adjoint, *_) = compiled(0.3, n, 0, 1.0)
        # no limit: the reference must hold no probe call (the disk cache keeps it)
        want = cofactor.grad(scalar_tape, tape_limit=None)(0.3, n, 0)
        assert adjoint == pytest.approx(want, rel=1e-12)
        long = limit is not None and 56 * n > limit  # else the full tape
        snapshots = max(1, math.ceil(math.sqrt(n)))
        assert PROBED == ([revolve_optimum(n, snapshots)] if long else []), (n, limit)


def fixed_steps(x):
    s = 0.0
    for t in range(40):
        x = math.sin(x) * 1.1 + 0.01 * t
        s += x * x
    return s


def test_tape_limit_with_a_constant_trip_count_decides_at_compile_time():
    def ad(limit):
        return stage_text(fixed_steps, (F64,), Options(), "ad",
                          derivative=Derivative("reverse", ("active",), tape_limit=limit))

    plain = ad(None)
    assert ad(2**30) == plain  # the default limit: a small program keeps its full tape
    assert ad(40 * 56) == plain
    small = ad(40 * 56 - 1)
    assert "func.call @augmented_fixed_steps_segment" in small
    assert f"{40 * 56 - 1} : i64" not in small  # no run-time test of the limit
    assert cofactor.grad(fixed_steps, tape_limit=100)(0.3) == pytest.approx(
        cofactor.grad(fixed_steps)(0.3), rel=1e-12)
    with pytest.raises(ValueError, match="tape_limit"):
        cofactor.grad(fixed_steps, tape_limit=-1)


# While loops (unknown trip count): the online scheme of `ad-checkpoint` (slots
# thinned by doubling the period, then Revolve per segment), through the per-call
# option, which also reaches the scf.while a `for` loop with `break` becomes.


def count_while(x, n):
    s = 0.0
    k = 0
    while k < n:
        x = math.sin(x) * 1.1 + 0.01 * k
        s += x * x
        k += 1
    return s


def online_model(n, snapshots):
    """(kept snapshots, period, steps re-run untaped) of the online scheme, run
    as the forward sweep runs it: slot j holds step j p; a snapshot due with
    every slot full first drops every other one and doubles p; then Revolve
    reverses each segment of at most p steps with the same snapshots."""
    kept, period = 0, 1
    for k in range(n):
        if k == kept * period:
            if kept == snapshots:
                kept, period = (snapshots + 1) // 2, 2 * period
            if k == kept * period:
                kept += 1
    reruns = sum(revolve_optimum(min(period, n - j * period), snapshots) for j in range(kept))
    return kept, period, reruns


def boundaries(s):
    """Trip counts around the thinnings: n <= s keeps every step; s 2^m + 1 thins."""
    found = {0, 1, 2, max(1, s - 1), s, s + 1, 3 * s + 2}
    for m in range(1, 4):
        found |= {s * 2**m - 1, s * 2**m, s * 2**m + 1}
    return sorted(found)


def close(got, want):
    assert got == pytest.approx(want, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("s", (1, 2, 3, 5, 8))
def test_while_loop_matches_the_full_tape(s):
    ckpt = cofactor.value_and_grad(count_while, checkpoint=cofactor.Checkpoint(snapshots=s))
    full = cofactor.value_and_grad(count_while, tape_limit=None)
    for n in boundaries(s):
        value, adjoint = ckpt(0.3, n)
        want_value, want_adjoint = full(0.3, n)
        assert value == pytest.approx(want_value, rel=1e-14)
        close(adjoint, want_adjoint)


def until_threshold(x, c):
    """Iterates until a value crosses a threshold: the trip count depends on x."""
    t = 0.0
    y = x
    while y < 50.0:
        y = y * (1.0 + c) + 0.1 * math.sin(y + t)
        t += 0.25
    return y + t * x


@pytest.mark.parametrize("s", (1, 2, 4, 0))
@pytest.mark.parametrize("x", (60.0, 49.99, 20.0, 1.5, 0.2))
def test_while_loop_with_a_data_dependent_exit(x, s):
    ckpt = cofactor.grad(until_threshold, argnums=(0, 1),
                         checkpoint=cofactor.Checkpoint(snapshots=s))
    got = ckpt(x, 0.05)
    want = cofactor.grad(until_threshold, argnums=(0, 1), tape_limit=None)(x, 0.05)
    close(got[0], want[0])
    close(got[1], want[1])
    h = 1e-6 * max(1.0, abs(x))  # no step count change within +-h
    fd = (until_threshold(x + h, 0.05) - until_threshold(x - h, 0.05)) / (2 * h)
    assert got[0] == pytest.approx(fd, rel=1e-5)


def relax(u, c, tol):
    """Relaxation sweeps over an array, in place, until they change it by less than tol."""
    m = u.shape[0]
    change = tol + 1.0
    while change > tol:
        change = 0.0
        for i in range(1, m - 1):
            new = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + 0.01 * math.sin(u[i])
            change += abs(new - u[i])
            u[i] = new
    s = 0.0
    for i in range(m):
        s += u[i] * u[i] * (i + 1)
    return s


def relax_break(u, c, steps):
    """The same sweeps as a `for` with `break` (an scf.while), then u changes after it."""
    m = u.shape[0]
    for k in range(steps):
        change = 0.0
        for i in range(1, m - 1):
            new = u[i] + c * (u[i - 1] - 2.0 * u[i] + u[i + 1]) + 0.01 * math.sin(u[i])
            change += abs(new - u[i])
            u[i] = new
        if change < 1e-3 * (k + 1):
            break
    for i in range(m):
        u[i] = u[i] * u[i]
    s = 0.0
    for i in range(m):
        s += u[i] * (i + 1)
    return s


@pytest.mark.parametrize("s", (1, 2, 3, 8))
@pytest.mark.parametrize("kernel, last", ((relax, 1e-2), (relax, 1e-4), (relax, 10.0),
                                          (relax_break, 0), (relax_break, 1),
                                          (relax_break, 6), (relax_break, 200)))
def test_while_loop_writing_arrays(kernel, last, s):
    u = np.random.default_rng(s).uniform(-1, 1, 9)
    ckpt = cofactor.Checkpoint(snapshots=s)
    gu, gc = cofactor.grad(kernel, argnums=(0, 1), checkpoint=ckpt)(u.copy(), 0.2, last)
    tu, tc = cofactor.grad(kernel, argnums=(0, 1), tape_limit=None)(u.copy(), 0.2, last)
    np.testing.assert_allclose(gu, tu, rtol=1e-12, atol=1e-14)
    close(gc, tc)


def test_while_loop_bad_snapshots():
    with pytest.raises(ValueError, match="snapshots must be >= 0"):
        cofactor.grad(count_while, checkpoint=cofactor.Checkpoint(snapshots=-1))


def test_while_loop_ir():
    text = stage_text(count_while, (F64, I64), Options(), "ad",
                      derivative=Derivative("reverse", ("active", "const"),
                                            checkpoint=("binomial", 4)))
    assert "ad.segment = @count_while_segment" in text
    for name in ("count_while_segment", "count_while_segment_test",
                 "count_while_segment_body"):
        assert f"func.func private @{name}(" in text
    assert "func.call @augmented_count_while_segment_test" in text  # the exit's reverse
    assert "func.call @reverse_count_while_segment_" in text


def test_online_scheme_reruns_no_more_than_offline_revolve():
    for s in range(1, 9):
        for n in range(0, 700):
            kept, period, reruns = online_model(n, s)
            if n:
                assert kept == -(-n // period) <= s and (period == 1 or period < 2 * n / s)
            assert reruns <= revolve_optimum(n, s), (n, s)


@pytest.mark.parametrize("s", (1, 2, 3, 4, 7, 0))
def test_while_loop_reruns_the_online_schedule(s, monkeypatch):
    from llvmlite import binding

    from cofactor.runtime.dispatcher import build_callable

    binding.add_symbol("cofactor_checkpoint_probe", ctypes.cast(_probe, ctypes.c_void_p).value)
    monkeypatch.setenv("COFACTOR_CHECKPOINT_PROBE", "1")
    compiled = build_callable(count_while, (F64, I64), Options(),
                              Derivative("reverse", ("active", "const"), ("activenoneed",),
                                         checkpoint=("periodic", s)), use_cache=False)
    for n in boundaries(s or 16) + [100, 1000]:
        PROBED.clear()
        _, (adjoint,) = compiled(0.3, n, 1.0)
        close(adjoint, cofactor.grad(count_while, tape_limit=None)(0.3, n))
        assert PROBED == [online_model(n, s or 16)[2]], (n, s)


# `tape_limit` below the default on a while loop: a copy runs taped while its
# steps fit the limit (96 bytes per step for `count_while`, its estimate), then
# the rest online (16 snapshots). The default limit leaves while loops alone.


@pytest.mark.parametrize("limit", (0, 1000, 10**6))
def test_tape_limit_splits_while_loops(limit):
    u = np.random.default_rng(limit).uniform(-1, 1, 9)
    for kernel, last in ((relax, 1e-4), (relax_break, 6)):
        got = cofactor.grad(kernel, argnums=(0, 1), tape_limit=limit)(u.copy(), 0.2, last)
        want = cofactor.grad(kernel, argnums=(0, 1), tape_limit=None)(u.copy(), 0.2, last)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=1e-14)
        close(got[1], want[1])
    for x in (60.0, 20.0, 0.2):
        got = cofactor.grad(until_threshold, argnums=(0, 1), tape_limit=limit)(x, 0.05)
        want = cofactor.grad(until_threshold, argnums=(0, 1), tape_limit=None)(x, 0.05)
        close(got[0], want[0])
        close(got[1], want[1])


@pytest.mark.parametrize("limit", (0, 1000, None, 2**30))
def test_tape_limit_checkpoints_only_long_while_loops(limit, monkeypatch):
    from llvmlite import binding

    from cofactor.runtime.dispatcher import build_callable

    binding.add_symbol("cofactor_checkpoint_probe", ctypes.cast(_probe, ctypes.c_void_p).value)
    monkeypatch.setenv("COFACTOR_CHECKPOINT_PROBE", "1")
    derivative = Derivative("reverse", ("active", "const"), ("activenoneed",),
                            tape_limit=limit)
    compiled = build_callable(count_while, (F64, I64), Options(), derivative, use_cache=False)
    taped = None if limit in (None, 2**30) else limit // 96
    for n in (0, 1, 9, 10, 11, 100, 1000):
        PROBED.clear()
        _, (adjoint,) = compiled(0.3, n, 1.0)
        close(adjoint, cofactor.grad(count_while, tape_limit=None)(0.3, n))
        # the rest runs once the taped steps run out (no step if the loop ends there)
        rest = taped is not None and n >= taped
        assert PROBED == ([online_model(n - taped, 16)[2]] if rest else []), (n, limit)


HEAP_PEAK = """
import ctypes, math, sys
from llvmlite import binding
libc = ctypes.CDLL(None)
held, peak = dict(), [0]
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.realloc.restype, libc.realloc.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
def hold(pointer, size):
    held[pointer] = size
    peak[0] = max(peak[0], sum(held.values()))
    return pointer
malloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t)(lambda n: hold(libc.malloc(n), n))
realloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)(
    lambda p, n: (held.pop(p, None), hold(libc.realloc(p, n), n))[1])
free = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda p: (held.pop(p, None), libc.free(p))[1])
for name, f in (("malloc", malloc), ("realloc", realloc), ("free", free)):
    binding.add_symbol(name, ctypes.cast(f, ctypes.c_void_p).value)
import cofactor
sys.path.insert(0, {tests!r})
from test_checkpoint import count_while
checkpoint = cofactor.Checkpoint(snapshots={s}) if {s} else None
grad = cofactor.grad(count_while, checkpoint=checkpoint, tape_limit=None)
for n in {steps}:
    peak[0] = 0
    grad(0.3, n)
    print(peak[0])
"""


def test_while_loop_tape_stays_bounded(tmp_path):
    """Peak heap bytes of one gradient call (a child process counts the compiled
    code's malloc/realloc/free): constant in n when checkpointed, linear on the full tape."""
    import os
    import subprocess
    import sys

    steps = [2_000, 20_000, 200_000]

    def peaks(s):
        script = HEAP_PEAK.format(tests=os.path.dirname(__file__), s=s, steps=steps)
        env = dict(os.environ, COFACTOR_CACHE_DIR=str(tmp_path / str(s)))
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=env, timeout=300, check=True).stdout
        return [int(line) for line in out.split()]

    full, online = peaks(0), peaks(8)
    assert full[-1] > 50 * full[0] // 2 and full[-1] > 200_000 * 8  # grows with n
    # up to 2 s states of 3 scalars on the tape (which grows by doubling), one step's
    # tape, s slots, Revolve's work stack of 3 (s + 2) integers: about 1.5 KiB, whatever n
    state, s = 3 * 8, 8
    bound = 2 * (2 * s * state + state) + s * state + 3 * (s + 2) * 8 + 256
    assert max(online) <= bound < full[0] // 2, (online, bound)


@pytest.mark.parametrize("k", (1, 2, 3, 5, 0))
def test_periodic_reruns_each_segment_once(k, monkeypatch):
    """Periodic: the reverse sweep re-runs each segment taped once, last first:
    ceil(n / p) segments of p = ceil(n / k) steps (sqrt(n) for k = 0), the last
    one shorter, so n steps re-run in all."""
    from llvmlite import binding

    from cofactor.runtime.dispatcher import build_callable

    binding.add_symbol("cofactor_checkpoint_probe", ctypes.cast(_probe, ctypes.c_void_p).value)
    monkeypatch.setenv("COFACTOR_CHECKPOINT_PROBE", "1")
    compiled = build_callable(scalar_with(k, "periodic"), (F64, I64), Options(),
                              Derivative("reverse", ("active", "const"), ("activenoneed",)),
                              use_cache=False)
    for n in (0, 1, 2, 9, 10, 11, 100):
        PROBED.clear()
        _, (adjoint,) = compiled(0.3, n, 1.0)
        close(adjoint, cofactor.grad(scalar_tape, tape_limit=None)(0.3, n, k))
        period = max(1, -(-n // k) if k else math.ceil(math.sqrt(n)))
        segments = -(-n // period)
        last = [n - (segments - 1) * period] if n else []
        assert PROBED == last + [period] * (segments - 1), (n, k)



TAPE_GROWTH = """
import ctypes, sys
from llvmlite import binding
libc = ctypes.CDLL(None)
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.realloc.restype, libc.realloc.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]
grown = []  # allocations of 4 KiB or more (LLVM turns realloc(null, n) into malloc(n))
malloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t)(
    lambda n: (n >= 4096 and grown.append(n), libc.malloc(n))[1])
realloc = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)(
    lambda p, n: (n >= 4096 and grown.append(n), libc.realloc(p, n))[1])
binding.add_symbol("malloc", ctypes.cast(malloc, ctypes.c_void_p).value)
binding.add_symbol("realloc", ctypes.cast(realloc, ctypes.c_void_p).value)
import cofactor
sys.path.insert(0, {tests!r})
from test_checkpoint import count_while
grad = cofactor.grad(count_while, tape_limit=None)
for n in {steps}:
    grown.clear()
    g = grad(0.3, n)
    print(len(grown), repr(g))
"""


def test_a_growing_tape_is_allocated_once_from_the_second_call(tmp_path):
    """A while loop's tape grows by doubling (realloc) in the first call; the
    next calls start at the capacity the last one ended with (one allocation,
    no copies), and shorter or longer loops still give the right gradient."""
    import os
    import subprocess
    import sys

    steps = [20_000, 20_000, 10, 10, 50_000, 2_000]
    script = TAPE_GROWTH.format(tests=os.path.dirname(__file__), steps=steps)
    env = dict(os.environ, COFACTOR_CACHE_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=300, check=True).stdout.split()
    reallocs, grads = [int(c) for c in out[::2]], [float(g) for g in out[1::2]]
    # doubling, then once at the kept size, also for shorter loops (the kept
    # size is the largest so far); a longer loop grows again
    assert reallocs[0] > 4 and reallocs[1:4] == [1, 1, 1]
    assert reallocs[4] > 1 and reallocs[5] == 1
    online = cofactor.grad(count_while, checkpoint=cofactor.Checkpoint(snapshots=8))
    for n, g in zip(steps, grads, strict=True):
        assert g == pytest.approx(online(0.3, n), rel=1e-12), n
