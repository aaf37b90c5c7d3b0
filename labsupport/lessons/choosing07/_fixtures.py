"""What lesson 07's relay check runs learners' code against: a real outbox, a real queue, SIGKILL.

A `RelayRig` is a SQLite outbox in a temporary folder and a durable queue on the lab's
RabbitMQ. `RelayRig.start` forks a relay process (`_fixtures_child`): one *life* of the
relay, which runs a pass of the learner's `relay_outbox` each time it is asked. Each
publish and each commit in it is two *steps* (before, after); the child stops at each
step until told to go on, so `RelayLife.run_pass(kill_at=n)` SIGKILLs it exactly at step
n. What a dead process leaves behind is then real: SQLite rolls the open transaction
back from its journal, the broker sees the connection drop, and a restarted relay is a
new process that remembers nothing.
"""

from __future__ import annotations

import builtins
import json
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from labsupport import ensure_rabbitmq, fresh_name
from labsupport.messaging import connect_amqp, drain_queue
from labsupport.waiting import wait_until

from ._fixtures_child import fork_relay
from .services import open_db

READY_S, STEP_S, PASS_S, MAX_STEPS = 10.0, 5.0, 10.0, 400


class RelayHung(AssertionError):
    """The relay went quiet, or kept going, past the rig's bounds: reported as a failed case."""


class RelayError(Exception):
    """An exception the relay raised in its process, rebuilt in the check's."""


@dataclass(frozen=True)
class Delivery:
    """One message as a consumer of the queue received it."""

    message_id: str | None
    order_id: int
    persistent: bool


@dataclass
class Pass:
    """What one pass did: its result, the orders it got a publish through for, where it died."""

    result: object = None
    published: list[int] = field(default_factory=list)
    killed_at: str | None = None
    exitcode: int | None = None  # of its process, once ended: -9 after a SIGKILL


class RelayLife:
    """One relay process, from fork to SIGKILL (or to its end): runs passes on request."""

    def __init__(self, rig: RelayRig, relay: Callable) -> None:
        self.rig, self.steps, self.exitcode = rig, 0, None
        for _attempt in range(3):  # a fork that caught a lock mid-use never says ready
            self.process, self.pipe = fork_relay(relay, str(rig.path), rig.url, rig.queue)
            try:
                if self.pipe.poll(READY_S) and self.pipe.recv() == ("ready",):
                    return
            except EOFError:  # it died on its way up: try again
                pass
            self.kill()
        raise RuntimeError("the check could not start a relay process (3 tries): run it again")

    def run_pass(self, kill_at: int | None = None, on_step: Callable | None = None) -> Pass:
        """Run one pass; SIGKILL the process at its step `kill_at` (counted over its life)."""
        done, deadline = Pass(), time.monotonic() + PASS_S
        self.pipe.send("pass")
        while True:
            message = self._next(deadline, done)
            if message[0] == "returned":
                done.result = message[1]
                return done
            if message[0] == "raised":
                raise _rebuilt(message[1], message[2])
            _, what, order_id = message
            self.steps += 1
            if what == "published":
                done.published.append(order_id)
                self.rig.published += 1
            if self.steps == kill_at:
                self.rig.let_broker_catch_up()
                self.kill()
                done.killed_at = f"{what} {'order ' + str(order_id) if order_id else ''}".strip()
                return done
            if on_step is not None:
                on_step(what, order_id)
            self.pipe.send("go")

    def _next(self, deadline: float, done: Pass) -> tuple:
        if self.steps >= MAX_STEPS:
            why = f"took {MAX_STEPS} steps (publishes and commits) without returning"
        else:
            wait_s = min(STEP_S, deadline - time.monotonic())
            if wait_s > 0 and self.pipe.poll(wait_s):
                try:
                    return self.pipe.recv()
                except EOFError:
                    self.kill()
                    raise RelayHung(
                        f"the relay's process ended by itself (exit code {self.exitcode})"
                    ) from None
            quiet = wait_s == STEP_S
            why = f"did nothing for {STEP_S:g} s" if quiet else f"ran {PASS_S:g} s"
            why += " without publishing, committing or returning" if quiet else " without returning"
        self.kill()
        raise RelayHung(
            f"one pass of the relay {why} ({len(done.published)} publishes went through), "
            "so the check killed it"
        )

    def kill(self) -> None:
        """SIGKILL the relay's process (no `finally`, no rollback but SQLite's own) and reap it."""
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join(5)
        self.exitcode = self.process.exitcode
        self.pipe.close()

    def close(self) -> None:
        """End the relay process politely if it is still running."""
        if self.process.exitcode is None and not self.pipe.closed:
            try:
                self.pipe.send("exit")
            except OSError:
                pass
            self.process.join(2)
            self.exitcode = self.process.exitcode
        if not self.pipe.closed:
            self.kill()

    def __enter__(self) -> RelayLife:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _rebuilt(name: str, text: str) -> BaseException:
    kind = getattr(builtins, name, None)
    if isinstance(kind, type) and issubclass(kind, Exception):
        try:
            return kind(text)
        except TypeError:
            pass
    return RelayError(f"{name}: {text}")


class RelayRig:
    """An outbox table in SQLite and the queue its relay publishes to."""

    def __init__(self, max_length: int | None = None) -> None:
        self.url, self.queue = ensure_rabbitmq().url, fresh_name("check.orders.placed")
        self.folder = Path(tempfile.mkdtemp(prefix="lesson07-check-"))
        self.path, self.next_order, self.published = self.folder / "outbox.db", 1, 0
        args: dict = {"x-expires": 120_000}
        if max_length is not None:
            args |= {"x-max-length": max_length, "x-overflow": "reject-publish"}
        self.connection = connect_amqp(self.url)  # the rig's own: declare, count, take, delete
        self.channel = self.connection.channel()
        self.channel.queue_declare(self.queue, durable=True, arguments=args)
        open_db(self.path).close()

    def start(self, relay: Callable) -> RelayLife:
        """Fork a new relay process (a restart: it remembers nothing of earlier ones)."""
        return RelayLife(self, relay)

    def run(self, relay: Callable, kill_at: int | None = None) -> Pass:
        """Run one pass in a new relay process; kill it at step `kill_at` if it gets there."""
        with self.start(relay) as life:
            done = life.run_pass(kill_at)
        done.exitcode = life.exitcode
        return done

    def add_orders(self, count: int, timeout_s: float = 5.0) -> list[int]:
        """Write `count` OrderPlaced rows to the outbox, as the orders service would; return order ids."""
        ids = list(range(self.next_order, self.next_order + count))
        with closing(sqlite3.connect(self.path, timeout=timeout_s)) as db, db:
            for order_id in ids:
                payload = json.dumps({"event": "OrderPlaced", "order_id": order_id})
                db.execute(
                    "INSERT INTO outbox (event_type, payload) VALUES ('OrderPlaced', ?)", (payload,)
                )
        self.next_order += count
        return ids

    def unsent(self) -> list[int]:
        """Return the order ids whose rows are not marked sent, read by a fresh connection."""
        with closing(sqlite3.connect(self.path, timeout=5)) as db:
            rows = db.execute("SELECT payload FROM outbox WHERE sent_at IS NULL ORDER BY id")
            return [json.loads(payload)["order_id"] for (payload,) in rows]

    def let_broker_catch_up(self, timeout_s: float = 1.0) -> None:
        """Wait (bounded) until the queue holds every publish that returned in the relay.

        A publish without confirms has left the relay's socket when `basic_publish`
        returns, and a SIGKILL does not take it back; waiting for it to land keeps a
        verdict from hanging on how fast the broker reads its socket.
        """
        try:
            wait_until(lambda: self.depth() >= self.published, timeout_s, interval_s=0.005)
        except TimeoutError:  # published elsewhere, or refused: the verdict will say so
            pass

    def depth(self) -> int:
        """Return how many messages wait in the queue."""
        return self.channel.queue_declare(self.queue, passive=True).method.message_count

    def take(self) -> list[Delivery]:
        """Take every message off the queue, in order."""
        self.published = 0
        return [
            Delivery(
                properties.message_id, json.loads(body)["order_id"], properties.delivery_mode == 2
            )
            for _method, properties, body in drain_queue(self.channel, self.queue)
        ]

    def close(self) -> None:
        try:
            self.channel.queue_delete(self.queue)
        finally:
            self.connection.close()
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> RelayRig:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
