"""Answering an `ad.fwddiff` / `ad.autodiff` request: shared by the AD passes."""

from __future__ import annotations

from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from cofactor.dialects.ad import AutoDiffOp, FwdDiffOp


def replace_request(request: FwdDiffOp | AutoDiffOp, made: func.FuncOp, pass_name: str) -> None:
    """Replace `request` by a call of `made`, the function generated for it,
    after checking that its type is the one the request asks for."""
    ftype = made.function_type
    wanted = FunctionType.from_lists([v.type for v in request.inputs],
                                     [r.type for r in request.outputs])
    if ftype != wanted:
        raise PassFailedException(
            f"{pass_name}: the request has type {wanted}, the derivative {ftype}")
    Rewriter.replace_op(request, func.CallOp(made.sym_name.data, request.inputs,
                                             ftype.outputs.data))
