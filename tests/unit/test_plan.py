from __future__ import annotations

from collections import Counter

from isobench import spec
from isobench.plan import jobs, make_plan, target_name


def _spec(**over: object) -> spec.Spec:
    base = spec.load("quick")
    data = {**base.data, **over}
    return spec.Spec(data=data, path=None, text=base.text)


def test_shared_hpcc_is_one_job() -> None:
    names = {j.name: j for j in jobs(_spec())}
    assert set(names) == {"compress", "hpcc"}
    assert names["hpcc"].benchmarks == ("linpack", "stream", "randomaccess")


def test_separate_hpcc_jobs() -> None:
    s = _spec(hpcc={"mode": "separate", "nb": 192, "processes": "auto"})
    assert {j.name for j in jobs(s)} == {"compress", "linpack", "stream", "randomaccess"}


def test_every_cell_once_per_repetition() -> None:
    s = _spec(environments=["native", "docker-host"], repetitions=3, warmup=1)
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
