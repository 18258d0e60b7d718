"""Integer values as affine forms of a loop counter: `c * iv + sum(n_k * t_k) + k`
with t_k loop-invariant values, read through addi, subi, muli by constants,
index casts and sign extensions; and which ops are pure. Used by the loop passes."""

from __future__ import annotations

from collections import Counter

from xdsl.dialects import arith, math, memref
from xdsl.dialects.builtin import IntegerAttr
from xdsl.ir import Block, Operation, SSAValue

# (c, {(invariant, count)}, constant)
Affine = tuple[int, frozenset[tuple[SSAValue, int]], int]


def inside(v: SSAValue, body: Block) -> bool:
    """Whether `v` is defined in `body` or in a region nested in it."""
    owner = v.owner
    block = owner if isinstance(owner, Block) else owner.parent_block()
    while block is not None:
        if block is body:
            return True
        parent = block.parent_op()
        block = parent.parent_block() if parent is not None else None
    return False


def combine(a: Affine, b: Affine, sign: int) -> Affine:
    """a + sign * b."""
    terms = Counter(dict(a[1]))
    for t, n in b[1]:
        terms[t] += sign * n
    return a[0] + sign * b[0], frozenset((t, n) for t, n in terms.items() if n), a[2] + sign * b[2]


def constant_int(v: SSAValue) -> int | None:
    """The value of an integer `arith.constant`, or None."""
    op = v.owner
    if isinstance(op, arith.ConstantOp) and isinstance(op.value, IntegerAttr):
        return op.value.value.data
    return None


def affine_form(v: SSAValue, iv: SSAValue, body: Block) -> Affine | None:
    """`v` as an affine form of the counter `iv` of the loop whose body is
    `body`, or None."""
    if v is iv:
        return 1, frozenset(), 0
    if (k := constant_int(v)) is not None:
        return 0, frozenset(), k
    if not inside(v, body):
        return 0, frozenset({(v, 1)}), 0
    op = v.owner
    match op:
        case arith.IndexCastOp() | arith.ExtSIOp():
            return affine_form(op.operands[0], iv, body)
        case arith.AddiOp() | arith.SubiOp():
            a, b = affine_form(op.lhs, iv, body), affine_form(op.rhs, iv, body)
            if a is None or b is None:
                return None
            return combine(a, b, 1 if isinstance(op, arith.AddiOp) else -1)
        case arith.MuliOp():
            a, b = affine_form(op.lhs, iv, body), affine_form(op.rhs, iv, body)
            if a is None or b is None:
                return None
            if not b[0] and not b[1]:
                a, b = b, a
            if a[0] or a[1]:
                return None  # neither factor is a constant
            k = a[2]
            return b[0] * k, frozenset((t, n * k) for t, n in b[1]), b[2] * k
    return None


def pure(op: Operation) -> bool:
    """An arith/math op without regions, or a `memref.dim`: one a loop pass may
    copy, move or share."""
    return (op.dialect_name() in (arith.Arith.name, math.Math.name) and not op.regions
            or isinstance(op, memref.DimOp))
