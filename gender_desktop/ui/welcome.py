"""The welcome page the Browse tab shows while no dataset is open: how to open one, the recent
datasets (a missing one says so and can be removed), the demo, and the layouts the app reads.

The layouts are listed from :data:`gender_desktop.data.detect.LAYOUTS`, the table detection
itself walks, so the page never promises a layout the reader does not know (or forgets one)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gender_desktop import APP_NAME
from gender_desktop.data.detect import LAYOUTS

DEMO = "demo:"  # the recent-list entry that stands for the built-in demo dataset
DEMO_TEXT = "Demo dataset (synthetic)"


def recent_text(path: str) -> str:
    """How a recent entry reads: the folder or file name first, then where it is."""
    if path == DEMO:
        return DEMO_TEXT
    p = Path(path)
    return f"{p.name or path}  —  {p.parent}" if p.name else path


class RecentRow(QWidget):
    """One recent dataset: a button that opens it, or, when it is gone, the path marked
    missing and a Remove button."""

    def __init__(self, path: str, missing: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.missing = missing
        self.open_button = QPushButton(recent_text(path))
        self.open_button.setObjectName("recentLink")
        self.open_button.setFlat(True)
        self.open_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.open_button.setToolTip(path if path != DEMO else "The built-in synthetic demo")
        self.open_button.setEnabled(not missing)
        self.state = QLabel("missing" if missing else "")
        self.state.setObjectName("hint")
        self.state.setVisible(missing)
        self.state.setToolTip(f"{path} no longer exists (moved, renamed or on a detached drive)")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove it from the recent datasets")
        self.remove_button.setVisible(missing)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.open_button)
        layout.addWidget(self.state)
        layout.addWidget(self.remove_button)
        layout.addStretch(1)


class WelcomePage(QWidget):
    """What a first start (or a start whose last dataset is gone) shows."""

    open_folder_requested = Signal()
    open_file_requested = Signal()
    demo_requested = Signal()
    recent_requested = Signal(str)  # a path, or DEMO
    forget_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcomePage")
        self.rows: list[RecentRow] = []
        title = QLabel(f"Welcome to {APP_NAME}")
        title.setObjectName("welcomeTitle")
        intro = QLabel(
            "Browse a face dataset, fix its gender labels by keyboard (M, F, Ctrl+Z), train a "
            "classifier on it and see where it goes wrong. Your dataset files are never changed."
        )
        intro.setWordWrap(True)
        self.open_folder = QPushButton("Open Dataset Folder…")
        self.open_folder.setToolTip("A folder holding images and their annotations (Ctrl+O)")
        self.open_file = QPushButton("Open File or .zip…")
        self.open_file.setToolTip("An annotation file (.txt/.csv) or a .zip (Ctrl+Shift+O)")
        self.demo = QPushButton("Try the Demo")
        self.demo.setObjectName("primaryButton")
        self.demo.setDefault(True)
        self.demo.setToolTip(
            "Open a small synthetic dataset of cartoon faces (about 2 % mislabeled on purpose)"
        )
        self.open_folder.clicked.connect(self.open_folder_requested)
        self.open_file.clicked.connect(self.open_file_requested)
        self.demo.clicked.connect(self.demo_requested)
        buttons = QHBoxLayout()
        for button in (self.demo, self.open_folder, self.open_file):
            buttons.addWidget(button)
        buttons.addStretch(1)
        drop = QLabel("Or drop a dataset folder, annotation file or .zip anywhere on the window.")
        drop.setObjectName("hint")
        drop.setWordWrap(True)

        self.recent_title = _section("Recent datasets")
        self.recent_box = QVBoxLayout()
        self.recent_box.setSpacing(2)
        self.no_recent = QLabel("None yet: the datasets you open are listed here.")
        self.no_recent.setObjectName("hint")

        column = QVBoxLayout()
        column.setSpacing(10)
        column.addWidget(title)
        column.addWidget(intro)
        column.addLayout(buttons)
        column.addWidget(drop)
        column.addWidget(self.recent_title)
        column.addWidget(self.no_recent)
        column.addLayout(self.recent_box)
        column.addWidget(_section("Layouts it reads"))
        column.addWidget(self._layouts())
        column.addStretch(1)
        body = QWidget()
        body.setObjectName("welcomeBody")
        body.setLayout(column)
        body.setMaximumWidth(900)
        host = QWidget()
        centring = QHBoxLayout(host)
        centring.setContentsMargins(32, 24, 32, 24)
        centring.addStretch(1)
        centring.addWidget(body, 8)
        centring.addStretch(1)
        scroll = QScrollArea(widgetResizable=True, frameShape=QFrame.Shape.NoFrame)
        scroll.setWidget(host)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

    def _layouts(self) -> QWidget:
        """Every layout of the reader table: its name and the files it expects."""
        grid = QGridLayout()
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(4)
        self.layout_labels: list[QLabel] = []
        for i, layout in enumerate(LAYOUTS):
            name = QLabel(layout.title)
            name.setObjectName("layoutName")
            files = QLabel(layout.files)
            files.setWordWrap(True)
            files.setTextFormat(Qt.TextFormat.PlainText)
            grid.addWidget(name, i, 0, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(files, i, 1)
            self.layout_labels.append(files)
        grid.setColumnStretch(1, 1)
        grid.setContentsMargins(0, 0, 0, 0)
        host = QWidget()
        host.setLayout(grid)
        return host

    def set_recent(
        self, paths: list[str], missing: set[str] | frozenset[str] = frozenset()
    ) -> None:
        """Show ``paths`` (newest first); those in ``missing`` are marked and removable."""
        for row in self.rows:
            self.recent_box.removeWidget(row)
            row.deleteLater()
        self.rows = []
        for path in paths:
            row = RecentRow(path, path in missing, self)
            row.open_button.clicked.connect(lambda _=False, p=path: self.recent_requested.emit(p))
            row.remove_button.clicked.connect(lambda _=False, p=path: self.forget_requested.emit(p))
            self.recent_box.addWidget(row)
            row.show()  # now, not on the layout's next pass: what is listed is on screen
            self.rows.append(row)
        self.no_recent.setVisible(not paths)


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label
