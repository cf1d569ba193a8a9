"""The Train panel's curves: loss and accuracy per epoch on one shared epoch axis, the
smoothed per-batch loss, the kept epoch marked, and a legend row above both plots.

Each run starts on empty plots with their ranges reset (the last run's curves and zoom used to
stay); train and val differ in colour, line style and marker (solid circles, dashed squares),
so they are told apart in either theme and without colour vision.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from gender_desktop.ml.events import BatchEnd
from gender_desktop.ui.plots import EpochAxis, LegendRow, SeriesStyle, style_plot

SMOOTHING = 0.9
TRAIN = SeriesStyle("train", "#2f7ed8", symbol="o")
VAL = SeriesStyle("val", "#e07b1a", dashed=True, symbol="s")
BATCH = SeriesStyle("batch loss (smoothed)", "#4a90e2", width=1, alpha=190)
KEPT = SeriesStyle("kept epoch (best.pt)", "#2a9d4b", dashed=True, width=2, vertical=True)
EPOCH_KEYS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


def _plot(title: str, y_label: str) -> pg.PlotWidget:
    plot = pg.PlotWidget(title=title, axisItems={"bottom": EpochAxis(orientation="bottom")})
    plot.setLabel("bottom", "epoch")
    plot.setLabel("left", y_label)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).enableAutoSIPrefix(False)  # accuracy 0.95, not 950 (x0.001)
    plot.showGrid(x=True, y=True, alpha=0.25)
    plot.setMenuEnabled(False)  # its "View All" and export menus only confused
    return plot


EMPTY_EPOCHS = 10  # the epoch axis before any run: whole-epoch ticks


class TrainingCurves(QWidget):
    """The plots of the run being watched; :meth:`reset` at each run's start."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_plot = _plot("Loss", "binary cross-entropy")
        self.acc_plot = _plot("Accuracy", "accuracy")
        self.acc_plot.setXLink(self.loss_plot)  # one epoch axis: zooming one zooms both
        loss, acc = self.loss_plot, self.acc_plot
        self.curves = {
            "batch_loss": loss.plot(**BATCH.plot_options()),
            "train_loss": loss.plot(**TRAIN.plot_options()),
            "val_loss": loss.plot(**VAL.plot_options()),
            "train_accuracy": acc.plot(**TRAIN.plot_options()),
            "val_accuracy": acc.plot(**VAL.plot_options()),
        }
        self.best_lines = [pg.InfiniteLine(angle=90, pen=KEPT.pen()) for _ in range(2)]
        for plot, line in zip((loss, acc), self.best_lines, strict=True):
            plot.addItem(line)
            line.hide()
        self.legend = LegendRow([TRAIN, VAL, BATCH, KEPT])
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(loss)
        self.splitter.addWidget(acc)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.legend)
        layout.addWidget(self.splitter, 1)
        self.reset()
        self._style()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._style()  # follow light/dark theme switches
        super().changeEvent(event)

    def _style(self) -> None:
        for plot in (self.loss_plot, self.acc_plot):
            style_plot(plot, self.palette())

    def reset(self, epochs: int | None = None) -> None:
        """Empty plots for a new run, their ranges reset: the epoch axis spans the run's
        planned ``epochs`` (auto-ranged when not known, a sweep's trial), the value axes
        follow the new run's data."""
        self.series: dict[str, list[float]] = {k: [] for k in self.curves}
        self.series["epoch"], self.series["batch_x"] = [], []
        self._smoothed: float | None = None
        for curve in self.curves.values():
            curve.setData([], [])
        for line in self.best_lines:
            line.hide()
        for plot, y_range in ((self.loss_plot, (0.0, 1.0)), (self.acc_plot, (0.0, 1.0))):
            box = plot.getViewBox()
            box.setYRange(*y_range, padding=0.05)
            box.enableAutoRange(axis=pg.ViewBox.YAxis)
        box = self.loss_plot.getViewBox()  # the accuracy plot follows through the link
        if epochs:
            box.disableAutoRange(axis=pg.ViewBox.XAxis)
            box.setXRange(0, epochs, padding=0.02)
        else:  # whole epochs on the empty axis (0-1 would tick 0.2, 0.4, ...); data auto-ranges
            box.setXRange(0, EMPTY_EPOCHS, padding=0.02)
            box.enableAutoRange(axis=pg.ViewBox.XAxis)

    def add_batch(self, event: BatchEnd) -> None:
        s = self._smoothed
        self._smoothed = event.loss if s is None else SMOOTHING * s + (1 - SMOOTHING) * event.loss
        self.series["batch_x"].append(event.epoch - 1 + event.batch / event.batches)
        self.series["batch_loss"].append(self._smoothed)
        self.curves["batch_loss"].setData(self.series["batch_x"], self.series["batch_loss"])

    def add_epoch(self, metrics: dict[str, float], best: bool) -> None:
        self.series["epoch"].append(metrics["epoch"])
        for key in EPOCH_KEYS:
            self.series[key].append(metrics[key])
            self.curves[key].setData(self.series["epoch"], self.series[key])
        if best:
            for line in self.best_lines:
                line.setValue(metrics["epoch"])
                line.show()
        box = self.loss_plot.getViewBox()
        high = box.viewRange()[0][1]
        if metrics["epoch"] > high:  # early-stopping patience resumed past the plan, a resume
            box.setXRange(0, metrics["epoch"], padding=0.02)
