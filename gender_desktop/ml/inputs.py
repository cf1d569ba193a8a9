"""What consecutive runs in one process share: opened datasets and frozen-backbone features.

A head-only sweep (backbone frozen, no augmentation) trains every configuration of its grid on
the same backbone features; computing them is nearly all of a run's time, the heads take
seconds. A :class:`SharedInputs` handed to each trial's :class:`~gender_desktop.ml.trainer.Trainer`
keeps the features of the last few (backbone, weights, input size, pooling, rows) keys, so the
notebooks' six-run frozen grid costs one pass of the backbone. The decoded images are shared
anyway (a memory-mapped cache on disk), the opened dataset is kept here to skip re-reading its
annotation files.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from gender_desktop.data.dataset import Dataset, open_dataset

Progress = Callable[[int, int, str], None]


class SharedInputs:
    def __init__(self, max_features: int = 2) -> None:
        self._datasets: dict[str, Dataset] = {}
        self._features: OrderedDict[tuple, Any] = OrderedDict()
        self._max_features = max_features
        self.feature_passes = 0  # how many times features were computed (benchmarks, tests)

    def dataset(
        self, source: str, progress: Progress | None, cancel: threading.Event | None
    ) -> Dataset:
        """The dataset at ``source``, opened once per process (label edits are read from its
        label store each time a run asks for its labelled table, so they are never stale)."""
        if source not in self._datasets:
            self._datasets[source] = open_dataset(source, progress=progress, cancel=cancel)
        return self._datasets[source]

    def features(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """The features stored under ``key``, computed by ``compute()`` the first time."""
        if key in self._features:
            self._features.move_to_end(key)
            return self._features[key]
        value = compute()
        self.feature_passes += 1
        self._features[key] = value
        while len(self._features) > self._max_features:
            self._features.popitem(last=False)
        return value
