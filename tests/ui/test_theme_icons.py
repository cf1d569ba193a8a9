"""Every toolbar icon reads against the toolbar in the light and the dark theme, measured on the
pixels the buttons draw."""

from __future__ import annotations

from collections import Counter

import builders
import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QToolBar, QToolButton

from gender_desktop.ui.theme import apply_theme

READABLE = 3.0  # WCAG's minimum contrast for the parts of a graphic needed to understand it
DIMMED = 2.0  # a disabled icon is meant to recede, yet stay visible


def luminance(color: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(color.redF())
        + 0.7152 * channel(color.greenF())
        + 0.0722 * channel(color.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def icon_contrast(button: QToolButton, icon_width: int) -> float:
    """The contrast that the icon's inked pixels reach against the button's background: the
    40th-best pixel, so a few stray anti-aliased pixels cannot make a faint icon pass."""
    image = button.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    ratio = image.devicePixelRatio()
    width = min(image.width(), int((icon_width + 6) * ratio))
    pixels = [image.pixelColor(x, y) for x in range(width) for y in range(image.height())]
    background = QColor(Counter(c.rgb() for c in pixels).most_common(1)[0][0])
    values = sorted((contrast(c, background) for c in pixels), reverse=True)
    return values[min(40, len(values) - 1)]


@pytest.fixture
def restore_theme(qapp):
    style, palette, sheet = qapp.style().name(), qapp.palette(), qapp.styleSheet()
    yield
    qapp.setStyle(style)
    qapp.setPalette(palette)
    qapp.setStyleSheet(sheet)


def _toolbar_contrasts(window) -> dict[str, tuple[bool, float]]:
    bar = window.findChild(QToolBar, "mainToolbar")
    QApplication.processEvents()
    found = {}
    for action in bar.actions():
        button = bar.widgetForAction(action)
        if isinstance(button, QToolButton) and not action.isSeparator():
            found[action.text().replace("&", "")] = (
                action.isEnabled(),
                icon_contrast(button, bar.iconSize().width()),
            )
    return found


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_toolbar_icon_reads_in_both_themes(
    make_window, open_dataset_in, qapp, restore_theme, tmp_path, theme
):
    window = make_window()
    apply_theme(qapp, theme)
    disabled = _toolbar_contrasts(window)  # no dataset: labeling, undo, redo, export disabled
    assert not disabled["Undo Label"][0] and not disabled["Redo Label"][0]
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    window.browser.select_rows([0])
    window.act_female.trigger()
    window.browser.select_rows([2])  # female in the source
    window.act_male.trigger()
    window.act_undo.trigger()  # both undo and redo now have something to do
    enabled = _toolbar_contrasts(window)
    assert all(on for on, _ in enabled.values()), [n for n, (on, _) in enabled.items() if not on]
    assert len(enabled) == 9
    for name, (_on, value) in enabled.items():
        assert value >= READABLE, f"{theme}: the {name} icon reaches only {value:.2f}:1"
    if theme == "dark":  # the issue: dimmed undo and redo all but vanished on the dark toolbar
        for name, (on, value) in disabled.items():
            assert on or value >= DIMMED, f"disabled {name} icon: {value:.2f}:1"
