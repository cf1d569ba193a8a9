"""One trial per GPU at a time: a sweep worker process per device, all on one study.

This is Optuna's own multi-worker model, not a scheduler: each worker
(:mod:`gender_desktop.sweeps.worker`) is an ordinary ``run_sweep`` on the shared storage and
takes the next waiting trial itself (the RDB storage's row lock, SQLite's file lock or the
journal's replay makes sure no two take the same one), exactly as workers on other machines do.
What this module adds is the local part: it creates (or joins) the study once, starts one worker
per device with ``CUDA_VISIBLE_DEVICES`` set to that device (so each sees one GPU, as
``cuda:0``), hands each worker's events and messages to the caller tagged with its device,
turns Stop (``control.stop``: Ctrl+C in the CLI, the GUI's Stop) into one SIGINT per worker
(each ends its running trial after its batch, marked stopped and enqueued again), waits for all,
and summarises the study.

Workers run in their own process group, so a terminal's Ctrl+C reaches the parent alone and
each worker is told exactly once (a second Ctrl+C: a second SIGINT, which ends them at once).
On Windows, where SIGINT cannot be sent to another process, Stop terminates the workers; their
trials stay "running" in the study and run again when the sweep is rerun.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from gender_desktop.errors import EXIT_INTERRUPTED, EXIT_OK
from gender_desktop.ml.events import Control
from gender_desktop.sweeps.devices import VISIBLE
from gender_desktop.sweeps.results import SweepSummary, summarise
from gender_desktop.sweeps.spec import SweepSpec
from gender_desktop.sweeps.worker import decode

WORKER_MODULE = "gender_desktop.sweeps.worker"
POLL_S = 0.2
STOP_WAIT_S = 120.0  # after Stop, a worker has this long to end its batch before it is killed


def _ignore(_device: str, _item: Any) -> None:
    """The callback after the caller's own one failed: the workers' last lines are dropped."""


# (device, item): item is a sweep event of that worker's, or one line of its stderr
DeviceCallback = Callable[[str, Any], None]


@dataclass
class DeviceSweep:
    summary: SweepSummary  # the study's, all workers' trials
    codes: dict[str, int]  # each device's worker's exit code (0 done, 130 stopped, 2, 1)

    def failed(self) -> dict[str, int]:
        """The workers that ended with an error (their message came as a stderr line)."""
        return {d: c for d, c in self.codes.items() if c not in (EXIT_OK, EXIT_INTERRUPTED)}


def sweep_on_devices(
    spec: SweepSpec,
    devices: Sequence[str],
    runs_dir: Path | None = None,
    callback: DeviceCallback | None = None,
    control: Control | None = None,
    track: Sequence[str] | None = None,
    worker_trials: int | None = None,
) -> DeviceSweep:
    """Run the sweep with one worker per entry of ``devices`` (``CUDA_VISIBLE_DEVICES``
    values, :func:`~gender_desktop.sweeps.devices.pinned_devices`) until no trial is left or
    Stop; ``callback`` gets each worker's events and messages in this thread."""
    from gender_desktop.ml.sweep_jobs import spec_to_dict
    from gender_desktop.sweeps import study as studies
    from gender_desktop.sweeps.storage import open_storage

    spec.validate()
    control = control or Control()
    storage = open_storage(spec.storage)
    studies.open_study(spec, storage)  # created (its grid enqueued) once, before the workers join
    payload = json.dumps(
        {
            "spec": spec_to_dict(spec),
            "runs_dir": str(runs_dir) if runs_dir else None,
            "track": list(track) if track is not None else None,
            "worker_trials": worker_trials,  # each GPU's share, when given
        }
    )
    group = _Workers(list(devices), payload)
    codes = group.wait(callback or (lambda device, item: None), control)
    study = studies.load_existing(spec, storage)
    stopped = control.stop.is_set() or EXIT_INTERRUPTED in codes.values()
    return DeviceSweep(summarise(study, storage.public, stopped), codes)


class _Workers:
    """The worker processes, the threads that read their pipes, and their stop."""

    def __init__(self, devices: list[str], payload: str) -> None:
        self.items: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.readers: list[threading.Thread] = []
        self.signalled = 0
        try:
            for device in devices:
                self._start(device, payload)
        except BaseException:
            self._kill()
            raise

    def _start(self, device: str, payload: str) -> None:
        env = os.environ | {VISIBLE: device, "PYTHONUNBUFFERED": "1"}
        kwargs: dict[str, Any] = {}
        if os.name == "posix":
            kwargs["start_new_session"] = True  # Ctrl+C in the terminal: the parent decides
        proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=env,
            **kwargs,
        )
        self.procs[device] = proc
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        proc.stdin.write(payload + "\n")
        proc.stdin.close()
        for stream, events in ((proc.stdout, True), (proc.stderr, False)):
            reader = threading.Thread(target=self._read, args=(device, stream, events), daemon=True)
            reader.start()
            self.readers.append(reader)

    def _read(self, device: str, stream: IO[str], events: bool) -> None:
        for line in stream:
            text = line.rstrip("\n")
            event = decode(text) if events else None
            if event is not None:
                self.items.put((device, event))
            elif text.strip():
                self.items.put((device, text))

    def wait(self, callback: DeviceCallback, control: Control) -> dict[str, int]:
        """Relay until every worker has ended; Stop once: SIGINT each; Ctrl+C again (a
        KeyboardInterrupt here): SIGINT again, wait, and re-raise. Any other error here (the
        caller's callback failing, its pipe gone) stops the workers too before it propagates:
        they must not go on taking trials for a parent that no longer listens."""
        try:
            while any(p.poll() is None for p in self.procs.values()):
                if control.stop.is_set() and not self.signalled:
                    self._interrupt()
                self._relay(callback, POLL_S)
        except BaseException as exc:
            self._interrupt()
            self._finish(callback if isinstance(exc, KeyboardInterrupt) else _ignore)
            raise
        self._finish(callback)
        return {d: int(p.returncode) for d, p in self.procs.items()}

    def _relay(self, callback: DeviceCallback, wait_s: float) -> None:
        try:
            callback(*self.items.get(timeout=wait_s))
        except queue.Empty:
            return
        while True:
            try:
                callback(*self.items.get_nowait())
            except queue.Empty:
                return

    def _interrupt(self) -> None:
        self.signalled += 1
        for proc in self.procs.values():
            if proc.poll() is not None:
                continue
            if os.name == "posix":
                proc.send_signal(signal.SIGINT)
            else:
                proc.terminate()

    def _finish(self, callback: DeviceCallback) -> None:
        """Wait for the workers (killing one that outlives the stop wait) and their pipes."""
        for proc in self.procs.values():
            try:
                proc.wait(timeout=STOP_WAIT_S if self.signalled else None)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for reader in self.readers:
            reader.join(timeout=5)
        self._relay(callback, 0)

    def _kill(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
