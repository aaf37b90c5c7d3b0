"""Lesson 07, section 4: the comparison as one image, what the caller waits vs what survives."""

from __future__ import annotations

from matplotlib.figure import Figure

from labsupport.plots import new_figure, plot_comparison, save_figure

TITLE = "Five patterns under one fault scenario"


def plot_patterns(rows: list[dict]) -> Figure:
    """Draw p50/p99 of the caller's wait beside the share of orders that survived the outage."""
    names = [row["pattern"].replace(" ", "\n", 1) for row in rows]
    fig, (left, right) = new_figure(1, 2, figsize_in=(11, 4.2))
    waits = {name: (row["p50 ms"], row["p99 ms"]) for name, row in zip(names, rows, strict=True)}
    plot_comparison(
        waits, left, quantity="caller waits", title="What the caller waits for (successful calls)"
    )
    survived = {name: row["ok in outage %"] for name, row in zip(names, rows, strict=True)}
    plot_comparison(survived, right, quantity="sent while down, succeeded", unit="%",
                    title="Success during the outage")  # fmt: skip
    right.set_ylim(0, 115)
    fig.suptitle(TITLE)
    save_figure(fig, TITLE)
    return fig
