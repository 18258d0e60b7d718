"""Ahead-of-time compilation: a shared library built here is called through
`cofactor.load` in a process that cannot import xDSL or llvmlite, from a C
program built against its header, and made by the `cofactor compile` CLI; all
three must give the JIT's results."""

import importlib.util
import inspect
import pickle
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import cofactor
from cofactor import aot

if shutil.which("cc") is None:
    pytest.skip("no C compiler (cc) to link shared libraries", allow_module_level=True)

# Plain Python and NumPy: the loader's process imports this module too, for CASES.
KERNELS = textwrap.dedent('''
    import numpy as np

    def series(a, n, flip):
        s = 0.0
        for i in range(n):
            s += a ** i / (i + 1)
        return -s if flip else s

    def weighted(m, w):
        s = 0.0
        for i in range(m.shape[0]):
            for j in range(m.shape[1]):
                s += m[i, j] * w[j]
        return s

    def smooth(u, alpha):
        out = np.zeros(u.shape[0])
        for i in range(1, u.shape[0] - 1):
            out[i] = u[i] + alpha * (u[i - 1] - 2.0 * u[i] + u[i + 1])
        return out

    def stats(x):
        total = 0.0
        for v in x:
            total += v
        mean = total / len(x)
        above = np.zeros(x.shape[0], dtype=np.bool_)
        count = 0
        for i in range(x.shape[0]):
            above[i] = x[i] > mean
            if above[i]:
                count += 1
        return mean, above, count, count > 2

    def scale(x, a):
        for i in range(x.shape[0]):
            x[i] *= a

    def pick(x, i):
        assert i != 7, "seven is not allowed"
        return x[i]

    def h(n):
        return n // 3

    def kernel(n):
        return h(n) + 1

    SIGNATURES = {
        "series": "f64, i64, bool", "weighted": "f64[:,:], f64[:]", "smooth": "f64[:], f64",
        "stats": "f64[:]", "scale": "f64[:], f64", "pick": "f64[:], i64", "kernel": "i64",
        "h": "i64",
    }
    grid = np.arange(24.0).reshape(4, 6) / 7.0
    wave = np.sin(np.linspace(0.0, 3.0, 17))
    CASES = [
        ("series", (0.5, 12, False)), ("series", (1.25, 5, True)),
        ("weighted", (grid, np.linspace(1.0, 2.0, 6))),
        ("weighted", (grid.T, np.linspace(1.0, 2.0, 4))),
        ("weighted", (grid[::-2, 1::2], wave[::6])),
        ("smooth", (wave, 0.25)), ("smooth", (wave[::-3], 0.5)),
        ("stats", (wave,)), ("stats", (wave[::4],)),
        ("scale", (wave.copy(), 3.0)), ("scale", (grid.T.copy()[1], -1.0)),
        ("pick", (wave, 3)), ("pick", (wave, -2)), ("pick", (wave, 17)), ("pick", (wave, 7)),
        ("kernel", (10,)), ("h", (-7,)),
    ]
''')

# Runs, after `run`, in a fresh process where xDSL and llvmlite cannot be imported.
LOADER_MAIN = textwrap.dedent('''
    import pickle, sys

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("xdsl", "llvmlite"):
                raise ImportError(f"{name} is not installed here")

    sys.meta_path.insert(0, Blocker())
    import cofactor
    import kernels

    lib = cofactor.load(sys.argv[1])
    outcomes = run(lib, kernels.CASES)
    assert not [m for m in sys.modules if m.partition(".")[0] in ("xdsl", "llvmlite")]
    with open(sys.argv[2], "wb") as f:
        pickle.dump((lib.smooth.__doc__, outcomes), f)
''')


def run(lib, cases):
    """For each case: what the call returns or raises, and its array arguments after it."""
    outcomes = []
    for name, args in cases:
        args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
        try:
            result = getattr(lib, name)(*args)
        except Exception as exc:  # the exception is the outcome
            result = (type(exc).__name__, str(exc))
        outcomes.append((result, [a for a in args if isinstance(a, np.ndarray)]))
    return outcomes


LOADER = "import numpy as np\n" + inspect.getsource(run) + LOADER_MAIN


def assert_same(got, want):
    """Same types and structure, equal integers and booleans, floats to 1e-12."""
    assert type(got) is type(want), (got, want)
    if isinstance(want, tuple | list):
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert_same(g, w)
    elif isinstance(want, np.ndarray):
        assert (got.dtype, got.shape) == (want.dtype, want.shape)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    elif isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-12, abs=0)
    else:
        assert got == want


@pytest.fixture(scope="module")
def kernels(tmp_path_factory):
    directory = tmp_path_factory.mktemp("aot")
    (directory / "kernels.py").write_text(KERNELS)
    spec = importlib.util.spec_from_file_location("kernels", directory / "kernels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def library(kernels) -> Path:
    """Every kernel in one library, under its Python name."""
    output = Path(kernels.__file__).parent / "lib" / "libkernels.so"
    functions = [(getattr(kernels, n), sig) for n, sig in kernels.SIGNATURES.items()]
    return aot.compile(functions=functions, output=output, boundscheck=True)


@pytest.fixture(scope="module")
def jitted(kernels) -> SimpleNamespace:
    return SimpleNamespace(**{n: cofactor.jit(getattr(kernels, n), boundscheck=True, cache=False)
                              for n in kernels.SIGNATURES})


@pytest.fixture(scope="module")
def expected(kernels, jitted):
    return run(jitted, kernels.CASES)


def test_loader_without_the_compiler(kernels, library, expected, tmp_path):
    saved = tmp_path / "outcomes.pickle"
    done = subprocess.run([sys.executable, "-c", LOADER, library, saved], capture_output=True,
                          text=True, cwd=Path(kernels.__file__).parent, timeout=120)
    assert done.returncode == 0, done.stderr
    doc, outcomes = pickle.loads(saved.read_bytes())
    assert doc == "smooth(f64[:], f64) -> f64[:]"
    assert_same(outcomes, expected)
    picked = [result for (name, _), (result, _) in zip(kernels.CASES, outcomes, strict=True)
              if name == "pick"]
    assert picked[2:] == [("IndexError", "index 17 is out of bounds for axis 0 with size 17"),
                          ("AssertionError", "seven is not allowed")]


def test_only_entry_points_are_exported(kernels, library):
    if shutil.which("nm") is None:
        pytest.skip("no nm")
    table = subprocess.run(["nm", "-D", "--defined-only", library], capture_output=True,
                           text=True, check=True).stdout
    exported = {line.split()[-1] for line in table.splitlines()}
    assert exported == {*kernels.SIGNATURES, "cofactor_metadata"}


C_PROGRAM = r'''
#include <stdio.h>
#include <stdlib.h>
#include "libkernels.h"

int main(void) {
    double m[4][6], w[4], wave[17], r;
    int64_t err[4], count, above[4], out[4];
    for (int i = 0; i < 4; i++) {
        w[i] = 1.0 + i / 3.0;
        for (int j = 0; j < 6; j++) m[i][j] = (i * 6 + j) / 7.0;
    }
    for (int i = 0; i < 17; i++) wave[i] = i * 0.25 - 1.0;

    if (series(0.5, 12, 0, &r, NULL)) return 1;
    printf("series %.17g\n", r);
    /* m transposed: sizes 6 x 4, strides 1 and 6 elements */
    if (weighted(&m[0][0], 6, 4, 1, 6, w, 4, 1, &r, NULL)) return 1;
    printf("weighted %.17g\n", r);

    if (smooth(wave + 16, 6, -3, 0.5, out, NULL)) return 1;   /* wave[::-3] */
    double *data = (double *)(intptr_t)out[0];
    printf("smooth");
    for (int64_t i = 0; i < out[2]; i++) printf(" %.17g", data[i * out[3]]);
    printf("\n");
    free((void *)(intptr_t)out[1]);

    double mean;
    uint8_t many;
    if (stats(wave, 17, 1, &mean, above, &count, &many, NULL)) return 1;
    printf("stats %.17g %lld %d\n", mean, (long long)count, many);
    free((void *)(intptr_t)above[1]);

    int32_t status = pick(wave, 17, 1, 40, &r, err);
    printf("pick %d %lld %lld %lld\n", status, (long long)err[1], (long long)err[2],
           (long long)err[3]);
    return 0;
}
'''


def test_c_program(jitted, library, tmp_path):
    (tmp_path / "main.c").write_text(C_PROGRAM)
    directory = library.parent
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror",
                    "-I", directory, "-o", tmp_path / "main", tmp_path / "main.c",
                    "-L", directory, "-lkernels", f"-Wl,-rpath,{directory}", "-lm"],
                   check=True)
    lines = subprocess.run([tmp_path / "main"], capture_output=True, text=True, check=True,
                           timeout=60).stdout.splitlines()
    printed = {line.split()[0]: line.split()[1:] for line in lines}
    m = np.arange(24.0).reshape(4, 6) / 7.0
    wave = np.arange(17) * 0.25 - 1.0
    want = {
        "series": [jitted.series(0.5, 12, False)],
        "weighted": [jitted.weighted(m.T, 1.0 + np.arange(4) / 3.0)],
        "smooth": list(jitted.smooth(wave[::-3], 0.5)),
    }
    for name, values in want.items():
        assert [float(v) for v in printed[name]] == pytest.approx(values, rel=1e-12, abs=0)
    mean, _, count, many = jitted.stats(wave)
    assert float(printed["stats"][0]) == pytest.approx(mean, rel=1e-12)
    assert printed["stats"][1:] == [str(count), str(int(many))]
    assert printed["pick"] == ["1", "40", "0", "17"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("cofactor") or str(Path(sys.executable).parent / "cofactor")
    return subprocess.run([tool, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_cli_end_to_end(kernels):
    directory = Path(kernels.__file__).parent
    done = cli("compile", "kernels.py:smooth", "--signature", "f64[:], f64", "-o",
               "cli/libsmooth.so", "--cpu", "host", "--object", cwd=directory)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "wrote cli/libsmooth.so, cli/libsmooth.h, cli/libsmooth.o"
    header = (directory / "cli" / "libsmooth.h").read_text()
    assert ("int32_t smooth(double *u_data, int64_t u_size0, int64_t u_stride0, double alpha, "
            "int64_t *out0, int64_t *err_info);") in header
    assert (directory / "cli" / "libsmooth.o").stat().st_size > 0
    smooth = cofactor.load(directory / "cli" / "libsmooth.so").smooth
    u = np.cos(np.linspace(0.0, 2.0, 9))
    assert_same(smooth(u[::2], 0.3), cofactor.jit(kernels.smooth)(u[::2], 0.3))

    done = cli("compile", "kernels.py:kernel", "--signature", "i64", "--name", "next_third",
               cwd=directory)
    assert done.returncode == 0, done.stderr
    assert cofactor.load(directory / "libnext_third.so").next_third(10) == 4


def test_cli_jvp_entry_point(kernels):
    directory = Path(kernels.__file__).parent
    done = cli("compile", "kernels.py:weighted", "--signature", "f64[:,:], f64[:]", "--jvp",
               "1", "-o", "jvp/libweighted.so", cwd=directory)
    assert done.returncode == 0, done.stderr
    header = (directory / "jvp" / "libweighted.h").read_text()
    assert ("int32_t weighted_jvp(double *m_data, int64_t m_size0, int64_t m_size1, "
            "int64_t m_stride0, int64_t m_stride1, double *w_data, int64_t w_size0, "
            "int64_t w_stride0, double *w_tangent_data, int64_t w_tangent_size0, "
            "int64_t w_tangent_stride0, double *out0, double *out1, int64_t *err_info);"
            ) in header
    lib = cofactor.load(directory / "jvp" / "libweighted.so")
    m = np.arange(12.0).reshape(3, 4).T  # a transposed view
    w, dw = np.linspace(1.0, 2.0, 3), np.array([0.5, -1.0, 2.0])
    value, (tangent,) = lib.weighted_jvp(m, w, dw)
    assert value == lib.weighted(m, w) == kernels.weighted(m, w)
    assert tangent == pytest.approx(kernels.weighted(m, dw), rel=1e-14)


@pytest.mark.parametrize("args, message", [
    (["kernels.py:smooth", "--signature", "f64[:], complex"], "cannot parse signature item"),
    (["kernels.py:smooth", "--signature", "f64, f64"], "unsupported attribute 'shape' of f64"),
    (["kernels.py:smooth", "--signature", "f64[:]"], "takes 2 arguments, got 1"),
    (["kernels.py:smooth", "--signature", "f64[:], f64", "--name", "sin"], "is reserved"),
    (["kernels.py:series", "--signature", "f64, i64, bool", "--grad", "1"], "has no derivative"),
    (["kernels.py:smooth", "--signature", "f64[:], f64", "--jvp", "2"], "out of range"),
    (["kernels.py:nothing", "--signature", "f64"], "has no function 'nothing'"),
])
def test_cli_errors(kernels, args, message):
    done = cli("compile", *args, cwd=Path(kernels.__file__).parent)
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_load_rejects_other_libraries(tmp_path):
    (tmp_path / "plain.c").write_text("int plain(void) { return 1; }\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", tmp_path / "libplain.so",
                    tmp_path / "plain.c"], check=True)
    with pytest.raises(ValueError, match="not a cofactor library"):
        cofactor.load(tmp_path / "libplain.so")


GRAD_KERNEL = textwrap.dedent('''
    import math

    def loss(x, w, a):
        s = 0.0
        for i in range(x.shape[0]):
            s += w[i] * math.tanh(a * x[i]) ** 2
        return s
''')

GRAD_LOADER = textwrap.dedent('''
    import sys
    import numpy as np

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in ("xdsl", "llvmlite"):
                raise ImportError(f"{name} is not installed here")

    sys.meta_path.insert(0, Blocker())
    import cofactor

    lib = cofactor.load(sys.argv[1])
    x, w = np.linspace(-1.0, 1.0, 7), np.arange(7.0)
    gx = np.zeros(7)
    value, (da,) = lib.loss_grad(x, gx, w, 0.7, 1.0)
    print(repr(value), repr(da), " ".join(repr(float(g)) for g in gx))
''')

GRAD_C_PROGRAM = r'''
#include <stdio.h>
#include "libloss.h"

int main(void) {
    double x[7], w[7], gx[7] = {0}, value, da;
    for (int i = 0; i < 7; i++) { x[i] = -1.0 + i / 3.0; w[i] = i; }
    if (loss_grad(x, 7, 1, gx, 7, 1, w, 7, 1, 0.7, 1.0, &value, &da, NULL)) return 1;
    printf("%.17g %.17g", value, da);
    for (int i = 0; i < 7; i++) printf(" %.17g", gx[i]);
    printf("\n");
    return 0;
}
'''


def test_gradient_library_from_python_and_c(tmp_path):
    (tmp_path / "grad_kernel.py").write_text(GRAD_KERNEL)
    spec = importlib.util.spec_from_file_location("grad_kernel", tmp_path / "grad_kernel.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    done = cli("compile", "grad_kernel.py:loss", "--signature", "f64[:], f64[:], f64",
               "--name", "loss", "--grad", "0,2", "-o", "out/libloss.so", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    library = tmp_path / "out" / "libloss.so"
    header = library.with_suffix(".h").read_text()
    assert ("int32_t loss_grad(double *x_data, int64_t x_size0, int64_t x_stride0, "
            "double *x_grad_data, int64_t x_grad_size0, int64_t x_grad_stride0, double *w_data, "
            "int64_t w_size0, int64_t w_stride0, double a, double seed0, double *out0, "
            "double *out1, int64_t *err_info);") in header

    x, w = np.linspace(-1.0, 1.0, 7), np.arange(7.0)
    value = cofactor.jit(module.loss)(x, w, 0.7)
    gx, da = cofactor.grad(module.loss, argnums=(0, 2))(x, w, 0.7)
    want = [value, da, *gx]
    analytic = w * 2 * np.tanh(0.7 * x) * (1 - np.tanh(0.7 * x) ** 2)
    np.testing.assert_allclose(gx, 0.7 * analytic, rtol=1e-12)

    loaded = subprocess.run([sys.executable, "-c", GRAD_LOADER, library], capture_output=True,
                            text=True, timeout=120)
    assert loaded.returncode == 0, loaded.stderr
    assert [float(v) for v in loaded.stdout.split()] == pytest.approx(want, rel=1e-12, abs=0)

    (tmp_path / "main.c").write_text(GRAD_C_PROGRAM)
    subprocess.run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", library.parent,
                    "-o", tmp_path / "main", tmp_path / "main.c", "-L", library.parent,
                    "-lloss", f"-Wl,-rpath,{library.parent}", "-lm"], check=True)
    printed = subprocess.run([tmp_path / "main"], capture_output=True, text=True, check=True,
                             timeout=60).stdout.split()
    assert [float(v) for v in printed] == pytest.approx(want, rel=1e-12, abs=0)
