"""Checkpointing benchmark: the gradient of a long time-stepping loop with a full tape
against checkpointed schedules (``cofactor.grad(..., checkpoint=cofactor.Checkpoint(...))``).

Run ``python benchmarks/bench_checkpoint.py [--quick] [--out PATH]``. Prints a Markdown table
and writes ``benchmarks/results/checkpoint.json``. Per schedule: time per gradient call; the
peak bytes the compiled code holds on the heap, the caches almost all of it (measured as in
``bench_grad.py``: a child process routes the compiled code's ``realloc``, ``malloc`` and
``free`` through counters); the theoretical peak; the forward runs of every step (1 with a
full tape); the gradient's difference from the full tape's. Periodic schedule with s
snapshots over n steps: the tape holds s snapshots of the state plus one segment (ceil(n / s)
steps) of taped values, and every step runs twice forward (the plain sweep and the taped
re-run of its segment; the pass's test hook counts the re-run steps). Binomial (Revolve)
with s snapshots: s states plus one step's tape, and each step runs twice plus Griewank's
optimum of untaped re-runs (counted by the test hook). The hook counts the zero fill of
``du`` too, a 16-step top-level loop that ``Checkpoint`` also checkpoints. A cache grows by
doubling, so a segment's tape may take up to twice its bytes. The ``while:`` rows run the
same steps as a ``while`` loop until a final time, its trip count unknown in advance:
online checkpointing with s slots (the kept snapshots start segments of p steps, p the
least power of two with ceil(n / p) <= s) and Revolve with s snapshots per segment; its
theory is kept + s states plus one step's tape, and Revolve's re-runs summed over the
segments.
"""

import argparse
import ctypes
import json
import math
import os
import subprocess
import sys

import common
import numpy as np

# label: (kernel, (schedule, snapshots) or None for the full tape); a kernel's first row
# is its full tape, the reference of the rows after it
SCHEDULES = {"full tape": ("lorenz96", None), "periodic s=8": ("lorenz96", ("periodic", 8)),
             "periodic s=32": ("lorenz96", ("periodic", 32)),
             "periodic s=128": ("lorenz96", ("periodic", 128)),
             "periodic s=sqrt(n)": ("lorenz96", ("periodic", 0)),
             "binomial s=8": ("lorenz96", ("binomial", 8)),
             "binomial s=32": ("lorenz96", ("binomial", 32)),
             "binomial s=128": ("lorenz96", ("binomial", 128)),
             "while: full tape": ("lorenz96_until", None),
             "while: online s=8": ("lorenz96_until", ("online", 8)),
             "while: online s=32": ("lorenz96_until", ("online", 32))}


def lorenz96(u, steps, dt, forcing):
    """Explicit Euler steps of the Lorenz-96 system; a quadratic of the end state (the time
    loop is the only top-level loop, which `Checkpoint` checkpoints)."""
    m = u.shape[0]
    du = np.zeros(m)
    for _ in range(steps):
        for i in range(m):
            du[i] = (u[(i + 1) % m] - u[(i - 2) % m]) * u[(i - 1) % m] - u[i] + forcing
        for i in range(m):
            u[i] = u[i] + dt * du[i]
    return u[0] * u[0] + u[m // 2] * u[m - 1]


def lorenz96_until(u, t_end, dt, forcing):
    """The same steps in a `while` loop that runs until time t_end: the trip count is known
    only when the loop ends, so `Checkpoint` gives it the online scheme."""
    m = u.shape[0]
    du = np.zeros(m)
    t = 0.0
    while t < t_end:
        for i in range(m):
            du[i] = (u[(i + 1) % m] - u[(i - 2) % m]) * u[(i - 1) % m] - u[i] + forcing
        for i in range(m):
            u[i] = u[i] + dt * du[i]
        t += dt
    return u[0] * u[0] + u[m // 2] * u[m - 1]


KERNELS = {"lorenz96": lorenz96, "lorenz96_until": lorenz96_until}


def problem(kernel, quick):
    """(arguments, steps the time loop runs) of `kernel`."""
    steps, dt = (2_000 if quick else 100_000), 1e-4
    u = np.random.default_rng(0).uniform(-0.5, 0.5, 16) + 8.0
    if kernel == "lorenz96":
        return (u, steps, dt, 8.0), steps
    t_end, t, steps = (steps - 0.5) * dt, 0.0, 0
    while t < t_end:  # the kernel's own count, rounding included
        t += dt
        steps += 1
    return (u, t_end, dt, 8.0), steps


def gradient(cofactor, label):
    kernel, schedule = SCHEDULES[label]
    checkpoint = None if schedule is None else cofactor.Checkpoint(
        snapshots=schedule[1], schedule="binomial" if schedule[0] == "online" else schedule[0])
    return cofactor.grad(KERNELS[kernel], argnums=(0, 3), checkpoint=checkpoint)


def tape_probe(label, quick):
    """Child process: print the peak bytes held by cofactor's caches in one gradient call,
    and the steps re-run (the pass's test hook, compiled into a private cache)."""
    import tempfile

    from llvmlite import binding

    os.environ["COFACTOR_CACHE_DIR"] = tempfile.mkdtemp()
    os.environ["COFACTOR_CHECKPOINT_PROBE"] = "1"
    reruns = []
    probe = ctypes.CFUNCTYPE(None, ctypes.c_int64)(reruns.append)
    binding.add_symbol("cofactor_checkpoint_probe", ctypes.cast(probe, ctypes.c_void_p).value)

    peak = common.count_heap(("malloc", "realloc", "free"))
    import cofactor

    args, _ = problem(SCHEDULES[label][0], quick)
    gradient(cofactor, label)(*args)
    print(json.dumps({"tape_bytes": peak[0], "reruns": sum(reruns) if reruns else None}))


def tape_bytes(label, quick):
    """(peak tape bytes, steps re-run untaped or None) of one gradient call."""
    out = subprocess.run(
        [sys.executable, __file__, "--tape", label] + ["--quick"] * quick,
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    return found["tape_bytes"], found["reruns"]


def revolve_reruns(steps, snapshots):
    """Griewank's fewest steps re-run untaped: r n - beta(s + 1, r - 1), r the fewest
    repetitions with beta(s, r) = C(s + r, s) >= n."""
    r = 0
    while math.comb(snapshots + r, snapshots) < steps:
        r += 1
    return r * steps - math.comb(snapshots + r, snapshots + 1) if steps > 1 else 0


def online_schedule(steps, snapshots):
    """(snapshots kept, steps re-run untaped) of the online scheme for a while loop: the
    period p is the least power of two with ceil(n / p) <= s; Revolve (s snapshots) reverses
    each segment of p steps (the last one shorter)."""
    period = 1
    while -(-steps // period) > snapshots:
        period *= 2
    kept = -(-steps // period)
    return kept, sum(revolve_reruns(min(period, steps - j * period), snapshots)
                     for j in range(kept))


def theory(schedule, steps, full_bytes, state_bytes):
    """(peak tape bytes, forward runs per step) of a schedule, from the full tape's bytes."""
    if schedule is None:
        return full_bytes, 1.0
    kind, snapshots = schedule
    s = snapshots or max(1, math.ceil(math.sqrt(steps)))
    if kind == "online":  # the kept snapshots, Revolve's, one step's tape
        kept, reruns = online_schedule(steps, s)
        return (kept + s) * state_bytes + full_bytes / steps, 2.0 + reruns / steps
    if kind == "binomial":
        return s * state_bytes + full_bytes / steps, 2.0 + revolve_reruns(steps, s) / steps
    period = max(1, math.ceil(steps / s))
    segments = math.ceil(steps / period)
    return segments * state_bytes + period * full_bytes / steps, 2.0


def forward_runs(schedule, reruns, steps):
    """Forward runs per step from the test hook's count: the steps a periodic segment
    re-ran taped (each also ran in the forward sweep), or those Revolve re-ran untaped
    (each step also runs forward and taped once)."""
    return (1.0 if schedule[0] == "periodic" else 2.0) + reruns / steps


def fmt_bytes(n):
    return "-" if n is None else f"{n / 2**20:.2f} MiB" if n >= 2**20 else f"{n / 1024:.1f} KiB"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, short timings")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "checkpoint.json"))
    parser.add_argument("--tape", metavar="SCHEDULE", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.tape:
        tape_probe(opts.tape, opts.quick)
        return 0
    cofactor, import_error = common.load_cofactor()
    if import_error:
        print(f"cannot import cofactor: {import_error}")
        return 1
    args, steps = problem("lorenz96", opts.quick)
    # the snapshot holds the state u (and the scratch du, which the loop writes; t too in
    # the while loop)
    state_bytes = 2 * args[0].size * 8 + 8
    data = common.environment(["numpy", "llvmlite", "xdsl", "cofactor"])
    data.update(quick=opts.quick, kernel="lorenz96", steps=steps, state=args[0].size, rows=[])
    reference, full = {}, {}
    for label, (kernel, schedule) in SCHEDULES.items():
        args, steps = problem(kernel, opts.quick)
        grad = gradient(cofactor, label)
        gu, gf = common.first_call(grad, args)[0]
        got = np.append(gu, gf)
        reference.setdefault(kernel, got)
        seconds = common.measure(grad, args, budget=0.1 if opts.quick else 0.5)["best"]
        measured, reruns = tape_bytes(label, opts.quick)
        full.setdefault(kernel, dict(seconds=seconds, tape_bytes=measured))
        peak, forward = theory(schedule, steps, full[kernel]["tape_bytes"], state_bytes)
        data["rows"].append(dict(
            schedule=label, kernel=kernel, steps=steps, seconds=seconds, tape_bytes=measured,
            theory_tape_bytes=peak,
            forward_runs_per_step=None if reruns is None else forward_runs(schedule, reruns,
                                                                           steps),
            theory_forward_runs_per_step=forward,
            rel_error=common.rel_error(got, reference[kernel])))
    rows = [[r["schedule"], common.fmt_time(r["seconds"]),
             common.fmt_ratio(r["seconds"] / full[r["kernel"]]["seconds"]),
             fmt_bytes(r["tape_bytes"]), fmt_bytes(r["theory_tape_bytes"]),
             f"{full[r['kernel']]['tape_bytes'] / r['tape_bytes']:.0f}x",
             "-" if r["forward_runs_per_step"] is None else f"{r['forward_runs_per_step']:.2f}",
             f"{r['theory_forward_runs_per_step']:.2f}", f"{r['rel_error']:.1e}"]
            for r in data["rows"]]
    print(f"\n## Gradient of Lorenz-96 ({args[0].size} variables), {steps} Euler steps "
          "(a `for` loop; `while:` rows, a `while` loop to a final time)\n")
    print(common.markdown_table(
        ["schedule", "time", "time / full tape", "peak tape", "theory", "memory saved",
         "forward runs per step", "theory", "rel. diff"], rows))
    common.write_json(opts.out, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
