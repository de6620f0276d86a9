"""The report of one run: report.md, report.html, figures/<benchmark>.png, samples.csv and
samples.parquet.

``build_report(run_dir)`` reads only the results folder (run.json, spec.yml, cells/,
provenance/) and the study's reference numbers; it writes into the same folder. The
statistics are :func:`isobench.stats.analyze`'s; every rule they follow is stated in the
report's "Method" section.

The work is split by what it does: :mod:`isobench.tidy` loads the cell files into one long
table (:func:`load_tidy`) and writes samples.csv and samples.parquet, :mod:`isobench.tables`
builds the tables, :mod:`isobench.notes` the header, warnings and method notes,
:mod:`isobench.render` the Markdown and HTML. The names other modules and the tests use are
re-exported here.
"""

from __future__ import annotations

import argparse
import base64
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd

from isobench import figures, stats, store
from isobench.notes import (
    HEADER_FIELDS,
    LEGEND,
    STATS_LEGEND,
    _pick,
    cell_counts,
    header_items,
    method_notes,
    noisy_warning,
    order_short,
    order_text,
    run_warnings,
    setup_notes,
    warmup_setting,
    warmup_short,
    warmup_text,
)
from isobench.pooling import host_pools, pool_frame, pool_note
from isobench.render import CSS, ReportContext, md_table, render_html, render_markdown
from isobench.tables import (
    MISSING,
    BenchmarkSection,
    Table,
    _has_points,
    advisor_table,
    benchmark_sections,
    benchmark_table,
    binaries_check,
    failed_table,
    fmt_departure,
    fmt_interval,
    fmt_num,
    fmt_value,
    fmt_vs_native,
    not_run_cells,
    provenance_table,
    results_table,
    run_order_table,
    study_table,
)
from isobench.tidy import (
    SAMPLES_CSV,
    SAMPLES_PARQUET,
    load_tidy,
    params_json,
    samples_table,
    write_samples,
)

__all__ = [
    "CSS",
    "HEADER_FIELDS",
    "MISSING",
    "REPORT_HTML",
    "REPORT_MD",
    "SAMPLES_CSV",
    "SAMPLES_PARQUET",
    "Table",
    "_has_points",
    "_pick",
    "benchmark_table",
    "binaries_check",
    "build_context",
    "build_report",
    "fmt_departure",
    "fmt_interval",
    "fmt_num",
    "fmt_value",
    "fmt_vs_native",
    "load_tidy",
    "main",
    "md_table",
    "noisy_warning",
    "params_json",
    "run_seed",
    "run_warnings",
    "settings_arguments",
    "settings_from",
    "write_samples",
]

REPORT_MD = "report.md"
REPORT_HTML = "report.html"


# --- settings ----------------------------------------------------------------------------


def run_seed(run: dict[str, Any]) -> int:
    """The run's seed (it also seeds the bootstrap); :data:`stats.DEFAULT_SEED` if none."""
    seed = run.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else stats.DEFAULT_SEED


# --- figures -----------------------------------------------------------------------------


def _embed(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _attach_figures(
    sections: list[BenchmarkSection], written: dict[str, Path], run_dir: Path
) -> None:
    for section in sections:
        path = written.get(section.benchmark)
        if path is not None:
            section.figure = path.relative_to(run_dir).as_posix()
            section.figure_b64 = _embed(path)


# --- entry point -------------------------------------------------------------------------


def _settings(run: dict[str, Any], settings: stats.Settings | None) -> stats.Settings:
    return settings if settings is not None else stats.Settings(seed=run_seed(run))


def build_context(
    run_dir: Path,
    cells: list[dict[str, Any]],
    frame: pd.DataFrame,
    reference: pd.DataFrame | None = None,
    settings: stats.Settings | None = None,
    table: pd.DataFrame | None = None,
    run: dict[str, Any] | None = None,
) -> ReportContext:
    """Everything the report shows, before any figure is drawn (``table``: the result of
    :func:`results_table`, ``run``: run.json, read here when not given)."""
    run = store.load_run(run_dir) if run is None else run
    settings = _settings(run, settings)
    provenance = {
        target: record if isinstance(record, dict) else {"record": record}
        for target, record in store.load_provenance(run_dir).items()
    }
    not_run = not_run_cells(run, cells)
    if table is None:
        table = results_table(frame, reference, settings)
    binaries_line, binaries_diff = binaries_check(provenance)
    setting, excluded = warmup_setting(run_dir, run), stats.warmup_count(frame)
    warmups, order = warmup_text(setting, excluded), order_text(run)
    header = [
        *header_items(run, run_dir, cells),
        ("order", order_short(run)),
        ("warm-ups", warmup_short(setting, excluded)),
    ]
    study, study_line = study_table(table)
    advisor, advisor_line = advisor_table(table, settings.halfwidth_pct)
    run_order, run_order_line = run_order_table(run, cells)
    tested = int(table["p_value"].notna().sum()) if "p_value" in table.columns else 0
    return ReportContext(
        title=f"isobench report: {header[0][1]}",
        header=header,
        counts=cell_counts(cells, not_run),
        warnings=run_warnings(frame, cells, table),
        legend=LEGEND,
        sections=benchmark_sections(table),
        failed=failed_table([*store.failed_cells(cells), *not_run]),
        provenance=provenance_table(provenance),
        binaries_line=binaries_line,
        binaries_diff=binaries_diff,
        method=[*setup_notes(frame), *method_notes(settings, table, warmups, order)],
        stats_legend=STATS_LEGEND.format(normality=stats.NORMALITY_ALPHA, m=tested),
        study=study,
        study_line=study_line,
        advisor=advisor,
        advisor_line=advisor_line,
        run_order=run_order,
        run_order_line=run_order_line,
    )


def build_report(
    run_dir: Path,
    settings: stats.Settings | None = None,
    workers: int | None = None,
    timings: dict[str, float] | None = None,
    pool_hosts: bool = False,
) -> dict[str, Path]:
    """Write report.md, report.html, figures/*.png, samples.csv and samples.parquet into
    ``run_dir``.

    ``settings`` sets the statistics' parameters (default: :class:`isobench.stats.Settings`
    seeded with the run's seed: a 1% target for the repetition advisor, 2000 bootstrap
    resamples, ...); ``workers`` the loader's processes (default: automatic); ``timings``,
    if given, receives the seconds each stage took. Returns the paths written, keyed
    ``markdown``, ``html``, ``samples``, ``parquet`` and ``figure:<benchmark>``.
    """
    clock = _Stopwatch(timings)
    run_dir = Path(run_dir)
    run = store.load_run(run_dir)  # fail early on a folder that is not a run
    settings = _settings(run, settings)
    loaded = load_tidy(run_dir, workers)
    pooled_note = None
    if pool_hosts:
        pools = host_pools(store.load_provenance(run_dir))
        loaded.frame = pool_frame(loaded.frame, pools)
        pooled_note = pool_note(pools)
    clock.lap("load")
    with ThreadPoolExecutor(max_workers=1) as background:  # Arrow writes without the GIL
        exports = background.submit(write_samples, samples_table(loaded.frame), run_dir)
        table = results_table(loaded.frame, None, settings)
        clock.lap("statistics")
        context = build_context(run_dir, loaded.cells, loaded.frame, None, settings, table, run)
        if pooled_note:
            context.warnings.insert(0, pooled_note)
        clock.lap("tables")
        pngs = figures.write_figures(loaded.frame, run_dir / figures.FIGURES_DIR, summary=table)
        clock.lap("figures")
        written: dict[str, Path] = exports.result()
        clock.lap("exports (rest)")
    context.exports = [("samples (CSV)", SAMPLES_CSV), ("samples (Parquet)", SAMPLES_PARQUET)]
    _attach_figures(context.sections, pngs, run_dir)
    written.update({f"figure:{benchmark}": path for benchmark, path in pngs.items()})
    outputs = (
        ("markdown", REPORT_MD, render_markdown(context)),
        ("html", REPORT_HTML, render_html(context)),
    )
    for kind, name, text in outputs:
        path = run_dir / name
        path.write_text(text, encoding="utf-8")
        written[kind] = path
    clock.lap("render")
    return written


class _Stopwatch:
    def __init__(self, sink: dict[str, float] | None) -> None:
        self.sink, self.last = sink, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[name] = now - self.last
        self.last = now


def settings_arguments(parser: argparse.ArgumentParser) -> None:
    """The statistics options shared by ``python -m isobench.report`` and ``isobench compare``."""
    parser.add_argument(
        "--halfwidth", type=float, default=stats.DEFAULT_HALFWIDTH_PCT, metavar="PCT",
        help="repetition advisor: target half-width of the mean's 95%% CI, in %% of the "
        "mean (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--noisy-cv", type=float, default=stats.NOISY_CV * 100, metavar="PCT",
        help="flag groups whose coefficient of variation exceeds PCT %% (default %(default)s)",
    )  # fmt: skip
    parser.add_argument(
        "--resamples", type=int, default=stats.BOOTSTRAP_RESAMPLES,
        help="bootstrap resamples per comparison (default %(default)s)",
    )  # fmt: skip


def settings_from(args: argparse.Namespace, seed: int) -> stats.Settings:
    if args.halfwidth <= 0 or args.noisy_cv <= 0 or args.resamples < 100:
        raise store.ResultsError(
            "--halfwidth and --noisy-cv must be positive, --resamples at least 100"
        )
    return stats.Settings(
        seed=seed,
        resamples=args.resamples,
        halfwidth_pct=args.halfwidth,
        noisy_cv=args.noisy_cv / 100.0,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m isobench.report", description="(re)build the report of a run folder"
    )
    parser.add_argument("run_dir", metavar="RESULTS_DIR")
    parser.add_argument(
        "--pool-hosts",
        action="store_true",
        help="one group for hosts whose provenance shows identical hardware and software",
    )
    settings_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else list(argv))
    try:
        run_dir = Path(args.run_dir)
        settings = settings_from(args, run_seed(store.load_run(run_dir)))
        paths = build_report(run_dir, settings, pool_hosts=args.pool_hosts)
    except store.ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
