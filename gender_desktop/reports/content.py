"""What a report says, whatever its format: the runs' comparison, the run chosen on
validation, the pairs worth a sentence, and that run's slice table.

The choice is honest model selection: the best run is the one with the highest validation
accuracy at its best epoch (the weights its test numbers come from), ties going to the lower
validation loss; test numbers never take part in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gender_desktop.data.sources import read_regular
from gender_desktop.errors import UserError
from gender_desktop.reports.tables import ReportRow, report_rows
from gender_desktop.runs.compare import Comparison, Pair
from gender_desktop.runs.folder import EVALUATION
from gender_desktop.runs.index import MAX_EVALUATION_BYTES, RunRecord

MAX_PAIRS = 15  # beyond this many pairs, each run is compared with the chosen one only


@dataclass
class ReportContent:
    comparison: Comparison
    title: str
    sweep: str = ""  # the study's name when the runs are one sweep's trials
    rows: list[ReportRow] = field(default_factory=list)
    best: int | None = None  # index of the run chosen on validation
    pairs: list[Pair] = field(default_factory=list)
    pairs_left_out: int = 0
    best_slices: list[dict[str, Any]] = field(default_factory=list)

    @property
    def sentences(self) -> list[str]:
        return [p.sentence for p in self.pairs]


def choice_metric(records: list[RunRecord]) -> str:
    """What the choice on validation compares: val accuracy when every run kept its epoch of
    highest val accuracy (``best_metric``), else the lowest val loss, the default rule, which
    is also a sweep's (so a report and Sweep Results name the same best trial)."""
    metrics = {str(r.settings.get("best_metric", "val_loss")) for r in records}
    return "val_accuracy" if metrics == {"val_accuracy"} else "val_loss"


def chosen_on_validation(records: list[RunRecord]) -> int | None:
    """The run chosen on validation by :func:`choice_metric`, ties broken by the other."""
    metric = choice_metric(records)
    candidates = [
        i
        for i, r in enumerate(records)
        if (r.best_val_loss if metric == "val_loss" else r.best_val_accuracy) is not None
    ]
    if not candidates:
        return None
    if metric == "val_loss":
        return min(
            candidates,
            key=lambda i: (records[i].best_val_loss, -(records[i].best_val_accuracy or 0.0)),
        )
    return max(
        candidates,
        key=lambda i: (records[i].best_val_accuracy, -(records[i].best_val_loss or 0.0)),
    )


def read_slices(record: RunRecord) -> list[dict[str, Any]]:
    """The slice table of the run's test evaluation (evaluation.json ``slices``), or none."""
    if record.evaluation != "test":
        return []
    try:
        saved = json.loads(read_regular(record.path / EVALUATION, MAX_EVALUATION_BYTES))
    except (UserError, OSError, ValueError):
        return []
    slices = saved.get("slices") if isinstance(saved, dict) else None
    return [s for s in slices if isinstance(s, dict)] if isinstance(slices, list) else []


def build_content(comparison: Comparison, title: str = "", sweep: str = "") -> ReportContent:
    records = comparison.records
    best = chosen_on_validation(records)
    pairs = comparison.pairs
    left_out = 0
    if len(pairs) > MAX_PAIRS and best is not None:
        chosen = records[best].title
        kept = [p for p in pairs if chosen in (p.a, p.b)]
        left_out, pairs = len(pairs) - len(kept), kept
    if not title:
        title = f"Sweep {sweep}" if sweep else f"Comparison of {len(records)} runs"
        if len(records) == 1:
            title = f"Run {records[0].title}"
    return ReportContent(
        comparison=comparison,
        title=title,
        sweep=sweep,
        rows=report_rows(comparison),
        best=best,
        pairs=pairs,
        pairs_left_out=left_out,
        best_slices=read_slices(records[best]) if best is not None else [],
    )
