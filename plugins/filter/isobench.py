"""Filters that expose isobench's Python code (parsers, sizing, samples) to the roles."""

from __future__ import annotations

import json
from typing import Any

from ansible.errors import AnsibleFilterError

from isobench import parsers, plan, samples, sizing


def isobench_parse(output: Any, tool: str, *args: Any) -> dict[str, Any]:
    try:
        return parsers.parse(tool, output, *args)
    except parsers.ParseError as exc:
        raise AnsibleFilterError(str(exc)) from None


def isobench_derive(cell: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    try:
        return sizing.derive(cell, target)
    except sizing.SizingError as exc:
        raise AnsibleFilterError(str(exc)) from None


def isobench_samples(
    parsed: dict[str, Any],
    cell: dict[str, Any],
    target: dict[str, Any],
    run: dict[str, Any],
    run_id: str,
) -> list[dict[str, Any]]:
    built = samples.build_samples(cell, target, parsed, run, run_id)
    for sample in built:
        errors = samples.sample_errors(sample)
        if errors:
            raise AnsibleFilterError(f"sample does not match the schema: {'; '.join(errors)}")
    return built


def isobench_target_entry(environment: dict[str, Any], host: str) -> dict[str, str]:
    """{name, env, variant} of the target an environment entry makes on a host."""
    return {
        "name": plan.target_name(host, environment["env"], environment.get("variant", "")),
        "env": environment["env"],
        "variant": environment.get("variant", ""),
    }


def isobench_target_death(state: dict[str, Any]) -> str:
    """Why a target is gone, from the result of its ``state`` command run on the host
    (``docker container inspect --format json`` or ``virsh domstate --reason``); '' when it
    is alive or nothing was asked."""
    if not state or "rc" not in state:
        return ""
    if state["rc"] != 0:
        return f"target gone: {str(state.get('stderr', '')).strip()[-200:]}"
    out = str(state.get("stdout", "")).strip()
    if out.startswith("["):
        try:
            info = json.loads(out)[0]["State"]
        except (ValueError, KeyError, IndexError, TypeError):
            return ""
        if info.get("Status") == "running":
            return ""
        oom = ", OOM-killed" if info.get("OOMKilled") else ""
        return f"container {info.get('Status')} (exit code {info.get('ExitCode')}{oom})"
    return "" if out.startswith("running") else f"guest {out}"


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "isobench_parse": isobench_parse,
            "isobench_derive": isobench_derive,
            "isobench_samples": isobench_samples,
            "isobench_target_entry": isobench_target_entry,
            "isobench_target_death": isobench_target_death,
        }
