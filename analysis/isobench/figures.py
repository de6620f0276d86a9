"""One bar chart per benchmark: mean per environment, error bars = sample std dev."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # after the backend is chosen
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from isobench.stats import EMULATED_LABEL, measured, sort_envs, with_labels

FIGURES_DIR = "figures"
ERRORBAR = "sd"
ERRORBAR_TEXT = "error bars: sample std dev"
MAX_FACETS_PER_ROW = 2


def _plot_data(frame: pd.DataFrame, benchmark: str) -> pd.DataFrame:
    data = measured(frame[frame["benchmark"] == benchmark])
    data = with_labels(sort_envs(data, ["benchmark"]))
    data["environment"] = data["env_label"].str.replace(" (", "\n(", regex=False)
    return data


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


def plot_benchmark(frame: pd.DataFrame, benchmark: str, path: Path) -> Path:
    """Write ``path``: a facet per metric, a bar per environment (native first)."""
    data = _plot_data(frame, benchmark)
    if data.empty:
        raise ValueError(f"no measured samples for benchmark {benchmark!r}")
    order = list(dict.fromkeys(data["environment"]))
    metrics = list(dict.fromkeys(data["metric"]))
    hue = "host" if data["host"].nunique() > 1 else None
    with sns.axes_style("whitegrid"):
        grid = sns.catplot(
            data=data, kind="bar", x="environment", y="value", order=order, hue=hue,
            col="metric", col_order=metrics, col_wrap=min(len(metrics), MAX_FACETS_PER_ROW),
            errorbar=ERRORBAR, sharey=False, height=3.2, aspect=max(1.2, 0.3 * len(order)),
        )  # fmt: skip
    for ax, metric in zip(grid.axes.flat, metrics, strict=False):
        ax.set_title(metric)
        ax.set_xlabel("")
        ax.set_ylabel(_unit_of(data, metric))
        ax.tick_params(axis="x", labelrotation=30, labelsize=8)
        _hatch_emulated(ax, order)
    grid.figure.suptitle(f"{benchmark}: mean per environment ({ERRORBAR_TEXT})", y=1.06)
    path.parent.mkdir(parents=True, exist_ok=True)
    grid.figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(grid.figure)
    return path


def write_figures(frame: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """``<out_dir>/<benchmark>.png`` for every benchmark with measured samples."""
    if frame.empty:
        return {}
    benchmarks = sorted(measured(frame)["benchmark"].unique())
    return {b: plot_benchmark(frame, b, out_dir / f"{b}.png") for b in benchmarks}
