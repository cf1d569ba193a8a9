"""Label edits: undo/redo, persistence, crash safety, export, and what training sees."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import builders
import numpy as np
import pandas as pd
import pytest
from processes import run_and_kill_mid_edit

from gender_desktop.data import open_dataset
from gender_desktop.data.labels import LabelStore, export_labels, labelled_table


def test_set_undo_redo(tmp_path: Path) -> None:
    ds = open_dataset(builders.celeba_official(tmp_path, 10))
    store = LabelStore(ds)
    assert store.male[0] == 1 and store.male[2] == 0
    change = store.set_male([0, 1, 2], 0)
    assert change is not None and change.ids == ("000001.jpg", "000002.jpg")  # row 2 already 0
    assert store.edit_count == 2 and list(store.male[:3]) == [0, 0, 0]
    assert store.set_male([0], 0) is None  # no-op edits are not recorded
    store.undo()
    assert store.edit_count == 0 and list(store.male[:3]) == [1, 1, 0]
    store.redo()
    assert store.edit_count == 2
    store.set_male([5], 1)
    assert not store.can_redo()
    store.close()


def test_edits_and_history_survive_reopening(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)
    store.set_male([3], 1)
    store.set_male([4], 1)
    store.undo()
    store.close()
    reopened = LabelStore(open_dataset(tmp_path))
    assert reopened.edited.nonzero()[0].tolist() == [0, 3]
    assert reopened.can_redo()
    reopened.redo()
    assert reopened.edited.nonzero()[0].tolist() == [0, 3, 4]
    reopened.undo()
    reopened.undo()
    assert reopened.edited.nonzero()[0].tolist() == [0]
    reopened.close()
    snapshot = pd.read_csv(reopened.folder / "labels.csv")
    assert snapshot.to_dict("records") == [{"image_id": "000001.jpg", "Male": 0, "source_Male": 1}]


def test_edits_never_touch_the_dataset_files(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 10)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0, 1], 0)
    store.close()
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from gender_desktop.data import open_dataset
    from gender_desktop.data.labels import LabelStore, export_labels, labelled_table
    store = LabelStore(open_dataset(sys.argv[1]))
    for row in range(200):
        sys.stdin.readline()  # the test paces the edits so it knows what was acknowledged
        store.set_male([row], 1 - int(store.male[row]))
        print(row, flush=True)  # acknowledged: the UI would now show it as done
    time.sleep(60)
    """
)


def test_a_killed_process_keeps_every_acknowledged_edit(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 300)
    acked = run_and_kill_mid_edit([sys.executable, "-c", KILLED_WRITER, str(tmp_path)], 37)
    store = LabelStore(open_dataset(tmp_path))
    edited = set(store.edited.nonzero()[0].tolist())
    assert set(acked) <= edited
    assert len(edited) <= len(acked) + 1  # at most the edit in flight at the kill
    store.close()


def test_a_torn_journal_line_is_dropped_not_fatal(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)
    store.close()
    with open(store.journal_path, "a") as handle:
        handle.write('{"op":"set","seq":2,"ids":["000002.j')
    again = LabelStore(open_dataset(tmp_path))
    assert again.edited.nonzero()[0].tolist() == [0]
    again.set_male([1], 0)
    again.close()
    assert LabelStore(open_dataset(tmp_path)).edit_count == 2


def test_training_table_sees_the_edits(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 10)
    ds = open_dataset(tmp_path)
    store = LabelStore(ds)
    store.set_male([0], 0)
    store.close()
    table = labelled_table(open_dataset(tmp_path))
    assert table["Male"].iat[0] == 0 and ds.table["Male"].iat[0] == 1


def test_export_in_celeba_coding(tmp_path: Path) -> None:
    ds = open_dataset(builders.celeba_official(tmp_path / "ds", 10))
    male = ds.table["Male"].to_numpy().copy()
    male[0] = 0
    out = export_labels(ds, male, tmp_path / "fixed.csv", coding="-1/1")
    frame = pd.read_csv(out)
    assert list(frame.columns[:3]) == ["image_id", "Male", "5_o_Clock_Shadow"]
    assert frame["Male"].tolist()[:3] == [-1, 1, -1]
    assert set(np.unique(frame["Eyeglasses"])) == {-1, 1}
    zero_one = pd.read_csv(export_labels(ds, male, tmp_path / "01.csv", coding="0/1"))
    assert zero_one["Male"].tolist()[:3] == [0, 1, 0]
    # The export opens again as a dataset with the same labels.
    reopened = open_dataset(out)
    assert reopened.summary()["male"] == int(male.sum())


def test_a_second_writer_is_refused_until_the_first_closes(tmp_path: Path) -> None:
    from gender_desktop.data.labels import LabelsInUse

    builders.celeba_official(tmp_path, 10)
    first = LabelStore(open_dataset(tmp_path))
    with pytest.raises(LabelsInUse, match="open for editing in another"):
        LabelStore(open_dataset(tmp_path))
    reader = LabelStore(open_dataset(tmp_path), readonly=True)  # training may still read
    with pytest.raises(PermissionError):
        reader.set_male([0], 0)
    first.close()
    LabelStore(open_dataset(tmp_path)).close()


def test_replay_undoes_the_change_the_record_names(tmp_path: Path) -> None:
    """A journal whose undo names an older change (not the last one) still replays exactly."""
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)  # seq 1
    store.set_male([1], 0)  # seq 2
    store.close()
    with open(store.journal_path, "a") as handle:
        handle.write('{"op":"undo","seq":3,"of":1}\n')
    again = LabelStore(open_dataset(tmp_path))
    assert again.edited.nonzero()[0].tolist() == [1]
    again.close()


def test_edits_follow_a_dataset_whose_images_change(tmp_path: Path) -> None:
    """Adding an image changes the content fingerprint; the edits of the others stay."""
    builders.utkface(tmp_path, 30)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0, 1], 0)
    edited_ids = {store.dataset.table["image_id"].iat[r] for r in (0, 1)}
    store.close()
    (tmp_path / "99_0_1_20170117000000000.jpg.chip.jpg").write_bytes(builders.jpeg_bytes(0))
    grown = open_dataset(tmp_path)
    assert len(grown) == 31
    again = LabelStore(grown)
    rows = again.edited.nonzero()[0]
    assert {grown.table["image_id"].iat[r] for r in rows} == edited_ids
    assert not again.orphaned
    again.close()
    # The image one edit was about is deleted: the edit is reported, not silently dropped.
    (tmp_path / next(iter(sorted(edited_ids)))).unlink()
    shrunk = LabelStore(open_dataset(tmp_path))
    assert len(shrunk.orphaned) == 1 and shrunk.edit_count == 1
    shrunk.close()
