"""On-disk thumbnail cache: one SQLite file per dataset and size in the user cache folder.

One file instead of 200k small ones keeps the cache fast to write, cheap on inodes and trivial to
delete. Each thread gets its own connection; WAL mode lets readers and a writer overlap, and
``synchronous=OFF`` is fine because losing a cached thumbnail only costs a re-decode.
"""

from __future__ import annotations

import io
import sqlite3
import threading
from pathlib import Path

from PIL import Image

from gender_desktop import paths


def _storable(key: str) -> str:
    """SQLite text must be UTF-8: an id from a file name that is not (kept as surrogates) is
    stored with its raw bytes escaped (``\\xff``); every other id as it is."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return key.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return key


class ThumbnailCache:
    def __init__(self, fingerprint: str, size: int, folder: Path | None = None) -> None:
        root = folder or paths.cache_dir() / "thumbnails"
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / f"{fingerprint}-{size}.sqlite3"
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS thumbs (key TEXT PRIMARY KEY, jpeg BLOB)")

    def _connect(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=OFF")
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def get(self, key: str) -> Image.Image | None:
        key = _storable(key)
        try:
            row = self._connect().execute("SELECT jpeg FROM thumbs WHERE key=?", (key,)).fetchone()
        except sqlite3.Error:
            return None
        if row is None:
            return None
        try:
            img = Image.open(io.BytesIO(row[0]))
            img.load()
            return img.convert("RGB")
        except OSError:
            return None

    def put(self, key: str, img: Image.Image) -> None:
        key = _storable(key)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=88)
        try:
            with self._connect() as db:
                db.execute("INSERT OR REPLACE INTO thumbs VALUES (?, ?)", (key, buf.getvalue()))
        except sqlite3.Error:
            pass  # a full disk or a locked cache only costs a later re-decode

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()
