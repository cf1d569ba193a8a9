"""Starting weights: never a silent fallback; wrong files refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from setups import tiny_config

from gender_desktop.ml import weights
from gender_desktop.ml.models import GenderNet, ModelConfig
from gender_desktop.ml.trainer import Trainer


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setenv("GENDER_DESKTOP_OFFLINE", "1")
    return tmp_path / "hub"


def test_offline_imagenet_weights_give_a_clear_error_with_alternatives(empty_hub, colour_data):
    with pytest.raises(weights.WeightsUnavailable) as info:
        Trainer(tiny_config(colour_data, weights="imagenet")).run()
    message = str(info.value)
    assert "resnet18-f37072fd.pth" in message and str(empty_hub) in message
    assert "local weights file" in message and "random weights" in message


def test_cached_imagenet_weights_are_used_from_the_hub_cache(empty_hub) -> None:
    reference = torchvision.models.resnet18(weights=None)
    path = weights.hub_path(weights.imagenet_url("resnet18"))
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = GenderNet(ModelConfig(backbone="resnet18", input_size=32))
    model.load_imagenet(weights.imagenet_state_dict("resnet18"))
    assert torch.equal(model.trunk.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_a_local_file_with_a_wrong_hash_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "resnet18-f37072fd.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), fake)
    with pytest.raises(weights.WeightsUnavailable, match="does not match the expected prefix"):
        weights.verify_file(fake, "resnet18")


def test_a_local_file_with_the_right_hash_prefix_is_accepted(tmp_path: Path) -> None:
    data = tmp_path / "tmp.pth"
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), data)
    digest = weights.sha256_of(data)
    named = tmp_path / f"resnet18-{digest[:8]}.pth"
    data.rename(named)
    weights.verify_file(named, "resnet18")
    model = GenderNet(ModelConfig(backbone="resnet18", input_size=32))
    assert model.load_imagenet(weights.load_state_dict(named)) > 0


def test_fine_tuning_starts_from_a_previous_run(colour_data, tmp_path) -> None:
    from gender_desktop.runs.folder import RunFolder

    first = RunFolder.create("pretrain", tmp_path)
    Trainer(tiny_config(colour_data, epochs=1), run=first).run()
    second = Trainer(tiny_config(colour_data, epochs=1, weights=f"run:{first.path}"))
    model = second._build_model()
    best = first.load_checkpoint("best.pt")["model"]
    assert torch.equal(
        model.state_dict()["trunk.layer4.1.conv2.weight"], best["trunk.layer4.1.conv2.weight"]
    )


def test_the_backbone_table_names_torchvisions_own_files_and_hub_paths() -> None:
    """The torch-free table's file names (and so their sha256 prefixes) are torchvision's."""
    from gender_desktop.ml import backbones

    pretrained = [b for b in backbones.BACKBONES.values() if b.pretrained]
    assert len(pretrained) == 5
    for entry in pretrained:
        url = weights.imagenet_url(entry.name)
        assert url.rsplit("/", 1)[-1] == entry.imagenet_file
        assert backbones.hub_checkpoint(entry.name) == weights.hub_path(url)
    assert backbones.hub_checkpoint("levi_hassner") is None
    with pytest.raises(weights.WeightsUnavailable, match="no ImageNet weights"):
        weights.imagenet_url("levi_hassner")


class SlowDownload:
    """A fake HTTP response: 1 MB blocks of a 20 MB file."""

    def __init__(self, on_block) -> None:
        self.headers = {"Content-Length": str(20 << 20)}
        self.blocks = 0
        self.on_block = on_block

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def read(self, n: int) -> bytes:
        self.blocks += 1
        self.on_block(self.blocks)
        return b"x" * n if self.blocks <= 20 else b""


def test_stop_cancels_a_weights_download_and_leaves_no_file(
    empty_hub, colour_data, tmp_path, monkeypatch
) -> None:
    """Stop (or closing the app) during the ImageNet download ends the run within a block;
    the hub cache gets no partial file."""
    from gender_desktop.ml.events import Control, PhaseProgress
    from gender_desktop.runs.folder import RunFolder

    monkeypatch.delenv("GENDER_DESKTOP_OFFLINE")
    control = Control()
    response = SlowDownload(lambda block: block == 3 and control.stop.set())
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: response)
    seen = []
    run = RunFolder.create("download", tmp_path / "runs")
    config = tiny_config(colour_data, weights="imagenet")
    summary = Trainer(config, run, seen.append, control).run()
    assert summary["stopped"] and summary["epochs"] == 0
    assert response.blocks == 3  # Stop came during the third block: no fourth was read
    assert any(isinstance(e, PhaseProgress) and "Downloading" in e.message for e in seen)
    assert not any((empty_hub / "hub").rglob("*.pth"))
