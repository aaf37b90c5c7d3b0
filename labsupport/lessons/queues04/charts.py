"""Charts of lesson 04: who heard a pub/sub message, a pool scaling up, a broker outage."""

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


def plot_pubsub_window(
    sent, received: dict[str, list[str]], away: dict[str, tuple[float, float]],
    title: str = "Redis pub/sub: a subscriber that is away misses what is published",
) -> Figure:  # fmt: skip
    """Draw one row per subscriber: a dot for each message it got, a cross for each it missed.

    `sent` are `Published` records, `received` maps a subscriber to the bodies it got,
    `away` maps a subscriber to the (start, end) seconds it was unsubscribed.
    """
    fig, ax = new_figure(figsize_in=(8.5, 3.6))
    names = list(received)
    t = np.array([s.t_s for s in sent])
    with lab_style():
        for row, name in enumerate(names):
            heard = set(received[name])
            hit = np.array([f"order {s.seq}" in heard for s in sent])
            ax.scatter(t[hit], np.full(hit.sum(), row), s=22, color=GREEN, lw=0,
                       label="received" if row == 0 else None)  # fmt: skip
            ax.scatter(t[~hit], np.full((~hit).sum(), row), s=40, marker="x", color=VERMILLION,
                       lw=1.6, label="missed" if (~hit).any() else None)  # fmt: skip
            if name in away:
                start, end = away[name]
                ax.fill_between([start, end], row - 0.35, row + 0.35, color=GREY, alpha=0.18, lw=0)
                ax.text((start + end) / 2, row + 0.42, "away (unsubscribed)", ha="center",
                        va="bottom", fontsize=9, color="0.3")  # fmt: skip
        labels = [f"{n}\n{len(received[n])} of {len(sent)}" for n in names]
        ax.set_yticks(range(len(names)), labels)
        ax.set_ylim(-0.7, len(names) - 0.2)
        ax.set(title=title, xlabel="time the message was published (s)")
        handles, texts = ax.get_legend_handles_labels()
        unique = dict(zip(texts, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.grid(axis="y", visible=False)
    save_figure(fig, title)
    return fig


def draw_scaling(axes, run) -> None:
    """Draw a `ScaleRun`: acks per second above, backlog below, one band per phase.

    Made to be the `draw` function of a two-row `LivePlot`.
    """
    top, bottom = axes
    acks = np.asarray(run.ack_times_s)
    end = max([acks.max() if acks.size else 0.0] + [e for _, _, e in run.phases] + [1.0])
    edges = np.arange(0.0, end + 0.5, 0.5)
    rate = np.histogram(acks, edges)[0] / 0.5
    top.step(edges[:-1], rate, where="post", color=BLUE, lw=2, label="messages done per second")
    top.axhline(run.rate_per_s, color=ORANGE, ls="--", lw=1.5,
                label=f"orders arriving ({run.rate_per_s:g}/s)")  # fmt: skip
    depth = np.asarray(run.depth, dtype=float).reshape(-1, 2)
    bottom.step(depth[:, 0], depth[:, 1], where="post", color=VERMILLION, lw=2)
    bottom.fill_between(depth[:, 0], depth[:, 1], step="post", color=VERMILLION, alpha=0.15)
    for i, (n, start, stop) in enumerate(run.phases):
        for ax in (top, bottom):
            ax.axvspan(start, stop, color=GREY, alpha=0.08 if i % 2 else 0.0, lw=0)
        top.text((start + stop) / 2, 0.97, f"{n} consumer{'s' if n > 1 else ''}",
                 transform=top.get_xaxis_transform(), ha="center", va="top", fontsize=9.5)  # fmt: skip
    top.set(ylabel="per second", ylim=(0, max(rate.max(initial=0), run.rate_per_s) * 1.45))
    top.legend(loc="upper left", bbox_to_anchor=(0.0, 0.88), fontsize=9)
    bottom.set(ylabel="backlog (messages)", xlabel="time since the producer started (s)")
    bottom.set_ylim(bottom=0)
    bottom.set_xlim(top.get_xlim())


def plot_outage(
    traffic, title: str = "RabbitMQ stopped and started: what both sides saw"
) -> Figure:
    """Draw an `OutageTraffic` run: confirmed and received counts over time, failures below."""
    log = traffic.log
    t0 = log.times("lab", "start")[0]
    fig, (top, strip) = new_figure(2, 1, sharex=True, height_ratios=(3, 1), figsize_in=(8.5, 5.2))
    with lab_style():
        confirmed = np.array(log.times("producer", "confirmed")) - t0
        producer = traffic.producer
        placed_t = np.arange(producer.count) / producer.rate_per_s
        top.step(placed_t, np.arange(1, producer.count + 1), where="post", color=GREY, lw=1.5,
                 ls=":", label=f"orders placed by the shop ({producer.rate_per_s:g}/s)")  # fmt: skip
        received = np.array(log.times("consumer", "received")) - t0
        top.step(confirmed, np.arange(1, confirmed.size + 1), where="post", color=GREEN, lw=2,
                 label="producer: confirmed by the broker")  # fmt: skip
        top.step(received, np.arange(1, received.size + 1), where="post", color=BLUE, lw=2,
                 ls="--", label="consumer: received")  # fmt: skip
        marks = {kind: log.times("broker", kind) for kind in ("stopping", "up")}
        if marks["stopping"] and marks["up"]:
            for ax in (top, strip):
                ax.axvspan(
                    marks["stopping"][0] - t0, marks["up"][0] - t0, color=GREY, alpha=0.2, lw=0
                )
            top.text((marks["stopping"][0] + marks["up"][0]) / 2 - t0, 0.72, "broker down",
                     transform=top.get_xaxis_transform(), ha="center", color="0.25")  # fmt: skip
        top.set(title=title, ylabel="messages (count)")
        top.legend(loc="upper left")
        for row, role in enumerate(("producer", "consumer")):
            failed = np.array(log.times(role, "failed")) - t0
            strip.scatter(
                failed, np.full(failed.size, row), marker="x", s=30, color=VERMILLION, lw=1.4
            )
        strip.set_yticks([0, 1], ["publish\nrefused", "consumer\nreconnect\nfailed"], fontsize=9)
        strip.set_ylim(-0.6, 1.6)
        strip.grid(axis="y", visible=False)
        strip.set_xlabel("time since the producer started (s)")
    save_figure(fig, title)
    return fig
