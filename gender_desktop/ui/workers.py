"""Background work with progress and cancel, reported through Qt signals.

A :class:`Task` runs a plain core function ``fn(progress, cancel)`` in its own QThread. The core
stays Qt-free: it only calls ``progress(done, total, message)`` and checks ``cancel`` (a
``threading.Event``). A failure is shown by its message (``failed``); an internal error (a
bug) also opens the internal-error dialog with its details. Progress is throttled to meaningful changes so a fast loop cannot flood the
event loop, and signals cross threads through queued connections.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from gender_desktop.errors import Cancelled, explain
from gender_desktop.ui.dialogs import show_internal_error

TaskFn = Callable[[Callable[[int, int, str], None], threading.Event], Any]


class Task(QThread):
    progressed = Signal(int, int, str)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    _internal = Signal(str, str)  # message, details: shown on the GUI thread

    def __init__(self, fn: TaskFn, parent: QObject | None = None, min_interval: float = 0.05):
        super().__init__(parent)
        self._fn = fn
        self.cancel_event = threading.Event()
        self._min_interval = min_interval
        self._last = 0.0
        self.internal_failure = False
        self._internal.connect(self._show_internal)  # this object lives on the GUI thread

    @Slot(str, str)
    def _show_internal(self, message: str, details: str) -> None:
        show_internal_error(message, details)

    def cancel(self) -> None:
        self.cancel_event.set()

    def _progress(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= self._min_interval:
            self._last = now
            self.progressed.emit(done, total, message)

    def run(self) -> None:
        try:
            result = self._fn(self._progress, self.cancel_event)
        except Cancelled:
            self.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            failure = explain(exc, "background task")
            if failure.internal:
                self.internal_failure = True
                self._internal.emit(failure.message, failure.details)
            self.failed.emit(failure.message)
        else:
            if self.cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.succeeded.emit(result)
