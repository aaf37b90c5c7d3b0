"""Check lesson 03's first task: an orders servicer with honest status codes and deadlines.

The learner's servicer is served for real and talks to a live inventory service that
can be out of stock, down (UNAVAILABLE from the toolkit's fault interceptor) or slow.
Each case judges what a client of the learner's server, and inventory, observed.
"""

from __future__ import annotations

from labsupport.checks import task
from labsupport.shop import load_shop
from labsupport.waiting import wait_until

from ._fixtures import code_of, expect_ok, orders_under_test

CALLER_TIMEOUT_S = 0.3
SLACK_S = 0.05  # the deadline inventory sees is the caller's minus one hop, never more


@task("orders_servicer", lesson="03", title="Orders: status codes and a deadline passed on")
def check_orders_servicer(case, OrdersServicer):  # noqa: N803 (the learner's class)
    """Judge OrdersServicer(inventory_stub) with PlaceOrder and GetOrder, served for real."""
    pb2, _ = load_shop()

    def place(rig, sku="mug-blue", qty=2, **kw):
        request = pb2.PlaceOrderRequest(sku=sku, qty=qty, user_id=7)
        return code_of(lambda: rig.orders.PlaceOrder(request, **({"timeout": 5} | kw)))

    def get(rig, order_id):
        request = pb2.GetOrderRequest(order_id=order_id)
        return code_of(lambda: rig.orders.GetOrder(request, timeout=5))

    with case(
        "places an order, reserves its stock and reads it back",
        hint="PlaceOrder reserves the stock in inventory, keeps the order and returns it; "
        "GetOrder returns the same order.",
    ):
        with orders_under_test(OrdersServicer) as rig:
            request = pb2.PlaceOrderRequest(sku="mug-blue", qty=2, user_id=7)
            order = expect_ok(lambda: rig.orders.PlaceOrder(request, timeout=5), "PlaceOrder")
            assert order.order_id >= 1, f"the order came back with order_id {order.order_id}"
            assert (order.sku, order.qty, order.user_id) == ("mug-blue", 2, 7), (
                f"placed 2 x mug-blue for user 7, got back {order.qty} x {order.sku!r} "
                f"for user {order.user_id}"
            )
            assert rig.inventory.stock["mug-blue"] == 3, (
                f"inventory holds {rig.inventory.stock['mug-blue']} mugs of 5 after an order of 2"
            )
            back = expect_ok(
                lambda: rig.orders.GetOrder(
                    pb2.GetOrderRequest(order_id=order.order_id), timeout=5
                ),
                f"GetOrder({order.order_id})",
            )
            assert back == order, "GetOrder returned something else than PlaceOrder did"

    with case(
        "an order that was never placed is NOT_FOUND",
        hint="A client cannot tell an empty Order from a real one: a missing order must "
        "end the call with a status the client can act on.",
    ):
        with orders_under_test(OrdersServicer) as rig:
            code, what = get(rig, 999)
            assert code == "NOT_FOUND", f"GetOrder(999), never placed, ended with {code}"

    with case(
        "an order id below 1 is INVALID_ARGUMENT",
        hint="Ids start at 1: asking for order 0 is a mistake in the request, which a "
        "different status says than 'no such order'.",
    ):
        with orders_under_test(OrdersServicer) as rig:
            for order_id in (0, -3):
                code, _ = get(rig, order_id)
                assert code == "INVALID_ARGUMENT", f"GetOrder({order_id}) ended with {code}"

    with case(
        "a request that can never succeed is refused before inventory is asked",
        hint="qty must be 1-100 and sku not empty; a bad request should end with the status "
        "that says 'fix your request', without reserving anything.",
    ):
        with orders_under_test(OrdersServicer) as rig:
            for sku, qty in (("mug-blue", 0), ("mug-blue", 101), ("", 1)):
                code, _ = place(rig, sku, qty)
                assert code == "INVALID_ARGUMENT", (
                    f"PlaceOrder(sku={sku!r}, qty={qty}) ended with {code}"
                )
            asked = len(rig.inventory.reservations)
            assert asked == 0, f"inventory was asked {asked} times for requests that were refused"

    with case(
        "inventory's errors reach the caller with their own code",
        hint="A missing product, an empty shelf and a service that is down each call for a "
        "different reaction from the caller (give up, tell the user, retry): keep the code "
        "inventory gave you.",
    ):
        with orders_under_test(OrdersServicer) as rig:
            code, _ = place(rig, sku="no-such-thing")
            assert code == "NOT_FOUND", f"an unknown product ended with {code}"
            code, _ = place(rig, sku="tea-green")
            assert code == "FAILED_PRECONDITION", (
                f"a product out of stock (inventory said FAILED_PRECONDITION) ended with {code}"
            )
            rig.faults.set(unavailable_rate=1.0)
            code, _ = place(rig)
            assert code == "UNAVAILABLE", f"inventory down (UNAVAILABLE) ended with {code}"

    with case(
        "inventory sees the caller's deadline and stops when the caller gives up",
        hint="Your caller waits only so long: inventory should be told how much time is "
        "left, or it keeps working for nobody.",
        timeout_s=8,
    ):
        with orders_under_test(OrdersServicer, work_s=1.0) as rig:
            code, _ = place(rig, timeout=CALLER_TIMEOUT_S)
            assert code == "DEADLINE_EXCEEDED", f"the call with a 0.3 s deadline ended with {code}"
            wait_until(lambda: bool(rig.inventory.reservations), 2, "inventory to be asked")
            seen = rig.inventory.reservations[0]
            wait_until(lambda: seen.outcome != "working", 3, "inventory to finish")
            assert seen.remaining_s is not None, "inventory was called with no deadline at all"
            assert seen.remaining_s <= CALLER_TIMEOUT_S + SLACK_S, (
                f"inventory was given {seen.remaining_s:.2f} s although the caller "
                f"waits only {CALLER_TIMEOUT_S} s"
            )
            assert seen.outcome == "stopped early", (
                f"inventory kept working after the caller gave up ({seen.outcome})"
            )
