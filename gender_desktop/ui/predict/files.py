"""What comes into the Predict panel and what goes out: paths from drops and the clipboard,
pasted images saved as files, the CSV export, and short texts for the screen."""

from __future__ import annotations

import os
import time

from PySide6.QtCore import QMimeData, QUrl
from PySide6.QtGui import QImage

from gender_desktop import paths as app_paths
from gender_desktop.fileio import atomic_write_bytes
from gender_desktop.ml.prediction_row import PredictionRow, prediction_csv

MAX_PASTED_LINES = 200  # a clipboard with more lines is not a list of files to stat


def local_paths(mime: QMimeData) -> list[str]:
    """Local files and folders named by ``mime``: URLs, or text with one path or file:// URL a
    line (what file managers and terminals put on the clipboard)."""
    found = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    if found or not mime.hasText():
        return found
    for line in mime.text().splitlines()[:MAX_PASTED_LINES]:
        text = line.strip().strip("'\"")
        if text.startswith("file://"):
            text = QUrl(text).toLocalFile()
        if text.startswith(("/", "~", "\\\\")) or (len(text) > 2 and text[1:3] in (":\\", ":/")):
            text = os.path.expanduser(text)
            if os.path.exists(text):
                found.append(text)
    return found


def web_addresses(mime: QMimeData) -> list[str]:
    """http(s) addresses in ``mime``: named in a message (they are not downloaded)."""
    urls = [url.toString() for url in mime.urls() if url.scheme() in ("http", "https")]
    if not urls and mime.hasText():
        urls = [t for t in mime.text().split() if t.startswith(("http://", "https://"))]
    return urls


def device_label(name: str) -> str:
    """The engine's device name as the status bar writes devices: "CPU", "CUDA (H100)"."""
    kind, _, rest = name.partition(" ")
    kind = {"cpu": "CPU", "cuda": "CUDA", "mps": "Apple MPS"}.get(kind, kind)
    return f"{kind} {rest}".strip()


def write_csv(rows: list[PredictionRow], path: str) -> str:
    """The rows as the CLI's ``predict --csv`` writes them (ml/prediction_row.py), written
    atomically: a crash never leaves half a file."""
    atomic_write_bytes(path, prediction_csv(rows))
    return path


def save_pasted_image(image: QImage) -> str:
    """A clipboard image as a PNG in the app's cache folder (runs in a Task: encoding a
    screenshot takes longer than the GUI thread may block)."""
    folder = app_paths.cache_dir() / "pasted"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, k = folder / f"pasted-{stamp}.png", 1
    while target.exists():
        k += 1
        target = folder / f"pasted-{stamp}-{k}.png"
    if not image.save(str(target), "PNG"):
        raise OSError(f"cannot write {target}")
    return str(target)


def first_line(text: str) -> str:
    """Library errors (torch's especially) can run to paragraphs: one line on screen."""
    lines = text.strip().splitlines()
    return lines[0] if lines else text


def escape(text: str) -> str:
    """Plain text (file names, error messages) safe inside the rich-text labels."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
