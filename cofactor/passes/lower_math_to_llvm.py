"""Lower `math` ops to LLVM intrinsics, libm calls and a helper for `ipowi`.

Intrinsics are `llvm.call_intrinsic` with type-mangled names (see
lower_arith_to_llvm), so fast-math flags are dropped on them; libm calls keep
them. Functions without an intrinsic call libm (`tan`, `tanf` for f32), declared
once per module as external `llvm.func`s; a symbol of that name already in the
module (such as a frontend `func.func private @tan`) is used as it is.

`math.fpowi` becomes `llvm.pow(x, sitofp(n))`, which is what CPython computes
for `float ** int` (`llvm.powi` multiplies repeatedly and rounds differently).
`math.ipowi` calls `cofactor_ipowi_<type>`, an internal `llvm.func` added to the
module once per integer type, which squares and multiplies in a loop. A call
keeps the multi-block loop out of the caller's single-block `scf` regions, so
the pass works before or after `scf` lowering.
"""

from xdsl.context import Context
from xdsl.dialects import llvm, math
from xdsl.dialects.builtin import AnyFloat, ModuleOp, i1
from xdsl.ir import Attribute, Block, Operation, Region
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.traits import SymbolTable

from cofactor.passes.lower_arith_to_llvm import (
    Args,
    Lowered,
    constant,
    erase_unused_casts,
    fastmath,
    icmp_predicate,
    intrinsic,
    llvm_type,
    replace_lowered,
    single,
    type_suffix,
)

_INTRINSICS: dict[type[Operation], str] = {
    math.SqrtOp: "sqrt",
    math.SinOp: "sin",
    math.CosOp: "cos",
    math.ExpOp: "exp",
    math.Exp2Op: "exp2",
    math.LogOp: "log",
    math.Log2Op: "log2",
    math.Log10Op: "log10",
    math.AbsFOp: "fabs",
    math.FloorOp: "floor",
    math.CeilOp: "ceil",
    math.TruncOp: "trunc",
    math.RoundOp: "round",
    math.RoundEvenOp: "roundeven",
    math.CopySignOp: "copysign",
    math.PowFOp: "pow",
    math.FmaOp: "fma",
    math.CtPopOp: "ctpop",
}
# Integer intrinsics with a trailing `i1 false`: INT_MIN and zero give defined results.
_INTRINSICS_WITH_FLAG: dict[type[Operation], str] = {
    math.AbsIOp: "abs",
    math.CountLeadingZerosOp: "ctlz",
    math.CountTrailingZerosOp: "cttz",
}
_LIBM: dict[type[Operation], str] = {
    math.TanOp: "tan",
    math.TanhOp: "tanh",
    math.SinhOp: "sinh",
    math.CoshOp: "cosh",
    math.AsinOp: "asin",
    math.AcosOp: "acos",
    math.AtanOp: "atan",
    math.Atan2Op: "atan2",
    math.AsinhOp: "asinh",
    math.AcoshOp: "acosh",
    math.AtanhOp: "atanh",
    math.ExpM1Op: "expm1",
    math.Log1pOp: "log1p",
    math.ErfOp: "erf",
    math.CbrtOp: "cbrt",
}
_LIBM_SUFFIX = {32: "f", 64: ""}


def ipowi_function(name: str, t: Attribute) -> llvm.FuncOp:
    """`name(b, e) = b ** e` in wrapping arithmetic.

    A negative exponent gives the truncated value of 1 / b**-e: 1 for b = 1,
    +-1 for b = -1 by the parity of e, else 0 (also for b = 0, instead of a trap).
    """
    entry, loop, body, negative, done = (
        Block(arg_types=[t, t]),
        Block(arg_types=[t, t, t]),
        Block(),
        Block(),
        Block(arg_types=[t]),
    )
    base, exponent = entry.args
    zero, one, minus_one = constant(0, t), constant(1, t), constant(-1, t)
    is_negative = llvm.ICmpOp(exponent, zero.results[0], icmp_predicate("slt"))
    entry.add_ops(
        [
            zero,
            one,
            minus_one,
            is_negative,
            llvm.CondBrOp(is_negative, negative, [], loop, [one, base, exponent]),
        ]
    )

    acc, power, rest = loop.args
    finished = llvm.ICmpOp(rest, zero.results[0], icmp_predicate("eq"))
    loop.add_ops([finished, llvm.CondBrOp(finished, done, [acc], body, [])])

    low_bit = llvm.AndOp(rest, one.results[0])
    odd = llvm.ICmpOp(low_bit.results[0], zero.results[0], icmp_predicate("ne"))
    product = llvm.MulOp(acc, power)
    next_acc = llvm.SelectOp(odd, product, acc)
    square = llvm.MulOp(power, power)
    halved = llvm.LShrOp(rest, one.results[0])
    body.add_ops(
        [
            low_bit,
            odd,
            product,
            next_acc,
            square,
            halved,
            llvm.BrOp(loop, next_acc, square, halved),
        ]
    )

    e_bit = llvm.AndOp(exponent, one.results[0])
    e_odd = llvm.ICmpOp(e_bit.results[0], zero.results[0], icmp_predicate("ne"))
    sign = llvm.SelectOp(e_odd, minus_one, one)
    is_one = llvm.ICmpOp(base, one.results[0], icmp_predicate("eq"))
    one_or_zero = llvm.SelectOp(is_one, one, zero)
    is_minus_one = llvm.ICmpOp(base, minus_one.results[0], icmp_predicate("eq"))
    result = llvm.SelectOp(is_minus_one, sign, one_or_zero)
    negative.add_ops(
        [e_bit, e_odd, sign, is_one, one_or_zero, is_minus_one, result, llvm.BrOp(done, result)]
    )

    done.add_op(llvm.ReturnOp(done.args[0]))
    return llvm.FuncOp(
        name,
        llvm.LLVMFunctionType([t, t], t),
        linkage=llvm.LinkageAttr("internal"),
        body=Region([entry, loop, body, negative, done]),
    )


class LowerMathOp(RewritePattern):
    """Rewrites math ops and records the module-level functions they call."""

    def __init__(self):
        self.functions: dict[str, llvm.FuncOp] = {}

    def lower(self, op: Operation, args: Args) -> Lowered | None:
        kind = type(op)
        t = llvm_type(op.results[0].type)
        if kind in _INTRINSICS:
            return single(intrinsic(_INTRINSICS[kind], args, t))
        if kind in _INTRINSICS_WITH_FLAG:
            flag = constant(0, i1)
            call = intrinsic(_INTRINSICS_WITH_FLAG[kind], [args[0], flag.results[0]], t)
            return [flag, call], call.results[0]
        if kind in _LIBM and isinstance(t, AnyFloat) and t.bitwidth in _LIBM_SUFFIX:
            name = _LIBM[kind] + _LIBM_SUFFIX[t.bitwidth]
            declaration = llvm.FuncOp(
                name,
                llvm.LLVMFunctionType([t] * len(args), t),
                linkage=llvm.LinkageAttr("external"),
            )
            self.functions.setdefault(name, declaration)
            return single(llvm.CallOp(name, *args, return_type=t, fastmath=fastmath(op)))
        match op:
            case math.FPowIOp():
                exponent = llvm.SIToFPOp(args[1], t)
                power = intrinsic("pow", [args[0], exponent.results[0]], t)
                return [exponent, power], power.results[0]
            case math.RsqrtOp():
                one = constant(1.0, t)
                root = intrinsic("sqrt", args, t)
                quotient = llvm.FDivOp(one, root, fastmath(op))
                return [one, root, quotient], quotient.results[0]
            case math.IPowIOp():
                name = f"cofactor_ipowi_{type_suffix(t)}"
                self.functions.setdefault(name, ipowi_function(name, t))
                return single(llvm.CallOp(name, *args, return_type=t))
            case _:
                return None

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        if op.dialect_name() == "math":
            replace_lowered(op, rewriter, self.lower)


class LowerMathToLLVM(ModulePass):
    """Replace every scalar math op by intrinsics, libm calls or helper calls."""

    name = "lower-math-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        pattern = LowerMathOp()
        PatternRewriteWalker(pattern).rewrite_module(op)
        for name, function in pattern.functions.items():
            if SymbolTable.lookup_symbol(op, name) is None:
                op.body.block.add_op(function)
        erase_unused_casts(op)
