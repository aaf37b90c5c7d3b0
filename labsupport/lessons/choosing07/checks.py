"""Check lesson 07's capstone task: an outbox relay that loses nothing and never double-publishes.

The relay is judged on the lab's RabbitMQ and a SQLite outbox: a plain pass, a second
pass, a full queue that refuses messages, an order written while it runs, and a
campaign of kills at seeded random steps (before or after a publish or a commit), each
followed by a restart, with an idempotent consumer (one effect per message id) counting.
"""

from __future__ import annotations

import random
import sqlite3
from collections import Counter

from labsupport.checks import task

from ._fixtures import Delivery, KillSwitch, RelayRig

SEED, KILL_RUNS, ROWS_PER_RUN = 7, 12, 3


def effects(deliveries: list[Delivery]) -> Counter[int]:
    """Count the effects an idempotent consumer runs: one per message id (no id: every time)."""
    seen, done = set(), Counter()
    for delivery in deliveries:
        if delivery.message_id is not None and delivery.message_id in seen:
            continue
        seen.add(delivery.message_id)
        done[delivery.order_id] += 1
    return done


def kill_campaign(relay) -> list[dict]:
    """Kill the relay at seeded random steps, restart it, and count what each run left behind."""
    rng, runs = random.Random(SEED), []
    with RelayRig() as rig:
        for _ in range(KILL_RUNS):
            orders = rig.add_orders(ROWS_PER_RUN)
            steps = [rng.randint(1, 4 * ROWS_PER_RUN) for _ in range(rng.choice((1, 2)))]
            for step in steps:
                rig.run(relay, KillSwitch(at=step))
            rig.run(relay)  # the restarted relay, left alone
            got = rig.take()
            done = effects(got)
            runs.append({
                "killed at steps": steps,
                "lost": [n for n in orders if n not in {d.order_id for d in got}],
                "twice after dedup": [n for n in orders if done[n] > 1],
            })  # fmt: skip
    return runs


def _add_while_publishing(rig: RelayRig, added: list[int]):
    """Return an on_publish hook that commits one new order right after the first publish."""

    def hook(publishes: int) -> None:
        if added:
            return
        try:  # a relay holding SQLite's write lock here is tried again at the next publish
            added.extend(rig.add_orders(1))
        except sqlite3.OperationalError:
            rig.next_order -= 1

    return hook


@task("outbox_relay", lesson="07", title="An outbox relay that survives being killed", timeout_s=20)
def check_outbox_relay(case, relay_outbox):
    """Judge relay_outbox(db, channel, queue) -> int on a real outbox and a real queue."""
    with RelayRig() as rig:
        orders, first = rig.add_orders(5), {}

        def first_pass() -> list[Delivery]:
            """Run the relay once over the 5 rows (once per check), return what arrived."""
            if not first:
                first["result"], _ = rig.run(relay_outbox)
                first["got"] = rig.take()
            return first["got"]

        with case(
            "publishes every unsent row once and returns how many",
            hint="Five rows were waiting: count what reached the queue and what your relay returned.",
        ):
            sent = Counter(d.order_id for d in first_pass())
            assert sorted(sent) == orders, f"the queue got orders {sorted(sent)}, not {orders}"
            assert max(sent.values()) == 1, (
                f"some of 5 rows were published more than once: {dict(sent)}"
            )
            assert first["result"] == 5, f"returned {first['result']!r} after publishing 5 rows"
        with case(
            "publishes rows in the order they were written",
            hint="OrderPlaced then OrderCancelled must not reach a consumer the other way round.",
        ):
            arrived = [d.order_id for d in first_pass()]
            assert arrived == sorted(arrived), f"events arrived in the order {arrived}"
        with case(
            "marks events persistent, so a broker restart keeps them",
            hint="Look at the delivery mode of what reached the queue.",
        ):
            transient = [d.order_id for d in first_pass() if not d.persistent]
            assert not transient, (
                f"{len(transient)} of {len(first_pass())} events were published transient"
            )
        with case(
            "leaves every published row marked sent, as another connection sees it",
            hint="Open the outbox from another connection after your relay returned: what does it see?",
        ):
            first_pass()
            left = rig.unsent()
            assert not left, f"after a clean pass, rows of orders {left} still read as unsent"
        with case(
            "publishes nothing on a second pass over a sent outbox",
            hint="Run your relay twice in a row and watch the queue.",
        ):
            first_pass()
            again, _ = rig.run(relay_outbox)
            extra = rig.take()
            assert not extra, f"the second pass published {len(extra)} events already sent"
            assert again == 0, f"the second pass returned {again!r} and published nothing"

    with case(
        "keeps a row the broker refused unsent, and lets the error out",
        hint="This queue takes 2 messages and refuses the rest: did your relay hear the refusals?",
    ):
        with RelayRig(max_length=2) as rig:
            orders = rig.add_orders(4)
            try:
                rig.run(relay_outbox)
            except NotImplementedError:
                raise
            except Exception:  # noqa: BLE001 - the refusal is expected to come out
                raised = True
            else:
                raised = False
            accepted = {d.order_id for d in rig.take()}
            refused = [n for n in orders if n not in accepted]
            marked = [n for n in refused if n not in rig.unsent()]
            assert not marked, f"orders {marked} were refused by the broker and marked sent"
            assert raised, (
                "the broker refused two events and the relay returned as if all went well"
            )

    with case(
        "publishes an order written while it was running",
        hint="An order committed while your relay publishes: follow its row to the queue.",
    ):
        with RelayRig() as rig:
            orders, added = rig.add_orders(3), []
            rig.run(relay_outbox, KillSwitch(on_publish=_add_while_publishing(rig, added)))
            rig.run(relay_outbox)  # the next pass of the relay
            got = {d.order_id for d in rig.take()}
            missing = [n for n in orders + added if n not in got]
            assert not missing, (
                f"order {missing} was committed while the relay ran and never reached the queue; "
                f"its row reads {'unsent' if rig.unsent() else 'sent'}"
            )

    runs: list[dict] = []
    with case(
        f"loses no event when killed at {KILL_RUNS} seeded random points and restarted",
        hint="A kill can land between any two lines: at which one is a row marked sent but not yet with the broker?",
        timeout_s=40,
    ):
        runs += kill_campaign(relay_outbox)
        bad = [run for run in runs if run["lost"]]
        assert not bad, (
            f"{len(bad)} of {KILL_RUNS} runs lost events, e.g. killed at step(s) "
            f"{bad[0]['killed at steps']}: orders {bad[0]['lost']} never reached the queue"
        )
    with case(
        "publishes twice only what an idempotent consumer recognises as one event",
        hint="Killed after a publish and before the mark, the row goes out again: can the consumer tell it is the same event?",
    ):
        runs = runs or kill_campaign(relay_outbox)
        bad = [run for run in runs if run["twice after dedup"]]
        assert not bad, (
            f"in {len(bad)} of {KILL_RUNS} runs a consumer deduplicating by message id still ran an order "
            f"twice, e.g. orders {bad[0]['twice after dedup']} after kills at step(s) {bad[0]['killed at steps']}"
        )
