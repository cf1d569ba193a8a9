"""One training run on disk.

``config.json`` (every setting, the dataset's fingerprint and split, library versions, device),
``metrics.csv`` (a row per epoch), ``best.pt`` and ``last.pt`` (model, optimizer, scheduler, grad
scaler, epoch, early-stopping state; written atomically), ``log.txt``. Checkpoints hold tensors
and plain values only and are read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from gender_desktop import paths
from gender_desktop.fileio import atomic_write_bytes, atomic_write_json

CONFIG = "config.json"
METRICS = "metrics.csv"
LOG = "log.txt"
BEST = "best.pt"
LAST = "last.pt"
EVALUATION = "evaluation.json"
PREDICTIONS = "predictions.csv"
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


def workspace() -> Path:
    path = paths.data_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


class RunFolder:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def create(cls, name: str, root: Path | None = None) -> RunFolder:
        root = root or workspace()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        base = root / f"{stamp}-{name}"
        path, k = base, 1
        while path.exists():
            k += 1
            path = base.with_name(f"{base.name}-{k}")
        path.mkdir(parents=True)
        return cls(path)

    # -- config and metrics -----------------------------------------------------------------------
    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.path / CONFIG, config)

    def read_config(self) -> dict[str, Any]:
        return json.loads((self.path / CONFIG).read_text())

    def write_metrics(self, rows: list[dict[str, Any]]) -> None:
        """Rewritten whole each epoch (atomically): a resumed run replaces the rows it redoes."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_bytes(self.path / METRICS, buf.getvalue().encode())

    def read_metrics(self) -> list[dict[str, float]]:
        file = self.path / METRICS
        if not file.exists():
            return []
        with open(file, newline="") as handle:
            return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]

    def log(self, message: str) -> None:
        with open(self.path / LOG, "a", encoding="utf-8") as handle:
            handle.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    @property
    def name(self) -> str:
        return self.path.name

    def train_seconds(self) -> float | None:
        """Total training time of the epochs in metrics.csv (the data preparation excluded)."""
        rows = self.read_metrics()
        return round(sum(r.get("seconds", 0.0) for r in rows), 3) if rows else None

    def read_evaluation(self) -> dict[str, Any] | None:
        file = self.path / EVALUATION
        return json.loads(file.read_text()) if file.exists() else None

    # -- checkpoints ------------------------------------------------------------------------------
    def save_checkpoint(self, which: str, state: dict[str, Any]) -> Path:
        import torch  # only the engine's thread pays for importing torch

        buf = io.BytesIO()
        torch.save(state, buf)
        target = self.path / which
        atomic_write_bytes(target, buf.getvalue())
        return target

    def load_checkpoint(self, which: str = LAST) -> dict[str, Any]:
        import torch

        return torch.load(self.path / which, map_location="cpu", weights_only=True)

    def has_checkpoint(self, which: str = LAST) -> bool:
        return (self.path / which).exists()
