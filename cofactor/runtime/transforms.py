"""The derivative API: JAX's functional transforms and Enzyme's `autodiff`.

Each call specializes on argument types and activities, compiles the
derivative through the `ad` passes once (cached in memory and on disk), and
calls native code. The functional transforms (`jvp`, `jacfwd` by forward
mode; `grad`, `value_and_grad`, `vjp`, `jacrev` by reverse mode; `hessian`,
`hvp` by forward mode over the reverse-mode gradient) differentiate with
respect to argument values and never modify the caller's arrays: an array
the function may write is copied before the call (one it only reads is
passed as it is). `autodiff` works in place, as Enzyme does:
`Duplicated(x, dx)` passes the caller's own arrays (in reverse mode `dx`
accumulates the adjoint).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import ActivityError
from cofactor.compiler.types import ArrayType, ValueType, is_differentiable, typeof
from cofactor.dialects.ad import DEFAULT_TAPE_LIMIT
from cofactor.runtime.marshal import TapeLimitExceeded

MAX_WIDTH = 16  # tangents per sweep in vector mode
_ndarray = np.ndarray


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
class Active:
    """A float scalar differentiated in reverse mode: its adjoint is returned."""

    value: Any


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


class _Compiled(NamedTuple):
    """A compiled function and the positions of the array arguments it may
    write: only those are copied to keep the caller's arrays unchanged."""

    call: Callable
    written: frozenset[int]

    def inputs(self, flat: list[Any], value: Any) -> None:
        """Append argument `value`, copied if the function may write it."""
        flat.append(_copy(value) if len(flat) in self.written else value)


def _build(py_func: Callable, types: tuple[ValueType, ...], options: Options,
           derivative: Any = None) -> _Compiled:
    """The compiled function or derivative; a function the AD passes cannot
    differentiate raises CompileError naming it."""
    from xdsl.utils.exceptions import PassFailedException

    from cofactor.compiler.diagnostics import CompileError
    from cofactor.runtime.dispatcher import build_entry

    try:
        call, info = build_entry(py_func, types, options, derivative)
    except PassFailedException as exc:
        what = "compile" if derivative is None else "differentiate"
        raise CompileError(f"cannot {what} {py_func.__qualname__}: {exc}") from None
    return _Compiled(call, frozenset(info.written))


@functools.cache
def _forward(py_func: Callable, types: tuple[ValueType, ...], options: Options,
             activity: tuple[str, ...], width: int) -> _Compiled:
    from cofactor.compiler.pipeline import Derivative

    return _build(py_func, types, options, Derivative("forward", activity, width=width))


@functools.cache
def _reverse(py_func: Callable, types: tuple[ValueType, ...], options: Options,
             activity: tuple[str, ...], ret_activity: tuple[str, ...],
             checkpoint: tuple[str, int] | None = None,
             tape_limit: int | None = None, tape_guard: bool = False) -> _Compiled:
    from cofactor.compiler.pipeline import Derivative

    return _build(py_func, types, options,
                  Derivative("reverse", activity, ret_activity, checkpoint=checkpoint,
                             tape_limit=tape_limit, tape_guard=tape_guard))


@functools.cache
def _hessian(py_func: Callable, types: tuple[ValueType, ...], options: Options,
             activity: tuple[str, ...], width: int) -> _Compiled:
    from cofactor.compiler.pipeline import Derivative

    return _build(py_func, types, options, Derivative("hessian", activity, width=width))


@functools.cache
def _primal(py_func: Callable, types: tuple[ValueType, ...], options: Options) -> _Compiled:
    return _build(py_func, types, options)


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
        if s is not None and not is_differentiable(t):
            raise TypeError(f"argument {i} has type {t}, which has no derivative; "
                            "pass it as constant (tangent None)")
    compiled = _forward(py_func, types, options, activity, width)
    flat: list[Any] = []
    for a, s in zip(args, shadows, strict=True):
        if copy:
            compiled.inputs(flat, a)
        else:
            flat.append(a)
        if s is not None:
            flat += s
    primal, tangents = compiled.call(*flat)
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


# --------------------------------------------------------------------------
# reverse mode


def _reverse_activity(types: Sequence[ValueType], wrt: Sequence[bool], api: str
                      ) -> tuple[str, ...]:
    """`active` for differentiated float scalars, `dup` for float arrays."""
    activity = []
    for i, (t, d) in enumerate(zip(types, wrt, strict=True)):
        if d and not is_differentiable(t):
            raise TypeError(f"{api}: argument {i} has type {t}, which has no derivative; "
                            "differentiate with respect to float scalars and float arrays")
        activity.append("const" if not d else "dup" if isinstance(t, ArrayType) else "active")
    return tuple(activity)


def _reverse_call(f: Callable, args: Sequence[Any], wrt: Sequence[bool], seeds: Sequence[Any],
                  ret_activity: tuple[str, ...], api: str,
                  shadows: dict[int, np.ndarray] | None = None) -> tuple[Any, list[Any]]:
    """Run the reverse derivative for arguments `wrt`, with `seeds` for the
    results that are not `const`. Without `shadows` (the caller's, in place),
    arrays are copied and shadows start at zero. Returns the primal results
    that are not `noneed` and the gradient of each argument (None if not in
    `wrt`)."""
    py_func, options = _unwrap(f)
    types = tuple(typeof(a) for a in args)
    activity = _reverse_activity(types, wrt, api)
    try:
        compiled = _reverse(py_func, types, options, activity, ret_activity)
    except ActivityError as exc:
        raise TypeError(f"{api}: {exc}") from None
    in_place = shadows is not None
    shadows = dict(shadows or {})
    flat: list[Any] = []
    for i, (a, act) in enumerate(zip(args, activity, strict=True)):
        if in_place:
            flat.append(a)
        else:
            compiled.inputs(flat, a)
        if act == "dup":
            flat.append(shadows.setdefault(i, np.zeros_like(a)))
    flat += seeds
    primal, adjoints = compiled.call(*flat)
    adjoints = iter(adjoints)
    grads = [next(adjoints) if act == "active" else shadows.get(i)
             for i, act in enumerate(activity)]
    return primal, grads


@dataclass(frozen=True)
class Checkpoint:
    """`grad(f, checkpoint=Checkpoint(snapshots=k))`: checkpoint the outer loops
    of `f` as `checkpointed` does (0 snapshots: about sqrt(n))."""

    snapshots: int = 0
    schedule: str = "periodic"


def checkpointed(steps: range, snapshots: int = 0, schedule: str = "periodic") -> range:
    """`for t in checkpointed(range(n), snapshots=k)`: in compiled code the loop's
    reverse sweep stores k snapshots of its state instead of taping every
    step, and re-runs the steps between them (0: about sqrt(n)). Under plain
    CPython it is just the range."""
    return steps


def _argnums(argnums: int | Sequence[int]) -> tuple[bool, tuple[int, ...]]:
    multiple = not isinstance(argnums, int)
    return multiple, tuple(argnums) if multiple else (argnums,)


TAPE_LIMIT = DEFAULT_TAPE_LIMIT  # bytes: the default `tape_limit`


def grad(f: Callable, argnums: int | Sequence[int] = 0,
         checkpoint: Checkpoint | None = None,
         tape_limit: int | None = TAPE_LIMIT) -> Callable:
    """The gradient of `f`, a function of one float scalar result, by reverse
    mode, as `jax.grad`: a float for a float argument, an array of its shape
    for an array argument; a tuple of them when `argnums` is a sequence.

    `tape_limit` (bytes; None: no limit): a top-level loop of `f` whose
    estimated tape (trip count times 8 bytes per scalar a step computes, an
    over-estimate) exceeds it is checkpointed on its own (binomial, about
    sqrt(n) snapshots). A constant trip count decides at compile time, others
    at run time (both versions are compiled; under the default limit, the
    checkpointed version only once a call needs it). Under a limit below the default,
    a top-level `while` loop runs taped for as many steps as the limit holds,
    then online-checkpointed. Loops inside called functions and loops already
    checkpointed are left as they are."""
    return _Gradient(f, argnums, with_value=False, checkpoint=checkpoint,
                     tape_limit=tape_limit)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0,
                   checkpoint: Checkpoint | None = None,
                   tape_limit: int | None = TAPE_LIMIT) -> Callable:
    """`(f(*args), grad(f)(*args))` in one forward and reverse sweep, as
    `jax.value_and_grad`; `tape_limit` as for `grad`."""
    return _Gradient(f, argnums, with_value=True, checkpoint=checkpoint,
                     tape_limit=tape_limit)


class _Gradient:
    """`grad`/`value_and_grad` of one function: per argument types (the
    dispatcher's cheap key), the compiled derivative and what to pass it."""

    def __init__(self, f: Callable, argnums: int | Sequence[int], with_value: bool,
                 checkpoint: Checkpoint | None = None, tape_limit: int | None = TAPE_LIMIT):
        from cofactor.dialects.ad import checkpoint_attr

        self.f = f
        if tape_limit is not None and tape_limit < 0:
            raise ValueError("tape_limit must be >= 0")
        self.tape_limit = tape_limit
        self.checkpoint = None
        if checkpoint is not None:
            checkpoint_attr(checkpoint.schedule, checkpoint.snapshots)  # raises if invalid
            self.checkpoint = (checkpoint.schedule, checkpoint.snapshots)
        self.multiple, self.wrt = _argnums(argnums)
        self.with_value = with_value
        self.api = "value_and_grad" if with_value else "grad"
        self.plans: dict[tuple, tuple[_Compiled, tuple[str, ...], tuple[int, ...]]] = {}
        functools.update_wrapper(self, getattr(f, "py_func", f))

    def _plan(self, args: tuple, guard: bool) -> tuple[_Compiled, tuple[str, ...],
                                                       tuple[int, ...]]:
        """The derivative for these arguments. With `guard` and the default limit,
        the loops that could need checkpointing get no checkpointed copy: a call
        that needs one raises TapeLimitExceeded (see `__call__`)."""
        n = len(args)
        for k in self.wrt:
            if not -n <= k < n:
                raise ValueError(f"argnums {k} is out of range for {n} arguments")
        picked = tuple(k % n for k in self.wrt)
        py_func, options = _unwrap(self.f)
        types = tuple(typeof(a) for a in args)
        activity = _reverse_activity(types, [i in picked for i in range(n)], self.api)
        ret = ("active",) if self.with_value else ("activenoneed",)
        try:
            compiled = _reverse(py_func, types, options, activity, ret, self.checkpoint,
                                self.tape_limit, guard and self.tape_limit == TAPE_LIMIT)
        except ActivityError as exc:
            raise TypeError(f"{self.api}: {exc}") from None
        return compiled, activity, picked

    def __call__(self, *args: Any) -> Any:
        key = tuple([(a.dtype, a.ndim) if type(a) is _ndarray else type(a) for a in args])
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = self._plan(args, guard=True)
        try:
            return self._run(plan, args)
        except TapeLimitExceeded:  # these arguments need the checkpointed loops
            plan = self.plans[key] = self._plan(args, guard=False)
            return self._run(plan, args)

    def _run(self, plan: tuple[_Compiled, tuple[str, ...], tuple[int, ...]],
             args: tuple) -> Any:
        compiled, activity, picked = plan
        flat: list[Any] = []
        shadows: dict[int, np.ndarray] = {}
        written = compiled.written
        for i, (a, act) in enumerate(zip(args, activity, strict=True)):
            if type(a) is _ndarray:
                flat.append(a.copy() if len(flat) in written else a)
                if act == "dup":
                    flat.append(shadows.setdefault(i, np.zeros_like(a)))
            else:
                flat.append(a)
        flat.append(1.0)
        value, adjoints = compiled.call(*flat)
        adjoints = iter(adjoints)
        grads = [next(adjoints) if act == "active" else shadows.get(i)
                 for i, act in enumerate(activity)]
        out = tuple(grads[k] for k in picked) if self.multiple else grads[picked[0]]
        return (value, out) if self.with_value else out


def _cotangent_like(primal: Any, ct: Any, index: int) -> Any:
    """Check a cotangent against its output and convert it to the output's type."""
    if isinstance(primal, np.ndarray):
        c = np.asarray(ct, dtype=primal.dtype)
        if c.shape != primal.shape:
            raise ValueError(f"cotangent {index} has shape {c.shape}, its output {primal.shape}")
        return np.array(c, copy=True)
    return float(ct)


def _output_activity(leaves: Sequence[Any]) -> tuple[str, ...]:
    return tuple("dupnoneed" if isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)
                 else "activenoneed" if isinstance(x, float | np.floating) else "const"
                 for x in leaves)


def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """`(f(*primals), vjp_fn)` as `jax.vjp`: `vjp_fn(cotangent)` gives the
    cotangent of every argument (None for integers and booleans) by a reverse
    sweep seeded with `cotangent`, shaped like the output (None or anything
    for its non-float parts)."""
    py_func, options = _unwrap(f)
    types = tuple(typeof(p) for p in primals)
    primal = _primal(py_func, types, options)
    flat: list[Any] = []
    for p in primals:
        primal.inputs(flat, p)
    out = primal.call(*flat)
    leaves = _leaves(out)
    rets = _output_activity(leaves)
    wrt = [is_differentiable(t) for t in types]

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        cts = _leaves(cotangent) if isinstance(out, tuple) else [cotangent]
        if len(cts) != len(leaves):
            raise ValueError(f"the cotangent has {len(cts)} parts, the output {len(leaves)}")
        seeds = [_cotangent_like(p, c, i) for i, (p, c, r) in
                 enumerate(zip(leaves, cts, rets, strict=True)) if r != "const"]
        return tuple(_reverse_call(f, primals, wrt, seeds, rets, "vjp")[1])

    return out, vjp_fn


def jacrev(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Jacobian of `f` by reverse mode, as `jax.jacrev`: one reverse sweep
    per output element. The result has shape `output.shape + input.shape` per
    (output, argnum), structured as `jacfwd`'s."""
    multiple, wrt = _argnums(argnums)

    @functools.wraps(getattr(f, "py_func", f))
    def jacobian(*args: Any) -> Any:
        py_func, options = _unwrap(f)
        types = tuple(typeof(a) for a in args)
        primal = _primal(py_func, types, options)
        flat: list[Any] = []
        for a in args:
            primal.inputs(flat, a)
        out = primal.call(*flat)
        leaves = _leaves(out)
        rets = _output_activity(leaves)
        flags = [i in wrt for i in range(len(args))]
        rows: list[list[Any] | None] = []
        for k, (leaf, r) in enumerate(zip(leaves, rets, strict=True)):
            if r == "const":
                rows.append(None)
                continue
            shape = np.shape(leaf)
            per_arg: list[list[Any]] = [[] for _ in wrt]
            for e in range(int(np.prod(shape))):
                seeds = []
                for j, (other, rj) in enumerate(zip(leaves, rets, strict=True)):
                    if rj == "const":
                        continue
                    seed = np.zeros(np.shape(other), dtype=np.result_type(other))
                    if j == k:
                        seed.flat[e] = 1
                    seeds.append(seed if isinstance(other, np.ndarray) else float(seed))
                grads = _reverse_call(f, args, flags, seeds, rets, "jacrev")[1]
                for column, a in zip(per_arg, wrt, strict=True):
                    column.append(np.asarray(grads[a]))
            rows.append([np.stack(c).reshape(shape + np.shape(args[a]))[()]
                         for c, a in zip(per_arg, wrt, strict=True)])
        result = [None if row is None else (tuple(row) if multiple else row[0]) for row in rows]
        return tuple(result) if isinstance(out, tuple) else result[0]

    return jacobian


def _hvp_sweeps(f: Callable, args: Sequence[Any], wrt: Sequence[int],
                tangents: dict[int, list[Any]], width: int) -> dict[int, list[Any]]:
    """Hessian times `width` tangent directions (`tangents[i]`: argument i's
    W tangents, i in `wrt`), by forward mode over the reverse-mode gradient:
    per argument in `wrt`, its W products."""
    py_func, options = _unwrap(f)
    types = tuple(typeof(a) for a in args)
    activity = _reverse_activity(types, [i in wrt for i in range(len(args))], "hessian")
    try:
        compiled = _hessian(py_func, types, options, activity, width)
    except ActivityError as exc:
        raise TypeError(f"hessian: {exc}") from None
    flat: list[Any] = []
    outs: dict[int, list[Any]] = {}
    for i, (a, act) in enumerate(zip(args, activity, strict=True)):
        compiled.inputs(flat, a)
        if act == "const":
            continue
        flat += tangents[i]
        if act == "dup":
            flat.append(np.zeros_like(a))
            outs[i] = [np.zeros_like(a) for _ in range(width)]
            flat += outs[i]
    flat.append(1.0)
    _, products = compiled.call(*flat)
    products = iter(products)
    for i, act in enumerate(activity):
        if act == "active":
            outs[i] = [next(products) for _ in range(width)]
    return outs


def hessian(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """The Hessian of `f` (one float scalar result), as `jax.hessian`: forward
    mode (up to 16 tangents per sweep) over the reverse-mode gradient. Block
    (i, j) has shape `x_i.shape + x_j.shape`; with several `argnums`, a tuple
    of tuples of blocks."""
    multiple, wrt = _argnums(argnums)

    @functools.wraps(getattr(f, "py_func", f))
    def hess(*args: Any) -> Any:
        blocks: dict[tuple[int, int], Any] = {}
        for j in wrt:
            x = args[j]
            if not isinstance(x, np.ndarray | float | np.floating):
                raise TypeError(f"hessian: argument {j} must be a float or a float array, "
                                f"got {type(x).__name__}")
            shape = np.shape(x)
            n = int(np.prod(shape))
            columns: dict[int, list[Any]] = {i: [] for i in wrt}
            for start in range(0, n, MAX_WIDTH):
                width = min(MAX_WIDTH, n - start)
                tangents = {}
                for i in wrt:
                    seeds = []
                    for k in range(start, start + width):
                        seed = np.zeros(np.shape(args[i]), dtype=np.result_type(args[i]))
                        if i == j:
                            seed.flat[k] = 1
                        seeds.append(seed if isinstance(args[i], np.ndarray) else float(seed))
                    tangents[i] = seeds
                for i, products in _hvp_sweeps(f, args, wrt, tangents, width).items():
                    columns[i] += [np.asarray(p) for p in products]
            for i in wrt:
                out = np.stack(columns[i], axis=-1)
                blocks[i, j] = out.reshape(np.shape(args[i]) + shape)[()]
        if multiple:
            return tuple(tuple(blocks[i, j] for j in wrt) for i in wrt)
        return blocks[wrt[0], wrt[0]]

    return hess


def hvp(f: Callable, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, ...]:
    """The Hessian of `f` (one float scalar result) times `tangents`, by one
    forward-over-reverse sweep: per argument, its part of H v (None for the
    arguments whose tangent is None)."""
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"hvp got {len(primals)} primals and {len(tangents)} tangents")
    wrt = [i for i, t in enumerate(tangents) if t is not None]
    seeds = {i: [_tangent_like(primals[i], tangents[i], i)] for i in wrt}
    products = _hvp_sweeps(f, primals, wrt, seeds, 1)
    return tuple(products[i][0] if i in products else None for i in range(len(primals)))


def autodiff(f: Callable, *args: Any, mode: str = "forward") -> Any:
    """Enzyme's `autodiff`: arguments wrapped as `Const`, `Duplicated`,
    `BatchDuplicated` (forward) or `Active` (reverse); bare values are
    `Const`. Works in place on the caller's arrays. Forward mode returns
    `(result, tangent)`; reverse mode (a float scalar result, seeded with 1)
    returns `(result, adjoints of the Active arguments)` and accumulates into
    the shadows of `Duplicated` ones."""
    if mode == "reverse":
        return _autodiff_reverse(f, args)
    if mode != "forward":
        raise ValueError(f"autodiff mode must be 'forward' or 'reverse', got {mode!r}")
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


def _autodiff_reverse(f: Callable, args: Sequence[Any]) -> tuple[Any, tuple[Any, ...]]:
    values, wrt, shadows = [], [], {}
    for i, a in enumerate(args):
        if isinstance(a, BatchDuplicated):
            raise TypeError("BatchDuplicated is forward-mode only")
        if isinstance(a, Duplicated):
            if not (isinstance(a.value, np.ndarray) and isinstance(a.shadow, np.ndarray)
                    and a.shadow.shape == a.value.shape and a.shadow.dtype == a.value.dtype):
                raise TypeError(f"argument {i}: Duplicated in reverse mode takes an array and "
                                "a shadow array of the same shape and dtype (use Active for "
                                "a scalar)")
            shadows[i] = a.shadow
        elif isinstance(a, Active) and isinstance(a.value, np.ndarray):
            raise TypeError(f"argument {i}: Active takes a float scalar (use Duplicated for "
                            "an array)")
        values.append(a.value if isinstance(a, Const | Duplicated | Active) else a)
        wrt.append(isinstance(a, Duplicated | Active))
    value, grads = _reverse_call(f, values, wrt, [1.0], ("active",), "autodiff",
                                 shadows=shadows)
    return value, tuple(g for g, a in zip(grads, args, strict=True) if isinstance(a, Active))
