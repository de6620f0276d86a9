"""Real faults in a real run: a tool killed by its time limit and an unreachable host.
The other cells complete, failed cells are on disk with their reason, the exit is non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .helpers import cells, only_run_dir, run_cli, userland_mounts

pytestmark = pytest.mark.slow

SPEC = {
    "isobench": 1,
    "name": "faults",
    "repetitions": 1,
    "seed": 7,
    "cell_timeout": 10,
    "environments": ["native"],
    # xz level 9 on 48 MB takes well over 10 s on any current machine: the time limit kills it
    "benchmarks": {"compress": {"level": 9, "input_mb": 48}, "linpack": {"n": 1500}},
}

INVENTORY = """
all:
  children:
    isobench_hosts:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
        ghost:
          ansible_host: 127.0.0.1
          ansible_port: 1
          ansible_connection: ssh
"""


def test_failed_tool_and_unreachable_host(tmp_path: Path) -> None:
    spec_path = tmp_path / "faults.yml"
    spec_path.write_text(yaml.safe_dump(SPEC))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(INVENTORY)
    results = tmp_path / "results"
    proc = run_cli(
        "run",
        "--spec",
        str(spec_path),
        "--inventory",
        str(inventory),
        "--results",
        str(results),
        timeout=20 * 60,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = only_run_dir(results)
    recorded = cells(run_dir)
    assert recorded["localhost--native--hpcc--r1"]["status"] == "ok"
    killed = recorded["localhost--native--compress--r1"]
    assert killed["status"] == "failed"
    assert "rc=124" in killed["reason"], killed["reason"]
    for job in ("hpcc", "compress"):
        ghost = recorded[f"ghost--native--{job}--r1"]
        assert ghost["status"] == "failed" and "unreachable" in ghost["reason"]
    report = (run_dir / "report.md").read_text()
    assert "localhost--native--compress--r1" in report and "rc=124" in report
    assert "ghost--native--hpcc--r1" in report
    assert "failed" in proc.stdout.lower()
    assert userland_mounts() == []
