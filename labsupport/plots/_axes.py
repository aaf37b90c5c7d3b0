"""Small drawing helpers the charts share: log axes with plain numbers, empty-state notes."""

from __future__ import annotations

import math

from matplotlib import ticker
from matplotlib.axes import Axes


def _plain(value: float, _pos=None) -> str:
    return f"{value:g}"


def use_log_scale(ax: Axes, axis: str, low: float, high: float) -> None:
    """Put an axis on a log scale labelled 0.1, 1, 10 (and 2, 5 when it spans little)."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_formatter(ticker.FuncFormatter(_plain))
    decades = math.log10(high / low) if low > 0 and high > 0 else 3
    if decades < 2.5:
        target.set_minor_locator(ticker.LogLocator(subs=(2.0, 5.0)))
        target.set_minor_formatter(ticker.FuncFormatter(_plain))
    else:
        target.set_minor_formatter(ticker.NullFormatter())


def wants_log_scale(values, ratio: float = 30.0) -> bool:
    """Tell whether positive values spread over enough range to read better on a log scale."""
    positive = [v for v in values if v > 0 and math.isfinite(v)]
    return bool(positive) and max(positive) / min(positive) >= ratio


def note_no_data(ax: Axes, what: str = "no requests yet") -> None:
    """Write a grey note in the middle of empty axes, so a blank chart is not a mystery."""
    ax.text(0.5, 0.5, what, transform=ax.transAxes, ha="center", va="center", color="0.5")


def legend_if_several(ax: Axes, **kwargs) -> None:
    """Add a legend only when the axes hold more than one labelled series."""
    handles, labels = ax.get_legend_handles_labels()
    if len(labels) > 1:
        ax.legend(handles, labels, **kwargs)


def leave_room_for_legend(ax: Axes, high: float, *, low: float = 0.0, log: bool = False) -> None:
    """Raise the y limit so a legend in the top corner sits above the data, not on it."""
    if not math.isfinite(high) or high <= 0:
        return
    if log and low > 0:
        ax.set_ylim(low / 1.5, high * (high / low) ** 0.3)
    else:
        ax.set_ylim(top=high * 1.35)
