"""Lesson 04: its checks pass the solution and fail blanks and wrong answers; its counts hold."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

import nbformat
import pika
import pytest
import redis
from _checktests import failed_cases, solution_and_blank_tests, wrong_answer_tests

from labsupport import config, fresh_name
from labsupport.checks import load_answers
from labsupport.lessons import queues04 as q4
from labsupport.waiting import wait_until

NOTEBOOK = "04_pubsub_and_queues.ipynb"
SOLUTION = config.REPO_ROOT / "solutions" / NOTEBOOK
EXERCISE = config.REPO_ROOT / "exercises" / NOTEBOOK
pytestmark = pytest.mark.broker

SOLVED, BLANK = load_answers(SOLUTION), load_answers(EXERCISE)
TASKS = {  # task id: (its check, the name the notebook defines)
    "handle_once": (q4.check_handle_once, "handle_once"),
    "reliable_worker": (q4.check_reliable_worker, "consume_reliably"),
    "consumer_pool": (q4.check_consumer_pool, "drain_with_pool"),
}


@pytest.fixture(autouse=True)
def _brokers(redis_broker, rabbit_broker):
    """Every test here needs both brokers (never skipped under CI)."""


# --- wrong answers: the ones tested before, written out; ours, made from the solution -----


def runs_every_time(r, message_id, body, effect, *, lease_s=30.0):
    effect(body)
    return True


_SEEN: set[str] = set()


def remembers_in_a_python_set(r, message_id, body, effect, *, lease_s=30.0):
    if message_id in _SEEN:
        return False
    _SEEN.add(message_id)
    try:
        effect(body)
    except BaseException:
        _SEEN.discard(message_id)
        raise
    return True


def looks_then_writes(r, message_id, body, effect, *, lease_s=30.0):
    if r.exists(f"handled:{message_id}"):
        return False
    effect(body)
    r.set(f"handled:{message_id}", 1, ex=86_400)
    return True


def remembers_the_body(r, message_id, body, effect, *, lease_s=30.0):
    key = "handled:" + hashlib.sha256(body).hexdigest()
    if not r.set(key, 1, nx=True, ex=86_400):
        return False
    try:
        effect(body)
    except BaseException:
        r.delete(key)
        raise
    return True


def keeps_the_mark_after_a_failure(r, message_id, body, effect, *, lease_s=30.0):
    if not r.set(f"handled:{message_id}", 1, nx=True, ex=86_400):
        return False
    effect(body)
    return True


def make_worker(*, ack_first=False, auto_ack=False, give_up=True, at_once=False):
    """Build consume_reliably (counting in memory) with one known mistake switched on."""

    def consume_reliably(channel, queue, handle, r, max_attempts=3, idle_s=0.5):
        failures, acked = Counter(), 0
        if not auto_ack:
            channel.basic_qos(prefetch_count=1)
        for method, props, body in channel.consume(
            queue, auto_ack=auto_ack, inactivity_timeout=idle_s
        ):
            if method is None:
                break
            if ack_first:
                channel.basic_ack(method.delivery_tag)
            try:
                handle(body)
            except Exception:
                failures[props.message_id] += 1
                retry = not at_once and (not give_up or failures[props.message_id] < max_attempts)
                if not (ack_first or auto_ack):
                    channel.basic_nack(method.delivery_tag, requeue=retry)
                continue
            if not (ack_first or auto_ack):
                channel.basic_ack(method.delivery_tag)
            acked += 1
        channel.cancel()
        return acked

    return consume_reliably


def make_pool(*, threads=True, prefetch=1):
    """Build drain_with_pool: one consumer doing it all, or threads with a prefetch cap."""

    def consume(amqp_url, queue, handle, idle_s, counts):
        with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=prefetch)
            handled = 0
            for method, _props, body in channel.consume(queue, inactivity_timeout=idle_s):
                if method is None:
                    break
                handle(body)
                channel.basic_ack(method.delivery_tag)
                handled += 1
        counts.append(handled)

    def drain_with_pool(amqp_url, queue, handle, consumers=4, idle_s=0.5):
        counts: list[int] = []
        if not threads:
            consume(amqp_url, queue, handle, idle_s, counts)
            return sum(counts)
        pool = [
            threading.Thread(target=consume, args=(amqp_url, queue, handle, idle_s, counts))
            for _ in range(consumers)
        ]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(30)
        return sum(counts)

    return drain_with_pool


# Each entry: the answer (a function, or edits that turn the solution into it) and the
# cases it must fail: exactly those, each a substring of one case's name.
_CLAIM = 'r.set(key, "claimed", nx=True, px=int(lease_s * 1000))'
_DONE = 'r.set(key, "done", ex=86_400)'
_CHANGES_HANDS = ["Redis, where", "about a day", "still on it", "died in the middle"]
WRONG_HANDLERS = {
    # tested before this round (brought to today's signature)
    "runs the effect every time": (runs_every_time, ["second time", "Redis, where", "about a day",
                                   "after lease_s", "at once", "still on it"]),
    "remembers in a Python set": (remembers_in_a_python_set, _CHANGES_HANDS),
    "looks, then writes": (looks_then_writes, ["at once", "still on it"]),
    "keys on the body": (remembers_the_body, ["same content", *_CHANGES_HANDS]),
    "keeps the mark after a failure": (keeps_the_mark_after_a_failure,
                                       ["still on it", "died in the middle", "after the effect failed"]),
    # ours
    "claims for a day (the old reference)": ([(_CLAIM, 'r.set(key, "claimed", nx=True, ex=86_400)')],
                                             ["died in the middle"]),
    "claims with the final mark": ([(_CLAIM, 'r.set(key, "done", nx=True, ex=86_400)')],
                                   ["still on it", "died in the middle"]),
    "calls a live claim handled": ([('    if r.get(key) == "done":\n        return False\n    raise', '    return False\n    raise')],
                                   ["still on it"]),
    "ignores lease_s": ([("px=int(lease_s * 1000)", "ex=30")], ["died in the middle"]),
    "looks, then claims": ([(_CLAIM, 'r.get(key) is None and r.set(key, "claimed", px=int(lease_s * 1000))')],
                           ["at once"]),
    "the handled mark keeps the lease's lifetime": ([(_DONE, 'r.set(key, "done", keepttl=True)')],
                                                    ["about a day", "after lease_s"]),
    "the handled mark never expires": ([(_DONE, 'r.set(key, "done")')], ["about a day"]),
    "milliseconds for seconds": ([(_DONE, 'r.set(key, "done", px=86_400)')], ["about a day"]),
    "swallows the effect's error": ([("            raise\n        r.set", "            return False\n        r.set")],
                                    ["reach the caller"]),
    "drops the claim after success too": ([(_DONE, "r.delete(key)")],
                                          ["second time", "Redis, where", "about a day", "after lease_s"]),
}  # fmt: skip
_INCR = "        tries = r.incr(key)  # before handle: a try that kills the worker counts too\n        r.expire(key, 86_400)\n"
_NACK = "        except Exception:\n            channel.basic_nack(method.delivery_tag, requeue=tries < max_attempts)\n"
_CONSUME = (
    "    for method, properties, body in channel.consume(queue, inactivity_timeout=idle_s):\n"
)
WRONG_WORKERS = {
    # tested before this round (brought to today's signature)
    "acks before processing": (make_worker(ack_first=True),
                               ["one message at a time", "dies mid-message", "failed once", "poison",
                                "every time"]),
    "uses auto-ack": (make_worker(auto_ack=True), ["one message at a time", "dies mid-message",
                      "failed once", "poison", "every time"]),
    "requeues for ever": (make_worker(give_up=False), ["poison", "every time"]),
    "rejects on the first failure": (make_worker(at_once=True), ["failed once", "poison", "every time"]),
    # ours
    "counts tries in memory (the old reference)": (
        [(_INCR, "        seen[key] = tries = seen.get(key, 0) + 1\n"), ("    acked = 0\n", "    acked, seen = 0, {}\n")],
        ["every time"]),
    "counts a try only when handle raised": (
        [(_INCR, "        tries = int(r.get(key) or 0) + 1\n"),
         (_NACK, "        except Exception:\n            r.incr(key)\n"
                 "            channel.basic_nack(method.delivery_tag, requeue=tries < max_attempts)\n")],
        ["every time"]),
    "takes no prefetch limit": ([("    channel.basic_qos(prefetch_count=1)\n", "")], ["one message at a time"]),
    "stops when the queue is empty": (
        [(_CONSUME, "    while True:\n        method, properties, body = channel.basic_get(queue)\n")],
        ["published after it started"]),
    "acks what is past max_attempts": ([("channel.basic_reject(method.delivery_tag, requeue=False)",
                                         "channel.basic_ack(method.delivery_tag)")], ["every time"]),
    "rejects one try early": ([("if tries > max_attempts:", "if tries >= max_attempts:")], ["poison", "every time"]),
    "acks even when handle failed": (
        [(_NACK + "        else:\n            channel.basic_ack(method.delivery_tag)\n            acked += 1\n",
          "        except Exception:\n            pass\n        channel.basic_ack(method.delivery_tag)\n"
          "        acked += 1\n")],
        ["failed once", "poison"]),
    "takes the redelivered flag for the count": ([(_INCR, "        tries = 2 if method.redelivered else 1\n")],
                                                 ["poison", "every time"]),
    "counts failed messages as acked": (
        [("        try:\n            handle(body)\n", "        acked += 1\n        try:\n            handle(body)\n"),
         ("            channel.basic_ack(method.delivery_tag)\n            acked += 1\n",
          "            channel.basic_ack(method.delivery_tag)\n")],
        ["failed once"]),
}  # fmt: skip
_WORK = "                handle(body)\n                channel.basic_ack(method.delivery_tag)\n"
_POOL_CONSUME = "            for method, _properties, body in channel.consume(queue, inactivity_timeout=idle_s):\n"
_ALL_POOL = [
    "exactly once",
    "4 consumers",
    "one message in four",
    "published after",
    "dies in the middle",
]
WRONG_POOLS = {
    # tested before this round
    # (without a prefetch cap the first consumer to connect takes every message)
    "one consumer does it all": (make_pool(threads=False), ["with 4 consumers", "one message in four",
                                                            "dies in the middle"]),
    "no prefetch cap": (make_pool(prefetch=0), ["with 4 consumers", "one message in four"]),
    # ours
    "acks before the work": ([(_WORK, "                channel.basic_ack(method.delivery_tag)\n"
                                      "                handle(body)\n")], ["dies in the middle"]),
    "auto-ack": ([(_WORK, "                handle(body)\n"),
                  ("body in channel.consume(queue, inactivity_timeout=idle_s):\n                if",
                   "body in channel.consume(queue, auto_ack=True, inactivity_timeout=idle_s):\n"
                   "                if")],
                 ["with 4 consumers", "one message in four", "dies in the middle"]),
    "starts each consumer after the last one ended": (
        [("        thread.start()\n    for thread in threads:\n", "        thread.start()\n")],
        ["with 4 consumers", "one message in four"]),
    "stops when the queue is empty": (
        [(_POOL_CONSUME, "            while True:\n"
                         "                method, _properties, body = channel.basic_get(queue)\n")],
        ["published after"]),
    "gives up waiting after 50 ms": ([("body in channel.consume(queue, inactivity_timeout=idle_s):\n                if",
          "body in channel.consume(queue, inactivity_timeout=0.05):\n                if")],
                                     ["published after"]),
    "returns the number of consumers": ([("    return sum(counts)", "    return len(threads)")], ["exactly once"]),
    "does not wait for its consumers": ([("    for thread in threads:\n        thread.join(timeout=60)\n", "")],
                                        _ALL_POOL),
    "leaves a dead consumer's connection open": (
        [("        with pika.BlockingConnection(pika.URLParameters(amqp_url)) as connection:\n",
          "        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))\n        if True:\n"),
         ("        with lock:\n            counts.append", "        connection.close()\n        with lock:\n            counts.append")],
        ["dies in the middle"]),
}  # fmt: skip
WRONG = {
    "handle_once": WRONG_HANDLERS,
    "reliable_worker": WRONG_WORKERS,
    "consumer_pool": WRONG_POOLS,
}
EARLIER = {"handle_once": 5, "reliable_worker": 4, "consumer_pool": 2}  # tested before ours


def wrong_answer(task_id: str, mistake: str):
    """Return the wrong answer: written out, or the solution with the mistake's edits."""
    answer, _cases = WRONG[task_id][mistake]
    if callable(answer):
        return answer
    return load_answers(SOLUTION, edits=answer)[TASKS[task_id][1]]


# --- the checks -------------------------------------------------------------------------


test_the_solution_passes_every_case_five_runs_in_a_row, test_the_blank_exercise_scores_zero = (
    solution_and_blank_tests(TASKS, SOLVED, BLANK, runs=5, min_cases=5)
)


(
    test_a_wrong_answer_fails_exactly_the_cases_that_target_its_mistake,
    test_every_task_has_at_least_eight_wrong_answers_of_our_own,
) = wrong_answer_tests(TASKS, WRONG, EARLIER, wrong_answer)


def test_a_failed_case_names_the_symptom_and_not_the_answer():
    report = q4.check_handle_once.run(looks_then_writes)

    message = failed_cases(report)[
        "runs the effect once when two consumers get the same message at once"
    ]
    assert message.startswith("the effect ran 2 times for one message handled twice at once")
    assert "nx" not in str(report).lower() and "SET" not in str(report)


# --- one source for exercises and solutions --------------------------------------------


def test_the_exercise_keeps_the_docstrings_and_hides_every_solution():
    exercise = nbformat.read(EXERCISE, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in ("def handle_once(", "def consume_reliably(", "def drain_with_pool("):
        assert name in code
    assert code.count('raise NotImplementedError("Write this part') == 3
    for leaked in ("nx=True", "basic_nack", "basic_qos", "r.incr", "BEGIN SOLUTION"):
        assert leaked not in code


# --- the counts the lesson claims ----------------------------------------------------------


def declare(url: str, prefix: str, **kwargs) -> str:
    queue = fresh_name(prefix)
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        connection.channel().queue_declare(queue, arguments={"x-expires": 120_000}, **kwargs)
    return queue


def test_a_subscriber_away_loses_exactly_what_was_published_meanwhile(redis_broker):
    r = redis.Redis.from_url(redis_broker.url, decode_responses=True)
    channel = fresh_name("orders.placed")
    stays, goes = q4.join(r, channel), q4.join(r, channel)

    sent = q4.publish_steadily(r, channel, range(5), rate_per_s=200)
    heard_before = q4.leave(goes)
    sent += q4.publish_steadily(r, channel, range(5, 12), rate_per_s=200)
    goes = q4.join(r, channel)
    sent += q4.publish_steadily(r, channel, range(12, 15), rate_per_s=200)
    heard = heard_before + q4.leave(goes)

    assert len(q4.leave(stays)) == 15
    assert len(sent) - len(heard) == 7
    assert [s.receivers for s in sent] == [2] * 5 + [1] * 7 + [2] * 3


def receipts_after_crash(rabbit_broker, redis_broker, *, auto_ack, idempotent):
    """Kill the billing worker mid-message, finish with a survivor, and tally the receipts."""
    r = redis.Redis.from_url(redis_broker.url, decode_responses=True)
    queue, key = declare(rabbit_broker.url, "orders.billing"), fresh_name("billing")
    ids = q4.publish_orders(rabbit_broker.url, queue, 12)
    worker = q4.kill_mid_message(
        rabbit_broker.url, redis_broker.url, queue, key, len(ids), auto_ack=auto_ack,
        idempotent=idempotent, stall_after=3, prefetch=4,
    )  # fmt: skip
    send = q4.send_receipt_once if idempotent else q4.send_receipt
    redelivered = 0
    with pika.BlockingConnection(pika.URLParameters(rabbit_broker.url)) as connection:
        channel = connection.channel()
        for method, props, _body in channel.consume(queue, inactivity_timeout=0.5):
            if method is None:
                break
            redelivered += method.redelivered
            send(r, key, props.message_id)
            channel.basic_ack(method.delivery_tag)
        channel.queue_delete(queue)
    assert worker.exitcode == -9
    receipts = r.lrange(f"{key}:receipts", 0, -1)
    r.delete(f"{key}:receipts", f"{key}:stalled")
    return q4.tally(receipts, ids, redelivered)


def test_manual_acks_lose_nothing_when_the_worker_is_killed_and_repeat_one_receipt(
    rabbit_broker, redis_broker
):
    tally = receipts_after_crash(rabbit_broker, redis_broker, auto_ack=False, idempotent=False)

    assert (tally.lost, tally.duplicated, tally.redelivered) == (0, 1, 4)


def test_auto_ack_loses_every_message_the_killed_worker_was_handed(rabbit_broker, redis_broker):
    tally = receipts_after_crash(rabbit_broker, redis_broker, auto_ack=True, idempotent=False)

    assert (tally.lost, tally.duplicated, tally.redelivered) == (9, 0, 0)


def test_an_idempotent_worker_sends_each_receipt_once_despite_redelivery(
    rabbit_broker, redis_broker
):
    tally = receipts_after_crash(rabbit_broker, redis_broker, auto_ack=False, idempotent=True)

    assert (tally.lost, tally.duplicated, tally.redelivered) == (0, 0, 4)


def test_tally_counts_lost_and_duplicated_and_refuses_strangers():
    tally = q4.tally(["a", "b", "b", "b"], ["a", "b", "c"], redelivered=2)

    assert (tally.done_once, tally.lost, tally.duplicated) == (1, 1, 2)
    with pytest.raises(ValueError, match="nobody published"):
        q4.tally(["z"], ["a"])


def test_without_a_prefetch_cap_the_slow_consumer_gets_half_and_with_one_it_does_not(
    rabbit_broker,
):
    queues = [declare(rabbit_broker.url, "split") for _ in range(2)]
    no_cap = q4.fast_and_slow(rabbit_broker.url, queues[0], prefetch=0)
    cap_1 = q4.fast_and_slow(rabbit_broker.url, queues[1], prefetch=1)
    with pika.BlockingConnection(pika.URLParameters(rabbit_broker.url)) as connection:
        for queue in queues:
            connection.channel().queue_delete(queue)

    assert no_cap["slow consumer"] == no_cap["fast consumer"] == 20
    assert cap_1["fast consumer"] >= 30
    assert cap_1["seconds"] < no_cap["seconds"]


def test_competing_consumers_reorder_but_partitions_keep_order_per_key(rabbit_broker):
    steps = [(order_id, step) for order_id in range(6) for step in ("placed", "paid", "shipped")]

    shared = q4.run_order_events(rabbit_broker.url, fresh_name("steps"), steps)
    partitioned = q4.run_order_events(rabbit_broker.url, fresh_name("steps"), steps, partitions=3)

    assert sorted(shared) == sorted(partitioned) == sorted(steps)
    assert q4.orders_out_of_order(shared)
    assert q4.orders_out_of_order(partitioned) == []


def test_confirms_report_what_plain_publishing_hides(rabbit_broker):
    capped = {"x-max-length": 3, "x-overflow": "reject-publish", "x-expires": 60_000}
    queue = fresh_name("capped")
    with pika.BlockingConnection(pika.URLParameters(rabbit_broker.url)) as connection:
        channel = connection.channel()
        channel.queue_declare(queue, arguments=capped)
        for n in range(5):
            channel.basic_publish("", queue, str(n).encode())
        assert q4.settled_depth(rabbit_broker.url, queue) == 3
        channel.queue_purge(queue)
        channel.confirm_delivery()
        refused = 0
        for n in range(5):
            try:
                channel.basic_publish("", queue, str(n).encode())
            except pika.exceptions.NackError:
                refused += 1
        channel.queue_delete(queue)
    assert refused == 2


@pytest.mark.serial
def test_a_restart_keeps_only_persistent_messages_in_durable_queues_and_loses_no_confirmed_order(
    rabbit_broker,
):
    if not rabbit_broker.managed:
        pytest.skip("AMQP_URL points at a broker the lab does not run: it cannot restart it")
    url = rabbit_broker.url
    kept = declare(url, "keep", durable=True)
    dropped = declare(url, "drop", durable=True)
    gone = declare(url, "gone")
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        for queue, mode in ((kept, 2), (dropped, 1), (gone, 2)):
            for n in range(10):
                body = f"order {n}".encode()
                channel.basic_publish("", queue, body, pika.BasicProperties(delivery_mode=mode))
    outage_queue = declare(url, "outage", durable=True)
    traffic = q4.OutageTraffic(url, outage_queue, count=60, rate_per_s=40).start()
    try:
        wait_until(lambda: traffic.producer.confirmed >= 10, 10, "traffic under way")
        traffic.mark("stopping")
        rabbit_broker.stop()
        traffic.mark("starting")
        rabbit_broker.start()
        traffic.mark("up")
        assert traffic.wait_done(timeout_s=30)
    finally:
        traffic.stop()

    counts = traffic.counts()
    assert counts["lost"] == 0 and counts["received (distinct)"] == 60
    assert counts["publish attempts refused"] >= 1
    with pika.BlockingConnection(pika.URLParameters(url)) as connection:
        channel = connection.channel()
        assert channel.queue_declare(kept, passive=True).method.message_count == 10
        assert channel.queue_declare(dropped, passive=True).method.message_count == 0
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="NOT_FOUND"):
            channel.queue_declare(gone, passive=True)
        channel = connection.channel()
        for queue in (kept, dropped, outage_queue):
            channel.queue_delete(queue)


def test_the_lesson_module_exports_exactly_what_it_lists():
    assert q4.__all__ == sorted(q4.__all__)
    assert [name for name in q4.__all__ if not hasattr(q4, name)] == []
