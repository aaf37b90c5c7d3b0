"""Lesson 04, publish/subscribe and message queues: what the notebooks import.

The notebook shows the real redis-py and pika calls; this module holds what would only
get in the way there (routing experiments, publishing numbered orders, tallying lost and
duplicated messages, tables) and re-exports the rest, so one import is enough:
`from labsupport.lessons import queues04 as q4`.

- `queues04_pubsub`: subscribers that join and leave, a steady publisher;
- `queues04_consumers`: consumer, sampler, RPC and relay threads, each owning its connection;
- `queues04_scaling`, `queues04_ordering`: competing consumers, prefetch, partitions;
- `queues04_workers`: the billing worker that dies mid-message (a spawned process);
- `queues04_outage`: a producer and a consumer that ride out a broker restart;
- `queues04_plots`: the lesson's own charts;
- `queues04_checks`, `queues04_pool_check`, `queues04_rig`: the exercise checks.
"""

from __future__ import annotations

import inspect
import time
from collections import Counter
from dataclasses import dataclass

import pika
import redis

from .queues04_checks import check_handle_once, check_reliable_worker
from .queues04_consumers import (
    ConsumerThread,
    DepthSampler,
    Relay,
    RpcServer,
    connect,
    log_hop,
    publish_burst,
    queue_depth,
    wait_for_consumers,
    wait_until,
)
from .queues04_ordering import orders_out_of_order, partition_for, run_order_events, settled_depth
from .queues04_outage import OutageLog, OutageTraffic
from .queues04_plots import (
    draw_scaling,
    plot_outage,
    plot_pubsub_window,
)
from .queues04_pool_check import check_consumer_pool
from .queues04_pubsub import Published, join, leave, publish_steadily
from .queues04_scaling import fast_and_slow, scale_consumers
from .queues04_workers import billing_worker, kill_mid_message, send_receipt, send_receipt_once

__all__ = [
    "ConsumerThread",
    "DepthSampler",
    "OutageLog",
    "OutageTraffic",
    "Published",
    "Relay",
    "RpcServer",
    "Tally",
    "billing_worker",
    "check_consumer_pool",
    "check_handle_once",
    "check_reliable_worker",
    "connect",
    "draw_scaling",
    "fast_and_slow",
    "join",
    "kill_mid_message",
    "leave",
    "log_hop",
    "orders_out_of_order",
    "partition_for",
    "plot_outage",
    "plot_pubsub_window",
    "publish_burst",
    "publish_orders",
    "publish_steadily",
    "queue_depth",
    "read_trace",
    "run_order_events",
    "scale_consumers",
    "send_receipt",
    "send_receipt_once",
    "settled_depth",
    "show_source",
    "show_table",
    "tally",
    "try_exchange",
    "wait_for_consumers",
    "wait_until",
]


def show_source(obj) -> object:
    """Show a helper's source with syntax colours: what `obj??` shows, as a cell result."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


# --- RabbitMQ basics -----------------------------------------------------------------


def try_exchange(
    connection, kind: str, bindings: dict[str, list[str]], routing_keys: list[str]
) -> dict[str, list[str]]:
    """Declare an exchange of `kind`, bind one queue per entry, publish, and say who got what.

    `bindings` maps a queue's label to the binding keys of its queue. Every message
    carries its routing key as its body, so the result reads as "queue -> keys it got".
    Publishes are confirmed, so every message is in its queues before they are read.
    The exchange and the queues are deleted before returning.
    """
    channel = connection.channel()
    channel.confirm_delivery()
    exchange = f"shop.{kind}.{time.monotonic_ns() % 1_000_000:06d}"
    channel.exchange_declare(exchange, exchange_type=kind, auto_delete=True)
    queues = {}
    for label, keys in bindings.items():
        queues[label] = channel.queue_declare("", exclusive=True).method.queue
        for key in keys:
            channel.queue_bind(queues[label], exchange, routing_key=key)
    for key in routing_keys:
        channel.basic_publish(exchange, key, key.encode())
    got = {}
    for label, queue in queues.items():
        got[label] = []
        while (delivery := channel.basic_get(queue, auto_ack=True))[0] is not None:
            got[label].append(delivery[2].decode())
        channel.queue_delete(queue)
    channel.exchange_delete(exchange)
    channel.close()
    return got


def publish_orders(url: str, queue: str, count: int, *, persistent: bool = False) -> list[str]:
    """Publish `count` orders to queue with message ids `<queue>/<n>`; return the ids."""
    ids = [f"{queue}/{n}" for n in range(count)]
    mode = pika.DeliveryMode.Persistent if persistent else pika.DeliveryMode.Transient
    with connect(url) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for n, message_id in enumerate(ids):
            body = f'{{"order_id": {n}, "sku": "mug-blue", "qty": 1}}'.encode()
            props = pika.BasicProperties(message_id=message_id, delivery_mode=mode)
            channel.basic_publish("", queue, body, props)
    return ids


@dataclass(frozen=True)
class Tally:
    """What happened to a batch of messages, counted from the side effects they caused."""

    published: int
    done_once: int
    lost: int
    duplicated: int
    redelivered: int = 0

    def row(self) -> dict[str, int]:
        return self.__dict__.copy()


def tally(effects: list[str], ids: list[str], redelivered: int = 0) -> Tally:
    """Count lost and duplicated messages: an id with no effect is lost, each extra is a duplicate."""
    seen = Counter(effects)
    unknown = set(seen) - set(ids)
    if unknown:
        raise ValueError(f"effects for messages nobody published: {sorted(unknown)[:3]}")
    return Tally(
        published=len(ids),
        done_once=sum(1 for i in ids if seen[i] == 1),
        lost=sum(1 for i in ids if seen[i] == 0),
        duplicated=sum(n - 1 for n in seen.values() if n > 1),
        redelivered=redelivered,
    )


def read_trace(r: redis.Redis, trace_key: str) -> list[tuple[float, str, str, str, str]]:
    """Read the hops logged in a trace stream as (t_s, from, to, label, correlation_id)."""
    hops = []
    for _entry_id, hop in r.xrange(trace_key):
        hop = {k.decode() if isinstance(k, bytes) else k: v for k, v in hop.items()}
        text = {k: v.decode() if isinstance(v, bytes) else v for k, v in hop.items()}
        hops.append((float(text["t"]), text["from"], text["to"], text["label"], text["cid"]))
    return sorted(hops)


def show_table(rows: dict[str, dict], first_column: str = "") -> object:
    """Show a dict of rows (name -> {column: value}) as an HTML table in the notebook."""
    from IPython.display import HTML

    columns = list(dict.fromkeys(c for row in rows.values() for c in row))
    head = "".join(f"<th>{c}</th>" for c in [first_column, *columns])
    body = "".join(
        f"<tr><td style='text-align:left'>{name}</td>"
        + "".join(f"<td>{row.get(c, '')}</td>" for c in columns)
        + "</tr>"
        for name, row in rows.items()
    )
    return HTML(f"<table><tr>{head}</tr>{body}</table>")
