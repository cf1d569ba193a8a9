"""Where a study lives: the app's SQLite file by default, any Optuna storage URL, or a journal
file on a shared disk.

- no URL: ``sqlite:///<app data>/sweeps.db``, embedded, nothing to install or start;
- ``sqlite:///path.db``, ``postgresql://user:pw@host/db``, ``mysql+pymysql://...``: Optuna's
  RDB storage (a server lets workers on several machines share a study);
- ``journal:/shared/disk/sweep.log``: Optuna's journal file storage, an append-only log with a
  lock that works where SQLite's does not (NFS), for workers that share only a disk.

The URL shown and stored in run folders never carries a password.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gender_desktop import paths
from gender_desktop.errors import UserError

JOURNAL = "journal:"
SQLITE_TIMEOUT_S = 60  # a worker waits this long for another's write instead of failing


@dataclass
class Storage:
    optuna: Any  # the optuna.storages.BaseStorage
    url: str  # as given (may hold a password: never shown)
    public: str  # the URL without its password, for messages and meta.json
    lock_file: Path | None  # SQLite: the file lock that serialises taking a trial

    def pop_lock(self) -> AbstractContextManager[Any]:
        """Held while a worker takes the next waiting trial. Optuna's RDB storage reads the
        trial's state and writes RUNNING in one transaction with a row lock; SQLite has no row
        locks and its driver reads outside the write transaction, so two workers could both
        take the same waiting trial. A file lock next to the database makes the take atomic
        (PostgreSQL and MySQL lock the row; the journal's replay rejects a second take)."""
        if self.lock_file is None:
            return contextlib.nullcontext()
        from filelock import FileLock

        return FileLock(str(self.lock_file), timeout=SQLITE_TIMEOUT_S)


def default_url() -> str:
    return f"sqlite:///{paths.data_dir() / 'sweeps.db'}"


def public_url(url: str) -> str:
    """``url`` without its password (``postgresql://me@host/db``)."""
    if url.startswith(JOURNAL):
        return url
    try:
        from sqlalchemy.engine import URL, make_url

        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - not a URL at all: show none of it but the scheme
        return url.split("://", 1)[0] + "://…" if "://" in url else url
    bare = URL.create(
        parsed.drivername, parsed.username, None, parsed.host, parsed.port, parsed.database,
        parsed.query,
    )  # fmt: skip
    return bare.render_as_string(hide_password=False)


def open_storage(url: str | None = None) -> Storage:
    """The storage at ``url`` (None: the app's SQLite file). A URL that cannot be opened (a
    typo, a missing database driver, a server that does not answer) is a :class:`UserError`
    naming it without its password."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" chatter
    url = url or default_url()
    public = public_url(url)
    try:
        if url.startswith(JOURNAL):
            return Storage(_journal(url), url, public, None)
        kwargs: dict[str, Any] = {}
        lock = None
        if url.startswith("sqlite:"):
            kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
            lock = _sqlite_lock(url)
        storage = Storage(None, url, public, lock)
        # Two workers opening a new SQLite file at once both create its tables (alembic's
        # version row then fails as a duplicate): one at a time, under the same file lock.
        with storage.pop_lock(), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage.optuna = _rdb_storage(url, kwargs)
        return storage
    except UserError:
        raise
    except (ImportError, ValueError, RuntimeError, OSError) as exc:
        raise UserError(f"cannot open the sweep storage {public}: {_reason(exc)}") from exc
    except Exception as exc:  # SQLAlchemy's errors (a bad URL, a refused connection)
        if type(exc).__module__.startswith("sqlalchemy"):
            raise UserError(f"cannot open the sweep storage {public}: {_reason(exc)}") from exc
        raise


CREATE_TRIES = 5  # workers starting together on a new database: the later ones try again


def _rdb_storage(url: str, kwargs: dict[str, Any]) -> Any:
    """Optuna's RDB storage, which creates its tables in a new database. Two workers (or
    machines) starting at once on a new PostgreSQL or MySQL database both create them, and the
    slower one fails on a duplicate (``pg_type_typname_nsp_index``, the alembic version row):
    the tables are then there, so it tries again after a moment and opens them. (SQLite takes
    the file lock instead.) Other errors are not retried."""
    import optuna

    for attempt in range(1, CREATE_TRIES + 1):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as exc:
            if attempt == CREATE_TRIES or not _created_meanwhile(exc):
                raise
            time.sleep(0.3 * attempt)
    raise AssertionError("unreachable")


def _created_meanwhile(exc: Exception) -> bool:
    """Whether ``exc`` is another worker having created the same table, type or row first."""
    if not type(exc).__module__.startswith("sqlalchemy"):
        return False
    text = str(exc).lower()
    return any(words in text for words in ("already exists", "duplicate key", "duplicate entry"))


def _journal(url: str) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    file = Path(url.removeprefix(JOURNAL)).expanduser()
    if not url.removeprefix(JOURNAL).strip():
        raise UserError("journal: needs a file, e.g. journal:/shared/disk/sweep.log")
    if not file.parent.is_dir():
        raise UserError(f"{file.parent}: no such folder (for the sweep's journal file)")
    return JournalStorage(JournalFileBackend(str(file.resolve())))


def _sqlite_lock(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    file = Path(database).expanduser()
    if not file.parent.is_dir():
        raise UserError(f"{file.parent}: no such folder (for the sweep database {file.name})")
    return file.with_name(file.name + ".lock")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    if isinstance(exc, ImportError):
        return f"{first} (install the database driver for this URL)"
    return first[:300]
