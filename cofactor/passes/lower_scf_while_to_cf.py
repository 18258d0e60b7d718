"""Lower `scf.while` to `cf` blocks; xDSL's convert-scf-to-cf leaves it alone.

The result is

    ^pre:          ... cf.br ^before(inits)
    ^before(args): before-region ops; cf.cond_br %c, ^after(vals), ^cont(vals)
    ^after(args):  after-region ops; cf.br ^before(yielded)
    ^cont(results): the ops that followed the loop

with the blocks in that order, so every definition precedes its uses, which
xDSL's llvmlite conversion needs. `scf.for` and `scf.if` bodies must be single
blocks, so those that contain a while are lowered too, by xDSL's own
convert-scf-to-cf patterns; the IR stays valid after this pass alone.
"""

from xdsl.context import Context
from xdsl.dialects import cf, scf
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import BlockInsertPoint, InsertPoint
from xdsl.transforms.convert_scf_to_cf import ForLowering, IfLowering


class WhileLowering(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: scf.WhileOp, rewriter: PatternRewriter):
        pre = op.parent_block()
        assert pre is not None
        cont = pre.split_before(op)
        for i, t in enumerate(op.result_types):
            rewriter.insert_block_argument(cont, i, t)

        # The regions may already hold several blocks (a lowered inner while).
        before, after = op.before_region.first_block, op.after_region.first_block
        condition, yielded = op.before_region.last_block, op.after_region.last_block
        assert before and after and condition and yielded
        condition_op, yield_op = condition.last_op, yielded.last_op
        assert isinstance(condition_op, scf.ConditionOp)
        assert isinstance(yield_op, scf.YieldOp)

        values = condition_op.args
        rewriter.replace(
            condition_op,
            cf.ConditionalBranchOp(condition_op.condition, after, values, cont, values),
        )
        rewriter.replace(yield_op, cf.BranchOp(before, *yield_op.operands))
        rewriter.inline_region(op.before_region, BlockInsertPoint.before(cont))
        rewriter.inline_region(op.after_region, BlockInsertPoint.before(cont))
        rewriter.insert(cf.BranchOp(before, *op.arguments), InsertPoint.at_end(pre))
        rewriter.replace(op, [], cont.args)


class LowerWhileContainer(RewritePattern):
    """Lower an `scf.for` or `scf.if` whose regions hold an `scf.while`."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter):
        if not isinstance(op, scf.ForOp | scf.IfOp):
            return
        if not any(isinstance(inner, scf.WhileOp) for inner in op.walk()):
            return
        lowering = ForLowering() if isinstance(op, scf.ForOp) else IfLowering()
        lowering.match_and_rewrite(op, rewriter)


class LowerScfWhileToCf(ModulePass):
    """Lower every `scf.while`, also nested ones, to unstructured control flow."""

    name = "lower-scf-while-to-cf"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(
            GreedyRewritePatternApplier([LowerWhileContainer(), WhileLowering()], dce_enabled=False)
        ).rewrite_module(op)
