"""Network request/response latency, TCP and UDP: netperf 2.7 TCP_RR/UDP_RR, or sockperf 3.7.

The study ran ``netperf -l 60 -t TCP_RR -- -r 100,200`` (and UDP_RR) and reported the
round-trip latency as 1e6 / transactions per second. The input is a mapping
``{"tcp": result, "udp": result}`` of the client runs, each an ``ansible.builtin.command``
result (``rc``, ``stdout``, ``stderr``) or the client's stdout as a string (then exit
status 0), and the tool that produced them.

**netperf** (Debian non-free, 2.7.0): ``netperf -H SERVER -p 12865 -l SECONDS -t TCP_RR
-P 0 -- -r 100,200 -P ,12866 -k SELECTORS``. ``-k`` prints the omni selectors as
``KEY=value`` lines (the same values ``-o`` prints as one nameless CSV row, here checked by
name). ``-P ,12866`` fixes the server's data port only: ``-P 12866`` sets the client's
local port too, and on one host the run then completes no transaction and still exits 0
(``THROUGHPUT=0.00``, kept as a fixture). Selectors used: THROUGHPUT (transactions/s),
THROUGHPUT_UNITS (``Trans/s``), RT_LATENCY, MEAN_LATENCY, STDDEV_LATENCY, MIN_LATENCY,
P50_LATENCY, P90_LATENCY, P99_LATENCY, MAX_LATENCY (us), ELAPSED_TIME (s), REQUEST_SIZE,
RESPONSE_SIZE (bytes), PROTOCOL, DEST_ADDR, DEST_PORT. netperf's percentiles come from
its latency histogram and are whole microseconds; MEAN_LATENCY is exact.

**sockperf** (Debian main, 3.7), when netperf is not available: ``sockperf ping-pong
[--tcp] -i SERVER -p 11111 -t SECONDS -m BYTES --full-rtt`` against ``sockperf server``.
Ping-pong messages have one size both ways, so the study's 100-byte request and 200-byte
response cannot be reproduced; the role sends (request + response) / 2 = 150 bytes each
way: the same payload per round trip (300 bytes), hence the same serialisation time,
with each message in one segment like netperf's. By default sockperf prints one-way
latency (RTT / 2, ``avg-latency``, ``Latency is``); ``--full-rtt`` prints round-trip
times (``avg-rtt``, ``Round trip is``), which the role uses. Output without
``--full-rtt`` is accepted and doubled back to round trips. sockperf sends warm-up
messages for 400 ms and leaves ~50 ms out at the end; its statistics cover the
``[Valid Duration]`` only. sockperf exits 0 when the server refuses the connection or
never answers: its ``ERROR:`` and ``No messages were received`` lines are failures here.

Metrics (benchmark ``netlat``), ``<p>`` = ``tcp_rr`` or ``udp_rr``:

- ``<p>.rtt_us`` (us, lower is better): the study's metric, 1e6 / transactions per second
  (netperf: THROUGHPUT, equal to its RT_LATENCY; sockperf: valid-duration RunTime /
  ReceivedMessages, the same definition: the time per transaction including the
  client's own work between round trips);
- ``<p>.tps`` (transactions/s): netperf THROUGHPUT; sockperf ReceivedMessages / RunTime;
- ``<p>.mean_us``, ``<p>.p50_us``, ``<p>.p90_us``, ``<p>.p99_us`` (us, lower is better):
  the tool's per-transaction round-trip latency distribution (netperf MEAN/P50/P90/P99
  _LATENCY; sockperf ``avg-rtt`` and its percentile lines).

``observed`` holds per protocol the tool, elapsed seconds, sizes, min/max/stddev, the
data port (netperf) or message counts and drops (sockperf).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ParseError, measurement
from .nuttcp import check_exit, command_result

PROTOCOLS = {"tcp": "tcp_rr", "udp": "udp_rr"}
TOOLS = ("netperf", "sockperf")

NETPERF_SELECTORS = (
    "THROUGHPUT",
    "THROUGHPUT_UNITS",
    "RT_LATENCY",
    "MEAN_LATENCY",
    "STDDEV_LATENCY",
    "MIN_LATENCY",
    "P50_LATENCY",
    "P90_LATENCY",
    "P99_LATENCY",
    "MAX_LATENCY",
    "ELAPSED_TIME",
    "REQUEST_SIZE",
    "RESPONSE_SIZE",
    "PROTOCOL",
    "DEST_ADDR",
    "DEST_PORT",
)
# what the parser needs of the selectors (THROUGHPUT is checked first)
_NETPERF_REQUIRED = (
    "THROUGHPUT_UNITS",
    "MEAN_LATENCY",
    "P50_LATENCY",
    "P90_LATENCY",
    "P99_LATENCY",
    "REQUEST_SIZE",
    "RESPONSE_SIZE",
    "PROTOCOL",
)
_KEYVAL = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _float(text: str, what: str, key: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"{what}: {key}={text!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ParseError(f"{what}: {key}={text!r} is not a finite number")
    return value


def _netperf(protocol: str, run: Any, expected: Mapping[str, Any]) -> tuple[list, dict]:
    test = PROTOCOLS[protocol].upper()
    what = f"netperf {test}"
    rc, stdout, stderr = command_result(run, what)
    check_exit(rc, stdout, stderr, what)
    pairs: dict[str, str] = {}
    for line in stdout.splitlines():
        match = _KEYVAL.match(line.strip())
        if match:
            pairs[match.group(1)] = match.group(2).strip()
    if "THROUGHPUT" not in pairs:
        excerpt = (stdout.strip() or stderr.strip())[:200]
        raise ParseError(
            f"{what}: no THROUGHPUT= line (netperf -k output) in the output"
            + (f": {excerpt!r}" if excerpt else " (empty output)")
        )
    missing = [key for key in _NETPERF_REQUIRED if key not in pairs]
    if missing:
        raise ParseError(f"{what}: output has no {', '.join(missing)} (omni selectors)")
    if pairs["THROUGHPUT_UNITS"] != "Trans/s":
        raise ParseError(f"{what}: THROUGHPUT_UNITS={pairs['THROUGHPUT_UNITS']}, not Trans/s")
    if pairs["PROTOCOL"].lower() != protocol:
        raise ParseError(f"{what}: PROTOCOL={pairs['PROTOCOL']}, expected {protocol.upper()}")
    tps = _float(pairs["THROUGHPUT"], what, "THROUGHPUT")
    if tps <= 0:
        raise ParseError(
            f"{what}: no transaction completed (THROUGHPUT={pairs['THROUGHPUT']}, "
            f"RT_LATENCY={pairs.get('RT_LATENCY', '?')}): the data connection never answered"
        )
    sizes = {
        "request_bytes": int(_float(pairs["REQUEST_SIZE"], what, "REQUEST_SIZE")),
        "response_bytes": int(_float(pairs["RESPONSE_SIZE"], what, "RESPONSE_SIZE")),
    }
    for key, value in sizes.items():
        if key in expected and int(expected[key]) != value:
            raise ParseError(f"{what}: ran with {key}={value} but was asked for {expected[key]}")
    prefix = PROTOCOLS[protocol]
    out = [
        measurement("netlat", f"{prefix}.rtt_us", 1e6 / tps, "us", False),
        measurement("netlat", f"{prefix}.tps", tps, "transactions/s"),
        measurement("netlat", f"{prefix}.mean_us", _f(pairs, "MEAN_LATENCY", what), "us", False),
    ]
    for pct in ("p50", "p90", "p99"):
        key = f"{pct.upper()}_LATENCY"
        out.append(measurement("netlat", f"{prefix}.{pct}_us", _f(pairs, key, what), "us", False))
    seen: dict[str, Any] = {"tool": "netperf", "test": test, **sizes}
    for key, name in (
        ("ELAPSED_TIME", "elapsed_s"),
        ("RT_LATENCY", "rt_latency_us"),
        ("MIN_LATENCY", "min_us"),
        ("MAX_LATENCY", "max_us"),
        ("STDDEV_LATENCY", "stddev_us"),
        ("DEST_PORT", "data_port"),
    ):
        if key in pairs:
            seen[name] = _f(pairs, key, what)
    if "DEST_PORT" in pairs:
        seen["data_port"] = int(seen["data_port"])
    if "DEST_ADDR" in pairs:
        seen["data_address"] = pairs["DEST_ADDR"]
    return out, seen


def _f(pairs: dict[str, str], key: str, what: str) -> float:
    return _float(pairs[key], what, key)


_SP_VALID = re.compile(
    r"\[Valid Duration\] RunTime=([0-9.]+) sec; SentMessages=(\d+); ReceivedMessages=(\d+)"
)
_SP_AVG = re.compile(r"avg-(rtt|latency)=([0-9.]+) \(std-dev=([0-9.]+)\)")
_SP_PCT = re.compile(r"---> percentile ([0-9.]+) =\s*([0-9.]+)")
_SP_EXT = re.compile(r"---> <(MAX|MIN)> observation =\s*([0-9.]+)")
_SP_DROPS = re.compile(
    r"# dropped messages = (\d+); # duplicated messages = (\d+); # out-of-order messages = (\d+)"
)
_SP_PROTO = re.compile(r"PORT =\s*\d+ # (TCP|UDP)")


def _sockperf(protocol: str, run: Any, expected: Mapping[str, Any]) -> tuple[list, dict]:
    what = f"sockperf ping-pong {protocol.upper()}"
    rc, stdout, stderr = command_result(run, what)
    text = _ANSI.sub("", stdout + "\n" + stderr)
    problems = [
        line.strip()
        for line in text.splitlines()
        if "ERROR" in line or "No messages were received" in line
    ]
    check_exit(rc, stdout, stderr, what, " | ".join(problems))
    if problems:
        raise ParseError(f"{what}: {' | '.join(problems)[:300]}")
    valid = _SP_VALID.search(text)
    avg = _SP_AVG.search(text)
    if not valid or not avg:
        excerpt = _ANSI.sub("", stdout).strip()[-200:]
        raise ParseError(
            f"{what}: no statistics ([Valid Duration] and avg-rtt lines) in the output"
            + (f": {excerpt!r}" if excerpt else " (empty output)")
        )
    proto = _SP_PROTO.search(text)
    if proto and proto.group(1).lower() != protocol:
        raise ParseError(f"{what}: sockperf ran {proto.group(1)}, expected {protocol.upper()}")
    seconds = _float(valid.group(1), what, "RunTime")
    received = int(valid.group(3))
    if seconds <= 0 or received <= 0:
        raise ParseError(
            f"{what}: no round trip measured (RunTime={valid.group(1)} s, "
            f"ReceivedMessages={received})"
        )
    # --full-rtt prints round trips; without it every latency is RTT / 2
    factor = 1.0 if avg.group(1) == "rtt" else 2.0
    percentiles = {float(p): float(v) * factor for p, v in _SP_PCT.findall(text)}
    missing = [p for p in (50.0, 90.0, 99.0) if p not in percentiles]
    if missing:
        raise ParseError(f"{what}: output has no percentile {missing[0]:.3f} line")
    tps = received / seconds
    prefix = PROTOCOLS[protocol]
    out = [
        measurement("netlat", f"{prefix}.rtt_us", 1e6 / tps, "us", False),
        measurement("netlat", f"{prefix}.tps", tps, "transactions/s"),
        measurement("netlat", f"{prefix}.mean_us", float(avg.group(2)) * factor, "us", False),
    ]
    for pct in (50, 90, 99):
        out.append(
            measurement("netlat", f"{prefix}.p{pct}_us", percentiles[float(pct)], "us", False)
        )
    seen: dict[str, Any] = {
        "tool": "sockperf",
        "mode": "ping-pong",
        "reported": "round-trip (--full-rtt)" if factor == 1.0 else "one-way (RTT/2), doubled",
        "valid_seconds": seconds,
        "sent_messages": int(valid.group(2)),
        "received_messages": received,
        "stddev_us": float(avg.group(3)) * factor,
    }
    for name, value in _SP_EXT.findall(text):
        seen[f"{name.lower()}_us"] = float(value) * factor
    drops = _SP_DROPS.search(text)
    if drops:
        seen["dropped"], seen["duplicated"], seen["out_of_order"] = map(int, drops.groups())
    if "msg_bytes" in expected:
        seen["msg_bytes"] = int(expected["msg_bytes"])
    return out, seen


def parse_netlat(
    runs: Mapping[str, Any], tool: str, expected: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Measurements of the client runs ``{"tcp": result, "udp": result}`` of ``tool``.

    ``expected`` may hold ``request_bytes``/``response_bytes`` (netperf: checked against
    what it reports it ran) and ``msg_bytes`` (sockperf: recorded; sockperf does not print it).
    """
    if tool not in TOOLS:
        raise ParseError(f"netlat: unknown tool {tool!r} ({' or '.join(TOOLS)})")
    if not isinstance(runs, Mapping) or not runs:
        raise ParseError("netlat: no client run to parse (protocols empty?)")
    out: list[dict[str, Any]] = []
    observed: dict[str, Any] = {}
    parse_one = _netperf if tool == "netperf" else _sockperf
    for protocol in sorted(runs):
        if protocol not in PROTOCOLS:
            raise ParseError(f"netlat: unknown protocol {protocol!r} (tcp or udp)")
        got, seen = parse_one(protocol, runs[protocol], expected or {})
        out.extend(got)
        observed[PROTOCOLS[protocol]] = seen
    return {"measurements": out, "observed": observed}
