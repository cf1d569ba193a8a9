"""Errors that name the file (and line) at fault, so a user can go and fix it."""

from __future__ import annotations


class DatasetError(Exception):
    """A dataset that cannot be read. The message is meant to be shown to the user as is."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.reason = message
        where = ""
        if file:
            where = f"{file}, line {line}: " if line is not None else f"{file}: "
        super().__init__(where + message)


class ImportCancelled(Exception):
    """The user cancelled an import; nothing was changed."""
