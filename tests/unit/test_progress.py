from __future__ import annotations

import io
import json
from pathlib import Path

from isobench import store
from isobench.progress import EventRecorder, clean_reason

CELL = {
    "id": "h--native--compress--r1",
    "host": "h",
    "target": "h--native",
    "env": "native",
    "variant": "",
    "benchmarks": ["compress"],
    "repetition": 1,
    "warmup": False,
}
SAMPLE = {
    "run_id": "run-1",
    "cell_id": CELL["id"],
    "host": "h",
    "target": "h--native",
    "env": "native",
    "variant": "",
    "accel": "none",
    "benchmark": "compress",
    "tool": "pixz 1.0.7-2",
    "metric": "throughput",
    "value": 9.4,
    "unit": "MB/s",
    "higher_is_better": True,
    "repetition": 1,
    "params": {},
    "started": "2026-12-04T20:00:00Z",
    "ended": "2026-12-04T20:00:01Z",
}


def _recorder(tmp_path: Path) -> EventRecorder:
    other = {**CELL, "id": "h--native--hpcc--r1", "benchmarks": ["linpack"]}
    return EventRecorder(tmp_path, [CELL, other], out=io.StringIO())


def _ok_event(facts: dict) -> dict:
    return {"event": "runner_on_ok", "event_data": {"host": "h", "res": {"ansible_facts": facts}}}


def test_cell_written_when_its_event_arrives(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec(_ok_event({"isobench_cell_result": {"cell": CELL, "status": "ok", "samples": [SAMPLE]}}))
    written = json.loads((tmp_path / "cells" / f"{CELL['id']}.json").read_text())
    assert written["status"] == "ok" and written["samples"][0]["value"] == 9.4
    assert [c["id"] for c in rec.missing_cells()] == ["h--native--hpcc--r1"]


def test_invalid_samples_fail_the_cell_but_are_kept(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    bad = {**SAMPLE, "value": "garbage"}
    rec(_ok_event({"isobench_cell_result": {"cell": CELL, "status": "ok", "samples": [bad]}}))
    (record,) = store.load_cells(tmp_path)
    assert record["status"] == "failed" and "invalid samples" in record["reason"]
    assert record["rejected_samples"] == [bad]
    assert store.load_samples(tmp_path).empty


def test_ok_cell_without_samples_is_failed(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec(_ok_event({"isobench_cell_result": {"cell": CELL, "status": "ok", "samples": []}}))
    assert store.load_cells(tmp_path)[0]["status"] == "failed"


def test_unreachable_host_named_in_cells_not_run(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec(
        {
            "event": "runner_on_unreachable",
            "event_data": {"host": "h", "res": {"msg": "ssh: connect to host: refused"}},
        }
    )
    reasons = [rec.reason_not_run(c, interrupted=False) for c in rec.missing_cells()]
    assert all("unreachable" in r and "refused" in r for r in reasons)
    assert "interrupted" in rec.reason_not_run({**CELL, "host": "g"}, interrupted=True)


def test_raw_output_saved_beside_the_cell(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec(
        _ok_event(
            {
                "isobench_cell_result": {
                    "cell": CELL,
                    "status": "ok",
                    "samples": [SAMPLE],
                    "raw_output": "tool said hello",
                }
            }
        )
    )
    record = store.load_cells(tmp_path)[0]
    assert (tmp_path / record["raw_output_file"]).read_text() == "tool said hello"


def test_provenance_written(tmp_path: Path) -> None:
    rec = _recorder(tmp_path)
    rec(
        _ok_event(
            {"isobench_provenance": {"target": "h--native", "accel": "none", "inside": {"cpus": 2}}}
        )
    )
    assert store.load_provenance(tmp_path)["h--native"]["inside"]["cpus"] == 2


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    store.write_json_atomic(tmp_path / "x.json", {"a": 1})
    store.write_json_atomic(tmp_path / "x.json", {"a": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": 2}


def test_reason_keeps_the_tools_words() -> None:
    raw = (
        "Parse the measurement: Task failed: Finalization of task args for "
        "'ansible.builtin.set_fact' failed: Error while resolving value for 'x': The filter "
        "plugin 'isobench_parse' failed: compress: pixz exited 124:"
    )
    assert clean_reason(raw) == "Parse the measurement: compress: pixz exited 124:"
