"""pyqtgraph plots that follow the app's light or dark palette."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QPalette


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
