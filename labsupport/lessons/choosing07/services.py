"""The orders service of lesson 07, run as a real process that can be SIGKILLed mid-order.

`orders_service` takes orders, saves each in SQLite and makes sure an `OrderPlaced`
event reaches RabbitMQ, in one of two ways:

- `"dual_write"`: commit the order, then publish the event (two systems, two steps);
- `"outbox"`: write the order *and* its event row in one SQLite transaction; a relay
  (here in the same process, one pass at start and after each order) publishes unsent
  rows with publisher confirms and marks each row sent only after its confirm.

It is started with `labsupport.faults.start_worker` (spawn), so it lives in this module
file. Told to crash at `(order_id, point)`, it writes the point's name to a marker
file and freezes there; the rig then kills it with SIGKILL: no `finally`, no rollback
but SQLite's own, no goodbye to the broker.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path

import pika

DUAL_WRITE_POINTS = ("before_commit", "after_commit", "after_publish")
OUTBOX_POINTS = ("before_commit", "after_commit", "relay_before_publish", "relay_after_publish")
SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, sku TEXT, qty INTEGER);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_type TEXT NOT NULL,
    payload TEXT NOT NULL, sent_at REAL);
"""


def open_db(path: str | Path) -> sqlite3.Connection:
    """Open (and create if needed) the orders database: tables `orders` and `outbox`."""
    db = sqlite3.connect(str(path), timeout=5)
    db.executescript(SCHEMA)
    return db


def order_placed(order_id: int) -> bytes:
    """Return the OrderPlaced event of an order, as the bytes that go on the wire."""
    return json.dumps(
        {"event": "OrderPlaced", "order_id": order_id, "sku": "mug-blue", "qty": 1}
    ).encode()


class Crasher:
    """Freeze at one named point of one order, after telling the rig where we are."""

    def __init__(self, crash_at: tuple[int, str] | None, marker: str) -> None:
        self.crash_at, self.marker = (tuple(crash_at) if crash_at else None), marker

    def point(self, order_id: int, name: str) -> None:
        if self.crash_at != (order_id, name):
            return
        Path(self.marker).write_text(name)
        time.sleep(30)  # frozen here until the rig's SIGKILL (bounded if nobody comes)


def relay_pass(db: sqlite3.Connection, channel, queue: str, crasher: Crasher) -> int:
    """Publish every unsent outbox row in order, with confirms; mark each sent after its confirm."""
    rows = db.execute("SELECT id, payload FROM outbox WHERE sent_at IS NULL ORDER BY id").fetchall()
    for row_id, payload in rows:
        order_id = json.loads(payload)["order_id"]
        crasher.point(order_id, "relay_before_publish")
        props = pika.BasicProperties(message_id=f"outbox-{row_id}", delivery_mode=2)
        channel.basic_publish("", queue, payload.encode(), props)  # returns after the confirm
        crasher.point(order_id, "relay_after_publish")
        db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), row_id))
        db.commit()
    return len(rows)


def place_order(db, channel, queue: str, order_id: int, mode: str, crasher: Crasher) -> None:
    """Save one order and get its event out, the dual-write way or the outbox way."""
    event = order_placed(order_id)
    db.execute("INSERT INTO orders VALUES (?, 'mug-blue', 1)", (order_id,))
    if mode == "outbox":
        db.execute(
            "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', ?)", (event.decode(),)
        )
    crasher.point(order_id, "before_commit")
    db.commit()
    crasher.point(order_id, "after_commit")
    if mode == "dual_write":
        props = pika.BasicProperties(message_id=f"order-{order_id}", delivery_mode=2)
        channel.basic_publish("", queue, event, props)
        crasher.point(order_id, "after_publish")


def orders_service(
    db_path: str, amqp_url: str, queue: str, order_ids: list[int], replies_path: str,
    mode: str, crash_at: tuple[int, str] | None = None, marker: str = "",
) -> None:  # fmt: skip
    """Place each order (a retried one already saved is only answered); reply by appending to a file.

    A reply is one line `order_id` appended to `replies_path`: what the client saw. An
    order with no reply is retried by the client after a crash.
    """
    if mode not in ("dual_write", "outbox"):
        raise ValueError(f"mode is 'dual_write' or 'outbox', not {mode!r}")
    crasher, db = Crasher(crash_at, marker), open_db(db_path)
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.confirm_delivery()
    if mode == "outbox":
        relay_pass(db, channel, queue, crasher)  # the relay resumes where the last one died
    replies = os.open(replies_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    for order_id in order_ids:
        saved = db.execute("SELECT 1 FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if not saved:  # a retry of an order already saved is answered, not placed again
            place_order(db, channel, queue, order_id, mode, crasher)
        os.write(replies, f"{order_id}\n".encode())
        if mode == "outbox":
            relay_pass(db, channel, queue, crasher)
    os.close(replies)
    connection.close()
