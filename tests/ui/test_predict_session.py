"""The Predict tab's controller without a widget: a real engine child with a real tiny run
(conftest's ``trained``: red images male, blue female), real files, a real label store."""

from __future__ import annotations

import shutil
from pathlib import Path

import builders
import pytest

from gender_desktop.data.dataset import open_dataset
from gender_desktop.data.labels import LabelStore
from gender_desktop.ml.prediction_rows import NO_IMAGES, Show
from gender_desktop.runs.folder import BEST
from gender_desktop.ui.engine import EngineClient
from gender_desktop.ui.predict import session as session_module
from gender_desktop.ui.predict.model import HeatState
from gender_desktop.ui.predict.session import NO_RUN, PredictSession

LOAD_TIMEOUT = 90_000  # the child imports torch


@pytest.fixture
def engine(qtbot):
    client = EngineClient("predict-session", idle_release_s=None)
    yield client
    client.shutdown()


def record(session: PredictSession) -> dict[str, list]:
    seen: dict[str, list] = {
        k: [] for k in ("busy", "summary", "finished", "message", "stale", "model", "loaded")
    }
    session.busy_changed.connect(seen["busy"].append)
    session.summary.connect(seen["summary"].append)
    session.finished.connect(seen["finished"].append)
    session.message.connect(lambda text, error: seen["message"].append((text, error)))
    session.stale_changed.connect(seen["stale"].append)
    session.model_changed.connect(lambda text, tip, error: seen["model"].append((text, error)))
    session.model_loaded.connect(seen["loaded"].append)
    return seen


@pytest.fixture
def loaded(engine, trained, qtbot) -> tuple[PredictSession, dict[str, list]]:
    """A session with the run's model loaded (the tab was shown)."""
    session = PredictSession(engine)
    seen = record(session)
    session.set_run(str(trained[1]))
    assert seen["model"] == [("The model loads when this tab opens", False)]
    with qtbot.waitSignal(session.model_loaded, timeout=LOAD_TIMEOUT):
        session.set_active(True)
    assert seen["model"][-1] == ("Model: resnet18 · 32 px · epoch 3 · CPU", False)
    return session, seen


def photos(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {
        "red.jpg": builders.jpeg_bytes(0, (40, 50)),
        "blue.jpg": builders.jpeg_bytes(2, (40, 50)),
        "empty.jpg": b"",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return {name: folder / name for name in files}


def names(session: PredictSession) -> list[str]:
    return [Path(row.path).name for row in session.results.rows()]


def test_queued_jobs_run_in_order_each_summarised_in_one_stretch_of_busy(loaded, qtbot, tmp_path):
    session, seen = loaded
    files = photos(tmp_path / "a")
    more = tmp_path / "b"
    builders.write_images(more, ["x1.jpg", "x2.jpg"])
    (tmp_path / "nothing").mkdir()
    assert session.predict_paths([str(p) for p in files.values()])
    assert session.predict_paths([str(more)])  # queued behind the first
    assert session.predict_paths([str(tmp_path / "nothing")])
    assert session.is_busy()
    qtbot.waitUntil(lambda: len(seen["finished"]) == 3, timeout=60_000)
    assert seen["busy"] == [True, False]  # three jobs, one stretch of work
    assert names(session) == ["red.jpg", "blue.jpg", "empty.jpg", "x1.jpg", "x2.jpg"]
    first, second = seen["summary"]
    assert first[0][0].startswith("3 images in ") and first[1:] == [
        ("no face found in 2 images (predicted whole)", False),  # framing Auto, the default
        ("1 male · 1 female", False),
        ("1 error", True),
    ]
    assert second[0][0].startswith("2 images in ")
    assert seen["message"][-1] == (NO_IMAGES, True)  # the empty folder says why
    counts = session.results.counts
    assert (counts.rows, counts.male, counts.female, counts.errors) == (5, 3, 1, 1)  # x1, x2 red
    assert {(row.framing, row.tta) for row in session.results.rows()} == {("auto", "none")}

    # Cleared while a big folder runs: the cancelled job's late rows never come back.
    big = tmp_path / "big"
    builders.write_images(big, [f"{i:04d}.jpg" for i in range(400)])
    session.predict_paths([str(big)])
    qtbot.waitUntil(lambda: session.results.total() > 5, timeout=60_000)
    session.clear()
    assert session.results.total() == 0 and not session.is_busy()
    with qtbot.waitSignal(session.finished, timeout=60_000):
        session.predict_paths([str(files["red.jpg"])])
    assert names(session) == ["red.jpg"]


def test_a_changed_setting_predicts_the_results_again_or_says_which_it_used(
    loaded, qtbot, tmp_path, monkeypatch
):
    session, seen = loaded
    files = photos(tmp_path / "a")
    with qtbot.waitSignal(session.finished, timeout=60_000):
        session.predict_paths([str(files["red.jpg"]), str(files["blue.jpg"])])
    shown: list[str] = []
    session.progressed.connect(lambda done, total, text: shown.append(text))
    with qtbot.waitSignal(session.finished, timeout=60_000):
        session.set_framing("faces")  # two files: predicted again at once
    assert shown[0] == "Predicting 2 files again with Framing Faces only…"
    rows = session.results.rows()
    assert [(Path(r.path).name, r.framing, r.error) for r in rows] == [
        ("red.jpg", "faces", "no face found"),  # plain colour: OpenCV finds no face
        ("blue.jpg", "faces", "no face found"),
    ]
    assert seen["stale"][-1] == 0

    # A list longer than the automatic limit: the session says how many files used the old
    # settings and waits to be asked.
    monkeypatch.setattr(session_module, "AUTO_REPREDICT_FILES", 1)
    session.set_setting("off", "flip")
    assert seen["stale"][-1] == 2 and not session.is_busy()
    assert all(row.framing == "faces" for row in session.results.rows())
    with qtbot.waitSignal(session.finished, timeout=60_000):
        assert session.repredict() == 2
    assert [
        (Path(r.path).name, r.prediction, r.framing, r.framed, r.tta)
        for r in session.results.rows()
    ] == [
        ("red.jpg", "Male", "off", "as is", "flip"),
        ("blue.jpg", "Female", "off", "as is", "flip"),
    ]
    assert seen["stale"][-1] == 0


def test_a_re_predict_that_fails_keeps_the_old_results(loaded, trained, qtbot, tmp_path):
    session, seen = loaded
    files = photos(tmp_path / "a")
    with qtbot.waitSignal(session.finished, timeout=60_000):
        session.predict_paths([str(files["red.jpg"]), str(files["blue.jpg"])])
    broken = tmp_path / "broken-run"
    shutil.copytree(trained[1], broken)
    best = broken / BEST
    best.write_bytes(best.read_bytes()[: best.stat().st_size // 2])
    session.set_run(str(broken))
    with qtbot.waitSignal(session.failed, timeout=60_000) as failed:
        session.set_framing("off")
    assert "damaged or incomplete" in failed.args[0]
    assert [(Path(r.path).name, r.framing) for r in session.results.rows()] == [
        ("red.jpg", "auto"),
        ("blue.jpg", "auto"),
    ]
    assert seen["stale"][-1] == 2  # still said, with the button to try again


def test_grad_cam_follows_the_candidates_and_a_replaced_run_drops_the_old_answers(
    loaded, trained, qtbot, tmp_path
):
    session, seen = loaded
    files = photos(tmp_path / "a")
    with qtbot.waitSignal(session.finished, timeout=60_000):
        session.predict_paths([str(files["blue.jpg"]), str(files["red.jpg"])])
    session.candidates = lambda: [1, 0]  # the panel's selection, then what is on screen
    with qtbot.waitSignal(session.heat_ready, timeout=30_000) as first:
        session.set_grad_cam(True)
    assert first.args == [1]
    qtbot.waitUntil(lambda: session.results.heat_state(0) == HeatState.DONE, timeout=30_000)

    # Another run, picked and replaced before its model loaded: only the last one is loaded,
    # and the overlays of the first model are gone.
    other, third = tmp_path / "other-run", tmp_path / "third-run"
    shutil.copytree(trained[1], other)
    shutil.copytree(trained[1], third)
    loads = len(seen["loaded"])
    session.set_run(str(other))
    assert session.results.heat_state(0) == HeatState.NONE
    session.set_run(str(third))
    qtbot.waitUntil(lambda: session.loaded_run == str(third), timeout=LOAD_TIMEOUT)
    assert len(seen["loaded"]) == loads + 1
    assert "third-run" in seen["loaded"][-1]["run"]
    qtbot.waitUntil(lambda: session.results.heat_state(1) == HeatState.DONE, timeout=30_000)

    nothing = PredictSession(session.engine)  # no run: says what to do, starts nothing
    said = record(nothing)
    assert not nothing.predict_paths(["/tmp/face.jpg"])
    assert said["message"] == [(NO_RUN, True)] and not nothing.is_busy()


def test_label_edits_reach_the_results_and_name_the_dataset_rows(loaded, trained, qtbot):
    session, _seen = loaded
    data, _run = trained
    dataset = open_dataset(data)
    store = LabelStore(dataset)
    try:
        session.set_dataset(dataset, store)
        table = dataset.table
        test = table[table["split"] == "test"]
        female = str(test[test["Male"] == 0]["image_id"].iat[0])
        male = str(test[test["Male"] == 1]["image_id"].iat[0])
        images = data / "img_align_celeba"
        with qtbot.waitSignal(session.finished, timeout=60_000):
            session.predict_paths([str(images / female), str(images / male)])
        rows = session.results.rows()
        assert [(r.image_id, r.label, r.wrong) for r in rows] == [
            (female, "Female", False),
            (male, "Male", False),
        ]
        position = int(dataset.position([female])[0])
        assert session.dataset_rows(rows[:1]) == [position]
        store.set_male([position], 1)  # relabelled in the browser
        session.refresh_labels()
        assert (rows[0].label, rows[0].wrong) == ("Male", True)
        assert session.results.counts.wrong == 1
        session.results.set_view(Show.WRONG)
        assert session.results.rowCount() == 1
        store.undo()
        session.refresh_labels()
        assert session.results.rowCount() == 0 and session.results.counts.wrong == 0
        session.set_dataset(None)  # the dataset was closed: its labels are not the results'
        assert session.results.counts.labelled == 0 and session.dataset_rows(rows) == []
    finally:
        store.close(snapshot=False)
