"""The app's CSV cells: shown as text by a spreadsheet, read back by the app as written.

Property tests (hypothesis) over any text, including file names that are not valid UTF-8 (the
lone surrogates ``os.listdir`` gives for them), through the real writers and readers and real
files: predictions.csv (``evaluation.write_results`` / ``results.read_predictions``), the
prediction rows of ``predict --csv`` and the Predict panel, and pandas tables in general.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import hostile
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from gender_desktop import csvsafe
from gender_desktop.ml.evaluation import write_results
from gender_desktop.ml.prediction_row import PredictionRow, csv_columns, prediction_csv
from gender_desktop.ml.results import read_predictions
from gender_desktop.runs.folder import EVALUATION, PREDICTIONS, RunFolder

# Text as a file name or attribute value can hold it: any character but NUL, or bytes that are
# not UTF-8 decoded the way os.listdir decodes them.
plain_text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)))
fs_names = (
    st.binary()
    .filter(lambda b: b"\x00" not in b)
    .map(lambda b: b.decode("utf-8", "surrogateescape"))
)
any_text = plain_text | fs_names
FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "'=1", "''", "'", "-", "="]
formula_text = st.sampled_from([*FORMULAS, "NA", "null"])
cell_text = formula_text | any_text
# Attribute text pandas keeps as text (not a number, not a missing-value spelling).
attribute_text = st.sampled_from(FORMULAS) | any_text.map(lambda s: "note:" + s)


def spreadsheet_cells(data: bytes) -> list[list[str]]:
    """The cells as a spreadsheet parses the file (raw, no unescaping)."""
    return list(csv.reader(io.StringIO(csvsafe.decode(data), newline="")))


@given(cell_text)
def test_escape_is_undone_by_unescape_and_never_starts_a_formula(text: str) -> None:
    escaped = csvsafe.escape(text)
    assert csvsafe.unescape(escaped) == text
    assert not escaped.startswith(csvsafe.FORMULA_START)


def test_only_what_needs_it_is_escaped() -> None:
    assert csvsafe.escape("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csvsafe.escape("000001.jpg") == "000001.jpg"
    assert csvsafe.escape("'tis.jpg") == "'tis.jpg"  # a quote that protects nothing stays
    assert csvsafe.unescape("'tis.jpg") == "'tis.jpg"  # and a third-party one is kept
    assert csvsafe.escape("'=x") == "''=x"
    assert csvsafe.escape_cell(-1) == -1  # numbers are numbers, also negative ones


@settings(max_examples=60, deadline=None)
@given(
    st.lists(cell_text, min_size=1, max_size=6, unique=True),
    st.lists(attribute_text, min_size=6, max_size=6),
    st.lists(st.integers(-3, 3), min_size=6, max_size=6),
)
def test_predictions_csv_reads_back_the_same_ids_and_values(
    ids: list[str], notes: list[str], codes: list[int]
) -> None:
    n = len(ids)
    table = pd.DataFrame(
        {
            "image_id": ids,
            "split": ["test"] * n,
            "label": ["Male", "Female"] * (n // 2) + ["Male"] * (n % 2),
            "p_male": [-0.0, 0.25, 0.5, 0.75, 1.0, 0.125][:n],
            "prediction": ["Female", "Female", "Male", "Male", "Male", "Female"][:n],
            "=Attr": codes[:n],  # an attribute name a spreadsheet would run, with -1 values
            "note": notes[:n],
        }
    )
    with tempfile.TemporaryDirectory() as folder:
        run = RunFolder(Path(folder))
        write_results(run, table, {"split": "test", "ids": ids})
        data = (run.path / PREDICTIONS).read_bytes()
        back = read_predictions(run)
        saved = json.loads((run.path / EVALUATION).read_text())
    hostile.assert_text_cells_are_safe(data)
    assert back is not None
    assert back["image_id"].tolist() == ids
    assert list(back.columns) == list(table.columns)
    assert back["=Attr"].tolist() == codes[:n] and back["=Attr"].dtype.kind == "i"
    assert back["p_male"].tolist() == table["p_male"].tolist()
    assert back["label"].tolist() == table["label"].tolist()
    assert back["note"].tolist() == notes[:n]
    assert saved["ids"] == ids  # evaluation.json: JSON escapes what is not UTF-8


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=5))
def test_prediction_rows_csv_round_trips_paths_and_errors(rows: list[tuple[str, str]]) -> None:
    predictions = [
        PredictionRow(path, p_male=None if error else 0.5, error=error) for path, error in rows
    ]
    data = prediction_csv(predictions)
    hostile.assert_text_cells_are_safe(data)
    parsed = spreadsheet_cells(data)
    assert parsed[0] == csv_columns(faces=False)
    back = [[csvsafe.unescape(cell) for cell in row] for row in parsed[1:]]
    assert [(row[0], row[3]) for row in back] == rows


@settings(max_examples=60, deadline=None)
@given(st.lists(cell_text, min_size=1, max_size=5, unique=True), st.data())
def test_text_columns_read_back_exactly_and_numbers_stay_numbers(
    names: list[str], data: st.DataObject
) -> None:
    numbers = data.draw(
        st.lists(st.integers(-(2**40), 2**40), min_size=len(names), max_size=len(names))
    )
    frame = pd.DataFrame({"image_id": names, "Male": numbers})
    written = csvsafe.frame_csv(frame)
    hostile.assert_text_cells_are_safe(written)
    back = csvsafe.read_csv(io.BytesIO(written), text=("image_id",))
    assert back["image_id"].tolist() == names
    assert back["Male"].tolist() == numbers


def test_a_file_name_that_is_not_utf8_is_written_as_its_own_bytes() -> None:
    name = b"photos/\xff\xfe-caf\xe9.jpg".decode("utf-8", "surrogateescape")
    data = prediction_csv([PredictionRow(name, p_male=0.75)])
    assert b"photos/\xff\xfe-caf\xe9.jpg,0.75,Male," in data
    odd = "\ud800 lone surrogate"  # not from a byte: written visibly instead of failing
    assert b"\\ud800 lone surrogate" in csvsafe.encode(odd)
