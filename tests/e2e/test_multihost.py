"""Two hosts over real SSH: a server under test and a load host, as network namespaces.

The experiment reaches both hosts over SSH with a generated key (inventory in the format of
inventories/lab), runs the network and application servers natively on the host under
test and their clients natively on the load host, across the lab bridge (198.18.2.0/24).
Each namespace host keeps its own copy of the benchmark userland (they share this
machine's filesystem); the copy is made from the local userland, built first if needed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from .helpers import ROOT, assert_no_secret_in_results, cells, only_run_dir, run_cli, samples
from .netns_lab import inventory, netns_lab

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs iproute2"),
]

SPEC = {
    "isobench": 1,
    "name": "multihost",
    "repetitions": 1,
    "seed": 3,
    "cell_timeout": 300,
    "environments": ["native"],
    "benchmarks": {
        "nuttcp": {"duration_s": 1},
        "netlat": {"duration_s": 1},
        "redis": {"connections": [1, 4], "requests": 2000},
    },
}


def _local_userland(tmp: Path) -> Path:
    """The local benchmark userland, built by the userland role when absent (reused by
    every run on this machine)."""
    import ansible_runner

    out = tmp / "userland.json"
    (tmp / "runner").mkdir()
    result = ansible_runner.run(
        private_data_dir=str(tmp / "runner"),
        playbook=str(ROOT / "tests" / "e2e" / "playbooks" / "userland_only.yml"),
        inventory={"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": "/usr/bin/python3"}}}},
        extravars={"userland_test_out": str(out)},
        envvars={
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        },
        quiet=True,
    )  # fmt: skip
    assert result.status == "successful", result.stdout.read()[-3000:]
    userland = Path(json.loads(out.read_text())["root"]).parent
    assert (userland / "complete").exists(), userland
    return userland


def _server_processes(root: Path) -> list[str]:
    """Processes whose root directory is a userland under ``root``."""
    left = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if str(Path(proc / "root").readlink()).startswith(str(root)):
                    left.append((proc / "comm").read_text().strip())
            except OSError:
                continue
    return left


def test_server_and_load_host_over_ssh(tmp_path: Path) -> None:
    userland = _local_userland(tmp_path)
    base = tmp_path / "hosts"
    for name in ("sut", "load"):  # each host's own copy (hard links: instant, no space)
        dest = base / name / "userland" / userland.name
        dest.parent.mkdir(parents=True)
        linked = subprocess.run(["cp", "-a", "-l", "-x", str(userland), str(dest)], check=False)
        if linked.returncode != 0:  # another filesystem: a real copy
            shutil.rmtree(dest, ignore_errors=True)
            subprocess.run(["cp", "-a", "-x", str(userland), str(dest)], check=True)
    with netns_lab(tmp_path / "lab", ["sut", "load"]) as (hosts, key):
        inv = tmp_path / "lab-hosts.yml"
        inv.write_text(inventory(hosts, key, ["load"], base))
        spec = tmp_path / "multihost.yml"
        spec.write_text(yaml.safe_dump(SPEC))
        results = tmp_path / "results"
        proc = run_cli(
            "run", "--spec", str(spec), "--hosts", str(inv), "--results", str(results),
            timeout=20 * 60,
        )  # fmt: skip
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-4000:]
        run_dir = only_run_dir(results)
        recorded = cells(run_dir)
        assert sorted(recorded) == [
            "sut--native--netlat--r1",
            "sut--native--nuttcp--r1",
            "sut--native--redis--r1",
        ]
        assert all(c["status"] == "ok" for c in recorded.values()), recorded
        data = samples(run_dir)
        assert set(data["host"]) == {"sut"}
        params = [json.loads(p) for p in data["params"]]
        # the client ran on the other host and reached the server on the lab network
        assert {p["server_address"] for p in params} == {"198.18.2.11"}
        assert {p["same_host"] for p in params} == {False}
        tput = data[(data["benchmark"] == "nuttcp") & (data["metric"] == "tx_gbps")]
        assert len(tput) == 1 and float(tput["value"].iloc[0]) > 0
        run = json.loads((run_dir / "run.json").read_text())
        assert run["load_for"] == {"sut": "load"}
        # every server stopped, both userlands unmounted
        assert _server_processes(base) == []
        mounts = Path("/proc/mounts").read_text()
        assert str(base) not in mounts
        assert_no_secret_in_results(run_dir)
