"""Code generation and the native runtime, end to end.

The kernels below are hand-written llvm-dialect IR following
docs/internals.md section 2 (leading ctx argument, memref descriptors,
cofactor_alloc/cofactor_free, errors recorded in the ctx). They go through
codegen (wrappers, O3, object code), the JIT and both callers of marshal.
"""

import gc
import math
import os
import subprocess
import sys
import textwrap
from types import SimpleNamespace

import numpy as np
import pytest
from xdsl.parser import Parser

from cofactor.compiler import codegen
from cofactor.compiler.context import make_context
from cofactor.compiler.types import BOOL, F64, I64, ArrayType, TupleType
from cofactor.runtime import engine, marshal
from cofactor.runtime.marshal import Array, EntryInfo

D1 = "!llvm.struct<(!llvm.ptr, !llvm.array<1 x i64>, !llvm.array<1 x i64>)>"
D2 = "!llvm.struct<(!llvm.ptr, !llvm.array<2 x i64>, !llvm.array<2 x i64>)>"
CTX = "!llvm.struct<(!llvm.ptr, i64, i64, i64, i64)>"


def reduce_1d(name: str, elem: str, acc: str, add: str, zero: str, widen: str = "") -> str:
    """A kernel summing a strided 1-D array; `widen` turns %v into %w."""
    value = "%w" if widen else "%v"
    return f"""
  llvm.func @{name}(%ctx: !llvm.ptr, %x: !d1) -> {acc} {{
    %p = llvm.extractvalue %x[0] : !d1
    %n = llvm.extractvalue %x[1, 0] : !d1
    %s = llvm.extractvalue %x[2, 0] : !d1
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %init = llvm.mlir.constant({zero} : {acc}) : {acc}
    llvm.br ^loop(%zero, %init : i64, {acc})
  ^loop(%i: i64, %total: {acc}):
    %more = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %more, ^body, ^exit
  ^body:
    %off = llvm.mul %i, %s : i64
    %q = llvm.getelementptr %p[%off] : (!llvm.ptr, i64) -> !llvm.ptr, {elem}
    %v = llvm.load %q : !llvm.ptr -> {elem}
    {widen}
    %next = {add} %total, {value} : {acc}
    %i2 = llvm.add %i, %one : i64
    llvm.br ^loop(%i2, %next : i64, {acc})
  ^exit:
    llvm.return %total : {acc}
  }}
"""


KERNELS = f"""
!d1 = {D1}
!d2 = {D2}
!ctx = {CTX}
builtin.module {{
  llvm.func @cofactor_alloc(!llvm.ptr, i64) -> !llvm.ptr
  llvm.func @cofactor_free(!llvm.ptr, !llvm.ptr)
  llvm.func @tanh(f64) -> f64

  llvm.func @add(%ctx: !llvm.ptr, %a: f64, %b: f64) -> f64 {{
    %r = llvm.fadd %a, %b : f64
    llvm.return %r : f64
  }}

  llvm.func @mixed(%ctx: !llvm.ptr, %x: f32, %n: i64, %flag: i1) -> !llvm.struct<(f64, i64, i1)> {{
    %xd = llvm.fpext %x : f32 to f64
    %t = llvm.call @tanh(%xd) : (f64) -> f64
    %three = llvm.mlir.constant(3 : i64) : i64
    %n3 = llvm.mul %n, %three : i64
    %true = llvm.mlir.constant(true) : i1
    %nf = llvm.xor %flag, %true : i1
    %u = llvm.mlir.undef : !llvm.struct<(f64, i64, i1)>
    %s0 = llvm.insertvalue %t, %u[0] : !llvm.struct<(f64, i64, i1)>
    %s1 = llvm.insertvalue %n3, %s0[1] : !llvm.struct<(f64, i64, i1)>
    %s2 = llvm.insertvalue %nf, %s1[2] : !llvm.struct<(f64, i64, i1)>
    llvm.return %s2 : !llvm.struct<(f64, i64, i1)>
  }}

  llvm.func @nothing(%ctx: !llvm.ptr, %x: f64) {{
    llvm.return
  }}
{reduce_1d("sum_f64", "f64", "f64", "llvm.fadd", "0.0")}
{reduce_1d("sum_f32", "f32", "f32", "llvm.fadd", "0.0")}
{reduce_1d("sum_i64", "i64", "i64", "llvm.add", "0")}
{reduce_1d("count_true", "i8", "i64", "llvm.add", "0", "%w = llvm.zext %v : i8 to i64")}

  // sum of x[i, j] * (1000 i + j): sensitive to how axes and strides are read
  llvm.func @weighted2(%ctx: !llvm.ptr, %x: !d2) -> f64 {{
    %p = llvm.extractvalue %x[0] : !d2
    %n0 = llvm.extractvalue %x[1, 0] : !d2
    %n1 = llvm.extractvalue %x[1, 1] : !d2
    %s0 = llvm.extractvalue %x[2, 0] : !d2
    %s1 = llvm.extractvalue %x[2, 1] : !d2
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %k = llvm.mlir.constant(1000 : i64) : i64
    %fzero = llvm.mlir.constant(0.0 : f64) : f64
    llvm.br ^outer(%zero, %fzero : i64, f64)
  ^outer(%i: i64, %acc: f64):
    %ci = llvm.icmp "slt" %i, %n0 : i64
    llvm.cond_br %ci, ^row, ^exit
  ^row:
    %rowoff = llvm.mul %i, %s0 : i64
    %rowweight = llvm.mul %i, %k : i64
    llvm.br ^inner(%zero, %acc : i64, f64)
  ^inner(%j: i64, %acc2: f64):
    %cj = llvm.icmp "slt" %j, %n1 : i64
    llvm.cond_br %cj, ^body, ^next
  ^body:
    %coloff = llvm.mul %j, %s1 : i64
    %off = llvm.add %rowoff, %coloff : i64
    %q = llvm.getelementptr %p[%off] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %v = llvm.load %q : !llvm.ptr -> f64
    %wi = llvm.add %rowweight, %j : i64
    %w = llvm.sitofp %wi : i64 to f64
    %vw = llvm.fmul %v, %w : f64
    %acc3 = llvm.fadd %acc2, %vw : f64
    %j2 = llvm.add %j, %one : i64
    llvm.br ^inner(%j2, %acc3 : i64, f64)
  ^next:
    %i2 = llvm.add %i, %one : i64
    llvm.br ^outer(%i2, %acc2 : i64, f64)
  ^exit:
    llvm.return %acc : f64
  }}

  // sum of a[i] * b[i] + c[i]
  llvm.func @dot3(%ctx: !llvm.ptr, %a: !d1, %b: !d1, %c: !d1) -> f64 {{
    %pa = llvm.extractvalue %a[0] : !d1
    %pb = llvm.extractvalue %b[0] : !d1
    %pc = llvm.extractvalue %c[0] : !d1
    %n = llvm.extractvalue %a[1, 0] : !d1
    %sa = llvm.extractvalue %a[2, 0] : !d1
    %sb = llvm.extractvalue %b[2, 0] : !d1
    %sc = llvm.extractvalue %c[2, 0] : !d1
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %fzero = llvm.mlir.constant(0.0 : f64) : f64
    llvm.br ^loop(%zero, %fzero : i64, f64)
  ^loop(%i: i64, %acc: f64):
    %more = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %more, ^body, ^exit
  ^body:
    %oa = llvm.mul %i, %sa : i64
    %ob = llvm.mul %i, %sb : i64
    %oc = llvm.mul %i, %sc : i64
    %qa = llvm.getelementptr %pa[%oa] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %qb = llvm.getelementptr %pb[%ob] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %qc = llvm.getelementptr %pc[%oc] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %va = llvm.load %qa : !llvm.ptr -> f64
    %vb = llvm.load %qb : !llvm.ptr -> f64
    %vc = llvm.load %qc : !llvm.ptr -> f64
    %ab = llvm.fmul %va, %vb : f64
    %abc = llvm.fadd %ab, %vc : f64
    %acc2 = llvm.fadd %acc, %abc : f64
    %i2 = llvm.add %i, %one : i64
    llvm.br ^loop(%i2, %acc2 : i64, f64)
  ^exit:
    llvm.return %acc : f64
  }}

  // a fresh array x * k, computed through a temporary that is freed, next to
  // a block that is never freed (the wrapper must release it)
  llvm.func @scale(%ctx: !llvm.ptr, %x: !d1, %k: f64) -> !d1 {{
    %p = llvm.extractvalue %x[0] : !d1
    %n = llvm.extractvalue %x[1, 0] : !d1
    %s = llvm.extractvalue %x[2, 0] : !d1
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %eight = llvm.mlir.constant(8 : i64) : i64
    %nbytes = llvm.mul %n, %eight : i64
    %tmp = llvm.call @cofactor_alloc(%ctx, %nbytes) : (!llvm.ptr, i64) -> !llvm.ptr
    %out = llvm.call @cofactor_alloc(%ctx, %nbytes) : (!llvm.ptr, i64) -> !llvm.ptr
    %junk = llvm.call @cofactor_alloc(%ctx, %nbytes) : (!llvm.ptr, i64) -> !llvm.ptr
    llvm.br ^loop(%zero : i64)
  ^loop(%i: i64):
    %more = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %more, ^body, ^exit
  ^body:
    %off = llvm.mul %i, %s : i64
    %q = llvm.getelementptr %p[%off] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %v = llvm.load %q : !llvm.ptr -> f64
    %vk = llvm.fmul %v, %k : f64
    %qt = llvm.getelementptr %tmp[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    llvm.store %vk, %qt : f64, !llvm.ptr
    %vt = llvm.load %qt : !llvm.ptr -> f64
    %qo = llvm.getelementptr %out[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    llvm.store %vt, %qo : f64, !llvm.ptr
    %i2 = llvm.add %i, %one : i64
    llvm.br ^loop(%i2 : i64)
  ^exit:
    llvm.call @cofactor_free(%ctx, %tmp) : (!llvm.ptr, !llvm.ptr) -> ()
    %u = llvm.mlir.undef : !d1
    %d0 = llvm.insertvalue %out, %u[0] : !d1
    %d1 = llvm.insertvalue %n, %d0[1, 0] : !d1
    %d2 = llvm.insertvalue %one, %d1[2, 0] : !d1
    llvm.return %d2 : !d1
  }}

  // np.outer(x, y), C order
  llvm.func @outer(%ctx: !llvm.ptr, %x: !d1, %y: !d1) -> !d2 {{
    %px = llvm.extractvalue %x[0] : !d1
    %n = llvm.extractvalue %x[1, 0] : !d1
    %sx = llvm.extractvalue %x[2, 0] : !d1
    %py = llvm.extractvalue %y[0] : !d1
    %m = llvm.extractvalue %y[1, 0] : !d1
    %sy = llvm.extractvalue %y[2, 0] : !d1
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %eight = llvm.mlir.constant(8 : i64) : i64
    %nm = llvm.mul %n, %m : i64
    %nbytes = llvm.mul %nm, %eight : i64
    %out = llvm.call @cofactor_alloc(%ctx, %nbytes) : (!llvm.ptr, i64) -> !llvm.ptr
    llvm.br ^outer(%zero : i64)
  ^outer(%i: i64):
    %ci = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %ci, ^row, ^exit
  ^row:
    %oxi = llvm.mul %i, %sx : i64
    %qx = llvm.getelementptr %px[%oxi] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %vx = llvm.load %qx : !llvm.ptr -> f64
    %rowoff = llvm.mul %i, %m : i64
    llvm.br ^inner(%zero : i64)
  ^inner(%j: i64):
    %cj = llvm.icmp "slt" %j, %m : i64
    llvm.cond_br %cj, ^body, ^next
  ^body:
    %oyj = llvm.mul %j, %sy : i64
    %qy = llvm.getelementptr %py[%oyj] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %vy = llvm.load %qy : !llvm.ptr -> f64
    %prod = llvm.fmul %vx, %vy : f64
    %off = llvm.add %rowoff, %j : i64
    %qo = llvm.getelementptr %out[%off] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    llvm.store %prod, %qo : f64, !llvm.ptr
    %j2 = llvm.add %j, %one : i64
    llvm.br ^inner(%j2 : i64)
  ^next:
    %i2 = llvm.add %i, %one : i64
    llvm.br ^outer(%i2 : i64)
  ^exit:
    %u = llvm.mlir.undef : !d2
    %d0 = llvm.insertvalue %out, %u[0] : !d2
    %d1 = llvm.insertvalue %n, %d0[1, 0] : !d2
    %d2 = llvm.insertvalue %m, %d1[1, 1] : !d2
    %d3 = llvm.insertvalue %m, %d2[2, 0] : !d2
    %d4 = llvm.insertvalue %one, %d3[2, 1] : !d2
    llvm.return %d4 : !d2
  }}

  // y[1:], a view of the second argument
  llvm.func @pick_tail(%ctx: !llvm.ptr, %x: !d1, %y: !d1) -> !d1 {{
    %p = llvm.extractvalue %y[0] : !d1
    %n = llvm.extractvalue %y[1, 0] : !d1
    %s = llvm.extractvalue %y[2, 0] : !d1
    %one = llvm.mlir.constant(1 : i64) : i64
    %q = llvm.getelementptr %p[%s] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %n1 = llvm.sub %n, %one : i64
    %d0 = llvm.insertvalue %q, %y[0] : !d1
    %d1 = llvm.insertvalue %n1, %d0[1, 0] : !d1
    llvm.return %d1 : !d1
  }}

  // (a, a[1:]) with a = arange(n): two results in one block
  llvm.func @pair(%ctx: !llvm.ptr, %n: i64) -> !llvm.struct<(!d1, !d1)> {{
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %eight = llvm.mlir.constant(8 : i64) : i64
    %nbytes = llvm.mul %n, %eight : i64
    %out = llvm.call @cofactor_alloc(%ctx, %nbytes) : (!llvm.ptr, i64) -> !llvm.ptr
    llvm.br ^loop(%zero : i64)
  ^loop(%i: i64):
    %more = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %more, ^body, ^exit
  ^body:
    %v = llvm.sitofp %i : i64 to f64
    %q = llvm.getelementptr %out[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    llvm.store %v, %q : f64, !llvm.ptr
    %i2 = llvm.add %i, %one : i64
    llvm.br ^loop(%i2 : i64)
  ^exit:
    %u = llvm.mlir.undef : !d1
    %a0 = llvm.insertvalue %out, %u[0] : !d1
    %a1 = llvm.insertvalue %n, %a0[1, 0] : !d1
    %a2 = llvm.insertvalue %one, %a1[2, 0] : !d1
    %tail = llvm.getelementptr %out[1] : (!llvm.ptr) -> !llvm.ptr, f64
    %n1 = llvm.sub %n, %one : i64
    %b0 = llvm.insertvalue %tail, %a2[0] : !d1
    %b1 = llvm.insertvalue %n1, %b0[1, 0] : !d1
    %pu = llvm.mlir.undef : !llvm.struct<(!d1, !d1)>
    %p0 = llvm.insertvalue %a2, %pu[0] : !llvm.struct<(!d1, !d1)>
    %p1 = llvm.insertvalue %b1, %p0[1] : !llvm.struct<(!d1, !d1)>
    llvm.return %p1 : !llvm.struct<(!d1, !d1)>
  }}

  // x[i], recording IndexError(i, 0, n) when out of bounds
  llvm.func @getitem(%ctx: !llvm.ptr, %x: !d1, %i: i64) -> f64 {{
    %p = llvm.extractvalue %x[0] : !d1
    %n = llvm.extractvalue %x[1, 0] : !d1
    %s = llvm.extractvalue %x[2, 0] : !d1
    %ok = llvm.icmp "ult" %i, %n : i64
    llvm.cond_br %ok, ^load, ^error
  ^load:
    %off = llvm.mul %i, %s : i64
    %q = llvm.getelementptr %p[%off] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    %v = llvm.load %q : !llvm.ptr -> f64
    llvm.return %v : f64
  ^error:
    %code = llvm.mlir.constant(1 : i64) : i64
    %axis = llvm.mlir.constant(0 : i64) : i64
    %f1 = llvm.getelementptr %ctx[0, 1] : (!llvm.ptr) -> !llvm.ptr, !ctx
    %f2 = llvm.getelementptr %ctx[0, 2] : (!llvm.ptr) -> !llvm.ptr, !ctx
    %f3 = llvm.getelementptr %ctx[0, 3] : (!llvm.ptr) -> !llvm.ptr, !ctx
    %f4 = llvm.getelementptr %ctx[0, 4] : (!llvm.ptr) -> !llvm.ptr, !ctx
    llvm.store %code, %f1 : i64, !llvm.ptr
    llvm.store %i, %f2 : i64, !llvm.ptr
    llvm.store %axis, %f3 : i64, !llvm.ptr
    llvm.store %n, %f4 : i64, !llvm.ptr
    %nan = llvm.mlir.constant(0.0 : f64) : f64
    llvm.return %nan : f64
  }}

  // records error `code` with info `a` (unless code is 0)
  llvm.func @raise_code(%ctx: !llvm.ptr, %code: i64, %a: i64) -> f64 {{
    %f1 = llvm.getelementptr %ctx[0, 1] : (!llvm.ptr) -> !llvm.ptr, !ctx
    %f2 = llvm.getelementptr %ctx[0, 2] : (!llvm.ptr) -> !llvm.ptr, !ctx
    llvm.store %code, %f1 : i64, !llvm.ptr
    llvm.store %a, %f2 : i64, !llvm.ptr
    %r = llvm.mlir.constant(1.0 : f64) : f64
    llvm.return %r : f64
  }}

  // a fresh array of n ones; when `fail`, records AssertionError(info 2) too
  llvm.func @ones(%ctx: !llvm.ptr, %n: i64, %fail: i1) -> !d1 {{
    %zero = llvm.mlir.constant(0 : i64) : i64
    %one = llvm.mlir.constant(1 : i64) : i64
    %eight = llvm.mlir.constant(8 : i64) : i64
    %fone = llvm.mlir.constant(1.0 : f64) : f64
    %nbytes = llvm.mul %n, %eight : i64
    %out = llvm.call @cofactor_alloc(%ctx, %nbytes) : (!llvm.ptr, i64) -> !llvm.ptr
    llvm.br ^loop(%zero : i64)
  ^loop(%i: i64):
    %more = llvm.icmp "slt" %i, %n : i64
    llvm.cond_br %more, ^body, ^exit
  ^body:
    %q = llvm.getelementptr %out[%i] : (!llvm.ptr, i64) -> !llvm.ptr, f64
    llvm.store %fone, %q : f64, !llvm.ptr
    %i2 = llvm.add %i, %one : i64
    llvm.br ^loop(%i2 : i64)
  ^exit:
    llvm.cond_br %fail, ^record, ^done
  ^record:
    %three = llvm.mlir.constant(3 : i64) : i64
    %two = llvm.mlir.constant(2 : i64) : i64
    %f1 = llvm.getelementptr %ctx[0, 1] : (!llvm.ptr) -> !llvm.ptr, !ctx
    %f2 = llvm.getelementptr %ctx[0, 2] : (!llvm.ptr) -> !llvm.ptr, !ctx
    llvm.store %three, %f1 : i64, !llvm.ptr
    llvm.store %two, %f2 : i64, !llvm.ptr
    llvm.br ^done
  ^done:
    %u = llvm.mlir.undef : !d1
    %d0 = llvm.insertvalue %out, %u[0] : !d1
    %d1 = llvm.insertvalue %n, %d0[1, 0] : !d1
    %d2 = llvm.insertvalue %one, %d1[2, 0] : !d1
    llvm.return %d2 : !d1
  }}
}}
"""

MESSAGES = ["", "x must be positive", "fill failed"]

# kernel: (argument types, result type)
ENTRIES = {
    "add": (["f64", "f64"], "f64"),
    "mixed": (["f32", "i64", "bool"], "(f64, i64, bool)"),
    "nothing": (["f64"], "None"),
    "sum_f64": (["f64[:]"], "f64"),
    "sum_f32": (["f32[:]"], "f32"),
    "sum_i64": (["i64[:]"], "i64"),
    "count_true": (["bool[:]"], "i64"),
    "weighted2": (["f64[:,:]"], "f64"),
    "dot3": (["f64[:]", "f64[:]", "f64[:]"], "f64"),
    "scale": (["f64[:]", "f64"], "f64[:]"),
    "outer": (["f64[:]", "f64[:]"], "f64[:,:]"),
    "pick_tail": (["f64[:]", "f64[:]"], "f64[:]"),
    "pair": (["i64"], "(f64[:], f64[:])"),
    "getitem": (["f64[:]", "i64"], "f64"),
    "raise_code": (["i64", "i64"], "f64"),
    "ones": (["i64", "bool"], "f64[:]"),
}


def compile_module(text: str, entries: dict, fastmath: bool = False):
    """The pipeline the frontend will run: returns the library and EntryInfos."""
    module = Parser(make_context(), text).parse_module()
    module.verify()
    llmod = codegen.to_llvmlite(module)
    infos = {}
    for kernel, (args, result) in entries.items():
        info = EntryInfo(f"{kernel}.entry", args, result, MESSAGES)
        codegen.add_entry_wrapper(llmod, info.name, kernel, args, result)
        marshal.add_python_entry(llmod, info)
        infos[kernel] = info
    obj = codegen.emit_object(codegen.optimize(llmod, fastmath))
    return engine.add_object(obj), infos


@pytest.fixture(scope="module")
def compiled():
    return compile_module(KERNELS, ENTRIES)


@pytest.fixture(scope="module", params=["fast", "ctypes"])
def fns(request, compiled):
    lib, infos = compiled
    if request.param == "fast":
        return SimpleNamespace(**{k: marshal.python_callable(lib, i) for k, i in infos.items()})
    return SimpleNamespace(
        **{k: marshal.ctypes_callable(lib.address(i.name), i) for k, i in infos.items()}
    )


def layouts_1d(dtype) -> list[np.ndarray]:
    base = (np.arange(40) * 7 % 11 - 3).astype(dtype)
    return [base, base[::3], base[::-1], base[-2::-4], base[5:5], base[:1]]


def test_scalars(fns):
    assert fns.add(1.5, 2.25) == 3.75
    assert fns.add(1, np.float64(2)) == 3.0
    t, n, flag = fns.mixed(np.float32(0.5), 7, True)
    assert t == pytest.approx(math.tanh(0.5)) and type(t) is float
    assert (n, flag) == (21, False) and type(n) is int and type(flag) is bool
    assert fns.mixed(0.25, -2, False)[1:] == (-6, True)
    assert fns.nothing(1.0) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64, np.bool_])
def test_reductions_over_layouts(fns, dtype):
    function = {np.float64: fns.sum_f64, np.float32: fns.sum_f32,
                np.int64: fns.sum_i64, np.bool_: fns.count_true}[dtype]
    for x in layouts_1d(dtype):
        expected = np.sum(x, dtype=np.int64 if dtype == np.bool_ else dtype)
        assert function(x) == pytest.approx(expected), x.strides


def test_two_dimensional_layouts(fns):
    x = np.arange(30.0).reshape(5, 6) ** 1.5
    for a in [x, x.T, np.asfortranarray(x), x[::-1, ::2], x[1:4, ::-3], x[:, :0]]:
        i, j = np.indices(a.shape)
        assert fns.weighted2(a) == pytest.approx(np.sum(a * (1000 * i + j))), a.strides


def test_three_arrays(fns):
    a, b, c = np.linspace(0, 1, 9), np.arange(27.0)[::3], np.arange(9.0)[::-1]
    assert fns.dot3(a, b, c) == pytest.approx(np.sum(a * b + c))


def test_fresh_array(fns):
    x = np.arange(10.0)
    r = fns.scale(x[::-2], 3.0)
    np.testing.assert_array_equal(r, x[::-2] * 3.0)
    assert r.flags.writeable and r.flags.c_contiguous and r.dtype == np.float64
    r[0] = -1.0
    assert r[0] == -1.0
    o = fns.outer(np.arange(1.0, 4.0), np.arange(4.0)[::-1])
    np.testing.assert_array_equal(o, np.outer(np.arange(1.0, 4.0), np.arange(4.0)[::-1]))
    assert o.shape == (3, 4) and o.strides == (32, 8)
    assert fns.scale(np.empty(0), 2.0).shape == (0,)


def test_shared_block(fns):
    a, b = fns.pair(5)
    np.testing.assert_array_equal(a, np.arange(5.0))
    np.testing.assert_array_equal(b, np.arange(1.0, 5.0))
    b[0] = 42.0
    assert a[1] == 42.0
    del a
    gc.collect()
    np.testing.assert_array_equal(b, [42.0, 2.0, 3.0, 4.0])


def test_view_of_argument(fns):
    x, y = np.zeros(3), np.arange(8.0)[::2]
    r = fns.pick_tail(x, y)
    np.testing.assert_array_equal(r, [2.0, 4.0, 6.0])
    r[0] = -5.0
    assert y[1] == -5.0
    del y
    gc.collect()
    np.testing.assert_array_equal(r, [-5.0, 4.0, 6.0])
    frozen = np.arange(4.0)
    frozen.flags.writeable = False
    assert not fns.pick_tail(x, frozen).flags.writeable


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_returned_memory_is_freed(fns):
    x = np.ones(1000)  # each call allocates three blocks of 8 kB
    for _ in range(1000):
        fns.scale(x, 2.0)
        fns.pair(100)
    before = rss_bytes()
    for _ in range(100_000):
        fns.scale(x, 2.0)
    for _ in range(20_000):
        fns.pair(100)
        with pytest.raises(AssertionError):
            fns.ones(1000, True)
    assert rss_bytes() - before < 8 << 20


def test_errors(fns):
    x = np.arange(5.0)
    assert fns.getitem(x, 3) == 3.0
    with pytest.raises(IndexError, match=r"^index 10 is out of bounds for axis 0 with size 5$"):
        fns.getitem(x, 10)
    with pytest.raises(IndexError, match=r"^index -1 is out of bounds for axis 0 with size 5$"):
        fns.getitem(x, -1)
    assert fns.raise_code(0, 0) == 1.0
    with pytest.raises(ZeroDivisionError):
        fns.raise_code(2, 0)
    with pytest.raises(AssertionError, match=r"^x must be positive$"):
        fns.raise_code(3, 1)
    with pytest.raises(AssertionError) as info:
        fns.raise_code(3, 0)
    assert info.value.args == ()
    with pytest.raises(RuntimeError, match="error code 9"):
        fns.raise_code(9, 0)
    with pytest.raises(AssertionError, match="fill failed"):
        fns.ones(3, True)
    np.testing.assert_array_equal(fns.ones(3, False), np.ones(3))


def test_rejected_arguments(fns):
    x = np.arange(4.0)
    unaligned = np.frombuffer(b"\0" * 33, dtype=np.float64, offset=1)
    for bad in [[1.0, 2.0], x.astype(np.int64), x.reshape(2, 2), x.astype(">f8"), unaligned]:
        with pytest.raises(TypeError):
            fns.sum_f64(bad)
    with pytest.raises(TypeError):
        fns.sum_f64()
    with pytest.raises(TypeError):
        fns.sum_f64(x, x)
    with pytest.raises(TypeError):
        fns.add("1", 2.0)
    with pytest.raises(TypeError):
        fns.getitem(x, 1.5)


def test_array_subclass_accepted(fns):
    class Sub(np.ndarray):
        pass

    assert fns.sum_f64(np.arange(4.0).view(Sub)) == 6.0
    assert fns.sum_i64(np.arange(4, dtype=np.longlong)) == 6


def test_wrapper_checks_kernel_signature():
    module = Parser(make_context(), KERNELS).parse_module()
    llmod = codegen.to_llvmlite(module)
    with pytest.raises(ValueError, match="expected"):
        codegen.add_entry_wrapper(llmod, "w", "add", ["f64", "i64"], "f64")
    with pytest.raises(ValueError, match="expected"):
        codegen.add_entry_wrapper(llmod, "w", "sum_f64", ["f64[:,:]"], "f64")
    with pytest.raises(ValueError):
        codegen.add_entry_wrapper(llmod, "add", "add", ["f64", "f64"], "f64")


def test_frontend_types_are_understood():
    assert marshal.parse_type(ArrayType(F64, 2)) == Array("f64", 2)
    t = TupleType((F64, ArrayType(BOOL, 1), TupleType((I64,))))
    assert marshal.parse_type(t) == ("f64", Array("bool", 1), ("i64",))
    assert marshal.flatten(marshal.parse_type(t)) == ["f64", Array("bool", 1), "i64"]
    info = EntryInfo("f", [F64, ArrayType(I64, 3)], t, ["m"])
    assert EntryInfo.from_json(info.to_json()) == info


FASTMATH = """
builtin.module {
  llvm.func @cancel(%ctx: !llvm.ptr, %a: f64, %b: f64) -> f64 {
    %s = llvm.fadd %a, %b : f64
    %r = llvm.fsub %s, %a : f64
    llvm.return %r : f64
  }
}
"""


def test_fastmath_reassociates():
    results = []
    for fastmath in (False, True):
        lib, infos = compile_module(FASTMATH, {"cancel": (["f64", "f64"], "f64")}, fastmath)
        results.append(marshal.python_callable(lib, infos["cancel"])(1e20, 1.0))
    assert results == [0.0, 1.0]


def test_emit_assembly_and_generic_object():
    module = Parser(make_context(), FASTMATH).parse_module()
    llmod = codegen.to_llvmlite(module)
    codegen.add_entry_wrapper(llmod, "cancel_entry", "cancel", ["f64", "f64"], "f64")
    optimized = codegen.optimize(llmod, cpu="generic")
    assert "cancel_entry:" in codegen.emit_assembly(optimized, cpu="generic")
    assert codegen.emit_object(optimized, cpu="generic")[:4] == b"\x7fELF"


CACHE_SCRIPT = """
import sys
from cofactor.runtime import cache, engine, marshal

source = sys.stdin.read()
key = cache.cache_key(source, "f64, f64", {"fastmath": False})
hit = cache.load(key)
if hit is None:
    from xdsl.parser import Parser
    from cofactor.compiler import codegen
    from cofactor.compiler.context import make_context

    info = marshal.EntryInfo("add.entry", ["f64", "f64"], "f64")
    llmod = codegen.to_llvmlite(Parser(make_context(), source).parse_module())
    codegen.add_entry_wrapper(llmod, info.name, "add", info.arg_types, info.result_type)
    marshal.add_python_entry(llmod, info)
    obj = codegen.emit_object(codegen.optimize(llmod))
    cache.store(key, obj, info.to_json())
    how = "compiled"
else:
    obj, meta = hit
    info = marshal.EntryInfo.from_json(meta)
    how = "cached"
add = marshal.python_callable(engine.add_object(obj), info)
print(how, add(1.25, 2.5), "xdsl" in sys.modules)
"""

ADD = """
builtin.module {
  llvm.func @add(%ctx: !llvm.ptr, %a: f64, %b: f64) -> f64 {
    %r = llvm.fadd %a, %b : f64
    llvm.return %r : f64
  }
}
"""


def test_cache_round_trip(tmp_path):
    env = {**os.environ, "COFACTOR_CACHE_DIR": str(tmp_path / "cache")}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(CACHE_SCRIPT)], input=ADD,
                              env=env, capture_output=True, text=True, check=True)
        return done.stdout.strip()

    assert run() == "compiled 3.75 True"
    assert run() == "cached 3.75 False"
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".json", ".o"]


def test_jit_of_optimized_module():
    llmod = codegen.to_llvmlite(Parser(make_context(), ADD).parse_module())
    info = EntryInfo("add.entry", ["f64", "f64"], "f64")
    codegen.add_entry_wrapper(llmod, info.name, "add", info.arg_types, info.result_type)
    marshal.add_python_entry(llmod, info)
    lib = engine.add_module(codegen.optimize(llmod))
    assert marshal.python_callable(lib, info)(1.0, 2.0) == 3.0
    with pytest.raises(KeyError):
        lib.address("missing")
