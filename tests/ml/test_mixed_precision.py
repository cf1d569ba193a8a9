"""The mixed-precision and speed logic on CPU: the dtype/scaler rule for every device, real
training steps under CPU bf16 autocast and through an active grad scaler, torch.compile and
the automatic batch size, so a typo in the CUDA-side code cannot wait for a GPU to show."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch
from setups import tiny_config

from gender_desktop.cli.training_options import add_training_options, config_from_args
from gender_desktop.ml import runtime, speed
from gender_desktop.ml.config import ModelConfig
from gender_desktop.ml.models import GenderNet
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder

BF16, FP16 = torch.bfloat16, torch.float16


@pytest.mark.parametrize(
    ("device", "amp", "dtype", "native", "cpu_amp", "expected", "scaler"),
    [
        ("cuda", True, "auto", True, "", BF16, False),
        ("cuda", True, "auto", False, "", FP16, True),
        ("cuda", True, "bf16", False, "", BF16, False),
        ("cuda", True, "fp16", True, "", FP16, True),  # forced: the scaler path on a bf16 GPU
        ("cuda", False, "fp16", True, "", None, False),
        ("cpu", True, "auto", False, "", None, False),  # the default CPU path stays fp32
        ("cpu", True, "auto", False, "bf16", BF16, False),
        ("cpu", True, "auto", False, "fp16", FP16, True),
        ("cpu", True, "auto", False, "nonsense", None, False),
        ("cpu", True, "bf16", False, "", BF16, False),
        ("cpu", True, "fp16", False, "", FP16, True),
        ("cpu", False, "bf16", False, "bf16", None, False),
        ("mps", True, "fp16", False, "", None, False),
        ("mps", True, "auto", False, "bf16", None, False),
    ],
)
def test_the_precision_rule_for_every_device_and_dtype(
    device, amp, dtype, native, cpu_amp, expected, scaler
) -> None:
    chosen = runtime.precision(device, amp, dtype, native, cpu_amp)
    assert (chosen.dtype, chosen.scaler) == (expected, scaler)
    assert chosen.name == {BF16: "bf16", FP16: "fp16", None: "fp32"}[expected]


def test_an_unknown_dtype_is_refused_by_the_rule_and_the_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="amp_dtype must be one of auto, bf16, fp16"):
        runtime.precision("cuda", True, "fp8")
    with pytest.raises(ValueError, match="amp_dtype must be one of"):
        tiny_config(tmp_path, amp_dtype="fp8").validate()


def test_cpu_autocast_runs_in_bf16_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu, layer, x = torch.device("cpu"), torch.nn.Linear(4, 2), torch.randn(3, 4)
    monkeypatch.delenv(runtime.CPU_AMP_ENV, raising=False)
    with runtime.autocast(cpu, True):
        assert layer(x).dtype == torch.float32
    with runtime.autocast(cpu, True, "bf16"):
        assert layer(x).dtype == BF16
    monkeypatch.setenv(runtime.CPU_AMP_ENV, "bf16")
    with runtime.autocast(cpu, True):
        assert layer(x).dtype == BF16
    with runtime.autocast(cpu, False):
        assert layer(x).dtype == torch.float32


def _start_weights(config) -> dict[str, torch.Tensor]:
    """The weights a run of ``config`` starts from (random weights drawn from its seed)."""
    torch.manual_seed(config.seed)
    return {k: v.clone() for k, v in GenderNet(config.model).state_dict().items()}


@pytest.mark.parametrize(("dtype", "scope"), [("bf16", "last_block"), ("fp16", "head")])
def test_a_cpu_run_trains_under_autocast(
    colour_data: Path, tmp_path: Path, dtype: str, scope: str
) -> None:
    """bf16 autocast (the last block trains), and fp16 through an active GradScaler("cpu")
    (head only: CPU fp16 convolutions are slow): the loss stays finite, the weights move, and
    last.pt keeps the scaler's state (its count of clean steps) for an exact resume."""
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope=scope)
    config = tiny_config(colour_data, model=model, epochs=1, amp_dtype=dtype)
    start = _start_weights(config)
    run = RunFolder.create("amp", tmp_path / "runs")
    trainer = Trainer(config, run)
    summary = trainer.run()
    assert trainer.precision.name == dtype and trainer.precision.scaler == (dtype == "fp16")
    assert torch.isfinite(torch.tensor(summary["history"][0]["train_loss"]))
    trained = trainer.model.state_dict()
    moved = [
        k for k, v in start.items() if v.is_floating_point() and not torch.equal(v, trained[k])
    ]
    assert "head.0.weight" in moved
    assert any(k.startswith("trunk.") for k in moved) == (scope != "head")
    scaler_state = run.load_checkpoint("last.pt")["scaler"]
    if dtype == "fp16":
        assert 0 < scaler_state["scale"] <= 2.0**16 and scaler_state["_growth_tracker"] > 0
    else:
        assert scaler_state == {}


def test_the_compile_option_reaches_torch_compile(
    colour_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The model trains compiled (the cheap "eager" backend: dynamo traces it, no C++ build),
    and its checkpoint keys are an uncompiled model's, so runs stay loadable everywhere."""
    from torch._dynamo.utils import counters

    monkeypatch.setenv(speed.COMPILE_BACKEND_ENV, "eager")
    torch._dynamo.reset()
    counters.clear()
    run = RunFolder.create("compiled", tmp_path / "runs")
    model = ModelConfig(backbone="resnet18", input_size=32, hidden=(16,), scope="head")
    config = tiny_config(colour_data, model=model, epochs=1, compile=True, feature_cache=False)
    summary = Trainer(config, run).run()
    assert counters["stats"]["calls_captured"] > 0
    assert torch.isfinite(torch.tensor(summary["history"][0]["train_loss"]))
    keys = set(run.load_checkpoint("last.pt")["model"])
    assert keys == set(GenderNet(config.model).state_dict())
    torch._dynamo.reset()


def _parse(*argv: str):
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    add_training_options(parser)
    return parser.parse_args(list(argv))


def test_the_cli_takes_auto_batch_size_amp_dtype_and_compile(tmp_path: Path) -> None:
    config = config_from_args(
        _parse(str(tmp_path), "--batch-size", "auto", "--amp-dtype", "fp16", "--compile")
    )
    assert (config.auto_batch_size, config.amp_dtype, config.compile) == (True, "fp16", True)
    plain = config_from_args(_parse(str(tmp_path), "--batch-size", "48"))
    assert (plain.auto_batch_size, plain.batch_size, plain.compile) == (False, 48, False)
    with pytest.raises(SystemExit):
        _parse(str(tmp_path), "--batch-size", "lots")


def test_auto_batch_size_is_recorded_in_config_json(colour_data: Path, tmp_path: Path) -> None:
    run = RunFolder.create("auto", tmp_path / "runs")
    config = tiny_config(colour_data, epochs=1, batch_size=7, auto_batch_size=True)
    Trainer(config, run).run()
    saved = json.loads((run.path / "config.json").read_text())["settings"]
    train_images = json.loads((run.path / "config.json").read_text())["dataset"]["split_sizes"]
    expected = min(speed.CPU_AUTO_BATCH, train_images["train"])
    assert (saved["auto_batch_size"], saved["batch_size"]) == (True, expected)
    assert f"automatic batch size: {expected}" in (run.path / "log.txt").read_text()


def test_the_batch_probe_doubles_until_out_of_memory_then_keeps_the_last_fit() -> None:
    tried: list[int] = []

    def step(n: int) -> None:
        tried.append(n)
        if n > 100:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (pretend)")

    assert speed.doubling(step, 8, 2048) == 64
    assert tried == [8, 16, 32, 64, 128]
    tried.clear()
    assert speed.doubling(step, 8, 40) == 40 and tried == [8, 16, 32, 40]
    with pytest.raises(torch.cuda.OutOfMemoryError):
        speed.doubling(step, 200, 400)


def test_the_batch_probe_leaves_the_model_as_it_was() -> None:
    """Real forward+backward passes (a BatchNorm backbone): no gradient and no running
    statistic is left changed."""
    from gender_desktop.ml.pipeline import Normaliser

    cpu = torch.device("cpu")
    model = GenderNet(ModelConfig(backbone="resnet18", input_size=32, hidden=(8,), scope="all"))
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    step = speed.probe_step(model, Normaliser(cpu, False), 32, cpu, lambda: runtime.autocast(cpu))
    assert speed.doubling(step, 2, 4) == 4
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in model.parameters())
