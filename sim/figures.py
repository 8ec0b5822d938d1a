"""Figures of a sweep, drawn from its saved tables (never from the simulation).

* ``metrics``: each key metric against the first swept key, with 95% CI error
  bars; one line per value of the second swept key, if any;
* ``heatmap``: for two swept keys, each key metric's mean over the grid of
  their values;
* ``backlog``: mean backlog over time at each point (from each point's
  ``backlog.csv``), for studies about transients such as a surge.

Every figure is written as PNG and SVG, titled with the study's question,
and says in a footnote what the error bars are and which points are missing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from .output import atomic_open  # noqa: E402
from .study import METRIC_INFO, StudySpec  # noqa: E402

FORMATS = ("png", "svg")


def fmt_value(value: Any, null_label: str = "null") -> str:
    """A swept value as shown on an axis or in a legend (``1000``, ``0.5``, ``never``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return null_label
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _num_label(value: float, unit: str) -> str:
    return f"{value:g} {unit}"


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _axis_values(values: Sequence[Any]) -> tuple[list[Any], bool]:
    """Distinct values in plot order, and whether the axis can be numeric.

    Numbers ascend, a null (e.g. "never escalate") goes last; an axis with a
    null or with text is drawn as evenly spaced categories.
    """
    distinct: list[Any] = []
    for v in values:
        if not any((_is_null(v) and _is_null(d)) or (not _is_null(v) and not _is_null(d) and v == d) for d in distinct):
            distinct.append(v)
    numbers = [v for v in distinct if isinstance(v, (int, float, np.number)) and not _is_null(v)]
    if len(numbers) == len(distinct):
        return sorted(numbers), True
    if len(numbers) + 1 == len(distinct) and any(_is_null(v) for v in distinct):
        return [*sorted(numbers), None], False
    return distinct, False


def _position(value: Any, order: Sequence[Any], numeric: bool) -> float:
    if numeric:
        return float(value)
    for i, v in enumerate(order):
        if (_is_null(v) and _is_null(value)) or (not _is_null(v) and not _is_null(value) and v == value):
            return float(i)
    return math.nan


def _footnote(table: pd.DataFrame, study: StudySpec) -> str:
    reps = table.loc[table["status"] == "finished", "replications"]
    n = int(reps.max()) if len(reps) else 0
    text = (f"Error bars: 95% confidence intervals (Student t) over {n} replications; "
            "the same random numbers at every point (common random numbers). Intervals are cut at 0.")
    missing = table.loc[table["status"] != "finished"].drop_duplicates("point")
    if len(missing):
        what = "; ".join(f"point {int(r.point)} " + ", ".join(f"{k}={fmt_value(r[k], study.null_label)}" for k in study.keys)
                         + f" ({r.status})" for _, r in missing.iterrows())
        text += f"\nNot shown: {what}."
    return text


def _add_footnote(fig, text: str) -> None:
    """A small grey note under the panels (what the bars are, what is missing).

    It sits just below the figure; saving with a tight bounding box takes it in.
    """
    fig.text(0.01, -0.005, text, fontsize=7.5, color="dimgrey", va="top", ha="left")


def _save(fig, out_dir: Path, stem: str) -> list[Path]:
    paths = [out_dir / f"{stem}.{fmt}" for fmt in FORMATS]
    for path in paths:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def _panels(n: int) -> tuple[int, int]:
    if n <= 3:
        return 1, n
    if n == 4:
        return 2, 2
    return math.ceil(n / 3), 3


def metrics_figure(table: pd.DataFrame, study: StudySpec, out_dir: str | os.PathLike) -> list[Path]:
    """Key metrics against the first swept key, a line per value of the second."""
    out_dir = Path(out_dir)
    x_key = study.keys[0]
    hue_key = study.keys[1] if len(study.keys) > 1 else None
    ok = table[table["status"] == "finished"]
    x_order, numeric = _axis_values(list(table[x_key]))
    hues = _axis_values(list(table[hue_key]))[0] if hue_key else [None]
    base = dict(study.baseline)
    rows, cols = _panels(len(study.metrics))
    height = 3.4 * rows + 0.9
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, height), squeeze=False)
    colors = plt.get_cmap("tab10")
    for ax, metric in zip(axes.flat, study.metrics):
        part = ok[ok["metric"] == metric]
        for i, hue in enumerate(hues):
            sel = part if hue_key is None else part[[(_is_null(v) and _is_null(hue)) or v == hue for v in part[hue_key]]]
            xs = np.asarray([_position(v, x_order, numeric) for v in sel[x_key]])
            order = np.argsort(xs)
            xs, m = xs[order], sel["mean"].to_numpy()[order]
            lo, hi = sel["ci95_low"].to_numpy()[order], sel["ci95_high"].to_numpy()[order]
            # Every metric is >= 0: a t interval reaching below 0 is drawn down to 0 only.
            lo = np.maximum(lo, 0.0)
            err = np.vstack([np.where(np.isfinite(lo), m - lo, 0.0), np.where(np.isfinite(hi), hi - m, 0.0)])
            label = None if hue_key is None else f"{study.label(hue_key)}: {fmt_value(hue, study.null_label)}"
            ax.errorbar(xs, m, yerr=err, marker="o", markersize=4, capsize=3, linewidth=1.5,
                        color=colors(i), label=label)
        if x_key in base:
            bx = _position(base[x_key], x_order, numeric)
            if math.isfinite(bx):
                ax.axvline(bx, color="grey", linestyle=":", linewidth=1,
                           label=f"baseline ({fmt_value(base[x_key], study.null_label)})")
        if metric in dict(study.targets):
            ax.axhline(dict(study.targets)[metric], color="tab:red", linestyle="--", linewidth=1,
                       label=f"target ({_num_label(dict(study.targets)[metric], METRIC_INFO[metric].unit)})")
        info = METRIC_INFO[metric]
        ax.set_title(info.label, fontsize=10)
        ax.set_ylabel(info.unit)
        ax.set_xlabel(study.label(x_key))
        if not numeric:
            ax.set_xticks(range(len(x_order)), [fmt_value(v, study.null_label) for v in x_order])
        elif len(x_order) <= 8:
            ax.set_xticks(x_order, [fmt_value(v) for v in x_order])
        ax.set_ylim(bottom=min(0.0, ax.get_ylim()[0]))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(study.metrics):]:
        ax.axis("off")
    # One legend for the figure, from every panel (a target line may be on one panel only).
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    # Fixed room at the top, in inches: the title, then the legend under it.
    fig.suptitle(study.title, fontsize=12, fontweight="bold", y=1 - 0.08 / height, va="top")
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.4 / height),
                   ncol=min(len(labels), 4), fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.62 if handles else 0.4) / height))
    _add_footnote(fig, _footnote(table, study))
    return _save(fig, out_dir, "metrics")


def heatmap_figure(table: pd.DataFrame, study: StudySpec, out_dir: str | os.PathLike) -> list[Path]:
    """For two swept keys: each key metric's mean on the grid of their values."""
    out_dir = Path(out_dir)
    x_key, y_key = study.keys[0], study.keys[1]
    x_order = _axis_values(list(table[x_key]))[0]
    y_order = _axis_values(list(table[y_key]))[0]
    ok = table[table["status"] == "finished"]
    rows, cols = _panels(len(study.metrics))
    height = 3.4 * rows + 0.5
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, height), squeeze=False)
    for ax, metric in zip(axes.flat, study.metrics):
        grid = np.full((len(y_order), len(x_order)), np.nan)
        part = ok[ok["metric"] == metric]
        for _, r in part.iterrows():
            i = int(_position(r[y_key], y_order, False))
            j = int(_position(r[x_key], x_order, False))
            grid[i, j] = r["mean"]
        info = METRIC_INFO[metric]
        im = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
        cbar = fig.colorbar(im, ax=ax)
        cbar.set_label(info.unit, fontsize=8)
        finite = grid[np.isfinite(grid)]
        mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for i in range(len(y_order)):
            for j in range(len(x_order)):
                v = grid[i, j]
                ax.text(j, i, "failed" if not np.isfinite(v) else f"{v:.3g}", ha="center", va="center",
                        fontsize=8, color="white" if np.isfinite(v) and v < mid else "black")
        ax.set_xticks(range(len(x_order)), [fmt_value(v, study.null_label) for v in x_order])
        ax.set_yticks(range(len(y_order)), [fmt_value(v, study.null_label) for v in y_order])
        ax.set_xlabel(study.label(x_key))
        ax.set_ylabel(study.label(y_key))
        ax.set_title(info.label, fontsize=10)
    for ax in axes.flat[len(study.metrics):]:
        ax.axis("off")
    fig.suptitle(study.title, fontsize=12, fontweight="bold", y=1 - 0.08 / height, va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.4 / height))
    _add_footnote(fig, "Cells: mean over replications (95% confidence intervals in the line figure and in "
                       "sweep_summary.csv); 'failed' marks a point without results.")
    return _save(fig, out_dir, "heatmap")


def backlog_figure(series: pd.DataFrame, study: StudySpec, out_dir: str | os.PathLike,
                   warmup_days: float | None = None, shade: tuple[float, float] | None = None) -> list[Path]:
    """Mean backlog over time at each point.

    Args:
        series: columns ``label``, ``day``, ``backlog`` (mean over replications).
        study: the study (title).
        out_dir: where to write ``backlog.png`` and ``backlog.svg``.
        warmup_days: shade the warm-up.
        shade: a period to shade, in days (e.g. the surge).
    """
    out_dir = Path(out_dir)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    for i, (label, part) in enumerate(series.groupby("label", sort=False)):
        ax.plot(part["day"], part["backlog"], linewidth=1.5, color=plt.get_cmap("tab10")(i), label=str(label))
    if warmup_days:
        ax.axvspan(0, warmup_days, color="grey", alpha=0.15, label="warm-up (not measured)")
    if shade:
        ax.axvspan(shade[0], shade[1], color="tab:red", alpha=0.1, label="surge period")
    ax.set_xlabel("simulated time (days)")
    ax.set_ylabel("open matters, mean over replications (count)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(study.title, fontsize=11, fontweight="bold")
    return _save(fig, out_dir, "backlog")
