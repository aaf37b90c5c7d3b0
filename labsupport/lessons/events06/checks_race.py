"""Check lesson 06's second task: read an order an event points to, when it may not be there yet.

The learner's `get_order_when_ready(client, order_id, version, tries, first_wait_s)` runs
against a live orders service whose writes land late (a commit after the publish, a
replica catching up). The check's client stops a loop that never ends.
"""

from __future__ import annotations

import time

from labsupport.checks import task

from ._fixtures import RunawayStopped, orders_service, race_rig


def _call(get_order_when_ready, rig, order_id, version, tries, first_wait_s):
    """Run the learner's function; return (result, seconds, stopped by the check)."""
    start = time.perf_counter()
    try:
        result = get_order_when_ready(rig.client, order_id, version, tries, first_wait_s)
    except RunawayStopped:
        return None, time.perf_counter() - start, True
    return result, time.perf_counter() - start, False


def _version_of(result) -> int | None:
    assert isinstance(result, dict), f"returned {type(result).__name__}, not the order as a dict"
    return result.get("version")


@task("order_when_ready", lesson="06", title="Read the order an event points to", timeout_s=10)
def check_order_when_ready(case, get_order_when_ready):
    """Judge get_order_when_ready(client, order_id, version, tries, first_wait_s) on a live service."""
    with orders_service() as orders:
        with case("returns an order that is already there, with one call and no wait",
                  hint="When the first answer is good enough, is there anything to wait for?"):  # fmt: skip
            with race_rig(orders) as rig:
                rig.commit(101, version=2)
                result, took_s, _ = _call(get_order_when_ready, rig, 101, 1, 5, 0.5)
                assert _version_of(result) == 2, (
                    f"returned version {_version_of(result)} of an order at version 2"
                )
                assert rig.calls() == 1, f"made {rig.calls()} calls for an order that was there"
                assert took_s < 0.5, f"took {took_s:.2f} s for an order that was there at once"

        with case("waits for an order committed after the event",
                  hint="The first answer is a 404: is that the order's last word?"):  # fmt: skip
            with race_rig(orders) as rig:
                rig.commit(102, lag_s=0.08)
                result, _, stopped = _call(get_order_when_ready, rig, 102, 1, 6, 0.01)
                assert not stopped, "kept calling long after the order appeared"
                assert result is not None, (
                    f"returned None after {rig.calls()} calls; the order came 0.08 s late"
                )
                assert _version_of(result) == 1

        with case("waits for the version the event announced",
                  hint="A replica that has not caught up answers 200 with the order as it was."):  # fmt: skip
            with race_rig(orders) as rig:
                rig.commit(103, version=1)
                rig.commit(103, version=2, lag_s=0.08)
                result, _, _ = _call(get_order_when_ready, rig, 103, 2, 6, 0.01)
                assert result is not None, (
                    f"returned None after {rig.calls()} calls; version 2 came 0.08 s late"
                )
                assert _version_of(result) == 2, (
                    f"returned version {_version_of(result)} for an event about version 2"
                )

        with case("gives up after `tries` calls when the order never comes",
                  hint="Count the calls for an order that does not exist, and compare with tries."):  # fmt: skip
            with race_rig(orders) as rig:
                result, _, stopped = _call(get_order_when_ready, rig, 104, 1, 4, 0.01)
                assert not stopped, (
                    f"still calling after {rig.calls()} calls with tries=4: the check stopped it"
                )
                assert rig.calls() == 4, f"made {rig.calls()} calls with tries=4"
                assert result is None, (
                    f"returned {type(result).__name__} for an order that never came"
                )

        with case("waits longer after each miss",
                  hint="Look at the time between calls: does it grow?"):  # fmt: skip
            with race_rig(orders) as rig:
                _call(get_order_when_ready, rig, 105, 1, 4, 0.02)
                gaps_ms = [round(1000 * g) for g in rig.gaps_s()]
                # Sleeps never end early, so the lower bounds hold on a loaded machine.
                wanted = [20, 40, 80]
                assert len(gaps_ms) == 3 and all(
                    g >= 0.9 * w for g, w in zip(gaps_ms, wanted, strict=True)
                ), f"the gaps between calls were {gaps_ms} ms with first_wait_s=0.02"

        with case("does not retry an answer that will not change",
                  hint="A 422 says the request itself is wrong: will asking again fix it?"):  # fmt: skip
            with race_rig(orders) as rig:
                try:
                    _call(get_order_when_ready, rig, 0, 1, 5, 0.01)
                except NotImplementedError:
                    raise
                except Exception:  # noqa: BLE001 - raising is one fine way to report it
                    pass
                assert rig.calls() == 1, (
                    f"made {rig.calls()} calls for a request the service refuses (422)"
                )
