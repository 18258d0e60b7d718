"""cofactor's own xDSL dialects."""

import importlib
import pkgutil
from functools import cache

from xdsl.ir import Dialect


@cache
def all_dialects() -> tuple[Dialect, ...]:
    """Every `Dialect` object defined by a module of this package."""
    found: list[Dialect] = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found += [obj for obj in vars(module).values() if isinstance(obj, Dialect)]
    return tuple(found)
