"""Errors that point at the user's source line."""

from __future__ import annotations

import ast


class CompileError(Exception):
    """A construct cofactor cannot compile, located in the user's source."""

    def __init__(self, message: str, location: str = "", source_line: str = "", col: int = 0):
        self.message = message
        self.location = location
        self.source_line = source_line
        text = message
        if location:
            text = f"{location}: {message}"
        if source_line:
            text += f"\n    {source_line}\n    {' ' * col}^"
        super().__init__(text)


class SourceInfo:
    """The file and line offset of a function's source, to locate AST nodes."""

    def __init__(self, filename: str, first_line: int, lines: list[str], col_offset: int = 0):
        self.filename = filename
        self.first_line = first_line
        self.lines = lines
        self.col_offset = col_offset

    def error(self, message: str, node: ast.AST | None) -> CompileError:
        if node is None or not hasattr(node, "lineno"):
            return CompileError(message, self.filename)
        line = self.first_line + node.lineno - 1
        col = node.col_offset + self.col_offset
        text = self.lines[node.lineno - 1] if node.lineno - 1 < len(self.lines) else ""
        stripped = text.lstrip()
        caret = max(0, node.col_offset - (len(text) - len(stripped)))
        return CompileError(message, f"{self.filename}:{line}:{col + 1}", stripped.rstrip(), caret)
