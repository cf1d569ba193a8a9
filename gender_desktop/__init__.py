"""gender-desktop: browse, relabel, train and audit face gender classifiers on CelebA-style data.

The package is layered: ``data`` (and later ``ml`` and ``runs``) is the Qt-free core that the CLI
and the GUI share; everything that imports Qt lives under ``gender_desktop.ui``.
"""

__version__ = "0.1.0"
APP_NAME = "gender-desktop"
