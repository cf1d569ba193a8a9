"""Delete moves a run into the trash and undo moves it back; the trash empties only when asked."""

from __future__ import annotations

from pathlib import Path

import pytest
from runfiles import write_run

from gender_desktop.runs import trash
from gender_desktop.runs.catalog import list_runs
from gender_desktop.runs.index import list_records


def test_delete_and_restore_keep_the_whole_folder(tmp_path: Path) -> None:
    run = write_run(tmp_path, "20260101-100000-a", correct=[True, False])
    files = sorted(p.name for p in run.path.iterdir())
    entry = trash.delete(run.path)
    assert not run.path.exists() and entry.path == tmp_path / ".trash" / run.name
    assert list_records(tmp_path) == [] and list_runs(tmp_path) == []
    assert [e.original for e in trash.list_trash(tmp_path)] == [run.path]
    assert trash.restore(entry) == run.path
    assert sorted(p.name for p in run.path.iterdir()) == files  # the origin note is gone too
    assert [r.name for r in list_records(tmp_path)] == [run.name]
    assert trash.list_trash(tmp_path) == []


def test_restore_picks_a_free_name_when_the_original_was_taken(tmp_path: Path) -> None:
    first = write_run(tmp_path, "run")
    entry = trash.delete(first.path)
    write_run(tmp_path, "run")  # a new run took the name meanwhile
    again = trash.delete(tmp_path / "run")  # and was deleted too: the trash keeps both
    assert again.path.name == "run-2"
    write_run(tmp_path, "run")
    assert trash.restore(entry) == tmp_path / "run-2"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [
        "run",
        "run-2",
    ]


def test_a_running_run_cannot_be_deleted(tmp_path: Path) -> None:
    run = write_run(tmp_path, "live", status="running")  # written by this (alive) process
    with pytest.raises(trash.TrashError, match="still running"):
        trash.delete(run.path)
    assert run.path.exists()
    with pytest.raises(trash.TrashError, match="not a run folder"):
        trash.delete(tmp_path)


def test_entries_survive_a_restart_and_empty_trash_deletes_for_good(tmp_path: Path) -> None:
    for name in ("a", "b"):
        trash.delete(write_run(tmp_path, name).path)
    (tmp_path / ".trash" / "b" / ".trashed.json").unlink()  # an origin note lost: beside the trash
    entries = {e.name: e for e in trash.list_trash(tmp_path)}
    assert entries["b"].original == tmp_path / "b" and entries["a"].deleted_at
    assert trash.trash_size(tmp_path) > 0
    assert trash.empty_trash(tmp_path) == 2
    assert trash.list_trash(tmp_path) == [] and not any((tmp_path / ".trash").iterdir())
    with pytest.raises(trash.TrashError, match="no longer in the trash"):
        trash.restore(entries["a"])
