"""The sweep dialog (ui/sweeps/dialog.py): the Train form's settings as the base, the run count
and the estimated time as a user sees them before starting."""

from __future__ import annotations

import json

from setups import tiny_config

from gender_desktop.ml.config import ModelConfig
from gender_desktop.ui.sweeps.dialog import SweepDialog


def _dialog(qtbot, tmp_path, **kwargs) -> SweepDialog:
    base = tiny_config(
        tmp_path / "data", model=ModelConfig("resnet18", "avg", (16,), 0.5, "head", 32)
    )
    dialog = SweepDialog(base, train_images=64, val_images=8, runs_root=tmp_path / "runs", **kwargs)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.speeds is not None, timeout=10_000)
    return dialog


def test_a_2_by_3_grid_is_6_runs_and_random_with_10_trials_is_10(qtbot, tmp_path):
    dialog = _dialog(qtbot, tmp_path)
    assert "scope" in dialog.fields and "lr" in dialog.fields  # the space's own key table
    assert not dialog.start_button.isEnabled()  # nothing swept yet
    dialog.fields["lr"].setText("1e-3,1e-4")
    dialog.fields["batch"].setText("32, 64,128")
    assert dialog.run_count() == 6
    assert dialog.count_label.text().startswith("<b>6 runs</b>")
    assert dialog.start_button.isEnabled() and not dialog.trials.isEnabled()
    dialog.fields["dropout"].setText("0.2:0.6")  # a range: a grid cannot take it
    assert dialog.run_count() == 0 and not dialog.start_button.isEnabled()
    assert "a grid takes lists of values, not ranges" in dialog.count_label.text()
    dialog.sampler.setCurrentIndex(dialog.sampler.findData("random"))
    dialog.trials.setValue(10)
    assert dialog.trials.isEnabled() and dialog.run_count() == 10
    assert dialog.count_label.text().startswith("<b>10 runs</b>")
    spec = dialog.build_spec()
    assert spec.sampler == "random" and spec.trials == 10 and spec.storage is None
    assert [p.key for p in spec.space] == ["lr", "batch", "dropout"]
    assert spec.base.model.scope == "head"


def test_a_bad_value_is_marked_in_its_field_and_blocks_start(qtbot, tmp_path):
    dialog = _dialog(qtbot, tmp_path)
    dialog.fields["lr"].setText("1e-3,-1")
    assert "border" in dialog.fields["lr"].styleSheet()
    assert "is refused" in dialog.fields["lr"].toolTip()
    assert not dialog.start_button.isEnabled()
    dialog.fields["lr"].setText("1e-3,1e-2")
    assert dialog.fields["lr"].styleSheet() == "" and dialog.start_button.isEnabled()
    assert dialog.study.placeholderText().startswith("data-")  # the study name it will get


def test_the_estimate_comes_from_earlier_similar_runs_or_says_unknown(qtbot, tmp_path):
    dialog = _dialog(qtbot, tmp_path)
    dialog.fields["lr"].setText("1e-3,1e-4")
    assert "unknown (no earlier head-only resnet18 run to go by)" in dialog.estimate_label.text()
    runs = tmp_path / "runs"
    earlier = runs / "20260101-000000-resnet18-head"
    earlier.mkdir(parents=True)
    config = tiny_config(
        tmp_path / "data", model=ModelConfig("resnet18", "avg", (16,), 0.5, "head", 32)
    )
    (earlier / "config.json").write_text(
        json.dumps({"settings": config.to_dict(), "device": "cpu"})
    )
    header = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second"
    (earlier / "metrics.csv").write_text(f"{header}\n1,0.6,0.5,0.6,0.5,0.001,1.0,72.0\n")
    again = _dialog(qtbot, tmp_path)
    again.fields["lr"].setText("1e-3,1e-4")
    again.fields["epochs"].setText("1,3")
    # 4 runs, 1 + 3 epochs twice = 8 epochs of (64 + 8) images at 72 img/s = 8 s
    text = again.estimate_label.text()
    assert "about 8 s (from the speed of 1 earlier similar run(s); plus one pass of the" in text
    again.fields["flip"].setText("on")  # augmented: the trunk runs every epoch, no such run
    assert "unknown (no earlier augmented head-only resnet18 run" in again.estimate_label.text()


def _earlier_run(tmp_path) -> None:
    """One earlier head-only run at 72 img/s on the dialog's 64 + 8 images: 1 s an epoch."""
    earlier = tmp_path / "runs" / "20260101-000000-resnet18-head"
    earlier.mkdir(parents=True)
    config = tiny_config(
        tmp_path / "data", model=ModelConfig("resnet18", "avg", (16,), 0.5, "head", 32)
    )
    (earlier / "config.json").write_text(
        json.dumps({"settings": config.to_dict(), "device": "cuda"})
    )
    header = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds,images_per_second"
    (earlier / "metrics.csv").write_text(f"{header}\n1,0.6,0.5,0.6,0.5,0.001,1.0,72.0\n")


def test_with_two_gpus_it_offers_one_trial_per_gpu_and_the_estimate_counts_them(qtbot, tmp_path):
    _earlier_run(tmp_path)
    dialog = _dialog(qtbot, tmp_path, device="cuda", gpus=2)
    dialog.show()
    assert dialog.per_gpu.isVisible()
    assert dialog.per_gpu.text() == "One trial per GPU (2 GPUs)" and dialog.per_gpu.isChecked()
    dialog.fields["lr"].setText("1e-3,1e-4,1e-5")
    dialog.fields["epochs"].setText("2")
    # 3 runs of 2 epochs, 2 at a time: two rounds of 2 s, not 6 s one after another
    assert dialog.count_label.text() == "<b>3 runs</b>, up to 2 at a time (one per GPU)"
    assert dialog.estimate_label.text().startswith("Estimated time: about 4 s (")
    assert "; 2 GPUs at once)" in dialog.estimate_label.text()
    assert dialog.workers() == 2
    dialog.per_gpu.setChecked(False)  # one at a time after all
    assert dialog.count_label.text() == "<b>3 runs</b>, one at a time"
    assert dialog.estimate_label.text().startswith("Estimated time: about 6 s (")
    assert dialog.workers() == 1


def test_with_one_gpu_or_none_there_is_no_per_gpu_choice(qtbot, tmp_path):
    for gpus in (0, 1):
        dialog = _dialog(qtbot, tmp_path, gpus=gpus)
        dialog.show()
        assert not dialog.per_gpu.isVisible() and dialog.workers() == 1
        dialog.fields["lr"].setText("1e-3,1e-4")
        assert dialog.count_label.text() == "<b>2 runs</b>, one at a time"


def test_the_train_panel_offers_per_gpu_trials_when_the_probe_names_two_gpus(make_window, qtbot):
    window = make_window()
    with qtbot.waitSignal(window.dataset_opened, timeout=60_000):
        window.open_demo()
    panel = window.training
    panel.set_device_text("CUDA · NVIDIA H200 ×2")  # what the device probe says on 2 GPUs
    dialog = panel.open_sweep_dialog()
    assert dialog.gpus == 2 and dialog.per_gpu.isChecked() and dialog.workers() == 2
    dialog.reject()
    panel.form.device.setCurrentText("cpu")  # the form asks for the CPU: no GPUs to spread on
    dialog = panel.open_sweep_dialog()
    assert dialog.gpus == 0 and dialog.workers() == 1
    dialog.reject()
