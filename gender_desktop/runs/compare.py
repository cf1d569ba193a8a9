"""Several runs side by side: the notebooks' comparison table, what differs between their
settings, their curves, and whether their differences on the same test images are real.

The table is the one every notebook ends with, "Configuration | Accuracy | Precision | Recall |
F1 | Training time (s)", with the run's test evaluation (and the accuracy's 95 % interval).
The significance of each pair (McNemar's exact test and the interval of the accuracy
difference, :mod:`gender_desktop.ml.significance`) needs the two runs' predictions for the
same images: both evaluated on the test split of the same dataset (same fingerprint), paired
by image id. Otherwise the pair says why it cannot be compared.

Qt- and torch-free: the CLI, the Experiments tab (in a worker thread) and the report writer
use it alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gender_desktop import csvsafe
from gender_desktop.errors import UserError
from gender_desktop.ml.significance import PairedResult, describe, paired_test
from gender_desktop.runs.folder import EVALUATION, PREDICTIONS
from gender_desktop.runs.index import RunRecord, read_record

TABLE_COLUMNS = ("Configuration", "Accuracy", "Precision", "Recall", "F1", "Training time (s)")
# Settings that say where or how fast a run ran, not what it learned: left out of the diff.
NOT_SETTINGS = ("data", "workers", "device")
# The settings a study usually varies, named first in a configuration ("backbone=vgg16, lr=0.001").
FIRST = (
    "model.backbone", "model.scope", "weights", "lr", "batch_size", "optimizer", "epochs",
    "model.input_size", "model.hidden", "model.dropout", "weight_decay", "schedule",
)  # fmt: skip


@dataclass
class TableRow:
    """One row of the notebooks' table."""

    run: str  # the run's title
    configuration: str  # the settings that set it apart from the others ("lr=0.001, batch_size=32")
    accuracy: float | None
    accuracy_ci: tuple[float, float] | None
    precision: float | None
    recall: float | None
    f1: float | None
    auc: float | None
    train_seconds: float | None

    def cells(self) -> list[Any]:
        return [
            self.configuration,
            self.accuracy,
            self.precision,
            self.recall,
            self.f1,
            self.train_seconds,
        ]


@dataclass
class Curves:
    """A run's per-epoch numbers (metrics.csv)."""

    run: str
    epoch: list[int]
    train_loss: list[float]
    train_accuracy: list[float]
    val_loss: list[float]
    val_accuracy: list[float]


@dataclass
class Pair:
    """The significance of run ``b`` against run ``a``; ``result`` None with ``reason`` when
    the two cannot be paired."""

    a: str
    b: str
    result: PairedResult | None = None
    reason: str = ""
    note: str = ""  # e.g. images left out because their labels differ between the evaluations

    @property
    def sentence(self) -> str:
        if self.result is None:
            return f"{self.a} and {self.b} cannot be compared: {self.reason}"
        text = describe(self.a, self.b, self.result)
        return f"{text} ({self.note})" if self.note else text


@dataclass
class Comparison:
    records: list[RunRecord]
    rows: list[TableRow]
    settings: list[dict[str, Any]]  # each run's settings, flattened to dotted keys
    differing: list[str]  # the dotted keys whose values differ between the runs
    curves: list[Curves]
    pairs: list[Pair] = field(default_factory=list)

    @property
    def names(self) -> list[str]:
        return [r.title for r in self.records]

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": [str(r.path) for r in self.records],
            "table": [
                dict(zip(TABLE_COLUMNS, row.cells(), strict=True))
                | {"Run": row.run, "Accuracy 95% CI": list(row.accuracy_ci or ()), "AUC": row.auc}
                for row in self.rows
            ],
            "differing_settings": {
                key: [s.get(key) for s in self.settings] for key in self.differing
            },
            "curves": [c.__dict__ for c in self.curves],
            "significance": [
                {
                    "a": p.a,
                    "b": p.b,
                    "sentence": p.sentence,
                    **(p.result.to_dict() if p.result else {"reason": p.reason}),
                }
                for p in self.pairs
            ],
        }


def flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"model": {"lr": 1}}`` -> ``{"model.lr": 1}``; lists stay values."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def differing_keys(settings: Sequence[dict[str, Any]]) -> list[str]:
    """The dotted keys whose value is not the same in every run (a missing key differs)."""
    keys = sorted({k for s in settings for k in s if k.split(".")[-1] not in NOT_SETTINGS})
    missing = "\x00missing"
    differing = [
        k for k in keys if len({json.dumps(s.get(k, missing), default=str) for s in settings}) > 1
    ]
    return sorted(differing, key=lambda k: (FIRST.index(k) if k in FIRST else len(FIRST), k))


def _short(key: str, value: Any) -> str:
    name = key.rsplit(".", 1)[-1]
    if isinstance(value, float):
        value = f"{value:g}"
    elif isinstance(value, list):
        value = "-".join(str(v) for v in value) or "none"
    return f"{name}={value}"


def compare(paths: Sequence[Path | str]) -> Comparison:
    """Compare the runs at ``paths`` (at least one). A folder that is not a run raises a
    UserError naming it; a damaged run is compared on what it has."""
    records = []
    for path in paths:
        record = read_record(Path(path))
        if record is None:
            raise UserError("not a run folder (no config.json)", file=Path(path))
        records.append(record)
    if not records:
        raise UserError("choose at least one run to compare")
    settings = [flatten(r.settings) for r in records]
    differing = differing_keys(settings)
    rows = [_row(r, s, differing) for r, s in zip(records, settings, strict=True)]
    curves = [
        Curves(
            r.title,
            [int(h["epoch"]) for h in r.history],
            *(
                [h[k] for h in r.history]
                for k in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
            ),
        )
        for r in records
    ]
    read: dict[Path, dict[str, tuple[str, bool]]] = {}  # each predictions.csv read once

    def correct(record: RunRecord) -> dict[str, tuple[str, bool]]:
        if record.path not in read:
            read[record.path] = _correct(record)
        return read[record.path]

    pairs = [
        pair(records[i], records[j], correct)
        for i in range(len(records))
        for j in range(i + 1, len(records))
    ]
    return Comparison(records, rows, settings, differing, curves, pairs)


def _row(record: RunRecord, settings: dict[str, Any], differing: list[str]) -> TableRow:
    configuration = ", ".join(_short(k, settings.get(k)) for k in differing if k in settings)
    return TableRow(
        record.title,
        configuration or record.title,
        record.test_accuracy,
        record.test_ci,
        record.test_precision,
        record.test_recall,
        record.test_f1,
        record.test_auc,
        record.train_seconds,
    )


# -- significance ----------------------------------------------------------------------------------
def _evaluated(record: RunRecord) -> tuple[dict[str, Any] | None, str]:
    """The run's evaluation.json, or None and why it cannot be paired."""
    if record.evaluation == "":
        return None, f"{record.title} has not been evaluated"
    if record.evaluation != "test":
        return None, f"{record.title}'s evaluation is of the {record.evaluation} split, not test"
    if not record.has_predictions:
        return None, f"{record.title} has no {PREDICTIONS}"
    try:
        return json.loads((record.path / EVALUATION).read_text(encoding="utf-8")), ""
    except (OSError, ValueError) as exc:
        return None, f"{record.path / EVALUATION} cannot be read ({exc})"


def _correct(record: RunRecord) -> dict[str, tuple[str, bool]]:
    """image id -> (label, prediction right) of the run's test predictions."""
    table = csvsafe.read_csv(
        record.path / PREDICTIONS, text=("image_id", "split", "label", "prediction")
    )
    part = table[table["split"] == "test"]
    ids = part["image_id"].astype(str).to_numpy()
    labels = part["label"].astype(str).to_numpy()
    right = labels == part["prediction"].astype(str).to_numpy()
    return {i: (lab, bool(r)) for i, lab, r in zip(ids, labels, right, strict=True)}


def pair(
    a: RunRecord,
    b: RunRecord,
    correct: Callable[[RunRecord], dict[str, tuple[str, bool]]] | None = None,
) -> Pair:
    """McNemar and the difference interval of ``b`` against ``a`` on their common test images,
    or why they are not comparable (not evaluated, another split, another dataset)."""
    out = Pair(a.title, b.title)
    (ea, why_a), (eb, why_b) = _evaluated(a), _evaluated(b)
    if ea is None or eb is None:
        out.reason = why_a or why_b
        return out
    fa, fb = (e.get("dataset", {}).get("fingerprint") for e in (ea, eb))
    if not fa or fa != fb:
        out.reason = "they were evaluated on different datasets (or different versions of one)"
        return out
    try:
        ca, cb = (correct or _correct)(a), (correct or _correct)(b)
    except (OSError, ValueError, KeyError, UserError) as exc:
        out.reason = f"their {PREDICTIONS} cannot be read ({exc})"
        return out
    common = sorted(set(ca) & set(cb))
    same_label = [i for i in common if ca[i][0] == cb[i][0]]
    if not same_label:
        out.reason = "they have no test images in common"
        return out
    notes = []
    if len(same_label) < len(common):
        notes.append(
            f"{len(common) - len(same_label):,} images relabelled between the evaluations left out"
        )
    if len(common) < max(len(ca), len(cb)):
        notes.append(
            f"{max(len(ca), len(cb)) - len(common):,} images only one run predicted left out"
        )
    out.note = "; ".join(notes)
    out.result = paired_test(
        np.array([ca[i][1] for i in same_label]), np.array([cb[i][1] for i in same_label])
    )
    return out
