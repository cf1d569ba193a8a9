"""The Experiments tab's small dialogs: choosing columns, and a run's title, tags and note."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.runs.index import RunRecord
from gender_desktop.ui.experiments.columns import COLUMNS


def _buttons(dialog: QDialog) -> QDialogButtonBox:
    box = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    box.accepted.connect(dialog.accept)
    box.rejected.connect(dialog.reject)
    return box


class ColumnsDialog(QDialog):
    """Tick the columns to show (the run's title always shows)."""

    def __init__(self, shown: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Columns")
        self.list = QListWidget()
        for column in COLUMNS:
            item = QListWidgetItem(column.title)
            item.setData(Qt.ItemDataRole.UserRole, column.key)
            item.setToolTip(column.tip)
            flags = item.flags() | Qt.ItemFlag.ItemIsUserCheckable
            if column.key == "title":
                flags &= ~Qt.ItemFlag.ItemIsEnabled
            item.setFlags(flags)
            item.setCheckState(
                Qt.CheckState.Checked
                if column.key in shown or column.key == "title"
                else Qt.CheckState.Unchecked
            )
            self.list.addItem(item)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(_buttons(self))
        self.resize(260, 520)

    def chosen(self) -> list[str]:
        return [
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if self.list.item(i).checkState() == Qt.CheckState.Checked
        ]


class DetailsDialog(QDialog):
    """A run's title, tags (comma-separated) and note: meta.json, the run's training files are
    never touched."""

    def __init__(self, record: RunRecord, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Run details · {record.name}")
        self.title = QLineEdit(record.title)
        self.title.setPlaceholderText(record.name)
        self.tags = QLineEdit(", ".join(record.tags))
        self.tags.setPlaceholderText("e.g. baseline, frozen")
        self.note = QPlainTextEdit(record.note)
        form = QFormLayout(self)
        form.addRow("Title:", self.title)
        form.addRow("Tags:", self.tags)
        form.addRow("Note:", self.note)
        form.addRow(_buttons(self))
        self.resize(460, 320)

    def values(self) -> dict[str, object]:
        tags = [t.strip() for t in self.tags.text().split(",") if t.strip()]
        return {
            "title": self.title.text().strip(),
            "tags": list(dict.fromkeys(tags)),
            "note": self.note.toPlainText(),
        }
