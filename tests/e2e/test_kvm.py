"""End-to-end: roles kvm + env_kvm on this machine, through ansible-runner.

Runs tests/e2e/playbooks/kvm_targets.yml against localhost: installs QEMU/libvirt, runs the
accelerator boot probe, builds a guest image from a userland root file system, boots two
small guests (kvm-untuned on a qcow2 overlay, kvm-tuned on a raw disk), runs commands in
them over SSH through the inventory hosts that env_kvm added, and tears everything down.

Needs root, apt and network access to the Debian archive of the host's apt configuration.
The userland is $ISOBENCH_TEST_ROOTFS when set (only read), else a minimal bookworm made
here once with debootstrap (cached in $ISOBENCH_TEST_CACHE, default /var/tmp/isobench-test).
Where KVM cannot boot a guest the probe must say so and the guests run under TCG.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .helpers import LOCALHOST_INVENTORY, role_test_env

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "e2e" / "playbooks" / "kvm_targets.yml"
APT_MIRROR = REPO / "roles" / "env_kvm" / "files" / "apt-mirror.py"
CACHE = Path(os.environ.get("ISOBENCH_TEST_CACHE", "/var/tmp/isobench-test"))
SUITE = "bookworm"

ARCH_KEYS = {
    "name",
    "host",
    "env",
    "variant",
    "accel",
    "exec",
    "fsroot",
    "workdir",
    "cpus",
    "mem_mb",
    "llc_bytes",
    "limits",
    "image",
    "listen_address",
    # optional in the contract; KVM guests have them
    "pause",
    "resume",
    "bind_address",
    "state",
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (apt, libvirt, chroot)"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs a Debian host"),
]


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def _host_virt_flags() -> bool:
    text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    return bool(re.search(r"^flags\s*:.*\b(vmx|svm)\b", text, re.MULTILINE))


def _userland_rootfs() -> Path:
    """A Debian bookworm root file system with python3: given, or debootstrapped once."""
    given = os.environ.get("ISOBENCH_TEST_ROOTFS")
    if given:
        root = Path(given)
        assert (root / "usr" / "bin" / "python3").exists(), f"{root} has no python3"
        return root
    root = CACHE / f"rootfs-{SUITE}-minbase-python3"
    if (root / "usr" / "bin" / "python3").exists():
        return root
    if shutil.which("debootstrap") is None:
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-q"], env=apt_env)
        _run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "debootstrap"],
            env=apt_env,
        )
    mirror = _run(["/usr/bin/python3", str(APT_MIRROR), SUITE]).stdout.strip()
    tmp = CACHE / f".{root.name}.{uuid.uuid4().hex[:8]}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run(["debootstrap", "--variant=minbase", "--include=python3", SUITE, str(tmp), mirror])
        tmp.rename(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return root


def _virsh(*args: str) -> list[str]:
    out = _run(["virsh", "-c", "qemu:///system", *args]).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def _networks_if_libvirtd_answers() -> set[str]:
    """libvirt networks defined before the test; none when libvirt is absent or not running.

    A clean machine may have the client (virsh) installed and no daemon running yet: the
    playbook under test is what starts it.
    """
    if shutil.which("virsh") is None:
        return set()
    probe = subprocess.run(
        ["virsh", "-c", "qemu:///system", "net-list", "--all", "--name"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return set()
    return {line.strip() for line in probe.stdout.splitlines() if line.strip()}


def test_kvm_targets_boot_answer_and_vanish(tmp_path: Path) -> None:
    import ansible_runner

    rootfs = _userland_rootfs()
    run_id = f"test-kvm-{uuid.uuid4().hex[:8]}"
    key_dir = tmp_path / "results" / run_id / "ssh"
    out_file = tmp_path / "out.json"
    networks_before = _networks_if_libvirtd_answers()

    (tmp_path / "runner").mkdir()
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        playbook=str(PLAYBOOK),
        inventory=LOCALHOST_INVENTORY,
        extravars={
            "kvm_test_rootfs": str(rootfs),
            "kvm_test_run_id": run_id,
            "kvm_test_key_dir": str(key_dir),
            "kvm_test_out": str(out_file),
            "kvm_test_targets": [
                {"env": "kvm-untuned", "variant": ""},
                {"env": "kvm-tuned", "variant": ""},
            ],
            "kvm_test_vcpus": 1,
            "kvm_test_mem_mb": 1024,
            "kvm_allow_tcg": True,
        },
        envvars=role_test_env(),
        quiet=True,
    )
    elapsed = time.monotonic() - started
    stdout = result.stdout.read() if result.stdout else ""
    assert result.rc == 0 and result.status == "successful", stdout[-6000:]

    out = json.loads(out_file.read_text())

    # The probe really booted something and judged KVM; without vmx/svm it must be TCG.
    assert out["kvm_accel"] in ("kvm", "tcg")
    if not _host_virt_flags():
        assert out["kvm_accel"] == "tcg", out["kvm_probe"]
        assert not out["kvm_probe"]["kvm"]["ok"]
        assert out["kvm_probe"]["tcg"]["ok"], out["kvm_probe"]["tcg"]
    assert out["kvm_probe"]["kvm"]["log_excerpt"], "the probe kept no evidence"

    # The image: cached by key, base digests recorded.
    image = out["image"]
    assert re.fullmatch(r"[0-9a-f]{64}", image["sha256"]["raw"])
    assert re.fullmatch(r"[0-9a-f]{64}", image["sha256"]["qcow2"])

    python_sha = _run(["sha256sum", str(rootfs / "usr" / "bin" / "python3.11")]).stdout.split()[0]
    targets = out["targets"]
    assert set(targets) == {"localhost--kvm-untuned", "localhost--kvm-tuned"}
    ips = set()
    for name, t in targets.items():
        target = t["isobench_target"]
        assert set(target) == ARCH_KEYS, sorted(set(target) ^ ARCH_KEYS)
        assert target["name"] == name
        assert target["host"] == "localhost"
        assert target["accel"] == out["kvm_accel"]
        assert target["exec"] == [] and target["fsroot"] == ""
        assert target["workdir"] == "/var/lib/isobench/work"
        assert target["cpus"] == 1 and target["mem_mb"] == 1024
        assert target["llc_bytes"] > 0
        assert target["listen_address"].startswith("198.18.1.")
        ips.add(target["listen_address"])
        fmt = "qcow2" if target["env"] == "kvm-untuned" else "raw"
        assert target["image"]["format"] == fmt
        assert target["image"]["sha256"] == image["sha256"][fmt]
        domain = f"isobench--{run_id}--{target['env']}"
        assert target["pause"][-2:] == ["suspend", domain]
        assert target["resume"][-2:] == ["resume", domain]

        conn = t["connection"]
        assert conn["ansible_host"] == target["listen_address"]
        assert conn["ansible_user"] == "root"
        assert conn["ansible_python_interpreter"] == "/usr/bin/python3"
        assert "StrictHostKeyChecking=no" in conn["ansible_ssh_common_args"]
        key = Path(conn["ansible_ssh_private_key_file"])
        assert key.parent == key_dir
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700

        debian_version, nproc, hostname, python_version, root_dev = t["inside"]
        assert debian_version.startswith("12."), t["inside"]
        assert nproc == "1"
        assert hostname == name
        assert python_version.startswith("Python 3.11")
        assert root_dev == "/dev/vda"
        # The userland binaries are byte-identical inside the guest.
        assert t["python_sha256"] == python_sha

        kvm = t["isobench_kvm"]
        assert kvm["domain"] == domain
        assert kvm["domain_type"] == ("kvm" if out["kvm_accel"] == "kvm" else "qemu")
        assert kvm["boot_seconds"] is None or kvm["boot_seconds"] > 0
        if target["env"] == "kvm-tuned":
            assert kvm["pinning"] and kvm["disk_cache"] == "none" and kvm["disk_io"] == "native"
            assert kvm["cpu_mode"] in ("host-passthrough", "maximum")
        else:
            # QEMU's default model under KVM; under TCG "maximum" (qemu64 crashes OpenBLAS)
            expected = "default" if out["kvm_accel"] == "kvm" else "maximum"
            assert kvm["pinning"] == [] and kvm["cpu_mode"] == expected
        print(f"{name}: boot {kvm['boot_seconds']} s under {out['kvm_accel']}")
    assert len(ips) == 2

    build = "cached" if image.get("cached") else f"built in {image['build_seconds']} s"
    print(f"image {image['key']} {build}; whole playbook {elapsed:.0f} s")

    # Teardown: no domain of the run, the network gone unless it existed before, no run dir.
    domains = _virsh("list", "--all", "--name")
    assert not [d for d in domains if d.startswith(f"isobench--{run_id}--")], domains
    networks = set(_virsh("net-list", "--all", "--name"))
    if "isobench" not in networks_before:
        assert "isobench" not in networks
    assert not Path(f"/var/lib/isobench/kvm/runs/{run_id}").exists()
    # The key stays with the run's results.
    assert key_dir.is_dir()
