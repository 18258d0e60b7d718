"""cofactor.jit as a user sees it: decorator forms, dispatch, the disk cache, threads, IR."""

import os
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

import cofactor


def scaled_sum(x, a):
    s = 0
    for i in range(x.shape[0]):
        s += x[i] * a
    return s


@cofactor.jit
def plain_decorated(a, b):
    return a * b + 1


@cofactor.jit(boundscheck=True)
def checked_get(x, i):
    return x[i]


def test_decorator_forms():
    assert plain_decorated(2.0, 3.0) == 7.0
    assert plain_decorated.__name__ == "plain_decorated"
    assert checked_get(np.arange(3.0), -1) == 2.0
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 3"):
        checked_get(np.arange(3.0), 5)
    f = cofactor.jit(scaled_sum)
    assert f(np.arange(4.0), 2.0) == 12.0
    assert cofactor.jit(f).py_func is scaled_sum  # re-wrapping a jit function
    with pytest.raises(TypeError, match="expects a Python function"):
        cofactor.jit(42)


def test_one_specialization_per_argument_types():
    f = cofactor.jit(scaled_sum)
    assert f(np.arange(4, dtype=np.int64), 2) == 12 and isinstance(f(np.arange(4), 2), int)
    assert f(np.arange(4.0), 2) == 12.0
    assert f(np.arange(4.0, dtype=np.float32), 0.5) == pytest.approx(3.0)
    assert f(np.ones((3, 3))[:, 0], True) == 3.0
    assert [", ".join(map(str, s)) for s in f.signatures] == [
        "i64[:], i64", "f64[:], i64", "f32[:], f64", "f64[:], bool"]
    assert f(x=np.arange(3.0), a=1.0) == 3.0  # keyword arguments bind as in Python


def test_ir_of_every_stage():
    f = cofactor.jit(scaled_sum)
    x = np.arange(3.0)
    assert "scf.for" in f.ir(x, 1.0, stage="input")
    assert "llvm.func @scaled_sum(%ctx" in f.ir(x, 1.0, stage="llvm-dialect")
    assert "define" in f.ir(x, 1.0, stage="llvm-opt")
    with pytest.raises(ValueError, match="unknown stage"):
        f.ir(x, 1.0, stage="nope")


def test_compiles_once_under_concurrent_first_calls():
    f = cofactor.jit(scaled_sum, cache=False)
    x = np.arange(100.0)
    results, errors = [], []

    def call():
        try:
            results.append(f(x, 0.5))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and results == [2475.0] * 8
    assert len(f.signatures) == 1


CACHED = textwrap.dedent("""
    import sys
    import numpy as np
    import cofactor
    import kern

    value = cofactor.jit(kern.total)(np.arange(10.0))
    print(value, "xdsl" in sys.modules)
""")


def test_disk_cache_skips_compilation_in_a_second_process(tmp_path):
    (tmp_path / "kern.py").write_text(textwrap.dedent("""
        SCALE = 2.0

        def helper(v):
            return v * SCALE

        def total(x):
            s = 0.0
            for v in x:
                s += helper(v)
            return s
    """))
    env = {**os.environ, "COFACTOR_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": str(tmp_path)}

    def run() -> str:
        return subprocess.run([sys.executable, "-c", CACHED], env=env, capture_output=True,
                              text=True, check=True, cwd=tmp_path).stdout.strip()

    assert run() == "90.0 True"  # compiled: the compiler was imported
    assert run() == "90.0 False"  # loaded from the cache without the compiler
    # Editing a callee, or a module constant the code reads, invalidates the entry.
    source = (tmp_path / "kern.py").read_text()
    (tmp_path / "kern.py").write_text(source.replace("SCALE = 2.0", "SCALE = 3.0"))
    assert run() == "135.0 True"
    (tmp_path / "kern.py").write_text(source.replace("v * SCALE", "v * SCALE + 1.0"))
    assert run() == "100.0 True"
    assert run() == "100.0 False"
