"""Gradient benchmark: ``cofactor.grad`` against ``jax.jit(jax.grad(...))`` and hand-written
adjoints compiled with numba, on the kernels of ``kernels.py``.

Run ``python benchmarks/bench_grad.py [--quick] [--out PATH]``. Prints a Markdown table and
writes a JSON report (default ``benchmarks/results/grad.json``). The hand-written gradients
are checked against central finite differences and against JAX; cofactor's against the
hand-written ones. A failure in cofactor is reported as such; the run goes on.
JAX runs single-threaded (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false``) unless
``XLA_FLAGS`` is already set, to compare with single-threaded native code.

Tape memory: how much more heap one gradient call holds at its peak than one primal call:
the reverse-mode caches plus the shadows of the kernel's temporary arrays. A child process
(``--tape KERNEL``) compiles afresh with the compiled code's ``malloc``, ``realloc`` and
``free`` routed through counting wrappers (``llvmlite.binding.add_symbol``).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import common
import handwritten_grads
import kernels
import numpy as np

RTOL = 1e-7  # agreement between gradients (normwise)
FD_RTOL = 1e-5  # agreement between a directional derivative and finite differences
FD_EPS = {
    "heat_stencil": 1e-4,
    "gmm_objective": 1e-6,
    "lorenz96_loss": 1e-6,
    "vanderpol_rk4": 1e-6,
    "lstm_objective": 1e-6,
}  # finite-difference steps
PACKAGES = ["numpy", "numba", "llvmlite", "xdsl", "jax", "jaxlib", "cofactor"]


def fd_check(f, args, argnums, grads, eps, seed=0):
    """Relative difference between ``<grad, v>`` and the central difference of ``f`` along
    a random direction ``v`` in the differentiated arguments."""
    rng = np.random.default_rng(seed)
    plus, minus, exact = list(args), list(args), 0.0
    for i, g in zip(argnums, grads, strict=True):
        v = rng.normal(0.0, 1.0, np.shape(args[i]))
        plus[i] = args[i] + eps * v
        minus[i] = args[i] - eps * v
        exact += float(np.sum(np.asarray(g) * v))
        if np.ndim(args[i]) == 0:
            plus[i], minus[i] = float(plus[i]), float(minus[i])
    approx = (f(*plus) - f(*minus)) / (2.0 * eps)
    return abs(approx - exact) / max(abs(exact), abs(approx), 1e-300)


def cofactor_grad(cofactor, fn, argnums):
    """``cofactor.grad(fn, argnums=argnums)``; raises if there is no ``grad`` yet."""
    if cofactor is None or not hasattr(cofactor, "grad"):
        raise RuntimeError("cofactor.grad is not available")
    return cofactor.grad(fn, argnums=argnums)


def tape_probe(name, quick):
    """Child process: print the peak heap of one gradient call less that of one primal call."""
    os.environ["COFACTOR_CACHE_DIR"] = tempfile.mkdtemp()  # compile, so the wrappers are used
    peak = common.count_heap(("malloc", "realloc", "free"))
    import cofactor

    args, _ = kernels.KERNELS[name](quick)
    fn = getattr(kernels, name)
    grad = cofactor.grad(fn, argnums=handwritten_grads.GRAD_ARGNUMS[name])
    cofactor.jit(fn)(*args)
    primal, peak[0] = peak[0], 0
    grad(*args)
    print(json.dumps({"tape_bytes": max(peak[0] - primal, 0)}))


def tape_bytes(name, quick):
    """Peak bytes of cofactor's caches in one gradient call of kernel ``name`` (child process)."""
    out = subprocess.run(
        [sys.executable, __file__, "--tape", name] + ["--quick"] * quick,
        capture_output=True, text=True, timeout=600, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])["tape_bytes"]


def check(label, err, tol):
    ok = err <= tol
    print(f"  {'ok      ' if ok else 'MISMATCH'} {label}: rel.err {err:.1e} (tol {tol:.0e})")
    return {"rel_error": err, "ok": ok}


def jax_functions(name, argnums):
    """``jax.jit`` of the JAX kernel and of its gradient, blocking until the result is ready."""
    import jax
    import jax_kernels

    fn = getattr(jax_kernels, name)
    static = jax_kernels.STATIC_ARGNUMS[name]
    primal = jax.jit(fn, static_argnums=static)
    grad = jax.jit(jax.grad(fn, argnums=argnums), static_argnums=static)
    return (
        lambda *a: jax.block_until_ready(primal(*a)),
        lambda *a: jax.block_until_ready(grad(*a)),
    )


def to_jax(args):
    import jax.numpy as jnp

    return tuple(jnp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)


def bench_kernel(name, make_inputs, nb, hw, cofactor, opts):
    args, size = make_inputs(opts.quick)
    argnums = handwritten_grads.GRAD_ARGNUMS[name]
    fn = getattr(kernels, name)
    row = {"name": name, "size": size, "argnums": list(argnums), "checks": {}}
    print(f"{name} ({size}), d/d args {argnums}", flush=True)

    def measure(key, f, a):
        """Store the timings of ``f(*a)`` in ``row["timings"][key]``, the best in ``row[key]``."""
        row.setdefault("timings", {})[key] = common.measure(f, a, opts.budget)
        row[key] = row["timings"][key]["best"]

    primal_nb = getattr(nb, name)
    primal_nb(*args)
    measure("numba_primal_s", primal_nb, args)

    # Hand-written adjoint, compiled with numba, checked against finite differences.
    hand_fn = getattr(hw, name + "_grad")
    hand = hand_fn(*args)
    measure("hand_grad_s", hand_fn, args)
    row["checks"]["hand_vs_fd"] = check(
        "hand-written vs finite differences",
        fd_check(primal_nb, args, argnums, hand, FD_EPS[name]),
        FD_RTOL,
    )

    # JAX
    jax_primal, jax_grad = jax_functions(name, argnums)
    jargs = to_jax(args)
    row["checks"]["jax_primal_vs_numba"] = check(
        "JAX primal vs numba", common.rel_error(jax_primal(*jargs), primal_nb(*args)), RTOL
    )
    row["checks"]["jax_vs_hand"] = check(
        "JAX grad vs hand-written", common.rel_error(jax_grad(*jargs), hand), RTOL
    )
    measure("jax_primal_s", jax_primal, jargs)
    measure("jax_grad_s", jax_grad, jargs)

    # cofactor: its own primal, then its gradient.
    row.update(cofactor_primal_s=None, cofactor_grad_s=None, cofactor_tape_bytes=None)
    row.update(cofactor_primal_error=None, cofactor_grad_error=None)
    try:
        compiled = common.cofactor_jit(cofactor, fn)
        compiled(*args)
        measure("cofactor_primal_s", compiled, args)
    except Exception as exc:
        row["cofactor_primal_error"] = common.describe_error(exc)
        print(f"  FAILED {name} (cofactor.jit): {row['cofactor_primal_error']}")
    try:
        cgrad = cofactor_grad(cofactor, fn, argnums)
        grads, row["cofactor_grad_first_call_s"] = common.first_call(cgrad, args)
        row["checks"]["cofactor_vs_hand"] = check(
            "cofactor grad vs hand-written", common.rel_error(grads, hand), RTOL
        )
        measure("cofactor_grad_s", cgrad, args)
        row["cofactor_tape_bytes"] = tape_bytes(name, opts.quick)
    except Exception as exc:
        row["cofactor_grad_error"] = common.describe_error(exc)
        print(f"  FAILED {name} (cofactor.grad): {row['cofactor_grad_error']}")

    cg, cp = row["cofactor_grad_s"], row["cofactor_primal_s"]
    row["ratios"] = {
        "cofactor_grad_over_primal": cg / cp if cg and cp else None,
        "cofactor_over_jax": cg / row["jax_grad_s"] if cg else None,
        "cofactor_over_hand": cg / row["hand_grad_s"] if cg else None,
        "jax_grad_over_primal": row["jax_grad_s"] / row["jax_primal_s"],
        "hand_grad_over_numba_primal": row["hand_grad_s"] / row["numba_primal_s"],
        "jax_over_hand": row["jax_grad_s"] / row["hand_grad_s"],
    }
    return row


def bench_overhead(name, make_inputs, hw, cofactor, opts):
    """Per-call time of the gradient of a tiny function, in microseconds."""
    args, size = make_inputs(opts.quick)
    argnums = handwritten_grads.GRAD_ARGNUMS[name]
    calls = 2_000 if opts.quick else 20_000
    row = {"name": name, "size": size, "calls": calls, "cofactor_us": None, "cofactor_error": None}
    row["hand_us"] = common.measure_calls(getattr(hw, name + "_grad"), args, calls)
    _, jax_grad = jax_functions(name, argnums)
    row["jax_us"] = common.measure_calls(jax_grad, to_jax(args), calls)
    try:
        cgrad = cofactor_grad(cofactor, getattr(kernels, name), argnums)
        row["cofactor_us"] = common.measure_calls(cgrad, args, calls)
    except Exception as exc:
        row["cofactor_error"] = common.describe_error(exc)
    return row


def fmt_bytes(n):
    """Bytes as kB or MB; '-' for None."""
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def report(data):
    t, r = common.fmt_time, common.fmt_ratio
    rows = []
    for k in data["kernels"]:
        q = k["ratios"]
        failed = [c for c, v in k["checks"].items() if not v["ok"]]
        errors = [e for e in (k["cofactor_primal_error"], k["cofactor_grad_error"]) if e]
        state = ("FAILED: " + "; ".join(dict.fromkeys(errors))) if errors else "ok"
        rows.append(
            [
                k["name"],
                k["size"],
                t(k["numba_primal_s"]),
                t(k["cofactor_primal_s"]),
                t(k["hand_grad_s"]),
                t(k["jax_grad_s"]),
                t(k["cofactor_grad_s"]),
                r(q["cofactor_grad_over_primal"]),
                r(q["cofactor_over_jax"]),
                r(q["cofactor_over_hand"]),
                r(q["jax_over_hand"]),
                fmt_bytes(k["cofactor_tape_bytes"]),
                ("MISMATCH: " + ", ".join(failed) if failed else "checks ok")
                + "; cofactor "
                + state,
            ]
        )
    headers = [
        "kernel",
        "size",
        "primal numba",
        "primal cofactor",
        "grad hand",
        "grad JAX",
        "grad cofactor",
        "cofactor grad/primal",
        "cofactor/JAX",
        "cofactor/hand",
        "JAX/hand",
        "cofactor tape (heap over primal)",
        "status",
    ]
    print("\n## Gradient time per call (best of repeats)\n")
    print(common.markdown_table(headers, rows))
    g = data["geomean"]
    print(
        f"\nGeometric means: cofactor grad/primal {r(g['cofactor_grad_over_primal'])}, "
        f"cofactor/JAX {r(g['cofactor_over_jax'])}, cofactor/hand {r(g['cofactor_over_hand'])}, "
        f"JAX/hand {r(g['jax_over_hand'])}"
    )

    rows = [
        [
            o["name"],
            o["size"],
            f"{o['hand_us']:.2f}",
            f"{o['jax_us']:.2f}",
            "-" if o["cofactor_us"] is None else f"{o['cofactor_us']:.2f}",
            "FAILED: " + o["cofactor_error"] if o["cofactor_error"] else "ok",
        ]
        for o in data["call_overhead"]
    ]
    print("\n## Gradient call overhead (us per call)\n")
    print(
        common.markdown_table(
            ["function", "args", "hand (numba)", "JAX", "cofactor", "cofactor status"], rows
        )
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--out", help="JSON results (default: results/grad.json, unless --only)")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(kernels.KERNELS), help="time these kernels only"
    )
    parser.add_argument("--tape", metavar="KERNEL", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.tape:
        tape_probe(opts.tape, opts.quick)
        return 0
    opts.budget = 0.1 if opts.quick else 0.5
    # Read when JAX starts its CPU backend, i.e. at the first computation.
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

    cofactor, import_error = common.load_cofactor()
    if import_error:
        print(f"cannot import cofactor: {import_error}")
    nb = common.njit_module(kernels)
    hw = common.njit_module(handwritten_grads)
    data = common.environment(PACKAGES)
    data.update(quick=opts.quick, rtol=RTOL, fd_rtol=FD_RTOL, xla_flags=os.environ.get("XLA_FLAGS"))
    data["kernels"] = [
        bench_kernel(name, make, nb, hw, cofactor, opts)
        for name, make in kernels.KERNELS.items()
        if not opts.only or name in opts.only
    ]
    data["geomean"] = {
        key: common.geomean([k["ratios"][key] for k in data["kernels"]])
        for key in data["kernels"][0]["ratios"]
    }
    data["call_overhead"] = [
        bench_overhead(name, make, hw, cofactor, opts) for name, make in kernels.TINY.items()
    ]
    report(data)
    out = opts.out or (None if opts.only else common.RESULTS_DIR / "grad.json")
    if out:
        common.write_json(out, data)
    bad = [
        k
        for k in data["kernels"]
        if k["cofactor_primal_error"]
        or k["cofactor_grad_error"]
        or not all(c["ok"] for c in k["checks"].values())
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
