"""Sweeps run for real: every trial an ordinary run folder, failures marked and passed over,
stop and resume without repeating a trial, the pruner ending a clearly worse trial."""

from __future__ import annotations

from pathlib import Path

import optuna
from setups import head_config, tiny_config

from gender_desktop.ml.config import ModelConfig
from gender_desktop.ml.events import Control, EpochEnd
from gender_desktop.ml.inputs import SharedInputs
from gender_desktop.runs.folder import RunFolder
from gender_desktop.runs.meta import read_meta, read_status
from gender_desktop.sweeps.events import SweepEnded, SweepStarted, TrialEnded, TrialStarted
from gender_desktop.sweeps.results import TEST_NOTE, importance, trials_table
from gender_desktop.sweeps.runner import retrain_best, run_sweep
from gender_desktop.sweeps.space import parse_space
from gender_desktop.sweeps.spec import SweepSpec
from gender_desktop.sweeps.storage import open_storage


def _study(spec: SweepSpec) -> optuna.Study:
    return optuna.load_study(
        study_name=spec.study_name(), storage=open_storage(spec.storage).optuna
    )


def test_a_head_only_2x2_grid_leaves_four_finished_runs_from_one_feature_pass(
    colour_data: Path, tmp_path: Path
) -> None:
    spec = SweepSpec(head_config(colour_data), parse_space(["lr=1e-3,1e-2", "batch=16,32"]))
    shared, events = SharedInputs(), []
    summary = run_sweep(spec, tmp_path / "runs", events.append, shared=shared)

    assert shared.feature_passes == 1  # the backbone ran once for the four trials
    assert summary.counts == {"finished": 4} and not summary.stopped
    folders = sorted((tmp_path / "runs").iterdir())
    assert len(folders) == 4
    seen = set()
    for folder in folders:
        run = RunFolder(folder)
        assert read_status(folder).state == "finished"
        assert len(run.read_metrics()) == 2  # both epochs' metrics
        sweep = read_meta(folder).sweep
        assert sweep["study"] == spec.study_name() and sweep["storage"].endswith("sweeps.db")
        config = run.train_config()
        seen.add((config.lr, config.batch_size))
        # the runs table's title says what the trial varies
        title = read_meta(folder).title
        assert title == f"lr={config.lr:g} batch={config.batch_size} · trial {sweep['trial']}"
    assert seen == {(1e-3, 16), (1e-3, 32), (1e-2, 16), (1e-2, 32)}
    # the summary: best first, chosen on validation, test numbers kept but marked
    values = [r.value for r in summary.trials]
    assert values == sorted(values) and summary.best == summary.trials[0]
    assert summary.best.test is not None and summary.note == TEST_NOTE
    assert {r.run_dir for r in summary.trials} == {str(f) for f in folders}
    # the events the GUI shows: one start and one end per trial, between the sweep's own
    kinds = [
        type(e) for e in events if type(e) in (SweepStarted, TrialStarted, TrialEnded, SweepEnded)
    ]
    assert kinds == [SweepStarted] + [TrialStarted, TrialEnded] * 4 + [SweepEnded]
    ends = [e for e in events if isinstance(e, TrialEnded)]
    assert [(e.index, e.total) for e in ends] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert set(importance(_study(spec))) == {"lr", "batch"}

    # the same sweep again has nothing left to do
    again = run_sweep(spec, tmp_path / "runs")
    assert again.counts == {"finished": 4} and len(list((tmp_path / "runs").iterdir())) == 4

    # retraining the best on train + val: one more run, tagged as the sweep's final model
    final = retrain_best(spec, tmp_path / "final")
    assert final["state"] == "finished" and final["test"]["n"] > 0
    final_dir = Path(final["run_dir"])
    assert RunFolder(final_dir).train_config().fit_on == "train+val"
    tagged = read_meta(final_dir)
    assert tagged.sweep["final"] is True and tagged.sweep["trial"] == summary.best.number
    assert run_sweep(spec, tmp_path / "runs").final_run == str(final_dir)


def test_failed_trials_are_marked_and_the_sweep_finishes_the_others(
    colour_data: Path, tmp_path: Path
) -> None:
    # levi_hassner at 32 px is refused by the settings; a batch of one cannot train
    # resnet18's BatchNorm layers at 32 px (a 1x1 feature map): two ways to fail.
    base = tiny_config(
        colour_data,
        model=ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="last_block"),
        epochs=1,
    )
    spec = SweepSpec(base, parse_space(["backbone=levi_hassner,resnet18", "batch=1,16"]))
    summary = run_sweep(spec, tmp_path / "runs")

    by_params = {(r.params["backbone"], r.params["batch"]): r for r in summary.trials}
    assert by_params["resnet18", 16].state == "finished"
    for key in (("levi_hassner", 1), ("levi_hassner", 16)):
        assert by_params[key].state == "failed"
        assert "input size must be between 63" in by_params[key].message
    batch_one = by_params["resnet18", 1]
    assert batch_one.state == "failed" and "batch size of 2 or more" in batch_one.message
    # the failed run saved no epoch, so it left no folder; the finished one is there
    assert [read_status(f).state for f in (tmp_path / "runs").iterdir()] == ["finished"]
    assert summary.best.number == by_params["resnet18", 16].number


def test_stop_keeps_finished_runs_marks_the_running_one_and_a_rerun_finishes_the_grid(
    colour_data: Path, tmp_path: Path
) -> None:
    spec = SweepSpec(head_config(colour_data), parse_space(["lr=1e-3,3e-3,1e-2"]))
    control = Control()
    started: list[int] = []

    def stop_in_the_second_trial(event: object) -> None:
        if isinstance(event, TrialStarted):
            started.append(event.number)
        if isinstance(event, EpochEnd) and len(started) == 2:
            control.stop.set()  # after its first epoch: the user presses Stop

    first = run_sweep(spec, tmp_path / "runs", stop_in_the_second_trial, control)
    assert first.stopped
    # the stopped trial's values wait to run again, with the grid's last point
    states = sorted((r.params["lr"], r.state) for r in first.trials)
    assert states == [
        (1e-3, "finished"),
        (3e-3, "stopped"),
        (3e-3, "waiting"),
        (1e-2, "waiting"),
    ]
    done = next(r for r in first.trials if r.state == "finished")
    stopped = next(r for r in first.trials if r.state == "stopped")
    assert read_status(Path(done.run_dir)).state == "finished"
    assert read_status(Path(stopped.run_dir)).state == "stopped"
    assert len(RunFolder(Path(stopped.run_dir)).read_metrics()) == 1
    kept = (Path(done.run_dir) / "metrics.csv").read_bytes()

    second = run_sweep(spec, tmp_path / "runs")
    assert not second.stopped
    finished = [r for r in second.trials if r.state == "finished"]
    assert sorted(r.params["lr"] for r in finished) == [1e-3, 3e-3, 1e-2]  # none twice
    # the stopped run was resumed in its own folder; the finished one was not touched
    resumed = next(r for r in finished if r.params["lr"] == 3e-3)
    assert resumed.run_dir == stopped.run_dir
    assert read_status(Path(stopped.run_dir)).state == "finished"
    assert len(RunFolder(Path(stopped.run_dir)).read_metrics()) == 2
    assert (Path(done.run_dir) / "metrics.csv").read_bytes() == kept
    assert len(list((tmp_path / "runs").iterdir())) == 3


def test_the_median_pruner_ends_a_clearly_worse_trial(colour_data: Path, tmp_path: Path) -> None:
    # two good learning rates first; 1e-7 barely moves, so after its first epoch its val loss
    # is above the median of the others' first epochs and the pruner ends it
    spec = SweepSpec(
        head_config(colour_data, epochs=3),
        parse_space(["lr=3e-2,1e-2,1e-7"]),
        pruner="median",
    )
    summary = run_sweep(spec, tmp_path / "runs")
    states = {r.params["lr"]: r.state for r in summary.trials}
    assert states == {3e-2: "finished", 1e-2: "finished", 1e-7: "pruned"}
    pruned = next(r for r in summary.trials if r.state == "pruned")
    assert read_status(Path(pruned.run_dir)).state == "pruned"
    assert len(RunFolder(Path(pruned.run_dir)).read_metrics()) == 1  # ended after epoch 1
    assert pruned.value is not None  # its last reported val loss
    rows = trials_table(_study(spec))
    assert [r.state for r in rows] == ["finished", "finished", "pruned"]


def test_a_random_sweep_draws_its_trials_from_the_ranges_and_stops_at_its_count(
    colour_data: Path, tmp_path: Path
) -> None:
    spec = SweepSpec(
        head_config(colour_data, epochs=1),
        parse_space(["lr=1e-4:1e-2:log", "batch=8,16"]),
        sampler="random",
        trials=2,
        pruner="hyperband",
        seed=3,
    )
    summary = run_sweep(spec, tmp_path / "runs")
    assert summary.counts == {"finished": 2}
    for r in summary.trials:
        assert 1e-4 <= r.params["lr"] <= 1e-2 and r.params["batch"] in (8, 16)
        assert RunFolder(Path(r.run_dir)).train_config().lr == r.params["lr"]
    assert run_sweep(spec, tmp_path / "runs").counts == {"finished": 2}  # its count is reached
