"""`gender-desktop train`: the engine in a terminal, same run folder, JSON summary."""

from __future__ import annotations

import json
from pathlib import Path

from setups import TINY_TRAIN_ARGS as TINY

from gender_desktop.cli import build_parser, main


def test_train_json_summary_and_run_folder(colour_data: Path, tmp_path: Path, capsys) -> None:
    code = main(
        [
            "train",
            "--data",
            str(colour_data),
            "--epochs",
            "2",
            "--runs-dir",
            str(tmp_path),
            "--json",
            *TINY,
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert {"run_dir", "best_val_accuracy", "epochs", "train_seconds", "device"} <= set(out)
    assert out["epochs"] == 2 and out["device"] == "cpu"
    assert (Path(out["run_dir"]) / "best.pt").exists()


def test_resume_continues_a_run(colour_data: Path, tmp_path: Path, capsys) -> None:
    main(
        [
            "train",
            "--data",
            str(colour_data),
            "--epochs",
            "1",
            "--runs-dir",
            str(tmp_path),
            "--json",
            *TINY,
        ]
    )
    run_dir = json.loads(capsys.readouterr().out)["run_dir"]
    config = json.loads((Path(run_dir) / "config.json").read_text())
    config["settings"]["epochs"] = 2  # ask for one more epoch than was run
    (Path(run_dir) / "config.json").write_text(json.dumps(config))
    assert main(["train", "--resume", run_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 2


def test_help_documents_every_option() -> None:
    parser = build_parser()
    train = parser._subparsers._group_actions[0].choices["train"]  # type: ignore[union-attr]
    text = train.format_help()
    for action in train._actions:
        for flag in action.option_strings:
            assert flag in text
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help text"


def test_bad_settings_exit_2_with_the_reason(colour_data: Path, capsys) -> None:
    assert main(["train", "--data", str(colour_data), "--scope", "sideways", *TINY]) == 2
    assert "scope must be one of" in capsys.readouterr().err


def test_a_missing_dataset_exits_2_without_leaving_a_run_folder(tmp_path: Path, capsys) -> None:
    runs = tmp_path / "runs"
    code = main(["train", "--data", str(tmp_path / "nowhere"), "--runs-dir", str(runs)])
    assert code == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err
    assert not runs.exists() or not any(runs.iterdir())


def test_missing_imagenet_weights_exit_2_at_once_with_what_to_choose(
    colour_data: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """The default weights on a machine without them (and offline): refused before any
    decoding, with the same message as the app's, and no run folder left behind."""
    import time

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GENDER_DESKTOP_OFFLINE", "1")
    runs = tmp_path / "runs"
    started = time.perf_counter()
    args = ["train", "--data", str(colour_data), "--runs-dir", str(runs), "--backbone", "resnet18"]
    assert main(args) == 2
    assert time.perf_counter() - started < 10
    captured = capsys.readouterr()
    assert "ImageNet weights for ResNet18 (resnet18-f37072fd.pth, 44.7 MB)" in captured.err
    assert "random initialisation" in captured.err and "local weights file" in captured.err
    assert "Decoding" not in captured.err + captured.out
    assert not runs.exists() or not any(runs.iterdir())


def test_the_progress_line_says_which_epoch_of_how_many_and_the_runs_time_left() -> None:
    from gender_desktop.cli.train import TrainProgress
    from gender_desktop.ml.events import BatchEnd

    shown: list[str] = []
    progress = TrainProgress(quiet=False)
    progress.line.show = lambda text, **kw: shown.append(text)
    progress(BatchEnd(3, 5, 10, 0.5, 1200.0, 4.0, epochs=10, run_eta_seconds=289.0))
    assert shown[0].startswith("ep 3/10 [") and "5/10" in shown[0]
    assert shown[0].endswith("1,200 img/s · 4 min 49 s left")
