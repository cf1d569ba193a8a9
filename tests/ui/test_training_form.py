"""The Train form reads the backbone table and the config's defaults, and shows a saved config."""

from __future__ import annotations

from gender_desktop.ml.backbones import BACKBONES
from gender_desktop.ml.config import AugmentConfig, ModelConfig, TrainConfig
from gender_desktop.ui.training.form import TrainingForm


def test_the_form_starts_at_the_engines_defaults_and_lists_every_backbone(qtbot) -> None:
    form = TrainingForm()
    qtbot.addWidget(form)
    assert [form.backbone.itemData(i) for i in range(form.backbone.count())] == list(BACKBONES)
    assert form.config("data").to_dict() == TrainConfig(data="data").to_dict()


def test_choosing_levi_hassner_switches_to_random_weights_its_size_and_whole_network(qtbot):
    form = TrainingForm()
    qtbot.addWidget(form)
    form.backbone.setCurrentIndex(form.backbone.findData("levi_hassner"))
    config = form.config("data")
    assert (config.weights, config.model.scope, config.model.input_size) == ("random", "all", 227)
    imagenet = form.weights.model().item(form.weights.findData("imagenet"))
    assert not imagenet.isEnabled()
    form.backbone.setCurrentIndex(form.backbone.findData("resnet18"))
    config = form.config("data")
    assert (config.weights, config.model.scope, config.model.input_size) == (
        "imagenet",
        "last_block",
        224,
    )


def test_set_config_shows_every_setting_of_a_saved_run(qtbot) -> None:
    form = TrainingForm()
    qtbot.addWidget(form)
    saved = TrainConfig(
        data="data",
        model=ModelConfig("mobilenet_v2", "max", (64, 32), 0.25, "from:stage3", 160),
        augment=AugmentConfig(False, 10.0, 0.1, 0.2),
        weights="run:/somewhere/run",
        optimizer="adamw",
        lr=3e-4,
        momentum=0.8,
        weight_decay=1e-4,
        batch_size=64,
        epochs=7,
        schedule="step",
        step_size=3,
        gamma=0.5,
        patience=2,
        best_metric="val_accuracy",
        fit_on="train+val",
        seed=11,
        device="cpu",
        amp=False,
        amp_dtype="fp16",
        compile=True,
        auto_batch_size=True,
        workers=3,
        feature_cache=False,
    )
    form.set_config(saved)
    assert form.config("data").to_dict() == saved.to_dict()
    assert not form.batch_size.isEnabled()  # the probe chooses it


def wheel(widget, clicks: int = -2) -> bool:
    """Turn the mouse wheel over ``widget`` (negative: towards the user, scrolling down);
    whether the widget took the event. (Qt passes a real wheel event that a widget ignores on
    to its parents, here the scroll area; a synthetic one goes to the receiver only.)"""
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    centre = QPointF(widget.rect().center())
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120 * clicks),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


def test_the_wheel_scrolls_the_settings_and_changes_only_a_focused_field(make_window, qtbot):
    """Two wheel clicks over the learning rate turned 0.001 into 0.0008 while scrolling."""
    window = make_window()
    window.resize(1000, 500)  # the settings do not fit: they scroll
    window.tabs.setCurrentWidget(window.training)
    form = window.training.form
    for field in (form.lr, form.optimizer, form.batch_size, form.dropout):
        kept = field.value() if hasattr(field, "value") else field.currentIndex()
        took = wheel(field)
        now = field.value() if hasattr(field, "value") else field.currentIndex()
        assert now == kept and not took and not field.hasFocus()  # on to the scroll area
    form.lr.setFocus()
    qtbot.waitUntil(form.lr.hasFocus, timeout=2_000)
    assert wheel(form.lr, clicks=1) and form.lr.value() > 0.001  # a focused field takes it
