from __future__ import annotations

from typing import Any


class ParseError(ValueError):
    """Tool output that is not what the tool prints on success."""


def measurement(
    benchmark: str,
    metric: str,
    value: float,
    unit: str,
    higher_is_better: bool = True,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One measured value; ``params`` are parameters of this value alone (a sweep point such
    as ``{"connections": 10}``), merged over the cell's params in its sample."""
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
        raise ParseError(f"{benchmark}/{metric}: value {value!r} is not a finite number")
    out: dict[str, Any] = {
        "benchmark": benchmark,
        "metric": metric,
        "value": float(value),
        "unit": unit,
        "higher_is_better": higher_is_better,
    }
    if params:
        out["params"] = dict(params)
    return out


def parse_delta(delta: str) -> float:
    """Seconds in Ansible's command ``delta`` (``H:MM:SS.ffffff``)."""
    try:
        hours, minutes, seconds = delta.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (AttributeError, ValueError) as exc:
        raise ParseError(f"not a duration: {delta!r}") from exc
