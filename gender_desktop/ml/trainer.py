"""The training engine shared by the CLI and the GUI (Qt-free).

``Trainer(config).run()`` opens the dataset (label edits applied), decodes the images once,
builds the model with its starting weights, and trains with events for every batch and epoch.
Stop and pause are ``threading.Event`` s checked between batches. Every epoch writes
``metrics.csv`` and ``last.pt``; an improvement in validation loss writes ``best.pt``. Each epoch
draws its shuffling, augmentation and dropout randomness from ``(seed, epoch)``, so a run
resumed from ``last.pt`` finishes exactly as if it had not stopped (on the same device).

Nothing is lost and nothing is left half-made: the run folder appears when the run writes its
first file (the dataset, starting weights and checkpoint to resume are checked before), a run
that fails before saving an epoch removes the folder it made, and a failed write (a full disk)
keeps the previous epoch's files whole: the message says what is full and what is kept.
"""

from __future__ import annotations

import errno
import math
import platform
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from gender_desktop import __version__
from gender_desktop.data.dataset import Dataset, open_dataset
from gender_desktop.data.labels import labelled_table
from gender_desktop.errors import Cancelled, UserError, describe_os_error
from gender_desktop.ml import distributed, runtime, speed, weights_check
from gender_desktop.ml import weights as weights_mod
from gender_desktop.ml.checkpoints import CheckpointKeeper, last_checkpoint_name
from gender_desktop.ml.config import MOMENTUM_OPTIMIZERS, TrainConfig
from gender_desktop.ml.events import (
    VALIDATING,
    BatchEnd,
    Callback,
    Control,
    EpochEnd,
    Event,
    LogLine,
    PhaseProgress,
    RunEnded,
    RunStarted,
)
from gender_desktop.ml.features import CachedFeatures, compute_features, feature_key
from gender_desktop.ml.inputs import SharedInputs
from gender_desktop.ml.models import GenderNet, trainable_parameters
from gender_desktop.ml.pipeline import DecodedImages, DeviceBatcher, batches
from gender_desktop.ml.runmodel import fit_state_dict
from gender_desktop.ml.runtime import device_name
from gender_desktop.runs import meta
from gender_desktop.runs.folder import BEST, LAST, RunFolder, RunUnusable


class TrainingFailed(UserError):
    """Training cannot go on; the message says why and what to try."""


def resolve_device(name: str) -> torch.device:
    try:
        return runtime.resolve_device(name)
    except runtime.DeviceUnavailable as exc:
        raise TrainingFailed(str(exc)) from exc


class Trainer:
    def __init__(
        self,
        config: TrainConfig,
        run: RunFolder | None = None,
        callback: Callback | None = None,
        control: Control | None = None,
        dataset: Dataset | None = None,
        shared: SharedInputs | None = None,
        ddp: distributed.DistContext | None = None,
    ) -> None:
        config.validate()
        self.shared = shared
        self.config = config
        # Under DDP (ml/distributed.py) rank 0 alone writes the run folder; every rank reads
        # last.pt from it to resume.
        self.dist = ddp
        self.resume_folder = run
        if ddp is not None and not ddp.is_main:
            run = None
        self.run_folder = run
        self.callback = callback or (lambda event: None)
        self.control = control or Control()
        self.dataset = dataset
        self.device = resolve_device(config.device) if ddp is None else ddp.device
        if ddp is not None and config.sync_bn and self.device.type != "cuda":
            raise TrainingFailed(
                "synchronised BatchNorm (--sync-bn) needs CUDA GPUs: SyncBatchNorm has no CPU "
                "implementation; leave --sync-bn out on CPU processes"
            )
        self.history: list[dict[str, float]] = []
        # Time spent paused is left out of epoch times, images/s and the run's train_seconds.
        self.paused_seconds = 0.0
        self._epoch_seconds: list[float] = []  # this run's epochs (train + validation)
        self._val_seconds: float | None = None  # the last validation's
        self.keeper = CheckpointKeeper(config, run)
        self.features: CachedFeatures | None = None  # a head-only run's, for its test scores
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.precision = runtime.device_precision(self.device, config.amp, config.amp_dtype)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed input size: pick the fastest kernels

    # -- helpers ----------------------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        self.callback(event)

    def log(self, message: str) -> None:
        if self.run_folder is not None:
            self.run_folder.log(message)
        self.emit(LogLine(message))

    def _progress(self, done: int, total: int, message: str) -> None:
        self.emit(PhaseProgress(done, total, message))

    def _wait_if_paused(self) -> float:
        """Hold while paused; the seconds held (the caller leaves them out of its times)."""
        if self.dist is not None:  # every rank holds, and a stop anywhere stops all
            waited = self.dist.wait_if_paused(self.control)
            self.paused_seconds += waited
            return waited
        if not self.control.pause.is_set():
            return 0.0
        held = time.perf_counter()
        while self.control.pause.is_set() and not self.control.stop.is_set():
            time.sleep(0.05)
        waited = time.perf_counter() - held
        self.paused_seconds += waited
        return waited

    def _autocast(self):
        return runtime.autocast(self.device, self.config.amp, self.config.amp_dtype)

    # -- setup ------------------------------------------------------------------------------------
    def _open_dataset(self) -> None:
        """The dataset's table (no image is decoded yet)."""
        cfg = self.config
        if self.dataset is None and self.shared is not None:
            self.dataset = self.shared.dataset(cfg.data, self._progress, self.control.stop)
        elif self.dataset is None:
            self.dataset = open_dataset(cfg.data, progress=self._progress, cancel=self.control.stop)

    def _prepare_data(self) -> None:
        """Decode the images once and split the rows (the long part of preparing)."""
        cfg = self.config
        assert self.dataset is not None
        table = labelled_table(self.dataset)
        dataset = self.dataset
        self.decoded = self._first_on_each_machine(
            lambda: DecodedImages.build(
                dataset,
                cfg.model.input_size,
                cfg.workers or None,
                self._progress,
                self.control.stop,
                decode_device=self.device,  # nvjpeg on the run's own GPU
            )
        )
        ok = self.decoded.ok
        if self.decoded.errors:
            self.log(f"{len(self.decoded.errors):,} images could not be decoded and are skipped")
        # On the training device once; batches index it there.
        self.labels = torch.tensor(
            table["Male"].to_numpy(), dtype=torch.float32, device=self.device
        )
        split = table["split"].astype(str).to_numpy()
        if cfg.fold:  # cross-validation: this fold of train+val is val, test untouched
            from gender_desktop.data.folds import fold_split

            split = fold_split(table, cfg.fold).astype(str)
        self.rows = {s: np.flatnonzero((split == s) & ok) for s in ("train", "val", "test")}
        if len(self.rows["train"]) == 0 or len(self.rows["val"]) == 0:
            raise TrainingFailed("the dataset needs images in both its train and val splits")
        if cfg.fit_on == "train+val":  # val still reported, but trained on: not held out
            self.rows["train"] = np.sort(np.concatenate([self.rows["train"], self.rows["val"]]))

    def _learn_framing(self) -> None:
        """Measure where the detector finds faces in a seeded sample of the train images and
        store it as the run's ``framing.json``, so predictions on new photos can frame faces
        the same way (ml/framing.py). Main process only (the caller has the run folder), once
        per run, and never fatal: a run without it falls back to CelebA's aligned framing."""
        from gender_desktop.ml import framing

        assert self.run_folder is not None and self.dataset is not None
        if (self.run_folder.path / framing.FRAMING_FILE).exists():
            return
        try:
            # 48 images (about 1 s on a CPU): the median of a few dozen faces is stable, and
            # every run and sweep trial pays it once
            sample = framing.training_sample(
                self.dataset, self.rows["train"], self.config.seed, 48, self.control.stop
            )
            geometry = framing.learn_geometry(sample)
            if geometry is None and self.dataset.layout in framing.CELEBA_LAYOUTS:
                # too few faces found (tiny images): CelebA's own landmark file says where its
                # alignment put them, better than the typical numbers; a bad one is logged
                try:
                    geometry = framing.dataset_landmarks_geometry(self.dataset.root)
                except UserError as exc:
                    self.log(f"framing: the dataset's landmark file is not used ({exc})")
            if geometry is not None:
                framing.write_geometry(self.run_folder.path, geometry)
            self.log(framing.framing_message(geometry))
        except Exception as exc:  # noqa: BLE001 - OpenCV missing or failing never fails a run
            self.log(f"framing: not measured ({exc}); predictions use CelebA's aligned framing")

    def _first_on_each_machine(self, work):
        """``work()``; under DDP first on each machine's local rank 0 (it fills the shared
        caches: the decoded images, downloaded weights), then on the others."""
        return work() if self.dist is None else self.dist.first_on_each_machine(work)

    def _build_model(self, resuming: bool = False) -> GenderNet:
        """The model with its starting weights and scope. Resuming: last.pt holds the whole
        model, so the starting weights (perhaps a download or a deleted run) are not needed
        again."""
        torch.manual_seed(self.config.seed)
        model = GenderNet(self.config.model)
        if not resuming:
            self._first_on_each_machine(
                lambda: weights_mod.load_starting_weights(
                    model, self.config.weights, self._progress, self.control.stop
                )
            )
        model.apply_scope(self.config.model.scope)
        return model

    def _optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        cfg = self.config
        if cfg.optimizer in MOMENTUM_OPTIMIZERS:  # SGD, the one that uses momentum
            return torch.optim.SGD(
                params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
        if cfg.optimizer == "adam":
            return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def _scheduler(self, optimizer: torch.optim.Optimizer):
        cfg = self.config
        if cfg.schedule == "step":
            return torch.optim.lr_scheduler.StepLR(optimizer, cfg.step_size, cfg.gamma)
        if cfg.schedule == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, cfg.epochs)
        if cfg.schedule == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=cfg.gamma, patience=1
            )
        return None

    def describe(self) -> dict[str, Any]:
        """What goes into config.json besides the settings."""
        ds = self.dataset
        assert ds is not None
        return {
            "settings": self.config.to_dict(),
            "dataset": {
                "source": ds.report.source,
                "layout": ds.layout,
                "fingerprint": ds.fingerprint,
                "split_origin": ds.report.split_origin,
                "split_sizes": {k: len(v) for k, v in self.rows.items()},
            },
            "device": device_name(self.device),
            **({"distributed": self.dist.describe()} if self.dist is not None else {}),
            "versions": {
                "gender_desktop": __version__,
                "torch": torch.__version__,
                "python": platform.python_version(),
            },
        }

    # -- training ---------------------------------------------------------------------------------
    def run(self, resume: bool = False) -> dict[str, Any]:
        """Train; returns the summary. A stop (also during preparation) ends the run normally
        with ``stopped`` set; the last complete epoch is what ``last.pt`` holds."""
        started = time.perf_counter()
        try:
            summary = self._run_translating_errors(resume, started)
        except Cancelled:
            self.log("stopped before training began")
            summary = self._summary(started, stopped=True)
        except BaseException as exc:
            self._record_failure(exc)
            raise
        state = (
            (meta.PRUNED if self.control.reason == "pruned" else meta.STOPPED)
            if summary["stopped"]
            else meta.FINISHED
        )
        summary["state"] = state
        self._record_state(state)
        self.emit(RunEnded(summary["run_dir"], state, summary))
        return summary

    def _record_state(self, state: str, message: str = "") -> None:
        """status.json, where the run has a folder (a record: a failed write is not fatal)."""
        if self.run_folder is not None and self.run_folder.exists():
            try:
                meta.write_status(self.run_folder.path, state, message)
            except OSError as exc:
                self.emit(LogLine(f"could not record the run's status ({exc})"))

    def _record_failure(self, exc: BaseException) -> None:
        """A run that keeps a folder after failing says so in status.json, and how."""
        state = meta.STOPPED if isinstance(exc, KeyboardInterrupt) else meta.FAILED
        message = str(exc) if isinstance(exc, UserError) else f"{type(exc).__name__}: {exc}"
        self._record_state(state, message[:2000])
        run_dir = (
            str(self.run_folder.path) if self.run_folder and self.run_folder.exists() else None
        )
        self.emit(RunEnded(run_dir, state, {}))

    def _run_translating_errors(self, resume: bool, started: float) -> dict[str, Any]:
        """Open the folder and train; an expected failure becomes a :class:`TrainingFailed`
        that says what the run folder keeps (a folder with no epoch is removed). Under DDP,
        a lost process (torchrun ended this one, a collective timed out) is one too."""
        try:
            return self._run_folder_steps(resume, started)
        except Cancelled:
            raise
        except BaseException as exc:
            if self.dist is not None:
                distributed.shield_from_sigterm()
            if self.dist is None or not distributed.is_failure(exc):
                raise  # a one-process run's errors are its own, never "a lost process"
            kept = self._discard_unbegun()
            raise TrainingFailed(f"{distributed.failure_text(exc)}. {kept}") from exc

    def _run_folder_steps(self, resume: bool, started: float) -> dict[str, Any]:
        """:meth:`_run_translating_errors`' part for the failures of the process itself."""
        try:
            self._open_folder(resume)
            return self._run(resume, started)
        except Cancelled:
            raise
        except OSError as exc:  # mostly a write of the run (a full disk, a read-only folder)
            kept = self._discard_unbegun()
            writing = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)
            what = describe_os_error(exc, "write" if writing else "read or write")
            raise TrainingFailed(f"{what}. {kept}") from exc
        except UserError as exc:
            self._discard_unbegun()
            if type(exc) in (UserError, RunUnusable):  # as the training's failure
                raise TrainingFailed(str(exc)) from exc
            raise
        except ValueError as exc:
            kept = self._discard_unbegun()
            if "Expected more than 1 value per channel" not in str(exc):
                raise
            # BatchNorm cannot train on one value per channel: a batch of one image whose
            # feature map is 1x1 (batch size 1, or a one-image train split) at this input size.
            raise TrainingFailed(
                "a batch of one image cannot train this network's BatchNorm layers at this input "
                "size; use a batch size of 2 or more (and a train split of at least 2 images), a "
                f"larger input size, or train the head only. {kept}"
            ) from exc
        except BaseException:
            self._discard_unbegun()
            raise

    def _open_folder(self, resume: bool) -> None:
        """Before any work: the folder to resume must exist and the place a new run goes must
        be writable (a read-only app folder is refused now, not after the decoding); temp
        files that a killed write left in a resumed folder are removed."""
        run = self.run_folder
        if run is None:
            return
        if resume and not run.exists():
            raise TrainingFailed("no such run folder to resume", file=run.path)
        if resume and not run.has_checkpoint(LAST):  # retraining would overwrite its best.pt
            raise TrainingFailed(
                "nothing to resume: last.pt is missing (it is written after every complete "
                "epoch); start a new run instead, with --weights run:<this folder> to build on it",
                file=run.path,
            )
        run.check_writable()
        removed = run.clean_temps()
        if removed:
            self.log(f"removed {len(removed)} temp file(s) that an interrupted write left")

    def _discard_unbegun(self) -> str:
        """After a failure: remove the folder this run made if it saved no epoch, and say
        what the run folder keeps."""
        run = self.run_folder
        if run is None:
            return "Nothing was saved."
        if run.discard() or not run.exists():
            return "Nothing was saved (no epoch had finished), and no run folder is left."
        if run.has_checkpoint(LAST):
            return (
                f"The run folder {run.path} keeps the last complete epoch (last.pt); "
                f"resume it with: gender-desktop train --resume {run.path}"
            )
        if run.has_checkpoint(BEST):
            return (
                f"The run folder {run.path} keeps best.pt (for evaluation and prediction) but "
                "no last.pt to resume from"
            )
        return f"The run folder {run.path} holds no complete epoch."

    def _summary(self, started: float, stopped: bool) -> dict[str, Any]:
        """What a run reports: the kept epoch's numbers (the weights best.pt holds), so that
        "best val accuracy" always describes the checkpoint that evaluation and prediction
        use; the highest val accuracy of any epoch is there too, named as such."""
        best = self.keeper.kept(self.history)
        return {
            # None when nothing was written (stopped before the run's first file)
            "run_dir": (
                str(self.run_folder.path)
                if self.run_folder is not None and self.run_folder.exists()
                else None
            ),
            "best_val_accuracy": best["val_accuracy"] if best else None,
            "best_val_loss": best["val_loss"] if best else None,
            "best_epoch": int(best["epoch"]) if best else None,  # the weights best.pt holds
            "best_metric": self.config.best_metric,
            "val_accuracy_at_best_epoch": best["val_accuracy"] if best else None,
            "max_val_accuracy": max(r["val_accuracy"] for r in self.history) if best else None,
            "epochs": len(self.history),
            "stopped": stopped,
            # the epochs' own time, as the run folder, the runs table and reports count it
            # (so every tab shows one number); the wall time adds data preparation
            "train_seconds": round(sum(float(r.get("seconds", 0.0)) for r in self.history), 3),
            "wall_seconds": round(time.perf_counter() - started - self.paused_seconds, 3),
            "paused_seconds": round(self.paused_seconds, 3),
            "device": device_name(self.device),
            "history": self.history,
        }

    def _run(self, resume: bool, started: float) -> dict[str, Any]:
        """Prepare, then the epoch loop: :meth:`train_one_epoch`, :meth:`validate`, and the
        checkpoint keeper's decision; then the best weights on the test split."""
        cfg = self.config
        source = self.resume_folder  # every rank's, under DDP
        resuming = resume and source is not None and source.has_checkpoint(LAST)
        if not resuming:  # weights that cannot be had fail now, not after half a minute of decoding
            weights_check.require(cfg.model.backbone, cfg.weights)
        self._open_dataset()
        # The starting weights (a download, a file's hash check) before the decoding, too.
        model = self._build_model(resuming)
        self._prepare_data()
        loop = self._loop_state(model)
        if cfg.auto_batch_size and not resuming:  # resuming keeps the size config.json holds
            self._choose_batch_size(loop)
        start_epoch = 1
        if resuming:
            assert source is not None
            start_epoch = self._restore(loop)
            self.history = [r for r in source.read_metrics() if r["epoch"] < start_epoch]
            self.log(f"resumed after epoch {start_epoch - 1}")
        described = self.describe()  # config.json, and what the trackers are told
        if self.run_folder is not None:
            self.run_folder.write_config(described)
            meta.write_status(self.run_folder.path, meta.RUNNING)
        run_dir = str(self.run_folder.path) if self.run_folder is not None else None
        self.emit(RunStarted(run_dir, described, start_epoch))
        if self.run_folder is not None:  # after RunStarted: the panel shows the run meanwhile
            self._learn_framing()
        if self._use_feature_cache():
            self.features = self._shared_features(model, loop.batcher, resuming)
        features = self.features
        self.log(
            f"training {cfg.model.backbone} ({cfg.model.scope}) on {device_name(self.device)}: "
            f"{len(self.rows['train']):,} train / {len(self.rows['val']):,} val images"
            + (" (fitting on train + val)" if cfg.fit_on == "train+val" else "")
            + (self._processes_text() if self.dist is not None else "")
        )
        stopped = False
        last_epoch = 0 if self.keeper.should_stop else cfg.epochs  # an early-stopped run resumed
        for epoch in range(start_epoch, last_epoch + 1):
            row = self.train_one_epoch(epoch, loop, features)
            if row is None:
                stopped = True
                self.log(f"stopped during epoch {epoch}; the last complete epoch is kept")
                break
            try:
                validating = time.perf_counter()
                row["val_loss"], row["val_accuracy"] = self.validate(
                    model, loop.batcher, "val", features, epoch
                )
                self._val_seconds = time.perf_counter() - validating
            except Cancelled:
                stopped = True
                self.log(f"stopped while validating epoch {epoch}; the last complete epoch is kept")
                break
            row["lr"] = loop.optimizer.param_groups[0]["lr"]
            loop.step_scheduler(row["val_loss"])
            row["seconds"] = time.perf_counter() - row.pop("started")
            self._epoch_seconds.append(row["seconds"])
            self.history.append(row)
            improved = self.keeper.end_epoch(row, self.history, loop.state_dicts())
            self.emit(EpochEnd(row, improved))
            self.log(
                f"epoch {epoch}: train loss {row['train_loss']:.4f} acc {row['train_accuracy']:.3f}"
                f" · val loss {row['val_loss']:.4f} acc {row['val_accuracy']:.3f}"
                + (" · best" if improved else "")
            )
            if self.keeper.should_stop:
                self.log(f"early stopping: no better {cfg.best_metric} for {cfg.patience} epochs")
                break
        if self.keeper.patience:
            best_state = self.keeper.best_weights()
            if best_state is not None:
                model.load_state_dict(best_state)
                self.log("restored the best weights")
        self.model = model
        summary = self._summary(started, stopped)
        if not stopped and self.run_folder is not None and len(self.rows["test"]):
            summary["test"] = self._evaluate_test(model)
        return summary

    def _processes_text(self) -> str:
        """Under DDP: how the rows and the batch are shared out, for the run's log."""
        assert self.dist is not None
        world, train = self.dist.world, len(self.rows["train"])
        return (
            f", in {world} processes ({self.dist.backend}): {train // world:,} train images "
            f"and batches of {self.config.batch_size} each per epoch (global batch "
            f"{self.config.batch_size * world})"
            + (", BatchNorm synchronised" if self.config.sync_bn else "")
        )

    def _loop_state(self, model: GenderNet) -> LoopState:
        """The model on the device with its optimizer, schedule, grad scaler and batcher."""
        cfg = self.config
        channels_last = self.device.type == "cuda"
        model.to(
            self.device,
            memory_format=torch.channels_last if channels_last else torch.preserve_format,
        )
        if self.dist is not None and cfg.sync_bn:
            model = distributed.convert_sync_bn(model)  # same names: last.pt loads unchanged
        optimizer = self._optimizer(trainable_parameters(model))
        if cfg.compile:
            speed.compile_model(model)
        loop = LoopState(
            model,
            optimizer,
            self._scheduler(optimizer),
            runtime.grad_scaler(self.device, self.precision),
            self.precision.scaler,
            DeviceBatcher(self.decoded, self.device, channels_last),
        )
        if self.dist is not None:  # DDP wraps what trains: the head alone on cached features
            loop.wrapped = self.dist.wrap(model.head if self._use_feature_cache() else model)
        return loop

    def _choose_batch_size(self, loop: LoopState) -> None:
        """The largest batch that fits (ml/speed.largest_batch), into the settings before
        config.json is written, so the run records (and a resume reuses) the size chosen."""
        step = speed.probe_step(
            loop.model,
            loop.batcher.normalise,
            self.config.model.input_size,
            self.device,
            self._autocast,
        )
        try:
            size = speed.largest_batch(step, self.device, len(self.rows["train"]))
        except torch.cuda.OutOfMemoryError:
            size = 0
        if self.dist is not None:  # one size for all ranks (each GPU may be shared differently)
            size = self.dist.smallest(size)
        if size == 0:
            raise TrainingFailed(
                "CUDA ran out of memory even at the smallest batch the automatic batch size "
                "tries; try a smaller input size or backbone"
            )
        self.config.batch_size = size
        how = (
            "the largest that fits, probed with real steps"
            if self.device.type == "cuda"
            else "a CPU's fixed choice: bigger batches are not faster there"
        )
        self.log(f"automatic batch size: {size} ({how})")

    def train_one_epoch(
        self, epoch: int, loop: LoopState, features: CachedFeatures | None
    ) -> dict[str, float] | None:
        """One pass over the train split; the epoch's train metrics, or None when stopped.
        Each epoch draws its shuffling, augmentation and dropout randomness from
        ``(seed, epoch)``, which is what makes a resumed run exact."""
        cfg, model = self.config, loop.model
        # Under DDP each process draws its own dropout masks and augmentations (the rank in
        # the seed; 0 for one process, whose draws are unchanged), still exact on resume.
        rank = self.dist.rank if self.dist is not None else 0
        torch.manual_seed(cfg.seed * 100_003 + epoch + rank * 1_000_003)
        generator = torch.Generator().manual_seed(cfg.seed * 7_919 + epoch + rank * 1_000_003)
        model.train()
        t0 = time.perf_counter()
        train_rows = self.rows["train"]
        if self.dist is not None:  # this rank's shard of the same seeded shuffle
            train_rows = self.dist.shard(train_rows, cfg.seed * 1_009 + epoch)
        parts = batches(train_rows, cfg.batch_size, True, cfg.seed * 1_009 + epoch)
        scale = self.dist.world if self.dist is not None else 1  # rates and counts: all ranks'
        # Sums stay on the device: reading a value forces the CPU to wait for the GPU, so
        # that happens only when a progress event is due (about 10 a second).
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        seen, last_report = 0, 0.0
        for b, rows in enumerate(parts, 1):
            t0 += self._wait_if_paused()  # the epoch's clock stops while paused
            if self.control.stop.is_set():  # under DDP agreed by all ranks just now
                return None
            index = torch.from_numpy(rows).to(self.device, non_blocking=True)
            y = self.labels[index]
            logits, loss = self._train_step(loop, rows, index, y, generator, features)
            n = len(rows)
            loss_sum += loss.detach() * n
            correct += ((logits.detach() > 0).float() == y).sum()
            seen += n
            now = time.perf_counter()
            if now - last_report >= 0.1 or b == len(parts):
                last_report = now
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise TrainingFailed(
                        f"the loss became {value} in epoch {epoch}, batch {b}; training "
                        "stopped. Try a lower learning rate."
                    )
                rate = seen * scale / max(now - t0, 1e-9)
                eta = (len(train_rows) - seen) * scale / max(rate, 1e-9)
                run_eta = self._run_eta(epoch, eta, rate)
                self.emit(BatchEnd(epoch, b, len(parts), value, rate, eta, cfg.epochs, run_eta))
        if self.dist is not None:  # every rank reports the whole epoch's numbers
            loss_total, correct_total, seen_total = self.dist.sums(loss_sum, correct, seen)
            loss_sum, correct, seen = torch.tensor(loss_total), int(correct_total), int(seen_total)
            self.log(f"epoch {epoch}: trained on {seen:,} images in {scale} processes")
        train_loss = float(loss_sum) / max(seen, 1)
        if not math.isfinite(train_loss):
            raise TrainingFailed(
                f"the loss became {train_loss} in epoch {epoch}; training stopped. "
                "Try a lower learning rate."
            )
        return {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_accuracy": int(correct) / max(seen, 1),
            "images_per_second": seen / max(time.perf_counter() - t0, 1e-9),
            "started": t0,
        }

    def _run_eta(self, epoch: int, train_left: float, rate: float) -> float:
        """Seconds until the last planned epoch is validated: the rest of this epoch's
        training and its validation, then the epochs left at the mean time of this run's
        finished epochs (before the first has finished: this epoch's rate, and validation
        at the training rate, which overestimates it: it has no backward pass)."""
        rate = max(rate, 1e-9)
        val = self._val_seconds if self._val_seconds is not None else len(self.rows["val"]) / rate
        if self._epoch_seconds:
            per_epoch = sum(self._epoch_seconds) / len(self._epoch_seconds)
        else:
            per_epoch = len(self.rows["train"]) / rate + val
        return train_left + val + max(self.config.epochs - epoch, 0) * per_epoch

    def _train_step(self, loop, rows, index, y, generator, features):
        """Forward, backward and the optimizer step of one batch; (logits, loss)."""
        cfg, model = self.config, loop.model
        try:
            if features is None:
                # Augment outside autocast: the sampling grid must stay in fp32.
                x = loop.batcher(rows, cfg.augment, generator)
            with self._autocast():
                wrapped = loop.wrapped  # under DDP: what trains, syncing its gradients
                if features is not None:
                    head = wrapped if wrapped is not None else model.head
                    logits = head(features.rows(index)).squeeze(1)
                else:
                    logits = (wrapped if wrapped is not None else model)(x)
                loss = self.loss_fn(logits.float(), y)
            loop.optimizer.zero_grad(set_to_none=True)
            loop.scaler.scale(loss).backward()
            loop.scaler.step(loop.optimizer)
            loop.scaler.update()
        except torch.cuda.OutOfMemoryError as exc:
            raise TrainingFailed(
                f"CUDA ran out of memory at batch size {cfg.batch_size}; try a smaller "
                "batch size or a smaller input size"
            ) from exc
        return logits, loss

    def _restore(self, loop: LoopState) -> int:
        """Load last.pt into the model, optimizer and keeper; returns the next epoch. A
        checkpoint that is damaged, of another model than config.json says, or missing its
        training state raises :class:`TrainingFailed` naming it."""
        source = self.resume_folder  # under DDP every rank reads it
        assert source is not None
        file = source.path / LAST
        state = source.load_checkpoint(LAST)
        fit_state_dict(loop.model, state["model"], file, self.config, TrainingFailed)
        epoch = state.get("epoch")
        if not (
            isinstance(state.get("optimizer"), dict)
            and isinstance(epoch, int)
            and epoch >= 0
            and self.keeper.restore(state)
        ):
            raise TrainingFailed(
                "not a resumable checkpoint (its optimizer state, epoch or early-stopping "
                "state is missing or damaged)",
                file=file,
            )
        try:
            loop.optimizer.load_state_dict(state["optimizer"])
            if loop.scheduler is not None and state.get("scheduler"):
                loop.scheduler.load_state_dict(state["scheduler"])
            if state.get("scaler"):
                loop.scaler.load_state_dict(state["scaler"])
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise TrainingFailed(
                f"its optimizer state does not fit the run's settings ({exc})", file=file
            ) from exc
        return epoch + 1

    def _evaluate_test(self, model: GenderNet) -> dict[str, Any] | None:
        """The best weights on the test split, written to evaluation.json / predictions.csv.
        The model is handed back with the weights it had."""
        from gender_desktop.ml.evaluation import evaluate_model

        assert self.run_folder is not None and self.dataset is not None
        kept = {k: v.detach().clone() for k, v in model.state_dict().items()}
        which = last_checkpoint_name(self.run_folder)
        state = self.run_folder.load_checkpoint(which)
        model.load_state_dict(state["model"])
        try:
            evaluation = evaluate_model(
                model,
                self.dataset,
                self.decoded,
                self.device,
                self.run_folder,
                "test",
                self.config.amp,
                max(self.config.batch_size, 128),
                lambda done, total, _m: self._progress(done, total, "Evaluating on the test split"),
                self.control.stop,
                extra={"checkpoint": which, "epoch": int(state.get("epoch", 0))},
                scores=self._cached_scores(model),
            )
        except Cancelled:
            self.log("stopped while evaluating; the run is kept without an evaluation")
            return None
        finally:
            model.load_state_dict(kept)
        m = evaluation["metrics"]
        self.log(
            f"test ({m['n']:,} images, epoch {evaluation['epoch']} weights): accuracy "
            f"{m['accuracy']:.4f} · precision {m['precision']:.4f} · recall {m['recall']:.4f} "
            f"· F1 {m['f1']:.4f} · AUC {evaluation['roc']['auc'] or float('nan'):.4f}"
        )
        return {k: m[k] for k in ("n", "accuracy", "precision", "recall", "f1")} | {
            "auc": evaluation["roc"]["auc"]
        }

    def _use_feature_cache(self) -> bool:
        model_cfg = self.config.model
        return (
            self.config.feature_cache
            and model_cfg.scope == "head"
            and not self.config.augment.active
        )

    def _cached_scores(self, model: GenderNet):
        """P(Male) of rows from the cached features with the model's head (None where a row
        is not cached): a head-only run evaluates without running the backbone again."""
        features = self.features
        if features is None:
            return None

        @torch.no_grad()
        def scores(rows: np.ndarray) -> np.ndarray | None:
            index = torch.from_numpy(rows).to(self.device)
            if not features.covers(index):
                return None
            model.eval()
            out = np.empty(len(rows), dtype=np.float32)
            for start in range(0, len(rows), 4096):
                part = index[start : start + 4096]
                with self._autocast():
                    logits = model.head(features.rows(part)).squeeze(1)
                out[start : start + len(part)] = torch.sigmoid(logits.float()).cpu().numpy()
            return out

        return scores

    def _shared_features(
        self, model: GenderNet, batcher: DeviceBatcher, resuming: bool
    ) -> CachedFeatures:
        """The frozen trunk's features for the train, val and (with a run folder, which
        is evaluated at the end) test images, computed once, or taken
        from the shared inputs when another run in this process computed them for the same
        trunk and images (a head-only sweep). A resumed trunk is last.pt's: not shareable."""
        assert self.dataset is not None
        parts = [self.rows["train"], self.rows["val"]]
        if self.run_folder is not None:
            parts.append(self.rows["test"])
        needed = np.unique(np.concatenate(parts))  # train+val fitting: val rows are in train

        def compute() -> CachedFeatures:
            return compute_features(
                model,
                batcher,
                len(self.labels),
                needed,
                max(self.config.batch_size, 256),
                self.config.amp,
                self.control.stop,
                self._progress,
            )

        if self.shared is None or resuming:
            return compute()
        key = feature_key(self.config, self.dataset, needed, self.device)
        return self.shared.features(key, compute)

    @torch.no_grad()
    def validate(
        self,
        model: GenderNet,
        batcher: DeviceBatcher,
        split: str,
        features: CachedFeatures | None = None,
        epoch: int = 0,
    ) -> tuple[float, float]:
        """(loss, accuracy) on ``split``; its progress goes out as "Validating" phases
        (about 10 a second) so that the panel and the CLI show the validation."""
        model.eval()
        loss_fn = nn.BCEWithLogitsLoss(reduction="sum")
        total = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        part = self.rows[split] if self.dist is None else self.dist.split(self.rows[split])
        seen, count, last_report = 0, len(part), 0.0
        for rows in batches(part, max(self.config.batch_size, 128), False, 0):
            # Under DDP ranks have unequal batch counts here, so none stops alone: a stop
            # during validation is agreed at the next training batch.
            if self.dist is None and self.control.stop.is_set():
                raise Cancelled()
            if time.perf_counter() - last_report >= 0.1:
                last_report = time.perf_counter()
                self.emit(PhaseProgress(seen, count, VALIDATING, epoch))
            index = torch.from_numpy(rows).to(self.device)
            y = self.labels[index]
            x = None if features is not None else batcher(rows, None, None)
            with self._autocast():
                if features is not None:
                    logits = model.head(features.rows(index)).squeeze(1)
                else:
                    logits = model(x)
            total += loss_fn(logits.float(), y)
            correct += ((logits > 0).float() == y).sum()
            seen += len(rows)
        self.emit(PhaseProgress(seen, count, VALIDATING, epoch))
        if self.dist is not None:
            total_sum, correct_sum, seen_sum = self.dist.sums(total, correct, seen)
            return total_sum / max(seen_sum, 1), int(correct_sum) / max(seen_sum, 1)
        return float(total) / max(seen, 1), int(correct) / max(seen, 1)


@dataclass
class LoopState:
    """What the epoch loop steps: the model and its optimizer, schedule and grad scaler."""

    model: GenderNet
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    use_scaler: bool
    batcher: DeviceBatcher
    wrapped: nn.Module | None = None  # under DDP: what trains, in DistributedDataParallel

    def step_scheduler(self, val_loss: float) -> None:
        if isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.scheduler.step(val_loss)
        elif self.scheduler is not None:
            self.scheduler.step()

    def state_dicts(self) -> dict[str, Any]:
        """The training state last.pt holds besides the keeper's."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else {},
            "scaler": self.scaler.state_dict() if self.use_scaler else {},
        }
