"""Small dialogs: export labels, split settings, dataset problems, about."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gender_desktop import __version__
from gender_desktop.data.dataset import ImportReport
from gender_desktop.data.sources import printable
from gender_desktop.data.splits import SplitSpec


class ExportDialog(QDialog):
    """Choose the label coding for a CelebA-style CSV."""

    def __init__(self, edits: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export labels")
        self.minus_one = QRadioButton("-1 / 1 (as the official CelebA files)")
        self.zero_one = QRadioButton("0 / 1")
        self.minus_one.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.minus_one)
        group.addButton(self.zero_one)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"Writes image_id, Male and every attribute, with your {edits:,} edit(s) applied.\n"
                "Coding of Male and the yes/no attributes:"
            )
        )
        layout.addWidget(self.minus_one)
        layout.addWidget(self.zero_one)
        layout.addWidget(buttons)

    def coding(self) -> str:
        return "-1/1" if self.minus_one.isChecked() else "0/1"


class SplitDialog(QDialog):
    """Ratios and seed of the seeded stratified split."""

    def __init__(self, spec: SplitSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Split settings")
        self.train = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.val = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.test = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=1.0, singleStep=0.05)
        self.seed = QSpinBox(minimum=0, maximum=2**31 - 1)
        self.train.setValue(spec.train)
        self.val.setValue(spec.val)
        self.test.setValue(spec.test)
        self.seed.setValue(spec.seed)
        self.error = QLabel()
        self.error.setStyleSheet("color: #d64545")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(
            QLabel(
                "Each class is split in these proportions, so every split keeps the "
                "dataset's male/female balance. The split is stored with the dataset."
            )
        )
        form.addRow("Train", self.train)
        form.addRow("Validation", self.val)
        form.addRow("Test", self.test)
        form.addRow("Seed", self.seed)
        form.addRow(self.error)
        form.addRow(self.buttons)
        for box in (self.train, self.val, self.test):
            box.valueChanged.connect(self._validate)
        self._validate()

    def _validate(self) -> None:
        total = self.train.value() + self.val.value() + self.test.value()
        ok = abs(total - 1.0) < 1e-6
        self.error.setText("" if ok else f"The three parts add up to {total:.2f}, not 1.")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)

    def spec(self) -> SplitSpec:
        return SplitSpec(self.train.value(), self.val.value(), self.test.value(), self.seed.value())


class ProblemsDialog(QDialog):
    """Every missing, corrupt and skipped file of the import, with the reason."""

    def __init__(self, report: ImportReport, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Dataset problems")
        self.resize(720, 420)
        lines = [f"missing  {m}  (file not found)" for m in report.missing]
        lines += [f"corrupt  {name}  ({reason})" for name, reason in report.corrupt]
        lines += [f"skipped  {name}  ({reason})" for name, reason in report.skipped]
        lines += [f"warning  {w}" for w in report.warnings]
        lines = [printable(line) for line in lines]  # Qt would drop a name's undecodable bytes
        text = QPlainTextEdit("\n".join(lines) or "No problems found.")
        text.setReadOnly(True)
        summary = QLabel(
            f"{len(report.missing):,} missing · {len(report.corrupt):,} corrupt · "
            f"{len(report.skipped):,} skipped. These images are left out; the rest work normally."
        )
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(summary)
        layout.addWidget(text)
        layout.addWidget(buttons)


ABOUT_TEXT = f"""<h3>gender-desktop {__version__}</h3>
<p>Browse face datasets in their CelebA, UTKFace, Adience or folder layouts, fix their gender
labels by keyboard, and train VGG16, ResNet or MobileNet classifiers on them.</p>
<p>Label edits never modify your dataset files: they are kept, with their full history,
in the app's data folder.</p>"""
