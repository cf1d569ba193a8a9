"""Sweeps from the Train panel on the real main window: the dialog starts from the form, the
sweep runs in the training child one trial at a time with per-trial and overall progress, Stop
ends it mid-sweep, and the results window reads the study back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from forms import tiny_form

from gender_desktop.runs import meta
from gender_desktop.sweeps.events import SweepEnded, TrialStarted


@pytest.fixture
def sweep_window(make_window, qtbot):
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    tiny_form(window.training.form, scope="head", epochs=1, flip=False)
    return window


def _start(panel, qtbot, lrs: str):
    dialog = panel.open_sweep_dialog()
    qtbot.waitUntil(lambda: dialog.speeds is not None, timeout=10_000)
    assert dialog.base.model.scope == "head" and dialog.base.epochs == panel.form.epochs.value()
    dialog.fields["lr"].setText(lrs)
    return dialog


def test_a_two_trial_sweep_from_the_train_panel_runs_to_the_end(sweep_window, qtbot):
    panel = sweep_window.training
    dialog = _start(panel, qtbot, "1e-3,1e-4")
    assert dialog.run_count() == 2 and "2 runs" in dialog.count_label.text()
    started: list[TrialStarted] = []
    with qtbot.waitSignal(panel.run_finished, timeout=240_000) as finished:
        dialog.start_button.click()
        assert not panel.sweep_button.isEnabled() and panel.stop_button.isEnabled()
        panel.worker.sweep.connect(
            lambda e: started.append(e) if isinstance(e, TrialStarted) else None
        )
    summary = finished.args[0]
    assert [t["state"] for t in summary["trials"]] == ["finished", "finished"]
    assert [e.index for e in started] == [1, 2] and all(e.total == 2 for e in started)
    runs = [Path(t["run_dir"]) for t in summary["trials"]]
    for run, trial in zip(runs, summary["trials"], strict=True):
        tag = meta.read_meta(run).sweep
        assert tag["study"] == summary["study"] and tag["trial"] == trial["number"]
        assert meta.read_status(run).state == "finished" and (run / "metrics.csv").exists()
    assert {t["params"]["lr"] for t in summary["trials"]} == {1e-3, 1e-4}
    qtbot.waitUntil(lambda: panel.sweep_button.isEnabled())
    bar = panel.sweep_progress
    assert not bar.isHidden() and bar.value() == 2 and "finished: 2 finished" in bar.format()
    x, _y = panel.curves["val_loss"].getData()
    assert list(x) == [1]  # the curves show the last trial only
    assert "best on validation: trial" in panel.progress.format()
    # The results window reads the study back from the app's SQLite file.
    results = panel.open_sweep_results()
    qtbot.waitUntil(
        lambda: bool(results.view.summary) or "Could not" in results.status.text(), timeout=60_000
    )
    assert results.status.text() == ""
    assert results.view.proxy.rowCount() == 2
    # One action: the best trial (on validation) retrained on train + val, tested once.
    with qtbot.waitSignal(panel.run_finished, timeout=120_000) as retrained:
        results.view.retrain_button.click()
    final = retrained.args[0]
    assert final["state"] == "finished" and final["test"]["n"] == summary["trials"][0]["test"]["n"]
    config = json.loads((Path(final["run_dir"]) / "config.json").read_text())["settings"]
    assert config["fit_on"] == "train+val" and config["lr"] == summary["best"]["params"]["lr"]
    assert meta.read_meta(Path(final["run_dir"])).sweep["final"] is True
    results.close()


def test_stop_mid_sweep_keeps_the_running_trial_stopped_and_starts_no_more(sweep_window, qtbot):
    panel = sweep_window.training
    panel.form.epochs.setValue(30)
    dialog = _start(panel, qtbot, "1e-3,1e-4,1e-5")
    ended: list[SweepEnded] = []
    with qtbot.waitSignal(panel.run_finished, timeout=240_000) as finished:
        dialog.start_button.click()
        worker = panel.worker
        worker.sweep.connect(lambda e: ended.append(e) if isinstance(e, SweepEnded) else None)
        with qtbot.waitSignal(worker.epoch, timeout=120_000):
            pass
        panel.stop_button.click()
    summary = finished.args[0]
    assert summary["stopped"] and ended and ended[0].stopped
    ran = [t for t in summary["trials"] if t.get("run_dir")]
    assert len(ran) == 1
    run = Path(ran[0]["run_dir"])
    assert meta.read_status(run).state == "stopped" and (run / "last.pt").exists()
    assert "stopped (run it again to continue)" in panel.sweep_progress.format()
    qtbot.waitUntil(lambda: panel.sweep_button.isEnabled())
