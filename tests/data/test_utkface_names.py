"""UTKFace file names: natural order, full names kept, and problems that name the bad field."""

from __future__ import annotations

from pathlib import Path

import builders
import pandas as pd
import pytest

from gender_desktop.data import open_dataset
from gender_desktop.data.dataset import fingerprint_of
from gender_desktop.data.detect import LAYOUTS, SUPPORTED


def _utk(root: Path, ages: list[int]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for i, age in enumerate(ages):
        name = f"{age}_{i % 2}_{i % 5}_20170116174525{i:03d}.jpg.chip.jpg"
        (root / name).write_bytes(builders.jpeg_bytes(i))
    return root


def test_file_names_sort_naturally_and_keep_chip_jpg(tmp_path: Path) -> None:
    ds = open_dataset(_utk(tmp_path, [100, 10, 9, 1, 20, 2, 11]))
    assert ds.table["age"].tolist() == [1, 2, 9, 10, 11, 20, 100]
    assert all(name.endswith(".jpg.chip.jpg") for name in ds.table["image_id"])
    assert ds.table["image_id"].iat[3] == "10_1_1_20170116174525001.jpg.chip.jpg"


def test_natural_order_keeps_the_fingerprint_so_label_edits_and_splits_follow(
    tmp_path: Path,
) -> None:
    """Datasets opened before natural sorting keep their sidecar: the fingerprint is taken
    over the ids in the order files are read, as it always was, not in the display order."""
    ds = open_dataset(_utk(tmp_path, [100, 10, 9, 1, 20, 2, 11]))
    read_order = sorted(ds.table["image_id"])  # the source lists files sorted by name
    assert ds.table["image_id"].tolist() != read_order
    assert ds.fingerprint == fingerprint_of("utkface", pd.Series(read_order))


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("39_1_20170116174525125.jpg.chip.jpg", "the race field is missing"),
        ("39_3_20170116174525125.jpg.chip.jpg", "the gender field is missing"),
        ("39_1_2.jpg.chip.jpg", "the date field is missing"),
        ("53__0_20170116184028385.jpg.chip.jpg", "the gender field is empty"),
        ("61_3_2_20170109150557335.jpg.chip.jpg", "the gender field is '3', not 0 (male) or 1"),
        ("61_1_9_20170109150557335.jpg.chip.jpg", "the race field is '9', not 0-4"),
        ("x1_1_2_20170109150557335.jpg", "the age field is 'x1', not a whole number"),
    ],
)
def test_the_problems_list_names_the_field_that_is_wrong(
    tmp_path: Path, name: str, reason: str
) -> None:
    _utk(tmp_path, [20, 30, 40, 50])
    (tmp_path / name).write_bytes(builders.jpeg_bytes(0))
    ds = open_dataset(tmp_path)
    assert len(ds) == 4
    assert len(ds.report.skipped) == 1
    where, why = ds.report.skipped[0]
    assert where == str(tmp_path / name)  # the full name, .chip.jpg included
    assert why.startswith(reason), why


def test_the_supported_layouts_come_from_the_reader_table(tmp_path: Path) -> None:
    """The error for an unknown folder lists exactly the layouts detection tries."""
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(Exception) as err:
        open_dataset(tmp_path)
    message = str(err.value)
    assert "no supported dataset found" in message and SUPPORTED in message
    for layout in LAYOUTS:
        assert layout.title in message
    assert [layout.name for layout in LAYOUTS] == [
        "celeba-official",
        "celeba-kaggle",
        "celeba-subset",
        "adience",
        "folder-per-class",
        "utkface",
    ]
