"""``gender-desktop predict``: a trained run's model on any image files, in a terminal.

It shares the engine with the Predict panel (``ml/predictor.py``) and writes the same CSV
(``ml/prediction_row.py``). Torch is imported only once the command runs, so ``--help`` is
instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from gender_desktop import csvsafe
from gender_desktop.cli.guard import ctrl_c_sets
from gender_desktop.cli.options import DefaultsHelp, add_device
from gender_desktop.cli.output import ProgressLine, note, plural
from gender_desktop.errors import EXIT_OK, Cancelled, UserError
from gender_desktop.ml.config import DEFAULT_FRAMING, DEFAULT_TTA, FRAMING_MODES, TTA_MODES
from gender_desktop.ml.prediction_row import csv_columns

PATH_WIDTH = 60  # longer paths are shortened from the left in the terminal table


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "predict",
        help="predict Male/Female for image files or folders with a run's model",
        description="Predict image files (folders are searched recursively for images) with a "
        "run's best weights. One row per image, or per face (--framing): path, p_male "
        "(probability of Male), prediction (Male when p_male >= 0.5), error (empty when fine), "
        "then framed (how the model's picture was made: as is, reframed, face k of n, whole "
        "image), face (0 = the largest) and box unless --framing off, and tta with --tta. "
        "A file that cannot be read is a row with its error, not a failure. Output: an aligned "
        "table on a terminal, CSV when stdout is a pipe or a file, one JSON object with --json; "
        "with --csv OUT the rows go to that file instead (written atomically, and not at all if "
        "you press Ctrl+C). A summary line goes to stderr. Exit status: 0 when the rows were "
        "produced (error rows included), 2 when the run cannot be loaded or there is nothing "
        "to predict (no given path exists, or no image files in them), 1 internal error, 130 Ctrl+C.",
        formatter_class=DefaultsHelp,
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="the run folder to use")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    p.add_argument("--csv", metavar="OUT", help="write the rows to this CSV file")
    p.add_argument(
        "--framing",
        choices=list(FRAMING_MODES),
        default=DEFAULT_FRAMING,
        help="how a photo becomes the model's picture: "
        + "; ".join(f"{name}: {text}" for name, text in FRAMING_MODES.items()),
    )
    p.add_argument(
        "--crop-faces",
        dest="framing",
        action="store_const",
        const="faces",
        help="the same as --framing faces (kept for older scripts)",
    )
    p.add_argument(
        "--tta",
        choices=list(TTA_MODES),
        default=DEFAULT_TTA,
        help="test-time augmentation, the probabilities of the views averaged: "
        + "; ".join(f"{name}: {text}" for name, text in TTA_MODES.items())
        + " (each view costs one forward pass; rows then have a tta column)",
    )
    add_device(p)
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="images per forward pass (default: 64 on a GPU, 8 on a CPU, where small batches "
        "are faster)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object with every row")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def run(args: argparse.Namespace) -> int:
    given = [Path(p).expanduser() for p in args.paths]
    if not any(p.exists() for p in given):
        raise UserError("none of the given paths exists: " + ", ".join(map(str, args.paths)))
    if args.batch_size is not None and args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    from PIL import Image

    from gender_desktop.ml.faces import detect_faces
    from gender_desktop.ml.predictor import Predictor, expand_paths

    files = expand_paths(args.paths)
    if not files:
        raise UserError("no image files in " + ", ".join(map(str, args.paths)))
    cancel = threading.Event()
    with ctrl_c_sets(cancel):
        if args.framing != "off":  # loads the detector: fail now, not in the middle of files
            detect_faces(Image.new("RGB", (64, 64)))
        predictor = Predictor.from_run(args.run, args.device, args.batch_size, args.tta)
        if args.framing != "off":  # a damaged framing.json fails now, before any output
            predictor.geometry  # noqa: B018 - read for its check
        if cancel.is_set():  # Ctrl+C while the model was loading
            raise Cancelled("before predicting")
        return predict_files(predictor, files, args, cancel)


def predict_files(
    predictor: Any, files: list[str], args: argparse.Namespace, cancel: threading.Event
) -> int:
    """Predict, streaming rows to stdout (table or CSV) or collecting them for --csv/--json;
    then the summary line on stderr."""
    columns = csv_columns(faces=args.framing != "off", tta=args.tta != "none")
    stream: TableWriter | csvsafe.RowWriter | None = None
    if not (args.json or args.csv):
        if stdout_is_terminal():
            stream = TableWriter(sys.stdout, columns, files)
        else:
            stream = csvsafe.RowWriter(sys.stdout, columns)
    records: list[dict[str, Any]] = []
    progress = ProgressLine()
    files_done = [0]

    def on_progress(done: int, total: int, message: str) -> None:
        files_done[0] = done
        progress(done, total, message)

    started = time.perf_counter()
    try:
        for rows in predictor.predict_paths(files, args.framing, on_progress, cancel):
            batch = [row.record() for row in rows]
            records.extend(batch)
            if stream is not None:
                progress.clear()
                stream.write(batch)
    except KeyboardInterrupt:  # a second Ctrl+C: the summary still says how far it got
        cancel.set()
    seconds = time.perf_counter() - started
    progress.clear()
    summary = summarize_rows(records, files_done[0], len(files), seconds, predictor.describe())
    if cancel.is_set():
        raise Cancelled(summary + (f"; {args.csv} was not written" if args.csv else ""))
    if args.csv:
        from gender_desktop.fileio import atomic_write_bytes

        atomic_write_bytes(Path(args.csv).expanduser(), csvsafe.rows_csv(columns, records))
    if args.json:
        out = {
            "run": predictor.describe(),
            "files": len(files),
            "framing": args.framing,
            "tta": args.tta,
            "rows": records,
            "errors": sum(1 for r in records if r["error"]),
            "seconds": round(seconds, 3),
        }
        print(json.dumps(out, indent=2))
        sys.stdout.flush()
    note(summary + (f" · written to {args.csv}" if args.csv else ""))
    return EXIT_OK


def summarize_rows(
    records: Sequence[dict[str, Any]], done: int, files: int, seconds: float, run: dict[str, Any]
) -> str:
    """One line for stderr: how many files (of how many, when cancelled) and rows, the
    classes, the errors, time and run."""
    males = sum(1 for r in records if r["prediction"] == "Male")
    females = sum(1 for r in records if r["prediction"] == "Female")
    errors = sum(1 for r in records if r["error"])
    rows = "" if len(records) == done else f", {len(records):,} rows"
    of = "" if done == files else f" of {files:,}"
    return (
        f"{done:,}{of} {plural(files, 'file')}{rows}: {males:,} Male, {females:,} Female, "
        f"{errors:,} {plural(errors, 'error')} · "
        f"{seconds:.2f} s on {run['device']} · run {run['name']} ({run['checkpoint']})"
    )


class TableWriter:
    """An aligned table for a terminal; the path column is as wide as the longest path (up to
    PATH_WIDTH characters; longer ones keep their end, where the file name is)."""

    def __init__(self, out: TextIO, columns: Sequence[str], paths: Sequence[str]) -> None:
        self.out = out
        # the error column is free-width, so it goes last whatever the CSV's order
        self.columns = [c for c in columns if c != "error"] + ["error"] * ("error" in columns)
        path_width = max(4, min(PATH_WIDTH, max((len(p) for p in paths), default=4)))
        # column: (width, alignment); the error column is last and free
        self.layout = {
            "path": (path_width, "<"),
            "p_male": (7, ">"),
            "prediction": (10, "<"),
            "framed": (27, "<"),
            "face": (4, ">"),
            "box": (19, "<"),
            "tta": (8, "<"),
            "error": (0, "<"),
        }
        self.header = True

    def text(self, column: str, value: Any) -> str:
        if value is None:
            return ""
        if column == "p_male":
            return f"{value:.4f}"
        # a file name can hold control characters (ESC sequences, newlines): shown, never run
        text = "".join(c if c.isprintable() else "?" for c in str(value))
        width = self.layout["path"][0]
        if column == "path" and len(text) > width:
            return "…" + text[-(width - 1) :]
        return text

    def line(self, cells: dict[str, str]) -> str:
        parts = []
        for column in self.columns:
            width, align = self.layout[column]
            parts.append(f"{cells[column]:{align}{width}}")
        return "  ".join(parts).rstrip() + "\n"

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        if self.header:
            self.out.write(self.line({c: c for c in self.columns}))
            self.header = False
        for r in records:
            self.out.write(self.line({c: self.text(c, r.get(c)) for c in self.columns}))
        self.out.flush()
