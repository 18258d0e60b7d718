"""The process-wide JIT: MCJIT loads compiled modules and object files.

Every load gets an engine of its own (about 0.5 ms), so that symbols of
different loads never clash, and no engine is ever freed: a freed engine
takes its code with it, and any function pointer still in use would crash the
process. External symbols (libm, libc, the CPython API) resolve in the
running process, and glibc's vector math library is loaded into it for the
vectorized math calls of `codegen`. A lock serializes all use of LLVM's JIT
objects.
"""

import ctypes
import os
import platform
import threading
from functools import cache

from llvmlite import binding as llvm

_lock = threading.Lock()
_engines: list[llvm.ExecutionEngine] = []


# glibc's vector math library: its soname is part of glibc's ABI.
VECTOR_LIBRARY = "libmvec.so.1"


@cache
def vector_library() -> ctypes.CDLL | None:
    """glibc's libmvec, loaded so that JIT code finds its `_ZGV*` functions;
    None where there is none (not glibc on x86-64) or where the environment
    variable COFACTOR_VECTOR_MATH=0 turns vectorized math off (read once)."""
    if os.environ.get("COFACTOR_VECTOR_MATH") == "0" or platform.machine() != "x86_64":
        return None
    try:
        library = ctypes.CDLL(VECTOR_LIBRARY)
        llvm.load_library_permanently(VECTOR_LIBRARY)
    except (OSError, RuntimeError):
        return None
    return library


class Library:
    """The code of one load: symbol addresses stay valid for the process's life."""

    def __init__(self, engine: llvm.ExecutionEngine):
        self._engine = engine

    def address(self, name: str) -> int:
        """The address of the function or global variable `name`."""
        with _lock:
            address = self._engine.get_global_value_address(name)
        if not address:
            raise KeyError(f"symbol {name!r} is not in this library")
        return address


def _new_engine(module: llvm.ModuleRef) -> llvm.ExecutionEngine:
    """An engine for the host CPU; MCJIT owns its target machine, so each
    engine gets a new one."""
    vector_library()  # code from the disk cache may call it
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    tm = llvm.Target.from_triple(llvm.get_process_triple()).create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=3,
        jit=True,
    )
    engine = llvm.create_mcjit_compiler(module, tm)
    _engines.append(engine)
    return engine


def add_module(module: llvm.ModuleRef) -> Library:
    """Compile an (optimized) module to machine code and load it."""
    with _lock:
        engine = _new_engine(module)
        engine.finalize_object()
    return Library(engine)


def add_object(obj: bytes) -> Library:
    """Load object code, as made by `codegen.emit_object` or read from the disk
    cache."""
    with _lock:
        engine = _new_engine(llvm.parse_assembly(""))
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
    return Library(engine)
