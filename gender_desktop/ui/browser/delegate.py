"""Paints one grid cell: the thumbnail, a Male/Female badge, an 'edited' corner and the name."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen, QPolygon
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gender_desktop.ui.browser.model import Role

MALE_COLOR = QColor("#2f7ed8")
FEMALE_COLOR = QColor("#e07b1a")
EDITED_COLOR = QColor("#f2c200")
TEXT_HEIGHT = 18


def paint_badge(
    painter: QPainter, rect: QRect, fill: QColor, text: str, outline: QColor | None = None
) -> None:
    """A small rounded label in bold white (the M / F badges on thumbnails); leaves the
    painter's font bold."""
    painter.setBrush(fill)
    painter.setPen(QPen(outline, 2) if outline is not None else Qt.PenStyle.NoPen)
    painter.drawRoundedRect(rect, 4, 4)
    font = QFont(painter.font())
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("white"))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


class ThumbnailDelegate(QStyledItemDelegate):
    def __init__(self, thumb_size: int, parent=None) -> None:
        super().__init__(parent)
        self.thumb_size = thumb_size

    def cell_size(self) -> QSize:
        return QSize(self.thumb_size + 12, self.thumb_size + TEXT_HEIGHT + 12)

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        return self.cell_size()

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = option.rect.adjusted(3, 3, -3, -3)  # type: ignore[attr-defined]
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight))
            painter.drawRoundedRect(rect, 6, 6)
        image_box = QRect(rect.left() + 3, rect.top() + 3, rect.width() - 6, self.thumb_size)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        broken = index.data(Role.BROKEN)
        if pixmap is not None and not pixmap.isNull():
            scaled = pixmap.size().scaled(image_box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            picture = QRect(0, 0, scaled.width(), scaled.height())
            picture.moveCenter(image_box.center())
            painter.drawPixmap(picture, pixmap)
        else:
            picture = image_box.adjusted(8, 4, -8, -4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase))
            painter.drawRoundedRect(picture, 4, 4)
            if broken:
                painter.setPen(QColor("#d64545"))
                painter.drawText(image_box, Qt.AlignmentFlag.AlignCenter, "cannot read\nimage")
        # Badge and edited corner sit on the picture itself, not on the cell around it.
        male = index.data(Role.MALE)
        badge = QRect(picture.left() + 4, picture.bottom() - 21, 22, 18)
        paint_badge(painter, badge, MALE_COLOR if male else FEMALE_COLOR, "M" if male else "F")
        font = QFont(painter.font())
        if index.data(Role.EDITED):
            corner = QRect(picture.right() - 21, picture.top(), 22, 22)
            painter.setPen(QPen(QColor("#6b5500"), 1))
            painter.setBrush(EDITED_COLOR)
            painter.drawPolygon(
                QPolygon([corner.topLeft(), corner.topRight(), corner.bottomRight()])
            )
        font.setBold(False)
        painter.setFont(font)
        text_rect = QRect(rect.left() + 2, image_box.bottom() + 2, rect.width() - 4, TEXT_HEIGHT)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        name = painter.fontMetrics().elidedText(
            str(index.data(Qt.ItemDataRole.DisplayRole)).rsplit("/", 1)[-1],
            Qt.TextElideMode.ElideMiddle,
            text_rect.width(),
        )
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, name)
        painter.restore()
