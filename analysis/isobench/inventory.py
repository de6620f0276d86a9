"""Inventories: which hosts are under test, read with ansible-inventory (via ansible-runner)."""

from __future__ import annotations

import json
import re
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


def hosts_under_test(path: Path) -> list[str]:
    ensure_ansible_on_path()
    out, err = ansible_runner.get_inventory(
        action="list", inventories=[str(path)], response_format="json", quiet=True
    )
    if not out:
        raise InventoryError(f"inventory {path} could not be parsed: {str(err).strip()[-500:]}")
    listing = out if isinstance(out, dict) else _parse_listing(str(out), path)
    hosts = sorted(listing.get(HOST_GROUP, {}).get("hosts", []))
    if not hosts:
        raise InventoryError(
            f"inventory {path}: group {HOST_GROUP!r} has no hosts; put the servers under test "
            f"in it (see inventories/lab/hosts.yml)"
        )
    bad = [h for h in hosts if not _SAFE_HOST.match(h)]
    if bad:
        raise InventoryError(
            f"inventory {path}: host names must be letters, digits, '.', '_' or '-': {bad}"
        )
    return hosts
