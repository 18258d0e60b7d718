"""Activity analysis of a func.func, shared by forward and reverse mode.

Only values that carry a derivative get derivative code. As in Enzyme, a value
is *active* when it is both

- **varied**: reached from an active argument by data flow: through
  differentiable ops, scf iter_args/results/yields, loads from arrays whose
  contents are varied, and calls (a callee summary says which of its results
  and array arguments become varied); and
- **useful**: it reaches an active result or the contents of an array the
  caller observes (an active array argument), backwards through the same flow;
  a store makes the stored value useful when the array is.

Arrays are tracked by alias class (a union-find over memref values joined by
scf flow and by any op whose array result may alias an array operand: views,
calls): an array becomes varied when a varied value is stored into any alias
of it, and an active array class is one that needs a shadow. The caches of
reverse mode (`!ad.cache`) are tracked like arrays: a push stores, a pop
loads, so that forward mode can differentiate a gradient function. Only float
scalars and arrays of floats can be varied; integers never are. Each analysis
is a pair of fixpoints over the ops, linear per sweep.

A loop-carried value and the matching loop result get a derivative together:
if either is active, both are (`scf_slots`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from xdsl.dialects import func, memref, scf
from xdsl.dialects.builtin import AnyFloat, MemRefType, ModuleOp
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.traits import SymbolTable

from cofactor.dialects.ad import CacheType, PushOp
from cofactor.passes._tangent_rules import INACTIVE, MEMREF_ALLOCS


def array_like(t: Attribute) -> bool:
    """Values that hold other values: arrays and caches."""
    return isinstance(t, MemRefType | CacheType)


def differentiable(t: Attribute) -> bool:
    """Float scalars, arrays of floats, and caches of those can carry derivatives."""
    if isinstance(t, MemRefType):
        return isinstance(t.element_type, AnyFloat)
    if isinstance(t, CacheType):
        return differentiable(t.element)
    return isinstance(t, AnyFloat)


def has_body(fn: func.FuncOp) -> bool:
    """A definition, not a declaration (no block, or one empty block)."""
    return bool(fn.body.blocks) and fn.body.block.first_op is not None


def scf_flows(op: Operation) -> Iterator[tuple[SSAValue, SSAValue]]:
    """(source, destination) pairs of the values an scf op passes on."""
    if isinstance(op, scf.ForOp):
        body = op.body.block
        yielded = body.last_op.operands
        for init, arg, res, y in zip(op.iter_args, body.args[1:], op.results, yielded,
                                     strict=True):
            yield from ((init, arg), (init, res), (y, arg), (y, res))
    elif isinstance(op, scf.WhileOp):
        before, after = op.before_region.block, op.after_region.block
        for init, arg, y in zip(op.arguments, before.args, after.last_op.operands, strict=True):
            yield from ((init, arg), (y, arg))
        for c, arg, res in zip(before.last_op.args, after.args, op.results, strict=True):
            yield from ((c, arg), (c, res))
    elif isinstance(op, scf.IfOp):
        for region in op.regions:
            if region.blocks:
                yield from zip(region.block.last_op.operands, op.results, strict=True)


def scf_slots(op: Operation) -> Iterator[tuple[SSAValue, ...]]:
    """Values one carried derivative stands for: a loop-carried block argument
    and the matching result get a derivative together or not at all."""
    if isinstance(op, scf.ForOp):
        yield from zip(op.body.block.args[1:], op.results, strict=True)
    elif isinstance(op, scf.WhileOp):
        yield from ((a,) for a in op.before_region.block.args)
        yield from zip(op.after_region.block.args, op.results, strict=True)
    elif isinstance(op, scf.IfOp):
        yield from ((r,) for r in op.results)


@dataclass
class FunctionActivity:
    """Which values of one function are varied, useful, active."""

    fn: func.FuncOp
    parent: dict[SSAValue, SSAValue] = field(default_factory=dict)
    varied: set[SSAValue] = field(default_factory=set)
    useful: set[SSAValue] = field(default_factory=set)

    def key(self, v: SSAValue) -> SSAValue:
        """A scalar stands for itself, an array for its alias class."""
        if not array_like(v.type):
            return v
        root = v
        while root in self.parent:
            root = self.parent[root]
        while v is not root:
            self.parent[v], v = root, self.parent[v]
        return root

    def union(self, a: SSAValue, b: SSAValue) -> None:
        ra, rb = self.key(a), self.key(b)
        if ra is not rb:
            self.parent[rb] = ra
            if rb in self.varied:
                self.varied.add(ra)
            if rb in self.useful:
                self.useful.add(ra)

    def is_varied(self, v: SSAValue) -> bool:
        return self.key(v) in self.varied

    def is_useful(self, v: SSAValue) -> bool:
        return self.key(v) in self.useful

    def is_active(self, v: SSAValue) -> bool:
        """Needs derivative code: a tangent, or for an array, a shadow."""
        k = self.key(v)
        return k in self.varied and k in self.useful

    def mark(self, which: set[SSAValue], v: SSAValue) -> bool:
        """Adds `v` to `which` if it can carry a derivative; True if that is new."""
        if not differentiable(v.type):
            return False
        k = self.key(v)
        if k in which:
            return False
        which.add(k)
        return True

    def describe(self, v: SSAValue) -> str:
        varied, useful = self.is_varied(v), self.is_useful(v)
        if varied and useful:
            return "active"
        return "varied" if varied else "useful" if useful else "const"


class ActivityAnalysis:
    """Analyses the functions of one module, with call summaries cached."""

    def __init__(self, module: ModuleOp):
        self.module = module
        self._summaries: dict[tuple[str, tuple[bool, ...]], tuple[tuple[bool, ...], ...]] = {}
        self._written: dict[str, tuple[bool, ...]] = {}

    def callee(self, call: func.CallOp) -> func.FuncOp | None:
        """The called function if it has a body (None for declarations)."""
        fn = SymbolTable.lookup_symbol(self.module, call.callee)
        return fn if isinstance(fn, func.FuncOp) and has_body(fn) else None

    def analyze(self, fn: func.FuncOp, active_args: Sequence[bool],
                active_results: Sequence[bool]) -> FunctionActivity:
        """Activity of `fn` when the caller gives derivatives for `active_args`
        and wants them for `active_results` (an active array argument's
        contents are both given and observed)."""
        info = self._setup(fn, active_args)
        self._propagate_varied(info)
        for arg, active in zip(fn.args, active_args, strict=True):
            if active and array_like(arg.type):
                info.mark(info.useful, arg)
        for op in fn.walk():
            if isinstance(op, func.ReturnOp):
                for v, active in zip(op.operands, active_results, strict=True):
                    if active:
                        info.mark(info.useful, v)
        self._propagate_useful(info)
        for op in fn.walk():
            for slot in scf_slots(op):
                if any(info.is_active(v) for v in slot):
                    for v in slot:
                        info.mark(info.varied, v)
                        info.mark(info.useful, v)
        return info

    def varied_summary(self, fn: func.FuncOp, varied_args: tuple[bool, ...]
                       ) -> tuple[tuple[bool, ...], tuple[bool, ...]]:
        """For the varied arguments given: which results are varied, and which
        arguments are varied on exit (an array that the callee stores into)."""
        key = (fn.sym_name.data, varied_args)
        if key not in self._summaries:
            n_results = len(fn.function_type.outputs)
            # A call cycle: assume everything the callee returns or writes is varied.
            self._summaries[key] = ((any(varied_args),) * n_results,
                                    (any(varied_args),) * len(varied_args))
            info = self._setup(fn, varied_args)
            self._propagate_varied(info)
            returns = [op for op in fn.walk() if isinstance(op, func.ReturnOp)]
            results = tuple(any(info.is_varied(r.operands[i]) for r in returns)
                            for i in range(n_results))
            self._summaries[key] = (results, tuple(info.is_varied(a) for a in fn.args))
        return self._summaries[key]

    def aliases(self, fn: func.FuncOp) -> FunctionActivity:
        """The alias classes of `fn`'s arrays, with nothing varied."""
        return self._setup(fn, [False] * len(fn.args))

    def written_args(self, fn: func.FuncOp) -> tuple[bool, ...]:
        """Which arguments of `fn` are arrays that it (or a callee) may store into."""
        name = fn.sym_name.data
        if name not in self._written:
            self._written[name] = tuple(isinstance(a.type, MemRefType) for a in fn.args)  # cycle
            info = self.aliases(fn)
            written: set[SSAValue] = set()
            for op in fn.walk():
                if isinstance(op, memref.StoreOp):
                    written.add(info.key(op.memref))
                elif isinstance(op, func.CallOp) and (callee := self.callee(op)) is not None:
                    written.update(info.key(v) for v, w in zip(
                        op.operands, self.written_args(callee), strict=True) if w)
            self._written[name] = tuple(isinstance(a.type, MemRefType) and info.key(a) in written
                                        for a in fn.args)
        return self._written[name]

    # -- the two fixpoints ------------------------------------------------

    def _setup(self, fn: func.FuncOp, varied_args: Sequence[bool]) -> FunctionActivity:
        info = FunctionActivity(fn)
        for op in fn.walk():
            # An array result (of a view, a call, a select) may alias any array operand.
            if not isinstance(op, MEMREF_ALLOCS):
                arrays = [v for v in op.operands if array_like(v.type)]
                for res in op.results:
                    if array_like(res.type):
                        for array in arrays:
                            info.union(res, array)
            if isinstance(op, PushOp) and array_like(op.value.type):
                info.union(op.cache, op.value)
            for src, dst in scf_flows(op):
                if array_like(dst.type):
                    info.union(src, dst)
        for arg, varied in zip(fn.args, varied_args, strict=True):
            if varied:
                info.mark(info.varied, arg)
        return info

    def _propagate_varied(self, info: FunctionActivity) -> None:
        ops = list(info.fn.walk())
        changed = True
        while changed:
            changed = False
            for op in ops:
                changed |= self._varied_step(info, op)

    def _varied_step(self, info: FunctionActivity, op: Operation) -> bool:
        changed = False
        if isinstance(op, memref.StoreOp | PushOp):
            stored, into = _stored(op)
            if info.is_varied(stored):
                changed |= info.mark(info.varied, into)
        elif isinstance(op, func.CallOp) and (callee := self.callee(op)) is not None:
            pattern = tuple(info.is_varied(v) for v in op.operands)
            results, args = self.varied_summary(callee, pattern)
            for v, varied in (*zip(op.results, results, strict=True),
                              *zip(op.operands, args, strict=True)):
                if varied:
                    changed |= info.mark(info.varied, v)
        elif _is_data_flow(op) and any(info.is_varied(v) for v in op.operands):
            for v in op.results:
                changed |= info.mark(info.varied, v)
        for src, dst in scf_flows(op):
            if info.is_varied(src):
                changed |= info.mark(info.varied, dst)
        return changed

    def _propagate_useful(self, info: FunctionActivity) -> None:
        ops = list(info.fn.walk())[::-1]
        changed = True
        while changed:
            changed = False
            for op in ops:
                changed |= self._useful_step(info, op)

    def _useful_step(self, info: FunctionActivity, op: Operation) -> bool:
        changed = False
        if isinstance(op, memref.StoreOp | PushOp):
            stored, into = _stored(op)
            if info.is_useful(into):
                changed |= info.mark(info.useful, stored)
        elif isinstance(op, func.CallOp):
            # Conservative: what the callee returns or writes may depend on any argument.
            if any(info.is_useful(v) for v in op.results) or any(
                    info.is_useful(v) for v in op.operands if array_like(v.type)):
                for v in op.operands:
                    changed |= info.mark(info.useful, v)
        elif _is_data_flow(op) and any(info.is_useful(v) for v in op.results):
            for v in op.operands:
                changed |= info.mark(info.useful, v)
        for src, dst in scf_flows(op):
            if info.is_useful(dst):
                changed |= info.mark(info.useful, src)
        return changed


def _stored(op: memref.StoreOp | PushOp) -> tuple[SSAValue, SSAValue]:
    """(value, where it goes) of a store or a push."""
    if isinstance(op, PushOp):
        return op.value, op.cache
    return op.value, op.memref


def _is_data_flow(op: Operation) -> bool:
    """Results depend on all operands (scf ops pass values by `scf_flows` instead)."""
    return type(op) not in INACTIVE and not isinstance(op, scf.ForOp | scf.WhileOp | scf.IfOp)
