"""The Help menu's windows: the keyboard shortcut sheet and About.

The sheet is read from the window itself (every QAction with a shortcut, every button with one,
every QShortcut that says what it does), grouped by the menu that holds it or else the tab it
lives on, so it cannot drift from the keys that really work.

About reports versions from the installed packages' metadata (``importlib.metadata``) and the
device from the window's device probe, which runs in a child process: the GUI process never
imports torch (seconds of start-up, and the GIL held while its libraries load), frozen or not.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gender_desktop import APP_NAME, __version__

WINDOW_GROUP = "Window"


@dataclass(frozen=True)
class Shortcut:
    group: str  # "File", "View ▸ Theme", or the tab: "Experiments"
    text: str  # what it does, as its menu or button says it
    keys: str  # "Ctrl+O", or "Ctrl+Shift+Z or Ctrl+Y"


def key_text(sequences: list[QKeySequence]) -> str:
    return " or ".join(
        s.toString(QKeySequence.SequenceFormat.NativeText) for s in sequences if not s.isEmpty()
    )


def _plain(text: str) -> str:
    """A menu text as a person reads it: no mnemonic ampersand, no trailing ellipsis."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def _menu_paths(window: QMainWindow) -> dict[QAction, str]:
    """Every action in the menu bar, with the path of the menu that holds it."""
    found: dict[QAction, str] = {}

    def walk(menu: QMenu, path: str) -> None:
        for action in menu.actions():
            sub = action.menu()
            if isinstance(sub, QMenu):
                walk(sub, f"{path} ▸ {_plain(sub.title())}")
            elif not action.isSeparator():
                found.setdefault(action, path)

    for action in window.menuBar().actions():
        menu = action.menu()
        if isinstance(menu, QMenu):
            walk(menu, _plain(menu.title()))
    return found


def _tab_of(obj: object, window: QMainWindow) -> str:
    """The name of the main tab a widget (or an action's owner) lives on."""
    tabs = window.findChild(QTabWidget)
    widget = obj if isinstance(obj, QWidget) else getattr(obj, "parent", lambda: None)()
    while isinstance(widget, QWidget) and widget is not window:
        if tabs is not None and widget.parentWidget() is not None:
            index = tabs.indexOf(widget)
            if index >= 0:
                return _plain(tabs.tabText(index))
        widget = widget.parentWidget()
    return WINDOW_GROUP


def shortcuts(window: QMainWindow) -> list[Shortcut]:
    """Every keyboard shortcut the window has, menus first (in menu-bar order), then by tab."""
    menus = _menu_paths(window)
    found: list[Shortcut] = []
    seen: set[tuple[str, str]] = set()

    def add(group: str, text: str, keys: str) -> None:
        if keys and (text, keys) not in seen:
            seen.add((text, keys))
            found.append(Shortcut(group, text, keys))

    for action in [*menus, *window.findChildren(QAction)]:
        keys = key_text(action.shortcuts())
        text = _plain(action.text()) or _plain(action.toolTip())
        add(menus.get(action) or _tab_of(action, window), text, keys)
    for button in window.findChildren(QAbstractButton):
        if isinstance(button, QToolButton) and button.defaultAction() is not None:
            continue  # a tool button showing an action: listed with the action
        keys = key_text([button.shortcut()])
        add(_tab_of(button, window), _plain(button.text()) or button.toolTip(), keys)
    for shortcut in window.findChildren(QShortcut):
        if shortcut.whatsThis():  # one without words would be a bare key in the sheet
            add(
                _tab_of(shortcut.parent(), window), shortcut.whatsThis(), key_text([shortcut.key()])
            )
    order = list(dict.fromkeys(s.group for s in found))
    return sorted(found, key=lambda s: order.index(s.group))


class ShortcutSheet(QDialog):
    """Help ▸ Keyboard Shortcuts: a two-column list (what it does, the keys) per group."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard shortcuts")
        self.tree = QTreeWidget()
        self.tree.setColumnCount(2)
        self.tree.setHeaderLabels(["Action", "Keys"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        groups: dict[str, QTreeWidgetItem] = {}
        for entry in shortcuts(window):
            group = groups.get(entry.group)
            if group is None:
                group = QTreeWidgetItem(self.tree, [entry.group])
                font = group.font(0)
                font.setBold(True)
                group.setFont(0, font)
                group.setFirstColumnSpanned(True)
                groups[entry.group] = group
            QTreeWidgetItem(group, [entry.text, entry.keys])
        self.tree.expandAll()
        self.tree.resizeColumnToContents(1)
        self.tree.setColumnWidth(1, self.tree.columnWidth(1) + 24)  # keys clear of the edge
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(buttons)
        self.resize(560, 640)

    def rows(self) -> list[tuple[str, str, str]]:
        """(group, action, keys) as shown: what a test reads."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(i)
            for j in range(group.childCount()):
                child = group.child(j)
                out.append((group.text(0), child.text(0), child.text(1)))
        return out


def package_version(name: str) -> str:
    """An installed distribution's version from its metadata, without importing it (torch
    takes seconds to import); "not installed" when its metadata is absent."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    """(what, version) for About and bug reports."""
    return [
        (APP_NAME, __version__),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", qVersion()),
        ("PySide6", pyside_version),
        ("torch", package_version("torch")),
        ("torchvision", package_version("torchvision")),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()})"),
    ]


class AboutDialog(QDialog):
    """Help ▸ About: what the app does, the versions and the device, with a button that copies
    them for a bug report."""

    def __init__(self, device: str | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_NAME}")
        self.device = device
        heading = QLabel(f"<h2>{APP_NAME} {__version__}</h2>")
        blurb = QLabel(
            "Browse face datasets in their CelebA, UTKFace, Adience or folder layouts, fix their "
            "gender labels by keyboard, and train, evaluate and compare classifiers on them. "
            "Label edits never modify your dataset files: they are kept, with their full "
            "history, in the app's data folder."
        )
        blurb.setWordWrap(True)
        self.details = QLabel()
        self.details.setTextFormat(Qt.TextFormat.RichText)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the versions and the device, for a bug report")
        self.copy_button.clicked.connect(self.copy)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(blurb)
        layout.addWidget(self.details)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        self.set_device(device)

    def lines(self) -> list[tuple[str, str]]:
        device = self.device or "detecting…"
        return [*versions(), ("Device", device), ("Executable", sys.executable)]

    def set_device(self, device: str | None) -> None:
        """The device probe's answer (it may arrive while the dialog is open)."""
        self.device = device
        rows = "".join(
            f"<tr><td style='padding-right:14px'><b>{_escape(what)}</b></td>"
            f"<td>{_escape(value)}</td></tr>"
            for what, value in self.lines()
        )
        self.details.setText(f"<table>{rows}</table>")

    def text(self) -> str:
        return "\n".join(f"{what}: {value}" for what, value in self.lines())

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
        self.copy_button.setText("Copied")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
