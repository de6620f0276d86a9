from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from isobench import spec


def _write(tmp_path: Path, data: object) -> str:
    path = tmp_path / "spec.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _base() -> dict:
    return yaml.safe_load(Path(spec.resolve("quick")).read_text())


@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_profiles_are_valid(profile: str) -> None:
    loaded = spec.load(profile)
    assert loaded.name == profile
    assert set(loaded.data["benchmarks"]) == {
        "compress",
        "linpack",
        "stream",
        "randomaccess",
        "fio",
        "nuttcp",
        "netlat",
        "redis",
        "mysql",
    }
    assert len(loaded.sha256) == 64


def test_paper_profile_has_the_studys_parameters() -> None:
    paper = spec.load("paper").data
    assert paper["repetitions"] == 10
    assert paper["benchmarks"]["compress"]["level"] == 2
    assert paper["benchmarks"]["linpack"]["n"] == "paper"


def test_unknown_benchmark_named(tmp_path: Path) -> None:
    data = _base()
    data["benchmarks"]["dhrystone"] = {}
    with pytest.raises(spec.SpecError, match="unknown benchmark 'dhrystone'"):
        spec.load(_write(tmp_path, data))


@pytest.mark.parametrize("reps", [0, -3, "three", 2.5])
def test_bad_repetitions(tmp_path: Path, reps: object) -> None:
    data = _base()
    data["repetitions"] = reps
    with pytest.raises(spec.SpecError, match="repetitions"):
        spec.load(_write(tmp_path, data))


def test_unknown_environment(tmp_path: Path) -> None:
    data = _base()
    data["environments"] = ["native", "lxc"]
    with pytest.raises(spec.SpecError, match="unknown environment 'lxc'"):
        spec.load(_write(tmp_path, data))


@pytest.mark.parametrize("name", ["quick; rm -rf /", "../../etc", "$(reboot)", "a b", ""])
def test_hostile_names_rejected(tmp_path: Path, name: str) -> None:
    data = _base()
    data["name"] = name
    with pytest.raises(spec.SpecError, match="name"):
        spec.load(_write(tmp_path, data))


def test_unknown_parameter(tmp_path: Path) -> None:
    data = _base()
    data["benchmarks"]["compress"]["lvl"] = 3
    with pytest.raises(spec.SpecError, match="lvl"):
        spec.load(_write(tmp_path, data))


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("isobench: [1\n")
    with pytest.raises(spec.SpecError, match="not valid YAML"):
        spec.load(str(path))


def test_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(spec.SpecError, match="mapping"):
        spec.load(_write(tmp_path, ["a", "b"]))


def test_unknown_profile() -> None:
    with pytest.raises(spec.SpecError, match=r"unknown profile 'fast'.*quick"):
        spec.load("fast")


def test_missing_spec_file() -> None:
    with pytest.raises(spec.SpecError, match="not found"):
        spec.load("/nonexistent/spec.yml")


def test_all_errors_reported_at_once(tmp_path: Path) -> None:
    data = _base()
    data["repetitions"] = 0
    data["benchmarks"]["nope"] = {}
    with pytest.raises(spec.SpecError) as err:
        spec.load(_write(tmp_path, data))
    assert "repetitions" in str(err.value) and "nope" in str(err.value)


def test_defaults_filled(tmp_path: Path) -> None:
    data = {
        "isobench": 1,
        "name": "mini",
        "repetitions": 1,
        "environments": ["native"],
        "benchmarks": {"compress": {}},
    }
    loaded = spec.load(_write(tmp_path, data))
    assert loaded.data["order"] == "randomized"
    assert loaded.data["hpcc"]["mode"] == "shared"
    assert loaded.data["userland"]["suite"] == "bookworm"


def test_environment_options(tmp_path: Path) -> None:
    data = _base()
    data["docker"] = {"limits": {"cpuset": "0-1", "memory": "2g"}, "runtime": "runc"}
    data["kvm"] = {"hugepages": True, "mem_mb_cap": 4096}
    assert spec.load(_write(tmp_path, data)).data["docker"]["limits"]["cpuset"] == "0-1"
    data["docker"] = {"limits": {"cpuset": "0; rm -rf /"}}
    with pytest.raises(spec.SpecError, match="cpuset"):
        spec.load(_write(tmp_path, data))


def test_paper_profile_has_the_studys_configurations() -> None:
    paper = spec.load("paper")
    assert set(paper.environments) >= {
        ("native", ""),
        ("docker-host", "volume"),
        ("docker-nat", "volume"),
        ("docker-nat", "overlay"),
        ("kvm-tuned", "raw"),
        ("kvm-tuned", "qcow2"),
    }
    assert paper.data["benchmarks"]["mysql"]["table_rows"] == 2_000_000
    assert paper.data["benchmarks"]["redis"]["requests"] == 500_000
