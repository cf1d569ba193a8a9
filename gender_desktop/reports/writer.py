"""Write a report of runs or of a sweep: ``.csv``, ``.md`` or a single-file ``.html``.

The HTML report's figures are the app's own plots, which need Qt; this module is Qt-free,
so the figures come in through ``render`` (a function of the comparison giving PNG bytes by
figure name). :func:`gender_desktop.ui.report_figures.write_report` passes the app's renderer;
the CLI and the app's report child call that one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from gender_desktop.errors import UserError
from gender_desktop.fileio import atomic_write_bytes
from gender_desktop.reports import html as html_report
from gender_desktop.reports.content import build_content
from gender_desktop.reports.tables import csv_bytes, markdown
from gender_desktop.runs.compare import Comparison, compare
from gender_desktop.runs.index import list_records, read_record

FigureRenderer = Callable[[Comparison], dict[str, bytes]]
FORMATS = {".csv": "csv", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}


def report_format(out: Path) -> str:
    """csv, md or html, from the file's suffix (a typo is a message, not a guess)."""
    kind = FORMATS.get(Path(out).suffix.lower())
    if kind is None:
        raise UserError("the report's name must end in .html, .md or .csv", file=out)
    return kind


def sweep_runs(study_name: str, root: Path | None = None) -> list[Path]:
    """The run folders of the sweep ``study_name`` (meta.json's sweep.study) under ``root``
    (default: the workspace), in trial order."""
    found = [r for r in list_records(root) if r.sweep_name == study_name]

    def trial(record) -> tuple[int, str]:
        number = record.sweep.get("trial")
        return (number if isinstance(number, int) else 1 << 30, record.name)

    return [r.path for r in sorted(found, key=trial)]


def common_sweep(run_paths: Sequence[Path]) -> str:
    """The study every run belongs to, or "" (a selection across sweeps is not a sweep)."""
    studies = set()
    for path in run_paths:
        record = read_record(Path(path))
        studies.add(record.sweep_name if record is not None else "")
    (only,) = studies if len(studies) == 1 else ("",)
    return only


def write_report(
    run_paths: Sequence[Path],
    out: Path,
    title: str = "",
    render: FigureRenderer | None = None,
) -> Path:
    """Write the report of ``run_paths`` to ``out`` (format by its suffix) atomically and
    return its path. A folder that is not a run raises a UserError naming it. HTML without
    ``render`` has no figures (the tables, sentences and settings are all there)."""
    out = Path(out)
    kind = report_format(out)
    if not run_paths:
        raise UserError("choose at least one run for the report")
    comparison = compare(run_paths)
    content = build_content(comparison, title, common_sweep(run_paths))
    if kind == "csv":
        atomic_write_bytes(out, csv_bytes(content.rows))
    elif kind == "md":
        _write_text(out, markdown(content.rows, content.title, content.sentences))
    else:
        figures = render(comparison) if render is not None else {}
        _write_text(out, html_report.render(content, figures))
    return out


def _write_text(out: Path, text: str) -> None:
    """UTF-8; a folder name that is not valid UTF-8 (a lone surrogate) shows as an escape
    rather than failing the report."""
    atomic_write_bytes(out, text.encode("utf-8", "backslashreplace"))
