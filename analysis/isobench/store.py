"""The results folder of one run: atomic writes as cells end, loaders for the report.

Layout of ``results/<run-id>/``::

    run.json                 run metadata: spec name and hash, git revision, seed, plan, status
    spec.yml                 the experiment spec exactly as run
    cells/<cell-id>.json     one file per finished cell: {cell, status, reason, samples, ...}
    provenance/<target>.json one file per target: host facts, versions, binary checksums
    events.log               a line per runner event of interest (progress)
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

CELLS_DIR = "cells"
PROVENANCE_DIR = "provenance"
RUN_FILE = "run.json"

SAMPLE_COLUMNS = [
    "run_id",
    "cell_id",
    "host",
    "target",
    "env",
    "variant",
    "accel",
    "benchmark",
    "tool",
    "metric",
    "value",
    "unit",
    "higher_is_better",
    "repetition",
    "warmup",
    "started",
    "ended",
    "params",
]


class ResultsError(Exception):
    """A results folder that cannot be read or written."""


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON so that a reader sees either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, default=str)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, json.JSONDecodeError) as exc:
        raise ResultsError(f"cannot read {path}: {exc}") from exc


def safe_name(name: str) -> str:
    """A file name for a cell or target id (ids are validated, this is a second guard)."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def write_cell(run_dir: Path, record: dict[str, Any]) -> Path:
    path = run_dir / CELLS_DIR / f"{safe_name(record['cell']['id'])}.json"
    write_json_atomic(path, record)
    return path


def write_provenance(run_dir: Path, target: str, record: dict[str, Any]) -> Path:
    path = run_dir / PROVENANCE_DIR / f"{safe_name(target)}.json"
    write_json_atomic(path, record)
    return path


def load_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise ResultsError(f"{run_dir} is not an isobench run folder (no {RUN_FILE})")
    return read_json(path)


def load_cells(run_dir: Path) -> list[dict[str, Any]]:
    """Every cell record on disk, sorted by cell id."""
    folder = run_dir / CELLS_DIR
    if not folder.is_dir():
        return []
    return [read_json(p) for p in sorted(folder.glob("*.json"))]


def load_provenance(run_dir: Path) -> dict[str, dict[str, Any]]:
    folder = run_dir / PROVENANCE_DIR
    if not folder.is_dir():
        return {}
    return {p.stem: read_json(p) for p in sorted(folder.glob("*.json"))}


def samples_frame(cells: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """One long (tidy) table: a row per measured value, from the cells that succeeded."""
    rows = [
        {**{"warmup": False}, **sample}
        for cell in cells
        if cell.get("status") == "ok"
        for sample in cell.get("samples", [])
    ]
    frame = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    if not frame.empty:
        frame["value"] = frame["value"].astype(float)
        frame["repetition"] = frame["repetition"].astype(int)
    return frame


def load_samples(run_dir: Path) -> pd.DataFrame:
    return samples_frame(load_cells(run_dir))


def failed_cells(cells: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return [c for c in cells if c.get("status") != "ok"]
