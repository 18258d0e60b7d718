"""Call the functions of a shared library made by `cofactor compile`.

This needs only NumPy (and ctypes): the library carries the description of
its entry points (the JSON string `cofactor_metadata`), and the calls go
through the ctypes path of `cofactor.runtime.marshal`, so a deployment runs
without xDSL, llvmlite or a C compiler.
"""

import ctypes
import json
import os
from collections.abc import Callable
from pathlib import Path

from cofactor.runtime.marshal import EntryInfo, ctypes_callable

METADATA_SYMBOL = "cofactor_metadata"
# Bumped when the entry-point ABI or the metadata changes incompatibly.
ABI_VERSION = 1


class Library:
    """A loaded library: its functions are attributes named by their C symbols."""

    def __init__(self, path: str | os.PathLike):
        self.__path = Path(path)
        self.__cdll = ctypes.CDLL(str(self.__path.resolve()))
        try:
            address = ctypes.addressof(ctypes.c_char.in_dll(self.__cdll, METADATA_SYMBOL))
        except ValueError:
            raise ValueError(f"{path} is not a cofactor library: it has no "
                             f"{METADATA_SYMBOL}") from None
        meta = json.loads(ctypes.string_at(address))
        if meta.get("abi") != ABI_VERSION:
            raise ValueError(f"{path} was made by cofactor {meta.get('cofactor')} with ABI "
                             f"{meta.get('abi')}; this cofactor reads ABI {ABI_VERSION}: "
                             "compile it again")
        for data in meta["functions"]:
            info = EntryInfo.from_json(data)
            setattr(self, info.name, self.__function(info))

    def __function(self, info: EntryInfo) -> Callable:
        address = ctypes.cast(self.__cdll[info.name], ctypes.c_void_p).value
        fn = ctypes_callable(address, info)
        fn.__name__ = fn.__qualname__ = info.name
        fn.__doc__ = f"{info.name}({', '.join(info.arg_types)}) -> {info.result_type}"
        return fn

    def __repr__(self) -> str:
        names = ", ".join(n for n in vars(self) if not n.startswith("_Library__"))
        return f"<cofactor library {self.__path}: {names}>"


def load(path: str | os.PathLike) -> Library:
    """The functions of the library at `path`, callable with NumPy arrays,
    floats and ints, returning what `cofactor.jit` returns. Arrays it returns
    own their memory, as NumPy arrays do."""
    return Library(path)
