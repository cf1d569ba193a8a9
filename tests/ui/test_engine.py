"""The engine child the Evaluate and Predict tabs talk to: it can start the decode worker pool
(it is not a daemon), a cancel counts even before the child picked the request up, and it
ends with the window."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import builders
import pytest

from gender_desktop.runs.folder import EVALUATION
from gender_desktop.ui.engine import EngineClient


@pytest.fixture
def engine(qtbot):
    client = EngineClient("test-engine")
    yield client
    pid = client.pid
    client.shutdown()
    assert pid is None or not alive(pid)


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the session's trained run: these tests write evaluations into it."""
    return Path(shutil.copytree(trained[1], tmp_path / "run"))


def wait_done(qtbot, engine: EngineClient, rid: int, timeout: int = 120_000) -> object:
    results: dict[int, object] = {}
    engine.finished.connect(lambda r, result: results.__setitem__(r, result))
    engine.failed.connect(lambda r, message: results.__setitem__(r, f"failed: {message}"))
    qtbot.waitUntil(lambda: rid in results, timeout=timeout)
    return results[rid]


def test_evaluating_a_new_dataset_decodes_it_with_worker_processes(
    engine, qtbot, run, tmp_path
) -> None:
    bigger = builders.celeba_official(tmp_path / "bigger", 300)  # >= 256: the process pool
    rid = engine.request("evaluate", run=str(run), data=str(bigger), split="test")
    result = wait_done(qtbot, engine, rid)
    assert isinstance(result, dict), result
    assert result["metrics"]["n"] > 0 and result["same_dataset_as_training"] is False


def test_a_cancel_before_the_child_starts_the_request_still_counts(engine, qtbot, trained) -> None:
    _data, run = trained
    before = (run / EVALUATION).stat().st_mtime_ns
    rid = engine.request("evaluate", run=str(run), split="test")
    engine.cancel()  # the child is still importing torch
    assert wait_done(qtbot, engine, rid) == {"cancelled": True}
    assert (run / EVALUATION).stat().st_mtime_ns == before
    later = engine.request("load", run=str(run))  # a cancel never reaches later requests
    assert wait_done(qtbot, engine, later)["backbone"] == "resnet18"


GUI_DIES_MID_REQUEST = """
import os, sys
from gender_desktop.procs import Child

if __name__ == "__main__":
    child = Child("gender_desktop.ml.service:Engine", "engine")
    print(child.pid, flush=True)
    child.send("predict", run=sys.argv[1], paths=[sys.argv[2]])
    while getattr(child.receive(60), "kind", None) != "rows":  # busy predicting a big folder
        pass
    os._exit(1)  # the GUI crashes: no goodbye, nobody reads the replies any more
"""

GUI_QUITS_WITHOUT_SHUTDOWN = """
import sys, time
from PySide6.QtCore import QCoreApplication
from gender_desktop.ui.engine import EngineClient

if __name__ == "__main__":
    app = QCoreApplication([])
    client = EngineClient("script")
    done = []
    client.finished.connect(lambda rid, result: done.append(result))
    client.request("load", run=sys.argv[1])
    print(client.pid, flush=True)
    end = time.monotonic() + 60
    while not done and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)
    # The script ends without shutdown() and without quitting an event loop (as after an
    # exception): Python must still exit, ending the engine child on the way.
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        not Path(f"/proc/{pid}/stat").exists() or " Z " not in Path(f"/proc/{pid}/stat").read_text()
    )


@pytest.mark.skipif(sys.platform == "win32", reason="os.kill(pid, 0) probes POSIX processes")
def test_a_busy_engine_ends_soon_after_the_gui_dies(run, tmp_path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    photo = builders.jpeg_bytes(1)
    for i in range(4000):
        (folder / f"{i:05d}.jpg").write_bytes(photo)
    script = tmp_path / "gui.py"
    script.write_text(GUI_DIES_MID_REQUEST)
    out = subprocess.run(
        [sys.executable, str(script), str(run), str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 20
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive(pid), "the engine child kept running after its GUI died"


def test_python_exits_when_the_window_skipped_shutdown(run, tmp_path) -> None:
    script = tmp_path / "gui.py"
    script.write_text(GUI_QUITS_WITHOUT_SHUTDOWN)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, str(script), str(run)], capture_output=True, text=True, timeout=90, env=env
    )
    assert out.returncode == 0, out.stderr
    assert not alive(int(out.stdout.split()[0]))
