"""Draw how a run went over time: latency with percentile bands, throughput and errors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._axes import leave_room_for_legend, note_no_data, use_log_scale, wants_log_scale
from ._data import LatencySeries, as_series, percentile, pick_bin_s, require_times
from ._output import GREEN, ROLE_COLORS, VERMILLION, figure_and_axes, finish_chart, lab_style

TIME_LABEL = "time since start (s)"
_DOTS = dict(s=7, alpha=0.5, linewidths=0, color=ROLE_COLORS["request"], zorder=2)
_CROSSES = dict(marker="x", s=28, color=ROLE_COLORS["error"], linewidths=1.5, zorder=4)


@dataclass(frozen=True)
class Bins:
    """Per-bin figures of one run: edges in s, p50/p99 latency and p99 sender lateness in ms."""

    edges_s: np.ndarray
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    late_p99_ms: np.ndarray


def bin_latencies(series: LatencySeries, bin_s: float) -> Bins:
    """Split requests into time bins of bin_s by send time and take p50/p99 in each."""
    end = float(np.nanmax(series.times_s)) if series.has_times else 0.0
    edges = np.arange(0.0, end + bin_s, bin_s)
    if edges.size < 2:
        edges = np.array([0.0, bin_s])
    index = np.digitize(series.times_s, edges) - 1
    done = np.isfinite(series.latencies_ms)  # failed calls count too, as in LoadResult
    known_late = np.isfinite(series.lateness_ms)
    stats = np.full((3, edges.size - 1), np.nan)
    for i in range(edges.size - 1):
        latencies = np.sort(series.latencies_ms[(index == i) & done])
        stats[0, i], stats[1, i] = percentile(latencies, 50), percentile(latencies, 99)
        stats[2, i] = percentile(np.sort(series.lateness_ms[(index == i) & known_late]), 99)
    return Bins(edges, *stats)


def _stairs(ax: Axes, edges, values, **style) -> None:
    # Repeat the last value so the final bin gets its full width with where="post".
    ax.step(edges, np.append(values, values[-1]), where="post", **style)


def _draw_bins(ax: Axes, bins: Bins, bin_s: float) -> np.ndarray:
    """Draw the p50-p99 band and lines, and sender lateness; return the lateness drawn."""
    edges, tail = bins.edges_s, np.append(bins.p99_ms, bins.p99_ms[-1])
    ax.fill_between(edges, np.append(bins.p50_ms, bins.p50_ms[-1]), tail, step="post",
                    alpha=0.15, color=ROLE_COLORS["p99"], linewidth=0)  # fmt: skip
    for key, values in (("p50", bins.p50_ms), ("p99", bins.p99_ms)):
        _stairs(ax, edges, values, color=ROLE_COLORS[key], lw=2, label=f"{key} per {bin_s:g} s")
    late = bins.late_p99_ms[np.isfinite(bins.late_p99_ms)]
    if late.size and late.max() > 0:
        late = np.clip(bins.late_p99_ms, 1e-3, None)  # a log axis cannot show zero
        label = "sender lateness p99"
        _stairs(ax, edges, late, color=ROLE_COLORS["late"], ls="--", lw=1.2, label=label)
    return late[np.isfinite(late)]


def _mark_errors(ax: Axes, series: LatencySeries) -> None:
    failed = ~series.ok
    if not failed.any():
        return
    known = failed & np.isfinite(series.latencies_ms)
    ax.scatter(
        series.times_s[known],
        series.latencies_ms[known],
        label=f"failed ({failed.sum()})",
        **_CROSSES,
    )
    never = failed & ~np.isfinite(series.latencies_ms)
    if never.any():  # requests that never ended are pinned to the top edge
        ax.scatter(
            series.times_s[never],
            np.full(never.sum(), 0.97),
            transform=ax.get_xaxis_transform(),
            **_CROSSES,
        )


def plot_latency_over_time(
    data, ax: Axes | None = None, *, bin_s: float | None = None, title: str = "Latency over time"
) -> Figure:
    """Scatter each request's latency over the run, with p50 and p99 per time bin, and errors.

    The band between p50 and p99 shows how wide the tail is at each moment; like
    `LoadResult`, the percentiles count failed requests too. A dashed grey
    line shows how late the load generator sent requests (when known): a generator that
    falls behind hides latency. Errors are red crosses (at the top when they never ended).
    """
    series = as_series(data)
    require_times(series, "plot_latency_over_time")
    with lab_style():
        fig, ax, created = figure_and_axes(ax)
        ax.set(title=title, xlabel=TIME_LABEL, ylabel="latency (ms)")
        good = series.ok & np.isfinite(series.latencies_ms)
        ax.scatter(
            series.times_s[good],
            series.latencies_ms[good],
            label=f"succeeded ({good.sum()})",
            **_DOTS,
        )
        _mark_errors(ax, series)
        shown = series.latencies_ms[np.isfinite(series.latencies_ms)]
        if shown.size:
            width = bin_s or pick_bin_s(float(np.nanmax(series.times_s)))
            shown = np.concatenate([shown, _draw_bins(ax, bin_latencies(series, width), width)])
        if shown.size:
            positive = shown[shown > 0]
            low = float(positive.min()) if positive.size else 1.0
            high = float(shown.max())
            log = wants_log_scale(shown)
            if log:
                use_log_scale(ax, "y", low, high)
            else:
                ax.set_ylim(bottom=0)
            leave_room_for_legend(ax, high, low=low, log=log)
            ax.legend(loc="upper left", ncols=3)
        else:
            note_no_data(ax)
    return finish_chart(fig, created, title)


def _rates(series: LatencySeries, bin_s: float):
    ends = series.end_times_s
    last = float(np.nanmax(ends))
    edges = np.arange(0.0, last, bin_s)
    edges = np.append(edges, last) if edges.size else np.array([0.0, max(last, bin_s)])
    if edges.size > 2 and edges[-1] - edges[-2] < 0.3 * bin_s:
        edges = np.delete(edges, -2)  # a sliver of a last bin would show a wild rate
    ok_count = np.histogram(ends[series.ok], edges)[0]
    err_count = np.histogram(ends[~series.ok], edges)[0]
    return edges, ok_count, err_count


def plot_throughput(
    data,
    ax: Axes | None = None,
    *,
    bin_s: float | None = None,
    title: str = "Throughput and errors",
) -> Figure:
    """Draw responses per second (ok and failed, stacked) and the error rate over time.

    Responses are counted when they end, so a stall shows as a gap and then a burst.
    """
    series = as_series(data)
    require_times(series, "plot_throughput")
    with lab_style():
        fig, ax, created = figure_and_axes(ax)
        ax.set(title=title, xlabel=TIME_LABEL, ylabel="responses per second (1/s)")
        if not series.latencies_ms.size:
            note_no_data(ax)
            return finish_chart(fig, created, title)
        width = bin_s or pick_bin_s(float(np.nanmax(series.end_times_s)), target_bins=25)
        edges, ok_count, err_count = _rates(series, width)
        left, widths, total = edges[:-1], np.diff(edges), ok_count + err_count
        ax.bar(
            left, ok_count / widths, widths, align="edge", color=GREEN, alpha=0.8, label="ok per s"
        )
        ax.bar(left, err_count / widths, widths, bottom=ok_count / widths, align="edge",
               color=VERMILLION, alpha=0.8, label="errors per s")  # fmt: skip
        error_pct = np.divide(
            100.0 * err_count, total, out=np.full(total.shape, np.nan), where=total > 0
        )
        right = ax.twinx()
        _stairs(right, edges, error_pct, color="black", lw=1.6, label="error rate (%)")
        right.set(ylabel="error rate (%)", ylim=(0, 105))
        right.grid(False)
        right.spines["right"].set_visible(True)
        handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        # On the twin axes, which is drawn last, so the error line passes under the legend.
        right.legend(handles, [h.get_label() for h in handles], loc="upper left", ncols=3)
        leave_room_for_legend(ax, float(np.max(total / widths)))
        ax.set_ylim(bottom=0)
    return finish_chart(fig, created, title)
