"""A sweep's results: its trials table, which parameters mattered, the parallel coordinates,
and the one action that ends a sweep honestly: retrain the best (chosen on validation) on
train + val and evaluate it once on test.

The view shows plain data, the study's summary as the engine child sends it
(``SweepSummary.to_dict()`` of :mod:`gender_desktop.sweeps.results`, with ``importance``): the
study is read in a child process (Optuna and its database never load into the GUI process).
Test numbers are shown, marked as not used for the choice.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.sweeps.space import describe, format_value
from gender_desktop.sweeps.spec import METRIC_TITLES
from gender_desktop.ui.plots import ThemedPlot
from gender_desktop.ui.sweeps.parallel import ParallelCoordinates

NUMBER_ROLE = Qt.ItemDataRole.UserRole + 1
SORT_ROLE = Qt.ItemDataRole.UserRole + 2
METRIC_COLUMN = "metric"


def trials_frame(summary: dict[str, Any]) -> tuple[pd.DataFrame, list[str]]:
    """One row per trial (number, state, metric, its parameters, val and test numbers) and the
    parameter columns, from the study summary."""
    trials = summary.get("trials") or []
    params = list(dict.fromkeys(k for t in trials for k in (t.get("params") or {})))
    rows = []
    for t in trials:
        test = t.get("test") or {}
        value = t.get("value")
        rows.append(
            {
                "number": int(t["number"]),
                "state": t.get("state", ""),
                METRIC_COLUMN: math.nan if value is None else float(value),
                **{k: (t.get("params") or {}).get(k) for k in params},
                "val_accuracy": t.get("val_accuracy"),
                "test_accuracy": test.get("accuracy"),
                "seconds": t.get("seconds"),
                "run_dir": t.get("run_dir") or "",
            }
        )
    columns = ["number", "state", METRIC_COLUMN, *params]
    columns += ["val_accuracy", "test_accuracy", "seconds", "run_dir"]
    return pd.DataFrame(rows, columns=columns), params


class TrialFilter(QSortFilterProxyModel):
    """Shows the trials whose numbers are in ``keep`` (None: all)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keep: set[int] | None = None
        self.setSortRole(SORT_ROLE)

    def set_keep(self, keep: set[int] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.9+: invalidateFilter is deprecated
            self.beginFilterChange()
            self.keep = keep
            self.endFilterChange()
        else:
            self.keep = keep
            self.invalidateFilter()

    def filterAcceptsRow(self, row: int, parent) -> bool:
        if self.keep is None:
            return True
        number = self.sourceModel().index(row, 0, parent).data(NUMBER_ROLE)
        return number in self.keep

    def visible_numbers(self) -> list[int]:
        return [self.index(r, 0).data(NUMBER_ROLE) for r in range(self.rowCount())]


class SweepResultsView(QWidget):
    """Trials table, importances and parallel coordinates of one study."""

    retrain_requested = Signal(str, str)  # storage URL, study name
    open_run = Signal(str)  # a trial's run folder (double-click)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary: dict[str, Any] = {}
        self.frame = pd.DataFrame()
        self.title = QLabel("No sweep chosen")
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.retrain_button = QPushButton("Retrain the Best on Train + Val, Evaluate Once on Test")
        self.retrain_button.setToolTip(
            "The best trial is chosen on validation; its settings train once more on train + "
            "val, and that model is evaluated once on the test split"
        )
        self.retrain_button.setEnabled(False)
        self.retrain_button.clicked.connect(self._retrain)
        self.parallel = ParallelCoordinates()
        self.importance_plot = ThemedPlot(title="Which parameters mattered")
        self.importance_plot.getAxis("bottom").setLabel("importance (Optuna, PED-ANOVA)")
        self.importance_plot.getAxis("bottom").enableAutoSIPrefix(False)
        self.importance_plot.setMouseEnabled(False, False)
        self.importance_plot.hideButtons()
        self.importance_note = QLabel()
        self.importance_note.setWordWrap(True)
        self.model = QStandardItemModel(self)
        self.proxy = TrialFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(sortingEnabled=True)
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QTableView.SelectionBehavior.SelectRows)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.doubleClicked.connect(self._double_clicked)
        self.shown_label = QLabel()
        self.parallel.selection_changed.connect(self._filter)
        self.parallel.hovered.connect(self._hovered)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.retrain_button)
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.importance_plot, 1)
        side_layout.addWidget(self.importance_note)
        upper = QSplitter()
        upper.addWidget(self.parallel)
        upper.addWidget(side)
        upper.setSizes([900, 300])
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.shown_label)
        lower_layout.addWidget(self.table)
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(upper)
        body.addWidget(lower)
        body.setSizes([460, 260])
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(body, 1)

    # -- data -------------------------------------------------------------------------------------
    def set_summary(self, summary: dict[str, Any]) -> None:
        """Show a study's summary (``SweepSummary.to_dict()`` plus ``importance``)."""
        self.summary = summary
        self.frame, params = trials_frame(summary)
        metric = str(summary.get("metric", "val_loss"))
        higher = summary.get("direction") == "maximize"
        title = METRIC_TITLES.get(metric, metric)
        self._fill_title(summary, title)
        self._fill_table(params, title)
        self.parallel.set_trials(self.frame, params, METRIC_COLUMN, higher, {METRIC_COLUMN: title})
        self.parallel.setTitle(f"colour: {title} (bright = better) · drag along an axis to filter")
        self._fill_importance(summary.get("importance") or {})
        self.retrain_button.setEnabled(summary.get("best") is not None)

    def _fill_title(self, summary: dict[str, Any], metric_title: str) -> None:
        counts = ", ".join(f"{n} {state}" for state, n in (summary.get("counts") or {}).items())
        best = summary.get("best")
        lines = [f"<b>{summary.get('study', '')}</b> · {summary.get('storage', '')} · {counts}"]
        if best:
            value = best.get("value")
            shown = f"{value:.4f}" if isinstance(value, float) else "—"
            lines.append(
                f"Best on validation: trial {best['number']} ({describe(best.get('params') or {})})"
                f" · {metric_title} {shown}"
            )
        if summary.get("final_run"):
            lines.append(f"Retrained best: {summary['final_run']}")
        lines.append(f"<i>{summary.get('note', '')}</i>")
        self.title.setText("<br>".join(lines))

    def _fill_table(self, params: list[str], metric_title: str) -> None:
        headers = ["trial", "state", metric_title, *params]
        headers += ["val accuracy", "test accuracy (not used for the choice)", "seconds", "run"]
        self.model.clear()
        self.model.setHorizontalHeaderLabels(headers)
        for record in self.frame.itertuples(index=False):
            values = list(record)
            row = []
            for value in values:
                item = QStandardItem(_cell(value))
                item.setData(_sort_key(value), SORT_ROLE)
                item.setEditable(False)
                row.append(item)
            row[0].setData(int(record.number), NUMBER_ROLE)
            self.model.appendRow(row)
        self._filter(self.parallel.selected())

    def _fill_importance(self, importance: dict[str, float]) -> None:
        plot = self.importance_plot
        plot.clear()
        if not importance:
            self.importance_note.setText(
                "Importances need at least two finished trials with different values."
            )
            plot.getAxis("left").setTicks([[]])
            return
        names = sorted(importance, key=importance.get)
        values = [importance[n] for n in names]
        bars = pg.BarGraphItem(x0=0, y=list(range(len(names))), height=0.6, width=values)
        bars.setOpts(brush=pg.mkBrush("#2f7ed8"))
        plot.addItem(bars)
        plot.getAxis("left").setTicks([list(enumerate(names))])
        plot.setXRange(0, max(values) * 1.1 or 1, padding=0)
        plot.setYRange(-0.6, len(names) - 0.4, padding=0)
        self.importance_note.setText(
            "Share of the metric's variation each parameter explains (sums to 1)."
        )

    # -- interaction ------------------------------------------------------------------------------
    def _filter(self, keep: set[int]) -> None:
        everything = set(self.frame["number"]) if len(self.frame) else set()
        self.proxy.set_keep(None if keep == everything else keep)
        total = len(self.frame)
        shown = self.proxy.rowCount()
        self.shown_label.setText(
            f"{total} trials" if shown == total else f"{shown} of {total} trials (brushed)"
        )

    def _hovered(self, number: int | None) -> None:
        if number is None:
            self.table.clearSelection()
            return
        for r in range(self.proxy.rowCount()):
            if self.proxy.index(r, 0).data(NUMBER_ROLE) == number:
                self.table.selectRow(r)
                self.table.scrollTo(self.proxy.index(r, 0))
                return

    def _double_clicked(self, index) -> None:
        run = self.proxy.index(index.row(), self.model.columnCount() - 1).data()
        if run:
            self.open_run.emit(run)

    def _retrain(self) -> None:
        self.retrain_requested.emit(
            str(self.summary.get("storage_url") or self.summary.get("storage", "")),
            str(self.summary.get("study", "")),
        )


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return format_value(value, short=True)


def _sort_key(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return float("inf")
    if isinstance(value, bool):
        return int(value)
    return value if isinstance(value, int | float) else str(value)
