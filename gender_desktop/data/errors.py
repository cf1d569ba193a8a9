"""Errors that name the file (and line) at fault, so a user can go and fix it.

Both derive from the app's one error model (:mod:`gender_desktop.errors`).
"""

from __future__ import annotations

from gender_desktop.errors import Cancelled, UserError


class DatasetError(UserError):
    """A dataset that cannot be read. The message is meant to be shown to the user as is."""


# The import's own name for the one cancellation class (kept so readers say what they cancel).
ImportCancelled = Cancelled
