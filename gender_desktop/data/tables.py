"""Parsing helpers shared by the layout readers: CSV/whitespace tables with errors that name the
file and line, and the -1/1 or 0/1 attribute coding check."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd

from gender_desktop.data.errors import DatasetError

_LINE_RE = re.compile(r"line (\d+)")


def read_table(
    data: bytes, display: str, *, header_line: int = 1, **kwargs: object
) -> pd.DataFrame:
    """``pandas.read_csv`` (C engine) with its errors turned into :class:`DatasetError`.

    ``header_line`` is the 1-based line of the column header, used to name lines in errors when the
    caller passes ``skiprows``/``names`` itself.
    """
    if not data.strip():
        raise DatasetError("the file is empty", display)
    if b"\x00" in data[:4096]:
        raise DatasetError("this is not a text table (it contains binary data)", display)
    try:
        frame = pd.read_csv(io.BytesIO(data), **kwargs)  # type: ignore[call-overload]
    except pd.errors.EmptyDataError as exc:
        raise DatasetError("the file has no rows", display) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        match = _LINE_RE.search(text)
        line = int(match.group(1)) if match else None
        reason = text.replace("Error tokenizing data. C error: ", "")
        reason = _LINE_RE.sub("", reason).replace(" in ,", ",").strip(" ,")
        raise DatasetError(reason or "cannot be parsed", display, line) from exc
    if frame.empty:
        raise DatasetError("the file has a header but no rows", display)
    return frame


def check_unique_ids(ids: pd.Series, display: str, first_row_line: int) -> None:
    dup = ids.duplicated(keep=False)
    if dup.any():
        positions = np.flatnonzero(dup.to_numpy())
        name = ids.iloc[positions[0]]
        lines = [int(p) + first_row_line for p in positions if ids.iloc[p] == name][:5]
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
            shown = "an empty value" if pd.isna(shown) else repr(str(shown))
            raise DatasetError(
                f"column {col!r} has {shown}; values must be -1/1 or 0/1",
                display,
                pos + first_row_line,
            )
        if (raw == -1).any() and (raw == 0).any():
            pos = int(np.flatnonzero(raw == 0)[0])
            raise DatasetError(
                f"column {col!r} mixes -1/1 and 0/1 coding (a 0 here, -1 elsewhere)",
                display,
                pos + first_row_line,
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
