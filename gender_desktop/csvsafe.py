"""Every CSV the app writes: text cells a spreadsheet shows as text, read back as they were.

Spreadsheets (Excel, LibreOffice, Google Sheets) run a cell that starts with ``=``, ``+``, ``-``
or ``@`` as a formula, and a leading tab or carriage return can smuggle one in (OWASP, "CSV
Injection"). A file name such as ``=HYPERLINK("http://…")`` in an exported CSV would then run when
the user opens the file. OWASP's advice is followed: such a *text* cell is written with a single
quote in front, which a spreadsheet shows as text. Numbers are not text: ``-1`` (CelebA's "no")
stays a number.

The app's own readers strip that quote again (:func:`read_csv`, :func:`unescape_frame`), so its
files read back to the same ids and values. The rule is a bijection, so *any* string survives a
write and a read:

- :func:`escape` adds a quote to text that starts with a formula character, and to text that
  starts with a quote :func:`unescape` would otherwise strip;
- :func:`unescape` strips one leading quote only when a formula character or another quote
  follows, so a third-party cell such as ``'tis.jpg`` reads as it is.

File names that are not valid UTF-8 reach Python as lone surrogates (``os.listdir``'s
surrogateescape). :func:`encode` writes them as their original bytes (so the file names the very
file on disk and reads back to the same ``str``); anything else unencodable becomes a visible
backslash escape instead of an exception.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where a table is written: the CLI starts without it
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
ENCODING = "utf-8"
ERRORS = "gender-desktop-bytes"  # the codec error handler registered below


def _bytes_or_backslash(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Encoding error handler: a surrogate-escaped byte (U+DC80..U+DCFF) is written back as the
    byte it stands for (as ``surrogateescape``); any other unencodable character as a
    backslash escape (as ``backslashreplace``), so a write never fails on a strange name."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    char = exc.object[exc.start]
    if 0xDC80 <= ord(char) <= 0xDCFF:
        return bytes([ord(char) - 0xDC00]), exc.start + 1
    return char.encode("ascii", "backslashreplace").decode("ascii"), exc.start + 1


codecs.register_error(ERRORS, _bytes_or_backslash)


def escape(text: str) -> str:
    """``text`` as a cell a spreadsheet shows as text; :func:`unescape` gives ``text`` back."""
    if text.startswith(FORMULA_START) or unescape(text) != text:
        return QUOTE + text
    return text


def unescape(text: str) -> str:
    """The text :func:`escape` was given (a cell of one of the app's own files)."""
    if len(text) > 1 and text[0] == QUOTE and text[1] in (*FORMULA_START, QUOTE):
        return text[1:]
    return text


def escape_cell(value: Any) -> Any:
    """Text escaped; numbers, booleans and missing values as they are."""
    return escape(value) if isinstance(value, str) else value


def unescape_cell(value: Any) -> Any:
    return unescape(value) if isinstance(value, str) else value


def encode(text: str) -> bytes:
    """UTF-8 bytes of ``text``; file names that are not valid UTF-8 keep their own bytes."""
    return text.encode(ENCODING, ERRORS)


def decode(data: bytes) -> str:
    """The inverse of :func:`encode`: invalid UTF-8 bytes come back as the same surrogates."""
    return data.decode(ENCODING, "surrogateescape")


# pandas' default missing-value spellings (read_csv's documentation): kept for the columns a
# reader does not name as text, so a missing attribute value still reads as missing.
PANDAS_NA = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip


def _is_text(column: pd.Series) -> bool:
    import pandas as pd

    return not (pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def frame_csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV bytes (no index), written by :class:`RowWriter` (header and text
    cells escaped, missing values empty)."""
    buf = io.StringIO()
    writer = RowWriter(buf, [str(name) for name in frame.columns])
    cells = frame.astype(object).where(frame.notna(), None)  # Python values; NaN -> None
    writer.write_rows(cells.itertuples(index=False, name=None))
    return encode(buf.getvalue())


def unescape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A table read from one of the app's CSV files with the escapes removed (in place)."""
    frame.columns = [unescape_cell(name) for name in frame.columns]
    for name in frame.columns:
        if _is_text(frame[name]):
            frame[name] = frame[name].map(unescape_cell)
    return frame


def read_csv(
    path: str | os.PathLike[str] | IO[bytes], text: Sequence[str] = (), **kwargs: Any
) -> pd.DataFrame:
    """``pandas.read_csv`` of a CSV this app wrote: the same bytes in file names, no escapes.

    The ``text`` columns (ids, names) are read as exactly the strings written, even an id such
    as ``NA`` or ``null`` that pandas would otherwise turn into a missing value; the other
    columns are parsed as pandas does (numbers, missing values).
    """
    import pandas as pd

    if not isinstance(path, str | os.PathLike):  # a file object: read twice from its bytes
        data = path.read()
        path = io.BytesIO(data)
        header_source: Any = io.BytesIO(data)
    else:
        header_source = path
    options: dict[str, Any] = {"encoding": ENCODING, "encoding_errors": "surrogateescape"}
    if text:
        header = pd.read_csv(header_source, nrows=0, **options).columns
        as_text = {c for c in header if unescape_cell(c) in text}
        options["dtype"] = {c: str for c in as_text}
        options["keep_default_na"] = False
        options["na_values"] = {c: list(PANDAS_NA) for c in header if c not in as_text}
    return unescape_frame(pd.read_csv(path, **options, **kwargs))


class RowWriter:
    """CSV rows written as they come (a header first); text escaped, missing values empty.

    Keys a record has beyond ``columns`` are left out; a missing key is an empty cell. The
    stream is flushed after every :meth:`write`, so a long run shows its rows as it goes.

    Every cell holding a line break is quoted, a lone carriage return too. (The csv module
    quotes only the characters of its line terminator: with ``"\n"`` it leaves a lone CR bare,
    which spreadsheets and pandas take as the end of a line, so the text after it would start
    a row of its own, formula and all.) Rows are formatted with ``"\r\n"`` for that, and end
    in ``"\n"`` as the app's files always have.
    """

    def __init__(self, out: IO[str], columns: Sequence[str]) -> None:
        self.out = out
        self.columns = list(columns)
        self._row = io.StringIO()
        self._writer = csv.writer(self._row, lineterminator="\r\n")
        self.out.write(self._line([escape(name) for name in self.columns]))

    def write(self, records: Iterable[Mapping[str, Any]]) -> None:
        self.write_rows([record.get(name) for name in self.columns] for record in records)

    def write_rows(self, rows: Iterable[Sequence[Any]]) -> None:
        """Rows as sequences of values in the order of ``columns``."""
        for row in rows:
            self.out.write(self._line([_cell(value) for value in row]))
        self.out.flush()

    def _line(self, cells: list[Any]) -> str:
        self._row.seek(0)
        self._row.truncate()
        self._writer.writerow(cells)
        return self._row.getvalue()[:-2] + "\n"


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return escape_cell(value)


def rows_csv(columns: Sequence[str], records: Iterable[Mapping[str, Any]]) -> bytes:
    """Whole-file form of :class:`RowWriter`: the bytes to write atomically."""
    buf = io.StringIO()
    RowWriter(buf, columns).write(records)
    return encode(buf.getvalue())
