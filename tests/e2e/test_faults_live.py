"""Faults injected into a live run from outside, as they happen on real machines: a
benchmark process killed mid-run, a container that dies, the controller's results disk
filling up, Ctrl-C of the controller (then resuming the run). In each case the other cells
complete (or, for Ctrl-C, the run stops cleanly), what was measured is on disk and valid,
failed cells carry their reason, and teardown ran."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from .helpers import ISOBENCH, ROOT, cells, only_run_dir, userland_mounts

pytestmark = [pytest.mark.slow]


def _spec(tmp: Path, name: str, **over: object) -> Path:
    data = {
        "isobench": 1,
        "name": name,
        "repetitions": 2,
        "seed": 1,
        "order": "sequential",
        "cell_timeout": 300,
        "environments": ["native"],
        "benchmarks": {"compress": {"input_mb": 4}, "linpack": {"n": 2500}},
        "hpcc": {"mode": "separate"},
        **over,
    }
    path = tmp / f"{name}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run_until(
    args: list[str], trigger: str, action: Callable[[subprocess.Popen[str]], None]
) -> tuple[int, str]:
    """Run the CLI; when a line containing ``trigger`` appears, call ``action``."""
    proc = subprocess.Popen(
        [str(ISOBENCH), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    fired = False
    assert proc.stdout is not None
    deadline = time.monotonic() + 20 * 60
    for line in proc.stdout:
        lines.append(line)
        if not fired and trigger in line:
            fired = True
            action(proc)
        if time.monotonic() > deadline:
            proc.kill()
            break
    proc.wait(timeout=600)
    out = "".join(lines)
    assert fired, f"never saw {trigger!r}:\n{out[-3000:]}"
    return proc.returncode, out


def _valid_ok_cells(run_dir: Path) -> dict[str, dict]:
    from isobench.runner import valid_cell_ids

    recorded = cells(run_dir)
    ok = {k: v for k, v in recorded.items() if v["status"] == "ok"}
    assert set(ok) == valid_cell_ids(run_dir)
    return ok


def _pkill_when_running(pattern: str) -> Callable[[subprocess.Popen[str]], None]:
    def action(_: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if subprocess.run(["pkill", "-KILL", "-x", pattern], check=False).returncode == 0:
                return
            time.sleep(0.2)
        raise AssertionError(f"no {pattern} process appeared")

    return action


def test_benchmark_process_killed_mid_run(tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, out = _run_until(
        ["run", "--spec", str(_spec(tmp_path, "killed")), "--results", str(results)],
        "native linpack rep 1: running",
        _pkill_when_running("hpcc"),
    )
    assert code == 1, out[-3000:]
    run_dir = only_run_dir(results)
    recorded = cells(run_dir)
    failed = recorded["localhost--native--linpack--r1"]
    assert failed["status"] == "failed" and failed["reason"], failed
    ok = _valid_ok_cells(run_dir)
    # the cells after the killed one ran and measured
    assert "localhost--native--linpack--r2" in ok and "localhost--native--compress--r2" in ok
    assert "localhost--native--linpack--r1" in (run_dir / "report.md").read_text()
    assert userland_mounts() == []


def test_ctrl_c_keeps_measured_cells_tears_down_and_resumes(tmp_path: Path) -> None:
    results = tmp_path / "results"
    code, out = _run_until(
        ["run", "--spec", str(_spec(tmp_path, "ctrlc")), "--results", str(results)],
        "ok: compress.throughput",
        lambda proc: proc.send_signal(signal.SIGINT),
    )
    assert code == 130, out[-3000:]
    assert "teardown" in out
    run_dir = only_run_dir(results)
    ok = _valid_ok_cells(run_dir)
    assert "localhost--native--compress--r1" in ok
    not_run = [c for c in cells(run_dir).values() if c["status"] != "ok"]
    assert not_run and all("interrupted" in c["reason"] for c in not_run)
    assert userland_mounts() == []
    # resume: only the cells without a valid result run; the first measurement is untouched
    first = (run_dir / "cells" / "localhost--native--compress--r1.json").read_text()
    proc = subprocess.run(
        [str(ISOBENCH), "run", "--resume", run_dir.name, "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20 * 60,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert f"{len(ok)} cells already valid" in proc.stdout
    assert (run_dir / "cells" / "localhost--native--compress--r1.json").read_text() == first
    final = _valid_ok_cells(run_dir)
    assert len(final) == 4
    meta = json.loads((run_dir / "run.json").read_text())
    assert [a["status"] for a in meta["attempts"]] == ["interrupted", "successful"]
    assert list((run_dir / "attempts").rglob("*.json"))  # the interrupted records are kept


def _fill(folder: Path) -> Callable[[subprocess.Popen[str]], None]:
    def action(_: subprocess.Popen[str]) -> None:
        with (folder / "filler").open("wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * (1 << 20))
                    fh.flush()
            except OSError:
                pass  # the disk is full now

    return action


@pytest.mark.skipif(shutil.which("mount") is None, reason="needs mount")
def test_results_disk_full(tmp_path: Path) -> None:
    results = tmp_path / "small"
    results.mkdir()
    spec = _spec(tmp_path, "full", repetitions=6, benchmarks={"compress": {"input_mb": 1}})
    # a results disk of its own, filled up by another program once the first cell is in
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(results)], check=True)
    try:
        code, out = _run_until(
            ["run", "--spec", str(spec), "--results", str(results)],
            "ok: compress.throughput",
            _fill(results),
        )
        assert code not in (0, 130), out[-3000:]
        assert "No space left on device" in out, out[-3000:]
        assert "Traceback" not in out, out[-3000:]
        run_dir = only_run_dir(results)
        ok = _valid_ok_cells(run_dir)  # every cell file on disk is whole and valid
        assert "localhost--native--compress--r1" in ok, out[-3000:]
        assert len(ok) < 6
        assert userland_mounts() == [], "teardown did not run"
        # with space again, the report and the rest of the run come back
        (results / "filler").unlink()
        proc = subprocess.run(
            [str(ISOBENCH), "run", "--resume", run_dir.name, "--results", str(results)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20 * 60,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        assert len(_valid_ok_cells(run_dir)) == 6
    finally:
        subprocess.run(["umount", "-l", str(results)], check=False)


def _kill_containers(_: subprocess.Popen[str]) -> None:
    ids = subprocess.run(
        ["docker", "ps", "-q", "--filter", "label=isobench.run"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert ids, "no isobench container running"
    subprocess.run(["docker", "kill", *ids], check=True, capture_output=True)


def test_container_dies_mid_run(tmp_path: Path) -> None:
    results = tmp_path / "results"
    spec = _spec(tmp_path, "dies", environments=["native", "docker-host"], repetitions=1)
    code, out = _run_until(
        ["run", "--spec", str(spec), "--results", str(results)],
        "docker-host linpack rep 1: running",
        _kill_containers,
    )
    assert code == 1, out[-3000:]
    run_dir = only_run_dir(results)
    recorded = cells(run_dir)
    dead = recorded["localhost--docker-host--linpack--r1"]
    assert dead["status"] == "failed" and dead["reason"], dead
    ok = _valid_ok_cells(run_dir)
    assert {"localhost--native--compress--r1", "localhost--native--linpack--r1"} <= set(ok)
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=isobench.run={run_dir.name}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert left == [], "teardown left containers"
    assert userland_mounts() == []
