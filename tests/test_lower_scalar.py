"""End-to-end: scalar arith, math, scf and cf lowering, JIT-compiled and compared with Python.

Hand-written MLIR functions with scalar arguments go through lower-scf-while-to-cf,
convert-scf-to-cf, lower-arith-to-llvm, lower-math-to-llvm and lower-cf-to-llvm,
then a test-only func -> llvm rewrite (scalar signatures only, so it stays
independent of lower-func-to-llvm), xDSL's llvmlite conversion and MCJIT.
"""

import ctypes
import math
import struct
from fractions import Fraction

import llvmlite.binding as llvm
import numpy as np
import pytest
from xdsl.backend.llvm.convert import convert_module
from xdsl.dialects import func
from xdsl.dialects import llvm as llvm_dialect
from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType, ModuleOp
from xdsl.parser import Parser
from xdsl.rewriter import Rewriter
from xdsl.transforms.convert_scf_to_cf import ConvertScfToCf

from cofactor.compiler.context import make_context
from cofactor.passes.lower_arith_to_llvm import LowerArithToLLVM
from cofactor.passes.lower_cf_to_llvm import LowerCfToLLVM
from cofactor.passes.lower_math_to_llvm import LowerMathToLLVM
from cofactor.passes.lower_scf_while_to_cf import LowerScfWhileToCf

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
NAN, INF = math.nan, math.inf


def wrap(n: int) -> int:
    """n in two's complement i64."""
    return (n + 2**63) % 2**64 - 2**63


def ctype(t) -> type:
    if isinstance(t, Float64Type):
        return ctypes.c_double
    if isinstance(t, Float32Type):
        return ctypes.c_float
    assert isinstance(t, IntegerType) and t.width.data in (32, 64), t
    return ctypes.c_int64 if t.width.data == 64 else ctypes.c_int32


def func_to_llvm(module: ModuleOp) -> None:
    """func.func -> llvm.func and func.return -> llvm.return, enough for scalar code."""
    for op in list(module.ops):
        if not isinstance(op, func.FuncOp):
            continue
        outputs = op.function_type.outputs.data
        assert len(outputs) <= 1
        function_type = llvm_dialect.LLVMFunctionType(
            op.function_type.inputs.data, outputs[0] if outputs else None
        )
        new = llvm_dialect.FuncOp(
            op.sym_name.data,
            function_type,
            linkage=llvm_dialect.LinkageAttr("external"),
            body=op.detach_region(op.body),
        )
        Rewriter.replace_op(op, new)
        for inner in list(new.walk()):
            if isinstance(inner, func.ReturnOp):
                Rewriter.replace_op(inner, llvm_dialect.ReturnOp(*inner.arguments))


class Jit:
    """The functions of an MLIR module, lowered, compiled and callable through ctypes."""

    def __init__(self, source: str):
        ctx = make_context()
        module = Parser(ctx, source).parse_module()
        signatures = {
            op.sym_name.data: op.function_type
            for op in module.ops
            if isinstance(op, func.FuncOp) and op.body.blocks
        }
        for lowering in (
            LowerScfWhileToCf(),
            ConvertScfToCf(),
            LowerArithToLLVM(),
            LowerMathToLLVM(),
            LowerCfToLLVM(),
        ):
            lowering.apply(ctx, module)
        func_to_llvm(module)
        module.verify()
        self.module = module
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        compiled = llvm.parse_assembly(str(convert_module(module, fallback_target_triple=None)))
        compiled.verify()
        target_machine = llvm.Target.from_default_triple().create_target_machine()
        self.engine = llvm.create_mcjit_compiler(compiled, target_machine)
        self.engine.finalize_object()
        self.functions = {}
        for name, signature in signatures.items():
            (result,) = signature.outputs.data
            prototype = ctypes.CFUNCTYPE(ctype(result), *(ctype(t) for t in signature.inputs.data))
            self.functions[name] = prototype(self.engine.get_function_address(name))

    def __getattr__(self, name: str):
        return self.functions[name]


def same_float(got: float, expected: float, ulps: int = 0) -> bool:
    """Equal (NaN equals NaN, the sign of zero counts) or within `ulps` units."""
    if math.isnan(expected) or math.isnan(got):
        return math.isnan(expected) and math.isnan(got)
    if got == expected:
        return math.copysign(1, got) == math.copysign(1, expected)
    return abs(got - expected) <= ulps * math.ulp(expected)


def close_f32(got: float, expected: float) -> bool:
    """Within one f32 unit of the f32 nearest to `expected`."""
    want = np.float32(expected)
    return abs(got - float(want)) <= abs(float(np.spacing(want)))


def c_pow(x: float, y: float) -> float:
    """C's pow: +-inf and NaN where Python's math.pow raises."""
    try:
        return math.pow(x, y)
    except (ValueError, OverflowError):
        if x < 0 and y != int(y):
            return NAN
        odd = y == int(y) and int(y) % 2 == 1
        return math.copysign(INF, x) if odd else INF


def binary_i64(name: str, op: str) -> str:
    return f"""
    func.func @{name}(%a: i64, %b: i64) -> i64 {{
      %r = arith.{op} %a, %b : i64
      func.return %r : i64
    }}"""


# ---------------------------------------------------------------- integers

DIVIDENDS = [*range(-9, 10), 1000003, -1000003, INT_MIN, INT_MAX, INT_MIN + 1]
DIVISORS = [d for d in DIVIDENDS if d != 0]


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


@pytest.fixture(scope="module")
def division():
    ops = ["divsi", "remsi", "floordivsi", "ceildivsi"]
    return Jit("".join(binary_i64(op, op) for op in ops))


def test_floordivsi_is_python_floor_division(division):
    for a in DIVIDENDS:
        for b in DIVISORS:
            assert division.floordivsi(a, b) == wrap(a // b), (a, b)


def test_ceildivsi_rounds_up(division):
    for a in DIVIDENDS:
        for b in DIVISORS:
            assert division.ceildivsi(a, b) == wrap(-(-a // b)), (a, b)


def test_divsi_truncates_and_wraps(division):
    for a in DIVIDENDS:
        for b in DIVISORS:
            assert division.divsi(a, b) == wrap(trunc_div(a, b)), (a, b)
    assert division.divsi(INT_MIN, -1) == INT_MIN


def test_remsi_is_c_remainder(division):
    for a in DIVIDENDS:
        for b in DIVISORS:
            assert division.remsi(a, b) == a - b * trunc_div(a, b), (a, b)
    assert division.remsi(-7, 2) == -1
    assert division.remsi(INT_MIN, -1) == 0


INT_OPS = {
    "addi": lambda a, b: wrap(a + b),
    "subi": lambda a, b: wrap(a - b),
    "muli": lambda a, b: wrap(a * b),
    "andi": lambda a, b: a & b,
    "ori": lambda a, b: a | b,
    "xori": lambda a, b: a ^ b,
    "minsi": min,
    "maxsi": max,
}
SHIFTS = {
    "shli": lambda a, b: wrap(a << b),
    "shrsi": lambda a, b: a >> b,
    "shrui": lambda a, b: (a % 2**64) >> b,
}
OPERANDS = [0, 1, -1, 7, -7, 12345678901, -98765432123, INT_MIN, INT_MAX]


def test_integer_ops():
    jit = Jit("".join(binary_i64(name, name) for name in [*INT_OPS, *SHIFTS]))
    for name, expected in INT_OPS.items():
        for a in OPERANDS:
            for b in OPERANDS:
                assert jit.functions[name](a, b) == expected(a, b), (name, a, b)
    for name, expected in SHIFTS.items():
        for a in OPERANDS:
            for b in (0, 1, 5, 62, 63):
                assert jit.functions[name](a, b) == wrap(expected(a, b)), (name, a, b)


CMPI = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "slt": lambda a, b: a < b,
    "sle": lambda a, b: a <= b,
    "sgt": lambda a, b: a > b,
    "sge": lambda a, b: a >= b,
    "ult": lambda a, b: a % 2**64 < b % 2**64,
    "ule": lambda a, b: a % 2**64 <= b % 2**64,
    "ugt": lambda a, b: a % 2**64 > b % 2**64,
    "uge": lambda a, b: a % 2**64 >= b % 2**64,
}


def test_cmpi_and_select():
    source = "".join(
        f"""
        func.func @{p}(%a: i64, %b: i64) -> i64 {{
          %c = arith.cmpi {p}, %a, %b : i64
          %one = arith.constant 1 : i64
          %zero = arith.constant 0 : i64
          %r = arith.select %c, %one, %zero : i64
          func.return %r : i64
        }}"""
        for p in CMPI
    )
    jit = Jit(source)
    for p, expected in CMPI.items():
        for a in OPERANDS:
            for b in OPERANDS:
                assert jit.functions[p](a, b) == int(expected(a, b)), (p, a, b)


def test_index_values_become_i64_without_casts_left():
    jit = Jit(
        """
        func.func @f(%a: i64, %n: i32) -> i64 {
          %c5 = arith.constant 5 : index
          %i = arith.index_cast %a : i64 to index
          %j = arith.muli %i, %c5 : index
          %m = arith.index_cast %n : i32 to index
          %k = arith.subi %j, %m : index
          %r = arith.index_cast %k : index to i64
          func.return %r : i64
        }"""
    )
    assert "unrealized_conversion_cast" not in str(jit.module)
    for a in OPERANDS:
        assert jit.f(a, -3) == wrap(5 * a + 3)


# ------------------------------------------------------------------ floats

FLOATS = [0.0, -0.0, 1.5, -2.25, 3.0, 1e300, -1e-300, INF, -INF, NAN]

CMPF = {
    "oeq": lambda x, y: x == y,
    "ogt": lambda x, y: x > y,
    "oge": lambda x, y: x >= y,
    "olt": lambda x, y: x < y,
    "ole": lambda x, y: x <= y,
    "one": lambda x, y: x < y or x > y,
    "ord": lambda x, y: True,
}


def cmpf_expected(predicate: str, x: float, y: float) -> bool:
    if predicate in ("false", "true"):
        return predicate == "true"
    unordered = math.isnan(x) or math.isnan(y)
    if predicate == "uno":
        return unordered
    if predicate[0] == "o":
        return not unordered and CMPF[predicate](x, y)
    return unordered or CMPF["o" + predicate[1:]](x, y)


def test_cmpf_all_predicates_with_nan():
    predicates = ["false", *CMPF, "ueq", "ugt", "uge", "ult", "ule", "une", "uno", "true"]
    source = "".join(
        f"""
        func.func @cmp_{p}(%x: f64, %y: f64) -> i64 {{
          %c = arith.cmpf {p}, %x, %y : f64
          %r = arith.extui %c : i1 to i64
          func.return %r : i64
        }}"""
        for p in predicates
    )
    jit = Jit(source)
    for p in predicates:
        function = jit.functions[f"cmp_{p}"]
        for x in FLOATS:
            for y in FLOATS:
                assert function(x, y) == int(cmpf_expected(p, x, y)), (p, x, y)


def minimum(x: float, y: float) -> float:
    """IEEE minimum: NaN propagates, -0.0 < +0.0."""
    if math.isnan(x) or math.isnan(y):
        return NAN
    if x == y == 0:
        return x if math.copysign(1, x) < 0 else y
    return min(x, y)


def maximum(x: float, y: float) -> float:
    if math.isnan(x) or math.isnan(y):
        return NAN
    if x == y == 0:
        return x if math.copysign(1, x) > 0 else y
    return max(x, y)


def number_or_other(f):
    """minnum/maxnum: a NaN operand yields the other operand."""
    return lambda x, y: y if math.isnan(x) else x if math.isnan(y) else f(x, y)


FLOAT_OPS = {
    "addf": lambda x, y: x + y,
    "subf": lambda x, y: x - y,
    "mulf": lambda x, y: x * y,
    "divf": lambda x, y: x / y,
    "minimumf": minimum,
    "maximumf": maximum,
    "minnumf": number_or_other(min),
    "maxnumf": number_or_other(max),
}
# minnum/maxnum may return either zero for (+0.0, -0.0).
EITHER_ZERO = {"minnumf", "maxnumf"}


def test_float_ops():
    source = "".join(
        f"""
        func.func @{name}(%x: f64, %y: f64) -> f64 {{
          %r = arith.{name} %x, %y : f64
          func.return %r : f64
        }}"""
        for name in FLOAT_OPS
    )
    source += """
        func.func @negf(%x: f64) -> f64 {
          %r = arith.negf %x : f64
          func.return %r : f64
        }"""
    jit = Jit(source)
    for name, expected in FLOAT_OPS.items():
        for x in FLOATS:
            for y in FLOATS:
                if name == "divf" and y == 0:
                    continue  # Python raises
                want = expected(x, y)
                got = jit.functions[name](x, y)
                if name in EITHER_ZERO and want == 0:
                    assert got == 0, (name, x, y)
                else:
                    assert same_float(got, want), (name, x, y, got)
    for x in FLOATS:
        assert same_float(jit.negf(x), -x)


def test_casts():
    jit = Jit(
        """
        func.func @sitofp(%a: i64) -> f64 {
          %r = arith.sitofp %a : i64 to f64
          func.return %r : f64
        }
        func.func @fptosi(%x: f64) -> i64 {
          %r = arith.fptosi %x : f64 to i64
          func.return %r : i64
        }
        func.func @fptosi_f32_i32(%x: f32) -> i32 {
          %r = arith.fptosi %x : f32 to i32
          func.return %r : i32
        }
        func.func @round_trip_f32(%x: f64) -> f64 {
          %s = arith.truncf %x : f64 to f32
          %r = arith.extf %s : f32 to f64
          func.return %r : f64
        }
        func.func @bits(%x: f64) -> i64 {
          %r = arith.bitcast %x : f64 to i64
          func.return %r : i64
        }
        func.func @widen(%n: i32) -> i64 {
          %s = arith.extsi %n : i32 to i64
          %u = arith.extui %n : i32 to i64
          %t = arith.trunci %u : i64 to i32
          %e = arith.extsi %t : i32 to i64
          %d = arith.subi %u, %s : i64
          %r = arith.addi %d, %e : i64
          func.return %r : i64
        }"""
    )
    for a in OPERANDS:
        assert jit.sitofp(a) == float(a)
    for x in [0.0, -0.0, 0.9, -0.9, 2.5, -2.5, 1e15 + 0.5, -123456789.75]:
        assert jit.fptosi(x) == int(x), x
    # Out of range saturates, NaN gives 0 (fptosi.sat), never poison.
    assert [jit.fptosi(x) for x in (1e300, -1e300, INF, -INF, NAN)] == [
        INT_MAX,
        INT_MIN,
        INT_MAX,
        INT_MIN,
        0,
    ]
    assert jit.fptosi_f32_i32(-7.75) == -7
    assert jit.fptosi_f32_i32(1e20) == 2**31 - 1
    with np.errstate(over="ignore"):
        for x in [0.1, -1 / 3, 1e-50, 1e300, 3.0, NAN]:
            assert same_float(jit.round_trip_f32(x), float(np.float32(x))), x
    for x in [1.5, -0.0, INF, 1e-310]:
        assert jit.bits(x) == struct.unpack("<q", struct.pack("<d", x))[0]
    for n in [0, 1, -1, 2**31 - 1, -(2**31)]:
        # zext(n) - sext(n) + sext(trunc(zext(n))) is zext(n)
        assert jit.widen(n) == n % 2**32, n


# -------------------------------------------------------------------- math


def rounding(f):
    """f as a float function: rounding keeps the sign of x, also on a zero result."""
    return lambda x: math.copysign(float(f(x)), x)


UNARY_MATH = {
    "sqrt": (math.sqrt, [0.0, 2.0, 1e-300, 1e300, -1.0, INF]),
    "sin": (math.sin, [0.0, 1.0, -2.5, 1e6, 100.0]),
    "cos": (math.cos, [0.0, 1.0, -2.5, 1e6, 100.0]),
    "tan": (math.tan, [0.0, 1.0, -2.5, 1e6, 1.5707963]),
    "exp": (math.exp, [0.0, 1.0, -2.5, 700.0, -745.0]),
    "exp2": (lambda x: 2.0**x, [0.0, 1.0, -2.5, 0.5, 1000.0, -1070.5]),
    "log": (math.log, [1.0, 2.0, 1e-300, 1e300, 0.5]),
    "log2": (math.log2, [1.0, 2.0, 1e-300, 1e300, 0.5, 1024.0]),
    "log10": (math.log10, [1.0, 2.0, 1e-300, 1e300, 0.5, 1000.0]),
    "absf": (abs, [0.0, -0.0, -1.5, 2.0, -INF]),
    "floor": (rounding(math.floor), [-0.0, 0.5, -0.5, 1.5, -2.5, 1e300, -7.0]),
    "ceil": (rounding(math.ceil), [0.1, -0.5, 1.5, -2.5, 1e300, -7.0]),
    "trunc": (rounding(math.trunc), [0.5, -0.5, 1.5, -2.5, 1e300, -7.9]),
    "round": (rounding(lambda x: math.floor(abs(x) + 0.5)), [0.5, -0.5, -0.4, 1.5, -2.5, 7.4]),
    "roundeven": (rounding(round), [0.5, -0.5, 1.5, -2.5, 3.5, 7.6]),
    "tanh": (math.tanh, [0.0, 0.5, -3.0, 30.0]),
    "sinh": (math.sinh, [0.0, 0.5, -3.0, 30.0]),
    "cosh": (math.cosh, [0.0, 0.5, -3.0, 30.0]),
    "asin": (math.asin, [0.0, 0.5, -1.0, 0.999]),
    "acos": (math.acos, [0.0, 0.5, -1.0, 0.999]),
    "atan": (math.atan, [0.0, 0.5, -3.0, 1e300]),
    "asinh": (math.asinh, [0.0, 0.5, -3.0, 1e300]),
    "acosh": (math.acosh, [1.0, 1.5, 3.0, 1e300]),
    "atanh": (math.atanh, [0.0, 0.5, -0.9, 0.999999]),
    "expm1": (math.expm1, [0.0, 1e-10, -3.0, 5.0]),
    "log1p": (math.log1p, [0.0, 1e-10, -0.5, 5.0]),
    "erf": (math.erf, [0.0, 0.5, -1.5, 3.0]),
    "cbrt": (math.cbrt, [0.0, 8.0, -27.0, 2.0, 1e-300]),
    "rsqrt": (lambda x: 1 / math.sqrt(x), [1.0, 4.0, 2.0, 1e-300]),
}


def python_or_nan(f, *args) -> float:
    try:
        return f(*args)
    except ValueError:
        return NAN


@pytest.fixture(scope="module")
def math_jit():
    """Each math op in a function @m_<op>: a function named like a libm one
    (@sin) would take the place of libm's in the JIT and call itself."""
    source = "".join(
        f"""
        func.func @m_{name}(%x: f64) -> f64 {{
          %r = math.{name} %x : f64
          func.return %r : f64
        }}"""
        for name in UNARY_MATH
    )
    return Jit(
        source
        + """
        func.func @m_atan2(%y: f64, %x: f64) -> f64 {
          %r = math.atan2 %y, %x : f64
          func.return %r : f64
        }
        func.func @m_copysign(%x: f64, %y: f64) -> f64 {
          %r = math.copysign %x, %y : f64
          func.return %r : f64
        }
        func.func @m_powf(%x: f64, %y: f64) -> f64 {
          %r = math.powf %x, %y : f64
          func.return %r : f64
        }
        func.func @m_fma(%a: f64, %b: f64, %c: f64) -> f64 {
          %r = math.fma %a, %b, %c : f64
          func.return %r : f64
        }
        func.func @m_fpowi(%x: f64, %n: i64) -> f64 {
          %r = math.fpowi %x, %n : f64, i64
          func.return %r : f64
        }
        func.func @m_tanf(%x: f32) -> f32 {
          %r = math.tan %x : f32
          func.return %r : f32
        }
        func.func @m_sqrtf(%x: f32) -> f32 {
          %r = math.sqrt %x : f32
          func.return %r : f32
        }
        func.func @m_atan2f(%y: f32, %x: f32) -> f32 {
          %r = math.atan2 %y, %x : f32
          func.return %r : f32
        }"""
    )


@pytest.mark.parametrize("name", UNARY_MATH)
def test_unary_math_matches_python(math_jit, name):
    reference, inputs = UNARY_MATH[name]
    for x in inputs:
        want = python_or_nan(reference, x)
        assert same_float(math_jit.functions[f"m_{name}"](x), want, ulps=1), (name, x)


def test_binary_and_ternary_math(math_jit):
    pairs = [(1.0, 2.0), (-1.0, -0.0), (0.0, -1.0), (3.5, -2.25), (-0.0, 0.0), (2.0, 0.5)]
    for y, x in pairs:
        assert math_jit.m_atan2(y, x) == math.atan2(y, x), (y, x)
        assert same_float(math_jit.m_copysign(y, x), math.copysign(y, x))
        assert same_float(math_jit.m_powf(y, x), c_pow(y, x)), (y, x)
    for a, b, c in [(0.1, 10.0, -1.0), (1 + 2**-52, 1 - 2**-52, -1.0), (3.0, 4.0, 5.0)]:
        exact = float(Fraction(a) * Fraction(b) + Fraction(c))
        assert math_jit.m_fma(a, b, c) == exact, (a, b, c)
    assert math_jit.m_fma(1 + 2**-52, 1 - 2**-52, -1.0) != (1 + 2**-52) * (1 - 2**-52) - 1.0


def test_fpowi_is_python_float_power(math_jit):
    """CPython computes float ** int as C pow(x, (double)n): exactly equal."""
    for x in [2.0, -2.0, 0.5, -1.5, 1.0000001, 0.0, -0.0, 10.0]:
        for n in [0, 1, 2, 3, -1, -2, -3, 17, 100, -100, 1075, -1075]:
            assert same_float(math_jit.m_fpowi(x, n), c_pow(x, n)), (x, n)
    assert math_jit.m_fpowi(1.0000001, 1000) == 1.0000001**1000


def test_f32_math_next_to_f64(math_jit):
    for x in [0.0, 0.5, -2.0, 1.25, 100.0]:
        x32 = float(np.float32(x))
        assert close_f32(math_jit.m_tanf(x32), math.tan(x32)), x
        assert math_jit.m_sqrtf(abs(x32)) == float(np.sqrt(np.float32(abs(x32))))
        assert close_f32(math_jit.m_atan2f(x32, 1.5), math.atan2(x32, 1.5)), x
    assert math_jit.m_tan(0.5) == math.tan(0.5)


def test_integer_math():
    jit = Jit(
        """
        func.func @ipowi(%b: i64, %e: i64) -> i64 {
          %r = math.ipowi %b, %e : i64
          func.return %r : i64
        }
        func.func @ipowi32(%b: i32, %e: i32) -> i32 {
          %r = math.ipowi %b, %e : i32
          func.return %r : i32
        }
        func.func @absi(%a: i64) -> i64 {
          %r = math.absi %a : i64
          func.return %r : i64
        }
        func.func @ctlz(%a: i64) -> i64 {
          %r = math.ctlz %a : i64
          func.return %r : i64
        }
        func.func @cttz(%a: i64) -> i64 {
          %r = math.cttz %a : i64
          func.return %r : i64
        }
        func.func @ctpop(%a: i64) -> i64 {
          %r = math.ctpop %a : i64
          func.return %r : i64
        }"""
    )
    for b in [0, 1, -1, 2, -3, 7, 10, -10, 123457, INT_MIN]:
        for e in [0, 1, 2, 3, 10, 19, 63, 64, 100]:
            assert jit.ipowi(b, e) == wrap(b**e), (b, e)
        for e in [-1, -2, -3, INT_MIN]:
            assert jit.ipowi(b, e) == (1 if b == 1 else (-1) ** (e % 2) if b == -1 else 0)
    assert jit.ipowi32(3, 20) == (3**20 + 2**31) % 2**32 - 2**31
    for a in OPERANDS:
        unsigned = a % 2**64
        assert jit.absi(a) == wrap(abs(a))
        assert jit.ctlz(a) == 64 - unsigned.bit_length()
        assert jit.cttz(a) == (64 if a == 0 else (unsigned & -unsigned).bit_length() - 1)
        assert jit.ctpop(a) == bin(unsigned).count("1")


# ------------------------------------------------------------ control flow


def collatz_steps(n: int) -> int:
    steps = 0
    while n > 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        steps += 1
    return steps


COLLATZ = """
    func.func @collatz(%n: i64) -> i64 {
      %zero = arith.constant 0 : i64
      %r:2 = scf.while (%x = %n, %steps = %zero) : (i64, i64) -> (i64, i64) {
        %one = arith.constant 1 : i64
        %more = arith.cmpi sgt, %x, %one : i64
        scf.condition(%more) %x, %steps : i64, i64
      } do {
      ^bb0(%y: i64, %s: i64):
        %one = arith.constant 1 : i64
        %two = arith.constant 2 : i64
        %three = arith.constant 3 : i64
        %rem = arith.remsi %y, %two : i64
        %is_even = arith.cmpi eq, %rem, %zero : i64
        %next = scf.if %is_even -> (i64) {
          %half = arith.floordivsi %y, %two : i64
          scf.yield %half : i64
        } else {
          %triple = arith.muli %y, %three : i64
          %up = arith.addi %triple, %one : i64
          scf.yield %up : i64
        }
        %s1 = arith.addi %s, %one : i64
        scf.yield %next, %s1 : i64, i64
      }
      func.return %r#1 : i64
    }"""


def test_collatz_while_loop():
    jit = Jit(COLLATZ)
    for n in range(-3, 300):
        assert jit.collatz(n) == collatz_steps(n), n


def test_nested_loops_with_i64_bounds():
    """scf.for (i64 bounds, iter_args) around scf.if around scf.while, and a while in a while."""
    jit = Jit(
        """
    func.func @mixed(%n: i64, %step: i64) -> i64 {
      %c0 = arith.constant 0 : i64
      %c1 = arith.constant 1 : i64
      %c2 = arith.constant 2 : i64
      %total = scf.for %i = %c0 to %n step %step iter_args(%acc = %c0) -> (i64) : i64 {
        %odd = arith.remsi %i, %c2 : i64
        %is_odd = arith.cmpi ne, %odd, %c0 : i64
        %v = scf.if %is_odd -> (i64) {
          %w:2 = scf.while (%x = %i, %k = %c0) : (i64, i64) -> (i64, i64) {
            %more = arith.cmpi sgt, %x, %c0 : i64
            scf.condition(%more) %x, %k : i64, i64
          } do {
          ^bb0(%y: i64, %kk: i64):
            %y1 = arith.floordivsi %y, %c2 : i64
            %k1 = arith.addi %kk, %c1 : i64
            scf.yield %y1, %k1 : i64, i64
          }
          scf.yield %w#1 : i64
        } else {
          %neg = arith.subi %c0, %i : i64
          scf.yield %neg : i64
        }
        %a = arith.addi %acc, %v : i64
        scf.yield %a : i64
      }
      func.return %total : i64
    }
    func.func @pairs(%n: i64) -> i64 {
      %c0 = arith.constant 0 : i64
      %c1 = arith.constant 1 : i64
      %r:2 = scf.while (%i = %c0, %count = %c0) : (i64, i64) -> (i64, i64) {
        %more = arith.cmpi slt, %i, %n : i64
        scf.condition(%more) %i, %count : i64, i64
      } do {
      ^bb0(%a: i64, %c: i64):
        %inner:2 = scf.while (%j = %c0, %d = %c) : (i64, i64) -> (i64, i64) {
          %go = arith.cmpi slt, %j, %a : i64
          scf.condition(%go) %j, %d : i64, i64
        } do {
        ^bb1(%jj: i64, %dd: i64):
          %j1 = arith.addi %jj, %c1 : i64
          %d1 = arith.addi %dd, %c1 : i64
          scf.yield %j1, %d1 : i64, i64
        }
        %a1 = arith.addi %a, %c1 : i64
        scf.yield %a1, %inner#1 : i64, i64
      }
      func.return %r#1 : i64
    }"""
    )

    def mixed(n: int, step: int) -> int:
        return sum(i.bit_length() if i % 2 else -i for i in range(0, n, step))

    for n in [0, 1, 2, 7, 50, 101]:
        for step in [1, 2, 3]:
            assert jit.mixed(n, step) == mixed(n, step), (n, step)
    assert jit.mixed(-5, 1) == 0
    for n in [0, 1, 5, 20]:
        assert jit.pairs(n) == n * (n - 1) // 2


def test_while_condition_forwards_computed_values():
    """The after region and the results get scf.condition's operands, not the
    before region's arguments."""
    jit = Jit(
        """
    func.func @past_root(%n: i64) -> i64 {
      %c0 = arith.constant 0 : i64
      %c1 = arith.constant 1 : i64
      %r = scf.while (%k = %c0) : (i64) -> i64 {
        %square = arith.muli %k, %k : i64
        %small = arith.cmpi slt, %square, %n : i64
        %next = arith.addi %k, %c1 : i64
        scf.condition(%small) %next : i64
      } do {
      ^bb0(%j: i64):
        scf.yield %j : i64
      }
      func.return %r : i64
    }"""
    )

    def past_root(n: int) -> int:
        k = 0
        while k * k < n:
            k += 1
        return k + 1

    for n in range(-2, 120):
        assert jit.past_root(n) == past_root(n), n
