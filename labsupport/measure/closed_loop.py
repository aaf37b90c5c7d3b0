"""Run a closed loop: each client sends its next request as soon as its last reply is in."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable

from labsupport.measure._common import (
    MAX_REQUESTS,
    Watch,
    check_call,
    check_count,
    check_duration,
    refuse_awaitable,
)
from labsupport.measure._drive import Lane, drive_async, drive_sync
from labsupport.measure._loop import measure_loop
from labsupport.measure._threads import run_in_thread
from labsupport.measure.placement import current_cpu, read_placement
from labsupport.measure.records import UNFINISHED, table_from_ns
from labsupport.measure.result import LoadResult

WARMUP_TIMEOUT_S = 30.0
# How long a run lasts when the caller gives neither a duration nor a request count.
DEFAULT_DURATION_S = 3.0


def run_closed_loop(
    call: Callable,
    clients: int = 4,
    duration_s: float | None = None,
    requests: int | None = None,
    warmup: int = 20,
    progress: bool | None = None,
    on_tick: Callable[[LoadResult], None] | None = None,
    drain_timeout_s: float = 5.0,
) -> LoadResult:
    """Measure `call` with `clients` concurrent clients, each waiting for its reply before the next.

    `call` takes no arguments and may be sync (run in one thread per client) or
    `async def` (run on the lab's measuring loop thread, never the kernel's loop).
    An exception is a failed request, grouped by its type name. The run stops after
    `duration_s` or `requests` in total, whichever comes first. With `requests` alone it
    makes them all (within the lab's 300 s limit), however slow the machine; with
    neither it lasts DEFAULT_DURATION_S. Each client first makes `warmup` unrecorded calls. Calls still running `drain_timeout_s` after the end are
    recorded as "Unfinished". `on_tick(partial_result)` runs about every 0.25 s in this
    thread; a tqdm bar shows on runs over 2 s unless `progress=False`.
    """
    is_async = check_call(call)
    check_count("clients", clients)
    check_count("warmup", warmup, minimum=0)
    if requests is not None:
        check_count("requests", requests)
    elif duration_s is None:
        duration_s = DEFAULT_DURATION_S
    check_duration(drain_timeout_s, "drain_timeout_s")
    run = _ClosedRun(
        call, clients, check_duration(duration_s), min(requests or MAX_REQUESTS, MAX_REQUESTS)
    )
    watch = Watch(duration_s, progress, on_tick, lambda: run.result(final=False))
    warmup_deadline_ns = time.perf_counter_ns() + int(WARMUP_TIMEOUT_S * 1e9)
    drain_ns = int(drain_timeout_s * 1e9)
    try:
        run.start(is_async, warmup)
        # Waiting on `done` alone: waking this thread when the clock starts would steal
        # the CPU from a client at the very start of its run.
        watch.wait(
            run.done,
            lambda: run.end_ns + drain_ns if run.started.is_set() else warmup_deadline_ns,
            lambda: run.t0_ns,
        )
    finally:
        run.stop()
        watch.close()
    if run.failure is not None:
        raise run.failure
    if not run.started.is_set():
        raise TimeoutError(
            f"the {warmup} warm-up call(s) per client did not finish within "
            f"{WARMUP_TIMEOUT_S:.0f} s: is the service up, and does the call have a timeout?"
        )
    result = run.result(final=True)
    watch.tick(run.t0_ns, final=result)
    return result


class _ClosedRun:
    def __init__(self, call, clients: int, limit_s: float, limit_n: int) -> None:
        self.call, self.limit_s, self.limit_n = call, limit_s, limit_n
        self.lanes = [Lane() for _ in range(clients)]
        self.halt = [False]
        self.take = itertools.count().__next__
        self.started, self.done = threading.Event(), threading.Event()
        self.t0_ns = self.end_ns = 0
        self.failure: BaseException | None = None
        self.placement = read_placement()
        self.cpus: set[int | None] = set()
        self.future = None
        self._left, self._lock = clients, threading.Lock()

    def _open_gate(self) -> None:
        self.t0_ns = time.perf_counter_ns()
        self.end_ns = self.t0_ns + int(self.limit_s * 1e9)
        self.started.set()

    def start(self, is_async: bool, warmup: int) -> None:
        if is_async:
            self.future = measure_loop().submit(self._main_async(warmup))
            self.future.add_done_callback(self._finish_async)
            return
        gate = threading.Barrier(len(self.lanes), action=self._open_gate)
        for lane in self.lanes:
            run_in_thread(self._client, lane, gate, warmup)

    def _finish_async(self, future) -> None:
        if not future.cancelled() and future.exception() is not None:
            self.failure = self.failure or future.exception()
        self.started.set()
        self.done.set()

    def _client(self, lane: Lane, gate: threading.Barrier, warmup: int) -> None:
        try:
            for _ in range(warmup):
                if self.halt[0]:
                    break
                try:
                    reply = self.call()
                except Exception:  # warm-up failures show up again in the measured calls
                    continue
                refuse_awaitable(reply)
            self.cpus.add(current_cpu())
            gate.wait(WARMUP_TIMEOUT_S)
            refuse_awaitable(
                drive_sync(self.call, lane, self.end_ns, self.take, self.limit_n, self.halt)
            )
            self.cpus.add(current_cpu())
        except threading.BrokenBarrierError:
            pass
        except BaseException as exc:  # handed to the caller's thread
            self.failure = self.failure or exc
            self.halt[0] = True
            gate.abort()
        finally:
            with self._lock:
                self._left -= 1
                if self._left == 0:
                    self.done.set()

    async def _main_async(self, warmup: int) -> None:
        async def warm() -> None:
            for _ in range(warmup):
                try:
                    await self.call()
                except Exception:  # warm-up failures show up again in the measured calls
                    pass

        await asyncio.gather(*(warm() for _ in self.lanes))
        self.cpus.add(current_cpu())
        self._open_gate()
        args = (self.end_ns, self.take, self.limit_n, self.halt)
        await asyncio.gather(*(drive_async(self.call, lane, *args) for lane in self.lanes))

    def stop(self) -> None:
        self.halt[0] = True
        if self.future is not None and not self.future.done():
            self.future.cancel()  # the calls in flight end as "Unfinished"

    def result(self, final: bool) -> LoadResult:
        """Collect what the clients recorded; when final, in-flight calls become Unfinished."""
        now_ns = time.perf_counter_ns()
        starts, ends, errors = [], [], {}
        for lane in self.lanes:
            # Read ends before starts: a call finishing in between then looks in flight, never lost.
            lane_ends = lane.ends[:]
            lane_starts, lane_errors = lane.starts[: len(lane_ends) + 1], dict(lane.errors)
            if final and len(lane_starts) > len(lane_ends):
                lane_errors[len(lane_ends)] = UNFINISHED
                lane_ends.append(now_ns)
            offset = len(starts)
            starts += lane_starts[: len(lane_ends)]
            ends += lane_ends
            errors.update((offset + i, e) for i, e in lane_errors.items() if i < len(lane_ends))
        records = table_from_ns(self.t0_ns, starts, starts, ends, errors)
        last_ns = max(ends) if final and ends else now_ns
        placement = dict(self.placement, cpus_seen=sorted(c for c in self.cpus if c is not None))
        return LoadResult(
            mode="closed",
            records=records,
            duration_s=max(0.0, (last_ns - self.t0_ns) / 1e9),
            clients=len(self.lanes),
            placement=placement,
        )
