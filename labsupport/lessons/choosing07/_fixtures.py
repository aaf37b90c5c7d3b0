"""What lesson 07's relay check runs learners' code against: a real outbox, a real queue, kills.

A `RelayRig` is a SQLite outbox in a temporary folder and a durable queue on the lab's
RabbitMQ. `KillSwitch` wraps the learner's channel and connection: each publish and each
commit is a *step* (one before, one after it happens), and at the chosen step it raises
`RelayKilled`, a BaseException, so `except Exception` lets it through. The rig then does
what a dying process leaves behind: the SQLite transaction rolls back, its AMQP channel
closes, and a restarted relay starts on a fresh connection and channel.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labsupport import ensure_rabbitmq, fresh_name
from labsupport.messaging import connect_amqp

from .services import open_db


class RelayKilled(BaseException):  # noqa: N818 - it names an event, like KeyboardInterrupt
    """Raised inside the learner's relay at a chosen step, like SIGKILL would stop it."""


class KillSwitch:
    """Count steps (before and after each publish and commit); raise `RelayKilled` at step `at`."""

    def __init__(self, at: int | None = None, on_publish: Callable[[int], None] | None = None):
        self.at, self.steps, self.publishes, self.on_publish = at, 0, 0, on_publish

    def step(self) -> None:
        self.steps += 1
        if self.steps == self.at:
            raise RelayKilled(f"killed at step {self.at}")


class CrashingChannel:
    """A pika channel whose `basic_publish` may be the last thing the relay does."""

    def __init__(self, channel, switch: KillSwitch) -> None:
        self._channel, self._switch = channel, switch

    def basic_publish(self, *args, **kwargs):
        self._switch.step()
        result = self._channel.basic_publish(*args, **kwargs)
        self._switch.publishes += 1
        if self._switch.on_publish:
            self._switch.on_publish(self._switch.publishes)
        self._switch.step()
        return result

    def __getattr__(self, name: str):
        return getattr(self._channel, name)


class CrashingDb:
    """A sqlite3 connection whose `commit` (or `with db:`) may be the last thing the relay does."""

    def __init__(self, db: sqlite3.Connection, switch: KillSwitch) -> None:
        self._db, self._switch = db, switch

    def commit(self) -> None:
        self._switch.step()
        self._db.commit()
        self._switch.step()

    def __enter__(self) -> CrashingDb:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._db.rollback()

    def __getattr__(self, name: str):
        return getattr(self._db, name)


@dataclass(frozen=True)
class Delivery:
    """One message as a consumer of the queue received it."""

    message_id: str | None
    order_id: int
    persistent: bool


class RelayRig:
    """An outbox table in SQLite and the queue its relay publishes to."""

    def __init__(self, max_length: int | None = None) -> None:
        self.url, self.queue = ensure_rabbitmq().url, fresh_name("check.orders.placed")
        self.folder = Path(tempfile.mkdtemp(prefix="lesson07-check-"))
        self.path, self.next_order = self.folder / "outbox.db", 1
        args: dict = {"x-expires": 120_000}
        if max_length is not None:
            args |= {"x-max-length": max_length, "x-overflow": "reject-publish"}
        with connect_amqp(self.url) as connection:
            connection.channel().queue_declare(self.queue, durable=True, arguments=args)
        open_db(self.path).close()
        self.connection = connect_amqp(self.url)  # one per rig; each relay run gets its own channel

    def add_orders(self, count: int) -> list[int]:
        """Write `count` OrderPlaced rows to the outbox, as the orders service would; return order ids."""
        ids = list(range(self.next_order, self.next_order + count))
        self.next_order += count
        with sqlite3.connect(self.path, timeout=5) as db:
            db.execute("PRAGMA synchronous = OFF")
            for order_id in ids:
                payload = json.dumps({"event": "OrderPlaced", "order_id": order_id})
                db.execute(
                    "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', ?)", (payload,)
                )
        return ids

    def unsent(self) -> list[int]:
        """Return the order ids whose rows are not marked sent, read by a fresh connection."""
        with sqlite3.connect(self.path, timeout=5) as db:
            rows = db.execute("SELECT payload FROM outbox WHERE sent_at IS NULL ORDER BY id")
            return [json.loads(payload)["order_id"] for (payload,) in rows]

    def run(self, relay: Callable, switch: KillSwitch | None = None):
        """Run relay(db, channel, queue) once on fresh connections; return (result, killed)."""
        switch = switch or KillSwitch()
        db = sqlite3.connect(self.path, timeout=5)
        connection = connect_amqp(self.url)
        try:
            return relay(
                CrashingDb(db, switch), CrashingChannel(connection.channel(), switch), self.queue
            ), False
        except RelayKilled:
            return None, True
        finally:
            db.rollback()  # what SQLite does to the open transaction of a dead process
            db.close()
            if connection.is_open:
                connection.close()

    def take(self) -> list[Delivery]:
        """Take every message off the queue, in order."""
        found = []
        with connect_amqp(self.url) as connection:
            channel = connection.channel()
            while True:
                method, properties, body = channel.basic_get(self.queue, auto_ack=True)
                if method is None:
                    return found
                order_id = json.loads(body)["order_id"]
                found.append(
                    Delivery(properties.message_id, order_id, properties.delivery_mode == 2)
                )

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()
        with connect_amqp(self.url) as connection:
            connection.channel().queue_delete(self.queue)
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RelayRig:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
