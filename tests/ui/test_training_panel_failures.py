"""The Train panel when a run cannot start or fails while preparing: the log says why, the
window keeps working, and no empty run folder is left in the workspace."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QColor, QPalette

from gender_desktop.paths import data_dir
from gender_desktop.runs.folder import CONFIG, RunFolder
from gender_desktop.ui.training.panel import FAILED_COLOUR


def set_tiny(form) -> None:
    form.backbone.setCurrentIndex(form.backbone.findData("resnet18"))
    form.input_size.setValue(32)
    form.optimizer.setCurrentText("adam")
    form.hidden.setText("16")
    form.batch_size.setValue(16)
    form.device.setCurrentText("cpu")


def test_a_failed_start_leaves_no_run_folder(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    panel = window.training
    set_tiny(panel.form)
    panel.form.weights.setCurrentIndex(panel.form.weights.findData("run"))
    panel.form.weights_path.setText(str(tmp_path / "no-such-run"))
    with qtbot.waitSignal(panel.run_finished, timeout=180_000) as finished:
        panel.start_button.click()
    message = finished.args[0]["failed"]
    assert message == f"{tmp_path / 'no-such-run'}: no such run folder (to start from)"
    assert f"Training failed: {message}" in panel.log_view.toPlainText()
    runs = data_dir() / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []
    qtbot.waitUntil(lambda: panel.start_button.isEnabled())
    assert not panel.open_button.isEnabled()  # there is no folder to open
    # it looks failed: a red, full bar saying why; the next start clears that
    red = QColor(FAILED_COLOUR)
    assert (
        panel.progress.text().startswith("Failed: ")
        and "no such run folder" in panel.progress.text()
    )
    assert panel.progress.palette().color(QPalette.ColorRole.Highlight) == red
    assert panel.progress.value() == panel.progress.maximum()
    panel.form.weights.setCurrentIndex(panel.form.weights.findData("random"))
    with qtbot.waitSignal(panel.run_finished, timeout=180_000):
        panel.start()
        assert not panel.progress.text().startswith("Failed")
        assert panel.progress.palette().color(QPalette.ColorRole.Highlight) != red
        panel.stop()


def test_resuming_a_damaged_run_says_what_is_wrong(make_window, qtbot, tmp_path: Path) -> None:
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    panel = window.training
    damaged = tmp_path / "damaged-run"
    damaged.mkdir()
    (damaged / CONFIG).write_text('{"settings": [1, 2]}')
    assert panel.start(resume_run=RunFolder(damaged)) is None
    assert (
        f"Cannot start: {damaged / CONFIG}: bad settings: settings must be a JSON object, not list"
        in panel.log_view.toPlainText()
    )
    assert panel.start_button.isEnabled() and not panel.is_running()
