"""Evaluating a model on a dataset split: predictions for every image, metrics, slices.

Used at the end of every training run (on the test split, with the best weights) and on
demand from the CLI and the Evaluate panel for any run and any dataset. The images come from
the same decode-once cache training uses, so evaluating right after training decodes nothing.

Writes two files into the run folder (atomically): ``predictions.csv`` (one row per predicted
image: ``image_id, split, label, p_male, prediction`` and then the dataset's other attributes,
so the file is self-contained for slicing) and ``evaluation.json`` (the metrics at the 0.5
threshold, ROC curve and AUC, slices worst first, training time). Validation and test images
are always predicted, whichever split is evaluated: they are out-of-sample, which is what the
label-error finder ranks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gender_desktop import csvsafe
from gender_desktop.data.dataset import Dataset, open_dataset
from gender_desktop.data.journal import JOURNAL_FILE
from gender_desktop.data.labels import labelled_table
from gender_desktop.fileio import atomic_write_bytes, atomic_write_json
from gender_desktop.ml import runtime
from gender_desktop.ml.pipeline import DecodedImages, DeviceBatcher, forward_rows
from gender_desktop.ml.results import (
    OUT_OF_SAMPLE,
    EvaluationFailed,
    label_error_candidates,
    read_predictions,
    summarize,
)
from gender_desktop.ml.runmodel import load_run_model, to_device
from gender_desktop.runs.folder import EVALUATION, PREDICTIONS, RunFolder

Progress = Callable[[int, int, str], None]
SPLITS = ("train", "val", "test")


@torch.no_grad()
def predict_rows(
    model: torch.nn.Module,
    batcher: DeviceBatcher,
    rows: np.ndarray,
    batch_size: int = 256,
    amp: bool = True,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """Probability of Male for each of ``rows`` (positions in the decoded cache)."""
    model.eval()
    out = np.empty(len(rows), dtype=np.float32)
    for _part, place, logits in forward_rows(
        model, batcher, rows, batch_size, amp, cancel, progress, "Predicting"
    ):
        out[place] = torch.sigmoid(logits.float()).cpu().numpy()
    return out


def predictions_table(
    table: pd.DataFrame, rows: np.ndarray, p_male: np.ndarray, attributes: list[str]
) -> pd.DataFrame:
    """The predictions.csv table for ``rows`` of the labelled dataset table."""
    sub = table.iloc[rows]
    # Rounded once, before the prediction is derived: the file's p_male and prediction agree.
    p_male = np.round(p_male.astype(np.float64), 6)
    out = pd.DataFrame(
        {
            "image_id": sub["image_id"].astype(str).to_numpy(),
            "split": sub["split"].astype(str).to_numpy(),
            "label": np.where(sub["Male"].to_numpy() == 1, "Male", "Female"),
            "p_male": p_male,
            "prediction": np.where(p_male >= 0.5, "Male", "Female"),
        }
    )
    for column in attributes:
        values = sub[column].to_numpy()
        out[column] = values.astype(int) if values.dtype == bool else values
    return out


def evaluate_model(
    model: torch.nn.Module,
    dataset: Dataset,
    decoded: DecodedImages,
    device: torch.device,
    run: RunFolder | None,
    split: str = "test",
    amp: bool = True,
    batch_size: int = 256,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    extra: dict[str, Any] | None = None,
    scores: Callable[[np.ndarray], np.ndarray | None] | None = None,
) -> dict[str, Any]:
    """Predict the evaluated split and the out-of-sample splits, compute the metrics, and (with
    a run) write predictions.csv and evaluation.json. Returns the evaluation dictionary.
    ``scores(rows)``, where given, is P(Male) of those rows without running the model (a
    head-only run scores its cached backbone features), or None when it cannot."""
    if split not in SPLITS:
        raise EvaluationFailed(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    started = time.perf_counter()
    table = labelled_table(dataset)
    split_of = table["split"].astype(str).to_numpy()
    wanted = {split, *OUT_OF_SAMPLE}
    chosen = np.flatnonzero(np.isin(split_of, list(wanted)) & decoded.ok)
    if not np.any(split_of[chosen] == split):
        raise EvaluationFailed(f"{dataset.report.source}: the {split} split has no readable images")
    batcher = DeviceBatcher(decoded, device, device.type == "cuda")
    p_male = scores(chosen) if scores is not None else None
    if p_male is None:
        p_male = predict_rows(model, batcher, chosen, batch_size, amp, progress, cancel)
    broken = int(np.count_nonzero(~np.isfinite(np.asarray(p_male, dtype=np.float64))))
    if broken:  # NaN scores would still give an accuracy and an AUC, quietly wrong
        where = f" of {run.path}" if run is not None else ""
        raise EvaluationFailed(
            f"the model{where} gave no number (NaN) for {broken:,} of {len(chosen):,} images: "
            "its weights are damaged (a run whose loss became NaN); retrain it, or evaluate "
            "another run"
        )
    predictions = predictions_table(table, chosen, p_male, dataset.attributes)
    summary = summarize(predictions, split)
    skipped = int(np.count_nonzero((split_of == split) & ~decoded.ok))
    evaluation = {
        "split": split,
        "threshold": 0.5,
        **summary,
        "dataset": {
            "source": dataset.report.source,
            "name": dataset.name,
            "layout": dataset.layout,
            "fingerprint": dataset.fingerprint,
        },
        "skipped_images": skipped,
        "label_edits": label_edits(dataset, table),
        "device": runtime.device_name(device),
        "evaluate_seconds": round(time.perf_counter() - started, 3),
        "evaluated_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **(extra or {}),
    }
    if run is not None:
        evaluation["run"] = str(run.path)
        evaluation["train_seconds"] = run.train_seconds()
        evaluation["same_dataset_as_training"] = run.trained_fingerprint() == dataset.fingerprint
        write_results(run, predictions, evaluation)
    return evaluation


def label_edits(dataset: Dataset, table: pd.DataFrame) -> dict[str, Any]:
    """How many of the labels evaluated against differ from the dataset's own, and the label
    store they came from (the CLI and the Evaluate tab say so: a number computed on edited
    labels must not pass for one on the published ones)."""
    changed = table["Male"].to_numpy().astype(int) != dataset.table["Male"].to_numpy().astype(int)
    journal = dataset.sidecar() / JOURNAL_FILE
    return {
        "count": int(np.count_nonzero(changed)),
        "store": str(journal) if journal.exists() else None,
    }


def write_results(run: RunFolder, predictions: pd.DataFrame, evaluation: dict[str, Any]) -> None:
    """predictions.csv (text cells spreadsheet-safe, file names that are not UTF-8 kept as
    their bytes: ``results.read_predictions`` reads back the same ids) and evaluation.json
    (JSON escapes such names, ``\\udcff``, and reads them back as the same ``str``)."""
    atomic_write_bytes(run.path / PREDICTIONS, csvsafe.frame_csv(predictions))
    atomic_write_json(run.path / EVALUATION, evaluation)


def evaluate_run(
    run_dir: str | Path,
    data: str | None = None,
    split: str = "test",
    device: str = "auto",
    batch_size: int = 256,
    workers: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """Evaluate a saved run (its best weights) on ``data`` (default: the dataset it trained on,
    with today's label edits) and write the results into the run folder."""
    loaded = load_run_model(run_dir)
    source = data or loaded.config.data
    if not data and not Path(source).expanduser().exists():
        raise EvaluationFailed(
            f"the dataset this run trained on is gone ({source}); choose the dataset to "
            "evaluate on (--data PATH, or the Dataset list in the Evaluate tab)"
        )
    dataset = open_dataset(source, progress=progress, cancel=cancel)
    decoded = DecodedImages.build(dataset, loaded.input_size, workers, progress, cancel)
    dev = runtime.resolve_device(device)
    model = to_device(loaded.model, dev)
    return evaluate_model(
        model,
        dataset,
        decoded,
        dev,
        loaded.run,
        split,
        loaded.config.amp,
        batch_size,
        progress,
        cancel,
        extra={"checkpoint": loaded.checkpoint, "epoch": loaded.epoch},
    )


__all__ = [
    "EvaluationFailed",
    "evaluate_model",
    "evaluate_run",
    "label_error_candidates",
    "predict_rows",
    "read_predictions",
    "summarize",
    "write_results",
]
