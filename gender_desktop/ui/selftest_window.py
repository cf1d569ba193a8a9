"""The self-test's window step (``gender-desktop --self-test``, see ``gender_desktop.selftest``):
the real main window opens the demo dataset and finds the device, as at a user's first launch.

Why the real window: in a frozen bundle this is what fails first (a missing Qt platform
plugin, stylesheet or icon, a panel importing something the bundle left out). The step also
checks the rule the bundle depends on for a responsive window: the device probe runs in a
child, so ``torch`` is still not imported in this (the GUI's) process once the device is known.

A message box the window would show (a dataset that cannot be opened) and an exception in a
slot both end the step with their text instead of blocking it or printing a traceback.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox

from gender_desktop.errors import UserError, explain

WINDOW_TIMEOUT_S = 180.0  # opening the demo and probing the device (a torch import, in a child)
DETECTING = "Device: detecting"


class WindowCheckFailed(UserError):
    """What the window showed or raised instead of opening the demo."""


def check_window() -> str:
    """Open the demo in a new main window, wait for the dataset and the device; a line saying
    what the window shows. Raises :class:`WindowCheckFailed` with what went wrong."""
    from gender_desktop.ui.app import create_app
    from gender_desktop.ui.main_window import DEMO, MainWindow
    from gender_desktop.ui.resources import icon, resource_path
    from gender_desktop.ui.theme import apply_theme

    app = create_app()
    problems: list[str] = []
    previous_hook = sys.excepthook
    sys.excepthook = _recording_hook(problems)
    previous_handler = qInstallMessageHandler(_quiet_offscreen_notes)
    watcher = QTimer(app, interval=100)
    watcher.timeout.connect(lambda: _close_message_boxes(problems))
    watcher.start()
    window = MainWindow()
    try:
        apply_theme(app, "light")
        window.show()
        window.open_path(DEMO)
        _wait(app, lambda: bool(problems) or _ready(window), WINDOW_TIMEOUT_S)
        if problems:
            raise WindowCheckFailed(problems[0])
        if not _ready(window):
            raise WindowCheckFailed(
                f"the window did not open the demo and find the device within "
                f"{WINDOW_TIMEOUT_S:.0f} s (status: {window.statusBar().currentMessage()!r}, "
                f"{window.device_label.text()!r})"
            )
        device = window.device_label.text()
        if device.startswith("Device: unknown"):  # the label is short; the reason is kept apart
            raise WindowCheckFailed(f"Device: {window.device_text}")
        if icon("app").isNull() or icon("male").isNull():
            raise WindowCheckFailed(f"the app's icons are missing ({resource_path('icons')})")
        if "torch" in sys.modules:
            raise WindowCheckFailed(
                "the window's process imported torch (it must stay in children)"
            )
        shown = window.browser.model.rowCount()
        return (
            f"{shown:,} images shown on {app.platformName()}; {device.removeprefix('Device: ')}"
            ", torch kept out of the window's process"
        )
    finally:
        window.close()
        watcher.stop()
        app.processEvents()
        sys.excepthook = previous_hook
        qInstallMessageHandler(previous_handler)


def _ready(window) -> bool:
    text = window.device_label.text()
    return (
        window.dataset is not None
        and not text.startswith(DETECTING)
        and "open" not in window._tasks
    )


def _wait(app: QApplication, done: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done() and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)


def _recording_hook(problems: list[str]):
    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        problems.append(explain(exc.with_traceback(tb), "self-test window").message)

    return hook


def _close_message_boxes(problems: list[str]) -> None:
    """A modal message box would wait for a click forever: record its text and close it."""
    for widget in QApplication.topLevelWidgets():
        if isinstance(widget, QMessageBox) and widget.isVisible():
            problems.append(f"{widget.windowTitle()}: {widget.text()}")
            widget.done(0)


def _quiet_offscreen_notes(kind: QtMsgType, context, message: str) -> None:
    """Qt's messages on stderr as usual, less the offscreen plugin's note that it cannot
    resize windows to their hints (true, and nothing the self-test's reader can act on)."""
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)
