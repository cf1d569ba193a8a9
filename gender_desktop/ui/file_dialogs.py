"""File dialogs that start in the folder last used, and never propose a folder that is missing.

Every Open, Save and Choose-folder dialog of the app goes through these four functions, so each
starts where the user last was for that kind of file (``kind``: "dataset", "photos", "runs",
"export", "weights", "report", ...), falling back to the folder last used for anything, then to
the home folder. A proposed folder or file whose folder no longer exists is moved up to its
nearest existing parent, so a dialog never opens on a path it will then refuse (Export Model...
once pre-filled a missing "export" folder). The folders are kept in the app's QSettings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from gender_desktop.ui.settings import app_settings

ANY = "any"  # the folder last used for any kind of file


def _key(kind: str) -> str:
    return f"folders/{kind}"


def existing_part(path: str | Path) -> Path:
    """``path`` itself if it is a folder, else its nearest existing parent (or home)."""
    candidate = Path(path).expanduser()
    for folder in (candidate, *candidate.parents):
        try:
            if folder.is_dir():
                return folder
        except OSError:  # an unreadable network path: go further up
            continue
    return Path.home()


def last_folder(kind: str, fallback: str | Path | None = None) -> Path:
    """Where a dialog for ``kind`` starts: the folder last used for it, else ``fallback`` (the
    runs workspace for run folders), else the folder last used for anything, else home."""
    settings = app_settings()
    value = settings.value(_key(kind), "")
    if value:
        return existing_part(str(value))
    if fallback:
        return existing_part(fallback)
    value = settings.value(_key(ANY), "")
    return existing_part(str(value)) if value else Path.home()


def remember_folder(kind: str, path: str | Path) -> None:
    """Record the folder of ``path`` (itself if it is a folder) as the last used for ``kind``."""
    folder = Path(path)
    if not folder.is_dir():
        folder = folder.parent
    settings = app_settings()
    for key in (_key(kind), _key(ANY)):
        settings.setValue(key, str(folder))


def _start(
    kind: str, proposed: str | Path | None, name: str = "", fallback: str | Path | None = None
) -> str:
    folder = existing_part(proposed) if proposed else last_folder(kind, fallback)
    return str(folder / name) if name else str(folder)


def open_file(parent: QWidget | None, kind: str, caption: str, filters: str = "") -> str:
    """One file to open, or "" when the user cancels."""
    path, _ = QFileDialog.getOpenFileName(parent, caption, _start(kind, None), filters)
    if path:
        remember_folder(kind, path)
    return path


def open_files(parent: QWidget | None, kind: str, caption: str, filters: str = "") -> list[str]:
    """Files to open (possibly none)."""
    paths, _ = QFileDialog.getOpenFileNames(parent, caption, _start(kind, None), filters)
    if paths:
        remember_folder(kind, paths[0])
    return paths


def choose_folder(
    parent: QWidget | None,
    kind: str,
    caption: str,
    proposed: str | Path | None = None,
    fallback: str | Path | None = None,
) -> str:
    """A folder, starting at ``proposed`` (or its nearest existing parent), else the last one
    used for ``kind``, else ``fallback``."""
    folder = QFileDialog.getExistingDirectory(parent, caption, _start(kind, proposed, "", fallback))
    if folder:
        remember_folder(kind, folder)
    return folder


def save_file(
    parent: QWidget | None,
    kind: str,
    caption: str,
    name: str,
    filters: str = "",
    proposed_folder: str | Path | None = None,
) -> tuple[str, str]:
    """Where to save ``name`` (and the filter chosen), or ("", "") when the user cancels."""
    start = _start(kind, proposed_folder, name)
    path, chosen = QFileDialog.getSaveFileName(parent, caption, start, filters)
    if path:
        remember_folder(kind, path)
    return path, chosen
