"""The on-disk cache of object code: a later process loads a compiled
function without importing xDSL or running LLVM's optimizer.

An entry is `<key>.o` (object code, see `codegen.emit_object`) and
`<key>.json` (metadata to rebuild the Python callable, e.g.
`marshal.EntryInfo.to_json()`). Each file is written to a temporary name and
renamed, the metadata last, so a reader never sees a partial entry. The key
covers everything the code depends on: the source, the signature, the
options, the versions of cofactor (and a hash of its source files, so that a
development checkout never loads stale code), xDSL, llvmlite, NumPy and
Python, and the host CPU with its features, and the vector math library
that vectorized loops call (glibc's libmvec and glibc's version, or none).
"""

import hashlib
import json
import os
import platform
import tempfile
import warnings
from collections.abc import Mapping
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from llvmlite import binding as llvm

from cofactor.runtime.engine import VECTOR_LIBRARY, vector_library


def fingerprint(source: str) -> str:
    """What the cache compares to tell whether a callee's source changed."""
    return hashlib.sha256(source.encode()).hexdigest()


def cache_dir() -> Path:
    """`$COFACTOR_CACHE_DIR`, or `~/.cache/cofactor`."""
    return Path(os.environ.get("COFACTOR_CACHE_DIR") or Path.home() / ".cache" / "cofactor")


@cache
def _environment() -> str:
    package = Path(__file__).resolve().parents[1]
    sources = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        sources.update(path.relative_to(package).as_posix().encode() + b"\0")
        sources.update(path.read_bytes())
    versions = {name: metadata.version(name) for name in ("cofactor", "xdsl", "llvmlite", "numpy")}
    return json.dumps({
        **versions,
        "cofactor-sources": sources.hexdigest(),
        "python": platform.python_version(),
        "triple": llvm.get_process_triple(),
        "cpu": llvm.get_host_cpu_name(),
        "features": llvm.get_host_cpu_features().flatten(),
        "vector-math": VECTOR_LIBRARY if vector_library() else None,
        "libc": _libc_version(),
    }, sort_keys=True)


def _libc_version() -> str | None:
    """The C library and its version ("glibc 2.36"), or None where it does not say."""
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        return None


def cache_key(source: str, signature: str, options: Mapping[str, Any] | str = "") -> str:
    """The key of a compiled function: a sha256 hex digest."""
    if not isinstance(options, str):
        options = json.dumps(options, sort_keys=True, default=str)
    digest = hashlib.sha256()
    for part in (source, signature, options, _environment()):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def load(key: str) -> tuple[bytes, dict[str, Any]] | None:
    """The object code and metadata stored under `key`, or None."""
    directory = cache_dir()
    try:
        meta = json.loads((directory / f"{key}.json").read_text())
        return (directory / f"{key}.o").read_bytes(), meta
    except (OSError, ValueError):
        return None


def store(key: str, obj: bytes, meta: Mapping[str, Any]) -> None:
    """Store an entry; a cache that cannot be written only gives a warning."""
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write_atomic(directory / f"{key}.o", obj)
        _write_atomic(directory / f"{key}.json", json.dumps(meta).encode())
    except OSError as e:
        warnings.warn(f"cofactor: cannot write the cache in {directory}: {e}", stacklevel=2)


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
