"""Run isobench as a user does (the CLI in a subprocess) and read what it left."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
ISOBENCH = Path(sys.executable).parent / "isobench"

# Plausible ranges for any machine from a laptop to a large server (and TCG guests).
PLAUSIBLE = {
    ("compress", "throughput"): (0.05, 20000.0),
    ("linpack", "gflops"): (0.001, 1e6),
    ("stream", "copy"): (0.01, 5000.0),
    ("stream", "triad"): (0.01, 5000.0),
    ("randomaccess", "gups"): (1e-6, 100.0),
    ("fio", "seqread.mb_s"): (0.1, 1e6),
    ("fio", "randread-qd128.iops"): (1.0, 1e8),
    ("nuttcp", "tx_gbps"): (0.001, 1000.0),
    ("netlat", "tcp_rr.rtt_us"): (1.0, 1e6),
    ("netlat", "udp_rr.rtt_us"): (1.0, 1e6),
    ("redis", "get.rps"): (10.0, 1e8),
    ("mysql", "oltp.tps"): (0.1, 1e7),
}


def assert_no_secret_in_results(run_dir: Path) -> None:
    """Every generated password or key of the run is 0600 and appears in no result file."""
    secrets = ROOT / ".cache" / "keys" / run_dir.name
    values = []
    for path in secrets.rglob("*"):
        if path.is_file() and path.suffix != ".pub":
            assert path.stat().st_mode & 0o077 == 0, path
            text = path.read_text(errors="replace").strip()
            if len(text) >= 12 and "PUBLIC KEY" not in text and not text.startswith("ssh-"):
                values.append(text)
    for path in run_dir.rglob("*"):
        if path.is_file() and path.stat().st_size < 50_000_000:
            content = path.read_text(errors="replace")
            for value in values:
                assert value not in content, f"a generated secret is in {path}"


# The controller itself as the one host of a role test, with the host's own Python (the
# one the roles install python3-libvirt, python3-requests for).
LOCALHOST_INVENTORY = {
    "all": {
        "hosts": {
            "localhost": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "/usr/bin/python3",
            }
        }
    }
}


def role_test_env() -> dict[str, str]:
    """ansible-runner envvars of a role test: the project's ansible.cfg, roles and venv."""
    import os

    return {
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
    }


def run_cli(*args: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ISOBENCH), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def only_run_dir(results: Path) -> Path:
    runs = [p for p in results.iterdir() if p.is_dir()]
    assert len(runs) == 1, runs
    return runs[0]


def cells(run_dir: Path) -> dict[str, dict]:
    return {
        json.loads(p.read_text())["cell"]["id"]: json.loads(p.read_text())
        for p in (run_dir / "cells").glob("*.json")
    }


def samples(run_dir: Path) -> pd.DataFrame:
    return pd.read_csv(run_dir / "samples.csv")


def userland_mounts() -> list[str]:
    return [
        line.split()[1]
        for line in Path("/proc/mounts").read_text().splitlines()
        if line.split()[1].startswith("/var/lib/isobench/")
    ]


def debootstrap_rootfs(packages: list[str], suite: str = "bookworm") -> Path:
    """A Debian minbase root file system with ``packages``, debootstrapped once and cached.

    Cached in $ISOBENCH_TEST_CACHE (default /var/tmp/isobench-test) under
    ``rootfs-<suite>-minbase-<packages, sorted, joined by ->``; built from the archive of
    the host's own apt configuration (roles/env_kvm/files/apt-mirror.py). Needs root.
    """
    import os
    import shutil
    import uuid

    cache = Path(os.environ.get("ISOBENCH_TEST_CACHE", "/var/tmp/isobench-test"))
    wanted = sorted(set(packages))
    root = cache / f"rootfs-{suite}-minbase-{'-'.join(wanted)}"
    if (root / "var" / "lib" / "dpkg" / "status").exists():
        return root
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if shutil.which("debootstrap") is None:
        for argv in (
            ["apt-get", "-o", "DPkg::Lock::Timeout=600", "update", "-q"],
            [
                "apt-get",
                "-o",
                "DPkg::Lock::Timeout=600",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                "debootstrap",
            ],
        ):
            subprocess.run(argv, check=True, capture_output=True, text=True, env=apt_env)
    mirror = subprocess.run(
        ["/usr/bin/python3", str(ROOT / "roles" / "env_kvm" / "files" / "apt-mirror.py"), suite],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tmp = cache / f".{root.name}.{uuid.uuid4().hex[:8]}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(wanted)}",
                suite,
                str(tmp),
                mirror,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        tmp.rename(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return root
