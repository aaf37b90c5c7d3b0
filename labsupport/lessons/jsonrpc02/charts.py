"""Draw lesson 02's own chart: what one call costs as the batch it travels in grows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from labsupport.plots import BLUE, GREY, ORANGE


def draw_batch_costs(axes: Sequence[Axes], rows: Sequence[Mapping]) -> None:
    """Draw per-call cost (left) and whole-request time (right) against the batch size.

    Rows come from `time_batch_sizes`: the first is a single call sent on its own, the
    others batches. Made for `LivePlot(title, draw=draw_batch_costs, ncols=2)`.
    """
    left, right = axes
    single = rows[0]
    batches = [r for r in rows[1:]]
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("calls in one HTTP request (batch size)")
    left.axhline(single["per_call_us"], color=GREY, ls="--", lw=1.2,
                 label=f"a single call on its own: {single['per_call_us']:.0f} µs")  # fmt: skip
    if batches:
        sizes = np.array([r["calls"] for r in batches])
        per_call = np.array([r["per_call_us"] for r in batches])
        left.plot(sizes, per_call, "o-", color=BLUE, lw=2, label="one call inside a batch")
        ideal = single["per_call_us"] / sizes
        left.plot(sizes, ideal, ":", color=ORANGE, lw=1.5, label="single call ÷ batch size")
        for x, y in zip(sizes, per_call, strict=True):
            left.annotate(f"{y:.0f}", (x, y), textcoords="offset points", xytext=(0, 7),
                          ha="center", fontsize=8, color=BLUE)  # fmt: skip
        whole = np.array([r["batch_ms"] for r in batches])
        right.plot(sizes, whole, "o-", color=BLUE, lw=2, label="the whole batch")
        right.set_xticks(sizes, [str(s) for s in sizes])
        left.set_xticks(sizes, [str(s) for s in sizes])
    right.axhline(single["batch_ms"], color=GREY, ls="--", lw=1.2, label="a single call")
    left.set_yscale("log")
    left.set(ylabel="time per call (µs, log scale)")
    left.set_title("each call gets cheaper", fontsize=11)
    right.set(ylabel="time for the whole HTTP request (ms)", ylim=(0, None))
    right.set_title("while the request grows slowly", fontsize=11)
    left.legend(loc="lower left", fontsize=8)
    right.legend(loc="upper left", fontsize=8)
