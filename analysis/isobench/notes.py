"""What the report says about a run in words: its header (run id, spec, order, warm-ups),
the cell counts, the warnings (TCG, empty cells, noisy groups), the legends and the
"Method" section's notes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from isobench import stats
from isobench.tables import FEW_RUNS_MARK, _column_groups, fmt_cv, fmt_value, planned_cells
from isobench.tidy import _cell

MAX_LISTED = 12  # noisy groups named in a warning

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


# --- header ------------------------------------------------------------------------------


def _pick(record: dict[str, Any], keys: Iterable[str]) -> Any:
    """The first present value among dotted keys (``spec.name`` looks into ``spec``)."""
    for key in keys:
        node: Any = record
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node not in (None, ""):
            return node
    return None


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


# --- method ------------------------------------------------------------------------------


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


# --- setup --------------------------------------------------------------------------------


def _params(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            loaded = json.loads(value)
        except ValueError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    return {}


def setup_notes(frame: pd.DataFrame) -> list[str]:
    """Which tool measured each benchmark, and where the load of client-server benchmarks
    came from (another host, or the same one: then traffic never left that host)."""
    if frame.empty:
        return []
    notes = []
    pairs = frame[["benchmark", "tool"]].drop_duplicates().astype(str)
    tools = pairs.groupby("benchmark", sort=True)["tool"].agg(lambda t: " and ".join(sorted(t)))
    notes.append("Tools: " + "; ".join(f"{b}: {t}" for b, t in tools.items()) + ".")
    firsts = frame.drop_duplicates(subset=["benchmark", "host", "env", "variant"])
    shared: dict[str, set[str]] = {}
    remote: dict[str, set[str]] = {}
    for row in firsts[["benchmark", "host", "params"]].itertuples(index=False):
        params = _params(row.params)
        if "same_host" not in params:
            continue
        if params["same_host"] in (True, "True", "true"):
            shared.setdefault(str(row.host), set()).add(str(row.benchmark))
        else:
            load = str(params.get("load_host", "?"))
            remote.setdefault(f"{row.host} (load from {load})", set()).add(str(row.benchmark))
    for host, names in sorted(shared.items()):
        notes.append(
            f"Client and server shared host {host} for {', '.join(sorted(names))}: one host "
            "only, so the load took each environment's own path on that host (loopback "
            "natively and with Docker's host network, the published port through Docker's "
            "NAT, the guest's virtual NIC on the libvirt bridge), never a physical network. "
            "Compare environments with each other, not with the study's two-host numbers."
        )
    for host, names in sorted(remote.items()):
        notes.append(
            f"Load for {', '.join(sorted(names))} on {host} came from the load host over "
            "the network; its client ran natively in the same userland."
        )
    return notes
