"""Forward-mode benchmark: ``cofactor.jvp`` and vector mode against ``jax.jit(jax.jvp)``.

Run ``python benchmarks/bench_forward.py [--quick] [--out PATH]``. Prints a Markdown table
and writes a JSON report (default ``benchmarks/results/forward.json``). Each kernel of
``kernels.py`` is differentiated along a random tangent of one argument (``WRT``):

- one tangent with ``cofactor.jvp`` (the functional API: it copies the arrays it is given),
  timed against cofactor's own primal (target: at most 2x) and against ``jax.jit`` of
  ``jax.jvp`` of the JAX kernel of ``jax_kernels.py``;
- ``WIDTH`` tangents in one sweep with ``cofactor.autodiff`` and ``BatchDuplicated``
  (target: at most 4x the primal), against ``jax.jit(jax.vmap(jax.jvp))``.

Before timing, cofactor's tangent is checked against JAX's and against central finite
differences of cofactor's primal, and each vector-mode tangent against a single jvp. JAX
runs single-threaded (``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false``) unless
``XLA_FLAGS`` is already set. A failure in cofactor is reported as such; the run goes on.
"""

import argparse
import os
import sys

import common
import kernels
import numpy as np

WRT = {"heat_stencil": 0, "gmm_objective": 2, "lorenz96_loss": 0, "vanderpol_rk4": 0,
       "lstm_objective": 0}
WIDTH = 8  # tangents per sweep in vector mode
RTOL = 1e-7  # cofactor's tangent against JAX's (normwise)
FD_RTOL = 1e-5  # cofactor's tangent against finite differences
VECTOR_RTOL = 1e-15  # a vector-mode tangent against the single jvp with the same tangent
# finite-difference steps: where truncation and rounding errors are both small
FD_EPS = {"heat_stencil": 1e-4, "gmm_objective": 1e-5, "lorenz96_loss": 1e-6,
          "vanderpol_rk4": 1e-4, "lstm_objective": 1e-5}
PACKAGES = ["numpy", "llvmlite", "xdsl", "jax", "jaxlib", "cofactor"]


def tangents_for(x, count, seed=0):
    """``count`` random tangents shaped like ``x`` (floats for a scalar ``x``)."""
    rng = np.random.default_rng(seed)
    out = [rng.normal(0.0, 1.0, np.shape(x)) for _ in range(count)]
    return [t if isinstance(x, np.ndarray) else float(t) for t in out]


def central_difference(f, args, k, t, eps):
    plus, minus = list(args), list(args)
    plus[k] = args[k] + eps * t
    minus[k] = args[k] - eps * t
    return (f(*plus) - f(*minus)) / (2.0 * eps)


def jax_functions(name, args, k):
    """``jax.jit`` of the JAX kernel's jvp along argument ``k`` and of its ``vmap`` over
    tangents; the arguments that ``jax_kernels.STATIC_ARGNUMS`` names are fixed."""
    import jax
    import jax.numpy as jnp
    import jax_kernels

    fn = getattr(jax_kernels, name)
    static = jax_kernels.STATIC_ARGNUMS[name]
    dynamic = [i for i in range(len(args)) if i not in static]

    def along(dyn, t):
        def f(x):
            full = list(args)
            for i, v in zip(dynamic, dyn, strict=True):
                full[i] = x if i == k else v
            return fn(*full)

        return jax.jvp(f, (dyn[dynamic.index(k)],), (t,))

    jvp = jax.jit(along)
    vector = jax.jit(jax.vmap(along, in_axes=(None, 0)))
    dyn = tuple(jnp.asarray(args[i]) for i in dynamic)
    return (lambda t: jax.block_until_ready(jvp(dyn, t)),
            lambda ts: jax.block_until_ready(vector(dyn, ts)))


def check(row, label, err, tol):
    ok = err <= tol
    print(f"  {'ok      ' if ok else 'MISMATCH'} {label}: rel.err {err:.1e} (tol {tol:.0e})")
    row["checks"][label] = {"rel_error": err, "ok": ok}


def bench_kernel(name, make_inputs, cofactor, opts):
    args, size = make_inputs(opts.quick)
    k = WRT[name]
    fn = getattr(kernels, name)
    t, *_ = ts = tangents_for(args[k], WIDTH)
    row = {"name": name, "size": size, "wrt": k, "width": WIDTH, "checks": {}, "timings": {},
           "cofactor_error": None}
    print(f"{name} ({size}), d/d argument {k}", flush=True)

    def measure(key, f, *a):
        row["timings"][key] = common.measure(f, a, opts.budget)
        row[key] = row["timings"][key]["best"]

    jax_jvp, jax_vector = jax_functions(name, args, k)
    jax_primal, jax_tangent = jax_jvp(t)
    measure("jax_jvp_s", jax_jvp, t)
    jts = np.stack(ts)
    jax_vector(jts)
    measure("jax_vector_s", jax_vector, jts)

    row.update(cofactor_primal_s=None, cofactor_jvp_s=None, cofactor_vector_s=None)
    try:
        primal = common.cofactor_jit(cofactor, fn)
        value = primal(*args)
        measure("cofactor_primal_s", primal, *args)
        tangents = [t if i == k else None for i in range(len(args))]
        (out, tangent), row["cofactor_jvp_first_call_s"] = common.first_call(
            cofactor.jvp, (fn, args, tangents))
        check(row, "cofactor primal vs JAX primal", common.rel_error(value, jax_primal), RTOL)
        check(row, "jvp primal vs jit primal", common.rel_error(out, value), 1e-12)
        check(row, "jvp vs JAX jvp", common.rel_error(tangent, jax_tangent), RTOL)
        fd = central_difference(primal, args, k, t, FD_EPS[name])
        check(row, "jvp vs finite differences", common.rel_error(tangent, fd), FD_RTOL)
        measure("cofactor_jvp_s", cofactor.jvp, fn, args, tangents)

        wrapped = [cofactor.BatchDuplicated(a, ts) if i == k else cofactor.Const(a)
                   for i, a in enumerate(args)]
        _, many = cofactor.autodiff(fn, *wrapped)
        singles = [cofactor.jvp(fn, args, [s if i == k else None for i in range(len(args))])[1]
                   for s in ts]
        check(row, f"W={WIDTH} sweep vs {WIDTH} jvps", common.rel_error(many, singles),
              VECTOR_RTOL)
        measure("cofactor_vector_s", cofactor.autodiff, fn, *wrapped)
    except Exception as exc:
        row["cofactor_error"] = common.describe_error(exc)
        print(f"  FAILED {name} (cofactor): {row['cofactor_error']}")

    p, j, v = row["cofactor_primal_s"], row["cofactor_jvp_s"], row["cofactor_vector_s"]
    row["ratios"] = {
        "jvp_over_primal": j / p if j and p else None,
        "vector_over_primal": v / p if v and p else None,
        "cofactor_over_jax": j / row["jax_jvp_s"] if j else None,
        "vector_cofactor_over_jax": v / row["jax_vector_s"] if v else None,
    }
    return row


def report(data):
    t, r = common.fmt_time, common.fmt_ratio
    rows = []
    for k in data["kernels"]:
        q = k["ratios"]
        failed = [c for c, v in k["checks"].items() if not v["ok"]]
        status = "FAILED: " + k["cofactor_error"] if k["cofactor_error"] else (
            "MISMATCH: " + ", ".join(failed) if failed else "checks ok")
        rows.append([k["name"], k["size"], f"arg {k['wrt']}", t(k["cofactor_primal_s"]),
                     t(k["cofactor_jvp_s"]), r(q["jvp_over_primal"]),
                     t(k["cofactor_vector_s"]), r(q["vector_over_primal"]), t(k["jax_jvp_s"]),
                     r(q["cofactor_over_jax"]), t(k["jax_vector_s"]),
                     r(q["vector_cofactor_over_jax"]), status])
    w = data["width"]
    headers = ["kernel", "size", "d/d", "primal", "jvp", "jvp/primal", f"W={w}",
               f"W={w}/primal", "JAX jvp", "cofactor/JAX", f"JAX W={w}", f"W={w} cofactor/JAX",
               "status"]
    print("\n## Forward mode, time per call (best of repeats)\n")
    print(common.markdown_table(headers, rows))
    g = data["geomean"]
    print(f"\nGeometric means: jvp/primal {r(g['jvp_over_primal'])} (target <= 2), "
          f"W={w}/primal {r(g['vector_over_primal'])} (target <= 4), "
          f"cofactor/JAX {r(g['cofactor_over_jax'])}, "
          f"W={w} cofactor/JAX {r(g['vector_cofactor_over_jax'])}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "forward.json"))
    opts = parser.parse_args(argv)
    opts.budget = 0.1 if opts.quick else 0.5
    # Read when JAX starts its CPU backend, i.e. at the first computation.
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

    cofactor, import_error = common.load_cofactor()
    if import_error:
        print(f"cannot import cofactor: {import_error}")
    data = common.environment(PACKAGES)
    data.update(quick=opts.quick, width=WIDTH, rtol=RTOL, fd_rtol=FD_RTOL,
                vector_rtol=VECTOR_RTOL, xla_flags=os.environ.get("XLA_FLAGS"))
    data["kernels"] = [bench_kernel(name, make, cofactor, opts)
                       for name, make in kernels.KERNELS.items()]
    data["geomean"] = {key: common.geomean([k["ratios"][key] for k in data["kernels"]])
                       for key in data["kernels"][0]["ratios"]}
    report(data)
    common.write_json(opts.out, data)
    bad = [k for k in data["kernels"]
           if k["cofactor_error"] or not all(c["ok"] for c in k["checks"].values())]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
