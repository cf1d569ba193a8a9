"""What the Train panel tells while it trains, on the real window with real (tiny) runs: which
epoch of how many, the whole run's time left, the validation phase, "Paused" while paused,
and curves that start empty for each run, share the epoch axis and tell train from val."""

from __future__ import annotations

import re

import pytest
from forms import tiny_form
from PySide6.QtCore import QPoint, Qt

from gender_desktop.ui.training.curves import TRAIN, VAL


@pytest.fixture
def panel(make_window, qtbot):
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    tiny_form(window.training.form, batch=8, epochs=3)
    return window.training


def test_progress_says_epoch_of_validating_time_left_and_paused_and_each_run_starts_empty(
    panel, qtbot
):
    texts: list[str] = []
    with qtbot.waitSignal(panel.run_finished, timeout=180_000) as finished:
        worker = panel.start()
        worker.batch.connect(lambda _e: texts.append(panel.progress.text()))
        worker.phase.connect(lambda _e: texts.append(panel.progress.text()))
        # Paused while validating epoch 1 (or, on a loaded machine, a little later): epoch 3's
        # batches are still ahead, where the pause takes hold.
        qtbot.waitUntil(lambda: any("Validating" in t for t in texts), timeout=120_000)
        panel.pause_button.click()
        assert panel.progress.text().startswith("Paused · ")
        paused_from = len(texts)
        qtbot.wait(1500)  # the batch under way may still report: it must not hide "Paused"
        assert panel.progress.text().startswith("Paused · epoch ")
        assert all(t.startswith("Paused") for t in texts[paused_from:])
        panel.pause_button.click()
        resumed_from = len(texts)
        qtbot.waitUntil(lambda: len(texts) > resumed_from + 1, timeout=60_000)
        assert not panel.progress.text().startswith("Paused")
    assert finished.args[0]["epochs"] == 3
    batch_texts = [t for t in texts if "batch" in t]
    assert re.fullmatch(r"epoch 1 of 3 · batch \d+ / \d+ · [\d,]+ img/s · .+ left", batch_texts[0])
    validating = [t for t in texts if "Validating" in t]
    assert re.fullmatch(r"epoch 1 of 3 · Validating: \d+ / \d+ · .+ left", validating[0])
    assert any(t.startswith("epoch 3 of 3 · Validating") for t in validating)
    # Paused during validation, the run held at the next batch: that time is not training time.
    assert finished.args[0]["paused_seconds"] > 0

    # The next run starts on empty curves with reset ranges, even after the user zoomed in.
    qtbot.waitUntil(lambda: panel.start_button.isEnabled())
    assert list(panel.curves["val_loss"].getData()[0]) == [1, 2, 3]
    loss_box, acc_box = panel.loss_plot.getViewBox(), panel.acc_plot.getViewBox()
    loss_box.setRange(xRange=(1.2, 1.6), yRange=(0.60, 0.61), padding=0)
    panel.form.epochs.setValue(5)
    with qtbot.waitSignal(panel.run_finished, timeout=180_000):
        panel.start()
        for curve in panel.curves.values():  # nothing of the last run is left
            x, _y = curve.getData()
            assert x is None or len(x) == 0
        assert not any(line.isVisible() for line in panel.best_lines)
        low, high = loss_box.viewRange()[0]
        assert low <= 0 and 5 <= high < 5.5  # the new run's epochs
        assert acc_box.viewRange()[0] == pytest.approx([low, high])  # one shared epoch axis
        y_low, y_high = loss_box.viewRange()[1]
        assert y_low <= 0.05 and y_high >= 0.95  # not the zoomed 0.60-0.61
        panel.stop()


def test_train_and_val_differ_in_colour_line_and_marker_and_the_legend_covers_no_curve(
    panel, qtbot
):
    curves = panel.curves
    for key in ("train_loss", "train_accuracy"):
        assert curves[key].opts["symbol"] == "o"
        assert curves[key].opts["pen"].style() == Qt.PenStyle.SolidLine
    for key in ("val_loss", "val_accuracy"):
        assert curves[key].opts["symbol"] == "s"
        assert curves[key].opts["pen"].style() == Qt.PenStyle.DashLine
    assert TRAIN.colour != VAL.colour
    # The pyqtgraph legends (inside the view boxes) are gone; one row above the plots names
    # every series.
    assert panel.loss_plot.plotItem.legend is None and panel.acc_plot.plotItem.legend is None
    panel.window().tabs.setCurrentWidget(panel)
    legend = panel.plots.legend
    qtbot.waitUntil(lambda: legend.isVisible() and panel.loss_plot.height() > 100)
    assert list(legend.entries) == [
        "train",
        "val",
        "batch loss (smoothed)",
        "kept epoch (best.pt)",
    ]
    bottom = legend.mapTo(panel, QPoint(0, legend.height())).y()
    assert bottom <= panel.loss_plot.mapTo(panel, QPoint(0, 0)).y()
    # Zooming the epoch axis of one plot zooms the other.
    panel.acc_plot.getViewBox().setXRange(2, 3, padding=0)
    assert panel.loss_plot.getViewBox().viewRange()[0] == pytest.approx([2, 3])
