"""pyqtgraph plots that follow the app's light or dark palette, and series told apart by
colour, line style and marker, named in a legend row outside the plot area.

pyqtgraph's own legend sits inside the view box, where it covered the curves of the Train
panel; :class:`LegendRow` is an ordinary widget row above the plots instead, drawing each
series' line and marker as the plots do (:meth:`SeriesStyle.icon`), so nothing is covered and
a colour-blind reader still tells a solid line with circles from a dashed one with squares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

SYMBOL_SIZE = 7


def style_plot(plot: pg.PlotWidget, palette: QPalette) -> None:
    """Background, title and axes in the palette's base and text colours (pyqtgraph's own
    default is a black canvas, which looks foreign in the light theme)."""
    background = palette.color(QPalette.ColorRole.Base)
    foreground = palette.color(QPalette.ColorRole.Text)
    plot.setBackground(background)
    plot.setTitle(plot.plotItem.titleLabel.text, color=foreground)
    for axis in ("left", "bottom"):
        plot.getAxis(axis).setPen(foreground)
        plot.getAxis(axis).setTextPen(foreground)


class EpochAxis(pg.AxisItem):
    """An epoch axis ticks whole epochs only: there is no epoch 1.5 (pyqtgraph's own ticks
    halve the step on a short run, and the batch-loss curve runs between epochs)."""

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        levels = [
            (spacing, [v for v in values if abs(v - round(v)) < 1e-6])
            for spacing, values in super().tickValues(minVal, maxVal, size)
            if spacing >= 1
        ]
        if levels:
            return levels
        first, last = math.ceil(minVal), math.floor(maxVal)
        return [(1.0, [float(v) for v in range(first, last + 1)])] if last >= first else []


class ThemedPlot(pg.PlotWidget):
    """A PlotWidget restyled whenever the palette changes (theme switches)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        style_plot(self, self.palette())

    def changeEvent(self, event: QEvent) -> None:
        # Palette events also arrive during PlotWidget's own __init__, before its plot exists, and after close() dropped it.
        if event.type() == QEvent.Type.PaletteChange and self.__dict__.get("plotItem") is not None:
            style_plot(self, self.palette())
        super().changeEvent(event)


@dataclass(frozen=True)
class SeriesStyle:
    """How one series is drawn: its colour, solid or dashed, and its marker ("o" circle,
    "s" square, None: a plain line). The colours chosen for it must read on a white and on
    a dark canvas (mid-tone, saturated)."""

    name: str
    colour: str
    dashed: bool = False
    symbol: str | None = None
    width: int = 2
    alpha: int = 255
    vertical: bool = False  # a marker line across the plot (the kept epoch), not a curve

    def qcolor(self) -> QColor:
        colour = QColor(self.colour)
        colour.setAlpha(self.alpha)
        return colour

    def pen(self) -> QPen:
        style = Qt.PenStyle.DashLine if self.dashed else Qt.PenStyle.SolidLine
        return pg.mkPen(self.qcolor(), width=self.width, style=style)

    def plot_options(self) -> dict:
        """Keyword arguments of ``PlotItem.plot`` for this series."""
        options: dict = {"pen": self.pen()}
        if self.symbol:
            options |= {
                "symbol": self.symbol,
                "symbolSize": SYMBOL_SIZE,
                "symbolPen": pg.mkPen(self.qcolor(), width=1),
                "symbolBrush": pg.mkBrush(self.qcolor()),
            }
        return options

    def icon(self, width: int = 30, height: int = 14) -> QPixmap:
        """The series' line and marker as the plots draw them, for a legend."""
        ratio = 2  # drawn at twice the size: sharp on high-density screens
        pixmap = QPixmap(width * ratio, height * ratio)
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(self.pen())
        pen.setCosmetic(True)
        painter.setPen(pen)
        middle = QPointF(width / 2, height / 2)
        if self.vertical:
            painter.drawLine(QPointF(middle.x(), 1), QPointF(middle.x(), height - 1))
        else:
            painter.drawLine(QPointF(1, middle.y()), QPointF(width - 1, middle.y()))
        if self.symbol:
            painter.setPen(QPen(self.qcolor(), 1))
            painter.setBrush(QBrush(self.qcolor()))
            box = QRectF(0, 0, SYMBOL_SIZE, SYMBOL_SIZE)
            box.moveCenter(middle)
            painter.drawEllipse(box) if self.symbol == "o" else painter.drawRect(box)
        painter.end()
        return pixmap


class LegendRow(QWidget):
    """A row of "line + marker + name" entries, outside the plots it explains."""

    def __init__(self, styles: list[SeriesStyle], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.setSpacing(6)
        self.entries: dict[str, QLabel] = {}
        for style in styles:
            swatch = QLabel()
            swatch.setPixmap(style.icon())
            text = QLabel(style.name)
            layout.addWidget(swatch)
            layout.addWidget(text)
            layout.addSpacing(12)
            self.entries[style.name] = text
        layout.addStretch(1)
