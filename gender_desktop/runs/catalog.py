"""The runs in the workspace, newest first, with what a picker needs to tell them apart.

A damaged run is listed with what is wrong with it (``RunInfo.problem``), found without torch:
the settings are checked as loading would check them, and the checkpoint for being empty or
cut short. What only loading can tell (a checkpoint of another model) the load reports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gender_desktop.errors import UserError
from gender_desktop.runs.folder import (
    BEST,
    CONFIG,
    EVALUATION,
    LAST,
    METRICS,
    RunFolder,
    checkpoint_problem,
    workspace,
)

MAX_RUNS = 500


@dataclass
class RunInfo:
    path: Path
    name: str
    backbone: str = "?"
    data: str = ""
    epochs: int = 0
    best_val_accuracy: float | None = None
    evaluated_accuracy: float | None = None  # of the latest evaluation
    evaluated_split: str = ""
    has_model: bool = False
    problem: str = ""  # why the run cannot give a model (naming the file), known without loading
    reason: str = ""  # the same, short, for a title

    def title(self) -> str:
        """One line for a combo box: name, backbone, epochs and the best numbers (or, for a
        damaged run, what is wrong)."""
        if self.problem:
            return f"{self.name} · unusable: {self.reason or self.problem}"
        parts = [self.name, self.backbone, f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}"]
        if self.best_val_accuracy is not None:
            parts.append(f"val {self.best_val_accuracy:.1%}")
        if self.evaluated_accuracy is not None:
            parts.append(f"{self.evaluated_split} {self.evaluated_accuracy:.1%}")
        return " · ".join(parts)


def run_info(path: Path) -> RunInfo | None:
    """What the folder says about itself; None when it is not a run folder."""
    folder = RunFolder(path)
    if not (path / CONFIG).exists():
        return None
    info = RunInfo(path, path.name)
    info.has_model = folder.has_checkpoint(BEST) or folder.has_checkpoint(LAST)
    try:
        settings = folder.train_config()
        info.backbone = settings.model.backbone
        info.data = settings.data
    except UserError as exc:
        info.problem, info.reason = str(exc), exc.reason if exc.file else str(exc)
        return info
    if info.has_model:
        file = folder.path / (BEST if folder.has_checkpoint(BEST) else LAST)
        info.reason = checkpoint_problem(file)
        if info.reason:
            info.problem = f"{file}: {info.reason.removeprefix(file.name + ' ')}"
    try:
        rows = folder.read_metrics()
        info.epochs = len(rows)
        if rows:
            info.best_val_accuracy = max(r["val_accuracy"] for r in rows)
        evaluation = path / EVALUATION
        if evaluation.exists():
            saved = json.loads(evaluation.read_text())
            info.evaluated_accuracy = saved["metrics"]["accuracy"]
            info.evaluated_split = saved.get("split", "test")
            if saved.get("same_dataset_as_training") is False:
                info.evaluated_split += " (other data)"
    except (UserError, OSError, ValueError, KeyError, TypeError):
        pass  # damaged metrics or evaluation: the model is still usable
    return info


_cache: dict[Path, tuple[tuple[int, ...], RunInfo | None]] = {}


def _stamp(path: Path) -> tuple[int, ...]:
    """When the files a RunInfo is read from last changed (0 when missing)."""
    out: list[int] = []
    for name in (CONFIG, METRICS, EVALUATION, BEST, LAST):
        try:
            st = (path / name).stat()
            out += [st.st_mtime_ns, st.st_size]  # size too: some file systems keep seconds
        except OSError:
            out += [0, 0]
    return tuple(out)


def cached_run_info(path: Path) -> RunInfo | None:
    """``run_info`` read again only when one of its files changed: the pickers refresh after
    every run and evaluation, and a stat per file is all that costs for unchanged runs."""
    stamp = _stamp(path)
    hit = _cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    info = run_info(path)
    _cache[path] = (stamp, info)
    return info


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """The run folders under ``root`` (default: the workspace), newest first; an unreadable or
    uncreatable workspace has none."""
    try:
        root = root or workspace()
        folders = sorted(
            (p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name,
            reverse=True,
        )
    except (OSError, UserError):
        return []
    out = []
    for path in folders[:MAX_RUNS]:
        info = cached_run_info(path)
        if info is not None:
            out.append(info)
    return out
