"""Small dialogs: export labels, split settings, dataset problems, internal errors, about."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gender_desktop.data.dataset import ImportReport
from gender_desktop.data.sources import printable
from gender_desktop.data.splits import SplitSpec
from gender_desktop.errors import explain


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


class InternalErrorDialog(QDialog):
    """A bug, told once and plainly: the one-line message (which names the log file), a
    "Copy details" button that puts the traceback on the clipboard for a bug report, and Close.
    Not modal to the app's work: the window behind keeps running."""

    def __init__(self, message: str, details: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Internal error")
        self.setObjectName("internalErrorDialog")
        self.details = details
        self.more = 0
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._set_text(message)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.clicked.connect(self.copy_details)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        self.setMinimumWidth(560)  # the log file's path reads on one or two lines, not four

    def _set_text(self, message: str) -> None:
        self.text = message
        note = (
            f"\n\n({self.more} more internal error(s) since; each is logged)" if self.more else ""
        )
        self.message.setText(
            "Something went wrong inside the app; the window keeps working.\n\n" + message + note
        )
        self.adjustSize()  # a note added later must not be cut off

    def add(self, message: str, details: str) -> None:
        """Another internal error while this one is still open: one dialog, not a pile."""
        self.more += 1
        self.details += "\n" + details
        self._set_text(self.text)
        self.copy_button.setText("Copy details")  # what was copied no longer holds it all

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(f"{self.text}\n\n{self.details}")
        self.copy_button.setText("Copied")


_open_dialog: list[InternalErrorDialog] = []


def show_internal_error(message: str, details: str) -> InternalErrorDialog:
    """Show (or add to) the one internal-error dialog, without blocking the caller."""
    if _open_dialog:
        last = _open_dialog.pop()
        try:
            if last.isVisible():
                last.add(message, details)
                _open_dialog.append(last)
                return last
            last.deleteLater()  # closed earlier: it goes
        except RuntimeError:  # its parent window was deleted, and it with it
            pass
    dialog = InternalErrorDialog(message, details, QApplication.activeWindow())
    _open_dialog.append(dialog)
    dialog.show()
    return dialog


class _ErrorRelay(QObject):
    """Lives on the GUI thread: an exception hook called on another thread shows the dialog
    through a queued signal (widgets are only made on the GUI thread)."""

    show = Signal(str, str, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.show.connect(self._show)

    @Slot(str, str, bool)
    def _show(self, message: str, details: str, internal: bool) -> None:
        if internal:
            show_internal_error(message, details)
        else:  # a UserError nobody caught: its message is still for the user
            box = QMessageBox(QMessageBox.Icon.Warning, "Error", message, parent=None)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.show()


def install_excepthook() -> Callable[[], None]:
    """The last resort: an exception no slot caught is logged (``report_internal_error``, via
    ``explain``) and shown in the internal-error dialog, never printed as a raw traceback, and
    the window keeps running. Covers Qt slots (PySide calls ``sys.excepthook``) and Python
    threads. Returns the function that puts the previous hooks back (for tests)."""
    previous, previous_thread_hook = sys.excepthook, threading.excepthook
    relay = _ErrorRelay(QApplication.instance())

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, (KeyboardInterrupt, SystemExit)):
            previous(kind, exc, tb)
            return
        if exc.__traceback__ is None:
            exc = exc.with_traceback(tb)
        failure = explain(exc, "gui")
        relay.show.emit(failure.message, failure.details, failure.internal)

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            hook(args.exc_type, args.exc_value, args.exc_traceback)

    def restore() -> None:
        sys.excepthook, threading.excepthook = previous, previous_thread_hook

    sys.excepthook = hook
    threading.excepthook = thread_hook
    return restore
