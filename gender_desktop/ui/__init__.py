"""The Qt desktop app. Everything that imports PySide6 or pyqtgraph lives here and only here."""
