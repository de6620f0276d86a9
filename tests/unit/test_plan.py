from __future__ import annotations

from collections import Counter

from isobench import spec
from isobench.plan import jobs, make_plan, target_name

CPU = ("compress", "linpack", "stream", "randomaccess")
IO_NET_APP = ("fio", "nuttcp", "netlat", "redis", "mysql")


def _spec(**over: object) -> spec.Spec:
    base = spec.load("quick")
    # the profile's own repetition overrides and exclusions name its environments and
    # benchmarks: a test that changes those sets its own
    plain = {k: v for k, v in base.data.items() if k not in ("benchmark_repetitions", "exclude")}
    data = {**plain, **over}
    return spec.Spec(data=data, path=None, text=base.text)


def test_shared_hpcc_is_one_job() -> None:
    names = {j.name: j for j in jobs(_spec())}
    assert set(names) == {"compress", "hpcc", *IO_NET_APP}
    assert names["hpcc"].benchmarks == ("linpack", "stream", "randomaccess")


def test_separate_hpcc_jobs() -> None:
    s = _spec(hpcc={"mode": "separate", "nb": 192, "processes": "auto"})
    assert {j.name for j in jobs(s)} == {
        "compress",
        "linpack",
        "stream",
        "randomaccess",
        *IO_NET_APP,
    }


def test_every_cell_once_per_repetition() -> None:
    s = _spec(environments=["native", "docker-host"], repetitions=3, warmup=1)
    s.data["benchmarks"] = {k: s.data["benchmarks"][k] for k in CPU}
    plan = make_plan(s, ["b", "a"])
    ids = [c["id"] for c in plan]
    assert len(ids) == len(set(ids)) == 2 * 2 * 2 * 4  # hosts x envs x jobs x (3 + 1 warm-up)
    per = Counter((c["host"], c["env"], c["job"]) for c in plan if not c["warmup"])
    assert set(per.values()) == {3}
    assert sum(c["warmup"] for c in plan) == 2 * 2 * 2


def test_rounds_interleave_environments() -> None:
    s = _spec(environments=["native", "docker-host", "docker-nat"], repetitions=4)
    plan = [c for c in make_plan(s, ["h"])]
    # round k holds repetition k of every (env, job) before any repetition k+1
    reps = [c["repetition"] for c in plan]
    assert reps == sorted(reps)


def test_order_is_seeded() -> None:
    s = _spec(environments=["native", "docker-host", "docker-nat"], repetitions=5)
    assert make_plan(s, ["h"]) == make_plan(s, ["h"])
    other = _spec(environments=["native", "docker-host", "docker-nat"], repetitions=5, seed=99)
    assert [c["id"] for c in make_plan(s, ["h"])] != [c["id"] for c in make_plan(other, ["h"])]


def test_sequential_order() -> None:
    s = _spec(environments=["native", "docker-host"], order="sequential", repetitions=2)
    plan = make_plan(s, ["h"])
    assert [c["env"] for c in plan[:2]] == ["native", "native"]


def test_target_names() -> None:
    assert target_name("lab1", "docker-nat", "") == "lab1--docker-nat"
    assert target_name("lab1", "kvm-tuned", "raw") == "lab1--kvm-tuned--raw"


def test_client_server_cells_name_their_load_host() -> None:
    s = _spec(environments=["native", "kvm-tuned"], repetitions=1)
    plan = make_plan(s, ["sut1", "sut2"], {"sut1": "load1", "sut2": "sut2"})
    by_id = {c["id"]: c for c in plan}
    redis = by_id["sut1--kvm-tuned--redis--r1"]
    assert redis["kind"] == "client-server"
    assert (redis["load_host"], redis["client"], redis["same_host"]) == (
        "load1",
        "load1--load",
        False,
    )
    assert by_id["sut2--native--nuttcp--r1"]["same_host"] is True
    assert by_id["sut2--native--nuttcp--r1"]["client"] == "sut2--load"
    local = by_id["sut1--native--fio--r1"]
    assert local["kind"] == "local" and "client" not in local


def test_benchmark_repetitions_and_exclusions() -> None:
    s = _spec(
        environments=["native", "docker-host", "docker-nat"],
        repetitions=3,
        benchmark_repetitions={"mysql": 1, "linpack": 2},
        exclude=[{"env": "docker-nat", "benchmark": "compress"}],
    )
    plan = make_plan(s, ["h"])
    per = Counter((c["env"], c["job"]) for c in plan)
    assert per[("native", "mysql")] == 1
    assert per[("native", "hpcc")] == 3  # stream and randomaccess keep 3: the job takes the max
    assert per[("native", "fio")] == 3
    assert ("docker-nat", "compress") not in per and per[("docker-host", "compress")] == 3


def test_bad_repetitions_or_exclusions_are_named() -> None:
    import pytest

    with pytest.raises(spec.SpecError, match="benchmark_repetitions: nope"):
        make_plan(_spec(benchmark_repetitions={"nope": 1}), ["h"])
    with pytest.raises(spec.SpecError, match="exclude: kvm-tuned/compress"):
        make_plan(
            _spec(environments=["native"], exclude=[{"env": "kvm-tuned", "benchmark": "compress"}]),
            ["h"],
        )
