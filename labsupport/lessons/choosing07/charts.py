"""Charts of lesson 07: what each crash point cost the dual write and the outbox."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from labsupport.plots import GREEN, ORANGE, VERMILLION, lab_style, new_figure, save_figure

POINT_LABELS = {
    "before_commit": "before\ncommit",
    "after_commit": "after commit,\nbefore publish/reply",
    "after_publish": "after publish,\nbefore reply",
    "relay_before_publish": "relay: before\npublish",
    "relay_after_publish": "relay: after publish,\nbefore mark",
}


def plot_crash_points(
    runs, title: str = "Killed at each point: events lost and duplicated"
) -> Figure:
    """Draw one panel per design: lost, duplicated and duplicated-after-dedup per crash point."""
    modes = list(dict.fromkeys(run.mode for run in runs))
    fig, axes = new_figure(1, len(modes), figsize_in=(10, 3.8), sharey=True, squeeze=False)
    totals_by = {}
    for r in runs:
        key = (r.mode, r.point)
        totals_by[key] = totals_by.get(key, 0) + max(r.lost, r.duplicated)
    top = max([1, *totals_by.values()])
    bars = (("lost", VERMILLION), ("duplicated", ORANGE), ("duplicated_after_dedup", GREEN))
    with lab_style():
        for ax, mode in zip(axes[0], modes, strict=True):
            mine = [r for r in runs if r.mode == mode]
            points = list(dict.fromkeys(r.point for r in mine))
            x = np.arange(len(points))
            for j, (field, color) in enumerate(bars):
                totals = [sum(getattr(r, field) for r in mine if r.point == p) for p in points]
                drawn = ax.bar(
                    x + (j - 1) * 0.26, totals, 0.25, color=color, label=field.replace("_", " ")
                )
                ax.bar_label(drawn, padding=2, fontsize=9)
            ax.set_xticks(x, [POINT_LABELS.get(p, p) for p in points], fontsize=8.5)
            ax.grid(False, axis="x")
            ax.set(title=f"{mode.replace('_', ' ')} ({len(mine)} kills)", ylim=(0, top * 1.4 + 0.5))
        axes[0][0].set_ylabel("events")
        axes[0][-1].legend(loc="upper right", fontsize=9)
        fig.suptitle(title)
    save_figure(fig, title)
    return fig
