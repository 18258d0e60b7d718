"""The dispatcher behind `cofactor.jit`: one native specialization per argument types.

A call computes a cheap key from the arguments' Python types (dtype and ndim
for arrays), looks it up, and makes one call into generated code that reads
the arguments itself. A miss compiles (or loads from the on-disk cache) under
a process-wide lock.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from cofactor.compiler.options import Options
from cofactor.compiler.types import ValueType, typeof
from cofactor.runtime import cache, engine, marshal
from cofactor.runtime.cache import fingerprint

_COMPILE_LOCK = threading.RLock()
_ndarray = np.ndarray


def _key(args: tuple) -> tuple:
    """Arrays are told apart by dtype and rank; scalar-only calls also hit a
    dict keyed on `type` alone, which is cheaper."""
    return tuple([(a.dtype, a.ndim) if type(a) is _ndarray else type(a) for a in args])


def _current_dependency(module: str, name: str) -> str | None:
    """The fingerprint a dependency has now: a function's source or a constant's repr."""
    try:
        obj: Any = sys.modules.get(module) or importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
        obj = getattr(obj, "py_func", obj)
        if inspect.isfunction(obj):
            return fingerprint(inspect.getsource(obj))
        return repr(obj)
    except Exception:
        return None


class Dispatcher:
    """A Python function compiled on demand, per argument types."""

    def __init__(self, py_func: Callable, *, boundscheck: bool = False, fastmath: bool = False,
                 cache: bool = True):
        self.py_func = py_func
        self.options = Options(boundscheck=boundscheck, fastmath=fastmath)
        self.use_cache = cache
        self._by_key: dict[tuple, Callable] = {}
        self._by_types: dict[tuple[ValueType, ...], Callable] = {}
        functools.update_wrapper(self, py_func)

    def __repr__(self) -> str:
        return f"<cofactor.jit {self.py_func.__qualname__}>"

    def __get__(self, obj: object, objtype: type | None = None) -> Any:
        return self if obj is None else functools.partial(self, obj)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:
            args = self._positional(args, kwargs)
        fn = self._by_key.get(tuple(map(type, args)))
        if fn is None:
            fn = self._by_key.get(_key(args)) or self._specialize(args)
        return fn(*args)

    def _positional(self, args: tuple, kwargs: dict) -> tuple:
        """Python's argument binding, defaults included, as a positional tuple."""
        bound = inspect.signature(self.py_func).bind(*args, **kwargs)
        bound.apply_defaults()
        return bound.args

    @property
    def signatures(self) -> list[tuple[ValueType, ...]]:
        return list(self._by_types)

    def _specialize(self, args: tuple) -> Callable:
        full = self._positional(args, {})
        fn = self.compile(tuple(typeof(a) for a in full))
        if len(full) > len(args):
            native, defaults = fn, full[len(args):]

            def fn(*given: Any) -> Any:
                return native(*given, *defaults)
        self._by_key[_key(args)] = fn
        if not any(type(a) is _ndarray for a in args):
            self._by_key[tuple(map(type, args))] = fn
        return fn

    def compile(self, types: tuple[ValueType, ...]) -> Callable:
        """The native callable for these argument types, compiling it if needed."""
        fn = self._by_types.get(types)
        if fn is not None:
            return fn
        with _COMPILE_LOCK:
            fn = self._by_types.get(types)
            if fn is None:
                fn = build_callable(self.py_func, types, self.options, use_cache=self.use_cache)
                self._by_types[types] = fn
        return fn

    def ir(self, *args: Any, stage: str = "opt") -> str:
        """The text of a pipeline stage for the specialization these arguments select."""
        from cofactor.compiler.pipeline import stage_text

        return stage_text(self.py_func, tuple(typeof(a) for a in args), self.options, stage)


def _cache_key(py_func: Callable, types: tuple[ValueType, ...], options: Options,
               derivative: Any) -> str | None:
    try:
        source = inspect.getsource(py_func)
    except (OSError, TypeError):
        return None
    signature = ", ".join(map(str, types))
    if derivative is not None:
        signature += " " + derivative.key()
    name = f"{py_func.__module__}.{py_func.__qualname__}"
    return cache.cache_key(name + "\n" + source, signature, options.key())


def build_callable(py_func: Callable, types: tuple[ValueType, ...], options: Options,
                   derivative: Any = None, use_cache: bool = True) -> Callable:
    """The native callable of a specialization (or of a derivative request,
    a `pipeline.Derivative`), from the disk cache when it is there (then
    neither xDSL nor the compiler is imported)."""
    return build_entry(py_func, types, options, derivative, use_cache)[0]


def build_entry(py_func: Callable, types: tuple[ValueType, ...], options: Options,
                derivative: Any = None, use_cache: bool = True
                ) -> tuple[Callable, marshal.EntryInfo]:
    """`build_callable`, with the entry's description (which array arguments
    it may write, among others)."""
    # The checkpoint test hook changes the generated code: never cache it.
    use_cache = use_cache and not os.environ.get("COFACTOR_CHECKPOINT_PROBE")
    with _COMPILE_LOCK:
        key = _cache_key(py_func, types, options, derivative) if use_cache else None
        hit = cache.load(key) if key else None
        if hit is not None:
            obj, meta = hit
            deps = meta.get("dependencies", [])
            if all(_current_dependency(m, n) == fp for m, n, fp in deps):
                info = marshal.EntryInfo.from_json(meta["entry"])
                return marshal.python_callable(engine.add_object(obj), info), info
        from cofactor.compiler import codegen
        from cofactor.compiler.pipeline import lower, to_llvm

        lowered = lower(py_func, types, options, derivative=derivative)
        info = marshal.EntryInfo(lowered.symbol + "_entry", lowered.arg_types,
                                 lowered.result_type, tuple(lowered.assert_messages),
                                 lowered.written)
        llmod = to_llvm(lowered, info.name)
        marshal.add_python_entry(llmod, info)
        obj = codegen.emit_object(codegen.optimize(llmod, fastmath=options.fastmath))
        if key:
            deps = [[module, name, fp] for (module, name), fp in lowered.dependencies.items()]
            cache.store(key, obj, {"entry": info.to_json(), "dependencies": deps})
        return marshal.python_callable(engine.add_object(obj), info), info


def jit(fn: Callable | None = None, *, boundscheck: bool = False, fastmath: bool = False,
        cache: bool = True) -> Any:
    """Compile `fn` to native code on first call, per argument types (like numba.njit)."""
    def wrap(f: Callable) -> Dispatcher:
        if isinstance(f, Dispatcher):
            f = f.py_func
        if not inspect.isfunction(f):
            raise TypeError(f"cofactor.jit expects a Python function, got {type(f).__name__}")
        return Dispatcher(f, boundscheck=boundscheck, fastmath=fastmath, cache=cache)

    return wrap if fn is None else wrap(fn)
