"""One training run on disk.

``config.json`` (every setting, the dataset's fingerprint and split, library versions, device),
``metrics.csv`` (a row per epoch), ``best.pt`` and ``last.pt`` (model, optimizer, scheduler, grad
scaler, epoch, early-stopping state; written atomically), ``log.txt``. Checkpoints hold tensors
and plain values only and are read with ``torch.load(..., weights_only=True)``.

A run folder comes from elsewhere as often as from this app (a colleague's, a copy cut short),
so everything read from it is checked: a missing, damaged or crafted ``config.json``,
``metrics.csv`` or checkpoint raises :class:`RunUnusable` naming the file and the problem.

A new run's folder is only made when the run writes its first file (:meth:`RunFolder.create`
just picks the name): a training refused or failed during its preparation leaves no folder.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import stat
import time
import warnings
import zipfile
from pathlib import Path
from typing import Any

from gender_desktop import paths
from gender_desktop.data.sources import read_regular
from gender_desktop.errors import UserError, describe_os_error, user_error_from_os
from gender_desktop.fileio import (
    atomic_link,
    atomic_write_bytes,
    atomic_write_json,
    clean_stale_temps,
    make_temp,
)
from gender_desktop.runs.meta import META, STATUS

CONFIG = "config.json"
METRICS = "metrics.csv"
LOG = "log.txt"
BEST = "best.pt"
LAST = "last.pt"
EVALUATION = "evaluation.json"
PREDICTIONS = "predictions.csv"
MAX_CONFIG_BYTES = 16 * 2**20  # config.json is a few KB; a huge one is not a run's
# The files a run writes; only these (and temp files) are removed with a run that never began.
RUN_FILES = (CONFIG, METRICS, LOG, BEST, LAST, STATUS, META)
TENSORBOARD = "tensorboard"  # the TensorBoard tracker's event files (ml/trackers.py)
RUN_DIRS = (TENSORBOARD,)
METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "train_accuracy",
    "val_loss",
    "val_accuracy",
    "lr",
    "seconds",
    "images_per_second",
)


class RunUnusable(UserError):
    """The run folder cannot give what was asked (its settings, metrics or a model); the
    message names the file and the problem."""


def workspace_path() -> Path:
    """Where run folders go by default (``<data>/runs``), without creating it."""
    return paths.data_dir() / "runs"


def workspace() -> Path:
    """The runs workspace, created on demand. A workspace that cannot be created (a read-only
    app folder) raises a :class:`~gender_desktop.errors.UserError` saying so."""
    path = workspace_path()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise user_error_from_os(exc, "create the runs folder") from exc
    return path


def safe_name(name: str) -> str:
    """A run name as one folder name: path separators, ``..`` and control characters become
    ``-`` (``--name ../../x`` wrote a run outside the runs folder), at most 80 characters."""
    cleaned = re.sub(r"[\x00-\x1f/\\:]+", "-", name).strip(" .-")
    cleaned = re.sub(r"\.{2,}", "-", cleaned)[:80]
    return cleaned or "run"


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.created = False  # this object made the folder (a new run, not a resumed one)
        self.fresh = False  # a new run's name: its folder must be one this object makes
        self._pending_log: list[str] = []

    @classmethod
    def create(cls, name: str, root: Path | None = None) -> RunFolder:
        """A new run folder's name under ``root`` (default: the workspace). Nothing is created
        yet: the folder appears with the run's first file (:meth:`make`)."""
        root = Path(root) if root is not None else workspace_path()
        run = cls(_free_name(root, f"{time.strftime('%Y%m%d-%H%M%S')}-{safe_name(name)}"))
        run.fresh = True
        return run

    def exists(self) -> bool:
        return self.path.is_dir()

    def make(self) -> None:
        """Create the folder (once). If another run took the name meanwhile, the next free
        name is used. Log lines written before are flushed into ``log.txt``."""
        if self.created or (not self.fresh and self.exists() and not self._pending_log):
            return
        if self.fresh or not self.exists():  # a new run never writes into another's folder
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                while True:
                    try:
                        self.path.mkdir()
                        break
                    except FileExistsError:
                        self.path = _free_name(self.path.parent, self.path.name)
            except OSError as exc:
                raise UserError(_unwritable(exc, self.path.parent)) from exc
            self.created = True
        pending, self._pending_log = self._pending_log, []
        for line in pending:
            self._append_log(line)

    def check_writable(self) -> None:
        """Refuse at once, before the hours of work a run may do before its first write, a
        folder where the run could not be written (a read-only or missing-permission app
        folder): a temp file is made in the run's parent folder and removed."""
        parent = self.path if self.exists() else self.path.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = make_temp(parent / ".write-test")
            os.close(fd)
            tmp.unlink()
        except OSError as exc:
            raise UserError(_unwritable(exc, parent)) from exc

    def clean_temps(self) -> list[Path]:
        """Remove temp files that killed writes left (see fileio.clean_stale_temps)."""
        return clean_stale_temps(self.path) if self.exists() else []

    def discard(self) -> bool:
        """Remove the folder of a run that never saved an epoch, if this object made it: only
        the files a run writes are removed, and the folder only when nothing else is in it.
        Returns whether it is gone."""
        if not self.created or not self.exists():
            return False
        if self.has_checkpoint(LAST) or self.has_checkpoint(BEST):
            return False
        for name in RUN_FILES:
            with contextlib.suppress(OSError):
                (self.path / name).unlink()
        for name in RUN_DIRS:  # what the run's trackers wrote for it
            if (self.path / name).is_dir() and not (self.path / name).is_symlink():
                shutil.rmtree(self.path / name, ignore_errors=True)
        clean_stale_temps(self.path, now=float("inf"))
        try:
            self.path.rmdir()
        except OSError:
            return False
        self.created = False
        return True

    # -- config and metrics -----------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        self.make()
        atomic_write_json(self.path / CONFIG, config)

    def read_config(self) -> dict[str, Any]:
        """``config.json`` as a JSON object; :class:`RunUnusable` names what is wrong with it
        (missing, not a regular file, empty, too big, not JSON, not an object)."""
        file = self.path / CONFIG
        if not self.exists():
            raise RunUnusable("no such run folder", file=self.path)
        text = _read_small(file, MAX_CONFIG_BYTES, "not a run folder (config.json is missing)")
        if not text.strip():
            raise RunUnusable("is empty: the run's settings are lost", file=file)
        try:
            config = json.loads(text)
        except (ValueError, RecursionError) as exc:  # nested too deep counts as not JSON
            raise RunUnusable(f"is not valid JSON ({exc})", file=file) from exc
        if not isinstance(config, dict):
            raise RunUnusable(f"must hold a JSON object, not a {type(config).__name__}", file=file)
        return config

    def train_config(self):
        """The settings the run trained with, type- and range-checked (a crafted file cannot
        make the model allocate absurd memory). Returns a ``TrainConfig``."""
        from gender_desktop.ml.config import ConfigError, TrainConfig

        config = self.read_config()
        if "settings" not in config:
            raise RunUnusable("has no settings", file=self.path / CONFIG)
        try:
            settings = TrainConfig.from_dict(config["settings"])
            settings.validate()
        except ConfigError as exc:
            raise RunUnusable(f"bad settings: {exc}", file=self.path / CONFIG) from exc
        return settings

    def trained_fingerprint(self) -> str | None:
        """The fingerprint of the dataset the run trained on, where config.json says it."""
        try:
            dataset = self.read_config().get("dataset")
        except RunUnusable:
            return None
        value = dataset.get("fingerprint") if isinstance(dataset, dict) else None
        return value if isinstance(value, str) else None

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Rewritten whole each epoch (atomically): a resumed run replaces the rows it redoes."""
        self.make()
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.path / METRICS, buf.getvalue().encode())

    def read_metrics(self) -> list[dict[str, float]]:
        """The epochs' rows; a damaged file raises :class:`RunUnusable` naming its line."""
        file = self.path / METRICS
        if not file.exists():
            return []
        text = _read_small(file, MAX_CONFIG_BYTES * 4, "missing")
        rows = []
        for line, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
            try:
                values = {k: float(row[k]) for k in METRIC_COLUMNS}
            except (KeyError, TypeError, ValueError) as exc:
                raise RunUnusable(
                    f"not a metrics row ({exc.__class__.__name__}: {exc})", file=file, line=line
                ) from exc
            rows.append(values)
        return rows

    def log(self, message: str) -> None:
        """Append a line to ``log.txt``, or keep it until the folder is made. The log is a
        record, not the run: a failed append (a full disk) is not a training failure; the
        next checkpoint write reports the disk."""
        line = f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n"
        if not self.exists():
            self._pending_log.append(line)
            return
        self._append_log(line)

    def _append_log(self, line: str) -> None:
        with contextlib.suppress(OSError), open(self.path / LOG, "a", encoding="utf-8") as handle:
            handle.write(line)

    @property
    def name(self) -> str:
        return self.path.name

    def train_seconds(self) -> float | None:
        """Total training time of the epochs in metrics.csv (the data preparation excluded)."""
        try:
            rows = self.read_metrics()
        except RunUnusable:  # damaged metrics: the time is unknown, the run still usable
            return None
        return round(sum(r.get("seconds", 0.0) for r in rows), 3) if rows else None

    def read_evaluation(self) -> dict[str, Any] | None:
        file = self.path / EVALUATION
        return json.loads(file.read_text()) if file.exists() else None

    # -- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, which: str, state: dict[str, Any]) -> Path:
        """Serialised in memory, then written atomically: a full disk or a kill leaves the
        previous checkpoint as it was and no partial file (an OSError names the file)."""
        import torch  # only the engine's thread pays for importing torch

        self.make()
        buf = io.BytesIO()
        torch.save(state, buf)
        target = self.path / which
        atomic_write_bytes(target, buf.getvalue())
        return target

    def link_checkpoint(self, source: str, which: str) -> Path:
        """``which`` becomes the same checkpoint as ``source`` without writing it again (the
        best epoch that is also the latest: best.pt from last.pt)."""
        target = self.path / which
        atomic_link(self.path / source, target)
        return target

    def load_checkpoint(self, which: str = LAST) -> dict[str, Any]:
        """A checkpoint as a dict with a ``model`` state dict of tensors. A missing, empty,
        cut-short, foreign or unsafe file raises :class:`RunUnusable` naming it."""
        file = self.path / which
        if not file.exists():
            raise RunUnusable("no such checkpoint", file=file)
        if file.is_file() and file.stat().st_size == 0:
            raise RunUnusable(
                "is empty (0 bytes): the checkpoint was never written completely", file=file
            )
        if file.is_file() and not _is_zip(file):
            raise RunUnusable(
                "damaged or incomplete: not a whole checkpoint (the file is cut short, "
                "empty or something else); retrain the run or copy the file again",
                file=file,
            )
        state = load_torch_file(file, RunUnusable)
        if not isinstance(state, dict) or not is_state_dict(state.get("model")):
            raise RunUnusable("not a gender-desktop checkpoint (no model weights)", file=file)
        return state

    def has_checkpoint(self, which: str = LAST) -> bool:
        return (self.path / which).exists()


def kept_epoch(
    history: list[dict[str, float]], best_metric: str = "val_loss", fit_on: str = "train"
) -> dict[str, float] | None:
    """The metrics row of the epoch best.pt holds, by the rule the trainer's checkpoint
    keeper applies (lowest val loss; or highest val accuracy, then lowest loss; the latest
    epoch when fitted on train + val). Torch-free: the pickers and the runs table use it."""
    if not history:
        return None
    if fit_on == "train+val":
        return history[-1]
    if best_metric == "val_accuracy":
        return min(history, key=lambda r: (-r["val_accuracy"], r["val_loss"], r["epoch"]))
    return min(history, key=lambda r: (r["val_loss"], r["epoch"]))


def checkpoint_problem(file: Path) -> str:
    """What is wrong with a checkpoint file that shows without reading it ("" if nothing):
    empty, cut short (not a whole zip archive), not a regular file. torch-free and cheap."""
    try:
        info = file.stat()
    except OSError as exc:
        return describe_os_error(exc, "read")
    if not stat.S_ISREG(info.st_mode):
        return f"{file.name} is not a regular file"
    if info.st_size == 0:
        return f"{file.name} is empty (0 bytes)"
    if not _is_zip(file):
        return f"{file.name} is damaged or incomplete"
    return ""


def load_torch_file(file: Path, error: type[UserError]) -> Any:
    """``torch.load`` with ``weights_only=True`` whose failures become ``error`` naming the file:
    torch's own text runs to paragraphs and, for a file holding code, suggests turning the
    safety off, which is never the answer for a file from elsewhere."""
    import pickle

    import torch

    try:
        info = file.stat()
        if not stat.S_ISREG(info.st_mode):
            raise error("not a regular file", file=file)
        if info.st_size == 0:
            raise error("is empty (0 bytes): it was never written completely", file=file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": not the user's
            return torch.load(file, map_location="cpu", weights_only=True)
    except UserError:
        raise
    except OSError as exc:
        raise error(describe_os_error(exc, "read")) from exc
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower():
            raise error(
                "not a gender-desktop checkpoint, or unsafe: it holds Python objects that "
                "would run code when loaded, so it was not loaded",
                file=file,
            ) from exc
        raise error("damaged, or not a torch checkpoint", file=file) from exc
    except MemoryError:
        raise
    except Exception as exc:  # torch raises RuntimeError, EOFError, KeyError… for bad files
        raise error("damaged or incomplete, or not a torch checkpoint", file=file) from exc


def is_state_dict(value: Any) -> bool:
    """A mapping of names to tensors (checked without importing torch at module level)."""
    import torch

    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())
    )


def _is_zip(file: Path) -> bool:
    """torch writes checkpoints as zip archives whose directory is at the end: a cut-short
    copy or interrupted write fails this at once, whatever torch would say."""
    try:
        return zipfile.is_zipfile(file)
    except OSError:
        return True  # let the load say what the OS says


def _read_small(file: Path, limit: int, missing: str) -> str:
    """The text of a regular file of at most ``limit`` bytes, or :class:`RunUnusable`. Read by
    the data layer's one reader of untrusted files (regular files only, never blocking on a
    FIFO, bounded), so a run's files get the same checks as a dataset's."""
    if not file.exists() and not file.is_symlink():
        raise RunUnusable(missing, file=file if missing == "missing" else file.parent)
    try:
        data = read_regular(file, limit)
    except UserError as exc:
        raise RunUnusable(exc.reason, file=file) from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunUnusable(f"is not text (byte {exc.start} is not UTF-8)", file=file) from exc


def _free_name(root: Path, name: str) -> Path:
    """``root/name``, or ``root/name-2``, ``-3``… where that is taken."""
    base = root / name
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _unwritable(exc: OSError, folder: Path) -> str:
    """What to say when a run cannot be written under ``folder`` (named, not the temp file)."""
    named = OSError(exc.errno, exc.strerror, str(folder))
    return (
        f"{describe_os_error(named, 'write a run folder in')}. Choose another runs folder "
        f"(train --runs-dir, or set GENDER_DESKTOP_HOME) or make {folder} writable"
    )
