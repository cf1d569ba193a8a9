"""Face detection gives the same boxes for the same image however many threads ask at once
(issue 8: one OpenCV cascade shared by the predictor's decode threads found faces in blank
space, missed real ones and raised raw OpenCV assertion errors such as
"vector::_M_range_check")."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from photos import face_photos

from gender_desktop.ml.faces import detect_faces


def test_concurrent_detections_match_one_at_a_time() -> None:
    images = face_photos()
    expected = [detect_faces(img) for img in images]
    assert all(expected[:4]) and expected[4:] == [[], []]  # faces found, none in white space
    with ThreadPoolExecutor(8) as pool:
        for _ in range(3):
            assert list(pool.map(detect_faces, images * 3)) == expected * 3
