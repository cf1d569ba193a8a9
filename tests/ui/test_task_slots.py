"""The one background-job lifecycle: a new job replaces the old one, and the old one's late
answers never reach the panel; cancel stops the current job; busy says when work is going on."""

from __future__ import annotations

import threading
import time

import pytest

from gender_desktop.ui.engine import ProcessClient
from gender_desktop.ui.tasks import RequestSlot, TaskSlot


def record(slot) -> dict[str, list]:
    seen: dict[str, list] = {"ok": [], "failed": [], "cancelled": [], "busy": [], "progress": []}
    slot.succeeded.connect(seen["ok"].append)
    slot.failed.connect(seen["failed"].append)
    slot.busy_changed.connect(seen["busy"].append)
    slot.progressed.connect(lambda d, t, m: seen["progress"].append((d, t, m)))
    if hasattr(slot, "cancelled"):
        slot.cancelled.connect(lambda: seen["cancelled"].append(True))
    return seen


def test_a_replaced_task_is_cancelled_and_its_late_result_is_dropped(qtbot):
    slot = TaskSlot()
    seen = record(slot)
    release = threading.Event()

    def slow(progress, cancel):
        release.wait(5)
        return "the run chosen before"

    first = slot.start(slow)
    slot.start(lambda progress, cancel: "the run chosen now")
    assert first.cancel_event.is_set()
    release.set()
    qtbot.waitUntil(lambda: slot.settled, timeout=10_000)
    assert seen["ok"] == ["the run chosen now"]
    assert seen["busy"] == [True, False]  # one stretch of work, not two
    slot.wait()


def test_a_dropped_task_is_silent_even_when_its_answer_is_already_on_its_way(qtbot):
    """The user chose "no run" after the run before was read: its numbers must not appear."""
    slot = TaskSlot()
    seen = record(slot)
    task = slot.start(lambda progress, cancel: "the run chosen before")
    task.wait()  # finished: its result is queued for the GUI thread
    slot.drop()
    assert not slot.busy
    qtbot.waitUntil(lambda: slot.settled, timeout=5_000)
    assert seen["ok"] == [] and seen["busy"] == [True, False]


def test_cancel_reports_cancelled_and_a_failure_reports_its_message(qtbot):
    slot = TaskSlot()
    seen = record(slot)

    def until_cancelled(progress, cancel):
        while not cancel.is_set():
            progress(1, 2, "reading")
            time.sleep(0.01)

    slot.start(until_cancelled)
    qtbot.waitUntil(lambda: bool(seen["progress"]), timeout=5_000)
    slot.cancel()
    qtbot.waitUntil(lambda: slot.settled, timeout=5_000)
    assert seen["cancelled"] == [True] and seen["ok"] == []

    def broken(progress, cancel):
        raise FileNotFoundError(2, "No such file or directory", "/runs/gone/evaluation.json")

    slot.start(broken)
    qtbot.waitUntil(lambda: slot.settled, timeout=5_000)
    assert "evaluation.json" in seen["failed"][0]


@pytest.fixture
def toy(qtbot):
    client = ProcessClient("toy", service="procs_services:Toy", idle_release_s=None)
    yield client
    client.shutdown(wait_s=2)


def test_two_slots_on_one_engine_each_hear_only_their_own_current_request(qtbot, toy):
    evaluations, cams = RequestSlot(toy), RequestSlot(toy)
    seen_eval, seen_cam = record(evaluations), record(cams)
    evaluations.request("echo", run="a")
    cams.request("echo", image="x.jpg")
    evaluations.request("echo", run="b")  # replaces "a": its answer is stale
    qtbot.waitUntil(lambda: not evaluations.busy and not cams.busy, timeout=60_000)
    assert seen_eval["ok"] == [{"run": "b"}]
    assert seen_cam["ok"] == [{"image": "x.jpg"}]
    assert seen_eval["busy"] == [True, False]


def test_cancelling_a_request_ends_it_as_cancelled_with_progress_on_the_way(qtbot, toy):
    slot = RequestSlot(toy)
    seen = record(slot)
    slot.request("ticks", n=10_000, interval=0.01)
    qtbot.waitUntil(lambda: bool(seen["progress"]), timeout=60_000)
    assert seen["progress"][0][2] == "tick"
    slot.cancel()
    qtbot.waitUntil(lambda: not slot.busy, timeout=30_000)
    assert seen["ok"] == [{"cancelled": True}] and not seen["failed"]


def test_a_dropped_request_is_forgotten_and_a_failure_is_reported(qtbot, toy):
    slot = RequestSlot(toy)
    seen = record(slot)
    slot.request("echo", n=1)
    slot.drop()
    assert not slot.busy
    slot.request("bad")
    qtbot.waitUntil(lambda: not slot.busy, timeout=60_000)
    assert seen["ok"] == []
    assert "the toy setting is wrong" in seen["failed"][0]
