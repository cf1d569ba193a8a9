"""Grad-CAM maps for the Evaluate gallery, asked of the engine child one at a time.

Only the latest wish is kept while a map is being computed: arrowing through 30 images must not
queue 30 backward passes. Maps are cached per (run, dataset fingerprint, image id), so a map
that arrives after the user switched runs is never shown for the new one. The requests go
through a :class:`~gender_desktop.ui.tasks.RequestSlot`, which drops a forgotten map's reply.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from gender_desktop.ui import heatmap
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.tasks import RequestSlot

Key = tuple[str, str, str]  # run folder, dataset fingerprint, image id
Cam = tuple[np.ndarray, bool]  # the overlay over the whole picture, whether a region stands out


class GradCams(QObject):
    updated = Signal()  # a map arrived: show the selection again
    failed = Signal(str)

    def __init__(self, engine: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.slot = RequestSlot(engine, self)
        self.slot.succeeded.connect(self._on_finished)
        self.slot.failed.connect(self._on_failed)
        self.cache: dict[Key, Cam] = {}
        self._in_flight: Key | None = None
        self._wanted: tuple[Key, str] | None = None  # key, dataset source

    def get(self, key: Key, source: str) -> Cam | None:
        """The overlay, or None after asking for it."""
        cached = self.cache.get(key)
        if cached is None:
            self._wanted = (key, source)
            if not self.slot.busy:
                self._request(key, source)
        return cached

    def forget(self) -> None:
        """A new run or dataset: cached, wanted and computing maps belong to the old one."""
        self.cache.clear()
        self._wanted = None
        self._in_flight = None
        self.slot.drop()

    def _request(self, key: Key, source: str) -> None:
        run, _fingerprint, image_id = key
        self._in_flight = key
        self.slot.request("grad_cam", run=run, dataset=source, image_id=image_id)

    def _next(self, done: Key | None) -> bool:
        """Ask for the map the user wants now, if it is another one; True when asked."""
        wanted, self._wanted = self._wanted, None
        if wanted is not None and wanted[0] != done and wanted[0] not in self.cache:
            self._wanted = wanted
            self._request(*wanted)
            return True
        return False

    def _on_finished(self, result: object) -> None:
        key, self._in_flight = self._in_flight, None
        if isinstance(result, dict) and "heat" in result and key is not None:
            picture = heatmap.overlay_result(result)
            self.cache[key] = (picture, bool(np.asarray(result["heat"]).max() > 0))
        if not self._next(key):
            self.updated.emit()

    def _on_failed(self, message: str) -> None:
        failed, self._in_flight = self._in_flight, None
        if not self._next(failed):  # the user moved on: try theirs first
            self.failed.emit(message)
