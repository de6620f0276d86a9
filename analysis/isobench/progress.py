"""Turn ansible-runner events into results on disk and one progress line per step."""

from __future__ import annotations

import contextlib
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from . import store
from .samples import sample_errors

PHASES = {
    "Gather the host's facts": "gathering facts",
    "Build or reuse the benchmark userland": "preparing the benchmark userland",
    "Create the targets of each environment": "creating environment targets",
    "Record each target's provenance": "recording provenance",
    "Tear down every environment of this host": "tearing down",
}


_WRAPPERS = re.compile(
    r"(Task failed: |Finalization of task args for '[^']*' failed: |"
    r"Error while resolving value for '[^']*': |The filter plugin '[^']*' failed: )"
)


def clean_reason(reason: str) -> str:
    """Ansible's wrapping of a filter's error, removed: the tool's own words stay."""
    return _WRAPPERS.sub("", reason).strip()


SHOWN = 6  # measurements shown on a cell's progress line (all are on disk)


def _short(value: float) -> str:
    return f"{value:.4g}"


class EventRecorder:
    """ansible-runner event handler: stores cells and provenance as they arrive."""

    def __init__(self, run_dir: Path, plan: list[dict[str, Any]], out: TextIO = sys.stdout):
        self.run_dir = run_dir
        self.plan = {cell["id"]: cell for cell in plan}
        self.total = len(plan)
        self.done: dict[str, str] = {}
        self.host_errors: dict[str, str] = {}
        self.unreachable: dict[str, str] = {}
        self.out = out
        self.started = time.monotonic()
        self.log = (run_dir / "events.log").open("a", encoding="utf-8")
        # set when the results folder cannot be written (e.g. the disk is full): the run
        # is then cancelled, since nothing more it measures could be kept
        self.fatal: OSError | None = None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.log.close()

    # -- output -------------------------------------------------------------------------
    def say(self, text: str) -> None:
        elapsed = time.monotonic() - self.started
        line = f"[{elapsed:7.1f}s] {text}"
        print(line, file=self.out, flush=True)
        try:
            self.log.write(line + "\n")
            self.log.flush()
        except OSError:
            pass  # the console still shows it; a full disk is reported by record_cell

    # -- events -------------------------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> bool:
        try:
            self._event(event)
        except OSError as exc:
            if self.fatal is None:
                self.fatal = exc
                self.say(
                    f"cannot write to the results folder {self.run_dir}: {exc}; stopping "
                    "the run (what is on disk stays valid), then tearing down"
                )
        return True  # keep the event in the runner's artifacts too

    def _event(self, event: dict[str, Any]) -> None:
        kind = event.get("event", "")
        data = event.get("event_data", {}) or {}
        host = str(data.get("host", ""))
        if kind == "playbook_on_task_start":
            phase = PHASES.get(str(data.get("task", "")))
            if phase:
                self.say(f"{phase}")
        elif kind == "runner_on_ok":
            facts = (data.get("res") or {}).get("ansible_facts") or {}
            self._facts(host, facts)
        elif kind == "runner_on_failed" and not data.get("ignore_errors"):
            res = data.get("res") or {}
            msg = str(res.get("msg") or res.get("stderr") or "failed").strip()
            self.host_errors[host] = f"{data.get('task', '?')}: {msg[-400:]}"
            self.say(f"{host}: task failed: {data.get('task', '?')}: {msg[-200:]}")
        elif kind == "runner_on_unreachable":
            res = data.get("res") or {}
            msg = str(res.get("msg", "unreachable")).strip()
            self.unreachable[host] = msg
            self.say(f"{host}: UNREACHABLE: {msg[-300:]}")

    def _facts(self, host: str, facts: dict[str, Any]) -> None:
        if "isobench_cell_start" in facts:
            cell = self.plan.get(str(facts["isobench_cell_start"]))
            if cell:
                n = len(self.done) + 1
                kind = "warm-up" if cell.get("warmup") else "rep"
                self.say(
                    f"[{n}/{self.total}] {cell['host']} {cell['env']}"
                    f"{'/' + cell['variant'] if cell['variant'] else ''} "
                    f"{'+'.join(cell['benchmarks'])} {kind} {cell['repetition']}: running"
                )
        if "isobench_cell_result" in facts:
            self.record_cell(facts["isobench_cell_result"])
        if "isobench_provenance" in facts:
            record = facts["isobench_provenance"]
            store.write_provenance(self.run_dir, str(record.get("target", host)), record)
            inside = record.get("inside", {})
            self.say(
                f"{record.get('target')}: {inside.get('cpus')} CPUs, {inside.get('mem_mb')} MiB, "
                f"accel {record.get('accel')}, binaries match userland: "
                f"{inside.get('binaries_match_manifest')}"
            )
        if "isobench_teardown_failure" in facts:
            failure = facts["isobench_teardown_failure"]
            self.say(f"{host}: TEARDOWN FAILED for {failure.get('role')}: {failure.get('reason')}")

    def record_cell(self, result: dict[str, Any]) -> None:
        cell = result.get("cell") or {}
        cell_id = str(cell.get("id", "unknown"))
        if result.get("status") == "ok":
            problems = [e for s in result.get("samples", []) for e in sample_errors(s)]
            if problems:
                result = {
                    **result,
                    "status": "failed",
                    "reason": "invalid samples: " + "; ".join(problems[:5]),
                    "rejected_samples": result.get("samples", []),
                    "samples": [],
                }
            elif not result.get("samples"):
                result = {**result, "status": "failed", "reason": "the tool gave no measurement"}
        if result.get("reason"):
            result["reason"] = clean_reason(str(result["reason"]))
        raw = result.pop("raw_output", "")
        if raw:
            raw_path = self.run_dir / "raw" / f"{store.safe_name(cell_id)}.txt"
            raw_path.parent.mkdir(parents=True, exist_ok=True)
            raw_path.write_text(str(raw), encoding="utf-8")
            result["raw_output_file"] = str(raw_path.relative_to(self.run_dir))
        store.write_cell(self.run_dir, result)
        self.done[cell_id] = str(result.get("status"))
        if result.get("status") == "ok":
            items = [
                f"{s['benchmark']}.{s['metric']}={_short(s['value'])} {s['unit']}"
                for s in result["samples"]
                if s["metric"] not in ("seconds",) and not s["metric"].endswith("_single")
            ]
            more = f" (+{len(items) - SHOWN} more)" if len(items) > SHOWN else ""
            self.say(f"    ok: {', '.join(items[:SHOWN])}{more}")
        else:
            self.say(f"    FAILED {cell_id}: {result.get('reason')}")

    def missing_cells(self) -> list[dict[str, Any]]:
        return [cell for cid, cell in self.plan.items() if cid not in self.done]

    def reason_not_run(self, cell: dict[str, Any], interrupted: bool) -> str:
        host = cell["host"]
        if host in self.unreachable:
            return f"not run: host {host} unreachable: {self.unreachable[host]}"
        if interrupted:
            return "not run: the experiment was interrupted"
        if host in self.host_errors:
            return f"not run: host {host} failed before this cell: {self.host_errors[host]}"
        return "not run: the play ended before this cell (see runner/artifacts stdout)"
