"""HPC Challenge (hpcc 1.5) output file ``hpccoutf.txt``: its summary section.

HPCC prints ``Begin of Summary section.`` then ``key=value`` lines, e.g.
``HPL_Tflops=0.0893732``, ``StarSTREAM_Triad=28.9878`` (GB/s per process, all processes
running at once), ``StarRandomAccess_GUPs=0.0839`` (per process, all at once), ``CommWorldProcs=2``.
"""

from __future__ import annotations

import re
from typing import Any

from .common import ParseError, measurement

_BEGIN = "Begin of Summary section."
_END = "End of Summary section."
_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")

STREAM_KERNELS = ("copy", "scale", "add", "triad")


def summary(text: str) -> dict[str, str]:
    """The key=value pairs of the summary section; ParseError when absent or cut short."""
    start = text.find(_BEGIN)
    if start < 0:
        raise ParseError("hpcc: no 'Begin of Summary section.' in output (run died early?)")
    end = text.find(_END, start)
    if end < 0:
        raise ParseError("hpcc: summary section is not terminated (output cut short?)")
    pairs: dict[str, str] = {}
    for line in text[start + len(_BEGIN) : end].splitlines():
        match = _LINE.match(line.strip())
        if match:
            pairs[match.group(1)] = match.group(2).strip()
    return pairs


def _number(pairs: dict[str, str], key: str) -> float:
    if key not in pairs:
        raise ParseError(f"hpcc: summary has no {key}")
    try:
        return float(pairs[key])
    except ValueError:
        raise ParseError(f"hpcc: {key}={pairs[key]!r} is not a number") from None


def check_ran_as_asked(pairs: dict[str, str], expected: dict[str, Any]) -> None:
    """HPCC falls back to built-in sizes when it rejects hpccinf.txt, and still reports
    Success=1: a run is only valid if it ran the N and process count it was given."""
    for key, summary_key in (("n", "HPL_N"), ("processes", "CommWorldProcs")):
        if key in expected and int(_number(pairs, summary_key)) != int(expected[key]):
            raise ParseError(
                f"hpcc: ran with {summary_key}={pairs[summary_key]} but was asked for "
                f"{expected[key]} (hpccinf.txt rejected; see HPL ERROR lines in the output)"
            )


def parse_hpcc(
    text: str, benchmarks: list[str] | None = None, expected: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Measurements for the requested benchmarks (linpack, stream, randomaccess)."""
    wanted = benchmarks or ["linpack", "stream", "randomaccess"]
    pairs = summary(text)
    check_ran_as_asked(pairs, expected or {})
    if pairs.get("Success") != "1" or pairs.get("Failure", "0") != "0":
        raise ParseError(
            f"hpcc: run reported Success={pairs.get('Success')} Failure={pairs.get('Failure')}"
            " (a residual or verification check failed)"
        )
    procs = int(_number(pairs, "CommWorldProcs"))
    out: list[dict[str, Any]] = []
    observed: dict[str, Any] = {"processes": procs}
    if "linpack" in wanted:
        out.append(measurement("linpack", "gflops", _number(pairs, "HPL_Tflops") * 1000, "GFLOPS"))
        observed["hpl_n"] = int(_number(pairs, "HPL_N"))
        observed["hpl_nb"] = int(_number(pairs, "HPL_NB"))
        observed["hpl_seconds"] = _number(pairs, "HPL_time")
    if "stream" in wanted:
        for kernel in STREAM_KERNELS:
            per_process = _number(pairs, f"StarSTREAM_{kernel.capitalize()}")
            out.append(measurement("stream", kernel, per_process * procs, "GB/s"))
        out.append(
            measurement("stream", "triad_single", _number(pairs, "SingleSTREAM_Triad"), "GB/s")
        )
        observed["stream_vector_elements_per_process"] = int(_number(pairs, "STREAM_VectorSize"))
    if "randomaccess" in wanted:
        # Like the study's OpenMP GUPS: every CPU updating its own table at once (HPCC's
        # "Star" run), summed; the MPI-distributed table and a single process beside it.
        star = _number(pairs, "StarRandomAccess_GUPs") * procs
        out.append(measurement("randomaccess", "gups", star, "GUPS"))
        out.append(
            measurement("randomaccess", "gups_mpi", _number(pairs, "MPIRandomAccess_GUPs"), "GUPS")
        )
        out.append(
            measurement(
                "randomaccess", "gups_single", _number(pairs, "SingleRandomAccess_GUPs"), "GUPS"
            )
        )
        observed["randomaccess_table_words"] = int(_number(pairs, "MPIRandomAccess_N"))
    return {"measurements": out, "observed": observed}
