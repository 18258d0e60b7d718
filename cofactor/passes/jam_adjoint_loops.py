"""`jam-adjoint-loops`: unroll a reverse loop into the loop it holds (unroll and jam).

Why: the reverse of a matrix-vector loop, `for j: for k: q[j, k] += L[j, k] *
u[i, k]`, is `for j: for k: du[i, k] += dq[j, k] * L[j, k]; dL[j, k] += ...`:
`du[i, k]` is loaded and stored again for every j, and `u[i, k]` reloaded, so
the loop does five loads and two stores per element and stalls on memory.
Running four j per pass of the k loop lets the copies share those loads and
stores: a load of what an earlier copy stored takes the stored value, and a
store that a later copy overwrites goes.

Which loops: an `scf.for` that `ad-reverse` made (marked `ad.adjoint`), step
1, without loop-carried values, whose body is pure arith/math ops and one
innermost `scf.for` (bounds the same in every iteration, no loop-carried
values) of pure ops, loads and stores; no pops (their order is the tape's),
branches or calls. It is jammed when

- every array the inner loop stores to is indexed, in all its accesses there,
  in one dimension by the same affine form `c * k + invariants` (c != 0) of
  the inner counter k, with invariants the same in every outer iteration: two
  iterations touch one element only at the same k, and for each k the copies
  run in the outer loop's order, so no dependence is reversed;
- some load or store has indices that do not depend on the outer counter:
  there is something to share.

Distinct arrays are taken not to alias, as everywhere in the reverse sweep.
The outer loop's last `n mod 4` iterations run in the original loop.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects import arith, memref, scf
from xdsl.dialects.builtin import IntegerAttr, ModuleOp
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.dialects.ad import ADJOINT
from cofactor.passes._affine import affine_form, constant_int, pure

COPIES = 4

_Access = memref.LoadOp | memref.StoreOp
_ACCESS = (memref.LoadOp, memref.StoreOp)


def _jammable(outer: scf.ForOp) -> tuple[scf.ForOp, set[SSAValue]] | None:
    """The inner loop of `outer` and the nest's varying values, if the nest may
    be jammed."""
    if outer.results or constant_int(outer.step) != 1:
        return None
    ops = list(outer.body.block.ops)
    head, inner = ops[:-2], ops[-2] if len(ops) > 1 else None
    if not (isinstance(inner, scf.ForOp) and not inner.results
            and all(pure(op) for op in head)):
        return None
    body = inner.body.block
    if not all(pure(op) or isinstance(op, (*_ACCESS, scf.YieldOp))
               for op in body.ops):
        return None
    varying = _varying(outer, inner)
    if any(v in varying for v in (inner.lb, inner.ub, inner.step)):
        return None
    if _independent(inner, varying) and _shares(inner, varying):
        return inner, varying
    return None


def _independent(inner: scf.ForOp, varying: set[SSAValue]) -> bool:
    """Whether each stored array is indexed by one affine form of the inner counter."""
    body = inner.body.block
    iv = body.args[0]
    accesses = [op for op in body.ops if isinstance(op, _ACCESS)]
    for target in {op.memref for op in accesses if isinstance(op, memref.StoreOp)}:
        shared: set | None = None
        for op in accesses:
            if op.memref is not target:
                continue
            forms = {(dim, form) for dim, i in enumerate(op.indices)
                     if (form := affine_form(i, iv, body)) is not None and form[0]
                     and not any(t in varying for t, _ in form[1])}
            shared = forms if shared is None else shared & forms
        if not shared:
            return False
    return True


def _varying(outer: scf.ForOp, inner: scf.ForOp) -> set[SSAValue]:
    """Values of the nest that may differ between the outer loop's iterations:
    its counter, what is computed from it, and what is loaded."""
    varying: set[SSAValue] = {outer.body.block.args[0]}
    for block in (outer.body.block, inner.body.block):
        for op in block.ops:
            if isinstance(op, memref.LoadOp) or any(v in varying for v in op.operands):
                varying.update(op.results)
    return varying


def _shares(inner: scf.ForOp, varying: set[SSAValue]) -> bool:
    return any(isinstance(op, _ACCESS) and not any(i in varying for i in op.indices)
               for op in inner.body.block.ops)


def _same_place(a: _Access, b: _Access) -> bool:
    return a.memref is b.memref and list(a.indices) == list(b.indices)


def _forward(block: Block) -> None:
    """A load of the element last stored or loaded takes that value; a store
    overwritten before any load of its array goes."""
    ops = list(block.ops)
    gone: set[Operation] = set()
    for n, load in enumerate(ops):
        if not isinstance(load, memref.LoadOp):
            continue
        for earlier in reversed(ops[:n]):
            if (earlier in gone or not isinstance(earlier, _ACCESS)
                    or earlier.memref is not load.memref):
                continue
            if _same_place(earlier, load):
                value = earlier.value if isinstance(earlier, memref.StoreOp) else earlier.res
                load.res.replace_all_uses_with(value)
                Rewriter.erase_op(load)
                gone.add(load)
            if isinstance(earlier, memref.StoreOp) or _same_place(earlier, load):
                break
    ops = list(block.ops)
    for n, store in enumerate(ops):
        if not isinstance(store, memref.StoreOp):
            continue
        for later in ops[n + 1:]:
            if not isinstance(later, _ACCESS) or later.memref is not store.memref:
                continue
            if isinstance(later, memref.LoadOp):
                break
            if _same_place(later, store):
                Rewriter.erase_op(store)
                break


def _constant(value: int, like: SSAValue) -> arith.ConstantOp:
    return arith.ConstantOp(IntegerAttr(value, like.type))


def _jam(outer: scf.ForOp, inner: scf.ForOp, varying: set[SSAValue]) -> None:
    """Insert the jammed loop before `outer`, which keeps the remainder."""
    before = InsertPoint.before(outer)
    zero, step = _constant(0, outer.lb), _constant(COPIES, outer.lb)
    trips = arith.SubiOp(outer.ub, outer.lb)
    trips_ge0 = arith.MaxSIOp(trips, zero)
    rest = arith.RemSIOp(trips_ge0, step)
    jammed_trips = arith.SubiOp(trips_ge0, rest)
    split = arith.AddiOp(outer.lb, jammed_trips)
    Rewriter.insert_op([zero, step, trips, trips_ge0, rest, jammed_trips, split], before)

    head = Block(arg_types=[outer.body.block.args[0].type])
    body = Block(arg_types=[inner.body.block.args[0].type])
    first: dict[SSAValue, SSAValue] = {}
    for copy in range(COPIES):
        mapping: dict[SSAValue, SSAValue] = {inner.body.block.args[0]: body.args[0]}
        counter = head.args[0]
        if copy:
            offset = _constant(copy, counter)
            counter = arith.AddiOp(counter, offset).result
            head.add_ops([offset, counter.owner])
        mapping[outer.body.block.args[0]] = counter
        for block, target in ((outer.body.block, head), (inner.body.block, body)):
            for op in block.ops:
                if op is inner or isinstance(op, scf.YieldOp):
                    continue
                if copy and pure(op) and not any(r in varying for r in op.results):
                    mapping.update((r, first[r]) for r in op.results)
                    continue
                target.add_op(op.clone(value_mapper=mapping))
        if not copy:
            first = dict(mapping)
    _forward(body)
    body.add_op(scf.YieldOp())
    bounds = [first.get(v, v) for v in (inner.lb, inner.ub, inner.step)]
    jammed_inner = scf.ForOp(*bounds, [], Region(body))
    jammed_inner.attributes.update(inner.attributes)
    head.add_ops([jammed_inner, scf.YieldOp()])
    jammed = scf.ForOp(outer.lb, split, step, [], Region(head))
    jammed.attributes.update(outer.attributes)
    Rewriter.insert_op(jammed, before)
    outer.operands = [split.result, outer.ub, outer.step]


class JamAdjointLoops(ModulePass):
    """Run four iterations of a reverse loop per pass of the loop it holds."""

    name = "jam-adjoint-loops"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        nests = [(loop, *nest) for loop in op.walk()
                 if isinstance(loop, scf.ForOp) and ADJOINT in loop.attributes
                 and (nest := _jammable(loop)) is not None]
        for outer, inner, varying in nests:
            _jam(outer, inner, varying)
