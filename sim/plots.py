"""Figures drawn from saved tables (never from the simulation itself)."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no screen needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .output import atomic_open  # noqa: E402


def save_figure(fig, path: str | os.PathLike) -> None:
    """Save a figure atomically in the format given by the file suffix."""
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    plt.close(fig)


def backlog_plot(backlog_csv: str | os.PathLike, out_png: str | os.PathLike, title: str,
                 warmup_days: float | None = None) -> None:
    """Open matters over time, one thin line per replication and their mean."""
    df = pd.read_csv(backlog_csv)
    df["day"] = df["time_h"] / 24.0
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (rep, part) in enumerate(df.groupby("replication")):
        ax.plot(part["day"], part["backlog"], color="tab:blue", alpha=0.25, linewidth=0.8,
                label="all open matters, each replication" if i == 0 else None)
    mean = df.groupby("day")[["backlog", "department_backlog"]].mean()
    ax.plot(mean.index, mean["backlog"], color="tab:blue", linewidth=1, alpha=0.6,
            label="all open matters (mean of replications)")
    step_days = float(mean.index[1] - mean.index[0]) if len(mean) > 1 else 1.0
    window = max(1, int(round(7.0 / step_days)))  # a week: smooths the weekend sawtooth of office hours
    ax.plot(mean.index, mean["backlog"].rolling(window, min_periods=1).mean(), color="navy", linewidth=2.2,
            label="all open matters, 7-day average")
    ax.plot(mean.index, mean["department_backlog"], color="tab:orange", linewidth=1.5,
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
