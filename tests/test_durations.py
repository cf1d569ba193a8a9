"""Durations read the same everywhere: seconds, then minutes and seconds, then hours and minutes."""

import math

from hypothesis import given
from hypothesis import strategies as st

from gender_desktop.durations import duration_text


def test_a_duration_is_written_the_way_a_person_says_it():
    assert duration_text(0.84) == "0.8 s"
    assert duration_text(45.2) == "45 s"
    assert duration_text(59.6) == "1 min"
    assert duration_text(288.7) == "4 min 49 s"
    assert duration_text(193) == "3 min 13 s"
    assert duration_text(3600) == "1 h"
    assert duration_text(7380) == "2 h 3 min"
    assert duration_text(8.04, tenths=False) == "8 s"  # an estimate


def test_no_duration_reads_as_a_dash_or_what_the_caller_asks():
    assert duration_text(None) == "–"
    assert duration_text(None, empty="") == ""
    assert duration_text(math.nan) == "–"


@given(st.floats(min_value=0, max_value=10**7, allow_nan=False))
def test_every_duration_has_a_unit_and_no_seconds_beyond_a_minute(seconds):
    text = duration_text(seconds)
    assert text.endswith((" s", " min", " h"))
    if " min " in text:
        assert int(text.split(" min ")[1].removesuffix(" s")) < 60
