"""The benchmarks isobench knows: one name everywhere (spec, roles, samples, report)."""

from __future__ import annotations

from dataclasses import dataclass

LOCAL = "local"  # the role runs on the target only
CLIENT_SERVER = "client-server"  # server in the target, client natively on the load host


@dataclass(frozen=True)
class Benchmark:
    name: str
    role: str
    group: str | None = None  # benchmarks of one group can share a tool run
    description: str = ""
    kind: str = LOCAL


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        Benchmark("compress", "bench_compress", None, "parallel xz (pixz), MB/s"),
        Benchmark("linpack", "bench_hpcc", "hpcc", "HPL from HPCC with OpenBLAS, GFLOPS"),
        Benchmark("stream", "bench_hpcc", "hpcc", "HPCC STREAM Copy/Scale/Add/Triad, GB/s"),
        Benchmark("randomaccess", "bench_hpcc", "hpcc", "HPCC MPI RandomAccess, GUPS"),
        Benchmark("fio", "bench_fio", None, "fio direct I/O jobs of the study, MB/s, IOPS, us"),
        Benchmark(
            "nuttcp", "bench_nuttcp", None, "bulk TCP both directions, Gbit/s", CLIENT_SERVER
        ),
        Benchmark(
            "netlat",
            "bench_netlat",
            None,
            "TCP/UDP request-response round trip (netperf, else sockperf), us",
            CLIENT_SERVER,
        ),
        Benchmark(
            "redis", "bench_redis", None, "redis-benchmark GET/SET sweep, ops/s", CLIENT_SERVER
        ),
        Benchmark(
            "mysql",
            "bench_mysql",
            None,
            "MariaDB with sysbench OLTP thread sweep, transactions/s",
            CLIENT_SERVER,
        ),
    )
}

ENVIRONMENTS: dict[str, str] = {
    "native": "env_native",
    "docker-host": "env_docker",
    "docker-nat": "env_docker",
    "kvm-untuned": "env_kvm",
    "kvm-tuned": "env_kvm",
}
