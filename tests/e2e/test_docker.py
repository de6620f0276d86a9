"""End-to-end tests of roles docker and env_docker on this machine (root, Debian).

The playbooks run through ansible-runner against localhost (ansible_connection local):
role docker installs and starts the engine, role env_docker imports a userland rootfs
and creates docker-host / docker-nat targets, commands are delegated to the targets,
then the teardown removes everything the run labelled.

The rootfs is ISOBENCH_TEST_ROOTFS when set (only read, never modified), otherwise a
minimal one is built with debootstrap from the mirror of this host's apt sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

ansible_runner = pytest.importorskip("ansible_runner")

REPO = Path(__file__).resolve().parents[2]
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
SUITE = "bookworm"
CONTRACT_KEYS = {
    "name", "host", "env", "variant", "accel", "exec", "fsroot", "workdir",
    "cpus", "mem_mb", "llc_bytes", "limits", "image", "listen_address",
    "bind_address", "port_offset", "state",
}  # fmt: skip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (installs and runs dockerd)"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs a Debian host"),
]


# ---------------------------------------------------------------- helpers


def _apt_mirror(suite: str) -> tuple[str, str | None]:
    """(URI, keyring or None) of the apt source serving `suite` on this host."""
    stanzas: list[dict[str, str]] = []
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
            fields: dict[str, str] = {}
            for line in block.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            stanzas.append(fields)
    for fields in stanzas:
        if "deb" in fields.get("types", "").split() and suite in fields.get("suites", "").split():
            return fields["uris"].split()[0], fields.get("signed-by")
    lists = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*.list"))]
    for path in lists:
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            words = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1], None
    pytest.skip(f"no apt source for {suite} on this host to debootstrap from")


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("ISOBENCH_TEST_ROOTFS")
    if given:
        root = Path(given)
        assert (root / "usr/bin/python3").exists(), f"{root} has no usr/bin/python3"
        return root
    if shutil.which("debootstrap") is None:
        pytest.skip("set ISOBENCH_TEST_ROOTFS or install debootstrap")
    mirror, keyring = _apt_mirror(SUITE)
    root = tmp_path_factory.mktemp("rootfs") / "root"
    argv = ["debootstrap", "--variant=minbase", "--include=python3"]
    if keyring and Path(keyring).is_file():
        argv.append(f"--keyring={keyring}")
    argv += [SUITE, str(root), mirror]
    subprocess.run(argv, check=True, capture_output=True, timeout=1800)
    return root


def _userland_id(root: Path) -> str:
    stamp = f"{root.resolve()}:{(root / 'etc/debian_version').stat().st_mtime_ns}"
    return "e2e-" + hashlib.sha256(stamp.encode()).hexdigest()[:12]


def _run_id() -> str:
    return f"e2e-docker-{uuid.uuid4().hex[:8]}"


def _run(
    playbook: str,
    workdir: Path,
    extravars: dict[str, Any],
    envvars: dict[str, str] | None = None,
) -> Any:
    (workdir / "runner").mkdir(parents=True, exist_ok=True)
    inventory = workdir / "hosts.yml"
    inventory.write_text(
        "isobench_hosts:\n"
        "  hosts:\n"
        "    localhost:\n"
        "      ansible_connection: local\n"
        "      ansible_python_interpreter: /usr/bin/python3\n",
        encoding="utf-8",
    )
    env = {"ANSIBLE_ROLES_PATH": str(REPO / "roles"), "ANSIBLE_NOCOLOR": "1"}
    if (REPO / "ansible.cfg").is_file():
        env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env.update(envvars or {})
    # the ansible-playbook next to this interpreter (the venv's), even if not on PATH
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    started = time.monotonic()
    runner = ansible_runner.run(
        private_data_dir=str(workdir / "runner"),
        project_dir=str(REPO),
        playbook=str(PLAYBOOKS / playbook),
        inventory=str(inventory),
        extravars=extravars,
        envvars=env,
        quiet=True,
        timeout=3600,
    )
    runner.duration = time.monotonic() - started
    return runner


def _check(runner: Any) -> None:
    if runner.rc != 0 or runner.status != "successful":
        tail = runner.stdout.read()[-6000:]
        pytest.fail(f"playbook failed (status {runner.status}, rc {runner.rc}):\n{tail}")


def _labelled(kind: str, run_id: str) -> list[str]:
    argv = {
        "container": ["docker", "ps", "-a", "-q"],
        "volume": ["docker", "volume", "ls", "-q"],
        "network": ["docker", "network", "ls", "-q"],
    }[kind]
    out = subprocess.run(
        [*argv, "--filter", f"label=isobench.run={run_id}"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.split()


def _targets_run(tmp: Path, rootfs: Path, extra: dict[str, Any] | None = None):
    run_id = _run_id()
    out = tmp / "seen.json"
    extravars = {
        "isobench_run_id": run_id,
        "docker_test_rootfs": str(rootfs),
        "docker_test_userland_id": _userland_id(rootfs),
        "docker_test_out": str(out),
        "docker_test_remove_image": True,
        **(extra or {}),
    }
    runner = _run("docker_targets.yml", tmp, extravars)
    _check(runner)
    return run_id, json.loads(out.read_text(encoding="utf-8")), runner


# ---------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory, rootfs: Path):
    """One run creating docker-host, docker-nat--volume and docker-nat--overlay."""
    return _targets_run(tmp_path_factory.mktemp("targets"), rootfs)


def test_targets_follow_the_contract(targets, rootfs: Path) -> None:
    _, seen, _ = targets
    by_name = {t["name"]: t for t in seen["targets"]}
    assert set(by_name) == {
        "localhost--docker-host",
        "localhost--docker-nat--volume",
        "localhost--docker-nat--overlay",
    }
    for name, target in by_name.items():
        assert set(target) == CONTRACT_KEYS, name
        assert target["host"] == "localhost"
        assert target["accel"] == "none"
        assert target["exec"] == []
        assert target["fsroot"] == ""
        assert target["workdir"] == "/var/lib/isobench/work"
        assert target["cpus"] == len(os.sched_getaffinity(0))
        assert isinstance(target["mem_mb"], int) and target["mem_mb"] > 0
        assert isinstance(target["llc_bytes"], int) and target["llc_bytes"] > 0
        assert target["limits"] == {}
        assert target["image"]["id"].startswith("sha256:")
        assert target["image"]["tag"] == f"isobench-userland:{_userland_id(rootfs)}"
        assert target["image"]["digest"] == ""
    assert by_name["localhost--docker-host"]["env"] == "docker-host"
    assert by_name["localhost--docker-host"]["variant"] == ""
    assert by_name["localhost--docker-host"]["listen_address"] == "127.0.0.1"
    nat = [by_name["localhost--docker-nat--volume"], by_name["localhost--docker-nat--overlay"]]
    addresses = {t["listen_address"] for t in nat}
    assert len(addresses) == 2, "each docker-nat target needs its own publish address"
    assert all(a.startswith("127.") and a != "127.0.0.1" for a in addresses)


def test_targets_are_reached_through_the_docker_connection(targets) -> None:
    _, seen, _ = targets
    docker = {d["container"]: d for d in seen["docker"]}
    for name, conn in seen["connections"].items():
        assert conn["ansible_connection"] == "community.docker.docker"
        assert conn["ansible_python_interpreter"] == "/usr/bin/python3"
        assert conn["ansible_user"] == "root"
        assert conn["ansible_docker_extra_args"] is None  # local engine
        assert conn["ansible_host"] in docker, name


def test_commands_run_inside_the_containers(targets, rootfs: Path) -> None:
    _, seen, _ = targets
    expected_version = (rootfs / "etc/debian_version").read_text(encoding="utf-8").strip()
    docker = {d["container"]: d for d in seen["docker"]}
    for name, conn in seen["connections"].items():
        assert seen["version"][name] == expected_version
        hostname, dockerenv, pid1, workdir_fs = seen["inside"][name]
        assert dockerenv == "dockerenv", f"{name}: /.dockerenv missing, not in a container"
        assert "sleep infinity" in pid1
        info = docker[conn["ansible_host"]]
        if "docker-nat" in name:  # own UTS name: the container's short id
            assert hostname == info["container_id"][:12]
        storage = "volume" if name.endswith("--volume") else "overlay"
        assert info["storage"] == storage
        if storage == "overlay":
            assert workdir_fs == "overlayfs" and info["workdir_fstype"] == "overlay"
        else:
            assert workdir_fs != "overlayfs" and info["workdir_fstype"] != "overlay"
            assert info["volume"].endswith("-work")
        # a file written with the target's fsroot/workdir, served over its listen address
        assert seen["http"][name] == f"served by {name}\n"


def test_engine_uses_lab_addresses_and_overlay2(targets) -> None:
    _, seen, _ = targets
    assert seen["engine"]["storage_driver"] == "overlay2"
    assert seen["engine"]["runtime_status"]["runc"].startswith("available")
    for name in ("crun", "runsc", "podman"):
        status = seen["engine"]["runtime_status"][name]
        assert status.startswith(("available", "unsupported: "))
    bridge = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format", "{{json .IPAM.Config}}"],
        check=True,
        capture_output=True,
        text=True,
    )
    assert json.loads(bridge.stdout)[0]["Subnet"] == "198.18.0.0/24"


def test_teardown_leaves_nothing(targets, rootfs: Path) -> None:
    run_id, _, runner = targets
    for kind in ("container", "volume", "network"):
        assert _labelled(kind, run_id) == [], f"{kind}s of {run_id} left behind"
    image = subprocess.run(
        ["docker", "image", "inspect", f"isobench-userland:{_userland_id(rootfs)}"],
        capture_output=True,
    )
    assert image.returncode != 0, "the userland image was not removed"
    print(f"targets run took {runner.duration:.1f} s")


def test_teardown_without_anything_to_remove(tmp_path: Path) -> None:
    runner = _run("docker_teardown.yml", tmp_path / "none", {"isobench_run_id": _run_id()})
    _check(runner)
    # and with no engine answering at all
    runner = _run(
        "docker_teardown.yml",
        tmp_path / "noengine",
        {"isobench_run_id": _run_id()},
        {"DOCKER_HOST": f"unix://{tmp_path}/no-such-docker.sock"},
    )
    _check(runner)


def test_unusable_runtime_skips_targets_with_reason(tmp_path: Path, rootfs: Path) -> None:
    run_id, seen, _ = _targets_run(
        tmp_path, rootfs, {"env_docker_runtime": "isobench-no-such-runtime"}
    )
    assert seen["targets"] == []
    assert len(seen["skipped"]) == 3
    for entry in seen["skipped"]:
        assert entry["reason"].startswith("unsupported: runtime isobench-no-such-runtime")
    assert _labelled("container", run_id) == []


def test_limits_are_applied_recorded_and_rerun_changes_nothing(
    tmp_path: Path, rootfs: Path
) -> None:
    limits = {"cpuset": "0", "memory": "256m"}
    one = [{"name": "localhost--docker-nat--volume", "env": "docker-nat", "variant": "volume"}]
    run_id = _run_id()
    common = {
        "isobench_run_id": run_id,
        "docker_test_rootfs": str(rootfs),
        "docker_test_userland_id": _userland_id(rootfs),
        "docker_test_targets": one,
        "env_docker_limits": limits,
        "docker_test_remove_image": True,
    }
    first = _run(
        "docker_targets.yml",
        tmp_path / "first",
        {**common, "isobench_keep": True, "docker_test_out": str(tmp_path / "first.json")},
    )
    _check(first)
    try:
        seen = json.loads((tmp_path / "first.json").read_text(encoding="utf-8"))
        (target,) = seen["targets"]
        assert target["limits"] == limits
        assert target["cpus"] == 1
        assert target["mem_mb"] == 256
        assert len(_labelled("container", run_id)) == 1  # kept
        second = _run(
            "docker_targets.yml",
            tmp_path / "second",
            {**common, "docker_test_out": str(tmp_path / "second.json")},
        )
        _check(second)
        changed = [
            f"{e['event_data'].get('role')}: {e['event_data'].get('task')}"
            for e in second.events
            if e.get("event") == "runner_on_ok"
            and e["event_data"].get("res", {}).get("changed")
            and e["event_data"].get("role") in ("docker", "env_docker")
            and "teardown.yml" not in e["event_data"].get("task_path", "")
            and e["event_data"].get("task_action") != "ansible.builtin.add_host"
        ]
        assert changed == [], f"second run changed: {changed}"
    finally:
        _run("docker_teardown.yml", tmp_path / "cleanup", {"isobench_run_id": run_id})
    assert _labelled("container", run_id) == []
    assert _labelled("volume", run_id) == []
