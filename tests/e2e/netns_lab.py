"""Several SSH hosts on one machine: network namespaces on a bridge, each running sshd.

The lab network is 198.18.2.0/24 (inside 198.18.0.0/15, reserved for benchmarking): the
bridge holds .1, host i holds .(10+i). Each host is a namespace with its own network
stack (interfaces, addresses, ports) sharing the machine's filesystem and processes, so a
test gives each one its own folders through host variables. Keys are generated per lab,
mode 0600, in the test's temporary folder. Nothing listens outside the lab network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

BRIDGE = "isob-br0"
# Docker sets the FORWARD policy to DROP and makes bridged traffic pass iptables
# (br_netfilter): the lab bridge's own traffic is let through, and nothing else.
FORWARD_RULE = ("FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-j", "ACCEPT")
NET = "198.18.2"


@dataclass(frozen=True)
class NetnsHost:
    name: str
    namespace: str
    address: str


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def ensure_sshd() -> str:
    """The sshd binary; installs openssh-server without letting its package start a daemon."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if Path(sshd).exists():
        return sshd
    policy = Path("/usr/sbin/policy-rc.d")
    ours = not policy.exists()
    if ours:  # Debian's hook: refuse service starts during the install (no sshd on 0.0.0.0)
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    try:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "openssh-server"],
            check=True,
            capture_output=True,
            env=env,
        )
    finally:
        if ours:
            policy.unlink()
    return "/usr/sbin/sshd"


def _cleanup(names: list[str], pidfiles: list[Path]) -> None:
    for pidfile in pidfiles:
        if pidfile.exists():
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), 15)
    for ns in names:
        pids = _sh("ip", "netns", "pids", ns, check=False).stdout.split()
        for pid in pids:
            with suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        _sh("ip", "netns", "delete", ns, check=False)
    _sh("ip", "link", "delete", BRIDGE, check=False)
    if shutil.which("iptables"):
        while _sh("iptables", "-D", *FORWARD_RULE, check=False).returncode == 0:
            pass


@contextmanager
def netns_lab(tmp: Path, names: list[str]) -> Iterator[tuple[list[NetnsHost], Path]]:
    """Hosts reachable over SSH as root with the yielded private key; torn down after."""
    sshd = ensure_sshd()
    tmp.mkdir(parents=True, exist_ok=True)
    key = tmp / "id_ed25519"
    _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    key.chmod(0o600)
    authorized = tmp / "authorized_keys"
    authorized.write_text(Path(str(key) + ".pub").read_text())
    authorized.chmod(0o600)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    namespaces = [f"isob-{n}" for n in names]
    pidfiles = [tmp / f"{n}.sshd.pid" for n in names]
    _cleanup(namespaces, [])  # leftovers of an earlier, killed test
    hosts: list[NetnsHost] = []
    try:
        _sh("ip", "link", "add", BRIDGE, "type", "bridge")
        _sh("ip", "addr", "add", f"{NET}.1/24", "dev", BRIDGE)
        _sh("ip", "link", "set", BRIDGE, "up")
        if shutil.which("iptables"):
            _sh("iptables", "-I", FORWARD_RULE[0], "1", *FORWARD_RULE[1:])
        for i, (name, ns, pidfile) in enumerate(zip(names, namespaces, pidfiles, strict=True)):
            address = f"{NET}.{11 + i}"
            outside, inside = f"isob-v{i}", f"isob-p{i}"
            _sh("ip", "netns", "add", ns)
            _sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
            _sh("ip", "link", "set", inside, "netns", ns)
            _sh("ip", "link", "set", outside, "master", BRIDGE)
            _sh("ip", "link", "set", outside, "up")
            _sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", inside)
            _sh("ip", "-n", ns, "link", "set", inside, "up")
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            host_key = tmp / f"{name}_host_ed25519"
            _sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(host_key))
            config = tmp / f"{name}.sshd_config"
            config.write_text(
                f"ListenAddress {address}\nPort 22\nHostKey {host_key}\nPidFile {pidfile}\n"
                f"AuthorizedKeysFile {authorized}\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
                "StrictModes no\nSubsystem sftp internal-sftp\n"
            )
            _sh("ip", "netns", "exec", ns, sshd, "-f", str(config), "-E", str(tmp / f"{name}.log"))
            hosts.append(NetnsHost(name, ns, address))
        for host in hosts:  # sshd answers once its pid file is written
            deadline = time.monotonic() + 20
            while not (tmp / f"{host.name}.sshd.pid").exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"sshd of {host.name} did not start")
                time.sleep(0.2)
        yield hosts, key
    finally:
        _cleanup(namespaces, pidfiles)


def inventory(hosts: list[NetnsHost], key: Path, load: list[str], base: Path) -> str:
    """An inventory of these hosts, in the format of inventories/lab: the first ones under
    test, ``load`` driving the load. Each host keeps its userland under ``base/<name>``."""
    ssh_args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes"

    def entry(h: NetnsHost) -> str:
        return (
            f"        {h.name}:\n"
            f"          ansible_host: {h.address}\n"
            f"          userland_base_dir: {base / h.name / 'userland'}\n"
        )

    under_test = [h for h in hosts if h.name not in load]
    loaders = [h for h in hosts if h.name in load]
    return (
        "all:\n"
        "  vars:\n"
        "    ansible_user: root\n"
        f"    ansible_ssh_private_key_file: {key}\n"
        f"    ansible_ssh_common_args: {ssh_args}\n"
        "    ansible_python_interpreter: /usr/bin/python3\n"
        "  children:\n"
        "    isobench_hosts:\n"
        "      hosts:\n" + "".join(entry(h) for h in under_test) + "    isobench_load:\n"
        "      hosts:\n" + "".join(entry(h) for h in loaders)
    )
