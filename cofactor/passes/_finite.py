"""Which float values of a function stay finite when its inputs are finite.

Reverse mode multiplies an adjoint by a partial "checked" (`checked_mul`), so
that a zero adjoint times an inf or NaN partial stays 0 (strong zero). The
check sits on the adjoint's dependency chain. It is needed only where the
partial can be inf or NaN, and a partial that is finite wherever its op's
operands are (a `Finite` rule entry: the other factor of a product, cos of x,
1 - tanh^2, ...) is inf or NaN only where an operand already is. This
analysis finds the operands that cannot be: values computed from the
function's inputs by ops that map finite numbers to finite numbers.

Rules: a float constant is finite if it is; function arguments (scalars, and
the contents of arrays) are finite where the caller says so (the inputs of a
gradient are); `+ - *`, fma, negation, select, min/max, abs, copysign, float
conversions and rounding, sin, cos, tan, tanh, atan, erf and int-to-float
conversions give finite values from finite operands; `a / b` is finite when
`a` is and `b` has a positive lower bound (`1 + exp(-x)` in a sigmoid); a
load is finite when every store into its array stores finite values and the
array is an input or allocated here; loop-carried values and `scf.if`
results are finite when every value that can reach them is; a call's
results and the arrays it writes are finite when the callee's analysis,
given which operands are finite, says so (`FiniteSummaries`). Everything
else (log, exp, pow, sqrt, division by anything else, calls of
declarations) may be inf or NaN. Overflow of `+ - *` is not modelled:
a product that overflows to inf, then discarded by a select, can still give
a NaN gradient (as forward mode and JAX do).

Lower bounds (never NaN, at least `lo`) are known for constants, exp (0),
sums of bounded values and selects between them.
"""

from __future__ import annotations

import math as pymath
from collections.abc import Sequence

from xdsl.dialects import arith, func, math, memref, scf, ub
from xdsl.dialects.builtin import AnyFloat, FloatAttr, MemRefType
from xdsl.ir import Operation, SSAValue

from cofactor.passes._activity import ActivityAnalysis, FunctionActivity

# ops whose result is finite when all their float operands are
_FINITE_OPS: tuple[type[Operation], ...] = (
    arith.AddfOp, arith.SubfOp, arith.MulfOp, arith.NegfOp, arith.ExtFOp, arith.TruncFOp,
    arith.SelectOp, arith.MaximumfOp, arith.MinimumfOp, arith.MaxnumfOp, arith.MinnumfOp,
    arith.SIToFPOp, arith.UIToFPOp,
    math.FmaOp, math.AbsFOp, math.CopySignOp, math.SinOp, math.CosOp, math.TanOp,
    math.TanhOp, math.AtanOp, math.ErfOp, math.FloorOp, math.CeilOp, math.RoundOp,
    math.RoundEvenOp, math.TruncOp,
)


def _is_float(v: SSAValue) -> bool:
    return isinstance(v.type, AnyFloat)


class FiniteSummaries:
    """Per callee and per "which arguments are finite": which of its results,
    and which of its array arguments after the call, are finite (cached)."""

    def __init__(self, analysis: ActivityAnalysis):
        self.analysis = analysis
        self._summaries: dict[tuple[str, tuple[bool, ...]],
                              tuple[tuple[bool, ...], tuple[bool, ...]]] = {}
        self._values: dict[tuple[str, tuple[bool, ...]], FiniteValues] = {}

    def of(self, fn: func.FuncOp, finite_args: tuple[bool, ...]
           ) -> tuple[tuple[bool, ...], tuple[bool, ...]]:
        key = (fn.sym_name.data, finite_args)
        if key not in self._summaries:
            # a call cycle: assume nothing finite
            self._summaries[key] = ((False,) * len(fn.function_type.outputs),
                                    (False,) * len(fn.args))
            values = self.values(fn, finite_args)
            returns = [op for op in fn.walk() if isinstance(op, func.ReturnOp)]
            results = tuple(all(values.finite(r.operands[i]) for r in returns)
                            for i in range(len(fn.function_type.outputs)))
            self._summaries[key] = (results, tuple(values.finite(a) for a in fn.args))
        return self._summaries[key]

    def values(self, fn: func.FuncOp, finite_args: Sequence[bool]) -> FiniteValues:
        """The analysis of `fn` when the arguments flagged are finite (cached)."""
        key = (fn.sym_name.data, tuple(finite_args))
        if key not in self._values:
            self._values[key] = FiniteValues(fn, self.analysis.aliases(fn), self, finite_args)
        return self._values[key]


class FiniteValues:
    """The float values (and array alias classes) of `fn` that cannot be inf
    or NaN when the arguments flagged in `finite_args` are finite; found as
    a fixed point that starts by assuming every value finite."""

    def __init__(self, fn: func.FuncOp, info: FunctionActivity, summaries: FiniteSummaries,
                 finite_args: Sequence[bool]):
        self.fn, self.info, self.summaries = fn, info, summaries
        self._unchecked: tuple[tuple[bool, ...], ...] | None = None
        self.analysis = summaries.analysis
        self.unsafe: set[SSAValue] = set()
        for arg, ok in zip(fn.args, finite_args, strict=True):
            if not ok:
                self.unsafe.add(info.key(arg))
        while any([self._visit(op) for op in fn.walk()]):
            pass

    def finite(self, v: SSAValue) -> bool:
        """Whether `v` is finite when the inputs are (non-floats count as finite)."""
        return self.info.key(v) not in self.unsafe

    def lower(self, v: SSAValue) -> float | None:
        """A lower bound of `v`, which is then never NaN (None: unknown)."""
        op = v.owner
        match op:
            case arith.ConstantOp(value=FloatAttr() as attr):
                value = attr.value.data
                return None if pymath.isnan(value) else value
            case math.ExpOp() | math.Exp2Op():
                x = op.operands[0]
                return 0.0 if self.finite(x) or self.lower(x) is not None else None
            case arith.AddfOp():
                lo = [self.lower(u) for u in op.operands]
                return None if None in lo else lo[0] + lo[1]
            case arith.SelectOp():
                lo = [self.lower(u) for u in op.operands[1:]]
                return None if None in lo else min(lo)
        return None

    def _mark(self, v: SSAValue) -> bool:
        key = self.info.key(v)
        if key in self.unsafe:
            return False
        self.unsafe.add(key)
        return True

    def _from(self, targets: Sequence[SSAValue], sources: Sequence[SSAValue]) -> bool:
        """Marks each target whose source is unsafe; True if any is new."""
        changed = False
        for t, s in zip(targets, sources, strict=True):
            if not self.finite(s):
                changed |= self._mark(t)
        return changed

    def _visit(self, op: Operation) -> bool:
        """Applies `op`'s rule once; True if it marked anything new."""
        match op:
            case memref.StoreOp():
                return not self.finite(op.value) and self._mark(op.memref)
            case memref.LoadOp():
                return not self.finite(op.memref) and self._mark(op.res)
            case scf.YieldOp() if isinstance(parent := op.parent_op(), scf.ForOp):
                body = parent.body.block.args[1:]
                return (self._from(body, parent.iter_args) | self._from(body, op.operands)
                        | self._from(parent.results, op.operands))
            case scf.YieldOp() if isinstance(parent := op.parent_op(), scf.IfOp):
                return self._from(parent.results, op.operands)
            case scf.YieldOp() if isinstance(parent := op.parent_op(), scf.WhileOp):
                before = parent.before_region.block.args
                return self._from(before, parent.arguments) | self._from(before, op.operands)
            case scf.ConditionOp() if isinstance(parent := op.parent_op(), scf.WhileOp):
                return (self._from(parent.after_region.block.args, op.args)
                        | self._from(parent.results, op.args))
            case func.CallOp():
                callee = self.analysis.callee(op)
                if callee is None:
                    results = (False,) * len(op.results)
                    after = tuple(not isinstance(u.type, MemRefType) for u in op.operands)
                else:
                    results, after = self.summaries.of(
                        callee, tuple(self.finite(u) for u in op.operands))
                unsafe = [v for v, ok in zip((*op.operands, *op.results), (*after, *results),
                                             strict=True) if not ok]
                return any([self._mark(v) for v in unsafe])
            case scf.ForOp() | scf.IfOp() | scf.WhileOp() | ub.PoisonOp():
                return False  # results follow their yields; poison is never read
        floats = [r for r in op.results if _is_float(r)]
        if not floats or not self._unsafe_result(op):
            return False
        return any([self._mark(r) for r in floats])

    def _unsafe_result(self, op: Operation) -> bool:
        if isinstance(op, arith.ConstantOp):
            return isinstance(op.value, FloatAttr) and not pymath.isfinite(op.value.value.data)
        operands_finite = all(self.finite(u) for u in op.operands if _is_float(u))
        if isinstance(op, _FINITE_OPS):
            return not operands_finite
        if isinstance(op, arith.DivfOp):
            return not self._bounded_division(op)
        return True

    def unchecked(self) -> tuple[tuple[bool, ...], ...]:
        """What `finite_partials` sees of each op of the function (which
        operands are finite, a division's bound): a key for reverse functions."""
        if self._unchecked is None:
            self._unchecked = tuple(
                (*(self.finite(u) for u in op.operands), self._bounded_division(op))
                for op in self.fn.walk())
        return self._unchecked

    def _bounded_division(self, op: Operation) -> bool:
        """`a / b` with `a` finite and `b` at least some c > 0: 1/b and -a/b^2
        are finite."""
        if not isinstance(op, arith.DivfOp):
            return False
        lo = self.lower(op.rhs)
        return self.finite(op.lhs) and lo is not None and lo > 0

    def finite_partials(self, op: Operation, partials: Sequence[object],
                        finite_entries: Sequence[bool]) -> list[bool]:
        """Which of `op`'s partials are finite here: a `Finite` rule entry that
        is one of the operands (mulf's and fma's other factor) if that operand
        is finite, any other `Finite` entry if all float operands are, and
        both partials of a bounded division."""
        if self._bounded_division(op):
            return [True] * len(partials)
        operands_finite = all(self.finite(u) for u in op.operands if _is_float(u))
        factors = {id(u) for u in op.operands}
        return [entry and (self.finite(d) if id(d) in factors else operands_finite)
                for d, entry in zip(partials, finite_entries, strict=True)]
