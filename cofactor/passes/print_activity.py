"""`print-activity`: shows the activity analysis in the IR, for tests and debugging.

For every function that an `ad.fwddiff` or `ad.autodiff` request targets, the
analysis runs with that request's activities and each op gets an `activity` string attribute: per
result, `active` (varied and useful: it gets derivative code), `varied`,
`useful` or `const`; a `memref.store` gets the activity of the array it writes;
the function gets the activities of its arguments. When several requests
target one function, the last one is shown.
"""

from xdsl.context import Context
from xdsl.dialects import func, memref
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.traits import SymbolTable

from cofactor.dialects.ad import Activity, AutoDiffOp, FwdDiffOp
from cofactor.passes._activity import ActivityAnalysis, has_body


class PrintActivity(ModulePass):
    """Annotate requested functions with their activity analysis."""

    name = "print-activity"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        analysis = ActivityAnalysis(op)
        for request in [o for o in op.walk() if isinstance(o, FwdDiffOp | AutoDiffOp)]:
            fn = SymbolTable.lookup_symbol(op, request.fn)
            if not isinstance(fn, func.FuncOp) or not has_body(fn):
                continue
            info = analysis.analyze(fn, [a is not Activity.CONST for a in request.arg_activities],
                                    [a is not Activity.CONST for a in request.result_activities])
            fn.attributes["activity"] = StringAttr(", ".join(map(info.describe, fn.args)))
            for inner in fn.body.walk():
                values = [inner.memref] if isinstance(inner, memref.StoreOp) else inner.results
                if values:
                    inner.attributes["activity"] = StringAttr(
                        ", ".join(map(info.describe, values)))
