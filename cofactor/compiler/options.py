"""Compilation options: part of every specialization's identity and cache key."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Options:
    boundscheck: bool = False
    fastmath: bool = False

    def key(self) -> str:
        return f"boundscheck={self.boundscheck},fastmath={self.fastmath}"
