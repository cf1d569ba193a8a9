"""Guards against a Qt binding that corrupts Python's reference counts.

PySide6 6.12.0 on Python 3.11 drops a reference to None or a bool on every model ``data()`` call
that returns None and on every signal emission, until the interpreter aborts ("deallocating
None"). The browser makes such calls on every repaint, so the app would crash while scrolling.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, Qt, Signal


class _Model(QAbstractListModel):
    def rowCount(self, parent=QModelIndex()):  # noqa: B008
        return 1

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        return None


class _Emitter(QObject):
    fired = Signal(object)


def test_model_data_returning_none_keeps_refcounts(qapp) -> None:
    model = _Model()  # keep it alive: an index does not own its model
    index = model.index(0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        index.data(Qt.ItemDataRole.DecorationRole)
    assert abs(sys.getrefcount(None) - before) < 100


def test_signal_emission_keeps_refcounts(qapp) -> None:
    emitter = _Emitter()
    emitter.fired.connect(lambda value: None)
    before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(2000):
        emitter.fired.emit(None)
    after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    assert all(abs(a - b) < 100 for a, b in zip(before, after, strict=True))
