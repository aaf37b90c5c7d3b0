"""Draw lesson 01's own charts: a chain as it grows, request arrivals, call spans, a breaker run.

Each function draws on the axes it is given (so a LivePlot can redraw it) or makes,
saves and returns its own figure, like the charts in `labsupport.plots`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from labsupport.observe import most_within
from labsupport.plots import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    STATE_COLORS,
    STATE_LABELS,
    VERMILLION,
    draw_state_band,
    lab_style,
    new_figure,
    save_figure,
    state_spans,
)


def draw_chain(axes: Sequence[Axes], rows: Sequence[Mapping]) -> None:
    """Draw p50/p99 latency per chain length (left) and the share of slow requests (right).

    Each row: hops, p50_ms, p99_ms, slow_share, expected_slow_share. Made for
    `LivePlot(title, draw=draw_chain, ncols=2)`, updated once per chain length.
    """
    left, right = axes
    hops = np.array([r["hops"] for r in rows])
    for key, colour, label in (("p50_ms", BLUE, "p50"), ("p99_ms", ORANGE, "p99")):
        values = [r[key] for r in rows]
        left.plot(hops, values, "o-", color=colour, lw=2, label=label)
        for x, y in zip(hops, values, strict=True):
            left.annotate(f"{y:.1f}", (x, y), textcoords="offset points", xytext=(0, 6),
                          ha="center", fontsize=8, color=colour)  # fmt: skip
    left.set(
        xlabel="services in the chain (hops)", ylabel="end-to-end latency (ms)", ylim=(0, None)
    )
    left.set_title("latency adds up", fontsize=11)
    left.legend(loc="upper left")
    shares = 100 * np.array([r["slow_share"] for r in rows])
    expected = 100 * np.array([r["expected_slow_share"] for r in rows])
    right.bar(hops, shares, width=0.6, color=VERMILLION, alpha=0.8, label="measured")
    right.plot(hops, expected, "s--", color="black", lw=1.2, label="predicted, hiccups independent")
    right.set(xlabel="services in the chain (hops)", ylabel="requests hit by a hiccup (%)")
    right.set_title("so do the hiccups", fontsize=11)
    right.set_ylim(0, max(10.0, 1.3 * float(max(shares.max(), expected.max()))))
    right.legend(loc="upper left")
    for ax in axes:
        ax.set_xticks(range(1, max(int(hops.max()), 1) + 1))
        ax.set_xlim(0.5, max(int(hops.max()), 1) + 0.5)


def plot_arrivals(
    series: Mapping[str, Sequence[float]],
    *,
    bin_s: float = 0.01,
    shade: tuple[float, float] | None = None,
    shade_label: str = "service down",
    same_scale: bool = True,
    title: str = "Requests arriving at the service",
) -> Figure:
    """Draw, one panel per series, how many requests arrived in each time bin.

    Each legend gives the most requests seen in any window of bin_s (a sliding window,
    so a spike that straddles two bins still counts whole).

    `series` maps a label to arrival times in seconds from the same origin; `shade`
    greys out a window (an outage) on every panel. With same_scale the panels share
    their y axis, so peaks compare at a glance.
    """
    with lab_style():
        fig, axes = new_figure(len(series), 1, sharex=True, figsize_in=(8, 1.6 + 1.7 * len(series)))
        axes = np.atleast_1d(axes)
        end = max((max(t) for t in series.values() if len(t)), default=1.0)
        edges = np.arange(0.0, end + bin_s, bin_s)
        top = 1
        for ax, (label, times), colour in zip(
            axes, series.items(), (VERMILLION, GREEN, BLUE), strict=False
        ):
            counts, _ = np.histogram(times, edges)
            top = max(top, int(counts.max(initial=0)))
            busiest = most_within(sorted(times), bin_s)
            ax.bar(edges[:-1], counts, bin_s, align="edge", color=colour, alpha=0.85,
                   label=f"{label}: at most {busiest} in {bin_s * 1000:g} ms")  # fmt: skip
            if shade:
                ax.axvspan(*shade, color=GREY, alpha=0.15, lw=0, label=shade_label)
            ax.set_ylabel("requests")
            ax.legend(loc="upper right")
        for ax in axes if same_scale else ():
            ax.set_ylim(0, top * 1.3)
        axes[0].set_title(title)
        axes[-1].set_xlabel("time since the first request (s)")
    save_figure(fig, title)
    return fig


def plot_call_spans(
    runs: Mapping[str, Sequence[tuple[str, float, float]]],
    *,
    title: str = "Where the gateway's time goes",
) -> Figure:
    """Draw each downstream call as a bar from its start to its end, one group per run.

    `runs` maps a run's name to (service, start_s, end_s) tuples, times from that run's start.
    Each group starts with a row naming the run and saying when its page was ready.
    """
    with lab_style():
        fig, ax = new_figure(figsize_in=(8, 1.2 + 0.45 * sum(len(c) + 1 for c in runs.values())))
        labels, headers, colours = [], [], {}
        for run_name, calls in runs.items():
            total_ms = 1000 * max(end for _, _, end in calls)
            headers.append(len(labels))
            ax.axvline(total_ms, color=GREY, ls=":", lw=1)
            ax.text(total_ms, len(labels), f"page ready after {total_ms:.0f} ms ", ha="right",
                    va="center", fontsize=9)  # fmt: skip
            labels.append(run_name)
            for service, start, end in calls:
                colour = colours.setdefault(service, (BLUE, ORANGE, GREEN, GREY)[len(colours) % 4])
                ax.barh(
                    len(labels), (end - start) * 1000, left=start * 1000, color=colour, height=0.6
                )
                ax.text(end * 1000 + 3, len(labels), f"{(end - start) * 1000:.0f} ms", va="center",
                        fontsize=8)  # fmt: skip
                labels.append(service)
        ax.set_yticks(range(len(labels)), labels)
        for row in headers:
            ax.get_yticklabels()[row].set_fontweight("bold")
        ax.set_ylim(len(labels) - 0.4, -0.8)  # top to bottom, with room above the first header
        ax.grid(False, axis="y")
        ax.set(xlabel="time since the gateway got the request (ms)", title=title)
        ax.set_xlim(0, ax.get_xlim()[1] * 1.1)
    save_figure(fig, title)
    return fig


OUTCOME_ROWS = ("succeeded", "failed at the service", "refused by the breaker")
_REFUSALS = {"CircuitOpenError", "CircuitBreakerError"}


def plot_breaker_run(
    result, transitions, ax: Axes | None = None, *, title: str = "Circuit breaker over time"
) -> Figure:
    """Draw each call of a run as a tick in its outcome's row, over the breaker's state bands.

    Half-open spans often last a single call; they are drawn at least 1.2% of the run wide
    and strongly coloured, so they stay visible.
    """
    records = result.records
    rows = np.array(
        [0 if e is None else 2 if e in _REFUSALS else 1 for e in records.error], dtype=int
    )
    created = ax is None
    with lab_style():
        fig, ax = new_figure(figsize_in=(8, 3.8)) if created else (ax.figure, ax)
        end_s = float(records.end_s.max(initial=0.0))
        spans = state_spans(transitions, end_s)
        draw_state_band(ax, spans, strip=False, legend=False)
        for start, stop, state in spans:  # a trial lasts one call: too thin for a band
            if state == "half_open":
                half_w = 0.006 * end_s  # centred on the trial call, which sits at `start`
                ax.axvspan(start - half_w, max(stop, start + half_w), color=ORANGE, alpha=0.6, lw=0)
        for row, colour in enumerate((BLUE, VERMILLION, GREY)):
            times = records.intended_s[rows == row]
            ax.scatter(times, np.full(times.size, row), marker="|", s=260, color=colour, lw=1.5)
        counts = [int((rows == row).sum()) for row in range(3)]
        ax.set_yticks(range(3), [f"{n}\n({c})" for n, c in zip(OUTCOME_ROWS, counts, strict=True)])
        ax.set_ylim(2.6, -0.6)
        ax.grid(False, axis="y")
        ax.set(xlabel="time since the first call (s)", title=title)
        _state_legend(ax, transitions)
    if created:
        save_figure(fig, title)
    return fig


def _state_legend(ax: Axes, transitions) -> None:
    from matplotlib.patches import Patch

    seen = dict.fromkeys(str(s).replace("-", "_") for _, s in transitions)
    handles = [Patch(color=STATE_COLORS[s], alpha=0.35, label=STATE_LABELS[s]) for s in seen]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3,
              frameon=False)  # fmt: skip
