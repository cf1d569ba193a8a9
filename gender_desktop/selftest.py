"""``gender-desktop --self-test``: the whole app, headless, in under a minute, then a verdict.

Why: a frozen bundle can miss a library, a Qt plugin or a data file and still start; only
using it finds out. The self-test walks the path a new user takes (the demo dataset, the
window, one epoch of training, an evaluation, one prediction, a label export) through the
same code the app runs: the window is the real ``MainWindow``, and training, evaluation and
prediction are requests to an engine child of the one process layer (``gender_desktop.procs``,
``ml/service.Engine``), exactly as the Train, Evaluate and Predict panels send them. So it
proves the same thing from a checkout and from the PyInstaller bundle.

It prints one line per step with its time, then a verdict, and exits 0 only when every step
worked. A failing step is named with a plain reason (the error model's message, never a
traceback); the steps after it are skipped. Everything happens in a temporary app home
(``GENDER_DESKTOP_HOME``), so the user's settings, label edits and runs are never touched;
it is deleted afterwards, or kept and named when something failed.

This module is Qt-free: the window step lives in ``gender_desktop.ui.selftest_window`` and is
handed in by the launcher (``cli/gui.py``), so the core never imports Qt.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from gender_desktop import __version__
from gender_desktop.durations import duration_text
from gender_desktop.errors import EXIT_INTERNAL, EXIT_OK, UserError, explain
from gender_desktop.ml.config import DEFAULT_FRAMING
from gender_desktop.paths import HOME_ENV
from gender_desktop.procs import DONE, EVENT, FAILED, ROWS, Child, ChildDied

ENGINE = "gender_desktop.ml.service:Engine"  # the service the app's engine children run
DEMO_COUNT = 120  # a smaller copy of the app's demo (1,200 faces): the same generator, faster
STEP_TIMEOUT_S = 300.0  # one step that has not finished by then is reported as hung
# The model: the smallest that goes through the app's real trainer quickly on a CPU (random
# weights, so nothing is downloaded; 32 px inputs, the backbone's minimum).
MODEL = {"backbone": "resnet18", "input_size": 32, "hidden": [16], "scope": "all"}


class StepFailed(UserError):
    """A step's check did not hold: the message says what was expected and what was seen."""


@dataclass
class Context:
    """What the steps hand on to each other."""

    home: Path
    window_check: Callable[[], Callable[[], str]] | None
    demo_root: Path | None = None
    dataset: Any = None
    engine: Child | None = None
    run_dir: Path | None = None
    notes: list[str] = field(default_factory=list)

    def child(self) -> Child:
        if self.engine is None or not self.engine.alive():
            self.engine = Child(ENGINE, "engine")
        return self.engine


@dataclass
class StepResult:
    name: str
    seconds: float
    detail: str = ""
    error: str = ""


# -- talking to the engine child ---------------------------------------------------------------
def ask(ctx: Context, kind: str, **args: Any) -> tuple[Any, list[Any]]:
    """One request to the engine child, as a panel makes it; returns its result and the
    ``rows``/``event`` payloads that came before it. A failure, a cancellation, a dead child
    or no answer within :data:`STEP_TIMEOUT_S` is a :class:`StepFailed` saying so."""
    child = ctx.child()
    rid = child.send(kind, **args)
    deadline = time.monotonic() + STEP_TIMEOUT_S
    seen: list[Any] = []
    while time.monotonic() < deadline:
        try:
            reply = child.receive(0.2)
        except ChildDied as exc:
            raise StepFailed(str(exc)) from None
        if reply is None or reply.rid != rid:
            continue
        if reply.kind == FAILED:
            raise StepFailed(str(reply.payload))
        if reply.kind in (ROWS, EVENT):
            seen.extend(reply.payload if reply.kind == ROWS else [reply.payload])
        elif reply.kind == DONE:
            if isinstance(reply.payload, dict) and reply.payload.get("cancelled"):
                raise StepFailed(f"the engine cancelled the {kind} request")
            return reply.payload, seen
    raise StepFailed(f"the engine did not answer the {kind} request within {STEP_TIMEOUT_S:.0f} s")


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


# -- the steps ---------------------------------------------------------------------------------
def step_demo(ctx: Context) -> str:
    """Generate the demo (as "Try the demo" does on first use) and open it."""
    from gender_desktop.data.dataset import open_dataset
    from gender_desktop.data.demo import ensure_demo

    ctx.demo_root = ensure_demo(count=DEMO_COUNT)
    ctx.dataset = open_dataset(ctx.demo_root)
    counts = ctx.dataset.table["split"].value_counts()
    expect(
        len(ctx.dataset) == DEMO_COUNT, f"the demo has {len(ctx.dataset)} images, not {DEMO_COUNT}"
    )
    expect(all(counts.get(s, 0) > 0 for s in ("train", "val", "test")), f"splits: {dict(counts)}")
    return (
        f"{len(ctx.dataset):,} synthetic faces ({counts['train']} train, {counts['val']} val, "
        f"{counts['test']} test), {ctx.dataset.layout} layout"
    )


def step_window(ctx: Context) -> str:
    """The real main window opens the demo, offscreen unless a display was asked for."""
    if ctx.window_check is None:
        raise StepFailed("no window check was given (the launcher passes it)")
    try:
        check = ctx.window_check()
    except ImportError as exc:  # PySide6 or Qt's system libraries are missing
        raise StepFailed(f"the desktop app cannot start: {exc}") from None
    return check()


def train_settings(data: Path) -> dict[str, Any]:
    """One short epoch of a small model on the CPU, as the Train form would submit it."""
    from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig

    config = TrainConfig(
        data=str(data),
        model=ModelConfig(**MODEL),
        augment=AugmentConfig(flip=True),
        weights="random",
        optimizer="adam",
        lr=1e-3,
        batch_size=32,
        epochs=1,
        device="cpu",
        workers=1,
    )
    config.validate()
    return config.to_dict()


def step_train(ctx: Context) -> str:
    from gender_desktop.ml.events import EpochEnd

    assert ctx.demo_root is not None
    run_path = ctx.home / "runs" / "self-test"
    summary, events = ask(
        ctx,
        "train",
        settings=train_settings(ctx.demo_root),
        run_path=str(run_path),
        resume=False,
        track=[],
    )
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    expect(len(epochs) == 1, f"expected 1 epoch event, got {len(epochs)}")
    expect(summary.get("run_dir") is not None, "the training wrote no run folder")
    ctx.run_dir = Path(summary["run_dir"])
    expect((ctx.run_dir / "best.pt").is_file(), f"no best.pt in {ctx.run_dir}")
    accuracy = summary["best_val_accuracy"]
    return (
        f"1 epoch of {MODEL['backbone']} at {MODEL['input_size']} px on {summary['device']}: "
        f"val accuracy {accuracy:.3f} ({duration_text(summary['train_seconds'])} in the trainer)"
    )


def step_evaluate(ctx: Context) -> str:
    assert ctx.run_dir is not None and ctx.demo_root is not None
    result, _ = ask(
        ctx, "evaluate", run=str(ctx.run_dir), data=str(ctx.demo_root), split="test", device="cpu"
    )
    tests = int((ctx.dataset.table["split"] == "test").sum())
    overall = result["metrics"]
    expect(
        overall.get("n") == tests,
        f"evaluated {overall.get('n')} images, the test split has {tests}",
    )
    expect(0.0 <= overall["accuracy"] <= 1.0, f"accuracy {overall['accuracy']} is not a fraction")
    expect((ctx.run_dir / "evaluation.json").is_file(), "evaluation.json was not written")
    return f"{tests} test images: accuracy {overall['accuracy']:.3f}"


def step_predict(ctx: Context) -> str:
    assert ctx.run_dir is not None and ctx.demo_root is not None
    dataset = ctx.dataset
    row = int((dataset.table["split"] == "test").to_numpy().argmax())
    photo = dataset.display_path(row)
    _, rows = ask(
        ctx,
        "predict",
        run=str(ctx.run_dir),
        paths=[photo],
        framing=DEFAULT_FRAMING,  # the Predict panel's default: faces found and framed
        dataset=str(ctx.demo_root),
        device="cpu",
    )
    expect(len(rows) == 1, f"expected 1 result row for {photo}, got {len(rows)}")
    got = rows[0]
    expect(not got["error"], f"{photo}: {got['error']}")
    expect(got["p_male"] is not None and 0 <= got["p_male"] <= 1, f"p(Male) {got['p_male']}")
    image_id = str(dataset.table["image_id"].iat[row])
    expect(got.get("image_id") == image_id, f"the row names {got.get('image_id')}, not {image_id}")
    return f"{Path(photo).name}: p(Male) {got['p_male']:.3f} (label {got['label']})"


def step_export(ctx: Context) -> str:
    """Relabel one image as the browser does (the label journal), export, read the file back."""
    from gender_desktop.data.labels import LabelStore, export_labels

    dataset = ctx.dataset
    store = LabelStore(dataset)
    try:
        flipped = 1 - int(store.male[0])
        store.set_male([0], flipped)
        target = export_labels(dataset, store.male, ctx.home / "export" / "labels.csv")
    finally:
        store.close()
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    expect(rows[0][:2] == ["image_id", "Male"], f"{target}: header {rows[0][:2]}")
    expect(len(rows) - 1 == len(dataset), f"{target}: {len(rows) - 1} rows, {len(dataset)} images")
    wanted = "1" if flipped else "-1"
    expect(
        rows[1][1] == wanted, f"{target}: the relabeled image has Male={rows[1][1]}, not {wanted}"
    )
    return f"{len(rows) - 1:,} labels (1 edited) to {target}"


STEPS: tuple[tuple[str, Callable[[Context], str]], ...] = (
    ("demo dataset", step_demo),
    ("window", step_window),
    ("train", step_train),
    ("evaluate", step_evaluate),
    ("predict", step_predict),
    ("export labels", step_export),
)


# -- running and reporting ---------------------------------------------------------------------
def run_step(name: str, fn: Callable[[Context], str], ctx: Context) -> StepResult:
    started = time.perf_counter()
    try:
        detail = fn(ctx)
    except Exception as exc:  # noqa: BLE001 - every failure becomes the step's message
        return StepResult(
            name, time.perf_counter() - started, error=explain(exc, "self-test").message
        )
    return StepResult(name, time.perf_counter() - started, detail=detail)


def line(result: StepResult) -> str:
    mark = "FAIL" if result.error else "ok"
    return f"  {mark:<4}  {result.name:<14} {duration_text(result.seconds):>9}  {result.error or result.detail}"


def run_self_test(
    window_check: Callable[[], Callable[[], str]] | None = None, out: TextIO | None = None
) -> int:
    """Run every step, print one line each and the verdict; 0 when all passed, else 1.

    ``window_check`` returns the window step's function (imported only when the step runs,
    so a machine without Qt gets a clear failure of that step, not an import error)."""
    out = out or sys.stdout
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless unless a display is asked
    home = Path(tempfile.mkdtemp(prefix="gender-desktop-self-test-"))
    previous_home = os.environ.get(HOME_ENV)
    os.environ[HOME_ENV] = str(home)  # the children inherit it
    frozen = "frozen app" if getattr(sys, "frozen", False) else "from source"
    print(
        f"gender-desktop {__version__} self-test ({frozen}, Python {sys.version.split()[0]})",
        file=out,
        flush=True,
    )
    ctx = Context(home, window_check)
    started = time.perf_counter()
    results: list[StepResult] = []
    interrupted = True  # until the loop ends by itself (Ctrl+C raises through it)
    try:
        for name, fn in STEPS:
            results.append(run_step(name, fn, ctx))
            print(line(results[-1]), file=out, flush=True)
            if results[-1].error:
                break
        interrupted = False
    finally:
        release(ctx, previous_home)
        if interrupted:  # the user stopped it: nothing worth keeping
            shutil.rmtree(home, ignore_errors=True)
    return verdict(results, home, time.perf_counter() - started, out)


def release(ctx: Context, previous_home: str | None) -> None:
    """End the engine child, close the demo's files and give the app home back."""
    if ctx.engine is not None:
        ctx.engine.close()
    if ctx.dataset is not None:
        ctx.dataset.images.close()
    if previous_home is None:
        os.environ.pop(HOME_ENV, None)
    else:
        os.environ[HOME_ENV] = previous_home


def verdict(results: list[StepResult], home: Path, seconds: float, out: TextIO) -> int:
    failed = next((r for r in results if r.error), None)
    if failed is None:
        shutil.rmtree(home, ignore_errors=True)
        print(
            f"self-test passed: {len(results)} steps in {duration_text(seconds)}",
            file=out,
            flush=True,
        )
        return EXIT_OK
    skipped = [name for name, _ in STEPS[len(results) :]]
    if skipped:
        print(f"  skipped: {', '.join(skipped)}", file=out)
    print(
        f'self-test FAILED at step "{failed.name}": {failed.error}\n'
        f"  (its files, logs included, are kept in {home})",
        file=out,
        flush=True,
    )
    return EXIT_INTERNAL
