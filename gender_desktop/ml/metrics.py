"""Classification metrics for Male (positive) vs Female, numpy only (no torch, no Qt).

The GUI recomputes everything here each time the decision-threshold control moves, so these
functions are vectorised over whole prediction columns and cheap for 200k rows. They are
written out rather than taken from scikit-learn: the few formulas below are all that is
needed, and scikit-learn (with scipy) would add ~100 MB to the standalone app for them.

Conventions: ``labels`` are 1 for Male and 0 for Female; ``p_male`` is the model's probability
of Male; an image is predicted Male when ``p_male >= threshold``. A ratio with an empty
denominator (precision when nothing is predicted Male) is reported as 0.0, as is usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from gender_desktop.ml.slice_names import AGE_BANDS, flag_slice, value_slice

CLASS_NAMES = {1: "Male", 0: "Female"}
MIN_SLICE = 10  # smaller slices are listed but not ranked: their numbers are noise


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def confusion(labels: np.ndarray, predicted: np.ndarray) -> dict[str, int]:
    """Counts with Male as the positive class: tp (Male called Male), fn, fp, tn."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    return {
        "tp": int(np.count_nonzero(labels & predicted)),
        "fn": int(np.count_nonzero(labels & ~predicted)),
        "fp": int(np.count_nonzero(~labels & predicted)),
        "tn": int(np.count_nonzero(~labels & ~predicted)),
    }


def from_confusion(c: dict[str, int]) -> dict[str, Any]:
    tp, fn, fp, tn = c["tp"], c["fn"], c["fp"], c["tn"]
    n = tp + fn + fp + tn
    male_p, male_r = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    female_p, female_r = _ratio(tn, tn + fn), _ratio(tn, tn + fp)
    male_f1, female_f1 = _f1(male_p, male_r), _f1(female_p, female_r)
    return {
        "n": n,
        "accuracy": _ratio(tp + tn, n),
        "precision": male_p,
        "recall": male_r,
        "f1": male_f1,
        "balanced_accuracy": (male_r + female_r) / 2 if (tp + fn) and (tn + fp) else 0.0,
        "per_class": {
            "Male": {"precision": male_p, "recall": male_r, "f1": male_f1, "support": tp + fn},
            "Female": {
                "precision": female_p,
                "recall": female_r,
                "f1": female_f1,
                "support": tn + fp,
            },
        },
        "confusion": dict(c),
    }


def binary_metrics(labels: np.ndarray, p_male: np.ndarray, threshold: float = 0.5) -> dict:
    """Accuracy, precision, recall, F1 (Male positive), per-class numbers and the confusion
    counts at ``threshold``."""
    predicted = np.asarray(p_male) >= threshold
    out = from_confusion(confusion(labels, predicted))
    out["threshold"] = float(threshold)
    return out


def roc_curve(labels: np.ndarray, p_male: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score (highest first), starting at
    (0, 0); thresholds[i] is the score at or above which point i predicts Male."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(p_male, dtype=np.float64)
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    distinct = np.flatnonzero(np.diff(scores)) if len(scores) else np.array([], dtype=int)
    ends = np.r_[distinct, len(scores) - 1] if len(scores) else np.array([], dtype=int)
    tps = np.cumsum(labels)[ends] if len(scores) else np.array([])
    fps = (ends + 1) - tps
    positives, negatives = labels.sum(), (~labels).sum()
    tpr = np.r_[0.0, tps / positives] if positives else np.zeros(len(ends) + 1)
    fpr = np.r_[0.0, fps / negatives] if negatives else np.zeros(len(ends) + 1)
    thresholds = np.r_[np.inf, scores[ends]] if len(scores) else np.array([np.inf])
    return fpr, tpr, thresholds


def auc(fpr: np.ndarray, tpr: np.ndarray) -> float:
    """Area under the ROC curve (trapezoids); 0.5 is chance, 1.0 perfect."""
    if len(fpr) < 2:
        return float("nan")
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def roc_summary(labels: np.ndarray, p_male: np.ndarray, points: int = 200) -> dict[str, Any]:
    """The ROC curve thinned to about ``points`` points (for JSON and plotting) and its AUC."""
    fpr, tpr, thresholds = roc_curve(labels, p_male)
    area = auc(fpr, tpr) if labels.any() and not labels.all() else float("nan")
    if len(fpr) > points:
        keep = np.unique(np.r_[np.linspace(0, len(fpr) - 1, points).astype(int), len(fpr) - 1])
        fpr, tpr, thresholds = fpr[keep], tpr[keep], thresholds[keep]
    return {
        "fpr": fpr.round(6).tolist(),
        "tpr": tpr.round(6).tolist(),
        "thresholds": [None if not np.isfinite(t) else round(float(t), 6) for t in thresholds],
        "auc": None if np.isnan(area) else area,
    }


NOT_SLICES = {
    "image_id",
    "Male",
    "split",
    "path",
    "member",
    "file",
    "fold",
    "p_male",
    "predicted",
    "correct",
    "label",
}


def slice_masks(table: pd.DataFrame) -> list[tuple[str, str, np.ndarray]]:
    """(attribute, slice name, row mask) for every attribute column of ``table``: both values
    of a binary attribute (``Eyeglasses`` / ``no Eyeglasses``), age bands for a numeric age,
    and each value of a categorical column with a few values (race, Adience age groups).
    Names come from :mod:`gender_desktop.ml.slice_names` (readable, the same in CLI and app)."""
    out: list[tuple[str, str, np.ndarray]] = []
    for column in table.columns:
        if column in NOT_SLICES or column.startswith("_"):
            continue
        values = table[column]
        if column.lower() == "age" and pd.api.types.is_numeric_dtype(values):
            ages = values.to_numpy(dtype=float)
            for low, high, name in AGE_BANDS:
                out.append((column, name, (ages >= low) & (ages <= high)))
            continue
        distinct = values.dropna().unique()
        if len(distinct) == 0 or len(distinct) > 12:
            continue
        as_set = {str(v) for v in distinct}
        if as_set <= {"0", "1", "-1", "True", "False", "0.0", "1.0"}:
            yes = values.astype(str).isin(("1", "True", "1.0")).to_numpy()
            out.append((column, flag_slice(column, True), yes))
            out.append((column, flag_slice(column, False), ~yes & values.notna().to_numpy()))
            continue
        for value in sorted(distinct, key=str):
            out.append((column, value_slice(column, value), (values == value).to_numpy()))
    return out


@dataclass
class SliceIndex:
    """Every slice's rows as one boolean matrix (slices x images), built once per evaluation:
    moving the threshold then costs one matrix product, not a pass over every attribute."""

    attributes: list[str]
    names: list[str]
    masks: np.ndarray

    @classmethod
    def of(cls, table: pd.DataFrame) -> SliceIndex:
        found = slice_masks(table)
        n = len(table)
        masks = np.stack([m for _a, _n, m in found]) if found else np.zeros((0, n), dtype=bool)
        return cls([a for a, _n, _m in found], [name for _a, name, _m in found], masks)


def slice_table(
    table: pd.DataFrame | None,
    labels: np.ndarray,
    p_male: np.ndarray,
    threshold: float = 0.5,
    index: SliceIndex | None = None,
) -> list[dict[str, Any]]:
    """The metrics per slice, worst accuracy first (slices under MIN_SLICE images last).

    A slice that holds every image (an attribute with one value in this split) says nothing
    and is left out. Rates whose class is absent from the slice (Female recall among bearded
    faces) are None, not a misleading 0. Pass a prebuilt ``index`` to skip the table."""
    if index is None:
        assert table is not None
        index = SliceIndex.of(table)
    predicted = np.asarray(p_male) >= threshold
    labels = np.asarray(labels).astype(bool)
    total = len(labels)
    if not len(index.names):
        return []
    kinds = np.stack(
        [labels & predicted, labels & ~predicted, ~labels & predicted, ~labels & ~predicted],
        axis=1,
    ).astype(np.float32)
    counts = (index.masks.astype(np.float32) @ kinds).round().astype(np.int64)
    rows = []
    for attribute, name, (tp, fn, fp, tn) in zip(
        index.attributes, index.names, counts.tolist(), strict=True
    ):
        n = tp + fn + fp + tn
        if n == 0 or n == total:
            continue
        m = from_confusion({"tp": tp, "fn": fn, "fp": fp, "tn": tn})
        males, females = tp + fn, tn + fp
        rows.append(
            {
                "attribute": attribute,
                "slice": name,
                "n": n,
                "male_share": _ratio(males, n),
                "accuracy": m["accuracy"],
                "precision": m["precision"] if tp + fp else None,
                "recall": m["recall"] if males else None,
                "f1": m["f1"] if males else None,
                "female_recall": m["per_class"]["Female"]["recall"] if females else None,
                "errors": fp + fn,
            }
        )
    rows.sort(key=lambda r: (r["n"] < MIN_SLICE, r["accuracy"], -r["n"]))
    return rows


def operating_point(c: dict[str, int]) -> tuple[float, float]:
    """(false positive rate, true positive rate) of a confusion: the dot on the ROC curve."""
    return _ratio(c["fp"], c["fp"] + c["tn"]), _ratio(c["tp"], c["tp"] + c["fn"])


def evaluation_summary(
    table: pd.DataFrame,
    labels: np.ndarray,
    p_male: np.ndarray,
    threshold: float = 0.5,
    attributes: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Everything the evaluation view shows, at one threshold."""
    attrs = table if attributes is None else table[list(attributes)]
    return {
        "metrics": binary_metrics(labels, p_male, threshold),
        "roc": roc_summary(np.asarray(labels).astype(bool), np.asarray(p_male)),
        "slices": slice_table(attrs, labels, p_male, threshold),
    }
