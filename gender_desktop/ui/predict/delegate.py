"""Paints one result card: the image (or its Grad-CAM overlay), the file name, the prediction
with its probability as a bar, the dataset label when there is one, and errors in red.

Everything is painted (no widgets per item), so a view of 10,000 results costs what the ~30
visible cards cost.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from gender_desktop.ml.config import DEFAULT_SETTING
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.ml.prediction_rows import card_framing_text, stale_text
from gender_desktop.ui.browser.delegate import FEMALE_COLOR, MALE_COLOR
from gender_desktop.ui.predict.model import HeatState, Role

ERROR_COLOR = QColor("#d64545")
RIGHT_COLOR = QColor("#2a9d4b")
STALE_COLOR = QColor(170, 110, 0)  # made with other settings than the panel's
WRONG_PILL = "✗ model ≠ label"  # the model disagrees with the dataset label
PAD = 8
IMAGE_SIDE = 160
LINE = 18
BAR = 6
CARD = QSize(
    IMAGE_SIDE + 2 * PAD, PAD + IMAGE_SIDE + 6 + LINE + 2 + LINE + 2 + BAR + 5 + LINE + PAD
)


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) towards ``b``: tints that work on light and dark palettes."""
    return QColor(
        round(a.red() + (b.red() - a.red()) * amount),
        round(a.green() + (b.green() - a.green()) * amount),
        round(a.blue() + (b.blue() - a.blue()) * amount),
    )


def class_color(prediction: str) -> QColor:
    return MALE_COLOR if prediction == "Male" else FEMALE_COLOR


def draw_pill(painter: QPainter, rect: QRect, text: str, fill: QColor, color: QColor) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    painter.setPen(color)
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)


def pill_rect(painter: QPainter, text: str, anchor: QRect, corner: str) -> QRect:
    """A pill sized for ``text`` in a corner ("tl", "tr", "bl", "br") of ``anchor``, 5 px inside."""
    width = painter.fontMetrics().horizontalAdvance(text) + 12
    height = painter.fontMetrics().height() + 2
    x = anchor.left() + 5 if corner[1] == "l" else anchor.right() - 5 - width
    y = anchor.bottom() - 5 - height if corner[0] == "b" else anchor.top() + 5
    return QRect(x, y, width, height)


def wrap(text: str, metrics: QFontMetrics, width: int, lines: int) -> list[str]:
    """``text`` broken at spaces into at most ``lines`` lines of ``width`` pixels, the last one
    elided: error reasons like "truncated or corrupt (image file is truncated (13 bytes not
    processed))" stay readable in a card."""
    out: list[str] = []
    words = text.split()
    while words and len(out) < lines - 1:
        line = words.pop(0)
        while words and metrics.horizontalAdvance(f"{line} {words[0]}") <= width:
            line += " " + words.pop(0)
        if metrics.horizontalAdvance(line) > width:  # one word longer than the card
            line = metrics.elidedText(line, Qt.TextElideMode.ElideRight, width)
        out.append(line)
    if words:
        out.append(metrics.elidedText(" ".join(words), Qt.TextElideMode.ElideRight, width))
    return out


class ResultDelegate(QStyledItemDelegate):
    """Cards of a fixed size; ``show_heat`` switches images to their Grad-CAM overlays, and a
    card made with other settings than ``setting`` (the panel's (framing, tta)) says so."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.show_heat = False
        self.setting = DEFAULT_SETTING

    def sizeHint(self, option: QStyleOptionViewItem, index) -> QSize:
        return CARD

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        row: PredictionRow | None = index.data(Role.ROW)
        if row is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        palette: QPalette = option.palette  # type: ignore[attr-defined]
        state = option.state  # type: ignore[attr-defined]
        cell: QRect = option.rect  # type: ignore[attr-defined]
        left = cell.left() + max(0, (cell.width() - CARD.width()) // 2)  # centred in wide cells
        card = QRect(left, cell.top(), CARD.width(), CARD.height()).adjusted(2, 2, -2, -2)
        self._paint_card(painter, palette, state, card, row)
        image_box = QRect(card.left() + PAD - 2, card.top() + PAD - 2, IMAGE_SIDE, IMAGE_SIDE)
        self._paint_image(painter, palette, image_box, index, row)
        self._paint_text(painter, palette, card, image_box, row)
        painter.restore()

    # -- parts ------------------------------------------------------------------------------------
    def _paint_card(self, painter, palette: QPalette, state, card: QRect, row) -> None:
        base = palette.color(QPalette.ColorRole.AlternateBase)
        border = palette.color(QPalette.ColorRole.Mid)
        width = 1.0
        if row.p_male is None:
            base, border = mix(base, ERROR_COLOR, 0.10), mix(border, ERROR_COLOR, 0.6)
        if row.wrong:
            border, width = ERROR_COLOR, 2.0
        highlight = palette.color(QPalette.ColorRole.Highlight)
        if state & QStyle.StateFlag.State_Selected:
            base, border, width = mix(base, highlight, 0.16), highlight, 2.0
        elif state & QStyle.StateFlag.State_MouseOver:
            border = mix(border, highlight, 0.6)
        painter.setPen(QPen(border, width))
        painter.setBrush(base)
        painter.drawRoundedRect(QRectF(card).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)

    def _paint_image(self, painter, palette: QPalette, box: QRect, index, row) -> None:
        heat_state = index.data(Role.HEAT_STATE)
        image: QImage | None = index.data(Role.HEAT) if self.show_heat else None
        if image is None:
            image = index.data(Role.PREVIEW)
        clip = QPainterPath()
        clip.addRoundedRect(QRectF(box), 6, 6)
        painter.save()
        painter.setClipPath(clip)
        painter.fillRect(box, mix(palette.color(QPalette.ColorRole.Base), QColor("#808080"), 0.15))
        if image is not None and not image.isNull():
            if row.p_male is None:
                painter.setOpacity(0.35)  # e.g. "no face found": the photo, visibly set aside
            painter.drawImage(box, image)
            painter.setOpacity(1.0)
        painter.restore()
        font = QFont(painter.font())
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() - 1.0, 7.0))
        small.setBold(True)
        painter.setFont(small)
        if row.p_male is None:
            glyph = QFont(font)
            glyph.setPointSizeF(font.pointSizeF() * 3.2)
            painter.setFont(glyph)
            painter.setPen(ERROR_COLOR)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "⚠")
            painter.setFont(small)
        face_rect = QRect()
        if row.face is not None and row.faces and row.faces > 1:
            text = f"face {row.face + 1}/{row.faces}"
            face_rect = pill_rect(painter, text, box, "tl")
            draw_pill(painter, face_rect, text, QColor(0, 0, 0, 150), QColor("white"))
        if row.wrong:
            rect = pill_rect(painter, WRONG_PILL, box, "tr")
            if rect.intersects(face_rect):  # both do not fit on one line: one under the other
                rect.translate(0, face_rect.height() + 3)
            draw_pill(painter, rect, WRONG_PILL, ERROR_COLOR, QColor("white"))
        text = stale_text(row, self.setting)
        if text:
            rect = pill_rect(painter, text, box, "bl")
            draw_pill(painter, rect, text, STALE_COLOR, QColor("white"))
        if self.show_heat and row.p_male is not None:
            if heat_state == HeatState.PENDING:
                rect = pill_rect(painter, "Grad-CAM…", box, "br")
                draw_pill(painter, rect, "Grad-CAM…", QColor(0, 0, 0, 150), QColor("white"))
            elif heat_state == HeatState.FAILED:
                rect = pill_rect(painter, "no Grad-CAM", box, "br")
                draw_pill(painter, rect, "no Grad-CAM", ERROR_COLOR, QColor("white"))
        painter.setFont(font)

    def _paint_text(self, painter, palette: QPalette, card: QRect, box: QRect, row) -> None:
        font = QFont(painter.font())
        metrics = painter.fontMetrics()
        text_color = palette.color(QPalette.ColorRole.Text)
        muted = palette.color(QPalette.ColorRole.PlaceholderText)
        left, width = box.left(), box.width()
        y = box.bottom() + 7
        name = row.path.replace("\\", "/").rsplit("/", 1)[-1]
        painter.setPen(text_color)
        painter.drawText(
            QRect(left, y, width, LINE),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            metrics.elidedText(name, Qt.TextElideMode.ElideMiddle, width),
        )
        y += LINE + 2
        bold = QFont(font)
        bold.setBold(True)
        if row.p_male is None:
            painter.setFont(bold)
            painter.setPen(ERROR_COLOR)
            painter.drawText(
                QRect(left, y, width, LINE),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                "Cannot predict",
            )
            painter.setFont(font)
            painter.setPen(text_color)
            for k, text in enumerate(wrap(row.error, metrics, width, 2)):
                painter.drawText(
                    QRect(left, y + LINE * (k + 1), width, LINE),
                    Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                    text,
                )
            return
        prediction = row.prediction
        prob = row.probability or 0.0
        color = class_color(prediction)
        line = QRect(left, y, width, LINE)
        painter.setFont(bold)
        painter.setPen(color)
        painter.drawText(
            line, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, prediction
        )
        painter.setPen(text_color)
        painter.drawText(
            line, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{prob:.1%}"
        )
        painter.setFont(font)
        y += LINE + 2
        track = QRectF(left, y, width, BAR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(mix(palette.color(QPalette.ColorRole.Base), muted, 0.35))
        painter.drawRoundedRect(track, BAR / 2, BAR / 2)
        painter.setBrush(color)
        painter.drawRoundedRect(QRectF(left, y, max(width * prob, BAR), BAR), BAR / 2, BAR / 2)
        y += BAR + 5
        if row.label is not None:
            text = f"label: {row.label} ({row.split} split)"
            mark = "✗ " if row.wrong else "✓ "
            painter.setPen(ERROR_COLOR if row.wrong else RIGHT_COLOR)
            shown = metrics.elidedText(mark + text, Qt.TextElideMode.ElideRight, width)
            painter.drawText(
                QRect(left, y, width, LINE),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                shown,
            )
        elif text := card_framing_text(row):  # how the picture was made
            painter.setPen(muted)
            painter.drawText(
                QRect(left, y, width, LINE),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                metrics.elidedText(text, Qt.TextElideMode.ElideRight, width),
            )
