"""``gender-desktop train --ddp`` under torchrun: two gloo processes on the CPU.

Real runs of ``python -m torch.distributed.run --standalone --nproc_per_node 2``: a run whose
second process is killed after its first saved epoch ends with a message and a resumable
last.pt, and ``--resume`` under torchrun (started by the app's launcher, as the Train panel's
"All N GPUs" does) finishes it into a complete run folder whose epochs hold the numbers of
both processes together.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from setups import TINY_TRAIN_ARGS, tiny_config

from gender_desktop.cli import main
from gender_desktop.ml.config import ConfigError
from gender_desktop.ml.events import Control, EpochEnd, LogLine, RunStarted
from gender_desktop.ml.launcher import run_distributed
from gender_desktop.runs.folder import RunFolder

TINY = [*TINY_TRAIN_ARGS, "--no-track"]
EPOCHS = (
    4  # rank 1 is killed after epoch 1: three epochs ahead keep it alive till then, under load too
)


def torchrun(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "gender_desktop",
        "train",
        *args,
        "--ddp",
    ]


def rank_env() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def rank_of(pid: int) -> str | None:
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"RANK="):
            return item[5:].decode()
    return None


def wait_for(path_glob: Path, pattern: str, process: subprocess.Popen, limit: float = 120) -> Path:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        hits = list(path_glob.glob(pattern))
        if hits:
            return hits[0]
        assert process.poll() is None, process.communicate()[0]
        time.sleep(0.02)
    raise AssertionError(f"no {pattern} under {path_glob} in {limit} s")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the ranks in /proc")
def test_killed_rank_leaves_a_resumable_run_that_resume_finishes(
    colour_data: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    command = torchrun("--data", str(colour_data), "--runs-dir", str(runs), "--epochs", str(EPOCHS))
    first = subprocess.Popen(
        [*command, *TINY],
        env=rank_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    last = wait_for(runs, "*/last.pt", first)  # epoch 1 saved, whole (atomic write)
    (victim,) = [pid for pid in children(first.pid) if rank_of(pid) == "1"]
    os.kill(victim, signal.SIGKILL)
    output, _ = first.communicate(timeout=120)
    assert first.returncode != 0
    folder = last.parent
    # Rank 0 survived the other's death long enough to say so and what is kept.
    assert "gender-desktop train: error: " in output, output
    assert f"resume it with: gender-desktop train --resume {folder}" in output, output
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "failed"
    assert "resume it with" in status["message"]
    kept = torch.load(last, weights_only=True)["epoch"]
    assert 1 <= kept < EPOCHS
    before = RunFolder(folder).read_metrics()[:kept]

    # Resumed as the app's Train panel does it: the training child's launcher runs
    # `torchrun ... train --resume RUN --ddp` and relays rank 0's events.
    events: list[object] = []
    summary = run_distributed({}, str(folder), True, 2, [], events.append, Control())
    assert summary["state"] == "finished" and summary["epochs"] == EPOCHS
    started = [e for e in events if isinstance(e, RunStarted)]
    assert [e.start_epoch for e in started] == [kept + 1]
    assert [e.metrics["epoch"] for e in events if isinstance(e, EpochEnd)] == list(
        range(kept + 1, EPOCHS + 1)
    )
    assert any(
        isinstance(e, LogLine) and e.message == f"resumed after epoch {kept}" for e in events
    )
    run = RunFolder(folder)
    rows = run.read_metrics()
    assert [r["epoch"] for r in rows] == list(range(1, EPOCHS + 1))
    assert rows[:kept] == before  # the epochs done before the kill are kept as they were
    assert rows[-1]["train_loss"] < rows[0]["train_loss"]  # it learns
    for name in ("config.json", "best.pt", "last.pt", "evaluation.json", "predictions.csv"):
        assert (folder / name).is_file(), name
    assert json.loads((folder / "status.json").read_text())["state"] == "finished"
    config = json.loads((folder / "config.json").read_text())
    assert config["distributed"] == {"world_size": 2, "backend": "gloo"}
    # Each epoch's numbers are both processes' together: 64 train images, 32 on each.
    log = (folder / "log.txt").read_text()
    assert f"epoch {EPOCHS}: trained on 64 images in 2 processes" in log
    assert "32 train images and batches of 16 each" in log
    # last.pt holds the plain model's weights: no DistributedDataParallel "module." prefix.
    state = torch.load(folder / "last.pt", weights_only=True)["model"]
    assert not any(key.startswith("module.") for key in state)
    assert run.train_config().epochs == EPOCHS


def test_ddp_outside_torchrun_says_how_to_start_it(
    colour_data: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    runs = tmp_path / "runs"
    code = main(["train", "--data", str(colour_data), "--runs-dir", str(runs), *TINY, "--ddp"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--ddp runs under torchrun" in err
    assert "python -m torch.distributed.run --nproc_per_node N" in err
    assert not runs.exists()  # refused before a run folder was made


def test_shards_are_disjoint_equal_and_the_same_shuffle_on_every_rank() -> None:
    from gender_desktop.ml.distributed import DistContext

    def context(rank: int, world: int) -> DistContext:
        ctx = DistContext.__new__(DistContext)  # the shard arithmetic needs no process group
        ctx.rank, ctx.world = rank, world
        return ctx

    rows = np.arange(10, 77)  # 67 rows on 3 ranks: 22 each, 1 left over
    shards = [context(r, 3).shard(rows, seed=5) for r in range(3)]
    assert [len(s) for s in shards] == [22, 22, 22]
    joined = np.concatenate(shards)
    assert len(np.unique(joined)) == 66 and set(joined) <= set(rows)
    again = context(1, 3).shard(rows, seed=5)
    assert np.array_equal(again, shards[1])  # the same epoch seed: the same shard
    assert not np.array_equal(context(1, 3).shard(rows, seed=6), shards[1])


def test_sync_bn_needs_cuda(colour_data: Path) -> None:
    with pytest.raises(ConfigError, match="synchronised BatchNorm needs CUDA GPUs"):
        tiny_config(colour_data, sync_bn=True, device="cpu").validate()
    tiny_config(colour_data, sync_bn=True, device="cuda").validate()  # a setting, checked
    with pytest.raises(ConfigError, match="cannot be probed with synchronised BatchNorm"):
        tiny_config(colour_data, sync_bn=True, device="cuda", auto_batch_size=True).validate()


def test_sync_bn_conversion_keeps_the_checkpoint_names() -> None:
    from gender_desktop.ml.config import ModelConfig
    from gender_desktop.ml.distributed import convert_sync_bn
    from gender_desktop.ml.models import GenderNet

    model = GenderNet(ModelConfig(backbone="resnet18", input_size=32, hidden=(16,)))
    names = set(model.state_dict())
    converted = convert_sync_bn(model)
    assert any(isinstance(m, torch.nn.SyncBatchNorm) for m in converted.modules())
    assert set(converted.state_dict()) == names


def test_a_launchers_settings_file_and_run_folder_are_checked_first(
    colour_data: Path, tmp_path: Path, capsys
) -> None:
    broken = tmp_path / "settings.json"
    broken.write_text("{not json")
    assert main(["train", "--settings", str(broken), "--run-dir", str(tmp_path / "r")]) == 2
    assert f"{broken}" in capsys.readouterr().err
    settings = tmp_path / "good.json"
    settings.write_text(json.dumps({"settings": tiny_config(colour_data, device="cpu").to_dict()}))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "config.json").write_text("{}")
    assert main(["train", "--settings", str(settings), "--run-dir", str(taken)]) == 2
    err = capsys.readouterr().err
    assert "--run-dir: this folder already holds files" in err and str(taken) in err
    assert [p.name for p in taken.iterdir()] == ["config.json"]
