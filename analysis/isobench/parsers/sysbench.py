"""MySQL (MariaDB): sysbench 1.0.20 ``oltp_read_only`` / ``oltp_read_write`` text report,
one invocation per point of the thread sweep.

The report of a run that completed::

    Number of threads: 4
    ...
    SQL statistics:
        ...
        transactions:                        5134   (1025.79 per sec.)
        queries:                             102680 (20515.86 per sec.)
        ignored errors:                      0      (0.00 per sec.)
        reconnects:                          0      (0.00 per sec.)
    General statistics:
        total time:                          5.0045s
        total number of events:              5134
    Latency (ms):
             avg:                                    3.89
             95th percentile:                        7.56

sysbench prints ``FATAL: ...`` lines (and exits 1) when it cannot connect, a table is
missing or the server goes away. The parser takes ``[{"threads": n, "result": {"rc",
"stdout", "stderr"}}, ...]`` and returns every point's measurements with
``params={"threads": n}``; one failed point fails the whole list.
"""

from __future__ import annotations

import re
from typing import Any

from .common import ParseError, measurement, sweep_points
from .redis import check_result

BENCHMARK = "mysql"

_NUM = r"([0-9]+(?:\.[0-9]+)?)"
_THREADS = re.compile(r"^Number of threads:\s*([0-9]+)\s*$", re.MULTILINE)
_RATE = r"^\s*{label}:\s*([0-9]+)\s+\(" + _NUM + r" per sec\.\)\s*$"
_TRANSACTIONS = re.compile(_RATE.format(label="transactions"), re.MULTILINE)
_QUERIES = re.compile(_RATE.format(label="queries"), re.MULTILINE)
_IGNORED = re.compile(_RATE.format(label="ignored errors"), re.MULTILINE)
_RECONNECTS = re.compile(_RATE.format(label="reconnects"), re.MULTILINE)
_TOTAL_TIME = re.compile(r"^\s*total time:\s*" + _NUM + r"s\s*$", re.MULTILINE)
_LATENCY = re.compile(r"^Latency \(ms\):\s*$(.*?)(?:^\S|\Z)", re.MULTILINE | re.DOTALL)
_LAT_AVG = re.compile(r"^\s*avg:\s*" + _NUM + r"\s*$", re.MULTILINE)
_LAT_PCT = re.compile(r"^\s*([0-9]+)th percentile:\s*" + _NUM + r"\s*$", re.MULTILINE)
_FATAL = re.compile(r"^FATAL: .*$", re.MULTILINE)


def _match(pattern: re.Pattern[str], text: str, what: str, where: str) -> re.Match[str]:
    found = pattern.search(text)
    if found is None:
        raise ParseError(f"{where}: sysbench report has no {what} (output cut short?)")
    return found


def parse_report(text: str, where: str = BENCHMARK) -> dict[str, float]:
    """The numbers of one sysbench OLTP report; ParseError on FATAL lines or a missing field."""
    if not text.strip():
        raise ParseError(f"{where}: empty output")
    fatal = _FATAL.findall(text)
    if fatal:
        raise ParseError(f"{where}: sysbench failed: {' | '.join(dict.fromkeys(fatal))[:400]}")
    threads = _match(_THREADS, text, "'Number of threads'", where)
    transactions = _match(_TRANSACTIONS, text, "transactions line", where)
    queries = _match(_QUERIES, text, "queries line", where)
    ignored = _match(_IGNORED, text, "ignored errors line", where)
    reconnects = _match(_RECONNECTS, text, "reconnects line", where)
    total_time = _match(_TOTAL_TIME, text, "total time", where)
    latency = _match(_LATENCY, text, "'Latency (ms):' section", where).group(1)
    avg = _match(_LAT_AVG, latency, "average latency", where)
    pct = _match(_LAT_PCT, latency, "latency percentile", where)
    report = {
        "threads": float(threads.group(1)),
        "transactions": float(transactions.group(1)),
        "tps": float(transactions.group(2)),
        "queries": float(queries.group(1)),
        "qps": float(queries.group(2)),
        "ignored_errors": float(ignored.group(1)),
        "reconnects": float(reconnects.group(1)),
        "seconds": float(total_time.group(1)),
        "latency_avg_ms": float(avg.group(1)),
        "percentile": float(pct.group(1)),
        "latency_pct_ms": float(pct.group(2)),
    }
    if report["transactions"] <= 0 or report["tps"] <= 0:
        raise ParseError(f"{where}: sysbench completed no transaction")
    return report


def parse_sysbench(points: list[dict[str, Any]], benchmark: str = BENCHMARK) -> dict[str, Any]:
    """Measurements ``oltp.tps``, ``oltp.qps``, ``oltp.latency_avg_ms`` and
    ``oltp.latency_p<N>_ms`` (N from ``--percentile``, 95 by default) of every point."""
    out: list[dict[str, Any]] = []
    observed: dict[str, Any] = {"threads_run": [], "ignored_errors": 0, "reconnects": 0}
    for threads, where, point in sweep_points(points, "threads", benchmark):
        stdout, _stderr = check_result("sysbench", where, point.get("result"))
        report = parse_report(stdout, where)
        if int(report["threads"]) != threads:
            raise ParseError(f"{where}: sysbench ran {int(report['threads'])} threads")
        params = {"threads": threads}
        pct = int(report["percentile"])
        out += [
            measurement(benchmark, "oltp.tps", report["tps"], "transactions/s", True, params),
            measurement(benchmark, "oltp.qps", report["qps"], "queries/s", True, params),
            measurement(
                benchmark, "oltp.latency_avg_ms", report["latency_avg_ms"], "ms", False, params
            ),
            measurement(
                benchmark, f"oltp.latency_p{pct}_ms", report["latency_pct_ms"], "ms", False, params
            ),
        ]
        observed["threads_run"].append(threads)
        observed["ignored_errors"] += int(report["ignored_errors"])
        observed["reconnects"] += int(report["reconnects"])
    return {"measurements": out, "observed": observed}
