"""What the Predict panel does with drags, drops and the clipboard: local files and folders
are predicted, an image (a screenshot, "Copy Image" in a browser) is saved as a PNG and
predicted, web addresses are named but not downloaded.

A mixin of :class:`~gender_desktop.ui.predict.panel.PredictPanel` (it needs the panel's
``predict_paths``, ``session``, ``_message``, ``stack``, ``drop_zone`` and ``overlay``): a drop on
the panel or any of its children (the drop zone, the results list) lands here and is accepted,
so it never reaches the main window, which would open the files as a dataset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
)
from PySide6.QtWidgets import QStackedWidget, QWidget

from gender_desktop.ui.predict.files import local_paths, web_addresses

if TYPE_CHECKING:
    from gender_desktop.ui.predict.session import PredictSession
    from gender_desktop.ui.predict.widgets import DropOverlay, DropZone


class DropHandling(QWidget if TYPE_CHECKING else object):
    """Drag, drop and paste for the Predict panel."""

    session: PredictSession
    drop_zone: DropZone
    overlay: DropOverlay
    stack: QStackedWidget

    if TYPE_CHECKING:  # what the panel provides

        def predict_paths(self, paths: list[str]) -> bool: ...

        def _message(self, text: str, error: bool = False) -> None: ...

    def paste(self) -> None:
        """Ctrl+V: file paths or file URLs on the clipboard, or an image (saved as a PNG)."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not self._take_mime(mime):
            self._message(
                "Nothing to predict on the clipboard: copy an image, image files or a folder",
                error=True,
            )

    def _take_mime(self, mime: QMimeData) -> bool:
        """Predict what ``mime`` holds (paste and drop share this). False when it holds nothing
        usable; web addresses get their own message."""
        found = local_paths(mime)
        if found:
            return self.predict_paths(found) or True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if not image.isNull():
                self.session.predict_image(image)
                return True
        web = web_addresses(mime)
        if web:
            self._message(
                "Web addresses are not downloaded: save the image, then drop or paste the file "
                f"({web[0]})",
                error=True,
            )
            return True
        return False

    def _accepts(self, mime: QMimeData) -> bool:
        return any(url.isLocalFile() for url in mime.urls()) or mime.hasImage()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()
            self._show_drop_target(True)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._accepts(event.mimeData()):
            event.acceptProposedAction()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self._show_drop_target(False)
        super().dragLeaveEvent(event)  # type: ignore[misc]

    def dropEvent(self, event: QDropEvent) -> None:
        """Accepted here, so a drop on this tab predicts instead of reaching the main window
        (which would open the files as a dataset)."""
        self._show_drop_target(False)
        mime = event.mimeData()
        if self._accepts(mime):
            event.acceptProposedAction()
            self._take_mime(mime)

    def _show_drop_target(self, on: bool) -> None:
        if self.stack.currentWidget() is self.drop_zone:
            self.drop_zone.set_highlight(on)
            self.overlay.hide()
        elif on:
            self.overlay.setGeometry(self.stack.rect())
            self.overlay.raise_()
            self.overlay.show()
        else:
            self.overlay.hide()
