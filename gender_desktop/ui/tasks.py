"""One owner for a background job's lifecycle: start it, replace it, cancel it, drop what is stale.

Panels used to write this by hand three times over (a token per load, a request id per job,
``if rid != self._request: return`` in every slot). Two slots now do it, one per kind of worker:

- :class:`TaskSlot` runs plain functions in a :class:`~gender_desktop.ui.workers.Task` thread
  (reading a run's saved evaluation, writing a CSV);
- :class:`RequestSlot` sends requests to a :class:`~gender_desktop.ui.engine.ProcessClient`
  child (evaluate, export, Grad-CAM, predict).

Each holds at most one *current* job. Starting another makes the previous one stale: a thread
is asked to stop, and whatever a stale job reports afterwards (progress, result, failure) is
dropped, so a slow answer about the run chosen before can never overwrite the run chosen now.
The slot's own signals carry only the current job's news, without ids, and ``busy_changed``
says when the slot starts and stops working (for buttons and progress bars).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from gender_desktop.ui.engine import ProcessClient
from gender_desktop.ui.workers import Task, TaskFn


class TaskSlot(QObject):
    """At most one current thread task; a new ``start`` cancels and silences the previous one."""

    progressed = Signal(int, int, str)  # done, total, message
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._current: Task | None = None
        self._running: set[Task] = set()  # stale ones too, kept alive until their thread ends
        self._then: dict[Task, tuple[Callable | None, Callable | None]] = {}

    @property
    def busy(self) -> bool:
        return self._current is not None

    @property
    def task(self) -> Task | None:
        return self._current

    @property
    def settled(self) -> bool:
        """No thread of this slot is running, stale ones included (safe to close)."""
        return not self._running

    def start(
        self,
        fn: TaskFn,
        on_success: Callable[[Any], Any] | None = None,
        on_failure: Callable[[str], Any] | None = None,
    ) -> Task:
        """Run ``fn(progress, cancel)`` in a thread as the slot's current job.

        ``on_success`` / ``on_failure`` are this job's own continuations (called before the
        slot's signals, and only while the job is current), for a slot whose jobs each end
        their own way (the window's "export" slot writes labels one time, a report the next).

        The task's signals go to this slot's own methods, not to lambdas: Qt then knows the
        receiver and drops a queued signal whose receiver is gone, and ``sender()`` names
        the task it came from."""
        was_busy = self.busy
        if self._current is not None:
            self._current.cancel()
        task = Task(fn, self)
        self._current = task
        self._running.add(task)
        self._then[task] = (on_success, on_failure)
        task.progressed.connect(self._task_progressed)
        task.succeeded.connect(self._task_succeeded)
        task.failed.connect(self._task_failed)
        task.cancelled.connect(self._task_cancelled)
        task.finished.connect(self._task_finished)
        task.start()
        if not was_busy:
            self.busy_changed.emit(True)
        return task

    def cancel(self) -> None:
        """Ask the current job to stop; it reports ``cancelled`` when it has."""
        if self._current is not None:
            self._current.cancel()

    def drop(self) -> None:
        """Cancel the current job and forget it at once: nothing it reports afterwards (a
        result already on its way included) reaches the slot's listeners."""
        task = self._current
        if task is not None:
            task.cancel()
            self._current = None
            self.busy_changed.emit(False)

    def wait(self) -> None:
        """Block until every thread the slot started has ended (closing a window). Their
        jobs honour cancel within moments; a QThread left running when its window is
        destroyed would abort the app, so there is no timeout here."""
        for task in list(self._running):
            task.wait()

    def _current_sender(self) -> Task | None:
        task = self.sender()
        return task if task is not None and task is self._current else None

    @Slot(int, int, str)
    def _task_progressed(self, done: int, total: int, message: str) -> None:
        if self._current_sender() is not None:
            self.progressed.emit(done, total, message)

    @Slot(object)
    def _task_succeeded(self, result: object) -> None:
        task = self._current_sender()
        if task is not None:
            then = self._then.get(task, (None, None))[0]
            if then is not None:
                then(result)
            self.succeeded.emit(result)

    @Slot(str)
    def _task_failed(self, message: str) -> None:
        task = self._current_sender()
        if task is not None:
            then = self._then.get(task, (None, None))[1]
            if then is not None:
                then(message)
            self.failed.emit(message)

    @Slot()
    def _task_cancelled(self) -> None:
        if self._current_sender() is not None:
            self.cancelled.emit()

    @Slot()
    def _task_finished(self) -> None:
        task = self.sender()
        if not isinstance(task, Task):
            return
        self._running.discard(task)
        self._then.pop(task, None)
        task.deleteLater()
        if task is self._current:
            self._current = None
            self.busy_changed.emit(False)


class RequestSlot(QObject):
    """At most one current engine request of one kind; replies to replaced ones are dropped.

    A replaced request is not cancelled in the child unless ``cancel_replaced``: the process
    layer cancels by watermark (every request up to an id), which would also stop other slots'
    earlier requests on the same client. Several slots may share one client.
    """

    progressed = Signal(int, int, str)  # done, total, message
    rows = Signal(object)  # a list of row dicts (predictions stream in)
    event = Signal(object)  # a training event
    succeeded = Signal(object)  # the result; {"cancelled": True} when cancelled
    failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self, client: ProcessClient, parent: QObject | None = None, cancel_replaced: bool = False
    ) -> None:
        super().__init__(parent)
        self.client = client
        self.cancel_replaced = cancel_replaced
        self.rid: int | None = None
        self.kind = ""
        # bound methods, not lambdas: a slot that is gone is disconnected by Qt
        client.progressed.connect(self._on_progress)
        client.rows.connect(self._on_rows)
        client.event.connect(self._on_event)
        client.finished.connect(self._on_finished)
        client.failed.connect(self._on_failed)

    @property
    def busy(self) -> bool:
        return self.rid is not None

    def request(self, kind: str, **args: Any) -> int:
        """Send ``kind`` with ``args`` as the slot's current request; returns its id."""
        was_busy = self.busy
        if self.rid is not None and self.cancel_replaced:
            self.client.cancel(upto=self.rid)
        self.rid = self.client.request(kind, **args)
        self.kind = kind
        if not was_busy:
            self.busy_changed.emit(True)
        return self.rid

    def cancel(self) -> None:
        """Cancel the current request (and, by the process layer's watermark, earlier ones)."""
        if self.rid is not None:
            self.client.cancel(upto=self.rid)

    def drop(self) -> None:
        """Forget the current request without cancelling it: its replies will be ignored."""
        if self.rid is not None:
            self.rid = None
            self.busy_changed.emit(False)

    def _on_progress(self, rid: int, done: int, total: int, message: str) -> None:
        if rid == self.rid:
            self.progressed.emit(done, total, message)

    def _on_rows(self, rid: int, rows: object) -> None:
        if rid == self.rid:
            self.rows.emit(rows)

    def _on_event(self, rid: int, event: object) -> None:
        if rid == self.rid:
            self.event.emit(event)

    def _settle(self, rid: int) -> bool:
        if rid != self.rid:
            return False
        self.rid = None
        self.busy_changed.emit(False)
        return True

    def _on_finished(self, rid: int, result: object) -> None:
        if self._settle(rid):
            self.succeeded.emit(result)

    def _on_failed(self, rid: int, message: str) -> None:
        if self._settle(rid):
            self.failed.emit(message)
