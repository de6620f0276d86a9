"""Benchmark sizes derived from the target (CPUs, memory, last-level cache) by stated rules.

Every derived value comes back with the rule that produced it, and that record goes into
every sample's ``params``, so a reader can see why N was 32768 on one host and 45000 on
another.
"""

from __future__ import annotations

import math
from typing import Any

GIB = 1024**3

# The study's host and sizes (Felter et al. 2015, see README "Profiles").
STUDY_MEMORY_BYTES = 256 * GIB
STUDY_HPL_N = 45000
STUDY_STREAM_ELEMENTS = 1_650_163_200  # per array
STUDY_RA_TABLE_WORDS = 2**33


class SizingError(ValueError):
    """Parameters that cannot be derived for a target."""


def _target_int(target: dict[str, Any], key: str) -> int:
    try:
        value = int(target[key])
    except (KeyError, TypeError, ValueError):
        raise SizingError(f"target {target.get('name', '?')} has no usable {key!r}") from None
    if value <= 0:
        raise SizingError(f"target {target.get('name', '?')}: {key}={value} is not positive")
    return value


def threads(value: Any, target: dict[str, Any]) -> int:
    return _target_int(target, "cpus") if value in (None, "auto") else int(value)


def process_grid(processes: int) -> tuple[int, int]:
    """HPL's P x Q: the most square grid with P <= Q."""
    p = math.isqrt(processes)
    while processes % p:
        p -= 1
    return p, processes // p


def hpl_n(value: Any, mem_bytes: int) -> tuple[int, str]:
    if value == "paper":
        scaled = STUDY_HPL_N * math.sqrt(min(1.0, mem_bytes / STUDY_MEMORY_BYTES))
        n = int(scaled)
        return n, (
            f"paper: N={STUDY_HPL_N} on {STUDY_MEMORY_BYTES // GIB} GiB, scaled by "
            f"sqrt(memory share) to {n} for {mem_bytes / GIB:.1f} GiB"
        )
    return int(value), "spec"


def stream_n(value: Any, llc_factor: float, llc_bytes: int, mem_bytes: int) -> tuple[int, str]:
    """HPCC gives each of 3 STREAM arrays N^2/3 elements in all (over all processes)."""
    floor_elems = math.ceil(llc_factor * llc_bytes / 8)
    if value == "paper":
        share = STUDY_STREAM_ELEMENTS * 3 * 8 / STUDY_MEMORY_BYTES
        elems = min(STUDY_STREAM_ELEMENTS, int(share * mem_bytes / 24))
        rule = (
            f"paper: {STUDY_STREAM_ELEMENTS} elements per array on 256 GiB "
            f"({share:.1%} of memory), here {elems}"
        )
    elif value in (None, "auto"):
        elems, rule = floor_elems, f"auto: {llc_factor:g} x LLC ({llc_bytes} B) per array"
    else:
        elems, rule = int(value), "spec"
    if llc_factor == 0:
        rule += "; no LLC floor (emulated CPU)"
    elif elems < floor_elems:
        elems, rule = floor_elems, rule + f"; raised to {llc_factor:g} x LLC"
    return math.ceil(math.sqrt(3 * elems)), rule + f"; {elems} elements per array"


def randomaccess_n(value: Any, mem_bytes: int) -> tuple[int | None, str]:
    """HPCC's table is the largest power of two of words within half of N^2 doubles."""
    if value in (None, "auto"):
        return None, "auto: table follows the HPCC run's memory (half of N^2 words)"
    if value == "paper":
        limit = min(STUDY_RA_TABLE_WORDS, mem_bytes // 4 // 8)
        words = 2 ** int(math.log2(limit))
        rule = f"paper: 2^33 words = a quarter of 256 GiB; here 2^{int(math.log2(words))}"
    else:
        words, rule = int(value), "spec"
    return math.ceil(math.sqrt(2 * words)), rule + f"; {words} words"


def derive_hpcc(
    benchmarks: list[str],
    spec_params: dict[str, Any],
    hpcc: dict[str, Any],
    target: dict[str, Any],
    emulated: bool = False,
) -> dict[str, Any]:
    mem_bytes = _target_int(target, "mem_mb") * 1024 * 1024
    llc = _target_int(target, "llc_bytes")
    procs = threads(hpcc.get("processes", "auto"), target)
    nb = int(hpcc.get("nb", 192))
    needs: dict[str, tuple[int, str]] = {}
    if "linpack" in benchmarks:
        needs["linpack"] = hpl_n(spec_params.get("linpack", {}).get("n", 1000), mem_bytes)
    if "stream" in benchmarks:
        sp = spec_params.get("stream", {})
        # An emulated CPU (TCG) has no real cache hierarchy to defeat: no LLC floor there.
        factor = 0.0 if emulated else float(sp.get("llc_factor", 4))
        needs["stream"] = stream_n(sp.get("array_elements", "auto"), factor, llc, mem_bytes)
    if "randomaccess" in benchmarks:
        ra_n, ra_rule = randomaccess_n(
            spec_params.get("randomaccess", {}).get("table_words", "auto"), mem_bytes
        )
        if ra_n is not None:
            needs["randomaccess"] = (ra_n, ra_rule)
        elif len(benchmarks) == 1:
            needs["randomaccess"] = (1000 * procs, ra_rule + " (alone: N=1000 per process)")
    if not needs:
        raise SizingError(f"no HPCC size for {benchmarks}")
    n = max(v[0] for v in needs.values())
    if 8 * n * n > 0.8 * mem_bytes:
        raise SizingError(
            f"HPCC N={n} needs {8 * n * n / GIB:.1f} GiB, over 80% of the target's "
            f"{mem_bytes / GIB:.1f} GiB; lower the sizes in the spec"
        )
    p, q = process_grid(procs)
    return {
        "n": n,
        "nb": nb,
        "processes": procs,
        "p": p,
        "q": q,
        "derivation": {k: {"n": v[0], "rule": v[1]} for k, v in needs.items()},
    }


def derive_compress(spec_params: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {
        "threads": threads(spec_params.get("threads", "auto"), target),
        "level": int(spec_params.get("level", 2)),
        "input_mb": int(spec_params.get("input_mb", 64)),
        "input_seed": int(spec_params.get("input_seed", 1)),
    }


# Parameters of the I/O, network and application benchmarks that the spec may leave out:
# the study's values, or the closest a short run allows (see README "Profiles").
DEFAULTS: dict[str, dict[str, Any]] = {
    "fio": {
        "size_mb": 1024,
        "runtime_s": 60,
        "ramp_s": 0,
        "jobs": [
            "seqread",
            "seqwrite",
            "randread",
            "randwrite",
            "randread-qd128",
            "randwrite-qd128",
            "mixed",
        ],
        "direct": True,
        "ioengine": "libaio",
    },
    "nuttcp": {"duration_s": 10, "directions": ["tx", "rx"]},
    "netlat": {
        "duration_s": 60,
        "request_bytes": 100,
        "response_bytes": 200,
        "protocols": ["tcp", "udp"],
        "tool": "auto",
    },
    "redis": {
        "connections": [1, 2, 3, 4, 5, 10, 15, 20, 30, 40, 50],
        "requests": 500000,
        "keys": 100000,
        "value_bytes": 50,
        "tests": ["get", "set"],
        "pipeline": 1,
    },
    "mysql": {
        "table_rows": 2_000_000,
        "tables": 1,
        "threads": list(range(10, 291, 20)),
        "duration_s": 60,
        "mode": "read-only",
        "buffer_pool_mb": 3072,
    },
}


def cell_params(cell: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The spec's parameters for the cell, with the ``emulated`` sizes on a TCG target."""
    if target.get("accel") != "tcg":
        return cell["params"]
    overrides = cell.get("emulated_params") or {}
    return {b: {**p, **overrides.get(b, {})} for b, p in cell["params"].items()}


def derive(cell: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The parameters a benchmark role runs with, for one cell on one target."""
    role = cell["role"]
    params = cell_params(cell, target)
    emulated = target.get("accel") == "tcg"
    if role == "bench_hpcc":
        derived = derive_hpcc(cell["benchmarks"], params, cell.get("hpcc", {}), target, emulated)
    elif role == "bench_compress":
        derived = derive_compress(params.get("compress", {}), target)
    elif len(cell["benchmarks"]) == 1 and cell["benchmarks"][0] in DEFAULTS:
        name = cell["benchmarks"][0]
        derived = {**DEFAULTS[name], **(params.get(name) or {})}
    else:
        raise SizingError(f"no sizing rule for role {role!r}")
    if emulated:
        derived["emulated_sizes"] = bool(cell.get("emulated_params"))
    return derived
