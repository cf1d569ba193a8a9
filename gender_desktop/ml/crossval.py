"""Out-of-fold predictions for the train split: label errors among the images a run trained on.

Validation and test predictions are out-of-sample, but they cover a fifth of the data; the
train split's wrong labels are where most of the harm is. Scoring train images with the run
itself would be no use (it has fitted them), so this k-fold scheme trains k fresh heads on the
run's frozen backbone features, each on k-1 folds, and predicts the fold it did not see.
Features are computed once, so k heads cost seconds, even on a CPU. With a head-only run the
backbone never saw the labels and the scores are fully out-of-fold; after fine-tuning, the
backbone's last blocks did see them, which makes the scores milder (the ranking still works).

Writes ``crossval.csv`` (image_id, split, label, p_male, prediction, fold) and ``crossval.json``
(dataset fingerprint, folds, epochs, accuracy of the out-of-fold predictions) into the run.

Not to be confused with :mod:`gender_desktop.ml.cross_validation`, the cross-validation of a
configuration (one full training run per fold of the train+val images, mean ± std).
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from gender_desktop import csvsafe
from gender_desktop.data.dataset import open_dataset
from gender_desktop.data.labels import labelled_table
from gender_desktop.errors import Cancelled
from gender_desktop.fileio import atomic_write_bytes, atomic_write_json
from gender_desktop.ml import runtime
from gender_desktop.ml.pipeline import DecodedImages, DeviceBatcher, forward_rows
from gender_desktop.ml.results import CROSSVAL, CROSSVAL_META, EvaluationFailed
from gender_desktop.ml.runmodel import load_run_model, to_device

Progress = Callable[[int, int, str], None]


def assign_folds(labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """A fold number per image, stratified: each fold gets the same share of Male."""
    rng = np.random.default_rng(seed)
    out = np.empty(len(labels), dtype=np.int64)
    offset = 0  # the second class continues where the first left off: folds stay even
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels == value))
        out[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return out


def _fresh(head: nn.Module) -> nn.Module:
    clone = copy.deepcopy(head)
    for module in clone.modules():
        if isinstance(module, nn.Linear):
            module.reset_parameters()
    return clone


def _fit_head(
    head: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int, seed: int
) -> nn.Module:
    torch.manual_seed(seed)
    head.train()
    optimizer = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(seed)
    for _epoch in range(epochs):
        order = torch.randperm(len(x), generator=generator).to(x.device)
        for start in range(0, len(x), 256):
            index = order[start : start + 256]
            loss = loss_fn(head(x[index]).squeeze(1), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    return head.eval()


def out_of_fold(
    run_dir: str | Path,
    data: str | None = None,
    folds: int = 5,
    epochs: int = 30,
    device: str = "auto",
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Score every readable train image out-of-fold and write the files into the run;
    returns the summary written to crossval.json."""
    if folds < 2:
        raise EvaluationFailed("k-fold needs at least 2 folds")
    started = time.perf_counter()
    loaded = load_run_model(run_dir)
    source = data or loaded.config.data
    dataset = open_dataset(source, progress=progress, cancel=cancel)
    table = labelled_table(dataset)
    decoded = DecodedImages.build(dataset, loaded.input_size, None, progress, cancel)
    split = table["split"].astype(str).to_numpy()
    rows = np.flatnonzero((split == "train") & decoded.ok)
    if len(rows) == 0:
        raise EvaluationFailed(f"{dataset.report.source}: has no readable train images")
    if len(rows) < 2 * folds:
        raise EvaluationFailed(f"{dataset.report.source}: too few train images for {folds} folds")
    dev = runtime.resolve_device(device)
    model = to_device(loaded.model, dev).eval()
    batcher = DeviceBatcher(decoded, dev, dev.type == "cuda")
    features = torch.empty(len(rows), model.feature_size, device=dev)
    for _part, place, out in forward_rows(
        model.features,
        batcher,
        rows,
        256,
        loaded.config.amp,
        cancel,
        progress,
        "Computing backbone features once",
    ):
        features[place] = out.float()
    labels = table["Male"].to_numpy()[rows].astype(np.int64)
    fold_of = assign_folds(labels, folds, seed)
    y = torch.tensor(labels, dtype=torch.float32, device=dev)
    p_male = np.empty(len(rows), dtype=np.float64)
    for fold in range(folds):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        held = torch.from_numpy(np.flatnonzero(fold_of == fold)).to(dev)
        used = torch.from_numpy(np.flatnonzero(fold_of != fold)).to(dev)
        head = _fit_head(_fresh(model.head).to(dev), features[used], y[used], epochs, seed + fold)
        with torch.no_grad():
            logits = head(features[held]).squeeze(1)
        p_male[held.cpu().numpy()] = torch.sigmoid(logits.float()).cpu().numpy()
        if progress is not None:
            progress(fold + 1, folds, "Training the out-of-fold heads")
    p_male = np.round(p_male, 6)
    out = pd.DataFrame(
        {
            "image_id": table["image_id"].astype(str).to_numpy()[rows],
            "split": "train",
            "label": np.where(labels == 1, "Male", "Female"),
            "p_male": p_male,
            "prediction": np.where(p_male >= 0.5, "Male", "Female"),
            "fold": fold_of,
        }
    )
    summary = {
        "dataset": {"source": dataset.report.source, "fingerprint": dataset.fingerprint},
        "folds": folds,
        "epochs": epochs,
        "images": len(rows),
        "accuracy": float((out["prediction"] == out["label"]).mean()),
        "suspects": int((out["prediction"] != out["label"]).sum()),
        "seconds": round(time.perf_counter() - started, 3),
        "device": runtime.device_name(dev),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    # The JSON names the dataset the CSV belongs to: remove the old one first, so a crash
    # between the two writes never pairs new scores with another dataset's fingerprint.
    (loaded.run.path / CROSSVAL_META).unlink(missing_ok=True)
    atomic_write_bytes(loaded.run.path / CROSSVAL, csvsafe.frame_csv(out))
    atomic_write_json(loaded.run.path / CROSSVAL_META, summary)
    return summary
