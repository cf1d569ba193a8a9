"""k-fold scores of the train split: a wrong label among the images a run trained on is
found, because each image is scored by a head that never saw it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from setups import tiny_config

from gender_desktop.data.dataset import open_dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ml.config import ModelConfig
from gender_desktop.ml.crossval import assign_folds, out_of_fold
from gender_desktop.ml.results import CROSSVAL, CROSSVAL_META, EvaluationFailed, load_evaluation
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder


def test_folds_are_stratified_and_cover_everything() -> None:
    labels = np.array([1] * 40 + [0] * 60)
    folds = assign_folds(labels, 5)
    assert sorted(set(folds.tolist())) == [0, 1, 2, 3, 4]
    for k in range(5):
        assert labels[folds == k].sum() == 8 and (folds == k).sum() == 20
    odd = np.array([1] * 13 + [0] * 13)  # leftovers of both classes go to different folds
    assert sorted(np.bincount(assign_folds(odd, 5)).tolist()) == [5, 5, 5, 5, 6]


def test_a_flipped_train_label_tops_the_suspects(colour_data: Path, tmp_path: Path) -> None:
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="all")
    run = RunFolder.create("cv", tmp_path / "runs")
    Trainer(tiny_config(colour_data, model=model, epochs=4), run).run()
    dataset = open_dataset(colour_data)
    train = np.flatnonzero(dataset.table["split"].to_numpy() == "train")
    flipped = int(train[2])
    store = LabelStore(dataset)
    store.set_male([flipped], 1 - int(store.male[flipped]))
    store.close()

    summary = out_of_fold(run.path, folds=4, epochs=40)

    assert summary["images"] == len(train) and summary["folds"] == 4
    scores = json.loads((run.path / CROSSVAL_META).read_text())
    assert scores["dataset"]["fingerprint"] == dataset.fingerprint
    suspects = load_evaluation(run).suspects
    assert suspects["image_id"].iloc[0] == dataset.table["image_id"].iat[flipped]
    assert suspects["split"].iloc[0] == "train"


def test_scores_of_another_dataset_are_not_mixed_in(colour_data: Path, tmp_path: Path) -> None:
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="all")
    run = RunFolder.create("cv", tmp_path / "runs")
    Trainer(tiny_config(colour_data, model=model, epochs=4), run).run()
    dataset = open_dataset(colour_data)
    flipped = int(np.flatnonzero(dataset.table["split"].to_numpy() == "train")[0])
    store = LabelStore(dataset)
    store.set_male([flipped], 1 - int(store.male[flipped]))
    store.close()
    out_of_fold(run.path, folds=4, epochs=40)
    flipped_id = dataset.table["image_id"].iat[flipped]
    assert flipped_id in load_evaluation(run).suspects["image_id"].tolist()
    meta = json.loads((run.path / CROSSVAL_META).read_text())
    meta["dataset"]["fingerprint"] = "another"
    (run.path / CROSSVAL_META).write_text(json.dumps(meta))
    assert (run.path / CROSSVAL).exists()
    suspects = load_evaluation(run).suspects
    assert flipped_id not in suspects["image_id"].tolist()
    assert (suspects["split"] != "train").all()


def test_a_damaged_score_file_is_ignored(colour_data: Path, tmp_path: Path) -> None:
    run = RunFolder.create("cv", tmp_path / "runs")
    Trainer(tiny_config(colour_data, epochs=1), run).run()
    out_of_fold(run.path, folds=2, epochs=1)
    (run.path / CROSSVAL_META).write_text("[1, 2]")  # valid JSON, wrong shape
    assert load_evaluation(run) is not None
    (run.path / CROSSVAL_META).unlink()
    out_of_fold(run.path, folds=2, epochs=1)
    (run.path / CROSSVAL).write_text("image_id,p_male\n000001.jpg,0.5\n")  # columns missing
    assert (load_evaluation(run).suspects["split"] != "train").all()


def test_fewer_than_two_folds_is_refused(colour_data: Path, tmp_path: Path) -> None:
    run = RunFolder.create("cv", tmp_path / "runs")
    Trainer(tiny_config(colour_data, epochs=1), run).run()
    with pytest.raises(EvaluationFailed, match="at least 2 folds"):
        out_of_fold(run.path, folds=1)
