"""report: the statistics sections, the study flags, the advisor, exports, the loader."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from isobench import figures, report, store, tidy

RUN_ID = "20250301-000000-stats"
REPS = 12
RNG = np.random.default_rng(7)
LINPACK = {  # env -> mean (native 100): docker equal, untuned -20%, tuned +10%
    "native": 100.0,
    "docker-host": 100.0,
    "kvm-untuned": 80.0,
    "kvm-tuned": 110.0,
}
CONNECTIONS = (1, 10, 50)


def _sample(cell: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "run_id": RUN_ID, "cell_id": cell["id"], "host": "lab1", "target": cell["target"],
        "env": cell["env"], "variant": "", "accel": "kvm" if "kvm" in cell["env"] else "none",
        "tool": "tool 1.0", "higher_is_better": True, "repetition": cell["repetition"],
        "warmup": cell["warmup"], "started": "2025-03-01T00:00:00.000001Z",
        "ended": "2025-03-01T00:01:00.000001Z", **fields,
    }  # fmt: skip


def write_run(run_dir: Path) -> None:
    """12 measured runs after 1 warm-up per environment; a noisy docker compress; a sweep."""
    plan, seq = [], 0
    for rep in range(0, REPS + 1):  # rep 0 = the warm-up round
        for env, mean in LINPACK.items():
            seq += 1
            warm = rep == 0
            rep_no = 1 if warm else rep
            cell = {
                "id": f"lab1--{env}--all--{'w' if warm else 'r'}{rep_no}", "seq": seq,
                "host": "lab1", "target": f"lab1--{env}", "env": env, "variant": "",
                "job": "all", "benchmarks": ["linpack", "compress", "redis"],
                "repetition": rep_no, "warmup": warm,
            }  # fmt: skip
            plan.append(cell)
            noisy = 10.0 if env == "docker-host" else 0.5
            samples = [
                _sample(cell, benchmark="linpack", metric="gflops", unit="GFLOPS",
                        value=1000.0 if warm else float(RNG.normal(mean, 1.0)),
                        params={"n": 1000}),
                _sample(cell, benchmark="compress", metric="throughput", unit="MB/s",
                        value=float(RNG.normal(76.0, noisy)), params={"threads": 4}),
            ]  # fmt: skip
            if env in ("native", "docker-host"):
                factor = 1.0 if env == "native" else 0.75
                samples += [
                    _sample(cell, benchmark="redis", metric="get", unit="ops/s",
                            value=float(RNG.normal(1000.0 * c * factor, 5.0)),
                            params={"connections": c, "requests": 100})
                    for c in CONNECTIONS
                ]  # fmt: skip
            store.write_cell(run_dir, {"cell": cell, "status": "ok", "samples": samples})
    (run_dir / "spec.yml").write_text("isobench: 1\nname: stats\nwarmup: 1\nseed: 42\n")
    store.write_json_atomic(
        run_dir / store.RUN_FILE,
        {"run_id": RUN_ID, "spec_name": "stats", "spec_sha256": "ab" * 32, "seed": 42,
         "order": "randomized", "hosts": ["lab1"], "plan": plan},
    )  # fmt: skip


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], str]:
    run_dir = tmp_path_factory.mktemp("results") / RUN_ID
    write_run(run_dir)
    paths = report.build_report(run_dir)
    return run_dir, paths, paths["markdown"].read_text()


def _section(md: str, title: str) -> str:
    return md.split(f"## {title}\n")[1].split("\n## ")[0]


def _line(text: str, *parts: str) -> str:
    return next(line for line in text.splitlines() if all(p in line for p in parts))


def test_header_seed_order_and_warmup_rule(built: tuple[Path, dict[str, Path], str]) -> None:
    md = built[2]
    assert "- **seed**: 42" in md
    assert "- **order**: randomized, seed 42, rounds interleaved" in md
    assert "- **warm-ups**: the first run of every cell is a warm-up (spec warmup: 1)" in md
    assert "kept on disk, excluded (14 samples)" in md
    method = _section(md, "Method")
    assert "the first run of every cell (host, environment, job) is a warm-up" in method
    assert "randomized with seed 42" in method
    assert "Holm-adjusted together" in method


def test_warmups_excluded_from_numbers(built: tuple[Path, dict[str, Path], str]) -> None:
    md = built[2]
    line = _line(md, "| lab1 | gflops | GFLOPS | higher |")
    native_mean = float(line.split("|")[5])
    assert native_mean == pytest.approx(100.0, abs=1.5)  # the 1000.0 warm-ups are out
    assert _line(md, "| lab1 | gflops | native | 12 |")


def test_significance_wording(built: tuple[Path, dict[str, Path], str]) -> None:
    md = built[2]
    stats_rows = md.split("### linpack")[1].split("###")[0]
    docker = _line(stats_rows, "| lab1 | gflops | docker-host |")
    assert "no significant difference" in docker
    assert "% better" not in docker and "% worse" not in docker
    kvm = _line(stats_rows, "| lab1 | gflops | kvm-untuned |")
    assert "-20." in kvm and "% worse [" in kvm
    assert "Welch t" in kvm or "Mann-Whitney U" in kvm
    table_one = _line(md, "| lab1 | gflops | GFLOPS | higher |")
    assert "no significant difference" in table_one and "% worse" in table_one


def test_summary_kind_and_median_ci(built: tuple[Path, dict[str, Path], str]) -> None:
    rows = built[2].split("### linpack")[1].split("###")[0]
    for env in LINPACK:
        cell = _line(rows, f"| lab1 | gflops | {env} |").split("|")[5].strip()
        assert cell.startswith(("mean ", "median ")), cell
        assert "±" in cell if cell.startswith("mean") else "[" in cell


def test_study_comparison_flags(built: tuple[Path, dict[str, Path], str]) -> None:
    study = _section(built[2], "Comparison with the study")
    tuned = _line(study, "| lab1 | linpack | gflops | kvm-tuned |")
    assert "FLAG: direction differs" in tuned and "-2% [repo]" in tuned
    untuned = _line(study, "| lab1 | linpack | gflops | kvm-untuned |")
    assert "FLAG: study outside our 95% CI" in untuned and "-17% [paper]" in untuned
    docker = _line(study, "| lab1 | linpack | gflops | docker-host |")
    assert docker.rstrip().endswith("| agrees |")
    html = built[1]["html"].read_text()
    assert html.count('<tr class="flag">') >= 2


def test_repetition_advisor(built: tuple[Path, dict[str, Path], str]) -> None:
    advisor = _section(built[2], "Repetition advisor")
    assert "within ±1.00% of the mean" in advisor
    noisy = _line(advisor, "| lab1 | compress | throughput |", "| docker-host |")
    cells = [c.strip() for c in noisy.strip("|").split("|")]
    needed, more = int(cells[-2]), int(cells[-1])
    assert needed > 100 and more == needed - 12  # CV ~13% needs hundreds of runs


def test_noisy_warning(built: tuple[Path, dict[str, Path], str]) -> None:
    md = built[2]
    warning = _line(md, "Noisy:")
    assert "compress/throughput docker-host" in warning
    assert "gflops" not in warning


def test_sweep_table_and_figure(built: tuple[Path, dict[str, Path], str]) -> None:
    run_dir, paths, md = built
    redis = md.split("### redis")[1].split("###")[0]
    assert "| host | metric | unit | point | better |" in redis
    assert _line(redis, "| lab1 | get | ops/s | connections=10 | higher |")
    docker = _line(redis, "| lab1 | get | connections=50 | docker-host |")
    assert "-25." in docker and "% worse" in docker
    assert paths["figure:redis"] == run_dir / "figures" / "redis.png"


def test_run_order_section(built: tuple[Path, dict[str, Path], str]) -> None:
    order = _section(built[2], "Run order")
    assert "Seed 42, order randomized." in order
    first = _line(order, "| 1 | lab1 |")
    assert "lab1--native--all--w1" in first and "w1 (warm-up)" in first and "| ok |" in first
    assert order.count("| lab1 |") == (REPS + 1) * len(LINPACK)


def test_exports_csv_and_parquet(built: tuple[Path, dict[str, Path], str]) -> None:
    _, paths, md = built
    csv = pd.read_csv(paths["samples"], keep_default_na=False)
    parquet = pq.read_table(paths["parquet"]).to_pandas()
    expected = (REPS + 1) * (2 * len(LINPACK) + 2 * len(CONNECTIONS))
    assert len(csv) == len(parquet) == expected
    assert list(csv.columns) == list(parquet.columns) == store.SAMPLE_COLUMNS
    warmups = len(LINPACK) * 2 + 2 * len(CONNECTIONS)  # one round
    assert int(csv["warmup"].astype(str).str.lower().eq("true").sum()) == warmups
    assert np.allclose(csv["value"].to_numpy(), parquet["value"].to_numpy())
    redis = parquet[parquet["benchmark"] == "redis"]
    assert {json.loads(p)["connections"] for p in redis["params"]} == set(CONNECTIONS)
    assert "samples.parquet" in md


def test_html_self_contained_with_all_sections(built: tuple[Path, dict[str, Path], str]) -> None:
    html = built[1]["html"].read_text()
    for title in ("Method", "Comparison with the study", "Repetition advisor", "Run order"):
        assert f"<h2>{title}</h2>" in html
    assert html.count('src="data:image/png;base64,') == 3
    assert "http://" not in html and "https://" not in html


def test_report_main_halfwidth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir = tmp_path / RUN_ID
    write_run(run_dir)
    assert report.main([str(run_dir), "--halfwidth", "5"]) == 0
    md = (run_dir / "report.md").read_text()
    assert "within ±5.00% of the mean" in md
    assert report.main([str(tmp_path / "nothing")]) == 1
    assert "not an isobench run folder" in capsys.readouterr().err


# --- figures -----------------------------------------------------------------------------


def test_plot_sweep_synthetic(tmp_path: Path) -> None:
    rows = []
    for env, factor in (("native", 1.0), ("docker-nat", 0.8)):
        for threads in (10, 50, 90, 130):
            for rep in range(4):
                for metric in ("tps", "latency"):
                    rows.append(
                        {"run_id": "r", "cell_id": "c", "host": "h", "target": "t", "env": env,
                         "variant": "", "accel": "none", "benchmark": "mysql", "tool": "sysbench",
                         "metric": metric, "value": threads * factor + rep, "unit": "x",
                         "higher_is_better": metric == "tps", "repetition": rep + 1,
                         "warmup": False, "started": "", "ended": "",
                         "params": {"threads": threads}}
                    )  # fmt: skip
    data = store.samples_frame([{"status": "ok", "samples": rows}])
    path = figures.plot_sweep(data, "mysql", "threads", tmp_path / "mysql.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert figures.write_figures(data, tmp_path / "all") == {"mysql": tmp_path / "all/mysql.png"}
    with pytest.raises(ValueError):
        figures.plot_sweep(data, "mysql", "connections", tmp_path / "none.png")


# --- the loader --------------------------------------------------------------------------


def _tricky_cells(run_dir: Path) -> None:
    """Cells that test both parsers: a missing warmup key, nested/list/null params, ints
    and floats mixed, a timestamp without fraction (pyarrow would make it a datetime), a
    failed cell, an ok cell without samples."""

    def cell(i: int, status: str = "ok") -> dict[str, Any]:
        return {"id": f"h--native--j--r{i}", "host": "h", "target": "h--native",
                "env": "native", "variant": "", "repetition": i, "warmup": False}  # fmt: skip

    def samples(i: int, n: int, **over: Any) -> list[dict[str, Any]]:
        out = []
        for k in range(n):
            s = _sample({**cell(i), "env": "native"}, benchmark="b", metric=f"m{k % 3}",
                        unit="u", value=k if k % 2 else k + 0.5,
                        params={"n": k % 4, "nested": {"a": [1, 2], "b": None},
                                "x": 2.0 if k % 5 else 3})  # fmt: skip
            out.append({**s, **over})
        return out

    big = samples(1, 4000)
    for s in big[::7]:
        del s["warmup"]
    store.write_cell(run_dir, {"cell": cell(1), "status": "ok", "samples": big})
    store.write_cell(
        run_dir,
        {
            "cell": cell(2),
            "status": "ok",
            "samples": samples(2, 3000, started="2025-03-01T00:00:00Z"),
        },
    )
    store.write_cell(run_dir, {"cell": cell(3), "status": "failed", "reason": "boom",
                               "samples": []})  # fmt: skip
    store.write_cell(run_dir, {"cell": cell(4), "status": "ok", "samples": []})
    store.write_cell(run_dir, {"cell": cell(5), "status": "ok", "samples": samples(5, 10)})


@pytest.mark.parametrize("arrow_bytes", [0, 1 << 40])  # every file by pyarrow / by json
def test_loader_paths_agree_with_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arrow_bytes: int
) -> None:
    _tricky_cells(tmp_path)
    monkeypatch.setattr(tidy, "ARROW_MIN_BYTES", arrow_bytes)
    loaded = report.load_tidy(tmp_path)
    expected = store.samples_frame(store.load_cells(tmp_path))
    got = loaded.frame
    assert list(got.columns) == store.SAMPLE_COLUMNS and len(got) == len(expected) == 7010
    for column in store.SAMPLE_COLUMNS:
        left = got[column].astype(object).tolist()
        right = expected[column].astype(object).tolist()
        if column == "params":
            right = [report.params_json(p) for p in right]
        if column == "warmup":
            right = [bool(v) for v in right]
        assert left == right, column
    assert got["params"].iloc[0] == '{"n": 0, "nested": {"a": [1, 2]}, "x": 3}'
    statuses = [(c["cell"]["id"][-2:], c["status"], c.get("n_samples")) for c in loaded.cells]
    assert statuses == [("r1", "ok", 4000), ("r2", "ok", 3000), ("r3", "failed", 0),
                        ("r4", "ok", 0), ("r5", "ok", 10)]  # fmt: skip
    assert loaded.cells[2]["reason"] == "boom"


def test_loader_in_worker_processes(tmp_path: Path) -> None:
    _tricky_cells(tmp_path)
    serial = report.load_tidy(tmp_path, workers=1).frame
    parallel = report.load_tidy(tmp_path, workers=2)
    pd.testing.assert_frame_equal(
        parallel.frame.astype(object), serial.astype(object), check_dtype=False
    )


def test_canonical_params() -> None:
    assert report.params_json({"b": 2.0, "a": None, "c": [1.0, None]}) == '{"b": 2, "c": [1, null]}'
    assert report.params_json({"x": 1.5, "y": 2**60 * 1.0}) == (
        '{"x": 1.5, "y": 1.152921504606847e+18}'
    )
    assert report.params_json("not a dict") == ""
    assert math.isnan(float("nan"))  # NaN never appears in JSON written by the runner
