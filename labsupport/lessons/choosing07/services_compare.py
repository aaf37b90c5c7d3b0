"""Lesson 07, section 4: the five patterns, each a downstream behind the same faults.

Every builder starts its service(s), puts the scenario's faults in front with the
toolkit (`FaultyProxy` for latency and the outage, `add_faults` / `GrpcFaultInterceptor`
or a seeded consumer for the error rate) and returns a `Pattern`: a `call(i)` the caller
makes, `down()` / `up()` for the outage, and, for the messaging patterns, `done`: when
the consumer finished each message.
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

import pika
from fastapi import FastAPI, Request

from labsupport import fresh_name, serve_app, serve_grpc
from labsupport.faults import FaultyProxy, GrpcFaultInterceptor, add_faults
from labsupport.messaging import BackgroundConsumer, connect_amqp
from labsupport.shop import OrderIn, answer_bad_bytes_with_422, load_shop
from labsupport.thinhttp import ThinHttpClient

BATCH = 10  # JSON-RPC calls per HTTP request
ORDER = {"sku": "mug-blue", "qty": 1}


@dataclass
class Pattern:
    """One way of sending an order downstream, wired to the scenario's faults."""

    name: str
    waits_for: str
    coupled_to: str
    call: Callable[[int], bool]  # send order i; True when the caller got what it waits for
    down: Callable[[], None]
    up: Callable[[], None]
    close: Callable[[], None]
    ops_per_call: int = 1
    done: dict[str, float] | None = None  # message id -> perf_counter when the consumer finished


def make_inventory_app() -> FastAPI:
    """Return inventory over REST: reserve stock, and the order details a thin event points at."""
    app = FastAPI(title="inventory (compare)")
    answer_bad_bytes_with_422(app)

    @app.post("/orders/{order_id}/reservation", status_code=201)
    async def reserve(order_id: int, order: OrderIn) -> dict:
        return {"order_id": order_id, "sku": order.sku, "reserved": order.qty}

    @app.get("/orders/{order_id}")
    async def details(order_id: int) -> dict:
        return {"order_id": order_id, **ORDER, "lines": [{"sku": "mug-blue", "qty": 1}] * 20}

    return app


def make_jsonrpc_app() -> FastAPI:
    """Return a minimal JSON-RPC 2.0 endpoint (POST /rpc) with one method, `reserve`."""
    app = FastAPI(title="inventory (JSON-RPC)")

    def answer(call: dict) -> dict:
        if call.get("method") != "reserve":
            return {"jsonrpc": "2.0", "id": call.get("id"),
                    "error": {"code": -32601, "message": "Method not found"}}  # fmt: skip
        return {"jsonrpc": "2.0", "id": call.get("id"), "result": {"reserved": 1}}

    @app.post("/rpc")
    async def rpc(request: Request) -> list | dict:
        body = json.loads(await request.body())
        return [answer(call) for call in body] if isinstance(body, list) else answer(body)

    return app


def _proxied(running, name: str, delay_ms: float) -> FaultyProxy:
    return FaultyProxy(running, name=f"cmp-{name}", delay_ms=delay_ms)


@dataclass
class _FaultyHttp:
    """An app served for real, failing `error_rate` with 503s, behind a delaying proxy."""

    client: ThinHttpClient
    proxy: FaultyProxy
    close: Callable[[], None]


def _faulty_http(app: FastAPI, name: str, delay_ms: float, error_rate: float, seed: int):
    add_faults(app, error_rate=error_rate, status=503, seed=seed)
    server = serve_app(app, name=f"cmp-{name}")
    proxy = _proxied(server, name, delay_ms)
    client = ThinHttpClient(f"http://{proxy.target}", timeout_s=1.0)
    return _FaultyHttp(client, proxy, lambda: [client.close(), proxy.stop(), server.stop()])


def rest_pattern(delay_ms: float, error_rate: float, seed: int) -> Pattern:
    """REST: POST a reservation through a proxy (latency, outage); the app fails `error_rate`."""
    http = _faulty_http(make_inventory_app(), "rest", delay_ms, error_rate, seed)

    def call(i: int) -> bool:
        return http.client.request("POST", f"/orders/{i}/reservation", ORDER)[0] == 201

    return Pattern("REST", "the reply", "inventory up now; its URL and JSON", call,
                   lambda: http.proxy.set(down=True), lambda: http.proxy.set(down=False),
                   http.close)  # fmt: skip


def jsonrpc_pattern(delay_ms: float, error_rate: float, seed: int) -> Pattern:
    """JSON-RPC: one POST carries a batch of BATCH `reserve` calls; faults as for REST."""
    http = _faulty_http(make_jsonrpc_app(), "jsonrpc", delay_ms, error_rate, seed)

    def call(i: int) -> bool:
        batch = [{"jsonrpc": "2.0", "method": "reserve", "params": ORDER, "id": i * BATCH + k}
                 for k in range(BATCH)]  # fmt: skip
        status, body = http.client.request("POST", "/rpc", batch)
        return status == 200 and all("result" in reply for reply in json.loads(body))

    return Pattern(f"JSON-RPC batch of {BATCH}", "the batch's replies",
                   "inventory up now; method names and params", call,
                   lambda: http.proxy.set(down=True), lambda: http.proxy.set(down=False),
                   http.close, ops_per_call=BATCH)  # fmt: skip


def grpc_pattern(delay_ms: float, error_rate: float, seed: int) -> Pattern:
    """gRPC unary ReserveStock through a proxy; the interceptor fails `error_rate` as UNAVAILABLE."""
    import grpc

    shop_pb2, shop_pb2_grpc = load_shop()

    class Inventory(shop_pb2_grpc.InventoryServicer):
        def ReserveStock(self, request, context):
            return shop_pb2.Reservation(sku=request.sku, qty=request.qty, order_id=request.order_id)

    faults = GrpcFaultInterceptor(unavailable_rate=error_rate, seed=seed)
    server = serve_grpc(Inventory(), shop_pb2_grpc.add_InventoryServicer_to_server,
                        name="cmp-grpc", interceptors=[faults])  # fmt: skip
    proxy = _proxied(server, "grpc", delay_ms)
    # Short reconnect backoff: the default (1 s, growing) would stretch the outage itself.
    options = [("grpc.initial_reconnect_backoff_ms", 50), ("grpc.min_reconnect_backoff_ms", 50),
               ("grpc.max_reconnect_backoff_ms", 100)]  # fmt: skip
    channel = grpc.insecure_channel(proxy.target, options=options)
    stub = shop_pb2_grpc.InventoryStub(channel)

    def call(i: int) -> bool:
        stub.ReserveStock(shop_pb2.ReserveStockRequest(order_id=i, **ORDER), timeout=1.0)
        return True  # a failed call raises grpc.RpcError

    return Pattern("gRPC unary", "the reply", "inventory up now; the .proto contract", call,
                   lambda: proxy.set(down=True), lambda: proxy.set(down=False),
                   lambda: [channel.close(), proxy.stop(), server.stop()])  # fmt: skip


def _messaging_pattern(rabbit_url: str, name: str, exchange: str, queue: str,
                       handle: Callable[[str], bool], delay_ms: float,
                       texts: tuple[str, str, str]) -> Pattern:  # fmt: skip
    """Publish with confirms through a proxy to the broker; a consumer handles each message.

    `handle(message_id)` returns False for a transient failure: the message is nacked and
    the broker delivers it again. The outage stops the consumer; the broker stays up.
    """
    parts = urllib.parse.urlsplit(rabbit_url)
    broker = FaultyProxy(f"{parts.hostname}:{parts.port}", name=f"cmp-{name}-broker",
                         delay_ms=delay_ms)  # fmt: skip
    connection = connect_amqp(broker.url_for(rabbit_url))
    channel = connection.channel()
    channel.confirm_delivery()  # basic_publish returns once the broker has the message
    done: dict[str, float] = {}

    def callback(ch, method, properties, body):
        if handle(properties.message_id):
            done.setdefault(properties.message_id, time.perf_counter())
            ch.basic_ack(method.delivery_tag)
        else:
            ch.basic_nack(method.delivery_tag, requeue=True)

    consumer = [BackgroundConsumer(rabbit_url, queue, callback, prefetch=20, name=name).start()]

    def call(i: int) -> bool:
        props = pika.BasicProperties(message_id=f"{name}-{i}", delivery_mode=2)
        channel.basic_publish(
            exchange, queue if not exchange else "", json.dumps({"order_id": i}), props
        )
        return True  # an unconfirmed publish raises

    def down() -> None:
        consumer[0].stop()  # what it had prefetched and not handled goes back to the queue

    def up() -> None:
        consumer[0] = BackgroundConsumer(
            rabbit_url, queue, callback, prefetch=20, name=name
        ).start()

    def close() -> None:
        consumer[0].stop()
        channel.queue_delete(queue)
        connection.close()
        broker.stop()

    return Pattern(*texts, call, down, up, close, done=done)


def queue_pattern(rabbit_url: str, delay_ms: float, error_rate: float, seed: int) -> Pattern:
    """A work queue: the worker fails `error_rate` of deliveries (nack, redelivered)."""
    queue, rng, lock = fresh_name("cmp.work"), random.Random(seed), threading.Lock()
    with connect_amqp(rabbit_url) as connection:
        connection.channel().queue_declare(queue, durable=True, arguments={"x-expires": 120_000})

    def handle(_message_id: str) -> bool:
        with lock:
            return rng.random() >= error_rate

    texts = ("work queue", "the broker's confirm", "the broker only (the worker may be down)")
    return _messaging_pattern(rabbit_url, "queue", "", queue, handle, delay_ms, texts)


def event_pattern(rabbit_url: str, delay_ms: float, error_rate: float, seed: int) -> Pattern:
    """A thin event on a fanout exchange; the consumer GETs the order from REST (faults there)."""
    exchange, queue = fresh_name("cmp.events"), fresh_name("cmp.events.billing")
    with connect_amqp(rabbit_url) as connection:
        channel = connection.channel()
        channel.exchange_declare(exchange, exchange_type="fanout", auto_delete=True)
        channel.queue_declare(queue, durable=True, arguments={"x-expires": 120_000})
        channel.queue_bind(queue, exchange)
    details = _faulty_http(make_inventory_app(), "details", delay_ms, error_rate, seed)

    def handle(message_id: str) -> bool:
        try:
            return details.client.get(f"/orders/{message_id.rsplit('-', 1)[1]}")[0] == 200
        except OSError:
            return False

    texts = ("thin event", "the broker's confirm", "the broker; consumers then call its REST API")
    pattern = _messaging_pattern(rabbit_url, "event", exchange, queue, handle, delay_ms, texts)
    close = pattern.close
    pattern.close = lambda: [close(), details.close()]
    return pattern
