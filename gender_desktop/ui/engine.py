"""The GUI's half of the one process layer (``gender_desktop.procs``): replies become signals.

``ProcessClient.request(kind, **args)`` sends a request to the client's child and returns its
id; replies come back as signals on the GUI thread: ``progressed(id, done, total, message)``,
``rows(id, list)``, ``event(id, training event)``, then ``finished(id, result)`` or
``failed(id, message)``. The child is started on the first request (importing torch there
takes seconds, never here) and stays up, so a model is loaded once; after
``idle_release_s`` without work it is ended, its memory with it, and ``released(text)`` says
so (the next request starts a new child, transparently). ``cancel()`` stops every request made
so far (the running one between two batches, the queued ones before they start) and none made
later. If the child dies, every outstanding request fails with a message naming the process
and its exit code, and the next request starts a new child. An internal error (a bug) also
opens the internal-error dialog with its details to copy. The child ends with ``shutdown()``,
when the event loop quits, at interpreter exit, or by itself when this process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer, Signal

from gender_desktop.errors import Failure
from gender_desktop.procs import DONE, EVENT, FAILED, PROGRESS, ROWS, Child, ChildDied, Reply
from gender_desktop.ui.dialogs import show_internal_error

ENGINE = "gender_desktop.ml.service:Engine"


def _idle_release_s(default: float = 300.0) -> float:
    """``GENDER_DESKTOP_IDLE_RELEASE_S`` (seconds an idle engine child keeps its model), or
    five minutes; a value that is not a positive number is ignored rather than fatal."""
    try:
        value = float(os.environ.get("GENDER_DESKTOP_IDLE_RELEASE_S", default))
    except ValueError:
        return default
    return value if value > 0 else default


IDLE_RELEASE_S = _idle_release_s()


class _Reader(QThread):
    """Waits on one child's replies; ends when told to or when the child is gone."""

    reply = Signal(object)  # Reply
    died = Signal(object)  # ChildDied

    def __init__(self, child: Child, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.child = child
        self.stopping = False

    def run(self) -> None:
        while not self.stopping:
            try:
                reply = self.child.receive(0.2)
            except ChildDied as exc:
                if not self.stopping:
                    self.died.emit(exc)
                return
            except (EOFError, OSError, ValueError):  # our end was closed
                return
            if reply is not None:
                self.reply.emit(reply)


def idle_words(seconds: float) -> str:
    """ "5 min", "90 s": how long the child waited, for the status bar."""
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


class ProcessClient(QObject):
    """One child process running ``service`` (``"module:Class"``), seen through signals."""

    progressed = Signal(int, int, int, str)  # id, done, total, message
    rows = Signal(int, object)  # id, list of row dicts
    event = Signal(int, object)  # id, a training event
    finished = Signal(int, object)  # id, result
    failed = Signal(int, str)  # id, message
    busy_changed = Signal(bool)
    released = Signal(str)  # the idle child was ended: what to tell the user

    def __init__(
        self,
        name: str = "engine",
        parent: QObject | None = None,
        service: str = ENGINE,
        idle_release_s: float | None = IDLE_RELEASE_S,
        release_note: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.name, self.service = name, service
        self.idle_release_s = idle_release_s
        self.release_note = release_note
        self._pending: set[int] = set()
        self._child: Child | None = None
        self._reader: _Reader | None = None
        self._retired: list[_Reader] = []
        self._exit_hook: Any = None
        self._idle = QTimer(self, singleShot=True)
        self._idle.timeout.connect(self._release_if_idle)
        app = QCoreApplication.instance()
        if app is not None:  # the event loop ends: so does the child, even without closeEvent
            app.aboutToQuit.connect(self.shutdown)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    @property
    def running(self) -> bool:
        return self._child is not None and self._child.alive()

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first request or after release)."""
        return self._child.pid if self._child is not None else None

    # -- requests ---------------------------------------------------------------------------------
    def request(self, kind: str, **args: Any) -> int:
        self._idle.stop()
        if not self.running:
            if self._child is not None:  # it died before its reader said so
                self._fail_pending(str(ChildDied(self.name, self._child.process.exitcode)))
            self._stop_child()
            self._start()
        assert self._child is not None
        was_busy = self.busy
        rid = self._child.send(kind, **args)
        self._pending.add(rid)
        if not was_busy:
            self.busy_changed.emit(True)
        return rid

    def cancel(self, upto: int | None = None) -> None:
        """Stop every request made so far, or up to request ``upto`` (an evaluation, not the
        export asked for after it): the running one after its current batch, queued ones
        before they start (they finish with ``{"cancelled": True}``)."""
        if self._child is not None:
            self._child.cancel(upto)

    def pause(self, rid: int, paused: bool = True) -> None:
        """Pause or resume request ``rid`` (a training) after its current batch."""
        if self._child is not None:
            self._child.pause(rid, paused)

    # -- the child ----------------------------------------------------------------------------------
    def _start(self) -> None:
        child = Child(self.service, self.name)
        reader = _Reader(child, self)
        reader.reply.connect(self._on_reply)
        # Tagged with its reader: a death reported late must not fail a newer child's requests.
        reader.died.connect(lambda exc, r=reader: self._on_died(r, exc))
        reader.start()
        self._child, self._reader = child, reader

        # A window closed without shutdown() (an exception out of the event loop, sys.exit in a
        # slot, a script): the non-daemon child would keep Python from exiting. atexit hooks run
        # last-registered first, so this runs before multiprocessing joins its children.
        def end_child() -> None:
            child.end(wait_s=3)
            reader.stopping = True
            with contextlib.suppress(RuntimeError):  # its C++ object may be gone already
                reader.wait(2000)  # a QThread destroyed while running aborts the process
            child.release()

        self._exit_hook = end_child
        atexit.register(end_child)

    def _detach(self) -> tuple[Child | None, _Reader | None]:
        if self._exit_hook is not None:
            atexit.unregister(self._exit_hook)
            self._exit_hook = None
        child, reader = self._child, self._reader
        self._child = self._reader = None
        if reader is not None:
            reader.stopping = True
        return child, reader

    def _stop_child(self, wait_s: float = 5.0) -> None:
        child, reader = self._detach()
        if child is not None:
            child.end(wait_s)
        if reader is not None:
            reader.wait(3000)
        if child is not None:
            child.release()  # after its reader stopped polling the queue

    def _release_if_idle(self) -> None:
        """End an idle child without waiting for it (it is idle: it ends at once)."""
        if self._pending or not self.running:
            return
        child, reader = self._detach()
        if child is None or reader is None:
            return
        child.stop_soon()
        self._retired = [r for r in self._retired if not r.isFinished()]
        self._retired.append(reader)

        def reap() -> None:  # off the GUI thread: an idle child ends at once, a stuck one in 10 s
            child.end(10)
            reader.wait(3000)
            child.release()

        threading.Thread(target=reap, name=f"{self.name}-reaper", daemon=True).start()
        if self.release_note and self.idle_release_s is not None:
            self.released.emit(self.release_note.format(idle=idle_words(self.idle_release_s)))

    # -- replies ----------------------------------------------------------------------------------
    def _settle(self, rid: int) -> None:
        self._pending.discard(rid)
        if not self._pending:
            self.busy_changed.emit(False)
            self._arm_idle()

    def _arm_idle(self) -> None:
        if self.idle_release_s is not None and self.running:
            self._idle.start(int(self.idle_release_s * 1000))

    def _on_reply(self, reply: Reply) -> None:
        rid, payload = reply.rid, reply.payload
        if rid not in self._pending:
            return  # a dropped request (shutdown) or one a dead child's failure already settled
        if reply.kind == PROGRESS:
            done, total, message = payload
            self.progressed.emit(rid, done, total, message)
        elif reply.kind == ROWS:
            self.rows.emit(rid, payload)
        elif reply.kind == EVENT:
            self.event.emit(rid, payload)
        elif reply.kind == DONE:
            self._settle(rid)
            self.finished.emit(rid, payload)
        elif reply.kind == FAILED:
            self._settle(rid)
            failure = payload if isinstance(payload, Failure) else Failure(str(payload))
            if failure.internal:
                show_internal_error(failure.message, failure.details)
            self.failed.emit(rid, failure.message)

    def _on_died(self, reader: _Reader, exc: ChildDied) -> None:
        if reader is not self._reader:
            return  # an earlier child, already replaced
        self._fail_pending(str(exc))
        self._stop_child()

    def _fail_pending(self, message: str) -> None:
        pending = sorted(self._pending)
        self._pending.clear()
        for rid in pending:
            self.failed.emit(rid, message)
        if pending:
            self.busy_changed.emit(False)

    # -- ending -------------------------------------------------------------------------------------
    def stop_soon(self) -> None:
        """Ask the child to end (cancel everything, then the end-of-requests mark) without
        waiting: the window asks every child first and then waits for them together."""
        if self._child is not None:
            self._child.stop_soon()

    def shutdown(self, wait_s: float = 5.0) -> None:
        """End the child (closing the app); outstanding requests are dropped."""
        self._idle.stop()
        self._pending.clear()
        self._stop_child(wait_s)
        for reader in list(self._retired):
            reader.wait(1000)


class EngineClient(ProcessClient):
    """The engine child of the Evaluate and Predict tabs (``gender_desktop.ml.service``)."""

    def __init__(
        self,
        name: str = "engine",
        parent: QObject | None = None,
        idle_release_s: float | None = IDLE_RELEASE_S,
        release_note: str | None = "Model released after {idle} idle; it reloads when needed",
    ) -> None:
        super().__init__(name, parent, ENGINE, idle_release_s, release_note)
