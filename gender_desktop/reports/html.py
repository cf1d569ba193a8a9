"""The single-file HTML report: one page that can be mailed, archived or printed.

Everything is inside the file: the stylesheet, and the figures as base64 PNG ``data:`` URIs
(rendered by the app's own plots, :mod:`gender_desktop.ui.report_figures`). No script, no
external font or image, so it opens the same offline, years later, and prints as it shows.

Every text that comes from a file (run names, notes, tags, dataset paths, settings, slice
names) is HTML-escaped where it is written into the page: a run named
``<script>alert(1)</script>`` is shown as that text, never run.
"""

from __future__ import annotations

import base64
import datetime
import html
from collections.abc import Sequence
from typing import Any

from gender_desktop import __version__
from gender_desktop.reports.content import ReportContent, choice_metric
from gender_desktop.reports.tables import fraction, interval

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d1d1f;
  max-width: 1120px; margin: 24px auto; padding: 0 24px; background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 28px 0 8px;
  border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta, .hint { color: #666; font-size: 12.5px; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; width: 100%; }
th, td { border: 1px solid #d6d6d6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f3f5; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.top { font-weight: 700; }
tr.chosen td:first-child::before { content: "\\2605  "; color: #c77c00; }
tr.differs td { background: #fff4c2; } tr.differs td:first-child { font-weight: 600; }
td.name { max-width: 240px; overflow-wrap: anywhere; }
.settings td { overflow-wrap: anywhere; }
ul.sig li.yes { font-weight: 600; } ul.sig li { margin: 3px 0; }
figure { margin: 12px 0 20px; } figure img { max-width: 100%; border: 1px solid #e3e3e3; }
figcaption { color: #555; font-size: 12.5px; margin-top: 4px; }
.summary { background: #f5f8fc; border: 1px solid #d9e4f2; padding: 10px 14px; }
.muted { color: #777; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; }
  figure, table, .summary { break-inside: avoid; } tr.differs td { background: #fff4c2 !important;
  -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""

FIGURE_CAPTIONS = {
    "curves": "Validation accuracy and loss per epoch, one colour per run.",
    "metrics": "Test accuracy, precision, recall and F1 per run; the error bar is the "
    "accuracy's 95% interval.",
    "time": "Training time per run (sum of the epochs' times).",
    "confusion": "Confusion matrix of each run on its test images (rows: true class, "
    "columns: predicted).",
    "parallel": "Parallel coordinates: one line per run across the settings that differ and "
    "its val loss at the kept epoch (brighter = better).",
}
SLICE_ROWS = 15  # the worst slices of the best run: enough to see where it fails


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(header: Sequence[str], rows: Sequence[str], numeric: set[int], cls: str = "") -> str:
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(header)
    )
    attr = f' class="{cls}"' if cls else ""
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cells(values: Sequence[tuple[str, str]]) -> str:
    """``(text, css class)`` pairs as cells; the text is escaped here."""
    return "".join(
        f'<td class="{c}">{esc(t)}</td>' if c else f"<td>{esc(t)}</td>" for t, c in values
    )


def render(content: ReportContent, figures: dict[str, bytes]) -> str:
    parts = [
        _header(content),
        _summary(content),
        _metrics(content),
        _significance(content),
        _figures(figures),
        _settings(content),
        _slices(content),
        _trials(content),
        _notes(content),
        _sources(content),
    ]
    body = "\n".join(p for p in parts if p)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(content.title)}</title><style>{STYLE}</style></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def _header(content: ReportContent) -> str:
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    what = f"sweep {content.sweep!r}, " if content.sweep else ""
    return (
        f"<h1>{esc(content.title)}</h1><p class='meta'>{esc(what)}{len(content.rows)} run(s) · "
        f"written {esc(when)} by gender-desktop {esc(__version__)}</p>"
    )


def _summary(content: ReportContent) -> str:
    best = content.best
    if best is None:
        return "<p class='summary'>No run has a finished epoch: nothing to choose from.</p>"
    records = content.comparison.records
    record = records[best]
    rule = (
        "the highest val accuracy"
        if choice_metric(records) == "val_accuracy"
        else f"the lowest val loss, {esc(fraction(record.best_val_loss))}"
    )
    return (
        "<p class='summary'>Chosen on validation: <b>"
        f"{esc(record.title)}</b> (val accuracy {esc(fraction(record.best_val_accuracy))} at "
        f"epoch {esc(record.best_epoch)}; chosen by {rule}). Test numbers are shown for every "
        "run but were not used for the choice.</p>"
    )


def _top(values: list[float | None]) -> set[int]:
    """Which rows hold the column's best value (bold), when more than one run has one."""
    known = [v for v in values if v is not None]
    if len(known) < 2:
        return set()
    best = max(known)
    return {i for i, v in enumerate(values) if v is not None and v == best}


def _metrics(content: ReportContent) -> str:
    rows = content.rows
    columns = {
        "accuracy": [r.accuracy for r in rows], "precision": [r.precision for r in rows],
        "recall": [r.recall for r in rows], "f1": [r.f1 for r in rows],
        "auc": [r.auc for r in rows], "val": [r.best_val_accuracy for r in rows],
    }  # fmt: skip
    tops = {k: _top(v) for k, v in columns.items()}
    times = [-(r.train_seconds) if r.train_seconds is not None else None for r in rows]
    fastest = _top(times)
    lines = []
    for i, r in enumerate(rows):

        def num(key: str, value: float | None, i: int = i) -> tuple[str, str]:
            return fraction(value), "num top" if i in tops[key] else "num"

        cells = _cells(
            [
                (r.run, "name"), (r.configuration, "name"), num("accuracy", r.accuracy),
                (interval(r.ci, 3), "num"), num("precision", r.precision),
                num("recall", r.recall), num("f1", r.f1), num("auc", r.auc),
                num("val", r.best_val_accuracy), (r.epochs, "num"),
                ("" if r.train_seconds is None else f"{r.train_seconds:,.1f}",
                 "num top" if i in fastest else "num"),
                (content.comparison.records[i].status, ""),
            ]
        )  # fmt: skip
        chosen = ' class="chosen"' if i == content.best else ""
        lines.append(f"<tr{chosen}>{cells}</tr>")
    header = (
        "Run", "Configuration", "Accuracy", "95% CI", "Precision", "Recall", "F1", "AUC",
        "Best val accuracy", "Epochs", "Training time (s)", "Status",
    )  # fmt: skip
    return (
        "<h2>Results</h2>"
        + _table(header, lines, set(range(2, 11)))
        + "<p class='hint'>Test split. Bold: the best value of a column (the shortest time). "
        "★: the run chosen on validation. Configuration: the settings that set the run apart. "
        "The accuracy's 95% interval is Wilson's.</p>"
    )


def _significance(content: ReportContent) -> str:
    if not content.pairs:
        return ""
    items = "".join(
        f"<li class='{'yes' if p.result is not None and p.result.significant else 'no'}'>"
        f"{esc(p.sentence)}</li>"
        for p in content.pairs
    )
    left = content.pairs_left_out
    more = (
        f"<p class='hint'>{left:,} other pairs left out: each run is compared with the chosen one.</p>"
        if left
        else ""
    )
    return (
        "<h2>Are the differences real?</h2><ul class='sig'>"
        f"{items}</ul>{more}<p class='hint'>McNemar's exact test on the two runs' predictions for "
        "the same test images, and the 95% interval of the accuracy difference (Agresti–Min). "
        "Not distinguishable: the images do not show that either run is better.</p>"
    )


def _figures(figures: dict[str, bytes]) -> str:
    if not figures:
        return ""
    out = ["<h2>Figures</h2>"]
    for name, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        caption = FIGURE_CAPTIONS.get(name, name)
        out.append(
            f"<figure><img alt='{esc(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{esc(caption)}</figcaption></figure>"
        )
    return "".join(out)


def _settings(content: ReportContent) -> str:
    """Every setting of every run, the differing ones first and highlighted (the rest are
    kept: a reader checks that what should be equal is)."""
    comparison = content.comparison
    differing = set(comparison.differing)
    keys = sorted(
        {k for s in comparison.settings for k in s}, key=lambda k: (k not in differing, k)
    )
    rows = []
    for key in keys:
        values = [_setting_text(s.get(key, "—")) for s in comparison.settings]
        cls = ' class="differs"' if key in differing else ""
        rows.append(f"<tr{cls}>{_cells([(key, ''), *((v, '') for v in values)])}</tr>")
    ran_on = [r.device for r in comparison.records]
    cls = ' class="differs"' if len(set(ran_on)) > 1 else ""
    rows.append(f"<tr{cls}>{_cells([('ran on', ''), *((v, '') for v in ran_on)])}</tr>")
    header = ["Setting", *comparison.names]
    note = (
        "Highlighted, and first: the settings that differ between the runs."
        if len(comparison.records) > 1
        else "The run's settings as config.json saved them."
    )
    return (
        "<h2>Settings</h2>"
        + _table(header, rows, set(), "settings")
        + f"<p class='hint'>{esc(note)}</p>"
    )


def _setting_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "none"
    return str(value)


def _slices(content: ReportContent) -> str:
    if content.best is None:
        return ""
    name = content.comparison.records[content.best].title
    slices = content.best_slices
    if not slices:
        return (
            f"<h2>Slices of {esc(name)}</h2><p class='muted'>No slice table: the run has no test "
            "evaluation, or its dataset has no attributes to slice by.</p>"
        )
    rows = []
    for s in slices[:SLICE_ROWS]:
        cells = [
            (s.get("attribute", ""), ""), (s.get("slice", ""), ""),
            (f"{int(s.get('n', 0)):,}", "num"), (fraction(s.get("male_share"), 2), "num"),
            (fraction(s.get("accuracy")), "num"), (fraction(s.get("recall")), "num"),
            (fraction(s.get("female_recall")), "num"), (f"{int(s.get('errors', 0)):,}", "num"),
        ]  # fmt: skip
        rows.append(f"<tr>{_cells(cells)}</tr>")
    header = (
        "Attribute", "Slice", "Images", "Male share", "Accuracy", "Male recall",
        "Female recall", "Errors",
    )  # fmt: skip
    more = len(slices) - SLICE_ROWS
    tail = f" ({more:,} more slices in its evaluation.json)" if more > 0 else ""
    return (
        f"<h2>Where {esc(name)} fails: its test slices, worst first</h2>"
        + _table(header, rows, set(range(2, 8)))
        + f"<p class='hint'>Slices under 10 images are listed last: their numbers are noise.{esc(tail)}</p>"
    )


def _trials(content: ReportContent) -> str:
    if not content.sweep:
        return ""
    rows = []
    for i, (record, row) in enumerate(zip(content.comparison.records, content.rows, strict=True)):
        trial = record.sweep.get("trial", "")
        chosen = ' class="chosen"' if i == content.best else ""
        cells = _cells(
            [
                (trial, "num"), (record.title, "name"), (record.status, ""),
                (row.configuration, "name"), (fraction(record.best_val_accuracy), "num"),
                (fraction(record.best_val_loss), "num"), (fraction(record.test_accuracy), "num muted"),
            ]
        )  # fmt: skip
        rows.append(f"<tr{chosen}>{cells}</tr>")
    header = ("Trial", "Run", "State", "Parameters", "Val accuracy", "Val loss", "Test accuracy")
    return (
        f"<h2>Trials of sweep {esc(content.sweep)}</h2>"
        + _table(header, rows, {0, 4, 5, 6})
        + "<p class='hint'>The best trial is chosen on validation (val accuracy at the epoch of "
        "lowest val loss); test accuracy (grey) was not used for the choice.</p>"
    )


def _notes(content: ReportContent) -> str:
    items = []
    for record in content.comparison.records:
        bits = []
        if record.tags:
            bits.append("tags: " + ", ".join(record.tags))
        if record.note:
            bits.append(record.note)
        if record.problem:
            bits.append("problem: " + record.problem)
        if bits:
            items.append(f"<li><b>{esc(record.title)}</b>: {esc(' · '.join(bits))}</li>")
    return f"<h2>Notes</h2><ul>{''.join(items)}</ul>" if items else ""


def _sources(content: ReportContent) -> str:
    items = "".join(f"<li>{esc(r.path)}</li>" for r in content.comparison.records)
    return f"<h2>Run folders</h2><ul class='hint'>{items}</ul>"
