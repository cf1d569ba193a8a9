"""The Predict tab on the real main window, with a real tiny run in the engine child: dropped
files of every awkward kind, a dataset image the model gets wrong, Grad-CAM, CSV export and
Cancel on a big folder."""

from __future__ import annotations

import csv
import io
import multiprocessing
import shutil
from pathlib import Path

import builders
import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication

from gender_desktop import paths as app_paths
from gender_desktop.ml.prediction_row import PredictionRow
from gender_desktop.runs.folder import workspace
from gender_desktop.ui.predict.model import HeatState, Role, Show

LOAD_TIMEOUT = 90_000  # the child imports torch: seconds, more on a loaded CI machine


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A colour dataset (red images male, blue female) and a 32 px ResNet18 that tells them
    apart (2 CPU epochs, ~2 s), shared by the module."""
    import torch
    from setups import tiny_config, train_in_own_home

    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("predict")
    data = builders.celeba_official(root / "colours", 80)
    run, summary = train_in_own_home(root, tiny_config(data, lr=1e-2, batch_size=8))
    assert summary["best_val_accuracy"] == 1.0
    return data, run.path


@pytest.fixture
def predict_window(make_window, trained, qtbot):
    """The main window on its Predict tab with the run loaded; closing it must end the child."""
    _data, run = trained
    shutil.copytree(run, workspace() / run.name)  # listed by the run picker, like a new run
    window = make_window()
    panel = window.predict
    assert panel.runs.current() == str(workspace() / run.name)
    with qtbot.waitSignal(panel.model_loaded, timeout=LOAD_TIMEOUT):
        window.tabs.setCurrentWidget(panel)
    assert panel.model_label.text() == "Model: resnet18 · 32 px · epoch 2 · CPU"
    yield window
    window.close()
    assert not panel.engine.running
    assert not [p for p in multiprocessing.active_children() if "predict" in p.name]


def predict(qtbot, panel, paths: list[Path]) -> dict:
    with qtbot.waitSignal(panel.job_finished, timeout=60_000) as done:
        assert panel.predict_paths([str(p) for p in paths])
    return done.args[0]


def rows_by_name(panel) -> dict[str, PredictionRow]:
    return {Path(row.path).name: row for row in panel.results.rows()}


def drop(widget, paths: list[Path]) -> QDropEvent:
    """A real drag and drop of file URLs onto ``widget``, routed by Qt as a file manager's would
    be (drag enter picks the target, which receives the drop)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(widget.rect().center())
    action, button = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    modifiers = Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos.toPoint(), action, mime, button, modifiers)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    event = QDropEvent(pos, action, mime, button, modifiers)
    QApplication.sendEvent(widget, event)
    return event


def awkward_files(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {
        "red.jpg": builders.jpeg_bytes(0, (40, 50)),  # red: male for this model
        "blue.jpg": builders.jpeg_bytes(2, (40, 50)),
        "empty.jpg": b"",
        "truncated.jpg": builders.jpeg_bytes(0, (300, 300))[:400],
        "notes.png": b"this is text, not a PNG\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    gray = (np.arange(48 * 48, dtype=np.uint32).reshape(48, 48) * 28).astype(np.uint16)
    Image.fromarray(gray).save(folder / "gray16.png")
    Image.new("RGBA", (48, 48), (200, 60, 60, 255)).save(folder / "rgba.png")
    Image.new("CMYK", (48, 48), (55, 195, 195, 0)).save(folder / "cmyk.jpg")  # RGB 200, 60, 60
    assert Image.open(folder / "gray16.png").mode.startswith("I;16")
    return {p.name: p for p in sorted(folder.iterdir())}


def test_dropped_files_each_get_a_prediction_or_the_reason(predict_window, qtbot, tmp_path):
    window, panel = predict_window, predict_window.predict
    files = awkward_files(tmp_path / "drop")
    assert panel.stack.currentWidget() is panel.drop_zone
    # Dropped on the (empty) results area: the panel takes it, the window opens no dataset.
    with qtbot.waitSignal(panel.job_finished, timeout=60_000) as done:
        event = drop(panel.drop_zone, list(files.values()))
    assert event.isAccepted()
    assert window._opening is None and "open" not in window._tasks
    assert done.args[0]["files"] == 8 and done.args[0]["errors"] == 3
    rows = rows_by_name(panel)
    assert len(rows) == 8 == panel.results.total()
    assert rows["red.jpg"].prediction == "Male" and rows["blue.jpg"].prediction == "Female"
    assert rows["empty.jpg"].error == "empty file (0 bytes)"
    assert rows["truncated.jpg"].error.startswith("truncated or corrupt")
    assert rows["notes.png"].error == "not an image Pillow can read"
    for name in ("gray16.png", "rgba.png", "cmyk.jpg"):  # converted, then predicted
        assert rows[name].p_male is not None and not rows[name].error, name
    assert rows["cmyk.jpg"].prediction == rows["rgba.png"].prediction == "Male"  # still red
    summary = panel.summary.text()
    assert "8 images in" in summary and "3 errors" in summary
    assert not panel.cancel_button.isVisible() and panel.export_button.isEnabled()
    # The panel keeps working: a second drop, this time onto the results list itself.
    with qtbot.waitSignal(panel.job_finished, timeout=60_000):
        drop(panel.view.viewport(), [files["blue.jpg"]])
    assert panel.results.total() == 9 and window.dataset is None
    panel.show_combo.setCurrentIndex(panel.show_combo.findData(int(Show.ERRORS)))
    assert panel.results.rowCount() == 3
    assert panel.show_combo.currentText() == "Errors (3)"
    panel.show_combo.setCurrentIndex(0)
    panel.view.grab()  # every card kind paints

    # Grad-CAM of the selected result, as an overlay on its image.
    red = panel.results.index(list(rows).index("red.jpg"))
    panel.view.setCurrentIndex(red)
    with qtbot.waitSignal(panel.heat_ready, timeout=30_000):
        panel.grad_cam.setChecked(True)
    position = panel.results.position(red)
    qtbot.waitUntil(lambda: panel.results.heat_state(position) == HeatState.DONE)
    assert panel.detail.legend.isVisibleTo(panel.detail)
    assert not panel.results.index(position).data(Role.HEAT).isNull()

    # CSV export of every row, error rows included.
    out = tmp_path / "predictions.csv"
    with qtbot.waitSignal(panel.exported, timeout=10_000):
        panel.export_csv(str(out))
    records = list(csv.DictReader(io.StringIO(out.read_text())))
    # framing Auto searched for faces: the columns say how each picture was made
    assert list(records[0]) == ["path", "p_male", "prediction", "error", "framed", "face", "box"]
    assert len(records) == 9
    empty = next(r for r in records if r["path"].endswith("empty.jpg"))
    assert empty == {
        "path": str(files["empty.jpg"]),
        "p_male": "",
        "prediction": "",
        "error": "empty file (0 bytes)",
        "framed": "",
        "face": "",
        "box": "",
    }
    red_record = next(r for r in records if r["path"].endswith("red.jpg"))
    assert red_record["prediction"] == "Male" and float(red_record["p_male"]) >= 0.5
    assert red_record["framed"] == "whole image (no face found)"


def test_a_test_image_the_model_gets_wrong_is_flagged(
    predict_window, open_dataset_in, trained, qtbot, tmp_path
):
    window, panel = predict_window, predict_window.predict
    data, _run = trained
    open_dataset_in(window, data)
    images = data / "img_align_celeba"
    # 000075.jpg is blue (female) in the test split; relabelled Male, the model now disagrees.
    row = int(window.dataset.position(["000075.jpg"])[0])
    window.browser.store.set_male([row], 1)
    predict(qtbot, panel, [images / "000075.jpg", images / "000076.jpg"])
    rows = rows_by_name(panel)
    wrong, right = rows["000075.jpg"], rows["000076.jpg"]
    assert (wrong.label, wrong.split, wrong.prediction, wrong.wrong) == (
        "Male",
        "test",
        "Female",
        True,
    )
    assert (right.label, right.prediction, right.wrong) == ("Male", "Male", False)
    index = panel.results.index(list(rows).index("000075.jpg"))
    assert index.data(Qt.ItemDataRole.AccessibleTextRole).endswith(
        "label: Male (test split) · the model disagrees with the label"
    )
    assert "the model disagrees with the label of 1 image" in panel.summary.text()
    assert panel.counts.text() == "2 results · the model disagrees with 1 of 2 labels"
    assert panel.show_combo.itemText(int(Show.WRONG)) == "Model disagrees with label (1)"
    panel.show_combo.setCurrentIndex(panel.show_combo.findData(int(Show.WRONG)))
    assert panel.results.rowCount() == 1
    out = tmp_path / "labelled.csv"
    with qtbot.waitSignal(panel.exported, timeout=10_000):
        panel.export_csv(str(out))
    records = list(csv.DictReader(out.open()))
    assert list(records[0])[-4:] == ["image_id", "split", "label", "wrong"]
    assert [r["wrong"] for r in records] == ["True", "False"]


def test_cancel_stops_a_big_folder(predict_window, qtbot, tmp_path):
    panel = predict_window.predict
    folder = tmp_path / "big"
    folder.mkdir()
    noise = np.random.default_rng(0).integers(0, 255, (160, 160, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noise).save(buf, "JPEG")
    for i in range(2000):
        (folder / f"{i:05d}.jpg").write_bytes(buf.getvalue())
    with qtbot.waitSignal(panel.job_finished, timeout=60_000) as done:
        panel.predict_paths([str(folder)])
        qtbot.waitUntil(lambda: panel.results.total() > 0, timeout=30_000)
        assert panel.cancel_button.isVisible()
        panel.cancel_button.click()
    result = done.args[0]
    assert result["cancelled"] and result["files"] == 2000
    assert 0 < panel.results.total() < 2000
    assert panel.summary.text().startswith("Cancelled after")
    assert not panel.cancel_button.isVisible() and not panel.is_busy()


def test_paste_predicts_copied_files_and_a_copied_image(predict_window, qtbot, tmp_path):
    panel = predict_window.predict
    red = tmp_path / "red.png"
    Image.new("RGB", (40, 40), (200, 60, 60)).save(red)
    clipboard = QApplication.clipboard()
    clipboard.setText(f"{red}\n")  # a path copied from a terminal or a file manager
    with qtbot.waitSignal(panel.job_finished, timeout=30_000):
        panel.paste()
    image = QImage(40, 40, QImage.Format.Format_RGB32)
    image.fill(QColor(60, 60, 200))
    clipboard.setImage(image)  # a screenshot or "Copy Image" from a browser
    with qtbot.waitSignal(panel.job_finished, timeout=30_000):
        panel.paste()
    first, pasted = panel.results.rows()
    assert first.path == str(red) and first.prediction == "Male"
    saved = Path(pasted.path)
    assert saved.parent == app_paths.cache_dir() / "pasted" and saved.suffix == ".png"
    assert pasted.prediction == "Female"
    clipboard.setText("https://example.com/face.jpg")
    panel.paste()
    assert "Web addresses are not downloaded" in panel.summary.text()
    assert panel.results.total() == 2


def test_without_a_run_a_drop_says_what_to_do(make_window, tmp_path):
    window = make_window()
    panel = window.predict
    window.tabs.setCurrentWidget(panel)
    picture = tmp_path / "face.jpg"
    picture.write_bytes(builders.jpeg_bytes(0))
    drop(panel.drop_zone, [picture])
    assert "No trained run" in panel.drop_zone.hint.text()  # said where the user looks
    assert panel.results.total() == 0 and not panel.engine.running and window.dataset is None


def test_an_idle_model_is_released_said_so_and_reloaded_for_the_next_prediction(
    predict_window, qtbot, tmp_path
):
    window, panel = predict_window, predict_window.predict
    files = awkward_files(tmp_path / "drop")
    panel.engine.idle_release_s = 1  # five minutes in the app
    first_child = panel.engine.pid
    assert predict(qtbot, panel, [files["red.jpg"]])["rows"] == 1
    message = "Model released after 1 s idle; it reloads on the next prediction"
    qtbot.waitUntil(lambda: window.statusBar().currentMessage() == message, timeout=15_000)
    assert not panel.engine.running  # the child and the memory it held are gone
    assert predict(qtbot, panel, [files["blue.jpg"]])["rows"] == 1
    assert rows_by_name(panel)["blue.jpg"].prediction == "Female"
    assert panel.engine.running and panel.engine.pid != first_child


def test_the_detail_pane_relabels_an_image_and_shows_it_in_the_browser(
    predict_window, open_dataset_in, trained, qtbot
):
    window, panel = predict_window, predict_window.predict
    data, _run = trained
    open_dataset_in(window, data)
    images = data / "img_align_celeba"
    predict(qtbot, panel, [images / "000075.jpg", images / "000076.jpg"])  # Female, Male
    panel.view.setCurrentIndex(panel.results.index(0))
    detail = panel.detail
    assert detail.dataset_actions.isVisible()
    assert not detail.female_button.isEnabled()  # already its label
    assert "The model agrees with the label" in detail.facts.text()
    row = int(window.dataset.position(["000075.jpg"])[0])

    detail.male_button.click()  # the same undoable store as labeling in the browser
    assert window.browser.store.male[row] == 1
    relabelled = panel.results.rows()[0]
    assert (relabelled.label, relabelled.wrong) == ("Male", True)
    assert "The model disagrees with the label" in detail.facts.text()
    assert panel.counts.text() == "2 results · the model disagrees with 1 of 2 labels"
    assert not detail.male_button.isEnabled() and detail.female_button.isEnabled()
    window.undo()
    assert window.browser.store.male[row] == 0 and not panel.results.rows()[0].wrong
    assert detail.male_button.isEnabled()

    detail.browser_button.click()
    assert window.tabs.currentWidget() is window.browser
    assert window.browser.selected_rows() == [row]


def test_a_changed_setting_predicts_again_or_offers_to(
    predict_window, qtbot, tmp_path, monkeypatch
):
    from gender_desktop.ui.predict import session as session_module

    panel = predict_window.predict
    assert (panel.framing.currentText(), panel.tta.currentText()) == ("Auto", "None")
    files = awkward_files(tmp_path / "drop")
    predict(qtbot, panel, [files["red.jpg"], files["blue.jpg"]])
    panel.view.setCurrentIndex(panel.results.index(0))
    facts = panel.detail.facts.text()
    assert "Framed:</b> the whole image: no face was found in it" in facts
    assert "Predicted with Framing Auto" in facts
    with qtbot.waitSignal(panel.job_finished, timeout=60_000):
        panel.framing.setCurrentIndex(panel.framing.findText("Faces only"))
    assert [(r.framing, r.error) for r in panel.results.rows()] == [("faces", "no face found")] * 2
    assert not panel.stale_banner.isVisible()
    panel.view.setCurrentIndex(panel.results.index(0))
    assert "Predicted with Framing Faces only" in panel.detail.facts.text()

    monkeypatch.setattr(session_module, "AUTO_REPREDICT_FILES", 1)  # a "very large" list
    panel.framing.setCurrentIndex(panel.framing.findText("Off"))
    panel.tta.setCurrentIndex(panel.tta.findText("Flip"))
    assert not panel.is_busy() and panel.stale_banner.isVisible()
    assert panel.stale_banner.text.text() == (
        "The results of 2 files were predicted with other settings; "
        "the settings are now Framing Off · TTA Flip."
    )
    assert "Framing Faces only, not the current settings" in panel.detail.facts.text()
    with qtbot.waitSignal(panel.job_finished, timeout=60_000):
        panel.stale_banner.button.click()
    assert not panel.stale_banner.isVisible()
    assert [r.prediction for r in panel.results.rows()] == ["Male", "Female"]
    assert {(r.framing, r.tta) for r in panel.results.rows()} == {("off", "flip")}
    settings = panel.settings  # remembered for the next start
    assert (settings.value("predict/framing"), settings.value("predict/tta")) == ("off", "flip")


def test_faces_in_a_photo_are_framed_each_shown_as_the_model_saw_it(
    predict_window, qtbot, tmp_path
):
    """Two drawn faces in one photo: a card per face, each image the framed picture (not the
    photo), and the detail pane saying how it was made and where the face was."""
    from photos import face_photos

    from gender_desktop.ml.prediction_row import PredictionRow as Row

    panel = predict_window.predict
    face = face_photos()[0]
    photo = Image.new("RGB", (460, 260), face.getpixel((0, 0)))
    photo.paste(face, (10, 20))
    photo.paste(face.resize((face.width * 3 // 4, face.height * 3 // 4)), (300, 60))
    photo.save(tmp_path / "two.png")
    predict(qtbot, panel, [tmp_path / "two.png"])
    rows: list[Row] = panel.results.rows()
    assert [(r.framed, r.face, r.faces) for r in rows] == [
        ("face 1 of 2", 0, 2),
        ("face 2 of 2", 1, 2),
    ]
    assert "2 faces in" in panel.summary.text()
    preview = panel.results.index(0).data(Role.PREVIEW)
    assert (preview.width(), preview.height()) == (32, 32)  # the model's 32 px framed square
    panel.view.setCurrentIndex(panel.results.index(1))
    assert panel.detail.title.text() == "two.png · face 2 of 2"
    facts = panel.detail.facts.text()
    assert "Framed:</b> face 2 of 2: framed as in the run's training images" in facts
    left, top, width, height = rows[1].box
    assert f"Face box:</b> {width}×{height} px at ({left}, {top}) in the photo" in facts
    panel.view.grab()  # the cards paint their framing line
