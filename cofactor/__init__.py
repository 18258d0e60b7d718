"""cofactor: compile plain Python numeric functions, and their derivatives, to native code."""

from cofactor.compiler.diagnostics import CompileError
from cofactor.load import load

__version__ = "0.1.0"
__all__ = ["CompileError", "Dispatcher", "jit", "load"]


def __getattr__(name: str) -> object:
    """Import the JIT (xDSL, llvmlite) on first use, so that `cofactor.load`
    runs where only NumPy is installed."""
    if name in ("Dispatcher", "jit"):
        from cofactor.runtime import dispatcher

        globals()[name] = value = getattr(dispatcher, name)
        return value
    raise AttributeError(f"module 'cofactor' has no attribute {name!r}")
