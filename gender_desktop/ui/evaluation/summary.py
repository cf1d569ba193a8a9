"""The Evaluate panel's summary: metric cards, the clickable confusion matrix, per-class
numbers and the ROC curve with the current threshold marked."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.durations import duration_text
from gender_desktop.ml.metrics import operating_point
from gender_desktop.ui.elided import ElidedLabel
from gender_desktop.ui.plots import ThemedPlot

# Confusion cells: (label, prediction) -> the gallery selection they open.
CELLS = {
    ("Male", "Male"): "male_correct",
    ("Male", "Female"): "male_as_female",
    ("Female", "Male"): "female_as_male",
    ("Female", "Female"): "female_correct",
}


class MetricCard(QFrame):
    """A big number with its name and a one-line explanation in the tooltip."""

    def __init__(self, title: str, tip: str) -> None:
        super().__init__(objectName="metricCard")
        self.value = QLabel("–", objectName="metricValue")
        self.title = QLabel(title, objectName="metricTitle")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(0)
        layout.addWidget(self.value)
        layout.addWidget(self.title)
        self.setToolTip(tip)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, text: str) -> None:
        self.value.setText(text)


class MetricCards(QWidget):
    CARDS = (
        ("accuracy", "Accuracy", "Share of images classified correctly"),
        ("precision", "Precision (Male)", "Of the images called Male, the share that are Male"),
        ("recall", "Recall (Male)", "Of the Male images, the share called Male"),
        ("f1", "F1 (Male)", "Harmonic mean of precision and recall for Male"),
        (
            "auc",
            "ROC AUC",
            "Chance that a random Male image scores above a random Female one "
            "(threshold-free; 0.5 is chance)",
        ),
        (
            "balanced_accuracy",
            "Balanced accuracy",
            "Mean of the Male and Female recalls: not flattered by an unbalanced test set",
        ),
        ("n", "Images", "Images in the evaluated split that could be read"),
        ("train_time", "Training time", "Sum of the epochs' times in metrics.csv"),
    )

    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.cards: dict[str, MetricCard] = {}
        for key, title, tip in self.CARDS:
            card = MetricCard(title, tip)
            self.cards[key] = card
            layout.addWidget(card)

    def show_values(self, metrics: dict, auc: float | None, train_seconds: float | None) -> None:
        for key in ("accuracy", "precision", "recall", "f1", "balanced_accuracy"):
            self.cards[key].set_value(f"{metrics[key]:.2%}")
        self.cards["auc"].set_value("–" if auc is None else f"{auc:.4f}")
        self.cards["n"].set_value(f"{metrics['n']:,}")
        self.cards["train_time"].set_value(duration_text(train_seconds))

    def clear(self) -> None:
        for card in self.cards.values():
            card.set_value("–")


class ConfusionMatrix(QWidget):
    """Rows: the label; columns: the prediction. Each cell is a button that opens its images."""

    cell_clicked = Signal(str)  # a CELLS value

    def __init__(self) -> None:
        super().__init__()
        grid = QGridLayout(self)
        grid.setSpacing(4)
        grid.setContentsMargins(0, 0, 0, 0)
        header = QLabel("Predicted →", objectName="sectionTitle")
        header.setAlignment(Qt.AlignmentFlag.AlignCenter)
        grid.addWidget(header, 0, 1, 1, 2)
        grid.addWidget(QLabel("Label ↓", objectName="sectionTitle"), 1, 0)
        for j, name in enumerate(("Male", "Female")):
            label = QLabel(name, alignment=Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(label, 1, j + 1)
        self.buttons: dict[str, QPushButton] = {}
        for i, truth in enumerate(("Male", "Female")):
            grid.addWidget(QLabel(truth), i + 2, 0)
            for j, predicted in enumerate(("Male", "Female")):
                key = CELLS[(truth, predicted)]
                button = QPushButton(objectName="confusionCell")
                button.setMinimumSize(150, 70)
                button.setCursor(Qt.CursorShape.PointingHandCursor)
                button.setToolTip(f"Show the {truth} images predicted {predicted}")
                button.clicked.connect(lambda _=False, k=key: self.cell_clicked.emit(k))
                grid.addWidget(button, i + 2, j + 1)
                self.buttons[key] = button

    def show_counts(self, confusion: dict[str, int]) -> None:
        counts = {
            "male_correct": confusion["tp"],
            "male_as_female": confusion["fn"],
            "female_as_male": confusion["fp"],
            "female_correct": confusion["tn"],
        }
        row_totals = {
            "male_correct": confusion["tp"] + confusion["fn"],
            "male_as_female": confusion["tp"] + confusion["fn"],
            "female_as_male": confusion["fp"] + confusion["tn"],
            "female_correct": confusion["fp"] + confusion["tn"],
        }
        for key, button in self.buttons.items():
            n, total = counts[key], row_totals[key]
            share = n / total if total else 0.0
            button.setText(f"{n:,}\n{share:.1%} of the row")
            correct = key.endswith("correct")
            # Shade by share: the diagonal green, the errors red, stronger with more images.
            base = QColor("#2e9d5a") if correct else QColor("#d64545")
            alpha = int(40 + 160 * share)
            text = "white" if alpha > 150 else "palette(text)"
            button.setStyleSheet(
                f"QPushButton#confusionCell {{ background: rgba({base.red()}, {base.green()}, "
                f"{base.blue()}, {alpha}); color: {text}; font-weight: 600; "
                "border: 1px solid palette(mid); border-radius: 6px; padding: 6px; }"
                "QPushButton#confusionCell:hover { border: 2px solid palette(highlight); }"
            )

    def clear(self) -> None:
        for button in self.buttons.values():
            button.setText("–")
            button.setStyleSheet("")


class PerClassTable(QTableWidget):
    COLUMNS = ("Class", "Precision", "Recall", "F1", "Images")

    def __init__(self) -> None:
        super().__init__(2, len(self.COLUMNS))
        self.setHorizontalHeaderLabels(self.COLUMNS)
        self.verticalHeader().hide()
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.horizontalHeader().setStretchLastSection(True)
        self.setFixedHeight(self.horizontalHeader().height() + 2 * 30 + 6)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)

    def show_classes(self, per_class: dict) -> None:
        for i, name in enumerate(("Male", "Female")):
            values = per_class[name]
            cells = [
                name,
                f"{values['precision']:.2%}",
                f"{values['recall']:.2%}",
                f"{values['f1']:.2%}",
                f"{values['support']:,}",
            ]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.setItem(i, j, item)


class RocPlot(ThemedPlot):
    """The ROC curve, the chance diagonal, and a dot at the current threshold."""

    def __init__(self) -> None:
        super().__init__(title="ROC curve")
        self.setLabel("bottom", "false positive rate (Female called Male)")
        self.setLabel("left", "true positive rate (Male called Male)")
        self.setXRange(0, 1, padding=0.02)
        self.setYRange(0, 1, padding=0.02)
        self.setLimits(xMin=-0.05, xMax=1.05, yMin=-0.05, yMax=1.05)
        for axis in ("left", "bottom"):
            self.getAxis(axis).enableAutoSIPrefix(False)
        self.showGrid(x=True, y=True, alpha=0.25)
        self.setMenuEnabled(False)
        self.plot(
            [0, 1], [0, 1], pen=pg.mkPen((150, 150, 150), width=1, style=Qt.PenStyle.DashLine)
        )
        self.curve = self.plot([], [], pen=pg.mkPen("#2f7ed8", width=2))
        self.point = pg.ScatterPlotItem(size=11, brush=pg.mkBrush("#e07b1a"), pen=pg.mkPen("w"))
        self.addItem(self.point)
        self.legend_text = pg.TextItem(anchor=(1, 1), color="#666")
        self.addItem(self.legend_text)
        self.legend_text.setPos(0.98, 0.02)

    def show_curve(self, roc: dict) -> None:
        self.curve.setData(roc["fpr"], roc["tpr"])
        auc = roc.get("auc")
        self.legend_text.setText("" if auc is None else f"AUC {auc:.4f}")

    def show_point(self, fpr: float, tpr: float, threshold: float) -> None:
        self.point.setData([fpr], [tpr])
        self.point.setToolTip(f"threshold {threshold:.2f}: FPR {fpr:.3f}, TPR {tpr:.3f}")

    def clear_curve(self) -> None:
        self.curve.setData([], [])
        self.point.setData([], [])
        self.legend_text.setText("")


class ThresholdControl(QWidget):
    """The decision threshold as a spin box and a slider kept in step; ``changed`` fires once
    the user pauses (every number on the panel is recomputed on it)."""

    changed = Signal(float)

    def __init__(self, delay_ms: int = 60) -> None:
        super().__init__()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(1, 99)
        self.slider.setValue(50)
        self.spin = QDoubleSpinBox(decimals=2, minimum=0.01, maximum=0.99, singleStep=0.01)
        self.spin.setValue(0.5)
        tip = (
            "Decision threshold: an image is called Male when p(Male) is at or above it. "
            "Every number, the confusion matrix and the galleries follow it."
        )
        for w in (self.slider, self.spin):
            w.setToolTip(tip)
        self.reset = QPushButton("Reset to 0.50")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Male if p(Male) ≥"))
        layout.addWidget(self.spin)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.reset)
        self._timer = QTimer(self, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(lambda: self.changed.emit(self.value()))
        self.slider.valueChanged.connect(lambda v: self.spin.setValue(v / 100))
        self.spin.valueChanged.connect(self._edited)
        self.reset.clicked.connect(lambda: self.spin.setValue(0.5))

    def value(self) -> float:
        return float(self.spin.value())

    def _edited(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * 100))
        self.slider.blockSignals(False)
        self._timer.start()


class SummaryView(QWidget):
    """The Summary tab: cards, threshold, confusion matrix, per-class table and ROC curve."""

    def __init__(self) -> None:
        super().__init__()
        self.cards = MetricCards()
        self.threshold = ThresholdControl()
        self.confusion = ConfusionMatrix()
        self.per_class = PerClassTable()
        self.roc = RocPlot()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(
            ElidedLabel(
                "Confusion matrix · click a cell to see its images",
                mode=Qt.TextElideMode.ElideRight,
                objectName="sectionTitle",
            )
        )
        left_layout.addWidget(self.confusion)
        left_layout.addWidget(ElidedLabel("Per class", objectName="sectionTitle"))
        left_layout.addWidget(self.per_class)
        left_layout.addStretch(1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.roc)
        split.setSizes([420, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(self.cards)
        layout.addWidget(self.threshold)
        layout.addWidget(split, 1)

    def show_metrics(
        self, m: dict, auc: float | None, train_seconds: float | None, threshold: float
    ) -> None:
        self.cards.show_values(m, auc, train_seconds)
        self.confusion.show_counts(m["confusion"])
        self.per_class.show_classes(m["per_class"])
        fpr, tpr = operating_point(m["confusion"])
        self.roc.show_point(fpr, tpr, threshold)
