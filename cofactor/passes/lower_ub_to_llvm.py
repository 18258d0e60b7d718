"""lower-ub-to-llvm: `ub.poison` to `llvm.mlir.undef`.

The frontend gives a variable that is assigned on only some paths a poison
value on the others; LLVM is then free to pick any value there.
"""

from dataclasses import dataclass

from xdsl.builder import Builder
from xdsl.context import Context
from xdsl.dialects import llvm
from xdsl.dialects.builtin import ModuleOp
from xdsl.dialects.ub import PoisonOp
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.passes._llvm_types import convert_type, from_llvm


@dataclass(frozen=True)
class LowerUbToLLVM(ModulePass):
    name = "lower-ub-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        for poison in [o for o in op.walk() if isinstance(o, PoisonOp)]:
            builder = Builder(InsertPoint.before(poison))
            undef = builder.insert(llvm.UndefOp(convert_type(poison.result.type))).res
            value = from_llvm(builder, undef, poison.result.type)
            Rewriter.replace_op(poison, [], [value])
