"""Python AST to structured SSA IR (func/arith/math/scf/memref).

Every local variable is an SSA value in `env`. Branches and loops become
`scf.if`/`scf.for`/`scf.while` whose results carry the variables they assign,
so later passes see real SSA. `break`, `continue` and `return` inside
structure become boolean flags that are ordinary variables too: a statement
that may exit guards the statements after it with `scf.if`, and a loop that may
be left early becomes an `scf.while` whose condition tests the flags.

Types are found by evaluation: a loop body is first emitted into a scratch
block to learn what types its variables end up with (an int accumulator that
becomes a float is promoted), then emitted for real.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from xdsl.dialects import arith, func, memref, scf
from xdsl.dialects.builtin import (
    DYNAMIC_INDEX,
    DictionaryAttr,
    IndexType,
    MemRefType,
    ModuleOp,
    i64,
)
from xdsl.ir import Block, Region, SSAValue

from cofactor.compiler import arrays
from cofactor.compiler import builtins_table as table
from cofactor.compiler.arrays import Operand, constant_int
from cofactor.compiler.diagnostics import CompileError, SourceInfo
from cofactor.compiler.emitter import NONE_VAL, Emitter, Val, unify
from cofactor.compiler.options import Options
from cofactor.compiler.types import (
    BOOL,
    F64,
    I64,
    NONE,
    ArrayType,
    NoneType,
    ScalarType,
    TupleType,
    ValueType,
)
from cofactor.dialects.ad import CHECKPOINT, checkpoint_attr
from cofactor.dialects.rt import CheckIndexOp, NoErrorOp, RaiseIfOp
from cofactor.runtime.cache import fingerprint

RET, RETURNED = "$ret", "$returned"
RESERVED_SYMBOLS = frozenset(
    f + suffix
    for f in ("sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh",
              "asinh", "acosh", "atanh", "exp", "exp2", "expm1", "log", "log2", "log10",
              "log1p", "sqrt", "cbrt", "pow", "fabs", "floor", "ceil", "trunc", "round",
              "fmod", "hypot", "copysign", "erf", "erfc", "lgamma", "tgamma")
    for suffix in ("", "f")
) | {"malloc", "free", "abort", "main"}


def flat_ir_types(t: ValueType) -> list:
    if isinstance(t, TupleType):
        return [x for e in t.elements for x in flat_ir_types(e)]
    if isinstance(t, NoneType):
        return []
    return [t.ir]


def flatten(v: Val) -> list[SSAValue]:
    if isinstance(v.type, TupleType):
        return [s for item in v.items for s in flatten(item)]
    if isinstance(v.type, NoneType):
        return []
    return [v.ssa]


def unflatten(t: ValueType, values: Iterator[SSAValue]) -> Val:
    if isinstance(t, TupleType):
        return Val.tuple(tuple(unflatten(e, values) for e in t.elements))
    if isinstance(t, NoneType):
        return NONE_VAL
    return Val(next(values), t)


@dataclass
class Specialization:
    symbol: str
    result: ValueType | None  # None while being compiled (recursion)
    written: frozenset[int] = frozenset()  # array parameters the function may store into


@dataclass
class Program:
    """One module being built: the entry function and every callee it reaches."""

    options: Options
    module: ModuleOp = field(default_factory=lambda: ModuleOp([]))
    specs: dict[tuple, Specialization] = field(default_factory=dict)
    assert_messages: list[str] = field(default_factory=list)
    # (module, qualified name) -> source fingerprint of a function, repr of a constant
    dependencies: dict[tuple[str, str], str] = field(default_factory=dict)
    # further symbols to avoid: the C entry points of a shared library
    reserved: set[str] = field(default_factory=set)
    _names: set[str] = field(default_factory=set)

    def symbol_for(self, pyfunc: Callable) -> str:
        """A unique symbol that cannot shadow a C library function the code calls."""
        base = "".join(c if c.isalnum() else "_" for c in pyfunc.__qualname__)
        for n in itertools.count():
            name = base if n == 0 else f"{base}__{n}"
            taken = name in self._names or name in self.reserved or name in RESERVED_SYMBOLS
            if not taken:
                self._names.add(name)
                return name
        raise AssertionError

    def specialize(self, pyfunc: Callable, arg_types: tuple[ValueType, ...],
                   node: ast.AST | None = None, caller: FunctionCompiler | None = None
                   ) -> Specialization:
        key = (pyfunc, arg_types)
        spec = self.specs.get(key)
        if spec is not None:
            if spec.result is None:
                raise (caller.info.error if caller else _plain_error)(
                    f"recursive call to {pyfunc.__name__}() is not supported", node)
            return spec
        spec = Specialization(self.symbol_for(pyfunc), None)
        self.specs[key] = spec
        try:
            compiler = FunctionCompiler(self, pyfunc, arg_types, spec.symbol)
            spec.result = compiler.compile()
            spec.written = frozenset(compiler.written)
        except BaseException:
            del self.specs[key]
            raise
        return spec

    def message_index(self, text: str) -> int:
        if text not in self.assert_messages:
            self.assert_messages.append(text)
        return self.assert_messages.index(text)


def _plain_error(message: str, node: object = None) -> CompileError:
    return CompileError(message)


def parse_function(pyfunc: Callable) -> tuple[ast.FunctionDef, SourceInfo, str]:
    try:
        lines, first = inspect.getsourcelines(pyfunc)
        filename = inspect.getsourcefile(pyfunc) or "<unknown>"
    except (OSError, TypeError) as exc:
        raise CompileError(f"cannot read the source of {pyfunc!r}: {exc}") from None
    raw = "".join(lines)
    source = textwrap.dedent(raw)
    indent = len(lines[0]) - len(lines[0].lstrip())
    tree = ast.parse(source)
    fdef = tree.body[0]
    if not isinstance(fdef, ast.FunctionDef):
        raise CompileError(f"{pyfunc!r} is not defined by a def statement", filename)
    info = SourceInfo(filename, first, source.splitlines(), indent)
    return fdef, info, raw


def assigned_names(stmts: list[ast.stmt], depth: int) -> set[str]:
    """Variables (flags included) that a loop body at loop depth `depth` may assign."""
    names: set[str] = set()

    def visit(node: ast.AST, loop_depth: int) -> None:
        if isinstance(node, ast.FunctionDef | ast.Lambda | ast.ClassDef):
            return
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Return):
            names.update((RET, RETURNED))
        elif isinstance(node, ast.Break):
            names.add(f"$break{loop_depth}")
        elif isinstance(node, ast.Continue):
            names.add(f"$continue{loop_depth}")
        inner = loop_depth + 1 if isinstance(node, ast.For | ast.While) else loop_depth
        if isinstance(node, ast.For | ast.While):
            names.update((f"$break{inner}", f"$continue{inner}", f"$k{inner}"))
            for child in node.body:
                visit(child, inner)
            for child in [*node.orelse, getattr(node, "target", None), getattr(node, "iter", None),
                          getattr(node, "test", None)]:
                if child is not None:
                    visit(child, loop_depth)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, loop_depth)

    for s in stmts:
        visit(s, depth)
    return names


def contains(stmts: list[ast.stmt], kinds: tuple[type, ...], through_loops: bool) -> bool:
    """Whether a statement list holds a node of `kinds`, optionally looking into loops."""
    for node in stmts:
        for sub in _walk_no_defs(node, through_loops):
            if isinstance(sub, kinds):
                return True
    return False


def _walk_no_defs(node: ast.AST, through_loops: bool) -> Iterator[ast.AST]:
    yield node
    if isinstance(node, ast.FunctionDef | ast.Lambda | ast.ClassDef):
        return
    if not through_loops and isinstance(node, ast.For | ast.While):
        return
    for child in ast.iter_child_nodes(node):
        yield from _walk_no_defs(child, through_loops)


def always_returns(stmts: list[ast.stmt]) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, ast.Return):
        return True
    if isinstance(last, ast.If):
        return always_returns(last.body) and always_returns(last.orelse)
    if isinstance(last, ast.While) and isinstance(last.test, ast.Constant) and last.test.value:
        return not contains(last.body, (ast.Break,), through_loops=False)
    return False


class _Undefined(Exception):
    def __init__(self, name: str):
        self.name = name


class FunctionCompiler:
    """Lowers one Python function, specialized on argument types, to a func.func."""

    def __init__(self, program: Program, pyfunc: Callable, arg_types: tuple[ValueType, ...],
                 symbol: str):
        self.program = program
        self.pyfunc = pyfunc
        self.arg_types = arg_types
        self.symbol = symbol
        self.fdef, self.info, source = parse_function(pyfunc)
        program.dependencies[(pyfunc.__module__, pyfunc.__qualname__)] = fingerprint(source)
        self.em = Emitter(program.module, program.message_index)
        self.env: dict[str, Val] = {}
        self.loop_depth = 0
        self.scratch_depth = 0
        self.params: dict[SSAValue, int] = {}
        self.written: set[int] = set()
        # arrays that copy what NumPy would give as a view (.T, ...): not writable
        self.copies: dict[SSAValue, str] = {}
        self.globals = pyfunc.__globals__
        self.closure = {}
        if pyfunc.__closure__:
            for name, cell in zip(pyfunc.__code__.co_freevars, pyfunc.__closure__, strict=True):
                try:
                    self.closure[name] = cell.cell_contents
                except ValueError:
                    pass

    def error(self, message: str, node: ast.AST | None) -> CompileError:
        return self.info.error(message, node)

    # -- function --------------------------------------------------------
    def compile(self) -> ValueType:
        args = self.fdef.args
        if args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs:
            raise self.error("*args, **kwargs and keyword-only parameters are not supported",
                             self.fdef)
        if len(args.args) != len(self.arg_types):
            raise self.error(f"{self.fdef.name}() takes {len(args.args)} arguments, "
                             f"got {len(self.arg_types)}", self.fdef)
        entry = Block(arg_types=[t for at in self.arg_types for t in flat_ir_types(at)])
        values = iter(entry.args)
        for k, (a, t) in enumerate(zip(args.args, self.arg_types, strict=True)):
            self.env[a.arg] = unflatten(t, values)
            if isinstance(t, ArrayType):
                self.params[self.env[a.arg].ssa] = k
            a_ssa = self.env[a.arg].ssa
            if a_ssa is not None:
                a_ssa.name_hint = _hint(a.arg)
        body = self.fdef.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        has_value_return = any(
            isinstance(n, ast.Return) and n.value is not None
            for s in body for n in _walk_no_defs(s, True)
        )
        if has_value_return and not always_returns(body):
            raise self.error(f"{self.fdef.name}() may reach its end without returning a "
                             "value; add a final return", self.fdef)
        with self.em.at(entry):
            if any(isinstance(n, ast.Return) for s in body for n in _walk_no_defs(s, True)
                   if not (s is body[-1] and n is s)):
                self.env[RETURNED] = self.em.const(False, BOOL)
            self.lower_body(body)
            result = self.env.get(RET, NONE_VAL)
            self.em.op(func.ReturnOp(*flatten(result)))
        arg_ir = [t for at in self.arg_types for t in flat_ir_types(at)]
        ftype = (arg_ir, flat_ir_types(result.type))
        fop = func.FuncOp(self.symbol, ftype, Region(entry))
        self.program.module.body.block.add_op(fop)
        return result.type

    # -- statements ------------------------------------------------------
    def lower_body(self, stmts: list[ast.stmt]) -> None:
        for i, stmt in enumerate(stmts):
            self.lower_stmt(stmt)
            if isinstance(stmt, ast.Return | ast.Break | ast.Continue):
                return
            flags = self.exit_flags(stmt)
            if flags and i + 1 < len(stmts):
                cond = self.em.logical_not(self.any_of(flags))
                self.emit_if(cond, lambda rest=stmts[i + 1:]: self.lower_body(rest), None)
                return

    def exit_flags(self, stmt: ast.stmt) -> list[str]:
        """The flags a statement may set that cut the statements after it."""
        if isinstance(stmt, ast.For | ast.While):
            return [RETURNED] if contains(stmt.body, (ast.Return,), True) else []
        flags = []
        if contains([stmt], (ast.Return,), True):
            flags.append(RETURNED)
        if contains([stmt], (ast.Break,), False):
            flags.append(f"$break{self.loop_depth}")
        if contains([stmt], (ast.Continue,), False):
            flags.append(f"$continue{self.loop_depth}")
        return flags

    def any_of(self, names: list[str]) -> Val:
        acc = self.env[names[0]]
        for n in names[1:]:
            acc = Val(self.em.res(arith.OrIOp(acc.ssa, self.env[n].ssa)), BOOL)
        return acc

    def lower_stmt(self, stmt: ast.stmt) -> None:
        method = getattr(self, "stmt_" + type(stmt).__name__, None)
        if method is None:
            raise self.error(f"unsupported statement: {type(stmt).__name__}", stmt)
        try:
            method(stmt)
        except TypeError as exc:
            raise self.error(str(exc), stmt) from None

    def stmt_Expr(self, stmt: ast.Expr) -> None:
        if isinstance(stmt.value, ast.Constant):
            return
        self.expr(stmt.value)

    def stmt_Pass(self, stmt: ast.Pass) -> None:
        pass

    def stmt_Assign(self, stmt: ast.Assign) -> None:
        if len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Subscript):
            self.assign_subscript(stmt.targets[0], self.operand(stmt.value))
            return
        value = self.expr(stmt.value)
        for target in stmt.targets:
            self.assign(target, value)

    def stmt_AnnAssign(self, stmt: ast.AnnAssign) -> None:
        if stmt.value is not None:
            self.assign(stmt.target, self.expr(stmt.value))

    def stmt_AugAssign(self, stmt: ast.AugAssign) -> None:
        opname = table.BINOPS.get(type(stmt.op))
        if opname is None:
            raise self.error(f"unsupported operator {type(stmt.op).__name__}", stmt)
        if isinstance(stmt.target, ast.Name):
            current = self.load_name(stmt.target)
            if isinstance(current.type, ArrayType):  # in place, as NumPy does
                arrays.augment(self, current, opname, self.operand(stmt.value), stmt)
                return
            self.assign(stmt.target, self.binop(opname, current, self.expr(stmt.value), stmt))
        elif isinstance(stmt.target, ast.Subscript):
            array = self.expr(stmt.target.value)
            if not arrays.is_element(self, array, stmt.target):
                view = arrays.target_view(self, array, stmt.target)
                arrays.augment(self, view, opname, self.operand(stmt.value), stmt)
                return
            indices = self.indices(array, stmt.target)
            value = self.expr(stmt.value)
            current = self.load_element(array, indices, stmt.target)
            self.store_element(array, indices, self.binop(opname, current, value, stmt), stmt)
        else:
            raise self.error("unsupported augmented assignment target", stmt.target)

    def assign(self, target: ast.expr, value: Val) -> None:
        if isinstance(target, ast.Name):
            if value.ssa is not None and not value.ssa.name_hint:
                value.ssa.name_hint = _hint(target.id)
            self.env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            if not isinstance(value.type, TupleType) or len(value.items) != len(target.elts):
                raise self.error(f"cannot unpack {value.type} into {len(target.elts)} targets",
                                 target)
            for t, v in zip(target.elts, value.items, strict=True):
                self.assign(t, v)
        elif isinstance(target, ast.Subscript):
            self.assign_subscript(target, value)
        else:
            raise self.error(f"unsupported assignment target: {type(target).__name__}", target)

    def assign_subscript(self, target: ast.Subscript, value: Operand) -> None:
        """`x[i, j] = v` stores an element; with slices it fills a view."""
        if self.calls_user_code(target):
            value = arrays.settle(self, value)
        array = self.expr(target.value)
        if arrays.is_element(self, array, target):
            self.store_element(array, self.indices(array, target), arrays.value(self, value),
                               target)
        else:
            arrays.store_into(self, arrays.target_view(self, array, target), value, target)

    def stmt_Return(self, stmt: ast.Return) -> None:
        value = self.expr(stmt.value) if stmt.value is not None else NONE_VAL
        if RET in self.env:
            try:
                t = unify(self.env[RET].type, value.type)
            except TypeError as exc:
                raise self.error(f"return types differ: {exc}", stmt) from None
            value = self.coerce(value, t)
        self.env[RET] = value
        if RETURNED in self.env:
            self.env[RETURNED] = self.em.const(True, BOOL)

    def stmt_Break(self, stmt: ast.Break) -> None:
        if self.loop_depth == 0:
            raise self.error("'break' outside loop", stmt)
        self.env[f"$break{self.loop_depth}"] = self.em.const(True, BOOL)

    def stmt_Continue(self, stmt: ast.Continue) -> None:
        if self.loop_depth == 0:
            raise self.error("'continue' not properly in loop", stmt)
        self.env[f"$continue{self.loop_depth}"] = self.em.const(True, BOOL)

    def stmt_Assert(self, stmt: ast.Assert) -> None:
        ok = self.em.truth(self.expr(stmt.test))
        failed = self.em.logical_not(ok)
        message = ""
        if isinstance(stmt.msg, ast.Constant):
            message = str(stmt.msg.value)
        elif stmt.msg is not None:
            raise self.error("assert messages must be constants", stmt.msg)
        self.em.op(RaiseIfOp(failed.ssa, code=3, info=self.program.message_index(message)))

    def stmt_If(self, stmt: ast.If) -> None:
        cond = self.em.truth(self.expr(stmt.test))
        self.emit_if(cond, lambda: self.lower_body(stmt.body),
                     (lambda: self.lower_body(stmt.orelse)) if stmt.orelse else None, stmt)

    # -- structured control flow ----------------------------------------
    def emit_if(self, cond: Val, then: Callable[[], None], orelse: Callable[[], None] | None,
                node: ast.AST | None = None) -> None:
        """An scf.if whose results are the variables either branch changes."""
        before = dict(self.env)
        envs, blocks = [], []
        for branch in (then, orelse):
            block = Block()
            self.env = dict(before)
            with self.em.at(block):
                if branch is not None:
                    branch()
            envs.append(self.env)
            blocks.append(block)
        changed = sorted(n for n in set(envs[0]) | set(envs[1])
                         if envs[0].get(n) is not before.get(n)
                         or envs[1].get(n) is not before.get(n))
        types = {}
        for n in changed:
            known = [e[n].type for e in envs if n in e]
            try:
                t = known[0]
                for other in known[1:]:
                    t = unify(t, other)
            except TypeError as exc:
                raise self.error(f"variable '{n}': {exc}", node) from None
            types[n] = t
        for env, block in zip(envs, blocks, strict=True):
            with self.em.at(block):
                vals = [self.coerce(env[n], types[n]) if n in env else self.em.poison(types[n])
                        for n in changed]
                self.em.op(scf.YieldOp(*[s for v in vals for s in flatten(v)]))
        result_types = [t for n in changed for t in flat_ir_types(types[n])]
        if_op = self.em.op(scf.IfOp(cond.ssa, result_types, Region(blocks[0]), Region(blocks[1])))
        self.env = before
        results = iter(if_op.results)
        for n in changed:
            self.env[n] = unflatten(types[n], results)

    def coerce(self, v: Val, t: ValueType) -> Val:
        if v.type == t:
            return v
        if isinstance(t, TupleType):
            return Val.tuple(tuple(self.coerce(i, e) for i, e in zip(v.items, t.elements,
                                                                        strict=True)))
        return self.em.cast(v, t)

    def loop_types(self, carried: list[str], emit_body: Callable[[], None],
                   node: ast.AST) -> dict[str, ValueType]:
        """Find the types of loop-carried variables by emitting the body into scratch blocks."""
        types = {n: self.env[n].type for n in carried if n in self.env}
        for _ in range(4):
            saved_env = dict(self.env)
            scratch = Block(arg_types=[t for n in carried if n in types
                                       for t in flat_ir_types(types[n])])
            values = iter(scratch.args)
            for n in carried:
                if n in types:
                    self.env[n] = unflatten(types[n], values)
                else:
                    self.env.pop(n, None)
            self.scratch_depth += 1
            try:
                with self.em.at(scratch):
                    emit_body()
            except _Undefined as exc:
                raise self.error(f"variable '{exc.name}' is used in the loop before it is "
                                 "assigned; assign it before the loop", node) from None
            finally:
                self.scratch_depth -= 1
                out_env, self.env = self.env, saved_env
                _discard(scratch)
            new = dict(types)
            for n in carried:
                if n in out_env:
                    try:
                        new[n] = unify(types[n], out_env[n].type) if n in types \
                            else out_env[n].type
                    except TypeError as exc:
                        raise self.error(f"variable '{n}' changes type in the loop: {exc}",
                                         node) from None
            if new == types:
                return types
            types = new
        raise self.error("loop variable types do not settle", node)

    def loop_inits(self, carried: list[str], types: dict[str, ValueType]) -> list[SSAValue]:
        vals = [self.coerce(self.env[n], types[n]) if n in self.env else self.em.poison(types[n])
                for n in carried]
        return [s for v in vals for s in flatten(v)]

    def bind_carried(self, carried: list[str], types: dict[str, ValueType],
                     values: Iterator[SSAValue]) -> None:
        for n in carried:
            self.env[n] = unflatten(types[n], values)

    def yield_carried(self, carried: list[str], types: dict[str, ValueType]) -> list[SSAValue]:
        return [s for n in carried for s in flatten(self.coerce(self.env[n], types[n]))]

    def stmt_For(self, stmt: ast.For) -> None:
        if stmt.orelse:
            raise self.error("for/else is not supported", stmt)
        it, checkpoint = self.checkpointed(stmt.iter)
        trip, element = self.iteration_space(stmt, it)
        self.loop_depth += 1
        depth = self.loop_depth
        try:
            early = contains(stmt.body, (ast.Break, ast.Return), False) or contains(
                stmt.body, (ast.Return,), True)
            if early:
                self.env[f"$break{depth}"] = self.em.const(False, BOOL)
                self.env[f"$k{depth}"] = self.em.const(0, I64)
            counter = f"$k{depth}"
            names = assigned_names(stmt.body, depth) | _target_names(stmt.target)
            if early:
                names.add(counter)
            carried = sorted(n for n in names if n in self.env or not n.startswith("$")
                             or n == RET)

            def body(k: Val) -> None:
                self.env[f"$continue{depth}"] = self.em.const(False, BOOL)
                self.assign(stmt.target, element(k))
                self.lower_body(stmt.body)

            if not early:
                def emit(iv: Val | None = None) -> None:
                    body(iv if iv is not None else self.em.const(0, I64))

                types = self.loop_types(carried, emit, stmt)
                block = Block(arg_types=[i64, *(t for n in carried
                                                for t in flat_ir_types(types[n]))])
                inits = self.loop_inits(carried, types)
                saved = dict(self.env)
                self.bind_carried(carried, types, iter(block.args[1:]))
                with self.em.at(block):
                    body(Val(block.args[0], I64))
                    self.em.op(scf.YieldOp(*self.yield_carried(carried, types)))
                self.env = saved
                zero = self.em.const(0, I64)
                one = self.em.const(1, I64)
                loop = self.em.op(scf.ForOp(zero.ssa, trip.ssa, one.ssa, inits, block))
                if checkpoint is not None:
                    loop.attributes[CHECKPOINT] = checkpoint
                self.bind_carried(carried, types, iter(loop.results))
                return

            def step_body() -> None:
                k = self.env[counter]
                self.env[counter] = self.em.binary("add", k, self.em.const(1, I64))
                body(k)

            exits = [f"$break{depth}"] + ([RETURNED] if RETURNED in self.env else [])
            types = self.loop_types(carried, step_body, stmt)

            def condition() -> Val:
                more = self.em.compare("lt", self.env[counter], trip)
                return self.em.binary("and", more, self.em.logical_not(self.any_of(exits)))

            loop = self.emit_while(carried, types, condition, step_body)
            if checkpoint is not None:  # checkpointed online: its trip count is not known
                loop.attributes[CHECKPOINT] = checkpoint
        finally:
            self.loop_depth -= 1

    def checkpointed(self, it: ast.expr) -> tuple[ast.expr, DictionaryAttr | None]:
        """`cofactor.checkpointed(range(...), snapshots=k, schedule=s)`: the range
        and the `ad.checkpoint` attribute for the loop; any other iterable as is."""
        from cofactor.runtime.transforms import checkpointed

        if not (isinstance(it, ast.Call) and self.static_value(it.func) is checkpointed):
            return it, None
        if len(it.args) != 1:
            raise self.error("checkpointed() takes one range(...) argument", it)
        options: dict[str, object] = {"snapshots": 0, "schedule": "periodic"}
        for kw in it.keywords:
            value = self.static_value(kw.value) if not isinstance(kw.value, ast.Constant) \
                else kw.value.value
            if kw.arg not in options or type(value) is not type(options[kw.arg]):
                raise self.error("checkpointed() takes constant snapshots=int and "
                                 "schedule=str keywords", it)
            options[kw.arg] = value
        try:
            attr = checkpoint_attr(str(options["schedule"]), int(options["snapshots"]))
        except ValueError as exc:
            raise self.error(str(exc), it) from None
        return it.args[0], attr

    def iteration_space(self, stmt: ast.For, it: ast.expr) -> tuple[Val, Callable[[Val], Val]]:
        """The trip count of a for loop, and the element for iteration number k."""
        if isinstance(it, ast.Call) and self.static_value(it.func) is range:
            if it.keywords or not 1 <= len(it.args) <= 3:
                raise self.error("range() takes 1 to 3 positional arguments", it)
            vals = [self.em.cast(self.int_value(a), I64) for a in it.args]
            start = vals[0] if len(vals) > 1 else self.em.const(0, I64)
            stop = vals[1] if len(vals) > 1 else vals[0]
            step = vals[2] if len(vals) > 2 else self.em.const(1, I64)
            trip = self.trip_count(start, stop, step, it.args[2] if len(it.args) > 2 else None)

            step_value = constant_int(it.args[2]) if len(it.args) > 2 else 1

            def element(k: Val) -> Val:
                k = Val(k.ssa, I64, lower=0)
                if len(vals) <= 2:
                    return self.em.binary("add", start, k)
                i = self.em.binary("add", start, self.em.binary("mul", k, step))
                positive = step_value is not None and step_value > 0
                return Val(i.ssa, I64, lower=start.lower if positive else None)

            return trip, element
        seq = self.expr(it)
        if isinstance(seq.type, ArrayType):
            n = self.dim(seq, 0)
            if seq.type.ndim == 1:
                return n, lambda k: self.load_element(seq, [k], stmt)
            return n, lambda k: arrays.row(self, seq, k)
        raise self.error("for loops must iterate over range(...) or an array", it)

    def trip_count(self, start: Val, stop: Val, step: Val, step_node: ast.expr | None) -> Val:
        em = self.em
        zero, one = em.const(0, I64), em.const(1, I64)
        const_step = 1 if step_node is None else constant_int(step_node)
        if const_step == 0:
            raise self.error("range() arg 3 must not be zero", step_node)
        if isinstance(const_step, int) and const_step > 0:
            span = em.binary("sub", stop, start)
            if const_step == 1:
                n = span
            else:
                n = em.binary("floordiv", em.binary("add", span, em.const(const_step - 1, I64)),
                              step)
        elif isinstance(const_step, int):
            span = em.binary("sub", start, stop)
            n = em.binary("floordiv", em.binary("add", span, em.const(-const_step - 1, I64)),
                          em.negate(step))
        else:
            message = self.program.message_index("range() arg 3 must not be zero")
            self.em.op(RaiseIfOp(em.compare("eq", step, zero).ssa, code=4, info=message))
            pos = em.compare("gt", step, zero)
            up = em.binary("floordiv", em.binary("sub", em.binary("add", em.binary(
                "sub", stop, start), step), one), step)
            down = em.binary("floordiv", em.binary("sub", em.binary("sub", em.binary(
                "sub", start, stop), step), one), em.negate(step))
            n = em.select(pos, up, down)
        return em.min_max("max", n, zero)

    def emit_while(self, carried: list[str], types: dict[str, ValueType],
                   condition: Callable[[], Val], body: Callable[[], None]) -> scf.WhileOp:
        flat = [t for n in carried for t in flat_ir_types(types[n])]
        inits = self.loop_inits(carried, types)
        saved = dict(self.env)
        after = Block(arg_types=flat)
        self.bind_carried(carried, types, iter(after.args))
        with self.em.at(after):
            body()
            self.em.op(scf.YieldOp(*self.yield_carried(carried, types)))
        self.env = dict(saved)
        before = Block(arg_types=flat)
        self.bind_carried(carried, types, iter(before.args))
        with self.em.at(before):
            cond = condition()
            if self.may_record_error(after) or self.may_record_error(before):
                no_error = Val(self.em.res(NoErrorOp()), BOOL)
                cond = self.em.binary("and", cond, no_error)
            self.em.op(scf.ConditionOp(cond.ssa, *before.args))
        self.env = saved
        loop = self.em.op(scf.WhileOp(inits, flat, Region(before), Region(after)))
        self.bind_carried(carried, types, iter(loop.results))
        return loop

    def may_record_error(self, block: Block) -> bool:
        """Whether running `block` may record a runtime error (then a while loop
        around it also tests that none was recorded, so it cannot spin forever)."""
        bodies = {o.sym_name.data for o in self.program.module.ops
                  if isinstance(o, func.FuncOp) and o.body.blocks}
        return any(isinstance(op, RaiseIfOp | CheckIndexOp)
                   or isinstance(op, func.CallOp) and op.callee.string_value() in bodies
                   for op in block.walk())

    def stmt_While(self, stmt: ast.While) -> None:
        if stmt.orelse:
            raise self.error("while/else is not supported", stmt)
        self.loop_depth += 1
        depth = self.loop_depth
        try:
            self.env[f"$break{depth}"] = self.em.const(False, BOOL)
            carried = sorted(n for n in assigned_names(stmt.body, depth)
                             if n in self.env or not n.startswith("$") or n == RET)

            def body() -> None:
                self.env[f"$continue{depth}"] = self.em.const(False, BOOL)
                self.lower_body(stmt.body)

            types = self.loop_types(carried, body, stmt)
            exits = [f"$break{depth}"] + ([RETURNED] if RETURNED in self.env else [])

            def condition() -> Val:
                if not contains(stmt.body, (ast.Break, ast.Return), True):
                    return self.em.truth(self.expr(stmt.test))

                def evaluate() -> None:
                    self.env["$cond"] = self.em.truth(self.expr(stmt.test))

                self.env["$cond"] = self.em.const(False, BOOL)
                self.emit_if(self.em.logical_not(self.any_of(exits)), evaluate, None, stmt)
                return self.env.pop("$cond")

            self.emit_while(carried, types, condition, body)
        finally:
            self.loop_depth -= 1

    # -- expressions -----------------------------------------------------
    def expr(self, node: ast.expr) -> Val:
        return arrays.value(self, self.operand(node))

    def operand(self, node: ast.expr) -> Operand:
        """Evaluate an expression, leaving an elementwise array expression
        unmaterialized (a `Lazy`) for its consumer to fuse."""
        method = getattr(self, "expr_" + type(node).__name__, None)
        if method is None:
            raise self.error(f"unsupported expression: {type(node).__name__}", node)
        try:
            return method(node)
        except TypeError as exc:
            raise self.error(str(exc), node) from None

    def operands(self, nodes: list[ast.expr],
                 evaluate: Callable[[ast.expr], Operand] | None = None) -> list[Operand]:
        """Evaluate left to right. An array expression is computed before a
        later operand calls a compiled function, which could change the arrays
        it reads: NumPy would have computed it by then."""
        values: list[Operand] = []
        for node in nodes:
            if self.calls_user_code(node):
                values = [arrays.settle(self, v) for v in values]
            values.append((evaluate or self.operand)(node))
        return values

    def calls_user_code(self, node: ast.AST) -> bool:
        """Whether evaluating `node` may call a compiled function: a call of
        anything but a builtin, NumPy function or array method."""
        for n in ast.walk(node):
            if not isinstance(n, ast.Call):
                continue
            callee = self.static_value(n.func)
            if callee is _MISSING:
                if not (isinstance(n.func, ast.Attribute) and n.func.attr in table.METHODS):
                    return True
            elif table.handler_for(callee) is None:
                return True
        return False

    def expr_Constant(self, node: ast.Constant) -> Val:
        v = node.value
        if isinstance(v, bool):
            return self.em.const(v, BOOL)
        if isinstance(v, int):
            if not -(2**63) <= v < 2**63:
                raise self.error(f"integer constant {v} does not fit in 64 bits", node)
            return self.em.const(v, I64)
        if isinstance(v, float):
            return self.em.const(v, F64)
        if v is None:
            return NONE_VAL
        raise self.error(f"unsupported constant {v!r}", node)

    def load_name(self, node: ast.Name) -> Val:
        if node.id in self.env:
            return self.env[node.id]
        value = self.lookup_global(node.id)
        if node.id in self.globals and isinstance(value, int | float | tuple):
            self.program.dependencies[(self.pyfunc.__module__, node.id)] = repr(value)
        if value is _MISSING:
            if self.scratch_depth:
                raise _Undefined(node.id)
            raise self.error(f"name '{node.id}' is not defined", node)
        return self.constant_value(value, node)

    def expr_Name(self, node: ast.Name) -> Val:
        return self.load_name(node)

    def lookup_global(self, name: str) -> object:
        if name in self.closure:
            return self.closure[name]
        if name in self.globals:
            return self.globals[name]
        builtins = self.globals.get("__builtins__", {})
        builtins = builtins if isinstance(builtins, dict) else vars(builtins)
        return builtins.get(name, _MISSING)

    def static_value(self, node: ast.expr) -> object:
        """The Python object a global name or attribute chain denotes, or _MISSING."""
        if isinstance(node, ast.Name):
            if node.id in self.env:
                return _MISSING
            return self.lookup_global(node.id)
        if isinstance(node, ast.Attribute):
            base = self.static_value(node.value)
            if base is _MISSING or not inspect.ismodule(base) and not isinstance(base, type):
                return _MISSING
            return getattr(base, node.attr, _MISSING)
        return _MISSING

    def constant_value(self, value: object, node: ast.AST) -> Val:
        if isinstance(value, bool):
            return self.em.const(value, BOOL)
        if isinstance(value, int):
            return self.em.const(value, I64)
        if isinstance(value, float):
            return self.em.const(value, F64)
        if isinstance(value, tuple):
            return Val.tuple(tuple(self.constant_value(v, node) for v in value))
        raise self.error(f"global '{getattr(node, 'id', '?')}' of type {type(value).__name__} "
                         "cannot be used in compiled code", node)

    def expr_Attribute(self, node: ast.Attribute) -> Operand:
        static = self.static_value(node)
        if static is not _MISSING:
            return self.constant_value(static, node)
        base = self.operand(node.value)
        if arrays.is_array(base) and node.attr == "T":
            return arrays.transpose(self, arrays.lazy(self, base))
        base = arrays.value(self, base)
        if isinstance(base.type, ArrayType):
            if node.attr == "shape":
                return Val.tuple(tuple(self.dim(base, d) for d in range(base.type.ndim)))
            if node.attr == "ndim":
                return self.em.const(base.type.ndim, I64)
            if node.attr == "size":
                total = self.em.const(1, I64)
                for d in range(base.type.ndim):
                    total = self.em.binary("mul", total, self.dim(base, d))
                return total
        raise self.error(f"unsupported attribute '{node.attr}' of {base.type}", node)

    def expr_Tuple(self, node: ast.Tuple) -> Val:
        return Val.tuple(tuple(self.expr(e) for e in node.elts))

    def binop(self, opname: str, a: Val, b: Val, node: ast.AST) -> Val:
        if not (isinstance(a.type, ScalarType) and isinstance(b.type, ScalarType)):
            raise self.error(f"unsupported operand types for {opname}: {a.type} and {b.type}",
                             node)
        return self.em.binary(opname, a, b)

    def expr_BinOp(self, node: ast.BinOp) -> Operand:
        if isinstance(node.op, ast.MatMult):
            return arrays.matmul(self, *self.operands([node.left, node.right]), node)
        opname = table.BINOPS.get(type(node.op))
        if opname is None:
            raise self.error(f"unsupported operator {type(node.op).__name__}", node)
        a, b = self.operands([node.left, node.right])
        if arrays.is_array(a) or arrays.is_array(b):
            return arrays.binop(self, opname, a, b, node)
        if opname == "pow":
            exponent = node.right.value if isinstance(node.right, ast.Constant) else None
            if isinstance(node.right, ast.UnaryOp) and isinstance(node.right.op, ast.USub) \
                    and isinstance(node.right.operand, ast.Constant):
                exponent = -node.right.operand.value
            return self.em.power(a, b, exponent)
        return self.binop(opname, a, b, node)

    def expr_UnaryOp(self, node: ast.UnaryOp) -> Operand:
        v = self.operand(node.operand)
        if arrays.is_array(v):
            return arrays.unary(self, node.op, arrays.lazy(self, v), node)
        if isinstance(node.op, ast.Not):
            return self.em.logical_not(v)
        if not isinstance(v.type, ScalarType):
            raise self.error(f"unsupported operand type for unary operator: {v.type}", node)
        if isinstance(node.op, ast.USub):
            return self.em.negate(v)
        if isinstance(node.op, ast.UAdd):
            return self.em.cast(v, I64) if v.type is BOOL else v
        return self.em.invert(v)

    def expr_Compare(self, node: ast.Compare) -> Operand:
        left, *rights = self.operands([node.left, *node.comparators])
        result: Val | None = None
        for op, right in zip(node.ops, rights, strict=True):
            pred = table.CMPOPS.get(type(op))
            if pred is None:
                raise self.error(f"unsupported comparison {type(op).__name__}", node)
            if arrays.is_array(left) or arrays.is_array(right):
                if len(node.ops) > 1:
                    raise self.error("chained comparisons of arrays are ambiguous; combine "
                                     "single comparisons with &", node)
                return arrays.compare(self, pred, left, right)
            if not (isinstance(left.type, ScalarType) and isinstance(right.type, ScalarType)):
                raise self.error(f"cannot compare {left.type} and {right.type}", node)
            c = self.em.compare(pred, left, right)
            result = c if result is None else self.em.binary("and", result, c)
            left = right
        assert result is not None
        return result

    def expr_BoolOp(self, node: ast.BoolOp) -> Val:
        """`and`/`or` short-circuit: later operands are evaluated under scf.if."""
        is_and = isinstance(node.op, ast.And)

        def chain(values: list[ast.expr]) -> Val:
            first = self.expr(values[0])
            if len(values) == 1:
                return first
            truth = self.em.truth(first)
            self.env["$bool"] = first

            def rest() -> None:
                self.env["$bool"] = chain(values[1:])

            if is_and:
                self.emit_if(truth, rest, None, node)
            else:
                self.emit_if(self.em.logical_not(truth), rest, None, node)
            return self.env.pop("$bool")

        return chain(node.values)

    def expr_IfExp(self, node: ast.IfExp) -> Val:
        cond = self.em.truth(self.expr(node.test))

        def branch(e: ast.expr) -> Callable[[], None]:
            def run() -> None:
                self.env["$ifexp"] = self.expr(e)
            return run

        self.emit_if(cond, branch(node.body), branch(node.orelse), node)
        return self.env.pop("$ifexp")

    def expr_Subscript(self, node: ast.Subscript) -> Operand:
        base = self.expr(node.value)
        if isinstance(base.type, TupleType):
            index = node.slice
            if isinstance(index, ast.Constant) and isinstance(index.value, int):
                try:
                    return base.items[index.value]
                except IndexError:
                    raise self.error("tuple index out of range", node) from None
            if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub) and isinstance(
                    index.operand, ast.Constant):
                return base.items[-index.operand.value]
            raise self.error("tuples can only be indexed by constant integers", node)
        if not isinstance(base.type, ArrayType):
            raise self.error(f"{base.type} is not subscriptable", node)
        return arrays.subscript(self, base, node)

    def expr_Call(self, node: ast.Call) -> Operand:
        callee = self.static_value(node.func)
        if isinstance(node.func, ast.Attribute) and callee is _MISSING:
            method = table.METHODS.get(node.func.attr)
            receiver = self.operand(node.func.value) if method else None
            if receiver is None or not arrays.is_array(receiver):
                raise self.error(f"unsupported method call .{node.func.attr}()", node)
            if any(self.calls_user_code(a) for a in node.args):
                receiver = arrays.settle(self, receiver)
            return method(self, arrays.lazy(self, receiver), node)
        if callee is _MISSING:
            raise self.error(f"cannot call '{ast.unparse(node.func)}'", node)
        handler = table.handler_for(callee)
        if handler is not None:
            return handler(self, node)
        target = getattr(callee, "py_func", callee)
        if inspect.isfunction(target):
            return self.call_user(target, node)
        raise self.error(f"unsupported function {ast.unparse(node.func)}()", node)

    def call_user(self, target: Callable, node: ast.Call) -> Val:
        sig = inspect.signature(target)
        try:
            bound = sig.bind(*node.args, **{k.arg: k.value for k in node.keywords})
        except TypeError as exc:
            raise self.error(f"{target.__name__}(): {exc}", node) from None
        args: list[Val] = []
        for name, param in sig.parameters.items():
            if name in bound.arguments:
                args.append(self.expr(bound.arguments[name]))
            elif param.default is not inspect.Parameter.empty:
                args.append(self.constant_value(param.default, node))
        spec = self.program.specialize(target, tuple(a.type for a in args), node, self)
        assert spec.result is not None
        for k in spec.written:
            self.mark_written(args[k])
        call = self.em.op(func.CallOp(spec.symbol, [s for a in args for s in flatten(a)],
                                      flat_ir_types(spec.result)))
        return unflatten(spec.result, iter(call.results))

    def int_value(self, node: ast.expr) -> Val:
        v = self.expr(node)
        if not isinstance(v.type, ScalarType) or v.type.is_float:
            raise self.error(f"expected an integer, got {v.type}", node)
        return v

    # -- arrays ------------------------------------------------------------
    def dim(self, array: Val, d: int) -> Val:
        index = self.em.res(arith.ConstantOp.from_int_and_width(d, IndexType()))
        return self.em.from_index(self.em.res(memref.DimOp(array.ssa, index)), lower=0)

    def indices(self, array: Val, node: ast.Subscript) -> list[Val]:
        """The indices of an element access (see `arrays.is_element`)."""
        if not isinstance(array.type, ArrayType):
            raise self.error(f"{array.type} is not subscriptable", node)
        index = node.slice
        items = index.elts if isinstance(index, ast.Tuple) else [index]
        return [arrays.index_value(self, i) for i in items]

    def wrap_index(self, i: Val, n: Val, axis: int) -> tuple[Val, Val | None]:
        """A negative index wrapped, and (boundscheck) the in-range flag."""
        i = self.em.cast(i, I64)
        if i.lower is None or i.lower < 0:
            negative = self.em.compare("lt", i, self.em.const(0, I64))
            i = self.em.select(negative, self.em.binary("add", i, n), i)
        if not self.program.options.boundscheck:
            return i, None
        return i, Val(self.em.res(CheckIndexOp(i.ssa, n.ssa, axis)), BOOL)

    def element_address(self, array: Val, indices: list[Val]) -> tuple[list[SSAValue], Val]:
        """Wrapped negative indices as `index` values, and (boundscheck) the in-range flag."""
        ok: Val | None = None
        result = []
        for axis, i in enumerate(indices):
            i, check = self.wrap_index(i, self.dim(array, axis), axis)
            if check is not None:
                ok = check if ok is None else self.em.binary("and", ok, check)
            result.append(self.em.to_index(i))
        return result, ok

    def load_element(self, array: Val, indices: list[Val], node: ast.AST) -> Val:
        assert isinstance(array.type, ArrayType)
        idx, ok = self.element_address(array, indices)
        t = array.type.dtype
        if ok is None:
            return Val(self.em.res(memref.LoadOp.get(array.ssa, idx)), t)

        def load() -> None:
            self.env["$elem"] = Val(self.em.res(memref.LoadOp.get(array.ssa, idx)), t)

        def zero() -> None:
            self.env["$elem"] = self.em.const(0, t)

        self.emit_if(ok, load, zero, node)
        return self.env.pop("$elem")

    def store_element(self, array: Val, indices: list[Val], value: Val, node: ast.AST) -> None:
        if not isinstance(array.type, ArrayType):
            raise self.error(f"{array.type} does not support item assignment", node)
        if not isinstance(value.type, ScalarType):
            raise self.error(f"cannot store {value.type} into an array element", node)
        arrays.check_writable(self, array, node)
        self.mark_written(array)
        idx, ok = self.element_address(array, indices)
        value = self.em.cast(value, array.type.dtype)
        if ok is None:
            self.em.op(memref.StoreOp.get(value.ssa, array.ssa, idx))
            return
        self.emit_if(ok, lambda: self.em.op(memref.StoreOp.get(value.ssa, array.ssa, idx)),
                     None, node)

    def mark_written(self, array: Val) -> None:
        """Note which array parameters a store may reach, so that the runtime
        refuses read-only arrays there. A view counts as the array it views. An
        array of unknown origin (carried through a loop, returned by a call) may
        be any parameter of its element type."""
        ssa = array.ssa
        while isinstance(ssa.owner, memref.SubviewOp):
            ssa = ssa.owner.source
        owner = ssa.owner
        if ssa in self.params:
            self.written.add(self.params[ssa])
        elif not (isinstance(owner, memref.CastOp)
                  and isinstance(owner.source.owner, memref.AllocOp)):
            element = array.ssa.type.element_type
            self.written.update(k for v, k in self.params.items()
                                if v.type.element_type == element)

    def allocate(self, dtype: ScalarType, shape: list[Val], fill: Val | None) -> Val:
        """A new array (row-major) of the given shape, optionally filled."""
        sizes = [self.em.to_index(self.em.cast(s, I64)) for s in shape]
        raw = MemRefType(dtype.ir, [DYNAMIC_INDEX] * len(shape))
        alloc = self.em.res(memref.AllocOp(sizes, [], raw))
        t = ArrayType(dtype, len(shape))
        array = Val(self.em.res(memref.CastOp.get(alloc, t.ir)), t)
        if fill is not None:
            value = self.em.cast(fill, dtype)
            self.fill_loops(array, [self.em.cast(s, I64) for s in shape], [], value)
        return array

    def fill_loops(self, array: Val, shape: list[Val], idx: list[SSAValue], value: Val) -> None:
        if len(idx) == len(shape):
            self.em.op(memref.StoreOp.get(value.ssa, array.ssa, idx))
            return
        block = Block(arg_types=[i64])
        with self.em.at(block):
            self.fill_loops(array, shape, [*idx, self.em.to_index(Val(block.args[0], I64))], value)
            self.em.op(scf.YieldOp())
        zero, one = self.em.const(0, I64), self.em.const(1, I64)
        self.em.op(scf.ForOp(zero.ssa, shape[len(idx)].ssa, one.ssa, [], block))


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _target_names(target: ast.expr) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}


def _hint(name: str) -> str | None:
    return name if name.isidentifier() and not name[0].isdigit() else None


def _discard(block: Block) -> None:
    """Drop a scratch block's ops so they no longer count as uses of outer values."""
    for op in list(block.ops):
        for inner in op.walk():
            inner.drop_all_references()


__all__ = ["Program", "Options", "FunctionCompiler", "CompileError", "F64", "NONE"]
