"""Icons and the stylesheet shipped in ``gender_desktop.resources`` (the top-level resources/).

Monochrome icons draw in ``currentColor``: :func:`icon` paints them in the palette's button-text
colour when they are drawn (and in the disabled text colour when disabled), so they stay
readable in the light and the dark theme and follow a theme switch with nothing re-set. Icons
with colours of their own (male, female, the app) are drawn as they are."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QIconEngine, QImage, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer


def resource_path(name: str) -> str:
    return str(resources.files("gender_desktop.resources").joinpath(name))


@cache
def _svg(name: str) -> str:
    return resources.files("gender_desktop.resources").joinpath(f"icons/{name}.svg").read_text()


def is_monochrome(name: str) -> bool:
    """Whether the icon takes its colour from the theme (its SVG draws in ``currentColor``)."""
    return "currentColor" in _svg(name)


def icon_color(mode: QIcon.Mode, palette: QPalette | None = None) -> str:
    """The colour a monochrome icon is drawn in: the palette's button text, dimmed when
    disabled (the same colours as the action's text beside it)."""
    palette = palette or QGuiApplication.palette()
    if mode == QIcon.Mode.Selected:  # on a highlighted menu item: the highlighted text colour
        return palette.color(QPalette.ColorRole.HighlightedText).name()
    group = (
        QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled else QPalette.ColorGroup.Active
    )
    return palette.color(group, QPalette.ColorRole.ButtonText).name()


@cache
def _render(name: str, color: str, width: int, height: int) -> QImage:
    renderer = QSvgRenderer(QByteArray(_svg(name).replace("currentColor", color).encode()))
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    return image


class _TintedEngine(QIconEngine):
    """Draws a ``currentColor`` SVG in the current palette's colour for the icon mode."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        """Rendered at the screen's pixel density, so the icon is sharp on a HiDPI display."""
        side = max(1, round(min(size.width(), size.height()) * scale))
        pixmap = QPixmap.fromImage(_render(self.name, icon_color(mode), side, side))
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        ratio = painter.device().devicePixelRatioF() if painter.device() else 1.0
        side = max(1, round(min(rect.width(), rect.height()) * ratio))
        image = _render(self.name, icon_color(mode), side, side)
        target = QRect(QPoint(0, 0), QSize(side, side) / ratio)
        target.moveCenter(rect.center())
        painter.drawImage(target, image)

    def clone(self) -> QIconEngine:
        return _TintedEngine(self.name)


@cache
def icon(name: str) -> QIcon:
    if is_monochrome(name):
        return QIcon(_TintedEngine(name))
    return QIcon(resource_path(f"icons/{name}.svg"))


def stylesheet(dark: bool = False) -> str:
    """The app stylesheet; with ``dark``, the dark-theme additions too."""
    files = resources.files("gender_desktop.resources")
    text = files.joinpath("style.qss").read_text()
    if dark:
        check = resource_path("icons/check.svg").replace("\\", "/")
        text += files.joinpath("dark.qss").read_text().replace("@CHECK@", check)
    return text
