"""Lesson 04: its checks pass the solution and fail blanks and wrong answers; its counts hold."""

from __future__ import annotations

import hashlib
import threading
from collections import Counter

import nbformat
import pika
import pytest
import redis

from labsupport import config, fresh_name
from labsupport.lessons import queues04 as q4
from labsupport.waiting import wait_until

NOTEBOOK = "04_pubsub_and_queues.ipynb"
pytestmark = pytest.mark.broker


def load_answers(folder: str) -> dict:
    """Run the task cells (those starting with `def`) of a lesson-04 notebook; return its names."""
    nb = nbformat.read(config.REPO_ROOT / folder / NOTEBOOK, as_version=4)
    space = {"threading": threading, "Counter": Counter, "pika": pika, "redis": redis}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("def "):
            exec(compile(cell.source, f"{folder}/{NOTEBOOK}", "exec"), space)
    return space


SOLVED, BLANK = load_answers("solutions"), load_answers("exercises")
CHECKS = {
    "handle_once": (q4.check_handle_once, "handle_once"),
    "reliable_worker": (q4.check_reliable_worker, "consume_reliably"),
    "consumer_pool": (q4.check_consumer_pool, "drain_with_pool"),
}


@pytest.fixture(autouse=True)
def _brokers(redis_broker, rabbit_broker):
    """Every test here needs both brokers (never skipped under CI)."""


# --- wrong answers a learner plausibly writes -------------------------------------------


def runs_every_time(r, message_id, body, effect):
    effect(body)
    return True


_SEEN: set[str] = set()


def remembers_in_a_python_set(r, message_id, body, effect):
    if message_id in _SEEN:
        return False
    _SEEN.add(message_id)
    try:
        effect(body)
    except BaseException:
        _SEEN.discard(message_id)
        raise
    return True


def looks_then_writes(r, message_id, body, effect):
    if r.exists(f"handled:{message_id}"):
        return False
    effect(body)
    r.set(f"handled:{message_id}", 1, ex=600)
    return True


def remembers_the_body(r, message_id, body, effect):
    key = "handled:" + hashlib.sha256(body).hexdigest()
    if not r.set(key, 1, nx=True, ex=600):
        return False
    try:
        effect(body)
    except BaseException:
        r.delete(key)
        raise
    return True


def keeps_the_mark_after_a_failure(r, message_id, body, effect):
    if not r.set(f"handled:{message_id}", 1, nx=True, ex=600):
        return False
    effect(body)
    return True


def make_worker(*, ack_first=False, auto_ack=False, give_up=True, at_once=False):
    """Build consume_reliably with one known mistake switched on."""

    def consume_reliably(channel, queue, handle, max_attempts=3, idle_s=0.5):
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


WRONG_ANSWERS = [
    ("handle_once", "runs the effect every time", runs_every_time, "skips a message delivered"),
    ("handle_once", "remembers in a Python set", remembers_in_a_python_set, "remembers message ids in Redis"),
    ("handle_once", "looks, then writes", looks_then_writes, "two consumers get the same message"),
    ("handle_once", "keys on the body", remembers_the_body, "same content as two messages"),
    ("handle_once", "keeps the mark after a failure", keeps_the_mark_after_a_failure, "after the effect failed"),
    ("reliable_worker", "acks before processing", make_worker(ack_first=True), "dies mid-message"),
    ("reliable_worker", "uses auto-ack", make_worker(auto_ack=True), "dies mid-message"),
    ("reliable_worker", "requeues for ever", make_worker(give_up=False), "after exactly max_attempts"),
    ("reliable_worker", "rejects on the first failure", make_worker(at_once=True), "failed once"),
    ("consumer_pool", "one consumer does it all", make_pool(threads=False), "with 4 consumers"),
    ("consumer_pool", "no prefetch cap", make_pool(prefetch=0), "one message in four is slow"),
]  # fmt: skip


def failed_cases(report) -> dict[str, str]:
    return {c.name: c.message for c in report.cases if c.outcome != "passed"}


# --- the checks -------------------------------------------------------------------------


@pytest.mark.parametrize("task_id", sorted(CHECKS))
def test_the_solution_notebook_passes_every_case(task_id):
    check, name = CHECKS[task_id]

    report = check.run(SOLVED[name])

    assert report.status == "passed", str(report)
    assert report.score == 1.0 and report.total >= 3


@pytest.mark.parametrize("task_id", sorted(CHECKS))
def test_the_blank_exercise_reads_not_attempted_and_scores_zero(task_id):
    check, name = CHECKS[task_id]

    report = check.run(BLANK[name])

    assert report.status == "not attempted", str(report)
    assert report.score == 0.0 and "Traceback" not in str(report)


@pytest.mark.parametrize(
    ("task_id", "mistake", "answer", "case"), WRONG_ANSWERS, ids=[w[1] for w in WRONG_ANSWERS]
)
def test_a_known_wrong_answer_fails_the_case_that_targets_it(task_id, mistake, answer, case):
    check, _ = CHECKS[task_id]

    report = check.run(answer)

    failed = failed_cases(report)
    assert report.status in ("failed", "error"), str(report)
    assert any(case in name for name in failed), str(report)
    assert all(c.hint for c in report.cases if c.outcome != "passed")


def test_every_task_has_at_least_two_wrong_answers_in_these_tests():
    per_task = Counter(task_id for task_id, *_ in WRONG_ANSWERS)

    assert all(per_task[task_id] >= 2 for task_id in CHECKS), per_task


def test_a_failed_case_names_the_symptom_and_not_the_answer():
    report = q4.check_handle_once.run(looks_then_writes)

    message = failed_cases(report)[
        "runs the effect once when two consumers get the same message at once"
    ]
    assert message == "the effect ran 2 times for one message handled twice at once"
    assert "nx" not in str(report).lower() and "SET" not in str(report)


# --- one source for exercises and solutions --------------------------------------------


def test_the_exercise_keeps_the_docstrings_and_hides_every_solution():
    exercise = nbformat.read(config.REPO_ROOT / "exercises" / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in ("def handle_once(", "def consume_reliably(", "def drain_with_pool("):
        assert name in code
    assert code.count('raise NotImplementedError("Write this part') == 3
    for leaked in ("nx=True", "basic_nack", "basic_qos", "BEGIN SOLUTION"):
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
