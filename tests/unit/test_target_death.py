"""The reason a failed cell gives when its target died, from the host's view of it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

_PLUGIN = Path(__file__).resolve().parents[2] / "plugins" / "filter" / "isobench.py"
_spec = importlib.util.spec_from_file_location("isobench_filter_plugin", _PLUGIN)
assert _spec and _spec.loader
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)
isobench_target_death = _module.isobench_target_death


def _docker(status: str, code: int, oom: bool = False) -> dict:
    state = {"Status": status, "ExitCode": code, "OOMKilled": oom}
    return {"rc": 0, "stdout": json.dumps([{"State": state}]), "stderr": ""}


def test_dead_container_named_with_exit_code() -> None:
    assert isobench_target_death(_docker("exited", 137)) == "container exited (exit code 137)"
    assert "OOM-killed" in isobench_target_death(_docker("exited", 137, oom=True))


def test_living_targets_give_no_reason() -> None:
    assert isobench_target_death(_docker("running", 0)) == ""
    assert isobench_target_death({"rc": 0, "stdout": "running (unpaused)\n"}) == ""
    assert isobench_target_death({}) == ""


def test_guest_shut_off_or_gone() -> None:
    assert isobench_target_death({"rc": 0, "stdout": "shut off (destroyed)"}) == (
        "guest shut off (destroyed)"
    )
    gone = {"rc": 1, "stdout": "", "stderr": "error: failed to get domain 'x'"}
    assert isobench_target_death(gone).startswith("target gone: error: failed to get domain")
