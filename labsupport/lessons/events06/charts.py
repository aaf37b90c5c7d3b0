"""Charts of lesson 06: the thin/fat crossover, and the herd of callbacks."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labsupport.plots import BLUE, GREY, ORANGE, VERMILLION, lab_style, new_figure, save_figure

from .rigs import Round, crossover


def _line(rounds: list[Round], design: str, value) -> tuple[np.ndarray, np.ndarray]:
    picked = sorted((r.share, value(r)) for r in rounds if r.design == design)
    return np.array([p[0] for p in picked]) * 100, np.array([p[1] for p in picked])


def plot_crossover(by_size: dict[str, list[Round]],
                   title: str = "Thin or fat events: bytes and calls per event") -> Figure:  # fmt: skip
    """Draw bytes (top) and calls (bottom) per event against the share needing details.

    One column per order size; the measured crossover is marked, and the 10-20% rule of
    thumb is shaded for comparison.
    """
    fig, axes = new_figure(2, len(by_size), figsize_in=(5.2 * len(by_size), 6.4), sharex=True,
                           squeeze=False, height_ratios=(2, 1))  # fmt: skip
    with lab_style():
        for col, (size, rounds) in enumerate(by_size.items()):
            top, bottom = axes[0][col], axes[1][col]
            highest = 0.0
            for design, color in (("thin", BLUE), ("fat", ORANGE)):
                x, y = _line(rounds, design, lambda r: r.bytes_per_event / 1000)
                top.plot(x, y, "o-", color=color, lw=2, ms=4, label=f"{design} events")
                highest = max(highest, y.max(initial=0))
                x, y = _line(rounds, design, lambda r: r.calls / r.events)
                bottom.plot(x, y, "o-", color=color, lw=2, ms=4, label=f"{design} events")
            for ax in (top, bottom):
                ax.axvspan(10, 20, color=GREY, alpha=0.15, lw=0)
            top.text(15, 0.98, "rule of\nthumb", transform=top.get_xaxis_transform(),
                     ha="center", va="top", fontsize=8.5, color="0.35")  # fmt: skip
            _mark(top, crossover(rounds))
            top.set(title=size, ylabel="kB on the wire per event", ylim=(0, highest * 1.3))
            bottom.set(xlabel="events that need the order's details (%)",
                       ylabel="REST calls per event", xlim=(-2, 102))  # fmt: skip
            bottom.legend(loc="upper left", fontsize=9)
        fig.suptitle(title)
    save_figure(fig, title)
    return fig


def _mark(ax, share: float | None) -> None:
    if share is None:
        ax.text(98, 0.3, "no crossover:\nthin moves fewer\nbytes up to 100%", ha="right",
                va="center", transform=ax.get_xaxis_transform(), fontsize=9, color=VERMILLION)  # fmt: skip
        return
    ax.axvline(share * 100, color=VERMILLION, ls="--", lw=1.5)
    ax.text(share * 100 + 2, 0.5, f"crossover\n{share:.0%}", transform=ax.get_xaxis_transform(),
            ha="left", va="center", fontsize=9.5, color=VERMILLION)  # fmt: skip


def plot_herd(herds, bin_ms: float = 10.0,
              title: str = "Callbacks reaching the orders service after a burst") -> Figure:  # fmt: skip
    """Draw, for each run, how many calls arrived in each bin_ms window, with the peak."""
    fig, axes = new_figure(len(herds), 1, figsize_in=(8.5, 2.1 + 1.5 * len(herds)),
                           sharex=True, squeeze=False)  # fmt: skip
    end = max(max(h.arrivals_ms, default=0) for h in herds) + bin_ms
    edges = np.arange(0, end + bin_ms, bin_ms)
    top = max(np.histogram(h.arrivals_ms, edges)[0].max(initial=1) for h in herds)
    with lab_style():
        for ax, herd, color in zip(axes[:, 0], herds, (VERMILLION, BLUE, ORANGE), strict=False):
            counts = np.histogram(herd.arrivals_ms, edges)[0]
            ax.bar(edges[:-1], counts, width=bin_ms, align="edge", color=color, alpha=0.8, lw=0)
            ax.set(ylabel=f"calls per\n{bin_ms:g} ms", ylim=(0, top * 1.35))
            ax.text(0.99, 0.92, f"{herd.label}: {herd.calls} calls, busiest {bin_ms:g} ms bar "
                    f"{counts.max(initial=0)}", transform=ax.transAxes, ha="right", va="top",
                    fontsize=10)  # fmt: skip
        axes[-1, 0].set_xlabel("time since the first event was published (ms)")
        axes[0, 0].set_title(title)
    save_figure(fig, title)
    return fig
