"""The command-line tools: `cofactor ir` at every stage, pass dumps and timing, cofactor-opt."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cofactor.compiler.pipeline import STAGES

KERNEL = textwrap.dedent("""
    import math

    def helper(x):
        r = 0.0
        for _ in range(2):  # a loop: the call stays a call in the derivative
            r += math.sin(x)
        return r

    def kernel(x, n, a):
        s = 0.0
        for i in range(n):
            if x[i] > a:
                s += helper(x[i])
        return s
""")


def tool(name: str) -> str:
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=120, check=check)


@pytest.fixture(scope="module")
def kernel_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "kern.py"
    path.write_text(KERNEL)
    return path


EXPECTED = {
    "input": ["func.func @kernel(", "scf.for", "scf.if", "memref.load", "func.call @helper"],
    "opt": ["func.func @kernel(", "scf.for", "math.sin"],
    "ad": ["func.func @kernel(", "scf.for", "math.sin"],
    "llvm-dialect": ["llvm.func @kernel(%ctx", "!llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>",
                     "llvm.getelementptr", "llvm.br"],
    "llvm": ["define internal double @\"kernel\"", "define i32 @\"kernel_entry\""],
    "llvm-opt": ["define", "@llvm.sin.f64"],
    "asm": ["kernel_entry", "ret"],
}


@pytest.mark.parametrize("stage", STAGES)
def test_ir_every_stage(kernel_file, stage):
    out = run(tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f64[:], i64, f64",
              "--stage", stage).stdout
    for text in EXPECTED[stage]:
        assert text in out, f"{text!r} missing from stage {stage}:\n{out[:3000]}"


def test_print_ir_after_all_and_timing(kernel_file):
    out = run(tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f64[:], i64, f64",
              "--print-ir-after-all", "--timing").stdout
    for name in ("frontend", "canonicalize", "cse", "convert-scf-to-cf", "lower-func-to-llvm"):
        assert f"IR Dump After {name} " in out
    assert "cofactor pass timing" in out and "total" in out


def test_ir_reports_compile_errors(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("def f(x):\n    return [x]\n")
    result = run(tool("cofactor"), "ir", f"{path}:f", "--signature", "f64", check=False)
    assert result.returncode == 1
    assert "bad.py:2:12" in result.stderr and "List" in result.stderr
    assert "Traceback" not in result.stderr


def test_ir_file_imports_its_neighbours(tmp_path):
    """As under `python file.py`, the file's folder is on the import path, whatever the cwd."""
    (tmp_path / "shapes.py").write_text("def area(r):\n    return 3.0 * r * r\n")
    (tmp_path / "model.py").write_text("from shapes import area\n\n"
                                       "def f(r):\n    return area(r) + 1.0\n")
    out = subprocess.run([tool("cofactor"), "ir", str(tmp_path / "model.py") + ":f",
                          "--signature", "f64"], capture_output=True, text=True, timeout=120,
                         cwd=Path(tmp_path).parent, check=True).stdout
    assert "func.func @f(" in out and "func.call @area" in out


def test_ir_output_cut_short_by_its_reader(kernel_file):
    """`cofactor ir ... | head`: the reader closing the pipe ends the command quietly."""
    args = [tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f64[:], i64, f64",
            "--grad", "0", "--print-ir-after-all"]
    assert len(run(*args).stdout) > 1 << 16  # more than a pipe holds, so the write must fail
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=120) == 0
    assert "Traceback" not in proc.stderr.read()


def test_ir_rejects_bad_signature(kernel_file):
    result = run(tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f16", check=False)
    assert result.returncode != 0 and "f16" in result.stderr


def test_env_var_prints_every_pass(kernel_file):
    script = (f"import sys; sys.path.insert(0, {str(kernel_file.parent)!r}); import numpy as np; "
              "import cofactor, kern; print(cofactor.jit(kern.kernel, cache=False)"
              "(np.ones(3), 3, 0.0))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120, env={"COFACTOR_PRINT_IR_AFTER_ALL": "1", "PATH": ""},
                            check=True)
    assert "IR Dump After lower-func-to-llvm" in result.stderr
    assert float(result.stdout) == pytest.approx(3 * 2.0 * 0.8414709848078965)


def test_ir_of_forward_derivative(kernel_file):
    out = run(tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f64[:], i64, f64",
              "--jvp", "0", "--stage", "ad").stdout
    assert "func.func @kernel_fwd(" in out
    assert "func.func private @fwddiff_kernel_dcc_d(" in out
    assert "func.func private @fwddiff_helper_d_d(" in out
    assert "math.cos" in out  # the tangent rule of sin


def test_cofactor_opt_round_trips_its_output(kernel_file, tmp_path):
    mlir = run(tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f64[:], i64, f64",
               "--stage", "input").stdout
    first = tmp_path / "a.mlir"
    first.write_text(mlir)
    once = run(tool("cofactor-opt"), str(first)).stdout
    second = tmp_path / "b.mlir"
    second.write_text(once)
    assert run(tool("cofactor-opt"), str(second)).stdout == once


def test_cofactor_opt_runs_one_pass(kernel_file, tmp_path):
    mlir = run(tool("cofactor"), "ir", f"{kernel_file}:kernel", "--signature", "f64[:], i64, f64",
               "--stage", "opt").stdout
    path = tmp_path / "k.mlir"
    path.write_text(mlir)
    out = run(tool("cofactor-opt"), str(path), "-p", "convert-scf-to-cf").stdout
    assert "cf.cond_br" in out and "scf.for" not in out
