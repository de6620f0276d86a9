"""fio (3.33) run with ``--output-format=json``: one entry per job section.

The role runs its job sections one after another (``stonewall``) with ``group_reporting``,
so a section of ``numjobs=8`` is one entry of ``jobs`` whose numbers are the sum of its
eight processes. The input is the ``ansible.builtin.command`` result of that run (``rc``,
``stdout``, ``stderr``); fio sometimes prints lines before its JSON on stdout (``fio:
terminating on signal 15``, ``fio: pid=..., err=22/...``), so the JSON is looked for from
the first line that opens an object.

Metrics (benchmark ``fio``), named ``<job>.<metric>``:

- ``<job>.mb_s`` (MB/s, 1 MB = 1e6 bytes, from ``bw_bytes``) and ``<job>.iops`` (IOPS):
  the job's total over the directions it does (read + write for a mixed job);
- ``<job>.clat_mean_us``, ``<job>.clat_p50_us``, ``<job>.clat_p99_us``,
  ``<job>.clat_p99_9_us`` (us, completion latency ``clat_ns``, lower is better): for a
  job that only reads or only writes;
- for a job that reads and writes (``rw=randrw``, e.g. ``mixed``), the same per direction
  with a ``read_`` / ``write_`` prefix: ``mixed.read_mb_s``, ``mixed.read_iops``,
  ``mixed.read_clat_p99_us``, ``mixed.write_iops``, ... (latency percentiles of the two
  directions cannot be combined, so a mixed job has no unprefixed latency).

Every measurement carries ``params`` of its own job: ``{"job", "rw", "bs", "iodepth",
"numjobs"}`` (and ``rwmixread``), so the sweep over queue depths reads from the samples.
``observed`` holds fio's version, the global options it reports (size in bytes, runtime,
ramp_time, direct, ioengine, filename) and per job the bytes moved, the milliseconds
measured and the number of I/Os per direction.
"""

from __future__ import annotations

import json
import os
from typing import Any

from .common import ParseError, measurement

DIRECTIONS = ("read", "write")
# fio's rw= values, by the directions they do (fio's default is rw=read)
_RW_DIRECTIONS: dict[str, tuple[str, ...]] = {
    "read": ("read",),
    "randread": ("read",),
    "write": ("write",),
    "randwrite": ("write",),
    "rw": DIRECTIONS,
    "readwrite": DIRECTIONS,
    "randrw": DIRECTIONS,
}
# percentile keys of clat_ns in fio's JSON -> metric suffix
PERCENTILES = {"50.000000": "p50", "99.000000": "p99", "99.900000": "p99_9"}


def _fio_json(stdout: str) -> dict[str, Any]:
    """fio's JSON report in stdout, after whatever fio printed before it."""
    decoder = json.JSONDecoder()
    starts = [i for i, ch in enumerate(stdout) if ch == "{" and (i == 0 or stdout[i - 1] == "\n")]
    if not starts:
        starts = [stdout.find("{")] if "{" in stdout else []
    for start in starts:
        try:
            report, _ = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            continue
        if isinstance(report, dict) and "fio version" in report:
            return report
    excerpt = stdout.strip()[:200]
    raise ParseError(
        f"fio: no JSON report in the output (--output-format=json): {excerpt!r}"
        if excerpt
        else "fio: empty output, no JSON report"
    )


def _problem_lines(result: dict[str, Any]) -> str:
    """fio's own error lines (``fio: ...``, ``timeout: ...``), for a failure message."""
    lines: list[str] = []
    for stream in ("stderr", "stdout"):
        for line in str(result.get(stream) or "").splitlines():
            line = line.strip()
            if line and not line.startswith(("{", "}", "[", "]", '"')) and line not in lines:
                lines.append(line)
            if len(lines) >= 3:
                return "; ".join(lines)[:400]
    return "; ".join(lines)[:400]


def _number(section: dict[str, Any], key: str, where: str) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(f"fio: {where} has no number {key!r} (got {value!r})")
    return float(value)


def _directions(job: dict[str, Any], global_options: dict[str, Any]) -> tuple[str, ...]:
    rw = str(job.get("job options", {}).get("rw") or global_options.get("rw") or "read")
    mode = rw.split(":", 1)[0]  # rw=randread:8 (an offset modifier) is still randread
    if mode not in _RW_DIRECTIONS:
        raise ParseError(f"fio: job {job.get('jobname')!r} has an unknown rw={rw!r}")
    return _RW_DIRECTIONS[mode]


def _check_rc(result: dict[str, Any]) -> None:
    rc = result.get("rc")
    if rc in (124, 137) or (isinstance(rc, int) and rc < 0):
        how = {124: "TERM", 137: "KILL"}.get(rc, f"signal {-rc}" if isinstance(rc, int) else "?")
        raise ParseError(
            f"fio: killed by the cell time limit or a signal (rc={rc}, {how}); "
            "its report, if any, covers a cut-short run"
        )
    if rc != 0:
        detail = _problem_lines(result)
        raise ParseError(f"fio exited {rc}" + (f": {detail}" if detail else ""))


def parse_fio(result: dict[str, Any], expected_jobs: list[str]) -> dict[str, Any]:
    """Measurements of every expected job of one fio run (see the module docstring)."""
    if not isinstance(result, dict):
        raise ParseError(f"fio: expected the command result (rc, stdout), got {type(result)}")
    if not expected_jobs:
        raise ParseError("fio: no expected jobs given")
    _check_rc(result)
    report = _fio_json(str(result.get("stdout") or ""))
    jobs = report.get("jobs")
    if not isinstance(jobs, list) or not jobs:
        raise ParseError("fio: the report has no jobs")
    global_options = report.get("global options") or {}

    by_name: dict[str, dict[str, Any]] = {}
    for job in jobs:
        if not isinstance(job, dict):
            raise ParseError(f"fio: a job of the report is not an object: {job!r:.80}")
        name = job.get("jobname")
        if name in by_name:
            raise ParseError(
                f"fio: job {name!r} reported more than once (group_reporting off, "
                "or two sections with one name)"
            )
        by_name[str(name)] = job
    missing = [name for name in expected_jobs if name not in by_name]
    if missing:
        raise ParseError(
            f"fio: job(s) {', '.join(missing)} missing from the report "
            f"(it has {', '.join(by_name)})"
        )

    out: list[dict[str, Any]] = []
    observed_jobs: dict[str, Any] = {}
    for name in expected_jobs:
        job = by_name[name]
        error = job.get("error")
        if error != 0:
            reason = os.strerror(error) if isinstance(error, int) and error > 0 else "?"
            raise ParseError(
                f"fio: job {name!r} failed with error {error!r} ({reason}): "
                f"{_problem_lines(result)}"
            )
        options = job.get("job options", {})
        directions = _directions(job, global_options)
        params: dict[str, Any] = {"job": name}
        for key in ("rw", "bs", "iodepth", "numjobs", "rwmixread"):
            value = options.get(key, global_options.get(key))
            if value is not None:
                params[key] = int(value) if key in ("iodepth", "numjobs", "rwmixread") else value
        observed_jobs[name] = {}

        total_bw = total_iops = 0.0
        for direction in directions:
            where = f"job {name!r} {direction}"
            stats = job.get(direction)
            if not isinstance(stats, dict):
                raise ParseError(f"fio: {where}: no statistics")
            io_bytes = _number(stats, "io_bytes", where)
            ios = _number(stats, "total_ios", where)
            if io_bytes <= 0 or ios <= 0:
                raise ParseError(f"fio: {where}: no I/O done (io_bytes={io_bytes:.0f})")
            bw = _number(stats, "bw_bytes", where) / 1e6
            iops = _number(stats, "iops", where)
            clat = stats.get("clat_ns")
            if not isinstance(clat, dict):
                raise ParseError(f"fio: {where}: no clat_ns")
            percentiles = clat.get("percentile") or {}
            prefix = f"{name}.{direction}_" if len(directions) > 1 else f"{name}."
            if len(directions) > 1:
                out.append(measurement("fio", f"{prefix}mb_s", bw, "MB/s", params=params))
                out.append(measurement("fio", f"{prefix}iops", iops, "IOPS", params=params))
            mean_us = _number(clat, "mean", f"{where} clat_ns") / 1000
            out.append(
                measurement("fio", f"{prefix}clat_mean_us", mean_us, "us", False, params=params)
            )
            for key, label in PERCENTILES.items():
                if key not in percentiles:
                    raise ParseError(f"fio: {where}: no {label} in clat_ns percentiles")
                value_us = _number(percentiles, key, f"{where} clat_ns percentile") / 1000
                out.append(
                    measurement(
                        "fio", f"{prefix}clat_{label}_us", value_us, "us", False, params=params
                    )
                )
            total_bw += bw
            total_iops += iops
            observed_jobs[name][direction] = {
                "io_bytes": int(io_bytes),
                "total_ios": int(ios),
                "runtime_ms": stats.get("runtime"),
            }
        out.append(measurement("fio", f"{name}.mb_s", total_bw, "MB/s", params=params))
        out.append(measurement("fio", f"{name}.iops", total_iops, "IOPS", params=params))

    observed: dict[str, Any] = {
        "fio_version": report.get("fio version"),
        "fio_global_options": {k: global_options[k] for k in sorted(global_options)},
        "fio_jobs": observed_jobs,
    }
    for key, option in (
        ("fio_size_bytes", "size"),
        ("fio_runtime_s", "runtime"),
        ("fio_ramp_s", "ramp_time"),
    ):
        value = str(global_options.get(option, ""))
        if value.isdigit():
            observed[key] = int(value)
    return {"measurements": out, "observed": observed}
