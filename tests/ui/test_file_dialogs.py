"""File dialogs start in the folder last used for that kind of file, and never on a missing one.

The dialogs themselves are modal, so the tests stand in for the user at QFileDialog's door: they
record the folder each dialog would open on and answer as a user would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from gender_desktop.ui import file_dialogs


@pytest.fixture
def dialogs(monkeypatch) -> dict:
    """Records the start folder of every dialog and answers with ``answer``."""
    seen: dict = {"starts": [], "answer": ""}

    def folder(parent, caption, start, *args, **kwargs):
        seen["starts"].append(start)
        return seen["answer"]

    def file(parent, caption, start, filters="", *args, **kwargs):
        seen["starts"].append(start)
        return seen["answer"], filters

    def files(parent, caption, start, filters="", *args, **kwargs):
        seen["starts"].append(start)
        return ([seen["answer"]] if seen["answer"] else []), filters

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", folder)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", file)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", files)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", file)
    return seen


def test_a_dialog_starts_where_the_last_one_of_its_kind_ended(qapp, dialogs, tmp_path):
    photos = tmp_path / "holiday"
    photos.mkdir()
    (photos / "a.jpg").write_bytes(b"")
    dialogs["answer"] = str(photos / "a.jpg")
    assert file_dialogs.open_files(None, "photos", "Predict image files") == [str(photos / "a.jpg")]

    dialogs["answer"] = ""
    file_dialogs.open_files(None, "photos", "Predict image files")
    assert dialogs["starts"][-1] == str(photos)
    # a kind never used yet starts where the user last was for anything
    file_dialogs.choose_folder(None, "dataset", "Open a dataset folder")
    assert dialogs["starts"][-1] == str(photos)


def test_a_folder_that_was_removed_is_replaced_by_its_nearest_existing_parent(
    qapp, dialogs, tmp_path
):
    gone = tmp_path / "runs" / "old-run" / "export"
    (tmp_path / "runs").mkdir()
    file_dialogs.choose_folder(None, "export", "Export the model into", proposed=gone)
    assert dialogs["starts"][-1] == str(tmp_path / "runs")

    dialogs["answer"] = str(tmp_path / "runs")
    file_dialogs.choose_folder(None, "export", "Export the model into")
    (tmp_path / "runs").rmdir()
    file_dialogs.choose_folder(None, "export", "Export the model into")
    assert dialogs["starts"][-1] == str(tmp_path)


def test_a_save_dialog_proposes_the_name_in_the_last_folder(qapp, dialogs, tmp_path):
    dialogs["answer"] = str(tmp_path / "mine.csv")
    file_dialogs.save_file(None, "export", "Export labels", "demo_labels.csv", "CSV (*.csv)")
    file_dialogs.save_file(None, "export", "Export labels", "demo_labels.csv", "CSV (*.csv)")
    assert dialogs["starts"][-1] == str(tmp_path / "demo_labels.csv")


def test_run_folders_start_in_the_workspace_until_another_folder_is_chosen(qapp, dialogs, tmp_path):
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    file_dialogs.choose_folder(None, "runs", "Resume a run", fallback=workspace)
    assert dialogs["starts"][-1] == str(workspace)
    dialogs["answer"] = str(tmp_path)
    file_dialogs.choose_folder(None, "runs", "Resume a run", fallback=workspace)
    file_dialogs.choose_folder(None, "runs", "Resume a run", fallback=workspace)
    assert dialogs["starts"][-1] == str(tmp_path)


def test_export_model_proposes_the_run_folder_which_exists(make_window, dialogs, tmp_path):
    window = make_window()
    panel = window.evaluation
    run = tmp_path / "a-run"
    run.mkdir()
    panel.session.run = str(run)
    panel._choose_export_folder()
    assert dialogs["starts"][-1] == str(run)
    assert Path(dialogs["starts"][-1]).is_dir()
