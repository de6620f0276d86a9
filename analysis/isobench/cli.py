"""isobench command line: run, report, validate, plan."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import spec as spec_mod
from .inventory import InventoryError
from .inventory import read as read_inventory
from .inventory import resolve as resolve_inventory
from .plan import make_plan
from .store import ResultsError


def _cmd_validate(args: argparse.Namespace) -> int:
    spec = spec_mod.load(args.spec)
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
        spec = spec_mod.load(args.spec)
        inventory = resolve_inventory(args.inventory or "local")
        outcome = run_experiment(spec, inventory, Path(args.results), run_id=args.run_id)
    paths = build_report(outcome.run_dir)
    print()
    print(f"results: {outcome.run_dir}")
    print(f"report:  {paths.get('html', '')}  ({paths.get('markdown', '')})")
    print(f"cells:   {outcome.cells_ok} ok, {outcome.cells_failed} failed")
    if outcome.cells_failed:
        print("failed cells are listed with their reasons in the report", file=sys.stderr)
    return outcome.exit_code


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
    paths = build_report(run_dir)
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
