"""Calling compiled entry points from Python.

An entry point has the C ABI of docs/internals.md section 3. Two callers:

- `add_python_entry` generates, into the compiled module, a CPython function
  `PyObject *NAME.py(PyObject *self, PyObject *const *args, Py_ssize_t n)`
  (METH_FASTCALL) that reads floats and ints through the C API and NumPy
  arrays straight from their object layout, calls the entry point and builds
  the result; `python_callable` wraps it as a builtin function. This is the
  fast path (well under a microsecond per call).
- `ctypes_callable` calls any entry point address through ctypes (AOT
  libraries, checks); several microseconds per call.

Types are given in the notation of `cofactor.compiler.types` (its objects,
or their string forms): scalars "f64", "f32", "i64", "bool"; arrays
"f64[:,:]"; tuples "(f64, i64[:])"; "None".

Returned arrays own their memory through their NumPy base: a capsule (fast
path) or an `_Owner` (ctypes) frees the malloc block when the last array
using it is collected. A returned array that is a view of an argument (owner
0) keeps that argument alive as its base.

Only the fast path needs llvmlite, and imports it when it first builds an
entry point (`_import_ir`): the rest runs where only NumPy is installed
(`cofactor.load`).
"""

from __future__ import annotations

import ctypes
import operator
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from llvmlite import ir

# --------------------------------------------------------------------------
# types


@dataclass(frozen=True)
class Array:
    dtype: str
    ndim: int

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(':' * self.ndim)}]"


# A parsed type: a scalar name, an Array, a tuple of types, or None.
Type = str | Array | tuple | None

_DTYPES = {
    "f64": np.dtype(np.float64),
    "f32": np.dtype(np.float32),
    "i64": np.dtype(np.int64),
    "bool": np.dtype(np.bool_),
}
_LEAF = re.compile(r"(f64|f32|i64|bool)(?:\[\s*(:(?:\s*,\s*:)*)\s*\])?")


def parse_type(t: object) -> Type:
    """Parse a type given as a string, a parsed type, or any object whose
    `str` is the notation (the `cofactor.compiler.types` objects)."""
    if t is None or isinstance(t, Array):
        return t
    if isinstance(t, tuple):
        return tuple(parse_type(e) for e in t)
    text = str(t).strip()
    if text == "None":
        return None
    if text.startswith("(") and text.endswith(")"):
        return tuple(parse_type(part) for part in _split_top(text[1:-1]) if part.strip())
    match = _LEAF.fullmatch(text)
    if match is None:
        raise ValueError(f"not a cofactor type: {text!r}")
    return Array(match[1], match[2].count(":")) if match[2] else match[1]


def _split_top(text: str) -> list[str]:
    """Split on the commas that are not inside brackets or parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "[("
        depth -= ch in "])"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def format_type(t: Type) -> str:
    if t is None:
        return "None"
    if isinstance(t, tuple):
        return "(" + ", ".join(map(format_type, t)) + ")"
    return str(t)


def flatten(t: Type) -> list[str | Array]:
    """The scalars and arrays of `t` in order: one entry-point result slot each."""
    if t is None:
        return []
    if isinstance(t, tuple):
        return [leaf for e in t for leaf in flatten(e)]
    return [t]


@dataclass
class EntryInfo:
    """What the runtime needs to call a compiled entry point; JSON-friendly
    (`to_json`, `from_json`) so that the disk cache can store it.

    `name` is the C entry symbol, `messages` the assert messages indexed by
    the AssertionError's info."""

    name: str
    arg_types: Sequence[object]
    result_type: object
    messages: Sequence[str] = field(default_factory=tuple)
    written: Sequence[int] = field(default_factory=tuple)  # array arguments it may store into

    def __post_init__(self):
        self.arg_types = tuple(format_type(parse_type(t)) for t in self.arg_types)
        self.result_type = format_type(parse_type(self.result_type))
        self.messages = tuple(self.messages)
        self.written = tuple(sorted(self.written))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EntryInfo:
        return cls(**data)


# --------------------------------------------------------------------------
# errors and argument checks shared by both callers


class TapeLimitExceeded(RuntimeError):
    """A gradient built with its tape limit guarded (rt error 5) met a loop whose
    tape would exceed the limit; `grad` then builds the version that
    checkpoints such loops and calls it instead."""


def _raiser(messages: Sequence[str]) -> Callable[[int, int, int, int], None]:
    """Raise the Python exception of an entry point's error status."""

    def raise_error(code: int, a: int, b: int, c: int) -> None:
        if code == 1:
            raise IndexError(f"index {a} is out of bounds for axis {b} with size {c}")
        if code == 2:
            raise ZeroDivisionError("division by zero")
        if code == 3:
            message = messages[a] if 0 <= a < len(messages) else ""
            raise AssertionError(message) if message else AssertionError()
        if code == 4:
            raise ValueError(messages[a] if 0 <= a < len(messages) else "")
        if code == 5:
            raise TapeLimitExceeded("a loop's tape would exceed the tape limit")
        raise RuntimeError(f"compiled code failed with unknown error code {code}")

    return raise_error


def _array_problem(x: object, t: Array, written: bool = False) -> str | None:
    """Why `x` cannot be passed as an array of type `t`, or None."""
    if not isinstance(x, np.ndarray):
        return f"expected a NumPy array {t}, got {type(x).__name__}"
    if x.ndim != t.ndim or x.dtype != _DTYPES[t.dtype]:
        return f"expected a NumPy array {t}, got dtype {x.dtype} with ndim {x.ndim}"
    if not x.flags.aligned:
        return "the array is not aligned"
    if any(s % x.itemsize for s in x.strides):
        return "the array's strides are not multiples of its item size"
    if written and not x.flags.writeable:
        return "assignment destination is read-only"
    return None


def _arg_error(info: EntryInfo) -> Callable[..., None]:
    """Explain why arguments were rejected by the fast path, as a TypeError."""
    types = [parse_type(t) for t in info.arg_types]

    def arg_error(*args: object) -> None:
        if len(args) != len(types):
            raise TypeError(f"{info.name}() takes {len(types)} arguments ({len(args)} given)")
        for i, (x, t) in enumerate(zip(args, types, strict=True)):
            if isinstance(t, Array) and (problem := _array_problem(x, t, i in info.written)):
                error = ValueError if problem.endswith("read-only") else TypeError
                raise error(f"{info.name}() argument {i}: {problem}")
        raise TypeError(f"{info.name}(): arguments rejected")

    return arg_error


# --------------------------------------------------------------------------
# the fast path: a generated CPython-API function


@cache
def _import_ir() -> None:
    """Import llvmlite and define the module's IR constants."""
    global ir, PTR, I1, I8, I32, I64, F64, VOID, NULL, _C_TYPE
    from llvmlite import ir

    PTR = ir.PointerType()
    I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
    F64, VOID = ir.DoubleType(), ir.VoidType()
    NULL = ir.Constant(PTR, None)
    _C_TYPE = {"f64": F64, "f32": ir.FloatType(), "i64": I64, "bool": I8}


# Object layouts (64-bit CPython with the GIL, NumPy 1.x and 2.x agree).
_OB_TYPE = 8
_ND_DATA, _ND_NDIM, _ND_DIMS, _ND_STRIDES, _ND_DESCR, _ND_FLAGS = 16, 24, 32, 40, 56, 64
_DESCR_BYTEORDER, _DESCR_TYPE_NUM = 26, 28
_TUPLE_ITEMS = 24
_NPY_WRITEABLE, _NPY_ALIGNED = 0x400, 0x100
# Slots of NumPy's C-API table PyArray_API.
_API_TYPE, _API_DESCR_FROM_TYPE, _API_NEW_FROM_DESCR, _API_SET_BASE = 2, 45, 94, 282
_METH_FASTCALL = 0x80
_FOREIGN_BYTEORDER = ord(">" if sys.byteorder == "little" else "<")


def _type_nums(dtype: str) -> set[int]:
    """NumPy type numbers of `dtype` (int64 is both `long` and `longlong` on LP64)."""
    nums = {_DTYPES[dtype].num}
    if dtype == "i64" and np.dtype(np.longlong).itemsize == 8:
        nums.add(np.dtype(np.longlong).num)
    return nums


def _i64(n: int) -> ir.Constant:
    return ir.Constant(I64, n)


def _i32(n: int) -> ir.Constant:
    return ir.Constant(I32, n)


class _ArrayArg(NamedTuple):
    data: ir.Value
    sizes: list[ir.Value]
    steps: list[ir.Value]  # strides in elements
    flags: ir.Value
    itemsize: int
    obj: ir.Value


class _PyEntry:
    """Builds the METH_FASTCALL function of one entry point."""

    def __init__(self, llmod: ir.Module, info: EntryInfo):
        self.llmod = llmod
        self.info = info
        self.args = [parse_type(t) for t in info.arg_types]
        self.result = parse_type(info.result_type)
        self.leaves = flatten(self.result)
        self.fn = ir.Function(llmod, ir.FunctionType(PTR, [PTR, PTR, I64]), info.name + ".py")
        self.b = ir.IRBuilder(self.fn.append_basic_block("entry"))
        self.reject = self.fn.append_basic_block("reject")
        self.fail = self.fn.append_basic_block("fail")

    def api(self, name: str, ret: ir.Type, *args: ir.Type, var_arg: bool = False) -> ir.Function:
        fn = self.llmod.globals.get(name)
        return fn or ir.Function(self.llmod, ir.FunctionType(ret, args, var_arg=var_arg), name)

    def call(self, name: str, ret: ir.Type, *args: ir.Value) -> ir.Instruction:
        types = [PTR if isinstance(a.type, ir.PointerType) else a.type for a in args]
        return self.b.call(self.api(name, ret, *types), args)

    def field(self, ptr: ir.Value, offset: int, typ: ir.Type) -> ir.Instruction:
        return self.b.load(self.b.gep(ptr, [_i64(offset)], source_etype=I8), typ=typ)

    def npy(self, table: ir.Value, slot: int, ret: ir.Type, *args: ir.Value) -> ir.Instruction:
        """Call the function in slot `slot` of NumPy's C-API table."""
        fnty = ir.FunctionType(ret, [PTR if isinstance(a.type, ir.PointerType) else a.type
                                     for a in args])
        slot_ptr = self.b.gep(table, [_i64(slot)], source_etype=PTR)
        fnptr = self.b.load(slot_ptr, typ=fnty.as_pointer())
        return self.b.call(fnptr, args)

    def require(self, ok: ir.Value, otherwise: ir.Block) -> None:
        cont = self.b.append_basic_block("ok")
        self.b.cbranch(ok, cont, otherwise)
        self.b.position_at_end(cont)

    def fail_if_error(self, maybe: ir.Value) -> None:
        """After a C-API conversion whose result `maybe` signals an error."""
        with self.b.if_then(maybe, likely=False):
            self.require(self.b.icmp_unsigned("==", self.call("PyErr_Occurred", PTR), NULL),
                         self.fail)

    def build(self) -> None:
        b, info = self.b, self.info
        self_obj, args, nargs = self.fn.args
        api_table = ir.GlobalVariable(self.llmod, PTR, info.name + ".npy_api")
        api_table.initializer = NULL
        table = b.load(api_table, typ=PTR)
        ndarray = b.load(b.gep(table, [_i64(_API_TYPE)], source_etype=PTR), typ=PTR)

        # Every object the result needs is noted in `objs` (leaves, then
        # tuples) and every capsule in `caps`, so that `fail` can release them.
        n, n_objs = len(self.leaves), len(self.leaves) + _count_tuples(self.result)
        outs = [b.alloca(ir.ArrayType(I64, 2 + 2 * t.ndim) if isinstance(t, Array) else _C_TYPE[t])
                for t in self.leaves]
        err = b.alloca(ir.ArrayType(I64, 4))
        objs = b.alloca(ir.ArrayType(PTR, n_objs))
        b.store(ir.Constant(objs.allocated_type, None), objs)
        caps = b.alloca(ir.ArrayType(PTR, n))
        b.store(ir.Constant(caps.allocated_type, None), caps)
        failed = b.alloca(I1)
        b.store(ir.Constant(I1, 0), failed)
        self.require(b.icmp_signed("==", nargs, _i64(len(self.args))), self.reject)

        c_args, arrays = self.convert_args(args, ndarray)
        status = b.call(self.llmod.globals[info.name], [*c_args, *outs, err])
        with b.if_then(b.icmp_unsigned("!=", status, _i32(0)), likely=False):
            # self[1](code, a, b, c) raises the exception
            raise_error = self.field(self_obj, _TUPLE_ITEMS + 8, PTR)
            fmt = self.constant_string(info.name + ".fmt", "LLLL")
            codes = [b.load(b.gep(err, [_i32(0), _i32(k)]), typ=I64) for k in range(4)]
            call_function = self.api("PyObject_CallFunction", PTR, PTR, PTR, var_arg=True)
            b.ret(b.call(call_function, [raise_error, fmt, *codes]))

        owners = self.wrap_owners(outs, caps, failed)
        self.require(b.not_(b.load(failed)), self.fail)
        items = []
        for j, (t, out) in enumerate(zip(self.leaves, outs, strict=True)):
            if isinstance(t, Array):
                cap = b.load(b.gep(caps, [_i32(0), _i32(j)]), typ=PTR)
                item = self.array_result(t, out, owners[j], cap, arrays, table, ndarray, objs, j)
            else:
                item = self.scalar_result(t, out)
                b.store(item, b.gep(objs, [_i32(0), _i32(j)]))
                self.require(b.icmp_unsigned("!=", item, NULL), self.fail)
            items.append(item)
        result = self.pack(self.result, iter(items), objs, iter(range(n, n_objs)))
        for j in owners:
            self.call("Py_DecRef", VOID, b.load(b.gep(caps, [_i32(0), _i32(j)]), typ=PTR))
        b.ret(result())

        b.position_at_end(self.reject)  # self[0](*args) raises a TypeError
        arg_error = self.field(self_obj, _TUPLE_ITEMS, PTR)
        b.ret(self.call("PyObject_Vectorcall", PTR, arg_error, args, nargs, NULL))

        b.position_at_end(self.fail)
        for slots, count in ((objs, n_objs), (caps, n)):
            for j in range(count):
                item = b.load(b.gep(slots, [_i32(0), _i32(j)]), typ=PTR)
                self.call("Py_DecRef", VOID, item)
        b.ret(NULL)

    def convert_args(self, args: ir.Value, ndarray: ir.Value):
        """The entry point's C arguments, and the array arguments."""
        c_args, arrays = [], []
        for i, t in enumerate(self.args):
            item = self.b.load(self.b.gep(args, [_i64(i)], source_etype=PTR), typ=PTR)
            if isinstance(t, Array):
                array = self.array_arg(item, t, ndarray, i in self.info.written)
                arrays.append(array)
                c_args += [array.data, *array.sizes, *array.steps]
            else:
                c_args.append(self.scalar_arg(item, t))
        return c_args, arrays

    def constant_string(self, name: str, text: str) -> ir.GlobalVariable:
        data = bytearray(text.encode() + b"\0")
        g = ir.GlobalVariable(self.llmod, ir.ArrayType(I8, len(data)), name)
        g.initializer = ir.Constant(g.value_type, data)
        g.global_constant = True
        g.linkage = "internal"
        return g

    def scalar_arg(self, item: ir.Value, t: str) -> ir.Value:
        b = self.b
        if t in ("f64", "f32"):
            value = self.call("PyFloat_AsDouble", F64, item)
            self.fail_if_error(b.fcmp_ordered("==", value, ir.Constant(F64, -1.0)))
            return b.fptrunc(value, _C_TYPE["f32"]) if t == "f32" else value
        if t == "i64":
            value = self.call("PyLong_AsLongLong", I64, item)
            self.fail_if_error(b.icmp_signed("==", value, _i64(-1)))
            return value
        truth = self.call("PyObject_IsTrue", I32, item)
        self.require(b.icmp_signed(">=", truth, _i32(0)), self.fail)
        return b.trunc(truth, I8)

    def array_arg(self, item: ir.Value, t: Array, ndarray: ir.Value, written: bool
                  ) -> _ArrayArg:
        """Check that `item` is an aligned native-order ndarray of type `t`
        whose strides are whole elements, and writeable if the function may
        store into it; anything else goes to `reject`."""
        b = self.b
        itemsize = _DTYPES[t.dtype].itemsize
        cls = self.field(item, _OB_TYPE, PTR)
        with b.if_then(b.icmp_unsigned("!=", cls, ndarray), likely=False):
            subtype = self.call("PyType_IsSubtype", I32, cls, ndarray)
            self.require(b.icmp_unsigned("!=", subtype, _i32(0)), self.reject)
        ndim = self.field(item, _ND_NDIM, I32)
        self.require(b.icmp_signed("==", ndim, _i32(t.ndim)), self.reject)
        descr = self.field(item, _ND_DESCR, PTR)
        num = self.field(descr, _DESCR_TYPE_NUM, I32)
        ok = b.icmp_unsigned("!=", self.field(descr, _DESCR_BYTEORDER, I8),
                             ir.Constant(I8, _FOREIGN_BYTEORDER))
        same_dtype = ir.Constant(I1, 0)
        for k in _type_nums(t.dtype):
            same_dtype = b.or_(same_dtype, b.icmp_signed("==", num, _i32(k)))
        ok = b.and_(ok, same_dtype)
        flags = self.field(item, _ND_FLAGS, I32)
        required = _NPY_ALIGNED | (_NPY_WRITEABLE if written else 0)
        ok = b.and_(ok, b.icmp_unsigned("==", b.and_(flags, _i32(required)), _i32(required)))
        self.require(ok, self.reject)
        dims, strides = self.field(item, _ND_DIMS, PTR), self.field(item, _ND_STRIDES, PTR)
        sizes = [b.load(b.gep(dims, [_i64(k)], source_etype=I64), typ=I64) for k in range(t.ndim)]
        steps = [b.load(b.gep(strides, [_i64(k)], source_etype=I64), typ=I64)
                 for k in range(t.ndim)]
        if itemsize > 1:
            rest = _i64(0)
            for step in steps:
                rest = b.or_(rest, b.and_(step, _i64(itemsize - 1)))
            self.require(b.icmp_unsigned("==", rest, _i64(0)), self.reject)
            steps = [b.ashr(step, _i64(itemsize.bit_length() - 1)) for step in steps]
        return _ArrayArg(self.field(item, _ND_DATA, PTR), sizes, steps, flags, itemsize, item)

    def wrap_owners(self, outs, caps, failed) -> dict[int, ir.Value]:
        """Give each returned block to a capsule that frees it; results that
        share a block share its capsule. Returns each array result's owner."""
        b = self.b
        destructor = self.capsule_destructor()
        owners: dict[int, ir.Value] = {}
        for j, (t, out) in enumerate(zip(self.leaves, outs, strict=True)):
            if not isinstance(t, Array):
                continue
            owner = b.load(b.gep(out, [_i32(0), _i32(1)]), typ=I64)
            cap_slot = b.gep(caps, [_i32(0), _i32(j)])
            with b.if_then(b.icmp_unsigned("!=", owner, _i64(0))):
                shared = NULL
                for i, other in owners.items():
                    other_cap = b.load(b.gep(caps, [_i32(0), _i32(i)]), typ=PTR)
                    shared = b.select(b.icmp_unsigned("==", owner, other), other_cap, shared)
                is_shared = ir.Constant(I1, 0)
                for other in owners.values():
                    is_shared = b.or_(is_shared, b.icmp_unsigned("==", owner, other))
                with b.if_else(is_shared) as (reuse, create):
                    with reuse:
                        self.call("Py_IncRef", VOID, shared)
                        b.store(shared, cap_slot)
                    with create:
                        block = b.inttoptr(owner, PTR)
                        cap = self.call("PyCapsule_New", PTR, block, NULL, destructor)
                        b.store(cap, cap_slot)
                        with b.if_then(b.icmp_unsigned("==", cap, NULL), likely=False):
                            self.call("free", VOID, block)
                            b.store(ir.Constant(I1, 1), failed)
            owners[j] = owner
        return owners

    def capsule_destructor(self) -> ir.Function:
        """`void (PyObject *capsule)` that frees the block the capsule holds."""
        fn = ir.Function(self.llmod, ir.FunctionType(VOID, [PTR]), self.info.name + ".free")
        fn.linkage = "internal"
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        get = self.api("PyCapsule_GetPointer", PTR, PTR, PTR)
        b.call(self.api("free", VOID, PTR), [b.call(get, [fn.args[0], NULL])])
        b.ret_void()
        return fn

    def scalar_result(self, t: str, out: ir.Value) -> ir.Value:
        """A new reference to the Python value of a scalar result (NULL on error)."""
        b = self.b
        value = b.load(out, typ=_C_TYPE[t])
        if t == "f64":
            return self.call("PyFloat_FromDouble", PTR, value)
        if t == "f32":
            return self.call("PyFloat_FromDouble", PTR, b.fpext(value, F64))
        if t == "i64":
            return self.call("PyLong_FromLongLong", PTR, value)
        return self.call("PyBool_FromLong", PTR, b.zext(value, I64))

    def array_result(self, t: Array, out, owner, cap, arrays, table, ndarray, objs, j):
        """The ndarray of an array result, stored in objs[j]. Its base is the
        capsule `cap` of its block, or else the argument it is a view of."""
        b = self.b
        itemsize = _DTYPES[t.dtype].itemsize
        slot = [b.gep(out, [_i32(0), _i32(k)]) for k in range(2 + 2 * t.ndim)]
        data = b.inttoptr(b.load(slot[0], typ=I64), PTR)
        for s in slot[2 + t.ndim:]:
            b.store(b.mul(b.load(s, typ=I64), _i64(itemsize)), s)
        base, flags = self.view_base(data, arrays)
        owned = b.icmp_unsigned("!=", owner, _i64(0))
        base = b.select(owned, cap, base)
        flags = b.select(owned, _i32(_NPY_WRITEABLE), flags)
        descr = self.npy(table, _API_DESCR_FROM_TYPE, PTR, _i32(_DTYPES[t.dtype].num))
        array = self.npy(table, _API_NEW_FROM_DESCR, PTR, ndarray, descr, _i32(t.ndim),
                         slot[2], slot[2 + t.ndim], data, flags, NULL)
        b.store(array, b.gep(objs, [_i32(0), _i32(j)]))
        self.require(b.icmp_unsigned("!=", array, NULL), self.fail)
        with b.if_then(b.icmp_unsigned("!=", base, NULL)):
            self.call("Py_IncRef", VOID, base)  # PyArray_SetBaseObject steals it
            status = self.npy(table, _API_SET_BASE, I32, array, base)
            self.require(b.icmp_signed("==", status, _i32(0)), self.fail)
        return array

    def view_base(self, data: ir.Value, arrays) -> tuple[ir.Value, ir.Value]:
        """The first array argument whose memory holds `data` (or NULL), and
        the NumPy flags a view into it gets (writeable like the argument)."""
        b = self.b
        p = b.ptrtoint(data, I64)
        base, flags = NULL, _i32(_NPY_WRITEABLE)
        for arg in reversed(arrays):
            low = high = b.ptrtoint(arg.data, I64)
            for size, step in zip(arg.sizes, arg.steps, strict=True):
                extent = b.mul(b.mul(b.sub(size, _i64(1)), step), _i64(arg.itemsize))
                negative = b.icmp_signed("<", extent, _i64(0))
                low = b.add(low, b.select(negative, extent, _i64(0)))
                high = b.add(high, b.select(negative, _i64(0), extent))
            inside = b.and_(b.icmp_unsigned("<=", low, p), b.icmp_unsigned("<=", p, high))
            base = b.select(inside, arg.obj, base)
            flags = b.select(inside, b.and_(arg.flags, _i32(_NPY_WRITEABLE)), flags)
        return base, flags

    def pack(self, t: Type, items: Iterator[ir.Value], objs, tuples: Iterator[int]):
        """Allocate the result's tuples now (they may fail) and return a
        function that fills them, which cannot fail."""
        b = self.b
        if t is None:
            none = self.llmod.globals.get("_Py_NoneStruct") or ir.GlobalVariable(
                self.llmod, I8, "_Py_NoneStruct")

            def new_none() -> ir.Value:
                self.call("Py_IncRef", VOID, none)
                return none

            return new_none
        if not isinstance(t, tuple):
            item = next(items)
            return lambda: item
        new = self.call("PyTuple_New", PTR, _i64(len(t)))
        b.store(new, b.gep(objs, [_i32(0), _i32(next(tuples))]))
        self.require(b.icmp_unsigned("!=", new, NULL), self.fail)
        fills = [self.pack(e, items, objs, tuples) for e in t]

        def fill() -> ir.Value:
            for k, element in enumerate(fills):
                self.call("PyTuple_SetItem", I32, new, _i64(k), element())
            return new

        return fill


def _count_tuples(t: Type) -> int:
    return 1 + sum(map(_count_tuples, t)) if isinstance(t, tuple) else 0


def add_python_entry(llmod: ir.Module, info: EntryInfo) -> None:
    """Add the CPython function `<info.name>.py` for the entry point
    `info.name` (already in `llmod`, see codegen.add_entry_wrapper)."""
    _import_ir()
    _PyEntry(llmod, info).build()


class _PyMethodDef(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("meth", ctypes.c_void_p),
                ("flags", ctypes.c_int), ("doc", ctypes.c_char_p)]


_new_function = ctypes.pythonapi.PyCFunction_NewEx
_new_function.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.c_void_p]
_new_function.restype = ctypes.py_object


@cache
def _numpy_api() -> int:
    """The address of NumPy's C-API table PyArray_API."""
    try:
        from numpy._core import _multiarray_umath
    except ImportError:  # NumPy 1.x
        from numpy.core import _multiarray_umath
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.argtypes, get.restype = [ctypes.py_object, ctypes.c_char_p], ctypes.c_void_p
    return get(_multiarray_umath._ARRAY_API, None)


def python_callable(library: Any, info: EntryInfo) -> Callable:
    """The builtin function of an entry point whose `.py` function was added
    by `add_python_entry`; `library` is a loaded `engine.Library`."""
    ctypes.c_void_p.from_address(library.address(info.name + ".npy_api")).value = _numpy_api()
    method = _PyMethodDef(info.name.encode(), library.address(info.name + ".py"),
                          _METH_FASTCALL, None)
    # `self` keeps the method definition alive as long as the function.
    self = (_arg_error(info), _raiser(info.messages), method)
    return _new_function(ctypes.addressof(method), self, None)


# --------------------------------------------------------------------------
# the ctypes path

_CTYPE = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": ctypes.c_int64,
          "bool": ctypes.c_uint8}
# Argument conversions with the fast path's rules (PyFloat_AsDouble, ...).
_TO_SCALAR = {"f64": ctypes.c_double, "f32": ctypes.c_float, "i64": operator.index,
              "bool": bool}

_libc = ctypes.CDLL(None)
_free = _libc.free
_free.argtypes, _free.restype = [ctypes.c_void_p], None


class _Owner:
    """Frees a block of returned array memory when the last array using it dies."""

    __slots__ = ("address",)

    def __init__(self, address: int):
        self.address = address

    def __del__(self):
        _free(self.address)


class _Memory:
    """Hands NumPy a returned array's memory (`__array_interface__`) and, as
    the array's base, keeps what holds that memory alive."""

    def __init__(self, interface: dict, keep: object):
        self.__array_interface__ = interface
        self.keep = keep


def _containing(address: int, arrays: list[np.ndarray]) -> np.ndarray | None:
    """The first array whose memory holds `address`."""
    for a in arrays:
        low = high = a.__array_interface__["data"][0]
        for size, step in zip(a.shape, a.strides, strict=True):
            extent = (size - 1) * step
            low, high = low + min(extent, 0), high + max(extent, 0)
        if low <= address <= high:
            return a
    return None


def ctypes_callable(address: int, info: EntryInfo) -> Callable:
    """A Python function calling the entry point at `address` through ctypes."""
    args_t = [parse_type(t) for t in info.arg_types]
    result_t = parse_type(info.result_type)
    leaves = flatten(result_t)
    c_args: list[type] = []
    for t in args_t:
        c_args += ([ctypes.c_void_p, *[ctypes.c_int64] * (2 * t.ndim)] if isinstance(t, Array)
                   else [_CTYPE[t]])
    out_types = [ctypes.c_int64 * (2 + 2 * t.ndim) if isinstance(t, Array) else _CTYPE[t]
                 for t in leaves]
    function = ctypes.CFUNCTYPE(ctypes.c_int32, *c_args, *map(ctypes.POINTER, out_types),
                                ctypes.POINTER(ctypes.c_int64 * 4))(address)
    raise_error, arg_error = _raiser(info.messages), _arg_error(info)

    def call(*args: object) -> object:
        if len(args) != len(args_t):
            arg_error(*args)
        flat: list[object] = []
        arrays: list[np.ndarray] = []
        for i, (x, t) in enumerate(zip(args, args_t, strict=True)):
            if isinstance(t, Array):
                if _array_problem(x, t, i in info.written):
                    arg_error(*args)
                arrays.append(x)
                flat += [x.ctypes.data, *x.shape, *(s // x.itemsize for s in x.strides)]
            else:
                flat.append(_TO_SCALAR[t](x))
        outs = [t() for t in out_types]
        err = (ctypes.c_int64 * 4)()
        status = function(*flat, *map(ctypes.byref, outs), ctypes.byref(err))
        if status:
            raise_error(status, err[1], err[2], err[3])
        owners: dict[int, _Owner] = {}
        values = [_array_result(out, t, owners, arrays) if isinstance(t, Array) else out.value
                  for t, out in zip(leaves, outs, strict=True)]
        return _structure(result_t, iter(values))

    return call


def _array_result(out, t: Array, owners: dict[int, _Owner], arrays) -> np.ndarray:
    data, owner = out[0], out[1]
    dtype = _DTYPES[t.dtype]
    if owner:
        if owner not in owners:
            owners[owner] = _Owner(owner)
        keep, readonly = owners[owner], False
    else:
        keep = _containing(data, arrays)
        readonly = keep is not None and not keep.flags.writeable
    interface = {
        "version": 3,
        "typestr": dtype.str,
        "data": (data, readonly),
        "shape": tuple(out[2:2 + t.ndim]),
        "strides": tuple(s * dtype.itemsize for s in out[2 + t.ndim:]),
    }
    return np.asarray(_Memory(interface, keep))


def _structure(t: Type, values: Iterator[object]) -> object:
    if t is None:
        return None
    if isinstance(t, tuple):
        return tuple(_structure(e, values) for e in t)
    value = next(values)
    return bool(value) if t == "bool" else value
