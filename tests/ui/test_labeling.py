"""Labeling in the browser: keyboard and buttons, multi-select, undo/redo, persistence, crashes."""

from __future__ import annotations

import os
import sys
import textwrap

import builders
import pandas as pd
from processes import run_and_kill_mid_edit
from PySide6.QtCore import Qt

from gender_desktop.data import open_dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ui.browser.model import Role


def test_keyboard_labeling_with_auto_advance_undo_and_redo(
    make_window, open_dataset_in, qtbot, tmp_path
):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    browser = window.browser
    browser.select_rows([0])  # 000001.jpg, male in the source
    browser.grid.setFocus()
    qtbot.keyClick(browser.grid, Qt.Key.Key_F)
    assert browser.store.male[0] == 0
    assert browser.model.index(0).data(Role.EDITED) is True
    assert browser.selected_rows() == [1]  # advanced to the next image
    assert window.edits_label.text() == "1 edited"
    assert window.status_text.text() == "all splits: 13 female / 7 male · 20 images"
    qtbot.keyClick(browser.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert browser.store.male[0] == 1 and window.edits_label.text() == "0 edited"
    assert browser.selected_rows() == [0]  # undo shows what it changed
    assert window.act_redo.isEnabled()
    qtbot.keyClick(
        browser.grid,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert browser.store.male[0] == 0 and window.edits_label.text() == "1 edited"


def test_buttons_label_a_multi_selection(make_window, open_dataset_in, tmp_path):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    browser = window.browser
    browser.select_rows([2, 3, 4])  # all female in the source
    assert browser.detail.title.text() == "3 images selected"
    browser.male_button.click()
    assert browser.store.male[[2, 3, 4]].tolist() == [1, 1, 1]
    assert browser.selected_rows() == [2, 3, 4]  # no auto-advance for a multi-selection
    window.act_undo.trigger()
    assert browser.store.edit_count == 0


def test_labeling_out_of_a_label_filter_moves_to_the_next_match(
    make_window, open_dataset_in, tmp_path
):
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    browser = window.browser
    browser.filters.gender.setCurrentText("Female")
    assert browser.model.rowCount() == 12
    browser.select_rows([2])
    window.act_male.trigger()
    assert browser.model.rowCount() == 11  # it is not female any more
    assert browser.selected_rows() == [3]  # and the next female image is selected
    browser.filters.gender.setCurrentIndex(0)
    browser.filters.edited_only.setChecked(True)
    assert browser.model.rows.tolist() == [2]


def test_edits_survive_closing_and_reopening(make_window, open_dataset_in, tmp_path):
    path = builders.celeba_official(tmp_path / "ds", 20)
    window = make_window()
    open_dataset_in(window, path)
    window.browser.select_rows([7])  # female in the source
    window.act_male.trigger()
    window.close()
    again = make_window()
    open_dataset_in(again, path)
    assert again.browser.store.male[7] == 1
    assert again.edits_label.text() == "1 edited"
    again.browser.filters.edited_only.setChecked(True)
    assert again.browser.model.rows.tolist() == [7]
    assert again.act_undo.isEnabled()  # history came back too
    out = tmp_path / "labels.csv"
    with_task = again.export_to(str(out), "0/1")
    with_task.wait()
    frame = pd.read_csv(out)
    assert frame.loc[7, "Male"] == 1 and frame.loc[8, "Male"] == 0


GUI_LABELER = textwrap.dedent(
    """
    import sys
    from PySide6.QtWidgets import QApplication
    from gender_desktop.ui.main_window import MainWindow
    app = QApplication([])
    window = MainWindow()
    window.show()
    def opened(dataset):
        browser = window.browser
        browser.select_rows([0])
        for i in range(200):
            sys.stdin.readline()  # paced by the test
            window.act_female.trigger() if browser.store.male[browser.selected_rows()[0]] else \\
                window.act_male.trigger()
            app.processEvents()
            print(i, flush=True)  # the grid now shows this edit as done
    window.dataset_opened.connect(opened)
    window.open_path(sys.argv[1])
    app.exec()
    """
)


def test_a_killed_app_keeps_every_edit_it_showed(tmp_path):
    path = builders.celeba_official(tmp_path / "ds", 300)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    acked = run_and_kill_mid_edit([sys.executable, "-c", GUI_LABELER, str(path)], 25)
    assert acked == list(range(25))
    store = LabelStore(open_dataset(path))
    edited = store.edited.nonzero()[0].tolist()
    assert edited[:25] == list(range(25))  # auto-advance labeled images 0, 1, 2, ... in turn
    assert len(edited) <= 26
    store.close()


def test_a_second_window_on_the_same_dataset_is_refused(
    make_window, open_dataset_in, qtbot, warnings_shown, tmp_path
):
    path = builders.celeba_official(tmp_path / "ds", 10)
    first = make_window()
    open_dataset_in(first, path)
    second = make_window()
    with qtbot.waitSignal(second.open_failed, timeout=10_000):
        second.open_path(path)
    assert "open for editing in another gender-desktop window" in warnings_shown[-1][1]
    assert second.dataset is None
    first.close()
    open_dataset_in(second, path)
    assert second.browser.store is not None


def test_labeling_everything_shown_and_undoing_keeps_one_selection(
    make_window, open_dataset_in, tmp_path
):
    """Selections are kept as ranges: re-selecting the 1,200 images an undo touched makes one
    range per run of neighbours, not 1,200 single items (which froze the window for a minute)."""
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 2000))
    browser = window.browser
    window.act_select_all.trigger()
    window.act_male.trigger()
    assert browser.store.male.sum() == 2000
    window.act_undo.trigger()
    females = [i for i in range(2000) if not builders.is_male(i)]  # the ones the edit changed
    assert browser.selected_rows() == females
    assert len(browser.grid.selectionModel().selection()) == 400  # runs of 3: i % 5 in 2..4
    assert browser.store.edit_count == 0


def test_a_label_edit_on_a_full_disk_is_refused_with_a_message_and_nothing_changes(
    make_window, open_dataset_in, qtbot, tmp_path, warnings_shown, monkeypatch
):
    import errno

    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    browser = window.browser
    browser.select_rows([0])
    browser.grid.setFocus()
    real_write = os.write

    def no_space(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", no_space)
    qtbot.keyClick(browser.grid, Qt.Key.Key_F)
    monkeypatch.setattr(os, "write", real_write)
    ((title, message),) = warnings_shown
    assert title == "Label not saved" and "the disk is full" in message
    assert "journal.jsonl" in message and "not made" in message
    assert browser.store.male[0] == 1 and window.edits_label.text() == "0 edited"
    assert browser.model.index(0).data(Role.EDITED) is False
    assert browser.selected_rows() == [0]  # no advance past an edit that did not happen
    qtbot.keyClick(browser.grid, Qt.Key.Key_F)  # space is back: labeling goes on
    assert browser.store.male[0] == 0 and window.edits_label.text() == "1 edited"


def test_a_damaged_label_journal_opens_with_its_good_edits_and_says_what_was_set_aside(
    make_window, open_dataset_in, tmp_path, warnings_shown
):
    root = builders.celeba_official(tmp_path, 20)
    store = LabelStore(open_dataset(root))
    store.set_male([0], 0)
    store.close()
    with open(store.journal_path, "ab") as handle:
        handle.write(b"\x00\xff binary garbage\n")
    window = make_window()
    open_dataset_in(window, root)
    assert window.browser.store.male[0] == 0 and window.edits_label.text() == "1 edited"
    ((title, message),) = warnings_shown
    assert title == "Some label edits were set aside"
    assert "line 2: not a JSON record" in message and "journal.damaged-" in message


def test_redo_keeps_a_selection_like_undo_does(make_window, open_dataset_in, tmp_path):
    """Under a Female filter, redoing "Male" hides the image again: the next female image is
    selected (as when it was labeled), the grid never ends up with nothing selected."""
    window = make_window()
    open_dataset_in(window, builders.celeba_official(tmp_path, 20))
    browser = window.browser
    browser.filters.gender.setCurrentText("Female")
    browser.select_rows([2])
    window.act_male.trigger()
    assert browser.selected_rows() == [3]
    window.act_undo.trigger()
    assert browser.selected_rows() == [2]
    window.act_redo.trigger()
    assert browser.store.male[2] == 1
    assert browser.selected_rows() == [3]
    assert browser.detail.title.text() == "000004.jpg"
    window.act_undo.trigger()  # and back again: the undone image is shown and selected
    assert browser.selected_rows() == [2]
    # Without a label filter, redo selects the images it changed, as undo does.
    browser.filters.gender.setCurrentIndex(0)
    browser.select_rows([5, 6])
    window.act_female.trigger()
    browser.select_rows([0])
    window.act_undo.trigger()
    assert browser.selected_rows() == [5, 6]
    browser.select_rows([0])
    window.act_redo.trigger()
    assert browser.selected_rows() == [5, 6]
    assert browser.detail.title.text() == "2 images selected"
