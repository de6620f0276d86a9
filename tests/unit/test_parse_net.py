"""Parsers nuttcp and netlat (netperf, sockperf) on the tools' real output over loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from isobench.parsers import ParseError, parse


def _result(fixtures: Path, name: str) -> dict[str, Any]:
    return json.loads((fixtures / name).read_text())


def _metrics(parsed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["metric"]: m for m in parsed["measurements"]}


# ---- nuttcp ---------------------------------------------------------------------------


def _nuttcp_runs(fixtures: Path) -> dict[str, Any]:
    return {
        "tx": _result(fixtures, "nuttcp/nuttcp-t-T2.json"),
        "rx": _result(fixtures, "nuttcp/nuttcp-r-F-T2.json"),
    }


def test_nuttcp_both_directions(fixtures: Path) -> None:
    parsed = parse("nuttcp", _nuttcp_runs(fixtures), {"duration_s": 2})
    got = _metrics(parsed)
    assert set(got) == {
        f"{d}_{m}"
        for d in ("tx", "rx")
        for m in ("gbps", "server_cpu_pct", "client_cpu_pct", "server_cpu_ns_per_byte", "retrans")
    }
    assert all(m["benchmark"] == "nuttcp" for m in got.values())
    # tx (nuttcp -t): megabytes=5099.3125 real_seconds=2.00 rate_Mbps=21386.5163
    # tx_cpu=32 (client, transmitting) rx_cpu=69 (server, receiving) retrans=0 rtt_ms=0.17
    assert got["tx_gbps"]["value"] == pytest.approx(21.3865163)
    assert got["tx_gbps"]["unit"] == "Gbit/s" and got["tx_gbps"]["higher_is_better"]
    assert got["tx_client_cpu_pct"]["value"] == 32
    assert got["tx_server_cpu_pct"]["value"] == 69
    assert got["tx_server_cpu_ns_per_byte"]["value"] == pytest.approx(
        0.69 * 2.00 / (5099.3125 * 2**20) * 1e9
    )
    assert got["tx_server_cpu_ns_per_byte"]["unit"] == "ns/B"
    assert got["tx_retrans"]["value"] == 0
    # rx (nuttcp -r -F): megabytes=4943.8671 real_seconds=2.00 rate_Mbps=20710.2767
    # tx_cpu=25 (server, transmitting) rx_cpu=58 (client, receiving) retrans=0 rtt_ms=0.11
    assert got["rx_gbps"]["value"] == pytest.approx(20.7102767)
    assert got["rx_server_cpu_pct"]["value"] == 25
    assert got["rx_client_cpu_pct"]["value"] == 58
    assert got["rx_server_cpu_ns_per_byte"]["value"] == pytest.approx(
        0.25 * 2.00 / (4943.8671 * 2**20) * 1e9
    )
    for name, m in got.items():
        assert m["higher_is_better"] is name.endswith("_gbps"), name
    observed = parsed["observed"]
    assert observed["tx"]["bytes"] == round(5099.3125 * 2**20)
    assert observed["tx"]["rtt_ms"] == 0.17
    assert observed["rx"]["rtt_ms"] == 0.11
    assert observed["rx"]["real_seconds"] == 2.0


def test_nuttcp_rx_without_flip_and_bare_stdout(fixtures: Path) -> None:
    # nuttcp -r (the server opens the data connection): megabytes=3174.6875
    # rate_Mbps=13318.9675 tx_cpu=96 (server) rx_cpu=33 (client), no rtt_ms
    stdout = _result(fixtures, "nuttcp/nuttcp-r-T2.json")["stdout"]
    parsed = parse("nuttcp", {"rx": stdout})
    got = _metrics(parsed)
    assert set(got) == {
        "rx_gbps",
        "rx_server_cpu_pct",
        "rx_client_cpu_pct",
        "rx_server_cpu_ns_per_byte",
        "rx_retrans",
    }
    assert got["rx_gbps"]["value"] == pytest.approx(13.3189675)
    assert (got["rx_server_cpu_pct"]["value"], got["rx_client_cpu_pct"]["value"]) == (96, 33)
    assert "rtt_ms" not in parsed["observed"]["rx"]


def test_nuttcp_host_retrans_is_observed_only(fixtures: Path) -> None:
    stdout = _result(fixtures, "nuttcp/nuttcp-t-T2.json")["stdout"]
    parsed = parse("nuttcp", {"tx": stdout.replace(" retrans=", " host-retrans=")})
    assert "tx_retrans" not in _metrics(parsed)
    assert parsed["observed"]["tx"]["host_retrans"] == 0


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nuttcp-t-refused.json", r"exited 1: .*Connection refused"),
        ("nuttcp-t-killed.json", r"killed by the cell time limit \(rc=-9, SIGKILL\)"),
        ("nuttcp-r-timeout.json", r"killed by the cell time limit \(rc=124, SIGTERM\)"),
    ],
)
def test_nuttcp_failures(fixtures: Path, name: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse("nuttcp", {"tx": _result(fixtures, f"nuttcp/{name}")})


def test_nuttcp_one_failed_direction_fails_the_run(fixtures: Path) -> None:
    runs = _nuttcp_runs(fixtures)
    runs["rx"] = _result(fixtures, "nuttcp/nuttcp-r-timeout.json")
    with pytest.raises(ParseError, match="nuttcp rx"):
        parse("nuttcp", runs)


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        "garbage\n",
        "\x00\x01binary\xff",
        "megabytes=0.0000 real_seconds=2.00 rate_Mbps=0.0000 tx_cpu=0 rx_cpu=0 retrans=0\n",
        "megabytes=12.0 real_seconds=2.00 rate_Mbps=fast tx_cpu=1 rx_cpu=1\n",
        "megabytes=12.0 real_seconds=2.00 rate_Mbps=48.0 tx_cpu=1\n",
    ],
)
def test_nuttcp_garbage(stdout: str) -> None:
    with pytest.raises(ParseError):
        parse("nuttcp", {"tx": {"rc": 0, "stdout": stdout, "stderr": ""}})


def test_nuttcp_cut_short(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="cut short"):
        parse("nuttcp", _nuttcp_runs(fixtures), {"duration_s": 60})


@pytest.mark.parametrize("runs", [{}, {"up": "x"}, [], {"tx": 42}, {"tx": {"stdout": "x"}}])
def test_nuttcp_bad_input(runs: Any) -> None:
    with pytest.raises(ParseError):
        parse("nuttcp", runs)


# ---- netlat: netperf ------------------------------------------------------------------

NETLAT_METRICS = {
    f"{p}.{m}"
    for p in ("tcp_rr", "udp_rr")
    for m in ("rtt_us", "tps", "mean_us", "p50_us", "p90_us", "p99_us")
}


def _netperf_runs(fixtures: Path) -> dict[str, Any]:
    return {
        "tcp": _result(fixtures, "netlat/netperf-tcp_rr.json"),
        "udp": _result(fixtures, "netlat/netperf-udp_rr.json"),
    }


def test_netperf_tcp_and_udp(fixtures: Path) -> None:
    parsed = parse(
        "netlat", _netperf_runs(fixtures), "netperf", {"request_bytes": 100, "response_bytes": 200}
    )
    got = _metrics(parsed)
    assert set(got) == NETLAT_METRICS
    assert all(m["benchmark"] == "netlat" for m in got.values())
    # TCP_RR: THROUGHPUT=21103.14 RT_LATENCY=47.386 MEAN_LATENCY=47.34 P50=51 P90=54 P99=71
    assert got["tcp_rr.tps"]["value"] == pytest.approx(21103.14)
    assert got["tcp_rr.tps"]["unit"] == "transactions/s" and got["tcp_rr.tps"]["higher_is_better"]
    assert got["tcp_rr.rtt_us"]["value"] == pytest.approx(1e6 / 21103.14)
    assert got["tcp_rr.rtt_us"]["value"] == pytest.approx(47.386, abs=0.001)  # netperf's own
    assert got["tcp_rr.mean_us"]["value"] == pytest.approx(47.34)
    assert (got["tcp_rr.p50_us"]["value"], got["tcp_rr.p90_us"]["value"]) == (51, 54)
    assert got["tcp_rr.p99_us"]["value"] == 71
    # UDP_RR: THROUGHPUT=41086.66 RT_LATENCY=24.339 MEAN_LATENCY=24.29 P50=15 P90=50 P99=55
    assert got["udp_rr.tps"]["value"] == pytest.approx(41086.66)
    assert got["udp_rr.rtt_us"]["value"] == pytest.approx(24.339, abs=0.001)
    assert got["udp_rr.mean_us"]["value"] == pytest.approx(24.29)
    assert got["udp_rr.p99_us"]["value"] == 55
    for name, m in got.items():
        assert m["higher_is_better"] is name.endswith(".tps"), name
        if not name.endswith(".tps"):
            assert m["unit"] == "us"
    tcp = parsed["observed"]["tcp_rr"]
    assert tcp["request_bytes"] == 100 and tcp["response_bytes"] == 200
    assert tcp["data_port"] == 12866 and tcp["data_address"] == "127.0.0.1"
    assert (tcp["min_us"], tcp["max_us"], tcp["elapsed_s"]) == (16, 4064, 2.0)
    assert parsed["observed"]["udp_rr"]["test"] == "UDP_RR"


def test_netperf_sizes_not_as_asked(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="request_bytes=100 but was asked for 1"):
        parse("netlat", _netperf_runs(fixtures), "netperf", {"request_bytes": 1})


def test_netperf_protocol_mismatch(fixtures: Path) -> None:
    runs = {"udp": _result(fixtures, "netlat/netperf-tcp_rr.json")}
    with pytest.raises(ParseError, match="PROTOCOL=TCP, expected UDP"):
        parse("netlat", runs, "netperf")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("netperf-tcp_rr-refused.json", r"exited 255: establish control: are you sure"),
        ("netperf-tcp_rr-killed.json", r"killed by the cell time limit \(rc=124"),
        ("netperf-tcp_rr-same-ports.json", r"no transaction completed \(THROUGHPUT=0.00"),
    ],
)
def test_netperf_failures(fixtures: Path, name: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse("netlat", {"tcp": _result(fixtures, f"netlat/{name}")}, "netperf")


@pytest.mark.parametrize(
    "stdout",
    [
        "",
        "garbage\n",
        "THROUGHPUT=12.5\n",
        "THROUGHPUT=abc\nTHROUGHPUT_UNITS=Trans/s\n",
    ],
)
def test_netperf_garbage(fixtures: Path, stdout: str) -> None:
    if stdout.startswith("THROUGHPUT=abc"):
        full = _result(fixtures, "netlat/netperf-tcp_rr.json")["stdout"]
        stdout = full.replace("THROUGHPUT=21103.14", "THROUGHPUT=abc")
    with pytest.raises(ParseError):
        parse("netlat", {"tcp": {"rc": 0, "stdout": stdout, "stderr": ""}}, "netperf")


def test_netperf_wrong_units(fixtures: Path) -> None:
    stdout = _result(fixtures, "netlat/netperf-tcp_rr.json")["stdout"]
    with pytest.raises(ParseError, match="not Trans/s"):
        parse("netlat", {"tcp": stdout.replace("Trans/s", "10^6bits/s")}, "netperf")


# ---- netlat: sockperf -----------------------------------------------------------------


def test_sockperf_tcp_and_udp_full_rtt(fixtures: Path) -> None:
    runs = {
        "tcp": _result(fixtures, "netlat/sockperf-tcp.json"),
        "udp": _result(fixtures, "netlat/sockperf-udp.json"),
    }
    parsed = parse("netlat", runs, "sockperf", {"msg_bytes": 150})
    got = _metrics(parsed)
    assert set(got) == NETLAT_METRICS
    # TCP: [Valid Duration] RunTime=1.550 sec; ReceivedMessages=29575; avg-rtt=52.384;
    # percentiles 50 = 52.737, 90 = 64.364, 99 = 74.910
    assert got["tcp_rr.tps"]["value"] == pytest.approx(29575 / 1.550)
    assert got["tcp_rr.rtt_us"]["value"] == pytest.approx(1.550e6 / 29575)
    assert got["tcp_rr.mean_us"]["value"] == pytest.approx(52.384)
    assert got["tcp_rr.p50_us"]["value"] == pytest.approx(52.737)
    assert got["tcp_rr.p90_us"]["value"] == pytest.approx(64.364)
    assert got["tcp_rr.p99_us"]["value"] == pytest.approx(74.910)
    # UDP: RunTime=1.550 sec; ReceivedMessages=101145; avg-rtt=15.294; p99 = 18.787
    assert got["udp_rr.rtt_us"]["value"] == pytest.approx(1.550e6 / 101145)
    assert got["udp_rr.mean_us"]["value"] == pytest.approx(15.294)
    assert got["udp_rr.p99_us"]["value"] == pytest.approx(18.787)
    tcp = parsed["observed"]["tcp_rr"]
    assert tcp["reported"] == "round-trip (--full-rtt)"
    assert (tcp["received_messages"], tcp["dropped"], tcp["msg_bytes"]) == (29575, 0, 150)
    assert tcp["min_us"] == pytest.approx(16.794) and tcp["max_us"] == pytest.approx(4098.877)


def test_sockperf_one_way_output_is_doubled(fixtures: Path) -> None:
    # without --full-rtt: avg-latency=9.621, percentile 99.000 = 23.489 (one-way = RTT / 2)
    parsed = parse(
        "netlat", {"tcp": _result(fixtures, "netlat/sockperf-tcp-oneway.json")}, "sockperf"
    )
    got = _metrics(parsed)
    assert got["tcp_rr.mean_us"]["value"] == pytest.approx(2 * 9.621)
    assert got["tcp_rr.p99_us"]["value"] == pytest.approx(2 * 23.489)
    # the message rate is the round-trip rate either way
    assert got["tcp_rr.rtt_us"]["value"] == pytest.approx(1.550e6 / 80462)
    assert parsed["observed"]["tcp_rr"]["reported"] == "one-way (RTT/2), doubled"


@pytest.mark.parametrize(
    ("name", "protocol", "message"),
    [
        ("sockperf-tcp-refused.json", "tcp", r"ERROR: Can`t connect socket \(errno=111"),
        ("sockperf-udp-noserver.json", "udp", r"No messages were received from the server"),
        ("sockperf-tcp-killed.json", "tcp", r"killed by the cell time limit \(rc=124"),
    ],
)
def test_sockperf_failures(fixtures: Path, name: str, protocol: str, message: str) -> None:
    result = _result(fixtures, f"netlat/{name}")
    if name != "sockperf-tcp-killed.json":
        assert result["rc"] == 0  # sockperf exits 0 on these
    with pytest.raises(ParseError, match=message):
        parse("netlat", {protocol: result}, "sockperf")


def test_sockperf_protocol_mismatch(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="sockperf ran TCP, expected UDP"):
        parse("netlat", {"udp": _result(fixtures, "netlat/sockperf-tcp.json")}, "sockperf")


@pytest.mark.parametrize("cut", ["---> percentile 99.000", "[Valid Duration]", "avg-rtt"])
def test_sockperf_missing_lines(fixtures: Path, cut: str) -> None:
    stdout = _result(fixtures, "netlat/sockperf-tcp.json")["stdout"]
    broken = "\n".join(line for line in stdout.splitlines() if cut not in line)
    with pytest.raises(ParseError):
        parse("netlat", {"tcp": broken}, "sockperf")


@pytest.mark.parametrize("stdout", ["", "garbage\n", "\x00\x01binary\xff"])
def test_sockperf_garbage(stdout: str) -> None:
    with pytest.raises(ParseError):
        parse("netlat", {"tcp": {"rc": 0, "stdout": stdout, "stderr": ""}}, "sockperf")


# ---- netlat: arguments ----------------------------------------------------------------


def test_netlat_unknown_tool_or_protocol(fixtures: Path) -> None:
    with pytest.raises(ParseError, match="unknown tool"):
        parse("netlat", _netperf_runs(fixtures), "iperf")
    with pytest.raises(ParseError, match="unknown protocol"):
        parse("netlat", {"sctp": "x"}, "netperf")
    with pytest.raises(ParseError, match="no client run"):
        parse("netlat", {}, "netperf")


def test_netlat_skipped_run() -> None:
    with pytest.raises(ParseError, match="skipped"):
        parse("netlat", {"tcp": {"skipped": True, "changed": False}}, "netperf")
