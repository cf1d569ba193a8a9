"""The Evaluate tab's controller without its widgets: a real run's saved evaluation, the gallery
lists it derives, and the engine jobs (evaluate, cancel, export, Grad-CAM) with a real child,
told apart by their signals only."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from gender_desktop.data.dataset import open_dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ml.evaluation_views import slice_key
from gender_desktop.runs.folder import EVALUATION
from gender_desktop.ui.evaluation.session import EvaluationSession


def record(session: EvaluationSession) -> dict[str, list]:
    seen: dict[str, list] = {
        name: []
        for name in (
            "emptied",
            "loaded",
            "scored",
            "gallery",
            "busy",
            "started",
            "progress",
            "failed",
            "written",
            "export",
            "exported",
            "cam",
        )
    }
    session.emptied.connect(seen["emptied"].append)
    session.loaded.connect(seen["loaded"].append)
    session.scored.connect(seen["scored"].append)
    session.gallery_changed.connect(seen["gallery"].append)
    session.busy_changed.connect(seen["busy"].append)
    session.job_started.connect(seen["started"].append)
    session.job_progress.connect(lambda d, t, m: seen["progress"].append((d, t, m)))
    session.job_failed.connect(seen["failed"].append)
    session.runs_written.connect(lambda: seen["written"].append(True))
    session.export_ended.connect(seen["export"].append)
    session.exported.connect(seen["exported"].append)
    session.cam_updated.connect(lambda: seen["cam"].append(True))
    return seen


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the session's trained run: these tests write evaluations into it."""
    return Path(shutil.copytree(trained[1], tmp_path / "run"))


@pytest.fixture
def session(qtbot):
    made = EvaluationSession()
    yield made
    made.shutdown()


def test_a_run_loads_and_the_gallery_lists_follow_cells_slices_and_the_threshold(
    session, trained, run, qtbot
) -> None:
    seen = record(session)
    dataset = open_dataset(trained[0])
    store = LabelStore(dataset, readonly=True)
    session.set_dataset(dataset, store)
    with qtbot.waitSignal(session.loaded, timeout=10_000):
        session.set_run(str(run))
    assert seen["emptied"] == ["Loading the saved evaluation…"]
    part = session.saved.part
    assert seen["scored"][-1].metrics["n"] == len(part)
    assert seen["scored"][-1].metrics["accuracy"] == 1.0
    # A cell: exactly the test split's Male images, as dataset rows of the open dataset.
    session.select("male_correct")
    items = seen["gallery"][-1]
    males = part["image_id"][part["label"] == "Male"].astype(str)
    assert sorted(items.rows.tolist()) == sorted(dataset.position(males.to_numpy()).tolist())
    assert items.total == len(males) and not items.elsewhere
    # A slice: its images, every one of them in the slice.
    name = "Eyeglasses"
    session.select(slice_key(name))
    items = seen["gallery"][-1]
    with_glasses = part["Eyeglasses"].astype(str).isin(["1", "True", "1.0"]).to_numpy()
    assert items.total == int(with_glasses.sum()) > 0
    expected = dataset.position(part["image_id"][with_glasses].astype(str).to_numpy())
    assert sorted(items.rows.tolist()) == sorted(expected.tolist())
    # A higher threshold: the Male images the model is less sure of move to the other cell.
    session.select("male_as_female")
    session.set_threshold(0.999)
    p = part["p_male"].to_numpy()
    missed = int(((part["label"] == "Male").to_numpy() & (p < 0.999)).sum())
    assert seen["gallery"][-1].total == missed
    assert seen["scored"][-1].metrics["confusion"]["fn"] == missed
    # The evaluated dataset closed: the lists say where the images are instead.
    session.set_dataset(None, None)
    assert seen["gallery"][-1].rows.size == 0
    assert seen["gallery"][-1].elsewhere == session.evaluation["dataset"]["name"]


def test_a_later_choice_of_run_wins_over_a_slower_read(session, run, tmp_path, qtbot) -> None:
    seen = record(session)
    bare = Path(shutil.copytree(run, tmp_path / "bare"))
    (bare / EVALUATION).unlink()
    session.set_run(str(run))  # its read is under way
    session.set_run(str(bare))
    qtbot.waitUntil(lambda: session.loader.settled, timeout=10_000)
    assert seen["loaded"] == []  # the first run's evaluation never reached the screen
    assert seen["emptied"][-1].startswith("This run has no evaluation yet")
    session.set_run("")
    assert seen["emptied"][-1].startswith("No trained run yet.")
    assert not session.usable


def test_evaluate_cancel_export_and_grad_cam_through_the_engine(
    session, trained, run, qtbot, tmp_path
) -> None:
    seen = record(session)
    dataset = open_dataset(trained[0])
    session.set_dataset(dataset, LabelStore(dataset, readonly=True))
    with qtbot.waitSignal(session.loaded, timeout=10_000):
        session.set_run(str(run))
    before = session.evaluation["evaluated_at"]

    # A cancelled evaluation leaves the results as they were.
    assert session.evaluate(None, "test") is not None
    assert session.evaluate(None, "val") is None  # one job at a time
    session.cancel()
    qtbot.waitUntil(lambda: not session.busy, timeout=120_000)
    assert seen["failed"] == ["Evaluation cancelled; the previous results are unchanged."]
    assert seen["busy"] == [True, False] and not seen["written"]

    # A finished one: progress on the way, the run folder read again, the new numbers shown.
    with qtbot.waitSignal(session.loaded, timeout=120_000) as shown:
        session.evaluate(str(trained[0]), "val")
    assert seen["started"][-1] == f"Evaluating {run.name} on the val split…"
    assert seen["progress"] and seen["written"] == [True]
    assert shown.args[0]["split"] == "val" and shown.args[0]["evaluated_at"] >= before
    assert shown.args[0]["label_edits"]["count"] == 0

    # Export: verified files, told through the session's own signals.
    out = tmp_path / "export"
    out.mkdir()
    with qtbot.waitSignal(session.exported, timeout=120_000) as exported:
        session.export(str(out))
    assert {Path(r["path"]).parent for r in exported.args[0]} == {out}
    assert seen["export"][0].startswith(f"Exporting {run.name}")
    assert seen["export"][-1].endswith("· verified")

    # Grad-CAM: asked for, then over the whole (non-square, 12 x 14) picture.
    image_id = str(dataset.table["image_id"].iat[int(np.flatnonzero(session.part_rows >= 0)[0])])
    assert session.cam(image_id) is None
    qtbot.waitUntil(lambda: bool(seen["cam"]), timeout=60_000)
    picture, _stands_out = session.cam(image_id)
    assert picture.shape == (14, 12, 3)
