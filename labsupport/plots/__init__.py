"""Draw what the lessons measure: live plots that keep their last frame, and standard charts.

Every chart function takes data (a `LoadResult`, or plain arrays) and an optional
matplotlib `ax`, and returns the Figure. A figure the function creates itself is saved
as `<plots dir>/<slug of title>.png` and shows itself as a PNG when it ends a cell.
No pyplot: figures never pile up, and nothing is displayed twice.
"""

from __future__ import annotations

from ._data import LatencySeries, as_runs, as_series
from ._output import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    VERMILLION,
    LabFigure,
    lab_style,
    new_figure,
    plots_dir,
    save_figure,
    slugify,
)
from .background import BackgroundLoad
from .bars import plot_comparison
from .distribution import plot_latency_cdf, plot_latency_histogram
from .live import LivePlot
from .panel import ControlPanel, controls
from .queues import (
    STATE_COLORS,
    STATE_LABELS,
    draw_state_band,
    plot_breaker_states,
    plot_queue_depth,
    state_spans,
)
from .sequence import Message, plot_sequence
from .timeline import plot_latency_over_time, plot_throughput

__all__ = [
    "BLUE",
    "BackgroundLoad",
    "ControlPanel",
    "GREEN",
    "GREY",
    "LabFigure",
    "LatencySeries",
    "LivePlot",
    "Message",
    "ORANGE",
    "STATE_COLORS",
    "STATE_LABELS",
    "VERMILLION",
    "as_runs",
    "as_series",
    "controls",
    "draw_state_band",
    "lab_style",
    "new_figure",
    "plot_breaker_states",
    "plot_comparison",
    "plot_latency_cdf",
    "plot_latency_histogram",
    "plot_latency_over_time",
    "plot_queue_depth",
    "plot_sequence",
    "plot_throughput",
    "plots_dir",
    "save_figure",
    "slugify",
    "state_spans",
]
