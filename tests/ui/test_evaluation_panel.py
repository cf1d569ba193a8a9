"""The Evaluate tab: a run's evaluation on screen, a threshold that moves every number,
confusion-matrix cells that open exactly their images, and relabeling from the gallery that
is undoable and persists."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gender_desktop.data.labels import LabelStore
from gender_desktop.runs.folder import workspace


@pytest.fixture
def window_with_run(make_window, open_dataset_in, trained, qtbot):
    data, run_path = trained
    copy = workspace() / run_path.name
    shutil.copytree(run_path, copy)
    window = make_window()
    open_dataset_in(window, data)
    panel = window.evaluation
    panel.refresh_runs()
    window.tabs.setCurrentWidget(panel)
    qtbot.waitUntil(lambda: panel.evaluation is not None, timeout=10_000)
    return window, panel, copy


def test_a_finished_run_shows_its_test_metrics(window_with_run) -> None:
    _window, panel, run = window_with_run
    assert panel.runs.current() == str(run)
    assert panel.cards.cards["accuracy"].value.text() == "100.00%"
    assert panel.cards.cards["n"].value.text() == f"{len(panel.session.saved.part):,}"
    assert "test split" in panel.info.text()
    # Male images called Male in the top-left cell, nothing off the diagonal.
    males = int((panel.session.saved.part["label"] == "Male").sum())
    assert panel.confusion.buttons["male_correct"].text().startswith(f"{males:,}\n")
    assert panel.confusion.buttons["male_as_female"].text().startswith("0\n")
    # Slices come from the attributes that vary in the split (both values of each); an
    # attribute that is the same for every image would be the whole split and says nothing.
    slices = panel.slices.source.rows
    assert slices and all(0 < s["n"] < len(panel.session.saved.part) for s in slices)
    assert {s["slice"] for s in slices} >= {"Eyeglasses", "no Eyeglasses"}


def test_the_threshold_moves_every_number(window_with_run, qtbot) -> None:
    _window, panel, _run = window_with_run
    p = panel.session.saved.part["p_male"].to_numpy()
    threshold = 0.99  # above most male probabilities of a 3-epoch model: males become "Female"
    panel.spin.setValue(threshold)
    qtbot.waitUntil(lambda: panel.slider.value() == 99)
    labels = panel.session.saved.part["label"].to_numpy() == "Male"
    expected_fn = int((labels & (p < threshold)).sum())
    qtbot.waitUntil(
        lambda: panel.confusion.buttons["male_as_female"].text().startswith(f"{expected_fn:,}\n")
    )
    accuracy = float(((p >= threshold) == labels).mean())
    assert panel.cards.cards["accuracy"].value.text() == f"{accuracy:.2%}"


def test_relabeled_images_are_errors_and_a_cell_opens_exactly_them(window_with_run, qtbot) -> None:
    window, panel, _run = window_with_run
    store = window.browser.store
    table = window.dataset.table
    test_rows = np.flatnonzero(table["split"].to_numpy() == "test")
    males = [int(r) for r in test_rows if store.male[r] == 1][:2]
    window.browser.relabel_rows(males, 0)  # two Male test images now say Female
    with qtbot.waitSignal(panel.evaluated, timeout=60_000):
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    assert panel.confusion.buttons["female_as_male"].text().startswith("2\n")
    assert "· 2 label edits applied" in panel.info.text()  # numbers on edited labels say so
    qtbot.mouseClick(panel.confusion.buttons["female_as_male"], Qt.MouseButton.LeftButton)
    assert panel.tabs.currentIndex() == 2
    assert sorted(panel.gallery.model.rows.tolist()) == sorted(males)
    # The label-error finder ranks the same two first: the model is sure of the other class.
    panel.view_combo.setCurrentIndex(panel.view_combo.findData("label_errors"))
    assert sorted(panel.gallery.model.rows[:2].tolist()) == sorted(males)


def test_relabel_from_the_gallery_is_undoable_and_persists(window_with_run, qtbot) -> None:
    window, panel, _run = window_with_run
    panel.show_cell("male_correct")
    first = int(panel.gallery.model.rows[0])
    panel.gallery.select_position(0)
    assert panel.selected_rows() == [first]
    assert window.act_female.isEnabled()
    panel.tabs.setCurrentIndex(0)  # on the Summary tab the selection is out of sight: F is off
    assert not window.act_female.isEnabled()
    panel.tabs.setCurrentIndex(2)
    assert window.act_female.isEnabled()
    window.act_female.trigger()  # the F key: relabels the gallery's selection
    store = window.browser.store
    assert store.male[first] == 0
    assert panel.gallery.selected_rows() != [first]  # moved on to the next image
    window.act_undo.trigger()  # Ctrl+Z undoes it, as for a browser edit
    assert store.male[first] == 1
    window.act_redo.trigger()
    assert store.male[first] == 0
    dataset = window.dataset
    window.browser.close_dataset()  # release the journal's lock, then read it back
    assert LabelStore(dataset, readonly=True).male[first] == 0


def test_show_in_browser_and_review_in_browser(window_with_run, qtbot) -> None:
    window, panel, _run = window_with_run
    panel.show_cell("female_correct")
    panel.gallery.select_position(1)
    row = panel.gallery.selected_rows()[0]
    qtbot.mouseClick(panel.gallery.detail.browser_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.browser
    assert window.browser.selected_rows() == [row]
    window.tabs.setCurrentWidget(panel)
    rows = panel.gallery.model.rows[:5].tolist()
    panel.review_requested.emit(rows, "Reviewing five")
    assert window.browser.model.rows.tolist() == rows
    assert window.browser.review_bar.isVisible()
    window.browser.end_review()
    assert len(window.browser.model.rows) == len(window.dataset)


def test_export_model_writes_verified_torchscript_and_onnx(
    window_with_run, qtbot, tmp_path
) -> None:
    _window, panel, _run = window_with_run
    with qtbot.waitSignal(panel.exported, timeout=120_000) as exported:
        panel.export_model(str(tmp_path))
    formats = {r["format"]: r for r in exported.args[0]}
    assert set(formats) == {"torchscript", "onnx"}
    for result in formats.values():
        assert Path(result["path"]).parent == tmp_path and Path(result["path"]).stat().st_size
        assert result["max_abs_diff"] < 1e-4
    assert "verified" in panel.info.text()


def test_grad_cam_follows_the_latest_selection_only(window_with_run, qtbot) -> None:
    _window, panel, _run = window_with_run
    panel.show_cell("female_correct")
    panel.gallery.select_position(0)
    panel.gallery.detail.grad_cam.setChecked(True)
    for position in range(1, 6):  # arrowing through five images while the first map computes
        panel.gallery.select_position(position)
    last = panel.gallery.selected_rows()[0]
    last_id = str(panel.dataset.table["image_id"].iat[last])
    qtbot.waitUntil(lambda: any(key[2] == last_id for key in panel.cams.cache), timeout=60_000)
    assert len(panel.cams.cache) <= 2  # the first one in flight, then only the latest
    qtbot.waitUntil(
        lambda: (
            "Red:" in panel.gallery.detail.cam_note.text()
            or "No region" in panel.gallery.detail.cam_note.text()
        )
    )


def test_checking_the_train_split_adds_its_wrong_labels_to_the_suspects(
    window_with_run, qtbot
) -> None:
    window, panel, _run = window_with_run
    table = window.dataset.table
    train = np.flatnonzero(table["split"].to_numpy() == "train")
    flipped = int(train[5])
    store = window.browser.store
    window.browser.relabel_rows([flipped], 1 - int(store.male[flipped]))
    panel.view_combo.setCurrentIndex(panel.view_combo.findData("label_errors"))
    panel.tabs.setCurrentIndex(2)
    assert panel.crossval_button.isVisible()
    assert flipped not in panel.gallery.model.rows.tolist()  # val and test only, so far
    with qtbot.waitSignal(panel.crossval_done, timeout=120_000) as done:
        qtbot.mouseClick(panel.crossval_button, Qt.MouseButton.LeftButton)
    assert done.args[0]["images"] == len(train)
    qtbot.waitUntil(lambda: flipped in panel.gallery.model.rows.tolist(), timeout=20_000)
    assert int(panel.gallery.model.rows[0]) == flipped  # the model is sure it is the other class


def test_a_slice_row_opens_its_images_with_their_file_names(window_with_run, qtbot) -> None:
    window, panel, _run = window_with_run
    panel.tabs.setCurrentIndex(1)
    table = panel.slices
    index = table.model().index(0, 0)
    row = panel.slices.source.rows[table.proxy.mapToSource(index).row()]
    qtbot.mouseClick(
        table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualRect(index).center()
    )
    assert panel.tabs.currentIndex() == 2
    assert panel.view_combo.currentText() == f"Slice: {row['slice']}"
    assert panel.images.count.text().startswith(f"{row['n']:,} images in the slice {row['slice']}")
    shown = panel.gallery.model.rows.tolist()
    assert len(shown) == row["n"]
    # Every image shown is in the slice: a flag's slice has it, "no <flag>" has it not.
    values = window.dataset.table[row["attribute"]].astype(str).isin(["1", "True", "1.0"])
    wanted = not row["slice"].startswith("no ")
    assert all(bool(values.iat[r]) == wanted for r in shown)
    # Tiles show the file name (the browser's elided text), the tooltip the whole of it.
    first = panel.gallery.model.index(0)
    image_id = str(window.dataset.table["image_id"].iat[shown[0]])
    assert first.data(Qt.ItemDataRole.DisplayRole) == image_id
    assert first.data(Qt.ItemDataRole.ToolTipRole).startswith(image_id)
    # Back to a cell list: this model gets every test image right, so none are misclassified.
    panel.view_combo.setCurrentIndex(panel.view_combo.findData("misclassified"))
    assert panel.images.count.text().startswith("0 images")


def test_the_top_bar_fits_1280_pixels_with_the_run_title_readable(window_with_run, qtbot) -> None:
    window, panel, run = window_with_run
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: window.width() <= 1280)
    qtbot.wait(50)
    combo = panel.runs.combo
    assert combo.width() >= 300  # room for the run's name and numbers
    assert panel.export_button.geometry().right() <= panel.width()
    assert combo.currentText() in combo.toolTip()  # the whole title, whatever is elided
    assert run.name in combo.currentText()
