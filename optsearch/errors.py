"""The project's own error types: every user-facing failure is one of these."""

from __future__ import annotations


class OptsearchError(Exception):
    """Base class: anything optsearch raises on purpose for bad input."""


class ParseError(OptsearchError, ValueError):
    """Program text that is not a valid program.

    ``str(err)`` reads ``file:line:col: message; hint`` so editors can jump to it.
    """

    def __init__(self, message: str, line: int | None = None, col: int | None = None,
                 hint: str | None = None, filename: str | None = None) -> None:
        self.message = message
        self.line = line
        self.col = col
        self.hint = hint
        self.filename = filename
        super().__init__(self._format())

    def _format(self) -> str:
        where = [self.filename or "<program>"]
        if self.line is not None:
            where.append(str(self.line))
            if self.col is not None:
                where.append(str(self.col))
        text = f"{':'.join(where)}: {self.message}"
        if self.hint:
            text += f"; {self.hint}"
        return text

    def with_filename(self, filename: str) -> "ParseError":
        return ParseError(self.message, self.line, self.col, self.hint, filename)


class ConfigError(OptsearchError, ValueError):
    """A bad configuration value, naming the key (and file) at fault."""


class StoreError(OptsearchError):
    """A run store that is missing, locked, corrupted or of another version."""


class MemoryBudgetError(OptsearchError, RuntimeError):
    """A batch that cannot fit the memory budget even one program at a time."""
