"""nuttcp (6.1.2) bulk TCP transfer, one run per direction, client side with ``-fparse``.

The role runs the client ``nuttcp -t -fparse -T SECONDS -P 5000 -p 5001 SERVER`` (and
``nuttcp -r -F ...``) against ``nuttcp -S --nofork`` in the target. With ``-fparse`` the
client prints one line of ``key=value`` pairs (nuttcp's own "brief" result, here split in
two)::

    megabytes=5099.3125 real_seconds=2.00 rate_Mbps=21386.5163
    tx_cpu=32 rx_cpu=69 retrans=0 rtt_ms=0.17

The numbers are always the *receiver's* (nuttcp asks the server for its figures when the
client transmits): ``megabytes`` in MiB (2^20 bytes), ``rate_Mbps`` in 10^6 bit/s,
``tx_cpu``/``rx_cpu`` the CPU use (user + system time of the nuttcp process over the
elapsed time, integer percent of one CPU) of the transmitter and of the receiver,
``retrans`` the TCP retransmissions of the transmitting socket (``host-retrans`` when
only the host-wide counter was available), ``rtt_ms`` the time the client's connect() of
the data connection took (printed when the client opens it).

Directions (the study ran both, ``-t`` and ``-r``, between two hosts):

- ``tx``: ``nuttcp -t``, the client transmits, data flows client -> server; the server
  (environment under test) receives, so ``rx_cpu`` is the server's CPU;
- ``rx``: ``nuttcp -r -F``, the server transmits, data flows server -> client; ``tx_cpu``
  is the server's CPU. nuttcp's transmitter opens the data connection; ``-F`` (flip) makes
  the receiving client open it instead, so every connection goes from the client to the
  server's ports (published by docker-nat targets) and none from the target to the client.

Metrics (benchmark ``nuttcp``), for each direction ``d`` that ran:

- ``d_gbps`` (Gbit/s, 10^9 bit/s): ``rate_Mbps`` / 1000;
- ``d_server_cpu_pct`` and ``d_client_cpu_pct`` (%, lower is better): nuttcp's own CPU
  figures, mapped to the side that produced them;
- ``d_server_cpu_ns_per_byte`` (ns/B, lower is better): CPU cost of the transfer on the
  server, ``server_cpu / 100 * real_seconds / (megabytes * 2^20)`` in CPU nanoseconds per
  byte received (tx) or sent (rx). The study measured *cycles* per byte of the whole
  machine with ``perf stat``; isobench does not run perf: this is nuttcp's view of its
  own process only (user + system time charged to it, which includes the kernel's
  protocol work done in its context but not softirq work charged elsewhere, and inside
  a guest not the hypervisor's or vhost's host CPU). nuttcp rounds the percentage to an
  integer, so the value carries up to +-0.5 percentage points of error (about 1% at
  50% CPU). Multiply by the clock rate (provenance) to get cycles per byte;
- ``d_retrans`` (segments, lower is better): retransmissions, when nuttcp printed a
  per-connection count (``retrans=``; a host-wide ``host-retrans=`` goes to ``observed``).

The input is a mapping ``{"tx": result, "rx": result}`` where each result is the
``ansible.builtin.command`` result of that client run (``rc``, ``stdout``, ``stderr``) or
the client's stdout as a string (then taken as exit status 0).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .common import ParseError, measurement

DIRECTIONS = ("tx", "rx")
MIB = 1024 * 1024
_PAIR = re.compile(r"([A-Za-z][A-Za-z_-]*)=(\S+)")
_REQUIRED = ("megabytes", "real_seconds", "rate_Mbps", "tx_cpu", "rx_cpu")


def command_result(run: Any, what: str) -> tuple[int, str, str]:
    """(rc, stdout, stderr) of an ``ansible.builtin.command`` result, or of bare stdout.

    Shared by the network parsers. Raises ParseError when ``run`` is neither.
    """
    if isinstance(run, str):
        return 0, run, ""
    if not isinstance(run, Mapping):
        raise ParseError(f"{what}: expected a command result or output text, got {type(run)}")
    if run.get("skipped"):
        raise ParseError(f"{what}: the client run was skipped")
    rc = run.get("rc")
    if rc is None:
        raise ParseError(f"{what}: the command result has no rc ({run.get('msg', 'no message')})")
    try:
        code = int(rc)
    except (TypeError, ValueError):
        raise ParseError(f"{what}: rc {rc!r} is not an exit status") from None
    return code, str(run.get("stdout") or ""), str(run.get("stderr") or "")


def check_exit(rc: int, stdout: str, stderr: str, what: str, problem: str = "") -> None:
    """ParseError for a client that was killed or exited non-zero, naming why."""
    said = problem or _last_lines(stderr) or _last_lines(stdout) or "no output"
    if rc == 124:
        raise ParseError(f"{what}: killed by the cell time limit (rc=124, SIGTERM): {said}")
    if rc in (137, -9):
        raise ParseError(f"{what}: killed by the cell time limit (rc={rc}, SIGKILL): {said}")
    if rc < 0:
        raise ParseError(f"{what}: killed by signal {-rc} (rc={rc}): {said}")
    if rc != 0:
        raise ParseError(f"{what}: exited {rc}: {said}")


def _last_lines(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[-limit:]


def _error_lines(text: str) -> str:
    return " | ".join(
        line.strip() for line in text.splitlines() if "error" in line.lower() or "errno" in line
    )


def _number(pairs: dict[str, str], key: str, what: str) -> float:
    if key not in pairs:
        raise ParseError(f"{what}: result line has no {key}=")
    try:
        value = float(pairs[key])
    except ValueError:
        raise ParseError(f"{what}: {key}={pairs[key]!r} is not a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ParseError(f"{what}: {key}={pairs[key]!r} is not a finite number")
    return value


def result_pairs(stdout: str, what: str) -> dict[str, str]:
    """The key=value pairs of nuttcp's -fparse result line (the one with ``rate_Mbps=``)."""
    found: dict[str, str] | None = None
    for line in stdout.splitlines():
        pairs = dict(_PAIR.findall(line))
        if "rate_Mbps" in pairs and "megabytes" in pairs and "real_seconds" in pairs:
            found = pairs  # the last one: the summary after any interval lines
    if found is None:
        excerpt = stdout.strip()[:200]
        raise ParseError(
            f"{what}: no -fparse result line (megabytes=... rate_Mbps=...) in the output"
            + (f": {excerpt!r}" if excerpt else " (empty output)")
        )
    for key in _REQUIRED:
        _number(found, key, what)
    return found


def parse_nuttcp(
    runs: Mapping[str, Any], expected: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Measurements of the nuttcp client runs ``{"tx": result, "rx": result}``.

    ``expected`` may hold ``duration_s`` (the -T asked): a transfer measured over less than
    half of it was cut short (server gone, connection reset) and is not a measurement.
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ParseError("nuttcp: no client run to parse (directions empty?)")
    duration = float((expected or {}).get("duration_s") or 0)
    out: list[dict[str, Any]] = []
    observed: dict[str, Any] = {}
    for direction in sorted(runs, key=lambda d: DIRECTIONS.index(d) if d in DIRECTIONS else 9):
        if direction not in DIRECTIONS:
            raise ParseError(f"nuttcp: unknown direction {direction!r} (tx or rx)")
        what = f"nuttcp {direction} ({'nuttcp -t' if direction == 'tx' else 'nuttcp -r -F'})"
        rc, stdout, stderr = command_result(runs[direction], what)
        check_exit(rc, stdout, stderr, what, _error_lines(stderr + "\n" + stdout))
        try:
            pairs = result_pairs(stdout, what)
        except ParseError as exc:
            errors = _error_lines(stderr + "\n" + stdout)
            raise ParseError(f"{exc}{'; errors: ' + errors if errors else ''}") from None
        megabytes = _number(pairs, "megabytes", what)
        seconds = _number(pairs, "real_seconds", what)
        mbps = _number(pairs, "rate_Mbps", what)
        if megabytes <= 0 or seconds <= 0 or mbps <= 0:
            raise ParseError(
                f"{what}: no data transferred (megabytes={pairs['megabytes']} "
                f"real_seconds={pairs['real_seconds']} rate_Mbps={pairs['rate_Mbps']})"
            )
        if duration and seconds < duration / 2:
            raise ParseError(
                f"{what}: transfer measured over {seconds} s of the {duration:g} s asked "
                "(cut short)"
            )
        tx_cpu = _number(pairs, "tx_cpu", what)
        rx_cpu = _number(pairs, "rx_cpu", what)
        # -t: the client transmits; -r: the server transmits
        client_cpu, server_cpu = (tx_cpu, rx_cpu) if direction == "tx" else (rx_cpu, tx_cpu)
        nbytes = megabytes * MIB
        out.append(measurement("nuttcp", f"{direction}_gbps", mbps / 1000, "Gbit/s"))
        out.append(measurement("nuttcp", f"{direction}_server_cpu_pct", server_cpu, "%", False))
        out.append(measurement("nuttcp", f"{direction}_client_cpu_pct", client_cpu, "%", False))
        out.append(
            measurement(
                "nuttcp",
                f"{direction}_server_cpu_ns_per_byte",
                server_cpu / 100 * seconds / nbytes * 1e9,
                "ns/B",
                False,
            )
        )
        seen: dict[str, Any] = {
            "megabytes_mib": megabytes,
            "bytes": round(nbytes),
            "real_seconds": seconds,
            "rate_mbps": mbps,
            "tx_cpu_pct": tx_cpu,
            "rx_cpu_pct": rx_cpu,
            "server_cpu_pct": server_cpu,
            "client_cpu_pct": client_cpu,
        }
        if "retrans" in pairs:
            retrans = _number(pairs, "retrans", what)
            out.append(measurement("nuttcp", f"{direction}_retrans", retrans, "segments", False))
            seen["retrans"] = int(retrans)
        if "host-retrans" in pairs:
            seen["host_retrans"] = int(_number(pairs, "host-retrans", what))
        if "rtt_ms" in pairs:
            seen["rtt_ms"] = _number(pairs, "rtt_ms", what)
        observed[direction] = seen
    return {"measurements": out, "observed": observed}
