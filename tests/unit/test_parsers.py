from __future__ import annotations

import json
from pathlib import Path

import pytest

from isobench.parsers import ParseError, parse
from isobench.parsers.hpcc import summary


def _hpcc(fixtures: Path, name: str) -> str:
    return (fixtures / "hpcc" / name).read_text()


def test_hpcc_summary_real_output(fixtures: Path) -> None:
    pairs = summary(_hpcc(fixtures, "hpccoutf-np2-n7095.txt"))
    assert pairs["HPL_N"] == "7095"
    assert pairs["CommWorldProcs"] == "2"


def test_hpcc_measurements_real_output(fixtures: Path) -> None:
    text = _hpcc(fixtures, "hpccoutf-np2-n7095.txt")
    pairs = summary(text)
    parsed = parse("hpcc", text, ["linpack", "stream", "randomaccess"])
    got = {(m["benchmark"], m["metric"]): m for m in parsed["measurements"]}
    assert got[("linpack", "gflops")]["value"] == pytest.approx(float(pairs["HPL_Tflops"]) * 1000)
    assert got[("linpack", "gflops")]["unit"] == "GFLOPS"
    # STREAM: per-process "Star" rate times the processes running at once
    assert got[("stream", "triad")]["value"] == pytest.approx(float(pairs["StarSTREAM_Triad"]) * 2)
    assert {m for b, m in got if b == "stream"} == {"copy", "scale", "add", "triad", "triad_single"}
    assert got[("randomaccess", "gups")]["value"] == pytest.approx(
        float(pairs["StarRandomAccess_GUPs"]) * 2
    )
    assert got[("randomaccess", "gups_mpi")]["value"] == pytest.approx(
        float(pairs["MPIRandomAccess_GUPs"])
    )
    assert parsed["observed"]["hpl_n"] == 7095
    assert parsed["observed"]["processes"] == 2
    assert all(m["higher_is_better"] for m in parsed["measurements"])


def test_hpcc_only_requested_benchmarks(fixtures: Path) -> None:
    parsed = parse("hpcc", _hpcc(fixtures, "hpccoutf-np2-n7095.txt"), ["stream"])
    assert {m["benchmark"] for m in parsed["measurements"]} == {"stream"}
    assert "hpl_n" not in parsed["observed"]


def test_hpcc_killed_mid_run(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="no 'Begin of Summary section"):
        parse("hpcc", _hpcc(fixtures, "hpccoutf-killed.txt"), ["linpack"])


def test_hpcc_rejected_input_is_not_a_measurement(fixtures: Path) -> None:
    # HPCC fell back to its own sizes (N=3520) and still printed Success=1
    text = _hpcc(fixtures, "hpccoutf-bad-input.txt")
    assert summary(text)["Success"] == "1"
    with pytest.raises(ParseError, match="HPL_N=3520 but was asked for 7095"):
        parse("hpcc", text, ["linpack"], {"n": 7095, "processes": 2})


def test_hpcc_expected_sizes_match(fixtures: Path) -> None:
    text = _hpcc(fixtures, "hpccoutf-np2-n7095.txt")
    parse("hpcc", text, ["linpack"], {"n": 7095, "processes": 2})
    with pytest.raises(ParseError, match="CommWorldProcs"):
        parse("hpcc", text, ["linpack"], {"processes": 4})


@pytest.mark.parametrize(
    "garbage",
    ["", "Segmentation fault (core dumped)\n", "\x00\x01binary\xff", "Begin of Summary section.\n"],
)
def test_hpcc_garbage(garbage: str) -> None:
    with pytest.raises(ParseError):
        parse("hpcc", garbage, ["linpack"])


def test_hpcc_non_numeric_value(fixtures: Path) -> None:
    text = _hpcc(fixtures, "hpccoutf-np2-n7095.txt")
    broken = text.replace("\nHPL_Tflops=", "\nHPL_Tflops=nan-ish\nHPL_was=")
    with pytest.raises(ParseError, match="HPL_Tflops"):
        parse("hpcc", broken, ["linpack"])


def test_hpcc_failed_verification(fixtures: Path) -> None:
    text = _hpcc(fixtures, "hpccoutf-np2-n7095.txt").replace("\nSuccess=1", "\nSuccess=0")
    with pytest.raises(ParseError, match="Success=0"):
        parse("hpcc", text, ["stream"])


def test_compress_real_result(fixtures: Path) -> None:
    result = json.loads((fixtures / "compress" / "pixz-command-result.json").read_text())
    parsed = parse("compress", result, 8_000_000)
    got = {m["metric"]: m for m in parsed["measurements"]}
    assert got["throughput"]["value"] == pytest.approx(8.0 / 0.849044)
    assert got["throughput"]["unit"] == "MB/s"
    assert got["seconds"]["higher_is_better"] is False


def test_compress_failed_tool(fixtures: Path) -> None:
    result = json.loads((fixtures / "compress" / "pixz-missing-input.json").read_text())
    with pytest.raises(ParseError, match="exited 2"):
        parse("compress", result, 8_000_000)


@pytest.mark.parametrize("delta", ["", "soon", "0:00:00.000000"])
def test_compress_bad_timing(fixtures: Path, delta: str) -> None:
    result = json.loads((fixtures / "compress" / "pixz-command-result.json").read_text())
    result["delta"] = delta
    with pytest.raises(ParseError):
        parse("compress", result, 8_000_000)


def test_unknown_tool() -> None:
    with pytest.raises(ParseError, match="no parser"):
        parse("dhrystone", "")


@pytest.mark.parametrize("rc", [124, 137])
def test_compress_killed_by_time_limit(fixtures: Path, rc: int) -> None:
    result = json.loads((fixtures / "compress" / "pixz-command-result.json").read_text())
    result["rc"] = rc
    with pytest.raises(ParseError, match=f"time limit \\(rc={rc}\\)"):
        parse("compress", result, 8_000_000)
