"""The label journal keeps every acknowledged edit and nothing else: with readers opening it
while the writer appends, with the writer killed at random moments, on a full disk, and with
damaged lines in it."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import builders
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gender_desktop.data import open_dataset
from gender_desktop.data.journal import JOURNAL_FILE, LabelsNotSaved
from gender_desktop.data.labels import LabelStore

N_IMAGES = 60


WRITER = textwrap.dedent(
    """
    import sys, time
    from gender_desktop.data import open_dataset
    from gender_desktop.data.labels import LabelStore
    store = LabelStore(open_dataset(sys.argv[1]))
    print("ready", flush=True)
    k = 0
    for k in range(int(sys.argv[2])):
        row = (k * 7) % store.male.size
        value = 1 - int(store.male[row])  # every edit a real change, so it is journaled
        store.set_male([row], value)
        print(k, row, value, flush=True)  # acknowledged: the UI would now show it
        time.sleep(float(sys.argv[3]))
    store.close()
    print("closed", flush=True)
    """
)

READER = textwrap.dedent(
    """
    import sys
    from gender_desktop.data import open_dataset
    from gender_desktop.data.labels import LabelStore
    dataset = open_dataset(sys.argv[1])
    while True:
        LabelStore(dataset, readonly=True)  # what training, evaluation and the engine do
    """
)


def start_writer(root: Path, edits: int, pause: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(edits), str(pause)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def start_readers(root: Path, n: int = 3) -> list[subprocess.Popen[bytes]]:
    return [subprocess.Popen([sys.executable, "-c", READER, str(root)]) for _ in range(n)]


def acknowledged(lines: list[str]) -> list[tuple[int, int]]:
    return [(int(p[1]), int(p[2])) for p in (line.split() for line in lines) if len(p) == 3]


def labels_after(original: np.ndarray, acked: list[tuple[int, int]]) -> np.ndarray:
    male = original.copy()
    for row, value in acked:
        male[row] = value
    return male


BIG_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from gender_desktop.data import open_dataset
    from gender_desktop.data.labels import LabelStore
    real_write = os.write
    def write_in_two_parts(fd, data):  # as a slow disk shows a long record: half, then the rest
        if len(data) < 100:
            return real_write(fd, data)
        written = real_write(fd, bytes(data[: len(data) // 2]))
        time.sleep(0.003)
        return written
    os.write = write_in_two_parts
    store = LabelStore(open_dataset(sys.argv[1]))
    rows = list(range(store.male.size))
    for k in range(int(sys.argv[2])):
        store.set_male(rows, k % 2)  # a whole multi-selection relabeled: one long journal line
        print(k, flush=True)
        time.sleep(0.01)
    store.close()
    print("closed", flush=True)
    """
)


def test_readers_opening_during_edits_never_lose_an_acknowledged_edit(tmp_path: Path) -> None:
    """Issue 8's lost edits: read-only openers (training, evaluation, the engine) replayed the
    journal while the browser appended a long record, took the half-written line for a torn
    one, cut it off, and acknowledged edits were gone after a clean close."""
    builders.celeba_official(tmp_path, 1500)
    readers = start_readers(tmp_path)
    try:
        done = subprocess.run(
            [sys.executable, "-c", BIG_WRITER, str(tmp_path), "120"],
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        for reader in readers:
            reader.kill()
            reader.wait()
    assert done.stdout.splitlines()[-1] == "closed", done.stderr
    store = LabelStore(open_dataset(tmp_path))
    assert len(store.undo_stack) == 120 and not store.problems
    assert (store.male == 1).all()  # the last edit (k = 119) labeled everything male
    store.close()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_writer_killed_at_a_random_moment_among_readers_keeps_what_it_acknowledged(
    tmp_path: Path, seed: int
) -> None:
    builders.celeba_official(tmp_path, N_IMAGES)
    original = open_dataset(tmp_path).table["Male"].to_numpy().astype(np.int8)
    rng = random.Random(seed)
    readers = start_readers(tmp_path)
    writer = start_writer(tmp_path, edits=100_000, pause=0.0)
    assert writer.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + rng.uniform(0.2, 1.2)
        while time.monotonic() < deadline:
            lines.append(writer.stdout.readline())
            if rng.random() < 0.02:  # readers die at random moments too, and come back
                victim = rng.randrange(len(readers))
                os.kill(readers[victim].pid, signal.SIGKILL)
                readers[victim].wait()
                readers[victim] = start_readers(tmp_path, 1)[0]
        os.kill(writer.pid, signal.SIGKILL)
        # What it acknowledged before the kill landed. (Not communicate(): with a timeout it
        # reads the pipe itself and skips what readline() has already buffered.)
        lines.extend(writer.stdout.read().splitlines())
        writer.wait(timeout=30)
    finally:
        for reader in readers:
            reader.kill()
            reader.wait()
    acked = acknowledged(lines)
    assert acked, "the writer made no edit before the kill"
    store = LabelStore(open_dataset(tmp_path))
    depth = len(store.undo_stack)
    assert depth in (len(acked), len(acked) + 1)  # at most the edit in flight at the kill
    if depth == len(acked):
        assert np.array_equal(store.male, labels_after(original, acked))
    assert not store.problems
    store.close()


# -- a full disk ---------------------------------------------------------------------------------
@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):
    """``fill(True)``: every write writes half its bytes and then fails with ENOSPC, as a nearly
    full disk does, and so does every fsync; ``fill(False)`` gives the space back."""
    real_write, real_fsync = os.write, os.fsync
    state = {"full": False}

    def fsync(fd: int) -> None:
        if state["full"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    def write(fd: int, data) -> int:
        if state["full"] and len(data) > 1:
            real_write(fd, bytes(data[: len(data) // 2]))
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    monkeypatch.setattr(os, "fsync", fsync)
    return lambda full: state.update(full=full)


def test_failed_appends_on_a_full_disk_leave_the_journal_as_it_was(
    tmp_path: Path, full_disk
) -> None:
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)
    store.set_male([1], 0)
    before = store.journal_path.read_bytes()
    full_disk(True)
    for row in (2, 3, 4):
        with pytest.raises(LabelsNotSaved, match=r"disk is full.*journal\.jsonl.*not made"):
            store.set_male([row], 1 - int(store.male[row]))
    with pytest.raises(LabelsNotSaved):
        store.undo()
    assert store.journal_path.read_bytes() == before
    assert store.edit_count == 2 and len(store.undo_stack) == 2  # what the UI still shows
    full_disk(False)
    store.set_male([5], 1 - int(store.male[5]))
    shown = store.male.copy()
    store.close()
    reopened = LabelStore(open_dataset(tmp_path))
    assert np.array_equal(reopened.male, shown)
    assert [c.seq for c in reopened.undo_stack] == [1, 2, 3]
    reopened.close()


def test_close_on_a_full_disk_still_lets_the_labels_be_reopened(tmp_path: Path, full_disk) -> None:
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)
    full_disk(True)
    with pytest.raises(LabelsNotSaved, match=r"labels\.csv.*every edit is kept"):
        store.close()
    full_disk(False)
    again = LabelStore(open_dataset(tmp_path))  # the lock was released
    assert again.edit_count == 1
    again.close()


@pytest.fixture
def small_filesystem(tmp_path: Path):
    """A real 256 KiB tmpfs (needs root, as CI and the developers' machines have); skipped
    where mounting is not allowed."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_filesystem_loses_no_acknowledged_edit(
    tmp_path: Path, small_filesystem: Path
) -> None:
    builders.celeba_official(tmp_path / "data", 200)
    dataset = open_dataset(tmp_path / "data")
    store = LabelStore(dataset, folder=small_filesystem)
    for row in range(5):
        store.set_male([row], 1 - int(store.male[row]))
    filler = small_filesystem / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # take every free page; the journal's last page may still have room for a few edits
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    acked, refused = 5, 0
    for row in range(5, 200):
        try:
            store.set_male([row], 1 - int(store.male[row]))
            acked += 1
        except LabelsNotSaved:
            refused += 1
    assert refused > 0, "the filesystem never filled up"
    shown = store.male.copy()
    filler.unlink()
    store.set_male([0], 1 - int(store.male[0]))
    shown = store.male.copy()
    store.close()
    reopened = LabelStore(dataset, folder=small_filesystem)
    assert np.array_equal(reopened.male, shown)
    assert len(reopened.undo_stack) == acked + 1 and not reopened.problems
    reopened.close()


# -- damaged lines -------------------------------------------------------------------------------
DAMAGED = {
    "binary garbage": b"\x00\xff\xfe\x80 garbage",
    "a JSON list": b"[1, 2, 3]",
    "a JSON string": b'"just text"',
    "a record without ids": b'{"op":"set","seq":3,"old":[1],"new":[0]}',
    "a label that is not 0/1": b'{"op":"set","seq":3,"ids":["000004.jpg"],"old":[1],"new":[7]}',
    "a sequence number going back": b'{"op":"set","seq":1,"ids":["000004.jpg"],"old":[1],"new":[0]}',
    "an undo of nothing": b'{"op":"undo","seq":3,"of":99}',
    "deep nesting": b"[" * 100_000,
}


@pytest.mark.parametrize("kind", list(DAMAGED))
def test_damaged_lines_are_set_aside_and_the_good_edits_kept(tmp_path: Path, kind: str) -> None:
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)  # seq 1
    store.set_male([1], 0)  # seq 2
    store.close()
    journal = store.journal_path
    good = journal.read_bytes()
    damaged = good + DAMAGED[kind] + b"\n" + b'{"op":"undo","seq":4,"of":2}\n'
    journal.write_bytes(damaged)

    reader = LabelStore(open_dataset(tmp_path), readonly=True)
    assert reader.edited.nonzero()[0].tolist() == [0]  # the good undo after the bad line counts
    assert "line 3" in reader.problems[0] and journal.read_bytes() == damaged

    writer = LabelStore(open_dataset(tmp_path))
    assert writer.edited.nonzero()[0].tolist() == [0]
    (problem,) = writer.problems
    assert "1 damaged label-journal line(s) were set aside (line 3:" in problem
    copies = list(journal.parent.glob("journal.damaged-*.jsonl"))
    assert len(copies) == 1 and copies[0].read_bytes() == damaged and copies[0].name in problem
    writer.redo()
    writer.close()
    again = LabelStore(open_dataset(tmp_path))
    assert again.edited.nonzero()[0].tolist() == [0, 1] and not again.problems
    again.close()


def test_a_reader_ignores_the_line_being_written_and_leaves_it(tmp_path: Path) -> None:
    builders.celeba_official(tmp_path, 10)
    store = LabelStore(open_dataset(tmp_path))
    store.set_male([0], 0)
    with open(store.journal_path, "ab") as handle:  # the writer is mid-way through a line
        handle.write(b'{"op":"set","seq":2,"ids":["000002.j')
    before = store.journal_path.read_bytes()
    reader = LabelStore(open_dataset(tmp_path), readonly=True)
    assert reader.edited.nonzero()[0].tolist() == [0] and not reader.problems
    assert store.journal_path.read_bytes() == before
    store.close()


# -- replay of every prefix ----------------------------------------------------------------------
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 9), st.integers(0, 1)),
        st.tuples(st.just("undo"), st.just(0), st.just(0)),
        st.tuples(st.just("redo"), st.just(0), st.just(0)),
    ),
    min_size=1,
    max_size=12,
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_a_journal_cut_at_any_byte_replays_to_the_state_of_its_complete_lines(
    tmp_path_factory: pytest.TempPathFactory, ops: list[tuple[str, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("ds")
    builders.celeba_official(root, 10)
    dataset = open_dataset(root)
    folder = tmp_path_factory.mktemp("sidecar")
    store = LabelStore(dataset, folder=folder)
    states = [(store.male.copy(), 0, 0)]  # labels, undo depth, redo depth after each record
    for op, row, value in ops:
        if op == "set":
            change = store.set_male([row], value)
        else:
            change = store.undo() if op == "undo" else store.redo()
        if change is not None:
            states.append((store.male.copy(), len(store.undo_stack), len(store.redo_stack)))
    store.close(snapshot=False)
    raw = (folder / JOURNAL_FILE).read_bytes()
    ends = [i + 1 for i, b in enumerate(raw) if b == ord("\n")]
    assert len(ends) == len(states) - 1
    for cut in range(len(raw) + 1):
        prefix = tmp_path_factory.mktemp("cut")
        (prefix / JOURNAL_FILE).write_bytes(raw[:cut])
        complete = sum(1 for end in ends if end <= cut)
        male, undo, redo = states[complete]
        reader = LabelStore(dataset, folder=prefix, readonly=True)
        assert np.array_equal(reader.male, male) and not reader.problems
        assert (prefix / JOURNAL_FILE).read_bytes() == raw[:cut]  # readers change nothing
        writer = LabelStore(dataset, folder=prefix)
        assert np.array_equal(writer.male, male)
        assert (len(writer.undo_stack), len(writer.redo_stack)) == (undo, redo)
        writer.close(snapshot=False)
        assert (prefix / JOURNAL_FILE).read_bytes() == raw[: ends[complete - 1] if complete else 0]


def test_the_labels_snapshot_is_spreadsheet_safe_and_reads_back(tmp_path: Path) -> None:
    """labels.csv is for people (and other tools): a spreadsheet must not run its ids."""
    import hostile

    from gender_desktop import csvsafe

    root, _ids = hostile.dataset(tmp_path)
    store = LabelStore(open_dataset(root / "hostile.csv"))
    male = store.male.copy()
    store.set_male(np.flatnonzero(male == 1), 0)  # every label flipped: every id in the file
    store.set_male(np.flatnonzero(male == 0), 1)
    path = store.save_snapshot()
    store.close(snapshot=False)
    hostile.assert_text_cells_are_safe(path.read_bytes())
    back = csvsafe.read_csv(path, text=("image_id",))
    edited = store.dataset.table["image_id"][store.edited].tolist()
    assert back["image_id"].tolist() == edited
    assert {i[0] for i in edited} >= {"=", "+", "-", "@"}
