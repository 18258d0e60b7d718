"""Ahead-of-time compilation: a shared library, its C header and its metadata.

The library exports one C entry point per compiled function, with the ABI of
docs/internals.md section 3, and the JSON string `cofactor_metadata` that
`cofactor.load` reads; everything else in it is internal. It needs only libc
and libm at run time (and glibc's libmvec when compiled for cpu="host" with
loops over math functions, see `codegen.optimize`), so it deploys without
Python, xDSL or llvmlite.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from llvmlite import binding as llvm
from llvmlite import ir

from cofactor import __version__
from cofactor.compiler import codegen
from cofactor.compiler.frontend import RESERVED_SYMBOLS
from cofactor.compiler.options import Options
from cofactor.compiler.pipeline import Derivative, lower, to_llvm
from cofactor.compiler.types import ArrayType, ValueType, is_differentiable, parse_signature
from cofactor.load import ABI_VERSION, METADATA_SYMBOL
from cofactor.runtime.engine import VECTOR_LIBRARY, vector_library
from cofactor.runtime.marshal import Array, EntryInfo, flatten, parse_type

_C_TYPE = {"f64": "double", "f32": "float", "i64": "int64_t", "bool": "uint8_t"}
# C and C++ keywords that are not Python keywords: never C names in the header.
_C_KEYWORDS = frozenset(
    "auto case char const default do double enum extern float goto inline int long register "
    "restrict short signed sizeof static struct switch typedef union unsigned void volatile bool "
    "true false catch delete explicit friend mutable namespace new nullptr operator private "
    "protected public template this throw typename using virtual".split()
)

ABI_COMMENT = """\
The C ABI of every function below (cofactor docs/internals.md, section 3):

  int32_t NAME(<arguments>, <results>, int64_t *err_info);

- Arguments, in order: double (f64), float (f32), int64_t (i64), uint8_t
  (bool, 0 or 1); an array of rank r passes its data pointer, then the size
  of each dimension, then the stride of each dimension, in elements (not
  bytes; any sign). Functions may write into argument arrays.
- Results, flattened in order (a returned tuple gives one slot per element):
  a scalar gives `T *out`; an array of rank r gives `int64_t *out` pointing
  at 2 + 2r slots: data, owner, sizes..., strides... (in elements). `owner`
  is a malloc'd pointer that the caller now owns and must free() when done
  with the data, or 0 when the array is a view of an argument. Two results
  may share one owner: free it once.
- err_info may be NULL; otherwise it receives {code, a, b, c}.
- The return value is 0 on success, or the error code: 1 IndexError (a =
  index, b = axis, c = size), 2 ZeroDivisionError, 3 AssertionError, 4
  ValueError (for 3 and 4, a indexes the function's messages listed above
  its prototype). Results are not written when it fails.
- The functions keep no state between calls and may run in several threads
  at once."""


class BuildError(Exception):
    """The C compiler could not link the library."""


@dataclass(frozen=True)
class EntryPoint:
    """One exported C function: `name` runs `pyfunc` specialized on `arg_types`,
    or its `derivative` (then the name is `<function>_jvp`, ...)."""

    name: str
    pyfunc: Callable
    arg_types: tuple[ValueType, ...]
    derivative: Derivative | None = None


def compile(
    f: Callable | None = None,
    signature: str | Sequence[ValueType] | None = None,
    output: str | os.PathLike | None = None,
    *,
    cpu: str = "generic",
    object_file: bool = False,
    name: str | None = None,
    functions: Sequence[tuple] | None = None,
    boundscheck: bool = False,
    fastmath: bool = False,
    jvp: Sequence[int] | None = None,
    grad: Sequence[int] | None = None,
) -> Path:
    """Compile `f` on `signature` (and every `(function, signature[, name])` of
    `functions`) into the shared library `output`, default `lib<name>.so`;
    writes the header next to it (`.so` -> `.h`), and the object file too
    (`.o`) with `object_file`. Returns the library's path.

    `cpu` is "generic" (runs on any CPU of this architecture), "host" (this
    CPU and its extensions), or an LLVM CPU name such as "x86-64-v3". A
    function's C name is `name` or its `__name__`. `boundscheck` and
    `fastmath` are as for `cofactor.jit` (a jit function's own are not used).
    `jvp` lists argument numbers of `f`: the library then also exports
    `<name>_jvp`, whose arguments are `f`'s with a tangent after each listed
    one, and whose results are `f`'s followed by their tangents. `grad` does
    the same for `<name>_grad`, the reverse-mode gradient of `f`'s float
    result: a float argument listed gets its derivative returned after `f`'s
    result; an array argument listed is followed by `<arg>_grad`, an array of
    its shape into which the gradient is added (zero it first); the last
    argument is the adjoint seed of the result (1.0 for the gradient)."""
    entries = [_entry_point(f, signature, name)] if f is not None else []
    entries += [_entry_point(*spec) for spec in functions or ()]
    for argnums, make in ((jvp, _jvp_entry), (grad, _grad_entry)):
        if argnums is not None:
            if not entries:
                raise ValueError("jvp= and grad= need a function")
            entries.append(make(entries[0], argnums))
    if not entries:
        raise ValueError("nothing to compile: pass a function and its signature")
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        raise ValueError(f"two functions have the same C name: {', '.join(names)}")
    output = Path(output or f"lib{names[0]}.so")
    output.parent.mkdir(parents=True, exist_ok=True)

    options = Options(boundscheck=boundscheck, fastmath=fastmath)
    obj, infos = _object_code(entries, options, cpu)
    output.with_suffix(".h").write_text(header(output.stem, entries, infos))
    with tempfile.TemporaryDirectory() as tmp:
        obj_path = output.with_suffix(".o") if object_file else Path(tmp) / "code.o"
        obj_path.write_bytes(obj)
        _link(obj_path, output, vector_math=cpu == "host" and vector_library() is not None)
    return output


def _entry_point(f: Callable, signature: str | Sequence[ValueType] | None,
                 name: str | None = None) -> EntryPoint:
    pyfunc = getattr(f, "py_func", f)  # a cofactor.jit function compiles its Python function
    if not inspect.isfunction(pyfunc):
        raise TypeError(f"expected a Python function, got {type(pyfunc).__name__}")
    if signature is None:
        raise ValueError(f"{pyfunc.__name__}: a signature is needed, e.g. \"f64[:], i64\"")
    types = parse_signature(signature) if isinstance(signature, str) else tuple(signature)
    name = name or pyfunc.__name__
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or name in _C_KEYWORDS:
        raise ValueError(f"{name!r} is not a C identifier; pass name=")
    if name in RESERVED_SYMBOLS or name.startswith("cofactor_"):
        raise ValueError(f"the C name {name!r} is reserved (C library or cofactor runtime); "
                         "pass name=")
    return EntryPoint(name, pyfunc, types)


def _checked_argnums(primal: EntryPoint, argnums: Sequence[int], what: str) -> set[int]:
    wrt = set(argnums)
    if not wrt <= set(range(len(primal.arg_types))):
        raise ValueError(f"{what} argument numbers {sorted(wrt)} out of range for "
                         f"{len(primal.arg_types)} arguments")
    for k in wrt:
        if not is_differentiable(primal.arg_types[k]):
            raise ValueError(f"argument {k} ({primal.arg_types[k]}) has no derivative")
    return wrt


def _jvp_entry(primal: EntryPoint, argnums: Sequence[int]) -> EntryPoint:
    """The forward-mode derivative of `primal` with respect to `argnums`."""
    wrt = _checked_argnums(primal, argnums, "jvp")
    activity = tuple("dup" if k in wrt else "const" for k in range(len(primal.arg_types)))
    return EntryPoint(f"{primal.name}_jvp", primal.pyfunc, primal.arg_types,
                      Derivative("forward", activity))


def _grad_entry(primal: EntryPoint, argnums: Sequence[int]) -> EntryPoint:
    """The reverse-mode gradient of `primal` with respect to `argnums`: float
    scalars are `active` (returned), float arrays `dup` (added into a shadow)."""
    wrt = _checked_argnums(primal, argnums, "grad")
    activity = tuple(
        "const" if k not in wrt else "dup" if isinstance(t, ArrayType) else "active"
        for k, t in enumerate(primal.arg_types))
    return EntryPoint(f"{primal.name}_grad", primal.pyfunc, primal.arg_types,
                      Derivative("reverse", activity))


def _object_code(entries: list[EntryPoint], options: Options,
                 cpu: str) -> tuple[bytes, list[EntryInfo]]:
    """Compile every entry point, link the modules and the metadata into one,
    and emit position-independent object code."""
    reserved = frozenset(e.name for e in entries)
    infos, modules = [], []
    for e in entries:
        lowered = lower(e.pyfunc, e.arg_types, options, reserved=reserved,
                        derivative=e.derivative)
        infos.append(EntryInfo(e.name, lowered.arg_types, lowered.result_type,
                               lowered.assert_messages, lowered.written))
        modules.append(codegen.optimize(to_llvm(lowered, e.name), fastmath=options.fastmath,
                                        cpu=cpu))

    meta = ir.Module("cofactor_metadata")
    text = json.dumps({"abi": ABI_VERSION, "cofactor": __version__,
                       "functions": [i.to_json() for i in infos]}).encode() + b"\0"
    data = ir.GlobalVariable(meta, ir.ArrayType(ir.IntType(8), len(text)), METADATA_SYMBOL)
    data.initializer = ir.Constant(data.value_type, bytearray(text))
    data.global_constant = True
    meta.triple, meta.data_layout = modules[0].triple, modules[0].data_layout
    library = llvm.parse_assembly(str(meta))
    for mod in modules:
        library.link_in(mod)  # renames clashing internal symbols
    return codegen.emit_object(library, cpu=cpu), infos


def _link(obj: Path, output: Path, vector_math: bool) -> None:
    """Link a shared library; with `vector_math`, against libmvec too, which
    `--as-needed` keeps out of the library unless its code calls it."""
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise BuildError(f"no C compiler {cc!r} to link the shared library; install one "
                         "(e.g. gcc) or set CC")
    libraries = ["-lm", *(["-Wl,--as-needed", f"-l:{VECTOR_LIBRARY}"] if vector_math else [])]
    done = subprocess.run([cc, "-shared", "-o", str(output), str(obj), *libraries],
                          capture_output=True, text=True)
    if done.returncode:
        raise BuildError(f"{cc} failed to link {output}:\n{done.stderr.strip()}")


# --------------------------------------------------------------------------
# the C header


def header(library: str, entries: list[EntryPoint], infos: list[EntryInfo]) -> str:
    """The C header of a library: the ABI, then one prototype per entry point."""
    guard = re.sub(r"\W", "_", library).upper() + "_H"
    abi = "\n".join(f"   {line}".rstrip() for line in ABI_COMMENT.splitlines())
    parts = [
        f"/* {library}.h: made by cofactor {__version__}; do not edit.\n\n{abi}\n*/",
        f"#ifndef {guard}\n#define {guard}\n\n#include <stdint.h>\n\n"
        "#ifdef __cplusplus\nextern \"C\" {\n#endif",
        *(_prototype(e, i) for e, i in zip(entries, infos, strict=True)),
        f"#ifdef __cplusplus\n}}\n#endif\n\n#endif /* {guard} */\n",
    ]
    return "\n\n".join(parts)


def _prototype(entry: EntryPoint, info: EntryInfo) -> str:
    """The comment and prototype of one entry point; C parameter names come
    from the Python parameters (`x` -> `x_data, x_size0, x_stride0`)."""
    used: set[str] = set()

    def c_name(base: str) -> str:
        while base in used or base in _C_KEYWORDS:
            base += "_"
        used.add(base)
        return base

    py_names = list(inspect.signature(entry.pyfunc).parameters)
    if entry.derivative is not None:
        shadow = "_tangent" if entry.derivative.mode == "forward" else "_grad"
        py_names = [n for n, a in zip(py_names, entry.derivative.activity, strict=True)
                    for n in ([n, n + shadow] if a == "dup" else [n])]
        py_names += [f"seed{k}" for k in range(len(info.arg_types) - len(py_names))]
    params, described = [], []
    for py_name, text in zip(py_names, info.arg_types, strict=True):
        t = parse_type(text)
        described.append(f"{py_name}: {text}")
        if isinstance(t, Array):
            params.append(f"{_C_TYPE[t.dtype]} *{c_name(py_name + '_data')}")
            params += [f"int64_t {c_name(f'{py_name}_{field}{k}')}"
                       for field in ("size", "stride") for k in range(t.ndim)]
        else:
            params.append(f"{_C_TYPE[t]} {c_name(py_name)}")
    what = {None: "", "forward": "forward-mode derivative of ",
            "reverse": "reverse-mode gradient of "}[entry.derivative and entry.derivative.mode]
    lines = [f"{what}{entry.pyfunc.__qualname__}({', '.join(described)}) -> "
             f"{info.result_type}"]
    for k, t in enumerate(flatten(parse_type(info.result_type))):
        out = c_name(f"out{k}")
        if isinstance(t, Array):
            slots = ", ".join([f"size{i}" for i in range(t.ndim)]
                              + [f"stride{i}" for i in range(t.ndim)])
            lines.append(f"{out}: int64_t[{2 + 2 * t.ndim}] = {{data, owner, {slots}}} "
                         f"of the {t} result")
            params.append(f"int64_t *{out}")
        else:
            lines.append(f"{out}: the {t} result")
            params.append(f"{_C_TYPE[t]} *{out}")
    params.append(f"int64_t *{c_name('err_info')}")
    # JSON may escape "/" as "\/", which keeps "*/" from ending the comment
    lines += [f"message {k}: " + json.dumps(m).replace("*/", "*\\/")
              for k, m in enumerate(info.messages)]
    comment = "\n   ".join(lines)
    return f"/* {comment}\n*/\nint32_t {entry.name}({', '.join(params)});"
