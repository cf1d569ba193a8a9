"""The one process layer (gender_desktop.procs) with real spawned children and no Qt: typed
replies, per-request cancel and pause, death with the exit code, and no orphan after kill -9."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gender_desktop.errors import Failure
from gender_desktop.fileio import pid_alive
from gender_desktop.procs import DONE, FAILED, PROGRESS, Child, ChildDied, Reply, call

TOY = "procs_services:Toy"


@pytest.fixture
def child():
    toy = Child(TOY, "toy")
    yield toy
    toy.close(wait_s=2)
    assert not toy.alive()


def replies_until_final(child: Child, rid: int, timeout: float = 60) -> list[Reply]:
    got: list[Reply] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = child.receive(0.2)
        if reply is not None and reply.rid == rid:
            got.append(reply)
            if reply.final:
                return got
    raise AssertionError(f"no final reply for request {rid}: {got}")


def test_a_cancel_before_the_child_picks_the_request_up_counts_and_never_reaches_later_ones(
    child,
) -> None:
    first = child.send("ticks", n=5, interval=0.01)
    child.cancel()  # the child is still starting: the request has not been picked up
    later = child.send("echo", x=1)
    assert replies_until_final(child, first)[-1] == Reply(first, DONE, {"cancelled": True})
    assert replies_until_final(child, later)[-1] == Reply(later, DONE, {"x": 1})


def test_pause_holds_one_request_between_two_steps_and_never_the_next(child) -> None:
    rid = child.send("ticks", n=10_000, interval=0.01)
    while child.receive(5).kind != PROGRESS:
        pass
    child.pause(rid)
    time.sleep(0.2)  # the step under way ends, then it waits
    while child.receive(0.3) is not None:  # drain the replies sent before the pause took hold
        pass
    assert child.receive(0.5) is None, "a paused request kept working"
    child.pause(rid, False)
    assert child.receive(5).kind == PROGRESS
    child.pause(rid)
    child.cancel(upto=rid)  # Stop while paused ends it
    assert replies_until_final(child, rid)[-1].payload == {"cancelled": True}
    nxt = child.send("ticks", n=3, interval=0.01)  # the pause mark named the old request only
    assert replies_until_final(child, nxt)[-1].payload == {"ticks": 3}


def test_failures_cross_as_failure_values(child) -> None:
    bug = replies_until_final(child, child.send("bug"))[-1]
    assert bug.kind == FAILED and isinstance(bug.payload, Failure) and bug.payload.internal
    assert bug.payload.message.startswith("internal error: RuntimeError: the toy service has")
    assert "Traceback" in bug.payload.details and "procs_services.py" in bug.payload.details
    bad = replies_until_final(child, child.send("bad"))[-1]
    assert (bad.kind, bad.payload.internal) == (FAILED, False)
    assert bad.payload.message == "toy.json: the toy setting is wrong"
    assert replies_until_final(child, child.send("echo", ok=True))[-1].payload == {"ok": True}


def test_a_dead_child_is_named_with_its_exit_code(child) -> None:
    child.send("die", code=7)
    with pytest.raises(ChildDied, match=r"the toy process ended unexpectedly \(exit code 7\)"):
        while True:
            child.receive(0.2)


def test_call_runs_one_request_in_a_fresh_child_and_ends_it() -> None:
    assert call(TOY, "toy", "echo", {"a": 2}) == {"a": 2}
    with pytest.raises(RuntimeError, match=r"toy\.json: the toy setting is wrong"):
        call(TOY, "toy", "bad")


PARENT_KILLED = """
import os, signal, sys
from gender_desktop.procs import Child

if __name__ == "__main__":
    child = Child("procs_services:Toy", "toy")
    child.send("ticks", n=100000, interval=0.01)
    while child.receive(60).kind != "progress":  # the child is busy
        pass
    print(child.pid, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # kill -9 of the parent: no atexit, no goodbye
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and pid probes are POSIX")
def test_a_child_ends_within_seconds_after_its_parent_is_killed(tmp_path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT_KILLED)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(pid), "the child kept running after its parent was killed"
