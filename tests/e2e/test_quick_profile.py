"""The default experiment, for real: `isobench run` (quick profile, local inventory)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isobench import spec

from .helpers import (
    PLAUSIBLE,
    assert_no_secret_in_results,
    cells,
    only_run_dir,
    run_cli,
    samples,
    userland_mounts,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    results = tmp_path_factory.mktemp("results")
    proc = run_cli(
        "run",
        "--profile",
        "quick",
        "--inventory",
        "local",
        "--results",
        str(results),
        timeout=45 * 60,
    )
    print(proc.stdout[-5000:], proc.stderr[-3000:])
    assert proc.returncode == 0, proc.stderr[-3000:]
    return only_run_dir(results), proc.stdout


def test_progress_shows_host_env_benchmark_and_repetition(quick_run: tuple[Path, str]) -> None:
    _, stdout = quick_run
    assert "localhost native linpack+stream+randomaccess rep 1: running" in stdout
    assert "report:" in stdout and "results:" in stdout


def test_every_planned_cell_measured(quick_run: tuple[Path, str]) -> None:
    run_dir, _ = quick_run
    run = json.loads((run_dir / "run.json").read_text())
    recorded = cells(run_dir)
    assert set(recorded) == {c["id"] for c in run["plan"]}
    assert all(c["status"] == "ok" for c in recorded.values()), [
        (i, c["reason"]) for i, c in recorded.items() if c["status"] != "ok"
    ]


def test_every_benchmark_with_plausible_values(quick_run: tuple[Path, str]) -> None:
    run_dir, _ = quick_run
    frame = samples(run_dir)
    quick = spec.load("quick").data
    envs = {e.partition("/")[0] for e in quick["environments"]}
    assert set(frame["benchmark"]) == set(quick["benchmarks"])
    assert set(frame["env"]) == envs
    run = json.loads((run_dir / "run.json").read_text())
    for (bench, metric), (low, high) in PLAUSIBLE.items():
        rows = frame[(frame.benchmark == bench) & (frame.metric == metric)]
        assert not rows.empty, (bench, metric)
        for env, group in rows.groupby("env"):
            cells_run = {
                c["id"] for c in run["plan"] if c["env"] == env and bench in c["benchmarks"]
            }
            points = max(1, group.groupby("cell_id").size().max())
            assert len(group) == len(cells_run) * points, (bench, metric, env)
            assert group["value"].between(low, high).all(), (bench, metric, env, group["value"])


def test_report_holds_every_benchmark(quick_run: tuple[Path, str]) -> None:
    run_dir, _ = quick_run
    report = (run_dir / "report.md").read_text()
    for bench in spec.load("quick").data["benchmarks"]:
        assert f"### {bench}" in report
        assert (run_dir / "figures" / f"{bench}.png").stat().st_size > 1000
    # one host: the report says client and server shared it, and which tools measured
    assert "Client and server shared host localhost" in report
    assert "netlat: netperf" in report or "netlat: sockperf" in report
    html = (run_dir / "report.html").read_text()
    assert "<table" in html and "data:image/png;base64" in html


def test_same_binaries_in_every_target(quick_run: tuple[Path, str]) -> None:
    run_dir, _ = quick_run
    records = [json.loads(p.read_text()) for p in (run_dir / "provenance").glob("*.json")]
    assert records
    hashes = {json.dumps(r["inside"]["binaries"], sort_keys=True) for r in records}
    assert len(hashes) == 1
    for record in records:
        assert record["inside"]["binaries_match_manifest"] is True
        assert "/usr/bin/hpcc" in record["inside"]["binaries"]


def test_compress_input_identical_everywhere(quick_run: tuple[Path, str]) -> None:
    # one input per size: emulated (TCG) guests compress a smaller one, the same bytes
    run_dir, _ = quick_run
    frame = samples(run_dir)
    params = [json.loads(p) for p in frame[frame.benchmark == "compress"].params]
    by_size: dict[int, set[str]] = {}
    for p in params:
        by_size.setdefault(p["input_mb"], set()).add(p["input_sha256"])
    assert by_size and all(len(hashes) == 1 for hashes in by_size.values()), by_size


def test_emulated_guests_labelled(quick_run: tuple[Path, str]) -> None:
    run_dir, _ = quick_run
    frame = samples(run_dir)
    kvm = frame[frame.env.str.startswith("kvm-")]
    others = frame[~frame.env.str.startswith("kvm-")]
    assert set(others.accel) == {"none"}
    assert set(kvm.accel) <= {"kvm", "tcg"}
    if "tcg" in set(kvm.accel):
        assert "emulated" in (run_dir / "report.md").read_text()


def test_teardown_left_no_mounts(quick_run: tuple[Path, str]) -> None:
    assert userland_mounts() == []


def test_no_generated_secret_in_results(quick_run: tuple[Path, str]) -> None:
    run_dir, _ = quick_run
    assert_no_secret_in_results(run_dir)
