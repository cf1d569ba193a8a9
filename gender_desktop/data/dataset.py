"""The dataset table every other part of the app works on, and how it is opened.

One row per image: ``image_id``, ``path`` (inside :attr:`Dataset.images`, a folder or a zip),
``Male`` (1/0, as the source says), ``split`` (train/val/test), ``fold`` where the source has
folds, then every other attribute. Label edits are an overlay (:mod:`labels`), never written
into this table or the user's files.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gender_desktop import paths
from gender_desktop.data import splits
from gender_desktop.data.detect import parse
from gender_desktop.data.errors import DatasetError
from gender_desktop.data.images import quick_check
from gender_desktop.data.locate import locate
from gender_desktop.data.parsed import SPLITS, Parsed
from gender_desktop.data.sources import Source
from gender_desktop.errors import Cancelled, UserError, describe_os_error
from gender_desktop.fileio import atomic_write_json

Progress = Callable[[int, int, str], None]
CORE_COLUMNS = ("image_id", "path", "Male", "split", "fold")
# Enough of each file for the integrity check to read an image header (its size in pixels:
# decompression bombs are flagged by ``info`` too) and a JPEG's end marker.
HEAD_BYTES = 64 * 1024


@dataclass
class ImportReport:
    """What the import found besides the rows: shown in the UI and printed by ``info``."""

    layout: str
    source: str
    annotation: str | None
    split_origin: str
    missing: list[str] = field(default_factory=list)
    corrupt: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verified: bool = False


class Dataset:
    def __init__(
        self,
        table: pd.DataFrame,
        images: Source,
        root: Path,
        family: str,
        fingerprint: str,
        report: ImportReport,
        sidecar: Path | None = None,
    ) -> None:
        self.table = table
        self.images = images
        self.root = root
        self.family = family
        self.fingerprint = fingerprint
        self._sidecar = sidecar
        self.report = report
        self._positions: pd.Index | None = None

    # -- facts --------------------------------------------------------------------------------
    @property
    def layout(self) -> str:
        return self.report.layout

    @property
    def folder(self) -> Path:
        """The dataset's own folder (the picked path's folder when a file or zip was picked)."""
        if self.root.is_dir():
            return self.root
        parent = self.root.parent
        return parent.parent if parent.name.lower() in ("anno", "eval") else parent

    @property
    def name(self) -> str:
        if self.root.is_dir() or self.root.suffix.lower() == ".zip":
            return self.root.name
        return self.folder.name

    @property
    def is_demo(self) -> bool:
        return (self.folder / "SYNTHETIC_DEMO").exists()

    def __len__(self) -> int:
        return len(self.table)

    @property
    def attributes(self) -> list[str]:
        """Columns beyond the core ones (CelebA's 39 other attributes, UTKFace's age and race...)."""
        return [c for c in self.table.columns if c not in CORE_COLUMNS]

    def sidecar(self) -> Path:
        """This dataset's folder in the app's data directory (never inside the dataset)."""
        if self._sidecar is None:
            self._sidecar = paths.dataset_dir(self.fingerprint)
        return self._sidecar

    def position(self, image_ids: list[str] | np.ndarray | pd.Series) -> np.ndarray:
        """Row positions of ``image_ids`` (-1 for unknown ids)."""
        if self._positions is None:
            self._positions = pd.Index(self.table["image_id"])
        return self._positions.get_indexer(pd.Index(image_ids))

    def read_bytes(self, row: int) -> bytes:
        """The row's image file, with the image bounds (never a FIFO, a device or a zip bomb:
        those raise a :class:`DatasetError` naming the file)."""
        return self.images.read_image(self.table["path"].iat[row])

    def display_path(self, row: int) -> str:
        return self.images.display(self.table["path"].iat[row])

    # -- summaries ----------------------------------------------------------------------------
    def summary(self, male: np.ndarray | None = None) -> dict[str, Any]:
        """Counts for ``info`` and the status bar. ``male`` overrides labels (edits applied)."""
        labels = self.table["Male"].to_numpy() if male is None else male
        split = self.table["split"].to_numpy()
        per_split = {}
        for name in SPLITS:
            mask = split == name
            m = int(labels[mask].sum())
            per_split[name] = {"male": m, "female": int(mask.sum()) - m}
        total_male = int(labels.sum())
        report = self.report
        return {
            "layout": self.layout,
            "source": report.source,
            "annotation": report.annotation,
            "images": len(self),
            "male": total_male,
            "female": len(self) - total_male,
            "splits": per_split,
            "split_origin": report.split_origin,
            "missing": len(report.missing),
            "corrupt": len(report.corrupt),
            "skipped": len(report.skipped),
            "verified": report.verified,
            "attributes": self.attributes,
            "warnings": report.warnings,
            "fingerprint": self.fingerprint,
        }

    # -- integrity ----------------------------------------------------------------------------
    def scan_corrupt(
        self, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> list[tuple[str, str]]:
        """Check every image's signature and end marker (no full decode: seconds, not minutes,
        for all of CelebA); return the broken ones as (image id, reason)."""
        corrupt: list[tuple[str, str]] = []
        ids = self.table["image_id"].to_numpy()
        rels = self.table["path"].to_numpy()
        total = len(rels)
        for i, rel in enumerate(rels):
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            try:
                reason = quick_check(*self.images.head_tail(rel, HEAD_BYTES))
            except UserError as exc:  # a FIFO, a zip bomb, an encrypted or damaged member
                reason = exc.reason
            except Exception as exc:  # noqa: BLE001 - OSError, KeyError, BadZipFile, zlib.error...
                reason = f"unreadable ({exc})"
            if reason:
                corrupt.append((str(ids[i]), reason))
            if progress is not None and (i % 2000 == 0 or i == total - 1):
                progress(i + 1, total, "Checking images")
        return corrupt

    def verify(
        self, progress: Progress | None = None, cancel: threading.Event | None = None
    ) -> None:
        """Scan every image and record the broken ones in ``report.corrupt``."""
        self.merge_corrupt(self.scan_corrupt(progress, cancel))

    def merge_corrupt(self, found: list[tuple[str, str]]) -> None:
        known = {image_id for image_id, _ in found}
        self.report.corrupt = found + [c for c in self.report.corrupt if c[0] not in known]
        self.report.verified = True

    def mark_corrupt(self, image_id: str, reason: str) -> bool:
        """Record an image that failed to decode later (thumbnail, training); True if new."""
        if any(i == image_id for i, _ in self.report.corrupt):
            return False
        self.report.corrupt.append((image_id, reason))
        return True


def fingerprint_of(family: str, ids: pd.Series) -> str:
    """A content key for the sidecar folder: the same images give the same key wherever the
    dataset is moved, so label edits and splits follow it."""
    digest = hashlib.sha256(family.encode())
    text = ids.astype(str)
    try:
        hashed = pd.util.hash_pandas_object(text, index=False)
    except UnicodeEncodeError:  # a file name that is not UTF-8 (kept as surrogates): its bytes
        hashed = pd.util.hash_pandas_object(text.map(_escaped), index=False)
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()[:20]


def _escaped(text: str) -> str:
    """Valid text unchanged; a name's undecodable bytes as ``\\xff`` escapes (hashable)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


SIDECAR_META = "dataset.json"


def resolve_sidecar(fingerprint: str, source: str, family: str) -> Path:
    """The sidecar folder for a dataset: the one of its exact content if there is one, else the
    one last used for the same path and layout (so adding, removing or moving a few images keeps
    the label edits of the rest), else a new one."""
    base = paths.data_dir() / "datasets"
    exact = base / fingerprint
    if not exact.exists():
        for meta_file in sorted(base.glob(f"*/{SIDECAR_META}")):
            try:
                meta = json.loads(meta_file.read_text())
            except (OSError, ValueError):
                continue
            if meta.get("source") == source and meta.get("family") == family:
                return meta_file.parent
    exact.mkdir(parents=True, exist_ok=True)
    if not (exact / SIDECAR_META).exists():
        atomic_write_json(
            exact / SIDECAR_META, {"source": source, "family": family, "fingerprint": fingerprint}
        )
    return exact


def open_dataset(
    path: str | Path,
    split_spec: splits.SplitSpec | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
) -> Dataset:
    """Open whatever the user picked. Raises :class:`DatasetError` with a message to show."""

    def step(done: int, message: str) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if progress is not None:
            progress(done, 4, message)

    root = Path(path).expanduser().resolve()
    step(0, "Reading annotations")
    parsed = parse(root)
    if parsed.table.empty:
        raise DatasetError("no labelled images found", parsed.annotation or str(root))
    step(1, "Locating images")
    images, table, missing = _locate_images(parsed, root)
    ids = parsed.fingerprint_ids if parsed.fingerprint_ids is not None else parsed.table["image_id"]
    fingerprint = fingerprint_of(parsed.family, ids)
    warnings = list(parsed.warnings)
    sidecar: Path | None
    try:
        sidecar = resolve_sidecar(fingerprint, _escaped(str(root)), parsed.family)
    except OSError as exc:  # a read-only or full app folder: the dataset still opens
        sidecar = None
        warnings.append(f"{describe_os_error(exc, 'create')}; the split is not remembered")
    step(2, "Assigning splits")
    origin = _assign_splits(parsed, table, sidecar, split_spec, warnings)
    keep = table["path"].notna().to_numpy()
    table = table.loc[keep].reset_index(drop=True)
    table, duplicates = _drop_shared_files(table, images)
    for name in SPLITS:
        if not (table["split"] == name).any():
            warnings.append(f"the {name} split has no images")
    ordered = [c for c in CORE_COLUMNS if c in table] + [
        c for c in table.columns if c not in CORE_COLUMNS and c != "name"
    ]
    table = table[ordered]
    table["split"] = pd.Categorical(table["split"], categories=list(SPLITS))
    report = ImportReport(
        layout=parsed.layout,
        source=str(root),
        annotation=parsed.annotation,
        split_origin=origin,
        missing=missing,
        skipped=parsed.skipped + duplicates,
        warnings=warnings,
    )
    step(3, "Done")
    return Dataset(table, images, root, parsed.family, fingerprint, report, sidecar)


def _locate_images(parsed: Parsed, root: Path) -> tuple[Source, pd.DataFrame, list[str]]:
    table = parsed.table
    unusable = "".join(f"; {u}" for u in parsed.unusable)
    if parsed.images is not None:  # the reader gave each row's exact path in its own source
        present = set(parsed.images.files())
        found = table["path"].isin(present).to_numpy()
        images = parsed.images
        table = table.copy()
        table.loc[~found, "path"] = None
    else:
        source, located = locate(table["name"], parsed.image_candidates)
        if source is None or all(p is None for p in located):
            where = ", ".join(c.display() for c in parsed.image_candidates) or str(root)
            raise DatasetError(
                f"none of the {len(table):,} images it lists were found (looked in {where})"
                + unusable,
                parsed.annotation,
            )
        images = source
        table = table.assign(path=located)
    missing = table.loc[table["path"].isna(), "image_id"].astype(str).tolist()
    if len(missing) == len(table):
        raise DatasetError(
            "none of the listed images exist" + unusable, parsed.annotation or str(root)
        )
    return images, table, missing


def _drop_shared_files(
    table: pd.DataFrame, images: Source
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Rows whose ids differ but name the same file (``a/1.jpg`` and ``b/1.jpg`` in a CSV,
    matched by file name) would count one image twice: keep the first, report the others."""
    dup = table["path"].duplicated(keep="first")
    if not dup.any():
        return table, []
    first = table.drop_duplicates("path").set_index("path")["image_id"]
    skipped = [
        (str(i), f"the same image file as {first[p]} ({images.display(p)})")
        for i, p in zip(table.loc[dup, "image_id"], table.loc[dup, "path"], strict=True)
    ]
    return table.loc[~dup].reset_index(drop=True), skipped


def _assign_splits(
    parsed: Parsed,
    table: pd.DataFrame,
    folder: Path | None,
    spec: splits.SplitSpec | None,
    warnings: list[str],
) -> str:
    """Fill ``table['split']`` in place and say where it came from. A split that cannot be
    stored (a read-only app folder) is still used, with a warning."""
    if "split" in table and spec is None:
        return parsed.split_origin or "given"
    stored = splits.load_stored(folder, table["image_id"]) if folder is not None else None
    chosen = spec or (stored[0] if stored else splits.SplitSpec())
    if stored is not None and stored[1] is not None and stored[0] == chosen:
        table["split"] = stored[1]
    else:
        assignment = splits.stratified_split(table["Male"].to_numpy(), chosen)
        try:
            if folder is not None:
                splits.store(folder, chosen, table["image_id"], assignment)
        except OSError as exc:
            warnings.append(f"{describe_os_error(exc)}; the split is not remembered")
        table["split"] = assignment
    return chosen.describe()
