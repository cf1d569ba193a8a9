"""The one child-process layer: a spawned child that answers typed requests.

Why children at all: the GUI must never import torch (seconds, holding the GIL) nor run model
code on its thread, and a CUDA crash must not take the window down. Training, evaluation,
prediction, Grad-CAM, export, k-fold scoring and the device probe all run as *requests* to a
child started here; a queue of trainings is just several ``train`` requests.

The protocol (plain picklable values over two ``multiprocessing`` queues):

- :class:`Request` ``(rid, kind, args)``; ``None`` ends the child's loop.
- :class:`Reply` ``(rid, kind, payload)``: ``progress`` (done, total, message), ``rows`` (a
  list of result dicts), ``event`` (a training event), then exactly one ``done`` (the result;
  ``{"cancelled": True}`` when cancelled) or ``failed`` (a :class:`~gender_desktop.errors.Failure`).
- Cancel is one shared integer: every request whose id is at or below it stops between batches
  (or does not start). A cancel sent before the child picked a request up still counts, and it
  never reaches a request made after it. Pause is one shared integer too: the id of the paused
  request, so pausing one training never pauses the next.
- Death: :meth:`Child.receive` raises :class:`ChildDied` (naming the child and its exit code)
  once the child is gone and its last replies are read; the caller fails what was pending.
- The child ends when its parent does, even after ``kill -9`` of the parent: a watcher thread
  sees the parent go, cancels the running request (so it cleans up after itself) and, if that
  takes longer than :data:`ORPHAN_GRACE_S`, ends the process outright.

The child side (:func:`serve`, :class:`Job`, :func:`watch_parent`) and the parent side
(:class:`Child`) are torch- and Qt-free: the GUI process, the CLI and the children import this
module. The GUI's signals are in ``gender_desktop.ui.engine``.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import itertools
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gender_desktop.errors import Cancelled, Failure, explain

CONTEXT = multiprocessing.get_context("spawn")  # the same on every OS; never fork a Qt process
PROGRESS_INTERVAL_S = 0.05
PARENT_POLL_S = 0.25
ORPHAN_GRACE_S = 5.0
EXIT_ORPHANED = 3
CANCEL_ALL = 1 << 62

PROGRESS, ROWS, EVENT, DONE, FAILED = "progress", "rows", "event", "done", "failed"


@dataclass(frozen=True)
class Request:
    rid: int
    kind: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    rid: int
    kind: str  # PROGRESS, ROWS, EVENT, DONE or FAILED
    payload: Any = None

    @property
    def final(self) -> bool:
        """The request's last reply: after it, the request is no longer pending."""
        return self.kind in (DONE, FAILED)


class ChildDied(RuntimeError):
    """The child process ended without being asked to (a crash, the OOM killer, a kill)."""

    def __init__(self, name: str, exitcode: int | None) -> None:
        self.name, self.exitcode = name, exitcode
        code = "unknown" if exitcode is None else str(exitcode)
        how = f", killed by signal {-exitcode}" if exitcode is not None and exitcode < 0 else ""
        super().__init__(f"the {name} process ended unexpectedly (exit code {code}{how})")

    def failure(self) -> Failure:
        return Failure(str(self))


# -- the child's side ------------------------------------------------------------------------------
class Flag:
    """``threading.Event``-like view the core checks (``is_set()``) for one request."""

    def __init__(self, test: Callable[[], bool]) -> None:
        self._test = test

    def is_set(self) -> bool:
        return self._test()


class Job:
    """What a service sees of the request it is handling: its id, kind and arguments, a
    throttled ``progress`` callback, ``send`` for intermediate replies, and the ``cancel`` and
    ``pause`` flags (both ``threading.Event``-like, as the core expects)."""

    def __init__(self, request: Request, send: Callable[[Reply], None], cancel: Flag, pause: Flag):
        self.rid, self.kind, self.args = request.rid, request.kind, request.args
        self._send = send
        self.cancel, self.pause = cancel, pause
        self._last_progress = 0.0

    def send(self, kind: str, payload: Any) -> None:
        self._send(Reply(self.rid, kind, payload))

    def progress(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.send(PROGRESS, (done, total, message))


class Service(Protocol):
    """What a child runs: ``handle(job)`` returns the request's result (or raises)."""

    def handle(self, job: Job) -> Any: ...


def die_with_parent_signal() -> None:
    """Linux: ask the kernel to SIGKILL this process when its parent ends (prctl
    PR_SET_PDEATHSIG), a second belt beside :func:`watch_parent`. Elsewhere nothing."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # 1 = PR_SET_PDEATHSIG


def watch_parent(
    parent_pid: int, on_gone: Callable[[], None] | None = None, grace_s: float = ORPHAN_GRACE_S
) -> threading.Thread:
    """Start a daemon thread that ends this process when ``parent_pid`` is gone.

    ``on_gone`` runs first (it cancels the running request so it removes its partial files);
    ``grace_s`` later the process ends with :data:`EXIT_ORPHANED` whatever it is doing: a
    thread stuck in a C call (decoding, a CUDA kernel) cannot keep an orphan alive. The check
    is the parent pid changing (the orphan is re-parented), which also holds after kill -9.
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid != parent_pid:
        parent = None  # a pool worker under a fork server: only the pid check applies

    def gone() -> bool:
        if os.getppid() != parent_pid:
            return True
        return parent is not None and not parent.is_alive()

    def watch() -> None:
        while not gone():
            time.sleep(PARENT_POLL_S)
        if on_gone is not None:
            with contextlib.suppress(Exception):
                on_gone()
        time.sleep(grace_s)
        os._exit(EXIT_ORPHANED)

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread


def load_service(spec: str) -> Service:
    """``"package.module:Class"`` -> an instance (the child imports it; spawn pickles names)."""
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)()


def serve(spec: str, name: str, requests: Any, replies: Any, cancelled: Any, paused: Any) -> None:
    """The child's main loop (module level, for ``spawn``): one request at a time, in order."""
    # Ctrl+C in a terminal reaches the whole process group; the parent decides how its child
    # ends (cancel, close, watch_parent), so the child ignores it instead of dying mid-write
    # with a KeyboardInterrupt traceback beside the parent's clean message.
    with contextlib.suppress(ValueError, OSError):  # not the main thread, or no SIGINT here
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    orphaned = threading.Event()
    parent = multiprocessing.parent_process()
    watch_parent(parent.pid if parent is not None and parent.pid else os.getppid(), orphaned.set)
    state = {"rid": 0}

    def is_cancelled() -> bool:
        return cancelled.value >= state["rid"] or orphaned.is_set()

    cancel = Flag(is_cancelled)
    pause = Flag(lambda: paused.value == state["rid"] and not is_cancelled())
    service: Service | None = None
    while not orphaned.is_set():
        try:
            message = requests.get(timeout=0.5)
        except queue.Empty:
            continue
        except (EOFError, OSError):  # the parent closed its end: nobody is listening
            break
        if message is None:
            return
        state["rid"] = message.rid
        if cancel.is_set():
            replies.put(Reply(message.rid, DONE, {"cancelled": True}))
            continue
        try:
            service = service or load_service(spec)
            result = service.handle(Job(message, replies.put, cancel, pause))
            replies.put(Reply(message.rid, DONE, result))
        except Cancelled:
            replies.put(Reply(message.rid, DONE, {"cancelled": True}))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a reply, never a crash
            replies.put(Reply(message.rid, FAILED, explain(exc, f"{name} request {message.kind}")))
    # The parent died without saying goodbye: nobody reads the replies any more, so exiting must
    # not wait for their feeder thread (blocked on a full pipe, it would wait forever).
    replies.cancel_join_thread()
    requests.cancel_join_thread()


# -- the parent's side ------------------------------------------------------------------------------
class Child:
    """One spawned child running the service ``spec`` (``"module:Class"``), as the parent sees
    it: ``send`` a request (its id comes back), ``receive`` replies, ``cancel`` / ``pause`` by
    id, ``stop_soon`` / ``close`` to end it. Thread-safe enough for one sender thread and one
    receiving thread, which is how the GUI and the blocking helper :func:`call` use it."""

    _ids = itertools.count(1)  # unique across children: a late reply never matches a new request

    def __init__(self, spec: str, name: str) -> None:
        self.spec, self.name = spec, name
        self.requests = CONTEXT.Queue()
        self.replies = CONTEXT.Queue()
        self.cancelled = CONTEXT.Value("q", 0, lock=False)
        self.paused = CONTEXT.Value("q", 0, lock=False)
        self.last_id = 0
        self.process = CONTEXT.Process(
            target=serve,
            args=(spec, name, self.requests, self.replies, self.cancelled, self.paused),
            name=f"gender-desktop-{name}",
        )
        # Not a daemon: daemons may not start the decode worker pool. It ends with close(), or
        # by itself when this process is gone.
        self.process.start()

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, kind: str, **args: Any) -> int:
        rid = next(self._ids)
        self.last_id = rid
        self.requests.put(Request(rid, kind, args))
        return rid

    def cancel(self, upto: int | None = None) -> None:
        """Cancel every request sent so far, or those up to ``upto`` (not one sent later)."""
        mark = self.last_id if upto is None else upto
        self.cancelled.value = max(self.cancelled.value, mark)

    def pause(self, rid: int, paused: bool = True) -> None:
        """Pause (or resume) request ``rid`` between two batches; no other request."""
        if paused:
            self.paused.value = rid
        elif self.paused.value == rid:
            self.paused.value = 0

    def receive(self, timeout: float) -> Reply | None:
        """The next reply, None after ``timeout``; :class:`ChildDied` once the child is gone
        and nothing is left to read. ``EOFError``/``OSError`` if this side was closed."""
        try:
            return self.replies.get(timeout=timeout)
        except queue.Empty:
            if self.process.is_alive():
                return None
        try:  # it may have replied just before it ended: the last replies are still in the pipe
            return self.replies.get(timeout=0.5)
        except queue.Empty:
            raise ChildDied(self.name, self.process.exitcode) from None

    def stop_soon(self) -> None:
        """Cancel everything and ask the child to end, without waiting."""
        self.cancelled.value = CANCEL_ALL
        self.paused.value = 0
        with contextlib.suppress(OSError, ValueError):
            self.requests.put(None)

    def end(self, wait_s: float = 5.0) -> None:
        """End the process: ask, wait up to ``wait_s``, then terminate. Never waits much
        longer. The queues stay open (a reader thread may still be on them): :meth:`release`."""
        if self.process.is_alive():
            self.stop_soon()
            self.process.join(wait_s)
            if self.process.is_alive():
                self.process.terminate()
                self.process.join(2)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(1)

    def release(self) -> None:
        """Close this side of the queues, once nothing reads them any more (a closed pipe's
        file descriptor may be reused at once: a reader still polling it would read another
        file's bytes)."""
        for q in (self.requests, self.replies):
            q.close()
            q.cancel_join_thread()

    def close(self, wait_s: float = 5.0) -> None:
        """:meth:`end`, then :meth:`release` (for a caller that reads in the same thread)."""
        self.end(wait_s)
        self.release()


def call(
    spec: str,
    name: str,
    kind: str,
    args: dict[str, Any] | None = None,
    timeout_s: float = 120.0,
    cancel: threading.Event | None = None,
) -> Any:
    """One request to a fresh child, blocking until its result (no GUI: the device probe, the
    CLI, tests). Raises :class:`Cancelled` when ``cancel`` is set (the child is ended at once,
    so closing the app never waits), ``TimeoutError`` after ``timeout_s``, a ``RuntimeError``
    with the failure's message if it failed, :class:`ChildDied` if the child died."""
    child = Child(spec, name)
    try:
        rid = child.send(kind, **(args or {}))
        deadline = time.monotonic() + timeout_s
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {name} process did not answer within {timeout_s:.0f} s")
            reply = child.receive(0.1)
            if reply is None or reply.rid != rid or not reply.final:
                continue
            if reply.kind == FAILED:
                raise RuntimeError(str(reply.payload))
            return reply.payload
    finally:
        child.close(wait_s=0 if cancel is not None and cancel.is_set() else 2)
