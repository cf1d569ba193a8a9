"""The training settings form: every engine option, with the usual recipe as defaults and a
tooltip that explains each. It builds a :class:`TrainConfig` and shows one (``set_config``:
"Train again with these settings"). Its defaults are the config's own defaults and its
backbones the backbone table's, so the form, the CLI and the engine cannot disagree."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.ml import backbones
from gender_desktop.ml.config import (
    AMP_DTYPES,
    MOMENTUM_OPTIMIZERS,
    OPTIMIZERS,
    POOLINGS,
    SCHEDULES,
    AugmentConfig,
    ModelConfig,
    TrainConfig,
)
from gender_desktop.ui import file_dialogs
from gender_desktop.ui.fields import ComboBox, DoubleSpinBox, SpinBox

SCOPE_TITLES = {
    "head": "Head only (backbone frozen)",
    "last_block": "Last block + head (fine-tune)",
    "all": "Whole network",
}
DEFAULTS = TrainConfig(data="")
DDP_DEVICE = "ddp"  # the device list's "All N GPUs (DDP)" item
DDP_COUNT_ROLE = Qt.ItemDataRole.UserRole + 1  # its number of GPUs


def ddp_device_text(count: int) -> str:
    return f"All {count} GPUs (DDP)"


WEIGHTS = [
    ("ImageNet (torchvision)", "imagenet"),
    ("Random initialisation", "random"),
    ("Local weights file…", "file"),
    ("A previous run…", "run"),
]


def _spin(low: float, high: float, value: float, decimals: int = 0, step: float = 1):
    if decimals:
        box = DoubleSpinBox(decimals=decimals, minimum=low, maximum=high, singleStep=step)
    else:
        box = SpinBox(minimum=int(low), maximum=int(high), singleStep=int(step))
    box.setValue(value)
    return box


class TrainingForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        d, m, a = DEFAULTS, DEFAULTS.model, DEFAULTS.augment
        self.backbone = ComboBox()
        for entry in backbones.BACKBONES.values():
            self.backbone.addItem(entry.title, entry.name)
            self.backbone.setItemData(
                self.backbone.count() - 1, entry.note, Qt.ItemDataRole.ToolTipRole
            )
        self.backbone.setCurrentIndex(self.backbone.findData(m.backbone))
        self.backbone.setToolTip(
            "The network under the new head. VGG16 is the classic recipe; ResNet18 and "
            "MobileNetV2 make CPU training practical; Levi & Hassner's CNN trains from scratch."
        )
        self.scope = ComboBox()
        self.scope.setToolTip(
            "Which layers train. Frozen layers keep their weights and BatchNorm statistics exactly."
        )
        # Random weights in frozen layers never learn anything: warn, and offer the fix.
        self.scope_warning = QLabel(
            "⚠ Random initialisation with frozen layers: they keep their random weights "
            "and never learn, so the model can learn little. Train the whole network instead."
        )
        self.scope_warning.setWordWrap(True)
        self.whole_network = QPushButton("Train the whole network")
        self.whole_network.setToolTip("Switch “Trains” to the whole network")
        self.pooling = ComboBox()
        self.pooling.addItems(POOLINGS)
        self.pooling.setCurrentText(m.pooling)
        self.pooling.setToolTip("How the last feature map becomes a vector for the head")
        self.hidden = QLineEdit(",".join(str(h) for h in m.hidden))
        self.hidden.setToolTip("Hidden layer sizes of the head, comma-separated; empty for none")
        self.dropout = _spin(0, 0.95, m.dropout, 2, 0.05)
        self.dropout.setToolTip("Dropout after each hidden layer")
        self.input_size = _spin(32, 512, m.input_size, 0, 16)
        self.input_size.setToolTip("Images are resized (shorter side) and centre-cropped to this")
        self.weights = ComboBox()
        for text, value in WEIGHTS:
            self.weights.addItem(text, value)
        self.weights.setCurrentIndex(self.weights.findData(d.weights))
        self.weights.setToolTip(
            "Where training starts. Nothing falls back silently: ImageNet "
            "weights that cannot be had give a clear message."
        )
        self.weights_path = QLineEdit(placeholderText="path to a .pth file or a run folder")
        self.browse = QPushButton("Browse…")
        self.optimizer = ComboBox()
        self.optimizer.addItems(OPTIMIZERS)
        self.optimizer.setCurrentText(d.optimizer)
        self.optimizer.setToolTip("SGD with momentum (the usual recipe), Adam or AdamW")
        self.lr = _spin(1e-6, 1.0, d.lr, 6, 1e-4)
        self.lr.setToolTip("Learning rate")
        self.momentum = _spin(0, 0.999, d.momentum, 3, 0.05)
        self.weight_decay = _spin(0, 1, d.weight_decay, 6, 1e-4)
        self.weight_decay.setToolTip("L2 penalty on the trained weights")
        self.batch_size = _spin(1, 4096, d.batch_size)
        self.batch_size.setToolTip("Images per step. Lower it if the GPU runs out of memory.")
        self.auto_batch = QCheckBox("Largest batch that fits")
        self.auto_batch.setChecked(d.auto_batch_size)
        self.auto_batch.setToolTip(
            "Probe the GPU with real training steps, doubling the batch until it runs out of "
            "memory; the run records the size chosen (64 on a CPU)"
        )
        self.auto_batch.toggled.connect(lambda on: self.batch_size.setEnabled(not on))
        self.epochs = _spin(1, 1000, d.epochs)
        self.epochs.setToolTip("Passes over the train split")
        self.schedule = ComboBox()
        self.schedule.addItems(SCHEDULES)
        self.schedule.setCurrentText(d.schedule)
        self.schedule.setToolTip(
            "Learning-rate schedule: step (times gamma every step size epochs), cosine, or "
            "times gamma when the validation loss stops improving (plateau)"
        )
        self.step_size = _spin(1, 1000, d.step_size)
        self.step_size.setToolTip("Step schedule: epochs between learning-rate steps")
        self.gamma = _spin(0.01, 1, d.gamma, 2, 0.05)
        self.gamma.setToolTip("Step and plateau schedules: the learning-rate factor")
        self.patience = _spin(0, 100, d.patience)
        self.patience.setToolTip(
            "Early stopping: stop after this many epochs without a better "
            "kept epoch and restore its weights (0: off)"
        )
        self.best_metric = ComboBox()
        self.best_metric.addItem("Lowest val loss", "val_loss")
        self.best_metric.addItem("Highest val accuracy", "val_accuracy")
        self.best_metric.setCurrentIndex(self.best_metric.findData(d.best_metric))
        self.best_metric.setToolTip(
            "Which epoch's weights are kept as best.pt (evaluated, exported and used to "
            "predict), and what early stopping watches"
        )
        self.fit_on_val = QCheckBox("Also train on val (final model)")
        self.fit_on_val.setChecked(d.fit_on == "train+val")
        self.fit_on_val.setToolTip(
            "For the final model of a finished comparison: trains on train + val, keeps the "
            "last epoch (nothing is held out to choose with) and evaluates once on test"
        )
        self.seed = _spin(0, 2**31 - 1, d.seed)
        self.seed.setToolTip("The same seed gives the same run on the same device")
        self.flip = QCheckBox("Horizontal flip")
        self.flip.setChecked(a.flip)
        self.rotation = _spin(0, 45, a.rotation, 1, 1)
        self.rotation.setToolTip("Random rotation up to ± this many degrees (train split only)")
        self.zoom = _spin(0, 0.5, a.zoom, 2, 0.05)
        self.zoom.setToolTip("Random zoom in or out by up to this fraction (train split only)")
        self.brightness = _spin(0, 0.9, a.brightness, 2, 0.05)
        self.brightness.setToolTip("Random brightness change up to this fraction")
        self.device = ComboBox()
        self.device.addItems(["auto", "cuda", "cpu", "mps"])
        self.device.setCurrentText(d.device)
        self.device.setToolTip(
            "auto uses CUDA when present, then Apple MPS, then the CPU; with several GPUs, "
            '"All N GPUs (DDP)" trains on all of them at once (one process each, torchrun)'
        )
        self.amp = QCheckBox("Mixed precision (CUDA)")
        self.amp.setChecked(d.amp)
        self.amp.setToolTip("bf16 (or fp16 with a grad scaler) autocast and channels-last on CUDA")
        self.amp_dtype = ComboBox()
        self.amp_dtype.addItems(list(AMP_DTYPES))
        self.amp_dtype.setCurrentText(d.amp_dtype)
        self.amp_dtype.setToolTip(
            "auto: bf16 where the GPU has it, else fp16 with a grad scaler (fp32 on a CPU); "
            "bf16 or fp16 force that type"
        )
        self.compile = QCheckBox("Compile the model (torch.compile)")
        self.compile.setChecked(d.compile)
        self.compile.setToolTip(
            "Compile before training: maybe faster on a GPU; the first steps wait for it"
        )
        self.workers = _spin(0, 256, d.workers)
        self.workers.setToolTip("Processes that decode the images once (0: one per CPU core)")
        self.feature_cache = QCheckBox("Frozen-backbone features once")
        self.feature_cache.setChecked(d.feature_cache)
        self.feature_cache.setToolTip(
            "Head only, without augmentation: run the frozen backbone once instead of every "
            "epoch (the same result, many times faster)"
        )

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
                    ("", self._warning_row()),
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
                    ("", self.auto_batch),
                    ("Epochs", self.epochs),
                    ("Schedule", self.schedule),
                    ("Step size", self.step_size),
                    ("Gamma", self.gamma),
                    ("Best epoch by", self.best_metric),
                    ("Early stopping", self.patience),
                    ("", self.fit_on_val),
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
        layout.addWidget(
            group(
                "Running",
                [
                    ("Device", self.device),
                    ("", self.amp),
                    ("Precision", self.amp_dtype),
                    ("", self.compile),
                    ("Decode workers", self.workers),
                    ("", self.feature_cache),
                ],
            )
        )
        layout.addStretch(1)

        self._backbone_shown = self.backbone_name()
        self.backbone.currentIndexChanged.connect(self._backbone_changed)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.weights.currentIndexChanged.connect(self._check_combinations)
        self.scope.currentIndexChanged.connect(self._check_combinations)
        self.backbone.currentIndexChanged.connect(self._check_combinations)
        self.optimizer.currentIndexChanged.connect(self._check_combinations)
        self.whole_network.clicked.connect(
            lambda: self.scope.setCurrentIndex(self.scope.findData("all"))
        )
        self.browse.clicked.connect(self._browse)
        self._fill_scopes(self.backbone_name())
        self._weights_changed()
        self._check_combinations()
        for combo in self.findChildren(QComboBox):
            combo.currentIndexChanged.connect(self.changed)
        for box in self.findChildren(QSpinBox) + self.findChildren(QDoubleSpinBox):
            box.valueChanged.connect(self.changed)
        for check in self.findChildren(QCheckBox):
            check.toggled.connect(self.changed)
        self.weights_path.textChanged.connect(self.changed)
        self.hidden.textChanged.connect(self.changed)

    def backbone_name(self) -> str:
        return self.backbone.currentData()

    def weights_source(self) -> str:
        """The starting weights as the settings write them: imagenet, random, file:<path>,
        run:<folder> (an empty path where none is chosen yet)."""
        kind = self.weights.currentData()
        if kind in ("file", "run"):
            return f"{kind}:{self.weights_path.text().strip()}"
        return kind

    def _warning_row(self) -> QWidget:
        row = QWidget()
        layout = QVBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scope_warning)
        layout.addWidget(self.whole_network, 0, Qt.AlignmentFlag.AlignLeft)
        self.warning_row = row
        return row

    def _check_combinations(self) -> None:
        """Settings that make no sense together: random weights in frozen layers (warn and
        offer the whole network), momentum with an optimizer that has none (greyed out, the
        tooltip says why; config.MOMENTUM_OPTIMIZERS is the one list of which use it)."""
        frozen_random = self.weights.currentData() == "random" and self.scope.currentData() != "all"
        self.warning_row.setVisible(frozen_random)
        uses_momentum = self.optimizer.currentText() in MOMENTUM_OPTIMIZERS
        self.momentum.setEnabled(uses_momentum)
        label = self.momentum.parentWidget().layout().labelForField(self.momentum)
        if label is not None:
            label.setEnabled(uses_momentum)
        self.momentum.setToolTip(
            "SGD momentum"
            if uses_momentum
            else f"Not used by {self.optimizer.currentText()}: Adam and AdamW keep their own "
            "moving averages (betas); momentum applies to SGD only"
        )

    def _backbone_changed(self) -> None:
        """New backbone: its blocks as scopes; its own input size where the user kept the
        previous backbone's; random weights for one that has no ImageNet weights."""
        previous = backbones.get(self._backbone_shown)
        entry = backbones.get(self.backbone_name())
        self._backbone_shown = entry.name
        if self.input_size.value() == previous.default_input_size:
            self.input_size.setValue(entry.default_input_size)
        self.input_size.setMinimum(entry.min_input_size)
        imagenet = self.weights.model().item(self.weights.findData("imagenet"))
        imagenet.setEnabled(entry.pretrained)
        if not entry.pretrained and self.weights.currentData() == "imagenet":
            self.weights.setCurrentIndex(self.weights.findData("random"))
        elif (
            entry.pretrained and not previous.pretrained and self.weights.currentData() == "random"
        ):
            self.weights.setCurrentIndex(self.weights.findData("imagenet"))
        # Switching between a pretrained and a from-scratch backbone: that one's usual scope.
        changed_kind = previous.pretrained != entry.pretrained
        self._fill_scopes(entry.name, default=entry.default_scope if changed_kind else None)

    def _fill_scopes(self, backbone: str, default: str | None = None) -> None:
        entry = backbones.get(backbone)
        current = default or self.scope.currentData()
        self.scope.blockSignals(True)
        self.scope.clear()
        for value in ("head", "last_block", "all"):
            self.scope.addItem(SCOPE_TITLES[value], value)
        for block in entry.blocks[1:-1]:
            self.scope.addItem(f"From {block} on", f"from:{block}")
        index = self.scope.findData(current if current else DEFAULTS.model.scope)
        self.scope.setCurrentIndex(max(index, 0))
        self.scope.blockSignals(False)

    def _weights_changed(self) -> None:
        needs_path = self.weights.currentData() in ("file", "run")
        self.weights_path.setEnabled(needs_path)
        self.browse.setEnabled(needs_path)

    def _browse(self) -> None:
        if self.weights.currentData() == "file":
            path = file_dialogs.open_file(
                self, "weights", "Weights file", "PyTorch weights (*.pth *.pt)"
            )
        else:
            path = file_dialogs.choose_folder(self, "runs", "A previous run folder")
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
                self.backbone_name(),
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
            step_size=self.step_size.value(),
            gamma=self.gamma.value(),
            patience=self.patience.value(),
            best_metric=self.best_metric.currentData(),
            fit_on="train+val" if self.fit_on_val.isChecked() else "train",
            seed=self.seed.value(),
            device="cuda" if self.ddp_processes() else self.device.currentText(),
            amp=self.amp.isChecked(),
            amp_dtype=self.amp_dtype.currentText(),
            compile=self.compile.isChecked(),
            auto_batch_size=self.auto_batch.isChecked(),
            workers=self.workers.value(),
            feature_cache=self.feature_cache.isChecked(),
        )
        config.validate()
        return config

    def set_gpu_count(self, count: int) -> None:
        """Offer "All N GPUs (DDP)" where more than one CUDA GPU is visible (the device
        probe's count), and take it away where not."""
        at = self.device.findData(DDP_DEVICE)
        if at >= 0 and self.device.itemText(at) == ddp_device_text(count):
            return
        chosen = self.device.currentData() == DDP_DEVICE
        if at >= 0:
            self.device.removeItem(at)
        if count > 1:
            self.device.addItem(ddp_device_text(count), DDP_DEVICE)
            self.device.setItemData(self.device.count() - 1, count, DDP_COUNT_ROLE)
            if chosen:
                self.device.setCurrentIndex(self.device.count() - 1)

    def ddp_processes(self) -> int:
        """The number of GPUs to train on at once (one torchrun process each); 0: one
        process on the chosen device."""
        if self.device.currentData() != DDP_DEVICE:
            return 0
        return int(self.device.currentData(DDP_COUNT_ROLE))

    def set_config(self, config: TrainConfig) -> None:
        """Show ``config``'s settings ("Train again with these settings"); its dataset is
        not the form's business (the panel trains on the open dataset)."""
        m, a = config.model, config.augment
        self.backbone.setCurrentIndex(max(self.backbone.findData(m.backbone), 0))
        self._fill_scopes(m.backbone, default=m.scope)
        if self.scope.findData(m.scope) < 0:  # from:<block> of another backbone's names
            self.scope.addItem(m.scope, m.scope)
        self.scope.setCurrentIndex(self.scope.findData(m.scope))
        self.pooling.setCurrentText(m.pooling)
        self.hidden.setText(",".join(str(h) for h in m.hidden))
        self.dropout.setValue(m.dropout)
        self.input_size.setValue(m.input_size)
        kind, _, path = config.weights.partition(":")
        self.weights.setCurrentIndex(max(self.weights.findData(kind), 0))
        self.weights_path.setText(path)
        for name in ("lr", "momentum", "weight_decay", "batch_size", "epochs", "step_size"):
            getattr(self, name).setValue(getattr(config, name))
        for name in ("gamma", "patience", "seed", "workers"):
            getattr(self, name).setValue(getattr(config, name))
        self.optimizer.setCurrentText(config.optimizer)
        self.schedule.setCurrentText(config.schedule)
        self.best_metric.setCurrentIndex(max(self.best_metric.findData(config.best_metric), 0))
        self.device.setCurrentText(config.device)
        self.amp.setChecked(config.amp)
        self.amp_dtype.setCurrentText(config.amp_dtype)
        self.compile.setChecked(config.compile)
        self.auto_batch.setChecked(config.auto_batch_size)
        self.fit_on_val.setChecked(config.fit_on == "train+val")
        self.feature_cache.setChecked(config.feature_cache)
        self.flip.setChecked(a.flip)
        self.rotation.setValue(a.rotation)
        self.zoom.setValue(a.zoom)
        self.brightness.setValue(a.brightness)
