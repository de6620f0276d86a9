"""Resuming a run: which cells count as done, and what a resumed run would execute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from isobench import cli, runner, spec, store
from isobench.plan import make_plan

SAMPLE = {
    "run_id": "r1",
    "host": "localhost",
    "env": "native",
    "variant": "",
    "accel": "none",
    "benchmark": "compress",
    "tool": "pixz 1.0.7-2",
    "metric": "throughput",
    "value": 6.5,
    "unit": "MB/s",
    "higher_is_better": True,
    "warmup": False,
    "params": {},
    "started": "2026-12-04T20:00:13Z",
    "ended": "2026-12-04T20:00:17Z",
}


def _run_folder(tmp_path: Path) -> tuple[Path, list[dict]]:
    loaded = spec.load("quick")
    data = {**loaded.data, "environments": ["native"], "repetitions": 2}
    data.pop("benchmark_repetitions", None)
    data.pop("exclude", None)
    data["benchmarks"] = {"compress": data["benchmarks"]["compress"]}
    plan = make_plan(spec.Spec(data=data, path=None, text=loaded.text), ["localhost"])
    run_dir = tmp_path / "r1"
    (run_dir / "cells").mkdir(parents=True)
    (run_dir / "spec.yml").write_text(loaded.text)
    store.write_json_atomic(
        run_dir / "run.json",
        {
            "run_id": "r1",
            "spec_sha256": loaded.sha256,
            "inventory": "inventories/local",
            "hosts": ["localhost"],
            "environments": [],
            "plan": plan,
            "attempts": [{"wall_seconds": 10.0}],
        },
    )
    return run_dir, plan


def _cell(cell: dict, status: str, samples: list[dict]) -> dict:
    return {"cell": cell, "status": status, "reason": "", "samples": samples}


def _sample(cell: dict) -> dict:
    return {**SAMPLE, "cell_id": cell["id"], "target": cell["target"], "repetition": 1}


def test_only_ok_cells_with_valid_samples_count(tmp_path: Path) -> None:
    run_dir, plan = _run_folder(tmp_path)
    ok, failed = plan
    store.write_cell(run_dir, _cell(ok, "ok", [_sample(ok)]))
    store.write_cell(run_dir, _cell(failed, "failed", []))
    assert runner.valid_cell_ids(run_dir) == {ok["id"]}
    # a sample that no longer validates, or a truncated file, is not a valid result
    store.write_cell(run_dir, _cell(ok, "ok", [{**_sample(ok), "value": "fast"}]))
    assert runner.valid_cell_ids(run_dir) == set()
    (run_dir / "cells" / f"{ok['id']}.json").write_text('{"cell": ')
    assert runner.valid_cell_ids(run_dir) == set()


def test_resume_with_nothing_left_runs_nothing(tmp_path: Path) -> None:
    run_dir, plan = _run_folder(tmp_path)
    for cell in plan:
        store.write_cell(run_dir, _cell(cell, "ok", [_sample(cell)]))
    outcome = runner.run_experiment(None, None, tmp_path, resume=run_dir)
    assert outcome.cells_ok == 2 and outcome.cells_failed == 0 and outcome.exit_code == 0
    meta = json.loads((run_dir / "run.json").read_text())
    assert len(meta["attempts"]) == 2 and meta["attempts"][-1]["cells_planned"] == 0
    assert "nothing to run" in (run_dir / "events.log").read_text()


def test_failed_records_set_aside_before_a_rerun(tmp_path: Path) -> None:
    run_dir, plan = _run_folder(tmp_path)
    store.write_cell(run_dir, _cell(plan[0], "failed", []))
    runner._set_aside(run_dir, [plan[0]["id"], plan[1]["id"]], 2)
    assert not (run_dir / "cells" / f"{plan[0]['id']}.json").exists()
    assert (run_dir / "attempts" / "2" / f"{plan[0]['id']}.json").exists()


def test_resume_refuses_a_changed_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_dir, _ = _run_folder(tmp_path)
    (run_dir / "spec.yml").write_text(spec.resolve("paper").read_text())
    code = cli.main(["run", "--resume", "r1", "--results", str(tmp_path)])
    assert code == 2 and "does not match the hash" in capsys.readouterr().err


def test_resume_of_an_unknown_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--resume", "nope", "--results", str(tmp_path)]) == 2
    assert "cannot resume 'nope'" in capsys.readouterr().err
