"""The plan of an experiment: cells (host x target x job x repetition) in run order.

A *job* is one tool run: ``compress``, or ``hpcc`` covering linpack, stream and
randomaccess at once (``hpcc.mode: shared``) or one HPCC run per benchmark
(``separate``). Repetitions are interleaved: every round runs each (environment, job)
pair once, in an order shuffled with the spec's seed, so slow drifts of the machine
spread over all environments instead of biasing one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from .benchmarks import BENCHMARKS, ENVIRONMENTS, LOCAL
from .spec import Spec, SpecError


@dataclass(frozen=True)
class Job:
    name: str
    role: str
    benchmarks: tuple[str, ...]
    kind: str = LOCAL


def jobs(spec: Spec) -> list[Job]:
    requested = list(spec.data["benchmarks"])
    out: list[Job] = []
    grouped: dict[str, list[str]] = {}
    for name in requested:
        bench = BENCHMARKS[name]
        if bench.group == "hpcc" and spec.data["hpcc"]["mode"] == "shared":
            grouped.setdefault(bench.group, []).append(name)
        else:
            out.append(Job(name, bench.role, (name,), bench.kind))
    for group, names in grouped.items():
        out.append(Job(group, BENCHMARKS[names[0]].role, tuple(names)))
    return out


def target_name(host: str, env: str, variant: str) -> str:
    return f"{host}--{env}" + (f"--{variant}" if variant else "")


def load_target_name(load_host: str) -> str:
    """The native userland of a load host, where the clients of client-server benchmarks run."""
    return f"{load_host}--load"


def make_plan(
    spec: Spec, hosts: list[str], load_for: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every cell of the experiment, in the order each host runs them.

    ``load_for`` maps a host under test to the host driving its load (default: itself).
    """
    load_for = load_for or {}
    rng = random.Random(spec.data["seed"])
    warmup = int(spec.data["warmup"])
    rounds = [(r, True) for r in range(1, warmup + 1)]
    rounds += [(r, False) for r in range(1, int(spec.data["repetitions"]) + 1)]
    all_jobs = jobs(spec)
    reps = _job_repetitions(spec, all_jobs)
    excluded = _excluded(spec)
    pairs = [
        (env, variant, job)
        for env, variant in spec.environments
        for job in all_jobs
        if not any(
            (env_label(env, variant), b) in excluded or (env, b) in excluded for b in job.benchmarks
        )
    ]
    emulated = (spec.data.get("emulated") or {}).get("benchmarks") or {}
    cells: list[dict[str, Any]] = []
    for host in sorted(hosts):
        seq = 0
        for repetition, is_warmup in rounds:
            order = list(pairs)
            if spec.data["order"] == "randomized":
                rng.shuffle(order)
            for env, variant, job in order:
                if not is_warmup and repetition > reps[job.name]:
                    continue
                seq += 1
                target = target_name(host, env, variant)
                rep_tag = f"w{repetition}" if is_warmup else f"r{repetition}"
                cells.append(
                    {
                        "id": f"{target}--{job.name}--{rep_tag}",
                        "seq": seq,
                        "host": host,
                        "target": target,
                        "env": env,
                        "variant": variant,
                        "env_role": ENVIRONMENTS[env],
                        "job": job.name,
                        "role": job.role,
                        "kind": job.kind,
                        "benchmarks": list(job.benchmarks),
                        "repetition": repetition,
                        "warmup": is_warmup,
                        "params": {b: spec.data["benchmarks"][b] or {} for b in job.benchmarks},
                        "emulated_params": {
                            b: emulated[b] for b in job.benchmarks if b in emulated
                        },
                        "hpcc": spec.data["hpcc"],
                        "timeout": int(spec.data["cell_timeout"]),
                        **_client_fields(job, host, load_for.get(host, host)),
                    }
                )
    return cells


def env_label(env: str, variant: str) -> str:
    return f"{env}/{variant}" if variant else env


def _job_repetitions(spec: Spec, all_jobs: list[Job]) -> dict[str, int]:
    """Measured runs per job: the spec's benchmark_repetitions, else its repetitions."""
    default = int(spec.data["repetitions"])
    chosen = spec.data.get("benchmark_repetitions") or {}
    unknown = sorted(set(chosen) - set(spec.data["benchmarks"]))
    if unknown:
        raise SpecError(
            f"benchmark_repetitions: {', '.join(unknown)} not among the spec's benchmarks "
            f"({', '.join(spec.data['benchmarks'])})"
        )
    return {job.name: max(int(chosen.get(b, default)) for b in job.benchmarks) for job in all_jobs}


def _excluded(spec: Spec) -> set[tuple[str, str]]:
    pairs = {(str(e["env"]), str(e["benchmark"])) for e in spec.data.get("exclude") or []}
    envs = {env_label(e, v) for e, v in spec.environments} | {e for e, _ in spec.environments}
    bad = sorted(f"{e}/{b}" for e, b in pairs if e not in envs or b not in spec.data["benchmarks"])
    if bad:
        raise SpecError(f"exclude: {', '.join(bad)}: not an environment and benchmark of this spec")
    return pairs


def _client_fields(job: Job, host: str, load_host: str) -> dict[str, Any]:
    if job.kind == LOCAL:
        return {}
    return {
        "load_host": load_host,
        "client": load_target_name(load_host),
        "same_host": load_host == host,
    }


def targets(spec: Spec) -> list[dict[str, str]]:
    """The environments every host gets, with the role that creates them."""
    return [
        {"env": env, "variant": variant, "role": ENVIRONMENTS[env]}
        for env, variant in spec.environments
    ]
