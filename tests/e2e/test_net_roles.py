"""End-to-end: roles bench_nuttcp and bench_netlat on this machine, through ansible-runner.

Runs tests/e2e/playbooks/net_roles.yml against localhost. Server and client are both
hand-made native targets: one bookworm root file system (components main and non-free,
with python3, netperf, nuttcp and sockperf) entered with chroot, /proc /sys /dev
bind-mounted for the test and unmounted after. They talk over 127.0.0.1 only. The
playbook runs nuttcp (tx and rx), netlat with tool auto (netperf must be chosen), netlat
with sockperf forced, and netlat with netserver's control port already taken (must fail
naming the cause). After it, no server process may be left in the root and no server
port may still listen.

The root is $ISOBENCH_TEST_NET_ROOTFS when set (only read), else
$ISOBENCH_TEST_CACHE/net-rootfs (default /var/tmp/isobench-test), debootstrapped once.
Needs root and the Debian archive of the host's apt configuration (for the first build).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .helpers import LOCALHOST_INVENTORY, role_test_env

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "tests" / "e2e" / "playbooks" / "net_roles.yml"
APT_MIRROR = REPO / "roles" / "env_kvm" / "files" / "apt-mirror.py"
CACHE = Path(os.environ.get("ISOBENCH_TEST_CACHE", "/var/tmp/isobench-test"))
SUITE = "bookworm"
APT_GET = ("apt-get", "-o", "DPkg::Lock::Timeout=600")
DEBOOTSTRAP = ("debootstrap", "--variant=minbase", "--components=main,non-free")
PACKAGES = ("python3", "netperf", "nuttcp", "sockperf")
BINARIES = ("usr/bin/python3", "usr/bin/netperf", "usr/bin/netserver", "usr/bin/nuttcp")
SERVERS = {"nuttcp", "netserver", "sockperf"}
TCP_PORTS = (5000, 5001, 12865, 12866, 11111)
UDP_PORTS = (12866, 11111)
DURATION_S = 2

NUTTCP_METRICS = {
    f"{d}_{m}"
    for d in ("tx", "rx")
    for m in ("gbps", "server_cpu_pct", "client_cpu_pct", "server_cpu_ns_per_byte", "retrans")
}
NETLAT_METRICS = {
    f"{p}.{m}"
    for p in ("tcp_rr", "udp_rr")
    for m in ("rtt_us", "tps", "mean_us", "p50_us", "p90_us", "p99_us")
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chroot, mounts, debootstrap)"),
    pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs a Debian host"),
]


def _run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kw)


def _net_rootfs() -> Path:
    """A bookworm root (main + non-free) with the network tools: given, or built once."""
    given = os.environ.get("ISOBENCH_TEST_NET_ROOTFS")
    root = Path(given) if given else CACHE / "net-rootfs"
    if all((root / b).exists() for b in BINARIES) and (root / "usr/bin/sockperf").exists():
        return root
    assert not given, f"{root} lacks one of {PACKAGES}"
    if shutil.which("debootstrap") is None:
        apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run([*APT_GET, "update", "-q"], env=apt_env)
        _run(
            [*APT_GET, "install", "-y", "-q", "--no-install-recommends", "debootstrap"],
            env=apt_env,
        )
    mirror = _run(["/usr/bin/python3", str(APT_MIRROR), SUITE]).stdout.strip()
    tmp = CACHE / f".net-rootfs.{uuid.uuid4().hex[:8]}"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    try:
        _run([*DEBOOTSTRAP, f"--include={','.join(PACKAGES)}", SUITE, str(tmp), mirror])
        if root.exists():  # an incomplete earlier build
            shutil.rmtree(root)
        tmp.rename(root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return root


def _mounted() -> set[str]:
    return {line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()}


def _listening(ports: tuple[int, ...], table: str) -> list[int]:
    """Ports of ``ports`` with a socket bound (UDP) or listening (TCP, state 0A)."""
    found = set()
    for name in (table, table + "6"):
        path = Path("/proc/net") / name
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in ports and (table == "udp" or fields[3] == "0A"):
                found.add(port)
    return sorted(found)


def _servers_left(root: Path) -> list[str]:
    """Live (not zombie) server processes whose root is ``root``: pgrep, minus zombies.

    This machine's PID 1 reaps orphans late, so a stopped server may linger as a zombie
    for a few seconds; a zombie holds no socket and uses no CPU.
    """
    left = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            proc_root = os.readlink(proc / "root")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        state = stat[stat.rindex(")") + 2 :].split()[0]
        if comm in SERVERS and state != "Z" and proc_root == str(root):
            left.append(f"{proc.name} {comm} {state}")
    return left


def test_net_roles_measure_and_leave_nothing(tmp_path: Path) -> None:
    import ansible_runner

    busy_tcp = _listening(TCP_PORTS, "tcp")
    busy_udp = _listening(UDP_PORTS, "udp")
    if busy_tcp or busy_udp:
        pytest.skip(f"benchmark ports already in use: tcp {busy_tcp} udp {busy_udp}")
    root = _net_rootfs()
    mounts = []
    busy = socket.socket()  # a port netserver must find taken
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    out_file = tmp_path / "out.json"
    (tmp_path / "runner").mkdir()
    try:
        for fs in ("/proc", "/sys", "/dev"):
            if f"{root}{fs}" not in _mounted():
                _run(["mount", "--bind", fs, f"{root}{fs}"])
                mounts.append(f"{root}{fs}")
        started = time.monotonic()
        result = ansible_runner.run(
            private_data_dir=str(tmp_path / "runner"),
            playbook=str(PLAYBOOK),
            inventory=LOCALHOST_INVENTORY,
            extravars={
                "net_test_rootfs": str(root),
                "net_test_out": str(out_file),
                "net_test_duration": DURATION_S,
                "net_test_busy_port": busy.getsockname()[1],
            },
            envvars=role_test_env(),
            quiet=True,
            timeout=600,
        )
        elapsed = time.monotonic() - started
        stdout = result.stdout.read() if result.stdout else ""
        assert result.rc == 0 and result.status == "successful", stdout[-6000:]
        left = _servers_left(root)
        ports_left = _listening(TCP_PORTS, "tcp") + _listening(UDP_PORTS, "udp")
    finally:
        busy.close()
        for mount in reversed(mounts):
            subprocess.run(["umount", mount], check=False, capture_output=True)
        shutil.rmtree(root / "var" / "lib" / "isobench", ignore_errors=True)

    assert not left, f"server processes left: {left}"
    assert not ports_left, f"server ports still bound: {ports_left}"
    assert not [m for m in mounts if m in _mounted()], "bind mounts left"
    runs = json.loads(out_file.read_text())

    nuttcp = runs["nuttcp"]
    got = {m["metric"]: m for m in nuttcp["parsed"]["measurements"]}
    assert set(got) == NUTTCP_METRICS
    assert all(m["benchmark"] == "nuttcp" for m in got.values())
    for d in ("tx", "rx"):
        assert got[f"{d}_gbps"]["unit"] == "Gbit/s" and got[f"{d}_gbps"]["value"] > 0.1
        assert 0 <= got[f"{d}_server_cpu_pct"]["value"] <= 100
        assert got[f"{d}_server_cpu_ns_per_byte"]["higher_is_better"] is False
        assert nuttcp["parsed"]["observed"][d]["real_seconds"] >= DURATION_S / 2
    run = nuttcp["run"]
    assert run["tool"].startswith("nuttcp 6.1.2")
    params = run["params"]
    assert params["duration_s"] == DURATION_S and params["directions"] == ["tx", "rx"]
    assert params["same_host"] is True and params["server_address"] == "127.0.0.1"
    assert (params["control_port"], params["data_port"]) == (5000, 5001)
    assert params["client_commands"] == [
        f"nuttcp {flags} -fparse -T {DURATION_S} -P 5000 -p 5001 127.0.0.1"
        for flags in ("-t", "-r -F")
    ]
    for command in params["client_commands"]:
        assert command in nuttcp["raw_output"]
    assert "rate_Mbps=" in nuttcp["raw_output"]
    assert nuttcp["stop"] == "stopped"

    for key, tool, version in (
        ("netlat-auto", "netperf", "netperf 2.7.0"),
        ("netlat-sockperf", "sockperf", "sockperf 3.7"),
    ):
        netlat = runs[key]
        got = {m["metric"]: m for m in netlat["parsed"]["measurements"]}
        assert set(got) == NETLAT_METRICS, key
        assert all(m["benchmark"] == "netlat" for m in got.values())
        for proto in ("tcp_rr", "udp_rr"):
            rtt, tps = got[f"{proto}.rtt_us"], got[f"{proto}.tps"]
            assert rtt["unit"] == "us" and rtt["higher_is_better"] is False
            assert 1 < rtt["value"] < 100_000, (key, rtt)
            assert rtt["value"] == pytest.approx(1e6 / tps["value"])
            assert got[f"{proto}.p99_us"]["value"] >= got[f"{proto}.p50_us"]["value"]
        run = netlat["run"]
        assert run["tool"].startswith(version), run["tool"]
        assert run["params"]["tool_choice"] == tool
        assert run["params"]["same_host"] is True
        assert netlat["parsed"]["observed"]["tcp_rr"]["tool"] == tool
        assert netlat["stop"].startswith("stopped: ")
    auto = runs["netlat-auto"]["run"]["params"]
    assert auto["tool"] == "auto" and "netperf and netserver" in auto["tool_choice_reason"]
    assert (auto["control_port"], auto["data_port"]) == (12865, 12866)
    assert runs["netlat-auto"]["parsed"]["observed"]["tcp_rr"]["data_port"] == 12866
    forced = runs["netlat-sockperf"]["run"]["params"]
    assert forced["tool"] == "sockperf" and forced["sockperf_msg_bytes"] == 150
    assert forced["port"] == 11111
    assert runs["netlat-sockperf"]["stop"] == "stopped: sockperf-tcp sockperf-udp"

    busy_run = runs["busy"]
    assert busy_run["failed"] is True, busy_run
    assert "Unable to start netserver" in busy_run["stderr"], busy_run

    print(
        f"nuttcp {runs['nuttcp']['seconds']:.1f} s, netlat/netperf "
        f"{runs['netlat-auto']['seconds']:.1f} s, netlat/sockperf "
        f"{runs['netlat-sockperf']['seconds']:.1f} s; whole playbook {elapsed:.0f} s"
    )
    for key in ("nuttcp", "netlat-auto", "netlat-sockperf"):
        values = {m["metric"]: round(m["value"], 3) for m in runs[key]["parsed"]["measurements"]}
        print(key, values)
