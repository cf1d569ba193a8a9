"""The report's table in the notebooks' shape, as CSV and as Markdown.

"Configuration | Accuracy | Precision | Recall | F1 | Training time (s)" is the table every
notebook study ends with; the report adds what makes it honest: the AUC, the accuracy's 95 %
interval (Wilson), the validation accuracy the run was chosen on, and the epochs it ran. CSV
cells hold the exact values of each run's evaluation.json (fractions, not percentages) and go
through :mod:`gender_desktop.csvsafe`, so a run named ``=HYPERLINK(...)`` stays text in a
spreadsheet; Markdown rounds for reading and escapes the characters that would break a cell.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gender_desktop import csvsafe
from gender_desktop.runs.compare import TABLE_COLUMNS, Comparison
from gender_desktop.runs.index import RunRecord

EXTRA_COLUMNS = ("AUC", "Accuracy 95% CI low", "Accuracy 95% CI high", "Best val accuracy")
CSV_COLUMNS = (*TABLE_COLUMNS, *EXTRA_COLUMNS, "Epochs", "Run", "Folder")
MD_COLUMNS = (*TABLE_COLUMNS, "AUC", "Accuracy 95% CI", "Best val accuracy", "Epochs")


@dataclass
class ReportRow:
    """One run's line of the table (numbers None where the run lacks them)."""

    configuration: str
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    train_seconds: float | None
    auc: float | None
    ci: tuple[float, float] | None
    best_val_accuracy: float | None  # at the epoch of lowest val loss: the weights tested
    epochs: str  # "done/planned"
    run: str  # the run's title
    folder: str  # the folder's name

    def as_csv(self) -> dict[str, Any]:
        low, high = self.ci if self.ci else (None, None)
        values = (
            self.configuration, self.accuracy, self.precision, self.recall, self.f1,
            self.train_seconds, self.auc, low, high, self.best_val_accuracy, self.epochs,
            self.run, self.folder,
        )  # fmt: skip
        return dict(zip(CSV_COLUMNS, values, strict=True))


def report_rows(comparison: Comparison) -> list[ReportRow]:
    """The comparison's rows with the extra columns, in the order the runs were given."""
    return [
        _row(row.configuration, record)
        for row, record in zip(comparison.rows, comparison.records, strict=True)
    ]


def _row(configuration: str, r: RunRecord) -> ReportRow:
    return ReportRow(
        configuration, r.test_accuracy, r.test_precision, r.test_recall, r.test_f1,
        r.train_seconds, r.test_auc, r.test_ci, r.best_val_accuracy, r.epochs_text, r.title,
        r.name,
    )  # fmt: skip


def csv_bytes(rows: list[ReportRow]) -> bytes:
    return csvsafe.rows_csv(CSV_COLUMNS, (row.as_csv() for row in rows))


def fraction(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def interval(ci: tuple[float, float] | None, digits: int = 4) -> str:
    return "" if ci is None else f"{ci[0]:.{digits}f}–{ci[1]:.{digits}f}"


def md_cell(text: str) -> str:
    """Text safe inside a Markdown table cell: pipes and backslashes escaped, line breaks and
    HTML-like brackets made inert (Markdown viewers render inline HTML)."""
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return " ".join(text.split())


def markdown(rows: list[ReportRow], title: str, sentences: list[str]) -> str:
    """The table under a heading, and the significance sentences under it."""
    lines = [f"# {md_cell(title)}", "", "| " + " | ".join(MD_COLUMNS) + " |"]
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(MD_COLUMNS) - 1)) + "|")
    for row in rows:
        time = "" if row.train_seconds is None else f"{row.train_seconds:.1f}"
        cells = [
            md_cell(row.configuration), fraction(row.accuracy), fraction(row.precision),
            fraction(row.recall), fraction(row.f1), time, fraction(row.auc), interval(row.ci),
            fraction(row.best_val_accuracy), row.epochs,
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Test split metrics; the accuracy's 95% interval is Wilson's."]
    if sentences:
        lines += ["", "## Significance (McNemar's exact test on the same test images)", ""]
        lines += [f"- {md_cell(s)}" for s in sentences]
    return "\n".join(lines) + "\n"
