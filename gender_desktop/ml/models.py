"""Backbones, the classification head, and which parameters train.

A :class:`GenderNet` is a convolutional trunk (a backbone of :mod:`gender_desktop.ml.backbones`:
torchvision's VGG16, VGG16-BN, ResNet50, ResNet18, MobileNetV2, or Levi & Hassner's small CNN,
split into named blocks) followed by pooling or flattening and a small head that
ends in one logit for ``Male`` (sigmoid + binary cross-entropy). The trainable scope freezes
whole blocks: frozen parameters get ``requires_grad=False`` and frozen BatchNorm layers are kept
in eval mode, so neither their weights nor their running statistics drift.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torchvision import models as tvm

from gender_desktop.ml import backbones
from gender_desktop.ml.config import BACKBONES, POOLINGS, SCOPES, ConfigError, ModelConfig

__all__ = ["BACKBONES", "POOLINGS", "SCOPES", "GenderNet", "ModelConfig"]


def _vgg_blocks(features: nn.Sequential) -> list[tuple[str, nn.Module]]:
    """VGG's features split at its max-pool layers: block1 ... block5."""
    blocks, current = [], []
    for layer in features:
        current.append(layer)
        if isinstance(layer, nn.MaxPool2d):
            blocks.append((f"block{len(blocks) + 1}", nn.Sequential(*current)))
            current = []
    return blocks


def _vgg(name: str) -> list[tuple[str, nn.Module]]:
    return _vgg_blocks(getattr(tvm, name)(weights=None).features)


def _resnet(name: str) -> list[tuple[str, nn.Module]]:
    net = getattr(tvm, name)(weights=None)
    stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
    return [("stem", stem)] + [(f"layer{i}", getattr(net, f"layer{i}")) for i in range(1, 5)]


# MobileNetV2's stages by resolution; the last one ends in the 1280-channel 1x1 conv.
_MOBILENET_CUTS = {"stage1": (0, 2), "stage2": (2, 4), "stage3": (4, 7), "stage4": (7, 14)}
_MOBILENET_CUTS["stage5"] = (14, 19)


def _mobilenet_v2(_name: str) -> list[tuple[str, nn.Module]]:
    f = tvm.mobilenet_v2(weights=None).features
    return [(name, nn.Sequential(*f[a:b])) for name, (a, b) in _MOBILENET_CUTS.items()]


def _levi_hassner(_name: str) -> list[tuple[str, nn.Module]]:
    """Levi & Hassner, "Age and Gender Classification using Convolutional Neural Networks"
    (CVPR workshops 2015): 96 7x7 filters at stride 4, 256 5x5 and 384 3x3, each followed by
    ReLU and a 3x3 stride-2 max pool, the first two by local response normalisation (size 5,
    alpha 1e-4, beta 0.75). Its two 512-unit fully connected layers with dropout are this app's
    head (``hidden=512,512``, ``pooling=flatten``, dropout 0.5 reproduce the paper)."""

    def pool() -> nn.Module:
        return nn.MaxPool2d(3, 2, ceil_mode=True)  # the Caffe model's rounding

    def lrn() -> nn.Module:
        return nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)

    relu = nn.ReLU  # a fresh module per use: inplace ReLUs must not be shared
    return [
        ("conv1", nn.Sequential(nn.Conv2d(3, 96, 7, stride=4), relu(inplace=True), pool(), lrn())),
        (
            "conv2",
            nn.Sequential(nn.Conv2d(96, 256, 5, padding=2), relu(inplace=True), pool(), lrn()),
        ),
        ("conv3", nn.Sequential(nn.Conv2d(256, 384, 3, padding=1), relu(inplace=True), pool())),
    ]


# One builder per entry of the backbone table (gender_desktop.ml.backbones).
BUILDERS: dict[str, Callable[[str], list[tuple[str, nn.Module]]]] = {
    "vgg16": _vgg,
    "vgg16_bn": _vgg,
    "resnet50": _resnet,
    "resnet18": _resnet,
    "mobilenet_v2": _mobilenet_v2,
    "levi_hassner": _levi_hassner,
}


def build_trunk(backbone: str) -> tuple[list[tuple[str, nn.Module]], int]:
    """The backbone's convolutional blocks (random weights) and its output channel count."""
    if backbone not in BUILDERS:
        raise ValueError(f"unknown backbone {backbone!r}")
    return BUILDERS[backbone](backbone), backbones.get(backbone).feature_size


def torchvision_key_map(backbone: str) -> dict[str, str]:
    """torchvision state-dict prefix -> this model's trunk prefix, to load ImageNet weights."""
    blocks, _ = build_trunk(backbone)
    mapping: dict[str, str] = {}
    if backbone in ("vgg16", "vgg16_bn"):
        index = 0
        for name, block in blocks:
            for j, _layer in enumerate(block):
                mapping[f"features.{index}."] = f"trunk.{name}.{j}."
                index += 1
    elif backbone in ("resnet18", "resnet50"):
        for j, part in enumerate(("conv1", "bn1")):
            mapping[f"{part}."] = f"trunk.stem.{j if part == 'conv1' else 1}."
        for i in range(1, 5):
            mapping[f"layer{i}."] = f"trunk.layer{i}."
    elif backbone == "mobilenet_v2":
        for name, block in blocks:
            for j in range(len(block)):
                mapping[f"features.{_MOBILENET_CUTS[name][0] + j}."] = f"trunk.{name}.{j}."
    return mapping


class GenderNet(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        blocks, channels = build_trunk(config.backbone)
        self.block_names = [name for name, _ in blocks]
        self.trunk = nn.Sequential()
        for name, block in blocks:
            self.trunk.add_module(name, block)
        if config.pooling == "flatten":
            # Two images in eval mode: BatchNorm rejects one image whose map is 1x1.
            self.trunk.eval()
            with torch.no_grad():
                size = self.trunk(torch.zeros(2, 3, config.input_size, config.input_size)).shape
            self.trunk.train()
            self.pool: nn.Module = nn.Flatten()
            features = size[1] * size[2] * size[3]
        else:
            pool = nn.AdaptiveAvgPool2d(1) if config.pooling == "avg" else nn.AdaptiveMaxPool2d(1)
            self.pool = nn.Sequential(pool, nn.Flatten())
            features = channels
        layers: list[nn.Module] = []
        width = features
        for hidden in config.hidden:
            layers += [
                nn.Linear(width, int(hidden)),
                nn.ReLU(inplace=True),
                nn.Dropout(config.dropout),
            ]
            width = int(hidden)
        layers.append(nn.Linear(width, 1))
        self.head = nn.Sequential(*layers)
        self.feature_size = features
        self.apply_scope(config.scope)

    # -- scope ------------------------------------------------------------------------------------
    def frozen_blocks(self, scope: str) -> list[str]:
        if scope == "head":
            return list(self.block_names)
        if scope == "last_block":
            return self.block_names[:-1]
        if scope == "all":
            return []
        name = scope.removeprefix("from:")
        if name not in self.block_names:
            raise ConfigError(
                f"scope: {self.config.backbone} has no block {name!r}; its blocks are "
                f"{', '.join(self.block_names)}"
            )
        return self.block_names[: self.block_names.index(name)]

    def apply_scope(self, scope: str) -> None:
        self.frozen = set(self.frozen_blocks(scope))
        for name, block in self.trunk.named_children():
            for p in block.parameters():
                p.requires_grad_(name not in self.frozen)

    def train(self, mode: bool = True) -> GenderNet:
        """Frozen blocks stay in eval mode: their BatchNorm statistics must not drift."""
        super().train(mode)
        for name, block in self.trunk.named_children():
            if name in self.frozen:
                block.eval()
        return self

    # -- forward ----------------------------------------------------------------------------------
    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.trunk(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)

    def load_imagenet(self, state: dict[str, torch.Tensor]) -> int:
        """Load torchvision ImageNet weights into the trunk; returns the tensors loaded."""
        mapping = torchvision_key_map(self.config.backbone)
        own = self.state_dict()
        loaded = {}
        for key, value in state.items():
            for prefix, target in mapping.items():
                if key.startswith(prefix):
                    new_key = target + key[len(prefix) :]
                    if new_key in own and own[new_key].shape == value.shape:
                        loaded[new_key] = value
                    break
        trunk_keys = [k for k in own if k.startswith("trunk.")]
        missing = [k for k in trunk_keys if k not in loaded]
        if missing:
            raise ValueError(
                f"the weights do not fit {self.config.backbone}: {len(missing)} trunk tensors "
                f"missing (e.g. {missing[0]})"
            )
        self.load_state_dict(loaded, strict=False)
        return len(loaded)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
