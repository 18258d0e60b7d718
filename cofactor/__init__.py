"""cofactor: compile plain Python numeric functions, and their derivatives, to native code."""

from cofactor.compiler.diagnostics import CompileError
from cofactor.runtime.dispatcher import Dispatcher, jit

__version__ = "0.1.0"
__all__ = ["CompileError", "Dispatcher", "jit"]
