"""End-to-end: roles bench_redis and bench_mysql on this machine, through ansible-runner.

Runs tests/e2e/playbooks/app_roles.yml against localhost. Server and client are both
hand-made native targets: one bookworm root file system (python3, redis-server,
redis-tools, mariadb-server, mariadb-client, sysbench) entered with chroot, /proc /sys /dev
/dev/shm bind-mounted for the test and unmounted after. They talk over 127.0.0.1 only, at
tiny sizes. Checked: every sweep point measured; the per-run passwords (0600 files in the
run's secrets folder) appear in no runner event, no file of the runner's folder, no raw
output; no server process or listening port left; the servers' and clients' folders gone.
A second run points the client at an address where no server listens: the cell fails
naming the cause, and the cleanup still leaves nothing.

The root is $ISOBENCH_TEST_APP_ROOTFS when set (only read), else debootstrapped once and
cached by tests/e2e/helpers.py (debootstrap_rootfs). Needs root and, for the first build,
the Debian archive of the host's apt configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from .helpers import LOCALHOST_INVENTORY, debootstrap_rootfs, role_test_env

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "e2e" / "playbooks" / "app_roles.yml"
PACKAGES = [
    "python3",
    "redis-server",
    "redis-tools",
    "sysbench",
    "mariadb-server",
    "mariadb-client",
]
BINARIES = (
    "usr/bin/python3",
    "usr/bin/redis-server",
    "usr/bin/redis-benchmark",
    "usr/sbin/mariadbd",
    "usr/bin/sysbench",
)
MOUNTS = ("proc", "sys", "dev", "dev/shm")
WORKDIR = "var/lib/isobench/work"
PORTS = (6379, 3306)
SERVERS = {"redis-server", "mariadbd", "mysqld", "timeout"}

REDIS = {"connections": [1, 4], "requests": 2000}
MYSQL = {"table_rows": 2000, "threads": [1, 2], "duration_s": 2, "buffer_pool_mb": 64}
REDIS_METRICS = {
    f"{t}.{m}" for t in ("get", "set") for m in ("rps", "avg_ms", "p50_ms", "p95_ms", "p99_ms")
}
MYSQL_METRICS = {"oltp.tps", "oltp.qps", "oltp.latency_avg_ms", "oltp.latency_p95_ms"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts, debootstrap)"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs a Debian host"),
]


def _app_rootfs() -> Path:
    given = os.environ.get("ISOBENCH_TEST_APP_ROOTFS")
    root = Path(given) if given else debootstrap_rootfs(PACKAGES)
    missing = [b for b in BINARIES if not (root / b).exists()]
    assert not missing, f"{root} lacks {missing}"
    return root


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _processes_in(root: Path) -> list[str]:
    """Processes whose root directory is ``root`` (started inside the chroot)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if os.readlink(proc / "root") == str(root):
                found.append(f"{proc.name} {(proc / 'comm').read_text().strip()}")
        except OSError:
            continue
    return found


@pytest.fixture(scope="module")
def app_root() -> Any:
    """The application root with /proc /sys /dev /dev/shm bound in and a work folder (as
    env_native makes them); everything this fixture added is undone after the module."""
    root = _app_rootfs()
    busy = [p for p in PORTS if _listening(p)]
    if busy:
        pytest.skip(f"ports {busy} already in use on 127.0.0.1")
    mounted: list[Path] = []
    work = root / WORKDIR
    made_work = not work.exists()
    try:
        for name in MOUNTS:
            target = root / name
            if subprocess.run(["mountpoint", "-q", str(target)], check=False).returncode != 0:
                subprocess.run(["mount", "--bind", f"/{name}", str(target)], check=True)
                mounted.append(target)
        work.mkdir(mode=0o755, parents=True, exist_ok=True)
        yield root
    finally:
        left = _processes_in(root)
        for entry in left:  # only what a failed test left in this root
            subprocess.run(["kill", "-9", entry.split()[0]], check=False)
        for target in reversed(mounted):
            subprocess.run(["umount", str(target)], check=False)
        if made_work:
            shutil.rmtree(root / "var" / "lib" / "isobench", ignore_errors=True)


def _run_playbook(tmp_path: Path, root: Path, extravars: dict[str, Any]) -> dict[str, Any]:
    import ansible_runner

    run_id = f"test-app-{uuid.uuid4().hex[:8]}"
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    private = tmp_path / "runner"
    private.mkdir()
    out_file = tmp_path / "out.json"
    started = time.monotonic()
    result = ansible_runner.run(
        private_data_dir=str(private),
        playbook=str(PLAYBOOK),
        inventory=LOCALHOST_INVENTORY,
        extravars={
            "app_test_rootfs": str(root),
            "app_test_run_id": run_id,
            "app_test_secrets_dir": str(keys / run_id),
            "app_test_out": str(out_file),
            "app_test_redis_params": REDIS,
            "app_test_mysql_params": MYSQL,
            "app_test_timeout": 120,
            **extravars,
        },
        envvars=role_test_env(),
        quiet=True,
    )
    elapsed = time.monotonic() - started
    stdout = result.stdout.read() if result.stdout else ""
    assert result.rc == 0 and result.status == "successful", stdout[-6000:]
    return {
        "out": json.loads(out_file.read_text()),
        "events": list(result.events),
        "stdout": stdout,
        "private": private,
        "secrets": keys / run_id,
        "elapsed": elapsed,
    }


def _passwords(secrets: Path, names: list[str]) -> list[str]:
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    passwords = []
    for name in names:
        path = secrets / f"{name}.pass"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
        password = path.read_text().split()[0]
        assert len(password) == 32 and password.isalnum(), "not a generated password"
        passwords.append(password)
    return passwords


def _assert_no_leak(run: dict[str, Any], passwords: list[str]) -> None:
    for password in passwords:
        assert password not in run["stdout"]
        for event in run["events"]:
            assert password not in json.dumps(event), event.get("event_data", {}).get("task")
        for path in run["private"].rglob("*"):
            if path.is_file():
                assert password.encode() not in path.read_bytes(), path
        assert password not in json.dumps(run["out"])
        for cache in (REPO / ".cache" / "facts").glob("*"):
            assert password.encode() not in cache.read_bytes(), cache


def _assert_nothing_left(root: Path) -> None:
    assert not [p for p in _processes_in(root) if p.split()[1] in SERVERS], _processes_in(root)
    assert not [p for p in PORTS if _listening(p)]
    for folder in ("redis", "redis-client", "mysql", "mysql-client"):
        assert not (root / WORKDIR / folder).exists(), folder


def test_redis_and_mysql_roles_measure_and_leave_nothing(tmp_path: Path, app_root: Path) -> None:
    run = _run_playbook(tmp_path, app_root, {})
    out = run["out"]

    redis = out["redis"]
    assert redis["status"] == "ok", redis.get("reason")
    got = {(m["params"]["connections"], m["metric"]) for m in redis["parsed"]["measurements"]}
    assert got == {(c, metric) for c in REDIS["connections"] for metric in REDIS_METRICS}
    assert all(m["benchmark"] == "redis" for m in redis["parsed"]["measurements"])
    assert all(m["value"] > 0 for m in redis["parsed"]["measurements"])
    params = redis["run"]["params"]
    assert params["connections"] == [1, 4] and params["requests"] == 2000
    assert params["keys"] == 100000 and params["value_bytes"] == 50 and params["pipeline"] == 1
    assert params["same_host"] is True and params["server_address"] == "127.0.0.1"
    assert redis["run"]["tool"].startswith("redis-server 5:7.0.")
    for c in REDIS["connections"]:
        assert (
            f"### connections={c}: redis-benchmark -a <password> -h 127.0.0.1"
            in (redis["raw_output"])
        )
    assert redis["raw_output"].count('"test","rps"') == 2

    mysql = out["mysql"]
    assert mysql["status"] == "ok", mysql.get("reason")
    got = {(m["params"]["threads"], m["metric"]) for m in mysql["parsed"]["measurements"]}
    assert got == {(t, metric) for t in MYSQL["threads"] for metric in MYSQL_METRICS}
    assert all(m["benchmark"] == "mysql" for m in mysql["parsed"]["measurements"])
    assert all(m["value"] > 0 for m in mysql["parsed"]["measurements"])
    params = mysql["run"]["params"]
    assert params["table_rows"] == 2000 and params["threads"] == [1, 2]
    assert params["sysbench_test"] == "oltp_read_only"
    assert params["flush_method"] in ("O_DIRECT", "fsync") and params["flush_method_reason"]
    assert params["max_connections"] >= 2
    assert mysql["run"]["tool"].startswith("mariadb-server 1:10.11.")
    assert "sysbench 1.0.20" in mysql["run"]["tool"]
    assert mysql["parsed"]["observed"]["reconnects"] == 0
    assert "### prepare: sysbench oltp_read_only" in mysql["raw_output"]
    for t in MYSQL["threads"]:
        assert f"### threads={t}: sysbench oltp_read_only" in mysql["raw_output"]

    _assert_no_leak(run, _passwords(run["secrets"], ["redis", "mysql"]))
    _assert_nothing_left(app_root)
    print(f"both roles at tiny sizes: {run['elapsed']:.0f} s")


def test_unreachable_server_fails_the_cell_and_leaves_nothing(
    tmp_path: Path, app_root: Path
) -> None:
    # The servers bind 127.0.0.1; the client looks for them at 127.0.0.2.
    run = _run_playbook(
        tmp_path,
        app_root,
        {
            "app_test_server_address": "127.0.0.2",
            "bench_redis_wait_s": 3,
            "bench_mysql_wait_s": 3,
        },
    )
    out = run["out"]
    assert out["redis"]["status"] == "failed"
    assert "did not answer PING" in out["redis"]["reason"]
    assert "127.0.0.2:6379" in out["redis"]["reason"]
    assert out["mysql"]["status"] == "failed"
    assert "127.0.0.2" in out["mysql"]["reason"] or "3306" in out["mysql"]["reason"]
    print(f"redis: {out['redis']['reason']}\nmysql: {out['mysql']['reason']}")
    _assert_no_leak(run, _passwords(run["secrets"], ["redis", "mysql"]))
    _assert_nothing_left(app_root)
