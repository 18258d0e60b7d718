"""The pipeline driver: Python function -> IR stages -> LLVM module.

Stages, in order, each printable: `input` (frontend output), `opt` (optimized
before AD), `ad` (derivative functions generated and optimized again; then, for
a primal too, float reductions' library math split out: `LATE`), `llvm-dialect`
(xDSL's llvm dialect), `llvm` (LLVM IR text before LLVM's optimizer), `llvm-opt`
(after O3), `asm` (host assembly).
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
from cofactor.compiler.types import ArrayType, ValueType, is_differentiable
from cofactor.passes import all_passes

STAGES = ("input", "opt", "ad", "llvm-dialect", "llvm", "llvm-opt", "asm")

# Loops whose counter tests change value at a few points (periodic indices)
# are split there, then the now-constant tests fold.
OPTIMIZE = ("canonicalize", "cse", "split-loop-ranges", "canonicalize", "cse")
# Inlined callees are cleaned up (loads they separated merge) before AD sees them.
AD = ("inline-small-calls", "canonicalize", "cse",
      "ad-checkpoint", "ad-reverse", "ad-forward", "canonicalize", "cse",
      "split-adjoint-loops", "jam-adjoint-loops")
# For primals and derivatives alike: float reductions' library math is computed
# in a loop of its own, which vectorizes.
LATE = ("split-math-reductions",)
AD_LOWER = ("ad-lower-cache",)
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
    stages: dict[str, str]
    dependencies: dict[tuple[str, str], str]
    written: frozenset[int]


class ActivityError(TypeError):
    """A derivative request that does not fit the function's types."""


@dataclass(frozen=True)
class Derivative:
    """A derivative to build instead of the primal: Enzyme-style activities per
    argument and per (flattened) result, and the vector width.

    `forward`: tangents (`ad.fwddiff`). `reverse`: adjoints (`ad.autodiff`).
    `hessian`: forward mode over the reverse-mode gradient of a scalar
    function (`ad.fwddiff` of a function holding an `ad.autodiff`): Hessian
    times `width` tangents of the `active`/`dup` arguments."""

    mode: str  # "forward", "reverse" or "hessian"
    activity: tuple[str, ...]
    ret_activity: tuple[str, ...] | None = None  # default: by mode, see `default_returns`
    width: int = 1
    checkpoint: tuple[str, int] | None = None  # (schedule, snapshots) for the outer loops
    tape_limit: int | None = None  # bytes: checkpoint an outer loop whose tape would exceed it
    # With `tape_guard`, a loop over the limit stops the call (rt error 5, which the caller
    # answers by building the version without the guard) instead of having a checkpointed
    # copy compiled next to it: most calls never need one.
    tape_guard: bool = False

    def key(self) -> str:
        key = f"{self.mode}:{','.join(self.activity)}:{self.ret_activity}:{self.width}"
        key = key if self.checkpoint is None else f"{key}:{self.checkpoint}"
        key = key if self.tape_limit is None else f"{key}:limit={self.tape_limit}"
        return f"{key}:guard" if self.tape_guard else key


def default_returns(mode: str, outputs: list[ValueType]) -> tuple[str, ...]:
    """Forward mode: every float result `dup`. Reverse mode: float scalars
    `active`, float arrays `dup` (seeded), the rest `const`."""
    if mode == "forward":
        return tuple("dup" if is_differentiable(t) else "const" for t in outputs)
    return tuple("const" if not is_differentiable(t) else "dup" if isinstance(t, ArrayType)
                 else "active" for t in outputs)


def add_request(module: ModuleOp, symbol: str, arg_types: tuple[ValueType, ...],
                result_type: ValueType, request: Derivative
                ) -> tuple[str, tuple[ValueType, ...], ValueType, tuple[int, ...]]:
    """Add a function that asks for `request` of `symbol` (an `ad.fwddiff`, an
    `ad.autodiff`, or both for a Hessian), and return its symbol, its
    argument and result types, and the position of each of `symbol`'s
    arguments among its arguments.

    - forward: arguments (each `dup` one followed by `width` tangents);
      returns (primal results, (tangents...)).
    - reverse: arguments (each `dup` one followed by its shadow), then one
      seed per result that is not `const`; returns (primal results,
      (adjoints of the `active` arguments...)).
    - hessian: the reverse-mode arguments and the seed of the one scalar
      result, each differentiated argument and shadow followed by `width`
      tangents; returns the `width` tangents of each `active` argument's
      adjoint (those of `dup` arrays accumulate into the shadows' tangents)."""
    from cofactor.compiler.frontend import flat_ir_types
    from cofactor.compiler.types import TupleType, ir_type_to_value_type
    from cofactor.dialects.ad import Activity

    outputs = [ir_type_to_value_type(t) for t in flat_ir_types(result_type)]
    acts = [Activity(a) for a in request.activity]
    if request.mode == "hessian":
        rets = [Activity(a) for a in request.ret_activity or ("activenoneed",)]
    else:
        rets = [Activity(a) for a in request.ret_activity
                or default_returns(request.mode, outputs)]
    if len(rets) != len(outputs):
        raise ActivityError(f"the function returns {len(outputs)} values ({result_type}), the "
                        f"derivative needs {len(rets)}")
    for k, (t, act) in enumerate(zip(outputs, rets, strict=True)):
        if act is not Activity.CONST and not is_differentiable(t):
            raise ActivityError(f"result {k} has type {t}, which has no derivative")
        scalar = act in (Activity.ACTIVE, Activity.ACTIVENONEED)
        if request.mode != "forward" and act is not Activity.CONST and scalar == isinstance(
                t, ArrayType):
            raise ActivityError(f"result {k} has type {t}: only a float scalar result can be "
                            "active (seeded with a number), an array result is dup (seeded "
                            "with an array, as vjp and jacrev do)")
    if request.mode == "forward":
        return _forward_request(module, symbol, arg_types, outputs, result_type, acts, rets,
                                request.width)
    name, inputs, primals, adjoints = _reverse_request(module, symbol, arg_types, outputs,
                                                       acts, rets)
    positions = _positions(acts, 1)
    if request.mode == "reverse":
        primal = result_type if len(primals) == len(outputs) else TupleType(tuple(primals))
        return name, inputs, TupleType((primal, TupleType(tuple(adjoints)))), positions
    differentiated = [a is not Activity.CONST for a in acts]
    grad_acts = [Activity.DUP if d else Activity.CONST
                 for d, a in zip(differentiated, acts, strict=True)
                 for _ in range(1 + a.has_shadow)]
    grad_acts += [Activity.CONST] * (len(inputs) - len(grad_acts))
    name, args, result, inner = _forward_request(
        module, name, inputs, adjoints, TupleType(tuple(adjoints)), grad_acts,
        [Activity.DUPNONEED] * len(adjoints), request.width, suffix="_hess")
    return name, args, result, tuple(inner[k] for k in positions)


def _request_function(module: ModuleOp, name: str, inputs: list, results: list,
                      make) -> None:
    from xdsl.dialects import func
    from xdsl.ir import Block, Region

    block = Block(arg_types=[t.ir for t in inputs])
    call = make(block.args, [t.ir for t in results])
    block.add_ops([call, func.ReturnOp(*call.results)])
    module.body.block.add_op(func.FuncOp(name, ([t.ir for t in inputs],
                                                [t.ir for t in results]), Region(block)))


def _forward_request(module, symbol, arg_types, outputs, result_type, acts, rets, width,
                     suffix="_fwd"):
    from cofactor.compiler.types import TupleType
    from cofactor.dialects.ad import FwdDiffOp

    args = tuple(t for t, a in zip(arg_types, acts, strict=True)
                 for t in [t] * (1 + width * a.has_shadow))
    primals = [t for t, a in zip(outputs, rets, strict=True) if a.returns_primal]
    tangents = [t for t, a in zip(outputs, rets, strict=True)
                for t in [t] * (width * a.has_shadow)]
    name = symbol + suffix
    _request_function(module, name, list(args), primals + tangents,
                      lambda inputs, types: FwdDiffOp(symbol, inputs, acts, rets, types, width))
    primal = result_type if len(primals) == len(outputs) else TupleType(tuple(primals))
    return (name, args, TupleType((primal, TupleType(tuple(tangents)))),
            _positions(acts, width))


def _positions(acts, shadows: int) -> tuple[int, ...]:
    """Where each argument goes among the derivative's arguments, when each
    one with a shadow is followed by `shadows` of them."""
    positions, at = [], 0
    for a in acts:
        positions.append(at)
        at += 1 + shadows * a.has_shadow
    return tuple(positions)


def _reverse_request(module, symbol, arg_types, outputs, acts, rets):
    from cofactor.dialects.ad import Activity, AutoDiffOp, has_seed

    inputs = [t for t, a in zip(arg_types, acts, strict=True) for t in [t] * (1 + a.has_shadow)]
    inputs += [t for t, a in zip(outputs, rets, strict=True) if has_seed(a)]
    primals = [t for t, a in zip(outputs, rets, strict=True) if a.returns_primal]
    adjoints = [t for t, a in zip(arg_types, acts, strict=True) if a is Activity.ACTIVE]
    name = f"{symbol}_grad"
    _request_function(module, name, inputs, primals + adjoints,
                      lambda args, types: AutoDiffOp(symbol, args, acts, rets, types))
    return name, tuple(inputs), primals, adjoints


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
        if derivative.checkpoint is not None:
            from cofactor.passes.ad_checkpoint import mark_outer_loops

            mark_outer_loops(module, symbol, *derivative.checkpoint)
        if derivative.tape_limit is not None:
            from cofactor.passes.ad_checkpoint import limit_outer_loops

            limit_outer_loops(module, symbol, derivative.tape_limit, derivative.tape_guard)
        symbol, types, result, positions = add_request(module, symbol, types, result,
                                                       derivative)
        instrument.run(AD, module)
    instrument.run(LATE, module)
    if "ad" in keep:
        stages["ad"] = str(module)
    if derivative is not None:
        instrument.run(AD_LOWER, module)
    instrument.run(LOWER, module)
    if "llvm-dialect" in keep:
        stages["llvm-dialect"] = str(module)
    written = spec.written
    if derivative is not None:  # all but the arrays the function itself never writes
        kept = {positions[i] for i, t in enumerate(arg_types)
                if isinstance(t, ArrayType) and i not in spec.written}
        written = frozenset(range(len(types))) - kept
    return Lowered(module, symbol, types, result, program.assert_messages,
                   stages, program.dependencies, written)


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
