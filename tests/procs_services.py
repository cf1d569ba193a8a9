"""A small service for the process layer's tests: it runs in a real spawned child (the tests
folder is on the child's ``sys.path``, as spawn copies the parent's)."""

from __future__ import annotations

import os
import time
from typing import Any

from gender_desktop.errors import Cancelled, UserError
from gender_desktop.procs import Job


class Toy:
    """``echo`` returns its args; ``ticks`` counts up to ``n`` every ``interval`` s with a
    progress reply per tick, honouring pause and cancel like a training's batches; ``die``
    ends the process with ``code`` (``after`` seconds); ``bug`` raises a RuntimeError; ``bad`` a UserError;
    ``pid`` answers the child's pid."""

    def handle(self, job: Job) -> Any:
        args = job.args
        if job.kind == "echo":
            return args
        if job.kind == "pid":
            return os.getpid()
        if job.kind == "ticks":
            n, interval = int(args.get("n", 1000)), float(args.get("interval", 0.02))
            for i in range(1, n + 1):
                while job.pause.is_set():
                    time.sleep(0.01)
                if job.cancel.is_set():
                    raise Cancelled()
                time.sleep(interval)
                job.send("progress", (i, n, "tick"))  # unthrottled: every tick is counted
            return {"ticks": n}
        if job.kind == "die":
            time.sleep(float(args.get("after", 0)))
            os._exit(int(args.get("code", 7)))
        if job.kind == "bug":
            raise RuntimeError("the toy service has a bug")
        if job.kind == "bad":
            raise UserError("the toy setting is wrong", file="toy.json")
        raise ValueError(job.kind)
