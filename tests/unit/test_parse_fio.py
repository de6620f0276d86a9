"""The fio parser on real fio 3.33 output (tests/fixtures/fio, see its README)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from isobench.parsers import ParseError, parse

ALL_JOBS = [
    "seqread",
    "seqwrite",
    "randread",
    "randwrite",
    "randread-qd128",
    "randwrite-qd128",
    "mixed",
]
LATENCY = ("clat_mean_us", "clat_p50_us", "clat_p99_us", "clat_p99_9_us")


def _result(fixtures: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures / "fio" / name).read_text())


@pytest.fixture
def ok(fixtures: Path) -> dict[str, Any]:
    return _result(fixtures, "fio-7jobs-64mib-ext4.json")


def _report(result: dict[str, Any]) -> dict[str, Any]:
    return json.loads(result["stdout"])


def _with_report(result: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    return {**result, "stdout": json.dumps(report, indent=2)}


def _jobs(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["jobname"]: job for job in report["jobs"]}


def test_fio_values_are_fios_own(ok: dict[str, Any]) -> None:
    parsed = parse("fio", ok, ALL_JOBS)
    got = {m["metric"]: m for m in parsed["measurements"]}
    jobs = _jobs(_report(ok))
    for name, direction in [
        ("seqread", "read"),
        ("seqwrite", "write"),
        ("randread", "read"),
        ("randwrite", "write"),
        ("randread-qd128", "read"),
        ("randwrite-qd128", "write"),
    ]:
        stats = jobs[name][direction]
        assert got[f"{name}.mb_s"]["value"] == pytest.approx(stats["bw_bytes"] / 1e6)
        assert got[f"{name}.iops"]["value"] == pytest.approx(stats["iops"])
        clat = stats["clat_ns"]
        assert got[f"{name}.clat_mean_us"]["value"] == pytest.approx(clat["mean"] / 1000)
        assert got[f"{name}.clat_p50_us"]["value"] == pytest.approx(
            clat["percentile"]["50.000000"] / 1000
        )
        assert got[f"{name}.clat_p99_us"]["value"] == pytest.approx(
            clat["percentile"]["99.000000"] / 1000
        )
        assert got[f"{name}.clat_p99_9_us"]["value"] == pytest.approx(
            clat["percentile"]["99.900000"] / 1000
        )
    # numbers straight from the fixture, as fio printed them
    assert got["seqread.mb_s"]["value"] == pytest.approx(1490.329907)
    assert got["randread-qd128.iops"]["value"] == pytest.approx(97161.515454)
    assert got["randread-qd128.clat_p99_us"]["value"] == pytest.approx(5210.112)
    assert got["seqread.mb_s"]["unit"] == "MB/s"
    assert got["randwrite.iops"]["unit"] == "IOPS"
    assert got["randwrite.clat_p99_us"]["unit"] == "us"


def test_fio_mixed_job_per_direction_and_total(ok: dict[str, Any]) -> None:
    parsed = parse("fio", ok, ["mixed"])
    got = {m["metric"]: m["value"] for m in parsed["measurements"]}
    mixed = _jobs(_report(ok))["mixed"]
    assert got["mixed.read_iops"] == pytest.approx(72455.08982)
    assert got["mixed.write_iops"] == pytest.approx(30993.013972)
    assert got["mixed.iops"] == pytest.approx(72455.08982 + 30993.013972)
    assert got["mixed.mb_s"] == pytest.approx(
        (mixed["read"]["bw_bytes"] + mixed["write"]["bw_bytes"]) / 1e6
    )
    assert got["mixed.write_clat_p99_9_us"] == pytest.approx(
        mixed["write"]["clat_ns"]["percentile"]["99.900000"] / 1000
    )
    # latency percentiles of two directions do not add up: none without a direction
    assert "mixed.clat_p99_us" not in got
    assert set(got) == {"mixed.mb_s", "mixed.iops"} | {
        f"mixed.{d}_{m}" for d in ("read", "write") for m in ("mb_s", "iops", *LATENCY)
    }


def test_fio_metric_names_and_directions(ok: dict[str, Any]) -> None:
    parsed = parse("fio", ok, ALL_JOBS)
    names = [m["metric"] for m in parsed["measurements"]]
    assert len(names) == len(set(names)) == 6 * 6 + 2 + 2 * 6
    assert {n.split(".")[1] for n in names if n.startswith("seqwrite.")} == {
        "mb_s",
        "iops",
        *LATENCY,
    }
    for m in parsed["measurements"]:
        assert m["benchmark"] == "fio"
        assert m["higher_is_better"] is (m["unit"] != "us")


def test_fio_params_of_each_job(ok: dict[str, Any]) -> None:
    parsed = parse("fio", ok, ALL_JOBS)
    got = {m["metric"]: m["params"] for m in parsed["measurements"]}
    assert got["randread-qd128.iops"] == {
        "job": "randread-qd128",
        "rw": "randread",
        "bs": "4k",
        "iodepth": 16,
        "numjobs": 8,
    }
    assert got["mixed.iops"]["rwmixread"] == 70
    assert got["seqread.mb_s"]["iodepth"] == 1


def test_fio_observed(ok: dict[str, Any]) -> None:
    observed = parse("fio", ok, ALL_JOBS)["observed"]
    assert observed["fio_version"] == "fio-3.33"
    assert observed["fio_size_bytes"] == 64 * 1048576
    assert observed["fio_runtime_s"] == 2
    assert observed["fio_ramp_s"] == 1
    assert observed["fio_global_options"]["direct"] == "1"
    assert observed["fio_global_options"]["ioengine"] == "libaio"
    assert observed["fio_jobs"]["seqread"]["read"]["io_bytes"] == 2982150144
    assert observed["fio_jobs"]["mixed"]["write"]["total_ios"] == 62110
    assert set(observed["fio_jobs"]) == set(ALL_JOBS)


def test_fio_subset_of_jobs(ok: dict[str, Any]) -> None:
    parsed = parse("fio", ok, ["randwrite"])
    assert {m["metric"].split(".")[0] for m in parsed["measurements"]} == {"randwrite"}
    assert set(parsed["observed"]["fio_jobs"]) == {"randwrite"}


def test_fio_text_before_the_json(ok: dict[str, Any]) -> None:
    noisy = {**ok, "stdout": "fio: some warning {not json}\nnote: more\n" + ok["stdout"]}
    assert parse("fio", noisy, ALL_JOBS) == parse("fio", ok, ALL_JOBS)


def test_fio_missing_job(ok: dict[str, Any]) -> None:
    with pytest.raises(ParseError, match=r"job\(s\) randrw-qd256 missing"):
        parse("fio", ok, ["seqread", "randrw-qd256"])


def test_fio_job_reported_twice(ok: dict[str, Any]) -> None:
    report = _report(ok)
    report["jobs"].append(copy.deepcopy(report["jobs"][0]))
    with pytest.raises(ParseError, match="'seqread' reported more than once"):
        parse("fio", _with_report(ok, report), ["seqread"])


def test_fio_job_error(ok: dict[str, Any]) -> None:
    report = _report(ok)
    _jobs(report)["randwrite"]["error"] = 5
    with pytest.raises(ParseError, match=r"'randwrite' failed with error 5 \(Input/output error"):
        parse("fio", _with_report(ok, report), ALL_JOBS)


@pytest.mark.parametrize("direction", ["read", "write"])
def test_fio_job_without_io(ok: dict[str, Any], direction: str) -> None:
    report = _report(ok)
    _jobs(report)["mixed"][direction]["io_bytes"] = 0
    with pytest.raises(ParseError, match=f"'mixed' {direction}: no I/O done"):
        parse("fio", _with_report(ok, report), ["mixed"])


def test_fio_missing_percentile(ok: dict[str, Any]) -> None:
    report = _report(ok)
    del _jobs(report)["seqread"]["read"]["clat_ns"]["percentile"]["99.900000"]
    with pytest.raises(ParseError, match="'seqread' read: no p99_9"):
        parse("fio", _with_report(ok, report), ["seqread"])


def test_fio_killed(fixtures: Path) -> None:
    # timeout -s KILL kills its own process group: fio and timeout itself (rc -9), no output
    result = _result(fixtures, "fio-killed.json")
    assert result["rc"] == -9 and result["stdout"] == ""
    with pytest.raises(ParseError, match=r"killed .* \(rc=-9"):
        parse("fio", result, ALL_JOBS)


def test_fio_terminated_report_is_not_a_measurement(fixtures: Path) -> None:
    # On TERM fio stops early and still prints a JSON report of the cut-short run
    result = _result(fixtures, "fio-terminated.json")
    assert result["rc"] == 124 and "fio: terminating on signal 15" in result["stdout"]
    with pytest.raises(ParseError, match="rc=124"):
        parse("fio", result, ALL_JOBS)


@pytest.mark.parametrize("rc", [124, 137])
def test_fio_time_limit_codes(ok: dict[str, Any], rc: int) -> None:
    with pytest.raises(ParseError, match=f"killed .*rc={rc}"):
        parse("fio", {**ok, "rc": rc}, ALL_JOBS)


def test_fio_direct_refused(fixtures: Path) -> None:
    result = _result(fixtures, "fio-ramfs-direct-refused.json")
    with pytest.raises(ParseError, match=r"fio exited 28: .*does not support direct=1"):
        parse("fio", result, ALL_JOBS)
    # the report fio printed after its errors names the failure of every job
    report = _report({"stdout": result["stdout"][result["stdout"].index("\n{") :]})
    assert {job["error"] for job in report["jobs"]} == {22}
    with pytest.raises(ParseError, match=r"'seqread' failed with error 22 \(Invalid argument\)"):
        parse("fio", {**result, "rc": 0}, ALL_JOBS)


def test_fio_not_installed(fixtures: Path) -> None:
    with pytest.raises(ParseError, match=r"exited 127: timeout: failed to run command .fio."):
        parse("fio", _result(fixtures, "fio-not-installed.json"), ALL_JOBS)


@pytest.mark.parametrize(
    "stdout",
    ["", "Segmentation fault\n", "{", '{"jobs": []}', "[1, 2]", "\x00\x01binary\xff"],
)
def test_fio_garbage(stdout: str) -> None:
    with pytest.raises(ParseError, match=r"fio: (empty output|no JSON report)"):
        parse("fio", {"rc": 0, "stdout": stdout, "stderr": ""}, ALL_JOBS)


def test_fio_report_without_jobs(ok: dict[str, Any]) -> None:
    report = _report(ok)
    report["jobs"] = []
    with pytest.raises(ParseError, match="no jobs"):
        parse("fio", _with_report(ok, report), ALL_JOBS)


def test_fio_needs_expected_jobs(ok: dict[str, Any]) -> None:
    with pytest.raises(ParseError, match="no expected jobs"):
        parse("fio", ok, [])


def test_fio_report_with_a_job_that_is_not_an_object() -> None:
    stdout = json.dumps({"fio version": "fio-3.33", "jobs": ["seqread"]})
    with pytest.raises(ParseError, match="not an object"):
        parse("fio", {"rc": 0, "stdout": stdout, "stderr": ""}, ["seqread"])
