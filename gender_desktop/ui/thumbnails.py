"""Thumbnails decoded off the GUI thread, cached in memory (QPixmap LRU) and on disk.

The view asks for a row's pixmap while painting; a miss queues the row and returns None (the
delegate paints a placeholder). Worker runnables on a QThreadPool drain the queue newest-first,
so when a user flings the scroll bar across 200k images, the images now on screen are decoded
first and stale requests fall off the end of a bounded queue. The GUI thread only converts the
finished QImage to a QPixmap.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage, QPixmap

from gender_desktop.data.dataset import Dataset
from gender_desktop.data.images import ImageError, thumbnail
from gender_desktop.data.thumbcache import ThumbnailCache
from gender_desktop.errors import UserError

MEMORY_ITEMS = 4000
MAX_PENDING = 600


def pil_to_qimage(img) -> QImage:
    data = img.tobytes("raw", "RGB")
    qimg = QImage(data, img.width, img.height, 3 * img.width, QImage.Format.Format_RGB888)
    return qimg.copy()  # own the pixels: ``data`` is freed when this function returns


class _Signals(QObject):
    ready = Signal(int, int, QImage)  # generation, row, image
    failed = Signal(int, int, str)  # generation, row, reason


class _Drain(QRunnable):
    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader

    def run(self) -> None:
        loader = self.loader
        while True:
            job = loader._next_job()
            if job is None:
                return
            generation, row, dataset, cache = job
            image_id = str(dataset.table["image_id"].iat[row])
            try:
                img = cache.get(image_id)
                if img is None:
                    img = thumbnail(dataset.read_bytes(row), dataset.display_path(row), loader.size)
                    cache.put(image_id, img)
                loader._signals.ready.emit(generation, row, pil_to_qimage(img))
            except (ImageError, UserError) as exc:  # a FIFO, a zip bomb, an encrypted member
                loader._signals.failed.emit(generation, row, exc.reason)
            except Exception as exc:  # noqa: BLE001 - a damaged zip member (BadZipFile, zlib.error)
                # must mark this one cell broken, never end the worker
                loader._signals.failed.emit(generation, row, f"unreadable ({exc})")
            finally:
                loader._done(row)


class ThumbnailLoader(QObject):
    """Emits ``ready(row)`` when a thumbnail is in memory, ``failed(row, reason)`` for bad images."""

    ready = Signal(int)
    failed = Signal(int, str)

    def __init__(self, size: int = 128, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(2, QThreadPool.globalInstance().maxThreadCount()))
        self._signals = _Signals()
        self._signals.ready.connect(self._on_ready)
        self._signals.failed.connect(self._on_failed)
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, None] = OrderedDict()
        self._inflight: set[int] = set()
        self._workers = 0
        self._memory: OrderedDict[int, QPixmap] = OrderedDict()
        self._broken: dict[int, str] = {}
        self._generation = 0
        self._dataset: Dataset | None = None
        self._cache: ThumbnailCache | None = None

    def set_dataset(self, dataset: Dataset | None) -> None:
        with self._lock:
            self._generation += 1
            self._pending.clear()
            self._dataset = dataset
            old_cache = self._cache
            self._cache = ThumbnailCache(dataset.fingerprint, self.size) if dataset else None
        self._memory.clear()
        self._broken.clear()
        if old_cache is not None:
            self.pool.waitForDone()
            old_cache.close()

    def broken(self, row: int) -> str | None:
        return self._broken.get(row)

    def pixmap(self, row: int) -> QPixmap | None:
        """The cached pixmap, or None after queueing a decode."""
        pix = self._memory.get(row)
        if pix is not None:
            self._memory.move_to_end(row)
            return pix
        if row not in self._broken:
            self.request(row)
        return None

    def request(self, row: int) -> None:
        with self._lock:
            if self._dataset is None or row in self._inflight:
                return
            self._pending[row] = None
            self._pending.move_to_end(row)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
            start = self._workers < self.pool.maxThreadCount()
            if start:
                self._workers += 1
        if start:
            self.pool.start(_Drain(self))

    def shutdown(self) -> None:
        self.set_dataset(None)
        self.pool.waitForDone()

    # -- worker side ----------------------------------------------------------------------------
    def _next_job(self) -> tuple[int, int, Dataset, ThumbnailCache] | None:
        with self._lock:
            if not self._pending or self._dataset is None or self._cache is None:
                self._workers -= 1
                return None
            row, _ = self._pending.popitem(last=True)
            self._inflight.add(row)
            return self._generation, row, self._dataset, self._cache

    def _done(self, row: int) -> None:
        with self._lock:
            self._inflight.discard(row)

    # -- GUI side -------------------------------------------------------------------------------
    def _on_ready(self, generation: int, row: int, image: QImage) -> None:
        if generation != self._generation:
            return
        self._memory[row] = QPixmap.fromImage(image)
        while len(self._memory) > MEMORY_ITEMS:
            self._memory.popitem(last=False)
        self.ready.emit(row)

    def _on_failed(self, generation: int, row: int, reason: str) -> None:
        if generation != self._generation:
            return
        self._broken[row] = reason
        self.failed.emit(row, reason)
