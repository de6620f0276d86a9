"""The study's figures redrawn from our data, with 95% confidence intervals.

- one bar chart per benchmark: mean per environment, a facet per metric, error bars =
  95% CI of the mean (Student t);
- for a benchmark with a sweep dimension (a numeric ``params.connections`` or
  ``params.threads`` that varies, see :func:`isobench.stats.measured`): a line per
  environment over the swept parameter, a facet per metric, band = 95% CI of the mean.

Both are drawn from the per-group summary (:func:`isobench.stats.summarize`), never from
the raw samples, so their cost does not grow with the number of samples: each group is
handed to seaborn as three points (CI low, mean, CI high) drawn with ``estimator=median``
and ``errorbar=("pi", 100)``, which puts the bar or line at the mean and the error bar or
band exactly on our interval.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after the backend is chosen
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from isobench.stats import EMULATED_LABEL, sort_envs, summarize, sweep_benchmarks, with_labels

FIGURES_DIR = "figures"
ERRORBAR_TEXT = "error bars: 95% CI of the mean"
BAND_TEXT = "bands: 95% CI of the mean"
MAX_FACETS_PER_ROW = 2
_SPAN = ("pi", 100)  # the whole range of the three points = our CI


def _summary(frame: pd.DataFrame, summary: pd.DataFrame | None) -> pd.DataFrame:
    return summarize(frame) if summary is None else summary


def _three_points(summary: pd.DataFrame) -> pd.DataFrame:
    """Each group as three rows whose median is the mean and whose range is the CI."""
    mean = summary["mean"].to_numpy(float)
    low = summary["mean_ci_low"].to_numpy(float)
    high = summary["mean_ci_high"].to_numpy(float)
    low = np.where(np.isfinite(low), low, mean)
    high = np.where(np.isfinite(high), high, mean)
    parts = [summary.assign(value=v) for v in (low, mean, high)]
    return pd.concat(parts, ignore_index=True)


def _plot_rows(summary: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    rows = summary[summary["benchmark"] == benchmark]
    rows = with_labels(sort_envs(rows, ["benchmark"]))
    rows["environment"] = rows["env_label"].str.replace(" (", "\n(", regex=False)
    for column in ("host", "metric", "unit"):
        rows[column] = rows[column].astype(str)
    return rows


def _unit_of(data: pd.DataFrame, metric: str) -> str:
    return ", ".join(dict.fromkeys(data.loc[data["metric"] == metric, "unit"].astype(str)))


def _hatch_emulated(ax: Axes, order: list[str]) -> None:
    """Hatch the bars of software-emulated environments (x positions are 0..n-1)."""
    for patch in ax.patches:
        if not isinstance(patch, Rectangle):
            continue
        index = round(patch.get_x() + patch.get_width() / 2)
        if 0 <= index < len(order) and EMULATED_LABEL in order[index].replace("\n", " "):
            patch.set_hatch("//")
            patch.set_alpha(0.6)


def _save(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _facets(count: int, width: float, height: float = 3.2) -> tuple[Figure, list[Axes]]:
    """A figure with ``count`` axes, at most :data:`MAX_FACETS_PER_ROW` per row, laid out
    once when drawn (axes-level seaborn on plain subplots: one draw per figure)."""
    cols = min(count, MAX_FACETS_PER_ROW)
    rows = math.ceil(count / cols)
    figure, grid = plt.subplots(
        rows, cols, figsize=(width * cols, height * rows), squeeze=False, layout="constrained"
    )
    axes = list(grid.flat)
    for ax in axes[count:]:
        ax.set_visible(False)
    return figure, axes[:count]


def _legend_once(figure: Figure, axes: list[Axes]) -> None:
    """One legend for the figure (hosts or environments), right of the facets."""
    legend = axes[0].get_legend()
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes:
        if ax.get_legend() is not None:
            ax.get_legend().remove()
    if legend is not None and handles:
        figure.legend(handles, labels, loc="outside right upper", frameon=False)


def plot_benchmark(
    frame: pd.DataFrame, benchmark: str, path: Path, summary: pd.DataFrame | None = None
) -> Path:
    """Write ``path``: a facet per metric, a bar per environment (native first).

    ``summary`` (from :func:`isobench.stats.summarize` or ``analyze``) saves recomputing
    it from ``frame``.
    """
    rows = _plot_rows(_summary(frame, summary), benchmark)
    if rows.empty:
        raise ValueError(f"no measured samples for benchmark {benchmark!r}")
    order = list(dict.fromkeys(rows["environment"]))
    metrics = list(dict.fromkeys(rows["metric"]))
    hue = "host" if rows["host"].nunique() > 1 else None
    points = _three_points(rows)
    with sns.axes_style("whitegrid"):
        figure, axes = _facets(len(metrics), width=max(3.8, 0.95 * len(order)))
        for ax, metric in zip(axes, metrics, strict=True):
            sns.barplot(
                data=points[points["metric"] == metric], x="environment", y="value",
                order=order, hue=hue, estimator="median", errorbar=_SPAN, capsize=0.15,
                err_kws={"linewidth": 1.2}, ax=ax,
            )  # fmt: skip
            ax.set_title(metric)
            ax.set_xlabel("")
            ax.set_ylabel(_unit_of(rows, metric))
            ax.tick_params(axis="x", labelrotation=30, labelsize=8)
            _hatch_emulated(ax, order)
        _legend_once(figure, axes)
    figure.suptitle(f"{benchmark}: mean per environment ({ERRORBAR_TEXT})")
    return _save(figure, path)


def plot_sweep(
    frame: pd.DataFrame,
    benchmark: str,
    x_param: str,
    path: Path,
    summary: pd.DataFrame | None = None,
) -> Path:
    """Write ``path``: a facet per metric, a line per environment over ``params.<x_param>``
    with a band for the 95% CI of the mean (one style per host when there are several)."""
    rows = _plot_rows(_summary(frame, summary), benchmark)
    rows = rows[rows["sweep_param"] == x_param]
    if rows.empty:
        raise ValueError(f"no samples of {benchmark!r} sweep over params.{x_param}")
    rows = rows.rename(columns={"sweep_value": x_param})
    order = list(dict.fromkeys(rows["environment"]))
    metrics = list(dict.fromkeys(rows["metric"]))
    style = "host" if rows["host"].nunique() > 1 else None
    points = _three_points(rows)
    with sns.axes_style("whitegrid"):
        figure, axes = _facets(len(metrics), width=4.6)
        for ax, metric in zip(axes, metrics, strict=True):
            sns.lineplot(
                data=points[points["metric"] == metric], x=x_param, y="value",
                hue="environment", hue_order=order, style=style, estimator="median",
                errorbar=_SPAN, marker="o", ax=ax,
            )  # fmt: skip
            ax.set_title(metric)
            ax.set_xlabel(x_param)
            ax.set_ylabel(_unit_of(rows, metric))
        _legend_once(figure, axes)
    figure.suptitle(f"{benchmark}: mean over {x_param} ({BAND_TEXT})")
    return _save(figure, path)


def write_figures(
    frame: pd.DataFrame, out_dir: Path, summary: pd.DataFrame | None = None
) -> dict[str, Path]:
    """``<out_dir>/<benchmark>.png`` for every benchmark with measured samples: a sweep
    plot for a benchmark with a sweep dimension, a bar chart otherwise."""
    summary = _summary(frame, summary)
    if summary.empty:
        return {}
    sweeps = sweep_benchmarks(summary)
    written = {}
    for benchmark in sorted(summary["benchmark"].astype(str).unique()):
        path = out_dir / f"{benchmark}.png"
        if benchmark in sweeps:
            written[benchmark] = plot_sweep(frame, benchmark, sweeps[benchmark], path, summary)
        else:
            written[benchmark] = plot_benchmark(frame, benchmark, path, summary)
    return written
