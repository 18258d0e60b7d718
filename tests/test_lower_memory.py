"""End-to-end: memref, rt and func lowering, JIT-compiled and run on NumPy arrays.

Hand-written MLIR goes through the lowering pipeline and xDSL's llvmlite
conversion. The test supplies its own minimal runtime (cofactor_alloc and
cofactor_free over malloc with the 64-byte header of docs/internals.md) and,
per kernel, an llvmlite wrapper taking each array as data pointer, sizes and
strides, so ctypes never passes a struct by value.
"""

import ctypes
import functools

import llvmlite.binding as llvm
import numpy as np
import pytest
from llvmlite import ir
from xdsl.backend.llvm.convert import convert_module
from xdsl.parser import Parser
from xdsl.transforms.convert_scf_to_cf import ConvertScfToCf

from cofactor.compiler.context import make_context
from cofactor.passes import all_passes

PIPELINE = [
    "lower-scf-while-to-cf",
    "convert-scf-to-cf",
    "lower-memref-to-llvm",
    "lower-rt-to-llvm",
    "lower-arith-to-llvm",
    "lower-math-to-llvm",
    "lower-cf-to-llvm",
    "lower-func-to-llvm",
]

RUNTIME = r"""
declare ptr @malloc(i64)
declare void @free(ptr)
@live_blocks = global i64 0

define ptr @cofactor_alloc(ptr %ctx, i64 %nbytes) {
  %size = add i64 %nbytes, 64
  %block = call ptr @malloc(i64 %size)
  %head = load ptr, ptr %ctx
  store ptr %head, ptr %block
  %nbytes_slot = getelementptr i8, ptr %block, i64 8
  store i64 %nbytes, ptr %nbytes_slot
  store ptr %block, ptr %ctx
  %live = load i64, ptr @live_blocks
  %live1 = add i64 %live, 1
  store i64 %live1, ptr @live_blocks
  %data = getelementptr i8, ptr %block, i64 64
  ret ptr %data
}

define void @cofactor_free(ptr %ctx, ptr %data) {
entry:
  %block = getelementptr i8, ptr %data, i64 -64
  br label %loop
loop:
  %link = phi ptr [%ctx, %entry], [%cur, %next]
  %cur = load ptr, ptr %link
  %found = icmp eq ptr %cur, %block
  br i1 %found, label %unlink, label %next
next:
  %end = icmp eq ptr %cur, null
  br i1 %end, label %done, label %loop
unlink:
  %after = load ptr, ptr %block
  store ptr %after, ptr %link
  call void @free(ptr %block)
  %live = load i64, ptr @live_blocks
  %live1 = sub i64 %live, 1
  store i64 %live1, ptr @live_blocks
  br label %done
done:
  ret void
}
"""


class Ctx(ctypes.Structure):
    _fields_ = [("arena", ctypes.c_void_p)] + [
        (name, ctypes.c_int64) for name in ("err_code", "err_a", "err_b", "err_c")
    ]


_CTYPES = {"double": ctypes.c_double, "float": ctypes.c_float, "i64": ctypes.c_int64}


def _lower(source: str):
    ctx = make_context()
    module = Parser(ctx, source).parse_module()
    passes = all_passes()
    for name in PIPELINE:
        (ConvertScfToCf() if name == "convert-scf-to-cf" else passes[name]()).apply(ctx, module)
    module.verify()
    return convert_module(module, fallback_target_triple=llvm.get_default_triple())


def _add_wrapper(module: ir.Module, name: str) -> tuple[list[str], str]:
    """`NAME_w(ctx, ...)`: each descriptor argument expanded to ptr, sizes,
    strides. Returns the kinds of the original arguments and the result type."""
    kernel = module.get_global(name)
    params: list[ir.Type] = [ir.PointerType()]
    kinds = []
    for t in kernel.ftype.args[1:]:
        if isinstance(t, ir.LiteralStructType):
            rank = t.elements[1].count
            params += [ir.PointerType()] + [ir.IntType(64)] * (2 * rank)
            kinds.append(f"array{rank}")
        else:
            params.append(t)
            kinds.append(str(t))
    wrapper = ir.Function(module, ir.FunctionType(kernel.ftype.return_type, params), name + "_w")
    b = ir.IRBuilder(wrapper.append_basic_block())
    args = iter(wrapper.args)
    call_args = [next(args)]
    for t in kernel.ftype.args[1:]:
        if isinstance(t, ir.LiteralStructType):
            rank = t.elements[1].count
            desc = b.insert_value(ir.Constant(t, ir.Undefined), next(args), 0)
            for field in (1, 2):
                for k in range(rank):
                    desc = b.insert_value(desc, next(args), [field, k])
            call_args.append(desc)
        else:
            call_args.append(next(args))
    result = b.call(kernel, call_args)
    if isinstance(kernel.ftype.return_type, ir.VoidType):
        b.ret_void()
    else:
        b.ret(result)
    return kinds, str(kernel.ftype.return_type)


@functools.cache
def jit(source: str) -> "Compiled":
    return Compiled(source)


class Compiled:
    """A module optimized and JIT-compiled; `call(name, *args)` runs a kernel."""

    def __init__(self, source: str):
        module = _lower(source)
        names = [f.name for f in module.functions if not f.is_declaration]
        self.signatures = {name: _add_wrapper(module, name) for name in names}
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        mod = llvm.parse_assembly(str(module))
        mod.link_in(llvm.parse_assembly(RUNTIME))
        mod.verify()
        tm = llvm.Target.from_default_triple().create_target_machine(opt=3)
        # O3, so that what the lowering promises LLVM (inbounds GEPs) is exercised.
        pb = llvm.create_pass_builder(tm, llvm.create_pipeline_tuning_options(speed_level=3))
        pb.getModulePassManager().run(mod, pb)
        self.engine = llvm.create_mcjit_compiler(mod, tm)
        self.engine.finalize_object()
        self.live_blocks = ctypes.c_int64.from_address(
            self.engine.get_global_value_address("live_blocks")
        )

    def call(self, name: str, *args, ctx: Ctx | None = None):
        kinds, result = self.signatures[name]
        ctx = Ctx() if ctx is None else ctx
        argtypes: list = [ctypes.c_void_p]
        values: list = [ctypes.addressof(ctx)]
        for kind, arg in zip(kinds, args, strict=True):
            if kind.startswith("array"):
                assert arg.ndim == int(kind[5:])
                argtypes += [ctypes.c_void_p] + [ctypes.c_int64] * (2 * arg.ndim)
                values += [arg.ctypes.data, *arg.shape]
                values += [s // arg.itemsize for s in arg.strides]
            else:
                argtypes.append(_CTYPES[kind])
                values.append(arg)
        restype = None if result == "void" else _CTYPES[result]
        address = self.engine.get_function_address(name + "_w")
        value = ctypes.CFUNCTYPE(restype, *argtypes)(address)(*values)
        assert ctx.arena is None, "a temporary was not freed"
        assert self.live_blocks.value == 0
        return value


A1 = "memref<?x{T}, strided<[?], offset: ?>>"
A2 = "memref<?x?x{T}, strided<[?, ?], offset: ?>>"
F1, F2 = A1.format(T="f64"), A2.format(T="f64")

# Sum of a 2-D array over index bounds; reused by the subview tests via func.call.
SUM2D = """
func.func @sum2d(%x: {A2}) -> {T} {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : {A2}
  %m = memref.dim %x, %c1 : {A2}
  %zero = arith.constant {ZERO} : {T}
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> ({T}) {{
    %r2 = scf.for %j = %c0 to %m step %c1 iter_args(%acc2 = %acc) -> ({T}) {{
      %v = memref.load %x[%i, %j] : {A2}
      %s = {ADD} %acc2, %v : {T}
      scf.yield %s : {T}
    }}
    scf.yield %r2 : {T}
  }}
  func.return %r : {T}
}}
"""

# The same over i64 bounds, as the frontend emits loops.
SUM2D_I64 = """
func.func @sum2d_i64(%x: {A2}) -> {T} {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : {A2}
  %m = memref.dim %x, %c1 : {A2}
  %n64 = arith.index_cast %n : index to i64
  %m64 = arith.index_cast %m : index to i64
  %zero64 = arith.constant 0 : i64
  %one64 = arith.constant 1 : i64
  %zero = arith.constant {ZERO} : {T}
  %r = scf.for %i = %zero64 to %n64 step %one64 iter_args(%acc = %zero) -> ({T}) : i64 {{
    %r2 = scf.for %j = %zero64 to %m64 step %one64 iter_args(%acc2 = %acc) -> ({T}) : i64 {{
      %ii = arith.index_cast %i : i64 to index
      %jj = arith.index_cast %j : i64 to index
      %v = memref.load %x[%ii, %jj] : {A2}
      %s = {ADD} %acc2, %v : {T}
      scf.yield %s : {T}
    }}
    scf.yield %r2 : {T}
  }}
  func.return %r : {T}
}}
"""

DTYPES = {
    np.float64: dict(T="f64", ZERO="0.0", ADD="arith.addf"),
    np.float32: dict(T="f32", ZERO="0.0", ADD="arith.addf"),
    np.int64: dict(T="i64", ZERO="0", ADD="arith.addi"),
}


def _source(template: str, dtype) -> str:
    d = DTYPES[dtype]
    return template.format(A1=A1.format(T=d["T"]), A2=A2.format(T=d["T"]), **d)


def _views(dtype):
    """Contiguous, Fortran, transposed, reversed, strided and empty 2-D arrays."""
    base = (np.arange(42) * 3 % 17 - 5).astype(dtype).reshape(6, 7)
    return {
        "c": base,
        "fortran": np.asfortranarray(base),
        "T": base.T,
        "rev": base[::-1],
        "rev_cols": base[:, ::-1],
        "strided": base[1::2, ::-3],
        "both_rev_T": base[::-2, ::-1].T,
        "empty": base[:0],
    }


@pytest.fixture(scope="module", params=list(DTYPES), ids=lambda d: d.__name__)
def sums(request):
    dtype = request.param
    return dtype, jit(_source(SUM2D, dtype) + _source(SUM2D_I64, dtype))


@pytest.mark.parametrize("view", list(_views(np.float64)))
@pytest.mark.parametrize("kernel", ["sum2d", "sum2d_i64"])
def test_sum_2d(sums, kernel, view):
    dtype, compiled = sums
    x = _views(dtype)[view]
    got = compiled.call(kernel, x)
    assert got == pytest.approx(x.sum(dtype=dtype), rel=1e-6)


SCALE_INTO = f"""
func.func @scale_into(%x: {F2}, %out: {F2}, %a: f64) {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : {F2}
  %m = memref.dim %x, %c1 : {F2}
  scf.for %i = %c0 to %n step %c1 {{
    scf.for %j = %c0 to %m step %c1 {{
      %v = memref.load %x[%i, %j] : {F2}
      %w = arith.mulf %v, %a : f64
      memref.store %w, %out[%i, %j] : {F2}
    }}
  }}
  func.return
}}
"""


@pytest.mark.parametrize("view", ["c", "fortran", "T", "rev", "strided"])
def test_store_into_views(view):
    compiled = jit(SCALE_INTO)
    x = _views(np.float64)[view]
    padded = np.zeros((2 * x.shape[0], x.shape[1]))
    for out in (np.zeros(x.shape), np.zeros(x.shape[::-1]).T, padded[::-2]):
        compiled.call("scale_into", x, out, 2.5)
        np.testing.assert_array_equal(out, 2.5 * x)
    assert not padded[-2::-2].any()  # the rows between stay untouched


# Row sums into an allocated temporary, then the dot product with weights.
TEMPORARY = f"""
func.func @weighted_rows(%x: {F2}, %w: {F1}) -> f64 {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %n = memref.dim %x, %c0 : {F2}
  %m = memref.dim %x, %c1 : {F2}
  %zero = arith.constant 0.0 : f64
  %raw = memref.alloc(%n) : memref<?xf64>
  %t = "memref.cast"(%raw) : (memref<?xf64>) -> {F1}
  scf.for %i = %c0 to %n step %c1 {{
    %row = memref.subview %x[%i, 0] [1, %m] [1, 1] : {F2} to {F1}
    %s = scf.for %j = %c0 to %m step %c1 iter_args(%acc = %zero) -> (f64) {{
      %v = memref.load %row[%j] : {F1}
      %a = arith.addf %acc, %v : f64
      scf.yield %a : f64
    }}
    memref.store %s, %t[%i] : {F1}
  }}
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %zero) -> (f64) {{
    %a = memref.load %t[%i] : {F1}
    %b = memref.load %w[%i] : {F1}
    %p = arith.mulf %a, %b : f64
    %q = arith.addf %acc, %p : f64
    scf.yield %q : f64
  }}
  memref.dealloc %raw : memref<?xf64>
  func.return %r : f64
}}
"""


@pytest.mark.parametrize("view", ["c", "fortran", "T", "rev_cols", "strided", "empty"])
def test_temporary_and_row_subview(view):
    compiled = jit(TEMPORARY)
    x = _views(np.float64)[view].astype(np.float64)
    w = np.linspace(-1, 2, 2 * x.shape[0])[::-2]
    assert compiled.call("weighted_rows", x, w) == pytest.approx(x.sum(axis=1) @ w)


# x[o0::s0, o1::s1][:n0, :n1] as a subview, summed by a call to @sum2d.
SUBVIEW = (
    _source(SUM2D, np.float64)
    + f"""
func.func @sum_sub(%x: {F2}, %o0: index, %o1: index, %n0: index, %n1: index,
                   %s0: index, %s1: index) -> f64 {{
  %v = memref.subview %x[%o0, %o1] [%n0, %n1] [%s0, %s1] : {F2} to {F2}
  %r = func.call @sum2d(%v) : ({F2}) -> f64
  func.return %r : f64
}}
"""
)


@pytest.mark.parametrize("view", ["c", "fortran", "T", "rev", "both_rev_T"])
@pytest.mark.parametrize("window", [(1, 1, 2, 2, 2, 1), (0, 0, 3, 2, 1, 2), (2, 1, 1, 1, 1, 1)])
def test_subview(view, window):
    compiled = jit(SUBVIEW)
    x = _views(np.float64)[view]
    o0, o1, n0, n1, s0, s1 = window
    expected = x[o0::s0, o1::s1][:n0, :n1]
    assert expected.shape == (n0, n1)
    assert compiled.call("sum_sub", x, *window) == expected.sum()


# memref.dim with a dynamic axis; an i1 (NumPy bool) array read and written.
BOOLS = """
func.func @dim(%x: {A2}, %k: index) -> index {{
  %d = memref.dim %x, %k : {A2}
  func.return %d : index
}}
func.func @positive(%x: {F1}, %out: {B1}) -> i64 {{
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %zero = arith.constant 0.0 : f64
  %n = memref.dim %x, %c0 : {F1}
  %count0 = arith.constant 0 : i64
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%count = %count0) -> (i64) {{
    %v = memref.load %x[%i] : {F1}
    %p = arith.cmpf ogt, %v, %zero : f64
    memref.store %p, %out[%i] : {B1}
    %again = memref.load %out[%i] : {B1}
    %one = arith.extui %again : i1 to i64
    %c = arith.addi %count, %one : i64
    scf.yield %c : i64
  }}
  func.return %r : i64
}}
""".format(A2=A2.format(T="f32"), F1=A1.format(T="f64"), B1=A1.format(T="i1"))


def test_dynamic_dim_and_bool_arrays():
    compiled = jit(BOOLS)
    x = np.zeros((3, 5), dtype=np.float32)
    assert [compiled.call("dim", x, k) for k in (0, 1)] == [3, 5]
    assert [compiled.call("dim", x.T, k) for k in (0, 1)] == [5, 3]
    v = np.array([1.0, -2.0, 0.0, 3.5, 4.0, -1.0, 7.0])[::-1]
    out = np.ones(14, dtype=bool)[::2]
    out[:] = False
    out.base[1::2] = True  # neighbours must stay untouched
    assert compiled.call("positive", v, out) == 4
    np.testing.assert_array_equal(out, v > 0)
    assert out.base[1::2].all()


CHECKS = f"""
func.func @get(%x: {F1}, %i: i64, %j: i64) -> f64 {{
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : {F1}
  %n64 = arith.index_cast %n : index to i64
  %ok_j = rt.check_index %j, %n64 {{axis = 1 : i64}} : i64
  %ok = rt.check_index %i, %n64 {{axis = 0 : i64}} : i64
  %r = scf.if %ok -> (f64) {{
    %ii = arith.index_cast %i : i64 to index
    %v = memref.load %x[%ii] : {F1}
    scf.yield %v : f64
  }} else {{
    %nan = arith.constant -1.0 : f64
    scf.yield %nan : f64
  }}
  func.return %r : f64
}}
func.func @assert_positive(%a: f64) {{
  %zero = arith.constant 0.0 : f64
  %bad = arith.cmpf ole, %a, %zero : f64
  rt.raise_if %bad {{code = 3 : i64, info = 5 : i64}}
  func.return
}}
"""


def test_check_index_records_into_ctx():
    compiled = jit(CHECKS)
    x = np.arange(10.0)[::-2]  # 9, 7, 5, 3, 1
    ctx = Ctx()
    assert compiled.call("get", x, 3, 0, ctx=ctx) == 3.0
    assert ctx.err_code == 0
    for i in (5, -1, 1 << 40):
        ctx = Ctx()
        assert compiled.call("get", x, i, 2, ctx=ctx) == -1.0
        assert (ctx.err_code, ctx.err_a, ctx.err_b, ctx.err_c) == (1, i, 0, 5)
    # Only the first error is kept: axis 1 is checked first.
    ctx = Ctx()
    compiled.call("get", x, 7, -3, ctx=ctx)
    assert (ctx.err_code, ctx.err_a, ctx.err_b, ctx.err_c) == (1, -3, 1, 5)
    # An error already recorded by the caller survives.
    ctx = Ctx(err_code=2, err_a=11)
    compiled.call("get", x, 7, 0, ctx=ctx)
    assert (ctx.err_code, ctx.err_a) == (2, 11)


def test_raise_if_records_code_and_info():
    compiled = jit(CHECKS)
    ctx = Ctx()
    compiled.call("assert_positive", 1.0, ctx=ctx)
    assert ctx.err_code == 0
    compiled.call("assert_positive", -1.0, ctx=ctx)
    assert (ctx.err_code, ctx.err_a) == (3, 5)
