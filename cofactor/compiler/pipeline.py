"""The pipeline driver: Python function -> IR stages -> LLVM module.

Stages, in order, each printable: `input` (frontend output), `opt` (optimized
before AD), `llvm-dialect` (xDSL's llvm dialect), `llvm` (LLVM IR text before
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

STAGES = ("input", "opt", "llvm-dialect", "llvm", "llvm-opt", "asm")

OPTIMIZE = ("canonicalize", "cse")
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


def lower(pyfunc: Callable, arg_types: tuple[ValueType, ...], options: Options,
          keep: tuple[str, ...] = (), instrument: Instrumentation | None = None,
          reserved: frozenset[str] = frozenset()) -> Lowered:
    """Run the frontend and the IR passes; `keep` names the stages to return as
    text; no function symbol is in `reserved`."""
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
    instrument.run(LOWER, module)
    if "llvm-dialect" in keep:
        stages["llvm-dialect"] = str(module)
    assert spec.result is not None
    return Lowered(module, spec.symbol, arg_types, spec.result, program.assert_messages,
                   "\n".join(program.sources), stages, program.dependencies, spec.written)


def to_llvm(lowered: Lowered, entry_name: str):
    """The llvmlite module of a lowered specialization, with its C entry point."""
    from cofactor.compiler import codegen

    llmod = codegen.to_llvmlite(lowered.module)
    codegen.add_entry_wrapper(llmod, entry_name, lowered.symbol, lowered.arg_types,
                              lowered.result_type)
    return llmod


def stage_text(pyfunc: Callable, arg_types: tuple[ValueType, ...], options: Options,
               stage: str, instrument: Instrumentation | None = None) -> str:
    """The text of one pipeline stage for one specialization."""
    from cofactor.compiler import codegen

    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    lowered = lower(pyfunc, arg_types, options, keep=(stage,), instrument=instrument)
    if stage in lowered.stages:
        return lowered.stages[stage]
    llmod = to_llvm(lowered, lowered.symbol + "_entry")
    if stage == "llvm":
        return str(llmod)
    optimized = codegen.optimize(llmod, fastmath=options.fastmath)
    if stage == "llvm-opt":
        return str(optimized)
    return codegen.emit_assembly(optimized)
