"""Bad annotation files give one clear error naming the file and the line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import builders
import pytest

from gender_desktop.data import DatasetError, open_dataset


def error_of(path: Path) -> DatasetError:
    with pytest.raises(DatasetError) as info:
        open_dataset(path)
    return info.value


def write_subset(root: Path, text: str | bytes, n_images: int = 3) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    csv = root / "labels.csv"
    csv.write_bytes(text if isinstance(text, bytes) else text.encode())
    builders.write_images(root / "images", builders.celeba_names(n_images))
    return csv


def test_missing_male_column_names_the_file_and_header_line(tmp_path: Path) -> None:
    csv = write_subset(tmp_path, "image_id,Smiling\n000001.jpg,1\n")
    err = error_of(csv)
    assert err.file == str(csv.resolve()) and err.line == 1
    assert "no 'Male' column" in str(err) and "Smiling" in str(err)


def test_missing_male_attribute_in_official_file(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 5)
    attr = tmp_path / "list_attr_celeba.txt"
    attr.write_text(attr.read_text().replace(" Male ", " Mail "))
    err = error_of(tmp_path)
    assert err.line == 2 and "no 'Male' attribute" in str(err)
    assert str(err).startswith(str(attr.resolve()))


def test_a_value_that_is_not_minus1_0_1_names_its_line(tmp_path: Path) -> None:
    csv = write_subset(tmp_path, "image_id,Male\n000001.jpg,1\n000002.jpg,2\n000003.jpg,-1\n")
    err = error_of(csv)
    assert err.line == 3
    assert "column 'Male' has '2'" in str(err)


def test_a_non_numeric_value_in_the_official_file(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 6)
    attr = tmp_path / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    lines[5] = lines[5].replace("-1", "yes", 1)
    attr.write_text("\n".join(lines) + "\n")
    err = error_of(tmp_path)
    assert err.line == 6 and "'yes'" in str(err)


def test_a_row_with_too_many_fields_names_its_line(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 6)
    attr = tmp_path / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    lines[4] += " 1"
    attr.write_text("\n".join(lines) + "\n")
    err = error_of(tmp_path)
    assert err.line == 5 and "Expected 41 fields" in str(err)


def test_mixed_codings_are_ambiguous(tmp_path: Path) -> None:
    csv = write_subset(tmp_path, "image_id,Male\n000001.jpg,-1\n000002.jpg,0\n000003.jpg,1\n")
    err = error_of(csv)
    assert err.line == 3 and "mixes -1/1 and 0/1" in str(err)


def test_empty_csv(tmp_path: Path) -> None:
    csv = write_subset(tmp_path, "")
    err = error_of(csv)
    assert err.file == str(csv.resolve()) and "empty" in str(err)


def test_header_only_csv(tmp_path: Path) -> None:
    csv = write_subset(tmp_path, "image_id,Male\n")
    assert "no rows" in str(error_of(csv))


def test_unreadable_binary_csv(tmp_path: Path) -> None:
    csv = write_subset(tmp_path, b"PK\x03\x04\x00\x00garbage\x00\x01\x02")
    err = error_of(csv)
    assert err.file == str(csv.resolve()) and "not a text table" in str(err)


def test_duplicate_ids_name_both_lines(tmp_path: Path) -> None:
    csv = write_subset(
        tmp_path, "image_id,Male\n000001.jpg,1\n000002.jpg,-1\n000001.jpg,-1\n000003.jpg,1\n"
    )
    err = error_of(csv)
    assert err.line == 2
    assert "duplicate image id '000001.jpg' (lines 2, 4)" in str(err)


def test_annotations_whose_images_are_nowhere(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(builders.subset_csv(5))
    err = error_of(tmp_path)
    assert "none of the 5 images it lists were found" in str(err)


def test_a_folder_with_no_dataset(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    err = error_of(tmp_path)
    assert "no supported dataset found" in str(err) and str(tmp_path) in str(err)


def test_a_path_that_does_not_exist(tmp_path: Path) -> None:
    assert "no such file or folder" in str(error_of(tmp_path / "nope"))


def test_line_numbers_stay_right_after_blank_lines(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 20)
    attr = tmp_path / "list_attr_celeba.txt"
    lines = attr.read_text().splitlines()
    lines.insert(5, "")  # a blank line 6
    lines[20] = lines[20].replace("-1", "7", 1)  # file line 21
    attr.write_text("\n".join(lines) + "\n\n")
    err = error_of(tmp_path)
    assert err.line == 21 and "'7'" in str(err)


def test_a_broken_partition_file_falls_back_to_a_seeded_split(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 30)
    (tmp_path / "list_eval_partition.txt").write_text("")
    ds = open_dataset(tmp_path)
    assert len(ds) == 30 and ds.report.split_origin.startswith("seeded")
    assert any("partition file ignored" in w for w in ds.report.warnings)
