"""Statistics on the tidy sample table: pure functions, no I/O except the reference loader.

One long table of samples goes in; :func:`analyze` gives one row per group of
:data:`GROUP_KEYS` (host, benchmark, metric, unit, environment, variant, accelerator and
sweep point) with everything the report shows. Every number is computed on whole columns
(``numpy`` on the values sorted by group); only the tests that need one group at a time
(Shapiro-Wilk, the bootstrap, Mann-Whitney U / Welch's t) loop, once per group or per
comparison, never per sample.

The rules (each stated in the report):

- warm-up samples (``warmup: true``) are excluded from every statistic;
- per group: n, mean, sample std dev (n-1), coefficient of variation, the mean's 95% CI
  (Student t), the median and its 95% CI from order statistics (exact binomial ranks, as
  Hoefler & Belli, SC15, recommend; none exists for n < 6) and a Shapiro-Wilk test
  (n >= 3): the mean +/- CI is shown when normality is not rejected, the median [CI]
  otherwise;
- overhead against native as the ratio of means env/native with a bootstrap percentile
  CI (``scipy.stats.bootstrap``, two independent samples, a seed per comparison derived
  from the run seed and the group, :data:`BOOTSTRAP_RESAMPLES` resamples, groups above
  :data:`BOOTSTRAP_CAP` samples bootstrapped on a seeded subsample of that size);
- a test of difference per comparison (Welch's t when both groups pass Shapiro-Wilk,
  Mann-Whitney U otherwise), Holm-adjusted over every comparison of the table; a
  difference whose adjusted p is >= :data:`ALPHA` is "no significant difference";
- the number of runs each group needs for a 95% CI of the mean within a target relative
  half-width (smallest n with t(n-1) * s / sqrt(n) <= target * |mean|).
"""

from __future__ import annotations

import json
import math
import warnings
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

ENV_ORDER = ["native", "docker-host", "docker-nat", "kvm-untuned", "kvm-tuned"]
BASELINE_ENV = "native"
EMULATED_ACCEL = "tcg"
EMULATED_LABEL = "(emulated, TCG)"

ENV_KEYS = ["env", "variant", "accel"]
GROUP_KEYS = ["host", "benchmark", "metric", "unit", "point", *ENV_KEYS]
BASELINE_KEYS = [k for k in GROUP_KEYS if k not in ENV_KEYS]
STAT_COLUMNS = [
    "n", "mean", "std", "median", "min", "max", "cv",
    "mean_ci_low", "mean_ci_high", "median_ci_low", "median_ci_high",
    "median_ci_lo_rank", "median_ci_hi_rank", "median_ci_coverage",
    "shapiro_p", "normal", "summary_kind",
]  # fmt: skip
GROUP_INFO = ["higher_is_better", "sweep_param", "sweep_value"]
SUMMARY_COLUMNS = [*GROUP_KEYS, *GROUP_INFO, *STAT_COLUMNS]
DEPARTURE_COLUMNS = ["native_mean", "native_n", "departure_pct", "direction"]
COMPARISON_COLUMNS = [
    "ratio", "ratio_ci_low", "ratio_ci_high", "departure_ci_low", "departure_ci_high",
    "test", "p_value", "p_holm", "significant", "verdict", "few_runs",
]  # fmt: skip

CONFIDENCE = 0.95
ALPHA = 0.05  # significance level of the difference tests (after Holm)
NORMALITY_ALPHA = 0.05  # Shapiro-Wilk: normality rejected below this p
SHAPIRO_MIN_N = 3
SHAPIRO_CAP = 5000  # Shapiro-Wilk's p-value is exact up to 5000 samples: seeded subsample above
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_CAP = 250  # samples per group fed to the bootstrap (seeded subsample above)
BOOTSTRAP_METHOD = "percentile"
FEW_RUNS = 10  # below this many runs on a side, a percentile bootstrap CI undercovers
DEFAULT_SEED = 2015  # when the run recorded no integer seed
NOISY_CV = 0.05  # a group whose coefficient of variation exceeds this is flagged noisy
DEFAULT_HALFWIDTH_PCT = 1.0  # repetition advisor: target relative half-width of the CI
STUDY_ROUNDING_PCT = 0.5  # the study publishes whole percents

SWEEP_PARAMS = ("connections", "threads")  # params keys that may form a sweep dimension

VERDICT_SIGNIFICANT = "significant"
VERDICT_SAME = "no significant difference"
VERDICT_UNTESTED = "not tested (n < 2)"
VERDICT_NO_BASELINE = "no native baseline"
FLAG_DIRECTION = "direction differs"
FLAG_OUTSIDE = "study outside our 95% CI"
FLAG_TCG = "not comparable (TCG)"

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
    if out.empty:
        out["env_label"] = pd.Series(dtype=object)
        return out
    codes = out.groupby(ENV_KEYS, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    labels = [
        env_label(str(e), str(v), str(a))
        for e, v, a in out.iloc[first][ENV_KEYS].itertuples(index=False, name=None)
    ]
    out["env_label"] = np.array(labels, dtype=object)[codes]
    return out


def sort_envs(frame: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """Group by ``keys`` (default host, benchmark, metric) in order of first appearance,
    then sweep value, then environments in report order (native first), variant, accel."""
    keys = ["host", "benchmark", "metric"] if keys is None else keys
    keys = [k for k in keys if k in frame.columns]
    ranks = {f"_rank_{k}": pd.factorize(frame[k])[0] for k in keys}
    env_ranks = {e: env_rank(str(e)) for e in pd.unique(frame["env"])}
    out = frame.assign(**ranks, _rank_env=frame["env"].map(env_ranks).astype(int))
    sweep = ["sweep_value"] if "sweep_value" in frame.columns else []
    tail = [k for k in ("variant", "accel") if k in frame.columns]
    out = out.sort_values([*ranks, *sweep, "_rank_env", "env", *tail], kind="stable")
    return out.drop(columns=[*ranks, "_rank_env"]).reset_index(drop=True)


# --- params and sweeps -------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _parse_params(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _as_dict(params: object) -> dict[str, Any]:
    if isinstance(params, dict):
        return params
    if isinstance(params, str) and params.startswith("{"):
        return _parse_params(params)
    return {}


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def param_values(params: pd.Series, name: str) -> np.ndarray:
    """``params[name]`` as floats (NaN where absent or not a number).

    ``params`` holds dicts (as :func:`isobench.store.samples_frame` gives them) or JSON
    text, possibly categorical (as the report's loader gives it): a categorical column is
    parsed once per category, not once per sample.
    """
    if isinstance(params.dtype, pd.CategoricalDtype):
        cats = params.cat.categories
        key = f'"{name}"'  # texts without the key need no parsing
        per_cat = np.array(
            [_number(_as_dict(c).get(name)) if key in str(c) else math.nan for c in cats]
            + [math.nan]
        )
        codes = params.cat.codes.to_numpy()
        return per_cat[np.where(codes >= 0, codes, len(cats))]
    return np.array([_number(_as_dict(p).get(name)) for p in params], dtype=float)


def fmt_point(param: str, value: float) -> str:
    if not param or not math.isfinite(value):
        return ""
    shown = str(int(value)) if float(value).is_integer() else f"{value:g}"
    return f"{param}={shown}"


def _add_sweep(data: pd.DataFrame) -> pd.DataFrame:
    """Columns ``sweep_param``, ``sweep_value`` and ``point`` (``connections=10``).

    A params key of :data:`SWEEP_PARAMS` is a sweep of a benchmark when it takes more than
    one value within one host/environment/metric of it (a thread count that only differs
    between hosts is not a sweep).
    """
    n = len(data)
    param_codes = np.zeros(n, dtype=np.int8)  # 0: no sweep, k: SWEEP_PARAMS[k - 1]
    sweep_value = np.full(n, math.nan)
    if n and "params" in data.columns:
        within = [k for k in ("run_id", "host", "benchmark", "metric", *ENV_KEYS) if k in data]
        taken = np.zeros(n, dtype=bool)
        for code, name in enumerate(SWEEP_PARAMS, start=1):
            values = param_values(data["params"], name)
            has = ~np.isnan(values)
            if not has.any():
                continue
            sub = data.loc[has, within].assign(_v=values[has])
            spread = sub.groupby(within, sort=False, observed=True, dropna=False)["_v"].nunique()
            swept = spread[spread > 1].index.get_level_values("benchmark").unique()
            in_swept = data["benchmark"].isin(swept).to_numpy()
            rows = in_swept & ~taken & has
            param_codes[rows] = code
            sweep_value[rows] = values[rows]
            taken |= in_swept
    point_codes = np.zeros(n, dtype=np.int32)
    labels = [""]
    for code, name in enumerate(SWEEP_PARAMS, start=1):
        rows = param_codes == code
        if rows.any():
            uniq, inverse = np.unique(sweep_value[rows], return_inverse=True)
            point_codes[rows] = len(labels) + inverse.reshape(-1)
            labels += [fmt_point(name, u) for u in uniq]
    out = data.assign(
        sweep_param=pd.Categorical.from_codes(param_codes, categories=["", *SWEEP_PARAMS]),
        sweep_value=sweep_value,
    )
    out["point"] = pd.Categorical.from_codes(point_codes, categories=labels)
    return out


def sweep_benchmarks(frame: pd.DataFrame) -> dict[str, str]:
    """Benchmark -> its sweep parameter, for benchmarks with one (see :func:`measured`)."""
    data = frame if "sweep_param" in frame.columns else measured(frame)
    swept = data.loc[data["sweep_param"] != "", ["benchmark", "sweep_param"]]
    return dict(swept.drop_duplicates("benchmark").itertuples(index=False, name=None))


# --- the measured samples ----------------------------------------------------------------


def _fill(column: pd.Series, default: str) -> pd.Series:
    if isinstance(column.dtype, pd.CategoricalDtype):
        if column.isna().any():
            if default not in column.cat.categories:
                column = column.cat.add_categories([default])
            column = column.fillna(default)
        return column
    return column.fillna(default).astype(str)


def measured(frame: pd.DataFrame) -> pd.DataFrame:
    """The samples that count: warm-ups removed, variant/accel normalised, sweep columns
    (``sweep_param``, ``sweep_value``, ``point``) added."""
    warmup = frame["warmup"] if "warmup" in frame.columns else False
    keep = ~pd.Series(warmup, index=frame.index).fillna(False).astype(bool)
    out = frame.loc[keep].copy()
    out["variant"] = _fill(out["variant"], "")
    out["accel"] = _fill(out["accel"], "none")
    out["value"] = out["value"].astype(float)
    return _add_sweep(out)


def warmup_count(frame: pd.DataFrame) -> int:
    """How many samples are warm-ups (kept on disk, excluded from statistics)."""
    if frame.empty or "warmup" not in frame.columns:
        return 0
    return int(frame["warmup"].fillna(False).astype(bool).sum())


@dataclass
class Groups:
    """The measured samples split by group: ``values[offsets[i]:offsets[i + 1]]`` are the
    values of group ``i`` in ascending order; ``keys`` has one row per group."""

    keys: pd.DataFrame
    values: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def sample(self, index: int) -> np.ndarray:
        return self.values[self.offsets[index] : self.offsets[index + 1]]

    @property
    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)


def group_samples(frame: pd.DataFrame, keys: Sequence[str] = GROUP_KEYS) -> Groups:
    """Split the measured samples of ``frame`` by ``keys`` (groups in order of appearance)."""
    keys = list(keys)
    data = measured(frame)
    info = [c for c in GROUP_INFO if c in data.columns]
    if data.empty:
        return Groups(pd.DataFrame(columns=[*keys, *info]), np.empty(0), np.zeros(1, int))
    grouped = data.groupby(keys, sort=False, observed=True, dropna=False)
    codes = grouped.ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    key_frame = data.iloc[first][[*keys, *info]].reset_index(drop=True)
    for key in key_frame.columns:  # plain values in the per-group table
        if isinstance(key_frame[key].dtype, pd.CategoricalDtype):
            key_frame[key] = key_frame[key].astype(object)
    values = data["value"].to_numpy(dtype=float)
    order = np.lexsort((values, codes))
    counts = np.bincount(codes, minlength=len(first))
    offsets = np.concatenate([[0], np.cumsum(counts)])
    return Groups(key_frame, values[order], offsets)


# --- per-group summaries -----------------------------------------------------------------


def median_ci_ranks(
    n: int | np.ndarray, confidence: float = CONFIDENCE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-based ranks (lo, hi) of the order statistics bounding the median with at least
    ``confidence``, and the exact coverage (Binomial(n, 1/2)); lo = 0 where none exists.

    The CI [x_(lo), x_(n - lo + 1)] covers the median with probability
    1 - 2 P(B <= lo - 1); lo is the largest rank keeping that >= ``confidence``.
    For n = 10: ranks 2 and 9 (97.9%); n <= 5 has no 95% CI.
    """
    n_arr = np.atleast_1d(np.asarray(n, dtype=float))
    tail = (1.0 - confidence) / 2.0
    k = sps.binom.ppf(tail, n_arr, 0.5)  # smallest k with P(B <= k) >= tail
    exact = sps.binom.cdf(k, n_arr, 0.5) <= tail * (1 + 1e-9)
    lo = np.where(exact, k + 1, k)
    lo = np.where((n_arr >= 1) & (lo >= 1), lo, 0).astype(int)
    hi = np.where(lo >= 1, n_arr.astype(int) - lo + 1, 0)
    coverage = np.where(lo >= 1, 1.0 - 2.0 * sps.binom.cdf(lo - 1, n_arr, 0.5), math.nan)
    return lo, hi, coverage


def mean_ci_halfwidth(n: np.ndarray, std: np.ndarray, confidence: float = CONFIDENCE) -> np.ndarray:
    """Student-t half-width of the CI of the mean (NaN for n < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = sps.t.ppf(0.5 + confidence / 2.0, np.where(n >= 2, n - 1, np.nan))
        return t * np.asarray(std, dtype=float) / np.sqrt(n)


def _group_rng(seed: int, *parts: object) -> np.random.Generator:
    """A generator seeded by the run seed and a group's identity (stable across reports)."""
    text = "|".join(str(p) for p in parts).encode()
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(text)])


def _cap(values: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    return values if len(values) <= cap else rng.choice(values, size=cap, replace=False)


def shapiro_p(groups: Groups, seed: int = DEFAULT_SEED, cap: int = SHAPIRO_CAP) -> np.ndarray:
    """Shapiro-Wilk p per group (NaN for n < 3 or constant values)."""
    out = np.full(len(groups), math.nan)
    counts = groups.counts
    for i in np.flatnonzero(counts >= SHAPIRO_MIN_N):
        values = groups.sample(i)
        if values[0] == values[-1]:
            continue
        if len(values) > cap:  # seeded by the group's identity, like the bootstrap
            identity = groups.keys.iloc[i].tolist()
            values = _cap(values, cap, _group_rng(seed, "shapiro", *identity))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[i] = float(sps.shapiro(values).pvalue)
    return out


def _summary_of(groups: Groups, seed: int, confidence: float) -> pd.DataFrame:
    n = groups.counts
    out = groups.keys.copy()
    if not len(groups):
        return out.assign(**{c: pd.Series(dtype=float) for c in STAT_COLUMNS})
    v, starts, ends = groups.values, groups.offsets[:-1], groups.offsets[1:]
    mean = np.add.reduceat(v, starts) / n
    dev = v - np.repeat(mean, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.add.reduceat(dev * dev, starts) / np.where(n > 1, n - 1, np.nan)
        std = np.sqrt(var)
        cv = std / np.where(mean != 0, np.abs(mean), np.nan)
    half = mean_ci_halfwidth(n, std, confidence)
    lo, hi, coverage = median_ci_ranks(n, confidence)
    has_ci = lo >= 1
    p = shapiro_p(groups, seed)
    normal = pd.array(np.where(np.isnan(p), None, p >= NORMALITY_ALPHA), dtype="boolean")
    out = out.assign(
        n=n.astype(int),
        mean=mean,
        std=std,
        median=(v[starts + (n - 1) // 2] + v[starts + n // 2]) / 2.0,
        min=v[starts],
        max=v[ends - 1],
        cv=cv,
        mean_ci_low=mean - half,
        mean_ci_high=mean + half,
        median_ci_low=np.where(has_ci, v[starts + np.maximum(lo, 1) - 1], np.nan),
        median_ci_high=np.where(has_ci, v[starts + np.maximum(hi, 1) - 1], np.nan),
        median_ci_lo_rank=pd.array(np.where(has_ci, lo, None), dtype="Int64"),
        median_ci_hi_rank=pd.array(np.where(has_ci, hi, None), dtype="Int64"),
        median_ci_coverage=coverage,
        shapiro_p=p,
        normal=normal,
        summary_kind=np.where(normal.fillna(False).to_numpy(dtype=bool), "mean", "median"),
    )
    return out


def summarize(
    frame: pd.DataFrame,
    keys: Sequence[str] = GROUP_KEYS,
    seed: int = DEFAULT_SEED,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per group of ``keys``: the columns of :data:`STAT_COLUMNS` (warm-ups out)."""
    columns = [*keys, *GROUP_INFO, *STAT_COLUMNS]
    groups = group_samples(frame, keys)
    if not len(groups):
        return pd.DataFrame(columns=columns)
    return sort_envs(_summary_of(groups, seed, confidence)[columns])


# --- departures from native --------------------------------------------------------------


def _baseline_keys(keys: Sequence[str]) -> list[str]:
    return [k for k in keys if k not in ENV_KEYS]


def _baseline(summary: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The native row per baseline key (variant "" preferred if several)."""
    native = summary[summary["env"] == BASELINE_ENV]
    native = native.sort_values("variant", key=lambda s: s != "", kind="stable")
    native = native.drop_duplicates(list(keys))
    extra = ["_group"] if "_group" in native.columns else []
    return native[[*keys, "mean", "n", *extra]].rename(
        columns={"mean": "native_mean", "n": "native_n", "_group": "_native_group"}
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


def departures(summary: pd.DataFrame, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """The summary plus native_mean, native_n, departure_pct and direction.

    ``departure_pct = (mean - native_mean) / native_mean * 100`` against the native row
    with the same keys but the environment (host, benchmark, metric, unit, point); NaN
    (direction ``n/a``) without one.
    """
    if summary.empty:
        return pd.DataFrame(columns=[*summary.columns, *DEPARTURE_COLUMNS])
    keys = GROUP_KEYS if keys is None else keys
    base_keys = [k for k in _baseline_keys(keys) if k in summary.columns]
    out = summary.merge(_baseline(summary, base_keys), on=base_keys, how="left")
    base = out["native_mean"].astype(float)
    pct = (out["mean"].astype(float) - base) / base.where(base != 0) * 100.0
    out["departure_pct"] = pct.replace([np.inf, -np.inf], np.nan)
    out["native_n"] = out["native_n"].astype("Int64")
    out["direction"] = [
        direction(p, h) for p, h in zip(out["departure_pct"], out["higher_is_better"], strict=True)
    ]
    return sort_envs(out)


# --- tests of difference and bootstrap CIs -----------------------------------------------


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count in m).

    Sorted ascending, p_(i) becomes max_{j <= i} min(1, (m - j + 1) p_(j)); a comparison
    is significant at level a exactly when Holm's step-down procedure rejects it.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = len(valid)
    if not m:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def _ratio_of_means(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.mean(a, axis=axis) / np.mean(b, axis=axis)


def ratio_ci(
    env: np.ndarray,
    native: np.ndarray,
    rng: np.random.Generator,
    resamples: int = BOOTSTRAP_RESAMPLES,
    cap: int = BOOTSTRAP_CAP,
    confidence: float = CONFIDENCE,
) -> tuple[float, float]:
    """Bootstrap CI of mean(env) / mean(native) (two independent samples, percentile).

    Samples above ``cap`` values are first reduced to a random subsample of ``cap``
    (drawn with ``rng``), which widens the interval: conservative.
    """
    if len(env) < 2 or len(native) < 2 or np.mean(native) == 0:
        return math.nan, math.nan
    env, native = _cap(env, cap, rng), _cap(native, cap, rng)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        result = sps.bootstrap(
            (env, native), _ratio_of_means, n_resamples=resamples, paired=False,
            vectorized=True, confidence_level=confidence, method=BOOTSTRAP_METHOD, rng=rng,
        )  # fmt: skip
    low, high = result.confidence_interval
    return float(low), float(high)


def difference_test(env: np.ndarray, native: np.ndarray, both_normal: bool) -> tuple[str, float]:
    """("Welch t" or "Mann-Whitney U", two-sided p); NaN p when either has n < 2."""
    if len(env) < 2 or len(native) < 2:
        return "", math.nan
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        if both_normal:
            p = float(sps.ttest_ind(env, native, equal_var=False).pvalue)
            if math.isfinite(p):
                return "Welch t", p
        return "Mann-Whitney U", float(sps.mannwhitneyu(env, native).pvalue)


def compare_with_native(
    table: pd.DataFrame,
    groups: Groups,
    keys: Sequence[str],
    seed: int = DEFAULT_SEED,
    resamples: int = BOOTSTRAP_RESAMPLES,
    cap: int = BOOTSTRAP_CAP,
    alpha: float = ALPHA,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Add :data:`COMPARISON_COLUMNS` to a departures table carrying ``_group`` and
    ``_native_group`` (indexes into ``groups``): ratio env/native with its bootstrap CI,
    the test of difference, its Holm-adjusted p over every comparison of the table."""
    size = len(table)
    ratio = np.full(size, math.nan)
    ci = np.full((size, 2), math.nan)
    tests = np.full(size, "", dtype=object)
    pvals = np.full(size, math.nan)
    few = np.zeros(size, dtype=bool)
    normal = table["normal"].fillna(False).to_numpy(dtype=bool)
    normal_of = dict(zip(table["_group"], normal, strict=True))
    for i, (g, ng, env) in enumerate(
        zip(table["_group"], table["_native_group"], table["env"], strict=True)
    ):
        if env == BASELINE_ENV or pd.isna(ng):
            continue
        a, b = groups.sample(int(g)), groups.sample(int(ng))
        few[i] = min(len(a), len(b)) < FEW_RUNS
        ratio[i] = float(_ratio_of_means(a, b)) if np.mean(b) != 0 else math.nan
        rng = _group_rng(seed, "ratio", *(table[k].iat[i] for k in keys))
        ci[i] = ratio_ci(a, b, rng, resamples, cap, confidence)
        tests[i], pvals[i] = difference_test(a, b, bool(normal[i] and normal_of[int(ng)]))
    adjusted = holm(pvals)
    significant = ~np.isnan(adjusted) & (adjusted < alpha)
    has_base = table["_native_group"].notna().to_numpy() & (table["env"] != BASELINE_ENV)
    tested = np.where(significant, VERDICT_SIGNIFICANT, VERDICT_SAME)
    tested = np.where(np.isnan(pvals), VERDICT_UNTESTED, tested)
    untested = np.where(table["env"] == BASELINE_ENV, "", VERDICT_NO_BASELINE)
    verdict = np.where(has_base, tested, untested)
    return table.assign(
        ratio=ratio,
        ratio_ci_low=ci[:, 0],
        ratio_ci_high=ci[:, 1],
        departure_ci_low=(ci[:, 0] - 1.0) * 100.0,
        departure_ci_high=(ci[:, 1] - 1.0) * 100.0,
        test=tests,
        p_value=pvals,
        p_holm=adjusted,
        significant=significant,
        verdict=verdict,
        few_runs=few,
    )


# --- repetition advisor ------------------------------------------------------------------


def runs_needed(
    mean: Sequence[float] | np.ndarray,
    std: Sequence[float] | np.ndarray,
    halfwidth_pct: float = DEFAULT_HALFWIDTH_PCT,
    confidence: float = CONFIDENCE,
) -> np.ndarray:
    """Smallest n >= 2 with t(n-1) * std / sqrt(n) <= halfwidth_pct/100 * |mean|.

    That is n = ceil((t * s / (h * mean))^2) with t taken at n - 1 degrees of freedom
    (found exactly by bisection, since t(n-1) / sqrt(n) falls with n). NaN where the
    spread is unknown (n < 2) or the mean is 0.
    """
    mean = np.abs(np.asarray(mean, dtype=float))
    std = np.asarray(std, dtype=float)
    target = halfwidth_pct / 100.0
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = std / np.where(mean > 0, mean, np.nan)
    ok = np.isfinite(rel)
    rel = np.where(ok, rel, 0.0)
    q = 0.5 + confidence / 2.0

    def fits(n: np.ndarray) -> np.ndarray:
        return sps.t.ppf(q, n - 1) * rel / np.sqrt(n) <= target

    lo = np.full(rel.shape, 2.0)  # the answer lies in [lo, hi]
    hi = np.maximum(2.0, np.ceil((sps.t.ppf(q, 1) * rel / target) ** 2))
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = np.floor((lo + hi) / 2.0)
        good = fits(mid)
        hi = np.where(open_ & good, mid, hi)
        lo = np.where(open_ & ~good, mid + 1, lo)
    return np.where(ok, lo, math.nan)


def advise(
    table: pd.DataFrame,
    halfwidth_pct: float = DEFAULT_HALFWIDTH_PCT,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Add ``halfwidth_pct_now`` (the mean's CI half-width in % of the mean) and
    ``runs_needed`` for a half-width of ``halfwidth_pct``."""
    half = mean_ci_halfwidth(table["n"].to_numpy(), table["std"].to_numpy(float), confidence)
    mean = np.abs(table["mean"].to_numpy(float))
    with np.errstate(invalid="ignore", divide="ignore"):
        now = half / np.where(mean > 0, mean, np.nan) * 100.0
    needed = runs_needed(table["mean"], table["std"], halfwidth_pct, confidence)
    return table.assign(
        halfwidth_pct_now=now, runs_needed=pd.array(np.where(np.isnan(needed), None, needed),
                                                     dtype="Int64"),
    )  # fmt: skip


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


def study_flag(row: pd.Series | dict[str, Any], tolerance: float = STUDY_ROUNDING_PCT) -> str:
    """How our departure from native stands against the study's, for one row.

    ``direction differs``: both departures are non-zero and of opposite sign, ours being
    significant; ``study outside our 95% CI``: the study's departure (published in whole
    percents, so +/- ``tolerance``) lies outside our bootstrap CI of the departure (with a
    caution when a side has fewer than :data:`FEW_RUNS` runs, where percentile bootstrap
    intervals are too narrow). Several flags are joined with "; ". "" when they agree,
    "-" when there is nothing to compare.
    """
    study = row.get("study_departure_pct")
    if study is None or not _isfinite(study):
        return "-"
    if is_emulated(row.get("accel")):
        return FLAG_TCG
    ours = row.get("departure_pct")
    if row.get("verdict") not in (VERDICT_SIGNIFICANT, VERDICT_SAME) or not _isfinite(ours):
        return "-"
    flags = []
    our_sign = int(np.sign(ours)) if row.get("verdict") == VERDICT_SIGNIFICANT else 0
    study_sign = 0 if abs(float(study)) < tolerance else int(np.sign(study))
    if our_sign and study_sign and our_sign != study_sign:
        flags.append(FLAG_DIRECTION)
    low, high = row.get("departure_ci_low"), row.get("departure_ci_high")
    if (
        _isfinite(low)
        and _isfinite(high)
        and (float(study) + tolerance < float(low) or float(study) - tolerance > float(high))
    ):
        few = bool(row.get("few_runs"))
        flags.append(f"{FLAG_OUTSIDE} (< {FEW_RUNS} runs: the CI may be too narrow)" if few
                     else FLAG_OUTSIDE)  # fmt: skip
    return "; ".join(flags)


def _isfinite(x: object) -> bool:
    try:
        return x is not None and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


# --- everything at once ------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The parameters of :func:`analyze` (all stated in the report)."""

    seed: int = DEFAULT_SEED
    resamples: int = BOOTSTRAP_RESAMPLES
    cap: int = BOOTSTRAP_CAP
    confidence: float = CONFIDENCE
    alpha: float = ALPHA
    halfwidth_pct: float = DEFAULT_HALFWIDTH_PCT
    noisy_cv: float = NOISY_CV


def analyze(
    frame: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    keys: Sequence[str] = GROUP_KEYS,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The whole per-group table: summary, departures, bootstrap ratio CIs, tests with
    Holm over every comparison, the study's departures and flags, the advisor, noise."""
    settings = settings or Settings()
    keys = list(keys)
    groups = group_samples(frame, keys)
    summary = _summary_of(groups, settings.seed, settings.confidence)
    columns = [*keys, *GROUP_INFO, *STAT_COLUMNS]
    if summary.empty:
        empty = pd.DataFrame(columns=[*columns, *DEPARTURE_COLUMNS, *COMPARISON_COLUMNS])
        return empty.assign(
            study_departure_pct=pd.Series(dtype=float), study_source="", study_flag="",
            halfwidth_pct_now=pd.Series(dtype=float), runs_needed=pd.Series(dtype="Int64"),
            noisy=pd.Series(dtype=bool),
        )  # fmt: skip
    summary = summary[columns].assign(_group=np.arange(len(summary)))
    table = departures(summary, keys)
    table = compare_with_native(
        table, groups, keys, settings.seed, settings.resamples, settings.cap,
        settings.alpha, settings.confidence,
    )  # fmt: skip
    if reference is not None:
        table = attach_reference(table, reference)
    else:
        table = table.assign(study_departure_pct=math.nan, study_source="")
    table["study_flag"] = [study_flag(r) for r in table.to_dict("records")]
    table = advise(table, settings.halfwidth_pct, settings.confidence)
    table["noisy"] = table["cv"].astype(float).abs() > settings.noisy_cv
    return table.drop(columns=["_group", "_native_group"])
