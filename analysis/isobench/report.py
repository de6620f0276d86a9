"""The report of one run: report.md, report.html, figures/<benchmark>.png and samples.csv.

``build_report(run_dir)`` reads only the results folder (run.json, cells/, provenance/)
and the study's reference numbers; it writes into the same folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd

from isobench import figures, stats, store

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
SAMPLES_CSV = "samples.csv"
MISSING = "-"
NOT_AVAILABLE = "n/a"
MAX_CELL_CHARS = 500
MAX_PROVENANCE_CHARS = 2000

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
TCG_WARNING = (
    "Warning: {envs}: these guests ran under TCG, QEMU's software CPU emulation, without "
    "hardware virtualisation. These numbers measure an emulator, not a hypervisor: they "
    "must not be read as KVM overhead, and they are not comparable with the study's KVM "
    "results."
)
LEGEND = (
    "Per environment: mean, sample std dev (n-1), departure from native "
    "((env - native) / native x 100, marked worse or better given the metric's direction), "
    "the study's published departure for that environment (Felter et al. 2015, Table I; "
    "[source tag]: repo = the authors' scripts/spreadsheets, paper = quoted from the paper, "
    "recalled = approximate), and n = measured repetitions (warm-ups excluded). "
    "The study's 'Docker' is docker-host; its STREAM and RandomAccess ran on untuned KVM."
)


# --- small data holders ------------------------------------------------------------------


@dataclass
class Table:
    """A rendered table: header, string rows, and optional column groups for HTML."""

    columns: list[str]
    rows: list[list[str]]
    groups: list[tuple[str, int, bool]] = field(default_factory=list)  # label, span, emulated
    md_columns: list[str] | None = None  # flattened header for markdown


@dataclass
class BenchmarkSection:
    benchmark: str
    table: Table
    figure: str | None = None  # path relative to the run folder
    figure_b64: str | None = None


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


def run_warnings(frame: pd.DataFrame, cells: list[dict[str, Any]]) -> list[str]:
    warnings = []
    emulated = sorted(
        {stats.env_label(e, v, a) for e, v, a in _env_triples(frame) if stats.is_emulated(a)}
    )
    if emulated:
        warnings.append(TCG_WARNING.format(envs=", ".join(emulated)))
    empty = [
        str(_cell(c).get("id")) for c in cells if c.get("status") == "ok" and not c.get("samples")
    ]
    if empty:
        warnings.append(f"Cells marked ok but with no samples: {', '.join(empty)}.")
    return warnings


def _env_triples(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    if frame.empty:
        return []
    return _column_groups(stats.measured(frame))


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
        cells.append(fmt_departure(row["departure_pct"], row["direction"]))
        cells.append(fmt_study(row.get("study_departure_pct"), row.get("study_source")))
    return [*cells, str(int(row["n"]))]


def _better_text(value: object) -> str:
    if value is None or pd.isna(value):  # type: ignore[call-overload]
        return "?"
    return "higher" if bool(value) else "lower"


def benchmark_table(sub: pd.DataFrame) -> Table:
    """One row per host/metric/unit, one column group per env/variant/accel."""
    groups = _column_groups(sub)
    keys = ["host", "metric", "unit", "better"]
    columns, md_columns, spans = list(keys), list(keys), []
    for env, variant, accel in groups:
        label = stats.env_label(env, variant, accel)
        group_cols = _group_columns(env, variant)
        columns += group_cols
        md_columns += [f"{label} {c}" for c in group_cols]
        spans.append((label, len(group_cols), stats.is_emulated(accel)))
    indexed = {
        (r["host"], r["metric"], r["unit"], r["env"], r["variant"], r["accel"]): r
        for _, r in sub.iterrows()
    }
    rows = []
    for (host, metric, unit), part in sub.groupby(["host", "metric", "unit"], sort=False):
        row = [str(host), str(metric), str(unit), _better_text(part["higher_is_better"].iloc[0])]
        for env, variant, accel in groups:
            found = indexed.get((host, metric, unit, env, variant, accel))
            row += _group_cells(found, env, variant)
        rows.append(row)
    return Table(columns, rows, [("", len(keys), False), *spans], md_columns)


def results_table(frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Summary + departures + the study's departures, one row per group."""
    table = stats.departures(stats.summarize(frame))
    return stats.attach_reference(table, reference)


def benchmark_sections(table: pd.DataFrame) -> list[BenchmarkSection]:
    if table.empty:
        return []
    table = stats.sort_envs(table, ["benchmark", "host", "metric"])
    return [
        BenchmarkSection(str(b), benchmark_table(sub))
        for b, sub in table.groupby("benchmark", sort=True)
    ]


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


def write_samples_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The tidy table of every sample of ok cells; ``params`` as JSON text."""
    out = frame.copy()
    out["params"] = [
        json.dumps(p, sort_keys=True) if isinstance(p, dict | list) else "" for p in out["params"]
    ]
    out.to_csv(path, index=False)
    return path


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
## Results

{{ c.legend }}
{% for s in c.sections %}
### {{ s.benchmark }}

{{ md_table(s.table) }}
{% if s.figure %}
![{{ s.benchmark }}]({{ s.figure }})
{% endif %}{% endfor %}
{% if not c.sections %}No successful samples.
{% endif %}
## Failed cells

{% if c.failed.rows %}{{ md_table(c.failed) }}{% else %}None.{% endif %}

## Provenance

{{ c.binaries_line }}
{% if c.binaries_diff %}
{{ md_table(c.binaries_diff) }}
{% endif %}
{% if c.provenance.rows %}{{ md_table(c.provenance) }}{% else %}No provenance recorded.{% endif %}
"""

CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.85em}
th,td{border:1px solid #ccc;padding:0.25em 0.5em;text-align:right;vertical-align:top}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}
table.kv td,table.kv th,table.text td{text-align:left}
th.emulated{background:#fde2c8}
.warning{background:#fff3cd;border-left:4px solid #d39e00;padding:0.6em 1em;font-weight:bold}
.counts{font-weight:bold}.legend{color:#555;font-size:0.9em}
img{max-width:100%;border:1px solid #ddd}
"""

HTML_TEMPLATE = """\
{%- macro table(t, cls="") -%}
<table class="{{ cls }}"><thead>
{%- if t.groups %}<tr>{% for label, span, emulated in t.groups %}<th colspan="{{ span }}"
{%- if emulated %} class="emulated"{% endif %}>{{ label }}</th>{% endfor %}</tr>{% endif %}
<tr>{% for col in t.columns %}<th>{{ col }}</th>{% endfor %}</tr></thead>
<tbody>{% for row in t.rows %}
<tr>{% for v in row %}<td>{{ v }}</td>{% endfor %}</tr>{% endfor %}
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
<h2>Results</h2>
<p class="legend">{{ c.legend }}</p>
{% for s in c.sections %}
<h3>{{ s.benchmark }}</h3>
{{ table(s.table) }}
{% if s.figure_b64 %}<figure><img alt="{{ s.benchmark }}: mean per environment"
 src="data:image/png;base64,{{ s.figure_b64 }}"></figure>{% endif %}
{% else %}<p>No successful samples.</p>
{% endfor %}
<h2>Failed cells</h2>
{% if c.failed.rows %}{{ table(c.failed, "text") }}{% else %}<p>None.</p>{% endif %}
<h2>Provenance</h2>
<p>{{ c.binaries_line }}</p>
{% if c.binaries_diff %}{{ table(c.binaries_diff, "text") }}{% endif %}
{% if c.provenance.rows %}{{ table(c.provenance, "text") }}
{% else %}<p>No provenance recorded.</p>{% endif %}
</body></html>
"""


def render_markdown(context: ReportContext) -> str:
    env = jinja2.Environment(autoescape=False, keep_trailing_newline=True)
    return env.from_string(MD_TEMPLATE).render(c=context, md_table=md_table)


def render_html(context: ReportContext) -> str:
    env = jinja2.Environment(autoescape=True, keep_trailing_newline=True)
    return env.from_string(HTML_TEMPLATE).render(c=context, css=CSS)


# --- entry point -------------------------------------------------------------------------


def build_context(
    run_dir: Path,
    cells: list[dict[str, Any]],
    frame: pd.DataFrame,
    reference: pd.DataFrame | None = None,
) -> ReportContext:
    """Everything the report shows, before any figure is drawn."""
    run = store.load_run(run_dir)
    provenance = {
        target: record if isinstance(record, dict) else {"record": record}
        for target, record in store.load_provenance(run_dir).items()
    }
    not_run = not_run_cells(run, cells)
    reference = stats.load_reference() if reference is None else reference
    binaries_line, binaries_diff = binaries_check(provenance)
    header = header_items(run, run_dir, cells)
    return ReportContext(
        title=f"isobench report: {header[0][1]}",
        header=header,
        counts=cell_counts(cells, not_run),
        warnings=run_warnings(frame, cells),
        legend=LEGEND,
        sections=benchmark_sections(results_table(frame, reference)),
        failed=failed_table([*store.failed_cells(cells), *not_run]),
        provenance=provenance_table(provenance),
        binaries_line=binaries_line,
        binaries_diff=binaries_diff,
    )


def build_report(run_dir: Path) -> dict[str, Path]:
    """Write report.md, report.html, figures/*.png and samples.csv into ``run_dir``.

    Returns the paths written, keyed ``markdown``, ``html``, ``samples`` and
    ``figure:<benchmark>``.
    """
    run_dir = Path(run_dir)
    store.load_run(run_dir)  # fail early on a folder that is not a run
    cells = store.load_cells(run_dir)
    frame = store.samples_frame(cells)
    context = build_context(run_dir, cells, frame)
    written: dict[str, Path] = {"samples": write_samples_csv(frame, run_dir / SAMPLES_CSV)}
    pngs = figures.write_figures(frame, run_dir / figures.FIGURES_DIR)
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
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m isobench.report RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        paths = build_report(Path(args[0]))
    except store.ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
