"""Parsers of the study's applications: redis-benchmark (redis) and sysbench OLTP (mysql),
on real outputs (tests/fixtures/redis, tests/fixtures/sysbench)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from isobench.parsers import PARSERS, ParseError, parse
from isobench.parsers.redis import metric_name, parse_csv
from isobench.parsers.sysbench import parse_report


def _result(fixtures: Path, tool: str, name: str) -> dict[str, Any]:
    return json.loads((fixtures / tool / name).read_text())


def _redis_point(fixtures: Path, connections: int, name: str) -> dict[str, Any]:
    return {"connections": connections, "result": _result(fixtures, "redis", name)}


def _sysbench_point(fixtures: Path, threads: int, name: str) -> dict[str, Any]:
    return {"threads": threads, "result": _result(fixtures, "sysbench", name)}


def _by_point(parsed: dict[str, Any], key: str) -> dict[tuple[int, str], dict[str, Any]]:
    return {(m["params"][key], m["metric"]): m for m in parsed["measurements"]}


def test_registered() -> None:
    assert "redis" in PARSERS and "sysbench" in PARSERS


# --- redis ------------------------------------------------------------------------------


def test_redis_sweep_real_output(fixtures: Path) -> None:
    points = [_redis_point(fixtures, c, f"get-set-c{c}.json") for c in (1, 10, 50)]
    parsed = parse("redis", points, ["get", "set"])
    got = _by_point(parsed, "connections")
    assert len(parsed["measurements"]) == 3 * 2 * 5
    assert {m["benchmark"] for m in parsed["measurements"]} == {"redis"}
    assert {metric for _, metric in got} == {
        f"{t}.{s}" for t in ("get", "set") for s in ("rps", "avg_ms", "p50_ms", "p95_ms", "p99_ms")
    }
    # the numbers of the CSV row, as printed
    stdout = points[1]["result"]["stdout"]
    get_row = next(line for line in stdout.splitlines() if line.startswith('"GET"'))
    fields = [f.strip('"') for f in get_row.split(",")]
    assert got[(10, "get.rps")]["value"] == pytest.approx(float(fields[1]))
    assert got[(10, "get.avg_ms")]["value"] == pytest.approx(float(fields[2]))
    assert got[(10, "get.p99_ms")]["value"] == pytest.approx(float(fields[6]))
    assert got[(10, "get.rps")]["unit"] == "requests/s" and got[(10, "get.rps")]["higher_is_better"]
    assert got[(50, "set.p99_ms")]["unit"] == "ms"
    assert not got[(50, "set.p99_ms")]["higher_is_better"]
    assert all(m["params"] == {"connections": m["params"]["connections"]} for m in got.values())
    assert parsed["observed"] == {"connections_run": [1, 10, 50], "tests": ["get", "set"]}


def test_redis_study_tests_names(fixtures: Path) -> None:
    tests = ["ping", "set", "get", "lpush", "lpop", "sadd", "mset"]
    parsed = parse("redis", [_redis_point(fixtures, 4, "study-tests-c4.json")], tests)
    names = {m["metric"].split(".")[0] for m in parsed["measurements"]}
    assert names == {"ping_inline", "ping_mbulk", "set", "get", "lpush", "lpop", "sadd", "mset"}


@pytest.mark.parametrize(
    ("raw", "name"),
    [("GET", "get"), ("MSET (10 keys)", "mset"), ("LRANGE_100 (first 100 elements)", "lrange_100")],
)
def test_redis_test_name(raw: str, name: str) -> None:
    assert metric_name(raw) == name


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("wrong-password.json", r"connections=4: redis-benchmark exited 1: .*WRONGPASS"),
        ("noauth.json", r"connections=4: redis-benchmark exited 1: .*NOAUTH"),
        ("server-down.json", r"connections=4: redis-benchmark killed by the time limit \(rc=124\)"),
        ("killed.json", r"connections=4: redis-benchmark killed .*rc=-9"),
        ("timeout-term.json", r"connections=4: redis-benchmark killed .*rc=124"),
    ],
)
def test_redis_failures(fixtures: Path, fixture: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse("redis", [_redis_point(fixtures, 4, fixture)])


def test_redis_one_failed_point_fails_the_sweep(fixtures: Path) -> None:
    points = [
        _redis_point(fixtures, 1, "get-set-c1.json"),
        _redis_point(fixtures, 10, "wrong-password.json"),
        _redis_point(fixtures, 50, "get-set-c50.json"),
    ]
    with pytest.raises(ParseError, match="connections=10"):
        parse("redis", points)


def test_redis_missing_requested_test(fixtures: Path) -> None:
    with pytest.raises(ParseError, match=r"connections=1: no result for test.*lpush"):
        parse("redis", [_redis_point(fixtures, 1, "get-set-c1.json")], ["get", "lpush"])


def test_redis_error_text_with_rc_zero(fixtures: Path) -> None:
    result = {"rc": 0, "stdout": "", "stderr": "NOAUTH Authentication required.\n"}
    with pytest.raises(ParseError, match="connections=2: redis-benchmark reported an error"):
        parse("redis", [{"connections": 2, "result": result}])


def test_redis_output_cut_after_header(fixtures: Path) -> None:
    stdout = _result(fixtures, "redis", "get-set-c1.json")["stdout"].splitlines()[0] + "\n"
    with pytest.raises(ParseError, match="no test row"):
        parse("redis", [{"connections": 1, "result": {"rc": 0, "stdout": stdout, "stderr": ""}}])


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        ("", "empty output"),
        ("Segmentation fault\n", "no CSV header"),
        ('"test","rps"\n"GET","1"\n', "unexpected CSV header"),
        ("\x00\x01binary\xff", "no CSV header"),
    ],
)
def test_redis_garbage(stdout: str, message: str) -> None:
    point = {"connections": 3, "result": {"rc": 0, "stdout": stdout, "stderr": ""}}
    with pytest.raises(ParseError, match=f"connections=3: {message}"):
        parse("redis", [point])


def test_redis_non_numeric_field(fixtures: Path) -> None:
    text = _result(fixtures, "redis", "get-set-c1.json")["stdout"]
    broken = text.replace('"GET","', '"GET","fast-', 1)
    with pytest.raises(ParseError, match="GET rps='fast-"):
        parse_csv(broken)


@pytest.mark.parametrize(
    "points",
    [[], "not a list", [{"result": {"rc": 0}}], [{"connections": "x", "result": {}}]],
)
def test_redis_bad_points(points: Any) -> None:
    with pytest.raises(ParseError):
        parse("redis", points)


def test_redis_point_without_result() -> None:
    with pytest.raises(ParseError, match="connections=1: no command result"):
        parse("redis", [{"connections": 1}])


def test_redis_duplicate_point(fixtures: Path) -> None:
    point = _redis_point(fixtures, 1, "get-set-c1.json")
    with pytest.raises(ParseError, match="run twice"):
        parse("redis", [point, point])


# --- sysbench ---------------------------------------------------------------------------


def test_sysbench_sweep_real_output(fixtures: Path) -> None:
    points = [_sysbench_point(fixtures, t, f"oltp-read-only-t{t}.json") for t in (1, 4, 16)]
    parsed = parse("sysbench", points)
    got = _by_point(parsed, "threads")
    assert len(parsed["measurements"]) == 3 * 4
    assert {m["benchmark"] for m in parsed["measurements"]} == {"mysql"}
    assert {metric for _, metric in got} == {
        "oltp.tps",
        "oltp.qps",
        "oltp.latency_avg_ms",
        "oltp.latency_p95_ms",
    }
    report = parse_report(points[2]["result"]["stdout"])
    assert got[(16, "oltp.tps")]["value"] == pytest.approx(report["tps"])
    assert got[(16, "oltp.tps")]["unit"] == "transactions/s"
    assert got[(16, "oltp.qps")]["unit"] == "queries/s"
    assert not got[(16, "oltp.latency_p95_ms")]["higher_is_better"]
    # read-only OLTP: 16 queries per transaction (14 reads + BEGIN/COMMIT)
    assert report["queries"] == 16 * report["transactions"]
    assert parsed["observed"] == {"threads_run": [1, 4, 16], "ignored_errors": 0, "reconnects": 0}


def test_sysbench_report_values(fixtures: Path) -> None:
    report = parse_report(_result(fixtures, "sysbench", "oltp-read-write-t4.json")["stdout"])
    assert report == {
        "threads": 4,
        "transactions": 5134,
        "tps": 1025.79,
        "queries": 102680,
        "qps": 20515.86,
        "ignored_errors": 0,
        "reconnects": 0,
        "seconds": 5.0045,
        "latency_avg_ms": 3.89,
        "percentile": 95,
        "latency_pct_ms": 7.56,
    }


def test_sysbench_read_write_with_benchmark_name(fixtures: Path) -> None:
    parsed = parse("sysbench", [_sysbench_point(fixtures, 4, "oltp-read-write-t4.json")], "mysql")
    assert {m["params"]["threads"] for m in parsed["measurements"]} == {4}


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("wrong-password.json", r"threads=2: sysbench exited 1: .*Access denied"),
        ("server-down.json", r"threads=2: sysbench exited 1: .*Can't connect"),
        ("no-table.json", r"threads=2: sysbench exited 1: .*doesn't exist"),
        ("server-killed-mid-run.json", r"threads=2: sysbench exited 1: .*Lost connection"),
        ("killed.json", r"threads=2: sysbench killed by the time limit \(rc=-9\)"),
        ("timeout-term.json", r"threads=2: sysbench killed by the time limit \(rc=124\)"),
    ],
)
def test_sysbench_failures(fixtures: Path, fixture: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse("sysbench", [_sysbench_point(fixtures, 2, fixture)])


def test_sysbench_fatal_with_rc_zero(fixtures: Path) -> None:
    result = _result(fixtures, "sysbench", "server-killed-mid-run.json") | {"rc": 0}
    with pytest.raises(ParseError, match=r"threads=2: sysbench failed: FATAL: .*2013"):
        parse("sysbench", [{"threads": 2, "result": result}])


def test_sysbench_thread_count_must_match(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="threads=8: sysbench ran 4 threads"):
        parse("sysbench", [_sysbench_point(fixtures, 8, "oltp-read-only-t4.json")])


def test_sysbench_one_failed_point_fails_the_sweep(fixtures: Path) -> None:
    points = [
        _sysbench_point(fixtures, 1, "oltp-read-only-t1.json"),
        _sysbench_point(fixtures, 2, "wrong-password.json"),
    ]
    with pytest.raises(ParseError, match="threads=2"):
        parse("sysbench", points)


def test_sysbench_cut_short(fixtures: Path) -> None:
    text = _result(fixtures, "sysbench", "oltp-read-only-t4.json")["stdout"]
    cut = text[: text.index("Latency (ms):")]
    with pytest.raises(ParseError, match="no 'Latency"):
        parse_report(cut)


@pytest.mark.parametrize("stdout", ["", "garbage\n", "\x00\xff", "Number of threads: 2\n"])
def test_sysbench_garbage(stdout: str) -> None:
    point = {"threads": 2, "result": {"rc": 0, "stdout": stdout, "stderr": ""}}
    with pytest.raises(ParseError, match="threads=2"):
        parse("sysbench", [point])


@pytest.mark.parametrize("points", [[], None, [{"result": {"rc": 0}}]])
def test_sysbench_bad_points(points: Any) -> None:
    with pytest.raises(ParseError):
        parse("sysbench", points)
