"""Run an experiment: plan it, drive playbooks/experiment.yml through ansible-runner, and
keep every measured or failed cell on disk as it ends."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_runner

from . import store
from .inventory import read as read_inventory
from .paths import ensure_ansible_on_path, project_root, secrets_dir, teardown_dir
from .plan import make_plan, targets
from .progress import EventRecorder
from .samples import sample_errors
from .spec import Spec


@dataclass
class RunOutcome:
    run_dir: Path
    cells_ok: int
    cells_failed: int
    runner_status: str
    interrupted: bool

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 0 if self.cells_failed == 0 and self.runner_status == "successful" else 1


def git_revision(root: Path) -> str:
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + ("-dirty" if dirty else "")


def new_run_id(spec: Spec) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{spec.name}-{secrets.token_hex(2)}"


def _utc_now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class _Interrupt:
    """First Ctrl-C: stop the run (cells on disk stay). The cleanup playbook runs after."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> _Interrupt:
        self._previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handler(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\ninterrupt: stopping; measured cells are kept, teardown follows "
            "(Ctrl-C again to abandon teardown)",
            file=sys.stderr,
            flush=True,
        )


def _runner_env(root: Path) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "ANSIBLE_CONFIG": str(root / "ansible.cfg"),
        "PATH": venv_bin + os.pathsep + os.environ.get("PATH", ""),
        "ISOBENCH_ROOT": str(root),
        "ANSIBLE_FORCE_COLOR": "0",
        "PYTHONUNBUFFERED": "1",
    }


def run_playbook(
    run_dir: Path,
    playbook: str,
    inventory: Path,
    extravars: dict[str, Any],
    handler: Any,
    cancel: Any = None,
    ident: str = "main",
    private_dir: Path | None = None,
) -> Any:
    root = project_root()
    ensure_ansible_on_path()
    private = private_dir or run_dir / "runner"
    private.mkdir(parents=True, exist_ok=True)
    return ansible_runner.run(
        private_data_dir=str(private),
        project_dir=str(root / "playbooks"),
        playbook=playbook,
        inventory=str(inventory),
        extravars=extravars,
        envvars=_runner_env(root),
        event_handler=handler,
        cancel_callback=cancel,
        quiet=True,
        ident=ident,
        settings={"suppress_ansible_output": True},
    )


def _meta_for_new_run(
    spec: Spec, inventory: Path, run_id: str, hosts: list[str], load_for: dict[str, str]
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "spec_name": spec.name,
        "spec_path": str(spec.path) if spec.path else None,
        "spec_sha256": spec.sha256,
        "git_revision": git_revision(project_root()),
        "seed": spec.data["seed"],
        "order": spec.data["order"],
        "inventory": str(inventory),
        "hosts": hosts,
        "load_for": load_for,
        "environments": targets(spec),
        "plan": make_plan(spec, hosts, load_for),
        "started": _utc_now(),
        "status": "running",
        "controller_python": sys.version.split()[0],
        "attempts": [],
    }


def valid_cell_ids(run_dir: Path) -> set[str]:
    """Cells of a run folder with a valid result: status ok and every sample valid."""
    valid: set[str] = set()
    for path in sorted((run_dir / store.CELLS_DIR).glob("*.json")):
        try:
            record = store.read_json(path)
        except store.ResultsError:
            continue  # unreadable (e.g. written as the disk filled): run it again
        samples = record.get("samples") or []
        if (
            record.get("status") == "ok"
            and samples
            and not any(sample_errors(s) for s in samples)
            and isinstance(record.get("cell"), dict)
        ):
            valid.add(str(record["cell"].get("id")))
    return valid


def _set_aside(run_dir: Path, cell_ids: list[str], attempt: int) -> None:
    """Earlier failed records of cells about to run again go to attempts/<n>/ (kept)."""
    for cell_id in cell_ids:
        path = run_dir / store.CELLS_DIR / f"{store.safe_name(cell_id)}.json"
        if path.exists():
            dest = run_dir / "attempts" / str(attempt) / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, dest)


def resume_meta(run_dir: Path) -> tuple[dict[str, Any], Spec, Path]:
    """The run folder's metadata, its spec (checked against the recorded hash) and inventory."""
    from .spec import load as load_spec

    meta = store.load_run(run_dir)
    spec = load_spec(str(run_dir / "spec.yml"))
    if spec.sha256 != meta.get("spec_sha256"):
        raise store.ResultsError(
            f"{run_dir}/spec.yml does not match the hash recorded in run.json; "
            "a resumed run must use the spec it started with"
        )
    return meta, spec, Path(str(meta["inventory"]))


def run_experiment(
    spec: Spec | None,
    inventory: Path | None,
    results_root: Path,
    run_id: str | None = None,
    resume: Path | None = None,
) -> RunOutcome:
    """Run a new experiment, or (``resume`` = a run folder) only the cells of that run that
    have no valid result yet, into the same folder."""
    if resume is not None:
        run_dir = resume
        meta, spec, recorded_inventory = resume_meta(run_dir)
        inventory = inventory or recorded_inventory
        inv = read_inventory(inventory)
        if sorted(inv.hosts) != sorted(meta["hosts"]):
            raise store.ResultsError(
                f"inventory {inv.path} has hosts {inv.hosts}, the run had {meta['hosts']}"
            )
        run_id = str(meta["run_id"])
        done = valid_cell_ids(run_dir)
        plan = [c for c in meta["plan"] if c["id"] not in done]
        _set_aside(run_dir, [c["id"] for c in plan], len(meta.get("attempts", [])) + 1)
    else:
        if spec is None or inventory is None:
            raise ValueError("a new run needs a spec and an inventory")
        inv = read_inventory(inventory)
        run_id = run_id or new_run_id(spec)
        run_dir = results_root / run_id
        run_dir.mkdir(parents=True, exist_ok=False)
        (run_dir / "spec.yml").write_text(spec.text, encoding="utf-8")
        meta = _meta_for_new_run(spec, inventory, run_id, inv.hosts, inv.load_for)
        plan = meta["plan"]
    hosts = inv.hosts
    environments = meta["environments"]
    attempt: dict[str, Any] = {
        "started": _utc_now(),
        "git_revision": git_revision(project_root()),
        "cells_planned": len(plan),
    }
    meta.setdefault("attempts", []).append(attempt)
    meta["status"] = "running"
    store.write_json_atomic(run_dir / store.RUN_FILE, meta)
    recorder = EventRecorder(run_dir, plan)
    if resume is not None:
        recorder.say(
            f"resuming run {run_id}: {len(meta['plan']) - len(plan)} cells already valid, "
            f"{len(plan)} to run; results in {run_dir}"
        )
    else:
        recorder.say(
            f"run {run_id}: {len(hosts)} host(s), {len(environments)} environment(s), "
            f"{len(plan)} cells; results in {run_dir}"
        )
    if not plan:
        recorder.say("nothing to run: every cell has a valid result")
        attempt.update({"ended": _utc_now(), "status": "successful"})
        meta["status"] = "successful"
        store.write_json_atomic(run_dir / store.RUN_FILE, meta)
        recorder.close()
        cells = store.load_cells(run_dir)
        ok = sum(1 for c in cells if c.get("status") == "ok")
        return RunOutcome(run_dir, ok, len(cells) - ok, "successful", False)
    extravars = {
        "isobench_run_id": run_id,
        "isobench_spec": spec.data,
        "isobench_plan": plan,
        "isobench_environments": environments,
        "isobench_results_dir": str(run_dir),
        # only hosts that drive some cell of this plan set up a client side
        "isobench_load_hosts": sorted({c["load_host"] for c in plan if c.get("load_host")}),
        "isobench_secrets_dir": str(secrets_dir(run_id)),
    }
    status = "failed"
    with _Interrupt() as interrupt:
        try:
            result = run_playbook(
                run_dir,
                "experiment.yml",
                inventory,
                extravars,
                recorder,
                cancel=lambda: interrupt.requested or recorder.fatal is not None,
                ident="experiment",
            )
            status = str(result.status)
        except KeyboardInterrupt:
            interrupt.requested = True
            status = "canceled"
        except OSError as exc:  # e.g. the results disk is full: keep what is on disk
            if recorder.fatal is None:
                recorder.say(f"the controller could not go on: {exc}; cells on disk are kept")
            recorder.fatal = recorder.fatal or exc
        if recorder.fatal is not None:
            status = f"error: cannot write results: {recorder.fatal}"
        if interrupt.requested or recorder.fatal is not None:
            why = "interrupted" if interrupt.requested else "stopped"
            recorder.say(f"{why}: running the teardown of every environment")
            # the teardown's own runner files go outside a results folder that may be full
            private = None if recorder.fatal is None else teardown_dir(run_id)
            try:
                run_playbook(
                    run_dir,
                    "teardown.yml",
                    inventory,
                    extravars,
                    recorder,
                    ident="teardown",
                    private_dir=private,
                )
            except KeyboardInterrupt:
                recorder.say(
                    "teardown abandoned by a second Ctrl-C: this run's targets may remain "
                    f"(containers labelled isobench.run={run_id}, guests isobench--{run_id}--*)"
                )
    try:
        for cell in recorder.missing_cells():
            recorder.record_cell(
                {
                    "cell": cell,
                    "status": "failed",
                    "reason": recorder.reason_not_run(cell, interrupt.requested),
                    "samples": [],
                    "started": None,
                    "ended": None,
                }
            )
    except OSError as exc:
        recorder.say(f"cells not run could not be recorded as such: {exc}")
    cells = store.load_cells(run_dir)
    ok = sum(1 for c in cells if c.get("status") == "ok")
    final = "interrupted" if interrupt.requested else status
    attempt.update(
        {
            "ended": _utc_now(),
            "status": final,
            "wall_seconds": round(time.monotonic() - recorder.started, 1),
        }
    )
    meta.update(
        {
            "ended": _utc_now(),
            "status": final,
            "cells_ok": ok,
            "cells_failed": len(meta["plan"]) - ok,
            "wall_seconds": round(
                sum(float(a.get("wall_seconds", 0)) for a in meta["attempts"]), 1
            ),
        }
    )
    try:
        store.write_json_atomic(run_dir / store.RUN_FILE, meta)
    except OSError as exc:
        recorder.say(f"run.json not updated ({exc}); the cell files on disk are the results")
    recorder.close()
    failed = max(len(meta["plan"]) - ok, len(cells) - ok)
    return RunOutcome(run_dir, ok, failed, status, interrupt.requested)
