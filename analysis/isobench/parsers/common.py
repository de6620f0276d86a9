from __future__ import annotations

from typing import Any


class ParseError(ValueError):
    """Tool output that is not what the tool prints on success."""


def measurement(
    benchmark: str, metric: str, value: float, unit: str, higher_is_better: bool = True
) -> dict[str, Any]:
    if value != value or value in (float("inf"), float("-inf")):  # NaN or infinite
        raise ParseError(f"{benchmark}/{metric}: value {value!r} is not a finite number")
    return {
        "benchmark": benchmark,
        "metric": metric,
        "value": float(value),
        "unit": unit,
        "higher_is_better": higher_is_better,
    }


def parse_delta(delta: str) -> float:
    """Seconds in Ansible's command ``delta`` (``H:MM:SS.ffffff``)."""
    try:
        hours, minutes, seconds = delta.strip().split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (AttributeError, ValueError) as exc:
        raise ParseError(f"not a duration: {delta!r}") from exc
