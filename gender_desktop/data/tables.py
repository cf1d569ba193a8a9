"""Parsing helpers shared by the layout readers: CSV/whitespace tables with errors that name the
file and line, and the -1/1 or 0/1 attribute coding check."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from gender_desktop.data.errors import DatasetError

_LINE_RE = re.compile(r"line (\d+)")


BOM = b"\xef\xbb\xbf"


def read_table(data: bytes, display: str, **kwargs: object) -> pd.DataFrame:
    """``pandas.read_csv`` (C engine) with its errors turned into :class:`DatasetError`.

    Blank lines are dropped *after* parsing, keeping each row's index label equal to its line
    offset, so :func:`line_of` names the right line in a file with blank lines in it.
    """
    data = data.removeprefix(BOM)
    if not data.strip():
        raise DatasetError("the file is empty", display)
    if b"\x00" in data[:4096]:
        raise DatasetError("this is not a text table (it contains binary data)", display)
    try:
        frame = pd.read_csv(io.BytesIO(data), skip_blank_lines=False, **kwargs)  # type: ignore[call-overload]
    except pd.errors.EmptyDataError as exc:
        raise DatasetError("the file has no rows", display) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        match = _LINE_RE.search(text)
        line = int(match.group(1)) if match else None
        reason = text.replace("Error tokenizing data. C error: ", "")
        reason = _LINE_RE.sub("", reason).replace(" in ,", ",").strip(" ,")
        raise DatasetError(reason or "cannot be parsed", display, line) from exc
    first = frame.iloc[:, 0]
    candidates = first.isna() | (first == "")  # NaN for whitespace tables, "" for str ones
    if candidates.any():  # only rows whose first field is empty can be blank lines
        sub = frame[candidates]
        blank = (sub.isna() | (sub.astype(str).apply(lambda c: c.str.strip()) == "")).all(axis=1)
        frame = frame.drop(index=sub.index[blank])
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed:") and _empty(frame[c])]
    frame = frame.drop(columns=unnamed)  # a trailing comma on every line
    if frame.empty:
        raise DatasetError("the file has a header but no rows", display)
    return frame


def _empty(column: pd.Series) -> bool:
    return bool((column.isna() | (column.astype(str).str.strip() == "")).all())


def line_of(frame: pd.DataFrame | pd.Series, position: int, first_row_line: int) -> int:
    """The file line of the row at ``position`` (blank lines counted)."""
    return int(frame.index[position]) + first_row_line


def check_unique_ids(ids: pd.Series, display: str, first_row_line: int) -> None:
    dup = ids.duplicated(keep=False)
    if dup.any():
        positions = np.flatnonzero(dup.to_numpy())
        name = ids.iloc[positions[0]]
        lines = [line_of(ids, p, first_row_line) for p in positions if ids.iloc[p] == name][:5]
        raise DatasetError(
            f"duplicate image id {name!r} (lines {', '.join(map(str, lines))}); "
            f"{int(dup.sum())} rows share an id",
            display,
            lines[0],
        )


def coded_flags(
    frame: pd.DataFrame, columns: list[str], display: str, first_row_line: int
) -> pd.DataFrame:
    """Turn -1/1 or 0/1 attribute columns into booleans, rejecting anything else with its line.

    A column may use -1/1 (official CelebA) or 0/1 (many subsets); one that mixes -1 with 0 is
    ambiguous and rejected.
    """
    out: dict[str, np.ndarray] = {}
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        raw = values.to_numpy(dtype="float64", na_value=np.nan)
        bad = ~np.isin(raw, (-1.0, 0.0, 1.0))
        if bad.any():
            pos = int(np.flatnonzero(bad)[0])
            shown = frame[col].iloc[pos]
            if isinstance(shown, float) and shown.is_integer():
                shown = int(shown)  # blank lines made the column float; show what was written
            shown = "an empty value" if pd.isna(shown) else repr(str(shown))
            raise DatasetError(
                f"column {col!r} has {shown}; values must be -1/1 or 0/1",
                display,
                line_of(frame, pos, first_row_line),
            )
        if (raw == -1).any() and (raw == 0).any():
            pos = int(np.flatnonzero(raw == 0)[0])
            raise DatasetError(
                f"column {col!r} mixes -1/1 and 0/1 coding (a 0 here, -1 elsewhere)",
                display,
                line_of(frame, pos, first_row_line),
            )
        out[col] = raw == 1
    return pd.DataFrame(out, index=frame.index)


def find_column(frame: pd.DataFrame, *names: str) -> str | None:
    """The first column whose name matches one of ``names`` case-insensitively."""
    lower = {str(c).strip().lower(): c for c in frame.columns}
    for name in names:
        if name.lower() in lower:
            return str(lower[name.lower()])
    return None
