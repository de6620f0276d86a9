"""The benchmarks isobench knows: one name everywhere (spec, roles, samples, report)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    role: str
    group: str | None = None  # benchmarks of one group can share a tool run
    description: str = ""


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("compress", "bench_compress", None, "parallel xz (pixz), MB/s"),
        Benchmark("linpack", "bench_hpcc", "hpcc", "HPL from HPCC with OpenBLAS, GFLOPS"),
        Benchmark("stream", "bench_hpcc", "hpcc", "HPCC STREAM Copy/Scale/Add/Triad, GB/s"),
        Benchmark("randomaccess", "bench_hpcc", "hpcc", "HPCC MPI RandomAccess, GUPS"),
    )
}

ENVIRONMENTS: dict[str, str] = {
    "native": "env_native",
    "docker-host": "env_docker",
    "docker-nat": "env_docker",
    "kvm-untuned": "env_kvm",
    "kvm-tuned": "env_kvm",
}
