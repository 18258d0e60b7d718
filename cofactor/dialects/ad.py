"""The `ad` dialect: requests for derivatives, as Enzyme-MLIR's `enzyme` dialect.

`ad.fwddiff @f(...)` asks for the forward-mode derivative (the tangent) of the
function `@f`, `ad.autodiff @f(...)` for its reverse-mode derivative (the
adjoints); the `ad-forward` and `ad-reverse` passes replace them by calls to
generated derivative functions. Activities say, per argument and per result,
what the request carries:

- `const`: the primal only, no derivative;
- `dup` (duplicated): the primal and its shadow (a tangent; for an array, a
  shadow array of the same shape holding the tangent of every element);
- `dupnoneed`: as `dup`, but the primal of a result is not returned (on an
  argument it means the same as `dup`);
- `active`, `activenoneed`: reverse mode only. An `active` argument is a
  scalar whose adjoint is returned; an `active` result is a scalar whose
  adjoint (the seed) is given; `activenoneed` does not return its primal.

In reverse mode a `dup` argument is an array and its shadow accumulates the
adjoint (`+=`), and a `dup` result is an array whose seed is an array.

In vector mode (`width` W > 1) every shadow is W values: a `dup` argument is
followed by W shadow operands and a `dup` result gives W tangent results.

    %y, %dy = ad.fwddiff @f(%x, %dx, %n) {activity = [#ad<activity dup>,
        #ad<activity const>], ret_activity = [#ad<activity dup>]}
        : (f64, f64, i64) -> (f64, f64)
    %y, %xbar = ad.autodiff @f(%x, %n, %ybar) {activity = [#ad<activity active>,
        #ad<activity const>], ret_activity = [#ad<activity active>]}
        : (f64, i64, f64) -> (f64, f64)

The reverse sweep reads values of the forward sweep from LIFO caches (tapes),
as Enzyme-MLIR's `enzyme.init`/`push`/`pop`: `ad.init` makes an empty cache of
one element type, `ad.push` appends, `ad.pop` takes the last value back.
`ad.reserve %c, %n` makes room for `n` more pushes: a push needs a slot
reserved before it (one reservation covers a whole loop nest when its trip
counts are known), so that it lowers to a plain store. The `ad-lower-cache`
pass turns caches into growable memref buffers.

    %c = ad.init : !ad.cache<f64>
    ad.reserve %c, %n : !ad.cache<f64>
    ad.push %c, %v : !ad.cache<f64>
    %w = ad.pop %c : !ad.cache<f64>
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import auto

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DictionaryAttr,
    FlatSymbolRefAttr,
    FlatSymbolRefAttrConstr,
    IntegerAttr,
    StringAttr,
    SymbolRefAttr,
    i64,
)
from xdsl.dialects.utils import EnumAttribute, StrEnum
from xdsl.ir import (
    Attribute,
    Dialect,
    Operation,
    ParametrizedAttribute,
    SpacedOpaqueSyntaxAttribute,
    SSAValue,
    TypeAttribute,
)
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    base,
    irdl_attr_definition,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException


class Activity(StrEnum):
    """Enzyme's activities (enzyme_const, enzyme_dup, ...), for both modes."""

    CONST = auto()
    DUP = auto()
    DUPNONEED = auto()
    ACTIVE = auto()
    ACTIVENONEED = auto()

    @property
    def has_shadow(self) -> bool:
        return self in (Activity.DUP, Activity.DUPNONEED)

    @property
    def returns_primal(self) -> bool:
        return self not in (Activity.DUPNONEED, Activity.ACTIVENONEED)


@irdl_attr_definition
class ActivityAttr(EnumAttribute[Activity], SpacedOpaqueSyntaxAttribute):
    """`#ad<activity dup>`: the activity of one argument or result."""

    name = "ad.activity"


def activities(values: Sequence[Activity | str]) -> ArrayAttr[ActivityAttr]:
    """The attribute form of a list of activities."""
    return ArrayAttr([ActivityAttr(Activity(v)) for v in values])


_FORWARD_ACTIVITIES = (Activity.CONST, Activity.DUP, Activity.DUPNONEED)


@irdl_op_definition
class FwdDiffOp(IRDLOperation):
    """The tangent of `fn`: operands are its arguments, each `dup` one followed
    by `width` shadows; results are the primal results that are not `noneed`,
    then `width` tangents per `dup`/`dupnoneed` result."""

    name = "ad.fwddiff"

    fn = prop_def(FlatSymbolRefAttrConstr)
    activity = prop_def(ArrayAttr[ActivityAttr])
    ret_activity = prop_def(ArrayAttr[ActivityAttr])
    width = opt_prop_def(IntegerAttr[I64])
    inputs = var_operand_def()
    outputs = var_result_def()

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$fn `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)"

    def __init__(
        self,
        fn: str | SymbolRefAttr,
        inputs: Sequence[SSAValue | Operation],
        activity: Sequence[Activity | str],
        ret_activity: Sequence[Activity | str],
        result_types: Sequence[Attribute],
        width: int = 1,
    ):
        super().__init__(
            operands=[inputs],
            result_types=[result_types],
            properties={
                "fn": FlatSymbolRefAttr(fn) if isinstance(fn, str) else fn,
                "activity": activities(activity),
                "ret_activity": activities(ret_activity),
                "width": None if width == 1 else IntegerAttr(width, i64),
            },
        )

    @property
    def vector_width(self) -> int:
        return 1 if self.width is None else self.width.value.data

    @property
    def arg_activities(self) -> tuple[Activity, ...]:
        return tuple(a.data for a in self.activity.data)

    @property
    def result_activities(self) -> tuple[Activity, ...]:
        return tuple(a.data for a in self.ret_activity.data)

    def verify_(self) -> None:
        width = self.vector_width
        if width < 1:
            raise VerifyException(f"{self.name}: width must be at least 1, got {width}")
        for act in (*self.arg_activities, *self.result_activities):
            if act not in _FORWARD_ACTIVITIES:
                raise VerifyException(f"{self.name}: activity {act} is reverse-mode only")
        expected = sum(1 + width * a.has_shadow for a in self.arg_activities)
        if len(self.inputs) != expected:
            raise VerifyException(
                f"{self.name}: {len(self.activity)} activities need {expected} operands, "
                f"got {len(self.inputs)}"
            )
        rets = self.result_activities
        expected = sum(a.returns_primal for a in rets) + width * sum(a.has_shadow for a in rets)
        if len(self.outputs) != expected:
            raise VerifyException(
                f"{self.name}: ret_activity {[str(a) for a in rets]} needs {expected} "
                f"results, got {len(self.outputs)}"
            )


_REVERSE_ARGS = (Activity.CONST, Activity.DUP, Activity.DUPNONEED, Activity.ACTIVE)


def has_seed(act: Activity) -> bool:
    """A result whose adjoint the reverse-mode request gives (a seed operand)."""
    return act is not Activity.CONST


@irdl_op_definition
class AutoDiffOp(IRDLOperation):
    """The adjoints of `fn`, as Enzyme-MLIR's `enzyme.autodiff`: operands are
    its arguments, each `dup` one followed by its shadow (an array that
    accumulates the adjoint), then one seed per result that is not `const` (a
    scalar for `active`, an array for `dup`); results are the primal results
    that are not `noneed`, then the adjoint of each `active` argument."""

    name = "ad.autodiff"

    fn = prop_def(FlatSymbolRefAttrConstr)
    activity = prop_def(ArrayAttr[ActivityAttr])
    ret_activity = prop_def(ArrayAttr[ActivityAttr])
    inputs = var_operand_def()
    outputs = var_result_def()

    irdl_options = (ParsePropInAttrDict(),)
    assembly_format = "$fn `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)"

    def __init__(
        self,
        fn: str | SymbolRefAttr,
        inputs: Sequence[SSAValue | Operation],
        activity: Sequence[Activity | str],
        ret_activity: Sequence[Activity | str],
        result_types: Sequence[Attribute],
    ):
        super().__init__(
            operands=[inputs],
            result_types=[result_types],
            properties={
                "fn": FlatSymbolRefAttr(fn) if isinstance(fn, str) else fn,
                "activity": activities(activity),
                "ret_activity": activities(ret_activity),
            },
        )

    @property
    def arg_activities(self) -> tuple[Activity, ...]:
        return tuple(a.data for a in self.activity.data)

    @property
    def result_activities(self) -> tuple[Activity, ...]:
        return tuple(a.data for a in self.ret_activity.data)

    def verify_(self) -> None:
        args, rets = self.arg_activities, self.result_activities
        for act in args:
            if act not in _REVERSE_ARGS:
                raise VerifyException(f"{self.name}: activity {act} is not an argument activity")
        expected = sum(1 + a.has_shadow for a in args) + sum(map(has_seed, rets))
        if len(self.inputs) != expected:
            raise VerifyException(
                f"{self.name}: activities {[str(a) for a in args]} and ret_activity "
                f"{[str(a) for a in rets]} need {expected} operands, got {len(self.inputs)}")
        expected = sum(a.returns_primal for a in rets) + args.count(Activity.ACTIVE)
        if len(self.outputs) != expected:
            raise VerifyException(
                f"{self.name}: activities {[str(a) for a in args]} and ret_activity "
                f"{[str(a) for a in rets]} need {expected} results, got {len(self.outputs)}")


# --------------------------------------------------------------------------
# caches (tapes)


@irdl_attr_definition
class CacheType(ParametrizedAttribute, TypeAttribute):
    """`!ad.cache<T>`: a LIFO cache of values of type T."""

    name = "ad.cache"

    element: Attribute

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_attribute(self.element)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> tuple[Attribute]:
        with parser.in_angle_brackets():
            return (parser.parse_type(),)


def _print_cache_op(op: IRDLOperation, printer: Printer) -> None:
    """`ad.<op> %cache[, %operand] : !ad.cache<T>`: the cache type gives the rest."""
    printer.print_string(" ")
    printer.print_list(op.operands, printer.print_operand)
    printer.print_op_attributes(op.attributes)
    printer.print_string(" : ")
    printer.print_attribute(op.operands[0].type)


def _parse_cache_op(parser: Parser, n_operands: int
                    ) -> tuple[list[Parser.UnresolvedOperand], dict[str, Attribute], CacheType]:
    names = [parser.parse_unresolved_operand()]
    for _ in range(n_operands - 1):
        parser.parse_punctuation(",")
        names.append(parser.parse_unresolved_operand())
    attrs = parser.parse_optional_attr_dict()
    parser.parse_punctuation(":")
    cache = parser.parse_type()
    if not isinstance(cache, CacheType):
        parser.raise_error(f"expected an !ad.cache type, got {cache}")
    return names, attrs, cache


@irdl_op_definition
class InitOp(IRDLOperation):
    """An empty cache."""

    name = "ad.init"

    cache = result_def(CacheType)

    assembly_format = "attr-dict `:` type($cache)"

    def __init__(self, element: Attribute):
        super().__init__(result_types=[CacheType(element)])


@irdl_op_definition
class ReserveOp(IRDLOperation):
    """Makes room in `cache` for `count` more pushes."""

    name = "ad.reserve"

    cache = operand_def(base(CacheType))
    count = operand_def(i64)

    def __init__(self, cache: SSAValue, count: SSAValue, attributes: dict | None = None):
        super().__init__(operands=[cache, count], attributes=attributes or {})

    def print(self, printer: Printer) -> None:
        _print_cache_op(self, printer)

    @classmethod
    def parse(cls, parser: Parser) -> ReserveOp:
        (cache, count), attrs, t = _parse_cache_op(parser, 2)
        return cls(parser.resolve_operand(cache, t), parser.resolve_operand(count, i64), attrs)


@irdl_op_definition
class PushOp(IRDLOperation):
    """Appends `value` to `cache`, into a slot reserved before."""

    name = "ad.push"

    cache = operand_def(base(CacheType))
    value = operand_def()

    def __init__(self, cache: SSAValue, value: SSAValue, attributes: dict | None = None):
        super().__init__(operands=[cache, value], attributes=attributes or {})

    def verify_(self) -> None:
        if self.value.type != self.cache.type.element:
            raise VerifyException(f"{self.name}: pushes a {self.value.type} into a "
                                  f"{self.cache.type}")

    def print(self, printer: Printer) -> None:
        _print_cache_op(self, printer)

    @classmethod
    def parse(cls, parser: Parser) -> PushOp:
        (cache, value), attrs, t = _parse_cache_op(parser, 2)
        return cls(parser.resolve_operand(cache, t), parser.resolve_operand(value, t.element),
                   attrs)


@irdl_op_definition
class PopOp(IRDLOperation):
    """Removes the last value of `cache` and returns it."""

    name = "ad.pop"

    cache = operand_def(base(CacheType))
    value = result_def()

    def __init__(self, cache: SSAValue, attributes: dict | None = None):
        assert isinstance(cache.type, CacheType)
        super().__init__(operands=[cache], result_types=[cache.type.element],
                         attributes=attributes or {})

    def verify_(self) -> None:
        if self.value.type != self.cache.type.element:
            raise VerifyException(f"{self.name}: pops a {self.value.type} from a "
                                  f"{self.cache.type}")

    def print(self, printer: Printer) -> None:
        _print_cache_op(self, printer)

    @classmethod
    def parse(cls, parser: Parser) -> PopOp:
        (cache,), attrs, t = _parse_cache_op(parser, 1)
        return cls(parser.resolve_operand(cache, t), attrs)


AD = Dialect("ad", [FwdDiffOp, AutoDiffOp, InitOp, ReserveOp, PushOp, PopOp],
             [ActivityAttr, CacheType])


# Checkpointing is a discardable attribute, not an op: `ad-checkpoint` reads it
# off an `scf.for` (and marks the calls it outlines with it), and passes that
# know nothing of AD keep the loop as it is.
CHECKPOINT = "ad.checkpoint"
# On an `scf.for` of a reverse sweep (`ad-reverse`): `split-adjoint-loops` and
# `jam-adjoint-loops` may reorder its shadow increments.
ADJOINT = "ad.adjoint"
SCHEDULES = ("periodic", "binomial")
# On an `scf.while` that `ad-checkpoint` outlined: its segment function (the
# reverse sweep re-runs steps with it); the loop gets the online scheme.
SEGMENT = "ad.segment"
# Snapshots an online-checkpointed while loop keeps for `snapshots = 0`: its
# trip count, hence sqrt(n), is unknown when the forward sweep starts.
WHILE_SNAPSHOTS = 16
# Bytes: the default `tape_limit` of `grad`. Under it, top-level while loops
# are left alone: splitting one tests a step counter every step (15% slower
# on Van der Pol RK4), a cost only an explicit, lower limit asks for.
DEFAULT_TAPE_LIMIT = 2**30


def checkpoint_attr(schedule: str, snapshots: int) -> DictionaryAttr:
    """`{schedule = "periodic", snapshots = 8}`; 0 snapshots: about sqrt(trip count)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"checkpoint schedule must be one of {SCHEDULES}, not {schedule!r}")
    if snapshots < 0:
        raise ValueError("checkpoint snapshots must be >= 0 (0: the default)")
    return DictionaryAttr({"schedule": StringAttr(schedule),
                           "snapshots": IntegerAttr(snapshots, i64)})


def read_checkpoint(op: Operation) -> tuple[str, int] | None:
    """The (schedule, snapshots) of a checkpointed loop, or None."""
    attr = op.attributes.get(CHECKPOINT)
    if not isinstance(attr, DictionaryAttr):
        return None
    schedule, snapshots = attr.data["schedule"], attr.data["snapshots"]
    assert isinstance(schedule, StringAttr) and isinstance(snapshots, IntegerAttr)
    return schedule.data, snapshots.value.data
