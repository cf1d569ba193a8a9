"""Experiment trackers: the same runs in TensorBoard, Weights & Biases or MLflow.

Users who live in another tracker should see the app's runs there without exporting anything.
Rather than teaching the trainer three APIs, one small :class:`Tracker` interface is fed the
trainer's own events (:mod:`gender_desktop.ml.events`): ``RunStarted`` opens the tracker's run,
``EpochEnd`` logs the epoch's scalars, ``RunEnded`` logs the final and test metrics and closes
it. :func:`with_trackers` wraps any training callback (the CLI's progress line, the training
child's ``send``), so trackers run wherever the trainer runs, never in the GUI process.

Each tracker's library is well kept and does its own file format: torch's ``SummaryWriter``
writes TensorBoard event files, ``wandb`` (offline mode with ``WANDB_MODE=offline``) and
``mlflow``'s client (a SQLite file by default) theirs. wandb and mlflow are imported only when
asked for; TensorBoard is on by default when it is importable, since it writes only files in the
run folder (``<run>/tensorboard/``) and costs nothing to keep.

A tracker is a record, not the training: one that fails (its library raises, its server is
gone) writes one warning line and is dropped, and the run goes on.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from gender_desktop.errors import UserError
from gender_desktop.ml.events import Callback, EpochEnd, Event, LogLine, RunEnded, RunStarted
from gender_desktop.runs.folder import TENSORBOARD

TENSORBOARD_DIR = TENSORBOARD  # inside each run folder (runs/folder.py: removed with a run
# that never began)
TRACKERS_FILE = "trackers.json"  # the tracker-side run ids, so a resumed run continues its own
PROJECT = "gender-desktop"  # W&B project and MLflow experiment unless the environment says

# The epoch row's keys (trainer.py) and the tag each gets: grouped as TensorBoard shows them.
EPOCH_TAGS = {
    "train_loss": "loss/train",
    "val_loss": "loss/val",
    "train_accuracy": "accuracy/train",
    "val_accuracy": "accuracy/val",
    "lr": "lr",
    "images_per_second": "speed/images_per_second",
}
TEST_KEYS = ("accuracy", "precision", "recall", "f1", "auc")


class Tracker:
    """One tracker's view of one training at a time. Subclasses override the hooks they need;
    :meth:`handle` dispatches the trainer's events (batch and phase events are ignored: they
    are the progress bar, not the record)."""

    name = ""
    title = ""

    def __init__(self) -> None:
        self.run_dir: Path | None = None

    def handle(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self.run_dir = Path(event.run_dir) if event.run_dir else None
            if self.run_dir is not None:  # a run without a folder (tests, probes): not a record
                self.start(event)
        elif self.run_dir is None:
            return
        elif isinstance(event, EpochEnd):
            self.epoch(event)
        elif isinstance(event, LogLine):
            self.log(event)
        elif isinstance(event, RunEnded):
            try:
                self.end(event)
            finally:
                self.run_dir = None

    def start(self, event: RunStarted) -> None:
        """The run's folder exists and its first epoch (``event.start_epoch``) begins."""

    def epoch(self, event: EpochEnd) -> None:
        """One finished epoch: ``event.metrics`` is the metrics.csv row."""

    def log(self, event: LogLine) -> None:
        """A line of the run's log (most trackers keep log.txt's copy; none is needed)."""

    def end(self, event: RunEnded) -> None:
        """The run is over (finished, stopped, pruned or failed): final metrics, then close."""

    def close(self) -> None:
        """Let go of files and connections after a failure (best effort)."""


# -- what every tracker logs ----------------------------------------------------------------------
def flat_config(config: dict[str, Any], prefix: str = "") -> dict[str, str | int | float | bool]:
    """config.json as one level of scalar settings ("model.backbone": "resnet18"): what
    TensorBoard's hparams, W&B's and MLflow's parameter tables take."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flat_config(value, f"{name}."))
        elif isinstance(value, bool | int | float | str):
            out[name] = value
        elif value is None:
            out[name] = ""
        else:  # tuples and lists (hidden layers): their text
            out[name] = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return out


def run_settings(config: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """The parameters a tracker shows for a run: config.json's settings, where the data came
    from and the device (``config`` is RunStarted's, i.e. config.json's content)."""
    out = flat_config(config.get("settings", {}))
    out.update(flat_config(config.get("dataset", {}), "dataset."))
    if isinstance(config.get("device"), str):
        out["device"] = config["device"]
    return out


def epoch_scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {
        tag: float(metrics[key])
        for key, tag in EPOCH_TAGS.items()
        if isinstance(metrics.get(key), int | float)
    }


def final_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """What a run ended with: its best validation numbers, the test metrics, the time."""
    out: dict[str, float] = {}
    for key in ("best_val_accuracy", "best_val_loss", "train_seconds"):
        if isinstance(summary.get(key), int | float):
            out[f"final/{key}"] = float(summary[key])
    test = summary.get("test") or {}
    for key in TEST_KEYS:
        if isinstance(test.get(key), int | float):
            out[f"test/{key}"] = float(test[key])
    return out


def _remember(run_dir: Path, name: str, value: str) -> None:
    """The tracker-side id of this run, in the run folder (a failed write only costs a new
    tracker run on resume)."""
    from gender_desktop.fileio import atomic_write_json

    ids = _remembered(run_dir)
    ids[name] = value
    with contextlib.suppress(OSError):
        atomic_write_json(run_dir / TRACKERS_FILE, ids)


def _remembered(run_dir: Path) -> dict[str, str]:
    try:
        raw = json.loads((run_dir / TRACKERS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, str)} if isinstance(raw, dict) else {}


# -- TensorBoard ----------------------------------------------------------------------------------
class TensorBoardTracker(Tracker):
    """Event files in ``<run>/tensorboard/`` (``tensorboard --logdir <runs folder>`` shows every
    run): the epoch scalars, the test metrics, and hparams with the final metrics so
    TensorBoard's HParams tab compares runs by their settings."""

    name, title = "tensorboard", "TensorBoard"

    def __init__(self) -> None:
        super().__init__()
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self._writer_class = SummaryWriter
        self.writer: Any = None
        self.config: dict[str, Any] = {}

    def start(self, event: RunStarted) -> None:
        assert self.run_dir is not None
        # On resume, purge_step drops what the interrupted process logged past its last.pt,
        # so the curves hold each epoch once.
        purge = event.start_epoch if event.start_epoch > 1 else None
        self.writer = self._writer_class(str(self.run_dir / TENSORBOARD_DIR), purge_step=purge)
        self.config = event.config

    def epoch(self, event: EpochEnd) -> None:
        step = int(event.metrics.get("epoch", 0))
        for tag, value in epoch_scalars(event.metrics).items():
            self.writer.add_scalar(tag, value, step)

    def end(self, event: RunEnded) -> None:
        from torch.utils.tensorboard.summary import hparams

        metrics = final_metrics(event.summary)
        step = int(event.summary.get("epochs") or 0)
        if metrics:
            # Written into this run's own folder (SummaryWriter.add_hparams would make a new
            # sub-folder per call), so the HParams tab shows one session per run.
            settings = run_settings(self.config)
            settings["state"] = event.state
            for summary in hparams(settings, metrics):
                self.writer.file_writer.add_summary(summary)
            for tag, value in metrics.items():
                self.writer.add_scalar(tag, value, step)
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            writer.close()


# -- Weights & Biases -----------------------------------------------------------------------------
class WandbTracker(Tracker):
    """A W&B run per run folder. ``WANDB_MODE=offline`` keeps it on disk (``wandb sync``
    uploads later); ``WANDB_PROJECT`` names the project (default gender-desktop). The run's id
    is derived from its folder, so a resumed run continues the same W&B run."""

    name, title = "wandb", "Weights & Biases"

    def __init__(self) -> None:
        super().__init__()
        self.wandb = _import("wandb", self.title, "pip install wandb")
        self.run: Any = None

    def start(self, event: RunStarted) -> None:
        assert self.run_dir is not None
        run_id = hashlib.sha1(str(self.run_dir.resolve()).encode()).hexdigest()[:16]
        self.run = self.wandb.init(
            project=os.environ.get("WANDB_PROJECT", PROJECT),
            name=self.run_dir.name,
            id=run_id,
            resume="allow",
            dir=str(self.run_dir),
            config=run_settings(event.config),
            reinit=True,
        )

    def epoch(self, event: EpochEnd) -> None:
        step = int(event.metrics.get("epoch", 0))
        self.run.log({**epoch_scalars(event.metrics), "epoch": step}, step=step)

    def end(self, event: RunEnded) -> None:
        self.run.summary.update({**final_metrics(event.summary), "state": event.state})
        self.close(0 if event.state != "failed" else 1)

    def close(self, exit_code: int = 1) -> None:
        if self.run is not None:
            run, self.run = self.run, None
            run.finish(exit_code=exit_code)


# -- MLflow ---------------------------------------------------------------------------------------
def mlflow_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set (a server, a database), else one SQLite file in the
    app's data folder: nothing to start, and ``mlflow ui --backend-store-uri <that URI>``
    shows it. (MLflow 3 refuses its old folder store unless MLFLOW_ALLOW_FILE_STORE=true, so
    the embedded default is its SQLite store.)"""
    from gender_desktop.paths import data_dir

    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{data_dir() / 'mlflow.db'}"


class MlflowTracker(Tracker):
    """An MLflow run per run folder, through ``MlflowClient`` (no process-global active run,
    so consecutive trainings in one process, a sweep's trials, never mix)."""

    name, title = "mlflow", "MLflow"

    def __init__(self) -> None:
        super().__init__()
        self.mlflow = _import("mlflow", self.title, "pip install mlflow")
        self.client: Any = None
        self.run_id = ""

    def start(self, event: RunStarted) -> None:
        from mlflow.entities import Param

        assert self.run_dir is not None
        self.client = self.mlflow.MlflowClient(tracking_uri=mlflow_uri())
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME", PROJECT)
        found = self.client.get_experiment_by_name(name)
        experiment = found.experiment_id if found else self.client.create_experiment(name)
        known = _remembered(self.run_dir).get(self.name, "") if event.start_epoch > 1 else ""
        if known:
            self.run_id = known
            return
        run = self.client.create_run(
            experiment, run_name=self.run_dir.name, tags={"run_dir": str(self.run_dir)}
        )
        self.run_id = run.info.run_id
        _remember(self.run_dir, self.name, self.run_id)
        settings = run_settings(event.config)
        self.client.log_batch(self.run_id, params=[Param(k, str(v)) for k, v in settings.items()])

    def epoch(self, event: EpochEnd) -> None:
        step = int(event.metrics.get("epoch", 0))
        for tag, value in epoch_scalars(event.metrics).items():
            self.client.log_metric(self.run_id, tag.replace("/", "_"), value, step=step)

    def end(self, event: RunEnded) -> None:
        step = int(event.summary.get("epochs") or 0)
        for tag, value in final_metrics(event.summary).items():
            self.client.log_metric(self.run_id, tag.replace("/", "_"), value, step=step)
        status = {"finished": "FINISHED", "failed": "FAILED"}.get(event.state, "KILLED")
        self.client.set_terminated(self.run_id, status=status)
        self.client = None


# -- choosing and wrapping ------------------------------------------------------------------------
TRACKERS: dict[str, type[Tracker]] = {
    t.name: t for t in (TensorBoardTracker, WandbTracker, MlflowTracker)
}
NAMES = tuple(TRACKERS)


def _import(module: str, title: str, install: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise UserError(
            f"{title} tracking needs the {module} package, which is not installed "
            f"(`{install}`), or train without --track {module}"
        ) from exc


def tensorboard_available() -> bool:
    return importlib.util.find_spec("tensorboard") is not None


def default_names() -> list[str]:
    """What a run tracks when nobody says: TensorBoard files when tensorboard is importable."""
    return ["tensorboard"] if tensorboard_available() else []


def parse_names(text: str) -> list[str]:
    """``--track tensorboard,wandb``: the names, checked (a typo is a message, not a no-op)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in TRACKERS]
    if unknown:
        raise UserError(f"--track: unknown tracker {unknown[0]!r}; choose from {', '.join(NAMES)}")
    return list(dict.fromkeys(names))


def make_trackers(names: Iterable[str]) -> list[Tracker]:
    """The trackers by name; a missing library is a UserError now, before training starts."""
    out = []
    for name in names:
        if name not in TRACKERS:
            raise UserError(f"unknown tracker {name!r}; choose from {', '.join(NAMES)}")
        if name == "tensorboard" and not tensorboard_available():
            raise UserError(
                "TensorBoard tracking needs the tensorboard package, which is not installed "
                "(`pip install tensorboard`)"
            )
        out.append(TRACKERS[name]())
    return out


class TrackedCallback:
    """The trainer's callback with trackers behind it: every event goes to the original callback
    first, then to each tracker; a tracker that raises is dropped with one warning line (in
    the run's log.txt and to the callback), and the training never sees the error."""

    def __init__(self, callback: Callback, trackers: Sequence[Tracker]) -> None:
        self.callback = callback
        self.trackers = list(trackers)

    def __call__(self, event: Event) -> None:
        self.callback(event)
        for tracker in list(self.trackers):
            try:
                tracker.handle(event)
            except Exception as exc:  # noqa: BLE001 - a record's failure must not end training
                self._drop(tracker, exc)

    def _drop(self, tracker: Tracker, exc: Exception) -> None:
        self.trackers.remove(tracker)
        run_dir = tracker.run_dir
        with contextlib.suppress(Exception):  # already reporting this tracker's failure
            tracker.close()
        message = (
            f"warning: {tracker.title} tracking stopped for this run "
            f"({type(exc).__name__}: {exc}); the training goes on"
        )
        if run_dir is not None:
            from gender_desktop.runs.folder import RunFolder

            RunFolder(run_dir).log(message)
        self.callback(LogLine(message))


def with_trackers(callback: Callback | None, names: Sequence[str] | None = None) -> Callback:
    """``callback`` with the named trackers fed by the same events (``None``: the default,
    TensorBoard when importable; ``[]``: none). Raises UserError for an unknown name or a
    tracker whose library is not installed."""
    base: Callable[[Event], None] = callback or (lambda event: None)
    chosen = default_names() if names is None else list(names)
    trackers = make_trackers(chosen)
    return TrackedCallback(base, trackers) if trackers else base
