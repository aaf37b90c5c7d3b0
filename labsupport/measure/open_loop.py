"""Run an open loop: send on a fixed schedule, and count latency from the intended send time."""

from __future__ import annotations

import inspect
import queue
import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from labsupport.measure._common import (
    Watch,
    check_call,
    check_count,
    check_duration,
    error_name,
    refuse_awaitable,
)
from labsupport.measure._loop import measure_loop
from labsupport.measure._threads import run_in_thread
from labsupport.measure.placement import current_cpu, read_placement
from labsupport.measure.records import NOT_STARTED, UNFINISHED, RecordTable
from labsupport.measure.result import LoadResult
from labsupport.measure.schedule import SPIN_NS, judge_lateness, make_schedule

LEAD_NS = 20_000_000  # let worker threads start before the first send is due


def run_open_loop(
    call: Callable,
    rate_per_s: float = 200,
    duration_s: float = 5.0,
    arrival: str = "constant",
    seed: int = 0,
    workers: int = 32,
    progress: bool | None = None,
    on_tick: Callable[[LoadResult], None] | None = None,
    drain_timeout_s: float = 5.0,
) -> LoadResult:
    """Send `call` at `rate_per_s` for `duration_s`, whatever the replies do, like wrk2.

    Each request has an intended send time (evenly spaced, or Poisson with `seed`);
    its latency counts from that time, so a stalled service cannot hide its stall by
    slowing the sender (coordinated omission). A dedicated pacing thread keeps the
    schedule; sync calls run on `workers` threads, async ones on the lab's measuring
    loop with at most `workers` in flight. When no worker is free a request waits and
    its lateness is recorded; `result.generator_behind` says when sends ran late
    enough to change the load the service saw.
    Requests unanswered `drain_timeout_s` after the schedule ends are recorded as
    "Unfinished" (or "NotStarted"), never dropped.
    """
    is_async = check_call(call)
    if (
        isinstance(rate_per_s, bool)
        or not isinstance(rate_per_s, int | float)
        or not 0 < rate_per_s < float("inf")
    ):
        raise ValueError(
            f"rate_per_s must be a positive number of requests per second, got {rate_per_s!r}"
        )
    if arrival not in ("constant", "poisson"):
        raise ValueError(f"arrival must be 'constant' or 'poisson', got {arrival!r}")
    check_count("workers", workers)
    check_duration(duration_s)
    check_duration(drain_timeout_s, "drain_timeout_s")
    offsets_ns = make_schedule(rate_per_s, duration_s, arrival, seed)
    run = _OpenRun(call, offsets_ns, workers, rate_per_s)
    watch = Watch(duration_s, progress, on_tick, lambda: run.result(final=False))
    try:
        run.start(is_async)
        deadline_ns = run.t0_ns + int((duration_s + drain_timeout_s) * 1e9)
        watch.wait(run.done, lambda: deadline_ns, lambda: run.t0_ns)
    finally:
        run.stop()
        watch.close()
    if run.failure is not None:
        raise run.failure
    result = run.result(final=True)
    watch.tick(run.t0_ns, final=result)
    return result


class _OpenRun:
    def __init__(self, call, offsets_ns: list[int], workers: int, rate_per_s: float) -> None:
        n = len(offsets_ns)
        self.call, self.offsets, self.workers, self.rate = call, offsets_ns, workers, rate_per_s
        self.starts, self.ends, self.dispatched = [0] * n, [0] * n, [0] * n
        self.errors: dict[int, str] = {}
        self.finished: list[int] = []
        self.sent, self.pacer_done, self.halt = 0, False, [False]
        self.done = threading.Event()
        self.failure: BaseException | None = None
        self.placement = read_placement()
        self.cpus: set[int | None] = set()
        self.jobs: queue.SimpleQueue = queue.SimpleQueue()
        self.tasks: set = set()
        self.pending: deque[int] = deque()
        self.active = 0
        self.loop = None
        self.t0_ns = 0

    def start(self, is_async: bool) -> None:
        if is_async:
            self.loop = measure_loop().loop
            submit = lambda i: self.loop.call_soon_threadsafe(self._launch, i)  # noqa: E731
        else:
            for _ in range(self.workers):
                run_in_thread(self._work)
            submit = self.jobs.put
        self.t0_ns = time.perf_counter_ns() + LEAD_NS
        run_in_thread(self._pace, submit)

    def _pace(self, submit) -> None:
        now, sleep, t0, dispatched = time.perf_counter_ns, time.sleep, self.t0_ns, self.dispatched
        self.cpus.add(current_cpu())
        for i, offset in enumerate(self.offsets):
            target = t0 + offset
            while (left := target - now()) > 0:
                sleep((left - SPIN_NS) / 1e9 if left > SPIN_NS else 0)
            if self.halt[0]:
                break
            dispatched[i] = now()
            self.sent = i + 1
            submit(i)
        self.cpus.add(current_cpu())
        self.pacer_done = True
        self._note_finished()

    def _note_finished(self) -> None:
        if self.pacer_done and len(self.finished) == self.sent:
            self.done.set()

    def _record(self, i: int, exc: Exception | None) -> None:
        end_ns = time.perf_counter_ns()
        if exc is not None:
            self.errors[i] = error_name(exc)  # before the end time, so no reader sees it as ok
        self.ends[i] = end_ns
        self.finished.append(i)
        self._note_finished()

    def _work(self) -> None:
        now, get, starts, call = time.perf_counter_ns, self.jobs.get, self.starts, self.call
        self.cpus.add(current_cpu())
        while (i := get()) is not None and not self.halt[0]:
            starts[i] = now()
            try:
                reply = call()
            except Exception as exc:
                self._record(i, exc)
                continue
            self._record(i, None)
            if reply is not None and inspect.isawaitable(reply):
                try:
                    refuse_awaitable(reply)
                except TypeError as exc:
                    self.failure, self.halt[0] = exc, True
                    self.done.set()

    def _launch(self, i: int) -> None:
        # Runs on the measuring loop: start at once if a slot is free, else queue it.
        if self.active >= self.workers:
            self.pending.append(i)
            return
        self.active += 1
        task = self.loop.create_task(self._one(i))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _one(self, i: int) -> None:
        while True:
            self.starts[i] = time.perf_counter_ns()
            try:
                await self.call()
            except Exception as exc:
                self._record(i, exc)
            else:
                self._record(i, None)
            if not self.pending or self.halt[0]:
                break
            i = self.pending.popleft()
        self.active -= 1

    def stop(self) -> None:
        self.halt[0] = True
        for _ in range(self.workers):
            self.jobs.put(None)
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(lambda: [t.cancel() for t in list(self.tasks)])

    def result(self, final: bool) -> LoadResult:
        """Collect the readings so far; when final, unanswered requests are marked, not dropped."""
        now_ns, n = time.perf_counter_ns(), self.sent
        intended = np.asarray(self.offsets[:n], dtype=np.int64) + self.t0_ns
        starts = np.asarray(self.starts[:n], dtype=np.int64)
        ends = np.asarray(self.ends[:n], dtype=np.int64)
        error = np.full(n, None, dtype=object)
        for i, name in dict(self.errors).items():
            error[i] = name if i < n else None
        missing = ends == 0
        if final:
            error[missing & (starts == 0)], error[missing & (starts != 0)] = NOT_STARTED, UNFINISHED
            starts[starts == 0], ends[missing] = now_ns, now_ns
        else:
            keep = ~missing
            intended, starts, ends, error = intended[keep], starts[keep], ends[keep], error[keep]
        last_ns = int(ends.max()) if final and len(ends) else now_ns
        records = RecordTable(*((a - self.t0_ns) / 1e9 for a in (intended, starts, ends)), error)
        result = LoadResult(
            mode="open",
            records=records,
            duration_s=max(0.0, (last_ns - self.t0_ns) / 1e9),
            offered_rate_per_s=float(self.rate),
            placement=dict(self.placement, cpus_seen=sorted(c for c in self.cpus if c is not None)),
        )
        if final:
            judge_lateness(result, self.dispatched, self.offsets, self.t0_ns, self.workers)
        return result
