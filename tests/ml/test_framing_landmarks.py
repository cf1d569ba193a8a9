"""CelebA's framing from the dataset's own landmark file (issue 12): the official .txt and the
Kaggle .csv written by the tests, read by the framing, by a run without framing.json and by a
real tiny training run whose 12 px images give the detector nothing to find."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import builders
import pytest
from setups import tiny_config

from gender_desktop.ml.framing import (
    BOX_CENTRE_BELOW_EYES,
    BOX_PER_EYE_DISTANCE,
    CELEBA_ALIGNED,
    FRAMING_FILE,
    FramingError,
    dataset_landmarks_geometry,
    geometry_from_landmarks,
    geometry_of_run,
)
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder

# Eyes 50 px apart around (85, 100): another alignment than CelebA's typical one.
OTHER_EYES = ((60, 100), (110, 100))


def test_celeba_s_typical_framing_is_the_cascade_relation_on_its_typical_eyes() -> None:
    box = BOX_PER_EYE_DISTANCE * 39  # eyes at (69, 111) and (108, 111)
    assert CELEBA_ALIGNED.size == pytest.approx(box / 178, abs=1e-4)
    assert CELEBA_ALIGNED.cx == pytest.approx(88.5 / 178, abs=1e-4)
    assert CELEBA_ALIGNED.cy == pytest.approx((111 + BOX_CENTRE_BELOW_EYES * box) / 218, abs=1e-4)
    assert CELEBA_ALIGNED.aspect == pytest.approx(218 / 178)


def test_the_official_and_the_kaggle_landmark_files_give_the_median_eyes(tmp_path: Path) -> None:
    official = tmp_path / "list_landmarks_align_celeba.txt"
    official.write_text(builders.landmarks_txt(30))
    assert geometry_from_landmarks(official) == replace(
        CELEBA_ALIGNED, samples=30, source="celeba-landmarks"
    )
    kaggle = tmp_path / "list_landmarks_align_celeba.csv"
    kaggle.write_text(builders.landmarks_csv(15, eyes=OTHER_EYES))
    geometry = geometry_from_landmarks(kaggle)
    box = BOX_PER_EYE_DISTANCE * 50
    assert geometry.cx == pytest.approx(85 / 178, abs=1e-4)
    assert geometry.cy == pytest.approx((100 + BOX_CENTRE_BELOW_EYES * box) / 218, abs=1e-4)
    assert geometry.size == pytest.approx(box / 178, abs=1e-4)
    assert (geometry.samples, geometry.source) == (15, "celeba-landmarks")
    # Images of another size (a resized copy): the same landmarks are other shares of it.
    wide = geometry_from_landmarks(kaggle, image_size=(356, 436))
    assert wide.size == pytest.approx(geometry.size / 2, abs=1e-4)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "list_landmarks_align_celeba.txt",
            builders.landmarks_txt(6).replace(" 106 ", " 1O6 ", 1),  # row 1's right eye
            r"\.txt, line 3: eye landmarks must be numbers, not \['67', '110', '1O6', '110'\]",
        ),
        (
            "list_landmarks_align_celeba.txt",
            "6\nleft right\n000001.jpg 1 2\n",
            r"\.txt, line 2: line 2 should name the landmarks",
        ),
        (
            "list_landmarks_align_celeba.csv",
            builders.landmarks_csv(4).replace("righteye_x", "reye_x"),
            r"\.csv, line 1: no righteye_x column in the header",
        ),
        (
            "list_landmarks_align_celeba.csv",
            builders.landmarks_csv(4).replace("\n000003.jpg,", "\n000003.jpg,1,", 1),
            r"\.csv, line 4: Expected 11 fields, saw 12",
        ),
        ("list_landmarks_align_celeba.csv", "", r"\.csv: the file is empty"),
        (
            "list_landmarks_align_celeba.csv",
            builders.landmarks_csv(4, eyes=((60, 400), (110, 400))),  # below the image
            r"\.csv: the eyes it gives make no usable framing: framing 'cy' is 1\.89",
        ),
    ],
    ids=["not-a-number", "no-eye-names", "no-eye-column", "extra-field", "empty", "off-image"],
)
def test_a_malformed_landmark_file_is_refused_with_its_name_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    file = tmp_path / name
    file.write_text(text)
    with pytest.raises(FramingError, match=message) as caught:
        geometry_from_landmarks(file)
    assert caught.value.file == str(file)


def test_a_landmark_file_that_is_not_a_regular_file_is_refused_unread(tmp_path: Path) -> None:
    fifo = tmp_path / "list_landmarks_align_celeba.txt"
    os.mkfifo(fifo)  # reading would wait for a writer forever
    with pytest.raises(FramingError, match="a FIFO"):
        geometry_from_landmarks(fifo)


def test_the_landmark_file_is_found_where_each_layout_keeps_it(tmp_path: Path) -> None:
    release = builders.celeba_official(tmp_path / "release", 10, layout="release", landmarks=True)
    torchvision = builders.celeba_official(
        tmp_path / "tv", 10, layout="torchvision", landmarks=True
    )
    kaggle = builders.celeba_kaggle(tmp_path / "kaggle", 10, landmarks=True)
    download = tmp_path / "download"  # Kaggle's archive.zip, everything inside it
    download.mkdir()
    with zipfile.ZipFile(download / "archive.zip", "w") as zf:
        for file in kaggle.rglob("*"):
            zf.write(file, file.relative_to(kaggle).as_posix())
    for picked in (
        release,
        release / "Anno" / "list_attr_celeba.txt",
        torchvision,
        kaggle,
        download,
        download / "archive.zip",
    ):
        geometry = dataset_landmarks_geometry(picked)
        assert geometry is not None and geometry.samples == 10, picked
    assert dataset_landmarks_geometry(builders.celeba_official(tmp_path / "bare", 10)) is None
    assert dataset_landmarks_geometry(tmp_path / "gone") is None


def run_config(folder: Path, layout: str, source: Path) -> Path:
    """A run folder as the trainer leaves it without framing.json (only what is read here)."""
    folder.mkdir()
    dataset = {"layout": layout, "source": str(source)}
    (folder / "config.json").write_text(json.dumps({"dataset": dataset}))
    return folder


def test_a_celeba_run_without_framing_reads_its_dataset_s_landmarks(tmp_path: Path) -> None:
    data = builders.celeba_official(tmp_path / "data", 15, layout="release", landmarks=True)
    (data / "Anno" / "list_landmarks_align_celeba.txt").write_text(
        builders.landmarks_txt(15, eyes=OTHER_EYES)
    )
    run = run_config(tmp_path / "run", "celeba-official", data)
    geometry = geometry_of_run(run)
    assert geometry.source == "celeba-landmarks" and geometry.samples == 15
    assert geometry.cx == pytest.approx(85 / 178, abs=1e-4)
    # A damaged landmark file, then a moved dataset: CelebA's typical framing, silently.
    (data / "Anno" / "list_landmarks_align_celeba.txt").write_text("15\nlefteye_x\n")
    assert geometry_of_run(run) == CELEBA_ALIGNED
    shutil.rmtree(data)
    assert geometry_of_run(run) == CELEBA_ALIGNED
    # Not a CelebA layout: its landmarks are not looked for.
    other = builders.celeba_kaggle(tmp_path / "k", 5, landmarks=True)
    assert geometry_of_run(run_config(tmp_path / "r2", "folder-per-class", other)).source == (
        "default"
    )


def test_a_celeba_run_too_small_for_the_detector_takes_the_landmarks(tmp_path: Path) -> None:
    data = builders.celeba_kaggle(tmp_path / "kaggle", 60, landmarks=True)  # 12 x 14 px images
    run = RunFolder.create("landmarks", tmp_path / "runs")
    Trainer(tiny_config(data, epochs=1), run=run).run()
    stored = json.loads((run.path / FRAMING_FILE).read_text())
    assert stored == replace(CELEBA_ALIGNED, samples=60, source="celeba-landmarks").to_dict()
    assert geometry_of_run(run.path).source == "celeba-landmarks"
    log = (run.path / "log.txt").read_text()
    assert "framing: too few faces found in the training images; from the dataset's landmarks" in (
        log
    )


def test_a_bad_landmark_file_is_logged_and_the_run_goes_on(tmp_path: Path) -> None:
    data = builders.celeba_kaggle(tmp_path / "kaggle", 60, landmarks=True)
    (data / "list_landmarks_align_celeba.csv").write_text("image_id,lefteye_x\n000001.jpg,3\n")
    run = RunFolder.create("bad-landmarks", tmp_path / "runs")
    summary = Trainer(tiny_config(data, epochs=1), run=run).run()
    assert not summary["stopped"] and not (run.path / FRAMING_FILE).exists()
    log = (run.path / "log.txt").read_text()
    assert "framing: the dataset's landmark file is not used (" in log
    assert "list_landmarks_align_celeba.csv, line 1: no lefteye_y, righteye_x" in log
    assert geometry_of_run(run.path) == CELEBA_ALIGNED
