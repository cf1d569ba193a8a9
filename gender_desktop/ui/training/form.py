"""The training settings form: every engine option, with the usual recipe as defaults and a
tooltip that explains each. It only builds a :class:`TrainConfig`."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml.config import BACKBONES, AugmentConfig, ModelConfig, TrainConfig

BLOCKS = {
    "vgg16": ["block1", "block2", "block3", "block4", "block5"],
    "vgg16_bn": ["block1", "block2", "block3", "block4", "block5"],
    "resnet50": ["stem", "layer1", "layer2", "layer3", "layer4"],
    "resnet18": ["stem", "layer1", "layer2", "layer3", "layer4"],
    "mobilenet_v2": ["stage1", "stage2", "stage3", "stage4", "stage5"],
}
SCOPES = [
    ("Head only (backbone frozen)", "head"),
    ("Last block + head (fine-tune)", "last_block"),
    ("Whole network", "all"),
]
WEIGHTS = [
    ("ImageNet (torchvision)", "imagenet"),
    ("Random initialisation", "random"),
    ("Local weights file…", "file"),
    ("A previous run…", "run"),
]


def _spin(low: float, high: float, value: float, decimals: int = 0, step: float = 1):
    if decimals:
        box = QDoubleSpinBox(decimals=decimals, minimum=low, maximum=high, singleStep=step)
    else:
        box = QSpinBox(minimum=int(low), maximum=int(high), singleStep=int(step))
    box.setValue(value)
    return box


class TrainingForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.backbone = QComboBox()
        self.backbone.addItems(BACKBONES)
        self.backbone.setToolTip(
            "The ImageNet network under the new head. VGG16 is the classic "
            "recipe; ResNet18 and MobileNetV2 make CPU training practical."
        )
        self.scope = QComboBox()
        self.scope.setToolTip(
            "Which layers train. Frozen layers keep their weights and BatchNorm statistics exactly."
        )
        self.pooling = QComboBox()
        self.pooling.addItems(["avg", "max", "flatten"])
        self.pooling.setToolTip("How the last feature map becomes a vector for the head")
        self.hidden = QLineEdit("128")
        self.hidden.setToolTip("Hidden layer sizes of the head, comma-separated; empty for none")
        self.dropout = _spin(0, 0.95, 0.5, 2, 0.05)
        self.dropout.setToolTip("Dropout after each hidden layer")
        self.input_size = _spin(32, 512, 224, 0, 16)
        self.input_size.setToolTip("Images are resized (shorter side) and centre-cropped to this")
        self.weights = QComboBox()
        for text, value in WEIGHTS:
            self.weights.addItem(text, value)
        self.weights.setToolTip(
            "Where training starts. Nothing falls back silently: ImageNet "
            "weights that cannot be had give a clear message."
        )
        self.weights_path = QLineEdit(placeholderText="path to a .pth file or a run folder")
        self.browse = QPushButton("Browse…")
        self.optimizer = QComboBox()
        self.optimizer.addItems(["sgd", "adam", "adamw"])
        self.optimizer.setToolTip("SGD with momentum (the usual recipe), Adam or AdamW")
        self.lr = _spin(1e-6, 1.0, 1e-3, 6, 1e-4)
        self.lr.setToolTip("Learning rate")
        self.momentum = _spin(0, 0.999, 0.9, 3, 0.05)
        self.momentum.setToolTip("SGD momentum")
        self.weight_decay = _spin(0, 1, 0, 6, 1e-4)
        self.weight_decay.setToolTip("L2 penalty on the trained weights")
        self.batch_size = _spin(1, 4096, 32)
        self.batch_size.setToolTip("Images per step. Lower it if the GPU runs out of memory.")
        self.epochs = _spin(1, 1000, 10)
        self.epochs.setToolTip("Passes over the train split")
        self.schedule = QComboBox()
        self.schedule.addItems(["none", "step", "cosine", "plateau"])
        self.schedule.setToolTip(
            "Learning-rate schedule: step (x0.1 every 5 epochs), cosine, or "
            "reduce when the validation loss stops improving"
        )
        self.patience = _spin(0, 100, 0)
        self.patience.setToolTip(
            "Early stopping: stop after this many epochs without a better "
            "validation loss and restore the best weights (0: off)"
        )
        self.seed = _spin(0, 2**31 - 1, 0)
        self.seed.setToolTip("The same seed gives the same run on the same device")
        self.flip = QCheckBox("Horizontal flip")
        self.flip.setChecked(True)
        self.rotation = _spin(0, 45, 0, 1, 1)
        self.rotation.setToolTip("Random rotation up to ± this many degrees (train split only)")
        self.zoom = _spin(0, 0.5, 0, 2, 0.05)
        self.zoom.setToolTip("Random zoom in or out by up to this fraction (train split only)")
        self.brightness = _spin(0, 0.9, 0, 2, 0.05)
        self.brightness.setToolTip("Random brightness change up to this fraction")
        self.device = QComboBox()
        self.device.addItems(["auto", "cuda", "cpu", "mps"])
        self.device.setToolTip("auto uses CUDA when present, then Apple MPS, then the CPU")
        self.amp = QCheckBox("Mixed precision (CUDA)")
        self.amp.setChecked(True)
        self.amp.setToolTip("bf16 (or fp16 with a grad scaler) autocast and channels-last on CUDA")

        def group(title: str, rows: list[tuple[str, QWidget]]) -> QGroupBox:
            box = QGroupBox(title)
            form = QFormLayout(box)
            for label, widget in rows:
                form.addRow(label, widget) if label else form.addRow(widget)
            return box

        path_row = QWidget()
        path_layout = QHBoxLayout(path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        path_layout.addWidget(self.weights_path, 1)
        path_layout.addWidget(self.browse)
        layout = QVBoxLayout(self)
        layout.addWidget(
            group(
                "Model",
                [
                    ("Backbone", self.backbone),
                    ("Trains", self.scope),
                    ("Pooling", self.pooling),
                    ("Hidden layers", self.hidden),
                    ("Dropout", self.dropout),
                    ("Input size", self.input_size),
                ],
            )
        )
        layout.addWidget(group("Starting weights", [("Start from", self.weights), ("", path_row)]))
        layout.addWidget(
            group(
                "Optimisation",
                [
                    ("Optimizer", self.optimizer),
                    ("Learning rate", self.lr),
                    ("Momentum", self.momentum),
                    ("Weight decay", self.weight_decay),
                    ("Batch size", self.batch_size),
                    ("Epochs", self.epochs),
                    ("Schedule", self.schedule),
                    ("Early stopping", self.patience),
                    ("Seed", self.seed),
                ],
            )
        )
        layout.addWidget(
            group(
                "Augmentation",
                [
                    ("", self.flip),
                    ("Rotation (°)", self.rotation),
                    ("Zoom", self.zoom),
                    ("Brightness", self.brightness),
                ],
            )
        )
        layout.addWidget(group("Device", [("Device", self.device), ("", self.amp)]))
        layout.addStretch(1)

        self.backbone.currentTextChanged.connect(self._fill_scopes)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.browse.clicked.connect(self._browse)
        self._fill_scopes(self.backbone.currentText())
        self._weights_changed()
        for combo in self.findChildren(QComboBox):
            combo.currentIndexChanged.connect(self.changed)
        for box in self.findChildren(QSpinBox) + self.findChildren(QDoubleSpinBox):
            box.valueChanged.connect(self.changed)
        for check in self.findChildren(QCheckBox):
            check.toggled.connect(self.changed)
        self.weights_path.textChanged.connect(self.changed)
        self.hidden.textChanged.connect(self.changed)

    def _fill_scopes(self, backbone: str) -> None:
        current = self.scope.currentData()
        self.scope.blockSignals(True)
        self.scope.clear()
        for text, value in SCOPES:
            self.scope.addItem(text, value)
        for block in BLOCKS[backbone][1:-1]:
            self.scope.addItem(f"From {block} on", f"from:{block}")
        index = self.scope.findData(current if current else "last_block")
        self.scope.setCurrentIndex(max(index, 1 if current is None else 0))
        self.scope.blockSignals(False)

    def _weights_changed(self) -> None:
        needs_path = self.weights.currentData() in ("file", "run")
        self.weights_path.setEnabled(needs_path)
        self.browse.setEnabled(needs_path)

    def _browse(self) -> None:
        if self.weights.currentData() == "file":
            path, _ = QFileDialog.getOpenFileName(
                self, "Weights file", str(Path.home()), "PyTorch weights (*.pth *.pt)"
            )
        else:
            path = QFileDialog.getExistingDirectory(self, "A previous run folder")
        if path:
            self.weights_path.setText(path)

    def config(self, data: str) -> TrainConfig:
        """The settings as a validated config (ValueError says what is wrong)."""
        kind = self.weights.currentData()
        weights = kind
        if kind in ("file", "run"):
            if not self.weights_path.text().strip():
                raise ValueError("choose the weights file or run folder to start from")
            weights = f"{kind}:{self.weights_path.text().strip()}"
        try:
            hidden = tuple(int(h) for h in self.hidden.text().split(",") if h.strip())
        except ValueError as exc:
            raise ValueError("hidden layers must be whole numbers separated by commas") from exc
        config = TrainConfig(
            data=data,
            model=ModelConfig(
                self.backbone.currentText(),
                self.pooling.currentText(),
                hidden,
                self.dropout.value(),
                self.scope.currentData(),
                self.input_size.value(),
            ),
            augment=AugmentConfig(
                self.flip.isChecked(),
                self.rotation.value(),
                self.zoom.value(),
                self.brightness.value(),
            ),
            weights=weights,
            optimizer=self.optimizer.currentText(),
            lr=self.lr.value(),
            momentum=self.momentum.value(),
            weight_decay=self.weight_decay.value(),
            batch_size=self.batch_size.value(),
            epochs=self.epochs.value(),
            schedule=self.schedule.currentText(),
            patience=self.patience.value(),
            seed=self.seed.value(),
            device=self.device.currentText(),
            amp=self.amp.isChecked(),
        )
        config.validate()
        return config
