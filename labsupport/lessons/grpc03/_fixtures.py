"""Start the live gRPC services lesson 03's checks run learners' code against.

Each case gets fresh servers (a stopped grpc server cannot start again, and fresh
stock keeps cases apart). `code_of` turns a call into the status code it ended with,
so a case can say "got UNKNOWN where NOT_FOUND was due" instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import grpc

from labsupport import serve_grpc
from labsupport.faults import GrpcFaultInterceptor
from labsupport.shop import load_shop

from .services import InventoryServicer
from .services_feed import OrderFeedServicer


@dataclass
class OrdersRig:
    """The learner's orders servicer in front of a live inventory, as one case sees them."""

    orders: Any  # an OrdersStub on the learner's server
    inventory: InventoryServicer
    faults: GrpcFaultInterceptor  # on inventory: UNAVAILABLE on demand


@contextmanager
def orders_under_test(servicer_class: type, **inventory_kw: Any) -> Iterator[OrdersRig]:
    """Serve inventory, build the learner's servicer on an InventoryStub, serve it too."""
    _, shop_pb2_grpc = load_shop()
    inventory = InventoryServicer(**inventory_kw)
    faults = GrpcFaultInterceptor(seed=3)
    with ExitStack() as stack:
        inv = stack.enter_context(
            serve_grpc(
                inventory,
                shop_pb2_grpc.add_InventoryServicer_to_server,
                name="check-inventory",
                interceptors=[faults],
            )
        )
        inv_channel = stack.enter_context(grpc.insecure_channel(inv.target))
        learner = servicer_class(shop_pb2_grpc.InventoryStub(inv_channel))
        run = stack.enter_context(
            serve_grpc(learner, shop_pb2_grpc.add_OrdersServicer_to_server, name="check-orders")
        )
        channel = stack.enter_context(grpc.insecure_channel(run.target))
        yield OrdersRig(shop_pb2_grpc.OrdersStub(channel), inventory, faults)


@contextmanager
def feed_under_test(**feed_kw: Any) -> Iterator[tuple[Any, OrderFeedServicer]]:
    """Serve an order feed; yield (an OrdersStub on it, the feed)."""
    _, shop_pb2_grpc = load_shop()
    feed = OrderFeedServicer(**feed_kw)
    with serve_grpc(feed, shop_pb2_grpc.add_OrdersServicer_to_server, name="check-feed") as run:
        with grpc.insecure_channel(run.target) as channel:
            yield shop_pb2_grpc.OrdersStub(channel), feed


def code_of(call: Callable[[], Any]) -> tuple[str, Any]:
    """Run a stub call; return ("OK", reply) or (status code name, details)."""
    try:
        return "OK", call()
    except grpc.RpcError as exc:
        return exc.code().name, exc.details()


def expect_ok(call: Callable[[], Any], doing: str) -> Any:
    """Return the call's reply, or fail the case naming the status it ended with."""
    code, reply = code_of(call)
    assert code == "OK", f"{doing} ended with {code}: {reply}"
    return reply


def learner_result(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Call the learner's function; return (value, None) or (None, the RpcError it raised).

    NotImplementedError passes through, so an untouched task reads as not attempted.
    """
    try:
        return fn(*args, **kwargs), None
    except grpc.RpcError as exc:
        return None, exc
