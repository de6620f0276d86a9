"""Compression: pixz reads a deterministic input from the page cache and writes /dev/null.

pixz prints nothing on success; the measurement is the input size over the wall time
Ansible's command module recorded around the process (``delta``), so the "output" parsed
here is that result: rc, delta and the input size reported by ``stat``.
"""

from __future__ import annotations

from typing import Any

from .common import ParseError, measurement, parse_delta


def parse_compress(result: dict[str, Any], input_bytes: int) -> dict[str, Any]:
    rc = result.get("rc")
    if rc in (124, 137):
        raise ParseError(f"compress: pixz killed by the cell time limit (rc={rc})")
    if rc != 0:
        raise ParseError(f"compress: pixz exited {rc}: {str(result.get('stderr', ''))[-300:]}")
    if int(input_bytes) <= 0:
        raise ParseError(f"compress: input size {input_bytes!r} is not positive")
    seconds = parse_delta(str(result.get("delta", "")))
    if seconds <= 0:
        raise ParseError(f"compress: elapsed time {seconds} s is not positive")
    return {
        "measurements": [
            measurement("compress", "throughput", int(input_bytes) / 1e6 / seconds, "MB/s"),
            measurement("compress", "seconds", seconds, "s", higher_is_better=False),
        ],
        "observed": {"input_bytes": int(input_bytes), "seconds": seconds},
    }
