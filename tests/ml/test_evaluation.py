"""Evaluating a trained run: predictions.csv and evaluation.json agree with each other and with
the dataset, training ends with the same evaluation, and a wrong label stands out."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import builders
import numpy as np
import pandas as pd
import pytest
from setups import tiny_config, train_in_own_home

from gender_desktop.data.dataset import open_dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ml.evaluation import (
    EvaluationFailed,
    evaluate_run,
    label_error_candidates,
    read_predictions,
)
from gender_desktop.ml.metrics import binary_metrics, roc_summary, slice_table
from gender_desktop.ml.models import ModelConfig
from gender_desktop.ml.runmodel import RunUnusable
from gender_desktop.runs.folder import EVALUATION, PREDICTIONS, RunFolder

N = 80  # official partition: 64 train, 8 val (64-71), 8 test (72-79); i % 5 < 2 is male
FIRST_COLUMNS = ["image_id", "split", "label", "p_male", "prediction"]


@dataclass
class Trained:
    data: Path
    run: RunFolder
    summary: dict
    evaluation_at_end: dict  # evaluation.json as training left it
    predictions_at_end: pd.DataFrame


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Head-only ResNet18 at 32 px on red (male) / blue (female) squares: learns the colours in
    four epochs on cached features (about two seconds on a CPU). Trained once for the module,
    in a home of its own (the per-test home fixture is not active for module fixtures)."""
    root = tmp_path_factory.mktemp("evaluation")
    data = builders.celeba_official(root / "colours", N)
    config = tiny_config(
        data,
        model=ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head"),
        lr=1e-2,
        epochs=4,
    )
    run, summary = train_in_own_home(root, config)
    evaluation = json.loads((run.path / EVALUATION).read_text())
    predictions = read_predictions(run)
    assert predictions is not None
    return Trained(data, run, summary, evaluation, predictions)


def split_of(i: int) -> str:
    return "train" if i < 64 else "val" if i < 72 else "test"


def test_training_ends_with_an_evaluation_of_the_test_split(trained: Trained) -> None:
    test = trained.summary["test"]
    assert set(test) == {"n", "accuracy", "precision", "recall", "f1", "auc"}
    assert test["n"] == 8 and test["accuracy"] == 1.0  # the colours are easy
    written = trained.evaluation_at_end
    assert written["split"] == "test" and written["threshold"] == 0.5
    assert written["metrics"]["accuracy"] == test["accuracy"]
    assert written["roc"]["auc"] == test["auc"]
    assert written["checkpoint"] == "best.pt" and written["epoch"] >= 1
    assert written["same_dataset_as_training"] is True
    assert sorted(trained.predictions_at_end["split"].unique()) == ["test", "val"]


def test_predictions_csv_has_one_row_per_out_of_sample_image(trained: Trained) -> None:
    evaluation = evaluate_run(trained.run.path, device="cpu")
    table = pd.read_csv(trained.run.path / PREDICTIONS, dtype={"image_id": str})
    assert list(table.columns[:5]) == FIRST_COLUMNS
    # then the dataset's attributes, so the file can be sliced on its own
    assert {"Eyeglasses", "Young", "Smiling"} <= set(table.columns[5:])
    assert "Male" not in table.columns
    # The evaluated split (test) and the other out-of-sample split (val), never train.
    expected_ids = [f"{i + 1:06d}.jpg" for i in range(64, N)]
    assert table["image_id"].tolist() == expected_ids
    assert table["split"].tolist() == [split_of(i) for i in range(64, N)]
    assert table["label"].tolist() == [
        "Male" if builders.is_male(i) else "Female" for i in range(64, N)
    ]
    assert (
        table["prediction"].tolist() == np.where(table["p_male"] >= 0.5, "Male", "Female").tolist()
    )
    assert table["p_male"].between(0, 1).all()
    assert evaluation["metrics"]["n"] == 8 and evaluation["skipped_images"] == 0


def test_evaluation_json_is_recomputable_from_predictions_csv(trained: Trained) -> None:
    returned = evaluate_run(trained.run.path, device="cpu")
    on_disk = json.loads((trained.run.path / EVALUATION).read_text())
    assert on_disk == json.loads(json.dumps(returned))  # the file is what the call returned
    table = read_predictions(trained.run)
    test = table[table["split"] == "test"]
    labels = (test["label"] == "Male").to_numpy()
    p = test["p_male"].to_numpy()
    assert on_disk["metrics"] == binary_metrics(labels, p, 0.5)
    assert on_disk["roc"]["auc"] == pytest.approx(roc_summary(labels, p)["auc"])
    attributes = test.drop(columns=FIRST_COLUMNS)
    assert on_disk["slices"] == json.loads(json.dumps(slice_table(attributes, labels, p)))
    assert on_disk["dataset"]["source"] == str(trained.data.resolve())
    assert on_disk["device"] == "cpu" and on_disk["run"] == str(trained.run.path)


def test_another_split_can_be_evaluated(trained: Trained) -> None:
    val = evaluate_run(trained.run.path, split="val", device="cpu")
    assert val["split"] == "val" and val["metrics"]["n"] == 8
    train = evaluate_run(trained.run.path, split="train", device="cpu")
    assert train["metrics"]["n"] == 64
    # train predictions come with val and test, which the label-error finder needs
    assert read_predictions(trained.run)["split"].value_counts().to_dict() == {
        "train": 64,
        "val": 8,
        "test": 8,
    }


def test_a_flipped_label_is_the_first_label_error_candidate(trained: Trained) -> None:
    """Relabel one blue (female) test image as Male in the label journal, as the browser does:
    the evaluation uses the edited label, and the model, sure it is female, flags it first."""
    dataset = open_dataset(trained.data)
    row = int(dataset.position(["000073.jpg"])[0])  # i = 72: female, test split
    store = LabelStore(dataset)
    store.set_male([row], 1)
    store.close()

    evaluate_run(trained.run.path, device="cpu")
    table = read_predictions(trained.run)
    assert table.set_index("image_id").loc["000073.jpg", "label"] == "Male"
    candidates = label_error_candidates(table)
    assert candidates["image_id"].iloc[0] == "000073.jpg"
    assert candidates["disagreement"].iloc[0] > 0.5
    assert candidates["disagreement"].is_monotonic_decreasing
    assert len(label_error_candidates(table, limit=1)) == 1


def test_label_error_candidates_are_out_of_sample_and_disagreeing() -> None:
    table = pd.DataFrame(
        {
            "image_id": ["a", "b", "c", "d", "e"],
            "split": ["train", "val", "test", "test", "val"],
            "label": ["Male", "Male", "Female", "Female", "Female"],
            "p_male": [0.01, 0.30, 0.95, 0.40, 0.70],
        }
    )
    out = label_error_candidates(table)
    # a: train (the model saw its label); d: agrees with its label (Female, 0.40)
    assert out["image_id"].tolist() == ["c", "b", "e"]
    assert out["disagreement"].tolist() == pytest.approx([0.95, 0.70, 0.70])


def test_another_dataset_is_marked_as_such(trained: Trained, tmp_path: Path) -> None:
    other = builders.celeba_official(tmp_path / "other", 60)
    evaluation = evaluate_run(trained.run.path, data=str(other), device="cpu")
    assert evaluation["same_dataset_as_training"] is False
    assert evaluation["dataset"]["source"] == str(other.resolve())
    assert evaluation["metrics"]["n"] == 6


def test_a_split_without_images_is_an_evaluation_failure(trained: Trained, tmp_path: Path) -> None:
    data = tmp_path / "no-test"
    shutil.copytree(trained.data, data)
    partition = data / "list_eval_partition.txt"
    partition.write_text(partition.read_text().replace(" 2\n", " 1\n"))  # test -> val
    before = (trained.run.path / EVALUATION).read_bytes()
    with pytest.raises(EvaluationFailed, match="the test split has no readable images"):
        evaluate_run(trained.run.path, data=str(data), device="cpu")
    assert (trained.run.path / EVALUATION).read_bytes() == before  # nothing half-written


def test_a_folder_that_is_not_a_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RunUnusable, match="no such run folder"):
        evaluate_run(tmp_path / "missing")
    with pytest.raises(RunUnusable, match=r"config\.json is missing"):
        evaluate_run(tmp_path)


def test_a_model_with_nan_weights_is_refused_instead_of_scored(
    trained: Trained, tmp_path: Path
) -> None:
    """All-NaN weights gave an accuracy and an AUC of 0.75 from NaN scores, without a word."""
    import shutil

    import torch

    copy = tmp_path / "nan-run"
    shutil.copytree(trained.run.path, copy)

    def poison(value):
        if isinstance(value, torch.Tensor) and value.is_floating_point():
            return torch.full_like(value, float("nan"))
        if isinstance(value, dict):
            return {k: poison(v) for k, v in value.items()}
        return value

    checkpoint = torch.load(copy / "best.pt", weights_only=True)
    torch.save(poison(checkpoint), copy / "best.pt")
    with pytest.raises(EvaluationFailed, match=r"gave no number \(NaN\) for 16 of 16 images"):
        evaluate_run(copy, device="cpu")
