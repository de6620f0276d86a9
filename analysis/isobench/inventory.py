"""Inventories: which hosts are under test, read with ansible-inventory (via ansible-runner)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ansible_runner

from .paths import ensure_ansible_on_path, inventories_dir

HOST_GROUP = "isobench_hosts"
LOAD_GROUP = "isobench_load"
_SAFE_HOST = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


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
    bad = [h for h in [*hosts, *load_for.values()] if not _SAFE_HOST.match(h)]
    if bad:
        raise InventoryError(
            f"inventory {path}: host names must be letters, digits, '.', '_' or '-': {bad}"
        )
    return Inventory(path, hosts, load_for)
