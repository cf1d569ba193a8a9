"""A parallel-coordinates plot of a sweep's trials, drawn with pyqtgraph.

One vertical axis per swept parameter and a last one for the metric; one line per trial through
its values, coloured by the metric (the colour map's bright end is the better end). Numbers are
placed linearly, or on a log scale when they span two decades or more (learning rates); text and
on/off values are evenly spaced categories. A trial with no metric (failed or pruned early) is
drawn grey and stops where its values do.

Hovering a line highlights that trial and says its values; dragging up or down along an axis
brushes a range on it (several axes: a trial must pass them all), and a click on an axis clears
its brush. ``selection_changed`` carries the trial numbers that pass, for the trials table to
filter on. pyqtgraph draws it (the app's plotting library; it handles thousands of lines and
keeps the GUI thread free of a second plotting stack).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from gender_desktop.ui.plots import ThemedPlot

HALF_WIDTH = 0.07  # an axis's brush is this wide on each side, in axis spacings
GRAB = 0.25  # a drag that starts this close to an axis brushes it
HOVER_PX = 6.0  # a line this close to the pointer is the hovered one
GREY = QColor(150, 150, 150, 140)
COLOURS = pg.colormap.get("viridis")


@dataclass
class Axis:
    """One axis: a column of the trials table, mapped onto 0..1."""

    column: str
    title: str
    kind: str  # "linear", "log" or "category"
    low: float = 0.0
    high: float = 1.0
    categories: list[str] = field(default_factory=list)

    def position(self, values: pd.Series) -> np.ndarray:
        """Each value's height on the axis (NaN where the value is missing)."""
        if self.kind == "category":
            index = {c: i for i, c in enumerate(self.categories)}
            steps = max(len(self.categories) - 1, 1)
            pos = [index.get(_text(v), np.nan) for v in values]
            out = np.array(pos, dtype=float) / steps
            return out if len(self.categories) > 1 else np.where(np.isnan(out), np.nan, 0.5)
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
        if self.kind == "log":
            numbers = np.log10(np.where(numbers > 0, numbers, np.nan))
        span = self.high - self.low
        return (numbers - self.low) / span if span > 0 else np.where(np.isnan(numbers), np.nan, 0.5)

    def ticks(self) -> list[tuple[float, str]]:
        """(height, label) pairs drawn beside the axis."""
        if self.kind == "category":
            steps = max(len(self.categories) - 1, 1)
            if len(self.categories) == 1:
                return [(0.5, self.categories[0])]
            return [(i / steps, c) for i, c in enumerate(self.categories)]
        if self.high <= self.low:
            value = 10**self.low if self.kind == "log" else self.low
            return [(0.5, _number_text(value))]
        out = []
        for frac in np.linspace(0, 1, 5):
            value = self.low + frac * (self.high - self.low)
            out.append((float(frac), _number_text(10**value if self.kind == "log" else value)))
        return out


def _text(value: object) -> str:
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number_text(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.2e}"


def make_axis(column: str, values: pd.Series, title: str | None = None) -> Axis:
    """An axis that fits the column: numbers (log when positive and two decades or more
    apart) or categories in the order they first appear, numbers among them sorted."""
    title = title or column
    known = values.dropna()
    numeric = pd.api.types.is_numeric_dtype(known) and not pd.api.types.is_bool_dtype(known)
    few_whole = numeric and len(known) and known.nunique() <= 6 and (known % 1 == 0).all()
    if numeric and len(known) and not few_whole:  # a few batch sizes read best as categories
        numbers = known.astype(float)
        low, high = float(numbers.min()), float(numbers.max())
        if low > 0 and high / low >= 100:
            return Axis(column, title, "log", math.log10(low), math.log10(high))
        return Axis(column, title, "linear", low, high)
    texts = [_text(v) for v in known]
    categories = list(dict.fromkeys(texts))
    if all(_is_number(t) for t in categories):
        categories.sort(key=float)
    return Axis(column, title, "category", categories=categories)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class _BrushBox(pg.ViewBox):
    """The plot's view box: no pan or zoom; a vertical drag near an axis brushes it, a click
    on an axis clears its brush (the owner decides what that means)."""

    def __init__(self, owner: ParallelCoordinates) -> None:
        super().__init__(enableMenu=False)
        self.owner = owner
        self.setMouseEnabled(False, False)
        self._axis: int | None = None
        self._start = 0.0

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        point = self.mapSceneToView(ev.scenePos())
        if ev.isStart():
            start = self.mapSceneToView(ev.buttonDownScenePos())
            self._axis = self.owner.axis_near(start.x())
            self._start = start.y()
        if self._axis is None:
            return
        low, high = sorted((self._start, point.y()))
        self.owner.set_brush(self._axis, low, high, final=ev.isFinish())

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            index = self.owner.axis_near(self.mapSceneToView(ev.scenePos()).x())
            if index is not None:
                ev.accept()
                self.owner.clear_brush(index)
                return
        ev.ignore()


class ParallelCoordinates(ThemedPlot):
    hovered = Signal(object)  # the hovered trial's number, or None
    selection_changed = Signal(object)  # the numbers of the trials passing every brush

    def __init__(self, parent=None) -> None:
        box = _BrushBox(self)
        super().__init__(parent=parent, viewBox=box)
        self.box = box
        self.plotItem.hideAxis("left")
        self.plotItem.hideButtons()
        self.getAxis("bottom").setStyle(tickLength=0)
        self.axes: list[Axis] = []
        self.frame = pd.DataFrame()
        self.positions = np.empty((0, 0))
        self.brushes: dict[int, tuple[float, float]] = {}
        self._brush_items: dict[int, QGraphicsRectItem] = {}
        self._lines: list[pg.PlotDataItem] = []
        self._pens: list[QPen] = []
        self._decor: list[object] = []
        self.hovered_row: int | None = None
        self.tip = pg.TextItem(anchor=(0, 1), fill=pg.mkBrush(255, 255, 255, 230), color="k")
        self.tip.setZValue(100)
        self.tip.hide()
        self.addItem(self.tip, ignoreBounds=True)
        self.scene().sigMouseMoved.connect(self._mouse_moved)

    # -- data -------------------------------------------------------------------------------------
    def set_trials(
        self,
        frame: pd.DataFrame,
        params: list[str],
        metric: str,
        higher_is_better: bool,
        titles: dict[str, str] | None = None,
    ) -> None:
        """Draw ``frame``'s trials (one row each, a ``number`` column naming them) across the
        ``params`` columns and the ``metric`` column (the last axis)."""
        titles = titles or {}
        self.frame = frame.reset_index(drop=True)
        columns = [*params, metric]
        self.axes = [make_axis(c, self.frame[c], titles.get(c, c)) for c in columns]
        self.positions = (
            np.column_stack([a.position(self.frame[a.column]) for a in self.axes])
            if len(self.frame)
            else np.empty((0, len(self.axes)))
        )
        self.brushes.clear()
        self._draw(higher_is_better)
        self.selection_changed.emit(self.selected())

    def _draw(self, higher_is_better: bool) -> None:
        for item in [*self._lines, *self._decor, *self._brush_items.values()]:
            self.removeItem(item)
        self._lines, self._pens, self._decor, self._brush_items = [], [], [], {}
        self.hovered_row = None
        self.tip.hide()
        x = np.arange(len(self.axes), dtype=float)
        metric = self.positions[:, -1] if len(self.axes) else np.empty(0)
        for row in range(len(self.frame)):
            score = metric[row] if higher_is_better else 1 - metric[row]
            colour = GREY if np.isnan(score) else COLOURS.map(float(score), mode="qcolor")
            pen = pg.mkPen(colour, width=2)
            line = pg.PlotDataItem(x, self.positions[row], pen=pen, connect="finite")
            self.addItem(line)
            self._lines.append(line)
            self._pens.append(pen)
        self._draw_axes()
        self.setXRange(-0.6, max(len(self.axes) - 0.4, 0.6), padding=0)
        self.setYRange(-0.08, 1.08, padding=0)
        self.getAxis("bottom").setTicks([[(i, a.title) for i, a in enumerate(self.axes)]])

    def _draw_axes(self) -> None:
        foreground = self.palette().color(self.foregroundRole())
        background = QColor(self.palette().color(self.backgroundRole()))
        background.setAlpha(200)  # labels stay readable over the lines behind them
        for i, axis in enumerate(self.axes):
            spine = pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen(foreground, width=1))
            self.addItem(spine)
            self._decor.append(spine)
            for height, label in axis.ticks():
                text = pg.TextItem(label, color=foreground, anchor=(1.05, 0.5), fill=background)
                text.setZValue(20)
                text.setPos(i, height)
                self.addItem(text)
                self._decor.append(text)

    # -- brushing ---------------------------------------------------------------------------------
    def axis_near(self, x: float) -> int | None:
        index = round(x)
        return index if 0 <= index < len(self.axes) and abs(x - index) <= GRAB else None

    def set_brush(self, index: int, low: float, high: float, final: bool = True) -> None:
        """Keep the trials whose value on axis ``index`` lies in ``low``..``high`` (heights on
        the axis, 0 bottom to 1 top)."""
        self.brushes[index] = (low, high)
        rect = QRectF(index - HALF_WIDTH, low, 2 * HALF_WIDTH, high - low)
        item = self._brush_items.get(index)
        if item is None:
            item = QGraphicsRectItem(rect)
            item.setPen(pg.mkPen("#d33f49", width=1))
            item.setBrush(QBrush(QColor(211, 63, 73, 60)))
            item.setZValue(50)
            self.addItem(item, ignoreBounds=True)
            self._brush_items[index] = item
        item.setRect(rect)
        self._shade()
        if final:
            self.selection_changed.emit(self.selected())

    def brush_values(self, column: str, low: object, high: object) -> None:
        """Brush the axis of ``column`` from ``low`` to ``high`` in its own units: numbers (a
        log axis takes the values, not their logarithms) or a category axis' labels."""
        index = next(i for i, a in enumerate(self.axes) if a.column == column)
        heights = self.axes[index].position(pd.Series([low, high], dtype=object))
        if np.isnan(heights).any():
            raise ValueError(f"{low!r}..{high!r} is not a range on the {column} axis")
        self.set_brush(index, float(heights.min()), float(heights.max()))

    def clear_brush(self, index: int) -> None:
        if self.brushes.pop(index, None) is None:
            return
        self.removeItem(self._brush_items.pop(index))
        self._shade()
        self.selection_changed.emit(self.selected())

    def selected_rows(self) -> np.ndarray:
        keep = np.ones(len(self.frame), dtype=bool)
        for index, (low, high) in self.brushes.items():
            values = self.positions[:, index]
            keep &= (values >= low - 1e-9) & (values <= high + 1e-9)
        return keep

    def selected(self) -> set[int]:
        """The trial numbers that pass every brush (all of them without one)."""
        if "number" not in self.frame:
            return set()
        return {int(n) for n in self.frame["number"].to_numpy()[self.selected_rows()]}

    def _shade(self) -> None:
        """Lines filtered out by a brush fade to grey; the others keep their colour."""
        keep = self.selected_rows()
        for row, line in enumerate(self._lines):
            line.setPen(self._pens[row] if keep[row] else pg.mkPen(GREY.lighter(130), width=1))
            line.setZValue(1 if keep[row] else 0)

    # -- hover ------------------------------------------------------------------------------------
    def row_at(self, scene_pos: QPointF) -> int | None:
        """The trial whose line passes closest to a scene point (within a few pixels)."""
        if not len(self.frame) or not self.sceneBoundingRect().contains(scene_pos):
            return None
        point = self.box.mapSceneToView(scene_pos)
        left = int(np.clip(math.floor(point.x()), 0, max(len(self.axes) - 2, 0)))
        if len(self.axes) < 2:
            return None
        t = float(np.clip(point.x() - left, 0.0, 1.0))
        heights = self.positions[:, left] * (1 - t) + self.positions[:, left + 1] * t
        pixel = abs(self.box.viewPixelSize()[1]) or 1.0
        distance = np.abs(heights - point.y()) / pixel
        distance[~self.selected_rows()] = np.inf  # filtered trials are not picked
        if not np.isfinite(distance).any():
            return None
        best = int(np.nanargmin(np.where(np.isnan(distance), np.inf, distance)))
        return best if distance[best] <= HOVER_PX else None

    def _mouse_moved(self, scene_pos: QPointF) -> None:
        self.highlight(self.row_at(scene_pos), scene_pos)

    def highlight(self, row: int | None, scene_pos: QPointF | None = None) -> None:
        """Draw trial ``row`` thick and on top, with its values beside the pointer."""
        if row == self.hovered_row:
            return
        if self.hovered_row is not None and self.hovered_row < len(self._lines):
            old = self.hovered_row
            self._lines[old].setPen(self._pens[old])
            self._lines[old].setZValue(1)
        self.hovered_row = row
        if row is None:
            self.tip.hide()
            self.hovered.emit(None)
            return
        pen = QPen(self._pens[row])
        pen.setWidthF(5)
        self._lines[row].setPen(pen)
        self._lines[row].setZValue(10)
        record = self.frame.iloc[row]
        lines = [f"trial {int(record['number'])}"] + [
            f"{a.title}: {_value_text(record[a.column])}" for a in self.axes
        ]
        self.tip.setText("\n".join(lines))
        if scene_pos is not None:
            self.tip.setPos(self.box.mapSceneToView(scene_pos))
        self.tip.show()
        self.hovered.emit(int(record["number"]))


def _value_text(value: object) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.4g}"
    return _text(value)
