"""The pipeline driver: Python function -> IR stages -> LLVM module.

Stages, in order, each printable: `input` (frontend output), `opt` (optimized
before AD), `ad` (derivative functions generated and optimized again; the same
as `opt` for a primal), `llvm-dialect` (xDSL's llvm dialect), `llvm` (LLVM IR text before
LLVM's optimizer), `llvm-opt` (after O3), `asm` (host assembly).
`COFACTOR_PRINT_IR_AFTER_ALL=1` prints the IR after every pass; `timing=True`
(or `COFACTOR_TIMING=1`) prints the time spent in each pass.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.transforms import get_all_passes

from cofactor.compiler.context import make_context
from cofactor.compiler.frontend import Options, Program
from cofactor.compiler.types import ValueType
from cofactor.passes import all_passes

STAGES = ("input", "opt", "ad", "llvm-dialect", "llvm", "llvm-opt", "asm")

OPTIMIZE = ("canonicalize", "cse")
AD = ("ad-forward", "canonicalize", "cse")
LOWER = (
    "lower-scf-while-to-cf",
    "convert-scf-to-cf",
    "lower-memref-to-llvm",
    "lower-rt-to-llvm",
    "lower-ub-to-llvm",
    "lower-arith-to-llvm",
    "lower-math-to-llvm",
    "lower-cf-to-llvm",
    "lower-func-to-llvm",
)


def make_pass(name: str) -> ModulePass:
    ours = all_passes()
    if name in ours:
        return ours[name]()
    return get_all_passes()[name]()()


@dataclass
class Instrumentation:
    """What to report while passes run."""

    print_after_all: bool = False
    timing: bool = False
    out: TextIO = field(default_factory=lambda: sys.stderr)
    times: list[tuple[str, float]] = field(default_factory=list)

    @staticmethod
    def from_env() -> Instrumentation:
        return Instrumentation(
            print_after_all=os.environ.get("COFACTOR_PRINT_IR_AFTER_ALL", "") not in ("", "0"),
            timing=os.environ.get("COFACTOR_TIMING", "") not in ("", "0"),
        )

    def run(self, names: tuple[str, ...], module: ModuleOp) -> None:
        ctx = make_context()
        for name in names:
            start = time.perf_counter()
            make_pass(name).apply(ctx, module)
            self.times.append((name, time.perf_counter() - start))
            if self.print_after_all:
                print(f"// -----// IR Dump After {name} //----- //", file=self.out)
                print(module, file=self.out)

    def report(self) -> None:
        if not self.timing or not self.times:
            return
        total = sum(t for _, t in self.times)
        print("===- cofactor pass timing -===", file=self.out)
        for name, t in self.times:
            print(f"  {t * 1e3:9.3f} ms  {100 * t / max(total, 1e-12):5.1f}%  {name}",
                  file=self.out)
        print(f"  {total * 1e3:9.3f} ms  100.0%  total", file=self.out)


@dataclass
class Lowered:
    """A specialization taken to the llvm dialect, with what the runtime needs."""

    module: ModuleOp
    symbol: str
    arg_types: tuple[ValueType, ...]
    result_type: ValueType
    assert_messages: list[str]
    source: str
    stages: dict[str, str]
    dependencies: dict[tuple[str, str], str]
    written: frozenset[int]


@dataclass(frozen=True)
class Derivative:
    """A derivative to build instead of the primal: Enzyme-style activities per
    argument and per (flattened) result, and the vector width."""

    mode: str  # "forward"
    activity: tuple[str, ...]
    ret_activity: tuple[str, ...] | None = None  # default: every result "dup"
    width: int = 1

    def key(self) -> str:
        return f"{self.mode}:{','.join(self.activity)}:{self.ret_activity}:{self.width}"


def is_differentiable(t: ValueType) -> bool:
    """Whether values of type `t` carry derivatives: floats and float arrays."""
    from cofactor.compiler.types import ArrayType, ScalarType

    scalar = t.dtype if isinstance(t, ArrayType) else t
    return isinstance(scalar, ScalarType) and scalar.is_float


def add_request(module: ModuleOp, symbol: str, arg_types: tuple[ValueType, ...],
                result_type: ValueType, request: Derivative
                ) -> tuple[str, tuple[ValueType, ...], ValueType]:
    """Add a function that asks for `request` of `symbol` (an `ad.fwddiff`), and
    return its symbol and its argument and result types."""
    from xdsl.dialects import func
    from xdsl.ir import Block, Region

    from cofactor.compiler.frontend import flat_ir_types
    from cofactor.compiler.types import TupleType, ir_type_to_value_type
    from cofactor.dialects.ad import Activity, FwdDiffOp

    outputs = [ir_type_to_value_type(t) for t in flat_ir_types(result_type)]
    acts = [Activity(a) for a in request.activity]
    rets = [Activity(a) for a in request.ret_activity
            or tuple("dup" if is_differentiable(t) else "const" for t in outputs)]
    w = request.width
    args = tuple(t for t, a in zip(arg_types, acts, strict=True)
                 for t in [t] * (1 + w * a.has_shadow))
    primals = [t for t, a in zip(outputs, rets, strict=True) if a.returns_primal]
    tangents = [t for t, a in zip(outputs, rets, strict=True) for t in [t] * (w * a.has_shadow)]
    name = f"{symbol}_fwd"
    block = Block(arg_types=[t.ir for t in args])
    results = [t.ir for t in primals + tangents]
    call = FwdDiffOp(symbol, block.args, acts, rets, results, w)
    block.add_ops([call, func.ReturnOp(*call.results)])
    module.body.block.add_op(func.FuncOp(name, ([t.ir for t in args], results), Region(block)))
    primal = result_type if len(primals) == len(outputs) else TupleType(tuple(primals))
    return name, args, TupleType((primal, TupleType(tuple(tangents))))


def lower(pyfunc: Callable, arg_types: tuple[ValueType, ...], options: Options,
          keep: tuple[str, ...] = (), instrument: Instrumentation | None = None,
          reserved: frozenset[str] = frozenset(), derivative: Derivative | None = None
          ) -> Lowered:
    """Run the frontend and the IR passes; `keep` names the stages to return as
    text; no function symbol is in `reserved`. With `derivative`, the result is
    the derivative function instead of the primal."""
    instrument = instrument or Instrumentation.from_env()
    program = Program(options, reserved=set(reserved))
    start = time.perf_counter()
    spec = program.specialize(pyfunc, arg_types)
    instrument.times.append(("frontend", time.perf_counter() - start))
    module = program.module
    stages: dict[str, str] = {}
    if "input" in keep or instrument.print_after_all:
        text = str(module)
        stages["input"] = text
        if instrument.print_after_all:
            print("// -----// IR Dump After frontend //----- //", file=instrument.out)
            print(text, file=instrument.out)
    instrument.run(OPTIMIZE, module)
    if "opt" in keep:
        stages["opt"] = str(module)
    assert spec.result is not None
    symbol, types, result = spec.symbol, arg_types, spec.result
    if derivative is not None:
        symbol, types, result = add_request(module, symbol, types, result, derivative)
        instrument.run(AD, module)
    if "ad" in keep:
        stages["ad"] = str(module)
    instrument.run(LOWER, module)
    if "llvm-dialect" in keep:
        stages["llvm-dialect"] = str(module)
    written = spec.written if derivative is None else frozenset(range(len(types)))
    return Lowered(module, symbol, types, result, program.assert_messages,
                   "\n".join(program.sources), stages, program.dependencies, written)


def to_llvm(lowered: Lowered, entry_name: str):
    """The llvmlite module of a lowered specialization, with its C entry point."""
    from cofactor.compiler import codegen

    llmod = codegen.to_llvmlite(lowered.module)
    codegen.add_entry_wrapper(llmod, entry_name, lowered.symbol, lowered.arg_types,
                              lowered.result_type)
    return llmod


def stage_text(pyfunc: Callable, arg_types: tuple[ValueType, ...], options: Options,
               stage: str, instrument: Instrumentation | None = None,
               derivative: Derivative | None = None) -> str:
    """The text of one pipeline stage for one specialization (or its derivative)."""
    from cofactor.compiler import codegen

    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    lowered = lower(pyfunc, arg_types, options, keep=(stage,), instrument=instrument,
                    derivative=derivative)
    if stage in lowered.stages:
        return lowered.stages[stage]
    llmod = to_llvm(lowered, lowered.symbol + "_entry")
    if stage == "llvm":
        return str(llmod)
    optimized = codegen.optimize(llmod, fastmath=options.fastmath)
    if stage == "llvm-opt":
        return str(optimized)
    return codegen.emit_assembly(optimized)
