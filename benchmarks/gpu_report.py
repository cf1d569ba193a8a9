"""The GPU check's report: benchmarks/gpu_check.sh runs its steps, this gathers them.

    python benchmarks/gpu_report.py --environment FILE   # the machine and versions, as JSON
    python benchmarks/gpu_report.py OUT_DIR [--smoke]    # OUT_DIR/gpu_check.json and .md

The JSON holds the machine (GPU name, driver, torch, CUDA, cuDNN), every step's status,
seconds and note (steps.tsv, written by the script), the pytest counts from the junit XML and
each benchmark's own JSON. The Markdown is the table for docs/benchmarks.md: each of the
issue's targets with the number measured and whether it is met, the GPU named above it.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from predict_latency import cpu_name

BENCHMARKS = (
    "train_throughput",
    "decode_speed",
    "predict_latency",
    "sweep_speed",
    "train_throughput_compile",
)


def environment() -> dict[str, Any]:
    """The machine and the versions the numbers belong to."""
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cuda_available": torch.cuda.is_available(),
        "gpu_count": torch.cuda.device_count(),
        "cpu": cpu_name(),
        "cpu_cores": __import__("os").cpu_count(),
    }
    try:
        import torchvision

        env["torchvision"] = torchvision.__version__
    except ImportError:
        env["torchvision"] = None
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(
            gpu=torch.cuda.get_device_name(0),
            gpu_memory_gib=round(props.total_memory / 2**30, 1),
            compute_capability=f"{props.major}.{props.minor}",
            native_bf16=torch.cuda.is_bf16_supported(including_emulation=False),
            driver=_driver(),
        )
    return env


def _driver() -> str | None:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout else None


def read_steps(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        name, status, seconds, note = [*line.split("\t"), "", "", ""][:4]
        rows.append({"name": name, "status": status, "seconds": int(seconds or 0), "note": note})
    return rows


def junit_counts(path: Path) -> dict[str, Any] | None:
    """Passed / failed / errors / skipped, and the names of the tests that did not pass."""
    if not path.exists():
        return None
    root = ET.parse(path).getroot()
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    failed = []
    for case in root.iter("testcase"):
        counts["tests"] += 1
        for kind, key in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
            found = case.find(kind)
            if found is not None:
                counts[key] += 1
                if kind != "skipped":
                    failed.append(f"{case.get('name')}: {(found.get('message') or '')[:200]}")
    counts["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    counts["not_passed"] = failed
    return counts


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def target_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, target, measured, met) for the issue's targets, from the benchmarks' JSON."""
    rows: list[tuple[str, str, str, str]] = []

    def met(ok: bool | None) -> str:
        return "—" if ok is None else ("yes" if ok else "**no**")

    for key, label in (("train_throughput", ""), ("train_throughput_compile", ", torch.compile")):
        tt = results.get(key) or {}
        scopes = tt.get("scopes", {})
        for scope, title, floor in (
            ("all", "whole network", 3000),
            ("last_block", "last block + head", 6000),
        ):
            s = scopes.get(scope)
            if not s:
                continue
            what = f"{tt.get('backbone', 'vgg16')} {title}{label}, from JPEG files"
            rate, ref = s["engine_images_per_second"], s["reference_images_per_second"]
            rows.append((f"{what} (img/s)", f">= {floor:,}", f"{rate:,.0f}", met(rate >= floor)))
            rows.append(
                (
                    f"{what}: engine / reference loop",
                    ">= 2x",
                    f"{s['speedup']:.2f}x ({ref:,.0f} img/s)",
                    met(s["speedup"] >= 2),
                )
            )
        if "head_only_10_epochs_seconds" in tt:
            n, sec = tt.get("head_only_train_images", 0), tt["head_only_10_epochs_seconds"]
            rows.append(
                (
                    f"ten head-only epochs over {n:,} images, incl. the feature pass",
                    "< 15 s (24,000 images)",
                    f"{sec:.1f} s",
                    met(sec < 15 and n >= 24_000),
                )
            )
    ds = results.get("decode_speed") or {}
    if ds.get("nvjpeg_images_per_second"):
        rows.append(
            (
                f"decode cache, {ds['images']:,} JPEGs: nvjpeg / {ds['cpu_cores']} CPU workers",
                "> 1x (else decode on the CPU)",
                f"{ds['nvjpeg_speedup']:.2f}x ({ds['nvjpeg_images_per_second']:,.0f} vs "
                f"{ds['cpu_workers_images_per_second']:,.0f} img/s, pixels ±{ds['mean_abs_pixel_difference']})",
                met(ds["nvjpeg_speedup"] > 1),
            )
        )
    elif ds:
        rows.append(
            (
                f"decode cache, {ds['images']:,} JPEGs, {ds['cpu_cores']} CPU workers",
                "(nvjpeg needs CUDA)",
                f"{ds['cpu_workers_images_per_second']:,.0f} img/s",
                "—",
            )
        )
    pl = results.get("predict_latency") or {}
    if pl:
        single = pl["single_image"]["median_ms"]
        rows.append(
            (
                f"one dropped image, {pl['backbone']} in process (median)",
                "< 50 ms",
                f"{single:.1f} ms",
                met(single < 50),
            )
        )
        if "engine" in pl:
            e = pl["engine"]["median_ms"]
            rows.append(
                (
                    f"one dropped image, {pl['backbone']} through the engine child (median)",
                    "< 50 ms",
                    f"{e:.1f} ms",
                    met(e < 50),
                )
            )
    sw = results.get("sweep_speed") or {}
    if sw:
        ratio = sw["sweep_over_one_run"]
        rows.append(
            ("six-trial head-only sweep / one run", "< 1.5", f"{ratio:.2f}", met(ratio < 1.5))
        )
    return rows


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    where = (
        env.get("gpu") or f"no GPU: CPU smoke on {env.get('cpu')} ({env.get('cpu_cores')} cores)"
    )
    head = [
        f"### GPU check: {where}",
        "",
        f"{report['date']} · driver {env.get('driver') or '—'} · torch {env.get('torch')} · "
        f"CUDA {env.get('cuda') or '—'} · cuDNN {env.get('cudnn') or '—'} · Python {env.get('python')}"
        + (
            " · **CPU smoke run (tiny sizes): the targets are for an H100 and are not judged here**"
            if report["smoke"]
            else ""
        ),
        "",
    ]
    rows = target_rows(report["results"])
    if rows:
        head += ["| Measure | Target | Measured | Met |", "|---|---|---|---|"]
        head += [
            f"| {a} | {b} | {c} | {d if not report['smoke'] else '—'} |" for a, b, c, d in rows
        ]
        head.append("")
    head += ["| Step | Status | Seconds | Note |", "|---|---|---|---|"]
    for step in report["steps"]:
        note = step["note"].replace("|", "/")
        head.append(f"| {step['name']} | {step['status']} | {step['seconds']} | {note} |")
    tests = report.get("pytest_cuda")
    if tests:
        head += [
            "",
            f"pytest -m cuda: {tests['passed']} passed, {tests['failures']} failed, "
            f"{tests['errors']} errors, {tests['skipped']} skipped",
        ]
        head += [f"- not passed: {name}" for name in tests["not_passed"]]
    return "\n".join(head) + "\n"


def build_report(out: Path, smoke: bool) -> dict[str, Any]:
    env = _load(out / "environment.json") or {}
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "smoke": smoke,
        "environment": env,
        "steps": read_steps(out / "steps.tsv"),
        "pytest_cuda": junit_counts(out / "pytest_cuda.xml"),
        "results": {name: _load(out / f"{name}.json") for name in BENCHMARKS},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, help="the check's results folder")
    parser.add_argument("--smoke", action="store_true", help="a CPU smoke run (tiny sizes)")
    parser.add_argument("--environment", type=Path, help="write the machine's facts here")
    args = parser.parse_args()
    if args.environment:
        env = environment()
        args.environment.write_text(json.dumps(env, indent=2) + "\n")
        print(json.dumps(env, indent=2))
        return 0
    if args.out is None:
        parser.error("give the results folder (or --environment FILE)")
    report = build_report(args.out, args.smoke)
    report["targets"] = [
        dict(zip(("measure", "target", "measured", "met"), row, strict=True))
        for row in target_rows(report["results"])
    ]
    (args.out / "gpu_check.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "gpu_check.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
