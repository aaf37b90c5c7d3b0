"""Lesson 07's crash experiment: kill the orders service at a point, restart it, count events.

One `crash_run` places a few orders through `services.orders_service` running in a
real process, kills it with SIGKILL where told, lets the client retry what got no
reply (a second process, no crash), then takes every event off the queue and compares
them with the orders SQLite holds: an order with no event is *lost*, an extra delivery
is a *duplicate*, and a duplicate an idempotent consumer (one effect per message id)
cannot recognise stays a duplicate *after dedup*.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from labsupport import ensure_rabbitmq, fresh_name
from labsupport.faults import start_worker
from labsupport.messaging import connect_amqp, drain_queue
from labsupport.waiting import wait_until

from .services import DUAL_WRITE_POINTS, OUTBOX_POINTS, open_db, orders_service


@dataclass(frozen=True)
class CrashRun:
    """What one crash left behind: orders saved, events delivered, lost and duplicated."""

    mode: str
    point: str
    saved: int
    delivered: int
    lost: int
    duplicated: int
    duplicated_after_dedup: int
    exitcode: int | None

    def row(self) -> dict:
        return asdict(self)


def take_events(url: str, queue: str) -> list[tuple[str, int]]:
    """Take every message off queue; return (message id, order id) pairs in arrival order."""
    return [
        (props.message_id, json.loads(body)["order_id"])
        for _, props, body in drain_queue(url, queue)
    ]


def count_damage(saved: set[int], events: list[tuple[str, int]]) -> tuple[int, int, int]:
    """Return (lost, duplicated, duplicated after an idempotent consumer) for these events."""
    delivered = Counter(order_id for _, order_id in events)
    first_by_id = {message_id: order_id for message_id, order_id in reversed(events)}
    effects = Counter(first_by_id.values())  # one effect per message id: the consumer's dedup
    lost = len(saved - set(delivered))
    return lost, sum(delivered.values()) - len(delivered), sum(effects.values()) - len(effects)


def _run_service(folder: Path, url: str, queue: str, orders: list[int], mode: str, crash_at=None):
    marker = folder / "crashed-at"
    args = (str(folder / "orders.db"), url, queue, orders, str(folder / "replies"), mode)
    return start_worker(
        orders_service, *args, crash_at=crash_at, marker=str(marker), name=f"orders.{mode}"
    ), marker


def crash_run(
    mode: str, point: str, orders: int = 3, crash_order: int = 1, timeout_s: float = 30.0
) -> CrashRun:
    """Place `orders` orders, SIGKILL the service at `point` of order `crash_order`, retry, count."""
    url, queue = ensure_rabbitmq().url, fresh_name("orders.placed")
    folder = Path(tempfile.mkdtemp(prefix="lesson07-"))
    with connect_amqp(url) as connection:
        connection.channel().queue_declare(queue, durable=True, arguments={"x-expires": 120_000})
    try:
        open_db(folder / "orders.db").close()
        worker, marker = _run_service(
            folder, url, queue, list(range(orders)), mode, (crash_order, point)
        )

        def frozen() -> bool:
            if worker.exitcode is not None:
                raise RuntimeError(f"{worker!r} ended before reaching {point!r}")
            return marker.exists()

        wait_until(frozen, timeout_s, f"the service reaching {point!r}")
        worker.kill()
        replies = folder / "replies"
        answered = {int(x) for x in replies.read_text().split()} if replies.exists() else set()
        retried = [n for n in range(orders) if n not in answered]
        again, _ = _run_service(folder, url, queue, retried, mode)
        if again.join(timeout_s) != 0:
            raise RuntimeError(f"the restarted service did not finish cleanly: {again!r}")
        db = open_db(folder / "orders.db")
        saved = {row[0] for row in db.execute("SELECT order_id FROM orders")}
        db.close()
        events = take_events(url, queue)
        lost, duplicated, after = count_damage(saved, events)
        return CrashRun(
            mode, point, len(saved), len(events), lost, duplicated, after, worker.exitcode
        )
    finally:
        with connect_amqp(url) as connection:
            connection.channel().queue_delete(queue)
        shutil.rmtree(folder, ignore_errors=True)


def crash_everywhere(rounds: int = 1, orders: int = 3, progress: bool = True) -> list[CrashRun]:
    """Crash both designs at each of their points, `rounds` times each (crashing a different order).

    Each run starts two processes and takes a few seconds, so a bar counts the runs.
    """
    from tqdm.auto import tqdm

    plan = [
        (mode, point, n % orders)
        for n in range(rounds)
        for mode, points in (("dual_write", DUAL_WRITE_POINTS), ("outbox", OUTBOX_POINTS))
        for point in points
    ]
    runs = []
    with tqdm(total=len(plan), desc="crash runs", leave=False, disable=not progress) as bar:
        for mode, point, crash_order in plan:
            bar.set_postfix_str(f"{mode} at {point}")
            runs.append(crash_run(mode, point, orders, crash_order))
            bar.update()
    return runs
