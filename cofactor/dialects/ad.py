"""The `ad` dialect: requests for derivatives, as Enzyme-MLIR's `enzyme` dialect.

`ad.fwddiff @f(...)` asks for the forward-mode derivative (the tangent) of the
function `@f`; the `ad-forward` pass replaces it by a call to a generated
derivative function. Activities say, per argument and per result, what the
request carries:

- `const`: the primal only, no derivative;
- `dup` (duplicated): the primal and its shadow (a tangent; for an array, a
  shadow array of the same shape holding the tangent of every element);
- `dupnoneed`: as `dup`, but the primal of a result is not returned (on an
  argument it means the same as `dup`);
- `active`, `activenoneed`: a scalar whose adjoint is returned (reverse mode,
  which shares this attribute).

In vector mode (`width` W > 1) every shadow is W values: a `dup` argument is
followed by W shadow operands and a `dup` result gives W tangent results.

    %y, %dy = ad.fwddiff @f(%x, %dx, %n) {activity = [#ad<activity dup>,
        #ad<activity const>], ret_activity = [#ad<activity dup>]}
        : (f64, f64, i64) -> (f64, f64)

Reverse-mode ops will join `AD` below and reuse `ActivityAttr`.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import auto

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    FlatSymbolRefAttr,
    FlatSymbolRefAttrConstr,
    IntegerAttr,
    SymbolRefAttr,
    i64,
)
from xdsl.dialects.utils import EnumAttribute, StrEnum
from xdsl.ir import Attribute, Dialect, Operation, SpacedOpaqueSyntaxAttribute, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_attr_definition,
    irdl_op_definition,
    opt_prop_def,
    prop_def,
    var_operand_def,
    var_result_def,
)
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


AD = Dialect("ad", [FwdDiffOp], [ActivityAttr])
