"""The sweep results view (ui/sweeps/results.py) and its parallel coordinates
(ui/sweeps/parallel.py) on a study summary built here: brushing an axis with the mouse filters
the trials table, hovering a line highlights its trial, the retrain action asks for the study."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from gender_desktop.ui.sweeps.results import NUMBER_ROLE, SweepResultsView

LRS, BATCHES = (1e-2, 1e-3, 1e-4), (32, 64, 128)


def _summary() -> dict:
    """A 3 x 3 x 2 grid: val loss grows with the distance of lr from 1e-3; trial 11 failed."""
    trials = []
    for n in range(18):
        lr, batch, scope = LRS[n % 3], BATCHES[(n // 3) % 3], ("head", "last_block")[n // 9]
        loss = 0.3 + abs(n % 3 - 1) * 0.1 + batch / 10_000 + (0.05 if scope == "head" else 0)
        trials.append(
            {
                "number": n,
                "state": "failed" if n == 11 else "finished",
                "value": None if n == 11 else loss,
                "params": {"lr": lr, "batch": batch, "scope": scope},
                "val_accuracy": 1 - loss / 2,
                "test": {"accuracy": 0.8},
                "seconds": 3.0,
                "run_dir": f"/runs/t{n}",
            }
        )
    return {
        "study": "faces-abc",
        "storage": "sqlite:///sweeps.db",
        "storage_url": "sqlite:///sweeps.db",
        "metric": "val_loss",
        "direction": "minimize",
        "trials": trials,
        "best": trials[10],
        "counts": {"finished": 17, "failed": 1},
        "note": "test numbers are not used for the choice",
        "importance": {"lr": 0.8, "batch": 0.15, "scope": 0.05},
    }


def _view(qtbot) -> SweepResultsView:
    view = SweepResultsView()
    qtbot.addWidget(view)
    view.resize(1280, 800)
    view.set_summary(_summary())
    view.show()
    qtbot.waitExposed(view)
    return view


def _widget_point(view: SweepResultsView, axis: int, height: float) -> QPoint:
    """Where the point (axis, height) of the plot is on the plot widget's viewport."""
    plot = view.parallel
    scene = plot.box.mapViewToScene(QPointF(axis, height))
    return plot.mapFromScene(scene)


def test_dragging_along_an_axis_filters_the_trials_table(qtbot):
    view = _view(qtbot)
    assert view.proxy.rowCount() == 18 and view.shown_label.text() == "18 trials"
    viewport = view.parallel.viewport()
    # lr is a log axis from 1e-4 (bottom) to 1e-2 (top): 1e-3 sits half-way up.
    start, end = _widget_point(view, 0, 0.35), _widget_point(view, 0, 0.65)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        QTest.mouseMove(viewport, start + (end - start) * step / 10)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)
    lr_column = 3
    shown = [view.proxy.index(r, lr_column).data() for r in range(view.proxy.rowCount())]
    assert view.proxy.visible_numbers() == [1, 4, 7, 10, 13, 16] and set(shown) == {"0.001"}
    assert view.shown_label.text() == "6 of 18 trials (brushed)"
    view.parallel.brush_values("scope", "head", "head")  # and head only
    assert view.proxy.visible_numbers() == [1, 4, 7]
    view.parallel.clear_brush(0)
    assert view.proxy.visible_numbers() == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=_widget_point(view, 2, 0.5))
    assert view.proxy.rowCount() == 18  # a click on the scope axis cleared its brush


def test_hovering_a_line_highlights_its_trial_in_the_table(qtbot):
    view = _view(qtbot)
    plot = view.parallel
    # Trial 16 (lr 1e-3, batch 128, last_block): between the batch and scope axes its line
    # runs from 128 (the batch axis' top) to last_block (the scope axis' top).
    row = plot.frame.index[plot.frame["number"] == 16][0]
    height = (plot.positions[row, 1] + plot.positions[row, 2]) / 2
    with qtbot.waitSignal(plot.hovered) as hovered:
        QTest.mouseMove(plot.viewport(), _widget_point(view, 1.5, height))
    candidates = plot.frame["number"][
        (abs((plot.positions[:, 1] + plot.positions[:, 2]) / 2 - height) < 1e-9)
    ]
    assert hovered.args[0] in set(candidates) and 16 in set(candidates)
    selected = view.table.selectionModel().selectedRows()
    assert [view.proxy.data(i, NUMBER_ROLE) for i in selected] == [hovered.args[0]]
    assert plot.tip.isVisible() and f"trial {hovered.args[0]}" in plot.tip.textItem.toPlainText()


def test_the_failed_trial_is_grey_and_the_retrain_action_names_the_study(qtbot):
    view = _view(qtbot)
    plot = view.parallel
    failed = int(plot.frame.index[plot.frame["number"] == 11][0])
    assert plot._pens[failed].color().getRgb()[:3] == (150, 150, 150)
    assert "trial 10" in view.title.text() and "not used for the choice" in view.title.text()
    with qtbot.waitSignal(view.retrain_requested) as asked:
        view.retrain_button.click()
    assert asked.args == ["sqlite:///sweeps.db", "faces-abc"]
