"""The report of one run: report.md, report.html, figures/<benchmark>.png, samples.csv and
samples.parquet.

``build_report(run_dir)`` reads only the results folder (run.json, spec.yml, cells/,
provenance/) and the study's reference numbers; it writes into the same folder. The
statistics are :func:`isobench.stats.analyze`'s; every rule they follow is stated in the
report's "Method" section.

The cell files are read by :func:`load_tidy`, which turns them into one long table
(categorical text columns, params as JSON text) a chunk of files at a time, in worker
processes when the run is large, so a million samples load in seconds and little memory.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
import yaml

from isobench import figures, stats, store

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
SAMPLES_CSV = "samples.csv"
SAMPLES_PARQUET = "samples.parquet"
MISSING = "-"
NOT_AVAILABLE = "n/a"
MAX_CELL_CHARS = 500
MAX_PROVENANCE_CHARS = 2000
MAX_LISTED = 12  # noisy groups named in a warning
MAX_ORDER_ROWS = 2000  # rows of the run order table

HEADER_FIELDS: list[tuple[str, tuple[str, ...]]] = [
    ("run id", ("run_id", "id")),
    ("spec", ("spec_name", "spec.name")),
    ("spec hash", ("spec_hash", "spec.hash", "spec_sha256")),
    ("git revision", ("git_revision", "git_rev", "git.revision", "revision", "git")),
    ("started", ("started", "started_at")),
    ("ended", ("ended", "ended_at")),
    ("status", ("status",)),
    ("hosts", ("hosts",)),
    ("seed", ("seed",)),
]
PROVENANCE_FIRST = [
    "target", "host", "env", "variant", "accel", "cpu_model", "cpus", "mem_mb", "kernel",
    "distribution", "governor", "packages", "tools", "versions", "binaries",
]  # fmt: skip
BINARIES_KEY = "binaries"
BINARIES_AT = ("", "inside")  # where a provenance record keeps the target's own checksums
FAILED_COLUMNS = [
    "cell id", "host", "target", "env", "benchmarks", "repetition", "status", "reason",
]  # fmt: skip
ORDER_COLUMNS = ["seq", "host", "cell id", "environment", "job", "round", "status"]
TCG_WARNING = (
    "Warning: {envs}: these guests ran under TCG, QEMU's software CPU emulation, without "
    "hardware virtualisation. These numbers measure an emulator, not a hypervisor: they "
    "must not be read as KVM overhead, and they are not comparable with the study's KVM "
    "results."
)
NOISY_WARNING = (
    "Noisy: {count} group(s) have a coefficient of variation above {threshold}: {groups}. "
    "Their differences are harder to detect; the repetition advisor says how many runs "
    "they need."
)
LEGEND = (
    "Per environment: mean, sample std dev (n-1), departure from native "
    "((env - native) / native x 100, marked worse or better given the metric's direction; "
    "written 'no significant difference' when the Holm-adjusted test does not reject "
    "equality), the study's published departure for that environment (Felter et al. 2015, "
    "Table I; [source tag]: repo = the authors' scripts/spreadsheets, paper = quoted from "
    "the paper, recalled = approximate), and n = measured repetitions (warm-ups excluded). "
    "The study's 'Docker' is docker-host; its STREAM and RandomAccess ran on untuned KVM."
)
STATS_LEGEND = (
    "Summary: mean ± half-width of its 95% CI (Student t) where Shapiro-Wilk does not "
    "reject normality (p ≥ {normality}), otherwise median [95% CI from order statistics]. "
    "CV = std dev / mean. env/native = ratio of means with its bootstrap 95% CI. "
    "p (Holm) = the test's p-value adjusted over all {m} comparisons of this report."
)
FEW_RUNS_MARK = " (few runs)"


# --- small data holders ------------------------------------------------------------------


@dataclass
class Table:
    """A rendered table: header, string rows, and optional column groups for HTML."""

    columns: list[str]
    rows: list[list[str]]
    groups: list[tuple[str, int, bool]] = field(default_factory=list)  # label, span, emulated
    md_columns: list[str] | None = None  # flattened header for markdown
    row_classes: list[str] = field(default_factory=list)  # HTML class per row ("" = none)


@dataclass
class BenchmarkSection:
    benchmark: str
    table: Table
    figure: str | None = None  # path relative to the run folder
    figure_b64: str | None = None
    stats_table: Table | None = None


@dataclass
class ReportContext:
    title: str
    header: list[tuple[str, str]]
    counts: str
    warnings: list[str]
    legend: str
    sections: list[BenchmarkSection]
    failed: Table
    provenance: Table
    binaries_line: str
    binaries_diff: Table | None
    method: list[str] = field(default_factory=list)
    stats_legend: str = ""
    study: Table | None = None
    study_line: str = ""
    advisor: Table | None = None
    advisor_line: str = ""
    run_order: Table | None = None
    run_order_line: str = ""
    exports: list[tuple[str, str]] = field(default_factory=list)  # (label, relative path)


@dataclass
class Loaded:
    """A run's samples as one long table, and its cell records without their samples."""

    frame: pd.DataFrame
    cells: list[dict[str, Any]]


# --- formatting --------------------------------------------------------------------------


def _finite(x: object) -> bool:
    try:
        return x is not None and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def fmt_num(x: object, digits: int = 4) -> str:
    """``digits`` significant digits, plain notation for ordinary magnitudes."""
    if not _finite(x):
        return MISSING
    value = float(x)  # type: ignore[arg-type]
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    decimals = max(0, digits - 1 - magnitude)
    if decimals > 8 or magnitude > 12:
        return f"{value:.{digits}g}"
    return f"{value:.{decimals}f}"


def fmt_pct(pct: object, decimals: int = 1) -> str:
    """``-4.1%``, ``+2.0%``, ``0.0%``; ``n/a`` when unknown."""
    if not _finite(pct):
        return NOT_AVAILABLE
    value = float(pct)  # type: ignore[arg-type]
    return f"{0.0:.{decimals}f}%" if value == 0 else f"{value:+.{decimals}f}%"


def fmt_departure(pct: object, direction: str, decimals: int = 1) -> str:
    """``-4.1% worse``; a departure that rounds to zero is shown as ``0.0%``."""
    if _finite(pct) and round(float(pct), decimals) == 0:  # type: ignore[arg-type]
        return fmt_pct(0.0, decimals)
    text = fmt_pct(pct, decimals)
    return f"{text} {direction}" if direction in ("better", "worse") else text


def fmt_study(pct: object, source: object) -> str:
    if not _finite(pct):
        return MISSING
    tag = f" [{source}]" if isinstance(source, str) and source else ""
    return fmt_pct(pct, decimals=0) + tag


def fmt_value(value: Any, limit: int = MAX_CELL_CHARS) -> str:
    """Any JSON value in one line of at most ``limit`` characters."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, dict):
        text = "; ".join(f"{k}={fmt_value(v, limit)}" for k, v in sorted(value.items()))
    elif isinstance(value, list | tuple):
        text = ", ".join(fmt_value(v, limit) for v in value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pick(record: dict[str, Any], keys: Iterable[str]) -> Any:
    """The first present value among dotted keys (``spec.name`` looks into ``spec``)."""
    for key in keys:
        node: Any = record
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node not in (None, ""):
            return node
    return None


def fmt_p(p: object) -> str:
    if not _finite(p):
        return MISSING
    value = float(p)  # type: ignore[arg-type]
    return "< 0.0001" if value < 1e-4 else f"{value:.4f}"


def fmt_cv(cv: object) -> str:
    return f"{float(cv) * 100:.1f}%" if _finite(cv) else MISSING  # type: ignore[arg-type]


def fmt_interval(low: object, high: object, pct: bool = False) -> str:
    if not (_finite(low) and _finite(high)):
        return MISSING
    if pct:
        return f"[{fmt_pct(low)}, {fmt_pct(high)}]"
    return f"[{fmt_num(low)}, {fmt_num(high)}]"


def fmt_summary(row: pd.Series | dict[str, Any]) -> str:
    """The summary the normality check chose: ``mean 12.00 ± 4.97`` or
    ``median 12.00 [10.00, 14.00]`` (``no 95% CI for n < 6`` when none exists)."""
    n = int(row["n"])
    if n < 2:
        return f"{fmt_num(row['mean'])} (n = {n})"
    if row["summary_kind"] == "mean":
        half = float(row["mean_ci_high"]) - float(row["mean"])
        return f"mean {fmt_num(row['mean'])} ± {fmt_num(half, 3)}"
    ci = fmt_interval(row["median_ci_low"], row["median_ci_high"])
    if ci == MISSING:
        return f"median {fmt_num(row['median'])} (no 95% CI for n < 6)"
    return f"median {fmt_num(row['median'])} {ci}"


def fmt_normality(row: pd.Series | dict[str, Any]) -> str:
    if int(row["n"]) < stats.SHAPIRO_MIN_N:
        return f"untested (n < {stats.SHAPIRO_MIN_N})"
    p = row["shapiro_p"]
    if not _finite(p):
        return "untested (constant)"
    verdict = "normal" if float(p) >= stats.NORMALITY_ALPHA else "not normal"
    return f"p = {fmt_p(p)} ({verdict})"


def fmt_vs_native(row: pd.Series | dict[str, Any], with_ci: bool = False) -> str:
    """The departure from native, or why none is claimed.

    A significant departure: ``-4.1% worse`` (``[-5.0%, -3.2%]`` appended with
    ``with_ci``); otherwise ``no significant difference``, ``not tested (n < 2)`` or
    ``n/a`` (no native). Rows without a test verdict show the plain departure.
    """
    verdict = row.get("verdict")
    pct, way = row.get("departure_pct"), str(row.get("direction", ""))
    if verdict is None or (isinstance(verdict, float) and math.isnan(verdict)):
        return fmt_departure(pct, way)
    if verdict == stats.VERDICT_SIGNIFICANT:
        text = fmt_departure(pct, way)
        ci = fmt_interval(row.get("departure_ci_low"), row.get("departure_ci_high"), pct=True)
        return f"{text} {ci}" if with_ci and ci != MISSING else text
    if verdict == stats.VERDICT_NO_BASELINE:
        return NOT_AVAILABLE
    return str(verdict) if verdict else MISSING


# --- header ------------------------------------------------------------------------------


def _cell(record: dict[str, Any]) -> dict[str, Any]:
    """The cell descriptor of a cell record ({} if absent or malformed)."""
    cell = record.get("cell")
    return cell if isinstance(cell, dict) else {}


def header_items(
    run: dict[str, Any], run_dir: Path, cells: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    items = []
    for label, keys in HEADER_FIELDS:
        value = _pick(run, keys)
        if value is None and label == "run id":
            value = run_dir.name
        if value is None and label == "hosts":
            value = sorted({str(_cell(c).get("host")) for c in cells} - {"None"})
        items.append((label, fmt_value(value) if value not in (None, []) else "unknown"))
    return items


def run_seed(run: dict[str, Any]) -> int:
    """The run's seed (it also seeds the bootstrap); :data:`stats.DEFAULT_SEED` if none."""
    seed = run.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else stats.DEFAULT_SEED


def order_text(run: dict[str, Any]) -> str:
    """How the cells were ordered: the spec's ``order``, the seed, where the sequence is."""
    order, seed, plan = run.get("order"), run.get("seed"), planned_cells(run)
    if order is None:
        text = "unknown (not recorded in run.json)"
    elif order == "randomized":
        text = (
            f"randomized with seed {seed}: every round runs each environment and job once, "
            "in an order shuffled with the seed, so drifts of the machine spread over all "
            "environments"
        )
    else:
        text = f"{order}: rounds interleaved across environments, not shuffled"
    if plan:
        text += f"; the {len(plan)} cells' executed sequence is under 'Run order'"
    return text


def order_short(run: dict[str, Any]) -> str:
    """The header's line: order, seed, where the sequence is."""
    order = run.get("order") or "unknown"
    seed = run.get("seed", "unknown")
    plan = planned_cells(run)
    text = f"{order}, seed {seed}"
    if order == "randomized":
        text += ", rounds interleaved across environments"
    return text + (f"; executed sequence under 'Run order' ({len(plan)} cells)" if plan else "")


def warmup_short(setting: int | None, excluded: int) -> str:
    """The header's line: the declared warm-up rule."""
    if setting is None:
        return f"samples marked warmup excluded ({excluded})"
    if setting == 0:
        return f"none (spec warmup: 0; {excluded} samples marked warmup excluded)"
    runs = "run of every cell is a warm-up" if setting == 1 else (
        f"{setting} runs of every cell are warm-ups"
    )  # fmt: skip
    return f"the first {runs} (spec warmup: {setting}), kept on disk, excluded ({excluded} samples)"


def warmup_setting(run_dir: Path, run: dict[str, Any]) -> int | None:
    """The spec's ``warmup`` (spec.yml), else the warm-up rounds of the plan; None if unknown."""
    try:
        spec = yaml.safe_load((run_dir / "spec.yml").read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        spec = None
    value = spec.get("warmup") if isinstance(spec, dict) else None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    plan = planned_cells(run)
    if not plan:
        return None
    rounds = [int(c.get("repetition") or 0) for c in plan if c.get("warmup")]
    return max(rounds, default=0)


def warmup_text(setting: int | None, excluded: int) -> str:
    """The declared warm-up rule, as the report states it."""
    count = f"{excluded} warm-up sample(s) in this run"
    if setting is None:
        return f"samples marked warmup are kept on disk and excluded from statistics ({count})"
    if setting == 0:
        return (
            "none: spec key warmup is 0 (samples marked warmup would be kept on disk and "
            f"excluded; {count})"
        )
    runs = "run" if setting == 1 else f"{setting} runs"
    verb = "is a warm-up" if setting == 1 else "are warm-ups"
    return (
        f"the first {runs} of every cell (host, environment, job) {verb} (spec key "
        f"warmup: {setting}), kept on disk and in the sample tables (column warmup), "
        f"excluded from every statistic ({count})"
    )


def planned_cells(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Cell descriptors of the plan recorded in run.json, whatever its exact shape."""
    plan = run.get("plan")
    if isinstance(plan, dict):
        plan = plan.get("cells")
    if not isinstance(plan, list):
        return []
    out = []
    for item in plan:
        if isinstance(item, dict) and item.get("id"):
            out.append(item)
        elif isinstance(item, str):
            out.append({"id": item})
    return out


def not_run_cells(run: dict[str, Any], cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Planned cells with no cell file: shown as ``not run`` so none vanishes."""
    done = {str(_cell(c).get("id")) for c in cells}
    return [
        {"cell": p, "status": "not run", "reason": "no result recorded for this planned cell"}
        for p in planned_cells(run)
        if str(p["id"]) not in done
    ]


def cell_counts(cells: list[dict[str, Any]], not_run: list[dict[str, Any]]) -> str:
    ok = sum(1 for c in cells if c.get("status") == "ok")
    text = f"{ok} cells ok, {len(cells) - ok} failed"
    return text + (f", {len(not_run)} planned but not run" if not_run else "")


def _sample_count(record: dict[str, Any]) -> int:
    if "n_samples" in record:
        return int(record["n_samples"])
    samples = record.get("samples")
    return len(samples) if isinstance(samples, list) else 0


def _group_name(row: dict[str, Any]) -> str:
    point = f" {row['point']}" if row.get("point") else ""
    label = stats.env_label(str(row["env"]), str(row["variant"]), str(row["accel"]))
    run = f"{row['run_id']} " if row.get("run_id") else ""
    return f"{run}{row['host']} {row['benchmark']}/{row['metric']}{point} {label}"


def noisy_warning(table: pd.DataFrame, threshold: float = stats.NOISY_CV) -> str | None:
    if table.empty or "noisy" not in table.columns:
        return None
    noisy = table[table["noisy"].fillna(False).astype(bool)]
    if noisy.empty:
        return None
    names = [f"{_group_name(r)} (CV {fmt_cv(r['cv'])})" for r in noisy.to_dict("records")]
    shown = names[:MAX_LISTED]
    if len(names) > len(shown):
        shown.append(f"and {len(names) - len(shown)} more")
    return NOISY_WARNING.format(
        count=len(names), threshold=fmt_cv(threshold), groups=", ".join(shown)
    )


def run_warnings(
    frame: pd.DataFrame, cells: list[dict[str, Any]], table: pd.DataFrame | None = None
) -> list[str]:
    warnings = []
    emulated = sorted(
        {stats.env_label(e, v, a) for e, v, a in _env_triples(frame) if stats.is_emulated(a)}
    )
    if emulated:
        warnings.append(TCG_WARNING.format(envs=", ".join(emulated)))
    empty = [
        str(_cell(c).get("id")) for c in cells if c.get("status") == "ok" and not _sample_count(c)
    ]
    if empty:
        warnings.append(f"Cells marked ok but with no samples: {', '.join(empty)}.")
    noisy = noisy_warning(table) if table is not None else None
    if noisy:
        warnings.append(noisy)
    return warnings


def _env_triples(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    if frame.empty:
        return []
    data = frame[["env", "variant", "accel"]].drop_duplicates()
    data = data.assign(
        variant=data["variant"].astype(object).where(data["variant"].notna(), ""),
        accel=data["accel"].astype(object).where(data["accel"].notna(), "none"),
    )
    if "warmup" in frame.columns:  # environments with measured (non-warm-up) samples only
        kept = frame.loc[~frame["warmup"].fillna(False).astype(bool), ["env"]]
        data = data[data["env"].isin(set(kept["env"]))]
    return _column_groups(data)


# --- loading: cell files -> one long table -----------------------------------------------

PARALLEL_BYTES = 64 * 2**20  # cell files above this in total are read by worker processes
CHUNK_BYTES = 16 * 2**20  # cell files handed to one worker call
MAX_WORKERS = 8
SAMPLE_DEFAULTS: dict[str, Any] = {"warmup": False}
NUMERIC_COLUMNS = ("value", "repetition")
BOOL_COLUMNS = ("higher_is_better", "warmup")
_UNSET = object()


def _canonical(value: Any) -> Any:
    """params as the tables keep them: null entries of objects dropped, integral floats
    (below 2^53) written as integers, so both parsers give the same text."""
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def params_json(value: Any) -> str:
    """The JSON text of one params value (sorted keys, :func:`_canonical`); "" if no dict."""
    if not isinstance(value, dict | list):
        return ""
    return json.dumps(_canonical(value), sort_keys=True, default=str)


def params_text(values: Iterable[Any]) -> list[str]:
    """:func:`params_json` of each value; runs of equal dicts (the samples of one cell)
    are encoded once."""
    out: list[str] = []
    last: Any = _UNSET
    text = ""
    for value in values:
        if value is not last and value != last:
            text = params_json(value)
            last = value
        out.append(text)
    return out


def _column(samples: list[Any], name: str) -> list[Any]:
    try:
        return list(map(itemgetter(name), samples))
    except (KeyError, TypeError):  # a key left out (warmup is optional) or not a dict
        default = SAMPLE_DEFAULTS.get(name)
        return [s.get(name, default) if isinstance(s, dict) else None for s in samples]


def _hashable(values: list[Any]) -> np.ndarray:
    array = np.empty(len(values), dtype=object)
    try:
        array[:] = values
        pd.factorize(array[:1])
    except (ValueError, TypeError):
        values = [
            json.dumps(v, sort_keys=True) if isinstance(v, dict | list) else v for v in values
        ]
        array[:] = values
    return array


def _encode(name: str, values: list[Any]) -> tuple[Any, ...]:
    """A column of Python values: ("num", floats) or ("cat", codes, uniques) (params are
    JSON text already)."""
    if name in NUMERIC_COLUMNS:
        return ("num", np.asarray(values, dtype=float))  # None -> NaN
    if name == "warmup":
        values = [False if v is None else v for v in values]
    try:
        codes, uniques = pd.factorize(_hashable(values))
    except TypeError:  # unhashable values left: text for all
        codes, uniques = pd.factorize(np.asarray([json.dumps(v, default=str) for v in values]))
    return ("cat", codes.astype(np.int32), list(uniques))


def _slim(record: dict[str, Any]) -> dict[str, Any]:
    """What the report keeps of an ok cell record: its id, status and sample count (its
    samples are in the table; failed records are kept whole)."""
    return {
        "cell": {"id": _cell(record).get("id")},
        "status": record.get("status"),
        "n_samples": record.get("n_samples", 0),
    }


def _encode_samples(name: str, samples: list[Any]) -> tuple[Any, ...]:
    """One column of parsed samples, encoded (params as :func:`params_text`)."""
    values = _column(samples, name)
    return _encode(name, params_text(values) if name == "params" else values)


# pyarrow's JSON reader: the fast path for large cell files -------------------------------

ARROW_MIN_BYTES = 1 << 18  # cell files from this size on (256 KiB) are parsed by pyarrow
_NUMERIC_TYPES = (pa.types.is_integer, pa.types.is_floating, pa.types.is_null)
_TEXT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_null)


def _is(kind: tuple[Any, ...], arrow_type: pa.DataType) -> bool:
    return any(test(arrow_type) for test in kind)


def _arrow_codes(array: pa.Array) -> tuple[Any, ...]:
    if pa.types.is_null(array.type):
        return ("cat", np.full(len(array), -1, np.int32), [])
    encoded = array.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    return ("cat", codes, encoded.dictionary.to_pylist())


def _leaf_codes(array: pa.Array, out: list[np.ndarray]) -> None:
    """Integer codes per leaf of a nested params array (two rows with equal codes in every
    leaf are equal params)."""
    if pa.types.is_struct(array.type):
        out.append(array.is_valid().to_numpy(zero_copy_only=False).astype(np.int64))
        for child in array.flatten():
            _leaf_codes(child, out)
    elif pa.types.is_null(array.type):
        return
    elif pa.types.is_nested(array.type):  # lists: through their JSON text
        texts = [json.dumps(v, sort_keys=True, default=str) for v in array.to_pylist()]
        out.append(pd.factorize(np.asarray(texts, dtype=object))[0].astype(np.int64))
    else:
        codes = array.dictionary_encode().indices.fill_null(-1)
        out.append(codes.to_numpy(zero_copy_only=False).astype(np.int64))


def _arrow_params(array: pa.Array) -> tuple[Any, ...] | None:
    if pa.types.is_null(array.type):
        return ("cat", np.zeros(len(array), np.int32), [""])
    if not pa.types.is_struct(array.type):
        return None
    leaves: list[np.ndarray] = []
    _leaf_codes(array, leaves)
    matrix = np.stack(leaves, axis=1)
    _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
    texts = [params_json(p) for p in array.take(pa.array(first)).to_pylist()]
    return ("cat", inverse.reshape(-1).astype(np.int32), texts)


def _arrow_column(name: str, array: pa.Array) -> tuple[Any, ...] | None:
    """One sample field as an encoded column; None for a type the Python path must read."""
    kind = array.type
    if name in NUMERIC_COLUMNS:
        if not _is(_NUMERIC_TYPES, kind):
            return None
        return ("num", array.cast(pa.float64()).to_numpy(zero_copy_only=False))
    if name == "params":
        return _arrow_params(array)
    if name in BOOL_COLUMNS:
        if not (pa.types.is_boolean(kind) or pa.types.is_null(kind)):
            return None
        if name == "warmup":
            array = array.cast(pa.bool_()).fill_null(False)
    elif not _is(_TEXT_TYPES, kind):
        return None
    return _arrow_codes(array)


def read_cell_arrow(
    path: Path, size: int | None = None
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """An ok cell file parsed by pyarrow: its record without samples and its samples'
    encoded columns (None when it has none). None when pyarrow cannot read it as Python's
    json would (a cell not ok, a field of an unexpected type such as a timestamp pyarrow
    inferred from a text without fractional seconds, mixed types): the caller falls back."""
    try:
        table = pajson.read_json(
            path,
            read_options=pajson.ReadOptions(
                block_size=(path.stat().st_size if size is None else size) + 1, use_threads=False
            ),
            parse_options=pajson.ParseOptions(newlines_in_values=True),
        )
        if table.num_rows != 1:
            return None
        names = [n for n in table.column_names if n != "samples"]
        record = table.select(names).to_pylist()[0]
        if "samples" not in table.column_names:
            record["n_samples"] = 0
            return record, None
        listed = table.column("samples").combine_chunks()
        if not pa.types.is_list(listed.type):
            return None
        flat = listed.flatten()
        record["n_samples"] = len(flat)
        if record.get("status") != "ok":  # kept whole: let Python's json read it exactly
            return None
        if not len(flat):
            return record, None
        if not pa.types.is_struct(flat.type) or flat.null_count:
            return None
        fields = dict(zip([f.name for f in flat.type], flat.flatten(), strict=True))
        encoded = {}
        for name in store.SAMPLE_COLUMNS:
            item = _arrow_column(name, fields.get(name, pa.nulls(len(flat))))
            if item is None:
                return None
            encoded[name] = item
        return record, encoded
    except (pa.ArrowException, ValueError, TypeError, OSError):
        return None


class _Encoded:
    """Encoded columns joined in order: codes remapped onto one set of categories."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {n: [] for n in store.SAMPLE_COLUMNS}
        self.index: dict[str, dict[Any, int]] = {n: {} for n in store.SAMPLE_COLUMNS}

    def __bool__(self) -> bool:
        return bool(self.parts["value"])

    def add(self, encoded: dict[str, Any]) -> None:
        for name, item in encoded.items():
            if item[0] == "num":
                self.parts[name].append(item[1])
                continue
            _, codes, uniques = item
            index = self.index[name]
            remap = np.array([index.setdefault(u, len(index)) for u in uniques] + [-1], np.int32)
            self.parts[name].append(remap[codes])

    def encoded(self) -> dict[str, Any]:
        """The joined columns, encoded again (for sending from a worker)."""
        out: dict[str, Any] = {}
        for name in store.SAMPLE_COLUMNS:
            data = np.concatenate(self.parts[name])
            out[name] = ("num", data) if name in NUMERIC_COLUMNS else (
                "cat", data, list(self.index[name])
            )  # fmt: skip
        return out

    def frame(self) -> pd.DataFrame:
        if not self:
            return pd.DataFrame(columns=store.SAMPLE_COLUMNS)
        out: dict[str, Any] = {}
        for name, item in self.encoded().items():
            data = item[1]
            if name == "repetition":
                missing = np.isnan(data)
                out[name] = (
                    data.astype(np.int64)
                    if not missing.any()
                    else pd.array(np.where(missing, None, data), dtype="Int64")
                )
            elif name in NUMERIC_COLUMNS:
                out[name] = data
            elif name in BOOL_COLUMNS:
                values = np.array([*item[2], None], dtype=object)[data]
                has_none = any(v is None for v in item[2]) or bool((data < 0).any())
                out[name] = values if has_none else values.astype(bool)
            else:
                categories = pd.Index(item[2], dtype=object if not item[2] else None)
                out[name] = pd.Categorical.from_codes(data, categories=categories)
        return pd.DataFrame(out, columns=store.SAMPLE_COLUMNS)


def read_cell_chunk(
    files: Sequence[tuple[str, int]],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Read cell files: their records without samples, and the samples of ok cells as
    encoded columns. Files of :data:`ARROW_MIN_BYTES` or more go through pyarrow's JSON
    reader, the others (and any pyarrow cannot read) through Python's json. ``files``:
    (path, size in bytes). Runs in a worker process for large runs."""
    records: list[dict[str, Any]] = []
    joined = _Encoded()
    pending: list[Any] = []  # samples parsed by json, encoded a column at a time

    def flush() -> None:
        if pending:
            joined.add({name: _encode_samples(name, pending) for name in store.SAMPLE_COLUMNS})
            pending.clear()

    for name, size in files:
        path = Path(name)
        fast = read_cell_arrow(path, size) if size >= ARROW_MIN_BYTES else None
        if fast is not None:
            record, encoded = fast
            if encoded is not None:
                flush()
                joined.add(encoded)
        else:
            record = store.read_json(path)
            if not isinstance(record, dict):
                raise store.ResultsError(f"{path}: a cell record must be a JSON object")
            samples = record.pop("samples", None)
            samples = samples if isinstance(samples, list) else []
            record["n_samples"] = len(samples)
            if record.get("status") == "ok":
                pending.extend(samples)
        records.append(_slim(record) if record.get("status") == "ok" else record)
    flush()
    return records, (joined.encoded() if joined else None)


def _cell_files(folder: Path) -> list[tuple[str, int]]:
    """(path, size) of every cell file, sorted by name (as ``store.load_cells``)."""
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        found = [
            (e.name, e.path, e.stat().st_size)
            for e in entries
            if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file()
        ]
    return [(path, size) for _, path, size in sorted(found)]


def _chunks(files: list[tuple[str, int]], limit: int) -> list[list[tuple[str, int]]]:
    chunks: list[list[tuple[str, int]]] = [[]]
    size = 0
    for path, length in files:
        if chunks[-1] and size + length > limit:
            chunks.append([])
            size = 0
        chunks[-1].append((path, length))
        size += length
    return [c for c in chunks if c]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_tidy(run_dir: Path, workers: int | None = None) -> Loaded:
    """Every cell of ``run_dir``: the samples of ok cells as one long table (the columns of
    :data:`isobench.store.SAMPLE_COLUMNS`, text columns categorical, ``params`` as JSON
    text, ``warmup`` defaulting to false) and the cell records without their samples.

    Equivalent to ``store.samples_frame(store.load_cells(run_dir))`` but never holds more
    than a chunk of parsed JSON at once; runs over :data:`PARALLEL_BYTES` of cell files
    are read by ``workers`` processes (default: one per CPU, at most :data:`MAX_WORKERS`).
    """
    files = _cell_files(Path(run_dir) / store.CELLS_DIR)
    total = sum(size for _, size in files)
    if workers is None:
        workers = min(_cpus(), MAX_WORKERS) if total > PARALLEL_BYTES else 1
    chunk = CHUNK_BYTES if workers <= 1 else max(1 << 20, min(CHUNK_BYTES, total // (4 * workers)))
    chunks = _chunks(files, chunk)
    columns, cells = _Encoded(), []

    def take(results: Iterable[tuple[list[dict[str, Any]], dict[str, Any] | None]]) -> None:
        for records, encoded in results:
            cells.extend(records)
            if encoded is not None:
                columns.add(encoded)

    if workers > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
            take(pool.map(read_cell_chunk, chunks))
    else:
        take(map(read_cell_chunk, chunks))
    return Loaded(columns.frame(), cells)


# --- the Table I-style tables ------------------------------------------------------------


def _column_groups(sub: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Distinct (env, variant, accel) in report order: native first."""
    keys = {(str(e), str(v), str(a)) for e, v, a in sub[["env", "variant", "accel"]].values}
    return sorted(keys, key=lambda k: (stats.env_rank(k[0]), *k))


def _is_baseline(env: str, variant: str) -> bool:
    return env == stats.BASELINE_ENV and variant == ""


def _group_columns(env: str, variant: str) -> list[str]:
    if _is_baseline(env, variant):
        return ["mean", "std dev", "n"]
    return ["mean", "std dev", "vs native", "study", "n"]


def _group_cells(row: pd.Series | None, env: str, variant: str) -> list[str]:
    width = len(_group_columns(env, variant))
    if row is None:
        return [MISSING] * width
    cells = [fmt_num(row["mean"]), fmt_num(row["std"], 3)]
    if not _is_baseline(env, variant):
        cells.append(fmt_vs_native(row))
        cells.append(fmt_study(row.get("study_departure_pct"), row.get("study_source")))
    return [*cells, str(int(row["n"]))]


def _better_text(value: object) -> str:
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return "?"
    return "higher" if bool(value) else "lower"


def _has_points(sub: pd.DataFrame) -> bool:
    return "point" in sub.columns and bool((sub["point"].astype(str) != "").any())


def _row_keys(sub: pd.DataFrame) -> list[str]:
    return ["host", "metric", "unit", *(["point"] if _has_points(sub) else [])]


def benchmark_table(sub: pd.DataFrame) -> Table:
    """One row per host/metric/unit (and sweep point), one column group per
    env/variant/accel: the study's Table I layout."""
    groups = _column_groups(sub)
    row_keys = _row_keys(sub)
    keys = [*row_keys, "better"]
    columns, md_columns, spans = list(keys), list(keys), []
    for env, variant, accel in groups:
        label = stats.env_label(env, variant, accel)
        group_cols = _group_columns(env, variant)
        columns += group_cols
        md_columns += [f"{label} {c}" for c in group_cols]
        spans.append((label, len(group_cols), stats.is_emulated(accel)))
    indexed = {
        (*(r[k] for k in row_keys), r["env"], r["variant"], r["accel"]): r
        for _, r in sub.iterrows()
    }
    rows = []
    for key, part in sub.groupby(row_keys, sort=False, observed=True):
        row = [str(k) for k in key] + [_better_text(part["higher_is_better"].iloc[0])]
        for env, variant, accel in groups:
            found = indexed.get((*key, env, variant, accel))
            row += _group_cells(found, env, variant)
        rows.append(row)
    return Table(columns, rows, [("", len(keys), False), *spans], md_columns)


def stats_table(sub: pd.DataFrame) -> Table:
    """One row per group: n, the summary the normality check chose, spread, the ratio to
    native with its bootstrap CI, the verdict of the Holm-adjusted test."""
    points = _has_points(sub)
    columns = [
        "host", "metric", *(["point"] if points else []), "environment", "n",
        "summary (95% CI)", "std dev", "CV", "Shapiro-Wilk", "env/native [95% CI]",
        "vs native", "test", "p (Holm)",
    ]  # fmt: skip
    rows, classes = [], []
    for r in sub.to_dict("records"):
        ratio = MISSING
        if _finite(r.get("ratio")):
            ci = fmt_interval(r.get("ratio_ci_low"), r.get("ratio_ci_high"))
            ratio = f"{fmt_num(r['ratio'])} {ci}" if ci != MISSING else fmt_num(r["ratio"])
            ratio += FEW_RUNS_MARK if ci != MISSING and r.get("few_runs") else ""
        rows.append(
            [
                str(r["host"]), str(r["metric"]), *([str(r["point"])] if points else []),
                stats.env_label(str(r["env"]), str(r["variant"]), str(r["accel"])),
                str(int(r["n"])), fmt_summary(r), fmt_num(r["std"], 3), fmt_cv(r["cv"]),
                fmt_normality(r), ratio, fmt_vs_native(r, with_ci=True),
                str(r.get("test") or MISSING), fmt_p(r.get("p_holm")),
            ]
        )  # fmt: skip
        classes.append("noisy" if r.get("noisy") else "")
    return Table(columns, rows, row_classes=classes)


def results_table(
    frame: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    settings: stats.Settings | None = None,
) -> pd.DataFrame:
    """:func:`isobench.stats.analyze` with the study's numbers: one row per group."""
    reference = stats.load_reference() if reference is None else reference
    return stats.analyze(frame, reference, settings=settings)


def benchmark_sections(table: pd.DataFrame) -> list[BenchmarkSection]:
    if table.empty:
        return []
    table = stats.sort_envs(table, ["benchmark", "host", "metric"])
    return [
        BenchmarkSection(
            str(b),
            benchmark_table(sub),
            stats_table=stats_table(sub) if "verdict" in sub.columns else None,
        )
        for b, sub in table.groupby("benchmark", sort=True, observed=True)
    ]


# --- the study, the advisor, the run order -----------------------------------------------


def study_table(table: pd.DataFrame) -> tuple[Table, str]:
    """Our departures beside the study's, flagged where they disagree."""
    columns = [
        "host", "benchmark", "metric", "environment", "ours: vs native",
        "ours: 95% CI of departure", "study", "flag",
    ]  # fmt: skip
    if table.empty or "study_departure_pct" not in table.columns:
        return Table(columns, []), "No result matches one of the study's."
    rows_in = table[table["study_departure_pct"].notna() & (table["env"] != stats.BASELINE_ENV)]
    rows, classes = [], []
    flagged = compared = 0
    for r in stats.sort_envs(rows_in, ["benchmark", "host", "metric"]).to_dict("records"):
        flag = str(r.get("study_flag") or "")
        judged = flag not in (MISSING, stats.FLAG_TCG)
        compared += judged
        flagged += bool(judged and flag)
        rows.append(
            [
                str(r["host"]), str(r["benchmark"]), str(r["metric"]),
                stats.env_label(str(r["env"]), str(r["variant"]), str(r["accel"])),
                fmt_vs_native(r),
                fmt_interval(r.get("departure_ci_low"), r.get("departure_ci_high"), pct=True)
                + (FEW_RUNS_MARK if r.get("few_runs") else ""),
                fmt_study(r["study_departure_pct"], r.get("study_source")),
                f"FLAG: {flag}" if judged and flag else (flag or "agrees"),
            ]
        )  # fmt: skip
        classes.append("flag" if judged and flag else "")
    line = (
        f"{len(rows)} of our results match one of the study's; {compared} could be judged "
        f"(tested, not emulated), {flagged} flagged. A row is flagged when the direction "
        "differs (both departures non-zero and of opposite sign, ours significant) or when "
        "the study's departure, published in whole percents (so taken +/- "
        f"{stats.STUDY_ROUNDING_PCT} points), lies outside our bootstrap 95% CI of the "
        "departure."
    )
    return Table(columns, rows, row_classes=classes), line


def advisor_table(table: pd.DataFrame, halfwidth_pct: float) -> tuple[Table, str]:
    """How many runs each group needs for a 95% CI of its mean within +/- halfwidth_pct."""
    points = _has_points(table)
    target = f"±{fmt_num(halfwidth_pct, 3)}%"
    columns = [
        "host", "benchmark", "metric", *(["point"] if points else []), "environment", "n",
        "CV", "95% CI half-width now", f"runs for {target}", "more runs",
    ]  # fmt: skip
    rows, classes = [], []
    if not table.empty:
        ordered = stats.sort_envs(table, ["benchmark", "host", "metric"])
        for r in ordered.to_dict("records"):
            need = r.get("runs_needed")
            known = need is not None and not pd.isna(need)
            now = r.get("halfwidth_pct_now")
            rows.append(
                [
                    str(r["host"]), str(r["benchmark"]), str(r["metric"]),
                    *([str(r["point"])] if points else []),
                    stats.env_label(str(r["env"]), str(r["variant"]), str(r["accel"])),
                    str(int(r["n"])), fmt_cv(r["cv"]),
                    f"±{fmt_num(now, 3)}%" if _finite(now) else MISSING,
                    str(int(need)) if known else "unknown (n < 2)",
                    str(max(0, int(need) - int(r["n"]))) if known else MISSING,
                ]
            )  # fmt: skip
            classes.append("noisy" if r.get("noisy") else "")
    line = (
        f"Runs each group needs for the 95% CI of its mean to lie within {target} of the "
        "mean, from the spread measured here: the smallest n with "
        f"t(0.975, n-1) · s / √n ≤ {fmt_num(halfwidth_pct / 100, 3)} · |mean| (Student t, "
        "solved exactly; the z approximation n = (1.96 · CV / target)² is a lower bound). "
        "Set another target with `python -m isobench.report RUN --halfwidth PCT`."
    )
    return Table(columns, rows, row_classes=classes), line


def run_order_table(run: dict[str, Any], cells: list[dict[str, Any]]) -> tuple[Table, str]:
    """The plan in executed order (per host, by ``seq``) with each cell's outcome."""
    status = {str(_cell(c).get("id")): str(c.get("status") or "unknown") for c in cells}
    plan = planned_cells(run)
    ordered = sorted(
        plan, key=lambda c: (str(c.get("host", "")), int(c.get("seq") or 0), str(c["id"]))
    )
    rows = []
    for cell in ordered[:MAX_ORDER_ROWS]:
        env = cell.get("env")
        rep = cell.get("repetition")
        rows.append(
            [
                fmt_value(cell.get("seq")), fmt_value(cell.get("host")), str(cell["id"]),
                stats.env_label(str(env), str(cell.get("variant") or "")) if env else MISSING,
                fmt_value(cell.get("job") or cell.get("benchmarks")),
                (f"w{rep} (warm-up)" if cell.get("warmup") else f"r{rep}") if rep else MISSING,
                status.get(str(cell["id"]), "not run"),
            ]
        )  # fmt: skip
    line = f"Seed {run.get('seed', 'unknown')}, order {run.get('order', 'unknown')}."
    if len(ordered) > MAX_ORDER_ROWS:
        line += f" First {MAX_ORDER_ROWS} of {len(ordered)} cells shown (all are in run.json)."
    return Table(list(ORDER_COLUMNS), rows), line


def method_notes(
    settings: stats.Settings, table: pd.DataFrame, warmups: str, order: str
) -> list[str]:
    """Every rule the statistics follow, with this report's parameters."""
    tested = int(table["p_value"].notna().sum()) if "p_value" in table.columns else 0
    capped = int((table["n"] > settings.cap).sum()) if "n" in table.columns else 0
    big = int((table["n"] > stats.SHAPIRO_CAP).sum()) if "n" in table.columns else 0
    conf = f"{settings.confidence * 100:g}%"
    notes = [
        f"Warm-ups: {warmups}.",
        f"Run order: {order}.",
        "Summaries: per host, benchmark, metric, sweep point and environment: n, mean, "
        f"sample std dev (n-1), coefficient of variation, the mean's {conf} CI (Student t) "
        f"and the median's {conf} CI from order statistics (the ranks of the binomial "
        "distribution B(n, 1/2) that cover the median with at least "
        f"{conf}, as Hoefler & Belli, SC15, recommend; for n = 10 the 2nd and 9th "
        "smallest values; none exists for n < 6).",
        f"Normality: Shapiro-Wilk for n ≥ {stats.SHAPIRO_MIN_N} (on a seeded subsample of "
        f"{stats.SHAPIRO_CAP} above that size{f', {big} group(s)' if big else ''}). Where it "
        f"does not reject normality (p ≥ {stats.NORMALITY_ALPHA}) the summary is the mean ± "
        "CI; otherwise, or when untested, the median [CI].",
        "Overhead: the ratio of means env/native on the same host (and sweep point), with "
        f"a {conf} bootstrap CI (scipy.stats.bootstrap, two independent samples, "
        f"{settings.resamples} resamples, {stats.BOOTSTRAP_METHOD} method, seed "
        f"{settings.seed} combined with each group's identity). Groups larger than "
        f"{settings.cap} samples are bootstrapped on a seeded random subsample of "
        f"{settings.cap}, which widens their interval (conservative)"
        + (f"; {capped} group(s) here." if capped else ".")
        + " Departure = (ratio - 1) x 100. With fewer than "
        f"{stats.FEW_RUNS} runs on a side a percentile bootstrap interval is too narrow "
        "(it can exclude 1 where the test finds no significant difference): such intervals "
        f"are marked '{FEW_RUNS_MARK.strip()}'.",
        "Tests: Welch's t-test where both samples pass Shapiro-Wilk, Mann-Whitney U "
        f"(two-sided) otherwise; the p-values of all {tested} comparison(s) in this report "
        f"are Holm-adjusted together; at an adjusted p ≥ {settings.alpha} the result is "
        "written 'no significant difference', never as a percentage. A comparison needs "
        "n ≥ 2 on both sides.",
        f"Noise: groups with a CV above {fmt_cv(settings.noisy_cv)} are flagged noisy.",
    ]
    return notes


# --- failed cells ------------------------------------------------------------------------


def _repetition_text(cell: dict[str, Any]) -> str:
    rep = fmt_value(cell.get("repetition"))
    return f"{rep} (warm-up)" if cell.get("warmup") else rep


def failed_table(records: Sequence[dict[str, Any]]) -> Table:
    rows = []
    for record in records:
        cell = _cell(record)
        env = cell.get("env")
        env_text = stats.env_label(env, cell.get("variant") or "") if env else MISSING
        rows.append(
            [
                fmt_value(cell.get("id")),
                fmt_value(cell.get("host")),
                fmt_value(cell.get("target")),
                env_text,
                fmt_value(cell.get("benchmarks") or cell.get("benchmark")),
                _repetition_text(cell),
                fmt_value(record.get("status") or "unknown"),
                fmt_value(record.get("reason") or "no reason recorded"),
            ]
        )
    return Table(list(FAILED_COLUMNS), rows)


# --- provenance --------------------------------------------------------------------------


def _fingerprint(binaries: dict[str, Any]) -> str:
    blob = json.dumps(binaries, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _prov_value(key: str, value: Any) -> str:
    leaf = key.rsplit(".", 1)[-1]
    if leaf == BINARIES_KEY and isinstance(value, dict):
        return f"{len(value)} files, set {_fingerprint(value)}"
    if leaf == "accel" and stats.is_emulated(value):
        return f"{value} {stats.EMULATED_LABEL}"
    return fmt_value(value, MAX_PROVENANCE_CHARS)


def flatten(record: dict[str, Any]) -> dict[str, Any]:
    """One level of nesting opened: ``{"inside": {"cpus": 4}}`` -> ``{"inside.cpus": 4}``."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, dict) and value and key != BINARIES_KEY:
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[key] = value
    return out


def _key_order(key: str) -> tuple[int, str]:
    leaf = key.rsplit(".", 1)[-1]
    first = PROVENANCE_FIRST.index(leaf) if leaf in PROVENANCE_FIRST else len(PROVENANCE_FIRST)
    return first, key


def _target_order(target: str, record: dict[str, Any]) -> tuple[str, int, str, str]:
    env = str(record.get("env", ""))
    return (
        str(record.get("host", "")),
        stats.env_rank(env),
        str(record.get("variant", "")),
        target,
    )


def provenance_table(provenance: dict[str, dict[str, Any]]) -> Table:
    """Rows = keys (nested ones as ``parent.key``, known ones first), columns = targets."""
    targets = sorted(provenance, key=lambda t: _target_order(t, provenance[t]))
    flat = {t: flatten(provenance[t]) for t in targets}
    keys = sorted({k for record in flat.values() for k in record}, key=_key_order)
    rows = [[k] + [_prov_value(k, flat[t].get(k)) for t in targets] for k in keys]
    headers = [
        f"{t} {stats.EMULATED_LABEL}" if stats.is_emulated(provenance[t].get("accel")) else t
        for t in targets
    ]
    return Table(["key", *headers], rows)


def target_binaries(record: dict[str, Any]) -> dict[str, Any]:
    """The checksums a target recorded of its benchmark binaries ({} if none)."""
    for where in BINARIES_AT:
        node = record.get(where) if where else record
        found = node.get(BINARIES_KEY) if isinstance(node, dict) else None
        if isinstance(found, dict) and found:
            return found
    return {}


def _binaries(provenance: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {t: target_binaries(r) for t, r in provenance.items()}
    return {t: b for t, b in found.items() if b}


def binaries_check(provenance: dict[str, dict[str, Any]]) -> tuple[str, Table | None]:
    """``benchmark binaries identical across targets: yes/no/unknown`` and the differences."""
    recorded = _binaries(provenance)
    absent = sorted(set(provenance) - set(recorded))
    prefix = "benchmark binaries identical across targets:"
    if not recorded:
        return f"{prefix} unknown (no binary checksums recorded)", None
    differ = len({json.dumps(b, sort_keys=True) for b in recorded.values()}) > 1
    verdict = "no" if differ else ("unknown" if absent else "yes")
    line = f"{prefix} {verdict} ({len(recorded)} targets compared"
    line += f"; no checksums from {', '.join(absent)})" if absent else ")"
    return line, (_binaries_diff(recorded) if differ else None)


def _binaries_diff(recorded: dict[str, dict[str, Any]]) -> Table:
    targets = sorted(recorded)
    paths = sorted({p for b in recorded.values() for p in b})
    rows = []
    for path in paths:
        values = [recorded[t].get(path) for t in targets]
        if len({str(v) for v in values}) > 1:
            rows.append([path] + [str(v)[:12] if v else "missing" for v in values])
    return Table(["binary", *targets], rows)


# --- files -------------------------------------------------------------------------------


CSV_BATCH_ROWS = 1 << 17  # rows decoded and written at a time


def _export_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The tidy table as written: ``params`` as JSON text (one encoding per category)."""
    out = frame.copy(deep=False)
    params = out["params"] if "params" in out.columns else None
    if params is not None and not isinstance(params.dtype, pd.CategoricalDtype):
        out["params"] = params_text(params)
    return out


def samples_table(frame: pd.DataFrame) -> pa.Table:
    """The tidy table as Arrow (text columns dictionary-encoded, ``params`` as JSON text)."""
    out = _export_frame(frame)
    try:
        table = pa.Table.from_pandas(out, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed-type object columns: as text
        for column in out.columns:
            if out[column].dtype == object:
                out[column] = [None if v is None else str(v) for v in out[column]]
        table = pa.Table.from_pandas(out, preserve_index=False)
    return table.replace_schema_metadata(None)


def _plain(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def write_samples_csv(frame: pd.DataFrame | pa.Table, path: Path) -> Path:
    """The tidy table of every sample of ok cells (warm-ups included, column ``warmup``);
    ``params`` as JSON text. Written a batch of rows at a time (bounded memory)."""
    table = frame if isinstance(frame, pa.Table) else samples_table(frame)
    schema = pa.schema([pa.field(f.name, _plain(f.type)) for f in table.schema])
    options = pacsv.WriteOptions()  # strings quoted, booleans true/false
    with pacsv.CSVWriter(path, schema, write_options=options) as writer:
        for batch in table.to_batches(max_chunksize=CSV_BATCH_ROWS):
            columns = [
                c.dictionary_decode() if pa.types.is_dictionary(c.type) else c
                for c in batch.columns
            ]
            writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=schema))
    return path


def write_samples_parquet(frame: pd.DataFrame | pa.Table, path: Path) -> Path:
    """The same table as :func:`write_samples_csv`, in Parquet (text columns dictionary-
    encoded, ``params`` as JSON text)."""
    pq.write_table(frame if isinstance(frame, pa.Table) else samples_table(frame), path)
    return path


def write_samples(frame: pd.DataFrame | pa.Table, folder: Path) -> dict[str, Path]:
    """samples.csv and samples.parquet in ``folder``."""
    return {
        "samples": write_samples_csv(frame, folder / SAMPLES_CSV),
        "parquet": write_samples_parquet(frame, folder / SAMPLES_PARQUET),
    }


def _embed(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _attach_figures(
    sections: list[BenchmarkSection], written: dict[str, Path], run_dir: Path
) -> None:
    for section in sections:
        path = written.get(section.benchmark)
        if path is not None:
            section.figure = path.relative_to(run_dir).as_posix()
            section.figure_b64 = _embed(path)


# --- rendering ---------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def md_table(table: Table) -> str:
    columns = table.md_columns or table.columns
    lines = [
        "| " + " | ".join(_md_escape(c) for c in columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


MD_TEMPLATE = """\
# {{ c.title }}

{% for k, v in c.header %}- **{{ k }}**: {{ v }}
{% endfor %}
**{{ c.counts }}**
{% for w in c.warnings %}
> **{{ w }}**
{% endfor %}
{% if c.method %}## Method

{% for note in c.method %}- {{ note }}
{% endfor %}
{% endif %}## Results

{{ c.legend }}
{% if c.stats_legend %}
{{ c.stats_legend }}
{% endif %}
{% for s in c.sections %}
### {{ s.benchmark }}

{{ md_table(s.table) }}
{% if s.stats_table %}
Statistics:

{{ md_table(s.stats_table) }}
{% endif %}
{% if s.figure %}
![{{ s.benchmark }}]({{ s.figure }})
{% endif %}{% endfor %}
{% if not c.sections %}No successful samples.
{% endif %}
{% if c.study %}## Comparison with the study

{{ c.study_line }}

{% if c.study.rows %}{{ md_table(c.study) }}
{% endif %}
{% endif %}{% if c.advisor %}## Repetition advisor

{{ c.advisor_line }}

{% if c.advisor.rows %}{{ md_table(c.advisor) }}{% else %}No groups.{% endif %}

{% endif %}## Failed cells

{% if c.failed.rows %}{{ md_table(c.failed) }}{% else %}None.{% endif %}

{% if c.run_order %}## Run order

{{ c.run_order_line }}

{% if c.run_order.rows %}{{ md_table(c.run_order) }}{% else %}No plan recorded.{% endif %}

{% endif %}## Provenance

{{ c.binaries_line }}
{% if c.binaries_diff %}
{{ md_table(c.binaries_diff) }}
{% endif %}
{% if c.provenance.rows %}{{ md_table(c.provenance) }}{% else %}No provenance recorded.{% endif %}
{% if c.exports %}
## Data

{% for label, path in c.exports %}- {{ label }}: [{{ path }}]({{ path }})
{% endfor %}{% endif %}
"""

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right;vertical-align:top}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
table.kv td,table.kv th,table.text td{text-align:left}
th.emulated{background:#fde2c8}
tr.flag td{background:#fde2e2}tr.noisy td{background:#fff8e1}
.warning{background:#fff3cd;border-left:4px solid #d39e00;padding:0.6em 1em;font-weight:bold}
.counts{font-weight:bold}.legend{color:#555;font-size:0.9em}
ul.method li{margin:0.3em 0}
img{max-width:100%;border:1px solid #ddd}
"""

HTML_TEMPLATE = """\
{%- macro table(t, cls="") -%}
<table class="{{ cls }}"><thead>
{%- if t.groups %}<tr>{% for label, span, emulated in t.groups %}<th colspan="{{ span }}"
{%- if emulated %} class="emulated"{% endif %}>{{ label }}</th>{% endfor %}</tr>{% endif %}
<tr>{% for col in t.columns %}<th>{{ col }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}
<tr{% if t.row_classes and t.row_classes[loop.index0] %} class="{{ t.row_classes[loop.index0] }}"
{%- endif %}>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
</tbody></table>
{%- endmacro -%}
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ c.title }}</title>
<style>{{ css }}</style></head>
<body>
<h1>{{ c.title }}</h1>
<table class="kv">{% for k, v in c.header %}<tr><th>{{ k }}</th><td>{{ v }}</td></tr>
{% endfor %}</table>
<p class="counts">{{ c.counts }}</p>
{% for w in c.warnings %}<p class="warning">{{ w }}</p>
{% endfor %}
{% if c.method %}<h2>Method</h2>
<ul class="method">{% for note in c.method %}<li>{{ note }}</li>
{% endfor %}</ul>{% endif %}
<h2>Results</h2>
<p class="legend">{{ c.legend }}</p>
{% if c.stats_legend %}<p class="legend">{{ c.stats_legend }}</p>{% endif %}
{% for s in c.sections %}
<h3>{{ s.benchmark }}</h3>
{{ table(s.table) }}
{% if s.stats_table %}<p>Statistics:</p>{{ table(s.stats_table) }}{% endif %}
{% if s.figure_b64 %}<figure><img alt="{{ s.benchmark }}: mean per environment"
 src="data:image/png;base64,{{ s.figure_b64 }}"></figure>{% endif %}
{% else %}<p>No successful samples.</p>
{% endfor %}
{% if c.study %}<h2>Comparison with the study</h2>
<p>{{ c.study_line }}</p>
{% if c.study.rows %}{{ table(c.study, "text") }}{% endif %}{% endif %}
{% if c.advisor %}<h2>Repetition advisor</h2>
<p>{{ c.advisor_line }}</p>
{% if c.advisor.rows %}{{ table(c.advisor) }}{% else %}<p>No groups.</p>{% endif %}{% endif %}
<h2>Failed cells</h2>
{% if c.failed.rows %}{{ table(c.failed, "text") }}{% else %}<p>None.</p>{% endif %}
{% if c.run_order %}<h2>Run order</h2>
<p>{{ c.run_order_line }}</p>
{% if c.run_order.rows %}{{ table(c.run_order, "text") }}{% else %}<p>No plan recorded.</p>
{% endif %}{% endif %}
<h2>Provenance</h2>
<p>{{ c.binaries_line }}</p>
{% if c.binaries_diff %}{{ table(c.binaries_diff, "text") }}{% endif %}
{% if c.provenance.rows %}{{ table(c.provenance, "text") }}
{% else %}<p>No provenance recorded.</p>{% endif %}
{% if c.exports %}<h2>Data</h2>
<ul>{% for label, path in c.exports %}<li>{{ label }}: <code>{{ path }}</code></li>
{% endfor %}</ul>{% endif %}
</body></html>
"""


def render_markdown(context: ReportContext) -> str:
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
    return env.from_string(MD_TEMPLATE).render(c=context, md_table=md_table)


def render_html(context: ReportContext) -> str:
    env = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    return env.from_string(HTML_TEMPLATE).render(c=context, css=CSS)


# --- entry point -------------------------------------------------------------------------


def _settings(run: dict[str, Any], settings: stats.Settings | None) -> stats.Settings:
    return settings if settings is not None else stats.Settings(seed=run_seed(run))


def build_context(
    run_dir: Path,
    cells: list[dict[str, Any]],
    frame: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    settings: stats.Settings | None = None,
    table: pd.DataFrame | None = None,
    run: dict[str, Any] | None = None,
) -> ReportContext:
    """Everything the report shows, before any figure is drawn (``table``: the result of
    :func:`results_table`, ``run``: run.json, read here when not given)."""
    run = store.load_run(run_dir) if run is None else run
    settings = _settings(run, settings)
    provenance = {
        target: record if isinstance(record, dict) else {"record": record}
        for target, record in store.load_provenance(run_dir).items()
    }
    not_run = not_run_cells(run, cells)
    if table is None:
        table = results_table(frame, reference, settings)
    binaries_line, binaries_diff = binaries_check(provenance)
    setting, excluded = warmup_setting(run_dir, run), stats.warmup_count(frame)
    warmups, order = warmup_text(setting, excluded), order_text(run)
    header = [
        *header_items(run, run_dir, cells),
        ("order", order_short(run)),
        ("warm-ups", warmup_short(setting, excluded)),
    ]
    study, study_line = study_table(table)
    advisor, advisor_line = advisor_table(table, settings.halfwidth_pct)
    run_order, run_order_line = run_order_table(run, cells)
    tested = int(table["p_value"].notna().sum()) if "p_value" in table.columns else 0
    return ReportContext(
        title=f"isobench report: {header[0][1]}",
        header=header,
        counts=cell_counts(cells, not_run),
        warnings=run_warnings(frame, cells, table),
        legend=LEGEND,
        sections=benchmark_sections(table),
        failed=failed_table([*store.failed_cells(cells), *not_run]),
        provenance=provenance_table(provenance),
        binaries_line=binaries_line,
        binaries_diff=binaries_diff,
        method=method_notes(settings, table, warmups, order),
        stats_legend=STATS_LEGEND.format(normality=stats.NORMALITY_ALPHA, m=tested),
        study=study,
        study_line=study_line,
        advisor=advisor,
        advisor_line=advisor_line,
        run_order=run_order,
        run_order_line=run_order_line,
    )


def build_report(
    run_dir: Path,
    settings: stats.Settings | None = None,
    workers: int | None = None,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write report.md, report.html, figures/*.png, samples.csv and samples.parquet into
    ``run_dir``.

    ``settings`` sets the statistics' parameters (default: :class:`isobench.stats.Settings`
    seeded with the run's seed: a 1% target for the repetition advisor, 2000 bootstrap
    resamples, ...); ``workers`` the loader's processes (default: automatic); ``timings``,
    if given, receives the seconds each stage took. Returns the paths written, keyed
    ``markdown``, ``html``, ``samples``, ``parquet`` and ``figure:<benchmark>``.
    """
    clock = _Stopwatch(timings)
    run_dir = Path(run_dir)
    run = store.load_run(run_dir)  # fail early on a folder that is not a run
    settings = _settings(run, settings)
    loaded = load_tidy(run_dir, workers)
    clock.lap("load")
    with ThreadPoolExecutor(max_workers=1) as background:  # Arrow writes without the GIL
        exports = background.submit(write_samples, samples_table(loaded.frame), run_dir)
        table = results_table(loaded.frame, None, settings)
        clock.lap("statistics")
        context = build_context(run_dir, loaded.cells, loaded.frame, None, settings, table, run)
        clock.lap("tables")
        pngs = figures.write_figures(loaded.frame, run_dir / figures.FIGURES_DIR, summary=table)
        clock.lap("figures")
        written: dict[str, Path] = exports.result()
        clock.lap("exports (rest)")
    context.exports = [("samples (CSV)", SAMPLES_CSV), ("samples (Parquet)", SAMPLES_PARQUET)]
    _attach_figures(context.sections, pngs, run_dir)
    written.update({f"figure:{benchmark}": path for benchmark, path in pngs.items()})
    outputs = (
        ("markdown", REPORT_MD, render_markdown(context)),
        ("html", REPORT_HTML, render_html(context)),
    )
    for kind, name, text in outputs:
        path = run_dir / name
        path.write_text(text, encoding="utf-8")
        written[kind] = path
    clock.lap("render")
    return written


class _Stopwatch:
    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink, self.last = sink, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[name] = now - self.last
        self.last = now


def settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The statistics options shared by ``python -m isobench.report`` and ``isobench compare``."""
    parser.add_argument(
        "--halfwidth", type=float, default=stats.DEFAULT_HALFWIDTH_PCT, metavar="PCT",
        help="repetition advisor: target half-width of the mean's 95%% CI, in %% of the "
        "mean (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--noisy-cv", type=float, default=stats.NOISY_CV * 100, metavar="PCT",
        help="flag groups whose coefficient of variation exceeds PCT %% (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--resamples", type=int, default=stats.BOOTSTRAP_RESAMPLES,
        help="bootstrap resamples per comparison (default %(default)s)",
    )  # fmt: skip


def settings_from(args: argparse.Namespace, seed: int) -> stats.Settings:
    if args.halfwidth <= 0 or args.noisy_cv <= 0 or args.resamples < 100:
        raise store.ResultsError(
            "--halfwidth and --noisy-cv must be positive, --resamples at least 100"
        )
    return stats.Settings(
        seed=seed,
        resamples=args.resamples,
        halfwidth_pct=args.halfwidth,
        noisy_cv=args.noisy_cv / 100.0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m isobench.report", description="(re)build the report of a run folder"
    )
    parser.add_argument("run_dir", metavar="RESULTS_DIR")
    settings_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        run_dir = Path(args.run_dir)
        settings = settings_from(args, run_seed(store.load_run(run_dir)))
        paths = build_report(run_dir, settings)
    except store.ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
