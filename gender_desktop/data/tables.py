"""Parsing helpers shared by the layout readers: CSV/whitespace tables with errors that name the
file and line, and the -1/1 or 0/1 attribute coding check."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from gender_desktop.data.errors import DatasetError

_LINE_RE = re.compile(r"line (\d+)")


BOM = b"\xef\xbb\xbf"
# Bounds that keep a hostile or wrong file cheap to refuse: CelebA has 41 columns and lines of
# about 130 bytes. A 200,000-column header once cost minutes and gigabytes before failing.
MAX_COLUMNS = 1000
MAX_LINE_BYTES = 256 * 1024
# The names the app gives its own columns (the dataset table and predictions.csv). A source
# column spelled the same is kept under another name (see :func:`attribute_names`).
RESERVED = ("image_id", "path", "name", "Male", "split", "fold", "label", "p_male", "prediction")
RENAMED = "{} (attribute)"


def check_shape(data: bytes, display: str, sep: str | None = None) -> None:
    """Refuse, before parsing, a table whose lines or header are far beyond any dataset's.

    ``sep`` is the field separator (None: runs of whitespace). Costs one pass over the bytes.
    """
    first = data.find(b"\n")
    header = data if first < 0 else data[:first]
    if len(header) > MAX_LINE_BYTES:
        raise DatasetError(
            f"the first line is {len(header):,} bytes long; lines of at most "
            f"{MAX_LINE_BYTES:,} bytes are read (is this the right file?)",
            display,
            1,
        )
    fields = len(header.split()) if sep is None else header.count(sep.encode()) + 1
    if fields > MAX_COLUMNS:
        raise DatasetError(
            f"the header has {fields:,} columns; at most {MAX_COLUMNS:,} are supported",
            display,
            1,
        )
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    if len(ends):
        lengths = np.diff(ends, prepend=-1)
        longest = int(lengths.argmax())
        last = len(data) - int(ends[-1]) - 1
        if lengths[longest] > MAX_LINE_BYTES:
            raise DatasetError(
                f"line {longest + 1:,} is {int(lengths[longest]):,} bytes long; lines of at "
                f"most {MAX_LINE_BYTES:,} bytes are read (is this the right file?)",
                display,
                longest + 1,
            )
        if last > MAX_LINE_BYTES:
            raise DatasetError(
                f"the last line is {last:,} bytes long; lines of at most {MAX_LINE_BYTES:,} "
                "bytes are read (is this the right file?)",
                display,
                len(ends) + 1,
            )


def attribute_names(
    names: list[str], display: str, reserved: tuple[str, ...] = RESERVED
) -> tuple[dict[str, str], list[str]]:
    """Table names for a source's attribute columns, so none collides with the app's own.

    An attribute spelled like an internal column (``path``, ``name``, ``split``...) keeps its
    values and stays visible in the filters under ``"<name> (attribute)"``; a warning says so.
    Returns the mapping (only the renamed ones) and the warnings.
    """
    taken = set(names) | set(reserved)
    mapping: dict[str, str] = {}
    warnings: list[str] = []
    for name in names:
        if name not in reserved:
            continue
        new = RENAMED.format(name)
        k = 2
        while new in taken:
            new, k = f"{RENAMED.format(name)} {k}", k + 1
        taken.add(new)
        mapping[name] = new
        warnings.append(
            f"{display}: the column {name!r} has the name of one of the app's own columns; "
            f"it is kept as {new!r}"
        )
    return mapping, warnings


def header_names(data: bytes, sep: str) -> list[str]:
    """The column names of a delimited table's first line, stripped, as written (pandas would
    rename a repeated name to ``name.1`` and hide the repetition)."""
    first = data.removeprefix(BOM).split(b"\n", 1)[0].decode("utf-8", "replace").rstrip("\r")
    return [name.strip() for name in next(csv.reader([first], delimiter=sep), [])]


def check_header(names: list[str], display: str, line: int) -> None:
    """Refuse a header that repeats a name, or has more than one candidate for the label.

    ``Male`` and ``male`` side by side would leave it to chance which one is trained on.
    """
    seen: dict[str, int] = {}
    for pos, name in enumerate(names, 1):
        if name in seen:
            raise DatasetError(
                f"the header repeats the column name {name!r} (columns {seen[name]} and {pos})",
                display,
                line,
            )
        seen[name] = pos
    males = [n for n in names if n.strip().lower() == "male"]
    if len(males) > 1:
        shown = " and ".join(repr(m) for m in males)
        raise DatasetError(
            f"more than one column could be the label: {shown} (names are matched "
            "case-insensitively); rename or remove all but one",
            display,
            line,
        )


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
    sep = kwargs.get("sep", ",")
    check_shape(data, display, None if sep == r"\s+" else str(sep))
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
    """The first column whose name matches one of ``names``: exactly if one does, else
    case-insensitively (the leftmost such column)."""
    columns = [str(c) for c in frame.columns]
    lower: dict[str, str] = {}
    for c in columns:
        lower.setdefault(c.strip().lower(), c)
    for name in names:
        if name in columns:
            return name
        if name.lower() in lower:
            return lower[name.lower()]
    return None
