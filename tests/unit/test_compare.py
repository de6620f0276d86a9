"""compare: runs side by side, merged samples with run_id and site, bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from isobench import cli, compare, store

RNG = np.random.default_rng(11)


def write_run(
    run_dir: Path,
    run_id: str,
    means: dict[str, float],
    spec_hash: str = "aa" * 32,
    inventory: str | None = "/srv/isobench/inventories/lab-a",
    reps: int = 8,
) -> None:
    for env, mean in means.items():
        for rep in range(1, reps + 1):
            cell = {"id": f"n1--{env}--hpcc--r{rep}", "host": "n1", "target": f"n1--{env}",
                    "env": env, "variant": "", "repetition": rep, "warmup": False}  # fmt: skip
            sample = {
                "run_id": run_id, "cell_id": cell["id"], "host": "n1", "target": cell["target"],
                "env": env, "variant": "", "accel": "kvm" if "kvm" in env else "none",
                "benchmark": "linpack", "tool": "hpcc 1.5.0", "metric": "gflops",
                "value": float(RNG.normal(mean, 0.5)), "unit": "GFLOPS",
                "higher_is_better": True, "repetition": rep, "warmup": False,
                "started": "2025-01-01T00:00:00.1Z", "ended": "2025-01-01T00:01:00.1Z",
                "params": {"n": 1000},
            }  # fmt: skip
            store.write_cell(run_dir, {"cell": cell, "status": "ok", "samples": [sample]})
    meta: dict[str, Any] = {
        "run_id": run_id,
        "spec_name": "quick",
        "spec_sha256": spec_hash,
        "seed": 3,
        "hosts": ["n1"],
        "started": "2025-01-01T00:00:00Z",
    }
    if inventory:
        meta["inventory"] = inventory
    store.write_json_atomic(run_dir / store.RUN_FILE, meta)


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], str]:
    root = tmp_path_factory.mktemp("compare")
    write_run(root / "a", "day1", {"native": 100.0, "kvm-tuned": 90.0})
    write_run(root / "b", "day2", {"native": 120.0, "kvm-tuned": 120.0, "docker-host": 119.9},
              spec_hash="bb" * 32, inventory=None)  # fmt: skip
    paths = compare.build_comparison([root / "a", root / "b"], root / "out")
    return paths, paths["markdown"].read_text()


def test_outputs(merged: tuple[dict[str, Path], str]) -> None:
    paths, _ = merged
    assert set(paths) == {"markdown", "html", "samples", "parquet", "runs"}
    for path in paths.values():
        assert path.is_file() and path.parent.name == "out"


def test_merged_table_has_run_id_and_site(merged: tuple[dict[str, Path], str]) -> None:
    paths, _ = merged
    csv = pd.read_csv(paths["samples"], keep_default_na=False)
    parquet = pq.read_table(paths["parquet"]).to_pandas()
    assert len(csv) == len(parquet) == 8 * 2 + 8 * 3
    assert list(csv.columns) == [*store.SAMPLE_COLUMNS, "site"]
    counts = csv.groupby(["run_id", "site"]).size().to_dict()
    assert counts == {("day1", "lab-a"): 16, ("day2", "n1"): 24}  # inventory name, else hosts


def test_side_by_side_with_departures_within_each_run(merged: tuple[dict[str, Path], str]) -> None:
    _, md = merged
    header = next(line for line in md.splitlines() if line.startswith("| metric | unit |"))
    assert "day1 mean [95% CI]" in header and "day2 vs native" in header
    assert header.index("day1") < header.index("day2")
    kvm = next(line for line in md.splitlines() if "| gflops | GFLOPS | kvm-tuned |" in line)
    cells = [c.strip() for c in kvm.strip("|").split("|")]
    assert cells[3].startswith("90.") and "(n=8)" in cells[3]
    assert cells[4].startswith("-10.") and "worse" in cells[4]  # against day1's native
    assert cells[6] == "no significant difference"  # day2: kvm-tuned equals its native
    docker = next(line for line in md.splitlines() if "| gflops | GFLOPS | docker-host |" in line)
    assert [c.strip() for c in docker.strip("|").split("|")][3:5] == ["-", "-"]  # not in day1


def test_spec_hash_warning(merged: tuple[dict[str, Path], str], tmp_path: Path) -> None:
    _, md = merged
    assert "made from different specs (day1: aaaaaaaaaaaa, day2: bbbbbbbbbbbb)" in md
    write_run(tmp_path / "x", "x", {"native": 1.0})
    write_run(tmp_path / "y", "y", {"native": 1.0})
    same = compare.build_comparison([tmp_path / "x", tmp_path / "y"], tmp_path / "o")
    assert "different specs" not in same["markdown"].read_text()


def test_html_self_contained(merged: tuple[dict[str, Path], str]) -> None:
    html = merged[0]["html"].read_text()
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "different specs" in html and "day2" in html


def test_duplicate_run_ids_are_made_unique(tmp_path: Path) -> None:
    write_run(tmp_path / "a", "same", {"native": 1.0})
    write_run(tmp_path / "b", "same", {"native": 2.0})
    infos, frame = compare.load_runs([tmp_path / "a", tmp_path / "b"])
    assert [i.label for i in infos] == ["same", "same#2"]
    assert set(frame["run_id"].astype(str)) == {"same", "same#2"}


@pytest.mark.parametrize(
    ("run", "site"),
    [
        ({"inventory": "/x/inventories/lab"}, "lab"),
        ({"inventory": "/x/inventories/lab/"}, "lab"),
        ({"inventory": "/x/site-b/hosts.yml"}, "site-b"),
        ({"inventory": "/x/paris.yml"}, "paris"),
        ({"hosts": ["a", "b"]}, "a+b"),
        ({}, "unknown"),
    ],
)
def test_site_of(run: dict[str, Any], site: str) -> None:
    assert compare.site_of(run) == site


def test_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "a", "a", {"native": 1.0})
    (tmp_path / "empty").mkdir()
    with pytest.raises(store.ResultsError, match="not an isobench run folder"):
        compare.build_comparison([tmp_path / "a", tmp_path / "empty"], tmp_path / "o")
    with pytest.raises(store.ResultsError, match="at least two"):
        compare.load_runs([tmp_path / "a"])
    with pytest.raises(store.ResultsError, match="more than once"):
        compare.load_runs([tmp_path / "a", tmp_path / "a"])
    with pytest.raises(store.ResultsError, match="is a run folder"):
        compare.build_comparison([tmp_path / "a", tmp_path / "a"], tmp_path / "a")
    assert not (tmp_path / "o").exists()
    code = cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "missing")])
    assert code == 2
    assert "missing is not an isobench run folder" in capsys.readouterr().err


def test_cli_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "a", "a", {"native": 1.0, "kvm-tuned": 0.5})
    write_run(tmp_path / "b", "b", {"native": 1.0, "kvm-tuned": 0.5})
    out = tmp_path / "cmp"
    assert cli.main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"markdown: {out / 'report.md'}" in printed
    assert (out / "samples.parquet").is_file()


def test_default_out_folder() -> None:
    out = compare.default_out()
    assert out.parent == Path("results") and out.name.startswith("compare-20")
