"""`sweep --devices`: one worker process per GPU, each pinned with CUDA_VISIBLE_DEVICES. Run on
CPU with two fake GPUs (the one GPU count, ``ml.device.gpu_count``, monkeypatched): each worker
is a real process on the shared study, and what each trial records says which device it had."""

from __future__ import annotations

import json
import re
from pathlib import Path

import optuna
import pytest
from setups import head_config

from gender_desktop.cli import main
from gender_desktop.errors import UserError
from gender_desktop.ml import device, sweep_jobs
from gender_desktop.ml.events import Control, LogLine
from gender_desktop.ml.sweep_jobs import spec_to_dict
from gender_desktop.runs.meta import read_status
from gender_desktop.sweeps import study as studies
from gender_desktop.sweeps.devices import pinned_devices
from gender_desktop.sweeps.events import SweepEnded, SweepStarted, TrialStarted
from gender_desktop.sweeps.space import parse_space
from gender_desktop.sweeps.spec import SweepSpec
from gender_desktop.sweeps.storage import open_storage

TINY = [
    "--backbone", "resnet18", "--input-size", "32", "--weights", "random", "--hidden", "16",
    "--optimizer", "adam", "--workers", "1", "--no-flip", "--epochs", "1", "--scope", "head",
]  # fmt: skip


def _gpus(monkeypatch: pytest.MonkeyPatch, count: int, visible: str | None = None) -> None:
    monkeypatch.setattr(device, "gpu_count", lambda: count)
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)


def test_devices_name_the_parents_own_gpus_and_refuse_what_is_not_there(monkeypatch) -> None:
    _gpus(monkeypatch, 2, "3,5")  # the parent itself was given GPUs 3 and 5
    assert pinned_devices("all") == ["3", "5"]
    assert pinned_devices("1") == ["5"]
    _gpus(monkeypatch, 4)
    assert pinned_devices("all") == ["0", "1", "2", "3"] and pinned_devices("2,0") == ["2", "0"]
    for text, words in (
        ("4", "there is no GPU 4; this machine has 4 (0 to 3)"),
        ("1,1", "GPU 1 is given twice"),
        ("one", "'one' is not a GPU number (0 to 3)"),
    ):
        with pytest.raises(UserError, match=re.escape(words)):
            pinned_devices(text)


def test_the_gui_reads_the_gpu_count_from_the_probes_text_without_torch() -> None:
    assert device.gpus_in("CUDA · NVIDIA H200 ×8") == 8
    assert device.gpus_in("CUDA · NVIDIA GeForce RTX 4090") == 1
    assert device.gpus_in("CPU (2 threads)") == 0 and device.gpus_in("Apple MPS") == 0


def test_devices_all_without_a_gpu_exits_2_saying_so(
    colour_data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    _gpus(monkeypatch, 0)
    args = ["sweep", "--data", str(colour_data), "--runs-dir", str(tmp_path / "runs"), *TINY]
    code = main([*args, "--grid", "lr=1e-3,1e-2", "--devices", "all"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--devices all: no CUDA GPU is visible on this machine" in err
    assert "run the sweep without --devices" in err and not (tmp_path / "runs").exists()


def test_two_gpus_run_one_worker_each_pinned_to_its_device(
    colour_data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    _gpus(monkeypatch, 2)
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    args = ["sweep", "--data", str(colour_data), "--runs-dir", str(tmp_path / "runs"), *TINY]
    grid = ["--grid", "lr=1e-3,1e-2", "batch=8,16", "--storage", url, "--study", "gpus"]
    assert main([*args, *grid, "--devices", "all", "--worker-trials", "2"]) == 0
    out = capsys.readouterr().out
    assert "study gpus: one trial per GPU on 2 GPU(s) (CUDA_VISIBLE_DEVICES 0, 1)" in out
    assert re.search(r"^\[gpu 0\] trial \d/4", out, re.M), out
    assert re.search(r"^\[gpu 1\] trial \d/4", out, re.M), out
    assert "* best on val loss" in out  # the study's summary, once, by the parent

    study = optuna.load_study(study_name="gpus", storage=open_storage(url).optuna)
    done = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(done) == 4 == len(study.trials)
    assert len({tuple(sorted(t.params.items())) for t in done}) == 4  # none twice
    by_gpu: dict[str, set[str]] = {}
    for t in done:
        by_gpu.setdefault(t.user_attrs[studies.GPU], set()).add(t.user_attrs[studies.WORKER])
        folder = Path(t.user_attrs["run_dir"])
        assert f"{read_status(folder).pid}" == t.user_attrs[studies.WORKER].rsplit(":", 1)[1]
        assert json.loads((folder / "config.json").read_text())["device"] == "cpu"  # no CUDA
    # both devices took trials (two each, their share), each from one worker process of its own
    assert sorted(t.user_attrs[studies.GPU] for t in done) == ["0", "0", "1", "1"]
    assert set(by_gpu) == {"0", "1"} and all(len(w) == 1 for w in by_gpu.values())
    assert by_gpu["0"] != by_gpu["1"]


def test_the_guis_per_gpu_sweep_stops_every_worker_and_their_trials_wait_to_run_again(
    colour_data: Path, tmp_path: Path, monkeypatch
) -> None:
    # the training child's `sweep` request with per_gpu, as the Sweep dialog sends it
    _gpus(monkeypatch, 2)
    spec = SweepSpec(
        head_config(colour_data, epochs=3),
        parse_space(["lr=1e-3,1e-2"]),
        storage=f"sqlite:///{tmp_path / 'sweep.db'}",
        study="stop",
    )
    control, sent = Control(), []

    def send(event: object) -> None:
        sent.append(event)
        if sum(isinstance(e, TrialStarted) for e in sent) == 2:
            control.stop.set()  # both GPUs run a trial: the user presses Stop

    args = {"spec": spec_to_dict(spec), "runs_dir": str(tmp_path / "runs"), "per_gpu": True}
    summary = sweep_jobs.run(args, send, control)
    assert summary["stopped"]
    # one start and one end of the sweep for the GUI, not one per worker
    assert [type(e) for e in sent if isinstance(e, SweepStarted | SweepEnded)] == [
        SweepStarted,
        SweepEnded,
    ]
    logs = [e.message for e in sent if isinstance(e, LogLine)]
    assert logs[0] == "one trial per GPU on 2 GPUs"
    for gpu in ("0", "1"):  # each worker was told to stop, and said so
        assert f"[gpu {gpu}] stopping after the current step (Ctrl+C again: at once)" in logs
    states = sorted((t["params"]["lr"], t["state"]) for t in summary["trials"])
    # both running trials were stopped and wait to run again: the same sweep continues them
    assert states == [(1e-3, "stopped"), (1e-3, "waiting"), (1e-2, "stopped"), (1e-2, "waiting")]
    for t in summary["trials"]:
        if t["state"] == "stopped" and t["run_dir"] and Path(t["run_dir"]).exists():
            assert read_status(Path(t["run_dir"])).state == "stopped"
