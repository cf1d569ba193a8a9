"""The app's one error model: what the user can fix, what they cancelled, and everything else.

Anki's ``pylib/anki/errors.py`` is the example: one base class whose message is written for
the user, one for cancellation, and every caller tells them apart with ``isinstance`` (never by
class-name strings, which silently stop matching when a class is renamed or moved).

- :class:`UserError`: bad input or an environment problem the user can act on (a damaged file, a
  full disk, a missing GPU). Its message names the file or setting and says what is wrong; the
  CLI prints it and exits 2, the GUI shows it and keeps working.
- :class:`Cancelled`: the user asked to stop; nothing is reported as a failure (exit 130).
- Anything else is a bug: :func:`report_internal_error` writes the traceback to a log file and
  gives the one line the CLI prints and the GUI's dialog shows (with the details to copy).

This module is torch- and Qt-free: the GUI process, the CLI and the engine children all import it.
"""

from __future__ import annotations

import datetime
import errno
import os
import traceback
from pathlib import Path

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USER = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A failure the user can do something about. ``str(exc)`` is the message to show as is.

    ``file`` and ``line`` say where the problem is, when it is in a file; the message already
    names them, so callers never have to assemble it.
    """

    def __init__(
        self, message: str, file: str | os.PathLike[str] | None = None, line: int | None = None
    ) -> None:
        self.file = os.fspath(file) if file is not None else None
        self.line = line
        self.reason = message
        where = ""
        if self.file:
            where = f"{self.file}, line {line}: " if line is not None else f"{self.file}: "
        super().__init__(where + message)


class Cancelled(Exception):
    """The user cancelled the operation; whatever it had written was removed or kept whole."""


def describe_os_error(exc: OSError, action: str = "write") -> str:
    """A short, user-facing sentence for an OSError: what is full, forbidden or missing.

    ``action`` is the verb of what failed ("write", "read", "create"); the file comes from the
    error itself, so the message names it.
    """
    name = exc.filename or ""
    target = f" {name}" if name else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full: could not {action}{target}; free some space and try again"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (
            f"permission denied: could not {action}{target} (the folder is read-only or not yours)"
        )
    if exc.errno == errno.ENOENT:
        return f"not found:{target or ' (no such file or folder)'}"
    return f"could not {action}{target}: {exc.strerror or exc}"


def user_error_from_os(exc: OSError, action: str = "write") -> UserError:
    """Turn an OSError into the UserError that names its file (keeps the OSError as cause)."""
    error = UserError(describe_os_error(exc, action))
    error.__cause__ = exc
    return error


def log_dir() -> Path:
    """Where internal-error reports go (``<data>/logs``), created on demand."""
    from gender_desktop.paths import data_dir

    folder = data_dir() / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def report_internal_error(exc: BaseException, where: str = "gender-desktop") -> tuple[str, str]:
    """Write ``exc``'s traceback to a fresh log file; return (the one-line message, details).

    The one line is what a terminal or a dialog shows: "internal error: <what>; details in
    <log file>". The details (the traceback) are for the dialog's "Copy details" button and a
    bug report. If even the log cannot be written (a full disk), the line says so instead.
    """
    details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    what = f"{type(exc).__name__}: {what}" if what != type(exc).__name__ else what
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        path = log_dir() / f"internal-error-{stamp}-{os.getpid()}.log"
        path.write_text(f"{where}\n{details}", encoding="utf-8", errors="replace")
        location = f"details in {path}"
    except OSError:
        location = "the details could not be saved"
    return f"internal error: {what[:300]}; {location}", details


class Failure:
    """What one failed operation tells the user: a plain, picklable value that crosses process
    boundaries (engine and training children send it to the GUI).

    ``internal`` is True for bugs: ``message`` is then the "internal error: …; details in …"
    line and ``details`` the traceback for the GUI's "Copy details" button.
    """

    __slots__ = ("details", "internal", "message")

    def __init__(self, message: str, internal: bool = False, details: str = "") -> None:
        self.message, self.internal, self.details = message, internal, details

    def __getstate__(self) -> tuple[str, bool, str]:
        return (self.message, self.internal, self.details)

    def __setstate__(self, state: tuple[str, bool, str]) -> None:
        self.message, self.internal, self.details = state

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"Failure({self.message!r}, internal={self.internal})"


def explain(exc: BaseException, where: str = "gender-desktop") -> Failure:
    """The one place that decides how a failure is shown: a :class:`UserError` by its message,
    an ``OSError`` by what it says of its file (full disk, permission, missing), anything else
    as an internal error with its traceback logged."""
    if isinstance(exc, UserError):
        return Failure(str(exc))
    if isinstance(exc, MemoryError):
        return Failure(
            "out of memory: the operation needs more memory than is free; "
            "close other programs or use a smaller batch or image size"
        )
    if isinstance(exc, OSError) and exc.errno is not None:
        return Failure(describe_os_error(exc, "read or write"))
    line, details = report_internal_error(exc, where)
    return Failure(line, internal=True, details=details)
