"""Command-line tools: `cofactor` (ir, compile) and `cofactor-opt`."""

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from xdsl.xdsl_opt_main import xDSLOptMain


class CofactorOptMain(xDSLOptMain):
    """`xdsl-opt` with cofactor's dialects and passes registered."""

    def register_all_dialects(self):
        super().register_all_dialects()
        from cofactor.dialects import all_dialects

        for dialect in all_dialects():
            if dialect.name not in self.ctx.registered_dialect_names:
                self.ctx.register_dialect(dialect.name, lambda d=dialect: d)

    def register_all_passes(self):
        super().register_all_passes()
        from cofactor.passes import all_passes

        for name, pass_class in all_passes().items():
            self.register_pass(name, lambda p=pass_class: p)


def opt_main(args: Sequence[str] | None = None) -> int:
    CofactorOptMain(description="cofactor IR optimizer driver", args=args).run()
    return 0


def load_function(spec: str) -> Callable:
    """`path/file.py:func` -> the function object, importing the file as a module.

    The file's folder goes first on `sys.path`, as for `python path/file.py`, so
    the file can import its neighbours.
    """
    path, sep, name = spec.rpartition(":")
    if not sep or not path:
        raise SystemExit(f"cofactor: expected path/file.py:function, got {spec!r}")
    file = Path(path)
    if not file.is_file():
        raise SystemExit(f"cofactor: no such file: {path}")
    sys.path.insert(0, str(file.resolve().parent))
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[file.stem] = module
    module_spec.loader.exec_module(module)
    fn = getattr(module, name, None)
    if fn is None:
        raise SystemExit(f"cofactor: {path} has no function {name!r}")
    return getattr(fn, "py_func", fn)


def _ir_command(args: argparse.Namespace) -> int:
    from cofactor.compiler.diagnostics import CompileError
    from cofactor.compiler.options import Options
    from cofactor.compiler.pipeline import (
        ActivityError,
        Derivative,
        Instrumentation,
        stage_text,
    )
    from cofactor.compiler.types import is_differentiable, parse_signature

    fn = load_function(args.function)
    try:
        types = parse_signature(args.signature)
    except ValueError as exc:
        raise SystemExit(f"cofactor: {exc}") from None
    instrument = Instrumentation(print_after_all=args.print_ir_after_all, timing=args.timing,
                                 out=sys.stdout)
    options = Options(boundscheck=args.boundscheck, fastmath=args.fastmath)
    derivative = None
    if args.jvp is not None:
        wrt = {int(k) for k in args.jvp.split(",") if k.strip()}
        activity = tuple("dup" if k in wrt else "const" for k in range(len(types)))
        derivative = Derivative("forward", activity, width=args.width)
    if args.grad is not None:
        from cofactor.compiler.types import ArrayType

        wrt = {int(k) for k in args.grad.split(",") if k.strip()}
        for k in sorted(wrt):
            if not 0 <= k < len(types) or not is_differentiable(types[k]):
                print(f"cofactor: error: --grad {k}: no float argument {k} in the signature",
                      file=sys.stderr)
                return 1
        activity = tuple("const" if k not in wrt else "dup" if isinstance(t, ArrayType)
                         else "active" for k, t in enumerate(types))
        derivative = Derivative("reverse", activity)
    try:
        text = stage_text(fn, types, options, args.stage, instrument, derivative)
    except (CompileError, ActivityError) as exc:
        print(f"cofactor: error: {exc}", file=sys.stderr)
        return 1
    if not args.print_ir_after_all:
        print(text)
    instrument.report()
    return 0


def _compile_command(args: argparse.Namespace) -> int:
    from cofactor import aot
    from cofactor.compiler.diagnostics import CompileError

    fn = load_function(args.function)

    def argnums(text: str | None) -> list[int] | None:
        return None if text is None else [int(k) for k in text.split(",") if k.strip()]

    try:
        library = aot.compile(fn, args.signature, args.output, cpu=args.cpu,
                              object_file=args.object, name=args.name,
                              boundscheck=args.boundscheck, fastmath=args.fastmath,
                              jvp=argnums(args.jvp), grad=argnums(args.grad))
    except (CompileError, TypeError, ValueError, aot.BuildError) as exc:
        print(f"cofactor: error: {exc}", file=sys.stderr)
        return 1
    made = [library, library.with_suffix(".h")] + [library.with_suffix(".o")] * args.object
    print("wrote " + ", ".join(map(str, made)))
    return 0


def main(args: Sequence[str] | None = None) -> int:
    from cofactor.compiler.pipeline import STAGES

    parser = argparse.ArgumentParser(prog="cofactor", description="cofactor compiler driver")
    sub = parser.add_subparsers(dest="command", required=True)
    ir = sub.add_parser("ir", help="print the IR of a function at a pipeline stage")
    ir.add_argument("function", help="path/file.py:function")
    ir.add_argument("--signature", required=True, help='argument types, e.g. "f64, f64[:,:], i64"')
    ir.add_argument("--stage", default="opt", choices=STAGES)
    ir.add_argument("--print-ir-after-all", action="store_true")
    ir.add_argument("--timing", action="store_true", help="print the time spent in each pass")
    ir.add_argument("--boundscheck", action="store_true")
    ir.add_argument("--fastmath", action="store_true")
    ir.add_argument("--jvp", metavar="ARGNUMS",
                    help="show the forward-mode derivative w.r.t. these arguments, e.g. 0,2")
    ir.add_argument("--width", type=int, default=1, help="vector width of --jvp")
    ir.add_argument("--grad", metavar="ARGNUMS",
                    help="show the reverse-mode gradient w.r.t. these arguments, e.g. 0,1")
    ir.set_defaults(run=_ir_command)
    aot = sub.add_parser("compile", help="compile a function to a shared library and C header")
    aot.add_argument("function", help="path/file.py:function")
    aot.add_argument("--signature", required=True, help='argument types, e.g. "f64, f64[:,:], i64"')
    aot.add_argument("-o", "--output", help="the library to write (default lib<function>.so); "
                     "the header goes next to it (.h)")
    aot.add_argument("--name", help="the C name of the function (default: its Python name)")
    aot.add_argument("--cpu", default="generic",
                     help="generic (portable, default), host (this CPU), or an LLVM CPU name")
    aot.add_argument("--object", action="store_true", help="also write the object file (.o)")
    aot.add_argument("--grad", metavar="ARGS", help="also export the gradient with respect to "
                     "these arguments, e.g. 0,1, as <name>_grad")
    aot.add_argument("--jvp", metavar="ARGS", help="also export <name>_jvp, the Jacobian-vector "
                     "product with tangents for these arguments, e.g. 0,2")
    aot.add_argument("--boundscheck", action="store_true")
    aot.add_argument("--fastmath", action="store_true")
    aot.set_defaults(run=_compile_command)
    parsed = parser.parse_args(args)
    try:
        return parsed.run(parsed)
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
