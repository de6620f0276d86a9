"""Pool identical hosts: hosts whose hardware and software match are one population.

Per host (the default), every row of the report stands on its own. With pooling, the
samples of hosts with the same CPU model, topology, memory (to the GiB), kernel and
distribution are grouped under one name, ``host1+host2``, so their repetitions add up.
Whether two hosts are identical is read from the provenance the run recorded, never
assumed from their names.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

IDENTITY = (
    "cpu_model",
    "sockets",
    "cores_per_socket",
    "threads_per_core",
    "vcpus",
    "kernel",
    "distribution",
)


def _identity(facts: dict[str, Any]) -> tuple[Any, ...]:
    mem_gib = round(float(facts.get("mem_mb") or 0) / 1024)
    return (*(str(facts.get(k, "")) for k in IDENTITY), mem_gib)


def host_pools(provenance: dict[str, dict[str, Any]]) -> dict[str, str]:
    """host -> pool name, from each host's facts in the provenance records."""
    by_host: dict[str, tuple[Any, ...]] = {}
    for record in provenance.values():
        host, facts = record.get("host"), record.get("host_facts")
        if isinstance(host, str) and isinstance(facts, dict):
            by_host.setdefault(host, _identity(facts))
    groups: dict[tuple[Any, ...], list[str]] = {}
    for host, identity in sorted(by_host.items()):
        groups.setdefault(identity, []).append(host)
    return {host: "+".join(hosts) for hosts in groups.values() for host in hosts}


def pool_frame(frame: pd.DataFrame, pools: dict[str, str]) -> pd.DataFrame:
    """The samples with ``host`` replaced by its pool (hosts without provenance stay)."""
    if frame.empty or not pools:
        return frame
    hosts = frame["host"].astype(str)
    pooled = hosts.map(lambda h: pools.get(h, h))
    return frame.assign(host=pooled.astype("category"))


def pool_note(pools: dict[str, str]) -> str | None:
    merged = sorted({p for p in pools.values() if "+" in p})
    if not merged:
        return None
    return (
        "Hosts pooled (identical CPU, topology, memory, kernel and distribution in their "
        f"provenance): {', '.join(merged)}; their samples form one group per environment."
    )
