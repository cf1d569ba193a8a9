"""Long text shortens to fit with the whole of it as tooltip; a Grad-CAM overlay keeps the
picture's aspect, colouring only the square the model saw."""

from __future__ import annotations

import numpy as np

from gender_desktop.ui import heatmap
from gender_desktop.ui.elided import ElidedLabel
from gender_desktop.ui.runs import ElidingCombo


def test_a_long_title_is_elided_in_the_middle_and_whole_in_the_tooltip(qtbot) -> None:
    full = "20261201-153440-a-rather-long-run-name-for-a-small-label · resnet18 · test 92.0%"
    label = ElidedLabel(full)
    qtbot.addWidget(label)
    label.resize(160, 20)
    label.show()
    shown = label.text()
    assert "…" in shown and shown.startswith("2026") and shown.endswith("%")
    assert label.fontMetrics().horizontalAdvance(shown) <= 160
    assert label.toolTip() == label.full_text() == full
    label.resize(2000, 20)
    assert label.text() == full  # room again: nothing elided


def test_the_run_combo_paints_without_error_and_its_list_opens_wide(qtbot) -> None:
    combo = ElidingCombo()
    qtbot.addWidget(combo)
    title = "x" * 150
    combo.addItem(title)
    combo.resize(120, 28)
    combo.show()
    combo.grab()  # paints the elided text
    combo.showPopup()
    assert combo.view().minimumWidth() > 300
    combo.hidePopup()


def test_grad_cam_over_a_portrait_keeps_its_shape_and_dims_what_the_model_did_not_see() -> None:
    picture = np.full((40, 20, 3), 200, dtype=np.uint8)  # 20 wide, 40 high
    heat = np.zeros((8, 8), dtype=np.uint8)
    heat[:4] = 255  # the top half of the model's square is the evidence
    result = {"image": picture[10:30], "full": picture, "heat": heat}
    out = heatmap.overlay_result(result)
    assert out.shape == picture.shape
    assert heatmap.model_square(40, 20) == (10, 0, 20)
    assert (out[:10] == round(200 * heatmap.OUTSIDE)).all()  # above the square: dimmed
    assert (out[30:] == round(200 * heatmap.OUTSIDE)).all()  # below it too
    inside = out[10:30]
    assert (inside == heatmap.overlay(picture[10:30], heat)).all()
    assert inside[0, 0, 0] > inside[0, 0, 2]  # red where the heat is
    assert inside[-1, 0, 2] > inside[-1, 0, 0]  # blue where it is not
    # A reply without the whole picture (an older engine): the square, as before.
    assert heatmap.overlay_result({"image": picture[10:30], "heat": heat}).shape == (20, 20, 3)
