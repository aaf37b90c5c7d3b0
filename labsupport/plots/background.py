"""Keep a steady open-loop load running in the background while a learner turns the knobs.

    load = BackgroundLoad(lambda: client.get("/orders/1"), rate_per_s=50, title="...")
    load.start()            # or the start button of `labsupport.plots.controls(..., runner=load)`
    proxy.set(delay_ms=50)  # the live plot steps up a moment later
    load.stop()             # stops by itself after max_s anyway

It runs `run_open_loop` in short back-to-back segments on a thread of its own, so every
request is still counted from its intended send time, and joins the segments into one
timeline drawn by a `LivePlot`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ..measure import LoadResult, RequestRecord, run_open_loop
from .live import LivePlot

SEGMENT_S = 1.0


def _shifted(part: LoadResult, offset_s: float) -> list[RequestRecord]:
    """Move a segment's records onto the whole run's clock."""
    return [
        RequestRecord(
            r.intended_s + offset_s, r.start_s + offset_s, r.end_s + offset_s, r.ok, r.error
        )
        for r in part.records
    ]


class BackgroundLoad:
    """Send `call` at a steady rate in the background, drawing latency live, for at most max_s."""

    def __init__(
        self,
        call: Callable,
        rate_per_s: float = 50,
        *,
        title: str = "Background load",
        max_s: float = 120.0,
        window_s: float = 15.0,
    ) -> None:
        if not rate_per_s > 0 or not max_s > 0:
            raise ValueError("rate_per_s and max_s must be positive")
        self.call, self.rate_per_s, self.title = call, rate_per_s, title
        self.max_s, self.window_s = max_s, window_s
        self.records: list[RequestRecord] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Shown now, under the cell that built it: a start button's callback runs outside
        # any cell, and a plot first shown from there would land in the log, not here.
        self._live = LivePlot(title, max_fps=1.0)
        self._live.update(None)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> BackgroundLoad:
        """Start sending (a second start while running does nothing)."""
        if self.running:
            return self
        if self._live.closed:
            raise RuntimeError("this load has been stopped; run its cell again for a new one")
        self._stop.clear()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="lab-background-load", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> LoadResult:
        """Stop sending, draw the final frame, and return everything measured."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        if self.records:
            self._live.update(self.result(last_s=self.window_s))
        self._live.close()  # draws the latest data as the final frame and saves it
        return self.result()

    def result(self, last_s: float | None = None, extra=None) -> LoadResult:
        """Return the requests measured so far (only the last `last_s` seconds, if given)."""
        records = list(self.records) + (_shifted(*extra) if extra else [])
        if last_s is not None and records:
            cutoff = records[-1].intended_s - last_s
            records = [r for r in records if r.intended_s >= cutoff]
        span = (records[-1].end_s - records[0].intended_s) if records else 0.0
        return LoadResult(
            mode="open",
            records=records,
            duration_s=max(span, 1e-9),
            offered_rate_per_s=self.rate_per_s,
        )

    def now_s(self) -> float:
        """Return the time now on the run's clock (the one `records` use), e.g. to mark a turn."""
        return time.perf_counter() - self._t0 if self._thread is not None else 0.0

    def _run(self) -> None:
        t0 = self._t0
        while not self._stop.is_set() and time.perf_counter() - t0 < self.max_s:
            offset = time.perf_counter() - t0

            def redraw(partial: LoadResult, offset: float = offset) -> None:
                # Runs beside the pacing thread, so drawing never delays the next send.
                self._live.update(self.result(last_s=self.window_s, extra=(partial, offset)))

            part = run_open_loop(
                self.call,
                rate_per_s=self.rate_per_s,
                duration_s=SEGMENT_S,
                progress=False,
                drain_timeout_s=2.0,
                on_tick=redraw,
            )
            self.records += _shifted(part, offset)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<BackgroundLoad {self.rate_per_s:g}/s {state}, {len(self.records)} requests so far>"
        )
