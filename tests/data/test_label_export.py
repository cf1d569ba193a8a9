"""Exported labels: a spreadsheet shows every id and value as text, the app reads them back."""

from __future__ import annotations

import os
from pathlib import Path

import builders
import hostile
import numpy as np

from gender_desktop import csvsafe
from gender_desktop.data import open_dataset
from gender_desktop.data.labels import export_labels


def test_exported_labels_keep_formula_ids_as_text(tmp_path: Path) -> None:
    """Before: ids such as =0.jpg and values such as =cmd|' /C calc'!A0 were written as they
    are, and a spreadsheet opening the export ran them."""
    root, ids = hostile.dataset(tmp_path / "hostile")
    dataset = open_dataset(root)
    male = dataset.table["Male"].to_numpy().copy()
    male[:3] = 1 - male[:3]
    out = export_labels(dataset, male, tmp_path / "export.csv", coding="-1/1")
    data = out.read_bytes()
    hostile.assert_text_cells_are_safe(data)
    assert b"\n'=0.jpg," in data and b"\n-1.jpg," not in data  # text, escaped
    back = csvsafe.read_csv(out, text=("image_id",))
    assert back["image_id"].tolist() == dataset.table["image_id"].tolist()
    assert back["Male"].tolist() == np.where(male == 1, 1, -1).tolist()  # -1 stays a number
    assert set(back["note"]) == {f"=cmd|' /C calc'!A{i}" for i in range(len(ids))}


def test_exported_labels_of_a_name_that_is_not_utf8(tmp_path: Path) -> None:
    """Before: UnicodeEncodeError (no export). The name is written as its own bytes."""
    root = builders.celeba_subset(tmp_path / "subset", 10)
    dataset = open_dataset(root)
    odd = os.fsdecode(b"caf\xe9.jpg")  # Latin-1 bytes in a UTF-8 system
    dataset.table.loc[0, "image_id"] = odd
    out = export_labels(dataset, dataset.table["Male"].to_numpy(), tmp_path / "export.csv")
    assert b"\ncaf\xe9.jpg," in out.read_bytes()
    assert csvsafe.read_csv(out, text=("image_id",))["image_id"].iloc[0] == odd


def test_an_export_opens_again_as_a_dataset_with_the_same_ids_and_labels(tmp_path: Path) -> None:
    """The export beside the images is a dataset of its own: formula-like ids, escaped in the
    file, find their images again."""
    import shutil

    root, ids = hostile.dataset(tmp_path / "hostile")
    dataset = open_dataset(root)
    male = 1 - dataset.table["Male"].to_numpy()
    copy = tmp_path / "copy"
    shutil.copytree(root / "images", copy / "images")
    export_labels(dataset, male, copy / "fixed.csv", coding="0/1")
    reopened = open_dataset(copy / "fixed.csv")
    assert sorted(reopened.table["image_id"]) == sorted(ids)
    assert not reopened.report.missing
    by_id = dict(zip(reopened.table["image_id"], reopened.table["Male"], strict=True))
    assert [by_id[i] for i in dataset.table["image_id"]] == male.tolist()
