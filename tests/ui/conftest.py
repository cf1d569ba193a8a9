"""The real main window for UI tests, closed after each test with a check that no background
thread outlives it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import builders
import pytest
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QMessageBox

import gender_desktop.data.demo as demo
from gender_desktop.ui.main_window import MainWindow


@pytest.fixture
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Message boxes the app shows, recorded instead of blocking the test."""
    shown: list[tuple[str, str]] = []

    def record(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", record)
    return shown


@pytest.fixture
def make_window(qtbot, warnings_shown, monkeypatch) -> Iterator[Callable[[], MainWindow]]:
    monkeypatch.setattr(demo, "DEFAULT_COUNT", 120)
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        window = MainWindow()
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        assert not window._tasks, "a background task outlived its window"
    assert QThreadPool.globalInstance().waitForDone(10_000)


@pytest.fixture
def open_dataset_in(qtbot) -> Callable[[MainWindow, Path | str], None]:
    """Open a dataset and wait until it is shown and its integrity check has finished."""

    def run(window: MainWindow, path: Path | str) -> None:
        with qtbot.waitSignals([window.dataset_opened, window.verified], timeout=30_000):
            window.open_path(path)

    return run


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A colour dataset (red = male) and a tiny run trained on it, evaluated on its test split
    at the end of training (so the run folder holds evaluation.json and predictions.csv)."""
    from setups import tiny_config, train_in_own_home

    root = tmp_path_factory.mktemp("evaluate")
    data = builders.celeba_official(root / "faces", 200)
    run, summary = train_in_own_home(root, tiny_config(data, epochs=3))
    assert summary["test"]["accuracy"] == 1.0
    return data, run.path
