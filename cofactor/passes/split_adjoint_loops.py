"""`split-adjoint-loops`: split a reverse loop's shadow increments by offset.

Why: the adjoint of a stencil scatters. `out[j] = a[j-1] + a[j] + a[j+1]`
reverses to `da[j-1] += g; da[j] += g; da[j+1] += g` in one loop, and
iteration j writes what iteration j+1 reads again: a dependence at distance 1
that keeps LLVM from vectorizing the loop, while the primal vectorizes. The
increments commute, so each offset can have a loop of its own; each of those
is a unit-stride read-modify-write that vectorizes.

Which loops: innermost `scf.for` loops that `ad-reverse` made (marked
`ad.adjoint`) holding only arith/math ops, loads, stores and pops (no
branches, calls, or run-time checks that a copy would skip). An increment
is `store (load M[i] + t), M[i]`. The loop is split when:

- every access to an incremented array M in the loop is one of its
  increments' load or store;
- every index of every increment is affine in the loop's counter
  (`c * iv + invariants + constant`, through addi, subi, muli by constants and
  index casts), in exactly one dimension, with the same c throughout;
- the increments' indices (as affine forms) are not all equal.

Increments with equal indices form one group, so that two iterations of a
group's loop never touch one element. Rows apart (`da[i-1, j]`, `da[i, j]`)
are groups apart too: LLVM does not prove two rows of one array disjoint
when the row stride is a run-time value, and leaves such a loop scalar. The
group holding the first
increment stays in the loop with everything else; each other group moves to a
loop of its own, inserted before it, with copies of the ops its `t` values
need. Those must be pure arith/math ops, the counter, values defined outside
the loop, and loads from arrays the loop does not write, or writes only at
the loaded element after the load (an adjoint read, then zeroed: the copies
run before the zeroing, and no other iteration reads that element). Anything
else (a pop from the tape, a loop-carried value) leaves the loop as it is.
Increments into distinct arrays are taken not to alias, as everywhere in the
reverse sweep. The sums are reassociated, as any change of loop order would.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, BlockArgument, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.dialects.ad import ADJOINT, PopOp
from cofactor.passes._affine import Affine, affine_form, inside, pure


@dataclass
class _Increment:
    load: memref.LoadOp
    add: arith.AddfOp
    store: memref.StoreOp
    offset: tuple[Affine, ...]


def _increments(body: Block, iv: SSAValue) -> list[_Increment] | None:
    """The loop's increments, or None if it has none worth splitting."""
    found: list[_Increment] = []
    scale: set[int] = set()
    for op in body.ops:
        if not isinstance(op, memref.StoreOp):
            continue
        add = op.value.owner
        if not isinstance(add, arith.AddfOp):
            continue
        for load in (add.lhs.owner, add.rhs.owner):
            if (isinstance(load, memref.LoadOp) and load.memref is op.memref
                    and list(load.indices) == list(op.indices)
                    and load.parent_block() is body):
                break
        else:
            continue
        forms = [affine_form(i, iv, body) for i in op.indices]
        if None in forms:
            return None
        varying = [f for f in forms if f[0]]
        if len(varying) != 1:
            return None
        scale.add(varying[0][0])
        found.append(_Increment(load, add, op, tuple(forms)))
    if len(scale) != 1 or len({inc.offset for inc in found}) < 2:
        return None
    return found


# besides pure ops, what a loop may hold and still be split
_KEPT = (memref.LoadOp, memref.StoreOp, PopOp, scf.YieldOp)


class _Split:
    """Checks one loop and splits it."""

    def __init__(self, loop: scf.ForOp):
        self.loop = loop
        self.body = loop.body.block
        self.iv = self.body.args[0]

    def run(self) -> bool:
        if not all(pure(op) or isinstance(op, _KEPT) for op in self.body.ops):
            return False  # a branch, a call, a run-time check the copies would skip
        incs = _increments(self.body, self.iv)
        if incs is None:
            return False
        parts = {op for inc in incs for op in (inc.load, inc.add, inc.store)}
        self.targets = {inc.store.memref for inc in incs}
        for op in self.body.ops:
            if op not in parts and any(u in self.targets for u in op.operands):
                return False  # another access to an incremented array
        groups: dict[tuple, list[_Increment]] = {}
        for inc in incs:
            groups.setdefault(inc.offset, []).append(inc)
        moved = list(groups.values())[1:]
        slices = [self._slice(group) for group in moved]
        if any(s is None for s in slices):
            return False
        for group, ops in zip(moved, slices, strict=True):
            self._emit_loop(ops)
            for inc in group:
                Rewriter.erase_op(inc.store)
        self._erase_dead()
        return True

    def _slice(self, group: list[_Increment]) -> list[Operation] | None:
        """The body ops `group` needs, in order, if they may be copied."""
        needed: set[Operation] = {inc.store for inc in group}
        own_loads = {inc.load for inc in group}
        work: list[SSAValue] = []
        for inc in group:
            work += [inc.store.value, *inc.store.indices]
        while work:
            v = work.pop()
            if not inside(v, self.body) or v is self.iv:
                continue
            if isinstance(v, BlockArgument):
                return None  # a loop-carried value
            op = v.owner
            if op in needed:
                continue
            if isinstance(op, memref.LoadOp) and op.memref in self.targets:
                if op not in own_loads:
                    return None  # a term reads another group's array
            elif isinstance(op, memref.LoadOp):
                if not self._readable(op):
                    return None
            elif not pure(op):
                return None
            needed.add(op)
            work += op.operands
        return [op for op in self.body.ops if op in needed]

    def _readable(self, load: memref.LoadOp) -> bool:
        """A load a copy may run before the loop: from an array the loop does
        not write, or writes only at this element, after it."""
        writes = [op for op in self.body.ops
                  if isinstance(op, memref.StoreOp) and op.memref is load.memref]
        if not writes:
            return True
        order = list(self.body.ops)
        forms = [affine_form(i, self.iv, self.body) for i in load.indices]
        return (any(f is not None and f[0] for f in forms)
                and all(list(w.indices) == list(load.indices)
                        and order.index(w) > order.index(load) for w in writes))

    def _emit_loop(self, ops: list[Operation]) -> None:
        block = Block(arg_types=[self.iv.type])
        mapping: dict[SSAValue, SSAValue] = {self.iv: block.args[0]}
        for op in ops:
            block.add_op(op.clone(value_mapper=mapping))
        block.add_op(scf.YieldOp())
        loop = scf.ForOp(self.loop.lb, self.loop.ub, self.loop.step, [], Region(block))
        Rewriter.insert_op(loop, InsertPoint.before(self.loop))

    def _erase_dead(self) -> None:
        changed = True
        while changed:
            changed = False
            for op in reversed(list(self.body.ops)):
                if (pure(op) or isinstance(op, memref.LoadOp)) and \
                        all(not r.uses for r in op.results):
                    Rewriter.erase_op(op)
                    changed = True


class SplitAdjointLoops(ModulePass):
    """Give each offset of a reverse loop's shadow increments a loop of its own."""

    name = "split-adjoint-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        loops = [loop for loop in op.walk()
                 if isinstance(loop, scf.ForOp) and ADJOINT in loop.attributes]
        for loop in loops:
            _Split(loop).run()
