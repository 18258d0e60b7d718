"""cofactor: compile plain Python numeric functions, and their derivatives, to native code."""

from cofactor.compiler.diagnostics import CompileError
from cofactor.load import load

__version__ = "0.1.0"

_LAZY = {
    "Dispatcher": "cofactor.runtime.dispatcher",
    "jit": "cofactor.runtime.dispatcher",
    "compile": "cofactor.aot",
    "jvp": "cofactor.runtime.transforms",
    "jacfwd": "cofactor.runtime.transforms",
    "grad": "cofactor.runtime.transforms",
    "value_and_grad": "cofactor.runtime.transforms",
    "vjp": "cofactor.runtime.transforms",
    "jacrev": "cofactor.runtime.transforms",
    "hessian": "cofactor.runtime.transforms",
    "hvp": "cofactor.runtime.transforms",
    "autodiff": "cofactor.runtime.transforms",
    "Active": "cofactor.runtime.transforms",
    "Const": "cofactor.runtime.transforms",
    "Duplicated": "cofactor.runtime.transforms",
    "BatchDuplicated": "cofactor.runtime.transforms",
    "checkpointed": "cofactor.runtime.transforms",
    "Checkpoint": "cofactor.runtime.transforms",
}
__all__ = ["CompileError", "load", *_LAZY]


def __getattr__(name: str) -> object:
    """Import the JIT (xDSL, llvmlite) on first use, so that `cofactor.load`
    runs where only NumPy is installed."""
    if name in _LAZY:
        import importlib

        globals()[name] = value = getattr(importlib.import_module(_LAZY[name]), name)
        return value
    raise AttributeError(f"module 'cofactor' has no attribute {name!r}")
