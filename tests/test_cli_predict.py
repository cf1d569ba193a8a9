"""`gender-desktop evaluate` and `gender-desktop predict`: reports, JSON, CSV, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import builders
import hostile
import pytest
import torch
from setups import tiny_config, train_in_own_home

from gender_desktop import csvsafe
from gender_desktop.cli import main
from gender_desktop.cli import predict as predict_cli
from gender_desktop.ml import evaluation as evaluation_module
from gender_desktop.ml.models import ModelConfig
from gender_desktop.ml.prediction_row import BASE_COLUMNS
from gender_desktop.ml.results import read_predictions
from gender_desktop.runs.folder import EVALUATION, PREDICTIONS, RunFolder

MALES_IN_TRAIN = builders.males(64)  # images 0-63 are the official train split


@dataclass
class Trained:
    data: Path
    run: Path


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Red (male) / blue (female) squares, a head-only ResNet18 at 32 px: trained once."""
    torch.set_num_threads(2)
    root = tmp_path_factory.mktemp("cli-predict")
    data = builders.celeba_official(root / "colours", 80)
    config = tiny_config(
        data,
        model=ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head"),
        lr=1e-2,
        epochs=4,
    )
    run, _summary = train_in_own_home(root, config)
    return Trained(data, run.path)


def evaluate(trained: Trained, *extra: str) -> int:
    return main(["evaluate", "--run", str(trained.run), "--device", "cpu", *extra])


def predict(trained: Trained, *extra: str) -> int:
    return main(["predict", "--run", str(trained.run), "--device", "cpu", *extra])


# -- evaluate -----------------------------------------------------------------------------------
def test_evaluate_json_is_the_evaluation(trained: Trained, capsys) -> None:
    assert evaluate(trained, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert {
        "split",
        "threshold",
        "metrics",
        "roc",
        "slices",
        "dataset",
        "run",
        "checkpoint",
        "epoch",
        "device",
        "skipped_images",
        "evaluate_seconds",
    } <= set(out)
    assert out["split"] == "test" and out["threshold"] == 0.5
    assert out["metrics"]["n"] == 8 and out["metrics"]["accuracy"] == 1.0
    assert out["roc"]["auc"] == 1.0
    on_disk = json.loads((trained.run / EVALUATION).read_text())
    assert out == on_disk


def test_evaluate_kfold_scores_the_train_split_too(trained: Trained, capsys) -> None:
    assert evaluate(trained, "--kfold", "2") == 0
    out = capsys.readouterr().out
    assert "train split (2-fold): " in out and "crossval.csv" in out
    assert (trained.run / "crossval.csv").exists()


def test_evaluate_prints_a_report_for_people(trained: Trained, capsys) -> None:
    assert evaluate(trained, "--split", "train") == 0
    out = capsys.readouterr().out
    saved = json.loads((trained.run / EVALUATION).read_text())
    c = saved["metrics"]["confusion"]
    assert c["tp"] + c["fn"] == MALES_IN_TRAIN
    lines = out.splitlines()
    assert lines[0].startswith(f"run:        {trained.run} (best.pt, epoch ")
    assert "the dataset the run trained on" in lines[1]
    assert lines[2] == "labels:     no label edits (the dataset's own labels)"
    assert lines[3].startswith("split:      train: 64 images · threshold 0.50 · cpu")
    assert lines[5].startswith("accuracy   1.0000   precision 1.0000   recall 1.0000")
    assert f"{'Male':<8}{1.0:>10.4f}{1.0:>9.4f}{1.0:>9.4f}{MALES_IN_TRAIN:>10}" in lines
    # the confusion matrix: rows are the true label, columns the prediction
    assert f"{'':<14}{'predicted Male':>16}{'predicted Female':>18}" in lines
    assert f"{'true Male':<14}{c['tp']:>16}{c['fn']:>18}" in lines
    assert f"{'true Female':<14}{c['fp']:>16}{c['tn']:>18}" in lines
    start = lines.index("worst slices (at least 10 images), by accuracy:")
    assert lines[start + 1].split() == ["slice", "n", "accuracy", "male", "share", "errors"]
    ranked = [sl for sl in saved["slices"] if sl["n"] >= 10][:5]
    assert len(ranked) == 4  # Eyeglasses and Young vary in the builder data, both ways
    listed = lines[start + 2 : start + 2 + len(ranked)]
    assert [line.split()[:-4] for line in listed] == [sl["slice"].split() for sl in ranked]
    assert [int(line.split()[-4]) for line in listed] == [sl["n"] for sl in ranked]
    assert lines[start + 2 + len(ranked)] == ""
    assert f"written:    {trained.run / PREDICTIONS}" in lines
    assert f"            {trained.run / EVALUATION}" in lines


def test_evaluate_says_which_label_edits_it_applied(trained: Trained, capsys) -> None:
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.data.labels import LabelStore

    dataset = open_dataset(trained.data)
    store = LabelStore(dataset)
    for row in (0, 1, 75):  # two train images and a test image get the other label
        store.set_male([row], 1 - int(store.male[row]))
    journal = store.journal_path
    store.close()
    assert evaluate(trained) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == f"labels:     3 label edits from {journal} applied"
    saved = json.loads((trained.run / EVALUATION).read_text())
    assert saved["label_edits"] == {"count": 3, "store": str(journal)}
    assert saved["metrics"]["n"] == 8 and saved["metrics"]["accuracy"] < 1.0  # 75 is wrong now


def test_evaluate_threshold_changes_the_printed_numbers_not_the_files(
    trained: Trained, capsys
) -> None:
    assert evaluate(trained, "--threshold", "0", "--json") == 0
    out = json.loads(capsys.readouterr().out)
    # p_male >= 0: everything is called Male
    assert out["threshold"] == 0.0
    assert out["metrics"]["confusion"] == {"tp": 2, "fn": 0, "fp": 6, "tn": 0}
    assert out["metrics"]["recall"] == 1.0 and out["metrics"]["precision"] == 0.25
    saved = json.loads((trained.run / EVALUATION).read_text())
    assert saved["threshold"] == 0.5
    assert saved["metrics"]["confusion"] == {"tp": 2, "fn": 0, "fp": 0, "tn": 6}
    assert out["roc"] == saved["roc"]  # the curve does not depend on a threshold

    assert evaluate(trained, "--threshold", "0") == 0
    assert "the numbers above are at 0.00" in capsys.readouterr().out


def no_test_split(trained: Trained, tmp_path: Path) -> str:
    data = tmp_path / "no-test"
    shutil.copytree(trained.data, data)
    partition = data / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace(" 2\n", " 1\n"))
    return str(data)


@pytest.mark.parametrize(
    "case, message",
    [
        ("not a run", "not a run folder (config.json is missing)"),
        ("no run", "no such run folder"),
        ("no data", "no such file or folder"),
        ("empty split", "the test split has no readable images"),
        ("threshold", "--threshold must be between 0 and 1, not 1.5"),
    ],
)
def test_evaluate_errors_are_one_line_and_exit_2(
    trained: Trained, tmp_path: Path, capsys, case: str, message: str
) -> None:
    run = str(trained.run)
    args = {
        "not a run": ["--run", str(tmp_path)],
        "no run": ["--run", str(tmp_path / "gone")],
        "no data": ["--run", run, "--data", str(tmp_path / "gone")],
        "empty split": ["--run", run, "--data", no_test_split(trained, tmp_path)],
        "threshold": ["--run", run, "--threshold", "1.5"],
    }[case]
    assert main(["evaluate", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("gender-desktop evaluate: error: ") and message in captured.err
    assert captured.err.count("\n") == 1


def test_evaluate_ctrl_c_exits_130_and_writes_nothing(
    trained: Trained, capsys, monkeypatch
) -> None:
    for name in (PREDICTIONS, EVALUATION):
        (trained.run / name).unlink(missing_ok=True)
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN when the suite runs in the background
    real_open = evaluation_module.open_dataset

    def open_then_interrupted(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # as if Ctrl+C was pressed while reading the data
        return real_open(*args, **kwargs)

    monkeypatch.setattr(evaluation_module, "open_dataset", open_then_interrupted)
    assert evaluate(trained) == 130
    assert "cancelled: nothing was written" in capsys.readouterr().err
    assert not (trained.run / PREDICTIONS).exists() and not (trained.run / EVALUATION).exists()
    assert signal.getsignal(signal.SIGINT) is before  # handler restored


# -- predict ------------------------------------------------------------------------------------
def some_files(trained: Trained, tmp_path: Path) -> list[str]:
    """A male and a female photo of the dataset, and a file that is not an image."""
    images = trained.data / "img_align_celeba"
    bad = tmp_path / "notes.jpg"
    bad.write_text("not a photo")
    return [str(images / "000001.jpg"), str(images / "000003.jpg"), str(bad)]


def test_predict_writes_csv_rows_to_a_pipe(trained: Trained, tmp_path: Path, capsys) -> None:
    files = some_files(trained, tmp_path)
    assert predict(trained, *files) == 0  # an unreadable file is a row, not a failure
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    # framing is "auto" by default: faces are searched for, and the columns say what was found
    assert list(rows[0]) == ["path", "p_male", "prediction", "error", "framed", "face", "box"]
    assert [r["path"] for r in rows] == files
    assert [r["framed"] for r in rows] == ["whole image (no face found)"] * 2 + [""]
    assert [r["prediction"] for r in rows] == ["Male", "Female", ""]  # image 0 male, 2 female
    assert float(rows[0]["p_male"]) >= 0.5 > float(rows[1]["p_male"])
    assert rows[2]["p_male"] == "" and rows[2]["error"] == "not an image Pillow can read"
    assert rows[0]["error"] == rows[1]["error"] == ""
    summary = captured.err.strip()
    assert summary.startswith("3 files: 1 Male, 1 Female, 1 error · ")
    assert "on cpu · run " in summary and summary.endswith("(best.pt)")


def test_predict_prints_an_aligned_table_on_a_terminal(
    trained: Trained, tmp_path: Path, capsys, monkeypatch
) -> None:
    monkeypatch.setattr(predict_cli, "stdout_is_terminal", lambda: True)
    monkeypatch.chdir(tmp_path)
    for name in ("000001.jpg", "000003.jpg"):
        shutil.copy(trained.data / "img_align_celeba" / name, name)
    Path("notes.jpg").write_text("not a photo")
    assert predict(trained, "000001.jpg", "000003.jpg", "notes.jpg", "--framing", "off") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "path" + " " * 9 + "p_male  prediction  error"  # paths as given
    assert re.fullmatch(r"000001\.jpg   0\.\d{4}  Male", lines[1])
    assert re.fullmatch(r"000003\.jpg   0\.\d{4}  Female", lines[2])
    assert lines[3] == f"{'notes.jpg':<10}  {'':>7}  {'':<10}  not an image Pillow can read"
    # Framing Auto: how each picture was made, in aligned columns; the free error column last.
    assert predict(trained, "000001.jpg", "notes.jpg") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["path", "p_male", "prediction", "framed", "face", "box", "error"]
    assert re.fullmatch(
        r"000001\.jpg   0\.\d{4}  Male        whole image \(no face found\)", lines[1]
    )
    assert lines[2].endswith("  not an image Pillow can read")


def test_long_paths_keep_their_file_name_in_the_table() -> None:
    out = io.StringIO()
    long = "/a" * 40 + "/photo.jpg"
    table = predict_cli.TableWriter(out, BASE_COLUMNS, [long])
    table.write([{"path": long, "p_male": 0.25, "prediction": "Female", "error": ""}])
    row = out.getvalue().splitlines()[1]
    assert row == "…" + long[-59:] + "   0.2500  Female"
    # a name with a terminal escape or a newline is shown, not obeyed
    table.write([{"path": "red\x1b[31m\nx.jpg", "p_male": 0.5, "prediction": "Male", "error": ""}])
    assert out.getvalue().splitlines()[2].startswith("red?[31m?x.jpg")


def test_predict_csv_file_holds_every_row(trained: Trained, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "photos"
    (folder / "nested").mkdir(parents=True)
    for name in ("000001.jpg", "000002.jpg", "000003.jpg"):
        shutil.copy(trained.data / "img_align_celeba" / name, folder / "nested" / name)
    (folder / "empty.jpg").write_bytes(b"")
    out = tmp_path / "results" / "predictions.csv"
    assert predict(trained, str(folder), "--csv", str(out)) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # the rows went to the file
    assert f"written to {out}" in captured.err
    rows = list(csv.DictReader(out.open()))
    assert [Path(r["path"]).name for r in rows] == [
        "empty.jpg",
        "000001.jpg",
        "000002.jpg",
        "000003.jpg",
    ]
    assert rows[0]["error"] == "empty file (0 bytes)"
    assert [r["prediction"] for r in rows[1:]] == ["Male", "Male", "Female"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["predictions.csv"]  # no temp file


def test_predict_json_has_the_run_and_every_row(trained: Trained, tmp_path: Path, capsys) -> None:
    files = some_files(trained, tmp_path)
    assert predict(trained, *files, "--json") == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"] == 3 and out["errors"] == 1
    assert out["run"]["backbone"] == "resnet18" and out["run"]["input_size"] == 32
    assert out["framing"] == "auto" and out["tta"] == "none"
    assert out["rows"][2] == {
        "path": files[2],
        "p_male": None,
        "prediction": "",
        "error": "not an image Pillow can read",
        "framed": "",
        "face": None,
        "box": "",
        "tta": "none",
    }


def test_predict_framing_faces_only_says_no_face_found_and_auto_predicts_whole(
    trained: Trained, tmp_path: Path, capsys
) -> None:
    photo = trained.data / "img_align_celeba" / "000001.jpg"  # a red square: no face
    no_face = {"path": str(photo), "framed": "", "face": "", "box": ""}
    for flags in (["--crop-faces"], ["--framing", "faces"]):  # the old flag is the same
        assert predict(trained, str(photo), *flags) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert rows == [{**no_face, "p_male": "", "prediction": "", "error": "no face found"}]
    assert predict(trained, str(photo), "--framing", "auto", "--tta", "flip") == 0
    (row,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row["framed"] == "whole image (no face found)" and row["prediction"] == "Male"
    assert row["error"] == "" and row["tta"] == "flip"


def test_predict_ctrl_c_exits_130_and_leaves_no_csv(
    trained: Trained, tmp_path: Path, capsys, monkeypatch
) -> None:
    def interrupted(self, done: int, total: int, message: str) -> None:
        signal.raise_signal(signal.SIGINT)  # Ctrl+C after the first batch

    monkeypatch.setattr(predict_cli.ProgressLine, "__call__", interrupted)
    out = tmp_path / "out.csv"
    folder = str(trained.data / "img_align_celeba")
    assert predict(trained, folder, "--batch-size", "4", "--csv", str(out)) == 130
    err = capsys.readouterr().err
    notice, last = err.splitlines()
    assert notice == "stopping after the current step (Ctrl+C again: at once)"
    assert last.startswith("gender-desktop predict: cancelled: 4 of 80 files: 2 Male, 2 Female, ")
    assert last.endswith(f"; {out} was not written")
    assert not out.exists()


@pytest.mark.parametrize(
    "case, message",
    [
        ("not a run", "not a run folder (config.json is missing)"),
        ("no path exists", "none of the given paths exists"),
        ("no images", "no image files in"),
        ("damaged framing", "framing.json: framing 'size' is 0.01; it must be in 0.1..1.0 "),
    ],
)
def test_predict_errors_exit_2(
    trained: Trained, tmp_path: Path, capsys, case: str, message: str
) -> None:
    photo = str(trained.data / "img_align_celeba" / "000001.jpg")
    (tmp_path / "empty").mkdir()
    damaged = tmp_path / "damaged-run"
    shutil.copytree(trained.run, damaged)
    (damaged / "framing.json").write_text('{"cx": 0.5, "cy": 0.5, "size": 0.01, "aspect": 1.2}')
    args = {
        "not a run": ["--run", str(tmp_path), photo],
        "damaged framing": ["--run", str(damaged), photo],  # Framing Off still works
        "no path exists": ["--run", str(trained.run), str(tmp_path / "a.jpg")],
        "no images": ["--run", str(trained.run), str(tmp_path / "empty")],
    }[case]
    assert main(["predict", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and message in captured.err
    assert captured.err.startswith("gender-desktop predict: error: ")
    assert captured.err.count("\n") == 1
    if case == "damaged framing":
        assert "(predict with Framing Off, or delete the file" in captured.err
        assert main(["predict", *args, "--framing", "off"]) == 0


def test_help_documents_the_output_choice(capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["predict", "--help"])
    assert stop.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "an aligned table on a terminal, CSV when stdout is a pipe or a file" in text


# -- names a spreadsheet would run, and names that are not UTF-8 --------------------------------
HOSTILE = ["=HYPERLINK(1).jpg", "+1.jpg", "-1.jpg", "@SUM(A1).jpg"]
NOT_UTF8 = os.fsdecode(b"\xff\xfe.jpg")


def hostile_photos(trained: Trained, folder: Path) -> list[str]:
    folder.mkdir()
    source = trained.data / "img_align_celeba" / "000001.jpg"
    for name in [*HOSTILE, NOT_UTF8]:
        shutil.copy(source, folder / name)
    return [*HOSTILE, NOT_UTF8]


def test_predict_csv_writes_hostile_and_non_utf8_names_safely(
    trained: Trained, tmp_path: Path, capsys, monkeypatch
) -> None:
    """Before: the formula names were written as they are, and the name that is not UTF-8
    stopped the command with a traceback before the CSV was written."""
    names = hostile_photos(trained, tmp_path / "photos")
    monkeypatch.chdir(tmp_path / "photos")  # relative paths: the cells start with the names
    out = tmp_path / "out.csv"
    assert predict(trained, "--csv", str(out), "--", *names) == 0
    data = out.read_bytes()
    hostile.assert_text_cells_are_safe(data)
    assert b"\n\xff\xfe.jpg," in data  # the file's own bytes: a script can open it
    back = csvsafe.read_csv(out, text=("path", "prediction", "error"))
    assert back["path"].tolist() == names
    assert back["prediction"].tolist() == ["Male"] * len(names)
    assert capsys.readouterr().err.startswith(f"{len(names)} files: {len(names)} Male, ")


def test_predict_to_a_pipe_writes_non_utf8_names_as_their_bytes(
    trained: Trained, tmp_path: Path
) -> None:
    """Before: a UnicodeEncodeError traceback on stdout (a pipe), and the formula names as
    they are."""
    hostile_photos(trained, tmp_path / "photos")
    done = subprocess.run(
        [sys.executable, "-m", "gender_desktop", "predict", "--run", str(trained.run), "."],
        cwd=tmp_path / "photos",
        capture_output=True,
        timeout=300,
        # stdout as in a normal UTF-8 locale (strict); the C locale would escape by itself
        env={**os.environ, "PYTHONIOENCODING": "utf-8:strict"},
    )
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    hostile.assert_text_cells_are_safe(done.stdout)
    rows = list(csv.reader(io.StringIO(csvsafe.decode(done.stdout), newline="")))
    assert sorted(csvsafe.unescape(row[0]) for row in rows[1:]) == sorted([*HOSTILE, NOT_UTF8])
    assert b"\n\xff\xfe.jpg," in done.stdout  # the file's own bytes


def test_predictions_csv_holds_hostile_ids_as_text_and_reads_them_back(
    trained: Trained, tmp_path: Path, capsys
) -> None:
    """Before: predictions.csv had cells such as =0.jpg and =cmd|' /C calc'!A0 as they are."""
    data, ids = hostile.dataset(tmp_path / "hostile")
    assert evaluate(trained, "--data", str(data), "--json") == 0
    capsys.readouterr()
    written = (trained.run / PREDICTIONS).read_bytes()
    hostile.assert_text_cells_are_safe(written)
    back = read_predictions(RunFolder(trained.run))
    assert back is not None and set(back["image_id"]) <= set(ids) and len(back) > 0
    assert set(back["note"]) <= {f"=cmd|' /C calc'!A{i}" for i in range(40)}
    assert set(back["Young"]) <= {0, 1}  # numbers stay numbers
