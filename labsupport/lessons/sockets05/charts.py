"""Charts of lesson 05: a fast sender's memory, the detector's trade-off, RTTs, a failover."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labsupport.plots import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    VERMILLION,
    lab_style,
    new_figure,
    save_figure,
)

FLOW_COLORS = {"unbounded": VERMILLION, "drain + bounded queue": BLUE}


def draw_flow(axes, runs) -> None:
    """Draw FlowRuns: MB held by the sender and RSS growth above, MB produced and received below.

    Made to be the `draw` of a two-row `LivePlot`.
    """
    top, bottom = axes
    for run in runs:
        n = min(len(run.t_s), len(run.held_mb), len(run.rss_mb), len(run.produced_mb),
                len(run.received_mb))  # fmt: skip
        if not n:
            continue
        t = run.t_s[:n]
        color = FLOW_COLORS.get(run.label, GREY)
        top.plot(t, run.held_mb[:n], color=color, lw=2, label=f"{run.label}: held by sender")
        rss = np.array(run.rss_mb[:n]) - run.rss_mb[0]
        top.plot(t, rss, color=color, lw=1, ls=":", label=f"{run.label}: process RSS growth")
        bottom.plot(t, run.produced_mb[:n], color=color, lw=1.2, ls="--",
                    label=f"{run.label}: produced")  # fmt: skip
        bottom.plot(t, run.received_mb[:n], color=color, lw=2, label=f"{run.label}: received")
    top.set(ylabel="MB")
    bottom.set(ylabel="MB so far", xlabel="seconds since the sender started")
    for ax in axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=8)


def plot_detection_tradeoff(
    timeouts_s, false_alarms_per_min, interval_s: float, measured: tuple[float, float] | None = None,
    title: str = "Heartbeat timeout: false alarms against time to notice a silent peer",
) -> Figure:  # fmt: skip
    """Draw false alarms per minute (from a slow live peer's gaps) and detection time per timeout.

    `measured` is (timeout_s, seconds it took) for a silent peer timed for real.
    """
    fig, (left, right) = new_figure(1, 2, figsize_in=(10, 3.8))
    ms = np.asarray(timeouts_s) * 1000
    with lab_style():
        left.plot(ms, false_alarms_per_min, color=VERMILLION, marker="o", ms=4)
        left.set(xlabel="timeout (ms)", ylabel="false alarms per minute",
                 title="a slow but live peer, suspected wrongly")  # fmt: skip
        right.fill_between(ms, ms - interval_s * 1000, ms, color=BLUE, alpha=0.2, lw=0,
                           label="from the hang itself: up to one interval less")  # fmt: skip
        right.plot(ms, ms, color=BLUE, lw=1.5, label="from its last heartbeat")
        if measured:
            right.scatter([measured[0] * 1000], [measured[1] * 1000], color=ORANGE, zorder=3,
                          s=50, label="a silent peer, measured")  # fmt: skip
        right.set(xlabel="timeout (ms)", ylabel="ms until noticed",
                  title="a silent peer, noticed late")  # fmt: skip
        right.legend(loc="upper left", fontsize=8)
        fig.suptitle(title, fontweight="bold")
    save_figure(fig, title)
    return fig


def plot_round_trips(
    samples_us: dict[str, np.ndarray], floor_us: float | None = None,
    title: str = "One round trip on one machine: raw TCP, HTTP, gRPC",
) -> Figure:  # fmt: skip
    """Draw each protocol's median round trip with its 10th-90th percentile range (log scale)."""
    fig, ax = new_figure(figsize_in=(8.5, 3.2))
    names = list(samples_us)
    with lab_style():
        for row, name in enumerate(names):
            p10, p50, p90 = np.percentile(samples_us[name], [10, 50, 90])
            ax.plot([p10, p90], [row, row], color=BLUE, lw=6, alpha=0.35, solid_capstyle="butt")
            ax.scatter([p50], [row], color=BLUE, zorder=3, s=40)
            ax.text(p90 * 1.08, row, f"p50 {p50:,.0f} µs", va="center", fontsize=9)
        if floor_us:
            ax.axvline(floor_us, color=GREEN, ls="--", lw=1.5,
                       label=f"sockperf C ping-pong p50 ({floor_us:.0f} µs)")  # fmt: skip
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xscale("log")
        ax.set_yticks(range(len(names)), names)
        ax.set_ylim(-0.6, len(names) - 0.4)
        ax.set(title=title, xlabel="round trip (µs, log scale); bar = 10th to 90th percentile")
        ax.grid(axis="y", visible=False)
        lo, hi = ax.get_xlim()
        ax.set_xlim(lo, hi * 3)
    save_figure(fig, title)
    return fig


def plot_failover(
    run, title: str = "Redis Cluster: a master killed, its replica promoted"
) -> Figure:
    """Draw each write as a bar from its start to its end (green ok, red error), per key."""
    fig, ax = new_figure(figsize_in=(9.5, 3.6))
    series = {"order:1\n(killed master)": run.client, "a key on\nanother master": run.other}
    with lab_style():
        for row, writes in enumerate(series.values()):
            for start, end, outcome in writes:
                color = GREEN if outcome == "ok" else VERMILLION
                ax.plot([start, max(end, start + 0.004)], [row, row], color=color, lw=9,
                        solid_capstyle="butt")  # fmt: skip
        marks = [(0.0, "master killed", VERMILLION), (run.marked_fail_s, "flagged fail", ORANGE),
                 (run.promoted_s, "replica promoted", BLUE)]  # fmt: skip
        for x, label, color in marks:
            if x is not None:
                ax.axvline(x, color=color, ls="--", lw=1.3)
                ax.text(x, 1.75, f" {label}\n {x:.2f} s", color=color, fontsize=8, va="top")
        ax.plot([], [], color=GREEN, lw=6, label="write ok")
        ax.plot([], [], color=VERMILLION, lw=6, label="write failed (error raised)")
        ax.legend(loc="lower right", fontsize=8)
        ax.set_yticks(range(len(series)), list(series))
        ax.set_ylim(-0.8, 1.9)
        ax.set(
            title=title, xlabel="seconds since the kill (a bar spans one write, retries included)"
        )
        ax.grid(axis="y", visible=False)
    save_figure(fig, title)
    return fig
