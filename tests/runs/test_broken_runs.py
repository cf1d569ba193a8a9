"""A run folder from elsewhere may be damaged or crafted: every entry point that reads one
(loading its model for evaluate/predict, export, resuming it, starting from it) says which file
is wrong and how, and nothing allocates what a crafted config.json asks for."""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import builders
import pytest
import torch
from setups import tiny_config, train_in_own_home

from gender_desktop.errors import UserError
from gender_desktop.ml.export import export_run
from gender_desktop.ml.runmodel import RunUnusable, load_run_model
from gender_desktop.ml.trainer import Trainer, TrainingFailed
from gender_desktop.ml.weights import WeightsUnavailable
from gender_desktop.runs.catalog import run_info
from gender_desktop.runs.folder import BEST, CONFIG, LAST, RunFolder


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny run (one epoch, resnet18 at 32 px) and the dataset it trained on."""
    root = tmp_path_factory.mktemp("broken-runs")
    data = builders.celeba_official(root / "colours", 80)
    run, _summary = train_in_own_home(root, tiny_config(data, epochs=1))
    return run.path, data


def copy_of(good_run: tuple[Path, Path], tmp_path: Path) -> Path:
    target = tmp_path / "runs" / good_run[0].name
    shutil.copytree(good_run[0], target)
    return target


def edit_settings(run: Path, **changes) -> None:
    config = json.loads((run / CONFIG).read_text())
    for key, value in changes.items():
        place = config["settings"]
        *parents, last = key.split("__")
        for parent in parents:
            place = place[parent]
        place[last] = value
    (run / CONFIG).write_text(json.dumps(config))


class Evil:
    """A pickle that would run a command when loaded without weights_only."""

    def __reduce__(self):
        return (os.system, ("touch pwned",))


BAD_CONFIGS: dict[str, tuple[Callable[[Path], None], str]] = {
    "missing": (lambda run: (run / CONFIG).unlink(), "config.json is missing"),
    "empty": (lambda run: (run / CONFIG).write_text(""), "is empty"),
    "not JSON": (lambda run: (run / CONFIG).write_text("{settings: "), "is not valid JSON"),
    "a list": (lambda run: (run / CONFIG).write_text("[1, 2]"), "must hold a JSON object"),
    "settings a list": (
        lambda run: (run / CONFIG).write_text('{"settings": [1]}'),
        "settings must be a JSON object",
    ),
    "no settings": (lambda run: (run / CONFIG).write_text('{"dataset": {}}'), "has no settings"),
    "a number for a string": (
        lambda run: edit_settings(run, model__scope=5),
        "model.scope must be a string",
    ),
    "hidden as a string": (
        lambda run: edit_settings(run, model__hidden="16"),
        "model.hidden must be a list of whole numbers",
    ),
    "a hidden layer of 10^12 units": (
        lambda run: edit_settings(run, model__hidden=[10**12]),
        "hidden layer sizes must be between 1 and",
    ),
    "an input of 20,000 px": (
        lambda run: edit_settings(run, model__input_size=20_000),
        "input size must be between 32 and 1024",
    ),
    "a negative batch size": (
        lambda run: edit_settings(run, batch_size=-5),
        "batch size and epochs must be at least 1",
    ),
    "no data": (
        lambda run: edit_settings(run, data=None),
        "data must be a string",
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_a_bad_config_is_named_by_every_reader(good_run, tmp_path: Path, case: str) -> None:
    run = copy_of(good_run, tmp_path)
    damage, expected = BAD_CONFIGS[case]
    damage(run)
    for read in (
        lambda: load_run_model(run),
        lambda: export_run(run, ["torchscript"]),
        lambda: RunFolder(run).train_config(),
    ):
        with pytest.raises(RunUnusable) as caught:
            read()
        message = str(caught.value)
        assert expected in message
        assert str(run) in message  # the folder, or the file in it
    assert not (run / "export").exists()
    info = run_info(run)  # the pickers list it with the reason instead of crashing
    assert info is None or (info.problem and "unusable" in info.title())


def truncate(file: Path) -> None:
    data = file.read_bytes()
    file.write_bytes(data[: len(data) // 2])


BAD_CHECKPOINTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "cut in half": (truncate, "damaged or incomplete"),
    "zero bytes": (lambda file: file.write_bytes(b""), "is empty (0 bytes)"),
    "a malicious pickle": (
        lambda file: torch.save({"model": Evil()}, file),
        "not a gender-desktop checkpoint, or unsafe",
    ),
    "a raw pickle": (lambda file: file.write_bytes(pickle.dumps(Evil())), "damaged or incomplete"),
    "a list": (lambda file: torch.save([1, 2], file), "not a gender-desktop checkpoint"),
}


@pytest.mark.parametrize("case", list(BAD_CHECKPOINTS))
def test_a_bad_checkpoint_is_named_and_never_unpickled(
    good_run, tmp_path, monkeypatch, case
) -> None:
    run = copy_of(good_run, tmp_path)
    damage, expected = BAD_CHECKPOINTS[case]
    for name in (BEST, LAST):
        damage(run / name)
    monkeypatch.chdir(tmp_path)  # where the malicious pickle would leave its mark
    new_runs = tmp_path / "new-runs"
    start_from_it = tiny_config(good_run[1], weights=f"run:{run}")
    for read, error in (
        (lambda: load_run_model(run), RunUnusable),
        (lambda: export_run(run, ["torchscript"]), RunUnusable),
        (lambda: Trainer(start_from_it, RunFolder.create("x", new_runs)).run(), WeightsUnavailable),
    ):
        with pytest.raises(error) as caught:
            read()
        message = str(caught.value)
        assert expected in message and str(run / BEST) in message
        assert "weights_only" not in message
    assert not (tmp_path / "pwned").exists()
    assert not new_runs.exists() or not any(new_runs.iterdir())


def test_a_checkpoint_of_another_architecture_is_named(good_run, tmp_path) -> None:
    run = copy_of(good_run, tmp_path)
    edit_settings(run, model__hidden=[32])  # the checkpoint's head has 16 units
    with pytest.raises(RunUnusable) as caught:
        load_run_model(run)
    message = str(caught.value)
    assert message.startswith(f"{run / BEST}: does not fit the run's settings in config.json")
    assert "hidden 32" in message and "head.0.weight is 16×512 in the file but 32×512" in message
    with pytest.raises(TrainingFailed, match="does not fit the run's settings"):
        Trainer(RunFolder(run).train_config(), RunFolder(run)).run(resume=True)
    assert (run / LAST).exists()  # a refused resume keeps every file


@pytest.mark.parametrize("case", ["cut in half", "a malicious pickle"])
def test_resuming_a_bad_checkpoint_says_which_file(good_run, tmp_path, case) -> None:
    run = copy_of(good_run, tmp_path)
    BAD_CHECKPOINTS[case][0](run / LAST)
    folder = RunFolder(run)
    with pytest.raises(TrainingFailed) as caught:
        Trainer(folder.train_config(), folder).run(resume=True)
    assert str(run / LAST) in str(caught.value)
    assert BAD_CHECKPOINTS[case][1] in str(caught.value)
    assert "weights_only" not in str(caught.value)
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in good_run[0].iterdir())


def test_a_checkpoint_without_training_state_cannot_be_resumed(good_run, tmp_path) -> None:
    run = copy_of(good_run, tmp_path)
    state = torch.load(run / LAST, weights_only=True)
    torch.save({"model": state["model"], "epoch": "one"}, run / LAST)
    folder = RunFolder(run)
    with pytest.raises(TrainingFailed, match="not a resumable checkpoint"):
        Trainer(folder.train_config(), folder).run(resume=True)


def test_local_weights_that_are_unsafe_or_damaged_are_refused(good_run, tmp_path) -> None:
    from gender_desktop.ml import weights

    for damage, expected in (
        (lambda f: torch.save({"conv1.weight": Evil()}, f), "unsafe"),
        (lambda f: (torch.save({"x": torch.zeros(2)}, f), truncate(f)), "damaged or incomplete"),
    ):
        file = tmp_path / "w.pth"
        damage(file)
        named = tmp_path / f"resnet18-{weights.sha256_of(file)[:8]}.pth"  # its hash checks out
        file.rename(named)
        config = tiny_config(good_run[1], weights=f"file:{named}")
        runs = tmp_path / "runs-file"
        with pytest.raises(WeightsUnavailable) as caught:
            Trainer(config, RunFolder.create("w", runs)).run()
        assert str(named) in str(caught.value) and expected in str(caught.value)
        assert "weights_only" not in str(caught.value)
        assert not runs.exists() or not any(runs.iterdir())  # no run folder was left
        named.unlink()


def test_the_catalog_lists_a_damaged_run_with_its_problem(good_run, tmp_path) -> None:
    run = copy_of(good_run, tmp_path)
    truncate(run / BEST)
    info = run_info(run)
    assert info is not None and info.has_model
    assert info.title() == f"{run.name} · unusable: best.pt is damaged or incomplete"
    assert info.problem.startswith(str(run / BEST))
    assert isinstance(RunUnusable("x"), UserError)


@pytest.mark.parametrize(
    ("name", "content"),
    [("evaluation.json", "{not json"), ("evaluation.json", "[]"), ("predictions.csv", '"a\n')],
)
def test_a_damaged_saved_evaluation_is_named(good_run, tmp_path, name, content) -> None:
    from gender_desktop.ml.results import load_evaluation

    run = copy_of(good_run, tmp_path)
    (run / "evaluation.json").write_text('{"split": "test", "metrics": {"accuracy": 1.0}}')
    (run / "predictions.csv").write_text(
        "image_id,split,label,p_male,prediction\n1,test,Male,0.9,Male\n"
    )
    (run / name).write_text(content)
    with pytest.raises(RunUnusable) as caught:
        load_evaluation(RunFolder(run))
    assert str(caught.value).startswith(f"{run / name}: damaged")
