"""Redraw a plot in place while an experiment runs, and keep its last frame."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ._axes import note_no_data
from ._output import FIGSIZE_IN, LabFigure, NotebookFrames, lab_style, render_png, save_png
from .timeline import plot_latency_over_time


def draw_latency(ax, data) -> None:
    """Draw latency over time: what a LivePlot shows when given no `draw` function."""
    plot_latency_over_time(data, ax=ax)


class LivePlot:
    """Redraw a figure from fresh data at most `max_fps` times a second, in one notebook output.

    Made to be the `on_tick` of a measurement: `update(partial_result)` (or calling the
    LivePlot itself) redraws when enough time has passed since the last frame; `close()`
    always draws the final frame, saves it as `<plots dir>/<slug of title>.png` and keeps
    it in the notebook, also when the notebook runs headless.

        with LivePlot("Open loop at 200 req/s") as live:
            result = run_open_loop(call, rate_per_s=200, duration_s=5, on_tick=live)

    `draw(ax, data)` draws one frame on fresh axes (an array of axes when nrows or ncols
    is above 1); the figure is cleared between frames.

    Drawing is not free: a frame costs ~0.1 s of CPU in the kernel's own process, and
    while it draws, the load generator's threads wait for the GIL. On the course's 2-core
    machine this made the generator up to tens of ms late (it shows as the "sender
    lateness" line). Hence the default of 2 frames a second; for headline numbers, run
    once without `on_tick` and compare.
    `show_frame` (PNG bytes -> None) and `clock` exist so tests can watch and steer it.
    """

    def __init__(
        self,
        title: str,
        draw: Callable[[Any, Any], Any] | None = None,
        *,
        nrows: int = 1,
        ncols: int = 1,
        figsize_in: tuple[float, float] | None = None,
        max_fps: float = 2.0,
        show_frame: Callable[[bytes], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_fps <= 0:
            raise ValueError(f"max_fps must be above 0, got {max_fps}: try 2 or 4")
        self.title = title
        self.draw = draw or draw_latency
        self.min_interval_s = 1.0 / max_fps
        self.frames = 0
        self.path: Path | None = None
        self.closed = False
        self._shape = (nrows, ncols)
        self._show = show_frame or NotebookFrames()
        self._clock = clock
        self._data: Any = None
        self._last_frame_s: float | None = None
        self._lock = threading.Lock()
        with lab_style():
            self.figure = LabFigure(figsize=figsize_in or FIGSIZE_IN, layout="constrained")

    def update(self, data: Any) -> bool:
        """Take new data; redraw and push a frame unless the last one is too recent.

        Returns True when a frame was pushed. Updates after `close()` are ignored, so a
        measurement that ticks once more while stopping does no harm.
        """
        with self._lock:
            if self.closed:
                return False
            self._data = data
            now = self._clock()
            if self._last_frame_s is not None and now - self._last_frame_s < self.min_interval_s:
                return False
            self._last_frame_s = now
            self._push(final=False)
            return True

    __call__ = update

    def close(self) -> Path | None:
        """Draw the final frame from the latest data, show it, save it, and return its path."""
        with self._lock:
            if self.closed:
                return self.path
            self.closed = True
            png = self._push(final=True)
            self.path = save_png(png, self.title)
            self.figure.saved_path = self.path
            return self.path

    finish = close

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"saved to {self.path}" if self.path else f"{self.frames} frames so far"
        return f"<LivePlot {self.title!r}, {state}>"

    def _push(self, final: bool) -> bytes:
        with lab_style():
            self.figure.clear()
            axes = self.figure.subplots(*self._shape)
            if self._data is None:
                for ax in np.ravel(axes):
                    note_no_data(ax, "no data yet")
            else:
                self.draw(axes, self._data)
            title = self.title if final else f"{self.title} (running)"
            if np.size(axes) == 1:
                axes.set_title(title)
            else:
                self.figure.suptitle(title, fontweight="bold")
            png = render_png(self.figure)
        self._show(png)
        self.frames += 1
        return png
