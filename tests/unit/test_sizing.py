from __future__ import annotations

import math

import pytest

from isobench import sizing

TARGET = {"name": "h--native", "cpus": 2, "mem_mb": 24105, "llc_bytes": 32 * 1024 * 1024}
BIG = {"name": "big", "cpus": 32, "mem_mb": 256 * 1024, "llc_bytes": 20 * 1024 * 1024}


def _cell(benchmarks: list[str], params: dict) -> dict:
    return {
        "role": "bench_hpcc",
        "benchmarks": benchmarks,
        "params": params,
        "hpcc": {"mode": "shared", "nb": 192, "processes": "auto"},
    }


@pytest.mark.parametrize(
    ("procs", "grid"),
    [(1, (1, 1)), (2, (1, 2)), (4, (2, 2)), (6, (2, 3)), (7, (1, 7)), (32, (4, 8))],
)
def test_process_grid(procs: int, grid: tuple[int, int]) -> None:
    assert sizing.process_grid(procs) == grid


def test_stream_arrays_at_least_4x_llc() -> None:
    cell = _cell(["stream"], {"stream": {"array_elements": "auto", "llc_factor": 4}})
    derived = sizing.derive(cell, TARGET)
    n = derived["n"]
    per_array = n * n / 3  # HPCC: 3 arrays share N^2 doubles over all processes
    assert per_array * 8 >= 4 * TARGET["llc_bytes"]
    assert "4 x LLC" in derived["derivation"]["stream"]["rule"]


def test_shared_run_takes_the_largest_size() -> None:
    cell = _cell(
        ["linpack", "stream", "randomaccess"],
        {"linpack": {"n": 1000}, "stream": {"array_elements": "auto"}, "randomaccess": {}},
    )
    derived = sizing.derive(cell, TARGET)
    assert derived["n"] == derived["derivation"]["stream"]["n"] > 1000
    assert derived["p"] * derived["q"] == derived["processes"] == 2


def test_paper_rule_keeps_45000_on_the_studys_host() -> None:
    n, rule = sizing.hpl_n("paper", 256 * 1024**3)
    assert n == 45000 and "paper" in rule


def test_paper_rule_scales_with_memory() -> None:
    n, _ = sizing.hpl_n("paper", 24105 * 1024**2)
    assert n == int(45000 * math.sqrt(24105 / (256 * 1024)))


def test_paper_randomaccess_quarter_of_memory() -> None:
    n, rule = sizing.randomaccess_n("paper", 24105 * 1024**2)
    words = 2**29  # largest power of two within a quarter of 23.5 GiB, in 8-byte words
    assert f"{words} words" in rule
    assert n == math.ceil(math.sqrt(2 * words))


def test_too_large_for_the_target() -> None:
    cell = _cell(["linpack"], {"linpack": {"n": 100000}})
    with pytest.raises(sizing.SizingError, match="over 80%"):
        sizing.derive(cell, TARGET)


def test_target_without_facts() -> None:
    cell = _cell(["linpack"], {"linpack": {"n": 1000}})
    with pytest.raises(sizing.SizingError, match="mem_mb"):
        sizing.derive(cell, {"name": "x", "cpus": 2})


def test_compress_threads_follow_the_target() -> None:
    cell = {
        "role": "bench_compress",
        "benchmarks": ["compress"],
        "params": {"compress": {"threads": "auto", "level": 2, "input_mb": 64}},
    }
    assert sizing.derive(cell, BIG)["threads"] == 32
    assert sizing.derive(cell, TARGET)["threads"] == 2


def test_emulated_targets_take_the_emulated_sizes() -> None:
    cell = _cell(["linpack", "stream"], {"linpack": {"n": 4000}, "stream": {"llc_factor": 4}})
    cell["emulated_params"] = {"linpack": {"n": 600}, "stream": {"array_elements": 100000}}
    tcg = {**TARGET, "accel": "tcg"}
    kvm = {**TARGET, "accel": "kvm"}
    emulated = sizing.derive(cell, tcg)
    assert emulated["n"] == max(600, math.ceil(math.sqrt(3 * 100000)))
    assert emulated["emulated_sizes"] is True
    assert "no LLC floor" in emulated["derivation"]["stream"]["rule"]
    real = sizing.derive(cell, kvm)
    assert real["n"] > 7000 and "emulated_sizes" not in real
