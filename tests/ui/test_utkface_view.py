"""A UTKFace folder in the window: natural order, names that keep ".chip.jpg" on screen, and a
problems list that names the field a broken name lacks."""

from __future__ import annotations

import builders
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from gender_desktop.ui.dialogs import ProblemsDialog


def test_a_utkface_name_keeps_chip_jpg_in_the_detail_pane(make_window, open_dataset_in, tmp_path):
    builders.utkface(tmp_path, 12)
    window = make_window()
    open_dataset_in(window, tmp_path)
    browser = window.browser
    names = [str(browser.model.index(i).data()) for i in range(browser.model.rowCount())]
    ages = [int(name.split("_")[0]) for name in names]
    assert ages == sorted(ages)  # shown in natural order
    browser.select_rows([0])
    title = browser.detail.title
    shown = QLabel.text(title)  # what the label paints, elided to its width
    assert title.text() == names[0] and names[0].endswith(".jpg.chip.jpg")
    assert shown.endswith(".jpg.chip.jpg") and title.fontMetrics().horizontalAdvance(shown) <= (
        title.contentsRect().width()
    )


def test_the_problems_list_names_the_missing_field(make_window, open_dataset_in, tmp_path):
    builders.utkface(tmp_path, 12)
    window = make_window()
    open_dataset_in(window, tmp_path)
    assert window.problems_button.text() == "⚠ 2 problems"
    dialog = ProblemsDialog(window.dataset.report, window)
    lines = dialog.findChild(QPlainTextEdit).toPlainText().splitlines()
    race, gender = (next(line for line in lines if name in line) for name in builders.UTK_BROKEN)
    assert race.startswith("skipped") and "the race field is missing" in race
    assert "the gender field is '3', not 0 (male) or 1 (female)" in gender
    assert all(".jpg.chip.jpg" in line for line in (race, gender))
    dialog.deleteLater()
