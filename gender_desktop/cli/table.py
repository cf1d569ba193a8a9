"""Plain-text tables for the terminal: columns padded to their widest cell, numbers right-aligned.

``runs`` and ``compare`` print rows of mixed text and numbers; a dependency (tabulate, rich) for
one padding loop is not worth it.
"""

from __future__ import annotations

from collections.abc import Sequence

from gender_desktop.durations import duration_text


def percent(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{100 * value:.{digits}f}%"


def seconds(value: float | None) -> str:
    return duration_text(value, empty="")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """The rows under the header, columns ``numeric`` (indices) right-aligned."""
    widths = [len(h) for h in header]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])
