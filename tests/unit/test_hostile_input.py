"""Hostile or malformed specs, inventories and command-line values are rejected, with the
key path and the offending value named, before ansible is started (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from isobench import cli, inventory, runner, spec
from isobench.paths import project_root

SHELL = ["a;b", "$(id)", "`id`", "a|b", "a&b", "a\nb", "a b"]


@pytest.fixture(autouse=True)
def _no_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting a run or a playbook fails the test (and creates nothing, even if a check
    were missing): every check comes first."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a run was started although the input is invalid")

    monkeypatch.setattr(runner, "run_playbook", refuse)
    monkeypatch.setattr(runner, "run_experiment", refuse)


def _base() -> dict[str, Any]:
    return yaml.safe_load(Path(spec.resolve("quick")).read_text())


def _spec_file(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "spec.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _rejected(capsys: pytest.CaptureFixture[str], argv: list[str], *fragments: str) -> str:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    for fragment in fragments:
        assert fragment in err, err
    return err


# ------------------------------------------------------------------ spec: wrong types


@pytest.mark.parametrize(
    ("key_path", "value", "named"),
    [
        (["benchmarks"], 5, "benchmarks: 5 is not of type 'object'"),
        (["benchmarks"], ["compress"], "benchmarks: ['compress'] is not of type"),
        (["environments"], "native", "environments: 'native' is not of type 'array'"),
        (["environments"], [1], "environments/0: 1 is not of type 'string'"),
        (["environments"], [{"env": "native"}], "environments/0:"),
        (["name"], 5, "name: 5 is not of type 'string'"),
        (["repetitions"], "3", "repetitions: '3' is not of type 'integer'"),
        (["repetitions"], True, "repetitions: True is not of type 'integer'"),
        (["seed"], 1.5, "seed: 1.5 is not of type 'integer'"),
        (["userland"], ["x"], "userland: ['x'] is not of type 'object'"),
        (["userland", "extra_packages"], "vim", "userland/extra_packages: 'vim' is not of"),
        (["userland", "extra_packages"], [1], "userland/extra_packages/0: 1 is not of type"),
        (["userland", "mirror"], 80, "userland/mirror: 80 is not of type 'string'"),
        (["benchmarks", "compress"], [1], "benchmarks/compress: [1] is not of type"),
        (["benchmarks", "compress", "level"], "2", "benchmarks/compress/level: '2' is not"),
        (["docker", "limits"], "2g", "docker/limits: '2g' is not of type 'object'"),
        (["kvm", "hugepages"], "yes", "kvm/hugepages: 'yes' is not of type 'boolean'"),
        (["description"], {"a": 1}, "description: {'a': 1} is not of type 'string'"),
    ],
)
def test_wrong_types_name_the_key_path(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    key_path: list[str],
    value: Any,
    named: str,
) -> None:
    data = _base()
    node = data
    for key in key_path[:-1]:
        node = node.setdefault(key, {})
    node[key_path[-1]] = value
    path = _spec_file(tmp_path, data)
    for argv in (
        ["validate", path],
        ["plan", "--spec", path],
        ["run", "--spec", path, "--results", str(tmp_path / "r")],
    ):
        _rejected(capsys, argv, named)
    assert not (tmp_path / "r").exists()


def test_non_string_keys_and_control_characters(tmp_path: Path) -> None:
    data = _base()
    data["benchmarks"]["compress"][3] = 1
    with pytest.raises(spec.SpecError, match="benchmarks/compress: key 3 is not a string"):
        spec.load(_spec_file(tmp_path, data))
    data = _base()
    data["description"] = "two\nlines are fine here"
    spec.load(_spec_file(tmp_path, data))


def test_alias_bomb_and_deep_nesting_rejected_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]")
    bomb = tmp_path / "bomb.yml"
    bomb.write_text("\n".join([*lines, "isobench: 1", "name: bomb", "description: *a9"]) + "\n")
    with pytest.raises(spec.SpecError, match="alias bomb"):
        spec.load(str(bomb))
    loop = tmp_path / "loop.yml"
    loop.write_text("isobench: 1\nname: loop\nbenchmarks: &b {compress: *b}\n")
    with pytest.raises(spec.SpecError, match="nested deeper"):
        spec.load(str(loop))
    deep = tmp_path / "deep.yml"
    deep.write_text("isobench: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(spec.SpecError, match="nested too deeply"):
        spec.load(str(deep))


# ------------------------------------------------------------ spec: shell metacharacters


@pytest.mark.parametrize("bad", SHELL)
def test_spec_name_with_shell_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    data = _base()
    data["name"] = "quick" + bad
    _rejected(capsys, ["validate", _spec_file(tmp_path, data)], "name:", repr("quick" + bad))


@pytest.mark.parametrize("bad", SHELL)
def test_environment_variant_with_shell_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str
) -> None:
    data = _base()
    data["environments"] = ["native", f"docker-nat/vol{bad}"]
    _rejected(
        capsys,
        ["validate", _spec_file(tmp_path, data)],
        "environments/1:",
        repr(f"docker-nat/vol{bad}"),
    )


@pytest.mark.parametrize("bad", [*SHELL, "Vim", "-rf", "a", "x" * 200])
def test_extra_package_names(tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str) -> None:
    data = _base()
    data["userland"] = {"extra_packages": ["strace", bad]}
    _rejected(
        capsys,
        ["validate", _spec_file(tmp_path, data)],
        "userland/extra_packages/1:",
        repr(bad)[:40],
    )


@pytest.mark.parametrize(
    "mirror",
    [
        "ftp://deb.example/debian",
        "http://deb.example/debian $(id)",
        'http://deb.example/"debian"',
        "http://deb.example/deb'ian",
        "http://deb.example/debian\n",
        "http:///debian",
        "file://host/srv/debian",
        "file:///srv/../etc",
        "deb.example/debian",
        "javascript:alert(1)",
    ],
)
def test_bad_mirrors(tmp_path: Path, capsys: pytest.CaptureFixture[str], mirror: str) -> None:
    data = _base()
    data["userland"] = {"mirror": mirror}
    _rejected(capsys, ["validate", _spec_file(tmp_path, data)], "userland/mirror:", repr(mirror))


@pytest.mark.parametrize(
    "mirror",
    ["", "http://deb.example/debian", "https://10.0.0.1:3142/debian/", "file:///srv/debian"],
)
def test_good_mirrors(tmp_path: Path, mirror: str) -> None:
    data = _base()
    data["userland"] = {"mirror": mirror}
    assert spec.load(_spec_file(tmp_path, data)).data["userland"]["mirror"] == mirror


# ------------------------------------------------------------ run id and results folder


@pytest.mark.parametrize(
    "run_id", ["../../etc", "a/b", "/etc", "..", ".hidden", "-rf", "x;id", "x\n", "a" * 200, ""]
)
def test_run_ids_that_are_not_one_folder_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], run_id: str
) -> None:
    results = tmp_path / "results"
    _rejected(
        capsys, ["run", "--results", str(results), f"--run-id={run_id}"], "--run-id", repr(run_id)
    )
    assert not results.exists()


@pytest.mark.parametrize("where", ["/", "/etc", "/var/lib", "/usr", "roles", "playbooks", "."])
def test_results_folder_outside_the_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    target = where if where.startswith("/") else str(project_root() / where)
    _rejected(capsys, ["run", "--results", target, "--run-id", "hostile"], "--results")
    assert not Path(target, "hostile").exists()


def test_existing_run_folder_is_not_reused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "r1").mkdir()
    _rejected(capsys, ["run", "--results", str(tmp_path), "--run-id", "r1"], "already exists")


# ------------------------------------------------------------------------- inventories


def _inventory(tmp_path: Path, host: str = "sut1", **hostvars: Any) -> Path:
    data = {
        "all": {
            "children": {
                "isobench_hosts": {"hosts": {host: hostvars}},
                "isobench_load": {"hosts": {"load1": {}}},
            }
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("bad", ["a;b", "a$(id)", "a`id`", "a|b", "a&b", "a b"])
def test_host_names_with_shell_characters(tmp_path: Path, bad: str) -> None:
    with pytest.raises(inventory.InventoryError, match="host names must be") as err:
        inventory.read(_inventory(tmp_path, host=bad))
    assert repr(bad) in str(err.value)


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("isobench_load_host", "load1;id"),
        ("isobench_load_host", ["load1"]),
        ("isobench_listen_address", "0.0.0.0"),
        ("isobench_listen_address", "::"),
        ("isobench_listen_address", "8.8.8.8"),
        ("isobench_listen_address", "224.0.0.1"),
        ("isobench_listen_address", "10.0.0.1; id"),
        ("isobench_listen_address", "lab1.example"),
        ("isobench_listen_address", 167772161),
        ("isobench_listen_address", "{{ lookup('pipe', 'id') }}"),
        ("userland_base_dir", "relative/path"),
        ("userland_base_dir", "/var/lib/isobench/../../etc"),
        ("userland_base_dir", "/"),
        ("userland_base_dir", "/usr"),
        ("userland_base_dir", "/var/lib"),
        ("userland_base_dir", "/home"),
        ("userland_base_dir", "/srv/isobench $(id)"),
        ("userland_base_dir", "/srv/isobench\n"),
        ("userland_base_dir", "{{ lookup('pipe', 'id') }}"),
        ("ansible_host", "10.0.0.1;id"),
        ("ansible_host", "-oProxyCommand=id"),
        ("ansible_user", "root`id`"),
        ("ansible_port", "22 -oProxyCommand=id"),
        ("ansible_port", 70000),
        ("ansible_ssh_private_key_file", "/root/.ssh/id key"),
    ],
)
def test_host_variables_isobench_uses(var: str, value: Any) -> None:
    errors = inventory.host_var_errors({"sut1": {var: value}}, ["sut1"])
    assert len(errors) == 1 and errors[0].startswith(f"sut1: {var}: "), errors
    assert repr(value) in errors[0]


def test_hostile_inventory_rejected_by_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = _inventory(
        tmp_path,
        isobench_listen_address="0.0.0.0",
        userland_base_dir="/var/lib/isobench/../..",
        ansible_host="lab1;reboot",
    )
    for argv in (
        ["validate", "quick", "--inventory", str(inv)],
        ["plan", "--inventory", str(inv)],
        ["run", "--inventory", str(inv), "--results", str(tmp_path / "r")],
        ["clean-hosts", "--inventory", str(inv)],
    ):
        _rejected(
            capsys,
            argv,
            "sut1: isobench_listen_address: '0.0.0.0'",
            "sut1: userland_base_dir: '/var/lib/isobench/../..'",
            "sut1: ansible_host: 'lab1;reboot'",
        )
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("isobench_listen_address", "127.0.0.1"),
        ("isobench_listen_address", "198.18.0.11"),
        ("isobench_listen_address", "192.168.1.20"),
        ("isobench_listen_address", "fd00::20"),
        ("userland_base_dir", "/srv/isobench/userland"),
        ("ansible_host", "lab1.example.org"),
        ("ansible_port", 2222),
        ("ansible_user", "root"),
        ("ansible_ssh_private_key_file", "~/.ssh/id_ed25519_lab"),
    ],
)
def test_sane_host_variables_pass(tmp_path: Path, var: str, value: Any) -> None:
    inv = inventory.read(_inventory(tmp_path, **{var: value}))
    assert inv.hosts == ["sut1"]


def test_shipped_inventories_pass() -> None:
    for name in ("local", "lab"):
        assert inventory.read(inventory.resolve(name)).hosts


def test_clean_hosts_rejects_a_hostile_inventory_before_any_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = _inventory(tmp_path, userland_base_dir="/")
    _rejected(capsys, ["clean-hosts", "--inventory", str(inv)], "userland_base_dir", "'/'")
