"""The report's tables: the study's Table I layout per benchmark, the statistics, the
comparison with the study, the repetition advisor, the run order, failed cells and
provenance, with the number formatting they share.

Every builder returns a :class:`Table` of strings; rendering it is :mod:`isobench.render`'s.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from isobench import stats
from isobench.tidy import _cell

MISSING = "-"
NOT_AVAILABLE = "n/a"
MAX_CELL_CHARS = 500
MAX_PROVENANCE_CHARS = 2000
MAX_ORDER_ROWS = 2000  # rows of the run order table
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


# --- the plan ----------------------------------------------------------------------------


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
