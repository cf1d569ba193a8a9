"""The Experiments tab on the real main window: the runs table (sorting, filters, search,
cross-validation groups, live running runs), comparing runs, delete and undo, train again and
resume."""

from __future__ import annotations

from pathlib import Path

import pytest
from forms import tiny_form
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox
from runfiles import write_run

from gender_desktop.ml.config import AugmentConfig, ModelConfig
from gender_desktop.runs.folder import RunFolder, workspace
from gender_desktop.runs.meta import update_meta

A_RIGHT = [True] * 90 + [False] * 10
B_RIGHT = [True] * 80 + [False] * 10 + [True] * 2 + [False] * 8  # b=10, c=2 against A


def shown_titles(panel, column: str = "title") -> list[str]:
    """The column's text of the top-level rows, as the table shows them (sorted, filtered)."""
    col = panel.model.column_index(column)
    return [panel.proxy.index(r, col).data() for r in range(panel.proxy.rowCount())]


def open_tab(window, qtbot):
    panel = window.experiments
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        window.tabs.setCurrentWidget(panel)
    return panel


def relist(panel, qtbot) -> None:
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        panel.refresh()


@pytest.fixture
def three_runs() -> Path:
    root = workspace()
    write_run(
        root,
        "20260101-100000-vgg",
        lr=1e-3,
        correct=A_RIGHT,
        model=ModelConfig(backbone="vgg16", input_size=32),
    )
    write_run(root, "20260102-100000-resnet", lr=1e-4, correct=B_RIGHT)
    run = write_run(
        root,
        "20260103-100000-mobile",
        lr=3e-4,
        epochs=1,
        planned=4,
        status="stopped",
        model=ModelConfig(backbone="mobilenet_v2", input_size=32),
    )
    update_meta(run.path, tags=["frozen"], note="first try with the small net")
    return root


def test_sorting_by_a_column_header(make_window, qtbot, three_runs: Path) -> None:
    panel = open_tab(make_window(), qtbot)
    assert shown_titles(panel) == [
        "20260103-100000-mobile",
        "20260102-100000-resnet",
        "20260101-100000-vgg",
    ]
    header = panel.view.header()
    lr = panel.model.column_index("lr")
    x = header.sectionViewportPosition(lr) + header.sectionSize(lr) // 2
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )
    first = shown_titles(panel, "lr")
    qtbot.mouseClick(
        header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2)
    )
    assert {tuple(first), tuple(shown_titles(panel, "lr"))} == {
        ("0.0001", "0.0003", "0.001"),
        ("0.001", "0.0003", "0.0001"),
    }
    test = panel.model.column_index("test")
    panel.view.sortByColumn(test, Qt.SortOrder.DescendingOrder)
    assert shown_titles(panel, "test") == ["90.0%", "82.0%", ""]  # not evaluated: last
    assert shown_titles(panel, "ci")[0] == "82.6–94.5%"
    assert shown_titles(panel, "status") == ["finished", "finished", "stopped"]


def test_filters_and_search(make_window, qtbot, three_runs: Path) -> None:
    panel = open_tab(make_window(), qtbot)
    backbone = panel.filters["backbone"]
    assert [backbone.itemText(i) for i in range(backbone.count())] == [
        "All backbones",
        "mobilenet_v2",
        "resnet18",
        "vgg16",
    ]
    backbone.setCurrentIndex(backbone.findData("vgg16"))
    assert shown_titles(panel) == ["20260101-100000-vgg"]
    backbone.setCurrentIndex(0)
    status = panel.filters["status"]
    status.setCurrentIndex(status.findData("stopped"))
    assert shown_titles(panel) == ["20260103-100000-mobile"]
    status.setCurrentIndex(0)
    qtbot.keyClicks(panel.search, "small net")  # the note
    assert shown_titles(panel) == ["20260103-100000-mobile"]
    panel.search.clear()
    tag = panel.filters["tag"]
    tag.setCurrentIndex(tag.findData("frozen"))
    assert shown_titles(panel) == ["20260103-100000-mobile"]


def test_compare_two_runs_overlays_curves_and_says_which_is_better(make_window, qtbot) -> None:
    root = workspace()
    a = write_run(root, "20260101-100000-a", lr=1e-3, correct=A_RIGHT, val_accuracy=[0.5, 0.6, 0.7])
    b = write_run(
        root, "20260102-100000-b", lr=1e-4, correct=B_RIGHT, epochs=2, val_accuracy=[0.55, 0.65]
    )
    panel = open_tab(make_window(), qtbot)
    assert not panel.compare_button.isEnabled()
    panel.select_paths([str(a.path), str(b.path)])
    assert panel.compare_button.isEnabled() and panel.compare_button.text() == "Compare 2"
    with qtbot.waitSignal(panel.compared, timeout=10_000):
        qtbot.mouseClick(panel.compare_button, Qt.MouseButton.LeftButton)
    view = panel.compare_view
    assert panel.stack.currentWidget() is view and view.isVisible()
    acc_a, _loss = view.curves.curves[a.name]
    acc_b, _loss = view.curves.curves[b.name]
    assert list(acc_a.getData()[0]) == [1, 2, 3] and list(acc_a.getData()[1]) == [0.5, 0.6, 0.7]
    assert list(acc_b.getData()[1]) == [0.55, 0.65]
    assert view.settings.keys() == ["lr", "epochs"]
    assert (
        view.table.item(0, 1).text() == "lr=0.001, epochs=3"
        and view.table.item(0, 2).text() == "90.00%"
    )
    assert (
        f"{a.name} is better than {b.name} by 8.0 points (95% CI 1.1 to 14.6), p = 0.04"
        in view.significance.text()
    )
    qtbot.mouseClick(view.back, Qt.MouseButton.LeftButton)
    assert panel.stack.currentIndex() == 0


def test_delete_asks_moves_to_the_trash_and_undo_brings_it_back(
    make_window, qtbot, three_runs: Path, monkeypatch
) -> None:
    window = make_window()
    panel = open_tab(window, qtbot)
    asked = []
    monkeypatch.setattr(
        QMessageBox,
        "question",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes,
    )
    target = three_runs / "20260102-100000-resnet"
    panel.select_paths([str(target)])
    panel.view.setFocus()
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_Delete)
    assert "Move 1 run to the trash?" in asked[0]
    assert not target.exists() and (three_runs / ".trash" / target.name / "config.json").exists()
    assert target.name not in shown_titles(panel)
    assert panel.undo_button.isVisible() and window.act_undo.isEnabled()
    assert panel.empty_button.text() == "Empty trash (1)…"
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert target.exists() and target.name in shown_titles(panel)
    assert not panel.undo_button.isVisible()
    # deleted again, then the trash emptied on the user's word: gone for good
    panel.select_paths([str(target)])
    panel.delete_selected()
    assert panel.empty_trash() is not None
    # the periodic listing may refresh first: wait for the trash itself
    qtbot.waitUntil(lambda: not (three_runs / ".trash" / target.name).exists(), timeout=10_000)
    assert not panel.can_undo()


def test_a_running_run_shows_its_epochs_and_cannot_be_deleted(
    make_window, qtbot, warnings_shown
) -> None:
    run = write_run(workspace(), "20260105-100000-live", epochs=1, planned=5, status="running")
    panel = open_tab(make_window(), qtbot)
    assert shown_titles(panel, "status") == ["running (1/5)"]
    write_run(workspace(), "20260106-100000-more", epochs=1, planned=5, status="running")
    relist(panel, qtbot)  # a run that starts appears (the timer does this every 2 s)
    assert shown_titles(panel, "status") == ["running (1/5)", "running (1/5)"]
    panel.delete_paths([str(run.path)])
    assert run.path.exists() and "still running" in warnings_shown[-1][1]


def test_cross_validation_folds_are_one_row_with_mean_and_std(make_window, qtbot) -> None:
    root = workspace()
    for fold, correct in enumerate(([True] * 8 + [False] * 2, [True] * 6 + [False] * 4)):
        run = write_run(root, f"20260101-10000{fold}-fold", correct=correct)
        update_meta(run.path, cv={"group": "cv-resnet", "fold": fold, "folds": 2})
    write_run(root, "20260102-100000-single", correct=A_RIGHT)
    panel = open_tab(make_window(), qtbot)
    assert shown_titles(panel) == ["20260102-100000-single", "cv-resnet · 2 folds"]
    # (0.8 + 0.6) / 2 = 70 %; sample std of 0.8 and 0.6 = 0.1414 -> 14.1 points
    assert shown_titles(panel, "test")[1] == "70.0 ± 14.1%"
    group = panel.proxy.index(1, 0)
    assert panel.proxy.rowCount(group) == 2
    panel.select_paths([str(root / "20260101-100001-fold")])
    assert panel.view.isExpanded(group)
    panel.view.selectionModel().select(
        group,
        panel.view.selectionModel().SelectionFlag.ClearAndSelect
        | panel.view.selectionModel().SelectionFlag.Rows,
    )
    assert len(panel.selected_paths()) == 2  # the group stands for its folds


def test_columns_are_chosen_and_remembered(make_window, qtbot, three_runs: Path) -> None:
    panel = open_tab(make_window(), qtbot)
    panel.set_columns(["title", "backbone", "auc"])
    assert panel.shown_columns() == ["title", "backbone", "auc"]
    again = make_window().experiments
    assert again.shown_columns() == ["title", "backbone", "auc"]


def test_train_again_fills_the_form_with_the_runs_settings(make_window, qtbot) -> None:
    run = write_run(
        workspace(),
        "20260101-100000-tuned",
        model=ModelConfig(backbone="mobilenet_v2", scope="head", input_size=96, hidden=(64, 32), dropout=0.3, pooling="max"),
        augment=AugmentConfig(flip=False, rotation=12.0, zoom=0.1, brightness=0.2),
        weights="random", optimizer="adamw", lr=3e-4, weight_decay=0.01, batch_size=48, epochs=7,
        schedule="cosine", patience=3, seed=5, device="cpu", amp=False, workers=2,
    )  # fmt: skip
    window = make_window()
    panel = open_tab(window, qtbot)
    panel.select_paths([str(run.path)])
    menu = panel.context_menu()
    action = next(a for a in menu.actions() if a.text() == "Train again with these settings")
    assert action.isEnabled()
    action.trigger()
    assert window.tabs.currentWidget() is window.training
    expected = RunFolder(run.path).train_config()
    assert window.training.form.config(expected.data) == expected


def test_resume_a_stopped_run_from_the_table(make_window, qtbot, open_dataset_in) -> None:
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    tiny_form(window.training.form, batch=32, optimizer="sgd", epochs=2)
    training = window.training
    with qtbot.waitSignal(training.run_finished, timeout=180_000) as first:
        worker = training.start()
        with qtbot.waitSignal(worker.epoch, timeout=120_000):
            pass
        training.stop()
    assert first.args[0]["stopped"]
    qtbot.waitUntil(lambda: not training.is_running(), timeout=60_000)
    run_dir = first.args[0]["run_dir"]
    panel = open_tab(window, qtbot)
    record = panel.record(run_dir)
    assert record.status == "stopped" and record.epochs_text == "1/2"
    panel.select_paths([run_dir])
    action = next(a for a in panel.context_menu().actions() if a.text() == "Resume")
    assert action.isEnabled()
    with qtbot.waitSignal(training.run_finished, timeout=180_000) as second:
        action.trigger()
        assert window.tabs.currentWidget() is training
    assert second.args[0]["epochs"] == 2 and not second.args[0]["stopped"]
    qtbot.waitUntil(lambda: not training.is_running(), timeout=60_000)
    relist(panel, qtbot)
    assert panel.record(run_dir).status == "finished" and panel.record(run_dir).epochs_text == "2/2"


def test_open_in_evaluate_selects_the_run_there(make_window, qtbot) -> None:
    import zipfile

    run = write_run(workspace(), "20260101-100000-evaluated", correct=A_RIGHT)
    with zipfile.ZipFile(run.path / "best.pt", "w") as archive:  # shaped like a checkpoint
        archive.writestr("best/data.pkl", b"weights")
    window = make_window()
    panel = open_tab(window, qtbot)
    panel.select_paths([str(run.path)])
    action = next(a for a in panel.context_menu().actions() if a.text() == "Open in Evaluate")
    assert action.isEnabled()
    action.trigger()
    assert window.tabs.currentWidget() is window.evaluation
    assert window.evaluation.runs.current() == str(run.path)


def test_rename_tag_and_note_through_the_details_dialog(
    make_window, qtbot, three_runs: Path
) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from gender_desktop.runs.meta import read_meta
    from gender_desktop.ui.experiments.dialogs import DetailsDialog

    panel = open_tab(make_window(), qtbot)
    target = three_runs / "20260101-100000-vgg"
    panel.select_paths([str(target)])

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, DetailsDialog)
        dialog.title.setText("VGG16 frozen")
        dialog.tags.setText("baseline, grid, baseline")
        dialog.note.setPlainText("the notebook's first cell")
        dialog.accept()

    panel.view.setFocus()  # F2 belongs to the table
    QTimer.singleShot(50, fill)  # runs inside the dialog's own event loop
    with qtbot.waitSignal(panel.refreshed, timeout=10_000):
        qtbot.keyClick(panel.view, Qt.Key.Key_F2)
    meta = read_meta(target)
    assert (meta.title, meta.tags, meta.note) == (
        "VGG16 frozen",
        ["baseline", "grid"],
        "the notebook's first cell",
    )
    assert "VGG16 frozen" in shown_titles(panel) and target.name not in shown_titles(panel)
    assert (target / "config.json").exists()  # the folder keeps its name


def test_report_writes_the_selected_runs_as_one_html_file(
    make_window, qtbot, tmp_path: Path, monkeypatch
) -> None:
    """Report… asks for a file and writes it in the report child; the window stays usable."""
    from PySide6.QtWidgets import QFileDialog

    root = workspace()
    a = write_run(root, "20260101-100000-a", lr=1e-3, correct=A_RIGHT)
    b = write_run(root, "20260102-100000-b", lr=1e-4, correct=B_RIGHT)
    out = tmp_path / "study"  # no suffix: the chosen filter says HTML
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), "HTML report (*.html)")
    )
    panel = open_tab(make_window(), qtbot)
    assert not panel.report_button.isEnabled()
    panel.select_paths([str(a.path), str(b.path)])
    with qtbot.waitSignal(panel.reports.written, timeout=120_000) as written:
        qtbot.mouseClick(panel.report_button, Qt.MouseButton.LeftButton)
        assert panel.report_button.text() == "Writing report…"
    html = Path(written.args[0]).read_text()
    assert written.args[0] == str(out) + ".html"
    assert f"{a.name} is better than {b.name} by 8.0 points" in html
    assert html.count("data:image/png;base64,") >= 3
    assert panel.report_button.text() == "Report…" and panel.report_button.isEnabled()


def test_runs_listed_later_widen_the_columns_that_need_it(make_window, qtbot) -> None:
    """A sweep's trials arrive after the table was fitted: their wider values still show."""
    root = workspace()
    write_run(root, "20260101-100000-a", lr=1e-3, correct=A_RIGHT)
    panel = open_tab(make_window(), qtbot)
    lr = panel.model.column_index("lr")
    narrow = panel.view.columnWidth(lr)
    write_run(root, "20260102-100000-b", lr=0.000123456, correct=B_RIGHT)
    relist(panel, qtbot)
    assert panel.view.columnWidth(lr) >= panel.view.sizeHintForColumn(lr) > narrow
