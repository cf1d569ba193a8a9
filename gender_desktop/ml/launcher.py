"""The app's side of a multi-GPU run: torchrun as a child, its events relayed (torch-free).

The Train panel's "All N GPUs (DDP)" is one more ``train`` request to the training child
(``ml/service.py``); instead of training itself, the child starts ``python -m
torch.distributed.run --standalone --nproc_per_node N -m gender_desktop train ... --ddp`` (see
``ml/distributed.py`` for why torchrun and not a launcher of our own) and relays what rank 0
reports, so the panel shows the same curves and log as for one device:

- the settings travel as a JSON file (``--settings``), the run folder is the one the panel
  named (``--run-dir``);
- rank 0 writes every event as one JSON line to an event file (``--events``), which the child
  reads as it grows;
- Stop and Pause are the words ``stop`` / ``pause`` / ``run`` in a control file
  (``--control``) that every rank watches; the ranks agree between batches, so they stop or
  hold at the same batch (a signal would reach torchrun's agent, which ends the processes).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gender_desktop.errors import UserError
from gender_desktop.fileio import atomic_write_json, atomic_write_text
from gender_desktop.ml import events as events_mod
from gender_desktop.ml.events import Control, Event

CONTROL_POLL_S = 0.1
RELAY_POLL_S = 0.05
EVENT_TYPES = events_mod.by_name(
    events_mod.PhaseProgress,
    events_mod.BatchEnd,
    events_mod.EpochEnd,
    events_mod.LogLine,
    events_mod.RunStarted,
    events_mod.RunEnded,
)


class DistributedRunFailed(UserError):
    """The torchrun run ended without a result; the message is rank 0's error line."""


def torchrun_command(processes: int, train_args: list[str]) -> list[str]:
    """``python -m torch.distributed.run --standalone --nproc_per_node N -m gender_desktop
    train <train_args> --ddp`` in this Python (``--standalone``: a local rendezvous on a
    free port, so two runs never collide)."""
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "gender_desktop",
        "train",
        *train_args,
        "--ddp",
    ]


# -- the control file -----------------------------------------------------------------------------
def write_control(path: Path, control: Control) -> str:
    """The word the ranks read: ``stop``, ``pause`` or ``run``."""
    word = "stop" if control.stop.is_set() else "pause" if control.pause.is_set() else "run"
    atomic_write_text(path, word + "\n")
    return word


def watch_control(path: Path, control: Control, done: threading.Event) -> threading.Thread:
    """A daemon thread that sets ``control`` from the file at ``path`` until ``done``: ``stop``
    sets stop (for good), ``pause`` sets pause, anything else clears it."""

    def watch() -> None:
        while not done.wait(CONTROL_POLL_S):
            try:
                word = path.read_text().strip()
            except OSError:
                continue
            if word == "stop":
                control.stop.set()
            elif word == "pause":
                control.pause.set()
            else:
                control.pause.clear()

    thread = threading.Thread(target=watch, name="ddp-control-file", daemon=True)
    thread.start()
    return thread


# -- the event file -------------------------------------------------------------------------------
def event_line(event: Event) -> str:
    return events_mod.to_json_line(event)


def parse_event(line: str) -> Event | None:
    """The event a line holds (None for a line that is not one: a partial write)."""
    return events_mod.from_json_line(line, EVENT_TYPES)


class EventWriter:
    """The callback rank 0 adds: each event as one JSON line, flushed at once."""

    def __init__(self, path: Path) -> None:
        self.file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the whole run

    def __call__(self, event: Event) -> None:
        self.file.write(event_line(event) + "\n")
        self.file.flush()

    def close(self) -> None:
        self.file.close()


class EventReader:
    """The events added to the file since the last read (complete lines only)."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset, self.partial = path, 0, b""

    def read(self) -> list[Event]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        found = (parse_event(line.decode("utf-8", "replace")) for line in lines if line)
        return [e for e in found if e is not None]


# -- running it -----------------------------------------------------------------------------------
def train_args(
    settings_file: Path, run_path: str, resume: bool, track: list[str] | None
) -> list[str]:
    """The ``train`` options of a run the app starts under torchrun."""
    args = ["--resume", run_path] if resume else ["--settings", str(settings_file)]
    if not resume:
        args += ["--run-dir", run_path]
    if track is not None:
        args += ["--track", ",".join(track)] if track else ["--no-track"]
    return args


def run_distributed(
    settings: dict[str, Any],
    run_path: str,
    resume: bool,
    processes: int,
    track: list[str] | None,
    send: Callable[[Event], None],
    control: Control,
) -> dict[str, Any]:
    """Train under torchrun with ``processes`` ranks on this machine; rank 0's events go to
    ``send``, ``control`` is watched for Stop and Pause. Returns rank 0's summary (as
    ``Trainer.run`` does); a run that ends without one raises :class:`DistributedRunFailed`
    with rank 0's error line."""
    if not resume:  # refused here, naming the setting, not a temp file that is gone after
        from gender_desktop.ml.config import TrainConfig

        TrainConfig.from_dict(settings).validate()
    death_signal = _death_signal_setter()
    with tempfile.TemporaryDirectory(prefix="gender-desktop-ddp-") as tmp:
        folder = Path(tmp)
        settings_file, event_file = folder / "settings.json", folder / "events.jsonl"
        control_file, output_file = folder / "control", folder / "output.txt"
        atomic_write_json(settings_file, settings)
        event_file.touch()
        write_control(control_file, control)
        command = torchrun_command(processes, train_args(settings_file, run_path, resume, track))
        command += ["--events", str(event_file), "--control", str(control_file)]
        env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
        with open(output_file, "wb") as output:
            process = subprocess.Popen(
                command,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # the app's Ctrl+C or terminal is not the run's
                preexec_fn=death_signal,
            )
            ended = _relay(process, EventReader(event_file), control_file, control, send)
        if ended is not None and ended.summary:
            return ended.summary
        raise DistributedRunFailed(_failure_line(output_file, process.returncode))


def _death_signal_setter() -> Callable[[], None] | None:
    """Linux: what makes torchrun's agent get SIGTERM when the training child dies (killed
    with the app): the agent then stops the ranks, and rank 0 records the run as failed,
    resumable. ``prctl`` is looked up here, in the parent: a ``preexec_fn`` runs between fork
    and exec in a child of a threaded process, where an import or a dlopen can deadlock."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes
    import signal

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    term = int(signal.SIGTERM)

    def set_death_signal() -> None:
        prctl(1, term, 0, 0, 0)  # PR_SET_PDEATHSIG

    return set_death_signal


def _relay(
    process: subprocess.Popen,
    reader: EventReader,
    control_file: Path,
    control: Control,
    send: Callable[[Event], None],
) -> events_mod.RunEnded | None:
    """Relay events until torchrun exits, keeping the control file up to date; the run's
    RunEnded (None if rank 0 never sent one). Should this process be ended, torchrun is
    ended with it (SIGTERM to its agent, which stops the ranks)."""
    ended, word = None, "run"
    try:
        while True:
            running = process.poll() is None
            for event in reader.read():
                if isinstance(event, events_mod.RunEnded):
                    ended = event
                send(event)
            if not running:
                return ended
            wanted = (
                "stop" if control.stop.is_set() else "pause" if control.pause.is_set() else "run"
            )
            if wanted != word:
                word = write_control(control_file, control)
            time.sleep(RELAY_POLL_S)
    except BaseException:
        process.terminate()  # the agent stops the ranks (they record the run) ...
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:  # ... or, stuck, the whole session goes
            os.killpg(process.pid, 9)
            process.wait()
        raise


_FOLLOWERS = (
    "torchrun ended this process",
    "another process of the run failed",
    "a process of the distributed run was lost",
)


def _failure_line(output_file: Path, code: int | None) -> str:
    """Rank 0's one-line error (``gender-desktop train: error: …``), else the output's end."""
    try:
        lines = output_file.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [
        message
        for line in lines
        for _, marker, message in [line.partition("gender-desktop train: error: ")]
        if marker
    ]
    # The first error that is a process's own (a NaN loss, a full disk) says why the run
    # ended; "torchrun ended this process" and "another process … failed" only follow it.
    own = [m for m in errors if not m.startswith(_FOLLOWERS)]
    if own or errors:
        return (own or errors)[0]
    tail = " | ".join(line.strip() for line in lines[-3:] if line.strip())
    return f"the distributed run ended with exit code {code}" + (f": {tail}" if tail else "")
