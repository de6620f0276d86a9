"""Runs side by side: ``isobench compare RUN_A RUN_B ... [--out DIR]``.

Sets several runs (another day, another lab's inventory, another hardware generation)
beside each other and merges their samples. Writes into the output folder (default
``results/compare-<UTC time>``):

- ``report.md`` and a self-contained ``report.html``: the runs (site, spec, hash, seed,
  hosts), warnings (runs made from different specs, emulated guests, noisy groups), and
  per benchmark, metric, sweep point and environment the mean with its 95% CI in every
  run (and host) and the departure from native *within* that run, with the same rules as
  a run's report (bootstrap CI of the ratio, Holm over every comparison of this report);
- ``samples.csv`` and ``samples.parquet``: the merged tidy table, with ``run_id`` (unique
  per run given) and ``site`` (the run's inventory name, else its hosts) columns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import union_categoricals

from isobench import report, stats, store
from isobench.render import render
from isobench.report import MISSING, Table, fmt_num, fmt_value, md_table

COMPARE_KEYS = ["run_id", *stats.GROUP_KEYS]
DEFAULT_ROOT = Path("results")
INVENTORY_FILES = {"hosts", "inventory", "main", "all"}  # file stems that name no site
SPEC_WARNING = (
    "Warning: these runs were made from different specs ({hashes}): their benchmark "
    "parameters, repetitions or environments may differ. Differences between the runs may "
    "come from the specs, not from the machines."
)
LEGEND = (
    "Per run (and host): mean [95% CI of the mean, Student t] and n, then the departure "
    "from that run's own native on the same host: the ratio of means with a bootstrap 95% "
    "CI, written as a percentage only when the Holm-adjusted test (Welch's t where both "
    "samples pass Shapiro-Wilk, Mann-Whitney U otherwise; {m} comparisons in this report) "
    "rejects equality, else 'no significant difference'. Warm-up samples are excluded."
)


@dataclass
class RunInfo:
    """One run given to :func:`build_comparison`."""

    path: Path
    label: str  # run id, made unique among the runs compared
    site: str
    meta: dict[str, Any]
    samples: int = 0
    warmups: int = 0
    cells_ok: int = 0
    cells_failed: int = 0

    @property
    def spec_hash(self) -> str:
        value = report._pick(self.meta, dict(report.HEADER_FIELDS)["spec hash"])
        return str(value) if value else "unknown"


@dataclass
class CompareContext:
    title: str
    runs: Table
    warnings: list[str]
    legend: str
    sections: list[tuple[str, Table]]
    exports: list[tuple[str, str]] = field(default_factory=list)


def site_of(run: dict[str, Any]) -> str:
    """The run's inventory name (``inventories/lab`` -> ``lab``), else its hosts."""
    inventory = run.get("inventory")
    if isinstance(inventory, str) and inventory.strip():
        path = Path(inventory.rstrip("/"))
        if path.suffix in (".yml", ".yaml", ".ini", ".json", ".cfg"):
            path = path.parent if path.stem in INVENTORY_FILES else path.with_suffix("")
        if path.name:
            return path.name
    hosts = run.get("hosts")
    if isinstance(hosts, list) and hosts:
        return "+".join(str(h) for h in hosts)
    return "unknown"


def _labels(metas: list[tuple[Path, dict[str, Any]]]) -> list[str]:
    """Run ids, made unique (``id``, ``id#2``...) when two runs share one."""
    seen: dict[str, int] = {}
    out = []
    for path, meta in metas:
        base = str(meta.get("run_id") or path.name)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return out


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Row-wise concatenation keeping categorical columns categorical."""
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=[*store.SAMPLE_COLUMNS, "site"])
    columns: dict[str, Any] = {}
    for name in frames[0].columns:
        parts = [f[name] for f in frames]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in parts):
            columns[name] = union_categoricals(parts, ignore_order=True)
        else:
            columns[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(columns)


def load_runs(run_dirs: list[Path]) -> tuple[list[RunInfo], pd.DataFrame]:
    """Every run's metadata and one merged tidy table with ``run_id`` and ``site``.

    Raises :class:`isobench.store.ResultsError` for a folder that is no run, the same
    folder given twice, or fewer than two runs.
    """
    if len(run_dirs) < 2:
        raise store.ResultsError("compare needs at least two run folders")
    resolved = [Path(d).resolve() for d in run_dirs]
    twice = sorted({str(p) for p in resolved if resolved.count(p) > 1})
    if twice:
        raise store.ResultsError(f"run folder given more than once: {', '.join(twice)}")
    metas = [(Path(d), store.load_run(Path(d))) for d in run_dirs]  # no run.json: error
    infos, frames = [], []
    for (path, meta), label in zip(metas, _labels(metas), strict=True):
        loaded = report.load_tidy(path)
        frame = loaded.frame
        info = RunInfo(path, label, site_of(meta), meta)
        info.cells_ok = sum(1 for c in loaded.cells if c.get("status") == "ok")
        info.cells_failed = len(loaded.cells) - info.cells_ok
        info.warmups = stats.warmup_count(frame)
        info.samples = len(frame) - info.warmups
        if not frame.empty:
            frame = frame.assign(
                run_id=pd.Categorical([label] * len(frame)),
                site=pd.Categorical([info.site] * len(frame)),
            )
        infos.append(info)
        frames.append(frame)
    return infos, _concat(frames)


def runs_table(infos: list[RunInfo]) -> Table:
    columns = [
        "run", "site", "folder", "spec", "spec hash", "git revision", "seed", "started",
        "hosts", "cells ok / failed", "samples (warm-ups)",
    ]  # fmt: skip
    rows = []
    for info in infos:
        meta = info.meta
        rows.append(
            [
                info.label, info.site, str(info.path),
                fmt_value(report._pick(meta, ("spec_name", "spec.name"))),
                info.spec_hash[:12],
                fmt_value(report._pick(meta, dict(report.HEADER_FIELDS)["git revision"])),
                fmt_value(meta.get("seed")), fmt_value(meta.get("started")),
                fmt_value(meta.get("hosts")), f"{info.cells_ok} / {info.cells_failed}",
                f"{info.samples} ({info.warmups})",
            ]
        )  # fmt: skip
    return Table(columns, rows)


def compare_warnings(infos: list[RunInfo], frame: pd.DataFrame, table: pd.DataFrame) -> list[str]:
    warnings = []
    hashes = {info.spec_hash for info in infos}
    if len(hashes) > 1:
        listed = ", ".join(f"{info.label}: {info.spec_hash[:12]}" for info in infos)
        warnings.append(SPEC_WARNING.format(hashes=listed))
    empty = [info.label for info in infos if not info.samples]
    if empty:
        warnings.append(f"Runs without measured samples: {', '.join(empty)}.")
    if not frame.empty:
        native = set(frame.loc[frame["env"] == stats.BASELINE_ENV, "run_id"].astype(str))
        without = [info.label for info in infos if info.samples and info.label not in native]
        if without:
            warnings.append(f"Runs without native samples (no departures): {', '.join(without)}.")
    for info in infos:
        part = frame[frame["run_id"] == info.label] if not frame.empty else frame
        for text in report.run_warnings(part, [], None):
            warnings.append(f"{info.label}: {text}")
    noisy = report.noisy_warning(table)
    if noisy:
        warnings.append(noisy)
    return warnings


def _series(table: pd.DataFrame, infos: list[RunInfo]) -> list[tuple[str, str]]:
    """(run label, host) column groups, in the order the runs were given."""
    order = {info.label: i for i, info in enumerate(infos)}
    pairs = {(str(r), str(h)) for r, h in table[["run_id", "host"]].itertuples(index=False)}
    return sorted(pairs, key=lambda p: (order.get(p[0], len(order)), p[1]))


def _mean_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return MISSING
    ci = report.fmt_interval(row["mean_ci_low"], row["mean_ci_high"])
    text = fmt_num(row["mean"]) + (f" {ci}" if ci != MISSING else "")
    return f"{text} (n={int(row['n'])})"


def benchmark_table(sub: pd.DataFrame, infos: list[RunInfo]) -> Table:
    """Rows = metric (and sweep point) x environment; a column group per run and host."""
    series = _series(sub, infos)
    hosts_per_run: dict[str, int] = {}
    for run, _ in series:
        hosts_per_run[run] = hosts_per_run.get(run, 0) + 1
    points = report._has_points(sub)
    keys = ["metric", "unit", *(["point"] if points else []), "environment"]
    columns, md_columns, groups = list(keys), list(keys), [("", len(keys), False)]
    for run, host in series:
        label = run if hosts_per_run[run] == 1 else f"{run} @ {host}"
        columns += ["mean [95% CI]", "vs native"]
        md_columns += [f"{label} mean [95% CI]", f"{label} vs native"]
        groups.append((label, 2, False))
    records = sub.to_dict("records")
    index = {
        (r["metric"], r["unit"], r["point"], r["env"], r["variant"], r["accel"],
         r["run_id"], r["host"]): r
        for r in records
    }  # fmt: skip
    rows = []
    ordered = stats.sort_envs(sub, ["metric", "point"])
    row_keys = ["metric", "unit", "point", "env", "variant", "accel"]
    for key in dict.fromkeys(ordered[row_keys].itertuples(index=False, name=None)):
        metric, unit, point, env, variant, accel = key
        row = [str(metric), str(unit), *([str(point)] if points else [])]
        row.append(stats.env_label(str(env), str(variant), str(accel)))
        for run, host in series:
            found = index.get((*key, run, host))
            vs = report.fmt_vs_native(found, with_ci=True) if found else MISSING
            row += [_mean_cell(found), vs]
        rows.append(row)
    return Table(columns, rows, groups, md_columns)


MD_TEMPLATE = """\
# {{ c.title }}

{{ md_table(c.runs) }}
{% for w in c.warnings %}
> **{{ w }}**
{% endfor %}
## Results

{{ c.legend }}
{% for name, t in c.sections %}
### {{ name }}

{{ md_table(t) }}
{% endfor %}
{% if not c.sections %}No measured samples.
{% endif %}
## Data

{% for label, path in c.exports %}- {{ label }}: [{{ path }}]({{ path }})
{% endfor %}"""

HTML_TEMPLATE = """\
{%- macro table(t, cls="") -%}
<table class="{{ cls }}"><thead>
{%- if t.groups %}<tr>{% for label, span, emulated in t.groups %}<th colspan="{{ span }}"
>{{ label }}</th>{% endfor %}</tr>{% endif %}
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
{{ table(c.runs, "text") }}
{% for w in c.warnings %}<p class="warning">{{ w }}</p>
{% endfor %}
<h2>Results</h2>
<p class="legend">{{ c.legend }}</p>
{% for name, t in c.sections %}<h3>{{ name }}</h3>
{{ table(t) }}
{% else %}<p>No measured samples.</p>
{% endfor %}
<h2>Data</h2>
<ul>{% for label, path in c.exports %}<li>{{ label }}: <code>{{ path }}</code></li>
{% endfor %}</ul>
</body></html>
"""


def render_markdown(context: CompareContext) -> str:
    return render(MD_TEMPLATE, False, c=context, md_table=md_table)


def render_html(context: CompareContext) -> str:
    return render(HTML_TEMPLATE, True, c=context, css=report.CSS)


def default_out(root: Path = DEFAULT_ROOT) -> Path:
    return root / f"compare-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"


def build_comparison(
    run_dirs: list[Path],
    out_dir: Path | None = None,
    settings: stats.Settings | None = None,
) -> dict[str, Path]:
    """Write the comparison of ``run_dirs`` into ``out_dir`` (default
    ``results/compare-<UTC time>``); returns the paths written, keyed ``markdown``,
    ``html``, ``samples``, ``parquet`` and ``runs``.

    Raises :class:`isobench.store.ResultsError` on bad input (see :func:`load_runs`) or an
    output folder that is itself a run folder.
    """
    out_dir = default_out() if out_dir is None else Path(out_dir)
    if (out_dir / store.RUN_FILE).exists():
        raise store.ResultsError(f"{out_dir} is a run folder; choose another output folder")
    infos, frame = load_runs([Path(d) for d in run_dirs])
    seeds = [report.run_seed(info.meta) for info in infos]
    settings = settings or stats.Settings(seed=seeds[0])
    table = stats.analyze(frame, None, keys=COMPARE_KEYS, settings=settings)
    tested = int(table["p_value"].notna().sum()) if "p_value" in table.columns else 0
    sections = []
    if not table.empty:
        ordered = stats.sort_envs(table, ["benchmark", "metric"])
        for benchmark, sub in ordered.groupby("benchmark", sort=True, observed=True):
            sections.append((str(benchmark), benchmark_table(sub, infos)))
    context = CompareContext(
        title=f"isobench comparison: {len(infos)} runs",
        runs=runs_table(infos),
        warnings=compare_warnings(infos, frame, table),
        legend=LEGEND.format(m=tested),
        sections=sections,
        exports=[
            ("merged samples (CSV)", report.SAMPLES_CSV),
            ("merged samples (Parquet)", report.SAMPLES_PARQUET),
            ("runs compared", "runs.json"),
        ],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = report.write_samples(frame, out_dir)
    runs_file = out_dir / "runs.json"
    runs = [
        {"run_id": i.label, "site": i.site, "path": str(i.path), "spec_hash": i.spec_hash}
        for i in infos
    ]
    runs_file.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    written["runs"] = runs_file
    for kind, name, text in (
        ("markdown", report.REPORT_MD, render_markdown(context)),
        ("html", report.REPORT_HTML, render_html(context)),
    ):
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written[kind] = path
    return written
