"""The one place where a CLI command's failures become exit codes and one line on stderr.

Every command runs inside :func:`run_guarded`; none catches errors to print them itself. The
error model (``gender_desktop/errors.py``) decides what a failure is:

===============================================  ====  ==============================================
what happened                                    exit  stderr
===============================================  ====  ==============================================
done                                             0     (the command's own summary, if any)
a :class:`UserError`, an ``OSError`` with an     2     ``gender-desktop <cmd>: error: <message>``
errno, out of memory (``explain``)
a usage error (argparse)                         2     usage, then ``gender-desktop <cmd>: error: …``
:class:`Cancelled` or Ctrl+C                     130   ``gender-desktop <cmd>: cancelled: <what>``
anything else: a bug                             1     ``gender-desktop <cmd>: internal error: …;
                                                       details in <log file>`` (traceback in the log)
===============================================  ====  ==============================================

So no Python traceback ever reaches the terminal: not from a command, not from a background
thread (``threading.excepthook``), not from an exception Python can only ignore
(``sys.unraisablehook``). Python warnings become one line each, without the source line.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from gender_desktop.cli.output import say, stdout_closed
from gender_desktop.errors import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_USER,
    Cancelled,
    explain,
    report_internal_error,
)

Command = Callable[[argparse.Namespace], int]


class _Interrupts:
    """Whether Ctrl+C was pressed during the command (a worker pool that dies of the same
    Ctrl+C is then a cancellation, not a failure)."""

    pressed = False


def run_guarded(command: str, run: Command, args: argparse.Namespace) -> int:
    """Run ``run(args)`` and turn whatever it raises into an exit code and one line."""
    _Interrupts.pressed = False
    with _quiet_hooks(command):
        try:
            return run(args)
        except (Cancelled, KeyboardInterrupt) as exc:
            say(command, cancelled_line(exc))
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            return stdout_closed()
        except BrokenProcessPool:
            if not _Interrupts.pressed:  # the decode workers died of something else: a bug
                raise
            say(command, "cancelled: the worker processes stopped with Ctrl+C")
            return EXIT_INTERRUPTED
        except Exception as exc:  # noqa: BLE001 - the one catch of every command
            return _failed(command, exc)


def cancelled_line(exc: BaseException) -> str:
    what = str(exc).strip()
    if isinstance(exc, KeyboardInterrupt):
        what = "stopped at once (Ctrl+C)"
    return f"cancelled: {what}" if what else "cancelled"


def _failed(command: str, exc: Exception) -> int:
    failure = explain(exc, where=f"gender-desktop {command}".strip())
    if failure.internal:
        say(command, failure.message)  # "internal error: …; details in <log file>"
        return EXIT_INTERNAL
    say(command, f"error: {failure.message}")
    return EXIT_USER


@contextlib.contextmanager
def ctrl_c_sets(cancel: threading.Event) -> Iterator[None]:
    """Within the block, Ctrl+C sets ``cancel`` instead of raising: the core functions check it
    between batches and stop cleanly (no half-written file). A second Ctrl+C raises
    KeyboardInterrupt at once, for work that does not check often enough."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    owner = os.getpid()

    def on_interrupt(_signum: int, _frame: object) -> None:
        if os.getpid() != owner:
            return  # a forked decode worker inherited the handler: the parent decides
        _Interrupts.pressed = True
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        after_echo = "\n" if sys.stderr.isatty() else ""  # the terminal echoed ^C mid-line
        sys.stderr.write(f"{after_echo}stopping after the current step (Ctrl+C again: at once)\n")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _quiet_hooks(command: str) -> Iterator[None]:
    """While the command runs: warnings as one line, and a failure that Python would print as
    a traceback from a thread or a finaliser logged as an internal error with one line."""

    def show_warning(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        text = str(message).strip().splitlines()
        say(command, f"warning: {text[0] if text else category.__name__}")

    def thread_failed(hook: threading.ExceptHookArgs) -> None:
        if hook.exc_type is SystemExit or hook.exc_value is None:
            return
        line, _details = report_internal_error(hook.exc_value, f"gender-desktop {command}")
        say(command, f"{line} (in a background thread)")

    def unraisable(hook: Any) -> None:
        exc = hook.exc_value
        if exc is None:
            return
        if exc.__traceback__ is None and hook.exc_traceback is not None:
            exc = exc.with_traceback(hook.exc_traceback)
        line, _details = report_internal_error(exc, f"gender-desktop {command}: {hook.err_msg}")
        say(command, f"ignored {line}")

    saved = (warnings.showwarning, threading.excepthook, sys.unraisablehook)
    warnings.showwarning = show_warning
    threading.excepthook = thread_failed
    sys.unraisablehook = unraisable
    try:
        yield
    finally:
        warnings.showwarning, threading.excepthook, sys.unraisablehook = saved
