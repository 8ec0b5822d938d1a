"""Figures of a sweep, drawn from its saved tables (never from the simulation).

* ``metrics``: each key metric against the first swept key, with 95% CI error
  bars; one line per value of the second swept key, if any;
* ``heatmap``: for two swept keys, each key metric's mean over the grid of
  their values;
* with three swept keys or more (a product sweep of three settings, runs
  compared that differ in three), every key after the first is drawn as one:
  each combination of their values is a line of the metrics figure and a row
  of the heatmap, named by all of them;
* ``backlog``: mean backlog over time at each point (from each point's
  ``backlog.csv``), for studies about transients such as a surge.

Every figure is written as PNG and SVG (``formats`` can ask for one: the
report draws each format in a process of its own when it has a pool), titled
with the study's question, and says in a footnote what the error bars are
and which points are missing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .output import atomic_open
from .study import StudySpec, metric_info

FORMATS = ("png", "svg")
UNSTABLE_LABEL = "unstable: backlog still rising at the end (mean understates it)"


def pyplot():
    """matplotlib's pyplot, drawing to files only (Agg), imported on first use.

    The report's text and tables use this module's formatting but draw
    nothing, and need not wait for matplotlib's start-up (about 0.4 s).
    """
    import matplotlib

    matplotlib.use("Agg")  # files only; no screen needed
    import matplotlib.pyplot as plt

    return plt


def _unstable(rows: pd.DataFrame) -> np.ndarray:
    """Rows of points with a replication whose backlog was still rising at its end (``sim.stability``)."""
    if "unstable_replications" not in rows:
        return np.zeros(len(rows), dtype=bool)
    return (pd.to_numeric(rows["unstable_replications"], errors="coerce").fillna(0) > 0).to_numpy()


def fmt_value(value: Any, null_label: str = "null") -> str:
    """A swept value as shown on an axis or in a legend (``1000``, ``0.5``, ``never``)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return null_label
    if isinstance(value, (bool, np.bool_)):  # as the config spells it (YAML), not Python's True
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def fmt_number(x: Any, digits: int = 3) -> str:
    """A number as a report shows it: ``digits`` significant digits (three
    by default), thousands with separators (35,891), small values written out
    (0.0000515, not 5.15e-05: a reader of a report need not know the notation)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    x = float(x)
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-6):
        return f"{x:.{digits}g}"
    if x != 0 and abs(x) < 1e-3:  # significant digits, trailing zeros dropped as g drops them
        return f"{x:.{digits - 1 - math.floor(math.log10(abs(x)))}f}".rstrip("0").rstrip(".")
    # whole numbers from the point where g would switch to an exponent (999.5 -> 1e+03 with 3 digits)
    return f"{x:,.0f}" if abs(x) >= min(999.5, 10 ** digits - 0.5) else f"{x:.{digits}g}"


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


def _same(a: Any, b: Any) -> bool:
    if _is_null(a) or _is_null(b):
        return _is_null(a) and _is_null(b)
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _position(value: Any, order: Sequence[Any], numeric: bool) -> float:
    if numeric:
        return float(value)
    for i, v in enumerate(order):
        if (_is_null(v) and _is_null(value)) or (not _is_null(v) and not _is_null(value) and v == value):
            return float(i)
    return math.nan


def _baseline_values(table: pd.DataFrame, study: StudySpec) -> dict[str, Any] | None:
    """The swept values of the study's baseline point: the first point (in
    point order, as ``sim.aggregate.baseline_point``) matching every key the
    baseline names, which need not be every swept key; without a baseline,
    the first point (as the paired differences take it: an ad-hoc sweep, a
    comparison of runs). ``None`` without a matching point."""
    for _, r in table.drop_duplicates("point").iterrows():
        if all(_same(r[k], v) for k, v in study.baseline if k in r.index):
            return {k: r[k] for k in study.keys}
    return None


_REST = "__other swept keys__"  # the column of ``_second_axis``'s combined values


def _second_axis(table: pd.DataFrame, study: StudySpec, sep: str = ", ") -> tuple[pd.DataFrame, str | None, str]:
    """The column drawn as the metrics figure's lines and the heatmap's rows, and its axis label.

    It is the second swept key; with more than two, every key after the first
    taken together, so that two points differing only in a third key never
    share a position (each combination of values is a line or a row, named
    by every key's value, joined by ``sep``). The table comes back with that column added, its
    rows ordered by those keys' values. ``None`` with a single swept key.
    """
    rest = study.keys[1:]
    if len(rest) <= 1:
        return table, (rest[0] if rest else None), (study.label(rest[0]) if rest else "")
    orders = {k: _axis_values(list(table[k]))[0] for k in rest}
    rank = [tuple(_position(r[k], orders[k], False) for k in rest) for _, r in table.iterrows()]
    table = table.assign(**{_REST: [_rest_text(r, study, sep) for _, r in table.iterrows()]})
    table = table.iloc[sorted(range(len(table)), key=rank.__getitem__)]
    return table, _REST, "; ".join(study.label(k) for k in rest)


def _rest_text(values, study: StudySpec, sep: str = ", ") -> str:
    """The values of every swept key after the first, as one label (``_second_axis``)."""
    return sep.join(f"{study.label(k)} {fmt_value(values[k], study.null_label)}" for k in study.keys[1:])


def _hue_label(hue_key: str, value: Any, study: StudySpec) -> str:
    if hue_key == _REST:  # its values name their keys already
        return str(value)
    return f"{study.label(hue_key)}: {fmt_value(value, study.null_label)}"


def _baseline_label(base: dict[str, Any], study: StudySpec, sep: str) -> str:
    """The baseline's values for a legend: those the study names, else every swept key's."""
    named = study.baseline or tuple((k, base[k]) for k in study.keys)
    return sep.join(f"{study.label(k)} {fmt_value(v, study.null_label)}" for k, v in named)


def _footnote(table: pd.DataFrame, study: StudySpec, same_seed: bool = True) -> str:
    reps = table.loc[table["status"] == "finished", "replications"]
    n = int(reps.max()) if len(reps) else 0
    numbers = ("the same random numbers at every point (common random numbers)" if same_seed else
               "the points ran with different seeds, so differences between them include chance")
    text = (f"Error bars: 95% confidence intervals (Student t) over {n} replications; {numbers}. "
            "Intervals are cut at 0 (and shares at 1).")
    missing = table.loc[table["status"] != "finished"].drop_duplicates("point")
    if len(missing):
        what = "; ".join(f"point {int(r.point)} " + ", ".join(f"{k}={fmt_value(r[k], study.null_label)}" for k in study.keys)
                         + f" ({r.status})" for _, r in missing.iterrows())
        text += f"\nNot shown: {what}."
    return text


def _add_footnote(fig, text: str) -> None:
    """A small grey note under the panels (what the bars are, what is missing).

    It sits just below the figure; saving with a tight bounding box takes it in.
    Lines are wrapped to the figure's width (about 18 characters of 7.5-point
    text an inch), so that a long note does not widen the saved figure.
    """
    import textwrap

    width = max(40, int(fig.get_figwidth() * 18))
    text = "\n".join(textwrap.fill(line, width) for line in text.split("\n"))
    fig.text(0.01, -0.005, text, fontsize=7.5, color="dimgrey", va="top", ha="left")


def _save(fig, out_dir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    paths = [out_dir / f"{stem}.{fmt}" for fmt in formats]
    for path in paths:
        with atomic_open(path, "wb") as fh:
            fig.savefig(fh, format=path.suffix.lstrip("."), dpi=150, bbox_inches="tight")
    pyplot().close(fig)
    return paths


def _title_lines(title: str, width_in: float) -> str:
    """The figure's title wrapped to its width (about 0.1 inch a character of
    12-point bold text), so that a long title does not widen the saved figure."""
    import textwrap

    return textwrap.fill(title, max(30, int(width_in * 10)))


def _legend_columns(labels: Sequence[str], width_in: float, most: int = 4) -> int:
    """Columns for a legend of ``labels`` across a figure ``width_in`` inches
    wide: the most (up to ``most``) whose estimated width fits, at about 0.07
    inch a character of 9-point text and 0.6 inch of marker and padding per
    column (matplotlib fills a legend column by column)."""
    for ncol in range(min(len(labels), most), 1, -1):
        rows = math.ceil(len(labels) / ncol)
        columns = [labels[i:i + rows] for i in range(0, len(labels), rows)]
        if sum(0.07 * max(map(len, col)) + 0.6 for col in columns) <= width_in:
            return ncol
    return 1


def _panels(n: int) -> tuple[int, int]:
    if n <= 3:
        return 1, n
    if n == 4:
        return 2, 2
    return math.ceil(n / 3), 3


def metrics_figure(table: pd.DataFrame, study: StudySpec, out_dir: str | os.PathLike,
                   formats: Sequence[str] = FORMATS, same_seed: bool = True) -> list[Path]:
    """Key metrics against the first swept key, a line per value of the second
    (``same_seed``: the points share their random numbers, as the footnote says)."""
    out_dir = Path(out_dir)
    x_key = study.keys[0]
    base = _baseline_values(table, study)  # in point order, before _second_axis reorders the rows
    table, hue_key, _ = _second_axis(table, study)
    ok = table[table["status"] == "finished"]
    x_order, numeric = _axis_values(list(table[x_key]))
    hues = _axis_values(list(table[hue_key]))[0] if hue_key else [None]
    if base is not None and hue_key == _REST:
        base[_REST] = _rest_text(base, study)
    rows, cols = _panels(len(study.metrics))
    height = 3.4 * rows + 0.9
    plt = pyplot()
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
            # A t interval reaching past what the metric can take (below 0, a share above 1) is drawn to there only.
            floor, ceiling = metric_info(metric).bounds
            lo, hi = np.maximum(lo, floor), np.minimum(hi, ceiling)
            err = np.vstack([np.where(np.isfinite(lo), m - lo, 0.0), np.where(np.isfinite(hi), hi - m, 0.0)])
            label = None if hue_key is None else _hue_label(hue_key, hue, study)
            bars = ax.errorbar(xs, m, yerr=err, marker="o", markersize=4, capsize=3, linewidth=1.5,
                               color=colors(i), label=label)
            bars.lines[0].set_gid(f"series {i}")
            unstable = _unstable(sel)[order]
            if unstable.any():
                ax.scatter(xs[unstable], m[unstable], s=120, facecolors="none", edgecolors="red", linewidths=1.5,
                           zorder=3, label=UNSTABLE_LABEL)
        if base is not None:
            # Ringed, not a vertical line: with a second swept key the line
            # would cross every curve, and the baseline is on one of them.
            at_base = part[[_same(r[x_key], base[x_key]) and (hue_key is None or _same(r[hue_key], base[hue_key]))
                            for _, r in part.iterrows()]]
            if len(at_base):
                what = _baseline_label(base, study, "; ")
                ax.scatter([_position(base[x_key], x_order, numeric)], at_base["mean"].to_numpy()[:1], s=150,
                           facecolors="none", edgecolors="black", linewidths=1.3, zorder=4,
                           label=f"baseline point: {what}", gid="baseline")
        if metric in dict(study.targets):
            ax.axhline(dict(study.targets)[metric], color="tab:red", linestyle="--", linewidth=1,
                       label=f"target ({_num_label(dict(study.targets)[metric], metric_info(metric).unit)})")
        info = metric_info(metric)
        ax.set_title(info.title, fontsize=10)
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
    # Room at the top, in inches: the title, then the legend under it, in as
    # many rows as its entries need to fit the figure's width.
    ncol = _legend_columns(labels, fig.get_figwidth())
    title = _title_lines(study.title, fig.get_figwidth())
    title_extra = 0.22 * title.count("\n")
    extra = (0.2 * (math.ceil(len(labels) / ncol) - 1) if handles else 0.0) + title_extra
    height += extra
    fig.set_figheight(height)
    fig.suptitle(title, fontsize=12, fontweight="bold", y=1 - 0.08 / height, va="top")
    if handles:
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 1 - (0.4 + title_extra) / height),
                   ncol=ncol, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - ((0.62 + extra) if handles else 0.4) / height))
    _add_footnote(fig, _footnote(table, study, same_seed))
    return _save(fig, out_dir, "metrics", formats)


def heatmap_figure(table: pd.DataFrame, study: StudySpec, out_dir: str | os.PathLike,
                   formats: Sequence[str] = FORMATS) -> list[Path]:
    """For two swept keys: each key metric's mean on the grid of their values."""
    out_dir = Path(out_dir)
    x_key = study.keys[0]
    base = _baseline_values(table, study)  # in point order, before _second_axis reorders the rows
    table, y_key, y_label = _second_axis(table, study, sep="\n")  # a row's label: one key a line
    from matplotlib.patches import Rectangle

    x_order = _axis_values(list(table[x_key]))[0]
    y_order = _axis_values(list(table[y_key]))[0]
    if y_key == _REST:
        y_label = ""  # every row's label names its keys
        if base is not None:
            base[_REST] = _rest_text(base, study, "\n")
    ok = table[table["status"] == "finished"]

    def cell(r) -> tuple[int, int]:  # (row, column) of a table row's point
        return int(_position(r[y_key], y_order, False)), int(_position(r[x_key], x_order, False))

    # A cell without a value: a point that did not finish (its status), a
    # finished point without the metric (nothing to measure: n/a), or no
    # point at all (two runs compared, a sweep of some combinations).
    status = np.full((len(y_order), len(x_order)), "", dtype=object)
    for _, r in table[[x_key, y_key, "status"]].drop_duplicates().iterrows():
        if status[cell(r)] in ("", "finished"):
            status[cell(r)] = r["status"]
    rows, cols = _panels(len(study.metrics))
    # A panel tall enough for its row labels (one line per key when keys are combined).
    label_lines = max((str(fmt_value(v, study.null_label)).count("\n") + 1 for v in y_order), default=1)
    panel_h = max(3.4, len(y_order) * (0.18 * label_lines + 0.12) + 1.2)
    title = _title_lines(study.title, 4.4 * cols)
    title_extra = 0.22 * title.count("\n")
    height = panel_h * rows + 0.5 + title_extra
    plt = pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, height), squeeze=False)
    for ax, metric in zip(axes.flat, study.metrics):
        grid = np.full(status.shape, np.nan)
        part = ok[ok["metric"] == metric]
        unstable = np.zeros_like(grid, dtype=bool)
        for (_, r), bad in zip(part.iterrows(), _unstable(part)):
            grid[cell(r)] = r["mean"]
            unstable[cell(r)] = bad
        info = metric_info(metric)
        # The better end bright (yellow) in every panel that has one: lower-is-better reversed.
        reverse = info.better == "lower"
        im = ax.imshow(grid, cmap="viridis_r" if reverse else "viridis", aspect="auto", origin="lower")
        cbar = fig.colorbar(im, ax=ax)
        cbar.set_label(info.unit, fontsize=8)
        finite = grid[np.isfinite(grid)]
        mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
        for i in range(len(y_order)):
            for j in range(len(x_order)):
                v = grid[i, j]
                if np.isfinite(v):
                    text, kind = fmt_number(v) + ("\nunstable" if unstable[i, j] else ""), "value"
                else:
                    kind = {"": "-", "finished": "n/a"}.get(status[i, j], status[i, j])
                    text = kind
                dark = np.isfinite(v) and (v > mid if reverse else v < mid)  # the dark (purple) end
                ax.text(j, i, text, ha="center", va="center", gid=f"cell {kind}",
                        fontsize=8, color="white" if dark else "black")
        if base is not None:
            bi, bj = _position(base[y_key], y_order, False), _position(base[x_key], x_order, False)
            if math.isfinite(bi) and math.isfinite(bj):
                ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.2,
                                       gid="baseline"))
        ax.set_xticks(range(len(x_order)), [fmt_value(v, study.null_label) for v in x_order])
        ax.set_yticks(range(len(y_order)), [fmt_value(v, study.null_label) for v in y_order])
        ax.set_xlabel(study.label(x_key))
        ax.set_ylabel(y_label)
        ax.set_title(info.title, fontsize=10)
    for ax in axes.flat[len(study.metrics):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=12, fontweight="bold", y=1 - 0.08 / height, va="top")
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.3 + title_extra) / height))
    baseline = (";\noutlined in red: the baseline point (" + _baseline_label(base, study, ", ") + ")"
                if base is not None else "")
    _add_footnote(fig, "Cells: mean over replications (95% confidence intervals in the line figure and in "
                       "sweep_summary.csv); in a panel that says which way is better, the better end is yellow; "
                       "'failed', 'incomplete' or 'not run': a point without results; "
                       "'-': a combination that is not a point of the sweep; 'n/a': nothing to measure; "
                       f"'unstable': a point whose backlog was still rising at the end{baseline}.")
    return _save(fig, out_dir, "heatmap", formats)


def backlog_figure(series: pd.DataFrame, study: StudySpec, out_dir: str | os.PathLike,
                   warmup_days: float | None = None, smooth_days: int = 7,
                   formats: Sequence[str] = FORMATS) -> list[Path]:
    """Backlog over time at each point; with a surge, also the excess over its reference.

    Colour shows the first swept key other than the surge's, line style the
    surge's size. Paths are centred moving averages over ``smooth_days``
    days, which hide the weekly rise and fall (no office hours at weekends).

    Args:
        series: ``backlog_by_point.csv``: point, the swept keys, day, backlog
            and excess_backlog (means over replications).
        study: the study (title, swept keys, the surge period).
        out_dir: where to write ``backlog.png`` and ``backlog.svg``.
        warmup_days: shade the warm-up.
        smooth_days: width of the moving average, in days.
        formats: the file formats to save (default PNG and SVG).
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    out_dir = Path(out_dir)
    spec = study.transient
    size_key = spec.key if spec else None
    other = [k for k in study.keys if k != size_key]
    hue_key = other[0] if other else None
    hues = _axis_values(list(series[hue_key]))[0] if hue_key else [None]
    sizes = _axis_values(list(series[size_key]))[0] if size_key else [None]
    styles = ["-", "--", ":", "-."]

    def style_of(j: int) -> str:  # the biggest surge solid, the reference dotted
        return styles[(len(sizes) - 1 - j) % len(styles)]

    excess = spec is not None and series["excess_backlog"].notna().any()
    plt = pyplot()
    fig, axes = plt.subplots(2 if excess else 1, 1, figsize=(9.5, 8.0 if excess else 5.0), squeeze=False, sharex=True)
    colors = plt.get_cmap("tab10")
    for _, part in series.groupby("point", sort=True):
        part = part.sort_values("day")
        first = part.iloc[0]
        i = int(_position(first[hue_key], hues, False)) if hue_key else 0
        j = int(_position(first[size_key], sizes, False)) if size_key else 0
        step = float(part["day"].diff().median()) if len(part) > 1 else 1.0
        window = max(1, int(round(smooth_days / step))) if step > 0 else 1
        kw = dict(linestyle=style_of(j) if size_key else "-", color=colors(i), linewidth=1.6)
        axes[0, 0].plot(part["day"], part["backlog"].rolling(window, center=True, min_periods=1).mean(), **kw)
        if excess and part["excess_backlog"].notna().any():
            axes[1, 0].plot(part["day"], part["excess_backlog"].rolling(window, center=True, min_periods=1).mean(), **kw)
    for ax in axes[:, 0]:
        if warmup_days:
            ax.axvspan(0, warmup_days, color="grey", alpha=0.15)
        if spec:
            ax.axvspan(spec.start_day, spec.end_day, color="tab:red", alpha=0.08)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0, 0].set_ylabel(f"open matters ({smooth_days}-day average)")
    axes[0, 0].set_title("Backlog over time (mean of replications)", fontsize=10)
    axes[-1, 0].set_xlabel("simulated time (days)")
    if excess:
        axes[1, 0].set_ylabel(f"excess open matters ({smooth_days}-day average)")
        axes[1, 0].set_title("Excess backlog caused by the surge: surge run minus the same replication "
                             "without it (mean of replications)", fontsize=10)

    handles: list[Any] = []
    if hue_key:
        handles += [Line2D([], [], color=colors(i), linewidth=2,
                           label=f"{study.label(hue_key)}: {fmt_value(v, study.null_label)}") for i, v in enumerate(hues)]
    if size_key:
        handles += [Line2D([], [], color="black", linestyle=style_of(j), linewidth=1.4,
                           label=f"{study.label(size_key)}: {fmt_value(v, study.null_label)}"
                                 + (" (no surge)" if spec is not None and _same(v, spec.reference) else ""))
                    for j, v in enumerate(sizes)]
    if warmup_days:
        handles.append(Patch(color="grey", alpha=0.15, label="warm-up (not measured)"))
    if spec:
        handles.append(Patch(color="tab:red", alpha=0.15, label=f"surge (days {spec.start_day:g}-{spec.end_day:g})"))
    fig.suptitle(study.title, fontsize=12, fontweight="bold")
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8.5, frameon=False)
    legend_in = 0.2 * math.ceil(len(handles) / 2) + 0.15  # inches taken by the legend
    fig.tight_layout(rect=(0, legend_in / fig.get_figheight(), 1, 1))
    return _save(fig, out_dir, "backlog", formats)
