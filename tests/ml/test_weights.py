"""Starting weights: never a silent fallback; wrong files refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from setups import tiny_config

from gender_desktop.ml import weights, weights_check
from gender_desktop.ml.events import PhaseProgress
from gender_desktop.ml.models import GenderNet, ModelConfig
from gender_desktop.ml.trainer import Trainer


@pytest.fixture
def empty_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty torch hub cache (TORCH_HOME, which torch.hub and the torch-free table both
    follow) on a machine told to stay offline."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("GENDER_DESKTOP_OFFLINE", "1")
    return tmp_path / "torch" / "hub"


def test_offline_imagenet_weights_fail_before_any_decoding_and_say_what_to_choose(
    empty_hub, colour_data, tmp_path
):
    """The default start on a machine without the weights: refused at once (no image decoded,
    no run folder left), with the file, the cache and every alternative named."""
    from gender_desktop.runs.folder import RunFolder

    seen: list[object] = []
    run = RunFolder.create("offline", tmp_path / "runs")
    with pytest.raises(weights.WeightsUnavailable) as info:
        Trainer(tiny_config(colour_data, weights="imagenet"), run, seen.append).run()
    message = str(info.value)
    assert "resnet18-f37072fd.pth, 44.7 MB" in message and str(empty_hub) in message
    assert "random initialisation" in message and "local weights file" in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message
    assert not any(isinstance(e, PhaseProgress) for e in seen), "it decoded before failing"
    assert not run.path.exists()


def test_no_network_is_found_out_by_a_short_probe_before_decoding(
    empty_hub, colour_data, monkeypatch
):
    """Online mode with an unreachable server: the probe's answer is the failure; the
    message names a backbone whose weights are cached as one way out."""
    monkeypatch.delenv("GENDER_DESKTOP_OFFLINE")
    asked: list[str] = []

    def unreachable(request, timeout):
        asked.append(request.full_url)
        raise weights_check.urllib.error.URLError("no route to host")

    monkeypatch.setattr(weights_check.urllib.request, "urlopen", unreachable)
    cached = empty_hub / "checkpoints" / "mobilenet_v2-7ebf99e0.pth"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"0" * 1000)
    seen: list[object] = []
    with pytest.raises(weights.WeightsUnavailable) as info:
        Trainer(tiny_config(colour_data, weights="imagenet"), callback=seen.append).run()
    assert asked == ["https://download.pytorch.org/models/resnet18-f37072fd.pth"]
    assert "no network: download.pytorch.org does not answer" in str(info.value)
    assert "a backbone whose ImageNet weights are cached: MobileNetV2" in str(info.value)
    assert not any(isinstance(e, PhaseProgress) for e in seen)


def test_the_network_probe_asks_a_real_server_and_gives_up_on_a_closed_port(monkeypatch) -> None:
    """A HEAD request to a local HTTP server answers True; a port nobody listens on False,
    at once; GENDER_DESKTOP_OFFLINE answers False without asking."""
    import http.server
    import socket
    import threading

    monkeypatch.setenv("GENDER_DESKTOP_OFFLINE", "1")
    assert not weights_check.network_reachable("http://127.0.0.1:9/x.pth", 2)
    monkeypatch.delenv("GENDER_DESKTOP_OFFLINE")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert weights_check.network_reachable(f"http://127.0.0.1:{server.server_port}/", 2)
    finally:
        server.shutdown()
        server.server_close()
    with socket.socket() as probe:  # a free port, closed again: nobody listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not weights_check.network_reachable(f"http://127.0.0.1:{port}/x.pth", 2)


def test_the_plan_says_where_the_weights_come_from_and_how_big_they_are(empty_hub) -> None:
    """A fake cached file named as torchvision names it: 'from the cache' with its path and
    size; not cached: a download of the table's size, or (no network) what to choose."""
    plan = weights_check.plan("vgg16", "imagenet", None)
    assert plan.available is None and plan.needs_network
    assert "not cached (528 MB)" in plan.text and "download.pytorch.org" in plan.text
    online = weights_check.plan("vgg16", "imagenet", True)
    assert online.text == (
        "ImageNet weights will be downloaded (528 MB) from download.pytorch.org into the cache"
    )
    offline = weights_check.plan("vgg16", "imagenet", False)
    assert offline.available is False
    assert offline.text == (
        "ImageNet weights are not cached and no network: choose random weights or a local file"
    )
    assert "random initialisation" in offline.advice and "vgg16-397923af.pth" in offline.advice
    fake = empty_hub / "checkpoints" / "vgg16-397923af.pth"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"x" * (3 << 20))
    cached = weights_check.plan("vgg16", "imagenet", False)  # the network does not matter now
    assert cached.available and not cached.needs_network
    assert cached.text == f"ImageNet weights from the cache: {fake}, 3.0 MB"
    weights_check.require("vgg16", "imagenet", probe=lambda url: pytest.fail("asked the network"))


def test_the_plan_checks_local_files_and_runs(tmp_path: Path) -> None:
    missing = weights_check.plan("resnet18", f"file:{tmp_path / 'nope.pth'}", None)
    assert missing.available is False and "no such weights file" in missing.text
    file = tmp_path / "mine.pth"
    file.write_bytes(b"y" * 2048)
    assert weights_check.plan("resnet18", f"file:{file}", None).text == (
        f"starting from the weights file {file}, 2 KB"
    )
    empty_run = tmp_path / "run"
    empty_run.mkdir()
    plan = weights_check.plan("resnet18", f"run:{empty_run}", None)
    assert plan.available is False and "has no checkpoint" in plan.text
    assert weights_check.plan("resnet18", "random", None).text == (
        "starting from random initialisation"
    )


def test_the_table_sizes_and_urls_are_torchvisions() -> None:
    """The torch-free table's sizes and download addresses (what the plan line says) are
    torchvision's own."""
    from torchvision.models import get_weight

    from gender_desktop.ml import backbones

    for entry in backbones.BACKBONES.values():
        if entry.pretrained:
            official = get_weight(entry.imagenet_weights)
            assert weights_check.imagenet_file_url(entry.name) == official.url
            assert entry.imagenet_mb == pytest.approx(official.meta["_file_size"])


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
    assert not any(empty_hub.rglob("*.pth"))
