"""A billing worker that really dies mid-message, and the receipts it sends (lesson 04).

`billing_worker` runs in its own process (started with `labsupport.faults.start_worker`,
spawn method, so it must live in a module file). It takes orders from a queue and, for
each, sends a receipt: one entry in the Redis list `<key>:receipts`. After its
`stall_after`-th receipt it gets stuck *after the receipt and before the ack*, the
worst moment to die, and `rigs.kill_mid_message` SIGKILLs it there.
"""

from __future__ import annotations

import time

import pika
import redis

WORK_S = 0.02
# Set the "seen" marker and send the receipt in one atomic step: no crash can fall between.
RECEIPT_ONCE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[2]) then
  return redis.call('RPUSH', KEYS[2], ARGV[1])
end
return 0
"""


def send_receipt(r: redis.Redis, key: str, message_id: str) -> None:
    """Send the receipt for an order: the side effect a duplicate would repeat."""
    r.rpush(f"{key}:receipts", message_id)


def send_receipt_once(r: redis.Redis, key: str, message_id: str) -> bool:
    """Send the receipt unless this message id was already seen; return whether it was sent.

    The marker (`<key>:seen:<id>`, kept an hour) and the receipt live in the same Redis,
    so a short Lua script sets one and pushes the other atomically.
    """
    seen_key, receipts_key = f"{key}:seen:{message_id}", f"{key}:receipts"
    return bool(r.eval(RECEIPT_ONCE, 2, seen_key, receipts_key, message_id, 3600))


def billing_worker(
    amqp_url: str, queue: str, redis_url: str, key: str, *,
    auto_ack: bool, idempotent: bool, stall_after: int, prefetch: int,
) -> None:  # fmt: skip
    """Consume orders and send receipts; hang after receipt number `stall_after`, before its ack."""
    r = redis.Redis.from_url(redis_url)
    send = send_receipt_once if idempotent else send_receipt
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)  # ignored by the broker when auto_ack=True
    sent = 0
    for method, properties, _body in channel.consume(
        queue, auto_ack=auto_ack, inactivity_timeout=5
    ):
        if method is None:
            break
        time.sleep(WORK_S)
        send(r, key, properties.message_id)
        sent += 1
        if sent == stall_after:
            r.set(f"{key}:stalled", 1, ex=600)
            time.sleep(30)  # stuck: the parent kills us here (bounded if nobody does)
        if not auto_ack:
            channel.basic_ack(method.delivery_tag)
    connection.close()
