"""How much of an experiment's wall time is the harness, not the benchmarks?

    .venv/bin/python bench/harness_overhead.py --run results/<run-id>
    .venv/bin/python bench/harness_overhead.py --profile quick [--hosts local]

A script, not a test. With ``--profile`` it first runs that experiment through the CLI.
It then reads the run's ansible-runner job events (``runner/artifacts/*/job_events``)
and compares the experiment's wall time with the time the measured tools ran: the
``delta`` (the process's own run time, as Ansible's command module records it) of every
task whose name starts with ``Measure:``, the convention every benchmark role follows for
the tasks that run a measured tool. Everything else is overhead: facts, building or
reusing the userland, creating containers and guests, provenance, copying inputs,
starting servers, parsing, teardown, Ansible's own round trips.

It prints the totals, the overhead share, the time by phase (where the wall time went
before, during and after the cells) and the slowest non-measuring tasks.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURE_PREFIX = "Measure:"


def _delta_seconds(delta: str) -> float:
    hours, minutes, seconds = delta.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def events(run_dir: Path) -> list[dict]:
    found = []
    for path in (run_dir / "runner" / "artifacts").glob("*/job_events/*.json"):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue
    return found


def analyse(run_dir: Path) -> dict:
    meta = json.loads((run_dir / "run.json").read_text())
    wall = float(meta.get("wall_seconds") or 0.0)
    measured = 0.0
    measured_tasks = 0
    by_task: dict[str, float] = defaultdict(float)
    first_cell: datetime | None = None
    last_cell: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None
    for event in events(run_dir):
        data = event.get("event_data") or {}
        created = event.get("created")
        if created:
            when = _time(created)
            start = when if start is None or when < start else start
            end = when if end is None or when > end else end
        if event.get("event") not in ("runner_on_ok", "runner_on_failed"):
            continue
        task = str(data.get("task", ""))
        res = data.get("res") or {}
        deltas = [r.get("delta") for r in res.get("results", []) if isinstance(r, dict)]
        deltas = [d for d in [res.get("delta"), *deltas] if d]  # a loop: one per item
        if task.startswith(MEASURE_PREFIX) and (deltas or data.get("duration") is not None):
            if deltas:
                measured += sum(_delta_seconds(str(d)) for d in deltas)
                measured_tasks += len(deltas)
            else:  # no_log hides the command's own time: take the task's
                measured += float(data["duration"])
                measured_tasks += 1
            t0, t1 = _time(str(data["start"])), _time(str(data["end"]))
            first_cell = t0 if first_cell is None or t0 < first_cell else first_cell
            last_cell = t1 if last_cell is None or t1 > last_cell else last_cell
        elif data.get("duration") is not None:
            by_task[f"{data.get('role') or '-'}: {task}"] += float(data["duration"])
    phases = {}
    if start and end and first_cell and last_cell:
        phases = {
            "before the first measurement": (first_cell - start).total_seconds(),
            "from the first to the last measurement": (last_cell - first_cell).total_seconds(),
            "after the last measurement": (end - last_cell).total_seconds(),
        }
    return {
        "run": run_dir.name,
        "cells": len(meta.get("plan", [])),
        "wall_seconds": wall,
        "measured_seconds": measured,
        "measured_tasks": measured_tasks,
        "overhead_share": (1 - measured / wall) if wall else None,
        "phases": phases,
        "slowest_other_tasks": sorted(by_task.items(), key=lambda kv: -kv[1])[:12],
    }


def show(result: dict) -> None:
    wall, measured = result["wall_seconds"], result["measured_seconds"]
    print(f"run {result['run']}: {result['cells']} cells")
    print(f"  wall time of the experiment      {wall:9.1f} s")
    print(
        f"  measured tool time (Measure: tasks, {result['measured_tasks']} runs) {measured:9.1f} s"
    )
    if result["overhead_share"] is not None:
        print(f"  harness overhead                 {wall - measured:9.1f} s "
              f"({100 * result['overhead_share']:.1f}% of wall time)")  # fmt: skip
    for name, seconds in result["phases"].items():
        print(f"  {name:<40} {seconds:9.1f} s")
    print("  slowest other tasks (summed over hosts and cells):")
    for name, seconds in result["slowest_other_tasks"]:
        print(f"    {seconds:8.1f} s  {name}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", type=Path, help="a finished run folder")
    p.add_argument("--profile", help="run this profile first (quick, paper, or a spec path)")
    p.add_argument("--hosts", default="local")
    p.add_argument("--results", type=Path, default=ROOT / "results")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    run_dir = args.run
    if run_dir is None:
        if not args.profile:
            p.error("give --run or --profile")
        before = set(args.results.glob("*")) if args.results.exists() else set()
        isobench = Path(sys.executable).parent / "isobench"
        subprocess.run(
            [str(isobench), "run", "--profile", args.profile, "--hosts", args.hosts,
             "--results", str(args.results)],
            cwd=ROOT, check=False,
        )  # fmt: skip
        new = sorted(set(args.results.glob("*")) - before)
        if not new:
            print("the experiment made no run folder", file=sys.stderr)
            return 1
        run_dir = new[-1]
    result = analyse(run_dir)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        show(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
