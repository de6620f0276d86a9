"""End-to-end: role bench_fio on this machine, through ansible-runner.

Runs tests/e2e/playbooks/fio_role.yml against localhost with a hand-made native target: a
Debian bookworm minbase root with python3 and fio (debootstrapped once, cached in
$ISOBENCH_TEST_CACHE, default /var/tmp/isobench-test), entered with chroot, with the host's
/proc, /sys and /dev bind-mounted for the test only. Tiny sizes (32 MiB, 1 s per job, two
jobs); then the role once more on a ramfs workdir, which refuses O_DIRECT and must stop
with a message naming the path and the filesystem, and there again with direct: false.
Needs root, debootstrap (installed when missing) and the Debian archive of the host's apt
configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from isobench import samples

from .helpers import LOCALHOST_INVENTORY, debootstrap_rootfs, role_test_env

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "e2e" / "playbooks" / "fio_role.yml"
WORKDIR = "/var/lib/isobench/work"
REFUSING_WORKDIR = "/var/lib/isobench/ramfs-work"
JOBS = ["randread", "mixed"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (debootstrap, mount, chroot)"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs a Debian host"),
]


def _mounted(path: Path) -> bool:
    points = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    return str(path) in points


@pytest.fixture
def fio_rootfs():
    """The cached root with fio, host file systems bound in and a ramfs workdir, unbound after."""
    root = debootstrap_rootfs(["python3", "fio"])
    (root / WORKDIR.lstrip("/")).mkdir(parents=True, exist_ok=True)
    mounted: list[Path] = []
    try:
        for source in ("/proc", "/sys", "/dev"):
            point = root / source.lstrip("/")
            if not _mounted(point):
                subprocess.run(["mount", "--bind", source, str(point)], check=True)
                mounted.append(point)
        ramfs = root / REFUSING_WORKDIR.lstrip("/")
        ramfs.mkdir(parents=True, exist_ok=True)
        if not _mounted(ramfs):
            subprocess.run(["mount", "-t", "ramfs", "isobench-test", str(ramfs)], check=True)
            mounted.append(ramfs)
        yield root
    finally:
        for point in reversed(mounted):
            subprocess.run(["umount", str(point)], check=False)


def test_fio_role_measures_and_cleans_up(tmp_path: Path, fio_rootfs: Path) -> None:
    import ansible_runner

    out_file = tmp_path / "out.json"
    params = {
        "size_mb": 32,
        "runtime_s": 1,
        "ramp_s": 0,
        "jobs": JOBS,
        "direct": True,
        "ioengine": "libaio",
    }
    (tmp_path / "runner").mkdir()
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"),
        playbook=str(PLAYBOOK),
        inventory=LOCALHOST_INVENTORY,
        extravars={
            "fio_test_rootfs": str(fio_rootfs),
            "fio_test_out": str(out_file),
            "fio_test_params": params,
            "fio_test_timeout": 120,
            "fio_test_refusing_workdir": REFUSING_WORKDIR,
        },
        envvars=role_test_env(),
        quiet=True,
    )
    elapsed = time.monotonic() - started
    stdout = result.stdout.read() if result.stdout else ""
    assert result.rc == 0 and result.status == "successful", stdout[-6000:]
    out = json.loads(out_file.read_text())

    # The measurements: every metric of both jobs, positive, latencies lower-is-better.
    parsed = out["parsed"]
    metrics = {m["metric"]: m for m in parsed["measurements"]}
    latency = ("clat_mean_us", "clat_p50_us", "clat_p99_us", "clat_p99_9_us")
    expected = {f"randread.{m}" for m in ("mb_s", "iops", *latency)}
    expected |= {f"mixed.{m}" for m in ("mb_s", "iops")}
    expected |= {f"mixed.{d}_{m}" for d in ("read", "write") for m in ("mb_s", "iops", *latency)}
    assert set(metrics) == expected
    assert all(m["benchmark"] == "fio" and m["value"] > 0 for m in metrics.values())
    assert metrics["randread.clat_p99_us"]["higher_is_better"] is False
    assert metrics["mixed.iops"]["value"] == pytest.approx(
        metrics["mixed.read_iops"]["value"] + metrics["mixed.write_iops"]["value"]
    )
    assert metrics["mixed.iops"]["params"]["numjobs"] == 8
    assert parsed["observed"]["fio_size_bytes"] == 32 * 1048576
    assert parsed["observed"]["fio_runtime_s"] == 1

    # What the run records: the tool's Debian version, the workdir and its filesystem.
    version = subprocess.run(
        ["chroot", str(fio_rootfs), "dpkg-query", "-W", "-f", "${Version}", "fio"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    run = out["run"]
    assert run["tool"] == f"fio {version}"
    fstype = subprocess.run(
        ["stat", "-f", "-c", "%T", str(fio_rootfs / WORKDIR.lstrip("/"))],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert run["params"]["filesystem"] == fstype
    assert run["params"]["workdir"] == WORKDIR
    assert run["params"]["test_file"] == f"{WORKDIR}/fio/isobench.dat"
    assert run["params"]["jobs"] == JOBS and run["params"]["direct"] is True
    assert set(run["params"]["job_definitions"]) == set(JOBS)

    # fio's own JSON, kept as text for raw/.
    assert out["raw_output_type"] in ("str", "AnsibleUnsafeText", "_AnsibleTaggedStr")
    assert json.loads(out["raw_output"])["fio version"].startswith("fio-")

    # The samples the cell would emit validate against the schema.
    cell = {
        "id": "localhost--native--fio--r1",
        "host": "localhost",
        "target": "localhost",
        "env": "native",
        "variant": "",
        "repetition": 1,
    }
    now = "2026-01-01T00:00:00Z"
    built = samples.build_samples(
        cell, {"accel": "none"}, parsed, {**run, "started": now, "ended": now}, "test-fio"
    )
    assert len(built) == len(expected)
    assert [e for s in built for e in samples.sample_errors(s)] == []

    # Nothing left behind, on either run.
    assert out["leftover"] is False
    assert not (fio_rootfs / WORKDIR.lstrip("/") / "fio").exists()
    assert out["refused_leftover"] is False

    # A filesystem without O_DIRECT: a clear failure naming the path and the filesystem.
    refused = out["refused"]
    assert refused["failed"] is True, refused
    assert "O_DIRECT" in refused["msg"]
    assert f"{REFUSING_WORKDIR}/fio" in refused["msg"] and "ramfs" in refused["msg"]

    # ... unless direct is false: then fio measures buffered I/O there.
    buffered = out["buffered"]
    assert buffered["run"]["params"]["direct"] is False
    assert buffered["run"]["params"]["filesystem"] == "ramfs"
    assert buffered["parsed"]["observed"]["fio_global_options"]["direct"] == "0"
    assert {m["metric"] for m in buffered["parsed"]["measurements"]} == expected

    assert elapsed < 120, f"took {elapsed:.0f} s"
