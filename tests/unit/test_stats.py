"""stats: summaries, departures from native, the study's reference data."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

from isobench import stats, store


def sample(env: str, value: float, **over: Any) -> dict[str, Any]:
    base = {
        "run_id": "r1", "cell_id": f"c-{env}", "host": "lab1", "target": f"lab1--{env}",
        "env": env, "variant": "", "accel": "kvm" if env.startswith("kvm") else "none",
        "benchmark": "linpack", "tool": "hpcc 1.5.0", "metric": "gflops", "value": value,
        "unit": "GFLOPS", "higher_is_better": True, "repetition": 1, "warmup": False,
        "started": "2025-01-01T00:00:00Z", "ended": "2025-01-01T00:01:00Z", "params": {},
    }  # fmt: skip
    return {**base, **over}


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return store.samples_frame([{"status": "ok", "samples": rows}])


@pytest.fixture
def linpack() -> pd.DataFrame:
    return frame(
        [
            sample("native", 10.0, repetition=1),
            sample("native", 12.0, repetition=2),
            sample("native", 14.0, repetition=3),
            sample("native", 1000.0, repetition=1, warmup=True),
            sample("kvm-tuned", 9.0, repetition=1),
            sample("kvm-tuned", 9.6, repetition=2),
            sample("kvm-tuned", 10.2, repetition=3),
            sample("docker-host", 13.2, repetition=1),
        ]
    )


def row(table: pd.DataFrame, env: str) -> pd.Series:
    found = table[table["env"] == env]
    assert len(found) == 1
    return found.iloc[0]


def test_summarize_exact_numbers_and_warmup_excluded(linpack: pd.DataFrame) -> None:
    summary = stats.summarize(linpack)
    assert list(summary.columns) == stats.SUMMARY_COLUMNS
    native = row(summary, "native")
    assert native["n"] == 3
    assert native["mean"] == pytest.approx(12.0)
    assert native["std"] == pytest.approx(2.0)  # sample std dev, ddof=1
    assert native["median"] == 12.0 and native["min"] == 10.0 and native["max"] == 14.0
    assert native["cv"] == pytest.approx(2.0 / 12.0)
    kvm = row(summary, "kvm-tuned")
    assert kvm["mean"] == pytest.approx(9.6)
    assert kvm["std"] == pytest.approx(0.6)
    assert math.isnan(row(summary, "docker-host")["std"])  # n = 1


def test_summary_in_environment_order(linpack: pd.DataFrame) -> None:
    assert list(stats.summarize(linpack)["env"]) == ["native", "docker-host", "kvm-tuned"]


def test_departures_sign_and_direction(linpack: pd.DataFrame) -> None:
    table = stats.departures(stats.summarize(linpack))
    assert row(table, "native")["departure_pct"] == 0.0
    assert row(table, "native")["direction"] == "equal"
    kvm = row(table, "kvm-tuned")
    assert kvm["departure_pct"] == pytest.approx(-20.0)
    assert kvm["native_mean"] == pytest.approx(12.0)
    assert kvm["direction"] == "worse"
    docker = row(table, "docker-host")
    assert docker["departure_pct"] == pytest.approx(10.0)
    assert docker["direction"] == "better"


def test_lower_is_better_flips_direction() -> None:
    data = frame(
        [
            sample("native", 40.0, metric="latency", unit="us", higher_is_better=False),
            sample("kvm-tuned", 70.0, metric="latency", unit="us", higher_is_better=False),
        ]
    )
    kvm = row(stats.departures(stats.summarize(data)), "kvm-tuned")
    assert kvm["departure_pct"] == pytest.approx(75.0)
    assert kvm["direction"] == "worse"


def test_departure_without_native_is_nan() -> None:
    table = stats.departures(stats.summarize(frame([sample("docker-nat", 5.0)])))
    assert math.isnan(row(table, "docker-nat")["departure_pct"])
    assert row(table, "docker-nat")["direction"] == "n/a"


def test_departure_is_per_host() -> None:
    data = frame(
        [
            sample("native", 10.0, host="a"),
            sample("native", 20.0, host="b"),
            sample("docker-host", 9.0, host="a"),
            sample("docker-host", 19.0, host="b"),
        ]
    )
    table = stats.departures(stats.summarize(data))
    docker = table[table["env"] == "docker-host"].set_index("host")["departure_pct"]
    assert docker["a"] == pytest.approx(-10.0)
    assert docker["b"] == pytest.approx(-5.0)


def test_variants_and_accels_are_separate_groups() -> None:
    data = frame(
        [
            sample("native", 10.0),
            sample("docker-nat", 8.0, variant="overlay"),
            sample("docker-nat", 9.0, variant="volume"),
            sample("kvm-tuned", 1.0, accel="tcg"),
        ]
    )
    table = stats.departures(stats.summarize(data))
    assert len(table) == 4
    labels = list(stats.with_labels(table)["env_label"])
    assert labels == [
        "native",
        "docker-nat/overlay",
        "docker-nat/volume",
        "kvm-tuned (emulated, TCG)",
    ]


def test_empty_frames() -> None:
    empty = frame([])
    summary = stats.summarize(empty)
    assert summary.empty and list(summary.columns) == stats.SUMMARY_COLUMNS
    assert stats.departures(summary).empty


def test_env_label() -> None:
    assert stats.env_label("docker-nat", "overlay") == "docker-nat/overlay"
    assert stats.env_label("kvm-tuned", "", "kvm") == "kvm-tuned"
    assert stats.env_label("kvm-untuned", "", "tcg") == "kvm-untuned (emulated, TCG)"


def test_reference_table() -> None:
    ref = stats.load_reference()
    assert list(ref.columns) == stats.REFERENCE_COLUMNS
    assert set(ref["env"]) <= set(stats.ENV_ORDER)
    assert set(ref["source_tag"]) <= {"repo", "paper", "recalled"}
    key = ["benchmark", "metric", "env"]
    assert not ref.duplicated(key).any()
    indexed = ref.set_index(key)
    assert indexed.loc[("linpack", "gflops", "kvm-tuned"), "departure_pct"] == -2
    assert indexed.loc[("linpack", "gflops", "kvm-untuned"), "source_tag"] == "paper"
    assert indexed.loc[("compress", "throughput", "kvm-untuned"), "mean"] == 59.2
    assert indexed.loc[("stream", "triad", "native"), "mean"] == 45.60
    assert indexed.loc[("randomaccess", "gups", "docker-host"), "departure_pct"] == -2
    assert set(ref[ref["benchmark"] == "stream"]["metric"]) == {"copy", "scale", "add", "triad"}


def test_reference_departures_agree_with_means() -> None:
    ref = stats.load_reference()
    native = ref[ref["env"] == "native"].set_index(["benchmark", "metric"])["mean"]
    for r in ref.itertuples():
        computed = (r.mean - native[(r.benchmark, r.metric)]) / native[(r.benchmark, r.metric)]
        assert abs(computed * 100 - r.departure_pct) <= 1.0, r


def test_attach_reference(linpack: pd.DataFrame) -> None:
    table = stats.attach_reference(
        stats.departures(stats.summarize(linpack)), stats.load_reference()
    )
    assert row(table, "kvm-tuned")["study_departure_pct"] == -2
    assert row(table, "docker-host")["study_source"] == "repo"
