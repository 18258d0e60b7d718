"""Array-expression benchmark: losses written with whole-array NumPy, and their gradients.

A logistic-regression loss and a small MLP loss, each one function of NumPy array
expressions, run under NumPy, ``cofactor.jit`` and ``jax.jit``. Their gradients: written by
hand with NumPy (run by NumPy and by ``cofactor.jit``), ``jax.jit(jax.grad(...))``, and
``cofactor.grad`` once it exists. The JAX functions are the same source with ``np`` bound to
``jax.numpy``.

Run ``python benchmarks/bench_arrays.py [--quick] [--out PATH]``. Prints a Markdown table
and writes a JSON report (default ``benchmarks/results/arrays.json``). The hand-written
gradients are checked against central finite differences, every other result against NumPy
and the hand-written gradient; a failure in cofactor is recorded and the run goes on. JAX
runs single-threaded unless ``XLA_FLAGS`` is already set. Exit status 1 when anything failed.
"""

import argparse
import os
import sys
import types

import common
import numpy as np

RTOL = 1e-9  # agreement with NumPy and the hand-written gradient (normwise)
FD_RTOL = 1e-6  # hand-written gradient against central differences
PACKAGES = ["numpy", "llvmlite", "xdsl", "jax", "jaxlib", "cofactor"]


def logreg_loss(w, X, y, lam):
    z = X @ w
    return np.mean(np.log1p(np.exp(-y * z))) + lam * np.sum(w * w)


def logreg_grad(w, X, y, lam):
    z = X @ w
    s = -y / (1.0 + np.exp(y * z)) / X.shape[0]
    return X.T @ s + 2.0 * lam * w


def mlp_loss(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    E = H @ W2 + b2 - Y
    return np.mean(E * E)


def mlp_grad(W1, b1, W2, b2, X, Y):
    H = np.tanh(X @ W1 + b1)
    E = H @ W2 + b2 - Y
    dout = 2.0 * E / E.size
    dpre = (dout @ W2.T) * (1.0 - H * H)
    return X.T @ dpre, np.sum(dpre, axis=0), H.T @ dout, np.sum(dout, axis=0)


def logreg_inputs(n, d):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    w_true = rng.normal(size=d)
    y = np.where(X @ w_true + 0.5 * rng.normal(size=n) > 0, 1.0, -1.0)
    return (0.1 * rng.normal(size=d), X, y, 1e-3), f"n={n}, d={d}"


def mlp_inputs(batch, d_in, hidden, d_out):
    rng = np.random.default_rng(1)
    params = (rng.normal(size=(d_in, hidden)) / np.sqrt(d_in), 0.1 * rng.normal(size=hidden),
              rng.normal(size=(hidden, d_out)) / np.sqrt(hidden), 0.1 * rng.normal(size=d_out))
    data = (rng.normal(size=(batch, d_in)), rng.normal(size=(batch, d_out)))
    return (*params, *data), f"batch={batch}, {d_in}-{hidden}-{d_out}"


# name -> (loss, hand-written gradient, argnums, inputs, --quick inputs)
WORKLOADS = {
    "logreg (small)": (logreg_loss, logreg_grad, (0,), (100, 10), (50, 5)),
    "logreg": (logreg_loss, logreg_grad, (0,), (10_000, 32), (400, 8)),
    "mlp": (mlp_loss, mlp_grad, (0, 1, 2, 3), (256, 32, 64, 8), (32, 4, 8, 2)),
}
INPUTS = {logreg_loss: logreg_inputs, mlp_loss: mlp_inputs}


def with_jax_numpy(fn):
    """``fn`` with ``np`` bound to ``jax.numpy``: the JAX version of the same source."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    return types.FunctionType(fn.__code__, {**fn.__globals__, "np": jnp}, fn.__name__)


def fd_error(loss, args, argnums, grads, eps=1e-6, seed=0):
    """Relative difference between ``<grad, v>`` and a central difference along random v."""
    rng = np.random.default_rng(seed)
    plus, minus, exact = list(args), list(args), 0.0
    for i, g in zip(argnums, common.as_tuple(grads), strict=True):
        v = rng.normal(size=np.shape(args[i]))
        plus[i], minus[i] = args[i] + eps * v, args[i] - eps * v
        exact += float(np.sum(g * v))
    approx = (loss(*plus) - loss(*minus)) / (2 * eps)
    return abs(approx - exact) / max(abs(exact), abs(approx), 1e-300)


def bench_workload(name, cofactor, opts):
    loss, hand_grad, argnums, full, quick = WORKLOADS[name]
    args, size = INPUTS[loss](*(quick if opts.quick else full))
    row = {"name": name, "size": size, "argnums": list(argnums), "timings": {}, "checks": {},
           "errors": {}}
    print(f"{name} ({size})", flush=True)

    def measure(key, f, a):
        row["timings"][key] = common.measure(f, a, opts.budget)
        row[key] = row["timings"][key]["best"]

    def check(key, err, tol):
        err = float(err)
        row["checks"][key] = {"rel_error": err, "ok": err <= tol}
        print(f"  {'ok      ' if err <= tol else 'MISMATCH'} {key}: rel.err {err:.1e}")

    def attempt(key, run):
        row[key] = None
        try:
            run()
        except Exception as exc:
            row["errors"][key] = common.describe_error(exc)
            print(f"  FAILED {key}: {row['errors'][key]}")

    want, hand = loss(*args), hand_grad(*args)
    check("hand_grad_vs_fd", fd_error(loss, args, argnums, hand), FD_RTOL)
    measure("numpy_primal_s", loss, args)
    measure("numpy_hand_grad_s", hand_grad, args)

    import jax

    jax_loss = with_jax_numpy(loss)
    jax_primal = jax.jit(jax_loss)
    jax_grad = jax.jit(jax.grad(jax_loss, argnums=argnums))
    jargs = tuple(jax.numpy.asarray(a) if isinstance(a, np.ndarray) else a for a in args)

    def jax_primal_call(*a):
        return jax.block_until_ready(jax_primal(*a))

    def jax_grad_call(*a):
        return jax.block_until_ready(jax_grad(*a))

    check("jax_primal_vs_numpy", common.rel_error(jax_primal_call(*jargs), want), RTOL)
    check("jax_grad_vs_hand", common.rel_error(jax_grad_call(*jargs), hand), RTOL)
    measure("jax_primal_s", jax_primal_call, jargs)
    measure("jax_grad_s", jax_grad_call, jargs)

    def cofactor_primal():
        f = common.cofactor_jit(cofactor, loss)
        check("cofactor_primal_vs_numpy", common.rel_error(f(*args), want), RTOL)
        measure("cofactor_primal_s", f, args)

    def cofactor_hand_grad():
        f = common.cofactor_jit(cofactor, hand_grad)
        check("cofactor_hand_grad_vs_numpy", common.rel_error(f(*args), hand), RTOL)
        measure("cofactor_hand_grad_s", f, args)

    def cofactor_grad():
        if not hasattr(cofactor, "grad"):
            raise RuntimeError("cofactor.grad is not available")
        g = cofactor.grad(loss, argnums=argnums)
        check("cofactor_grad_vs_hand", common.rel_error(g(*args), hand), RTOL)
        measure("cofactor_grad_s", g, args)

    attempt("cofactor_primal_s", cofactor_primal)
    attempt("cofactor_hand_grad_s", cofactor_hand_grad)
    attempt("cofactor_grad_s", cofactor_grad)
    cp, cg = row["cofactor_primal_s"], row["cofactor_grad_s"]
    row["ratios"] = {
        "cofactor_primal_over_numpy": cp / row["numpy_primal_s"] if cp else None,
        "cofactor_primal_over_jax": cp / row["jax_primal_s"] if cp else None,
        "cofactor_grad_over_jax": cg / row["jax_grad_s"] if cg else None,
        "cofactor_grad_over_primal": cg / cp if cg and cp else None,
        "jax_grad_over_primal": row["jax_grad_s"] / row["jax_primal_s"],
    }
    return row


def report(data):
    t, r = common.fmt_time, common.fmt_ratio
    rows = []
    for w in data["workloads"]:
        q = w["ratios"]
        failed = [c for c, v in w["checks"].items() if not v["ok"]]
        status = ("MISMATCH: " + ", ".join(failed) + "; " if failed else "") + (
            "; ".join(f"{k}: {e}" for k, e in w["errors"].items()) or "ok")
        rows.append([w["name"], w["size"], t(w["numpy_primal_s"]), t(w["jax_primal_s"]),
                     t(w["cofactor_primal_s"]), r(q["cofactor_primal_over_numpy"]),
                     t(w["numpy_hand_grad_s"]), t(w["cofactor_hand_grad_s"]),
                     t(w["jax_grad_s"]), t(w["cofactor_grad_s"]),
                     r(q["cofactor_grad_over_jax"]), status])
    headers = ["loss", "size", "primal NumPy", "primal JAX jit", "primal cofactor",
               "cofactor/NumPy", "grad by hand, NumPy", "grad by hand, cofactor.jit",
               "grad JAX jit(grad)", "cofactor.grad", "cofactor.grad/JAX", "status"]
    print("\n## Time per call (best of repeats)\n")
    print(common.markdown_table(headers, rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "arrays.json"))
    opts = parser.parse_args(argv)
    opts.budget = 0.1 if opts.quick else 0.5
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false")

    cofactor, import_error = common.load_cofactor()
    if import_error:
        print(f"cannot import cofactor: {import_error}")
    data = common.environment(PACKAGES)
    data.update(quick=opts.quick, rtol=RTOL, fd_rtol=FD_RTOL,
                xla_flags=os.environ.get("XLA_FLAGS"))
    data["workloads"] = [bench_workload(name, cofactor, opts) for name in WORKLOADS]
    report(data)
    common.write_json(opts.out, data)
    ok = all(c["ok"] for w in data["workloads"] for c in w["checks"].values())
    errors = [e for w in data["workloads"] for k, e in w["errors"].items()
              if not (k == "cofactor_grad_s" and not hasattr(cofactor, "grad"))]
    return 0 if ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
