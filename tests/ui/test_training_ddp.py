"""The Train panel's "All N GPUs (DDP)": offered where the device probe counts several GPUs,
and a run started with it is a torchrun run of ``gender-desktop train --ddp``."""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from forms import tiny_form

from gender_desktop.ml import device as device_mod
from gender_desktop.ml.config import TrainConfig
from gender_desktop.ml.launcher import torchrun_command, train_args
from gender_desktop.ui import main_window
from gender_desktop.ui.training.form import DDP_DEVICE, TrainingForm


def devices(form: TrainingForm) -> list[str]:
    return [form.device.itemText(i) for i in range(form.device.count())]


def two_gpus(monkeypatch) -> str:
    """What the device probe answers on a machine with two GPUs (torch told so)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "NVIDIA H200")
    return device_mod.describe_device()


def test_all_gpus_is_offered_only_where_more_than_one_is_visible(qtbot, monkeypatch) -> None:
    text = two_gpus(monkeypatch)
    assert text == "CUDA · NVIDIA H200 ×2" and device_mod.gpus_in(text) == 2
    assert device_mod.gpus_in("CUDA · NVIDIA H200") == 1
    assert device_mod.gpus_in("CPU (2 threads)") == 0
    form = TrainingForm()
    qtbot.addWidget(form)
    form.set_gpu_count(1)
    assert devices(form) == ["auto", "cuda", "cpu", "mps"]
    form.set_gpu_count(2)
    assert devices(form)[-1] == "All 2 GPUs (DDP)"
    form.device.setCurrentIndex(form.device.findData(DDP_DEVICE))
    assert form.ddp_processes() == 2 and form.config("data").device == "cuda"
    form.set_gpu_count(4)  # a new answer replaces the item and keeps the choice
    assert devices(form).count("All 4 GPUs (DDP)") == 1 and form.ddp_processes() == 4
    form.set_gpu_count(0)
    assert devices(form) == ["auto", "cuda", "cpu", "mps"] and form.ddp_processes() == 0


def test_starting_on_all_gpus_asks_the_child_for_a_torchrun_run(
    make_window, qtbot, monkeypatch
) -> None:
    text = two_gpus(monkeypatch)
    monkeypatch.setattr(main_window, "probe_device", lambda cancel=None: text)
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    with qtbot.waitSignal(window.device_detected, timeout=30_000):
        window._detect_device()
    panel = window.training
    tiny_form(panel.form)
    panel.form.device.setCurrentIndex(panel.form.device.findData(DDP_DEVICE))
    assert "all 2 GPUs at once (DDP)" in panel.plan.text()
    requests: list[tuple[str, dict]] = []

    def request(kind: str, **args) -> int:  # what the training child would be sent
        requests.append((kind, args))
        return 4242

    monkeypatch.setattr(panel.client, "request", request)
    worker = panel.start()
    assert worker is not None and panel.is_running()
    ((kind, args),) = requests
    assert kind == "train" and args["ddp"] == 2 and not args["resume"]
    config = TrainConfig.from_dict(args["settings"])
    assert config.device == "cuda"  # each torchrun process takes cuda:LOCAL_RANK
    settings = Path("settings.json")
    command = torchrun_command(2, train_args(settings, args["run_path"], False, args["track"]))
    assert command == [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "gender_desktop",
        "train",
        "--settings",
        "settings.json",
        "--run-dir",
        str(panel.run.path),
        "--ddp",
    ]
    with qtbot.waitSignal(worker.ended, timeout=10_000):  # the child's answer to a Stop
        panel.client.finished.emit(4242, {"cancelled": True})
    assert not panel.is_running()


def test_the_trackers_and_a_resume_travel_to_rank_0() -> None:
    new = ["--settings", "s.json", "--run-dir", "/runs/r"]
    assert train_args(Path("s.json"), "/runs/r", False, None) == new  # rank 0's default
    assert train_args(Path("s.json"), "/runs/r", False, []) == [*new, "--no-track"]
    assert train_args(Path("s.json"), "/runs/r", False, ["tensorboard", "mlflow"]) == [
        *new,
        "--track",
        "tensorboard,mlflow",
    ]
    assert train_args(Path("s.json"), "/runs/r", True, None) == ["--resume", "/runs/r"]


def test_a_run_resumes_on_as_many_processes_as_it_trained_on() -> None:
    from gender_desktop.ui.training.panel import resumed_processes

    assert resumed_processes({"distributed": {"world_size": 4, "backend": "nccl"}}) == 4
    assert resumed_processes({"settings": {}}) == 0  # a one-process run: one process again
    assert resumed_processes({"distributed": {"world_size": 1}}) == 0
