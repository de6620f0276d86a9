"""How fast is the report on a big run? Builds it from a synthetic run of a million samples.

    .venv/bin/python bench/report_speed.py [--samples 1000000] [--keep DIR] [--workers N]

A script, not a test. It writes a synthetic results folder in a temporary directory, in
the runner's own format (run.json with seed, order and plan, spec.yml, cells/*.json
written like ``store.write_json_atomic``: indented, sorted keys), then builds the report
in a fresh Python process and prints that process's wall time and peak resident memory
(``resource.getrusage``: ``ru_maxrss`` of the process, and of its largest worker).

The synthetic run: 2 hosts x 5 environments (kvm-tuned of lab2 under TCG), jobs compress
(2 metrics), hpcc (linpack, stream x 5, randomaccess x 3) and a "redis" sweep over
``params.connections`` (6 points x 2 metrics), every job's repetitions packed into cell
files of 500 repetitions (``--block 1``: one repetition per file, as the runner writes
them); repetition 1 of every (host, environment, job) is a warm-up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HOSTS = ["lab1", "lab2"]
ENVS = {  # env -> (accel, factor against native)
    "native": ("none", 1.0),
    "docker-host": ("none", 0.995),
    "docker-nat": ("none", 0.98),
    "kvm-untuned": ("kvm", 0.85),
    "kvm-tuned": ("kvm", 0.97),
}
JOBS = {  # job -> [(benchmark, metric, unit, higher_is_better, native mean, cv)]
    "compress": [
        ("compress", "throughput", "MB/s", True, 76.2, 0.012),
        ("compress", "seconds", "s", False, 13.1, 0.012),
    ],
    "hpcc": [
        ("linpack", "gflops", "GFLOPS", True, 290.8, 0.004),
        ("stream", "copy", "GB/s", True, 41.27, 0.002),
        ("stream", "scale", "GB/s", True, 41.25, 0.002),
        ("stream", "add", "GB/s", True, 45.79, 0.005),
        ("stream", "triad", "GB/s", True, 45.60, 0.003),
        ("stream", "triad_single", "GB/s", True, 12.1, 0.01),
        ("randomaccess", "gups", "GUPS", True, 0.0126, 0.03),
        ("randomaccess", "gups_mpi", "GUPS", True, 0.004, 0.08),
        ("randomaccess", "gups_single", "GUPS", True, 0.07, 0.02),
    ],
    "redis": [
        ("redis", "get", "ops/s", True, 110000.0, 0.03),
        ("redis", "set", "ops/s", True, 100000.0, 0.03),
    ],
}
CONNECTIONS = [1, 2, 5, 10, 20, 50]
BLOCK = 500  # repetitions per cell file (--block; the runner writes one per file)
RUN_ID = "20270101T000000Z-speed-0001"


def samples_per_round() -> int:
    return (
        len(HOSTS)
        * len(ENVS)
        * sum(len(m) * (len(CONNECTIONS) if job == "redis" else 1) for job, m in JOBS.items())
    )


def _cell_file(
    run_dir: Path, host: str, env: str, job: str, first: int, last: int, seed: int
) -> int:
    rng = random.Random(seed)
    accel, factor = ENVS[env]
    if host == "lab2" and env == "kvm-tuned":
        accel = "tcg"
    target = f"{host}--{env}"
    cell_id = f"{target}--{job}--r{first}-{last}"
    # as the runner writes them (isoformat with microseconds)
    started = f"2027-01-01T{seed % 24:02d}:{seed % 60:02d}:00.{rng.randrange(1, 10**6):06d}Z"
    ended = f"2027-01-01T{seed % 24:02d}:{seed % 60:02d}:59.{rng.randrange(1, 10**6):06d}Z"
    samples = []
    for rep in range(first, last + 1):
        hpl_seconds = round(rng.uniform(20, 21), 3)
        points = CONNECTIONS if job == "redis" else [None]
        for conns in points:
            if job == "redis":
                params = {"connections": conns, "data_size": 50, "requests": 500000}
            elif job == "hpcc":
                params = {"n": 45000, "nb": 192, "processes": 32, "hpl_seconds": hpl_seconds}
            else:
                params = {"threads": 32, "level": 2, "input_mb": 1024}
            for benchmark, metric, unit, higher, mean, cv in JOBS[job]:
                scale = mean * factor * (min(1.0, (conns or 1) / 20) if conns else 1.0)
                value = rng.gauss(scale, scale * cv) if math.isfinite(scale) else 0.0
                samples.append(
                    {
                        "run_id": RUN_ID, "cell_id": cell_id, "host": host, "target": target,
                        "env": env, "variant": "", "accel": accel, "benchmark": benchmark,
                        "tool": f"{job} 1.0", "metric": metric, "value": value, "unit": unit,
                        "higher_is_better": higher, "repetition": rep, "warmup": rep == 1,
                        "started": started, "ended": ended, "params": params,
                    }
                )  # fmt: skip
    record = {
        "cell": {"id": cell_id, "host": host, "target": target, "env": env, "variant": "",
                 "job": job, "benchmarks": sorted({m[0] for m in JOBS[job]}),
                 "repetition": first, "warmup": first == 1},
        "status": "ok", "reason": "", "started": started, "ended": ended, "samples": samples,
    }  # fmt: skip
    text = json.dumps(record, indent=1, sort_keys=True, default=str)  # as the runner writes
    (run_dir / "cells" / f"{cell_id}.json").write_text(text + "\n", encoding="utf-8")
    return len(samples)


def write_run(run_dir: Path, samples: int, block: int = BLOCK) -> int:
    """A synthetic run folder of about ``samples`` samples, ``block`` repetitions of a job
    per cell file; returns the exact count."""
    rounds = max(2, math.ceil(samples / samples_per_round()))
    (run_dir / "cells").mkdir(parents=True)
    jobs, plan, seq = [], [], 0
    for host in HOSTS:
        for env in ENVS:
            for job in JOBS:
                for first in range(1, rounds + 1, block):
                    last = min(rounds, first + block - 1)
                    jobs.append((run_dir, host, env, job, first, last, len(jobs)))
                    seq += 1
                    plan.append({"id": f"{host}--{env}--{job}--r{first}-{last}", "seq": seq,
                                 "host": host, "env": env, "variant": "", "job": job,
                                 "repetition": first, "warmup": first == 1})  # fmt: skip
    with ProcessPoolExecutor() as pool:
        total = sum(pool.map(_cell_file, *zip(*jobs, strict=True), chunksize=64))
    (run_dir / "spec.yml").write_text("isobench: 1\nname: speed\nwarmup: 1\nseed: 7\n")
    run = {
        "run_id": RUN_ID, "spec_name": "speed", "spec_sha256": "0" * 64, "seed": 7,
        "order": "randomized", "hosts": HOSTS, "inventory": "synthetic", "plan": plan,
        "started": "2027-01-01T00:00:00Z", "ended": "2027-01-02T00:00:00Z",
        "status": "successful",
    }  # fmt: skip
    (run_dir / "run.json").write_text(json.dumps(run, indent=1, sort_keys=True))
    return total


MEASURE = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from isobench import report
t1 = time.perf_counter()
workers = None if sys.argv[2] == "auto" else int(sys.argv[2])
timings = {}
paths = report.build_report(Path(sys.argv[1]), workers=workers, timings=timings)
t2 = time.perf_counter()
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"import_s": t1 - t0, "build_s": t2 - t1, "maxrss_kib": own,
                  "children_maxrss_kib": kids, "files": len(paths), "stages": timings}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="write the run here and keep it (reused when there already)",
    )
    parser.add_argument("--workers", default="auto", help="loader processes (default: auto)")
    parser.add_argument(
        "--block", type=int, default=BLOCK, help=f"repetitions per cell file (default {BLOCK})"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="isobench-speed-") as tmp:
        run_dir = (args.keep or Path(tmp)) / RUN_ID
        reuse = (run_dir / "run.json").is_file()  # --keep DIR of an earlier call
        needed = 0 if reuse else args.samples * 900  # cells ~550 B/sample, CSV ~300 B/sample
        free = shutil.disk_usage(run_dir.parent if reuse else (args.keep or Path(tmp))).free
        if free < needed:
            print(f"not enough disk space for {run_dir}: {free / 2**20:.0f} MiB free, "
                  f"about {needed / 2**20:.0f} MiB needed", file=sys.stderr)  # fmt: skip
            return 2
        start = time.perf_counter()
        total = None if reuse else write_run(run_dir, args.samples, args.block)
        size = sum(p.stat().st_size for p in (run_dir / "cells").glob("*.json"))
        cells = len(list((run_dir / "cells").iterdir()))
        print(
            f"synthetic run: {'reused' if total is None else f'{total:,} samples'} in {cells} "
            f"cell files, {size / 2**20:.0f} MiB, ready in {time.perf_counter() - start:.1f} s"
        )
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", MEASURE, str(run_dir), str(args.workers)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        wall = time.perf_counter() - start
        result = json.loads(out.stdout.strip().splitlines()[-1])
        own, kids = result["maxrss_kib"] / 1024, result["children_maxrss_kib"] / 1024
        print(
            f"report wall time: {wall:.2f} s for the whole process, of which build_report "
            f"{result['build_s']:.2f} s and imports {result['import_s']:.2f} s"
        )
        print(f"peak memory: {own:.0f} MiB (report process), {kids:.0f} MiB (largest worker)")
        stages = ", ".join(f"{k} {v:.2f} s" for k, v in result["stages"].items())
        print(f"stages: {stages}")
        print(f"files written: {result['files']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
