"""Where the app keeps its own files: never inside the user's dataset folders.

platformdirs gives the conventional per-OS locations (XDG on Linux, ~/Library on macOS,
%LOCALAPPDATA% on Windows). ``GENDER_DESKTOP_HOME`` overrides both with one folder, which is
what the tests and portable installs use.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from gender_desktop import APP_NAME

HOME_ENV = "GENDER_DESKTOP_HOME"


def _override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def data_dir() -> Path:
    """Persistent app data: label edits, stored splits, the demo dataset, later runs."""
    base = _override()
    path = base / "data" if base else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Disposable data: thumbnails. Deleting it loses nothing but time."""
    base = _override()
    path = base / "cache" if base else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def dataset_dir(fingerprint: str) -> Path:
    """The sidecar folder of one dataset (label edits, split), keyed by its content fingerprint."""
    path = data_dir() / "datasets" / fingerprint
    path.mkdir(parents=True, exist_ok=True)
    return path
