"""Grad-CAM maps for the Evaluate gallery, asked of the engine child one at a time.

Only the latest wish is kept while a map is being computed: arrowing through 30 images must not
queue 30 backward passes. Maps are cached per (run, dataset fingerprint, image id), so a map
that arrives after the user switched runs is never shown for the new one.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from gender_desktop.ui.engine import EngineClient

Key = tuple[str, str, str]  # run folder, dataset fingerprint, image id


class GradCams(QObject):
    updated = Signal()  # a map arrived (or failed): show the selection again
    failed = Signal(str)

    def __init__(self, engine: EngineClient, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.cache: dict[Key, tuple[np.ndarray, np.ndarray]] = {}
        self.request_id: int | None = None
        self._in_flight: Key | None = None
        self._wanted: tuple[Key, str] | None = None  # key, dataset source

    def get(self, key: Key, source: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The (image, heat) pair, or None after asking for it."""
        cached = self.cache.get(key)
        if cached is None:
            self._wanted = (key, source)
            if self.request_id is None:
                self._request(key, source)
        return cached

    def forget(self) -> None:
        """A new run or dataset: cached and wanted maps belong to the old one."""
        self.cache.clear()
        self._wanted = None

    def _request(self, key: Key, source: str) -> None:
        run, _fingerprint, image_id = key
        self._in_flight = key
        self.request_id = self.engine.request(
            "grad_cam", run=run, dataset=source, image_id=image_id
        )

    def handle_finished(self, result: object) -> None:
        key, self._in_flight, self.request_id = self._in_flight, None, None
        if isinstance(result, dict) and "heat" in result and key is not None:
            self.cache[key] = (result["image"], result["heat"])
        wanted, self._wanted = self._wanted, None
        if wanted is not None and wanted[0] != key and wanted[0] not in self.cache:
            self._wanted = wanted
            self._request(*wanted)
            return
        self.updated.emit()

    def handle_failed(self, message: str) -> None:
        failed, self._in_flight, self.request_id = self._in_flight, None, None
        wanted, self._wanted = self._wanted, None
        if wanted is not None and wanted[0] != failed:  # the user moved on: try theirs
            self._wanted = wanted
            self._request(*wanted)
            return
        self.failed.emit(message)
