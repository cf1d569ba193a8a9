"""The runs table: one :class:`RunRecord` per run folder of the workspace, with every column the
Experiments tab and ``gender-desktop runs`` show.

Only the small files are read (``config.json``, ``metrics.csv``, ``evaluation.json``,
``status.json``, ``meta.json``); checkpoints are only stat-ed. A record is cached per folder by
the (mtime, size) stamps of those files, as :mod:`gender_desktop.runs.catalog` does, so listing
500 unchanged runs costs 500 x 7 ``stat`` calls: the table refreshes every few seconds while a
sweep runs. A running run's state is re-derived on every listing even when its files did not
change, since a crashed run's ``status.json`` never changes (``interrupted`` is derived).

A damaged run is listed, never hidden, with ``problem`` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gender_desktop.data.sources import read_regular
from gender_desktop.errors import UserError
from gender_desktop.ml.significance import wilson_interval
from gender_desktop.runs.folder import (
    BEST,
    CONFIG,
    EVALUATION,
    LAST,
    METRICS,
    PREDICTIONS,
    RunFolder,
    workspace,
)
from gender_desktop.runs.meta import (
    FAILED,
    FINISHED,
    META,
    RUNNING,
    STATUS,
    STOPPED,
    read_meta,
    read_status,
)

TRASH = ".trash"
MAX_EVALUATION_BYTES = 64 * 2**20
STAMPED = (CONFIG, METRICS, EVALUATION, STATUS, META, BEST, LAST, PREDICTIONS)
_FOLDER_TIME = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})")


@dataclass
class RunRecord:
    """One row of the runs table. Numbers are None where the run does not have them."""

    path: Path
    name: str  # the folder name (never changed)
    title: str = ""  # meta.json's title, or the folder name
    created: str = ""  # "YYYY-MM-DD HH:MM:SS": from the folder name, else config.json's time
    dataset: str = ""  # the dataset's source path
    fingerprint: str = ""
    layout: str = ""
    split_sizes: dict[str, int] = field(default_factory=dict)
    backbone: str = ""
    scope: str = ""
    weights: str = ""  # starting weights: imagenet, random, file:NAME, run:NAME
    optimizer: str = ""
    lr: float | None = None
    batch_size: int | None = None
    epochs_done: int = 0
    epochs_planned: int | None = None
    augmentation: str = ""  # "none" or e.g. "flip, rotate 10°, zoom 0.1"
    input_size: int | None = None
    best_epoch: int | None = None  # lowest val loss: the epoch best.pt holds
    best_val_accuracy: float | None = None  # at best_epoch
    best_val_loss: float | None = None
    max_val_accuracy: float | None = None
    test_accuracy: float | None = None  # a test-split evaluation of the training dataset
    test_ci: tuple[float, float] | None = None  # Wilson 95 % interval of test_accuracy
    test_precision: float | None = None
    test_recall: float | None = None
    test_f1: float | None = None
    test_auc: float | None = None
    test_n: int | None = None
    confusion: dict[str, int] | None = None  # of that evaluation: tp, fn, fp, tn
    evaluation: str = (
        ""  # what evaluation.json holds when it is not that: "val", "test (other data)"
    )
    train_seconds: float | None = None
    images_per_second: float | None = None
    device: str = ""
    status: str = ""  # running, finished, stopped, pruned, failed, interrupted
    status_message: str = ""
    sweep: dict[str, Any] = field(default_factory=dict)
    cv: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    note: str = ""
    problem: str = ""  # a damaged file, named
    has_model: bool = False
    has_predictions: bool = False
    settings: dict[str, Any] = field(default_factory=dict)  # config.json's settings as saved
    history: list[dict[str, float]] = field(default_factory=list)  # metrics.csv rows

    @property
    def sweep_name(self) -> str:
        study = self.sweep.get("study")
        return str(study) if study else ""

    @property
    def cv_group(self) -> str:
        group = self.cv.get("group")
        return str(group) if group else ""

    @property
    def epochs_text(self) -> str:
        planned = "?" if self.epochs_planned is None else str(self.epochs_planned)
        return f"{self.epochs_done}/{planned}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (``--json``): every column; history and settings left out for size."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("history", "settings")}
        out["path"] = str(self.path)
        out["test_ci"] = list(self.test_ci) if self.test_ci else None
        return out


# -- reading one folder ---------------------------------------------------------------------------
def read_record(path: Path) -> RunRecord | None:
    """The record of one folder; None when it is not a run folder (no config.json)."""
    path = Path(path)
    if not (path / CONFIG).exists():
        return None
    record = RunRecord(path, path.name, title=path.name)
    folder = RunFolder(path)
    _read_meta_into(record)
    record.has_model = (path / BEST).exists() or (path / LAST).exists()
    record.has_predictions = (path / PREDICTIONS).exists()
    problems: list[str] = []
    try:
        _read_config_into(record, folder)
    except UserError as exc:
        problems.append(str(exc))
    try:
        _read_metrics_into(record, folder.read_metrics())
    except UserError as exc:
        problems.append(str(exc))
    try:
        _read_evaluation_into(record, path / EVALUATION)
    except UserError as exc:
        problems.append(str(exc))
    record.created = record.created or _created(path)
    record.problem = "; ".join(problems)
    _derive_status(record)
    return record


def _read_meta_into(record: RunRecord) -> None:
    meta = read_meta(record.path)
    record.title = meta.title or record.name
    record.tags, record.note, record.sweep, record.cv = meta.tags, meta.note, meta.sweep, meta.cv


def _read_config_into(record: RunRecord, folder: RunFolder) -> None:
    """Settings through TrainConfig (defaults for settings older runs lack; a crafted value
    becomes a problem), dataset and device as config.json says."""
    raw = folder.read_config()
    dataset = raw.get("dataset") if isinstance(raw.get("dataset"), dict) else {}
    record.dataset = str(dataset.get("source") or "")
    record.fingerprint = str(dataset.get("fingerprint") or "")
    record.layout = str(dataset.get("layout") or "")
    sizes = dataset.get("split_sizes")
    if isinstance(sizes, dict):
        record.split_sizes = {str(k): v for k, v in sizes.items() if isinstance(v, int)}
    record.device = str(raw.get("device") or "")
    if isinstance(raw.get("settings"), dict):
        record.settings = raw["settings"]
    config = folder.train_config()
    record.dataset = record.dataset or config.data
    model = config.model
    record.backbone, record.scope, record.input_size = model.backbone, model.scope, model.input_size
    record.weights = _short_weights(config.weights)
    record.optimizer, record.lr, record.batch_size = config.optimizer, config.lr, config.batch_size
    record.epochs_planned = config.epochs
    record.augmentation = augmentation_text(config.augment)


def _short_weights(weights: str) -> str:
    kind, _, where = weights.partition(":")
    return f"{kind}:{Path(where).name}" if where else weights


def augmentation_text(augment: Any) -> str:
    """The augmentation in a few words ("none", "flip, rotate 10°, zoom 0.1, brightness 0.2")."""
    parts = ["flip"] if augment.flip else []
    if augment.rotation > 0:
        parts.append(f"rotate {augment.rotation:g}°")
    if augment.zoom > 0:
        parts.append(f"zoom {augment.zoom:g}")
    if augment.brightness > 0:
        parts.append(f"brightness {augment.brightness:g}")
    return ", ".join(parts) or "none"


def _read_metrics_into(record: RunRecord, rows: list[dict[str, float]]) -> None:
    record.history = rows
    record.epochs_done = len(rows)
    if not rows:
        return
    best = min(rows, key=lambda r: r["val_loss"])  # what best.pt holds (the keeper's rule)
    record.best_epoch = int(best["epoch"])
    record.best_val_accuracy, record.best_val_loss = best["val_accuracy"], best["val_loss"]
    record.max_val_accuracy = max(r["val_accuracy"] for r in rows)
    record.train_seconds = round(sum(r["seconds"] for r in rows), 3)
    speeds = [r["images_per_second"] for r in rows if r["images_per_second"] > 0]
    record.images_per_second = sum(speeds) / len(speeds) if speeds else None


def _read_evaluation_into(record: RunRecord, file: Path) -> None:
    """Test metrics when evaluation.json is a test-split evaluation on the dataset the run
    trained on; otherwise only what it is (``record.evaluation``)."""
    if not file.exists():
        return
    try:
        saved = json.loads(read_regular(file, MAX_EVALUATION_BYTES).decode("utf-8"))
        split = str(saved.get("split", "test"))
        dataset = saved.get("dataset") if isinstance(saved.get("dataset"), dict) else {}
        metrics = saved["metrics"]
        accuracy = float(metrics["accuracy"])
        n = int(metrics["n"])
    except UserError as exc:
        raise UserError(exc.reason, file=file) from exc
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise UserError(f"damaged ({type(exc).__name__}: {exc})", file=file) from exc
    other = saved.get("same_dataset_as_training") is False or (
        record.fingerprint and dataset.get("fingerprint") not in (None, record.fingerprint)
    )
    if split != "test" or other:
        record.evaluation = f"{split} (other data)" if other else split
        return
    record.evaluation = "test"
    record.test_accuracy, record.test_n = accuracy, n
    record.test_ci = wilson_interval(round(accuracy * n), n)
    record.test_precision = _number(metrics.get("precision"))
    record.test_recall = _number(metrics.get("recall"))
    record.test_f1 = _number(metrics.get("f1"))
    roc = saved.get("roc")
    record.test_auc = _number(roc.get("auc")) if isinstance(roc, dict) else None
    confusion = metrics.get("confusion")
    if isinstance(confusion, dict) and all(
        isinstance(confusion.get(k), int) for k in "tp fn fp tn".split()
    ):
        record.confusion = {k: confusion[k] for k in ("tp", "fn", "fp", "tn")}


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _created(path: Path) -> str:
    """When the run began: its folder name says it (``YYYYmmdd-HHMMSS-name``), else the time
    config.json was written."""
    m = _FOLDER_TIME.match(path.name)
    if m:
        y, mo, d, h, mi, s = m.groups()
        return f"{y}-{mo}-{d} {h}:{mi}:{s}"
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((path / CONFIG).stat().st_mtime))
    except OSError:
        return ""


def _derive_status(record: RunRecord) -> None:
    """status.json's state; runs of versions before it: finished when metrics.csv has every
    planned epoch, else stopped (failed when the settings cannot be read)."""
    status = read_status(record.path)
    if status.known:
        record.status, record.status_message = status.state, status.message
    elif record.epochs_planned is not None:
        record.status = FINISHED if record.epochs_done >= record.epochs_planned else STOPPED
    else:
        record.status = FAILED


# -- the listing -----------------------------------------------------------------------------------
_cache: dict[Path, tuple[tuple[int, ...], RunRecord | None]] = {}
_lock = threading.Lock()  # the Experiments tab lists in a worker thread; the CLI on its own


def _stamp(path: Path) -> tuple[int, ...]:
    out: list[int] = []
    for name in STAMPED:
        try:
            st = os.stat(path / name)
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)


def cached_record(path: Path) -> RunRecord | None:
    """:func:`read_record`, read again only when one of the run's small files changed."""
    stamp = _stamp(path)
    with _lock:
        hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        record = hit[1]
        if record is not None and record.status == RUNNING:
            _derive_status(record)  # a crashed run's file never changes: re-derive
        return record
    record = read_record(path)
    with _lock:
        _cache[path] = (stamp, record)
    return record


def run_folders(root: Path) -> list[Path]:
    """The folders under ``root`` that may be runs, newest name first; hidden ones (the trash,
    temp folders) are skipped."""
    with os.scandir(root) as entries:
        names = [e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
    return [root / name for name in sorted(names, reverse=True)]


def list_records(root: Path | None = None) -> list[RunRecord]:
    """Every run of the workspace (or ``root``), newest first. A missing or unreadable folder
    has none; ``workspace()`` raises a UserError when the default one cannot be made."""
    root = Path(root) if root is not None else workspace()
    try:
        folders = run_folders(root)
    except OSError:
        return []
    records = []
    for path in folders:
        record = cached_record(path)
        if record is not None:
            records.append(record)
    return records


def forget(path: Path) -> None:
    """Drop a folder's cached record (after it moved to the trash)."""
    with _lock:
        _cache.pop(Path(path), None)
