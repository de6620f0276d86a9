"""report: a synthetic results folder in, report.md/html, figures and samples.csv out."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from isobench import report, store

RUN_ID = "20250101-000000-test"
BINARIES = {"/usr/bin/hpcc": "a" * 64, "/usr/bin/xz": "b" * 64}
LINPACK = {  # env -> (accel, values): native mean 12 (std 2), docker 11.4, kvm-tuned 9.6
    "native": ("none", [10.0, 12.0, 14.0]),
    "docker-host": ("none", [11.0, 11.4, 11.8]),
    "kvm-tuned": ("tcg", [9.0, 9.6, 10.2]),
}


def cell_descriptor(env: str, job: str, rep: int, **over: Any) -> dict[str, Any]:
    target = f"lab1--{env}"
    return {
        "id": f"{target}--{job}--r{rep}", "host": "lab1", "target": target, "env": env,
        "variant": "", "benchmarks": [job], "repetition": rep, "warmup": False, **over,
    }  # fmt: skip


def sample(cell: dict[str, Any], accel: str, benchmark: str, metric: str, value: float,
           unit: str) -> dict[str, Any]:  # fmt: skip
    return {
        "run_id": RUN_ID, "cell_id": cell["id"], "host": cell["host"], "target": cell["target"],
        "env": cell["env"], "variant": cell["variant"], "accel": accel, "benchmark": benchmark,
        "tool": "hpcc 1.5.0", "metric": metric, "value": value, "unit": unit,
        "higher_is_better": True, "repetition": cell["repetition"], "warmup": cell["warmup"],
        "started": "2025-01-01T00:00:00Z", "ended": "2025-01-01T00:01:00Z",
        "params": {"n": 1000, "ns": [1, 2]},
    }  # fmt: skip


def write_run(run_dir: Path, with_failure: bool = True) -> None:
    plan: list[dict[str, Any]] = []
    for env, (accel, values) in LINPACK.items():
        for rep, value in enumerate(values, start=1):
            cell = cell_descriptor(env, "linpack", rep)
            plan.append(cell)
            samples = [sample(cell, accel, "linpack", "gflops", value, "GFLOPS")]
            samples.append(sample(cell, accel, "stream", "triad", value * 2, "GB/s"))
            store.write_cell(
                run_dir, {"cell": cell, "status": "ok", "reason": "", "samples": samples}
            )
        store.write_provenance(
            run_dir,
            f"lab1--{env}",
            {"target": f"lab1--{env}", "host": "lab1", "env": env, "variant": "",
             "accel": accel, "host_facts": {"kernel": "6.1.0", "cpu_model": "Xeon"},
             "inside": {"cpus": 4, "kernel": "6.1.0", "packages": {"hpcc": "1.5.0"},
                        "binaries": dict(BINARIES)}},
        )  # fmt: skip
    if with_failure:
        bad = cell_descriptor("docker-nat", "linpack", 1)
        plan.append(bad)
        store.write_cell(
            run_dir,
            {"cell": bad, "status": "failed", "reason": "hpcc exited 139 | segfault",
             "samples": []},
        )  # fmt: skip
        plan.append(cell_descriptor("docker-nat", "linpack", 2))  # planned, never recorded
    store.write_json_atomic(
        run_dir / store.RUN_FILE,
        {"run_id": RUN_ID, "spec_name": "quick", "spec_hash": "f00d", "git_revision": "abc123",
         "started": "2025-01-01T00:00:00Z", "hosts": ["lab1"], "seed": 42, "plan": plan},
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    run_dir = tmp_path_factory.mktemp("results") / RUN_ID
    write_run(run_dir)
    return run_dir, report.build_report(run_dir)


def test_paths_written(built: tuple[Path, dict[str, Path]]) -> None:
    run_dir, paths = built
    assert set(paths) == {
        "markdown", "html", "samples", "parquet", "figure:linpack", "figure:stream",
    }  # fmt: skip
    assert paths["markdown"] == run_dir / "report.md"
    assert paths["html"] == run_dir / "report.html"
    assert paths["samples"] == run_dir / "samples.csv"
    assert paths["parquet"] == run_dir / "samples.parquet"
    for path in paths.values():
        assert path.is_file() and path.is_relative_to(run_dir)
    for name in ("linpack", "stream"):
        assert (run_dir / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_header(built: tuple[Path, dict[str, Path]]) -> None:
    md = built[1]["markdown"].read_text()
    for text in (RUN_ID, "quick", "f00d", "abc123", "**seed**: 42", "**ended**: unknown"):
        assert text in md
    assert "9 cells ok, 1 failed, 1 planned but not run" in md


def test_table_numbers(built: tuple[Path, dict[str, Path]]) -> None:
    md = built[1]["markdown"].read_text()
    header = next(line for line in md.splitlines() if "native mean" in line)
    assert header.index("native mean") < header.index("docker-host mean")
    assert header.index("docker-host mean") < header.index("kvm-tuned (emulated, TCG) mean")
    line = next(line for line in md.splitlines() if "| gflops |" in line)
    cells = [c.strip() for c in line.strip("|").split("|")]
    # host, metric, unit, better | native mean, std, n | docker mean, std, vs, study, n | kvm...
    assert cells[:4] == ["lab1", "gflops", "GFLOPS", "higher"]
    assert cells[4:7] == ["12.00", "2.00", "3"]
    # n = 3 per side: neither departure survives the Holm-adjusted test, so none is claimed
    assert cells[7:12] == ["11.40", "0.400", "no significant difference", "0% [repo]", "3"]
    assert cells[12:17] == ["9.600", "0.600", "no significant difference", "-2% [repo]", "3"]


def test_tcg_labelled_emulated(built: tuple[Path, dict[str, Path]]) -> None:
    for name in ("markdown", "html"):
        text = built[1][name].read_text()
        assert "kvm-tuned (emulated, TCG)" in text
        assert "must not be read as KVM overhead" in text
    md = built[1]["markdown"].read_text()
    headers = [line for line in md.splitlines() if line.startswith("| host | metric | unit")]
    assert len(headers) == 2
    for line in headers:
        kvm = [c for c in line.split("|") if "kvm-tuned" in c]
        assert kvm and all("(emulated, TCG)" in c for c in kvm)
    rows = [line for line in md.splitlines() if line.startswith("| lab1 |") and "kvm" in line]
    assert rows and all("kvm-tuned (emulated, TCG)" in line for line in rows)
    html = built[1]["html"].read_text()
    kvm = [h for h in re.findall(r"<th[^>]*>([^<]*)</th>", html) if "kvm-tuned" in h]
    assert kvm and all("(emulated, TCG)" in h for h in kvm)


def test_failed_cells_listed(built: tuple[Path, dict[str, Path]]) -> None:
    md = built[1]["markdown"].read_text()
    failed = md.split("## Failed cells")[1].split("## Provenance")[0]
    assert "lab1--docker-nat--linpack--r1" in failed
    assert "hpcc exited 139 \\| segfault" in failed
    assert "lab1--docker-nat--linpack--r2" in failed and "not run" in failed
    html = built[1]["html"].read_text()
    assert "hpcc exited 139 | segfault" in html


def test_provenance(built: tuple[Path, dict[str, Path]]) -> None:
    md = built[1]["markdown"].read_text()
    assert "benchmark binaries identical across targets: yes (3 targets compared)" in md
    assert "| inside.kernel | 6.1.0 | 6.1.0 | 6.1.0 |" in md
    assert "| inside.packages | hpcc=1.5.0 | hpcc=1.5.0 | hpcc=1.5.0 |" in md
    assert "| inside.binaries | 2 files, set " in md
    header = next(line for line in md.splitlines() if line.startswith("| key |"))
    assert header.index("native") < header.index("docker-host") < header.index("kvm-tuned")


def test_html_self_contained(built: tuple[Path, dict[str, Path]]) -> None:
    html = built[1]["html"].read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<style>" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert '<link rel="stylesheet"' not in html
    assert html.count('src="data:image/png;base64,') == 2


def test_samples_csv(built: tuple[Path, dict[str, Path]]) -> None:
    table = pd.read_csv(built[1]["samples"], keep_default_na=False)
    assert len(table) == 18
    assert list(table.columns) == store.SAMPLE_COLUMNS
    assert json.loads(table["params"].iloc[0]) == {"n": 1000, "ns": [1, 2]}


def test_binaries_differ(tmp_path: Path) -> None:
    other = {**BINARIES, "/usr/bin/xz": "c" * 64}
    line, diff = report.binaries_check(
        {"t1": {"binaries": BINARIES}, "t2": {"inside": {"binaries": other}}, "t3": {}}
    )
    assert line.startswith("benchmark binaries identical across targets: no")
    assert "no checksums from t3" in line
    assert diff is not None and diff.rows == [["/usr/bin/xz", "b" * 12, "c" * 12]]
    line, _ = report.binaries_check({"t1": {"binaries": BINARIES}, "t2": {}})
    assert "identical across targets: unknown" in line


def test_only_failures_still_reports(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    bad = cell_descriptor("native", "linpack", 1)
    store.write_cell(run_dir, {"cell": bad, "status": "failed", "reason": "boom"})
    store.write_json_atomic(run_dir / store.RUN_FILE, {})
    paths = report.build_report(run_dir)
    md = paths["markdown"].read_text()
    assert "0 cells ok, 1 failed" in md and "boom" in md
    assert "**run id**: run" in md
    assert not any(k.startswith("figure:") for k in paths)


def test_departure_na_without_native(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cell = cell_descriptor("docker-host", "linpack", 1)
    store.write_cell(
        run_dir,
        {"cell": cell, "status": "ok",
         "samples": [sample(cell, "none", "linpack", "gflops", 5.0, "GFLOPS")]},
    )  # fmt: skip
    store.write_json_atomic(run_dir / store.RUN_FILE, {"run_id": "x"})
    md = report.build_report(run_dir)["markdown"].read_text()
    line = next(line for line in md.splitlines() if "| gflops |" in line)
    assert "| n/a |" in line


def test_not_a_run_folder(tmp_path: Path) -> None:
    with pytest.raises(store.ResultsError):
        report.build_report(tmp_path)


def test_column_groups_in_env_order_across_hosts() -> None:
    rows = [
        ("a", "native", "", "none"),
        ("a", "kvm-tuned", "", "kvm"),
        ("b", "docker-nat", "volume", "none"),
        ("b", "native", "", "none"),
    ]
    table = pd.DataFrame(
        [
            {"host": h, "benchmark": "x", "metric": "m", "unit": "u", "env": e, "variant": v,
             "accel": a, "higher_is_better": True, "n": 2, "mean": 1.0, "std": 0.1,
             "departure_pct": 0.0, "direction": "equal"}
            for h, e, v, a in rows
        ]
    )  # fmt: skip
    out = report.benchmark_table(table)
    assert [g[0] for g in out.groups] == ["", "native", "docker-nat/volume", "kvm-tuned"]
    assert [r[0] for r in out.rows] == ["a", "b"]
    assert out.rows[0][7:12] == ["-"] * 5  # host a has no docker-nat/volume


@pytest.mark.parametrize(
    ("pct", "direction", "text"),
    [
        (-4.07, "worse", "-4.1% worse"),
        (2.0, "better", "+2.0% better"),
        (-0.04, "worse", "0.0%"),
        (float("nan"), "n/a", "n/a"),
    ],
)
def test_fmt_departure(pct: float, direction: str, text: str) -> None:
    assert report.fmt_departure(pct, direction) == text


def test_fmt_num() -> None:
    assert report.fmt_num(76.2) == "76.20"
    assert report.fmt_num(0.0126) == "0.01260"
    assert report.fmt_num(84044.0) == "84044"
    assert report.fmt_num(float("nan")) == "-"
