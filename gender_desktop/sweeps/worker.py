"""One sweep worker process: ``python -m gender_desktop.sweeps.worker`` (started by
:mod:`gender_desktop.sweeps.parallel`, one per GPU).

It reads ``{"spec", "runs_dir", "track"}`` as one JSON object on stdin, runs
:func:`~gender_desktop.sweeps.runner.run_sweep` on the shared study (taking trials until none is
left, exactly as one ``gender-desktop sweep`` does) and writes each sweep event as a JSON line on
stdout for its parent to relay; messages go to stderr. SIGINT is the parent's Stop: the running
trial ends after its batch, marked stopped and enqueued again (a second SIGINT: at once).
Exit codes are the CLI's (0 done, 2 a user error, 130 stopped, 1 a bug), through the CLI's guard.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from gender_desktop.ml.events import by_name, from_json_line, to_json_line
from gender_desktop.sweeps import events as sweep_events

EVENT_TYPES = by_name(
    sweep_events.SweepStarted,
    sweep_events.TrialStarted,
    sweep_events.TrialEnded,
    sweep_events.SweepEnded,
)


def encode(event: Any) -> str:
    """A sweep event as one JSON line (its class name under ``event``)."""
    return to_json_line(event)


def decode(line: str) -> Any | None:
    """The sweep event a worker's stdout line holds, or None (not one of ours)."""
    return from_json_line(line, EVENT_TYPES)


ORPHAN_GRACE_S = 60.0


class _Relay:
    """The worker's events to its parent, as JSON lines; a closed pipe (the parent gone) stops
    the worker cleanly, as the process layer's parent watch does for a killed parent."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop

    def __call__(self, event: Any) -> None:
        if type(event).__name__ not in EVENT_TYPES:
            return
        try:
            print(encode(event), flush=True)
        except (BrokenPipeError, OSError):
            self.stop.set()


def _run(args: argparse.Namespace) -> int:
    from gender_desktop.cli.guard import ctrl_c_sets
    from gender_desktop.errors import EXIT_INTERRUPTED, EXIT_OK
    from gender_desktop.ml.events import Control
    from gender_desktop.ml.sweep_jobs import spec_from_dict
    from gender_desktop.procs import watch_parent
    from gender_desktop.sweeps.runner import run_sweep

    spec = spec_from_dict(args.spec)
    control = Control()
    # A parent that is gone (killed, the GUI's child ended) stops this worker: its trial is
    # kept as stopped and waits to run again, and no orphan goes on taking trials. The grace
    # lets the running batch (or the feature pass's) end and the study be told before the
    # process layer ends the orphan whatever it is doing.
    watch_parent(os.getppid(), on_gone=control.stop.set, grace_s=ORPHAN_GRACE_S)
    runs_dir = Path(args.runs_dir) if args.runs_dir else None
    with ctrl_c_sets(control.stop):
        summary = run_sweep(
            spec,
            runs_dir,
            _Relay(control.stop),
            control,
            track=args.track,
            worker_trials=args.worker_trials,
        )
    return EXIT_INTERRUPTED if summary.stopped else EXIT_OK


def main() -> int:
    from gender_desktop.cli.guard import run_guarded

    payload = json.loads(sys.stdin.readline())
    args = argparse.Namespace(
        spec=payload["spec"],
        runs_dir=payload.get("runs_dir"),
        track=payload.get("track"),
        worker_trials=payload.get("worker_trials"),
    )
    return run_guarded("sweep worker", _run, args)


if __name__ == "__main__":
    sys.exit(main())
