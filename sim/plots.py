"""Figures drawn from saved tables (never from the simulation itself)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .output import atomic_open, read_columns_csv  # noqa: E402


def save_figure(fig, path: str | os.PathLike) -> None:
    """Save a figure atomically in the format given by the file suffix."""
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)


def backlog_plot(backlog_csv: str | os.PathLike, out_png: str | os.PathLike, title: str,
                 warmup_days: float | None = None) -> None:
    """Open matters over time, one thin line per replication and their mean."""
    # Read without pandas, which a run (a sweep worker) then never loads.
    t = read_columns_csv(backlog_csv, ("replication", "time_h", "backlog", "department_backlog"))
    day = t["time_h"] / 24.0
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, rep in enumerate(np.unique(t["replication"])):
        one = t["replication"] == rep
        ax.plot(day[one], t["backlog"][one], color="tab:blue", alpha=0.25, linewidth=0.8,
                label="all open matters, each replication" if i == 0 else None)
    days, at = np.unique(day, return_inverse=True)
    per_day = np.bincount(at, minlength=days.size)
    mean = {name: np.bincount(at, weights=t[name], minlength=days.size) / per_day
            for name in ("backlog", "department_backlog")}
    ax.plot(days, mean["backlog"], color="tab:blue", linewidth=1, alpha=0.6,
            label="all open matters (mean of replications)")
    step_days = float(days[1] - days[0]) if days.size > 1 else 1.0
    window = max(1, int(round(7.0 / step_days)))  # a week: smooths the weekend sawtooth of office hours
    ax.plot(days, trailing_mean(mean["backlog"], window), color="navy", linewidth=2.2,
            label="all open matters, 7-day average")
    ax.plot(days, mean["department_backlog"], color="tab:orange", linewidth=1.5,
            label="of which at departments (mean)")
    if warmup_days:
        ax.axvspan(0, warmup_days, color="grey", alpha=0.15, label="warm-up (not measured)")
    ax.set_xlabel("simulated time (days)")
    ax.set_ylabel("open matters (count)")
    ax.set_title(title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    # Under the axes, not on them: inside, it covered the first weeks' peaks.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, fontsize=8, frameon=False)
    save_figure(fig, out_png)


def trailing_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each value and the ``window - 1`` before it (fewer at the start)."""
    total = np.concatenate(([0.0], np.cumsum(values)))
    end = np.arange(1, values.size + 1)
    start = np.maximum(0, end - window)
    return (total[end] - total[start]) / (end - start)
