"""stats: confidence intervals, normality, bootstrap ratios, tests, Holm, advisor, flags."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from test_stats import sample  # the same sample factory as the summary tests

from isobench import stats, store


def frame(groups: dict[str, list[float]], **over: Any) -> pd.DataFrame:
    rows = [
        sample(env, float(v), repetition=i + 1, **over)
        for env, values in groups.items()
        for i, v in enumerate(values)
    ]
    return store.samples_frame([{"status": "ok", "samples": rows}])


def row(table: pd.DataFrame, env: str, **keys: Any) -> pd.Series:
    found = table[table["env"] == env]
    for key, value in keys.items():
        found = found[found[key] == value]
    assert len(found) == 1
    return found.iloc[0]


RNG = np.random.default_rng(20251204)


# --- the median's confidence interval ----------------------------------------------------


def test_median_ci_ranks_for_n_10_are_2_and_9() -> None:
    lo, hi, coverage = stats.median_ci_ranks(10)
    assert (int(lo[0]), int(hi[0])) == (2, 9)
    assert coverage[0] == pytest.approx(1 - 2 * 11 / 1024)  # 1 - 2 P(B(10, 1/2) <= 1)


def test_median_ci_ranks_against_the_binomial() -> None:
    n = np.arange(1, 61)
    lo, hi, coverage = stats.median_ci_ranks(n)
    for k, lo_k, hi_k, cov in zip(n, lo, hi, coverage, strict=True):
        if k < 6:  # [x(1), x(n)] covers the median with 1 - 2/2^n < 95%
            assert lo_k == 0 and math.isnan(cov)
            continue
        assert hi_k == k - lo_k + 1
        assert cov >= 0.95
        assert 1 - 2 * sps.binom.cdf(lo_k, k, 0.5) < 0.95  # one rank further in is too short


def test_median_ci_values_in_summary() -> None:
    values = [7.0, 3.0, 10.0, 1.0, 5.0, 9.0, 2.0, 8.0, 4.0, 6.0]
    summary = stats.summarize(frame({"native": values}))
    native = row(summary, "native")
    assert native["median"] == 5.5
    assert (native["median_ci_low"], native["median_ci_high"]) == (2.0, 9.0)
    assert (native["median_ci_lo_rank"], native["median_ci_hi_rank"]) == (2, 9)


def test_no_median_ci_below_six_runs() -> None:
    native = row(stats.summarize(frame({"native": [1.0, 2.0, 3.0, 4.0, 9.0]})), "native")
    assert math.isnan(native["median_ci_low"]) and pd.isna(native["median_ci_lo_rank"])


def test_mean_ci_is_student_t() -> None:
    native = row(stats.summarize(frame({"native": [10.0, 12.0, 14.0]})), "native")
    half = sps.t.ppf(0.975, 2) * 2.0 / math.sqrt(3)
    assert native["mean_ci_low"] == pytest.approx(12.0 - half)
    assert native["mean_ci_high"] == pytest.approx(12.0 + half)
    assert native["cv"] == pytest.approx(2.0 / 12.0)


# --- normality decides the summary shown -------------------------------------------------


def test_normal_data_shows_mean_skewed_data_shows_median() -> None:
    normal = list(RNG.normal(100.0, 1.0, 30))
    skewed = [*list(RNG.normal(100.0, 0.1, 29)), 160.0]  # one wild outlier
    summary = stats.summarize(frame({"native": normal, "docker-host": skewed}))
    assert row(summary, "native")["shapiro_p"] >= stats.NORMALITY_ALPHA
    assert row(summary, "native")["summary_kind"] == "mean"
    assert row(summary, "docker-host")["shapiro_p"] < stats.NORMALITY_ALPHA
    assert row(summary, "docker-host")["summary_kind"] == "median"


def test_shapiro_needs_three_non_constant_values() -> None:
    summary = stats.summarize(frame({"native": [1.0, 2.0], "docker-host": [5.0, 5.0, 5.0]}))
    for env in ("native", "docker-host"):
        assert math.isnan(row(summary, env)["shapiro_p"])
        assert pd.isna(row(summary, env)["normal"])
        assert row(summary, env)["summary_kind"] == "median"


# --- Holm --------------------------------------------------------------------------------


def test_holm_adjusted_values_and_order() -> None:
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    adjusted = stats.holm(p)
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 -> max(0.04, 0.06)
    assert adjusted[:4] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert math.isnan(adjusted[4])


def test_holm_matches_the_step_down_procedure() -> None:
    for _ in range(50):
        p = RNG.uniform(0, 0.2, size=int(RNG.integers(1, 12)))
        adjusted = stats.holm(p)
        order = np.argsort(p)
        rejected = np.zeros(len(p), dtype=bool)
        for i, j in enumerate(order):  # reject while p_(i) <= alpha / (m - i)
            if p[j] > 0.05 / (len(p) - i):
                break
            rejected[j] = True
        assert np.array_equal(adjusted <= 0.05, rejected)
        assert np.all(adjusted >= p) and np.all(adjusted <= 1)


# --- the bootstrap ratio and the tests ---------------------------------------------------


def test_bootstrap_ci_contains_true_ratio_for_large_samples() -> None:
    env, native = RNG.normal(90.0, 2.0, 400), RNG.normal(100.0, 2.0, 400)
    low, high = stats.ratio_ci(env, native, np.random.default_rng(1))
    assert low < 0.9 < high
    assert high - low < 0.01
    again = stats.ratio_ci(env, native, np.random.default_rng(1))
    assert again == (low, high)  # seeded: reproducible


def test_bootstrap_cap_subsamples_big_groups() -> None:
    env, native = RNG.normal(90.0, 2.0, 5000), RNG.normal(100.0, 2.0, 5000)
    low, high = stats.ratio_ci(env, native, np.random.default_rng(2), cap=200)
    assert low < 0.9 < high  # still covers, wider than on all samples


def test_difference_test_choice() -> None:
    a, b = RNG.normal(10, 1, 20), RNG.normal(11, 1, 20)
    assert stats.difference_test(a, b, both_normal=True)[0] == "Welch t"
    assert stats.difference_test(a, b, both_normal=False)[0] == "Mann-Whitney U"
    assert math.isnan(stats.difference_test(a[:1], b, both_normal=True)[1])


def test_analyze_departure_ci_tests_and_holm_over_all_comparisons() -> None:
    data = frame(
        {
            "native": list(RNG.normal(100.0, 1.0, 12)),
            "docker-host": list(RNG.normal(100.0, 1.0, 12)),
            "kvm-untuned": list(RNG.normal(80.0, 1.0, 12)),
        }
    )
    table = stats.analyze(data, stats.load_reference())
    kvm = row(table, "kvm-untuned")
    assert kvm["verdict"] == stats.VERDICT_SIGNIFICANT and kvm["significant"]
    assert kvm["departure_ci_low"] < kvm["departure_pct"] < kvm["departure_ci_high"]
    assert kvm["ratio_ci_low"] < 0.8 < kvm["ratio_ci_high"]
    assert kvm["direction"] == "worse"
    tested = table[table["p_value"].notna()]
    assert len(tested) == 2
    assert np.allclose(tested["p_holm"], stats.holm(tested["p_value"].to_numpy()))
    assert row(table, "native")["verdict"] == ""


def test_equal_distributions_are_no_significant_difference() -> None:
    values = list(RNG.normal(50.0, 1.0, 15))
    shuffled = list(np.array(values)[RNG.permutation(15)])
    table = stats.analyze(frame({"native": values, "docker-host": shuffled}))
    docker = row(table, "docker-host")
    assert docker["verdict"] == stats.VERDICT_SAME
    assert not docker["significant"]
    assert docker["ratio"] == pytest.approx(1.0)


def test_one_run_is_not_tested() -> None:
    table = stats.analyze(frame({"native": [1.0, 2.0, 3.0], "docker-host": [2.0]}))
    assert row(table, "docker-host")["verdict"] == stats.VERDICT_UNTESTED
    table = stats.analyze(frame({"docker-host": [2.0, 3.0]}))
    assert row(table, "docker-host")["verdict"] == stats.VERDICT_NO_BASELINE


# --- repetition advisor ------------------------------------------------------------------


def _brute_force_runs(cv: float, target_pct: float) -> int:
    n = 2
    while sps.t.ppf(0.975, n - 1) * cv / math.sqrt(n) > target_pct / 100:
        n += 1
    return n


def test_runs_needed_formula() -> None:
    # cv 5%, target 1%: z gives ceil((1.96 * 5)^2) = 97; with t(n-1) it takes 99
    assert stats.runs_needed([100.0], [5.0], 1.0)[0] == 99
    assert math.ceil((1.96 * 5) ** 2) == 97
    for cv in (0.001, 0.004, 0.01, 0.02, 0.05, 0.13):
        for target in (0.5, 1.0, 2.0):
            got = stats.runs_needed([20.0], [20.0 * cv], target)[0]
            assert got == _brute_force_runs(cv, target), (cv, target)


def test_runs_needed_edge_cases() -> None:
    needed = stats.runs_needed([10.0, 10.0, 0.0], [0.0, math.nan, 1.0])
    assert needed[0] == 2  # no spread: two runs give a (zero-width) CI
    assert math.isnan(needed[1]) and math.isnan(needed[2])


def test_advise_columns() -> None:
    table = stats.analyze(frame({"native": [10.0, 12.0, 14.0]}))
    native = row(table, "native")
    half = sps.t.ppf(0.975, 2) * 2.0 / math.sqrt(3)
    assert native["halfwidth_pct_now"] == pytest.approx(half / 12.0 * 100)
    assert native["runs_needed"] == _brute_force_runs(2.0 / 12.0, 1.0)
    relaxed = stats.analyze(frame({"native": [10.0, 12.0, 14.0]}), settings=stats.Settings(
        halfwidth_pct=10.0))  # fmt: skip
    assert row(relaxed, "native")["runs_needed"] == _brute_force_runs(2.0 / 12.0, 10.0)


def test_noisy_flag() -> None:
    table = stats.analyze(frame({"native": [10.0, 10.1, 9.9], "docker-host": [8.0, 10.0, 12.0]}))
    assert not row(table, "native")["noisy"]
    assert row(table, "docker-host")["noisy"]


# --- the study ---------------------------------------------------------------------------


def _flag(**over: Any) -> str:
    base = {
        "accel": "none", "study_departure_pct": -4.0, "departure_pct": -4.2,
        "departure_ci_low": -5.0, "departure_ci_high": -3.5,
        "verdict": stats.VERDICT_SIGNIFICANT,
    }  # fmt: skip
    return stats.study_flag({**base, **over})


def test_study_flags() -> None:
    assert _flag() == ""  # agrees
    flag = _flag(departure_pct=6.0, departure_ci_low=5.0, departure_ci_high=7.0)
    assert stats.FLAG_DIRECTION in flag and stats.FLAG_OUTSIDE in flag
    assert _flag(study_departure_pct=-22.0) == stats.FLAG_OUTSIDE
    # the study's whole percents stand for +/- 0.5 points
    assert _flag(study_departure_pct=-3.0, departure_ci_high=-3.4) == ""
    assert _flag(study_departure_pct=-3.0, departure_ci_high=-3.6) == stats.FLAG_OUTSIDE
    same = {"verdict": stats.VERDICT_SAME, "departure_ci_low": -1.0, "departure_ci_high": 1.2}
    assert _flag(study_departure_pct=0.0, **same) == ""
    assert _flag(study_departure_pct=-4.0, **same) == stats.FLAG_OUTSIDE
    assert _flag(accel="tcg") == stats.FLAG_TCG
    assert _flag(study_departure_pct=math.nan) == "-"
    assert _flag(verdict=stats.VERDICT_UNTESTED) == "-"


def test_study_flag_in_analysis_when_direction_differs() -> None:
    data = frame(  # the study: Docker Linpack 0%, KVM tuned -2%; here KVM gains 10%
        {
            "native": list(RNG.normal(100.0, 0.5, 10)),
            "docker-host": list(RNG.normal(100.0, 0.5, 10)),
            "kvm-tuned": list(RNG.normal(110.0, 0.5, 10)),
        }
    )
    table = stats.analyze(data, stats.load_reference())
    kvm = row(table, "kvm-tuned")
    assert kvm["study_departure_pct"] == -2
    assert stats.FLAG_DIRECTION in kvm["study_flag"]
    assert row(table, "docker-host")["study_flag"] == ""


# --- sweeps ------------------------------------------------------------------------------


def test_sweep_param_forms_points() -> None:
    rows = [
        sample(env, base * c / 10 + i * 0.01, benchmark="redis", metric="get", unit="ops/s",
               params={"connections": c, "requests": 1000}, repetition=i + 1)
        for env, base in (("native", 100.0), ("docker-nat", 80.0))
        for c in (1, 10, 50)
        for i in range(3)
    ]  # fmt: skip
    rows += [  # threads differ between hosts only: not a sweep
        sample("native", 5.0 + i, benchmark="compress", metric="throughput", unit="MB/s",
               host=h, params={"threads": t}, repetition=i + 1)
        for h, t in (("a", 2), ("b", 4))
        for i in range(3)
    ]  # fmt: skip
    data = store.samples_frame([{"status": "ok", "samples": rows}])
    assert stats.sweep_benchmarks(data) == {"redis": "connections"}
    table = stats.analyze(data)
    redis = table[table["benchmark"] == "redis"]
    assert sorted(set(redis["point"])) == ["connections=1", "connections=10", "connections=50"]
    assert list(redis[redis["env"] == "native"]["sweep_value"]) == [1.0, 10.0, 50.0]
    nat = row(redis, "docker-nat", point="connections=10")
    assert nat["departure_pct"] == pytest.approx(-20.0, abs=0.1)
    assert set(table[table["benchmark"] == "compress"]["point"]) == {""}


def test_param_values_from_dicts_and_json_text() -> None:
    dicts = pd.Series([{"connections": 5}, {"threads": 2}, {}, None])
    assert np.array_equal(
        stats.param_values(dicts, "connections"), [5.0, math.nan, math.nan, math.nan],
        equal_nan=True,
    )  # fmt: skip
    text = pd.Series(['{"connections": 5}', '{"connections": "x"}', ""], dtype="category")
    assert np.array_equal(
        stats.param_values(text, "connections"), [5.0, math.nan, math.nan], equal_nan=True
    )
