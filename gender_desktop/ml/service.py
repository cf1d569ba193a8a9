"""The engine: the service the GUI's child processes run (see ``gender_desktop.procs``).

Unlike a one-off script, prediction is interactive, so the child stays up and keeps the model
loaded: one dropped photo costs only its decode and one forward pass. The GUI ends an idle
child after a few minutes (its models go with it); every request carries what it needs (the
run, the dataset), so the next one reloads transparently.

Requests (``kind``: ``args``): ``load`` {run, device}; ``predict`` {run, paths, framing, tta,
dataset}; ``grad_cam`` {run, path | (dataset, image_id), framing, face}; ``evaluate`` {run, data,
split, device}; ``export`` {run, formats, out_dir}; ``crossval`` {run, data, folds} (k-fold
scores of the train split); ``train`` {settings, run_path, resume, track, ddp}: a training is one more
request, so a queue of them is a queue of requests; ``sweep`` {spec, runs_dir},
``sweep_retrain`` {storage, study, runs_dir}, ``sweep_studies`` {storage}, ``sweep_results``
{storage, study} (see ``ml/sweep_jobs.py``). Predictions come back as ``rows`` replies,
training events as ``event`` replies, progress as ``progress``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from gender_desktop.data.labels import JOURNAL_FILE, labelled_table
from gender_desktop.procs import EVENT, ROWS, Job

BATCH_INTERVAL_S = 0.05  # training's batch events, at most about 20 a second


class DatasetFiles:
    """An opened dataset with its label edits, and which row each of its files is (folder
    datasets: a dropped file is matched by its resolved path)."""

    def __init__(self, path: str) -> None:
        from gender_desktop.data.dataset import open_dataset
        from gender_desktop.data.sources import FolderSource

        self.dataset = open_dataset(path)
        self._stamp = self._journal_stamp()
        self.table = labelled_table(self.dataset)
        self.rows: dict[str, int] = {}
        images = self.dataset.images
        if isinstance(images, FolderSource):
            root = os.path.realpath(images.root)
            for row, rel in enumerate(self.table["path"].astype(str)):
                self.rows[os.path.normcase(os.path.join(root, rel))] = row

    def _journal_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.dataset.sidecar() / JOURNAL_FILE).stat()
        except OSError:
            return None
        return (st.st_size, st.st_mtime_ns)

    def refresh_labels(self) -> None:
        """Re-read the label edits when the GUI has changed them since (the journal grew)."""
        stamp = self._journal_stamp()
        if stamp != self._stamp:
            self._stamp = stamp
            self.table = labelled_table(self.dataset)

    def row_of(self, file: str) -> int | None:
        return self.rows.get(os.path.normcase(os.path.realpath(file)))

    def annotate(self, record: dict[str, Any]) -> None:
        row = self.row_of(record["path"])
        if row is None:
            return
        record["image_id"] = str(self.table["image_id"].iat[row])
        record["split"] = str(self.table["split"].iat[row])
        record["label"] = "Male" if int(self.table["Male"].iat[row]) == 1 else "Female"


class Engine:
    """The child's state: one loaded predictor and the datasets it has opened."""

    def __init__(self) -> None:
        self.predictor = None
        self.key: tuple[str, str] | None = None
        self.datasets: dict[str, DatasetFiles] = {}

    def dataset(self, path: str) -> DatasetFiles:
        if path not in self.datasets:
            self.datasets.clear()  # one at a time: a 200k-image table is not small
            self.datasets[path] = DatasetFiles(path)
        return self.datasets[path]

    def predictor_for(self, run: str, device: str = "auto"):
        from gender_desktop.ml.predictor import Predictor

        key = (str(Path(run).expanduser().resolve()), device)
        if self.key != key:
            self.predictor = None
            self.predictor = Predictor.from_run(run, device)
            self.key = key
        return self.predictor

    # -- requests ---------------------------------------------------------------------------------
    def handle(self, job: Job) -> Any:
        kind, args = job.kind, job.args
        if kind == "load":
            return self.predictor_for(args["run"], args.get("device", "auto")).describe()
        if kind == "predict":
            return self.predict(job)
        if kind == "grad_cam":
            return self.grad_cam(args)
        if kind == "evaluate":
            from gender_desktop.ml.evaluation import evaluate_run

            return evaluate_run(
                args["run"],
                args.get("data"),
                args.get("split", "test"),
                args.get("device", "auto"),
                progress=job.progress,
                cancel=job.cancel,
            )
        if kind == "crossval":
            from gender_desktop.ml.crossval import out_of_fold

            return out_of_fold(
                args["run"],
                args.get("data"),
                int(args.get("folds", 5)),
                device=args.get("device", "auto"),
                progress=job.progress,
                cancel=job.cancel,
            )
        if kind == "export":
            return self.export(args)
        if kind == "train":
            return self.train(job)
        if kind in ("sweep", "sweep_retrain", "sweep_studies", "sweep_results"):
            return self.sweep(job)
        raise ValueError(f"unknown request {kind!r}")

    def export(self, args: dict[str, Any]) -> dict[str, Any]:
        """Each format on its own: a machine without the ONNX packages still gets its
        TorchScript file, and the reply says what is missing."""
        from gender_desktop.ml.export import ExportFailed, export_run

        files, problems = [], []
        for fmt in args.get("formats") or ("torchscript", "onnx"):
            try:
                files += [r.to_dict() for r in export_run(args["run"], (fmt,), args.get("out_dir"))]
            except ExportFailed as exc:
                problems.append(str(exc))
        if not files:
            raise ExportFailed("; ".join(problems))
        return {"files": files, "problems": problems}

    def train(self, job: Job) -> dict[str, Any]:
        """One training run; its events go back as ``event`` replies (batch events throttled),
        the job's cancel is the Stop button and its pause the Pause button."""
        from gender_desktop.ml.config import TrainConfig
        from gender_desktop.ml.events import BatchEnd, Control
        from gender_desktop.ml.trackers import with_trackers
        from gender_desktop.ml.trainer import Trainer
        from gender_desktop.runs.folder import RunFolder

        last = [0.0]

        def send(event: object) -> None:
            if isinstance(event, BatchEnd):
                now = time.monotonic()
                if now - last[0] < BATCH_INTERVAL_S and event.batch != event.batches:
                    return
                last[0] = now
            job.send(EVENT, event)

        self.predictor = self.key = None  # the GPU memory is the training's now
        self.datasets.clear()
        args = job.args
        if int(args.get("ddp") or 0) > 1:  # all GPUs: torchrun's processes train, rank 0 reports
            from gender_desktop.ml.launcher import run_distributed

            control = Control(stop=job.cancel, pause=job.pause)  # type: ignore[arg-type]
            return run_distributed(
                args["settings"],
                args["run_path"],
                bool(args.get("resume")),
                int(args["ddp"]),
                args.get("track"),
                send,
                control,
            )
        # The trackers run here, in the training child, next to the trainer: ``track`` names
        # them (None: the default, TensorBoard files when tensorboard is installed).
        callback = with_trackers(send, args.get("track"))
        trainer = Trainer(
            TrainConfig.from_dict(args["settings"]),
            RunFolder(args["run_path"]),
            callback,
            Control(stop=job.cancel, pause=job.pause),  # type: ignore[arg-type]
        )
        return trainer.run(resume=bool(args.get("resume")))

    def sweep(self, job: Job) -> Any:
        """The sweep requests (ml/sweep_jobs.py): a sweep or a retraining of its best runs like
        a training (events back, the job's cancel and pause are Stop and Pause); listing and
        reading studies need no torch."""
        from gender_desktop.ml import sweep_jobs
        from gender_desktop.ml.events import Control

        if job.kind == "sweep_studies":
            return sweep_jobs.studies(job.args)
        if job.kind == "sweep_results":
            return sweep_jobs.results(job.args)
        self.predictor = self.key = None  # the GPU memory is the training's now
        self.datasets.clear()
        control = Control(stop=job.cancel, pause=job.pause)  # type: ignore[arg-type]
        run = sweep_jobs.run if job.kind == "sweep" else sweep_jobs.retrain
        return run(job.args, lambda event: job.send(EVENT, event), control)

    def predict(self, job: Job) -> dict[str, Any]:
        from gender_desktop.ml.predictor import expand_paths

        args = job.args
        predictor = self.predictor_for(args["run"], args.get("device", "auto"))
        files = expand_paths(args["paths"])
        dataset = self.dataset(args["dataset"]) if args.get("dataset") else None
        if dataset is not None:
            dataset.refresh_labels()
        started = time.perf_counter()
        count = errors = 0
        for rows in predictor.predict_paths(
            files,
            args.get("framing", "off"),
            job.progress,
            job.cancel,
            tta=args.get("tta", "none"),
        ):
            records = [row.to_message() for row in rows]
            if dataset is not None:
                for record in records:
                    dataset.annotate(record)
            count += len(records)
            errors += sum(1 for r in records if r["error"])
            job.send(ROWS, records)
        return {
            "files": len(files),
            "rows": count,
            "errors": errors,
            "seconds": round(time.perf_counter() - started, 3),
            "cancelled": bool(job.cancel.is_set()),
        }

    def grad_cam(self, args: dict[str, Any]) -> dict[str, Any]:
        """The heat map of one row's picture: the file (or dataset image) framed as its row
        was (``framing``, ``face``), through the predictor's own ``model_images``."""
        from gender_desktop.data.images import square
        from gender_desktop.ml.predictor import _read, model_images

        predictor = self.predictor_for(args["run"], args.get("device", "auto"))
        if args.get("image_id") is not None:
            files = self.dataset(args["dataset"])
            row = int(files.dataset.position([args["image_id"]])[0])
            if row < 0:
                raise ValueError(f"{args['image_id']} is not in the dataset")
            name = files.dataset.display_path(row)
            data = files.dataset.read_bytes(row)
        else:
            name = args["path"]
            data = _read(name)
        framing = args.get("framing", "off")
        geometry = predictor.geometry if framing != "off" else None
        images = model_images(data, name, predictor.size, framing, geometry)
        face = args.get("face") or 0
        image = images[face] if face < len(images) else images[0]
        if image.error:
            raise ValueError(f"{name}: {image.error}")
        img = image.picture
        arr = square(img, predictor.size)
        p_male, heat = predictor.grad_cam(arr)
        # "full": the picture the square was cut from, so a view can keep the image's aspect
        # (ui/heatmap.overlay_result places the map on the square it covers).
        return {
            "image": arr,
            "full": np.asarray(img.convert("RGB"), dtype=np.uint8),
            "heat": (heat * 255).astype(np.uint8),
            "p_male": p_male,
        }
