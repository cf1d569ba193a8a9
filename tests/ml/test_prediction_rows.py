"""The rules over many prediction rows (filter, order, counts, what a person reads), without
Qt or torch."""

from __future__ import annotations

import numpy as np

from gender_desktop.ml.framing import WHOLE_NO_FACE
from gender_desktop.ml.prediction_row import PredictionRow, columns_for
from gender_desktop.ml.prediction_rows import (
    DISAGREES,
    NO_IMAGES,
    Counts,
    JobTally,
    Order,
    Show,
    card_framing_text,
    face_text,
    files_of,
    job_summary,
    show_mask,
    sort_keys,
    stale_positions,
    stale_text,
    summary_text,
    tooltip,
)


def rows() -> list[PredictionRow]:
    return [
        PredictionRow("/p/a.jpg", p_male=0.9),
        PredictionRow("/p/b.jpg", p_male=0.45, image_id="b.jpg", split="test", label="Male"),
        PredictionRow("/p/c.jpg", error="empty file (0 bytes)"),
        PredictionRow("/p/d.jpg", p_male=0.1, image_id="d.jpg", split="train", label="Female"),
        PredictionRow(
            "/p/g.jpg", p_male=0.7, face=0, faces=2, framing="auto", framed="face 1 of 2"
        ),
        PredictionRow(
            "/p/g.jpg", p_male=0.2, face=1, faces=2, framing="auto", framed="face 2 of 2"
        ),
    ]


def arrays(items: list[PredictionRow]) -> tuple[np.ndarray, np.ndarray]:
    p = np.array([np.nan if r.p_male is None else r.p_male for r in items])
    return p, np.array([r.wrong for r in items])


def test_the_filter_lets_through_what_its_name_says():
    p, wrong = arrays(rows())
    shown = {show: np.flatnonzero(show_mask(p, wrong, show)).tolist() for show in Show}
    assert shown == {
        Show.ALL: [0, 1, 2, 3, 4, 5],
        Show.MALE: [0, 4],
        Show.FEMALE: [1, 3, 5],
        Show.ERRORS: [2],
        Show.WRONG: [1],  # b: predicted Female, labelled Male
        Show.UNCERTAIN: [1],
    }


def test_confidence_orders_put_errors_last_and_keep_ties_in_arrival_order():
    p, _wrong = arrays(rows())
    positions = np.arange(len(p))
    least = positions[np.argsort(sort_keys(p, positions, Order.LEAST_CONFIDENT), kind="stable")]
    most = positions[np.argsort(sort_keys(p, positions, Order.MOST_CONFIDENT), kind="stable")]
    assert least.tolist() == [1, 4, 5, 0, 3, 2]
    assert most.tolist() == [0, 3, 5, 4, 1, 2]
    assert sort_keys(p, positions, Order.INPUT).tolist() == positions.tolist()


def test_counts_say_who_disagrees_with_whom():
    counts = Counts.of(rows())
    assert counts.line() == "6 results · 1 error · the model disagrees with 1 of 2 labels"
    assert counts.filter_texts()[Show.WRONG] == "Model disagrees with label (1)"
    assert counts.filter_texts()[Show.UNCERTAIN] == "Uncertain, 40–60 % (1)"
    counts.add(rows()[1], sign=-1)
    assert counts.line() == "5 results · 1 error · the model disagrees with 0 of 1 label"
    assert Counts().line() == ""
    assert summary_text(rows()[1]) == f"Female 55.0% · label: Male (test split) · {DISAGREES}"
    assert tooltip(rows()[1]).splitlines()[-2:] == [
        f"Dataset: b.jpg, label Male, test split ({DISAGREES})",
        "Predicted with Framing Off",
    ]


def test_a_job_summary_counts_files_faces_errors_and_disagreements():
    tally = JobTally()
    tally.add(rows())
    assert (tally.files_done, tally.male, tally.female, tally.wrong) == (5, 2, 3, 1)
    result = {"files": 5, "rows": 6, "errors": 1, "seconds": 288.7}
    assert job_summary(result, tally, framing="auto", seconds=0) == [
        ("5 images · 2 faces in 4 min 49 s", False),
        ("2 male · 3 female", False),
        ("1 error", True),
        (f"{DISAGREES} of 1 image", True),
    ]
    plain = job_summary({**result, "seconds": 0.8}, JobTally(), framing="off", seconds=0)
    assert plain == [("5 images in 0.8 s", False), ("1 error", True)]
    cancelled = job_summary({**result, "cancelled": True}, tally, "off", 0)
    assert cancelled is not None and cancelled[0] == ("Cancelled after 5 of 5 images", False)
    assert job_summary({"files": 0}, JobTally(), "off", 0) is None
    assert NO_IMAGES.startswith("No images found")


def test_rows_made_with_other_settings_are_found_once_per_file():
    items = rows()
    assert stale_positions(items, ("auto", "none")) == [0, 1, 2, 3]
    assert stale_positions(items, ("off", "none")) == [4, 5]
    assert files_of(items[k] for k in stale_positions(items, ("off", "none"))) == ["/p/g.jpg"]
    assert stale_positions(items, ("off", "flip")) == [0, 1, 2, 3, 4, 5]  # TTA changed too
    # A photo searched for faces that failed to decode still makes a CSV with face columns.
    searched = [PredictionRow("/p/x.jpg", error="empty file (0 bytes)", framing="faces")]
    assert columns_for(searched) == [
        "path",
        "p_male",
        "prediction",
        "error",
        "framed",
        "face",
        "box",
    ]


def test_a_job_summary_says_how_many_images_had_no_face():
    tally = JobTally()
    tally.add(
        [
            PredictionRow(
                "/p/a.jpg", p_male=0.8, face=0, faces=1, framing="auto", framed="reframed"
            ),
            PredictionRow("/p/b.jpg", p_male=0.3, faces=0, framing="auto", framed=WHOLE_NO_FACE),
        ]
    )
    result = {"files": 2, "rows": 2, "errors": 0, "seconds": 1.0}
    assert job_summary(result, tally, "auto", 0)[:2] == [
        ("2 images · 1 face in 1.0 s", False),
        ("no face found in 1 image (predicted whole)", False),
    ]
    framed = PredictionRow(
        "/p/a.jpg",
        p_male=0.8,
        face=0,
        faces=1,
        box=(4, 5, 60, 70),
        framing="auto",
        framed="reframed",
    )
    assert tooltip(framed).splitlines()[1] == "Framed: reframed · face box 60×70 at (4, 5)"
    assert face_text(framed) == ""  # "face 1 of 1" would say nothing


def test_a_card_says_in_a_few_words_how_its_picture_was_made():
    def card(framed: str, framing: str = "auto", box=(3, 4, 161, 170)) -> str:
        return card_framing_text(
            PredictionRow("/p/a.jpg", 0.5, framing=framing, framed=framed, box=box)
        )

    assert card("reframed") == "reframed · 161×170"
    assert card("face 2 of 3") == "framed · 161×170"  # the card's pill says which face
    assert card("as is") == "as is"
    assert card(WHOLE_NO_FACE, box=None) == "no face: whole image"
    assert card("as is", framing="off", box=None) == ""  # nothing was searched for
    row = PredictionRow("/p/a.jpg", 0.5, framing="faces", tta="flip")
    assert stale_text(row, ("faces", "flip")) == ""
    assert stale_text(row, ("off", "flip")) == "framing faces only"
    assert stale_text(row, ("faces", "none")) == "TTA flip"
    assert (
        stale_text(PredictionRow("/p/a.jpg", 0.5, framing="faces"), ("faces", "flip")) == "no TTA"
    )
