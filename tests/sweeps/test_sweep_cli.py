"""`gender-desktop sweep`: bad specs refused with exit 2, Ctrl+C exits 130 with the way to
continue, and two worker processes on one storage share a study without running a trial twice."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from gender_desktop.cli import main
from gender_desktop.cli.sweep import RESUME_HINT
from gender_desktop.runs.meta import read_meta, read_status
from gender_desktop.sweeps.storage import open_storage

TINY = [
    "--backbone", "resnet18", "--input-size", "32", "--weights", "random", "--hidden", "16",
    "--optimizer", "adam", "--workers", "1", "--no-flip", "--epochs", "1",
]  # fmt: skip


def _command(data: Path, runs: Path, *extra: str) -> list[str]:
    return ["sweep", "--data", str(data), "--runs-dir", str(runs), *TINY, *extra]


@pytest.mark.parametrize(
    ("grid", "words"),
    [
        (["lr=1e-3,fast"], "'lr=1e-3,fast': 'fast' is not a number"),
        (["speed=1"], "'speed=1': unknown key 'speed'"),
        (["lr=1e-5:1e-2:log"], "a grid takes lists of values, not ranges"),
    ],
)
def test_a_bad_spec_exits_2_naming_it(
    colour_data: Path, tmp_path: Path, capsys, grid: list[str], words: str
) -> None:
    code = main(_command(colour_data, tmp_path / "runs", "--grid", *grid))
    err = capsys.readouterr().err
    assert code == 2 and words in err and err.startswith("gender-desktop sweep: error:")
    assert not (tmp_path / "runs").exists()


def _launch(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gender_desktop", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def test_ctrl_c_exits_130_with_the_resume_hint_and_the_same_command_finishes(
    colour_data: Path, tmp_path: Path, capsys
) -> None:
    args = _command(
        colour_data, tmp_path / "runs", "--scope", "head", "--epochs", "3",
        "--grid", "lr=1e-3,3e-3,1e-2",
    )  # fmt: skip
    proc = _launch(args)
    assert proc.stdout is not None
    for line in proc.stdout:  # Ctrl+C once the second trial has begun
        if line.startswith("trial 2/3"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"gender-desktop sweep: stopped; {RESUME_HINT}" in err and "Traceback" not in err
    assert re.search(r"#0\s+finished", out) and re.search(r"#\d\s+stopped", out)

    assert main([*args, "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    finished = [t for t in summary["trials"] if t["state"] == "finished"]
    assert sorted(t["params"]["lr"] for t in finished) == [1e-3, 3e-3, 1e-2]  # none twice
    assert summary["best"]["number"] in {t["number"] for t in finished}


@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_worker_processes_share_one_study_without_repeating_a_trial(
    colour_data: Path, tmp_path: Path, storage: str
) -> None:
    url = (
        f"journal:{tmp_path / 'sweep.log'}"
        if storage == "journal"
        else f"sqlite:///{tmp_path / 'sweep.db'}"
    )
    args = _command(
        colour_data, tmp_path / "runs", "--scope", "last_block", "--storage", url,
        "--study", "shared", "--grid", "lr=1e-3,1e-2", "batch=8,16",
    )  # fmt: skip
    workers = [_launch(args) for _ in range(2)]
    results = [w.communicate(timeout=240) for w in workers]
    for w, (_out, err) in zip(workers, results, strict=True):
        assert w.returncode == 0, err

    study = optuna.load_study(study_name="shared", storage=open_storage(url).optuna)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(complete) == 4 == len(study.trials)  # the grid, and nothing more
    assert len({tuple(sorted(t.params.items())) for t in complete}) == 4
    by_worker = {t.user_attrs["worker"].rsplit(":", 1)[1] for t in complete}
    assert by_worker == {str(w.pid) for w in workers}  # both took part
    for t in complete:  # each run folder names its worker and its trial
        folder = Path(t.user_attrs["run_dir"])
        assert str(read_status(folder).pid) == t.user_attrs["worker"].rsplit(":", 1)[1]
        assert read_meta(folder).sweep == {"study": "shared", "storage": url, "trial": t.number}


def test_sweep_help_lists_every_key(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    out = capsys.readouterr().out
    for key in ("lr", "batch", "scope", "hidden", "backbone", "epochs", "schedule"):
        assert f"\n  {key} " in out
