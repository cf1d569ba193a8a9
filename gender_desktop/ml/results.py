"""Saved evaluation results, read back without torch (the GUI thread's side of evaluation).

``predictions.csv`` holds everything needed to recompute the metrics at any decision
threshold and for any slice, so the Evaluate panel and ``gender-desktop evaluate
--threshold`` work from it alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gender_desktop import csvsafe
from gender_desktop.errors import UserError
from gender_desktop.ml import metrics
from gender_desktop.runs.folder import EVALUATION, PREDICTIONS, RunFolder, RunUnusable

BASE_COLUMNS = ("image_id", "split", "label", "p_male", "prediction")
TEXT_COLUMNS = ("image_id", "split", "label", "prediction")  # read as written, never as NaN
CROSSVAL = "crossval.csv"  # out-of-fold scores of the train split (ml/crossval.py)
CROSSVAL_META = "crossval.json"
OUT_OF_SAMPLE = ("val", "test")


class EvaluationFailed(UserError):
    """The evaluation cannot be done; the message says why."""


def read_predictions(run: RunFolder) -> pd.DataFrame | None:
    """The run's predictions.csv as written (ids exactly, escapes removed), or None."""
    file = run.path / PREDICTIONS
    if not file.exists():
        return None
    return csvsafe.read_csv(file, text=TEXT_COLUMNS)


def label_vector(predictions: pd.DataFrame) -> np.ndarray:
    return (predictions["label"].to_numpy() == "Male").astype(np.int8)


def summarize(predictions: pd.DataFrame, split: str, threshold: float = 0.5) -> dict[str, Any]:
    """Metrics, ROC and slices of one split of a predictions table (what evaluation.json and
    the Evaluate panel show)."""
    part = predictions[predictions["split"] == split]
    if part.empty:
        raise EvaluationFailed(f"no predictions for the {split} split")
    attrs = [c for c in part.columns if c not in BASE_COLUMNS]
    return metrics.evaluation_summary(
        part[attrs], label_vector(part), part["p_male"].to_numpy(), threshold
    )


def read_crossval(folder: RunFolder, fingerprint: str | None) -> pd.DataFrame | None:
    """The run's out-of-fold train scores, when they were made on the dataset ``fingerprint``."""
    meta, table = folder.path / CROSSVAL_META, folder.path / CROSSVAL
    if not meta.exists() or not table.exists():
        return None
    # Optional and rebuildable: a damaged pair is ignored, never a reason the evaluation
    # cannot be shown.
    try:
        if json.loads(meta.read_text())["dataset"]["fingerprint"] != fingerprint:
            return None
        scores = csvsafe.read_csv(table, text=TEXT_COLUMNS)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return scores if set(BASE_COLUMNS) <= set(scores.columns) else None


def label_error_candidates(
    predictions: pd.DataFrame, limit: int | None = None, train_scores: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Out-of-sample images (val and test, and the train split's k-fold scores when given)
    ranked by how strongly the model disagrees with the given label:
    ``disagreement`` is the probability the model gives the *other* class (1.0 = certain the
    label is wrong). Only images predicted against their label are returned, most suspicious
    first."""
    part = predictions[predictions["split"].isin(OUT_OF_SAMPLE)]
    if train_scores is not None:  # k-fold scores of the train split are out-of-sample too
        part = pd.concat([part, train_scores[list(BASE_COLUMNS)]], ignore_index=True)
    part = part.copy()
    male = part["label"].to_numpy() == "Male"
    p = part["p_male"].to_numpy()
    part["disagreement"] = np.where(male, 1 - p, p)
    part = part[part["disagreement"] > 0.5].sort_values(
        ["disagreement", "image_id"], ascending=[False, True], kind="mergesort"
    )
    return part if limit is None else part.head(limit)


@dataclass
class SavedEvaluation:
    """A saved evaluation with what the Evaluate panel derives from it once, off the GUI
    thread: the evaluated split's rows, every slice's mask, and the label-error ranking (which
    does not depend on the threshold)."""

    evaluation: dict[str, Any]
    predictions: pd.DataFrame
    part: pd.DataFrame
    slices: metrics.SliceIndex
    suspects: pd.DataFrame


def load_evaluation(folder: RunFolder) -> SavedEvaluation | None:
    """The run's evaluation and predictions, or None when it has not been evaluated. Damaged
    files (a run folder from elsewhere) raise :class:`RunUnusable` naming them."""
    file = folder.path / EVALUATION
    try:
        predictions = read_predictions(folder)
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
        raise RunUnusable(f"damaged ({exc})", file=folder.path / PREDICTIONS) from exc
    if not file.exists() or predictions is None:
        return None
    try:
        evaluation = json.loads(file.read_text())
        part = predictions[predictions["split"] == evaluation["split"]].reset_index(drop=True)
        dataset = evaluation.get("dataset")
        fingerprint = dataset.get("fingerprint") if isinstance(dataset, dict) else None
        attributes = [c for c in part.columns if c not in BASE_COLUMNS]
        return SavedEvaluation(
            evaluation,
            predictions,
            part,
            metrics.SliceIndex.of(part[attributes]),
            label_error_candidates(predictions, train_scores=read_crossval(folder, fingerprint)),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunUnusable(
            f"damaged or not this run's evaluation ({type(exc).__name__}: {exc})", file=file
        ) from exc
