"""The engine child the Evaluate and Predict tabs talk to: it can start the decode worker pool
(it is not a daemon), a cancel counts even before the child picked the request up, and it
ends with the window."""

from __future__ import annotations

import shutil
from pathlib import Path

import builders
import pytest

from gender_desktop.runs.folder import EVALUATION
from gender_desktop.ui.engine import EngineClient


@pytest.fixture
def engine(qtbot):
    client = EngineClient("test-engine")
    yield client
    child = client._child
    client.shutdown()
    assert child is None or not child.is_alive()


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
