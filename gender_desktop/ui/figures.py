"""The comparison figures: what the notebooks plot for a study, as pyqtgraph widgets.

Each takes a :class:`~gender_desktop.runs.compare.Comparison` (``compare(paths)``) and shows
it; the Experiments tab's compare view and the report writer build the same ones:

* :class:`CurvesFigure` — validation accuracy and loss per epoch, one colour per run, the
  legend below the plots (outside the curves, which it would otherwise hide);
* :class:`MetricBars` — grouped bars of accuracy, precision, recall and F1 per run (test
  split), with the 95 % interval of the accuracy as an error bar;
* :class:`TimeBars` — training time per run, horizontal so that long run names stay readable;
* :class:`ConfusionGrid` — each run's confusion matrix on its test images.

Usage (also offscreen, from the CLI)::

    app = figures.offscreen_app()          # a QApplication, offscreen when there is no display
    figure = figures.CurvesFigure()
    figure.show_comparison(comparison)
    figures.render_png(figure, "curves.png", 900, 420)

``figures_for(comparison)`` builds all four by name. The figures follow the palette (light or
dark theme, like ``ui/plots.py``); a fresh widget outside any window takes the application's.
Run ``i`` has colour ``run_colour(i)`` in every figure.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QApplication, QGridLayout, QLabel, QWidget

from gender_desktop.durations import duration_text
from gender_desktop.fileio import atomic_write_bytes
from gender_desktop.runs.compare import Comparison
from gender_desktop.ui.plots import EpochAxis

# Tableau 10: distinguishable on light and dark backgrounds and for most colour-blind readers.
COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
METRICS = (("Accuracy", "accuracy"), ("Precision", "precision"), ("Recall", "recall"), ("F1", "f1"))


def plain_tooltip(text: str) -> str:
    """A tooltip showing ``text`` as it is: Qt renders any tooltip that looks like HTML as
    HTML, so a run named ``<b>x</b>`` would lose its markup and one with a note full of
    angle brackets would show garbage."""
    return f"<p style='white-space:pre-wrap'>{html.escape(text)}</p>" if text else text


def run_colour(i: int) -> QColor:
    return QColor(COLOURS[i % len(COLOURS)])


def _style_item(plot: pg.PlotItem, palette: QPalette) -> None:
    foreground = palette.color(QPalette.ColorRole.Text)
    plot.setTitle(plot.titleLabel.text, color=foreground)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(foreground)
        plot.getAxis(axis).setTextPen(foreground)


class ThemedLayout(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget whose plots and legends follow the palette (theme switches)."""

    def __init__(self) -> None:
        super().__init__()
        self.plots: list[pg.PlotItem] = []
        self.legends: list[pg.LegendItem] = []

    def restyle(self) -> None:
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        for plot in self.plots:
            _style_item(plot, palette)
        for legend in self.legends:
            legend.setLabelTextColor(palette.color(QPalette.ColorRole.Text))
            for _sample, label in legend.items:
                label.setText(label.text, color=palette.color(QPalette.ColorRole.Text))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.PaletteChange and "plots" in self.__dict__:
            self.restyle()
        super().changeEvent(event)

    def _plot(
        self, row: int, col: int, title: str, left: str, bottom: str, epochs: bool = False
    ) -> pg.PlotItem:
        """``epochs``: the bottom axis is an epoch axis (whole epochs only, as on Train)."""
        axes = {"bottom": EpochAxis(orientation="bottom")} if epochs else None
        plot = self.addPlot(row=row, col=col, title=title, axisItems=axes)
        plot.setLabel("left", left)
        plot.setLabel("bottom", bottom)
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.setMenuEnabled(False)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)
        self.plots.append(plot)
        return plot

    def _legend(self, row: int, colspan: int) -> pg.LegendItem:
        legend = pg.LegendItem(colCount=3, labelTextSize="9pt")
        self.addItem(legend, row=row, col=0, colspan=colspan)
        self.legends.append(legend)
        return legend

    def _clear_plots(self) -> None:
        for plot in self.plots:
            plot.clear()
        for legend in self.legends:
            legend.clear()


class CurvesFigure(ThemedLayout):
    """Validation accuracy and loss per epoch of every run, overlaid."""

    def __init__(self) -> None:
        super().__init__()
        self.accuracy_plot = self._plot(
            0, 0, "Validation accuracy", "accuracy", "epoch", epochs=True
        )
        self.loss_plot = self._plot(0, 1, "Validation loss", "loss", "epoch", epochs=True)
        self.legend = self._legend(1, 2)
        self.curves: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.restyle()

    def show_comparison(self, comparison: Comparison) -> None:
        self._clear_plots()
        self.curves = {}
        for i, curve in enumerate(comparison.curves):
            pen = pg.mkPen(run_colour(i), width=2)
            symbol = dict(symbol="o", symbolSize=5, symbolBrush=run_colour(i), symbolPen=None)
            acc = self.accuracy_plot.plot(curve.epoch, curve.val_accuracy, pen=pen, **symbol)
            loss = self.loss_plot.plot(curve.epoch, curve.val_loss, pen=pen, **symbol)
            self.legend.addItem(acc, html.escape(curve.run))  # labels are rich text
            self.curves[curve.run] = (acc, loss)
        self.restyle()


class MetricBars(ThemedLayout):
    """Accuracy, precision, recall and F1 of each run, grouped by metric."""

    def __init__(self) -> None:
        super().__init__()
        self.plot = self._plot(0, 0, "Test metrics", "", "")
        self.plot.setYRange(0, 1, padding=0.02)
        self.legend = self._legend(1, 1)
        self.bars: dict[str, pg.BarGraphItem] = {}
        self.restyle()

    def show_comparison(self, comparison: Comparison) -> None:
        self._clear_plots()
        self.bars = {}
        rows = comparison.rows
        width = 0.8 / max(1, len(rows))
        for i, row in enumerate(rows):
            values = [getattr(row, key) for _title, key in METRICS]
            xs = [m - 0.4 + width * (i + 0.5) for m in range(len(METRICS))]
            heights = [v or 0.0 for v in values]
            bar = pg.BarGraphItem(
                x=xs, height=heights, width=width * 0.92, brush=run_colour(i), pen=None
            )
            self.plot.addItem(bar)
            self.legend.addItem(bar, html.escape(row.run))
            self.bars[row.run] = bar
            if row.accuracy is not None and row.accuracy_ci is not None:
                low, high = row.accuracy_ci
                self.plot.addItem(
                    pg.ErrorBarItem(
                        x=np.array(xs[:1]), y=np.array([row.accuracy]),
                        top=np.array([high - row.accuracy]), bottom=np.array([row.accuracy - low]), beam=width * 0.4, pen=pg.mkPen(self.palette().color(QPalette.ColorRole.Text), width=1.5),
                    )
                )  # fmt: skip
        self.plot.getAxis("bottom").setTicks([[(m, t) for m, (t, _k) in enumerate(METRICS)]])
        floor = _floor(comparison)
        step = 0.2 if floor == 0 else 0.05
        ticks = [round(floor + k * step, 2) for k in range(int((1 - floor) / step + 1.5))]
        self.plot.getAxis("left").setTicks([[(v, f"{v:.0%}") for v in ticks]])
        self.plot.setXRange(-0.5, len(METRICS) - 0.5, padding=0)
        self.plot.setYRange(floor, 1.0, padding=0.02)
        self.restyle()


def _floor(comparison: Comparison) -> float:
    """Where the metric bars' axis starts: 0, or a round value below the lowest number when all
    are high (0.93 vs 0.95 is invisible on a 0-1 axis; the axis says where it starts)."""
    values = [
        getattr(r, k) for r in comparison.rows for _t, k in METRICS if getattr(r, k) is not None
    ]
    if not values or min(values) < 0.6:
        return 0.0
    return max(0.0, int(min(values) * 10 - 1) / 10)


class TimeBars(ThemedLayout):
    """Training time of each run (the sum of its epochs' seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.plot = self._plot(0, 0, "Training time", "", "seconds")
        self.plot.showGrid(x=True, y=False, alpha=0.25)
        self.bar: pg.BarGraphItem | None = None
        self.labels: list[pg.TextItem] = []
        self.restyle()

    def show_comparison(self, comparison: Comparison) -> None:
        self._clear_plots()
        rows = comparison.rows
        seconds = [r.train_seconds or 0.0 for r in rows]
        ys = list(range(len(rows)))[::-1]  # the first run on top
        self.bar = pg.BarGraphItem(
            x0=0,
            y=ys,
            height=0.6,
            width=seconds,
            brushes=[run_colour(i) for i in range(len(rows))],
            pen=None,
        )
        self.plot.addItem(self.bar)
        labels = [_elide(r.run, 36) for r in rows]
        axis = self.plot.getAxis("left")
        axis.setTicks([list(zip(ys, labels, strict=True))])
        # pyqtgraph widens an axis for its labels only after a paint that skipped them: a
        # rendered PNG would lose them, so the width is set from the font at once.
        metrics = QFontMetrics(axis.style["tickFont"] or self.font())
        axis.setWidth(max([metrics.horizontalAdvance(t) for t in labels] + [20]) + 14)
        self.labels = []
        for y, value in zip(ys, seconds, strict=True):
            text = pg.TextItem(
                duration_text(value),
                color=self.palette().color(QPalette.ColorRole.Text),
                anchor=(0, 0.5),
            )
            text.setPos(value, y)
            self.plot.addItem(text)
            self.labels.append(text)
        self.plot.setYRange(-0.6, max(0, len(rows) - 0.4), padding=0)
        self.plot.setXRange(0, max([*seconds, 1.0]) * 1.15, padding=0)
        self.restyle()


def _elide(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


class ConfusionTile(QWidget):
    """One run's 2 x 2 confusion matrix (rows: true class, columns: predicted), each cell shaded
    by its share of its row."""

    CELLS = (
        ("Male", "Male", "tp"),
        ("Male", "Female", "fn"),
        ("Female", "Male", "fp"),
        ("Female", "Female", "tn"),
    )

    def __init__(self, title: str, confusion: dict[str, int] | None, colour: QColor) -> None:
        super().__init__()
        self.title, self.confusion, self.colour = title, confusion, colour
        self.setMinimumSize(180, 150)
        self.setToolTip(plain_tooltip(title))

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        text = self.palette().color(QPalette.ColorRole.Text)
        painter.setPen(self.colour)
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        head = QRectF(0, 0, self.width(), 20)
        title = QFontMetrics(bold).elidedText(
            self.title, Qt.TextElideMode.ElideMiddle, self.width() - 8
        )
        painter.drawText(head, Qt.AlignmentFlag.AlignCenter, title)
        painter.setFont(self.font())
        painter.setPen(text)
        if not self.confusion:
            painter.drawText(
                QRectF(0, 20, self.width(), self.height() - 20),
                Qt.AlignmentFlag.AlignCenter,
                "not evaluated on test",
            )
            return
        label_w, top = 52.0, 40.0
        cell_w = (self.width() - label_w - 4) / 2
        cell_h = (self.height() - top - 4) / 2
        for j, name in enumerate(("Male", "Female")):
            painter.drawText(
                QRectF(label_w + j * cell_w, 20, cell_w, 18),
                Qt.AlignmentFlag.AlignCenter,
                f"→ {name}",
            )
            painter.drawText(
                QRectF(0, top + j * cell_h, label_w - 4, cell_h),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                name,
            )
        for k, (true, _pred, key) in enumerate(self.CELLS):
            i, j = divmod(k, 2)
            row_total = sum(self.confusion[c] for t, _p, c in self.CELLS if t == true) or 1
            share = self.confusion[key] / row_total
            fill = QColor(self.colour)
            fill.setAlphaF(0.12 + 0.75 * share)
            rect = QRectF(label_w + j * cell_w + 1, top + i * cell_h + 1, cell_w - 2, cell_h - 2)
            painter.fillRect(rect, fill)
            painter.drawText(
                rect, Qt.AlignmentFlag.AlignCenter, f"{self.confusion[key]:,}\n{share:.0%}"
            )
        painter.end()


class ConfusionGrid(QWidget):
    """The confusion matrices of every run, three to a row."""

    def __init__(self, columns: int = 3) -> None:
        super().__init__()
        self.columns = columns
        self.grid = QGridLayout(self)
        self.tiles: list[ConfusionTile] = []

    def show_comparison(self, comparison: Comparison) -> None:
        for tile in self.tiles:
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = []
        for i, record in enumerate(comparison.records):
            tile = ConfusionTile(record.title, record.confusion, run_colour(i))
            self.grid.addWidget(tile, i // self.columns, i % self.columns)
            self.tiles.append(tile)
        if not self.tiles:
            self.grid.addWidget(QLabel("No runs"), 0, 0)


FIGURES = {
    "curves": CurvesFigure,
    "metrics": MetricBars,
    "time": TimeBars,
    "confusion": ConfusionGrid,
}


def figures_for(comparison: Comparison) -> dict[str, QWidget]:
    """All four figures of a comparison by name: curves, metrics, time, confusion."""
    out: dict[str, QWidget] = {}
    for name, cls in FIGURES.items():
        figure = cls()
        figure.show_comparison(comparison)
        out[name] = figure
    return out


def offscreen_app() -> QApplication:
    """The running QApplication, or a new one (offscreen when there is no display), for
    rendering figures from the CLI."""
    app = QApplication.instance()
    if app is None:
        if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication([])
    return app  # type: ignore[return-value]


def render_png(widget: QWidget, path: str | os.PathLike[str], width: int, height: int) -> Path:
    """Render ``widget`` at ``width`` x ``height`` pixels into the PNG ``path`` without showing
    it on screen. The widget is resized: render a figure built for the file, not one shown in
    a window. Returns the path; an unwritable path raises OSError."""
    widget.resize(width, height)
    if not widget.isVisible():
        widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
        widget.show()  # lays out the pyqtgraph scene at this size
    QApplication.processEvents()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    widget.grab().save(buffer, "PNG")
    buffer.close()
    target = Path(path)
    atomic_write_bytes(target, bytes(data.data()))  # a half-written PNG never replaces one
    return target


def render_all(
    comparison: Comparison, folder: Path, sizes: Sequence[tuple[int, int]] | None = None
) -> dict[str, Path]:
    """Each figure of ``comparison`` as ``<folder>/<name>.png`` (900 x 420 unless ``sizes``)."""
    out = {}
    for k, (name, figure) in enumerate(figures_for(comparison).items()):
        width, height = sizes[k] if sizes else (900, 420)
        out[name] = render_png(figure, Path(folder) / f"{name}.png", width, height)
        figure.deleteLater()
    return out
