"""Everything the CLI writes to the terminal besides its results: the one progress line, the
one-line messages on stderr, and the stream settings every command relies on.

Conventions of every command: results go to stdout; progress goes to stderr and only when
stderr is a terminal (a pipe or a log file gets no carriage-return noise); a failure, a
cancellation or a warning is one line on stderr that starts with ``gender-desktop <command>:``,
as argparse's own usage errors do.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import TextIO

from gender_desktop import csvsafe

_active: ProgressLine | None = None  # the progress line on screen, erased before a message


class ProgressLine:
    """A line of progress rewritten in place on stderr, at most ten times a second.

    ``progress(done, total, message)`` is the signature of the core's progress callbacks (the
    dataset reader, the decode cache, evaluation, prediction) and shows ``message: done/total``;
    a new message starts a new line, so the phases (reading, decoding, predicting) stay visible.
    :meth:`show` puts any text there (the training bar). On anything but a terminal it is silent.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(self.stream) and self.stream.isatty()
        self.last = 0.0
        self.message = ""
        self.width = 0  # characters of the line on screen, to erase it exactly

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.tty:
            return
        if message != self.message and self.width:
            self.stream.write("\n")  # the finished phase keeps its line
            self.width = 0
        self.show(f"{message}: {done:,}/{total:,}", final=done >= total, key=message)

    def show(self, text: str, final: bool = False, key: str = "") -> None:
        """Rewrite the line with ``text``; skipped when the last rewrite of the same ``key`` is
        under 0.1 s old, unless it is the ``final`` one."""
        global _active
        if not self.tty:
            return
        now = time.monotonic()
        if key == self.message and self.width and not final and now - self.last < 0.1:
            return
        self.last, self.message = now, key
        pad = " " * max(0, self.width - len(text))
        self.stream.write(f"\r{text}{pad}")
        self.stream.flush()
        self.width = len(text)
        _active = self

    def clear(self) -> None:
        """Erase the line, so that output or a message starts on a clean line."""
        global _active
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width, self.message = 0, ""
        if _active is self:
            _active = None


def clear_progress() -> None:
    """Erase whichever progress line is on screen (before a result or a message)."""
    if _active is not None:
        _active.clear()


def say(command: str, text: str) -> None:
    """One line on stderr for people: ``gender-desktop <command>: <text>``."""
    clear_progress()
    prefix = f"gender-desktop {command}" if command else "gender-desktop"
    if sys.stderr is not None:  # a Windows GUI launch has no console
        print(f"{prefix}: {text}", file=sys.stderr, flush=True)


def note(text: str) -> None:
    """A plain status line on stderr (the summary of a prediction, a Ctrl+C notice)."""
    clear_progress()
    if sys.stderr is not None:
        print(text, file=sys.stderr, flush=True)


def prepare_streams() -> None:
    """Let stdout carry any file name: one that is not valid UTF-8 (Python holds it as
    surrogates) is written as its own bytes, as ``ls`` does, and a character the terminal's
    encoding lacks as a backslash escape, instead of a UnicodeEncodeError mid-output. Messages
    on stderr escape such names (Python's own choice for stderr, kept where stderr was
    replaced)."""
    for stream, errors in ((sys.stdout, csvsafe.ERRORS), (sys.stderr, "backslashreplace")):
        if stream is not None and hasattr(stream, "reconfigure"):
            with contextlib.suppress(ValueError, OSError):  # detached or closed: leave it
                stream.reconfigure(errors=errors)


def stdout_closed() -> int:
    """The reader of stdout went away (``... | head``): stop quietly, as Unix tools do, instead
    of a BrokenPipeError (and another one when Python flushes stdout at exit)."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 1


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"
