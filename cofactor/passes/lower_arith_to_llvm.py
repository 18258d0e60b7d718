"""Lower `arith` ops to the `llvm` dialect (`index` becomes i64).

Index-typed values cross between lowered and not-yet-lowered ops through
`builtin.unrealized_conversion_cast` (index <-> i64), so the IR verifies after
the pass whatever the order of the lowering passes; a lowered user takes the
i64 source of such a cast directly, and casts left unused are erased.

xDSL's `llvm.intr.*` ops convert to unmangled intrinsic names (`llvm.minnum`), so
one module cannot use them at two float types; intrinsics are therefore emitted as
`llvm.call_intrinsic` with the type-mangled name. Its conversion rejects fast-math
flags, so those are dropped on intrinsic calls (they only permit optimizations).
xDSL's llvm dialect has no `fptosi`: it becomes the saturating `llvm.fptosi.sat`
intrinsic, equal to `fptosi` where that is defined and clamped (NaN gives 0) where
`fptosi` would give poison.
"""

from collections.abc import Callable, Sequence

from xdsl.context import Context
from xdsl.dialects import arith, llvm
from xdsl.dialects.builtin import (
    AnyFloat,
    FloatAttr,
    IndexType,
    IntegerAttr,
    IntegerType,
    ModuleOp,
    UnrealizedConversionCastOp,
    i1,
    i64,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.rewriter import Rewriter

Lowered = tuple[list[Operation], SSAValue]
Args = Sequence[SSAValue]


def llvm_type(t: Attribute) -> Attribute:
    """The llvm-dialect type of a scalar type: `index` is i64."""
    return i64 if isinstance(t, IndexType) else t


def type_suffix(t: Attribute) -> str:
    """The intrinsic name suffix of a scalar type (`i64`, `f32`)."""
    t = llvm_type(t)
    if isinstance(t, IntegerType):
        return f"i{t.width.data}"
    assert isinstance(t, AnyFloat), t
    return f"f{t.bitwidth}"


def intrinsic(name: str, args: Args, result_type: Attribute) -> Operation:
    """`llvm.call_intrinsic` of `llvm.NAME.<suffix of result_type>`."""
    return llvm.CallIntrinsicOp(f"llvm.{name}.{type_suffix(result_type)}", args, [result_type])


def constant(value: int | float, t: Attribute) -> Operation:
    t = llvm_type(t)
    attr = IntegerAttr(value, t) if isinstance(t, IntegerType) else FloatAttr(value, t)
    return llvm.ConstantOp(attr, t)


def icmp_predicate(predicate: str) -> IntegerAttr:
    return IntegerAttr(llvm.ICmpPredicateFlag(predicate).to_int(), i64)


def fastmath(op: Operation) -> llvm.FastMathAttr:
    """The op's arith fast-math flags as llvm ones (none when it has none)."""
    flags = op.properties.get("fastmath")
    return llvm.FastMathAttr(flags.data if isinstance(flags, arith.FastMathFlagsAttr) else None)


def overflow(op: Operation) -> llvm.OverflowAttr:
    flags = op.properties.get("overflowFlags")
    if not isinstance(flags, arith.IntegerOverflowAttr):
        return llvm.OverflowAttr(None)
    return llvm.OverflowAttr(llvm.OverflowFlag(flag.value) for flag in flags.data)


def single(new: Operation) -> Lowered:
    return [new], new.results[0]


def replace_lowered(
    op: Operation, rewriter: PatternRewriter, lower: Callable[[Operation, Args], Lowered | None]
) -> None:
    """Replace `op` by `lower(op, args)`, where args are its operands in llvm types.

    An index operand is taken as the i64 source of its unrealized cast, or cast;
    an index result is cast back for the users not lowered yet.
    """
    casts: list[Operation] = []
    args: list[SSAValue] = []
    for operand in op.operands:
        owner = operand.owner
        if not isinstance(operand.type, IndexType):
            args.append(operand)
        elif isinstance(owner, UnrealizedConversionCastOp) and owner.inputs[0].type == i64:
            args.append(owner.inputs[0])
        else:
            casts.append(UnrealizedConversionCastOp.get([operand], [i64]))
            args.append(casts[-1].results[0])
    lowered = lower(op, args)
    if lowered is None:
        return
    new_ops, result = lowered
    if result.type != op.results[0].type:
        casts_back = UnrealizedConversionCastOp.get([result], [op.results[0].type])
        new_ops, result = [*new_ops, casts_back], casts_back.results[0]
    rewriter.replace(op, [*casts, *new_ops], [result])


def erase_unused_casts(module: ModuleOp) -> None:
    for op in reversed(list(module.walk())):
        if isinstance(op, UnrealizedConversionCastOp) and op.results[0].first_use is None:
            Rewriter.erase_op(op)


_FLOAT_BINARY: dict[type[Operation], type[llvm.AbstractFloatArithOp]] = {
    arith.AddfOp: llvm.FAddOp,
    arith.SubfOp: llvm.FSubOp,
    arith.MulfOp: llvm.FMulOp,
    arith.DivfOp: llvm.FDivOp,
}
_INT_BINARY_OVERFLOW: dict[type[Operation], type[llvm.ArithmeticBinOpOverflow]] = {
    arith.AddiOp: llvm.AddOp,
    arith.SubiOp: llvm.SubOp,
    arith.MuliOp: llvm.MulOp,
    arith.ShLIOp: llvm.ShlOp,
}
_INT_BINARY: dict[type[Operation], Callable[[SSAValue, SSAValue], Operation]] = {
    arith.AndIOp: llvm.AndOp,
    arith.OrIOp: llvm.OrOp,
    arith.XOrIOp: llvm.XOrOp,
    arith.ShRSIOp: llvm.AShrOp,
    arith.ShRUIOp: llvm.LShrOp,
}
_INTRINSIC_BINARY: dict[type[Operation], str] = {
    arith.MinimumfOp: "minimum",
    arith.MaximumfOp: "maximum",
    arith.MinnumfOp: "minnum",
    arith.MaxnumfOp: "maxnum",
    arith.MinSIOp: "smin",
    arith.MaxSIOp: "smax",
}
_CASTS: dict[type[Operation], Callable[[SSAValue, Attribute], Operation]] = {
    arith.SIToFPOp: llvm.SIToFPOp,
    arith.ExtFOp: llvm.FPExtOp,
    arith.TruncFOp: llvm.FPTruncOp,
    arith.ExtUIOp: llvm.ZExtOp,
    arith.ExtSIOp: llvm.SExtOp,
    arith.TruncIOp: llvm.TruncOp,
}


def lower_constant(op: arith.ConstantOp) -> Lowered | None:
    value = op.value
    if isinstance(value, IntegerAttr):
        return single(constant(value.value.data, value.type))
    if isinstance(value, FloatAttr):
        return single(llvm.ConstantOp(value, value.type))
    return None


def lower_division(op: Operation, a: SSAValue, b: SSAValue) -> Lowered:
    """Signed division and remainder without the undefined cases of `sdiv`/`srem`.

    The divisor -1 is replaced by 1 and the quotient negated, so INT_MIN / -1
    wraps (to INT_MIN, as i64 arithmetic does everywhere else) instead of
    trapping. floordivsi rounds toward -inf like Python's `//`, ceildivsi toward
    +inf, divsi toward zero; remsi is C's truncated remainder. A zero divisor is
    still undefined: the frontend guards it.
    """
    t = a.type
    one, minus_one = constant(1, t), constant(-1, t)
    is_minus_one = llvm.ICmpOp(b, minus_one.results[0], icmp_predicate("eq"))
    divisor = llvm.SelectOp(is_minus_one, one, b)
    ops = [one, minus_one, is_minus_one, divisor]
    rem = llvm.SRemOp(a, divisor.results[0])
    if isinstance(op, arith.RemSIOp):
        return [*ops, rem], rem.results[0]
    zero = constant(0, t)
    quotient = llvm.SDivOp(a, divisor.results[0])
    negated = llvm.SubOp(zero.results[0], quotient.results[0])
    trunc = llvm.SelectOp(is_minus_one, negated, quotient)
    ops += [zero, quotient, negated, trunc]
    if isinstance(op, arith.DivSIOp):
        return ops, trunc.results[0]
    # The truncated quotient is off by one when the remainder is non-zero and the
    # exact quotient is negative (floor) or positive (ceil): the sign of the
    # remainder is the sign of a, so compare it with the sign of b.
    inexact = llvm.ICmpOp(rem.results[0], zero.results[0], icmp_predicate("ne"))
    signs = llvm.XOrOp(rem.results[0], b)
    floor = isinstance(op, arith.FloorDivSIOp)
    wrong_way = icmp_predicate("slt" if floor else "sge")
    direction = llvm.ICmpOp(signs.results[0], zero.results[0], wrong_way)
    adjust = llvm.AndOp(inexact.results[0], direction.results[0])
    step = llvm.ZExtOp(adjust.results[0], t)
    fixed = (llvm.SubOp if floor else llvm.AddOp)(trunc.results[0], step.results[0])
    ops += [rem, inexact, signs, direction, adjust, step, fixed]
    return ops, fixed.results[0]


def lower_cmpf(op: arith.CmpfOp, lhs: SSAValue, rhs: SSAValue) -> Lowered:
    """`false`/`true` become constants: xDSL's conversion cannot emit them."""
    predicate = arith.CMPF_COMPARISON_OPERATIONS[op.predicate.value.data]
    if predicate in ("false", "true"):
        return single(constant(int(predicate == "true"), i1))
    cmp = llvm.FCmpOp(lhs, rhs, predicate)
    cmp.properties["fastmathFlags"] = fastmath(op)
    return single(cmp)


def lower_int_cast(value: SSAValue, target: Attribute) -> Lowered:
    """index_cast between i64 (index) and another width: sext, trunc or nothing."""
    source = value.type
    assert isinstance(source, IntegerType) and isinstance(target, IntegerType)
    if source == target:
        return [], value
    cast = llvm.SExtOp if target.width.data > source.width.data else llvm.TruncOp
    return single(cast(value, target))


def lower(op: Operation, args: Args) -> Lowered | None:
    """The llvm ops replacing `op` and the value for its result; None: not lowered here."""
    kind = type(op)
    result_type = llvm_type(op.results[0].type)
    if kind in _FLOAT_BINARY:
        return single(_FLOAT_BINARY[kind](*args, fastmath(op)))
    if kind in _INT_BINARY_OVERFLOW:
        return single(_INT_BINARY_OVERFLOW[kind](*args, overflow=overflow(op)))
    if kind in _INT_BINARY:
        return single(_INT_BINARY[kind](*args))
    if kind in _INTRINSIC_BINARY:
        return single(intrinsic(_INTRINSIC_BINARY[kind], args, result_type))
    if kind in _CASTS:
        return single(_CASTS[kind](args[0], result_type))
    match op:
        case arith.ConstantOp():
            return lower_constant(op)
        case arith.DivSIOp() | arith.RemSIOp() | arith.FloorDivSIOp() | arith.CeilDivSIOp():
            return lower_division(op, *args)
        case arith.NegfOp():
            return single(llvm.FNegOp(args[0], fastmath(op)))
        case arith.CmpiOp():
            predicate = arith.CMPI_COMPARISON_OPERATIONS[op.predicate.value.data]
            return single(llvm.ICmpOp(*args, icmp_predicate(predicate)))
        case arith.CmpfOp():
            return lower_cmpf(op, *args)
        case arith.SelectOp():
            return single(llvm.SelectOp(*args))
        case arith.IndexCastOp():
            return lower_int_cast(args[0], result_type)
        case arith.BitcastOp() if args[0].type == result_type:
            return [], args[0]
        case arith.BitcastOp():
            return single(llvm.BitcastOp(args[0], result_type))
        case arith.FPToSIOp():
            name = f"llvm.fptosi.sat.{type_suffix(result_type)}.{type_suffix(args[0].type)}"
            return single(llvm.CallIntrinsicOp(name, args, [result_type]))
        case _:
            return None


class LowerArithOp(RewritePattern):
    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        if op.dialect_name() == "arith":
            replace_lowered(op, rewriter, lower)


class LowerArithToLLVM(ModulePass):
    """Replace every scalar arith op by llvm ops, in place."""

    name = "lower-arith-to-llvm"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(LowerArithOp()).rewrite_module(op)
        erase_unused_casts(op)
