"""The xDSL context that knows every dialect cofactor emits or parses."""

from xdsl.context import Context
from xdsl.dialects.arith import Arith
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.cf import Cf
from xdsl.dialects.func import Func
from xdsl.dialects.llvm import LLVM
from xdsl.dialects.math import Math
from xdsl.dialects.memref import MemRef
from xdsl.dialects.scf import Scf
from xdsl.dialects.ub import UB

from cofactor.dialects import all_dialects


def make_context() -> Context:
    ctx = Context()
    for dialect in (Builtin, Arith, Math, Func, Scf, Cf, MemRef, LLVM, UB, *all_dialects()):
        ctx.load_dialect(dialect)
    return ctx
