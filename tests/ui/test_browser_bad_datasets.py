"""Hostile datasets in the real main window's Browse panel: a FIFO posing as an image and a
zip bomb member are shown as problems, their cells and the detail pane say why, and the window
keeps working (nothing blocks the thumbnail workers, the integrity check or closing)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import builders
import pytest

from gender_desktop.ui.browser.model import Role
from gender_desktop.ui.main_window import MainWindow

pytestmark = pytest.mark.timeout(120)  # a regression here is a hang: fail it, don't wait


def fifo_dataset(root: Path) -> tuple[Path, str]:
    builders.folder_per_class(root, 10)
    os.mkfifo(root / "male" / "stuck.jpg")
    return root, "male/stuck.jpg"


def zip_bomb_dataset(root: Path) -> tuple[Path, str]:
    builders.celeba_subset(root, 10, images="zip")
    member = zipfile.ZipInfo("000011.jpg")
    member.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(root / "celeba_30k.zip", "a") as zf, zf.open(member, "w") as out:
        out.write(b"\xff\xd8\xff\xe0")  # starts and ends like a JPEG, 100 MB of zeros between
        for _ in range(100):
            out.write(bytes(1 << 20))
        out.write(b"\xff\xd9")
    csv = root / "celeba_subset.csv"
    csv.write_text(csv.read_text() + "000011.jpg,1,1,1\n")
    return root, "000011.jpg"


def shows_the_problem(window: MainWindow, qtbot, image_id: str, reason: str) -> None:
    """The problem count, the cell's broken badge and the detail pane all name the reason."""
    dataset = window.dataset
    assert dataset is not None and len(dataset) == 11
    assert window.problems_button.isVisible()
    assert window.problems_button.text() == "⚠ 1 problem"
    assert [i for i, _ in dataset.report.corrupt] == [image_id]
    assert reason in dataset.report.corrupt[0][1]
    row = int(dataset.position([image_id])[0])
    browser = window.browser
    assert browser.loader.pixmap(row) is None  # queues the thumbnail decode
    index = browser.model.model_index(row)
    qtbot.waitUntil(lambda: index.data(Role.BROKEN) is not None, timeout=10_000)
    assert reason in index.data(Role.BROKEN)
    browser.select_rows([row])
    assert browser.detail.title.text() == image_id
    qtbot.waitUntil(
        lambda: browser.detail.image.text().startswith("Cannot show this image:"), timeout=10_000
    )
    assert reason in browser.detail.image.text()


def still_works(window: MainWindow, qtbot) -> None:
    """Filtering and the neighbouring thumbnails keep working after the bad file."""
    browser = window.browser
    browser.filters.gender.setCurrentText("Female")
    assert browser.model.rowCount() == 6
    browser.filters.gender.setCurrentIndex(0)
    assert browser.model.rowCount() == 11
    bad = int(window.dataset.position([window.dataset.report.corrupt[0][0]])[0])
    good = 0 if bad != 0 else 1
    browser.loader.pixmap(good)
    qtbot.waitUntil(lambda: browser.loader._memory.get(good) is not None, timeout=10_000)


def test_a_fifo_image_is_shown_as_a_problem_and_nothing_blocks(
    make_window, open_dataset_in, qtbot, tmp_path
) -> None:
    path, image_id = fifo_dataset(tmp_path / "faces")
    window = make_window()
    open_dataset_in(window, path)
    shows_the_problem(window, qtbot, image_id, "not a regular file (a FIFO)")
    still_works(window, qtbot)


def test_a_zip_bomb_member_is_shown_as_a_problem_without_inflating_it(
    make_window, open_dataset_in, qtbot, tmp_path
) -> None:
    path, image_id = zip_bomb_dataset(tmp_path / "subset")
    window = make_window()
    open_dataset_in(window, path)
    shows_the_problem(window, qtbot, image_id, "a likely zip bomb")
    still_works(window, qtbot)
    # And the next dataset opens in the same window as usual.
    fifo_path, fifo_id = fifo_dataset(tmp_path / "faces")
    open_dataset_in(window, fifo_path)
    shows_the_problem(window, qtbot, fifo_id, "not a regular file (a FIFO)")


def test_a_file_name_that_is_not_utf8_is_shown_readably_with_its_thumbnail(
    make_window, open_dataset_in, qtbot, tmp_path
) -> None:
    root = builders.folder_per_class(tmp_path / "faces", 10)
    raw = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes: not UTF-8
    (root / "male" / raw).write_bytes(builders.jpeg_bytes(0))
    window = make_window()
    open_dataset_in(window, root)
    assert not window.problems_button.isVisible()
    row = int(window.dataset.position([f"male/{raw}"])[0])
    browser = window.browser
    index = browser.model.model_index(row)
    assert index.data() == "male/caf\ufffd.jpg"
    browser.loader.pixmap(row)
    qtbot.waitUntil(lambda: browser.loader._memory.get(row) is not None, timeout=10_000)
    assert browser.loader.broken(row) is None
    browser.select_rows([row])
    assert browser.detail.title.text() == "male/caf\ufffd.jpg"
