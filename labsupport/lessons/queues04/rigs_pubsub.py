"""Redis pub/sub for lesson 04: subscribers that join and leave, and a steady publisher."""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis


@dataclass(frozen=True)
class Published:
    """One message sent on a pub/sub channel: when, its number, and how many heard it."""

    t_s: float
    seq: int
    receivers: int


def join(r: redis.Redis, channel: str, timeout_s: float = 2.0) -> redis.client.PubSub:
    """Subscribe to channel and return once Redis has confirmed the subscription.

    Without the wait, a message published a moment later can overtake the SUBSCRIBE
    (it travels on another connection) and be missed for a reason that is not the lesson's.
    """
    pubsub = r.pubsub()
    pubsub.subscribe(channel)
    message = pubsub.get_message(timeout=timeout_s)
    if not message or message["type"] != "subscribe":
        pubsub.close()
        raise TimeoutError(
            f"Redis did not confirm the subscription to {channel!r} in {timeout_s} s"
        )
    return pubsub


def leave(pubsub: redis.client.PubSub, timeout_s: float = 2.0) -> list[str]:
    """Unsubscribe, return what arrived before leaving, and close the connection.

    Redis answers UNSUBSCRIBE on the same connection as the messages, so everything
    published before it has arrived by the time the confirmation does.
    """
    pubsub.unsubscribe()
    received: list[str] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is None:
            continue
        if message["type"] == "message":
            received.append(message["data"])
        elif message["type"] == "unsubscribe":
            break
    pubsub.close()
    return received


def publish_steadily(
    r: redis.Redis, channel: str, seqs, rate_per_s: float = 40.0, t0_s: float | None = None
) -> list[Published]:
    """Publish `order <seq>` for each seq at a steady rate; record who heard each one."""
    sent = []
    start = time.monotonic()
    origin = start if t0_s is None else t0_s
    for i, seq in enumerate(seqs):
        time.sleep(max(0.0, start + i / rate_per_s - time.monotonic()))
        receivers = r.publish(channel, f"order {seq}")
        sent.append(Published(time.monotonic() - origin, seq, receivers))
    return sent
