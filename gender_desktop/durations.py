"""One way to write a duration, for every tab, the CLI and the reports' prose.

The same run used to read "288.7 s" in one tab and "4 min 49 s" in another; every place that
shows a duration to a person now calls :func:`duration_text`. (Machine-readable columns, such
as a CSV's ``train_seconds``, keep plain numbers.)
"""

from __future__ import annotations

import math


def duration_text(seconds: float | None, empty: str = "–", tenths: bool = True) -> str:
    """ "0.8 s", "45 s", "4 min 48 s", "2 h 3 min"; ``empty`` when there is no duration.

    Tenths are shown only under ten seconds, where they matter, and not at all for an
    estimate (``tenths=False``: "about 8 s"); minutes carry their seconds and hours their
    minutes, so a reader never has to divide by 60.
    """
    if seconds is None or not math.isfinite(seconds):
        return empty
    seconds = max(0.0, float(seconds))
    if tenths and seconds < 9.95:
        return f"{seconds:.1f} s"
    total = round(seconds)
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
