"""``gender-desktop evaluate`` and ``gender-desktop predict``: a trained run's model on a dataset
split, and on any image files, in a terminal.

Both share the engine with the app (``ml/evaluation.py``, ``ml/predictor.py``), so a number
printed here is the number the Evaluate and Predict panels show. Conventions shared with
``info`` and ``train``: progress goes to stderr and only when stderr is a terminal, results go
to stdout, ``error: ...`` is one line on stderr with exit status 2, and Ctrl+C stops the work
at its next check and exits 130 (a second Ctrl+C aborts at once).

Torch is imported only once a command runs, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TextIO

DEVICES = ["auto", "cpu", "cuda", "mps"]
WORST_SLICES = 5
PATH_WIDTH = 60  # longer paths are shortened from the left in the terminal table
EXIT_ERROR = 2
EXIT_CANCELLED = 130  # 128 + SIGINT, what shells report for Ctrl+C


# -- shared -------------------------------------------------------------------------------------
class ProgressLine:
    """``message: done/total`` rewritten in place on stderr, only when stderr is a terminal (a
    pipe or a log file gets no carriage-return noise), at most ten times a second. A new
    message starts a new line, so the phases (reading, decoding, predicting) stay visible."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.message = ""
        self.shown = False

    def __call__(self, done: int, total: int, message: str) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if message == self.message and done < total and now - self.last < 0.1:
            return
        if self.shown and message != self.message:
            self.stream.write("\n")
        self.last, self.message, self.shown = now, message, True
        self.stream.write(f"\r{message}: {done:,}/{total:,}        ")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the progress line, so that output or a summary starts on a clean line."""
        if self.shown:
            self.stream.write("\r" + " " * 72 + "\r")
            self.stream.flush()
            self.shown, self.message = False, ""


@contextlib.contextmanager
def ctrl_c_sets(cancel: threading.Event) -> Iterator[None]:
    """Within the block, Ctrl+C sets ``cancel`` instead of raising: the core functions check it
    between batches and stop cleanly (no half-written file). A second Ctrl+C raises
    KeyboardInterrupt at once, for work that does not check often enough."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    owner = os.getpid()

    def on_interrupt(_signum: int, _frame: object) -> None:
        if os.getpid() != owner:
            return  # a forked decode worker inherited the handler: the parent decides
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        after_echo = "\n" if sys.stderr.isatty() else ""  # the terminal echoed ^C mid-line
        sys.stderr.write(f"{after_echo}stopping after the current step (Ctrl+C again: at once)\n")

    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def stdout_closed() -> int:
    """The reader of stdout went away (``... | head``): stop quietly, as Unix tools do, instead
    of a BrokenPipeError traceback (and another one when Python flushes stdout at exit)."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 1


def fail(message: object) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="auto picks CUDA, then Apple MPS, then CPU",
    )


# -- evaluate -----------------------------------------------------------------------------------
def add_evaluate_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "evaluate",
        help="evaluate a run on a dataset split: metrics, per-class table, confusion, slices",
        description="Predict every image of a split with a run's best weights and print "
        "accuracy, precision, recall, F1 and AUC (Male is the positive class), the per-class "
        "table, the confusion matrix and the worst attribute slices. Writes predictions.csv and "
        "evaluation.json (always at the 0.5 threshold) into the run folder; the val and test "
        "images are predicted whichever split is evaluated, for the label-error finder. "
        "Exit status: 0 done, 2 error (run folder, dataset, empty split), 130 Ctrl+C.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="the run folder to evaluate")
    p.add_argument(
        "--data",
        metavar="PATH",
        help="dataset folder, annotation file or .zip (default: the one the run trained on, "
        "with today's label edits)",
    )
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    _add_device(p)
    p.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="decision threshold for the printed metrics: an image is called Male when "
        "p_male >= threshold. Recomputed from predictions.csv; the files keep 0.5",
    )
    p.add_argument("--workers", type=int, default=0, help="decode processes (0: one per core)")
    p.add_argument(
        "--kfold",
        type=int,
        default=0,
        metavar="K",
        help="also score the train split out-of-fold with K fresh heads on the run's backbone "
        "features, so the suspected label errors cover the images the run trained on "
        "(writes crossval.csv; 0: off)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print the evaluation as one JSON object (metrics and slices at --threshold)",
    )


def run_evaluate(args: argparse.Namespace) -> int:
    if not 0.0 <= args.threshold <= 1.0:
        return fail(f"--threshold must be between 0 and 1, not {args.threshold}")
    if args.kfold == 1 or args.kfold < 0:
        return fail(f"--kfold needs at least 2 folds (0 turns it off), not {args.kfold}")
    from gender_desktop.data.errors import DatasetError
    from gender_desktop.errors import Cancelled
    from gender_desktop.ml.evaluation import EvaluationFailed, evaluate_run
    from gender_desktop.ml.runmodel import RunUnusable
    from gender_desktop.ml.runtime import DeviceUnavailable

    cancel = threading.Event()
    progress = ProgressLine()
    try:
        with ctrl_c_sets(cancel):
            evaluation = evaluate_run(
                args.run,
                args.data,
                args.split,
                args.device,
                workers=args.workers or None,
                progress=progress,
                cancel=cancel,
            )
    except Cancelled:
        return _cancelled(progress, "nothing was written")
    except KeyboardInterrupt:  # a second Ctrl+C: stopped wherever it was
        return _cancelled(progress, "aborted")
    except BrokenProcessPool:
        # Ctrl+C in a terminal also reaches the decode worker processes, which then die.
        if cancel.is_set():
            return _cancelled(progress, "nothing was written")
        raise
    except (RunUnusable, DatasetError, EvaluationFailed, DeviceUnavailable, OSError) as exc:
        progress.clear()
        return fail(exc)
    if args.kfold:
        from gender_desktop.ml.crossval import out_of_fold

        try:
            with ctrl_c_sets(cancel):
                evaluation["crossval"] = out_of_fold(
                    args.run,
                    args.data,
                    args.kfold,
                    device=args.device,
                    progress=progress,
                    cancel=cancel,
                )
        except (Cancelled, KeyboardInterrupt):
            return _cancelled(progress, "the evaluation was written, the k-fold scores were not")
        except (EvaluationFailed, OSError) as exc:
            progress.clear()
            return fail(exc)
    progress.clear()
    if args.threshold != 0.5:
        try:
            evaluation = at_threshold(evaluation, args.threshold)
        except (OSError, EvaluationFailed) as exc:  # predictions.csv removed meanwhile
            return fail(exc)
    try:
        print(json.dumps(evaluation, indent=2) if args.json else format_evaluation(evaluation))
        if "crossval" in evaluation and not args.json:
            cv = evaluation["crossval"]
            print(
                f"train split ({cv['folds']}-fold): {cv['suspects']:,} of {cv['images']:,} images "
                f"predicted against their label · out-of-fold accuracy {cv['accuracy']:.4f} · "
                "crossval.csv; the Evaluate tab's suspected label errors now include them"
            )
        sys.stdout.flush()
    except BrokenPipeError:
        return stdout_closed()
    return 0


def _cancelled(progress: ProgressLine, what: str) -> int:
    progress.clear()
    print(f"cancelled: {what}", file=sys.stderr)
    return EXIT_CANCELLED


def at_threshold(evaluation: dict[str, Any], threshold: float) -> dict[str, Any]:
    """The evaluation with its metrics and slices recomputed at ``threshold`` from the run's
    predictions.csv (the ROC curve and AUC do not depend on a threshold)."""
    from gender_desktop.ml.evaluation import read_predictions, summarize
    from gender_desktop.runs.folder import RunFolder

    predictions = read_predictions(RunFolder(Path(evaluation["run"])))
    if predictions is None:  # evaluate_run always writes it; only a concurrent delete lands here
        raise FileNotFoundError(f"{evaluation['run']}: predictions.csv is missing")
    again = summarize(predictions, evaluation["split"], threshold)
    return {
        **evaluation,
        "threshold": threshold,
        "metrics": again["metrics"],
        "slices": again["slices"],
    }


def format_evaluation(evaluation: dict[str, Any], worst: int = WORST_SLICES) -> str:
    """The report people read: headline metrics, per-class table, the confusion matrix as a
    2x2 table (rows: true label), the worst slices with enough images to mean something, and
    where the files are."""
    from gender_desktop.ml.metrics import MIN_SLICE
    from gender_desktop.runs.folder import EVALUATION, PREDICTIONS

    m = evaluation["metrics"]
    dataset = evaluation["dataset"]
    auc = evaluation["roc"]["auc"]
    run = Path(evaluation["run"]) if evaluation.get("run") else None
    weights = evaluation.get("checkpoint") or "weights"
    if evaluation.get("epoch") is not None:
        weights += f", epoch {evaluation['epoch']}"
    origin = (
        "the dataset the run trained on"
        if evaluation.get("same_dataset_as_training")
        else "not the dataset the run trained on"
    )
    skipped = evaluation.get("skipped_images") or 0
    lines = []
    if run is not None:
        lines.append(f"run:        {run} ({weights})")
    lines += [
        f"data:       {dataset['source']} ({dataset['layout']}), {origin}",
        f"split:      {evaluation['split']}: {m['n']:,} images"
        + (f" ({skipped:,} unreadable, left out)" if skipped else "")
        + f" · threshold {evaluation['threshold']:.2f} · {evaluation['device']}"
        + f" · {evaluation['evaluate_seconds']:.1f} s",
        "",
        f"accuracy   {m['accuracy']:.4f}   precision {m['precision']:.4f}   "
        f"recall {m['recall']:.4f}   F1 {m['f1']:.4f}   "
        f"AUC {'n/a (one class only)' if auc is None else f'{auc:.4f}'}",
        f"balanced accuracy {m['balanced_accuracy']:.4f} (Male is the positive class)",
        "",
        f"{'':<8}{'precision':>10}{'recall':>9}{'F1':>9}{'support':>10}",
    ]
    for name in ("Male", "Female"):
        c = m["per_class"][name]
        lines.append(
            f"{name:<8}{c['precision']:>10.4f}{c['recall']:>9.4f}{c['f1']:>9.4f}{c['support']:>10,}"
        )
    c = m["confusion"]
    lines += [
        "",
        f"{'':<14}{'predicted Male':>16}{'predicted Female':>18}",
        f"{'true Male':<14}{c['tp']:>16,}{c['fn']:>18,}",
        f"{'true Female':<14}{c['fp']:>16,}{c['tn']:>18,}",
        "",
    ]
    ranked = [s for s in evaluation["slices"] if s["n"] >= MIN_SLICE][:worst]
    if ranked:
        width = max(24, *(len(s["slice"]) for s in ranked))
        lines.append(f"worst slices (at least {MIN_SLICE} images), by accuracy:")
        lines.append(f"  {'slice':<{width}}{'n':>8}{'accuracy':>10}{'male share':>12}{'errors':>8}")
        for s in ranked:
            lines.append(
                f"  {s['slice']:<{width}}{s['n']:>8,}{s['accuracy']:>10.4f}"
                f"{s['male_share']:>12.3f}{s['errors']:>8,}"
            )
    else:
        lines.append(f"worst slices: none with at least {MIN_SLICE} images")
    if run is not None:
        lines += ["", f"written:    {run / PREDICTIONS}", f"            {run / EVALUATION}"]
        if evaluation["threshold"] != 0.5:
            lines.append(
                f"            (the files hold the 0.5 threshold; the numbers above are at "
                f"{evaluation['threshold']:.2f})"
            )
    return "\n".join(lines)


# -- predict ------------------------------------------------------------------------------------
BASE_COLUMNS = ("path", "p_male", "prediction", "error")
FACE_COLUMNS = ("face", "box")


def add_predict_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "predict",
        help="predict Male/Female for image files or folders with a run's model",
        description="Predict image files (folders are searched recursively for images) with a "
        "run's best weights. One row per image, or per face with --crop-faces: path, p_male "
        "(probability of Male), prediction (Male when p_male >= 0.5), error (empty when fine). "
        "A file that cannot be read is a row with its error, not a failure. Output: an aligned "
        "table on a terminal, CSV when stdout is a pipe or a file, one JSON object with --json; "
        "with --csv OUT the rows go to that file instead (written atomically, and not at all if "
        "you press Ctrl+C). A summary line goes to stderr. Exit status: 0 when the rows were "
        "produced (error rows included), 2 when the run cannot be loaded or there is nothing "
        "to predict (no given path exists, or no image files in them), 130 Ctrl+C.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="the run folder to use")
    p.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    p.add_argument("--csv", metavar="OUT", help="write the rows to this CSV file")
    p.add_argument(
        "--crop-faces",
        action="store_true",
        help="detect faces (OpenCV) and predict each face cropped as in CelebA; a photo "
        "without a face gives the row error 'no face found'",
    )
    _add_device(p)
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


def run_predict(args: argparse.Namespace) -> int:
    given = [Path(p).expanduser() for p in args.paths]
    if not any(p.exists() for p in given):
        return fail("none of the given paths exists: " + ", ".join(map(str, args.paths)))
    if args.batch_size is not None and args.batch_size < 1:
        return fail("--batch-size must be at least 1")
    from PIL import Image

    from gender_desktop.ml.faces import FaceDetectorUnavailable, detect_faces
    from gender_desktop.ml.predictor import Predictor, expand_paths
    from gender_desktop.ml.runmodel import RunUnusable
    from gender_desktop.ml.runtime import DeviceUnavailable

    files = expand_paths(args.paths)
    if not files:
        return fail("no image files in " + ", ".join(map(str, args.paths)))
    cancel = threading.Event()
    with ctrl_c_sets(cancel):
        try:
            if args.crop_faces:  # loads the detector: fail now, not in the middle of the files
                detect_faces(Image.new("RGB", (64, 64)))
            predictor = Predictor.from_run(args.run, args.device, args.batch_size)
        except (RunUnusable, DeviceUnavailable, FaceDetectorUnavailable) as exc:
            return fail(exc)
        except KeyboardInterrupt:
            cancel.set()
        if cancel.is_set():  # Ctrl+C while the model was loading
            print("cancelled before predicting", file=sys.stderr)
            return EXIT_CANCELLED
        return predict_files(predictor, files, args, cancel)


def predict_files(
    predictor: Any, files: list[str], args: argparse.Namespace, cancel: threading.Event
) -> int:
    """Predict, streaming rows to stdout (table or CSV) or collecting them for --csv/--json;
    then the summary line on stderr."""
    columns = BASE_COLUMNS + (FACE_COLUMNS if args.crop_faces else ())
    stream: RowWriter | None = None
    if not (args.json or args.csv):
        if stdout_is_terminal():
            stream = TableWriter(sys.stdout, columns, files)
        else:
            stream = CsvWriter(sys.stdout, columns)
    records: list[dict[str, Any]] = []
    progress = ProgressLine()
    files_done = [0]

    def on_progress(done: int, total: int, message: str) -> None:
        files_done[0] = done
        progress(done, total, message)

    started = time.perf_counter()
    try:
        for rows in predictor.predict_paths(files, args.crop_faces, on_progress, cancel):
            batch = [row.record() for row in rows]
            records.extend(batch)
            if stream is not None:
                progress.clear()
                stream.write(batch)
    except KeyboardInterrupt:
        cancel.set()
    except BrokenPipeError:
        progress.clear()
        return stdout_closed()
    seconds = time.perf_counter() - started
    progress.clear()
    described = predictor.describe()
    summary = summarize_rows(records, files_done[0], len(files), seconds, described)
    if cancel.is_set():
        print(f"cancelled: {summary}", file=sys.stderr)
        if args.csv:
            print(f"{args.csv} was not written", file=sys.stderr)
        return EXIT_CANCELLED
    if args.csv:
        from gender_desktop.fileio import atomic_write_text

        buf = io.StringIO()
        CsvWriter(buf, columns).write(records)
        try:
            atomic_write_text(Path(args.csv).expanduser(), buf.getvalue())
        except OSError as exc:
            return fail(f"{args.csv}: cannot be written ({exc.strerror or exc})")
    if args.json:
        out = {
            "run": described,
            "files": len(files),
            "rows": records,
            "errors": sum(1 for r in records if r["error"]),
            "seconds": round(seconds, 3),
        }
        try:
            print(json.dumps(out, indent=2))
            sys.stdout.flush()
        except BrokenPipeError:
            return stdout_closed()
    print(summary + (f" · written to {args.csv}" if args.csv else ""), file=sys.stderr)
    return 0


def plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


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


class RowWriter:
    """Rows written as they come (a long folder shows results before it is done)."""

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        raise NotImplementedError


class CsvWriter(RowWriter):
    """CSV with a header; None (no p_male, no face) is an empty cell."""

    def __init__(self, out: TextIO, columns: Sequence[str]) -> None:
        self.out = out
        self.writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        self.writer.writeheader()

    def write(self, records: Sequence[dict[str, Any]]) -> None:
        self.writer.writerows(records)
        self.out.flush()


class TableWriter(RowWriter):
    """An aligned table for a terminal; the path column is as wide as the longest path (up to
    PATH_WIDTH characters; longer ones keep their end, where the file name is)."""

    def __init__(self, out: TextIO, columns: Sequence[str], paths: Sequence[str]) -> None:
        self.out = out
        self.columns = list(columns)
        path_width = max(4, min(PATH_WIDTH, max((len(p) for p in paths), default=4)))
        # column: (width, alignment); the error column is last and free
        self.layout = {
            "path": (path_width, "<"),
            "p_male": (7, ">"),
            "prediction": (10, "<"),
            "face": (4, ">"),
            "box": (19, "<"),
            "error": (0, "<"),
        }
        self.header = True

    def text(self, column: str, value: Any) -> str:
        if value is None:
            return ""
        if column == "p_male":
            return f"{value:.4f}"
        text = str(value)
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
