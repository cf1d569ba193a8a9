"""Every supported layout opens from a folder, an annotation file or a zip, to the right counts."""

from __future__ import annotations

import zipfile
from pathlib import Path

import builders
import pytest

from gender_desktop.data import open_dataset


def counts(ds) -> tuple[int, int, int]:
    s = ds.summary()
    return s["images"], s["male"], s["female"]


@pytest.mark.parametrize("layout", ["flat", "release", "torchvision"])
def test_official_celeba_in_each_folder_arrangement(tmp_path: Path, layout: str) -> None:
    builders.celeba_official(tmp_path, 50, layout=layout)
    ds = open_dataset(tmp_path)
    assert ds.layout == "celeba-official"
    assert counts(ds) == (50, builders.males(50), 50 - builders.males(50))
    assert ds.report.split_origin == "official partition"
    assert ds.summary()["splits"]["test"]["male"] + ds.summary()["splits"]["test"]["female"] == 5
    assert len(ds.attributes) == 39 and ds.table["Eyeglasses"].dtype == bool
    assert ds.read_bytes(0)[:3] == b"\xff\xd8\xff"


def test_official_celeba_picked_by_its_annotation_file_in_anno_folder(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 30, layout="release")
    ds = open_dataset(tmp_path / "Anno" / "list_attr_celeba.txt")
    assert counts(ds)[0] == 30
    assert ds.folder == tmp_path.resolve()


def test_official_celeba_with_images_zipped_beside_the_annotations(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 40, zipped=True)
    for picked in (tmp_path, tmp_path / "img_align_celeba.zip"):
        ds = open_dataset(picked)
        assert counts(ds)[0] == 40
        assert str(ds.images.location).endswith("img_align_celeba.zip")
        assert ds.read_bytes(3)[:3] == b"\xff\xd8\xff"


def test_crlf_and_a_stale_count_line_are_read_and_reported(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 20, crlf=True, declared=202599)
    ds = open_dataset(tmp_path)
    assert counts(ds)[0] == 20
    assert any("declares 202,599 images but 20 rows" in w for w in ds.report.warnings)


def test_without_partition_file_a_seeded_stratified_split_is_used(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 100, partition=False)
    ds = open_dataset(tmp_path)
    splits = ds.summary()["splits"]
    assert {k: v["male"] + v["female"] for k, v in splits.items()} == {
        "train": 80,
        "val": 10,
        "test": 10,
    }
    assert splits["test"]["male"] == 4  # 40 % male in every split
    assert ds.report.split_origin == "seeded stratified 80/10/10 (seed 0)"


def test_kaggle_copy_with_nested_image_folder(tmp_path: Path) -> None:
    builders.celeba_kaggle(tmp_path, 40)
    ds = open_dataset(tmp_path)
    assert ds.layout == "celeba-kaggle"
    assert counts(ds) == (40, builders.males(40), 40 - builders.males(40))
    assert ds.table["path"].iat[0] == "img_align_celeba/img_align_celeba/000001.jpg"
    assert ds.report.split_origin == "official partition"


@pytest.mark.parametrize("images", ["folder", "zip", "zip-nested"])
@pytest.mark.parametrize("coding", ["-1/1", "0/1"])
def test_course_subset_csv_with_images_in_folder_or_zip(
    tmp_path: Path, images: str, coding: str
) -> None:
    builders.celeba_subset(tmp_path, 100, images=images, coding=coding)
    ds = open_dataset(tmp_path)
    assert ds.layout == "celeba-subset"
    assert counts(ds) == (100, 40, 60)
    assert ds.table["Eyeglasses"].sum() == 25
    assert ds.summary()["splits"]["val"] == {"male": 4, "female": 6}
    if images != "folder":
        assert isinstance(ds.images.location, Path) and ds.images.location.suffix == ".zip"
    assert ds.read_bytes(99)[:3] == b"\xff\xd8\xff"


def test_subset_picked_as_csv_file_and_as_zip(tmp_path: Path) -> None:
    builders.celeba_subset(tmp_path, 30, images="zip", id_col="filename")
    assert counts(open_dataset(tmp_path / "celeba_subset.csv"))[0] == 30
    assert counts(open_dataset(tmp_path / "celeba_30k.zip"))[0] == 30


def test_subset_zip_holding_its_own_csv(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data/labels.csv", builders.subset_csv(25))
        for i, name in enumerate(builders.celeba_names(25)):
            zf.writestr(f"data/img/{name}", builders.jpeg_bytes(i))
    ds = open_dataset(archive)
    assert counts(ds) == (25, 10, 15)


def test_utkface_file_names_with_broken_ones_skipped_and_reported(tmp_path: Path) -> None:
    builders.utkface(tmp_path, 30)
    ds = open_dataset(tmp_path)
    assert ds.layout == "utkface"
    assert counts(ds) == (30, builders.males(30), 30 - builders.males(30))
    assert len(ds.report.skipped) == len(builders.UTK_BROKEN)
    reasons = dict(ds.report.skipped)
    assert reasons[str(tmp_path / builders.UTK_BROKEN[0])].startswith("the race field is missing")
    assert reasons[str(tmp_path / builders.UTK_BROKEN[1])].startswith("the gender field is '3'")
    assert set(ds.table["race"]) == {"White", "Black", "Asian", "Indian", "Others"}
    assert ds.table["age"].min() == 20 and "age_band" in ds.attributes


def test_adience_folds_keep_mf_and_report_the_rest(tmp_path: Path) -> None:
    builders.adience(tmp_path, per_fold=6, unknown_per_fold=2)
    ds = open_dataset(tmp_path)
    assert ds.layout == "adience"
    assert counts(ds) == (30, builders.males(30), 30 - builders.males(30))
    assert len(ds.report.skipped) == 10
    assert sorted(ds.table["fold"].unique()) == [0, 1, 2, 3, 4]
    assert (ds.table.loc[ds.table["fold"] == 4, "split"] == "test").all()
    assert ds.read_bytes(0)[:3] == b"\xff\xd8\xff"


def test_adience_picked_by_a_fold_file(tmp_path: Path) -> None:
    builders.adience(tmp_path, per_fold=4, unknown_per_fold=0)
    assert counts(open_dataset(tmp_path / "fold_2_data.txt"))[0] == 20


@pytest.mark.parametrize("names", [("male", "female"), ("Men", "Women"), ("MAN", "woman")])
def test_folder_per_class_in_any_naming_and_image_format(tmp_path: Path, names) -> None:
    builders.folder_per_class(tmp_path, 20, names=names)
    ds = open_dataset(tmp_path)
    assert ds.layout == "folder-per-class"
    assert counts(ds) == (20, 8, 12)
    assert {p.rsplit(".", 1)[1] for p in ds.table["path"]} == {"jpg", "png", "webp", "bmp"}


def test_folder_per_class_split_folders_give_the_split(tmp_path: Path) -> None:
    builders.folder_per_class(tmp_path, 20, splits=True)
    ds = open_dataset(tmp_path)
    assert ds.report.split_origin == "train/val/test folders"
    assert ds.summary()["splits"]["train"]["male"] + ds.summary()["splits"]["train"]["female"] == 16


def test_missing_images_are_counted_and_listed_not_fatal(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 30)
    for name in ("000002.jpg", "000007.jpg"):
        (tmp_path / "img_align_celeba" / name).unlink()
    ds = open_dataset(tmp_path)
    assert len(ds) == 28
    assert ds.report.missing == ["000002.jpg", "000007.jpg"]
    assert ds.summary()["missing"] == 2


def test_corrupt_images_are_found_by_verify(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 30)
    folder = tmp_path / "img_align_celeba"
    (folder / "000003.jpg").write_bytes(b"")
    (folder / "000004.jpg").write_bytes(b"this is text, not a photo")
    full = (folder / "000005.jpg").read_bytes()
    (folder / "000005.jpg").write_bytes(full[: len(full) // 2])
    ds = open_dataset(tmp_path)
    ds.verify()
    reasons = dict(ds.report.corrupt)
    assert set(reasons) == {"000003.jpg", "000004.jpg", "000005.jpg"}
    assert "empty" in reasons["000003.jpg"]
    assert "not an image" in reasons["000004.jpg"]
    assert "truncated" in reasons["000005.jpg"]


def test_opening_never_writes_into_the_dataset_folder(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 30, partition=False)
    before = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    ds = open_dataset(tmp_path)
    ds.verify()
    after = sorted((p, p.stat().st_mtime_ns) for p in tmp_path.rglob("*"))
    assert before == after
    assert (ds.sidecar() / "split.csv").exists()


def test_bom_blank_lines_and_a_partition_header_are_tolerated(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 20)
    attr = tmp_path / "list_attr_celeba.txt"
    attr.write_bytes(b"\xef\xbb\xbf" + attr.read_bytes().replace(b"\n000005", b"\n\n000005"))
    part = tmp_path / "list_eval_partition.txt"
    part.write_text("image_id partition\n" + part.read_text())
    ds = open_dataset(tmp_path)
    assert len(ds) == 20 and ds.report.warnings == []
    assert ds.report.split_origin == "official partition"


def test_kaggle_csv_with_trailing_commas(tmp_path: Path) -> None:
    builders.celeba_kaggle(tmp_path, 20)
    attr = tmp_path / "list_attr_celeba.csv"
    attr.write_text("".join(line + ",\n" for line in attr.read_text().splitlines()))
    ds = open_dataset(tmp_path)
    assert len(ds) == 20 and len(ds.attributes) == 39


@pytest.mark.parametrize("sep", ["\t", ";"])
def test_subset_tables_with_tab_or_semicolon(tmp_path: Path, sep: str) -> None:
    builders.celeba_subset(tmp_path, 30)
    (tmp_path / "celeba_subset.csv").unlink()
    (tmp_path / "labels.tsv").write_text(builders.subset_csv(30).replace(",", sep))
    for picked in (tmp_path, tmp_path / "labels.tsv"):
        ds = open_dataset(picked)
        assert (len(ds), ds.summary()["male"]) == (30, 12)


def test_picking_the_partition_file_opens_its_dataset(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 20, layout="release")
    ds = open_dataset(tmp_path / "Eval" / "list_eval_partition.txt")
    assert ds.layout == "celeba-official" and len(ds) == 20


def test_a_folder_holding_only_the_downloaded_zip(tmp_path: Path) -> None:
    inner = builders.folder_per_class(tmp_path / "inner", 12)
    archive = tmp_path / "download" / "archive.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for f in inner.rglob("*"):
            if f.is_file():
                zf.write(f, "gender/" + f.relative_to(inner).as_posix())
    ds = open_dataset(archive.parent)
    assert ds.layout == "folder-per-class" and len(ds) == 12


def test_train_and_test_folders_without_val_hold_out_val_from_train(tmp_path: Path) -> None:
    for i in range(40):
        split = "Training" if i < 30 else "Testing"
        cls = "male" if builders.is_male(i) else "female"
        folder = tmp_path / split / cls
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.jpg").write_bytes(builders.jpeg_bytes(i))
    ds = open_dataset(tmp_path)
    sizes = {k: v["male"] + v["female"] for k, v in ds.summary()["splits"].items()}
    assert sizes == {"train": 27, "val": 3, "test": 10}
    assert "val drawn from train" in ds.report.split_origin


def test_images_outside_split_folders_are_reported(tmp_path: Path) -> None:
    builders.folder_per_class(tmp_path, 20, splits=True)
    builders.write_images(tmp_path / "male", ["extra.jpg"])
    ds = open_dataset(tmp_path)
    assert len(ds) == 21 and ds.report.split_origin.startswith("seeded")
    assert any("outside train/val/test folders" in w for w in ds.report.warnings)


def test_two_ids_naming_one_file_count_once(tmp_path: Path) -> None:
    builders.celeba_subset(tmp_path, 10)
    csv = tmp_path / "celeba_subset.csv"
    csv.write_text(csv.read_text() + "other/000001.jpg,1,-1,-1\n")
    ds = open_dataset(tmp_path)
    assert len(ds) == 10
    assert ds.report.skipped == [
        (
            "other/000001.jpg",
            f"the same image file as 000001.jpg ({tmp_path / 'images' / '000001.jpg'})",
        )
    ]


def test_utkface_faces_in_two_folders_count_once(tmp_path: Path) -> None:
    builders.utkface(tmp_path / "UTKFace", 10)
    builders.utkface(tmp_path / "crop_part1", 10)
    ds = open_dataset(tmp_path)
    assert len(ds) == 10
    # every file of the second folder, the two with ambiguous names included
    assert sum("the same face as" in reason for _, reason in ds.report.skipped) == 12
