"""The Train form set up for a run that takes seconds on a CPU (the UI tests' usual run)."""

from __future__ import annotations


def tiny_form(
    form,
    scope: str = "all",
    batch: int = 16,
    optimizer: str = "adam",
    epochs: int | None = None,
    flip: bool | None = None,
) -> None:
    """ResNet18 at 32 px from random weights, a 16-unit head, on the CPU."""
    form.backbone.setCurrentIndex(form.backbone.findData("resnet18"))
    form.scope.setCurrentIndex(form.scope.findData(scope))
    form.input_size.setValue(32)
    form.weights.setCurrentIndex(form.weights.findData("random"))
    form.optimizer.setCurrentText(optimizer)
    form.hidden.setText("16")
    form.batch_size.setValue(batch)
    form.device.setCurrentText("cpu")
    if epochs is not None:
        form.epochs.setValue(epochs)
    if flip is not None:
        form.flip.setChecked(flip)
