"""The Train panel and starting weights that cannot be had: the plan line says where the
weights come from, their size, and what to choose instead; Start with weights known missing
fails at once, before any child process or decoding, with the engine's own message."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path

import pytest

from gender_desktop.ml import weights_check
from gender_desktop.paths import data_dir
from gender_desktop.ui.training.form import TrainingForm


@pytest.fixture
def torch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def demo_panel(make_window, qtbot, torch_home):
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    panel = window.training
    qtbot.waitUntil(lambda: panel._probe is None and panel._network is not None)
    return window, panel


def test_default_start_without_weights_fails_at_once_saying_what_to_choose(
    demo_panel, qtbot, warnings_shown
):
    _window, panel = demo_panel
    plan = panel.plan.text()
    assert "VGG16" in plan and "ImageNet weights are not cached and no network" in plan
    assert "choose random weights or a local file" in plan
    assert "random initialisation" in panel.plan.toolTip()
    started = time.perf_counter()
    with qtbot.waitSignal(panel.run_finished, timeout=5_000) as finished:
        panel.start_button.click()
    assert time.perf_counter() - started < 2
    message = finished.args[0]["failed"]
    assert "ImageNet weights for VGG16 (vgg16-397923af.pth, 528 MB)" in message
    assert "random initialisation" in message and "local weights file" in message
    assert panel.progress.text() == (
        "Failed: ImageNet weights are not cached and no network: choose random weights or a "
        "local file"
    )
    assert panel.client.pid is None, "a training process was started"
    assert warnings_shown == [("Training failed", message)]
    assert panel.start_button.isEnabled() and panel.form.isEnabled()
    runs = data_dir() / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


def test_the_plan_line_names_the_cached_file_and_its_size(demo_panel, torch_home):
    _window, panel = demo_panel
    torch_home.mkdir(parents=True)
    (torch_home / "vgg16-397923af.pth").write_bytes(b"w" * (5 << 20))
    panel.form.input_size.setValue(192)  # any change of the form re-reads the plan
    assert (
        f"ImageNet weights from the cache: {torch_home / 'vgg16-397923af.pth'}, 5.0 MB"
        in panel.plan.text()
    )
    assert panel.plan.toolTip() == ""


def test_the_plan_line_asks_a_reachable_server_in_the_background(
    demo_panel, qtbot, monkeypatch, tmp_path
):
    """With a download server answering (a local HTTP server standing in for
    download.pytorch.org), the plan says the weights will be downloaded, and how big."""
    _window, panel = demo_panel
    served = tmp_path / "models"
    served.mkdir()
    (served / "resnet18-f37072fd.pth").write_bytes(b"z" * 1000)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.delenv("GENDER_DESKTOP_OFFLINE")
    monkeypatch.setattr(
        weights_check, "IMAGENET_BASE_URL", f"http://127.0.0.1:{server.server_port}/"
    )
    try:
        panel._network, panel._network_at = None, None  # as never asked (a new session)
        panel.form.backbone.setCurrentIndex(panel.form.backbone.findData("resnet18"))
        assert "checking whether 127.0.0.1" in panel.plan.text()  # not blocked on the answer
        expected = f"will be downloaded (44.7 MB) from 127.0.0.1:{server.server_port}"
        qtbot.waitUntil(lambda: expected in panel.plan.text(), timeout=10_000)
    finally:
        server.shutdown()
        server.server_close()


def test_random_weights_in_frozen_layers_warn_and_one_click_trains_the_whole_network(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    form.show()
    form.weights.setCurrentIndex(form.weights.findData("random"))
    for scope in ("head", "last_block"):
        form.scope.setCurrentIndex(form.scope.findData(scope))
        assert form.warning_row.isVisible()
        assert "never learn" in form.scope_warning.text()
    form.whole_network.click()
    assert form.scope.currentData() == "all" and not form.warning_row.isVisible()
    form.scope.setCurrentIndex(form.scope.findData("head"))
    form.weights.setCurrentIndex(form.weights.findData("imagenet"))  # frozen ImageNet: fine
    assert not form.warning_row.isVisible()


def test_momentum_is_greyed_out_with_adam_and_says_why(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    form.show()
    assert form.optimizer.currentText() == "sgd" and form.momentum.isEnabled()
    for name in ("adam", "adamw"):
        form.optimizer.setCurrentText(name)
        assert not form.momentum.isEnabled()
        assert f"Not used by {name}" in form.momentum.toolTip()
    form.optimizer.setCurrentText("sgd")
    assert form.momentum.isEnabled() and form.momentum.toolTip() == "SGD momentum"
