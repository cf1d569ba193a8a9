"""Every backbone the app knows, in one torch-free table.

The settings' checks, the model builder, the ImageNet weights loader, the Train form, the CLI's
``--backbone`` and the sweep space all read :data:`BACKBONES`; adding a backbone is one entry
here and one builder in :mod:`gender_desktop.ml.models`. Nothing here imports torch, so the GUI
can fill its form and the CLI its ``--help`` in milliseconds.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


def _stride32(size: int) -> int:
    """Side of the final feature map of a trunk with a total stride of 32 (padding keeps the
    partial last window)."""
    return math.ceil(size / 32)


def _levi_hassner_side(size: int) -> int:
    """conv 7x7 stride 4 (no padding), then three 3x3 stride-2 max pools with ceil mode (the
    Caffe model's rounding); 5x5 and 3x3 convs keep the size. 227 px gives 7x7."""
    side = (size - 7) // 4 + 1
    for _ in range(3):
        side = math.ceil((side - 3) / 2) + 1
    return side


@dataclass(frozen=True)
class Backbone:
    name: str  # the settings' value: config.json, --backbone
    title: str  # what the form shows
    blocks: tuple[str, ...]  # the trunk's named blocks, input to output (scopes freeze them)
    feature_size: int  # channels of the trunk's output (the head's input with avg/max pooling)
    default_input_size: int  # pixels, as the network was designed for
    imagenet_weights: str | None  # torchvision's weights enum member, None: random init only
    imagenet_file: str | None  # torchvision's file name; it carries the sha256 prefix
    scopes: tuple[str, ...]  # the scopes that make sense from its default starting weights
    note: str  # one line for a tooltip: when to choose it
    map_side: Callable[[int], int] = _stride32  # input side -> final feature-map side
    min_input_size: int = 32  # the smallest input whose final feature map is not empty
    imagenet_mb: float | None = None  # the ImageNet file's size in MiB (torchvision's _file_size)

    @property
    def pretrained(self) -> bool:
        return self.imagenet_weights is not None

    @property
    def default_weights(self) -> str:
        return "imagenet" if self.pretrained else "random"

    @property
    def default_scope(self) -> str:
        return self.scopes[0]

    @property
    def sha256_prefix(self) -> str | None:
        if self.imagenet_file is None:
            return None
        return self.imagenet_file.rsplit("-", 1)[-1].split(".", 1)[0]

    def flat_features(self, input_size: int) -> int:
        """The head's input when the last feature map is flattened."""
        return self.feature_size * self.map_side(input_size) ** 2


_VGG_BLOCKS = ("block1", "block2", "block3", "block4", "block5")
_RESNET_BLOCKS = ("stem", "layer1", "layer2", "layer3", "layer4")
_TRANSFER = ("last_block", "head", "all")

BACKBONES: dict[str, Backbone] = {
    b.name: b
    for b in (
        Backbone(
            "vgg16",
            "VGG16",
            _VGG_BLOCKS,
            512,
            224,
            "VGG16_Weights.IMAGENET1K_V1",
            "vgg16-397923af.pth",
            _TRANSFER,
            "The classic transfer-learning recipe (138 M parameters); slow on a CPU",
            imagenet_mb=527.796,
        ),
        Backbone(
            "vgg16_bn",
            "VGG16 with BatchNorm",
            _VGG_BLOCKS,
            512,
            224,
            "VGG16_BN_Weights.IMAGENET1K_V1",
            "vgg16_bn-6c64b313.pth",
            _TRANSFER,
            "VGG16 with batch normalisation: trains faster and more stably when fine-tuned",
            imagenet_mb=527.866,
        ),
        Backbone(
            "resnet50",
            "ResNet50",
            _RESNET_BLOCKS,
            2048,
            224,
            "ResNet50_Weights.IMAGENET1K_V2",
            "resnet50-11ad3fa6.pth",
            _TRANSFER,
            "Residual network, 25 M parameters: more accurate than VGG16 for a third of its cost",
            imagenet_mb=97.79,
        ),
        Backbone(
            "resnet18",
            "ResNet18",
            _RESNET_BLOCKS,
            512,
            224,
            "ResNet18_Weights.IMAGENET1K_V1",
            "resnet18-f37072fd.pth",
            _TRANSFER,
            "Small residual network (11 M parameters): practical on a CPU",
            imagenet_mb=44.661,
        ),
        Backbone(
            "mobilenet_v2",
            "MobileNetV2",
            ("stage1", "stage2", "stage3", "stage4", "stage5"),
            1280,
            224,
            "MobileNet_V2_Weights.IMAGENET1K_V2",
            "mobilenet_v2-7ebf99e0.pth",
            _TRANSFER,
            "Mobile network (3.5 M parameters): the fastest on a CPU and for deployment",
            imagenet_mb=13.598,
        ),
        Backbone(
            "levi_hassner",
            "Levi & Hassner CNN (2015)",
            ("conv1", "conv2", "conv3"),
            384,
            227,
            None,
            None,
            ("all", "last_block", "head"),
            "The small age/gender CNN of Levi & Hassner (2015): three conv layers with local "
            "response normalisation, trained from scratch (no ImageNet weights)",
            _levi_hassner_side,
            63,
        ),
    )
}
NAMES: tuple[str, ...] = tuple(BACKBONES)


def get(name: str) -> Backbone:
    """The table entry for ``name``; a KeyError names the known ones."""
    try:
        return BACKBONES[name]
    except KeyError:
        raise KeyError(f"unknown backbone {name!r}; known: {', '.join(NAMES)}") from None


def hub_checkpoint(name: str) -> Path | None:
    """Where torch hub keeps ``name``'s ImageNet file (torch.hub.get_dir's rules), None for a
    backbone without one. Torch-free, so the GUI can say whether a download is needed."""
    file = get(name).imagenet_file
    if file is None:
        return None
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    return Path(home) / "hub" / "checkpoints" / file
