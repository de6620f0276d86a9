"""Run isobench as a user does (the CLI in a subprocess) and read what it left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ISOBENCH = Path(sys.executable).parent / "isobench"

# Plausible ranges for any machine from a laptop to a large server (and TCG guests).
PLAUSIBLE = {
    ("compress", "throughput"): (0.05, 20000.0),
    ("linpack", "gflops"): (0.001, 1e6),
    ("stream", "copy"): (0.01, 5000.0),
    ("stream", "triad"): (0.01, 5000.0),
    ("randomaccess", "gups"): (1e-6, 100.0),
}


def run_cli(*args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ISOBENCH), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def only_run_dir(results: Path) -> Path:
    runs = [p for p in results.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def cells(run_dir: Path) -> dict[str, dict]:
    return {
        json.loads(p.read_text())["cell"]["id"]: json.loads(p.read_text())
        for p in (run_dir / "cells").glob("*.json")
    }


def samples(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "samples.csv")


def userland_mounts() -> list[str]:
    return [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if "/var/lib/isobench/" in line.split()[1]
    ]
