"""Run folders written file by file, shaped as the trainer and the evaluator write them.

For the runs table and comparison tests: hundreds of runs, chosen predictions and metrics,
without training. (Tests that need a run the trainer really made train tiny ones.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from gender_desktop.fileio import atomic_write_bytes, atomic_write_json
from gender_desktop.ml.config import ModelConfig, TrainConfig
from gender_desktop.runs.folder import RunFolder
from gender_desktop.runs.meta import update_meta, write_status

FINGERPRINT = "feedc0ffee0123456789"


def write_run(
    root: Path,
    name: str,
    *,
    epochs: int = 3,
    planned: int | None = None,
    val_accuracy: Sequence[float] = (),
    val_loss: Sequence[float] = (),
    status: str | None = "finished",
    correct: Sequence[bool] | None = None,
    fingerprint: str = FINGERPRINT,
    split: str = "test",
    **settings,
) -> RunFolder:
    """A run of ``epochs`` epochs (of ``planned``) and, with ``correct`` (one flag per test
    image), a test evaluation with predictions.csv. Other keyword arguments are settings
    (``lr=1e-4``, ``model=ModelConfig(...)``)."""
    run = RunFolder(root / name)
    run.path.mkdir(parents=True)
    model = settings.pop("model", ModelConfig(backbone="resnet18", input_size=32))
    config = TrainConfig(data="/data/faces", model=model, epochs=planned or epochs, **settings)
    run.write_config(
        {
            "settings": config.to_dict(),
            "dataset": {
                "source": "/data/faces",
                "layout": "celeba-official",
                "fingerprint": fingerprint,
            },
            "device": "cpu",
        }
    )
    accs = list(val_accuracy) or [0.6 + 0.05 * e for e in range(epochs)]
    losses = list(val_loss) or [0.7 - 0.05 * e for e in range(epochs)]
    run.write_metrics(
        [
            {
                "epoch": e + 1, "train_loss": 0.6 - 0.1 * e, "train_accuracy": 0.7 + 0.05 * e,
                "val_loss": losses[e], "val_accuracy": accs[e], "lr": config.lr,
                "seconds": 10.0, "images_per_second": 100.0 + e,
            }
            for e in range(epochs)
        ]
    )  # fmt: skip
    if status:
        write_status(run.path, status)
    if correct is not None:
        write_evaluation(run, correct, fingerprint, split)
    return run


def write_evaluation(
    run: RunFolder, correct: Sequence[bool], fingerprint: str = FINGERPRINT, split: str = "test"
) -> None:
    """predictions.csv for images ``img0000.jpg``… (alternating Male/Female labels, the
    prediction right where ``correct`` says) and the matching evaluation.json."""
    lines = ["image_id,split,label,p_male,prediction"]
    tp = fn = fp = tn = 0
    for i, right in enumerate(correct):
        male = i % 2 == 0
        predicted_male = male if right else not male
        tp, fn = tp + (male and predicted_male), fn + (male and not predicted_male)
        fp, tn = fp + (not male and predicted_male), tn + (not male and not predicted_male)
        label = "Male" if male else "Female"
        p = 0.9 if predicted_male else 0.1
        lines.append(f"img{i:04d}.jpg,{split},{label},{p},{'Male' if predicted_male else 'Female'}")
    atomic_write_bytes(run.path / "predictions.csv", ("\n".join(lines) + "\n").encode())
    n = len(correct)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    metrics = {
        "accuracy": (tp + tn) / n, "precision": precision, "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "n": n, "confusion": {"tp": tp, "fn": fn, "fp": fp, "tn": tn},
    }  # fmt: skip
    atomic_write_json(
        run.path / "evaluation.json",
        {
            "split": split, "threshold": 0.5, "metrics": metrics, "roc": {"auc": 0.8},
            "dataset": {"source": "/data/faces", "fingerprint": fingerprint},
            "same_dataset_as_training": True,
        },
    )  # fmt: skip


def set_meta(run: RunFolder, **changes) -> None:
    update_meta(run.path, **changes)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())
