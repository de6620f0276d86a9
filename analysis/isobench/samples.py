"""Samples: a benchmark role's measurements joined with the cell they belong to."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema

from .paths import schemas_dir


@cache
def _validator() -> jsonschema.Draft202012Validator:
    with (schemas_dir() / "sample.schema.json").open(encoding="utf-8") as fh:
        return jsonschema.Draft202012Validator(json.load(fh))


def sample_errors(sample: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '(sample)'}: {e.message}"
        for e in _validator().iter_errors(sample)
    ]


def build_samples(
    cell: dict[str, Any],
    target: dict[str, Any],
    parsed: dict[str, Any],
    run: dict[str, Any],
    run_id: str,
) -> list[dict[str, Any]]:
    """One sample per measurement; params = what the role ran with + what the tool saw."""
    params = {**run.get("params", {}), **parsed.get("observed", {})}
    return [
        {
            "run_id": run_id,
            "cell_id": cell["id"],
            "host": cell["host"],
            "target": cell["target"],
            "env": cell["env"],
            "variant": cell["variant"],
            "accel": target.get("accel", "none"),
            "benchmark": m["benchmark"],
            "tool": run.get("tool", "unknown"),
            "metric": m["metric"],
            "value": m["value"],
            "unit": m["unit"],
            "higher_is_better": m["higher_is_better"],
            "repetition": cell["repetition"],
            "warmup": bool(cell.get("warmup", False)),
            "params": {**params, **m["params"]} if m.get("params") else params,
            "started": run["started"],
            "ended": run["ended"],
        }
        for m in parsed["measurements"]
    ]
