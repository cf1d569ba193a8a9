"""The GUI's half of the process layer with a real child: failures shown as the user should
see them (an internal one in a dialog whose details can be copied), a dead child named with
its exit code, an idle child released and restarted, and the last-resort exception hook."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QPushButton

from gender_desktop.errors import log_dir
from gender_desktop.ui.dialogs import InternalErrorDialog, install_excepthook
from gender_desktop.ui.engine import ProcessClient


@pytest.fixture
def toy(qtbot):
    client = ProcessClient("toy", service="procs_services:Toy", idle_release_s=None)
    yield client
    client.shutdown(wait_s=2)
    assert not client.running


def outcome(qtbot, client: ProcessClient, rid: int, timeout: int = 60_000) -> tuple[str, object]:
    """How request ``rid`` ended: ("finished", result) or ("failed", message)."""
    got = recorded(client)
    qtbot.waitUntil(lambda: rid in got, timeout=timeout)
    return got[rid]


def recorded(client: ProcessClient) -> dict[int, tuple[str, object]]:
    """Every request's end, recorded from now on (the client's own record, made once)."""
    got = getattr(client, "_test_outcomes", None)
    if got is None:
        got = client._test_outcomes = {}
        client.finished.connect(lambda r, result: got.setdefault(r, ("finished", result)))
        client.failed.connect(lambda r, message: got.setdefault(r, ("failed", message)))
    return got


def error_dialogs() -> list[InternalErrorDialog]:
    return [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, InternalErrorDialog) and w.isVisible()
    ]


@pytest.fixture
def no_dialogs_left():
    yield
    for dialog in error_dialogs():
        dialog.close()


def test_an_internal_error_in_the_child_opens_a_dialog_whose_details_can_be_copied(
    toy, qtbot, no_dialogs_left
) -> None:
    kind, message = outcome(qtbot, toy, toy.request("bug"))
    assert kind == "failed"
    assert str(message).startswith("internal error: RuntimeError: the toy service has a bug")
    qtbot.waitUntil(lambda: len(error_dialogs()) == 1)
    dialog = error_dialogs()[0]
    assert "internal error: RuntimeError: the toy service has a bug" in dialog.message.text()
    assert "details in " in dialog.message.text()
    dialog.copy_button.click()
    copied = QGuiApplication.clipboard().text()
    assert "Traceback (most recent call last)" in copied and "procs_services.py" in copied
    assert "RuntimeError: the toy service has a bug" in copied
    # The app keeps working: the same child answers the next request.
    assert outcome(qtbot, toy, toy.request("echo", n=1)) == ("finished", {"n": 1})


def test_a_user_error_is_its_message_and_opens_no_dialog(toy, qtbot, no_dialogs_left) -> None:
    assert outcome(qtbot, toy, toy.request("bad")) == (
        "failed",
        "toy.json: the toy setting is wrong",
    )
    qtbot.wait(200)
    assert error_dialogs() == []


def test_a_dead_child_fails_every_pending_request_by_name_and_the_next_one_restarts_it(
    toy, qtbot
) -> None:
    got = recorded(toy)
    first_pid = outcome(qtbot, toy, toy.request("pid"))[1]
    dying = toy.request("die", code=7, after=0.5)
    queued = toy.request("echo", never=True)  # waits behind it in the same child
    expected = "the toy process ended unexpectedly (exit code 7)"
    qtbot.waitUntil(lambda: dying in got and queued in got, timeout=60_000)
    assert got[dying] == got[queued] == ("failed", expected)
    assert not toy.busy
    kind, pid = outcome(qtbot, toy, toy.request("pid"))
    assert kind == "finished" and pid != first_pid


def test_an_idle_child_is_released_said_so_and_restarted_on_the_next_request(qtbot) -> None:
    client = ProcessClient(
        "toy", service="procs_services:Toy", idle_release_s=1, release_note="Released after {idle}"
    )
    try:
        first = outcome(qtbot, client, client.request("pid"))[1]
        with qtbot.waitSignal(client.released, timeout=10_000) as released:
            pass
        assert released.args == ["Released after 1 s"]
        assert not client.running and client.pid is None
        kind, second = outcome(qtbot, client, client.request("pid"))
        assert kind == "finished" and second != first
    finally:
        client.shutdown(wait_s=2)


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_shows_the_dialog_and_the_window_keeps_working(
    qtbot, no_dialogs_left
) -> None:
    restore = install_excepthook()
    try:
        button = QPushButton("Broken")
        qtbot.addWidget(button)
        clicks: list[int] = []

        def broken() -> None:
            clicks.append(1)
            raise RuntimeError("a slot with a bug")

        button.clicked.connect(broken)
        button.show()
        button.click()
        qtbot.waitUntil(lambda: len(error_dialogs()) == 1)
        dialog = error_dialogs()[0]
        assert (
            "internal error: RuntimeError: a slot with a bug; details in" in dialog.message.text()
        )
        logs = list(log_dir().glob("internal-error-*.log"))
        assert len(logs) == 1 and "a slot with a bug" in logs[0].read_text()
        dialog.copy_button.click()
        assert "in broken" in QGuiApplication.clipboard().text()
        # A second bug while the dialog is open adds to it rather than piling up dialogs.
        button.click()
        qtbot.waitUntil(lambda: "1 more internal error" in dialog.message.text())
        assert len(error_dialogs()) == 1
        QTimer.singleShot(0, dialog.close)
        qtbot.waitUntil(lambda: error_dialogs() == [])
        button.click()  # the app still runs its slots
        assert len(clicks) == 3
    finally:
        restore()


def test_a_background_task_with_a_bug_opens_the_dialog_and_reports_its_line(
    qtbot, no_dialogs_left
) -> None:
    from gender_desktop.ui.workers import Task

    def buggy(progress, cancel):
        raise KeyError("no such column")

    task = Task(buggy)
    with qtbot.waitSignal(task.failed, timeout=10_000) as failed:
        task.start()
    assert failed.args[0].startswith("internal error: KeyError: 'no such column'; details in")
    qtbot.waitUntil(lambda: len(error_dialogs()) == 1)
    assert task.internal_failure
    task.wait()
