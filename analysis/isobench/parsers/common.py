from __future__ import annotations

from collections.abc import Iterator
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


def sweep_points(
    points: Any, key: str, benchmark: str
) -> Iterator[tuple[int, str, dict[str, Any]]]:
    """(value, where, point) of every point of a sweep over ``key`` (connections, threads):
    at least one point, each with an integer value, none run twice."""
    if not isinstance(points, list) or not points:
        raise ParseError(f"{benchmark}: no sweep point was run")
    seen: set[int] = set()
    for point in points:
        try:
            value = int(point[key])
        except (KeyError, TypeError, ValueError):
            raise ParseError(f"{benchmark}: sweep point without {key}: {point!r}") from None
        where = f"{benchmark}: {key}={value}"
        if value in seen:
            raise ParseError(f"{where}: point run twice")
        seen.add(value)
        yield value, where, point
