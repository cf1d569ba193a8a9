"""The compare view: the notebooks' table, the significance of each pair in words, the settings
side by side with the differing ones highlighted, and the comparison figures."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.durations import duration_text
from gender_desktop.runs.compare import Comparison
from gender_desktop.ui.figures import (
    ConfusionGrid,
    CurvesFigure,
    MetricBars,
    TimeBars,
    plain_tooltip,
    run_colour,
)

TABLE_HEADER = (
    "Run", "Configuration", "Accuracy", "95% CI", "Precision", "Recall", "F1", "AUC",
    "Training time",
)  # fmt: skip


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def _cell(text: str, numeric: bool = False) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if numeric:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


class MetricTable(QTableWidget):
    """Configuration | Accuracy | … | Training time, one row per run in its colour."""

    def __init__(self) -> None:
        super().__init__(0, len(TABLE_HEADER))
        self.setHorizontalHeaderLabels(list(TABLE_HEADER))
        self.verticalHeader().hide()
        self.setWordWrap(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

    def show_comparison(self, comparison: Comparison) -> None:
        self.setRowCount(len(comparison.rows))
        for i, row in enumerate(comparison.rows):
            ci = row.accuracy_ci
            cells = [
                _cell(row.run),
                _cell(row.configuration),
                _cell(_pct(row.accuracy), True),
                _cell(f"{100 * ci[0]:.1f}–{100 * ci[1]:.1f}%" if ci else "", True),
                _cell(_pct(row.precision), True),
                _cell(_pct(row.recall), True),
                _cell(_pct(row.f1), True),
                _cell("" if row.auc is None else f"{row.auc:.4f}", True),
                _cell(duration_text(row.train_seconds, empty=""), True),
            ]
            cells[1].setToolTip(plain_tooltip(row.configuration))
            cells[0].setForeground(run_colour(i))
            font = QFont(self.font())
            font.setBold(True)
            cells[0].setFont(font)
            for j, item in enumerate(cells):
                self.setItem(i, j, item)
        self.resizeRowsToContents()
        # As tall as its rows (up to 8): the table is the summary, it should not scroll.
        rows = sum(self.rowHeight(i) for i in range(min(self.rowCount(), 8)))
        self.setFixedHeight(
            self.horizontalHeader().sizeHint().height() + rows + 2 * self.frameWidth() + 2
        )


class SettingsTable(QWidget):
    """Every setting of every run side by side; the ones that differ are highlighted and can be
    shown alone."""

    def __init__(self) -> None:
        super().__init__()
        self.only_differing = QCheckBox("Only the settings that differ")
        self.only_differing.setChecked(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        layout.addWidget(self.only_differing)
        layout.addWidget(self.table)
        self.comparison: Comparison | None = None
        self.only_differing.toggled.connect(lambda _on: self._fill())

    def show_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self._fill()

    def keys(self) -> list[str]:
        """The settings listed now (rows), in order."""
        c = self.comparison
        if c is None:
            return []
        if self.only_differing.isChecked():
            return list(c.differing)
        return sorted({k for s in c.settings for k in s})

    def _fill(self) -> None:
        c = self.comparison
        if c is None:
            return
        keys = self.keys()
        self.table.clear()
        self.table.setColumnCount(len(c.records))
        self.table.setHorizontalHeaderLabels(c.names)
        self.table.setRowCount(len(keys))
        self.table.setVerticalHeaderLabels(keys)
        highlight = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        highlight.setAlpha(60)
        for i, key in enumerate(keys):
            differs = key in c.differing
            for j, settings in enumerate(c.settings):
                value = settings.get(key, "—")
                item = _cell(value if isinstance(value, str) else json.dumps(value))
                if differs:
                    item.setBackground(highlight)
                    font = QFont(self.font())
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(i, j, item)
        if not keys:
            self.table.setRowCount(1)
            self.table.setVerticalHeaderLabels([""])
            self.table.setItem(0, 0, _cell("The runs have the same settings"))


class CompareView(QWidget):
    """What the Experiments tab shows for 2+ selected runs."""

    back_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.back = QPushButton("← All runs")
        self.back.setToolTip("Back to the runs table (Esc)")
        self.back.setShortcut("Esc")
        self.heading = QLabel()
        self.heading.setObjectName("compareHeading")
        font = QFont(self.heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.heading.setFont(font)
        self.significance = QLabel()
        self.significance.setWordWrap(True)
        self.significance.setTextFormat(Qt.TextFormat.PlainText)  # run names are the user's
        self.significance.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.significance.setObjectName("significance")
        self.table = MetricTable()
        self.curves = CurvesFigure()
        self.metrics = MetricBars()
        self.time = TimeBars()
        self.confusion = ConfusionGrid()
        self.settings = SettingsTable()
        self.figures = QTabWidget()
        self.figures.addTab(self.curves, "Curves")
        self.figures.addTab(self.settings, "Settings")
        self.figures.addTab(self.metrics, "Metrics")
        self.figures.addTab(self.time, "Training time")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.confusion)
        self.figures.addTab(scroll, "Confusion matrices")
        self.comparison: Comparison | None = None

        top = QHBoxLayout()
        top.addWidget(self.back)
        top.addWidget(self.heading, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        upper = QWidget()
        upper_layout = QVBoxLayout(upper)
        upper_layout.setContentsMargins(0, 0, 0, 0)
        upper_layout.addWidget(self.table)
        upper_layout.addWidget(self.significance)
        split.addWidget(upper)
        split.addWidget(self.figures)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 5)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)
        self.back.clicked.connect(self.back_requested)

    def show_comparison(self, comparison: Comparison) -> None:
        self.comparison = comparison
        n = len(comparison.records)
        differing = len(comparison.differing)
        self.heading.setText(
            f"{n} runs compared · {differing} setting{'s' if differing != 1 else ''} differ"
        )
        for part in (
            self.table,
            self.curves,
            self.metrics,
            self.time,
            self.confusion,
            self.settings,
        ):
            part.show_comparison(comparison)
        self.significance.setText(self.significance_text())
        self.table.setMaximumHeight(
            self.table.horizontalHeader().height()
            + sum(self.table.rowHeight(i) for i in range(n))
            + 6
        )

    def sentences(self) -> list[str]:
        return [p.sentence for p in self.comparison.pairs] if self.comparison else []

    def significance_text(self) -> str:
        lines = self.sentences()
        if not lines:
            return ""
        return (
            "Significance on the test images (McNemar's exact test, 95% CI of the difference):\n"
            + "\n".join(f"•  {line}" for line in lines)
        )
