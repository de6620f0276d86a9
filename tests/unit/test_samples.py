from __future__ import annotations

import json
from pathlib import Path

from isobench.parsers import parse
from isobench.samples import build_samples, sample_errors

CELL = {
    "id": "h--native--compress--r1",
    "host": "h",
    "target": "h--native",
    "env": "native",
    "variant": "",
    "repetition": 1,
    "warmup": False,
}
RUN = {
    "tool": "pixz 1.0.7-2",
    "params": {"threads": 2},
    "started": "2026-12-04T20:00:13Z",
    "ended": "2026-12-04T20:00:17Z",
}


def test_samples_from_real_output_validate(fixtures: Path) -> None:
    result = json.loads((fixtures / "compress" / "pixz-command-result.json").read_text())
    parsed = parse("compress", result, 8_000_000)
    samples = build_samples(CELL, {"accel": "none"}, parsed, RUN, "run-1")
    assert len(samples) == 2
    for s in samples:
        assert sample_errors(s) == []
        assert s["params"]["threads"] == 2 and s["params"]["input_bytes"] == 8_000_000


def test_schema_rejects_bad_samples(fixtures: Path) -> None:
    result = json.loads((fixtures / "compress" / "pixz-command-result.json").read_text())
    good = build_samples(CELL, {"accel": "none"}, parse("compress", result, 8), RUN, "run-1")[0]
    assert any("value" in e for e in sample_errors({**good, "value": "fast"}))
    assert any("env" in e for e in sample_errors({**good, "env": "lxc"}))
    assert any("accel" in e for e in sample_errors({**good, "accel": "kvm?"}))
    assert sample_errors({k: v for k, v in good.items() if k != "unit"})
    assert sample_errors({**good, "extra": 1})
    assert sample_errors({**good, "repetition": 0})


def test_point_params_override_cell_params_per_sample() -> None:
    from isobench.parsers.common import measurement

    parsed = {
        "measurements": [
            measurement("redis", "get_rps", 1000.0, "ops/s", params={"connections": 1}),
            measurement("redis", "get_rps", 5000.0, "ops/s", params={"connections": 10}),
        ],
        "observed": {"keys": 100000},
    }
    samples = build_samples(CELL, {"accel": "none"}, parsed, RUN, "run-1")
    assert [s["params"]["connections"] for s in samples] == [1, 10]
    assert all(s["params"]["threads"] == 2 and s["params"]["keys"] == 100000 for s in samples)
    assert all(sample_errors(s) == [] for s in samples)
