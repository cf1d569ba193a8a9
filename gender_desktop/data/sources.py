"""Uniform read access to a folder or a .zip archive.

Every layout reader works on a :class:`Source`: a list of relative POSIX paths plus a way to read
one of them. That is what lets any layout live in a plain folder or straight inside a zip (the
30k-image course subset is usually shipped zipped, and extracting it is the slow step users
complain about).
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from gender_desktop.data.errors import DatasetError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
MAX_WALK_DEPTH = 6
# Bounds on what one read may cost. An annotation file (CelebA's largest is 26 MB) or a zip
# member is refused above MAX_READ_BYTES; an image above MAX_IMAGE_BYTES (the Predict panel's
# limit too). A zip image member that inflates more than MAX_IMAGE_RATIO times its stored size
# (once past RATIO_FLOOR_BYTES) is a likely zip bomb: JPEG, PNG and WebP hardly compress, so a
# real face image never comes close.
MAX_READ_BYTES = 256 * 1024 * 1024
MAX_IMAGE_BYTES = 200 * 1024 * 1024
MAX_IMAGE_RATIO = 100
RATIO_FLOOR_BYTES = 1024 * 1024
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # POSIX: opening a FIFO must not wait for a writer
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0) | _NONBLOCK
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def printable(text: str) -> str:
    """``text`` as a person can read it: a file name that is not valid UTF-8 (Python keeps its
    raw bytes as lone surrogates, ``surrogateescape``) shows U+FFFD where the bad bytes were.

    Ids and paths keep their surrogates (they are how the file is opened again); only what is
    shown or written for people goes through here.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return text


def kind_of(mode: int) -> str:
    """What a non-regular file is, for a message ("a FIFO", "a character device")."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _refuse_irregular(mode: int, shown: str) -> None:
    if not stat.S_ISREG(mode):
        raise DatasetError(
            f"not a regular file ({kind_of(mode)}); only regular files are read", shown
        )


def _too_large(size: int, limit: int, shown: str) -> DatasetError:
    mb = 1024 * 1024
    return DatasetError(
        f"too large to read ({size / mb:,.0f} MB; the limit is {limit // mb:,} MB)", shown
    )


def open_regular(path: str | os.PathLike[str], limit: int | None = None) -> BinaryIO:
    """Open a regular file for reading, following links, never blocking.

    A FIFO would block ``open`` until a writer comes, and a link to ``/dev/zero`` reads until
    memory runs out; both are refused with a message naming the file. The file is checked before
    opening (so no device is ever opened) and again on the open handle (O_NONBLOCK, so a file
    swapped for a FIFO in between cannot block either).
    """
    shown = printable(os.fspath(path))
    try:
        _refuse_irregular(os.stat(path).st_mode, shown)
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _os_error(exc, shown) from exc
    try:
        st = os.fstat(fd)
        _refuse_irregular(st.st_mode, shown)
        if limit is not None and st.st_size > limit:
            raise _too_large(st.st_size, limit, shown)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int = MAX_READ_BYTES) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes (see :func:`open_regular`)."""
    shown = printable(os.fspath(path))
    with open_regular(path, limit) as handle:
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise _os_error(exc, shown) from exc
    if len(data) > limit:  # it grew after the check
        raise _too_large(len(data), limit, shown)
    return data


def _os_error(exc: OSError, shown: str) -> DatasetError:
    """An OSError on reading ``shown`` as the one line a user sees (the file named once)."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        reason = "permission denied: this file cannot be read (check its permissions)"
    elif exc.errno == errno.ENOENT:
        reason = "not found (no such file, or a link to nothing)"
    elif exc.errno == errno.ELOOP:
        reason = "a loop of symbolic links"
    else:
        reason = f"cannot be read ({exc.strerror or exc})"
    error = DatasetError(reason, shown)
    error.__cause__ = exc
    return error


def is_zip_archive(path: str | os.PathLike[str]) -> bool:
    """True for a regular file that is a zip archive (never blocks on a FIFO or a device)."""
    try:
        with open_regular(path) as handle:
            return zipfile.is_zipfile(handle)
    except DatasetError:
        return False


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
    def read_bytes(self, rel: str, limit: int = MAX_READ_BYTES) -> bytes:
        """The bytes of ``rel`` (at most ``limit``); a :class:`DatasetError` naming it if it
        cannot be read (not a regular file, too large, a damaged or encrypted zip member)."""

    def read_image(self, rel: str) -> bytes:
        """The bytes of an image file, with the image bounds (size, and a zip member's ratio)."""
        return self.read_bytes(rel, MAX_IMAGE_BYTES)

    def read_head(self, rel: str, n: int = 4096) -> bytes:
        """The first ``n`` bytes (a header line to sniff), without reading the whole file."""
        return self.read_bytes(rel)[:n]

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
        """A path a user can recognise in a message (undecodable bytes shown as U+FFFD)."""
        return printable(str(self.location / rel) if rel else str(self.location))

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
        return "\n".join(parts).encode("utf-8", "surrogateescape")

    def _stamp(self, rel: str) -> str:
        return str(self.size(rel))

    def head_tail(self, rel: str, n: int = 1024) -> tuple[bytes, bytes, int]:
        """The first and last ``n`` bytes and the size of an image, for cheap integrity checks
        (with the image bounds of :meth:`read_image`)."""
        data = self.read_image(rel)
        return data[:n], data[-n:], len(data)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open handles (zip files)."""


class FolderSource(Source):
    """A folder, walked up to ``depth`` levels down; ``only`` restricts it to listed files (the
    annotations beside a picked zip, never the whole folder around it)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        depth: int = MAX_WALK_DEPTH,
        only: Iterable[str] | None = None,
    ) -> None:
        super().__init__()
        self.root = Path(root)
        self.depth = depth
        self._only = list(only) if only is not None else None

    @property
    def location(self) -> Path:
        return self.root

    def _list(self) -> list[str]:
        if self._only is not None:
            return [rel for rel in self._only if os.path.lexists(self.root / rel)]
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
                    if depth < self.depth and not entry.name.startswith("."):
                        stack.append((entry.path, rel + "/", depth + 1))
                else:
                    found.append(rel)
        return found

    def path(self, rel: str) -> Path:
        return self.root / rel

    def read_bytes(self, rel: str, limit: int = MAX_READ_BYTES) -> bytes:
        return read_regular(self.root / rel, limit)

    def size(self, rel: str) -> int:
        return (self.root / rel).stat().st_size

    def _stamp(self, rel: str) -> str:
        st = (self.root / rel).stat()
        return f"{st.st_size}:{st.st_mtime_ns}"

    def read_head(self, rel: str, n: int = 4096) -> bytes:
        with open_regular(self.root / rel) as handle:
            try:
                return handle.read(n)
            except OSError as exc:
                raise _os_error(exc, self.display(rel)) from exc

    def head_tail(self, rel: str, n: int = 1024) -> tuple[bytes, bytes, int]:
        path = self.root / rel
        with open_regular(path, MAX_IMAGE_BYTES) as handle:
            try:
                head = handle.read(n)
                size = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, size - n))
                return head, handle.read(n), size
            except OSError as exc:
                raise _os_error(exc, self.display(rel)) from exc


class ZipSource(Source):
    """Reads members straight from the archive. Each thread gets its own ``ZipFile`` handle, so
    thumbnail workers decode in parallel instead of queueing on one file lock."""

    def __init__(self, archive: str | os.PathLike[str]) -> None:
        super().__init__()
        self.archive = Path(archive)
        self._local = threading.local()
        self._handles: list[tuple[zipfile.ZipFile, BinaryIO]] = []
        self._lock = threading.Lock()
        self._info: dict[str, zipfile.ZipInfo] | None = None

    @property
    def location(self) -> Path:
        return self.archive

    def _zip(self) -> zipfile.ZipFile:
        handle = getattr(self._local, "zip", None)
        if handle is None:
            raw = open_regular(self.archive)
            try:
                handle = zipfile.ZipFile(raw)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
                raw.close()
                raise DatasetError(
                    f"not a readable zip archive: damaged or incomplete ({exc})", self.display()
                ) from exc
            self._local.zip = handle
            with self._lock:
                self._handles.append((handle, raw))
        return handle

    def _infos(self) -> dict[str, zipfile.ZipInfo]:
        if self._info is None:
            self._info = {i.filename: i for i in self._zip().infolist() if not i.is_dir()}
        return self._info

    def _list(self) -> list[str]:
        return list(self._infos())

    def display(self, rel: str = "") -> str:
        return printable(f"{self.archive}:{rel}" if rel else str(self.archive))

    def read_bytes(self, rel: str, limit: int = MAX_READ_BYTES) -> bytes:
        info = self._member(rel, limit, ratio=None)
        return self._read_member(info, rel)

    def read_image(self, rel: str) -> bytes:
        info = self._member(rel, MAX_IMAGE_BYTES, ratio=MAX_IMAGE_RATIO)
        return self._read_member(info, rel)

    def _member(self, rel: str, limit: int, ratio: int | None) -> zipfile.ZipInfo:
        """The member's entry, refused before anything is inflated when it is encrypted, larger
        than ``limit`` or (for images) inflates suspiciously many times its stored size. The
        sizes come from the archive's directory; a member that lies about them is cut at its
        declared size by ``zipfile`` (and fails its CRC check), so the bound holds."""
        shown = self.display(rel)
        info = self._infos().get(rel)
        if info is None:
            raise DatasetError("not in the archive", shown)
        if info.flag_bits & 0x1:
            raise DatasetError(
                "encrypted (the zip needs a password); extract it with its password and "
                "open the folder instead",
                shown,
            )
        if info.file_size > limit:
            raise _too_large(info.file_size, limit, shown)
        stored = max(info.compress_size, 1)
        if (
            ratio is not None
            and info.file_size > RATIO_FLOOR_BYTES
            and info.file_size > ratio * stored
        ):
            raise DatasetError(
                f"refused: a likely zip bomb (it inflates from {stored:,} bytes to "
                f"{info.file_size / (1024 * 1024):,.0f} MB, {info.file_size // stored:,} times; "
                f"images never compress more than {ratio} times)",
                shown,
            )
        return info

    def _read_member(self, info: zipfile.ZipInfo, rel: str) -> bytes:
        try:
            return self._zip().read(info)
        except DatasetError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise DatasetError(f"damaged zip member ({exc})", self.display(rel)) from exc
        except (NotImplementedError, RuntimeError) as exc:  # an unsupported method, encryption
            raise DatasetError(f"cannot be read from the zip ({exc})", self.display(rel)) from exc

    def size(self, rel: str) -> int:
        return self._infos()[rel].file_size

    def _stamp(self, rel: str) -> str:
        info = self._infos()[rel]
        return f"{info.file_size}:{info.CRC}"

    def close(self) -> None:
        with self._lock:
            for handle, raw in self._handles:
                handle.close()
                raw.close()
            self._handles.clear()
        self._local = threading.local()


def open_source(path: str | os.PathLike[str]) -> Source:
    p = Path(path)
    if p.is_dir():
        return FolderSource(p)
    if is_zip_archive(p):
        return ZipSource(p)
    raise DatasetError("neither a folder nor a zip archive", printable(str(p)))
