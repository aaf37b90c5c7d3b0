"""The relay's side of lesson 07's kill rig: a forked process that reports each step and waits.

The learner's `relay_outbox` is defined in a notebook cell, so only a *fork* of the
kernel has it; `fork_relay` starts that child. The child opens its own RabbitMQ and
SQLite connections (nothing it uses was open in the parent at fork time), sends
`("ready",)`, then runs one pass per `"pass"` it receives. Its `db` and `channel` are
wrapped: before and after each publish and each commit it sends a *step* over the pipe
and waits for `"go"`, so the parent can SIGKILL it exactly there. The kernel's output
streams belong to threads a fork does not have: the child writes to a buffer instead.
"""

from __future__ import annotations

import ctypes
import io
import json
import multiprocessing
import os
import pickle
import signal
import sqlite3
import sys
import traceback
from collections.abc import Callable

from labsupport.messaging import connect_amqp

PR_SET_PDEATHSIG = 1


class Stepper:
    """Tell the parent where the relay is, then wait until it says go (or kills us)."""

    def __init__(self, pipe) -> None:
        self.pipe = pipe

    def step(self, what: str, order_id: int | None = None) -> None:
        self.pipe.send(("step", what, order_id))
        self.pipe.recv()


def order_of(args: tuple, kwargs: dict) -> int | None:
    """Return the order id in a basic_publish call's body (None if it has none)."""
    body = kwargs.get("body", args[2] if len(args) > 2 else b"")
    try:
        return int(json.loads(body)["order_id"])
    except (TypeError, ValueError, KeyError):
        return None


def _forward_setattr(wrapper: object, inner: str, name: str, value) -> None:
    if name.startswith("_"):
        object.__setattr__(wrapper, name, value)
    else:
        setattr(getattr(wrapper, inner), name, value)


class SteppingChannel:
    """A pika channel whose every `basic_publish` is a step before and a step after."""

    def __init__(self, channel, stepper: Stepper) -> None:
        self._channel, self._stepper = channel, stepper

    def basic_publish(self, *args, **kwargs):
        order_id = order_of(args, kwargs)
        self._stepper.step("publishing", order_id)
        result = self._channel.basic_publish(*args, **kwargs)
        self._stepper.step("published", order_id)
        return result

    def __getattr__(self, name: str):
        return getattr(self._channel, name)

    def __setattr__(self, name: str, value) -> None:
        _forward_setattr(self, "_channel", name, value)


class SteppingDb:
    """A sqlite3 connection whose every `commit` (or `with db:`) is a step before and after."""

    def __init__(self, db: sqlite3.Connection, stepper: Stepper) -> None:
        self._db, self._stepper = db, stepper

    def commit(self) -> None:
        self._stepper.step("committing")
        self._db.commit()
        self._stepper.step("committed")

    def __enter__(self) -> SteppingDb:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._db.rollback()

    def __getattr__(self, name: str):
        return getattr(self._db, name)

    def __setattr__(self, name: str, value) -> None:  # db.isolation_level = None reaches the db
        _forward_setattr(self, "_db", name, value)


def _die_with_parent(parent_pid: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent went away before prctl took effect
        os._exit(1)


def _where(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return f" (raised in {frames[-1].name}, line {frames[-1].lineno})" if frames else ""


def _one_pass(relay: Callable, path: str, connection, queue: str, pipe) -> tuple:
    stepper, db = Stepper(pipe), sqlite3.connect(path, timeout=5)
    try:
        result = relay(
            SteppingDb(db, stepper), SteppingChannel(connection.channel(), stepper), queue
        )
        try:
            pickle.dumps(result)
        except Exception:  # noqa: BLE001 - whatever it is, the parent sees its repr
            result = repr(result)
        return ("returned", result)
    except BaseException as exc:  # noqa: BLE001 - everything the relay raises goes to the parent
        return ("raised", type(exc).__name__, f"{exc}{_where(exc)}")
    finally:
        db.close()  # an open transaction is rolled back, as a new connection would find it


def _child_main(relay: Callable, path: str, url: str, queue: str, pipe, parent_pid: int):
    code = 1
    try:
        _die_with_parent(parent_pid)
        sys.stdout = sys.stderr = io.StringIO()
        connection = connect_amqp(url)
        probe = sqlite3.connect(path, timeout=5)  # proves SQLite's locks were free at the fork
        probe.execute("SELECT count(*) FROM outbox").fetchone()
        probe.close()
        pipe.send(("ready",))
        while pipe.recv() == "pass":
            pipe.send(_one_pass(relay, path, connection, queue, pipe))
        code = 0
    finally:
        os._exit(code)  # no atexit, no flush of the kernel's streams: they are not ours


def fork_relay(relay: Callable, path: str, url: str, queue: str):
    """Fork a child that runs relay passes on request; return (process, the parent's pipe end)."""
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    process = context.Process(
        target=_child_main,
        args=(relay, path, url, queue, theirs, os.getpid()),
        name="outbox-relay",
        daemon=True,
    )
    process.start()
    theirs.close()
    return process, ours
