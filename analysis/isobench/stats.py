"""Statistics on the tidy sample table: pure functions, no I/O except the reference loader.

Every function takes and returns a :class:`pandas.DataFrame`. ``summarize`` gives one row
per group of :data:`GROUP_KEYS`; later analyses (confidence intervals, tests) add columns
to that frame by merging on the same keys, so they stay independent of each other.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

ENV_ORDER = ["native", "docker-host", "docker-nat", "kvm-untuned", "kvm-tuned"]
BASELINE_ENV = "native"
EMULATED_ACCEL = "tcg"
EMULATED_LABEL = "(emulated, TCG)"

GROUP_KEYS = ["host", "benchmark", "metric", "unit", "env", "variant", "accel"]
BASELINE_KEYS = ["host", "benchmark", "metric", "unit"]
STAT_COLUMNS = ["n", "mean", "std", "median", "min", "max", "cv"]
SUMMARY_COLUMNS = [*GROUP_KEYS, "higher_is_better", *STAT_COLUMNS]
DEPARTURE_COLUMNS = ["native_mean", "native_n", "departure_pct", "direction"]

REFERENCE_FILE = "felter2015.csv"
REFERENCE_COLUMNS = [
    "benchmark", "metric", "unit", "env", "mean", "std", "departure_pct", "source_tag",
]  # fmt: skip
REFERENCE_JOIN_KEYS = ["benchmark", "metric", "unit", "env"]


# --- environments and labels -------------------------------------------------------------


def env_rank(env: str) -> int:
    """Position of an environment in report order; unknown ones go last."""
    return ENV_ORDER.index(env) if env in ENV_ORDER else len(ENV_ORDER)


def is_emulated(accel: object) -> bool:
    return str(accel) == EMULATED_ACCEL


def env_label(env: str, variant: str = "", accel: str = "none") -> str:
    """``env[/variant]``, with ``(emulated, TCG)`` for software-emulated guests."""
    label = f"{env}/{variant}" if variant else env
    return f"{label} {EMULATED_LABEL}" if is_emulated(accel) else label


def with_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of a frame with ``env``/``variant``/``accel`` plus an ``env_label`` column."""
    out = frame.copy()
    out["env_label"] = [
        env_label(e, v, a) for e, v, a in zip(out["env"], out["variant"], out["accel"], strict=True)
    ]
    return out


def sort_envs(frame: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """Group by ``keys`` (default host, benchmark, metric) in order of first appearance,
    then put environments in report order (native first), then variant and accel."""
    keys = ["host", "benchmark", "metric"] if keys is None else keys
    keys = [k for k in keys if k in frame.columns]
    ranks = {f"_rank_{k}": pd.factorize(frame[k])[0] for k in keys}
    out = frame.assign(**ranks, _rank_env=frame["env"].map(env_rank))
    tail = [k for k in ("variant", "accel") if k in frame.columns]
    out = out.sort_values([*ranks, "_rank_env", "env", *tail], kind="stable")
    return out.drop(columns=[*ranks, "_rank_env"]).reset_index(drop=True)


# --- summaries ---------------------------------------------------------------------------


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    """The samples that count: warm-up repetitions removed, variant/accel normalised."""
    warmup = frame["warmup"] if "warmup" in frame.columns else False
    keep = ~pd.Series(warmup, index=frame.index).fillna(False).astype(bool)
    out = frame.loc[keep].copy()
    out["variant"] = out["variant"].fillna("").astype(str)
    out["accel"] = out["accel"].fillna("none").astype(str)
    out["value"] = out["value"].astype(float)
    return out


def summarize(frame: pd.DataFrame) -> pd.DataFrame:
    """n, mean, sample std (ddof=1), median, min, max and cv per :data:`GROUP_KEYS`."""
    data = measured(frame)
    if data.empty:
        return pd.DataFrame(columns=SUMMARY_COLUMNS)
    grouped = data.groupby(GROUP_KEYS, sort=False, dropna=False)
    out = grouped["value"].agg(
        n="count", mean="mean", std="std", median="median", min="min", max="max"
    )
    out["higher_is_better"] = grouped["higher_is_better"].first()
    out = out.reset_index()
    out["n"] = out["n"].astype(int)
    out["cv"] = out["std"] / out["mean"].where(out["mean"] != 0)
    return sort_envs(out[SUMMARY_COLUMNS])


def _baseline(summary: pd.DataFrame) -> pd.DataFrame:
    """The native row per host/benchmark/metric/unit (variant "" preferred if several)."""
    native = summary[summary["env"] == BASELINE_ENV]
    native = native.sort_values("variant", key=lambda s: s != "", kind="stable")
    native = native.drop_duplicates(BASELINE_KEYS)
    return native[[*BASELINE_KEYS, "mean", "n"]].rename(
        columns={"mean": "native_mean", "n": "native_n"}
    )


def direction(departure_pct: float, higher_is_better: object) -> str:
    """``better``, ``worse``, ``equal`` or ``n/a`` for a departure from native."""
    if departure_pct is None or not math.isfinite(departure_pct):
        return "n/a"
    if departure_pct == 0:
        return "equal"
    if higher_is_better is None or pd.isna(higher_is_better):
        return "n/a"
    return "better" if (departure_pct > 0) == bool(higher_is_better) else "worse"


def departures(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary plus native_mean, native_n, departure_pct and direction.

    ``departure_pct = (mean - native_mean) / native_mean * 100`` against the native row of
    the same host, benchmark, metric and unit; NaN (direction ``n/a``) without one.
    """
    if summary.empty:
        return pd.DataFrame(columns=[*summary.columns, *DEPARTURE_COLUMNS])
    out = summary.merge(_baseline(summary), on=BASELINE_KEYS, how="left")
    base = out["native_mean"].astype(float)
    pct = (out["mean"].astype(float) - base) / base.where(base != 0) * 100.0
    out["departure_pct"] = pct.replace([np.inf, -np.inf], np.nan)
    out["native_n"] = out["native_n"].astype("Int64")
    out["direction"] = [
        direction(p, h) for p, h in zip(out["departure_pct"], out["higher_is_better"], strict=True)
    ]
    return sort_envs(out)


# --- the study's published numbers -------------------------------------------------------


def load_reference(path: Path | None = None) -> pd.DataFrame:
    """The study's Table I as data (``reference/felter2015.csv`` shipped in the package)."""
    if path is None:
        ref = resources.files("isobench").joinpath("reference", REFERENCE_FILE)
        with ref.open("r", encoding="utf-8") as fh:
            frame = pd.read_csv(fh)
    else:
        frame = pd.read_csv(path)
    missing = set(REFERENCE_COLUMNS) - set(frame.columns)
    if missing:
        raise ValueError(f"reference data lacks columns: {sorted(missing)}")
    return frame[REFERENCE_COLUMNS]


def attach_reference(table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Add ``study_departure_pct`` and ``study_source`` (matched on benchmark/metric/unit/env)."""
    ref = reference[[*REFERENCE_JOIN_KEYS, "departure_pct", "source_tag"]].rename(
        columns={"departure_pct": "study_departure_pct", "source_tag": "study_source"}
    )
    ref = ref.drop_duplicates(REFERENCE_JOIN_KEYS)
    if table.empty:
        return table.assign(study_departure_pct=pd.Series(dtype=float), study_source="")
    return table.merge(ref, on=REFERENCE_JOIN_KEYS, how="left")
