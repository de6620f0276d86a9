"""isobench command line: run, report, validate, plan, clean-hosts."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from . import spec as spec_mod
from .inventory import SYSTEM_DIRS, InventoryError
from .inventory import read as read_inventory
from .inventory import resolve as resolve_inventory
from .plan import make_plan
from .store import ResultsError


def _cmd_validate(args: argparse.Namespace) -> int:
    spec = spec_mod.load(args.spec)
    make_plan(spec, ["check"])  # benchmark_repetitions and exclude name real entries
    print(f"spec {spec.path}: valid ({spec.name}, sha256 {spec.sha256[:12]})")
    if args.inventory:
        path = resolve_inventory(args.inventory)
        inv = read_inventory(path)
        print(f"inventory {path}: hosts under test: {', '.join(inv.hosts)}")
        print(
            "load hosts: " + ", ".join(f"{h} <- {load}" for h, load in sorted(inv.load_for.items()))
        )
    return 0


def _cmd_plan(args: argparse.Namespace) -> int:
    spec = spec_mod.load(args.spec)
    inv = read_inventory(resolve_inventory(args.inventory))
    for cell in make_plan(spec, inv.hosts, inv.load_for):
        print(json.dumps(cell, sort_keys=True) if args.json else cell["id"])
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from .report import build_report
    from .runner import run_experiment

    if args.resume:
        run_dir = _resume_dir(args.resume, Path(args.results))
        inventory = resolve_inventory(args.inventory) if args.inventory else None
        outcome = run_experiment(None, inventory, Path(args.results), resume=run_dir)
    else:
        # every check (run id, results folder, spec, inventory) before anything is created
        check_run_target(Path(args.results), args.run_id)
        spec = spec_mod.load(args.spec)
        inventory = resolve_inventory(args.inventory or "local")
        read_inventory(inventory)
        outcome = run_experiment(spec, inventory, Path(args.results), run_id=args.run_id)
    print()
    print(f"results: {outcome.run_dir}")
    try:
        paths = build_report(outcome.run_dir)
    except OSError as exc:
        print(
            f"isobench: error: the report could not be written ({exc}); free space, then "
            f"run: isobench report {outcome.run_dir}",
            file=sys.stderr,
        )
        return max(outcome.exit_code, 1)
    print(f"report:  {paths.get('html', '')}  ({paths.get('markdown', '')})")
    print(f"cells:   {outcome.cells_ok} ok, {outcome.cells_failed} failed")
    if outcome.cells_failed:
        print("failed cells are listed with their reasons in the report", file=sys.stderr)
    return outcome.exit_code


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Folders of the repository that hold the project itself: never a results folder.
PROJECT_DIRS = frozenset(
    {"analysis", "bench", "docs", "inventories", "playbooks", "plugins", "roles", "schemas"}
    | {"tests", ".git", ".venv"}
)


def check_run_target(results: Path, run_id: str | None) -> None:
    """Refuse a run id that is not one folder name, and a results folder that is a system
    folder or a part of the project, before anything is created."""
    from .paths import project_root

    if run_id is not None and not RUN_ID.fullmatch(run_id):
        raise ResultsError(
            f"--run-id {run_id!r}: a run id is one folder name of letters, digits, '.', '_' "
            "and '-' (at most 128, starting with a letter or digit)"
        )
    where = results.expanduser().resolve()
    text = str(where)
    if (
        where == Path("/")
        or text in SYSTEM_DIRS
        or any(d.startswith(text + "/") for d in SYSTEM_DIRS)
    ):
        raise ResultsError(f"--results {str(results)!r} is the system folder {text}")
    root = project_root().resolve()
    if where == root or (
        where.is_relative_to(root) and where.relative_to(root).parts[0] in PROJECT_DIRS
    ):
        raise ResultsError(
            f"--results {str(results)!r} is inside the project's own files ({text}); "
            f"use a folder such as {root / 'results'}"
        )
    if run_id is not None:
        run_dir = (where / run_id).resolve()
        if run_dir.parent != where:
            raise ResultsError(f"--run-id {run_id!r} leads outside {text}")
        if run_dir.exists():
            raise ResultsError(
                f"run folder {run_dir} already exists; pick another --run-id or --resume {run_id}"
            )


class _CleanEvents:
    """Event handler of clean-hosts: one line per change, failure and host summary."""

    SUMMARY_TASK = "Summarize what was removed"

    def __init__(self) -> None:
        self.failures: dict[str, str] = {}
        self.changed = 0

    def __call__(self, event: dict[str, Any]) -> bool:
        kind = event.get("event", "")
        data = event.get("event_data", {}) or {}
        host, task = str(data.get("host", "")), str(data.get("task", ""))
        res = data.get("res") or {}
        if kind == "runner_on_ok" and task == self.SUMMARY_TASK:
            print(f"{host}: {res.get('msg', '')}", flush=True)
        elif kind == "runner_on_ok" and res.get("changed"):
            self.changed += 1
            print(f"{host}: changed: {task}", flush=True)
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            failed = [
                r for r in res.get("results") or [] if isinstance(r, dict) and r.get("failed")
            ]
            msg = "; ".join(self._why(r) for r in failed or [res])
            self.failures[host] = f"{task}: {msg[-600:]}"
            print(f"{host}: FAILED: {task}: {msg[-600:]}", file=sys.stderr, flush=True)
        elif kind == "runner_on_unreachable":
            msg = str(res.get("msg") or "unreachable").strip()
            self.failures[host] = f"unreachable: {msg[-400:]}"
            print(f"{host}: UNREACHABLE: {msg[-400:]}", file=sys.stderr, flush=True)
        return True

    @staticmethod
    def _why(res: dict[str, Any]) -> str:
        """A failed result in a line: the module's message and the command's stderr."""
        parts = [str(res.get(k) or "").strip() for k in ("msg", "stderr")]
        text = ": ".join(p for p in parts if p and p != "non-zero return code") or "failed"
        return text.replace("\n", " | ")[-400:]


def _cmd_clean_hosts(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from .paths import project_root
    from .runner import run_playbook

    inventory = resolve_inventory(args.inventory)
    inv = read_inventory(inventory)  # host names and variables checked before any host
    hosts = sorted({*inv.hosts, *inv.load_for.values()})
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    run_dir = project_root() / ".cache" / "clean-hosts" / stamp
    keep = [
        what
        for what, flag in (("userlands", args.keep_userlands), ("images", args.keep_images))
        if flag
    ]
    print(
        f"clean-hosts: removing everything isobench left on {', '.join(hosts)}"
        + (f" (keeping {' and '.join(keep)})" if keep else "")
        + f"; log in {run_dir}",
        flush=True,
    )
    started = time.monotonic()
    handler = _CleanEvents()
    result = run_playbook(
        run_dir,
        "clean-hosts.yml",
        inventory,
        {
            "clean_hosts_remove_userlands": not args.keep_userlands,
            "clean_hosts_remove_images": not args.keep_images,
        },
        handler,
        ident="clean-hosts",
    )
    seconds = time.monotonic() - started
    if handler.failures or result.status != "successful" or result.rc != 0:
        for host, why in sorted(handler.failures.items()):
            print(f"isobench: error: {host}: {why}", file=sys.stderr)
        if not handler.failures:
            print(
                f"isobench: error: clean-hosts ended {result.status} (rc {result.rc}); "
                f"see {run_dir / 'runner'}",
                file=sys.stderr,
            )
        print(f"clean-hosts: FAILED after {seconds:.1f} s", file=sys.stderr)
        return 1
    print(f"clean-hosts: done in {seconds:.1f} s, {handler.changed} change(s)")
    return 0


def _resume_dir(value: str, results: Path) -> Path:
    """A run to resume: a run id under the results folder, or a run folder's path."""
    for candidate in (results / value, Path(value)):
        if (candidate / "run.json").is_file():
            return candidate
    raise ResultsError(
        f"cannot resume {value!r}: no run folder {results / value} (or {value}) with a run.json"
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from .report import build_report

    run_dir = Path(args.run_dir)
    paths = build_report(run_dir, pool_hosts=args.pool_hosts)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import build_comparison

    out = Path(args.out) if args.out else None
    paths = build_comparison([Path(r) for r in args.runs], out)
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="isobench", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run an experiment and write its report")
    run.add_argument(
        "--spec",
        "--profile",
        dest="spec",
        default="quick",
        help="profile name (quick, paper) or path to a spec file",
    )
    run.add_argument(
        "--inventory",
        "--hosts",
        dest="inventory",
        default=None,
        help="inventory name under inventories/ or a path (default: local; when resuming, "
        "the run's own)",
    )
    run.add_argument("--results", default="results", help="folder of run folders")
    run.add_argument("--run-id", default=None, help="name of the run folder (default: new)")
    run.add_argument(
        "--resume",
        default=None,
        metavar="RUN_ID",
        help="run only the cells of this run (id or folder) that have no valid result yet",
    )
    run.set_defaults(func=_cmd_run)

    rep = sub.add_parser("report", help="(re)build the report of a run folder")
    rep.add_argument("run_dir")
    rep.add_argument(
        "--pool-hosts",
        action="store_true",
        help="one group for hosts whose provenance shows identical hardware and software",
    )
    rep.set_defaults(func=_cmd_report)

    cmp = sub.add_parser(
        "compare", help="set runs side by side (days, sites, hardware) and merge their samples"
    )
    cmp.add_argument("runs", nargs="+", metavar="RUN_DIR", help="two or more run folders")
    cmp.add_argument(
        "--out", default=None, help="output folder (default: results/compare-<UTC time>)"
    )
    cmp.set_defaults(func=_cmd_compare)

    val = sub.add_parser("validate", help="check a spec (and an inventory) without running")
    val.add_argument("spec", help="profile name or spec path")
    val.add_argument("--inventory", default=None)
    val.set_defaults(func=_cmd_validate)

    pl = sub.add_parser("plan", help="print the cells a run would execute, in order")
    pl.add_argument("--spec", "--profile", dest="spec", default="quick")
    pl.add_argument("--inventory", "--hosts", dest="inventory", default="local")
    pl.add_argument("--json", action="store_true")
    pl.set_defaults(func=_cmd_plan)

    cl = sub.add_parser(
        "clean-hosts",
        help="remove everything isobench created on the hosts (every run); keeps the daemons",
    )
    cl.add_argument("--inventory", "--hosts", dest="inventory", default="local")
    cl.add_argument(
        "--keep-userlands",
        action="store_true",
        help="keep the benchmark userlands (their work folders, mounts and processes go)",
    )
    cl.add_argument(
        "--keep-images",
        action="store_true",
        help="keep the Docker userland images and the KVM base images",
    )
    cl.set_defaults(func=_cmd_clean_hosts)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (spec_mod.SpecError, InventoryError, ResultsError) as exc:
        print(f"isobench: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
