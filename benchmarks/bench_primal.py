"""Primal benchmark: ``cofactor.jit`` against ``numba.njit`` on the kernels of ``kernels.py``.

Run ``python benchmarks/bench_primal.py [--quick] [--fastmath] [--out PATH]``. Prints a
Markdown table and writes a JSON report (default ``benchmarks/results/primal.json``).
A kernel that cofactor fails to compile or run is reported as such; the run goes on.
"""

import argparse
import sys

import common
import kernels

RTOL = 1e-6  # agreement required between cofactor and numba results
PACKAGES = ["numpy", "numba", "llvmlite", "xdsl", "cofactor"]


def bench_kernel(name, make_inputs, nb, cofactor, opts):
    args, size = make_inputs(opts.quick)
    fn = getattr(kernels, name)
    row = {"name": name, "size": size}
    print(f"{name} ({size})", flush=True)

    ref, row["numba_compile_s"] = common.first_call(getattr(nb, name), args)
    row["numba_result"] = float(ref)
    row["numba_s"] = common.measure(getattr(nb, name), args, opts.budget)

    row.update(cofactor_compile_s=None, cofactor_error=None, cofactor_s=None, ratio=None)
    try:
        compiled = common.cofactor_jit(cofactor, fn, opts.fastmath)
        out, row["cofactor_compile_s"] = common.first_call(compiled, args)
        err = common.rel_error(out, ref)
        row.update(cofactor_result=repr(out), rel_error=err, agrees=err <= RTOL)
        if not row["agrees"]:
            print(f"  MISMATCH {name}: cofactor={out!r} numba={ref!r} rel.err={err:.2e}")
        row["cofactor_s"] = common.measure(compiled, args, opts.budget)
        row["ratio"] = row["cofactor_s"]["best"] / row["numba_s"]["best"]
    except Exception as exc:
        row["cofactor_error"] = common.describe_error(exc)
        print(f"  FAILED {name} (cofactor): {row['cofactor_error']}")
    return row


def bench_overhead(name, make_inputs, nb, cofactor, opts):
    args, size = make_inputs(opts.quick)
    fn = getattr(kernels, name)
    calls = 10_000 if opts.quick else 100_000
    row = {"name": name, "size": size, "calls": calls}
    row["python_us"] = common.measure_calls(fn, args, calls)
    row["numba_us"] = common.measure_calls(getattr(nb, name), args, calls)
    row.update(cofactor_us=None, cofactor_error=None)
    try:
        compiled = common.cofactor_jit(cofactor, fn, opts.fastmath)
        out = compiled(*args)
        if common.rel_error(out, fn(*args)) > RTOL:
            print(f"  MISMATCH {name}: cofactor={out!r} python={fn(*args)!r}")
        row["cofactor_us"] = common.measure_calls(compiled, args, calls)
    except Exception as exc:
        row["cofactor_error"] = common.describe_error(exc)
        print(f"  FAILED {name} (cofactor): {row['cofactor_error']}")
    return row


def status(row):
    if row["cofactor_error"]:
        return "FAILED: " + row["cofactor_error"]
    return "ok" if row["agrees"] else f"MISMATCH (rel.err {row['rel_error']:.1e})"


def report(data):
    rows = [
        [
            r["name"],
            r["size"],
            common.fmt_time(r["numba_s"]["best"]),
            common.fmt_time(r["cofactor_s"]["best"] if r["cofactor_s"] else None),
            common.fmt_ratio(r["ratio"]),
            common.fmt_time(r["numba_compile_s"]),
            common.fmt_time(r["cofactor_compile_s"]),
            status(r),
        ]
        for r in data["kernels"]
    ]
    headers = [
        "kernel",
        "size",
        "numba",
        "cofactor",
        "cofactor/numba",
        "numba 1st call",
        "cofactor 1st call",
        "check",
    ]
    print("\n## Primal time per call (best of repeats)\n")
    print(common.markdown_table(headers, rows))
    print(f"\nGeometric mean of cofactor/numba: {common.fmt_ratio(data['geomean_ratio'])}")

    rows = [
        [
            r["name"],
            r["size"],
            f"{r['python_us']:.3f}",
            f"{r['numba_us']:.3f}",
            "-" if r["cofactor_us"] is None else f"{r['cofactor_us']:.3f}",
            "FAILED: " + r["cofactor_error"] if r["cofactor_error"] else "ok",
        ]
        for r in data["call_overhead"]
    ]
    print("\n## Call overhead (us per call, including the Python loop)\n")
    print(common.markdown_table(["function", "args", "python", "numba", "cofactor", "check"], rows))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, short timings")
    parser.add_argument("--fastmath", action="store_true", help="fastmath=True for both")
    parser.add_argument("--out", default=str(common.RESULTS_DIR / "primal.json"))
    opts = parser.parse_args(argv)
    opts.budget = 0.1 if opts.quick else 0.5  # seconds of timing per kernel and compiler

    cofactor, import_error = common.load_cofactor()
    if import_error:
        print(f"cannot import cofactor: {import_error}")
    nb = common.njit_module(kernels, fastmath=opts.fastmath)
    data = common.environment(PACKAGES)
    data.update(quick=opts.quick, fastmath=opts.fastmath, rtol=RTOL)
    data["kernels"] = [
        bench_kernel(name, make, nb, cofactor, opts) for name, make in kernels.KERNELS.items()
    ]
    data["geomean_ratio"] = common.geomean([r["ratio"] for r in data["kernels"]])
    data["call_overhead"] = [
        bench_overhead(name, make, nb, cofactor, opts) for name, make in kernels.TINY.items()
    ]
    report(data)
    common.write_json(opts.out, data)
    failed = [r for r in data["kernels"] if r["cofactor_error"] or not r.get("agrees", True)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
