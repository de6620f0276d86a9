from __future__ import annotations

from pathlib import Path

import pytest

from isobench.inventory import InventoryError, read


def _inv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.yml"
    path.write_text(text)
    return path


def test_load_host_from_group_and_override(tmp_path: Path) -> None:
    inv = read(
        _inv(
            tmp_path,
            """
all:
  children:
    isobench_hosts:
      children:
        rack1:
          hosts:
            sut1: {}
            sut2: {isobench_load_host: sut2}
    isobench_load:
      hosts:
        load1: {}
""",
        )
    )
    assert inv.hosts == ["sut1", "sut2"]
    assert inv.load_for == {"sut1": "load1", "sut2": "sut2"}
    assert inv.load_hosts == ["load1", "sut2"]


def test_without_load_group_each_host_loads_itself(tmp_path: Path) -> None:
    inv = read(
        _inv(tmp_path, "all:\n  children:\n    isobench_hosts:\n      hosts:\n        a: {}\n")
    )
    assert inv.load_for == {"a": "a"}


def test_unknown_load_host_is_named(tmp_path: Path) -> None:
    path = _inv(
        tmp_path,
        "all:\n  children:\n    isobench_hosts:\n      hosts:\n"
        "        a: {isobench_load_host: nowhere}\n",
    )
    with pytest.raises(InventoryError, match="isobench_load_host of a is 'nowhere'"):
        read(path)
