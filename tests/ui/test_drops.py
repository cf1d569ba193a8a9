"""Drag and drop of real files on every drop target, as a file manager delivers it: a real
QDragEnterEvent, then (when accepted) a real QDropEvent, both carrying file URLs of files the
test wrote, sent to the real widget of the real main window.

Targets: the window (a dataset folder opens), the browser (it takes no drops itself: they
reach the window and open the dataset), the Predict tab (photos and folders are predicted, the
rows say what the model thinks; files that are not images get a row with the reason). A drop of
something that is not a dataset says so and the app keeps working.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import builders
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget

from gender_desktop.runs.folder import workspace

OPEN_TIMEOUT = 30_000
LOAD_TIMEOUT = 90_000  # the Predict engine child imports torch: seconds, more on a loaded machine


def drag_and_drop(
    widget: QWidget, paths: list[Path], at: QPoint | None = None
) -> tuple[QDragEnterEvent, QDropEvent]:
    """Drag ``paths`` over ``widget`` and drop them there; the drop is sent only when the drag
    was accepted (Qt does not deliver a drop the target refused)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = at if at is not None else widget.rect().center()
    action, button = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton
    modifiers = Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, action, mime, button, modifiers)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(QPointF(pos), action, mime, button, modifiers)
    if enter.isAccepted():
        QApplication.sendEvent(widget, drop)
    return enter, drop


def dropped_and_opened(qtbot, window, widget: QWidget, folder: Path) -> None:
    with qtbot.waitSignal(window.dataset_opened, timeout=OPEN_TIMEOUT) as opened:
        enter, drop = drag_and_drop(widget, [folder])
        assert enter.isAccepted() and drop.isAccepted()
    assert Path(opened.args[0].root) == folder


def test_a_dataset_folder_dropped_on_the_window_opens_it(make_window, qtbot, tmp_path):
    faces = builders.celeba_official(tmp_path / "faces", 40)
    window = make_window()
    dropped_and_opened(qtbot, window, window, faces)
    assert window.browser.model.rowCount() == 40
    assert window.windowTitle().startswith("faces — ")
    assert "Opened faces: 40 images" in window.statusBar().currentMessage()


def test_a_folder_dropped_on_the_browser_reaches_the_window_and_opens(make_window, qtbot, tmp_path):
    first = builders.celeba_official(tmp_path / "first", 30)
    second = builders.folder_per_class(tmp_path / "second", 24)
    window = make_window()
    dropped_and_opened(qtbot, window, window, first)
    grid = window.browser.grid.viewport()  # where a user lets go over the thumbnails
    assert grid.isVisible()
    dropped_and_opened(qtbot, window, grid, second)
    assert window.dataset.layout == "folder-per-class"
    assert window.browser.model.rowCount() == 24


def test_an_unsupported_drop_says_why_and_the_app_keeps_working(
    make_window, qtbot, tmp_path, warnings_shown
):
    faces = builders.celeba_official(tmp_path / "faces", 30)
    notes = tmp_path / "notes.pdf"
    notes.write_bytes(b"%PDF-1.7 not a dataset\n")
    window = make_window()
    dropped_and_opened(qtbot, window, window, faces)

    with qtbot.waitSignal(window.open_failed, timeout=OPEN_TIMEOUT) as failed:
        enter, drop = drag_and_drop(window.browser.grid.viewport(), [notes])
        assert enter.isAccepted() and drop.isAccepted()
    assert "notes.pdf" in failed.args[0]
    assert warnings_shown == [("Cannot open this dataset", failed.args[0])]
    # The open dataset is still there, and the next drop works.
    assert window.dataset is not None and Path(window.dataset.root) == faces
    assert window.browser.model.rowCount() == 30
    other = builders.celeba_official(tmp_path / "other", 20)
    dropped_and_opened(qtbot, window, window, other)
    assert window.browser.model.rowCount() == 20


def test_a_drop_without_files_is_refused(make_window):
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.org/face.jpg")])
    enter = QDragEnterEvent(
        window.rect().center(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()
    assert "open" not in window._tasks


# -- the Predict tab ---------------------------------------------------------------------------
def seen_rows(panel) -> list[str]:
    """What the results list says of each row (the text a screen reader reads and the tooltip
    starts with), in the list's order."""
    model = panel.view.model()
    return [
        str(model.index(i, 0).data(Qt.ItemDataRole.AccessibleTextRole))
        for i in range(model.rowCount())
    ]


def test_photos_dropped_on_predict_are_predicted(make_window, trained, qtbot, tmp_path):
    """``trained``: the session's colour run (red images male, blue female; conftest)."""
    run = trained[1]
    shutil.copytree(run, workspace() / run.name)
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "red.jpg").write_bytes(builders.jpeg_bytes(0, (40, 50)))
    (photos / "blue.jpg").write_bytes(builders.jpeg_bytes(2, (40, 50)))
    (photos / "readme.txt").write_text("not a photo\n")
    album = tmp_path / "album"
    album.mkdir()
    (album / "more-red.png").write_bytes(builders.jpeg_bytes(0, (30, 30), fmt="PNG"))
    window = make_window()
    panel = window.predict
    with qtbot.waitSignal(panel.model_loaded, timeout=LOAD_TIMEOUT):
        window.tabs.setCurrentWidget(panel)

    with qtbot.waitSignal(panel.job_finished, timeout=60_000):
        enter, drop = drag_and_drop(
            panel.drop_zone, [photos / "red.jpg", photos / "blue.jpg", photos / "readme.txt"]
        )
        assert enter.isAccepted() and drop.isAccepted()
    assert "open" not in window._tasks  # the window did not take it as a dataset
    rows = sorted(seen_rows(panel))
    assert len(rows) == 3
    assert rows[0].startswith("blue.jpg: Female ")
    assert rows[1] == "readme.txt: error: not an image Pillow can read"
    assert rows[2].startswith("red.jpg: Male ")

    # With results showing, a folder dropped on the list adds its images.
    assert panel.view.isVisible()
    with qtbot.waitSignal(panel.job_finished, timeout=60_000):
        enter, drop = drag_and_drop(panel.view.viewport(), [album])
        assert enter.isAccepted() and drop.isAccepted()
    rows = seen_rows(panel)
    assert len(rows) == 4
    assert any(text.startswith("more-red.png: Male ") for text in rows)
