"""Draw latency distributions: histograms and percentile curves, several runs overlaid."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import NullFormatter

from ._axes import note_no_data, use_log_scale
from ._data import LatencySeries, as_runs, format_ms, percentile
from ._output import GREY, RUN_COLORS, figure_and_axes, finish_chart, lab_style

_TAIL_TICKS = {
    0.01: "p1",
    0.1: "p10",
    0.5: "p50",
    0.9: "p90",
    0.99: "p99",
    0.999: "p99.9",
    0.9999: "p99.99",
}


def _run_label(series: LatencySeries, values: np.ndarray) -> str:
    name = series.label or "latency"
    return f"{name}: p50 {format_ms(percentile(values, 50))}, p99 {format_ms(percentile(values, 99))} ms"


def _ok_runs(runs) -> list[tuple[LatencySeries, np.ndarray, str]]:
    result = []
    for i, series in enumerate(as_runs(runs)):
        values = series.finished_latencies_ms()
        values = values[values > 0]  # a log axis has no place for zero
        result.append((series, values, RUN_COLORS[i % len(RUN_COLORS)]))
    return result


def plot_latency_histogram(
    runs, ax: Axes | None = None, *, bins: int = 40, title: str = "Latency distribution"
) -> Figure:
    """Draw the share of requests per latency bin on a log axis, with each run's p99 dashed.

    `runs` is one run or several: a dict name -> run (`{"closed loop": r1, "open loop": r2}`)
    or a list. Shares (not counts) keep runs of different sizes comparable.
    """
    with lab_style():
        fig, ax, created = figure_and_axes(ax)
        ax.set(title=title, xlabel="latency (ms, log scale)", ylabel="share of requests (%)")
        drawn = [(s, v, c) for s, v, c in _ok_runs(runs) if v.size]
        if not drawn:
            note_no_data(ax, "no finished requests yet")
            return finish_chart(fig, created, title)
        low = min(float(v[0]) for _, v, _ in drawn)
        high = max(float(v[-1]) for _, v, _ in drawn)
        low, high = (low / 1.5, high * 1.5) if high / low < 3 else (low, high * 1.001)
        edges = np.geomspace(low, high, bins + 1)
        for series, values, color in drawn:
            weights = np.full(values.size, 100.0 / values.size)
            ax.hist(values, edges, weights=weights, histtype="stepfilled", color=color, alpha=0.2)
            ax.hist(
                values,
                edges,
                weights=weights,
                histtype="step",
                color=color,
                linewidth=1.8,
                label=_run_label(series, values),
            )
            ax.axvline(percentile(values, 99), color=color, linestyle="--", linewidth=1.2)
        use_log_scale(ax, "x", low, high)
        handles, labels = ax.get_legend_handles_labels()
        handles.append(Line2D([], [], color=GREY, linestyle="--", linewidth=1.2))
        labels.append("dashed line: p99 of that run")
        ax.legend(handles, labels, loc="upper right")
        ax.set_ylim(bottom=0)
    return finish_chart(fig, created, title)


def plot_latency_cdf(runs, ax: Axes | None = None, *, title: str = "Latency percentiles") -> Figure:
    """Draw each run's latency percentiles, stretched towards the tail (p90, p99, p99.9).

    The y axis uses a logit scale so that p99 and p99.9 get as much room as p50: the tail
    is where closed and open loop measurements of the same stall disagree.
    """
    with lab_style():
        fig, ax, created = figure_and_axes(ax)
        ax.set(
            title=title,
            xlabel="latency (ms, log scale)",
            ylabel="percentile (share of requests at or below)",
        )
        drawn = [(s, v, c) for s, v, c in _ok_runs(runs) if v.size]
        if not drawn:
            note_no_data(ax, "no finished requests yet")
            return finish_chart(fig, created, title)
        largest = max(v.size for _, v, _ in drawn)
        for series, values, color in drawn:
            # Mid-rank positions never reach 0 or 1, which a logit axis cannot show.
            shares = (np.arange(values.size) + 0.5) / values.size
            ax.plot(
                values,
                shares,
                drawstyle="steps-post",
                color=color,
                linewidth=2,
                label=_run_label(series, values),
            )
        ax.set_yscale("logit")
        low_share = max(0.5 / largest, 0.01)
        high_share = min(1 - 0.5 / largest, 0.9999)
        ticks = [t for t in _TAIL_TICKS if low_share <= t <= high_share]
        ax.set_yticks(ticks, [_TAIL_TICKS[t] for t in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(low_share, high_share)
        low = min(float(v[0]) for _, v, _ in drawn)
        high = max(float(v[-1]) for _, v, _ in drawn)
        use_log_scale(ax, "x", low, high)
        ax.legend(loc="lower right")  # even for one run: it carries the p50 and p99
    return finish_chart(fig, created, title)
