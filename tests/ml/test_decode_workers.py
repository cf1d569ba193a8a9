"""Decode worker processes die with the process that started them, and a killed decode's
``.partial`` cache file is removed the next time the cache is used (real processes, kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import builders
import pytest


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (not a zombie): the test's own probe, not the app's."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


DECODES_SLOWLY = """
import os, sys, time
from pathlib import Path
from gender_desktop.data import open_dataset
from gender_desktop.ml import pipeline

pids = Path(sys.argv[3])
real = pipeline.decode_chunk

def slow(job):  # a worker reports itself, then decodes as slowly as a huge dataset would
    with open(pids, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(60)
    return real(job)

if __name__ == "__main__":
    pipeline.decode_chunk = slow
    dataset = open_dataset(sys.argv[1])
    pipeline.DecodedImages.build(dataset, 16, workers=2, folder=Path(sys.argv[2]))
"""


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@pytest.mark.skipif(sys.platform == "win32", reason="probes POSIX process ids")
def test_decode_workers_die_with_their_killed_parent_and_its_partial_file_goes(tmp_path):
    data = builders.celeba_official(tmp_path / "data", 300)  # >= 256 images: the worker pool
    cache = tmp_path / "cache"
    pids = tmp_path / "worker-pids.txt"
    script = tmp_path / "decode.py"
    script.write_text(DECODES_SLOWLY)
    proc = subprocess.Popen([sys.executable, str(script), str(data), str(cache), str(pids)])
    try:

        def both_workers_busy() -> bool:
            return pids.exists() and len(set(pids.read_text().split())) >= 2

        assert wait_for(both_workers_busy, 120), "the decode workers never started"
        workers = {int(p) for p in pids.read_text().split()}
        assert all(pid_alive(pid) for pid in workers)
        partials = list(cache.glob("*.partial"))
        assert len(partials) == 1 and f".{proc.pid}." in partials[0].name
        os.kill(proc.pid, signal.SIGKILL)  # the app or the CLI is killed mid-decode
        proc.wait(timeout=30)
        assert wait_for(lambda: not any(pid_alive(pid) for pid in workers), 5), (
            f"decode workers {sorted(p for p in workers if pid_alive(p))} outlived their parent"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert partials[0].exists()  # nobody removed it: the writer was killed

    # The next use of the cache (another dataset, another process) removes it, but not the
    # partial file of a decode still running in a live process.
    from gender_desktop.data import open_dataset
    from gender_desktop.ml.pipeline import DecodedImages

    live = cache / f"{'0' * 24}.{os.getppid()}.abcd1234.partial"
    live.write_bytes(b"\0" * 16)
    small = open_dataset(builders.celeba_official(tmp_path / "small", 20))
    DecodedImages.build(small, 16, workers=1, folder=cache)
    assert not partials[0].exists()
    assert live.exists()
    assert {p.suffix for p in cache.iterdir()} == {".u8", ".json", ".partial"}


def test_a_stale_partial_file_is_recognised_by_its_dead_writer(tmp_path: Path) -> None:
    from gender_desktop.ml.pipeline import remove_stale_partials

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that no longer runs (reaped)
    dead = tmp_path / f"key.{child.pid}.00000000.partial"
    mine = tmp_path / f"key.{os.getpid()}.11111111.partial"
    odd = tmp_path / "not-ours.partial"
    for path in (dead, mine, odd):
        path.write_bytes(b"x")
    assert remove_stale_partials(tmp_path) == [dead]
    assert mine.exists() and odd.exists()


def test_another_machines_build_in_a_shared_cache_folder_is_left_alone(tmp_path: Path) -> None:
    """Two machines of a lab share a home (NFS): a pid in the other machine's partial name
    means nothing here, so its build is not taken for a dead one (only a week-old one goes)."""
    from gender_desktop.ml.pipeline import HOST_TAG, STALE_PARTIAL_AGE_S, remove_stale_partials

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # that pid runs nowhere here
    elsewhere = tmp_path / f"key.{child.pid}.{'f' * 8}.00000000.partial"
    dead_here = tmp_path / f"key.{child.pid}.{HOST_TAG}.11111111.partial"
    forgotten = tmp_path / f"key.{child.pid}.{'e' * 8}.22222222.partial"
    for path in (elsewhere, dead_here, forgotten):
        path.write_bytes(b"x")
    week_ago = time.time() - STALE_PARTIAL_AGE_S - 60
    os.utime(forgotten, (week_ago, week_ago))
    assert sorted(remove_stale_partials(tmp_path)) == sorted([dead_here, forgotten])
    assert elsewhere.exists()
