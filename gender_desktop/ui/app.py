"""Starting the GUI: the QApplication, the theme, the main window and the first dataset."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from gender_desktop import APP_NAME, __version__
from gender_desktop.ui.dialogs import install_excepthook
from gender_desktop.ui.main_window import DEMO, MainWindow
from gender_desktop.ui.resources import icon
from gender_desktop.ui.theme import apply_theme


def create_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setWindowIcon(icon("app"))
    return app


def initial_dataset(window: MainWindow, open_path: str | None, demo: bool) -> str | None:
    """What to open at start: the path given, the demo when asked, else the dataset open last
    time if it still exists; None (the welcome page) on a first launch or when it is gone."""
    if open_path:
        return open_path
    if demo:
        return DEMO
    last = str(window.settings.value("lastDataset", "") or "")
    return last if last == DEMO or (last and Path(last).exists()) else None


def run_app(open_path: str | None = None, demo: bool = False) -> int:
    app = create_app()
    install_excepthook()  # a bug in a slot shows the internal-error dialog, not a traceback
    window = MainWindow()
    apply_theme(app, str(window.settings.value("theme", "system")))
    window.show()
    first = initial_dataset(window, open_path, demo)
    if first is not None:
        window.open_path(first)
    return app.exec()
