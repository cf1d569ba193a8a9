"""The browser on the real main window: opening, filters, thumbnails, detail, problems."""

from __future__ import annotations

import threading
from pathlib import Path

import builders
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QPalette

import gender_desktop.ui.thumbnails as thumbnails
from gender_desktop.ui.browser.model import Role
from gender_desktop.ui.main_window import DEMO


def test_demo_dataset_opens_marked_as_synthetic(make_window, qtbot) -> None:
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    assert window.dataset.is_demo and len(window.dataset) == 120
    assert window.browser.banner.isVisible() and "synthetic" in window.browser.banner.text()
    assert "synthetic demo" in window.windowTitle()
    assert window.browser.model.rowCount() == 120
    assert window.status_text.text().startswith("all splits: ")


def test_filters_combine_and_status_shows_the_balance(make_window, open_dataset_in, tmp_path):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 100))
    filters, model = window.browser.filters, window.browser.model
    assert model.rowCount() == 100
    assert window.status_text.text() == "all splits: 60 female / 40 male · 100 images"
    filters.split.setCurrentText("test")
    assert model.rowCount() == 10
    assert window.status_text.text() == "test: 6 female / 4 male · 10 of 100 shown"
    filters.gender.setCurrentText("Male")
    assert model.rowCount() == 4
    filters.split.setCurrentIndex(0)
    filters.set_attribute("Eyeglasses", True)
    expected = [i for i in range(100) if builders.is_male(i) and i % 4 == 0]
    assert model.rows.tolist() == expected
    filters.set_attribute("Young", False)
    assert model.rows.tolist() == [i for i in expected if i % 2]
    window.act_reset.trigger()
    assert model.rowCount() == 100


def test_search_box_filters_by_file_name(make_window, open_dataset_in, qtbot, tmp_path):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 100))
    qtbot.keyClicks(window.browser.filters.search, "00004")
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 11)  # 000004, 000040..000049
    assert window.browser.model.index(0).data() == "000004.jpg"
    qtbot.keyClicks(window.browser.filters.search, "2")
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 1)
    assert window.browser.model.index(0).data() == "000042.jpg"


def test_random_sample_shows_n_images(make_window, open_dataset_in, tmp_path):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 100))
    window.act_sample.trigger()
    assert window.browser.model.rowCount() == 16
    assert window.status_text.text().startswith("random sample of 16 · ")
    first = window.browser.model.rows.copy()
    window.act_sample.trigger()  # shuffle again
    assert window.browser.model.rowCount() == 16
    assert set(first) != set(window.browser.model.rows)


def test_thumbnails_are_decoded_off_the_gui_thread(
    make_window, open_dataset_in, qtbot, tmp_path, monkeypatch
):
    threads: set[str] = set()
    original = thumbnails.thumbnail

    def spy(data, name, size):
        threads.add(threading.current_thread().name)
        return original(data, name, size)

    monkeypatch.setattr(thumbnails, "thumbnail", spy)
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 30))
    loader = window.browser.loader
    qtbot.waitUntil(lambda: loader._memory.get(0) is not None, timeout=10_000)
    assert threads and threading.main_thread().name not in threads
    # The next session reads it from the disk cache instead of decoding again.
    cache_files = list((Path(loader._cache.path)).parent.glob("*.sqlite3"))
    assert cache_files


def test_selecting_an_image_shows_it_with_its_attributes(
    make_window, open_dataset_in, qtbot, tmp_path
):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    window.browser.select_rows([4])
    detail = window.browser.detail
    assert detail.title.text() == "000005.jpg"
    assert "Female" in detail.label_line.text()
    values = {
        detail.table.item(r, 0).text(): detail.table.item(r, 1).text()
        for r in range(detail.table.rowCount())
    }
    assert values["Eyeglasses"] == "Yes" and values["Split"] == "train"
    qtbot.waitUntil(lambda: detail.image._pixmap.width() > 0, timeout=10_000)


def test_broken_images_are_reported_and_the_app_keeps_working(
    make_window, open_dataset_in, qtbot, tmp_path
):
    builders.celeba_official(tmp_path, 20)
    (tmp_path / "img_align_celeba" / "000002.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "img_align_celeba" / "000003.jpg").unlink()
    window = make_window()
    open_dataset_in(window, tmp_path)
    assert window.problems_button.isVisible()
    assert window.problems_button.text() == "⚠ 2 problems"
    assert window.browser.model.rowCount() == 19
    qtbot.waitUntil(
        lambda: window.browser.model.index(1).data(Role.BROKEN) is not None, timeout=10_000
    )


def test_a_bad_dataset_gives_a_message_naming_the_file(
    make_window, open_dataset_in, qtbot, warnings_shown, tmp_path
):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "labels.csv").write_text("image_id,Male\n000001.jpg,7\n")
    window = make_window()
    with qtbot.waitSignal(window.open_failed, timeout=10_000):
        window.open_path(bad / "labels.csv")
    title, text = warnings_shown[-1]
    assert title == "Cannot open this dataset"
    assert "labels.csv, line 2: column 'Male' has '7'" in text
    open_dataset_in(window, builders.celeba_official(tmp_path / "good", 10))
    assert window.browser.model.rowCount() == 10


def test_dropping_a_folder_opens_it(make_window, qtbot, tmp_path):
    folder = builders.folder_per_class(tmp_path / "faces", 10)
    window = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.dataset_opened, timeout=10_000):
        window.dropEvent(event)
    assert window.dataset.layout == "folder-per-class" and window.browser.model.rowCount() == 10


def test_recent_datasets_menu_reopens(make_window, open_dataset_in, qtbot, tmp_path):
    window = make_window()
    a = builders.celeba_official(tmp_path / "a", 10)
    b = builders.utkface(tmp_path / "b", 12)
    open_dataset_in(window, a)
    open_dataset_in(window, b)
    actions = window.recent_menu.actions()
    assert [x.text() for x in actions] == [str(b), str(a)]
    with qtbot.waitSignal(window.dataset_opened, timeout=10_000):
        actions[1].trigger()
    assert window.dataset.layout == "celeba-official"


def test_split_settings_resplit_a_dataset_without_partition(
    make_window, open_dataset_in, qtbot, tmp_path
):
    from gender_desktop.data.splits import SplitSpec

    window = make_window()
    path = builders.celeba_subset(tmp_path, 100)
    open_dataset_in(window, path)
    assert window.act_split.isEnabled()
    with qtbot.waitSignal(window.dataset_opened, timeout=10_000):
        window.open_path(path, split_spec=SplitSpec(0.5, 0.25, 0.25, seed=3))
    window.browser.filters.split.setCurrentText("test")
    assert window.browser.model.rowCount() == 25


def test_import_can_be_cancelled(make_window, qtbot, monkeypatch):
    import gender_desktop.data.demo as demo

    monkeypatch.setattr(demo, "DEFAULT_COUNT", 5000)
    window = make_window()
    task = window.open_path(DEMO)
    with qtbot.waitSignal(task.progressed, timeout=10_000):
        pass
    assert window.cancel_button.isVisible()
    with qtbot.waitSignal(task.cancelled, timeout=10_000):
        window.cancel_button.click()
    assert window.dataset is None


def test_dark_theme_is_dark_and_light_is_light(make_window, qapp):
    window = make_window()
    window.set_theme("dark")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() < 80
    window.set_theme("light")
    assert qapp.palette().color(QPalette.ColorRole.Window).lightness() > 180
    assert window.settings.value("theme") == "light"


def test_resetting_filters_keeps_the_selected_image_in_view(make_window, open_dataset_in, tmp_path):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 400))
    browser = window.browser
    browser.filters.split.setCurrentText("test")  # rows 360..399
    browser.select_rows([395])
    window.act_reset.trigger()
    assert browser.selected_rows() == [395]
    rect = browser.grid.visualRect(browser.model.model_index(395))
    assert browser.grid.viewport().rect().contains(rect)


def test_no_match_shows_a_message_and_disables_labeling(
    make_window, open_dataset_in, qtbot, tmp_path
):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    window.browser.select_rows([0])
    assert window.act_male.isEnabled()
    qtbot.keyClicks(window.browser.filters.search, "no-such-name")
    qtbot.waitUntil(lambda: window.browser.model.rowCount() == 0)
    assert window.browser.grid.empty_text == "No image matches these filters"
    assert not window.act_male.isEnabled() and not window.act_female.isEnabled()
    assert window.browser.detail.title.text() == "No image matches"
