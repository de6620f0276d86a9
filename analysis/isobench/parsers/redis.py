"""Redis: ``redis-benchmark --csv`` (redis-tools 7.0), one invocation per sweep point.

redis-benchmark 7 prints one header line and one row per test, every field quoted::

    "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    "SET","80321.29","0.074","0.024","0.071","0.103","0.199","0.367"

Test names are upper case, some with a note (``MSET (10 keys)``); metrics are named after
the lower-cased name without the note: ``set.rps``, ``get.p99_ms``, ``mset.rps``.

A role runs the tool once per point of its connection sweep; the parser takes the list of
``{"connections": n, "result": {"rc", "stdout", "stderr"}}`` and returns every point's
measurements with ``params={"connections": n}``. One failed point fails the whole list:
a sweep with a hole is not a measurement.
"""

from __future__ import annotations

import csv
import re
from typing import Any

from .common import ParseError, measurement, sweep_points

BENCHMARK = "redis"

HEADER = [
    "test",
    "rps",
    "avg_latency_ms",
    "min_latency_ms",
    "p50_latency_ms",
    "p95_latency_ms",
    "p99_latency_ms",
    "max_latency_ms",
]

# CSV column -> (metric suffix, unit, higher_is_better). min and max (single extreme
# requests) stay in the raw output only.
METRICS: dict[str, tuple[str, str, bool]] = {
    "rps": ("rps", "requests/s", True),
    "avg_latency_ms": ("avg_ms", "ms", False),
    "p50_latency_ms": ("p50_ms", "ms", False),
    "p95_latency_ms": ("p95_ms", "ms", False),
    "p99_latency_ms": ("p99_ms", "ms", False),
}

# What redis-benchmark (or the server through it) prints when it did not measure.
_ERRORS = re.compile(
    r"NOAUTH|WRONGPASS|Could not connect|Connection refused|replied with error|"
    r"Error from server|^ERR |^Error:|Invalid option|Unrecognized option",
    re.MULTILINE,
)
# Signals that end a tool: timeout's 124 (TERM), 128+9 from a shell, -9 from Python's
# subprocess when timeout itself is taken down by its own KILL.
KILLED_RC = (124, 137, -9, -15)


def metric_name(raw: str) -> str:
    """``MSET (10 keys)`` -> ``mset``; ``LRANGE_100 (first 100 elements)`` -> ``lrange_100``."""
    name = raw.split("(", 1)[0].strip().lower()
    name = re.sub(r"[^a-z0-9_]+", "_", name).strip("_")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ParseError(f"test name {raw!r} gives no metric name")
    return name


def _tail(text: str, limit: int = 300) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines())[-limit:]


_ERROR_LINE = re.compile(r"FATAL|ERROR|[Ee]rror|NOAUTH|WRONGPASS|refused|denied")


def _errors(text: str, limit: int = 400) -> str:
    """The distinct error lines of a tool's output (in order), else its tail."""
    lines = [line.strip() for line in text.splitlines() if _ERROR_LINE.search(line)]
    if not lines:
        return _tail(text, limit)
    joined = " | ".join(dict.fromkeys(lines))
    return joined if len(joined) <= limit else joined[: limit - 3] + "..."


def check_result(tool: str, where: str, result: dict[str, Any]) -> tuple[str, str]:
    """stdout and stderr of a command result that ran to completion; ParseError otherwise."""
    if not isinstance(result, dict):
        raise ParseError(f"{where}: no command result (got {type(result).__name__})")
    rc = result.get("rc")
    stdout = str(result.get("stdout") or "")
    stderr = str(result.get("stderr") or "")
    if rc in KILLED_RC:
        raise ParseError(f"{where}: {tool} killed by the time limit (rc={rc})")
    if rc != 0:
        detail = _errors(stderr + "\n" + stdout) or "no output"
        raise ParseError(f"{where}: {tool} exited {rc}: {detail}")
    return stdout, stderr


def parse_csv(text: str, where: str = BENCHMARK) -> dict[str, dict[str, float]]:
    """``{test name: {column: value}}`` from redis-benchmark's CSV output."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise ParseError(f"{where}: empty output (no CSV header)")
    header_at = next(
        (i for i, line in enumerate(lines) if line.startswith('"test"')),
        None,
    )
    if header_at is None:
        raise ParseError(f"{where}: no CSV header line; output starts {_tail(lines[0], 120)!r}")
    rows = list(csv.reader(lines[header_at:]))
    if rows[0] != HEADER:
        raise ParseError(f"{where}: unexpected CSV header {rows[0]!r}")
    tests: dict[str, dict[str, float]] = {}
    for row in rows[1:]:
        if len(row) != len(HEADER):
            raise ParseError(f"{where}: malformed CSV row {row!r}")
        name = metric_name(row[0])
        if name in tests:
            raise ParseError(f"{where}: test {row[0]!r} reported twice")
        values: dict[str, float] = {}
        for column, text_value in zip(HEADER[1:], row[1:], strict=True):
            try:
                values[column] = float(text_value)
            except ValueError:
                raise ParseError(
                    f"{where}: {row[0]} {column}={text_value!r} is not a number"
                ) from None
        if values["rps"] <= 0:
            raise ParseError(f"{where}: {row[0]} rps={values['rps']} is not positive")
        tests[name] = values
    if not tests:
        raise ParseError(f"{where}: CSV header but no test row (output cut short?)")
    return tests


def parse_redis(points: list[dict[str, Any]], tests: list[str] | None = None) -> dict[str, Any]:
    """Measurements of every sweep point; ``tests`` (e.g. ``["get", "set"]``) must all be
    present at every point when given."""
    wanted = [metric_name(t) for t in tests or []]
    out: list[dict[str, Any]] = []
    observed: dict[str, Any] = {"connections_run": [], "tests": []}
    for connections, where, point in sweep_points(points, "connections", BENCHMARK):
        stdout, stderr = check_result("redis-benchmark", where, point.get("result"))
        error = _ERRORS.search(stdout + "\n" + stderr)
        if error:
            raise ParseError(
                f"{where}: redis-benchmark reported an error: {_errors(stderr + chr(10) + stdout)}"
            )
        measured = parse_csv(stdout, where)
        # "-t ping" runs two tests, PING_INLINE and PING_MBULK
        missing = [
            t
            for t in wanted
            if t not in measured and not any(m.startswith(t + "_") for m in measured)
        ]
        if missing:
            raise ParseError(f"{where}: no result for test(s) {', '.join(missing)}")
        params = {"connections": connections}
        for name, values in measured.items():
            for column, (suffix, unit, higher) in METRICS.items():
                out.append(
                    measurement(BENCHMARK, f"{name}.{suffix}", values[column], unit, higher, params)
                )
        observed["connections_run"].append(connections)
        observed["tests"] = sorted(set(observed["tests"]) | set(measured))
    return {"measurements": out, "observed": observed}
