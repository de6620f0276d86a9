"""Inventories: which hosts are under test, read with ansible-inventory (via ansible-runner)."""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner

from .paths import ensure_ansible_on_path, inventories_dir

HOST_GROUP = "isobench_hosts"
LOAD_GROUP = "isobench_load"
_SAFE_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")
# Connection variables end up in command lines isobench builds (the KVM guests'
# ProxyCommand "ssh -W %h:%p -p PORT -i KEY USER@HOST", the Docker engine URL), so they
# must be plain names, addresses and paths.
_SAFE_ADDRESS = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,252}")
_SAFE_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/~+@-]{1,4096}")
# Addresses benchmark servers may listen on: loopback, private (RFC 1918, IPv6 ULA) and
# the benchmarking ranges (RFC 2544 198.18.0.0/15, RFC 5180 2001:2::/48); never 0.0.0.0.
LISTEN_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in (
        "127.0.0.0/8",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "::1/128",
        "fc00::/7",
        "2001:2::/48",
    )
)
# Folders a userland_base_dir must neither be nor contain: clean-hosts deletes that folder.
SYSTEM_DIRS = frozenset(
    {
        "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32",
        "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp",
        "/usr", "/usr/bin", "/usr/lib", "/usr/local", "/usr/sbin", "/usr/share", "/var",
        "/var/cache", "/var/lib", "/var/lib/apt", "/var/lib/docker", "/var/lib/dpkg",
        "/var/lib/libvirt", "/var/log", "/var/tmp",
    }
)  # fmt: skip


class InventoryError(Exception):
    """An inventory that cannot be used; the message names the problem."""


def resolve(name_or_path: str) -> Path:
    """An inventory name under inventories/ (local, lab) or a path to a file or folder."""
    candidate = Path(name_or_path)
    if not candidate.exists():
        candidate = inventories_dir() / name_or_path
    if not candidate.exists():
        known = sorted(p.name for p in inventories_dir().iterdir() if p.is_dir())
        raise InventoryError(
            f"inventory {name_or_path!r} not found (no such path, and not one of: "
            f"{', '.join(known)})"
        )
    return candidate.resolve()


def _parse_listing(out: str, path: Path) -> dict[str, Any]:
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        raise InventoryError(f"inventory {path}: ansible-inventory printed no JSON") from None


def _listing(path: Path) -> dict[str, Any]:
    ensure_ansible_on_path()
    out, err = ansible_runner.get_inventory(
        action="list", inventories=[str(path)], response_format="json", quiet=True
    )
    if not out:
        raise InventoryError(f"inventory {path} could not be parsed: {str(err).strip()[-500:]}")
    return out if isinstance(out, dict) else _parse_listing(str(out), path)


def _group_hosts(listing: dict[str, Any], group: str) -> list[str]:
    """Hosts of a group and of its child groups, as ansible-inventory --list shows them."""
    seen: list[str] = []
    pending = [group]
    visited: set[str] = set()
    while pending:
        name = pending.pop()
        if name in visited:
            continue
        visited.add(name)
        entry = listing.get(name, {}) or {}
        seen.extend(h for h in entry.get("hosts", []) if h not in seen)
        pending.extend(entry.get("children", []))
    return sorted(seen)


def hosts_under_test(path: Path) -> list[str]:
    return read(path).hosts


@dataclass(frozen=True)
class Inventory:
    """Hosts under test, and for each the host that drives its network and application load."""

    path: Path
    hosts: list[str]
    load_for: dict[str, str]

    @property
    def load_hosts(self) -> list[str]:
        return sorted(set(self.load_for.values()))


def read(path: Path) -> Inventory:
    """The hosts under test and their load hosts.

    A host's load host is its host variable ``isobench_load_host`` when set, else the first
    host of the group ``isobench_load``, else the host itself (client and server then share
    it, over the environment's own network path).
    """
    listing = _listing(path)
    hosts = _group_hosts(listing, HOST_GROUP)
    if not hosts:
        raise InventoryError(
            f"inventory {path}: group {HOST_GROUP!r} has no hosts; put the servers under test "
            f"in it (see inventories/lab/hosts.yml)"
        )
    load_group = _group_hosts(listing, LOAD_GROUP)
    everyone = set(_group_hosts(listing, "all")) | set(hosts)
    hostvars = (listing.get("_meta") or {}).get("hostvars") or {}
    load_for: dict[str, str] = {}
    for host in hosts:
        chosen = (hostvars.get(host) or {}).get("isobench_load_host")
        if chosen is None:
            chosen = load_group[0] if load_group else host
        if not isinstance(chosen, str) or chosen not in everyone:
            raise InventoryError(
                f"inventory {path}: isobench_load_host of {host} is {chosen!r}, "
                "which is no host of this inventory"
            )
        load_for[host] = chosen
    bad = [h for h in [*hosts, *load_group, *load_for.values()] if not _SAFE_HOST.fullmatch(h)]
    if bad:
        raise InventoryError(
            f"inventory {path}: host names must be letters, digits, '.', '_' or '-': {bad}"
        )
    problems = host_var_errors(hostvars, sorted({*hosts, *load_group, *load_for.values()}))
    if problems:
        raise InventoryError(
            f"inventory {path}: unusable host variables:\n  " + "\n  ".join(problems)
        )
    return Inventory(path, hosts, load_for)


def _is_template(value: object) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def listen_address_error(value: object) -> str | None:
    """Why ``value`` cannot be an isobench_listen_address, or None."""
    try:
        address = ipaddress.ip_address(value if isinstance(value, str) else "")
    except ValueError:
        return f"{value!r} is not an IP address"
    if not any(address in net for net in LISTEN_NETWORKS if net.version == address.version):
        return (
            f"{value!r} is not a loopback, private or benchmarking (198.18.0.0/15) address; "
            "benchmark servers listen there"
        )
    return None


def base_dir_error(value: object) -> str | None:
    """Why ``value`` cannot be a folder isobench owns (userland_base_dir), or None."""
    if not isinstance(value, str) or not _SAFE_PATH.fullmatch(value):
        return f"{value!r} is not a path of letters, digits and ._/~+@-"
    if not value.startswith("/"):
        return f"{value!r} is not an absolute path"
    parts = value.rstrip("/").split("/")[1:]
    if any(p in ("", ".", "..") for p in parts):
        return f"{value!r} has empty, '.' or '..' components"
    norm = "/" + "/".join(parts)
    if len(parts) < 2 or norm in SYSTEM_DIRS:
        return f"{value!r} is a system folder (clean-hosts deletes this folder)"
    return None


def host_var_errors(hostvars: dict[str, Any], hosts: list[str]) -> list[str]:
    """Problems of the host variables isobench reads, each naming host, variable and value."""
    errors: list[str] = []
    for host in hosts:
        hv = hostvars.get(host) or {}

        def bad(var: str, why: str, host: str = host) -> None:
            errors.append(f"{host}: {var}: {why}")

        for var in ("isobench_load_host", "isobench_listen_address", "userland_base_dir"):
            if _is_template(hv.get(var)):
                bad(var, f"{hv[var]!r} must be a literal value, not a template")
        if "isobench_listen_address" in hv and not _is_template(hv["isobench_listen_address"]):
            why = listen_address_error(hv["isobench_listen_address"])
            if why:
                bad("isobench_listen_address", why)
        if "userland_base_dir" in hv and not _is_template(hv["userland_base_dir"]):
            why = base_dir_error(hv["userland_base_dir"])
            if why:
                bad("userland_base_dir", why)
        load = hv.get("isobench_load_host")
        if load is not None and not (isinstance(load, str) and _SAFE_HOST.fullmatch(load)):
            bad("isobench_load_host", f"{load!r} is not a host name")
        checks = (
            ("ansible_host", _SAFE_ADDRESS),
            ("ansible_user", _SAFE_USER),
            ("ansible_ssh_private_key_file", _SAFE_PATH),
        )
        for var, pattern in checks:
            value = hv.get(var)
            if value is None or _is_template(value):
                continue  # Ansible's own templating; isobench reads the result
            if not isinstance(value, str) or not pattern.fullmatch(value):
                bad(var, f"{value!r} holds characters a command line would interpret")
        port = hv.get("ansible_port")
        if port is not None and not _is_template(port):
            text = str(port)
            if isinstance(port, bool) or not text.isdigit() or not 0 < int(text) < 65536:
                bad("ansible_port", f"{port!r} is not a port number (1-65535)")
    return errors
