"""`ad-lower-cache`: `ad` caches to growable memref buffers.

A cache becomes three SSA values, threaded through every scf op and call that
uses it (iter_args, condition and yield operands, results): the buffer
`memref<?xT>`, the count `top` and the capacity `cap` (i64). A cache that is a
function argument becomes those three arguments, and the function returns
their final values after its results, so a callee pushes onto its caller's
cache.

- `ad.init`: a buffer of the capacity this cache had when its function last
  returned (`@cofactor_tape_hint(slot)`; 0 the first time), freed when its
  function returns, which records the capacity (`@cofactor_tape_keep`): the
  largest any call needed so far, as a vector keeps its capacity.
  Each `ad.init` has its own slot; the module attribute `TAPE_SLOTS` counts
  them and code generation defines the two functions over a table of that
  many counts. From the second call on, a tape that grows (a while loop, a
  loop calling functions that push) is allocated once at its final size
  instead of being copied by `realloc` as it doubles;
- `ad.reserve %c, %n`: if `top + n > cap`, a call of `@ad_cache_grow_<T>`
  `realloc`s the buffer to capacity `max(2 cap, top + n)`: a reservation
  before a loop nest allocates its exact size once, a reservation per
  iteration of a while loop grows geometrically, and growing moves no data
  (the C library remaps large blocks);
- `ad.push`: `buf[top] = v; top += 1` (the slot was reserved);
- `ad.pop`: `top -= 1; v = buf[top]`.

A cache of arrays stores each array's descriptor (data pointer, sizes,
strides) as i64 slots, with llvm ops bridged by unrealized casts as
docs/internals.md describes; lower-func-to-llvm resolves them.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.context import Context
from xdsl.dialects import arith, func, llvm, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DenseArrayBase,
    FunctionType,
    IndexType,
    IntegerAttr,
    MemRefType,
    ModuleOp,
    UnrealizedConversionCastOp,
    i64,
)
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from cofactor.dialects.ad import CacheType, InitOp, PopOp, PushOp, ReserveOp
from cofactor.passes._llvm_types import PTR, descriptor_type
from cofactor.passes._tangent_rules import Emit

State = tuple[SSAValue, SSAValue, SSAValue]  # buffer, top, capacity


def _storage(cache: Attribute) -> Attribute:
    """The buffer's element type: i64 slots for a cache of arrays."""
    assert isinstance(cache, CacheType)
    return i64 if isinstance(cache.element, MemRefType) else cache.element


def _slots(cache: Attribute) -> int:
    """Buffer elements per cached value: 1, or 1 + 2 rank for an array."""
    assert isinstance(cache, CacheType)
    t = cache.element
    return 1 + 2 * t.get_num_dims() if isinstance(t, MemRefType) else 1


def _buffer_type(cache: Attribute) -> MemRefType:
    return MemRefType(_storage(cache), [DYNAMIC_INDEX])


def _state_types(cache: Attribute) -> list[Attribute]:
    return [_buffer_type(cache), i64, i64]


def _uses(op: Operation) -> list[SSAValue]:
    """The caches used inside `op`'s regions (or by `op`), in first-use order."""
    found: dict[SSAValue, None] = {}
    for inner in op.walk():
        for v in inner.operands:
            if isinstance(v.type, CacheType):
                found[v] = None
    return list(found)


def _index(e: Emit, v: SSAValue) -> SSAValue:
    return e.op(arith.IndexCastOp(v, IndexType()))


TAPE_SLOTS = "cofactor.tape_slots"


class _Lowering:
    def __init__(self, module: ModuleOp):
        self.module = module
        self._grow: dict[Attribute, str] = {}
        self._libc: set[str] = set()
        self.slots: dict[SSAValue, int] = {}

    def declare(self, name: str, inputs: list[Attribute], outputs: list[Attribute]) -> str:
        """Declare external function `name` (C library or runtime) once."""
        if name not in self._libc:
            self.module.body.block.add_op(func.FuncOp.external(name, inputs, outputs))
            self._libc.add(name)
        return name

    def grow_function(self, element: Attribute) -> str:
        """`@ad_cache_grow_<T>(buf, top, cap, n) -> (buf', cap')`: the buffer
        `realloc`ed to capacity max(2 cap, top + n)."""
        if element not in self._grow:
            t = MemRefType(element, [DYNAMIC_INDEX])
            block = Block(arg_types=[t, i64, i64, i64])
            buf, top, cap, n = block.args
            e = Emit(InsertPoint.at_end(block))
            new_cap = e.op(arith.MaxSIOp(e.op(arith.MuliOp(cap, e.const(2, i64))),
                                         e.op(arith.AddiOp(top, n))))
            nbytes = e.op(arith.MuliOp(new_cap, e.const(_BYTES[str(element)], i64)))
            realloc = self.declare("realloc", [PTR, i64], [PTR])
            ptr = e.insert(func.CallOp(realloc, [_pointer(e, buf), nbytes], [PTR])).results[0]
            e.insert(func.ReturnOp(_buffer(e, t, ptr, new_cap), new_cap))
            name = f"ad_cache_grow_{element}"
            self.module.body.block.add_op(
                func.FuncOp(name, ([t, i64, i64, i64], [t, i64]), Region(block),
                            visibility="private"))
            self._grow[element] = name
        return self._grow[element]

    def function(self, fn: func.FuncOp) -> None:
        block = fn.body.block
        state: dict[SSAValue, State] = {}
        cache_args = [a for a in block.args if isinstance(a.type, CacheType)]
        for arg in cache_args:
            index = arg.index
            buf = block.insert_arg(_buffer_type(arg.type), index)
            top = block.insert_arg(i64, index + 1)
            cap = block.insert_arg(i64, index + 2)
            state[arg] = (buf, top, cap)
        owned = self.block(block, state)
        ret = block.last_op
        assert isinstance(ret, func.ReturnOp)
        e = Emit(InsertPoint.before(ret))
        for cache in owned:
            buf, _, cap = state[cache]
            keep = self.declare("cofactor_tape_keep", [i64, i64], [])
            e.insert(func.CallOp(keep, [e.const(self.slots[cache], i64), cap], []))
            free = self.declare("free", [PTR], [])
            e.insert(func.CallOp(free, [_pointer(e, buf)], []))
        finals = [v for arg in cache_args for v in state[arg]]
        Rewriter.replace_op(ret, func.ReturnOp(*ret.operands, *finals))
        for cache in owned:
            Rewriter.erase_op(cache.owner)
        for arg in cache_args:
            block.erase_arg(arg)
        fn.function_type = FunctionType.from_lists(
            [a.type for a in block.args], [*fn.function_type.outputs.data,
                                           *(v.type for v in finals)])

    def block(self, block: Block, state: dict[SSAValue, State]) -> list[SSAValue]:
        """Lower the cache ops of `block`, updating `state`; returns the caches
        it creates."""
        created: list[SSAValue] = []
        for op in list(block.ops):
            e = Emit(InsertPoint.before(op))
            if isinstance(op, InitOp):
                null = e.op(llvm.ZeroOp(result_types=[PTR]))
                buf = _buffer(e, _buffer_type(op.cache.type), null, e.const(0, i64))
                buf.name_hint = "tape"
                self.slots[op.cache] = len(self.slots)
                hint = self.declare("cofactor_tape_hint", [i64], [i64])
                size = e.insert(func.CallOp(hint, [e.const(self.slots[op.cache], i64)],
                                            [i64])).results[0]
                zero = e.const(0, i64)
                buf, cap = self.ensure(e, op.cache.type, buf, zero, zero, size)
                state[op.cache] = (buf, zero, cap)
                created.append(op.cache)
                continue
            elif isinstance(op, ReserveOp):
                state[op.cache] = self.reserve(e, op.cache.type, state[op.cache], op.count)
            elif isinstance(op, PushOp):
                state[op.cache] = self.push(e, op.cache.type, state[op.cache], op.value)
            elif isinstance(op, PopOp):
                buf, top, cap = state[op.cache]
                top = e.op(arith.SubiOp(top, e.const(1, i64)))
                op.value.replace_all_uses_with(self.load(e, op.cache.type, buf, top))
                state[op.cache] = (buf, top, cap)
            elif isinstance(op, func.CallOp) and any(
                    isinstance(v.type, CacheType) for v in op.operands):
                self.call(e, op, state)
                continue
            elif isinstance(op, scf.ForOp | scf.WhileOp | scf.IfOp) and _uses(op):
                self.region_op(e, op, state)
                continue
            else:
                continue
            Rewriter.erase_op(op)
        return created

    def reserve(self, e: Emit, cache: Attribute, state: State, count: SSAValue) -> State:
        buf, top, cap = state
        slots = _slots(cache)
        if slots > 1:
            count = e.op(arith.MuliOp(count, e.const(slots, i64)))
            top = e.op(arith.MuliOp(top, e.const(slots, i64)))
        buf, cap = self.ensure(e, cache, buf, top, cap, count)
        return buf, state[1], cap

    def ensure(self, e: Emit, cache: Attribute, buf: SSAValue, top: SSAValue, cap: SSAValue,
               count: SSAValue) -> tuple[SSAValue, SSAValue]:
        """Room for `count` more buffer elements above `top` (all in buffer
        elements): the buffer and capacity, grown if they were short."""
        full = e.op(arith.CmpiOp(e.op(arith.AddiOp(top, count)), cap, "sgt"))
        grow, keep = Block(), Block()
        grown = func.CallOp(self.grow_function(_storage(cache)), [buf, top, cap, count],
                            [buf.type, i64])
        grow.add_ops([grown, scf.YieldOp(*grown.results)])
        keep.add_op(scf.YieldOp(buf, cap))
        branch = e.insert(scf.IfOp(full, [buf.type, i64], Region(grow), Region(keep)))
        return branch.results[0], branch.results[1]

    def push(self, e: Emit, cache: Attribute, state: State, value: SSAValue) -> State:
        buf, top, cap = state
        if isinstance(value.type, MemRefType):
            slots = _slots(cache)
            base = e.op(arith.MuliOp(top, e.const(slots, i64)))
            for k, word in enumerate(_descriptor_words(e, value)):
                at = e.op(arith.AddiOp(base, e.const(k, i64))) if k else base
                e.insert(memref.StoreOp.get(word, buf, [_index(e, at)]))
        else:
            e.insert(memref.StoreOp.get(value, buf, [_index(e, top)]))
        return buf, e.op(arith.AddiOp(top, e.const(1, i64))), cap

    def load(self, e: Emit, cache: Attribute, buf: SSAValue, top: SSAValue) -> SSAValue:
        assert isinstance(cache, CacheType)
        t = cache.element
        if not isinstance(t, MemRefType):
            return e.op(memref.LoadOp.get(buf, [_index(e, top)]))
        base = e.op(arith.MuliOp(top, e.const(_slots(cache), i64)))
        words = [e.op(memref.LoadOp.get(buf, [_index(e, e.op(arith.AddiOp(
            base, e.const(k, i64))) if k else base)])) for k in range(_slots(cache))]
        return _from_descriptor_words(e, t, words)

    def call(self, e: Emit, op: func.CallOp, state: dict[SSAValue, State]) -> None:
        caches = [v for v in op.operands if isinstance(v.type, CacheType)]
        operands = [x for v in op.operands
                    for x in (state[v] if isinstance(v.type, CacheType) else (v,))]
        types = [*(r.type for r in op.results), *(t for c in caches for t in _state_types(c.type))]
        new = e.insert(func.CallOp(op.callee, operands, types))
        n = len(op.results)
        for old, res in zip(op.results, new.results[:n], strict=True):
            old.replace_all_uses_with(res)
        for k, cache in enumerate(caches):
            state[cache] = tuple(new.results[n + 3 * k:n + 3 * k + 3])
        Rewriter.erase_op(op)

    def region_op(self, e: Emit, op: Operation, state: dict[SSAValue, State]) -> None:
        """Thread the states of the caches `op` uses through it."""
        caches = _uses(op)
        extra = [v for c in caches for v in state[c]]
        types = [t for c in caches for t in _state_types(c.type)]
        n = len(op.results)

        def inner_state(values: Sequence[SSAValue]) -> dict[SSAValue, State]:
            inner = dict(state)
            for k, cache in enumerate(caches):
                inner[cache] = tuple(values[3 * k:3 * k + 3])
            return inner

        def finish(block: Block, inner: dict[SSAValue, State]) -> None:
            term = block.last_op
            assert term is not None
            Rewriter.replace_op(term, term.create(
                operands=[*term.operands, *(v for c in caches for v in inner[c])]))

        if isinstance(op, scf.ForOp):
            body = op.detach_region(op.body)
            new = scf.ForOp(op.lb, op.ub, op.step, [*op.iter_args, *extra], body)
            block = body.block
            args = [block.insert_arg(t, len(block.args)) for t in types]
            inner = inner_state(args)
            self.block(block, inner)
            finish(block, inner)
        elif isinstance(op, scf.WhileOp):
            before, after = (op.detach_region(r) for r in (op.before_region, op.after_region))
            new = scf.WhileOp([*op.arguments, *extra], [*(r.type for r in op.results), *types],
                              before, after)
            for region in (before, after):
                block = region.block
                args = [block.insert_arg(t, len(block.args)) for t in types]
                inner = inner_state(args)
                self.block(block, inner)
                finish(block, inner)
        else:
            assert isinstance(op, scf.IfOp)
            regions = [op.detach_region(r) for r in list(op.regions)]
            if not regions[1].blocks:
                regions[1].add_block(Block([scf.YieldOp()]))
            new = scf.IfOp(op.cond, [*(r.type for r in op.results), *types], *regions)
            for region in regions:
                inner = inner_state(extra)
                self.block(region.block, inner)
                finish(region.block, inner)
        e.insert(new)
        for old, res in zip(op.results, new.results[:n], strict=True):
            old.replace_all_uses_with(res)
        for k, cache in enumerate(caches):
            state[cache] = tuple(new.results[n + 3 * k:n + 3 * k + 3])
        Rewriter.erase_op(op)


_BYTES = {"f64": 8, "f32": 4, "i64": 8, "i1": 1}


def _pointer(e: Emit, buffer: SSAValue) -> SSAValue:
    """The data pointer of a buffer."""
    desc = e.op(UnrealizedConversionCastOp.get([buffer], [descriptor_type(buffer.type)]))
    return e.op(llvm.ExtractValueOp(DenseArrayBase.from_list(i64, [0]), desc, PTR))


def _buffer(e: Emit, t: MemRefType, ptr: SSAValue, size: SSAValue) -> SSAValue:
    """The 1-d buffer of `size` elements at `ptr`."""
    return _from_descriptor_words(e, t, [ptr, size, e.const(1, i64)])


def _descriptor_words(e: Emit, array: SSAValue) -> list[SSAValue]:
    """An array's descriptor as i64 words: data pointer, sizes, strides."""
    t = array.type
    assert isinstance(t, MemRefType)
    desc = e.op(UnrealizedConversionCastOp.get([array], [descriptor_type(t)]))
    ptr = e.op(llvm.ExtractValueOp(DenseArrayBase.from_list(i64, [0]), desc, PTR))
    words = [e.op(llvm.PtrToIntOp(ptr, i64))]
    for field in (1, 2):
        words += [e.op(llvm.ExtractValueOp(DenseArrayBase.from_list(i64, [field, k]), desc, i64))
                  for k in range(t.get_num_dims())]
    return words


def _from_descriptor_words(e: Emit, t: MemRefType, words: list[SSAValue]) -> SSAValue:
    """The array of descriptor `words` (its pointer as an i64, or as a pointer)."""
    desc = e.op(llvm.UndefOp(descriptor_type(t)))
    ptr = words[0] if words[0].type == PTR else e.op(llvm.IntToPtrOp(words[0]))
    positions = [[0]] + [[field, k] for field in (1, 2) for k in range(t.get_num_dims())]
    for position, value in zip(positions, [ptr, *words[1:]], strict=True):
        desc = e.op(llvm.InsertValueOp(DenseArrayBase.from_list(i64, position), desc, value))
    return e.op(UnrealizedConversionCastOp.get([desc], [t]))


class AdLowerCache(ModulePass):
    """Lower `ad.init`/`reserve`/`push`/`pop` to memref buffers."""

    name = "ad-lower-cache"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        lowering = _Lowering(op)
        for fn in list(op.ops):
            if isinstance(fn, func.FuncOp) and fn.body.blocks and (
                    any(isinstance(a.type, CacheType) for a in fn.args) or _uses(fn)):
                lowering.function(fn)
        if lowering.slots:
            op.attributes[TAPE_SLOTS] = IntegerAttr(len(lowering.slots), i64)
