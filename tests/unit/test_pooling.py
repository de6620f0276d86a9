from __future__ import annotations

import pandas as pd

from isobench.pooling import host_pools, pool_frame, pool_note

FACTS = {
    "cpu_model": "AMD EPYC 7B13",
    "sockets": 1,
    "cores_per_socket": 2,
    "threads_per_core": 1,
    "vcpus": 2,
    "mem_mb": 24105,
    "kernel": "6.1.0",
    "distribution": "Debian 12",
}


def _prov(host: str, **over: object) -> dict:
    return {"host": host, "host_facts": {**FACTS, **over}}


def test_identical_hosts_pool_and_different_ones_stay() -> None:
    provenance = {
        "a--native": _prov("a"),
        "a--docker-host": _prov("a"),
        "b--native": _prov("b", mem_mb=24200),  # same GiB
        "c--native": _prov("c", cpu_model="Intel Xeon"),
    }
    pools = host_pools(provenance)
    assert pools == {"a": "a+b", "b": "a+b", "c": "c"}
    frame = pd.DataFrame({"host": ["a", "b", "c"], "value": [1.0, 2.0, 3.0]})
    assert list(pool_frame(frame, pools)["host"].astype(str)) == ["a+b", "a+b", "c"]
    assert "a+b" in (pool_note(pools) or "")


def test_nothing_to_pool() -> None:
    pools = host_pools({"a--native": _prov("a"), "b--native": _prov("b", kernel="6.2")})
    assert pool_note(pools) is None
