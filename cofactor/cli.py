"""Command-line tools: `cofactor` (ir, compile) and `cofactor-opt`."""

import sys
from collections.abc import Sequence

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


def main(args: Sequence[str] | None = None) -> int:
    raise SystemExit("cofactor: commands are not available yet")


if __name__ == "__main__":
    sys.exit(main())
