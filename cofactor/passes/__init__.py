"""cofactor's IR passes, one per module.

Every module in this package defines exactly one `xdsl.passes.ModulePass`
subclass. `all_passes()` finds them by name so that the pipeline driver and
`cofactor-opt` share one registry and adding a pass never edits this file.
"""

import importlib
import inspect
import pkgutil
from functools import cache

from xdsl.passes import ModulePass


@cache
def all_passes() -> dict[str, type[ModulePass]]:
    """Map pass name to pass class for every pass module in this package."""
    found: dict[str, type[ModulePass]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for obj in vars(module).values():
            if (
                inspect.isclass(obj)
                and issubclass(obj, ModulePass)
                and obj.__module__ == module.__name__
            ):
                found[obj.name] = obj
    return found
