from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from isobench import cli, spec


def _spec_file(tmp_path: Path, **over: object) -> str:
    data = yaml.safe_load(Path(spec.resolve("quick")).read_text())
    data.update(over)
    path = tmp_path / "spec.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_validate_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["validate", "quick", "--inventory", "local"]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "localhost" in out


def test_unknown_benchmark_exits_2_before_any_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _spec_file(tmp_path, benchmarks={"dhrystone": {}})
    results = tmp_path / "results"
    assert cli.main(["run", "--spec", path, "--results", str(results)]) == 2
    assert "unknown benchmark 'dhrystone'" in capsys.readouterr().err
    assert not results.exists()


@pytest.mark.parametrize("reps", [0, -1])
def test_bad_repetitions_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], reps: int
) -> None:
    path = _spec_file(tmp_path, repetitions=reps)
    assert cli.main(["run", "--spec", path, "--results", str(tmp_path / "r")]) == 2
    assert "repetitions" in capsys.readouterr().err


def test_missing_inventory_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", "--inventory", "nowhere", "--results", str(tmp_path / "r")])
    assert code == 2
    err = capsys.readouterr().err
    assert "inventory 'nowhere' not found" in err and "local" in err
    assert not (tmp_path / "r").exists()


def test_malformed_inventory_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text("all: [this is: not, an inventory\n")
    assert cli.main(["validate", "quick", "--inventory", str(inv)]) == 2
    assert "inventory" in capsys.readouterr().err


def test_inventory_without_hosts_under_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    somewhere:\n")
    assert cli.main(["validate", "quick", "--inventory", str(inv)]) == 2
    assert "isobench_hosts" in capsys.readouterr().err


def test_hostile_host_name_rejected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "hosts.ini"
    inv.write_text("[isobench_hosts]\nbad$(reboot) ansible_connection=local\n")
    assert cli.main(["validate", "quick", "--inventory", str(inv)]) == 2


def test_report_of_a_folder_that_is_no_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "not an isobench run folder" in capsys.readouterr().err


def test_plan_lists_cells(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["plan", "--profile", "quick"]) == 0
    lines = capsys.readouterr().out.split()
    assert "localhost--native--hpcc--r1" in lines
    assert len(lines) == len(set(lines))
