"""Vectorized math and allocation aliasing in code generation.

Loops over math functions call glibc's vector math library (libmvec) where
it is there: their values must stay within a few ulp of libm (what CPython's
`math` computes) over ordinary and edge inputs, for f64 and f32 arrays; code
outside loops keeps libm; without libmvec everything stays scalar; shared
libraries compiled for the host link libmvec, portable ones do not. Arrays
the compiled code allocates are `noalias`, so loops over them vectorize
without run-time overlap checks."""

import importlib.util
import math
import os
import re
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cofactor
from cofactor import aot
from cofactor.compiler import codegen
from cofactor.runtime import engine

UNARY = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
         "atanh", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "cbrt", "erf", "erfc"]
BINARY = ["pow", "atan2", "hypot"]
NUMPY = {"asin": "arcsin", "acos": "arccos", "atan": "arctan", "asinh": "arcsinh",
         "acosh": "arccosh", "atanh": "arctanh", "atan2": "arctan2", "pow": "power"}
NO_NUMPY = {"erf", "erfc"}  # math only
# libmvec promises 4 ulp; the f64 reference is libm (within 1 ulp), the f32
# one the f64 result rounded.
MAX_ULPS = 5

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-300, -1e-300, 5e-324, -5e-324, 1e-310,
         2.2250738585072014e-308, 1e-8, -1e-8, 1e300, -1e300, 1.7976931348623157e308, 709.78,
         709.79, -745.1, -746.0, 710.5, 88.7, 89.0, -103.9, 1e10, -1e10, 1e22, math.pi,
         math.pi / 2, 1.0000001, -1.0000001, 0.9999999, math.inf, -math.inf, math.nan]

LOOP = '''
def {name}_loop(x, y):
    for i in range(x.shape[0]):
        y[i] = math.{name}(x[i])
def {name}_scalar(x):
    return math.{name}(x)
'''
LOOP2 = '''
def {name}_loop(x, z, y):
    for i in range(x.shape[0]):
        y[i] = math.{name}(x[i], z[i])
def {name}_scalar(x, z):
    return math.{name}(x, z)
'''
UFUNC = '''
def {name}_array(x):
    return np.{ufunc}(x)
'''
UFUNC2 = '''
def {name}_array(x, z):
    return np.{ufunc}(x, z)
'''


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    """One module of loop, scalar and array kernels per math function (the
    frontend reads the kernels' source, so they live in a file)."""
    parts = ["import math", "import numpy as np"]
    for name in UNARY + BINARY:
        parts.append((LOOP2 if name in BINARY else LOOP).format(name=name))
        if name not in NO_NUMPY:
            ufunc = NUMPY.get(name, name)
            parts.append((UFUNC2 if name in BINARY else UFUNC).format(name=name, ufunc=ufunc))
    path = tmp_path_factory.mktemp("vector_math") / "vector_math_kernels.py"
    path.write_text(textwrap.dedent("\n".join(parts)))
    spec = importlib.util.spec_from_file_location("vector_math_kernels", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def inputs(n_args: int, dtype=np.float64) -> list[np.ndarray]:
    """Edge values (every pair of them for two arguments) and random values
    of every magnitude and sign."""
    rng = np.random.default_rng(0)
    edges = np.array(EDGES)
    random = [rng.uniform(-1, 1, 1500) * 10.0 ** rng.uniform(-8, 3, 1500)
              for _ in range(n_args)]
    if n_args == 1:
        columns = [np.concatenate([edges, random[0], rng.uniform(-1, 1, 500)])]
    else:
        a, b = np.meshgrid(edges, edges)
        columns = [np.concatenate([a.ravel(), random[0]]),
                   np.concatenate([b.ravel(), np.abs(random[1]) % 5.0])]
    with np.errstate(over="ignore"):
        return [c.astype(dtype) for c in columns]


def ordered(a: np.ndarray) -> np.ndarray:
    """Floats as integers in the order of the floats (-0 and 0 the same), so
    that the difference of two is their distance in ulp."""
    bits = a.view(np.int64 if a.dtype == np.float64 else np.int32).astype(np.int64)
    return np.where(bits < 0, -(bits & np.int64(2 ** (8 * a.itemsize - 1) - 1)), bits)


def assert_close_ulps(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    assert actual.dtype == expected.dtype, what
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan, err_msg=f"{what}: NaNs")
    np.testing.assert_array_equal(actual[np.isinf(expected)], expected[np.isinf(expected)],
                                  err_msg=f"{what}: infinities")
    ulps = np.abs(ordered(actual[~nan]) - ordered(expected[~nan]))
    worst = int(np.argmax(ulps)) if ulps.size else 0
    assert ulps.size == 0 or ulps[worst] <= MAX_ULPS, (
        f"{what}: {ulps[worst]} ulp at x={np.asarray(actual[~nan])[worst]!r}: "
        f"{actual[~nan][worst]!r} vs {expected[~nan][worst]!r}")


def has_variant(name: str, suffix: str = "") -> bool:
    """libmvec has the 2-lane (SSE) variant of the function, which every
    x86-64 CPU runs."""
    library = engine.vector_library()
    lanes, args = (2, "v") if not suffix else (4, "v")
    args = "vv" if name in BINARY else args
    return library is not None and hasattr(library, f"_ZGVbN{lanes}{args}_{name}{suffix}")


def calls(ir: str) -> set[str]:
    return set(re.findall(r"call [^@\n]*@\"?([\w.]+)\"?\(", ir))


@pytest.mark.parametrize("name", UNARY + BINARY)
def test_f64_loop_matches_libm(kernels, name):
    loop = cofactor.jit(getattr(kernels, f"{name}_loop"))
    scalar = cofactor.jit(getattr(kernels, f"{name}_scalar"))
    args = inputs(2 if name in BINARY else 1)
    out = np.full_like(args[0], 7.0)
    loop(*args, out)
    expected = np.array([scalar(*map(float, a)) for a in zip(*args, strict=True)])
    assert_close_ulps(out, expected, name)
    if has_variant(name):
        assert any(c.startswith("_ZGV") for c in calls(loop.ir(*args, out, stage="llvm-opt")))


@pytest.mark.parametrize("name", [n for n in UNARY + BINARY if n not in NO_NUMPY])
def test_f32_array_expression_matches_rounded_f64(kernels, name):
    array = cofactor.jit(getattr(kernels, f"{name}_array"))
    scalar = cofactor.jit(getattr(kernels, f"{name}_scalar"))
    args = inputs(2 if name in BINARY else 1, np.float32)
    out = array(*args)
    expected = np.array([scalar(*map(float, a)) for a in zip(*args, strict=True)])
    with np.errstate(over="ignore"):
        assert_close_ulps(out, expected.astype(np.float32), f"{name} (f32)")
    if has_variant(name, "f"):
        assert any(c.startswith("_ZGV") for c in calls(array.ir(*args, stage="llvm-opt")))


def test_code_outside_loops_keeps_libm(kernels):
    """Straight-line code gives CPython's results bit for bit: the SLP
    vectorizer must not pick vector variants there."""
    @cofactor.jit
    def several(x):
        return math.sin(x) * math.cos(x) + math.exp(x) + x ** -2 + math.tanh(2.0 * x)

    for x in np.linspace(-3.0, 3.0, 101)[1::2]:
        x = float(x)
        assert several(x) == math.sin(x) * math.cos(x) + math.exp(x) + x ** -2 + math.tanh(2 * x)
    assert not any(c.startswith("_ZGV") for c in calls(several.ir(0.5, stage="llvm-opt")))


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def test_helper_called_in_a_loop_vectorizes():
    """A math call in a function inlined into a loop counts as in the loop."""
    @cofactor.jit
    def sigmoids(x, y):
        for i in range(x.shape[0]):
            y[i] = sigmoid(x[i])

    x = np.linspace(-30.0, 30.0, 1001)
    y = np.empty_like(x)
    sigmoids(x, y)
    assert_close_ulps(y, np.array([sigmoid(v) for v in x]), "sigmoid")
    if has_variant("exp"):
        assert any(c.startswith("_ZGV") for c in calls(sigmoids.ir(x, y, stage="llvm-opt")))


def test_without_libmvec_loops_call_libm(kernels, monkeypatch):
    monkeypatch.setattr(codegen, "vector_library", lambda: None)
    loop = cofactor.jit(kernels.exp_loop)
    x = np.linspace(-5.0, 5.0, 64)
    y = np.empty_like(x)
    ir = loop.ir(x, y, stage="llvm-opt")
    assert "llvm.exp.f64" in calls(ir) and "_ZGV" not in ir


def test_environment_turns_vector_math_off(kernels):
    """COFACTOR_VECTOR_MATH=0 (read once per process) keeps libm everywhere."""
    program = textwrap.dedent(f'''
        import importlib.util, numpy as np, cofactor
        from cofactor.runtime import engine
        spec = importlib.util.spec_from_file_location("k", {kernels.__file__!r})
        k = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(k)
        x = np.linspace(-5.0, 5.0, 64)
        assert engine.vector_library() is None
        assert "_ZGV" not in cofactor.jit(k.exp_loop).ir(x, x.copy(), stage="llvm-opt")
    ''')
    env = {**os.environ, "COFACTOR_VECTOR_MATH": "0"}
    done = subprocess.run([sys.executable, "-c", program], env=env, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler to link libraries")
@pytest.mark.parametrize("cpu", ["host", "generic"])
def test_shared_library_links_libmvec_for_the_host_only(kernels, tmp_path, cpu):
    path = aot.compile(kernels.exp_loop, "f64[:], f64[:]", tmp_path / f"libexp_{cpu}.so",
                       cpu=cpu)
    needs_libmvec = engine.VECTOR_LIBRARY.encode() in path.read_bytes()
    assert needs_libmvec == (cpu == "host" and has_variant("exp"))
    library = cofactor.load(path)
    x = np.concatenate([np.linspace(-750.0, 750.0, 999), [np.inf, -np.inf, np.nan]])
    y = np.empty_like(x)
    library.exp_loop(x, y)
    assert_close_ulps(y, np.array([math.inf if v > 710 else math.exp(v) for v in x]), "exp")


def test_allocated_arrays_need_no_overlap_checks():
    """Arrays from `cofactor_alloc` are noalias: a loop reading one and
    writing another vectorizes without run-time overlap checks."""
    @cofactor.jit
    def smooth(u, steps):
        n = u.shape[0]
        w = np.zeros(n)
        scratch = np.zeros(n)
        for i in range(n):
            w[i] = u[i]
        for _ in range(steps):
            for i in range(1, n - 1):
                scratch[i] = 0.25 * w[i - 1] + 0.5 * w[i] + 0.25 * w[i + 1]
            for i in range(1, n - 1):
                w[i] = scratch[i]
        return w

    u = np.random.default_rng(1).uniform(size=100)
    ir = smooth.ir(u, 3, stage="llvm")
    assert re.search(r'define internal noalias ptr @"cofactor_alloc"\(.*\) noinline', ir)
    optimized = smooth.ir(u, 3, stage="llvm-opt")
    assert "vector.body" in optimized and "vector.memcheck" not in optimized
    w = u.copy()
    for _ in range(3):
        w[1:-1] = 0.25 * w[:-2] + 0.5 * w[1:-1] + 0.25 * w[2:]
    np.testing.assert_allclose(smooth(u, 3), w, rtol=1e-15)
