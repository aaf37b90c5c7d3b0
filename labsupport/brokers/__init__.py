"""Get a real Redis and a real RabbitMQ for the lab, start them once, find them again.

Order of preference for each: the URL in REDIS_URL / AMQP_URL (nothing is started);
the broker this lab already runs (state file + health check); a new server process on
free ports in `<lab>/brokers/`. The brokers are tied to the process that started them
(the `make lab` supervisor, or this kernel) and never outlive it.

A broker that a kernel restarts (the failure lessons do) belongs to that kernel from
then on: when the kernel ends, so does the broker, and the next notebook pays the
start-up again (RabbitMQ: about 5-7 s). That is the price of never leaving a node behind.
"""

from __future__ import annotations

from ._broker import Broker
from ._ensure import ensure_rabbitmq, ensure_redis, fresh_name, stop_brokers
from ._find import WAYS_OUT, find_rabbitmq_server, find_redis_server
from ._rabbitmq import amqp_handshake
from ._redis import ping

__all__ = [
    "Broker",
    "WAYS_OUT",
    "amqp_handshake",
    "ensure_rabbitmq",
    "ensure_redis",
    "find_rabbitmq_server",
    "find_redis_server",
    "fresh_name",
    "ping",
    "stop_brokers",
]
