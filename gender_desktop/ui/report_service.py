"""The app's report child: writes a report in its own process, so the window stays responsive.

Reading the runs, McNemar on their predictions and drawing four figures take longer than the
GUI thread may block, and the figures are QWidgets, which only a QApplication's main thread
may draw. A child process has its own main thread and an offscreen QApplication, so the
Experiments tab just sends a request and gets the file's path back::

    client = ProcessClient("report", self, service=REPORT_SERVICE)
    client.request("report", runs=[str(p) for p in paths], out=str(file), title=title)
    # client.finished(rid, {"path": ..., "runs": n}) / client.failed(rid, message)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gender_desktop.procs import Job

REPORT_SERVICE = "gender_desktop.ui.report_service:ReportService"


class ReportService:
    """Requests: ``report`` {runs: [folder, ...], out: file, title: str}."""

    def handle(self, job: Job) -> Any:
        if job.kind != "report":
            raise ValueError(f"unknown request {job.kind!r}")
        from gender_desktop.ui.report_figures import write_report

        args = job.args
        runs = [Path(p) for p in args["runs"]]
        job.progress(0, 1, f"Writing the report of {len(runs)} run(s)")
        written = write_report(runs, Path(args["out"]), str(args.get("title") or ""))
        job.progress(1, 1, "Report written")
        return {"path": str(written), "runs": len(runs)}
