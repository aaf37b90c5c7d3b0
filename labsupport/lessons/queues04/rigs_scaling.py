"""Competing consumers for lesson 04: scale a pool from 1 to 4, and race a fast and a slow one."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from labsupport.messaging import StoppableThread, connect_amqp, wait_for_consumers
from labsupport.waiting import wait_until

from .rigs import DepthSampler
from .services import ConsumerThread


class _SteadyProducer(StoppableThread):
    def __init__(self, url: str, queue: str, rate_per_s: float):
        super().__init__("steady-producer", max_s=60.0)
        self.url, self.queue, self.rate_per_s = url, queue, rate_per_s
        self.sent = 0

    def loop(self) -> None:
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            start = time.monotonic()
            while self.keep_going():
                due = start + self.sent / self.rate_per_s
                connection.process_data_events(time_limit=max(0.0, due - time.monotonic()))
                channel.basic_publish("", self.queue, str(self.sent).encode())
                self.sent += 1


@dataclass
class ScaleRun:
    """What a scaling run recorded: when each phase began, every ack, every depth sample."""

    t0_s: float
    rate_per_s: float
    phases: list[tuple[int, float, float]] = field(default_factory=list)  # (consumers, start, end)
    ack_times_s: list[float] = field(default_factory=list)
    depth: list[tuple[float, int]] = field(default_factory=list)

    def throughput_per_phase(self) -> dict[int, float]:
        """Return acks per second in each phase, keyed by the number of consumers."""
        acks = np.asarray(self.ack_times_s)
        return {
            n: float(((acks >= start) & (acks < end)).sum() / (end - start))
            for n, start, end in self.phases
        }

    def backlog_at_end_of_phase(self) -> dict[int, int]:
        """Return the last queue depth sampled in each phase."""
        out = {}
        for n, start, end in self.phases:
            inside = [d for t, d in self.depth if start <= t < end]
            out[n] = inside[-1] if inside else 0
        return out


def _snapshot(run: ScaleRun, consumers: list[ConsumerThread], sampler: DepthSampler) -> ScaleRun:
    run.ack_times_s = sorted(t - run.t0_s for c in consumers for t, _ in list(c.done))
    run.depth = [(t - run.t0_s, d) for t, d in list(sampler.samples)]
    return run


def scale_consumers(
    url: str, queue: str, counts=(1, 2, 3, 4), *, phase_s: float = 2.0,
    rate_per_s: float = 120.0, work_ms: float = 20.0, live: Callable | None = None,
) -> ScaleRun:  # fmt: skip
    """Publish at a steady rate while the pool grows through `counts`; record acks and depth.

    Each consumer spends `work_ms` per message, so one handles about 1000/work_ms a
    second. `live(run)` is called about 4 times a second (a `LivePlot` fits). After
    the last phase the producer stops; the consumers drain what is left (at most 5 s).
    """
    start = time.monotonic()
    run = ScaleRun(t0_s=start, rate_per_s=rate_per_s)
    sampler, producer = (
        DepthSampler(url, queue, interval_s=0.1),
        _SteadyProducer(url, queue, rate_per_s),
    )
    consumers: list[ConsumerThread] = []
    sampler.start()
    producer.start()
    try:
        for n in counts:
            phase_start = time.monotonic()
            while len(consumers) < n:
                consumers.append(
                    ConsumerThread(url, queue, work_ms=work_ms, name=f"packer-{len(consumers) + 1}")
                )
                consumers[-1].start()
            while time.monotonic() - phase_start < phase_s:
                time.sleep(0.25)
                if live is not None:
                    live(_snapshot(run, consumers, sampler))
            run.phases.append((n, phase_start - start, time.monotonic() - start))
        producer.stop()
        # 4 packers drain the rest in about a second; a heavily loaded machine needs longer.
        wait_until(
            lambda: sampler.samples and sampler.samples[-1][1] == 0, 20.0, "the backlog draining"
        )
    finally:
        for thread in [producer, *consumers, sampler]:
            thread.stop()
    return _snapshot(run, consumers, sampler)


def fast_and_slow(
    url: str, queue: str, prefetch: int, *, messages: int = 40, fast_ms: float = 2.0,
    slow_ms: float = 50.0,
) -> dict[str, float]:  # fmt: skip
    """Let a fast and a slow consumer share a queue with the given prefetch; count who did what.

    Both consumers are registered before the first message is published, so the
    broker's dispatch, not start-up timing, decides the split. prefetch=0 means no limit.
    """
    fast = ConsumerThread(url, queue, work_ms=fast_ms, prefetch=prefetch, name="fast")
    slow = ConsumerThread(url, queue, work_ms=slow_ms, prefetch=prefetch, name="slow")
    for consumer in (fast, slow):
        consumer.start()
        consumer.ready.wait(5)
    try:
        wait_for_consumers(url, queue, 2)
        start = time.monotonic()
        with connect_amqp(url) as connection:
            channel = connection.channel()
            for n in range(messages):
                channel.basic_publish("", queue, str(n).encode())
        wait_until(lambda: len(fast.done) + len(slow.done) >= messages, 15.0, "all messages done")
        last = max(t for c in (fast, slow) for t, _ in c.done)
    finally:
        fast.stop()
        slow.stop()
    return {
        "prefetch": prefetch,
        "fast consumer": len(fast.done),
        "slow consumer": len(slow.done),
        "seconds": round(last - start, 2),
    }
