"""Errors: unsupported code, unsupported arguments, and runtime checks.

Unsupported constructs must raise `cofactor.CompileError` naming the construct
and pointing at it: this file's path, line and column, and the source line.
The offending line of each function below carries a `# <- here` marker; the
expected column is where the construct's text starts on that line.

Runtime errors (IndexError with boundscheck, AssertionError, ZeroDivisionError)
must surface as the Python exception; out-of-bounds accesses run in a
subprocess so that a crash fails the tests instead of killing the session.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import cofactor

MARKER = "# <- here"

_OPAQUE = object()  # a global that is not callable in compiled code


# ---------------------------------------------------------------------------
# Functions using unsupported constructs


def uses_with(x):
    with open("unused") as handle:  # <- here
        x += handle
    return x


def uses_list_comprehension(n):
    squares = [i * i for i in range(n)]  # <- here
    return len(squares)


def uses_string(x):
    label = "total"  # <- here
    return x, label


def uses_string_method(x):
    return "x".upper() * x  # <- here


def uses_fstring(x):
    return f"x = {x}"  # <- here


def calls_unknown_object(x):
    return _OPAQUE(x)  # <- here


def calls_print(x):
    print(x)  # <- here
    return x


def calls_a_number(x):
    return x(2.0)  # <- here


def _apply(f, x):
    return f(x)


def uses_lambda(x):
    return _apply(lambda t: t + 1.0, x)  # <- here


def uses_generator_expression(n):
    return max(i * i for i in range(n))  # <- here


def is_a_generator(n):
    for i in range(n):
        yield i * 2  # <- here


def uses_for_else(n):
    total = 0
    for i in range(n):  # <- here
        total += i
    else:
        total = -1
    return total


def uses_while_else(n):
    while n > 0:  # <- here
        n -= 1
    else:
        n = 5
    return n


def uses_try(x):
    try:  # <- here
        x = 1.0 / x
    except ZeroDivisionError:
        x = 0.0
    return x


def uses_list_literal(x):
    pair = [x, x]  # <- here
    return pair


def uses_dict(x):
    table = {1: x}  # <- here
    return table


def uses_nested_def(x):
    def inner(t):  # <- here
        return t
    return inner(x)


def uses_is(x):
    return x is None  # <- here


def uses_in(x):
    return x in (1.0, 2.0)  # <- here


def uses_undefined_name(x):
    return x + not_defined_anywhere  # noqa: F821  # <- here


def uses_complex_literal(x):
    return x * 2j  # <- here


def uses_import(x):
    import math as m  # <- here
    return m.sqrt(x)


def _helper_with_string(x):
    return x + "oops"  # <- here


def calls_bad_helper(x):
    return _helper_with_string(x) * 2.0


def uses_star_args(*args):  # <- here
    return args[0]


UNSUPPORTED = [
    # (function, arguments, pattern naming the construct, text where the construct starts,
    #  and the function holding the marked line when it is not the compiled one)
    (uses_with, (1.0,), r"\bwith\b", "with"),
    (uses_list_comprehension, (3,), r"ListComp|list comprehension", "["),
    (uses_string, (1.0,), r"str|'total'", '"total"'),
    (uses_string_method, (1,), r"upper|str", '"x".upper'),
    (uses_fstring, (1.0,), r"JoinedStr|f-string|format|str", 'f"'),
    (calls_unknown_object, (1.0,), r"_OPAQUE", "_OPAQUE("),
    (calls_print, (1.0,), r"print", "print("),
    (calls_a_number, (1.0,), r"call", "x(2.0)"),
    (uses_lambda, (1.0,), r"lambda", "lambda"),
    (uses_generator_expression, (3,), r"GeneratorExp|generator", "(i * i for"),
    (is_a_generator, (3,), r"Yield|yield|generator", "yield"),
    (uses_for_else, (3,), r"for.*else", "for"),
    (uses_while_else, (3,), r"while.*else", "while"),
    (uses_try, (1.0,), r"\bTry\b|\btry\b", "try"),
    (uses_list_literal, (1.0,), r"\bList\b|\blist\b", "["),
    (uses_dict, (1.0,), r"Dict|dict", "{"),
    (uses_nested_def, (1.0,), r"FunctionDef|def|nested function", "def"),
    (uses_is, (1.0,), r"\bIs\b|\bis\b", "x is None"),
    (uses_in, (1.0,), r"\bIn\b|\bin\b", "x in"),
    (uses_undefined_name, (1.0,), r"not_defined_anywhere", "not_defined_anywhere"),
    (uses_complex_literal, (1.0,), r"2j|complex", "2j"),
    (uses_import, (4.0,), r"Import|import", "import"),
    (calls_bad_helper, (1.0,), r"str|'oops'", '"oops"', _helper_with_string),
    (uses_star_args, (1.0,), r"\*args", "def"),
]


def marked_location(func: Callable, snippet: str) -> tuple[str, int, int, str]:
    """Path, line, 1-based column and code of the marked line of `func`."""
    lines, first = inspect.getsourcelines(func)
    for offset, line in enumerate(lines):
        if MARKER in line:
            code = line.split(MARKER)[0].split("# noqa")[0].rstrip()
            return inspect.getsourcefile(func), first + offset, line.index(snippet) + 1, code
    raise AssertionError(f"{func.__name__} has no {MARKER!r} line")


def compile_error(func: Callable, *args: object) -> str:
    with pytest.raises(cofactor.CompileError) as info:
        cofactor.jit(func)(*args)
    return str(info.value)


@pytest.mark.parametrize(("func", "args", "pattern", "snippet", "marked"),
                         [pytest.param(*u[:4], u[4] if len(u) > 4 else u[0], id=u[0].__name__)
                          for u in UNSUPPORTED])
def test_unsupported_construct(func: Callable, args: tuple, pattern: str, snippet: str,
                               marked: Callable) -> None:
    message = compile_error(func, *args)
    path, line, col, code = marked_location(marked, snippet)
    assert re.search(pattern, message, re.IGNORECASE), f"construct not named in:\n{message}"
    assert f"{path}:{line}:{col}" in message, f"expected {path}:{line}:{col} in:\n{message}"
    assert code.strip() in message, f"source line {code.strip()!r} not in:\n{message}"


def test_compile_error_is_an_exception_with_a_readable_message() -> None:
    message = compile_error(uses_with, 1.0)
    assert issubclass(cofactor.CompileError, Exception)
    assert "Traceback" not in message
    assert Path(__file__).name in message


def factorial_recursive(n):
    if n <= 1:
        return 1
    return n * factorial_recursive(n - 1)  # <- here


def test_recursion_works_or_is_named() -> None:
    try:
        result = cofactor.jit(factorial_recursive)(10)
    except cofactor.CompileError as exc:
        message = str(exc)
        path, line, col, code = marked_location(factorial_recursive, "factorial_recursive(")
        assert "recurs" in message.lower(), message
        assert f"{path}:{line}:{col}" in message, message
        assert code.strip() in message, message
    else:
        assert result == math.factorial(10)


# ---------------------------------------------------------------------------
# Unsupported arguments


def add_one(x):
    return x + 1


@pytest.mark.parametrize(("value", "name"), [
    ("text", r"\bstr\b"),
    ([1.0, 2.0], r"\blist\b"),
    (1 + 2j, r"\bcomplex\b"),
    (np.zeros(3, dtype=np.float16), r"float16"),
    (np.zeros(3, dtype=np.int32), r"int32"),
    (np.zeros(3, dtype=np.complex128), r"complex128"),
    (np.array(1.5), r"ndim|0-d|dimension"),
    (None, r"None"),
    ({"a": 1.0}, r"\bdict\b"),
    (np.zeros(3, dtype=">f8"), r">f8|big-endian|byte order"),
], ids=["str", "list", "complex", "float16-array", "int32-array", "complex-array",
        "0d-array", "None", "dict", "big-endian-array"])
def test_unsupported_argument_types(value: object, name: str) -> None:
    f = cofactor.jit(add_one)
    with pytest.raises(TypeError) as info:
        f(value)
    message = str(info.value)
    assert re.search(name, message), message
    assert "float64" in message or "supported" in message, message
    assert f(1.5) == 2.5  # the jit object still works afterwards


def test_int_argument_beyond_64_bits_is_refused() -> None:
    f = cofactor.jit(add_one)
    for value in (2**63, -(2**63) - 1, 2**100):
        with pytest.raises((OverflowError, TypeError)):
            f(value)
    assert f(2**63 - 1 - 1) == 2**63 - 1


def test_storing_into_a_read_only_array_is_refused() -> None:
    # NumPy raises "assignment destination is read-only"; compiled code must not write
    x = np.arange(4.0)
    x.flags.writeable = False
    with pytest.raises((ValueError, TypeError)):
        cofactor.jit(write_at)(x, 0, 9.0)
    assert x[0] == 0.0
    assert cofactor.jit(read_at)(x, 1) == 1.0  # reading a read-only array is fine


def test_wrong_number_of_arguments() -> None:
    f = cofactor.jit(add_one)
    with pytest.raises(TypeError):
        f(1.0, 2.0)
    with pytest.raises(TypeError):
        f()


# ---------------------------------------------------------------------------
# Bounds: wrapping without boundscheck, IndexError with it


def read_at(x, i):
    return x[i]


def write_at(x, i, v):
    x[i] = v


def read_2d(a, i, j):
    return a[i, j]


def test_negative_indices_wrap_without_boundscheck() -> None:
    read, read2, write = cofactor.jit(read_at), cofactor.jit(read_2d), cofactor.jit(write_at)
    x = np.arange(10.0)
    a = np.arange(12.0).reshape(3, 4)
    for i in range(-10, 10):
        assert read(x, i) == x[i]
    for i in range(-3, 3):
        for j in range(-4, 4):
            assert read2(a, i, j) == a[i, j]
    write(x, -2, 100.0)
    assert x[8] == 100.0
    assert read(x[::-1], -1) == x[0]


# Code that might crash (out-of-bounds accesses) or hang (a runtime error inside a loop
# whose exit depends on the failing operation) runs in child processes, concurrently.
# Each child prints one JSON line per scenario, so a crash or a hang loses only the
# scenarios after it; missing scenarios are reported as "timeout" or "crashed".

CHILD_PRELUDE = '''
import json
import sys

import numpy as np

import cofactor


def read_at(x, i):
    return x[i]


def write_at(x, i, v):
    x[i] = v


def read_2d(a, i, j):
    return a[i, j]


def sum_first(x, n):
    total = 0.0
    for i in range(n):
        total += x[i]
    return total


def _get(x, i):
    return x[i]


def via_helper(x, i):
    return _get(x, i) + 1.0


def find_sentinel(x, target):
    i = 0
    while x[i] != target:
        i += 1
    return i


def count_divisions(n, d):
    k = 0
    while n > 0:
        n //= d
        k += 1
    return k


def grow_until_assert(x):
    steps = 0
    while True:
        x = x * 2.0
        steps += 1
        assert x < 1e10, "x grew too large"


def report(name, f, *args, **extra):
    print("running", name, file=sys.stderr, flush=True)
    try:
        result = {"value": repr(f(*args))}
    except Exception as exc:
        result = {"exc": type(exc).__name__, "msg": str(exc)}
    result.update({k: v() for k, v in extra.items()})
    print(json.dumps({"name": name, **result}), flush=True)


checked = lambda f: cofactor.jit(f, boundscheck=True)  # noqa: E731
'''

BOUNDS_CHILD = '''
x = np.arange(10.0)
a = np.arange(15.0).reshape(3, 5)
report("read-past-end", checked(read_at), x, 15)
report("read-at-size", checked(read_at), x, 10)
report("read-before-start", checked(read_at), x, -11)
y = x.copy()
report("write-past-end", checked(write_at), y, 12, -1.0,
       unchanged=lambda: bool((y == x).all()))
report("read-2d-axis-1", checked(read_2d), a, 1, 7)
report("read-2d-axis-0", checked(read_2d), a, 6, 0)
report("loop-past-end", checked(sum_first), x, 14)
report("helper-past-end", checked(via_helper), x, 20)
report("strided-past-end", checked(read_at), x[::2], 5)
report("in-range", checked(read_at), x, 3)
report("negative-in-range", checked(read_at), x, -1)
report("in-range-2d", checked(read_2d), a, -1, -2)
'''

# name -> (child code, the exception CPython raises, a fragment of its message)
STOPPING_ERRORS = {
    "index-error-ends-sentinel-search": (
        'report("index-error-ends-sentinel-search", checked(find_sentinel), '
        "np.arange(1.0, 5.0), 99.0)", "IndexError", "4"),
    "zero-division-ends-while-loop": (
        'report("zero-division-ends-while-loop", cofactor.jit(count_divisions), 10, 0)',
        "ZeroDivisionError", ""),
    "assert-ends-endless-loop": (
        'report("assert-ends-endless-loop", cofactor.jit(grow_until_assert), 1.0)',
        "AssertionError", "x grew too large"),
}
CHILD_TIMEOUT_S = 30


def _scenario_names(code: str) -> list[str]:
    return re.findall(r'report\("([^"]+)"', code)


@pytest.fixture(scope="module")
def isolated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Results of the child-process scenarios, by name."""
    folder = tmp_path_factory.mktemp("isolated")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    bodies = {"bounds": BOUNDS_CHILD} | {k: v[0] for k, v in STOPPING_ERRORS.items()}
    children = {}
    for label, body in bodies.items():
        script = folder / f"{label}.py"
        script.write_text(textwrap.dedent(CHILD_PRELUDE) + textwrap.dedent(body))
        children[label] = subprocess.Popen(
            [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=root, env=env)
    results: dict[str, dict] = {}
    deadline = time.monotonic() + CHILD_TIMEOUT_S  # one deadline: the children run together
    for label, proc in children.items():
        try:
            out, err = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            failure = f"crashed with status {proc.returncode}" if proc.returncode else ""
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            failure = f"timeout: still running after {CHILD_TIMEOUT_S} s"
        for line in out.splitlines():
            if line.startswith("{"):
                item = json.loads(line)
                results[item.pop("name")] = item
        for name in _scenario_names(bodies[label]):
            results.setdefault(name, {"status": failure or "no result",
                                      "stderr": err[-2000:]})
    return results


@pytest.mark.parametrize(("name", "index", "size"), [
    ("read-past-end", 15, 10),
    ("read-at-size", 10, 10),
    ("read-before-start", None, 10),
    ("write-past-end", 12, 10),
    ("read-2d-axis-1", 7, 5),
    ("read-2d-axis-0", 6, 3),
    ("loop-past-end", 10, 10),
    ("helper-past-end", 20, 10),
    ("strided-past-end", 5, 5),
])
def test_boundscheck_raises_index_error(isolated: dict, name: str, index: int | None,
                                        size: int) -> None:
    result = isolated[name]
    assert result.get("exc") == "IndexError", result
    numbers = re.findall(r"-?\d+", result["msg"])
    assert str(size) in numbers, f"size {size} not in {result['msg']!r}"
    if index is not None:
        assert str(index) in numbers, f"index {index} not in {result['msg']!r}"


def test_boundscheck_out_of_range_store_writes_nothing(isolated: dict) -> None:
    assert isolated["write-past-end"].get("unchanged") is True, isolated["write-past-end"]


def test_boundscheck_allows_valid_and_negative_indices(isolated: dict) -> None:
    assert isolated["in-range"] == {"value": "3.0"}
    assert isolated["negative-in-range"] == {"value": "9.0"}
    assert isolated["in-range-2d"] == {"value": "13.0"}


@pytest.mark.parametrize("name", list(STOPPING_ERRORS))
def test_runtime_error_stops_the_loop_it_happens_in(isolated: dict, name: str) -> None:
    # CPython leaves the loop at the failing operation; compiled code must not keep going
    # (here: forever) with the value substituted for the failed operation
    _, exc, fragment = STOPPING_ERRORS[name]
    result = isolated[name]
    assert result.get("exc") == exc, result
    assert fragment in result["msg"], result


# ---------------------------------------------------------------------------
# assert and ZeroDivisionError


def checked_sqrt(x):
    assert x >= 0.0, "x must be non-negative"
    return math.sqrt(x)


def bare_assert(n):
    assert n % 2 == 0
    return n // 2


def _positive(v):
    assert v > 0, "values must be positive"
    return v


def assert_in_loop(x):
    total = 0.0
    for v in x:
        total += _positive(v)
    return total


def test_failing_assert_raises_assertion_error_with_message() -> None:
    f = cofactor.jit(checked_sqrt)
    assert f(4.0) == 2.0
    with pytest.raises(AssertionError, match="x must be non-negative"):
        f(-1.0)
    assert f(9.0) == 3.0  # a failed call leaves no error behind
    bare = cofactor.jit(bare_assert)
    with pytest.raises(AssertionError):
        bare(3)
    assert bare(4) == 2
    in_loop = cofactor.jit(assert_in_loop)
    with pytest.raises(AssertionError, match="values must be positive"):
        in_loop(np.array([1.0, 2.0, -3.0, 4.0]))
    assert in_loop(np.array([1.0, 2.0])) == 3.0


def int_floordiv(a, b):
    return a // b


def int_mod(a, b):
    return a % b


def divide_all(x, d):
    total = 0
    for v in x:
        total += v // d
    return total


def test_int_division_by_zero_raises() -> None:
    for f in (int_floordiv, int_mod):
        jitted = cofactor.jit(f)
        with pytest.raises(ZeroDivisionError):
            jitted(7, 0)
        with pytest.raises(ZeroDivisionError):
            jitted(-7, 0)
        assert jitted(7, 2) == f(7, 2)
    jitted = cofactor.jit(divide_all)
    with pytest.raises(ZeroDivisionError):
        jitted(np.arange(5), 0)
    assert jitted(np.arange(5), 2) == divide_all(np.arange(5), 2)


def range_with_step(n, step):
    total = 0
    for i in range(0, n, step):
        total += i
    return total


def test_range_with_zero_step_raises_value_error() -> None:
    with pytest.raises(ValueError):
        range_with_step(10, 0)
    jitted = cofactor.jit(range_with_step)
    with pytest.raises(ValueError):
        jitted(10, 0)
    assert jitted(10, 3) == range_with_step(10, 3)
