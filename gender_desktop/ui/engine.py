"""The GUI's handle on the engine child process (see ``gender_desktop.ml.service``).

``EngineClient.request(kind, **args)`` queues a request and returns its id; replies come back
as signals on the GUI thread: ``progressed(id, done, total, message)``, ``rows(id, list)``,
``finished(id, result)`` and ``failed(id, message)``. The child is started on the first
request (importing torch there takes seconds, never here) and stays up, so a model is loaded
once. ``cancel()`` stops every request made so far (the running one between two batches, the
queued ones before they start) and none made later. A reader QThread waits on the reply
queue; if the child dies, every outstanding request fails with a message and the next request
starts a new child. The child is not a daemon (daemons may not start the decode worker pool);
it ends with ``shutdown()``, or by itself when this process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing as mp
import queue as queue_mod
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

from gender_desktop.ml.service import serve


class _Reader(QThread):
    reply = Signal(str, int, object)
    died = Signal(int)  # exit code

    def __init__(self, replies: Any, child: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.replies, self.child = replies, child
        self.stopping = False

    def run(self) -> None:
        while True:
            try:
                kind, rid, payload = self.replies.get(timeout=0.2)
            except queue_mod.Empty:
                if self.stopping:
                    return
                if not self.child.is_alive():
                    self.died.emit(self.child.exitcode if self.child.exitcode is not None else -1)
                    return
                continue
            except (EOFError, OSError):
                return
            self.reply.emit(kind, rid, payload)


class EngineClient(QObject):
    progressed = Signal(int, int, int, str)  # id, done, total, message
    rows = Signal(int, object)  # id, list of row dicts
    finished = Signal(int, object)  # id, result
    failed = Signal(int, str)  # id, message
    busy_changed = Signal(bool)

    def __init__(self, name: str = "engine", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._context = mp.get_context("spawn")
        self._ids = itertools.count(1)
        self._pending: set[int] = set()
        self._child: Any = None
        self._reader: _Reader | None = None
        self._requests: Any = None
        self._replies: Any = None
        self._cancelled: Any = None
        self._last_id = 0
        self._exit_hook: Any = None
        app = QCoreApplication.instance()
        if app is not None:  # the event loop ends: so does the child, even without closeEvent
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.is_alive()

    def _start(self) -> None:
        self._requests = self._context.Queue()
        self._replies = self._context.Queue()
        self._cancelled = self._context.Value("q", self._cancelled_mark(), lock=False)
        self._child = self._context.Process(
            target=serve,
            args=(self._requests, self._replies, self._cancelled),
            name=f"gender-desktop-{self.name}",
        )
        self._child.start()
        reader = _Reader(self._replies, self._child, self)
        reader.reply.connect(self._on_reply)
        # Tagged with its reader: a death reported late must not stop a newer child.
        reader.died.connect(lambda code, r=reader: self._on_died(r, code))
        reader.start()
        self._reader = reader
        # A window closed without shutdown() (an exception out of the event loop, sys.exit in a
        # slot, a script): the non-daemon child would keep Python from exiting. atexit hooks run
        # last-registered first, so this runs before multiprocessing joins its children.
        child, requests, cancelled = self._child, self._requests, self._cancelled

        def end_child() -> None:
            if child.is_alive():
                cancelled.value = 1 << 62
                with contextlib.suppress(OSError, ValueError):
                    requests.put(None)
                child.join(3)
                if child.is_alive():
                    child.terminate()
            reader.stopping = True
            reader.wait(2000)  # a QThread destroyed while running aborts the process

        self._exit_hook = end_child
        atexit.register(end_child)

    def _cancelled_mark(self) -> int:
        return self._cancelled.value if self._cancelled is not None else 0

    def request(self, kind: str, **args: Any) -> int:
        if not self.running:
            self._fail_pending("the engine process had stopped; try again")
            self._stop_child()
            self._start()
        rid = next(self._ids)
        self._last_id = rid
        was_busy = self.busy
        self._pending.add(rid)
        self._requests.put((kind, rid, args))
        if not was_busy:
            self.busy_changed.emit(True)
        return rid

    def cancel(self, upto: int | None = None) -> None:
        """Stop every request made so far, or up to request ``upto`` (an evaluation, not the
        export asked for after it): the running one after its current batch, queued ones
        before they start (they finish with ``{"cancelled": True}``)."""
        if self._cancelled is not None:
            mark = self._last_id if upto is None else upto
            self._cancelled.value = max(self._cancelled.value, mark)

    def _settle(self, rid: int) -> None:
        self._pending.discard(rid)
        if not self._pending:
            self.busy_changed.emit(False)

    def _on_reply(self, kind: str, rid: int, payload: object) -> None:
        if kind == "progress":
            done, total, message = payload  # type: ignore[misc]
            self.progressed.emit(rid, done, total, message)
        elif kind == "rows":
            self.rows.emit(rid, payload)
        elif kind == "done":
            self._settle(rid)
            self.finished.emit(rid, payload)
        else:
            self._settle(rid)
            self.failed.emit(rid, str(payload))

    def _on_died(self, reader: _Reader, code: int) -> None:
        if reader is not self._reader:
            return  # an earlier child, already replaced
        self._fail_pending(f"the {self.name} process ended unexpectedly (exit code {code})")
        self._stop_child()

    def _fail_pending(self, message: str) -> None:
        pending = sorted(self._pending)
        self._pending.clear()
        for rid in pending:
            self.failed.emit(rid, message)
        if pending:
            self.busy_changed.emit(False)

    def _stop_child(self, wait_s: float = 5.0) -> None:
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
            self._exit_hook = None
        child, reader = self._child, self._reader
        self._child = self._reader = None
        if reader is not None:
            reader.stopping = True
        if child is not None and child.is_alive():
            self.stop_soon()
            child.join(wait_s)
            if child.is_alive():
                child.terminate()
                child.join(2)
        if reader is not None:
            reader.wait(3000)
        for q in (self._requests, self._replies):
            if q is not None:
                q.close()
                q.cancel_join_thread()
        self._requests = self._replies = None

    def stop_soon(self) -> None:
        """Ask the child to end (cancel everything, then the end-of-requests mark) without
        waiting: the window asks every engine first and then waits for them together."""
        if self._requests is None:
            return
        self.cancel()
        with contextlib.suppress(OSError, ValueError):
            self._requests.put(None)

    def shutdown(self) -> None:
        """End the child (closing the app); outstanding requests are dropped."""
        self._pending.clear()
        self._stop_child()
