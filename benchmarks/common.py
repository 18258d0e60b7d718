"""Helpers shared by the benchmark scripts: compilation, timing, checks, reports."""

import ctypes
import datetime
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import time
import types
from pathlib import Path

import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def njit_module(module, **options):
    """``numba.njit`` every function defined in ``module``, with its callees.

    numba can only call jitted functions, while cofactor compiles plain callees itself, so
    each function is re-created over one shared namespace in which every function of the
    module is replaced by its numba dispatcher (compiled lazily, on first call).
    """
    import numba

    namespace = dict(vars(module))
    jitted = {}
    for name, obj in vars(module).items():
        if isinstance(obj, types.FunctionType) and obj.__module__ == module.__name__:
            clone = types.FunctionType(obj.__code__, namespace, name, obj.__defaults__)
            jitted[name] = numba.njit(**options)(clone)
    namespace.update(jitted)
    return types.SimpleNamespace(**jitted)


def load_cofactor():
    """Return ``(cofactor module, None)``, or ``(None, reason)`` if it cannot be imported."""
    try:
        import cofactor
    except Exception as exc:
        return None, describe_error(exc)
    return cofactor, None


def cofactor_jit(cofactor, fn, fastmath=False):
    """``cofactor.jit(fn)`` (or with ``fastmath=True``); raises if there is no ``jit`` yet."""
    if cofactor is None or not hasattr(cofactor, "jit"):
        raise RuntimeError("cofactor.jit is not available")
    return cofactor.jit(fastmath=True)(fn) if fastmath else cofactor.jit(fn)


def describe_error(exc, limit=300):
    """One-line ``Type: message`` description of an exception."""
    text = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def first_call(fn, args):
    """Call ``fn(*args)`` once; return ``(result, seconds)`` (includes lazy compilation)."""
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def measure(fn, args, budget=0.5, min_repeats=5, max_repeats=200):
    """Seconds per call of ``fn(*args)``, by repeated timed batches.

    Calls are batched so that one batch lasts at least ~10 ms, and as many batches are run
    as fit in ``budget`` seconds (within ``[min_repeats, max_repeats]``). Returns the best
    and the median per-call time over the batches.
    """
    t0 = time.perf_counter()
    fn(*args)
    once = max(time.perf_counter() - t0, 1e-7)
    number = max(1, int(0.01 / once))
    repeats = min(max_repeats, max(min_repeats, int(budget / (once * number))))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn(*args)
        samples.append((time.perf_counter() - t0) / number)
    return {
        "best": min(samples),
        "median": statistics.median(samples),
        "repeats": repeats,
        "number": number,
    }


def measure_calls(fn, args, calls=100_000, repeats=5):
    """Best time per call, in microseconds, over ``repeats`` loops of ``calls`` calls."""
    fn(*args)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best / calls * 1e6


def as_tuple(value):
    return value if isinstance(value, tuple | list) else (value,)


def rel_error(got, want):
    """Normwise relative error ``max|got - want| / max|want|`` over all parts of a
    (tuple of) scalar(s)/array(s); ``inf`` when shapes differ."""
    got, want = as_tuple(got), as_tuple(want)
    if len(got) != len(want):
        return math.inf
    diff = scale = 0.0
    for g, w in zip(got, want, strict=True):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if g.shape != w.shape:
            return math.inf
        if w.size:
            diff = max(diff, float(np.max(np.abs(g - w))))
            scale = max(scale, float(np.max(np.abs(w))))
    if math.isnan(diff):
        return math.inf
    return diff / scale if scale > 0 else diff


def geomean(values):
    values = [v for v in values if v is not None and v > 0 and math.isfinite(v)]
    return math.exp(sum(map(math.log, values)) / len(values)) if values else None


def fmt_time(seconds):
    """Human-readable duration (s, ms or us)."""
    if seconds is None:
        return "-"
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"


def fmt_ratio(ratio):
    return "-" if ratio is None else f"{ratio:.2f}x"


def markdown_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git_commit():
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def environment(packages):
    """Date, machine description and package versions, for the JSON reports."""
    versions = {}
    for name in packages:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
        },
        "versions": versions,
        "git": _git_commit(),
    }


def write_json(path, data):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    print(f"\nwrote {path}")


def count_heap(functions=("realloc", "free")):
    """Route the JIT's calls to the C allocator `functions` through counters, before
    cofactor compiles anything; returns a one-item list holding the peak bytes held."""
    from llvmlite import binding

    libc = ctypes.CDLL(None)
    held, peak = {}, [0]
    c_malloc, c_realloc, c_free = libc.malloc, libc.realloc, libc.free
    c_malloc.restype, c_malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    c_realloc.restype = ctypes.c_void_p
    c_realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    c_free.restype, c_free.argtypes = None, [ctypes.c_void_p]

    def hold(pointer, size):
        held[pointer] = size
        peak[0] = max(peak[0], sum(held.values()))
        return pointer

    @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_size_t)
    def malloc(size):  # LLVM turns realloc(NULL, n) into malloc(n)
        return hold(c_malloc(size), size)

    @ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
    def realloc(pointer, size):
        held.pop(pointer, None)
        return hold(c_realloc(pointer, size), size)

    @ctypes.CFUNCTYPE(None, ctypes.c_void_p)
    def free(pointer):
        held.pop(pointer, None)
        c_free(pointer)

    counters = {"malloc": malloc, "realloc": realloc, "free": free}
    for name in functions:
        binding.add_symbol(name, ctypes.cast(counters[name], ctypes.c_void_p).value)
    count_heap.keep = counters  # the callbacks must outlive every call into compiled code
    return peak
