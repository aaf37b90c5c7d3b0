"""Lesson 03's own chart: a fast stream and a slow reader, held together by flow control."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labsupport.plots import BLUE, ORANGE, VERMILLION, lab_style, new_figure, save_figure

__all__ = ["plot_flow_control"]


def plot_flow_control(
    runs: dict[str, dict], title: str = "A fast stream and a slow reader"
) -> Figure:
    """Draw, per run of `read_slowly`, what the server produced, what the reader took, and the gap.

    `runs` maps a label (how the channel was set up) to the samples `read_slowly` returned.
    """
    styles = ["-", "--", ":"]
    with lab_style():
        fig, (top, bottom) = new_figure(2, 1, figsize_in=(8, 6), sharex=True)
        for style, (label, samples) in zip(styles, runs.items(), strict=False):
            t = np.asarray(samples["t_s"])
            sent, read = np.asarray(samples["sent"]), np.asarray(samples["read"])
            top.plot(t, sent, style, color=VERMILLION, label=f"produced by the server, {label}")
            top.plot(t, read, style, color=BLUE, label=f"read by the client, {label}")
            bottom.plot(t, np.maximum(sent - read, 1), style, color=ORANGE, label=label)
        top.set(ylabel="messages", title=title)
        top.legend(loc="upper left", fontsize=8)
        bottom.set_yscale("log")
        bottom.set(xlabel="time (s)", ylabel="waiting (produced − read)")
        bottom.legend(loc="lower right", fontsize=8)
    save_figure(fig, title)
    return fig
