"""The input pipeline: decode once, augment in batches on the training device.

Per-epoch PIL decoding cannot feed a GPU (about 480 images/s per CPU core against thousands the
GPU trains on). So every image is decoded exactly once, in worker processes, to a uint8 array at
training resolution (shorter side resized, centre square kept) and cached on disk as a
memory-mapped file keyed by the dataset and size, so the next run starts at once. Batches are
then sliced from that array, moved to the device, and augmented there with one affine warp
(flip, rotation, zoom) and a brightness factor per image, then normalised.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gender_desktop import paths
from gender_desktop.data.dataset import Dataset
from gender_desktop.data.images import decode_chunk
from gender_desktop.errors import Cancelled, UserError
from gender_desktop.fileio import atomic_write_json, format_size, pid_alive
from gender_desktop.ml import gpu_decode, runtime
from gender_desktop.ml.config import AugmentConfig
from gender_desktop.procs import die_with_parent_signal, watch_parent

# This machine in a partial file's name: machines sharing a cache folder leave each other's
# builds alone (another machine's pid cannot be checked here).
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
Progress = Callable[[int, int, str], None]


class DecodedImages:
    """All images of a dataset decoded once at ``size``: a (N, size, size, 3) uint8 array,
    memory-mapped from the user cache folder, plus a per-image 'decoded fine' flag."""

    def __init__(self, array: np.ndarray, ok: np.ndarray, errors: dict[int, str]) -> None:
        self.array = array
        self.ok = ok
        self.errors = errors

    @staticmethod
    def cache_key(dataset: Dataset, size: int) -> str:
        """Where the images are, which files, and each file's size and modification time (or
        CRC in a zip): a different dataset or an edited image never reuses stale pixels."""
        rels = dataset.table["path"].astype(str).tolist()
        digest = hashlib.sha256(f"{dataset.images.display()}:{size}:v2".encode())
        digest.update("\n".join(rels).encode("utf-8", "surrogateescape"))  # names not UTF-8
        digest.update(dataset.images.signature(rels))
        return digest.hexdigest()[:24]

    @classmethod
    def build(
        cls,
        dataset: Dataset,
        size: int,
        workers: int | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
        folder: Path | None = None,
        decode_device: torch.device | None = None,
    ) -> DecodedImages:
        """The dataset's images at ``size``, from the disk cache or decoded once now (in
        ``workers`` processes; JPEGs batched on ``decode_device`` when it is a CUDA device:
        the training run's own GPU, never one the run did not ask for)."""
        folder = folder or paths.cache_dir() / "decoded"
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(folder)
        key = cls.cache_key(dataset, size)
        data_path, meta_path = folder / f"{key}.u8", folder / f"{key}.json"
        n = len(dataset)
        shape = (n, size, size, 3)
        meta = _read_meta(meta_path)
        if meta is not None and data_path.exists():
            os.utime(meta_path)  # most recently used: kept longest by evict()
            array = np.memmap(data_path, dtype=np.uint8, mode="r", shape=shape)
            ok = np.ones(n, dtype=bool)
            errors = {int(k): v for k, v in meta.get("errors", {}).items()}
            ok[list(errors)] = False
            if progress is not None:
                progress(n, n, "Decoded images from cache")
            return cls(array, ok, errors)
        check_space(folder, int(np.prod(shape)), f"decoding {n:,} images at {size} px")
        tmp = folder / f"{key}.{os.getpid()}.{HOST_TAG}.{uuid.uuid4().hex[:8]}.partial"
        target = np.memmap(tmp, dtype=np.uint8, mode="w+", shape=shape)
        errors: dict[int, str] = {}
        workers = workers or max(1, (os.cpu_count() or 2))
        done = 0
        pool = (
            ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(os.getpid(),))
            if workers > 1 and n >= 256
            else None
        )
        try:
            chunks = _decoded_chunks(dataset, size, errors, pool, workers, decode_device)
            for results in chunks:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                for pos, value in results:
                    if isinstance(value, str):
                        errors[pos] = value
                    else:
                        target[pos] = value
                done += len(results)
                if progress is not None:
                    progress(min(done, n), n, "Decoding images once")
        except BaseException:
            del target
            tmp.unlink(missing_ok=True)  # a cancelled or failed build leaves nothing behind
            raise
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
        target.flush()
        del target
        if _read_meta(meta_path) is not None and data_path.exists():
            # another machine sharing this cache folder (a lab's shared home) finished first:
            # its file may be mapped already, so it is used, not replaced under its readers
            tmp.unlink(missing_ok=True)
            return cls.build(dataset, size, folder=folder)
        os.replace(tmp, data_path)
        evict(folder, keep=data_path)
        # Failed images are remembered with the cache; the key includes every file's size and
        # modification time, so a repaired file makes a new cache rather than a stale skip.
        atomic_write_json(
            meta_path, {"shape": shape, "errors": {str(k): v for k, v in errors.items()}}
        )
        return cls.build(dataset, size, folder=folder)


def check_space(folder: Path, needed: int, what: str) -> None:
    """Refuse before writing ``needed`` bytes into ``folder`` when the disk has not that much
    free (with 5 % to spare), in sizes a person reads: "needs 12.4 MB … only 3.1 MB free"."""
    free = shutil.disk_usage(folder).free
    if free < needed * 1.05:
        raise UserError(
            f"not enough disk space: {what} needs {format_size(needed)} in {folder}, but only "
            f"{format_size(free)} is free; free some space or choose a smaller input size"
        )


def _init_worker(owner_pid: int) -> None:
    """Decode workers leave Ctrl+C to the parent, which cancels the build cleanly (spawned
    workers, macOS and Windows, would otherwise die on it and break the pool), and they die
    with it: after a kill -9 of the app or the CLI nothing else would end them (each held
    about 425 MB, for more than half an hour)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent_signal()
    watch_parent(owner_pid, grace_s=0.0)


STALE_PARTIAL_AGE_S = 7 * 24 * 3600


def remove_stale_partials(folder: Path) -> list[Path]:
    """Delete the ``.partial`` files whose writer is gone (killed mid-decode: its pid and
    machine are in the name, ``<key>.<pid>.<host>.<random>.partial``), or that are a week old
    whoever wrote them (a pid reused since). A build in progress in another live process is
    left alone, and so is one of another machine sharing the folder (its pid means nothing
    here) until it is a week old."""
    removed = []
    now = time.time()
    for path in folder.glob("*.partial"):
        parts = path.name.split(".")
        try:
            writer = int(parts[-4] if len(parts) >= 5 else parts[-3])
            here = len(parts) < 5 or parts[-3] == HOST_TAG  # older names: this machine's
            old = now - path.stat().st_mtime > STALE_PARTIAL_AGE_S
        except (IndexError, ValueError, OSError):
            continue
        gone = here and writer != os.getpid() and pid_alive(writer) is False
        if old or gone:
            try:
                path.unlink()
            except OSError:
                continue
            removed.append(path)
    return removed


CACHE_LIMIT_BYTES = int(os.environ.get("GENDER_DESKTOP_DECODE_CACHE_GB", "50")) * 10**9


def evict(folder: Path, keep: Path, limit: int = CACHE_LIMIT_BYTES) -> list[Path]:
    """Delete the least recently used decoded caches until the folder is under ``limit``
    (default 50 GB, ``GENDER_DESKTOP_DECODE_CACHE_GB``); ``keep`` is never deleted."""
    entries = []
    for data in folder.glob("*.u8"):
        meta = data.with_suffix(".json")
        try:
            used = meta.stat().st_mtime if meta.exists() else data.stat().st_mtime
            entries.append((used, data.stat().st_size, data, meta))
        except OSError:
            continue
    total = sum(size for _, size, _, _ in entries)
    removed = []
    for _, size, data, meta in sorted(entries):
        if total <= limit:
            break
        if data == keep:
            continue
        data.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)
        total -= size
        removed.append(data)
    return removed


def _read_meta(path: Path) -> dict | None:
    """The cache's metadata, or None (a missing or damaged file is a cache miss)."""
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _decoded_chunks(
    dataset: Dataset,
    size: int,
    errors: dict[int, str],
    pool: ProcessPoolExecutor | None,
    workers: int,
    decode_device: torch.device | None = None,
    chunk: int = 64,
) -> Iterator[list[tuple[int, np.ndarray | str]]]:
    """Decoded chunks in order; with a pool, at most ``2 * workers`` chunks are in flight, so
    the file bytes of a 200k-image dataset are never all in memory at once."""
    n = len(dataset)

    def job(start: int) -> tuple[list[tuple[int, bytes, str]], int]:
        items = []
        for pos in range(start, min(n, start + chunk)):
            try:
                items.append((pos, dataset.read_bytes(pos), dataset.display_path(pos)))
            except Exception as exc:  # noqa: BLE001 - an unreadable file is counted, not fatal
                errors[pos] = f"unreadable ({exc})"
        return items, size

    starts = range(0, n, chunk)
    if gpu_decode.wanted(decode_device):  # nvjpeg, batched; the rest on the CPU workers
        cpu = None if pool is None else lambda rest: _pooled(pool, workers, rest, size)
        for start in starts:
            items, _size = job(start)
            yield gpu_decode.decode_chunk_on(items, size, decode_device, cpu)
        return
    if pool is None:
        for start in starts:
            yield decode_chunk(job(start))
        return
    pending: list = []
    for start in starts:
        pending.append(pool.submit(decode_chunk, job(start)))
        if len(pending) >= 2 * workers:
            yield pending.pop(0).result()
    for future in pending:
        yield future.result()


def _pooled(
    pool: ProcessPoolExecutor, workers: int, items: list, size: int
) -> list[tuple[int, np.ndarray | str]]:
    """``items`` decoded by the pool's workers in parallel (what nvjpeg cannot take: a
    camera's EXIF JPEGs, PNGs), in as many parts as there are workers."""
    step = max(1, math.ceil(len(items) / workers))
    parts = [items[i : i + step] for i in range(0, len(items), step)]
    return [r for f in [pool.submit(decode_chunk, (p, size)) for p in parts] for r in f.result()]


def batches(indices: np.ndarray, batch_size: int, shuffle: bool, seed: int) -> list[np.ndarray]:
    """``indices`` in batches of ``batch_size``. Shuffled (training) batches never end in a
    batch of one image: BatchNorm cannot train on it ("Expected more than 1 value per channel"
    with 33 images at batch 16), so that image joins the batch before."""
    order = np.random.default_rng(seed).permutation(indices) if shuffle else np.asarray(indices)
    parts = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if shuffle and len(parts) > 1 and len(parts[-1]) == 1:
        parts[-2:] = [np.concatenate(parts[-2:])]
    return parts


def forward_rows(
    fn: Callable[[torch.Tensor], torch.Tensor],
    batcher: DeviceBatcher,
    rows: np.ndarray,
    batch_size: int,
    amp: bool,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    message: str = "",
) -> Iterator[tuple[np.ndarray, slice, torch.Tensor]]:
    """``fn`` (a model, or its trunk) on ``rows`` batch by batch, without gradients, in mixed
    precision where the device has it: yields each batch's rows, where they sit in ``rows``
    and ``fn``'s output. The one inference loop of the feature cache, evaluation and k-fold
    scoring; a stop is honoured between batches, progress counts images."""
    done = 0
    for part in batches(rows, batch_size, False, 0):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        with torch.no_grad(), runtime.autocast(batcher.device, amp):
            out = fn(batcher(part, None, None))
        yield part, slice(done, done + len(part)), out
        done += len(part)
        if progress is not None:
            progress(done, len(rows), message)


class Normaliser:
    """Pixels (0-255, NCHW, on the device) to the model's input: ImageNet mean and std, in
    channels-last memory where asked (CUDA's fastest convolution layout). Training, evaluation
    and prediction all end here, so the model always sees the same numbers."""

    def __init__(self, device: torch.device, channels_last: bool) -> None:
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1) * 255
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1) * 255
        self.channels_last = channels_last

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


class DeviceBatcher:
    """Turns row positions into normalised, optionally augmented tensors on ``device``."""

    def __init__(self, images: DecodedImages, device: torch.device, channels_last: bool) -> None:
        self.images = images
        self.device = device
        self.normalise = Normaliser(device, channels_last)
        self.pin = device.type == "cuda"

    def load(self, rows: np.ndarray) -> torch.Tensor:
        """uint8 NCHW on the device."""
        sorted_rows = np.sort(rows)
        block = torch.from_numpy(np.ascontiguousarray(self.images.array[sorted_rows]))
        if not np.array_equal(sorted_rows, rows):
            block = block[torch.from_numpy(np.argsort(np.argsort(rows)))]
        if self.pin:
            block = block.pin_memory()
        return block.to(self.device, non_blocking=True).permute(0, 3, 1, 2)

    def __call__(
        self, rows: np.ndarray, augment: AugmentConfig | None, generator: torch.Generator | None
    ) -> torch.Tensor:
        x = self.load(rows).float()
        if augment is not None and augment.active:
            x = augment_batch(x, augment, generator)
        return self.normalise(x)


def augment_batch(
    x: torch.Tensor, cfg: AugmentConfig, generator: torch.Generator | None
) -> torch.Tensor:
    """One affine warp per image (flip, rotation, zoom) and a brightness factor, batched."""
    n = x.shape[0]
    # All random numbers in one draw and one host-to-device copy (each copy waits for the GPU).
    r = torch.rand(n, 4, generator=generator).to(x.device)

    def uniform(column: int, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * r[:, column]

    angle = uniform(0, -cfg.rotation, cfg.rotation) * (math.pi / 180) if cfg.rotation else None
    scale = uniform(1, 1 - cfg.zoom, 1 + cfg.zoom) if cfg.zoom else None
    flip = (uniform(2, 0, 1) < 0.5) if cfg.flip else None
    if angle is not None or scale is not None or flip is not None:
        cos = torch.cos(angle) if angle is not None else torch.ones(n, device=x.device)
        sin = torch.sin(angle) if angle is not None else torch.zeros(n, device=x.device)
        s = 1 / scale if scale is not None else torch.ones(n, device=x.device)
        fx = torch.where(flip, -1.0, 1.0) if flip is not None else torch.ones(n, device=x.device)
        theta = torch.zeros(n, 2, 3, device=x.device)
        theta[:, 0, 0] = cos * s * fx
        theta[:, 0, 1] = -sin * s
        theta[:, 1, 0] = sin * s * fx
        theta[:, 1, 1] = cos * s
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if cfg.brightness:
        factor = uniform(3, 1 - cfg.brightness, 1 + cfg.brightness).view(n, 1, 1, 1)
        x = (x * factor).clamp(0, 255)
    return x
