"""A damaged run folder picked in the Evaluate and Predict tabs: the window says which file is
wrong and how, and keeps working (the good run picked next is evaluated and predicts)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import builders
import pytest
from PySide6.QtCore import Qt

from gender_desktop.runs.folder import BEST, CONFIG, LAST, workspace

LOAD_TIMEOUT = 120_000  # the engine child imports torch: seconds, more on a loaded machine


def edit_hidden(run: Path, hidden) -> None:
    config = json.loads((run / CONFIG).read_text())
    config["settings"]["model"]["hidden"] = hidden
    (run / CONFIG).write_text(json.dumps(config))


def cut_in_half(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


@pytest.fixture
def runs(trained) -> dict[str, Path]:
    """The good run and three damaged copies of it in the workspace, as the pickers list them."""
    _data, good = trained
    made = {"good": workspace() / good.name}
    shutil.copytree(good, made["good"])
    for i, kind in enumerate(("bad config", "truncated", "other architecture"), 1):
        path = workspace() / f"20990101-00000{i}-{kind.replace(' ', '-')}"
        shutil.copytree(good, path)
        made[kind] = path
    edit_hidden(made["bad config"], "16")  # a string where a list of numbers belongs
    for name in (BEST, LAST):
        cut_in_half(made["truncated"] / name)
    edit_hidden(made["other architecture"], [32])  # the checkpoints have 16 hidden units
    return made


def titles(picker) -> list[str]:
    return [picker.combo.itemText(i) for i in range(picker.combo.count())]


def test_broken_runs_in_the_evaluate_tab(make_window, open_dataset_in, trained, runs, qtbot):
    data, _good = trained
    window = make_window()
    open_dataset_in(window, data)
    panel = window.evaluation
    panel.refresh_runs()
    window.tabs.setCurrentWidget(panel)
    listed = titles(panel.runs)
    assert (
        f"{runs['bad config'].name} · unusable: bad settings: model.hidden must be a list of "
        "whole numbers, not '16'"
    ) in listed
    assert f"{runs['truncated'].name} · unusable: best.pt is damaged or incomplete" in listed

    panel.runs.select(str(runs["bad config"]))
    assert panel.empty.isVisible()
    assert panel.empty.text().startswith(
        f"This run cannot be used: {runs['bad config'] / CONFIG}: bad settings: model.hidden"
    )
    assert not panel.evaluate_button.isEnabled() and not panel.export_button.isEnabled()

    panel.runs.select(str(runs["truncated"]))
    assert panel.empty.text() == (
        f"This run cannot be used: {runs['truncated'] / BEST}: is damaged or incomplete"
    )
    assert not panel.evaluate_button.isEnabled()

    # Only loading tells a checkpoint of another model: evaluating it says so.
    panel.runs.select(str(runs["other architecture"]))
    qtbot.waitUntil(lambda: panel.evaluation is not None, timeout=10_000)  # its saved one
    assert panel.evaluate_button.isEnabled()
    qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "failed" in panel.info.text(), timeout=LOAD_TIMEOUT)
    text = panel.info.text()
    assert f"{runs['other architecture'] / BEST}: does not fit the run's settings" in text
    assert "internal error" not in text
    assert panel.evaluate_button.isEnabled()

    # The window keeps working: the good run evaluates.
    panel.runs.select(str(runs["good"]))
    qtbot.waitUntil(lambda: panel.evaluation is not None, timeout=10_000)
    with qtbot.waitSignal(panel.evaluated, timeout=LOAD_TIMEOUT):
        qtbot.mouseClick(panel.evaluate_button, Qt.MouseButton.LeftButton)
    assert panel.cards.cards["accuracy"].value.text() == "100.00%"


def test_broken_runs_in_the_predict_tab(make_window, runs, qtbot, tmp_path):
    window = make_window()
    panel = window.predict
    window.tabs.setCurrentWidget(panel)
    expected = {
        "bad config": f"{runs['bad config'] / CONFIG}: bad settings: model.hidden must be a list",
        "truncated": f"{runs['truncated'] / BEST}: damaged or incomplete",
        "other architecture": f"{runs['other architecture'] / BEST}: does not fit the run's",
    }
    for kind, message in expected.items():
        with qtbot.waitSignal(panel.model_failed, timeout=LOAD_TIMEOUT) as failed:
            panel.runs.select(str(runs[kind]))
        assert failed.args[0].startswith(message), failed.args[0]
        assert panel.model_label.text().startswith("<span")
        assert "Cannot load this run: " + message in panel.model_label.text()
        assert "Traceback" not in failed.args[0] and "internal error" not in failed.args[0]

    # The window keeps working: the good run loads and predicts.
    with qtbot.waitSignal(panel.model_loaded, timeout=LOAD_TIMEOUT):
        panel.runs.select(str(runs["good"]))
    picture = tmp_path / "red.jpg"
    picture.write_bytes(builders.jpeg_bytes(0, (40, 50)))
    with qtbot.waitSignal(panel.job_finished, timeout=60_000):
        assert panel.predict_paths([str(picture)])
    [row] = panel.results.rows()
    assert row.prediction == "Male"
