"""Draw what waits and what is refused: queue depth over time, circuit-breaker states."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ._axes import leave_room_for_legend, note_no_data
from ._data import LatencySeries, as_series, pick_origin
from ._output import (
    GREEN,
    ORANGE,
    ROLE_COLORS,
    RUN_COLORS,
    VERMILLION,
    figure_and_axes,
    finish_chart,
    lab_style,
    new_figure,
)

STATE_COLORS = {"closed": GREEN, "open": VERMILLION, "half_open": ORANGE}
STATE_LABELS = {
    "closed": "closed: calls go through",
    "open": "open: calls fail fast",
    "half_open": "half-open: trial calls",
}


def _queue_columns(samples) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not isinstance(samples, Mapping) or "times_s" in samples:
        samples = {"": samples}
    columns = {}
    for name, points in samples.items():
        if isinstance(points, Mapping):
            t, depth = points["times_s"], points["depths"]
        else:
            pairs = np.asarray(list(points), dtype=float).reshape(-1, 2)
            t, depth = pairs[:, 0], pairs[:, 1]
        columns[str(name)] = (np.asarray(t, dtype=float), np.asarray(depth, dtype=float))
    return columns


def plot_queue_depth(
    samples, ax: Axes | None = None, *, t0_s: float | None = None, title: str = "Queue depth"
) -> Figure:
    """Draw how many messages wait in one or more queues over time.

    `samples` is a list of `(t_s, depth)` pairs, or a dict queue name -> such a list
    (or -> `{"times_s": [...], "depths": [...]}`). Time starts at the first sample
    unless `t0_s` says where zero is (to line up with another chart).
    """
    queues = _queue_columns(samples)
    starts = [t.min() for t, _ in queues.values() if t.size]
    origin = t0_s if t0_s is not None else min(starts, default=0.0)
    with lab_style():
        fig, ax, created = figure_and_axes(ax)
        ax.set(title=title, xlabel="time since first sample (s)", ylabel="messages waiting (count)")
        for i, (name, (t, depth)) in enumerate(queues.items()):
            color = RUN_COLORS[i % len(RUN_COLORS)]
            ax.step(t - origin, depth, where="post", color=color, linewidth=2, label=name or None)
            if len(queues) == 1:
                ax.fill_between(t - origin, depth, step="post", color=color, alpha=0.15)
        ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        if not starts:
            note_no_data(ax, "no samples yet")
        elif any(queues):  # named queues get a legend, even a single one
            leave_room_for_legend(ax, max(float(np.max(d, initial=0)) for _, d in queues.values()))
            ax.legend(loc="upper left", ncols=3)
    return finish_chart(fig, created, title)


def _state_name(state) -> str:
    value = getattr(state, "value", None)
    raw = value if isinstance(value, str) else getattr(state, "name", state)
    name = str(raw).lower().replace("-", "_").replace(" ", "_").rsplit(".", 1)[-1]
    if name not in STATE_COLORS:
        raise ValueError(f"unknown breaker state {state!r}: use 'closed', 'open' or 'half_open'")
    return name


def state_spans(
    transitions, end_s: float | None, t0_s: float = 0.0
) -> list[tuple[float, float, str]]:
    """Turn `(t_s, state)` transitions into `(start_s, end_s, state)` spans, from t0_s."""
    moves = sorted((float(t) - t0_s, _state_name(state)) for t, state in transitions)
    if not moves:
        return []
    first, last = moves[0][0], moves[-1][0]
    stop = end_s - t0_s if end_s is not None else last + max(0.1 * (last - first), 0.5)
    ends = [t for t, _ in moves[1:]] + [max(stop, last)]
    return [(t, e, name) for (t, name), e in zip(moves, ends, strict=True) if e > t]


def draw_state_band(ax: Axes, spans, *, strip: bool, legend: bool = True) -> None:
    """Colour each span of time by its breaker state: a solid strip, or a faint background."""
    for start, stop, name in spans:
        ax.axvspan(
            start, stop, color=STATE_COLORS[name], alpha=0.85 if strip else 0.12, zorder=0, lw=0
        )
    seen = dict.fromkeys(name for _, _, name in spans)
    patches = [Patch(color=STATE_COLORS[n], label=STATE_LABELS[n]) for n in seen]
    if not legend:
        return
    if strip:
        ax.set_yticks([])
        ax.grid(False)
        ax.legend(
            handles=patches, loc="upper center", bbox_to_anchor=(0.5, -0.6), ncols=3, frameon=False
        )
    else:
        ax.legend(handles=ax.get_legend_handles_labels()[0] + patches, loc="upper left", ncols=2)


def plot_breaker_states(
    transitions, data=None, ax: Axes | None = None, *, end_s: float | None = None,
    title: str = "Circuit breaker state",
) -> Figure:  # fmt: skip
    """Draw circuit-breaker states as coloured bands, under the calls' latencies when given.

    `transitions` is a list of `(t_s, state)`, states "closed", "open", "half_open"
    (pybreaker's "half-open" and enum members work too), on the same clock as the
    requests in `data`. With `ax`, faint bands are added behind what those axes show.
    """
    transitions = list(transitions)
    series = as_series(data) if data is not None else None
    origin = series.origin_s if series is not None else pick_origin([t for t, _ in transitions])
    if end_s is None and series is not None and series.has_times:
        end_s = origin + float(np.nanmax(series.end_times_s))
    spans = state_spans(transitions, end_s, origin)
    with lab_style():
        if ax is not None:
            draw_state_band(ax, spans, strip=False)
            return ax.figure
        if series is None:
            fig, strip = new_figure(figsize_in=(8, 2.2))
            top = strip
        else:
            kw = dict(sharex=True, height_ratios=(4, 1), figsize_in=(8, 5.2))
            fig, (top, strip) = new_figure(2, 1, **kw)
            _draw_calls(top, series)
            draw_state_band(top, spans, strip=False, legend=False)
        draw_state_band(strip, spans, strip=True)
        top.set_title(title)
        strip.set_xlabel("time since start (s)")
        strip.set_ylabel("state", rotation=0, ha="right", va="center")
    return finish_chart(fig, True, title)


def _draw_calls(ax: Axes, series: LatencySeries) -> None:
    good = series.ok & np.isfinite(series.latencies_ms)
    bad = ~series.ok & np.isfinite(series.latencies_ms)
    blue, red = ROLE_COLORS["p50"], ROLE_COLORS["error"]
    ax.scatter(series.times_s[good], series.latencies_ms[good], s=10, color=blue, lw=0,
               label=f"succeeded ({good.sum()})", zorder=2)  # fmt: skip
    ax.scatter(series.times_s[bad], series.latencies_ms[bad], s=24, marker="x", color=red, lw=1.4,
               label=f"failed ({bad.sum()})", zorder=3)  # fmt: skip
    ax.set_ylabel("latency (ms)")
    leave_room_for_legend(ax, float(np.nanmax(series.latencies_ms, initial=1.0)))
    ax.legend(loc="upper left", ncols=2)
