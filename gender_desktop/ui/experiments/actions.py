"""What the Experiments tab's actions do in the other tabs, connected by the main window.

Kept here rather than in ``main_window.py`` so the window only creates the tab and calls
:func:`connect_to_window`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from gender_desktop.errors import UserError
from gender_desktop.runs.folder import RunFolder

if TYPE_CHECKING:
    from gender_desktop.ui.main_window import MainWindow


def open_in_evaluate(window: MainWindow, path: str) -> None:
    """Select the run in the Evaluate tab's run picker and show that tab."""
    window.evaluation.runs.select(path)
    window.tabs.setCurrentWidget(window.evaluation)


def train_again(window: MainWindow, path: str) -> bool:
    """Fill the Train form with the run's settings and show the Train tab."""
    try:
        config = RunFolder(Path(path)).train_config()
    except UserError as exc:
        QMessageBox.warning(window, "Cannot read the run's settings", str(exc))
        return False
    window.training.form.set_config(config)
    window.tabs.setCurrentWidget(window.training)
    window.statusBar().showMessage(f"The Train form holds the settings of {Path(path).name}", 8000)
    return True


def resume(window: MainWindow, path: str) -> bool:
    """Resume a stopped or interrupted run in the Train tab."""
    if window.training.is_running():
        QMessageBox.warning(
            window,
            "Train tab busy",
            "Another run is training: stop it or wait for it to end, then resume.",
        )
        return False
    if window.training.dataset is None:
        QMessageBox.warning(
            window,
            "Open a dataset first",
            "The Train tab trains on the open dataset: open the run's dataset, then resume.",
        )
        return False
    worker = window.training.start(resume_run=RunFolder(Path(path)))
    window.tabs.setCurrentWidget(window.training)
    return worker is not None


def connect_to_window(window: MainWindow) -> None:
    panel = window.experiments
    panel.open_in_evaluate.connect(lambda path: open_in_evaluate(window, path))
    panel.train_again.connect(lambda path: train_again(window, path))
    panel.resume_requested.connect(lambda path: resume(window, path))
    panel.message.connect(lambda text: window.statusBar().showMessage(text, 8000))
    panel.undo_changed.connect(window._update_label_actions)
    panel.runs_moved.connect(window.evaluation.refresh_runs)
    panel.runs_moved.connect(window.predict.refresh_runs)
    window.training.run_finished.connect(lambda _summary: panel.refresh())
