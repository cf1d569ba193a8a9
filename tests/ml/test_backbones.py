"""The backbone table is the one source of backbone facts: settings, models, form and CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from setups import tiny_config

from gender_desktop.ml import backbones
from gender_desktop.ml.config import ConfigError, ModelConfig, TrainConfig
from gender_desktop.ml.models import BUILDERS, GenderNet
from gender_desktop.ml.trainer import Trainer
from gender_desktop.runs.folder import RunFolder


def test_every_backbone_in_the_table_has_a_builder_whose_blocks_and_sizes_match() -> None:
    assert set(BUILDERS) == set(backbones.NAMES)
    for entry in backbones.BACKBONES.values():
        size = max(entry.min_input_size, 64)
        config = ModelConfig(entry.name, "flatten", (), 0.0, "all", size)
        model = GenderNet(config)
        assert tuple(model.block_names) == entry.blocks
        assert model.feature_size == entry.flat_features(size) == config.head_parameters() - 1
        assert GenderNet(ModelConfig(entry.name, "avg", (), 0.0, "all", size)).feature_size == (
            entry.feature_size
        )


def test_levi_hassner_is_the_papers_network_at_227_px() -> None:
    """Three conv layers (96 7x7/4, 256 5x5, 384 3x3) with LRN after the first two; the paper's
    two 512-unit layers with dropout are the head: 18,816 flattened features at 227 px."""
    model = GenderNet(ModelConfig("levi_hassner", "flatten", (512, 512), 0.5, "all", 227))
    convs = [m for m in model.trunk.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (96, 7, 4),
        (256, 5, 1),
        (384, 3, 1),
    ]
    assert sum(isinstance(m, torch.nn.LocalResponseNorm) for m in model.modules()) == 2
    assert model.feature_size == 384 * 7 * 7
    assert model(torch.zeros(2, 3, 227, 227)).shape == (2,)


def test_levi_hassner_has_no_imagenet_weights_and_says_what_to_use() -> None:
    config = TrainConfig(data="x", model=ModelConfig("levi_hassner", input_size=227))
    with pytest.raises(ConfigError, match="no ImageNet weights: start it from random"):
        config.validate()
    with pytest.raises(ConfigError, match="between 63 and"):
        ModelConfig("levi_hassner", input_size=48).validate()


def test_levi_hassner_trains_from_scratch_to_a_run_folder(
    colour_data: Path, tmp_path: Path
) -> None:
    model = ModelConfig("levi_hassner", "avg", (32,), 0.0, "all", 64)
    run = RunFolder.create("lh", tmp_path / "runs")
    summary = Trainer(tiny_config(colour_data, model=model, epochs=3), run=run).run()
    assert summary["state"] == "finished" and summary["epochs"] == 3
    assert RunFolder(Path(summary["run_dir"])).train_config().model.backbone == "levi_hassner"


def test_the_cli_takes_the_backbones_own_defaults(colour_data: Path, tmp_path: Path) -> None:
    """``--backbone levi_hassner`` alone: random weights, the whole network, 227 px."""
    from gender_desktop.cli import build_parser
    from gender_desktop.cli.training_options import config_from_args

    args = build_parser().parse_args(
        ["train", "--data", str(colour_data), "--backbone", "levi_hassner"]
    )
    config = config_from_args(args)
    assert (config.weights, config.model.scope, config.model.input_size) == ("random", "all", 227)
    config.validate()
    args = build_parser().parse_args(["train", "--data", str(colour_data)])
    default = TrainConfig(data="")
    assert config_from_args(args).to_dict() | {"data": ""} == default.to_dict()
    out = subprocess.run(
        [sys.executable, "-m", "gender_desktop", "train", "--help"], capture_output=True, text=True
    ).stdout
    assert "levi_hassner" in out and "(default: None)" not in out and "(default: )" not in out
