"""Draw side-by-side comparison bars with their values written on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._axes import legend_if_several, use_log_scale
from ._data import format_ms
from ._output import RUN_COLORS, figure_and_axes, finish_chart, lab_style


def _bar_table(values: Mapping, series_labels: Sequence[str] | None):
    names = [str(n) for n in values]
    rows = list(values.values())
    if all(np.ndim(r) == 0 and not isinstance(r, Mapping) for r in rows):
        return names, [""], np.asarray(rows, dtype=float).reshape(-1, 1)
    if all(isinstance(r, Mapping) for r in rows):
        keys = list(dict.fromkeys(k for r in rows for k in r))
        return (
            names,
            [str(k) for k in keys],
            np.array([[r.get(k, np.nan) for k in keys] for r in rows], dtype=float),
        )
    try:
        table = np.array(rows, dtype=float)
    except ValueError:
        table = np.empty(0)
    if table.ndim != 2:
        raise ValueError("give every name one number, or every name a tuple of the same length")
    labels = list(series_labels or ("p50", "p99", "p99.9", "max")[: table.shape[1]])
    if len(labels) != table.shape[1]:
        raise ValueError(
            f"series_labels names {len(labels)} bars, but each group has {table.shape[1]}"
        )
    return names, labels, table


def plot_comparison(
    values: Mapping,
    ax: Axes | None = None,
    *,
    quantity: str = "latency",
    unit: str = "ms",
    series_labels: Sequence[str] | None = None,
    log: bool = False,
    title: str = "Comparison",
) -> Figure:
    """Draw side-by-side bars with their values written on top.

    `values` maps a name to one number (`{"REST": 1.9, "gRPC": 0.6}`), to a tuple
    (`{"closed": (p50, p99)}`, bars named by `series_labels`, by default p50, p99, p99.9,
    max), or to a dict (`{"closed": {"p50": 1.1, "p99": 9.0}}`). The y axis reads
    "<quantity> (<unit>)"; `log=True` helps when a tail dwarfs a median.
    """
    if not values:
        raise ValueError("nothing to compare: pass a dict of name -> value")
    names, labels, table = _bar_table(values, series_labels)
    width, x = 0.8 / len(labels), np.arange(len(names))
    with lab_style():
        fig, ax, created = figure_and_axes(ax)
        for j, label in enumerate(labels):
            offset = (j - (len(labels) - 1) / 2) * width
            color = RUN_COLORS[j % len(RUN_COLORS)]
            bars = ax.bar(x + offset, table[:, j], width * 0.95, color=color, label=label or None)
            ax.bar_label(bars, labels=[format_ms(v) for v in table[:, j]], padding=2, fontsize=9)
        ax.set_xticks(x, names, rotation=20 if sum(map(len, names)) > 60 else 0)
        ax.grid(False, axis="x")
        ax.set(title=title, ylabel=f"{quantity} ({unit})")
        top = float(np.nanmax(table)) if np.isfinite(table).any() else 1.0
        positive = table[np.isfinite(table) & (table > 0)]
        if log and positive.size:
            use_log_scale(ax, "y", float(positive.min()), top)
            # Bars on a log axis need a floor below the smallest one, or it looks like nothing.
            ax.set_ylim(float(positive.min()) / 3, top * 4)
        else:
            ax.set_ylim(min(0.0, float(np.nanmin(table))), top * 1.15)
        legend_if_several(ax, loc="upper left")
    return finish_chart(fig, created, title)
