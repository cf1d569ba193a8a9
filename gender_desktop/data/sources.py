"""Uniform read access to a folder or a .zip archive.

Every layout reader works on a :class:`Source`: a list of relative POSIX paths plus a way to read
one of them. That is what lets any layout live in a plain folder or straight inside a zip (the
30k-image course subset is usually shipped zipped, and extracting it is the slow step users
complain about).
"""

from __future__ import annotations

import os
import threading
import zipfile
from abc import ABC, abstractmethod
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
MAX_WALK_DEPTH = 6


def is_image_name(name: str) -> bool:
    """By suffix; plain string work because it runs once per file of a 200k-image tree."""
    dot = name.rfind(".")
    return dot > name.rfind("/") and name[dot:].lower() in IMAGE_SUFFIXES


def _is_junk(rel: str) -> bool:
    return "__MACOSX" in rel or rel.startswith("._") or "/._" in rel


class Source(ABC):
    """A tree of files addressed by relative POSIX paths."""

    def __init__(self) -> None:
        self._files: list[str] | None = None
        self._images: list[str] | None = None
        self._others: list[str] | None = None

    @property
    @abstractmethod
    def location(self) -> Path:
        """The folder or archive on disk."""

    @abstractmethod
    def _list(self) -> list[str]: ...

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes: ...

    @abstractmethod
    def size(self, rel: str) -> int: ...

    def files(self) -> list[str]:
        """All files, sorted, junk (``__MACOSX``, ``._*``) left out. Listed once, then cached."""
        if self._files is None:
            self._files = sorted(f for f in self._list() if not _is_junk(f))
        return self._files

    def image_files(self) -> list[str]:
        """The image files among :meth:`files` (by suffix)."""
        if self._images is None:
            self._split()
        assert self._images is not None
        return self._images

    def other_files(self) -> list[str]:
        """Everything else: annotation files, archives. Few, so searching them is cheap."""
        if self._others is None:
            self._split()
        assert self._others is not None
        return self._others

    def _split(self) -> None:
        images, others = [], []
        for f in self.files():
            (images if is_image_name(f) else others).append(f)
        self._images, self._others = images, others

    def display(self, rel: str = "") -> str:
        """A path a user can recognise in a message."""
        return str(self.location / rel) if rel else str(self.location)

    def read_text(self, rel: str) -> str:
        data = self.read_bytes(rel)
        for encoding in ("utf-8-sig", "latin-1"):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                continue
        raise AssertionError("latin-1 decodes any bytes")

    def signature(self, rels: list[str]) -> bytes:
        """A fingerprint of the files' current state (sizes and modification times, or sizes
        and CRCs in a zip): it changes when an image is replaced or edited."""
        parts = []
        for rel in rels:
            try:
                parts.append(f"{rel}:{self._stamp(rel)}")
            except (OSError, KeyError):
                parts.append(f"{rel}:missing")
        return "\n".join(parts).encode()

    def _stamp(self, rel: str) -> str:
        return str(self.size(rel))

    def head_tail(self, rel: str, n: int = 1024) -> tuple[bytes, bytes, int]:
        """The first and last ``n`` bytes and the size, for cheap integrity checks."""
        data = self.read_bytes(rel)
        return data[:n], data[-n:], len(data)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open handles (zip files)."""


class FolderSource(Source):
    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__()
        self.root = Path(root)

    @property
    def location(self) -> Path:
        return self.root

    def _list(self) -> list[str]:
        found: list[str] = []
        stack: list[tuple[str, str, int]] = [(str(self.root), "", 0)]
        while stack:
            folder, prefix, depth = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                rel = prefix + entry.name
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                if is_dir:
                    if depth < MAX_WALK_DEPTH and not entry.name.startswith("."):
                        stack.append((entry.path, rel + "/", depth + 1))
                else:
                    found.append(rel)
        return found

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def size(self, rel: str) -> int:
        return (self.root / rel).stat().st_size

    def _stamp(self, rel: str) -> str:
        st = (self.root / rel).stat()
        return f"{st.st_size}:{st.st_mtime_ns}"

    def head_tail(self, rel: str, n: int = 1024) -> tuple[bytes, bytes, int]:
        with open(self.root / rel, "rb") as handle:
            head = handle.read(n)
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - n))
            return head, handle.read(n), size


class ZipSource(Source):
    """Reads members straight from the archive. Each thread gets its own ``ZipFile`` handle, so
    thumbnail workers decode in parallel instead of queueing on one file lock."""

    def __init__(self, archive: str | os.PathLike[str]) -> None:
        super().__init__()
        self.archive = Path(archive)
        self._local = threading.local()
        self._handles: list[zipfile.ZipFile] = []
        self._lock = threading.Lock()
        self._info: dict[str, zipfile.ZipInfo] | None = None

    @property
    def location(self) -> Path:
        return self.archive

    def _zip(self) -> zipfile.ZipFile:
        handle = getattr(self._local, "zip", None)
        if handle is None:
            handle = zipfile.ZipFile(self.archive)
            self._local.zip = handle
            with self._lock:
                self._handles.append(handle)
        return handle

    def _infos(self) -> dict[str, zipfile.ZipInfo]:
        if self._info is None:
            self._info = {i.filename: i for i in self._zip().infolist() if not i.is_dir()}
        return self._info

    def _list(self) -> list[str]:
        return list(self._infos())

    def display(self, rel: str = "") -> str:
        return f"{self.archive}:{rel}" if rel else str(self.archive)

    def read_bytes(self, rel: str) -> bytes:
        return self._zip().read(rel)

    def size(self, rel: str) -> int:
        return self._infos()[rel].file_size

    def _stamp(self, rel: str) -> str:
        info = self._infos()[rel]
        return f"{info.file_size}:{info.CRC}"

    def close(self) -> None:
        with self._lock:
            for handle in self._handles:
                handle.close()
            self._handles.clear()
        self._local = threading.local()


def open_source(path: str | os.PathLike[str]) -> Source:
    p = Path(path)
    if p.is_dir():
        return FolderSource(p)
    if zipfile.is_zipfile(p):
        return ZipSource(p)
    raise ValueError(f"{p} is neither a folder nor a zip archive")
