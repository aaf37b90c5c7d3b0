"""Check lesson 06's first task: a shipping consumer that fetches details only when it needs them.

The learner's `make_shipping_callback(client, cache, labels)` returns a pika callback. The
check consumes a fresh queue on the lab's RabbitMQ with it, against a live orders service
behind a byte-counting proxy, and judges what it printed, how many calls it made and how
many bytes those calls moved.
"""

from __future__ import annotations

from labsupport.checks import task

from ._fixtures import orders_service, shipping_rig

PAID, MOVED = "OrderPaid", "OrderAddressChanged"


def _event(kind: str, order_id: int, version: int = 1, **extra) -> dict:
    return {"type": kind, "v": 1, "order_id": order_id, "version": version, **extra}


def _street(label) -> str:
    try:
        return label["address"]["street"]
    except (TypeError, KeyError) as exc:
        raise AssertionError(
            f"a label holds {label!r:.80}, not the order with its address"
        ) from exc


@task("shipping_consumer", lesson="06", title="Fetch details only when needed", timeout_s=15)
def check_shipping_consumer(case, make_shipping_callback):
    """Judge make_shipping_callback(client, cache, labels) on a live queue and orders service."""
    with orders_service() as orders:
        with case("prints a label with the order's address for a paid order",
                  hint="A thin event holds no address: where does the whole order live?"):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                for order_id in (11, 12):
                    rig.commit(order_id)
                rig.publish(_event(PAID, 11), _event(PAID, 12))
                assert len(rig.labels) == 2, f"{len(rig.labels)} labels for 2 paid orders"
                streets = [_street(label) for label in rig.labels]
                assert streets == ["1 Analytical Row"] * 2, f"the labels show streets {streets}"

        with case("makes no call for events shipping does not need",
                  hint="Count the REST calls: which of these event types need the address?"):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                rig.commit(21)
                rig.publish(
                    *(_event(kind, 21) for kind in ("OrderPlaced", "OrderViewed", "OrderReviewed"))
                )
                assert rig.log.count() == 0, (
                    f"made {rig.log.count()} calls for 3 events it does not need"
                )
                assert rig.labels == [], f"printed {len(rig.labels)} labels for unpaid orders"

        with case("calls once for an order paid twice at the same version",
                  hint="The second delivery of the same event (a redelivery) asks for the same order again."):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                rig.commit(31)
                rig.publish(_event(PAID, 31), _event(PAID, 31))
                assert len(rig.labels) == 2, f"{len(rig.labels)} labels for 2 paid events"
                assert rig.log.count() == 1, (
                    f"made {rig.log.count()} calls for one order at one version"
                )

        with case("prints the new address after the order changed",
                  hint="Compare the label's street with the version the event announced."):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                rig.commit(41)
                rig.publish(_event(PAID, 41))
                rig.commit(41, version=2)
                rig.publish(_event(MOVED, 41, version=2))
                streets = [_street(label) for label in rig.labels]
                assert streets[-1:] == ["2 Analytical Row"], (
                    f"after the address changed to version 2 the labels show {streets}"
                )

        with case("calls no more when an older event arrives after a newer one",
                  hint="Events can arrive out of order: is what you hold already new enough?"):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                rig.commit(51, version=2)
                rig.publish(_event(MOVED, 51, version=2), _event(PAID, 51, version=1))
                assert rig.log.count() == 1, (
                    f"made {rig.log.count()} calls for one order at version 2"
                )
                assert len(rig.labels) == 2, f"{len(rig.labels)} labels for 2 events it needs"

        with case("handles events with fields it does not know",
                  hint="Producers add fields over time (here v=2 events): what does your code do with them?"):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                rig.commit(61)
                rig.publish({**_event(PAID, 61), "v": 2, "currency": "EUR", "channel": "web"})
                assert len(rig.labels) == 1, (
                    f"{len(rig.labels)} labels for 1 paid event with new fields"
                )

        with case("stays within the byte budget of one order per call",
                  hint="Measure the bytes one call moves: does each call fetch only the order it needs?"):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                for order_id in range(71, 77):
                    rig.commit(order_id, lines=40)
                before = rig.http_bytes()
                rig.client.get("/orders/71")
                one_call = rig.http_bytes() - before
                before, calls_before = rig.http_bytes(), rig.log.count()
                rig.publish(_event(PAID, 72), _event(PAID, 73), _event("OrderPlaced", 74))
                used, calls = rig.http_bytes() - before, rig.log.count() - calls_before
                budget = 1.3 * one_call * max(calls, 1)
                assert used <= budget, (
                    f"{used} bytes over HTTP for {calls} call(s); one order is {one_call} bytes"
                )

        with case("acks every event it handled",
                  hint="Stop the consumer and look at the queue: what comes back?"):  # fmt: skip
            with shipping_rig(make_shipping_callback, orders) as rig:
                rig.commit(81)
                rig.publish(
                    _event(PAID, 81), _event("OrderViewed", 81), _event("OrderSomething", 81)
                )
                back = rig.depth_after_stop()
                assert back == 0, f"{back} of 3 handled events went back to the queue"
