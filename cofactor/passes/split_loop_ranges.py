"""`split-loop-ranges`: split a loop's range where its comparisons of the
counter change value (index-set splitting).

Why: a periodic stencil wraps its neighbours' indices, `jp1 = j + 1; if jp1
== n: jp1 = 0`, so every iteration tests and selects, the indices are not
affine, and neither the loop nor its adjoint vectorizes. The tests change
value at a few counter values only (j = 0, 1 and n - 1 here). Split at those,
each piece of the range gets its own copy of the loop in which every test is
a constant; canonicalize then folds the branches away, and the long middle
piece is a plain affine loop.

Which loops: innermost `scf.for` loops with step 1, not marked for
checkpointing (`ad.checkpoint`: one loop, one schedule). Which tests: `arith.cmpi`
(signed or equality) between two affine forms of the counter (`_affine`)
whose difference is `±iv + k` or `±iv ± t + k`, with one loop-invariant `t`
per loop (the size, usually); an operand may also be an `scf.if` or select
result whose condition is such a test, each side affine. Each test gives one
cut (where `iv < P` changes) or two (`iv == P`). Cuts are ordered as if `t`
were large: constants, then `t + k`; cuts `k - t` go below the constants.
Cuts at or below a constant lower bound, or at or above an upper bound of `t`
(or `max(0, t)`), drop out; at most `MAX_CUTS` stay.

The copies run only when the cuts are in that order at run time (a guard of
a few compares: lower bound <= first cut <= ... <= last cut <= upper bound,
and the dropped cuts on their side); otherwise the original loop runs.
The pieces chain the loop-carried values.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, scf
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i1
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.dialects.ad import CHECKPOINT
from cofactor.passes._affine import Affine, affine_form, combine, constant_int, inside
from cofactor.passes._tangent_rules import Emit

MAX_CUTS = 4

@dataclass(frozen=True)
class _Cut:
    """The counter value `tcoef * t + k`."""

    tcoef: int
    k: int

    def order(self) -> tuple[int, int]:
        return self.tcoef, self.k


@dataclass(frozen=True)
class _Test:
    """`iv < cut` (or `iv == cut` when `equal`), negated when `negate`."""

    cut: _Cut
    equal: bool
    negate: bool


_HOLDS = {"eq": lambda d: d == 0, "ne": lambda d: d != 0, "slt": lambda d: d < 0,
          "sle": lambda d: d <= 0, "sgt": lambda d: d > 0, "sge": lambda d: d >= 0}


def _normalize(pred: str, diff: Affine, t: SSAValue | None) -> _Test | bool | None:
    """`a pred b` as a test on the counter (or its value, if it does not
    depend on it), from `diff = a - b`."""
    c, terms, k = diff
    if c == 0 and not terms:
        return _HOLDS[pred](k)
    if c not in (1, -1):
        return None
    tcoef = 0
    if terms:
        if len(terms) != 1 or t is None:
            return None
        ((term, n),) = terms
        if term is not t or n not in (1, -1):
            return None
        tcoef = n
    # diff = c * iv + tcoef * t + k: zero at iv = -c * (tcoef * t + k)
    zero = _Cut(-c * tcoef, -c * k)
    shifted = _Cut(zero.tcoef, zero.k + 1)
    if pred in ("eq", "ne"):
        return _Test(zero, True, pred == "ne")
    if c == -1:  # diff < 0 <=> iv > zero
        pred = {"slt": "sgt", "sle": "sge", "sgt": "slt", "sge": "sle"}[pred]
    return {"slt": _Test(zero, False, False), "sle": _Test(shifted, False, False),
            "sgt": _Test(shifted, False, True), "sge": _Test(zero, False, True)}[pred]


class _Loop:
    """One loop's tests of its counter."""

    def __init__(self, loop: scf.ForOp):
        self.body = loop.body.block
        self.iv = self.body.args[0]
        self.t = self._invariant()

    def forms(self, v: SSAValue) -> list[tuple[tuple[tuple[Operation, bool], ...], Affine]] | None:
        """`v`'s affine forms, each under conditions (a test and its value):
        one form, or one per side of an `scf.if`/select on a test."""
        op = v.owner
        if isinstance(op, scf.IfOp | arith.SelectOp) and inside(v, self.body):
            if isinstance(op, scf.IfOp):
                index = op.results.index(v)
                sides = [op.true_region.block.last_op.operands[index],
                         op.false_region.block.last_op.operands[index]]
                cond = op.cond
            else:
                sides, cond = [op.lhs, op.rhs], op.cond
            test = cond.owner
            if not isinstance(test, arith.CmpiOp) or test.parent_block() is not self.body:
                return None
            out = []
            for side, value in zip(sides, (True, False), strict=True):
                form = affine_form(side, self.iv, self.body)
                if form is None:
                    return None
                out.append((((test, value),), form))
            return out
        form = affine_form(v, self.iv, self.body)
        return None if form is None else [((), form)]

    def _invariant(self) -> SSAValue | None:
        """The invariant the tests use most (the size, usually)."""
        seen: dict[SSAValue, int] = {}
        for op in self.body.ops:
            if isinstance(op, arith.CmpiOp):
                for v in op.operands:
                    for _, form in self.forms(v) or []:
                        for term, _ in form[1]:
                            seen[term] = seen.get(term, 0) + 1
        seen = {v: n for v, n in seen.items() if v.type == self.iv.type}
        return max(seen, key=lambda k: seen[k]) if seen else None

    def tests(self) -> dict[Operation,
                            list[tuple[tuple[tuple[Operation, bool], ...], _Test | bool]]]:
        """Each comparison's tests, per combination of conditions."""
        found = {}
        for op in self.body.ops:
            if not isinstance(op, arith.CmpiOp) or op.predicate.value.data > 5:
                continue
            pred = ("eq", "ne", "slt", "sle", "sgt", "sge")[op.predicate.value.data]
            lhs, rhs = self.forms(op.lhs), self.forms(op.rhs)
            if lhs is None or rhs is None:
                continue
            cases = [(cl + cr, _normalize(pred, combine(fl, fr, -1), self.t))
                     for cl, fl in lhs for cr, fr in rhs]
            if all(test is not None for _, test in cases):
                found[op] = cases
        return found


def _value(test: _Test | bool, low: int, high: int, position: dict[_Cut, int]) -> bool | None:
    """The test over the piece between cut positions `low` and `high`."""
    if isinstance(test, bool):
        return test
    at = position[test.cut]
    if test.equal:
        after = position[_Cut(test.cut.tcoef, test.cut.k + 1)]
        if at == low and after == high:
            result = True
        elif after <= low or at >= high:
            result = False
        else:
            return None
    elif at >= high:
        result = True
    elif at <= low:
        result = False
    else:
        return None
    return result != test.negate


class SplitLoopRanges(ModulePass):
    """Split innermost loops' ranges where their counter tests change value."""

    name = "split-loop-ranges"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [loop for loop in op.walk() if isinstance(loop, scf.ForOp)
                 and CHECKPOINT not in loop.attributes  # one loop to checkpoint, not pieces
                 and not any(isinstance(inner, scf.ForOp | scf.WhileOp)
                             for inner in loop.body.block.ops)]
        for loop in loops:
            _split(loop)


def _bounded_by(ub: SSAValue, t: SSAValue | None) -> bool:
    """Whether `ub` is `t` or `max(0, t)` (a range's clamped size)."""
    if ub is t:
        return True
    op = ub.owner
    test = op.cond.owner if isinstance(op, arith.SelectOp) else None
    return (isinstance(test, arith.CmpiOp) and test.predicate.value.data == 4  # sgt
            and test.rhs is t and constant_int(test.lhs) == 0
            and op.rhs is t and constant_int(op.lhs) == 0)


def _split(loop: scf.ForOp) -> None:
    if constant_int(loop.step) != 1:
        return
    info = _Loop(loop)
    tests = info.tests()
    if not tests:
        return
    cuts: set[_Cut] = set()
    for cases in tests.values():
        for _, test in cases:
            if isinstance(test, bool):
                continue
            cuts.add(test.cut)
            if test.equal:
                cuts.add(_Cut(test.cut.tcoef, test.cut.k + 1))
    low = constant_int(loop.lb)
    high_t = _bounded_by(loop.ub, info.t)
    below = {c for c in cuts if low is not None and c.tcoef <= 0 and (c.tcoef < 0 or c.k <= low)}
    above = {c for c in cuts if high_t and c.tcoef == 1 and c.k >= 0}
    kept = sorted(cuts - below - above, key=_Cut.order)
    if not kept or len(kept) > MAX_CUTS:
        return
    position = {c: -1 for c in below} | {c: len(kept) for c in above}
    position |= {c: i for i, c in enumerate(kept)}
    pieces = []  # per piece, the value of each test op (None: undecided)
    for piece in range(len(kept) + 1):
        values = {}
        for cmp, cases in tests.items():
            found = set()
            for conditions, test in cases:
                if all(values.get(c) is v for c, v in conditions):
                    found.add(_value(test, piece - 1, piece, position))
            values[cmp] = found.pop() if len(found) == 1 else None
        pieces.append(values)
    if not any(v is not None for values in pieces for v in values.values()):
        return
    _emit(loop, info.t, kept, below, above, pieces)


def _cut_value(e: Emit, cut: _Cut, t: SSAValue | None, like: SSAValue) -> SSAValue:
    k = e.const(cut.k, like.type)
    if cut.tcoef == 0:
        return k
    assert t is not None
    return e.op(arith.AddiOp(t, k) if cut.tcoef == 1 else arith.SubiOp(k, t))


def _emit(loop: scf.ForOp, t: SSAValue | None, kept: list[_Cut], below: set[_Cut],
          above: set[_Cut], pieces: list[dict[Operation, bool | None]]) -> None:
    e = Emit(InsertPoint.before(loop))
    bounds = [_cut_value(e, c, t, loop.lb) for c in kept]
    chain = [loop.lb, *bounds, loop.ub]
    checks = [e.op(arith.CmpiOp(a, b, "sle")) for a, b in zip(chain, chain[1:], strict=False)]
    checks += [e.op(arith.CmpiOp(_cut_value(e, c, t, loop.lb), loop.lb, "sle")) for c in below]
    checks += [e.op(arith.CmpiOp(loop.ub, _cut_value(e, c, t, loop.lb), "sle")) for c in above]
    guard = checks[0]
    for check in checks[1:]:
        guard = e.op(arith.AndIOp(guard, check))
    split, original = Block(), Block()
    inits: list[SSAValue] = list(loop.iter_args)
    ops = list(loop.body.block.ops)
    for (lo, hi), values in zip(zip(chain, chain[1:], strict=False), pieces, strict=True):
        copy = loop.clone()
        copy.operands = [lo, hi, loop.step, *inits]
        for old, new in zip(ops, copy.body.block.ops, strict=True):
            value = values.get(old)
            if value is not None:
                known = arith.ConstantOp(IntegerAttr(int(value), i1))
                Rewriter.replace_op(new, known)
        split.add_op(copy)
        inits = list(copy.results)
    split.add_op(scf.YieldOp(*inits))
    plain = loop.clone()
    original.add_ops([plain, scf.YieldOp(*plain.results)])
    branch = scf.IfOp(guard, [r.type for r in loop.results], Region(split), Region(original))
    Rewriter.replace_op(loop, branch)
