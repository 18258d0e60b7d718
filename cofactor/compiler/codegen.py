"""Code generation: the llvm dialect to optimized native code.

`to_llvmlite` translates a lowered module (docs/internals.md section 2) to
llvmlite IR and defines the runtime support functions it calls (the call
context's arena); `add_entry_wrapper` adds the C entry points of section 3;
`optimize` runs LLVM O3, with glibc's vector math library for loops that
call math functions, and `emit_object` / `emit_assembly` produce code.
Signature types are given as `cofactor.compiler.types` objects or their
string form ("f64", "f64[:,:]", "(f64, i64)", "None"), see
`cofactor.runtime.marshal.parse_type`.
"""

from collections.abc import Sequence
from functools import cache

from llvmlite import binding as llvm
from llvmlite import ir
from llvmlite.ir.instructions import CallInstrAttributes
from xdsl.backend.llvm.convert import convert_module
from xdsl.dialects.builtin import IntegerAttr, ModuleOp

from cofactor.passes.ad_lower_cache import TAPE_SLOTS
from cofactor.runtime.engine import vector_library
from cofactor.runtime.marshal import Array, flatten, parse_type

PTR = ir.PointerType()
I1, I8, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
VOID = ir.VoidType()
NULL = ir.Constant(PTR, None)

# struct ctx { ptr arena; i64 err_code; i64 err_a; i64 err_b; i64 err_c; }
CTX = ir.LiteralStructType([PTR, I64, I64, I64, I64])
# An arena block is malloc(HEADER + nbytes): {ptr next, i64 nbytes} padded to
# HEADER bytes, then the data. `next` is at offset 0, so a block's address is
# also the address of its link to the next block.
HEADER = 64

# How each scalar type travels in the kernel and in the C entry point.
_KERNEL_TYPE = {"f64": ir.DoubleType(), "f32": ir.FloatType(), "i64": I64, "bool": I1}
_C_TYPE = {**_KERNEL_TYPE, "bool": I8}


def _i64(n: int) -> ir.Constant:
    return ir.Constant(I64, n)


def _i32(n: int) -> ir.Constant:
    return ir.Constant(I32, n)


# --------------------------------------------------------------------------
# llvm dialect -> llvmlite, runtime support


def to_llvmlite(module: ModuleOp) -> ir.Module:
    """Translate a lowered module; every function with a body becomes internal
    (convert_module ignores linkage) so that LLVM may inline and drop it, and
    the arena functions are defined."""
    llmod = convert_module(module, fallback_target_triple=None)
    for fn in llmod.functions:
        if not fn.is_declaration:
            fn.linkage = "internal"
    _define_runtime(llmod)
    slots = module.attributes.get(TAPE_SLOTS)
    if isinstance(slots, IntegerAttr):
        _define_tape_hints(llmod, slots.value.data)
    return llmod


def _define_tape_hints(llmod: ir.Module, slots: int) -> None:
    """The capacity each tape of the module had when its function last
    returned (`ad-lower-cache`), in a table of `slots` counts:

    cofactor_tape_hint(slot) -> i64     the capacity kept (0 at first)
    cofactor_tape_keep(slot, capacity)  keeps it

    Relaxed atomic loads and stores: calls from several threads race on a
    hint only, never on a tape."""
    table = ir.GlobalVariable(llmod, ir.ArrayType(I64, slots), "cofactor_tape_hints")
    table.linkage = "internal"
    table.initializer = ir.Constant(ir.ArrayType(I64, slots), [0] * slots)
    fn, b = _define(llmod, "cofactor_tape_hint", ir.FunctionType(I64, [I64]))
    at = b.gep(table, [_i64(0), fn.args[0]], inbounds=True)
    b.ret(b.load_atomic(at, "monotonic", 8))
    fn, b = _define(llmod, "cofactor_tape_keep", ir.FunctionType(VOID, [I64, I64]))
    at = b.gep(table, [_i64(0), fn.args[0]], inbounds=True)
    b.store_atomic(fn.args[1], at, "monotonic", 8)
    b.ret_void()


def _declare(llmod: ir.Module, name: str, fnty: ir.FunctionType) -> ir.Function:
    """The module's function `name`, declared with `fnty` if it is not there."""
    fn = llmod.globals.get(name)
    if fn is None:
        return ir.Function(llmod, fnty, name)
    if fn.function_type != fnty:
        raise ValueError(f"@{name} has type {fn.function_type}, expected {fnty}")
    return fn


def _define(llmod: ir.Module, name: str, fnty: ir.FunctionType) -> tuple[ir.Function, ir.IRBuilder]:
    """Give the internal function `name` a body; returns a builder at its entry."""
    fn = _declare(llmod, name, fnty)
    if not fn.is_declaration:
        raise ValueError(f"@{name} is reserved for the cofactor runtime but is defined")
    fn.linkage = "internal"
    return fn, ir.IRBuilder(fn.append_basic_block("entry"))


def _define_runtime(llmod: ir.Module) -> None:
    """Define the arena functions of docs/internals.md sections 2 and 3.

    cofactor_alloc(ctx, nbytes) -> ptr   pushes a new block on ctx.arena
    cofactor_free(ctx, ptr)              unlinks and frees the block of ptr
    cofactor_arena_find(head, p) -> link the link to the block holding p, or null
    cofactor_arena_detach(ctx, kept, p)  moves the block holding p to the list
                                         `kept`; returns its base (or null)
    cofactor_arena_release(head)         frees every block of a list
    """
    malloc = _declare(llmod, "malloc", ir.FunctionType(PTR, [I64]))
    free = _declare(llmod, "free", ir.FunctionType(VOID, [PTR]))
    find = _define_find(llmod)

    # A fresh block, like malloc's: `noalias` tells alias analysis that arrays
    # allocated here overlap no other array, and `noinline` keeps each call
    # a distinct allocation (inlined, the data pointer is `malloc + HEADER`,
    # which the SLP vectorizer may fold into vectors of pointers that alias
    # analysis cannot see through).
    fn, b = _define(llmod, "cofactor_alloc", ir.FunctionType(PTR, [PTR, I64]))
    fn.return_value.add_attribute("noalias")
    fn.attributes.add("noinline")
    ctx, nbytes = fn.args
    block = b.call(malloc, [b.add(nbytes, _i64(HEADER))])
    b.store(b.load(ctx, typ=PTR), block)
    b.store(nbytes, b.gep(block, [_i64(8)], source_etype=I8))
    b.store(block, ctx)
    b.ret(b.gep(block, [_i64(HEADER)], source_etype=I8))

    fn, b = _define(llmod, "cofactor_free", ir.FunctionType(VOID, [PTR, PTR]))
    ctx, p = fn.args
    link = b.call(find, [ctx, p])
    with b.if_then(b.icmp_unsigned("!=", link, NULL)):
        block = b.load(link, typ=PTR)
        b.store(b.load(block, typ=PTR), link)
        b.call(free, [block])
    b.ret_void()

    fn, b = _define(llmod, "cofactor_arena_detach", ir.FunctionType(PTR, [PTR, PTR, PTR]))
    ctx, kept, p = fn.args
    link = b.call(find, [ctx, p])
    with b.if_then(b.icmp_unsigned("!=", link, NULL)):
        block = b.load(link, typ=PTR)
        b.store(b.load(block, typ=PTR), link)
        b.store(b.load(kept, typ=PTR), block)
        b.store(block, kept)
        b.ret(block)
    # Another result may already have detached the same block.
    link = b.call(find, [kept, p])
    with b.if_then(b.icmp_unsigned("!=", link, NULL)):
        b.ret(b.load(link, typ=PTR))
    b.ret(NULL)

    fn, b = _define(llmod, "cofactor_arena_release", ir.FunctionType(VOID, [PTR]))
    (head,) = fn.args
    loop = fn.append_basic_block("loop")
    b.branch(loop)
    b.position_at_end(loop)
    block = b.load(head, typ=PTR)
    with b.if_then(b.icmp_unsigned("==", block, NULL)):
        b.ret_void()
    b.store(b.load(block, typ=PTR), head)
    b.call(free, [block])
    b.branch(loop)


def _define_find(llmod: ir.Module) -> ir.Function:
    """A block holds p when data <= p <= data + nbytes (the end is included
    so that an empty view at the end of a block is found)."""
    fn, b = _define(llmod, "cofactor_arena_find", ir.FunctionType(PTR, [PTR, PTR]))
    head, p = fn.args
    entry = b.block
    loop, check, advance = (fn.append_basic_block(n) for n in ("loop", "check", "advance"))
    b.branch(loop)
    b.position_at_end(loop)
    link = b.phi(PTR)
    link.add_incoming(head, entry)
    block = b.load(link, typ=PTR)
    with b.if_then(b.icmp_unsigned("==", block, NULL)):
        b.ret(NULL)
    b.branch(check)
    b.position_at_end(check)
    data = b.gep(block, [_i64(HEADER)], source_etype=I8)
    nbytes = b.load(b.gep(block, [_i64(8)], source_etype=I8), typ=I64)
    end = b.gep(data, [nbytes], source_etype=I8)
    inside = b.and_(b.icmp_unsigned(">=", p, data), b.icmp_unsigned("<=", p, end))
    with b.if_then(inside):
        b.ret(link)
    b.branch(advance)
    b.position_at_end(advance)
    link.add_incoming(block, advance)
    b.branch(loop)
    return fn


# --------------------------------------------------------------------------
# entry wrappers


def descriptor_type(ndim: int) -> ir.LiteralStructType:
    """The memref descriptor: data pointer, sizes, strides in elements."""
    dims = ir.ArrayType(I64, ndim)
    return ir.LiteralStructType([PTR, dims, dims])


def _kernel_type(t: str | Array) -> ir.Type:
    return descriptor_type(t.ndim) if isinstance(t, Array) else _KERNEL_TYPE[t]


def add_entry_wrapper(
    llmod: ir.Module,
    name: str,
    kernel_symbol: str,
    arg_types: Sequence[object],
    result_type: object,
) -> ir.Function:
    """Add the externally visible `int32_t name(args..., outs..., err_info)` of
    docs/internals.md section 3 around the lowered kernel `kernel_symbol`.

    `result_type` is the function's one return type: a tuple type gives one
    out slot per (flattened) element, None gives none. Owners of returned
    arrays may repeat when two results share a block: free each once."""
    if name == kernel_symbol:
        raise ValueError(f"the entry wrapper needs a name other than the kernel's ({name})")
    args = [parse_type(t) for t in arg_types]
    if not all(isinstance(t, str | Array) for t in args):
        raise TypeError(f"entry arguments must be scalars or arrays: {list(map(str, arg_types))}")
    results = flatten(parse_type(result_type))
    kernel_ret = [_kernel_type(t) for t in results]
    ret_type = kernel_ret[0] if len(results) == 1 else ir.LiteralStructType(kernel_ret)
    expected = ir.FunctionType(ret_type if results else VOID, [PTR, *map(_kernel_type, args)])
    kernel = llmod.globals.get(kernel_symbol)
    if kernel is None:
        raise KeyError(f"no kernel @{kernel_symbol} in the module")
    if kernel.function_type != expected:
        raise ValueError(f"@{kernel_symbol} has type {kernel.function_type}, expected {expected}")

    c_args: list[ir.Type] = []
    for t in args:
        c_args += [PTR, *[I64] * (2 * t.ndim)] if isinstance(t, Array) else [_C_TYPE[t]]
    fnty = ir.FunctionType(I32, [*c_args, *[PTR] * len(results), PTR])
    fn = ir.Function(llmod, fnty, name)
    b = ir.IRBuilder(fn.append_basic_block("entry"))
    ctx = b.alloca(CTX, name="ctx")
    b.store(ir.Constant(CTX, None), ctx)
    kept = b.alloca(PTR, name="kept")
    b.store(NULL, kept)

    params = iter(fn.args)
    kernel_args = [ctx]
    for t in args:
        if isinstance(t, Array):
            desc = ir.Constant(descriptor_type(t.ndim), ir.Undefined)
            desc = b.insert_value(desc, next(params), 0)
            for field in (1, 2):
                for k in range(t.ndim):
                    desc = b.insert_value(desc, next(params), [field, k])
            kernel_args.append(desc)
        elif t == "bool":
            kernel_args.append(b.icmp_unsigned("!=", next(params), ir.Constant(I8, 0)))
        else:
            kernel_args.append(next(params))
    outs = [next(params) for _ in results]
    err_info = next(params)

    ret = b.call(kernel, kernel_args)
    err = [b.load(b.gep(ctx, [_i32(0), _i32(k)], source_etype=CTX), typ=I64) for k in range(1, 5)]
    with b.if_then(b.icmp_unsigned("==", err[0], _i64(0))):
        detach = llmod.globals["cofactor_arena_detach"]
        for k, (t, out) in enumerate(zip(results, outs, strict=True)):
            value = ret if len(results) == 1 else b.extract_value(ret, k)
            if isinstance(t, Array):
                data = b.extract_value(value, 0)
                slots = [data, b.call(detach, [ctx, kept, data])]
                slots += [b.extract_value(value, [f, i]) for f in (1, 2) for i in range(t.ndim)]
                for i, slot in enumerate(slots):
                    b.store(slot, b.gep(out, [_i64(i)], source_etype=I64))
            else:
                b.store(b.zext(value, I8) if t == "bool" else value, out)
    b.call(llmod.globals["cofactor_arena_release"], [ctx])
    with b.if_then(b.icmp_unsigned("!=", err_info, NULL)):
        for k, value in enumerate(err):
            b.store(value, b.gep(err_info, [_i64(k)], source_etype=I64))
    b.ret(b.trunc(err[0], I32))
    return fn


# --------------------------------------------------------------------------
# optimization and emission


@cache
def target_machine(
    cpu: str = "host", triple: str | None = None, reloc: str = "default"
) -> llvm.TargetMachine:
    """A cached target machine: cpu "host" (this CPU and its features) or a
    named CPU ("generic" for portable code). `triple` None is the host; other
    triples (nvptx64-nvidia-cuda) take the CPU name as is ("sm_90").
    Never hand one to MCJIT: it takes ownership (see TOOLCHAIN-NOTES)."""
    if triple is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        triple = llvm.get_process_triple()
    else:
        llvm.initialize_all_targets()
        llvm.initialize_all_asmprinters()
    features = ""
    if cpu == "host":
        cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
    target = llvm.Target.from_triple(triple)
    return target.create_target_machine(cpu=cpu, features=features, opt=3, reloc=reloc)


_FP_OPS = {"fadd", "fsub", "fmul", "fdiv", "frem", "fneg", "fcmp"}


def _set_fastmath(llmod: ir.Module) -> None:
    """Mark every floating-point operation and call `fast`."""
    for fn in llmod.functions:
        for block in fn.blocks:
            for inst in block.instructions:
                if isinstance(inst, ir.CallInstr):
                    if isinstance(inst.type, ir.FloatType | ir.DoubleType):
                        inst.fastmath = ir.FastMathFlags(["fast"])
                elif inst.opname in _FP_OPS and "fast" not in inst.flags:
                    inst.flags.append("fast")


# libm functions with vector variants in glibc's libmvec (2.35 has all of
# them, 2.22 the first five): name -> number of arguments. Lowered code calls
# them as intrinsics (`llvm.exp.f64`) or by their libm names (`tanh`, `tanhf`),
# which the frontend reserves (`frontend.RESERVED_SYMBOLS`).
_VECTOR_MATH = {
    "sin": 1, "cos": 1, "exp": 1, "log": 1, "pow": 2,
    "tan": 1, "asin": 1, "acos": 1, "atan": 1, "atan2": 2, "sinh": 1, "cosh": 1, "tanh": 1,
    "asinh": 1, "acosh": 1, "atanh": 1, "exp2": 1, "expm1": 1, "log2": 1, "log10": 1,
    "log1p": 1, "cbrt": 1, "erf": 1, "erfc": 1, "hypot": 2,
}
_VECTOR_CALLEES = {
    name: (base, suffix)
    for base in _VECTOR_MATH
    for name, suffix in ((base, ""), (f"{base}f", "f"), (f"llvm.{base}.f64", ""),
                         (f"llvm.{base}.f32", "f"))
}
# The x86-64 vector ABIs of libmvec: letter, register bits, CPU feature needed.
_VECTOR_ISAS = (("b", 128, "sse2"), ("c", 256, "avx"), ("d", 256, "avx2"),
                ("e", 512, "avx512f"))
_VARIANTS = "vector-function-abi-variant"


class _CallAttributes(CallInstrAttributes):
    """llvmlite's call attributes, plus LLVM's string attribute that names a
    call's vector variants (llvmlite knows only a few enum attributes)."""

    def add(self, name: str) -> None:
        if name.startswith(f'"{_VARIANTS}"='):
            set.add(self, name)
        else:
            super().add(name)


@cache
def _vector_isas() -> tuple[tuple[str, int], ...]:
    """(ABI letter, register bits) of the host: the best ABI for each width."""
    features = llvm.get_host_cpu_features()
    best = {bits: isa for isa, bits, feature in _VECTOR_ISAS if features.get(feature)}
    return tuple((isa, bits) for bits, isa in sorted(best.items()))


@cache
def _has_symbol(name: str) -> bool:
    library = vector_library()
    return library is not None and hasattr(library, name)


def _cyclic_blocks(fn: ir.Function) -> set[ir.Block]:
    """The blocks of `fn` that lie on a cycle of its control flow graph: the
    strongly connected components (Tarjan's algorithm, iterative) with more
    than one block or a block that branches to itself."""
    successors = {b: [op for op in b.terminator.operands if isinstance(op, ir.Block)]
                  for b in fn.blocks}
    index: dict[ir.Block, int] = {}
    low: dict[ir.Block, int] = {}
    stack: list[ir.Block] = []
    on_stack: set[ir.Block] = set()
    cyclic: set[ir.Block] = set()

    def visit(block: ir.Block) -> None:
        index[block] = low[block] = len(index)
        stack.append(block)
        on_stack.add(block)
        work.append((block, iter(successors[block])))

    for root in fn.blocks:
        if root in index:
            continue
        work: list = []
        visit(root)
        while work:
            block, pending = work[-1]
            for succ in pending:
                if succ not in index:
                    visit(succ)
                    break
                if succ in on_stack:
                    low[block] = min(low[block], index[succ])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[block])
                if low[block] == index[block]:
                    component = stack[stack.index(block):]
                    del stack[len(stack) - len(component):]
                    on_stack.difference_update(component)
                    if len(component) > 1 or block in successors[block]:
                        cyclic.update(component)
    return cyclic


def _calls_in_loops(llmod: ir.Module) -> list[ir.CallInstr]:
    """The calls that run in a loop: in a block on a cycle, or anywhere in a
    function that is called (directly or not) from such a block."""
    defined = [fn for fn in llmod.functions if not fn.is_declaration]
    cyclic = {fn: _cyclic_blocks(fn) for fn in defined}
    in_loops: set[ir.Function] = set()
    calls: list[ir.CallInstr] = []
    pending = [(fn, block) for fn in defined for block in cyclic[fn]]
    seen = set(pending)
    while pending:
        fn, block = pending.pop()
        for inst in block.instructions:
            if not isinstance(inst, ir.CallInstr):
                continue
            calls.append(inst)
            callee = inst.callee
            if isinstance(callee, ir.Function) and callee in cyclic and callee not in in_loops:
                in_loops.add(callee)
                more = [(callee, b) for b in callee.blocks if (callee, b) not in seen]
                seen.update(more)
                pending += more
    return calls


def _add_vector_math(llmod: ir.Module) -> None:
    """Give each call of a `_VECTOR_MATH` function in a loop the libmvec
    variants that the host can run, so that the loop and SLP vectorizers
    call, say, `_ZGVdN4v_exp` (4 doubles, AVX2) where a loop calls
    `llvm.exp.f64`. Calls outside loops keep libm (and CPython's results:
    a vector variant may differ by a few ulp, and saves little there). The
    variants are declared and kept in `llvm.compiler.used` until the
    vectorizers run. The libm calls become `readnone`: errno is never read.
    A module that has `llvm.compiler.used` already has its variants."""
    if vector_library() is None or "llvm.compiler.used" in llmod.globals:
        return
    declared: dict[str, ir.Function] = {}
    for inst in _calls_in_loops(llmod):
        callee = inst.callee
        if not (isinstance(callee, ir.Function) and callee.is_declaration
                and callee.name in _VECTOR_CALLEES):
            continue
        base, suffix = _VECTOR_CALLEES[callee.name]
        scalar = callee.function_type.return_type
        arity = _VECTOR_MATH[base]
        variants = []
        for isa, bits in _vector_isas():
            lanes = bits // (32 if suffix else 64)
            name = f"_ZGV{isa}N{lanes}{'v' * arity}_{base}{suffix}"
            if not _has_symbol(name):
                continue
            if name not in declared:
                vector = ir.VectorType(scalar, lanes)
                declared[name] = _declare(llmod, name, ir.FunctionType(vector, [vector] * arity))
            variants.append(f"_ZGV_LLVM_N{lanes}{'v' * arity}_{callee.name}({name})")
        if variants:
            attributes = [*inst.attributes, f'"{_VARIANTS}"="{",".join(variants)}"']
            if not callee.name.startswith("llvm."):
                attributes.append("readnone")
            inst.attributes = _CallAttributes(attributes)
    if declared:
        used = ir.GlobalVariable(llmod, ir.ArrayType(PTR, len(declared)), "llvm.compiler.used")
        used.linkage = "appending"
        used.section = "llvm.metadata"
        used.initializer = ir.Constant(used.value_type, list(declared.values()))


def optimize(llmod: ir.Module, fastmath: bool = False, cpu: str = "host") -> llvm.ModuleRef:
    """Parse, verify and run O3 with loop and SLP vectorization for `cpu`.
    This sets the triple and data layout of `llmod`, and with `fastmath`
    first makes every floating-point operation of `llmod` `fast`. For the
    host CPU, loops over math functions call glibc's vector math library
    (libmvec, within 4 ulp) where it is there, see `_add_vector_math`;
    other CPUs ("generic", for portable libraries) keep scalar libm calls."""
    if fastmath:
        _set_fastmath(llmod)
    if cpu == "host":
        _add_vector_math(llmod)
    tm = target_machine(cpu)
    llmod.triple = tm.triple
    llmod.data_layout = str(tm.target_data)
    mod = llvm.parse_assembly(str(llmod))
    mod.verify()
    pto = llvm.create_pipeline_tuning_options(speed_level=3)
    pto.loop_vectorization = True
    pto.slp_vectorization = True
    pb = llvm.create_pass_builder(tm, pto)
    pb.getModulePassManager().run(mod, pb)
    return mod


def _module_ref(mod: llvm.ModuleRef | ir.Module) -> llvm.ModuleRef:
    return mod if isinstance(mod, llvm.ModuleRef) else llvm.parse_assembly(str(mod))


def emit_object(mod: llvm.ModuleRef | ir.Module, cpu: str = "host") -> bytes:
    """Position-independent object code, for the JIT, the disk cache and
    shared libraries; use the `cpu` that `optimize` used."""
    return target_machine(cpu, reloc="pic").emit_object(_module_ref(mod))


def emit_assembly(mod: llvm.ModuleRef | ir.Module, cpu: str = "host") -> str:
    return target_machine(cpu, reloc="pic").emit_assembly(_module_ref(mod))
