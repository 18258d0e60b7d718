"""The derivative API: JAX's functional transforms and Enzyme's `autodiff`.

Each call specializes on argument types and activities, compiles the
derivative through the `ad` passes once (cached in memory and on disk), and
calls native code. The functional transforms (`jvp`, `jacfwd`) differentiate
with respect to argument values and never modify the caller's arrays: arrays
are copied before the call. `autodiff` works in place, as Enzyme does:
`Duplicated(x, dx)` passes the caller's own arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cofactor.compiler.options import Options
from cofactor.compiler.types import ArrayType, ScalarType, ValueType, typeof

MAX_WIDTH = 16  # tangents per sweep in vector mode


@dataclass(frozen=True)
class Const:
    """An argument that is not differentiated."""

    value: Any


@dataclass(frozen=True)
class Duplicated:
    """An argument with its shadow: the tangent (forward mode) or the adjoint
    accumulator (reverse mode)."""

    value: Any
    shadow: Any


@dataclass(frozen=True)
class BatchDuplicated:
    """An argument with several tangents, differentiated in one vector sweep."""

    value: Any
    shadows: Sequence[Any]


def _unwrap(f: Callable) -> tuple[Callable, Options]:
    from cofactor.runtime.dispatcher import Dispatcher

    if isinstance(f, Dispatcher):
        return f.py_func, f.options
    if isinstance(f, functools.partial) or not callable(f):
        raise TypeError(f"expected a Python function or a cofactor.jit function, got {f!r}")
    return f, Options()


def _is_float(t: ValueType) -> bool:
    scalar = t.dtype if isinstance(t, ArrayType) else t
    return isinstance(scalar, ScalarType) and scalar.is_float


@functools.cache
def _forward(py_func: Callable, types: tuple[ValueType, ...], options: Options,
             activity: tuple[str, ...], width: int) -> Callable:
    from cofactor.compiler.pipeline import Derivative
    from cofactor.runtime.dispatcher import build_callable

    return build_callable(py_func, types, options, Derivative("forward", activity, width=width))


def _copy(x: Any) -> Any:
    return np.array(x, copy=True) if isinstance(x, np.ndarray) else x


def _tangent_like(primal: Any, tangent: Any, index: int) -> Any:
    """Check a tangent against its primal and convert it to the primal's type."""
    if isinstance(primal, np.ndarray):
        t = np.asarray(tangent, dtype=primal.dtype)
        if t.shape != primal.shape:
            raise ValueError(f"tangent {index} has shape {t.shape}, its primal {primal.shape}")
        return np.array(t, copy=True)
    return type(primal)(tangent) if isinstance(primal, np.floating) else float(tangent)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, tuple):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _rebuild(primal: Any, tangents: list[Any], width: int) -> Any:
    """The tangent of `primal`, structured like it: float leaves take the next
    `width` tangents (one, or a list for vector mode); other leaves get None."""
    if isinstance(primal, tuple):
        return tuple(_rebuild(p, tangents, width) for p in primal)
    is_float = isinstance(primal, float | np.floating) or (
        isinstance(primal, np.ndarray) and np.issubdtype(primal.dtype, np.floating))
    if not is_float:
        return None
    taken = [tangents.pop(0) for _ in range(width)]
    return taken[0] if width == 1 else taken


def _forward_call(f: Callable, args: Sequence[Any], shadows: Sequence[list[Any] | None],
                  width: int, copy: bool) -> tuple[Any, Any]:
    """Run the forward derivative: `shadows[i]` holds argument i's `width`
    tangents, or None when it is constant."""
    py_func, options = _unwrap(f)
    types = tuple(typeof(a) for a in args)
    activity = tuple("const" if s is None else "dup" for s in shadows)
    for i, (t, s) in enumerate(zip(types, shadows, strict=True)):
        if s is not None and not _is_float(t):
            raise TypeError(f"argument {i} has type {t}, which has no derivative; "
                            "pass it as constant (tangent None)")
    flat: list[Any] = []
    for a, s in zip(args, shadows, strict=True):
        flat.append(_copy(a) if copy else a)
        if s is not None:
            flat += s
    primal, tangents = _forward(py_func, types, options, activity, width)(*flat)
    return primal, _rebuild(primal, list(tangents), width)


def jvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """`(f(*primals), J(primals) @ tangents)` by forward mode, as `jax.jvp`.

    An integer or boolean argument takes None as its tangent. Output leaves
    that are not floats get None as their tangent."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp got {len(primals)} primals and {len(tangents)} tangents")
    shadows = [None if t is None else [_tangent_like(p, t, i)]
               for i, (p, t) in enumerate(zip(primals, tangents, strict=True))]
    return _forward_call(f, primals, shadows, 1, copy=True)


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of `f` by forward mode, as `jax.jacfwd`: sweeps of up to
    16 tangents each (vector mode), so an n-input Jacobian costs n/16 sweeps.

    The result has shape `output.shape + input.shape` per (output, argnum)."""
    multiple = not isinstance(argnums, int)
    wrt = tuple(argnums) if multiple else (argnums,)

    @functools.wraps(getattr(f, "py_func", f))
    def jacobian(*args: Any) -> Any:
        columns = [_jacobian_wrt(f, args, k) for k in wrt]
        if multiple:
            return _transpose(columns)
        return columns[0]

    return jacobian


def _jacobian_wrt(f: Callable, args: Sequence[Any], k: int) -> Any:
    x = args[k]
    if not isinstance(x, np.ndarray | float | np.floating):
        raise TypeError(f"jacfwd: argument {k} must be a float or a float array, got "
                        f"{type(x).__name__}")
    shape = np.shape(x)
    n = int(np.prod(shape))
    dtype = x.dtype if isinstance(x, np.ndarray) else np.float64
    columns: list[Any] = []
    for start in range(0, n, MAX_WIDTH):
        width = min(MAX_WIDTH, n - start)
        seeds = []
        for j in range(start, start + width):
            seed = np.zeros(n, dtype=dtype)
            seed[j] = 1
            seeds.append(seed.reshape(shape) if isinstance(x, np.ndarray) else 1.0)
        shadows = [seeds if i == k else None for i in range(len(args))]
        _, tangent = _forward_call(f, args, shadows, width, copy=True)
        columns.append(tangent)
    return _stack(columns, shape)


def _stack(sweeps: list[Any], in_shape: tuple[int, ...]) -> Any:
    """Per output leaf, stack the per-input tangents into output.shape + in_shape."""
    first = sweeps[0]
    if isinstance(first, tuple):
        return tuple(_stack([s[i] for s in sweeps], in_shape) for i in range(len(first)))
    if first is None:
        return None
    flat = [t for sweep in sweeps for t in (sweep if isinstance(sweep, list) else [sweep])]
    out = np.stack([np.asarray(t) for t in flat], axis=-1)
    out = out.reshape(out.shape[:-1] + in_shape)
    return out[()] if out.ndim == 0 else out


def _transpose(columns: list[Any]) -> Any:
    if isinstance(columns[0], tuple):
        return tuple(tuple(c[i] for c in columns) for i in range(len(columns[0])))
    return tuple(columns)


def autodiff(f: Callable, *args: Any, mode: str = "forward") -> Any:
    """Enzyme's `autodiff`: arguments wrapped as `Const`, `Duplicated` or
    `BatchDuplicated` (bare values are `Const`). Works in place on the
    caller's arrays. Forward mode returns `(result, tangent)`."""
    if mode != "forward":
        raise ValueError(f"autodiff mode must be 'forward', got {mode!r}")
    values, shadows, widths = [], [], set()
    for i, a in enumerate(args):
        if isinstance(a, Duplicated):
            values.append(a.value)
            shadows.append([a.shadow])
            widths.add(1)
        elif isinstance(a, BatchDuplicated):
            values.append(a.value)
            shadows.append(list(a.shadows))
            widths.add(len(a.shadows))
        else:
            values.append(a.value if isinstance(a, Const) else a)
            shadows.append(None)
        if shadows[-1] is not None and isinstance(values[-1], np.ndarray):
            for s in shadows[-1]:
                if not (isinstance(s, np.ndarray) and s.shape == values[-1].shape
                        and s.dtype == values[-1].dtype):
                    raise TypeError(f"the shadow of argument {i} must be an array of the "
                                    "same shape and dtype as the argument")
    if len(widths) > 1:
        raise ValueError("every BatchDuplicated argument must have the same number of shadows")
    width = widths.pop() if widths else 1
    if not 1 <= width <= MAX_WIDTH:
        raise ValueError(f"vector mode supports 1 to {MAX_WIDTH} shadows, got {width}")
    return _forward_call(f, values, shadows, width, copy=False)
