"""Lesson 06: its checks pass the solution and fail blanks and wrong answers; its counts hold."""

from __future__ import annotations

import functools
import json
import time
from collections import Counter

import nbformat
import pytest
from _checktests import assert_fails_its_cases, failed_cases, solution_and_blank_tests

from labsupport import config
from labsupport.checks import load_answers
from labsupport.lessons import events06 as e6

NOTEBOOK = "06_lightweight_events.ipynb"
pytestmark = pytest.mark.broker


SOLVED = load_answers(config.REPO_ROOT / "solutions" / NOTEBOOK)
BLANK = load_answers(config.REPO_ROOT / "exercises" / NOTEBOOK)
CHECKS = {
    "shipping_consumer": (e6.check_shipping_consumer, "make_shipping_callback"),
    "order_when_ready": (e6.check_order_when_ready, "get_order_when_ready"),
}


@pytest.fixture(autouse=True)
def _brokers(rabbit_broker):
    """Every test here needs RabbitMQ (never skipped under CI)."""


# --- wrong answers to task 1: the shipping consumer ---------------------------------------


def make_shipper(*, every=False, cache=True, versions=True, ack=True, strict=False,
                 fetch=True, list_all=False, exact=False, int_keys=True):  # fmt: skip
    """Build make_shipping_callback with one known mistake switched on."""

    def make_shipping_callback(client, cache_, labels):
        def callback(ch, method, properties, body):
            event = json.loads(body)
            if strict and set(event) - {"type", "v", "order_id", "version"}:
                raise ValueError(f"unexpected fields in {event}")
            if every or event["type"] in ("OrderPaid", "OrderAddressChanged"):
                key = event["order_id"] if int_keys else str(event["order_id"])
                held = cache_.get(event["order_id"]) if cache else None
                fresh = held is not None and (
                    not versions or (held["version"] == event["version"] if exact
                                     else held["version"] >= event["version"])
                )  # fmt: skip
                if fresh:
                    order = held
                elif not fetch:
                    order = event
                elif list_all:
                    found = client.get("/orders").json()
                    order = next(o for o in found if o["order_id"] == event["order_id"])
                else:
                    order = client.get(f"/orders/{event['order_id']}").json()
                cache_[key] = order
                if event["type"] in ("OrderPaid", "OrderAddressChanged"):
                    labels.append(order)
            if ack:
                ch.basic_ack(method.delivery_tag)

        return callback

    return make_shipping_callback


# --- wrong answers to task 2: reading an order that may not be there yet -------------------


def make_reader(*, bound=True, sleep=True, double=True, versions=True, strict=False,
                fixed_tries=None, sleep_first=False, retry_all=False):  # fmt: skip
    """Build get_order_when_ready with one known mistake switched on."""

    def get_order_when_ready(client, order_id, version, tries=5, first_wait_s=0.02):
        wait_s, attempt, limit = first_wait_s, 0, fixed_tries or tries
        if sleep_first:
            time.sleep(first_wait_s)
        while not bound or attempt < limit:
            attempt += 1
            got = client.get(f"/orders/{order_id}")
            if got.status_code == 200:
                have = got.json()["version"]
                if not versions or (have == version if strict else have >= version):
                    return got.json()
            elif got.status_code != 404 and not retry_all:
                got.raise_for_status()
            if bound and attempt >= limit:
                break
            if sleep:
                time.sleep(wait_s)
                wait_s *= 2 if double else 1
        return None

    return get_order_when_ready


def gives_up_on_the_first_404(client, order_id, version, tries=5, first_wait_s=0.02):
    got = client.get(f"/orders/{order_id}")
    return got.json() if got.status_code == 200 and got.json()["version"] >= version else None


WRONG_ANSWERS = [
    ("shipping_consumer", "fetches every event", make_shipper(every=True), "makes no call"),
    ("shipping_consumer", "keeps no cache", make_shipper(cache=False), "paid twice"),
    ("shipping_consumer", "caches past a newer version", make_shipper(versions=False), "new address"),
    ("shipping_consumer", "refetches unless the version is equal", make_shipper(exact=True), "older event"),
    ("shipping_consumer", "never acks", make_shipper(ack=False), "acks every event"),
    ("shipping_consumer", "refuses unknown fields", make_shipper(strict=True), "does not know"),
    ("shipping_consumer", "prints the event, not the order", make_shipper(fetch=False), "with the order's address"),
    ("shipping_consumer", "lists every order to find one", make_shipper(list_all=True), "byte budget"),
    ("shipping_consumer", "caches under a key it never reads", make_shipper(int_keys=False), "paid twice"),
    ("order_when_ready", "gives up on the first 404", gives_up_on_the_first_404, "committed after"),
    ("order_when_ready", "retries without bound", make_reader(bound=False), "never comes"),
    ("order_when_ready", "retries without waiting", make_reader(sleep=False), "waits longer"),
    ("order_when_ready", "waits the same each time", make_reader(double=False), "waits longer"),
    ("order_when_ready", "ignores the version", make_reader(versions=False), "version the event announced"),
    ("order_when_ready", "wants exactly the event's version", make_reader(strict=True), "already there"),
    ("order_when_ready", "ignores tries", make_reader(fixed_tries=10), "never comes"),
    ("order_when_ready", "sleeps before the first call", make_reader(sleep_first=True), "already there"),
    ("order_when_ready", "retries a 422", make_reader(retry_all=True), "will not change"),
]  # fmt: skip


@functools.cache
def report_of(task_id: str, mistake: str):
    """Run the check on one wrong answer once; tests that look at the same report share it."""
    answer = next(a for t, m, a, _ in WRONG_ANSWERS if (t, m) == (task_id, mistake))
    return CHECKS[task_id][0].run(answer)


# --- the checks -------------------------------------------------------------------------


test_the_solution_notebook_passes_every_case, test_the_blank_exercise_scores_zero = (
    solution_and_blank_tests(CHECKS, SOLVED, BLANK, runs=3, min_cases=5)
)


@pytest.mark.parametrize(
    ("task_id", "mistake", "answer", "case"), WRONG_ANSWERS, ids=[w[1] for w in WRONG_ANSWERS]
)
def test_a_known_wrong_answer_fails_the_case_that_targets_it(task_id, mistake, answer, case):
    report = report_of(task_id, mistake)

    assert_fails_its_cases(report, case)


def test_every_task_has_at_least_eight_wrong_answers_in_these_tests():
    per_task = Counter(task_id for task_id, *_ in WRONG_ANSWERS)

    assert all(per_task[task_id] >= 8 for task_id in CHECKS), per_task


def test_a_failed_case_names_the_symptom_and_not_the_answer():
    report = report_of("shipping_consumer", "caches past a newer version")

    message = failed_cases(report)["prints the new address after the order changed"]
    assert message == (
        "after the address changed to version 2 the labels show "
        "['1 Analytical Row', '1 Analytical Row']"
    )
    assert ">=" not in str(report) and "cache[" not in str(report)


# --- one source for exercises and solutions --------------------------------------------


def test_the_exercise_keeps_the_docstrings_and_hides_every_solution():
    exercise = nbformat.read(config.REPO_ROOT / "exercises" / NOTEBOOK, as_version=4)
    code = "\n".join(c.source for c in exercise.cells if c.cell_type == "code")

    for name in ("def make_shipping_callback(", "def get_order_when_ready("):
        assert name in code
    assert code.count('raise NotImplementedError("Write this part') == 2
    for leaked in ("basic_ack", "wait_s *= 2", "BEGIN SOLUTION"):
        assert leaked not in code


# --- the counts the lesson claims ----------------------------------------------------------


def test_thin_events_call_back_exactly_for_the_share_that_needs_details(rabbit_broker):
    with e6.EventLab(rabbit_broker) as lab:
        rounds = [lab.run(design, share, events=10) for design in ("thin", "fat")
                  for share in (0.0, 0.3, 1.0)]  # fmt: skip

    calls = {(r.design, r.share): r.calls for r in rounds}
    assert calls == {("thin", 0.0): 0, ("thin", 0.3): 12, ("thin", 1.0): 40,
                     ("fat", 0.0): 0, ("fat", 0.3): 0, ("fat", 1.0): 0}  # fmt: skip
    assert all(r.missing == 0 and r.stale == 0 for r in rounds)


def test_the_share_needing_details_is_exact_for_every_consumer():
    for index in range(4):
        needs = e6.needs_share(index, 0.3)
        assert sum(needs({"order_id": n}) for n in range(1000, 1020)) == 6


def test_thin_moves_fewer_bytes_at_zero_and_a_bearer_token_moves_the_crossover_left(
    rabbit_broker,
):
    shares = [0.0, 0.4, 0.8, 1.0]
    with e6.EventLab(rabbit_broker) as lab:
        plain = e6.sweep(lab, shares, lines=1, events=10)
    with e6.EventLab(rabbit_broker, headers={"Authorization": "Bearer " + "x" * 800}) as lab:
        token = e6.sweep(lab, shares, lines=1, events=10)

    at_zero = {r.design: r.total_bytes for r in plain if r.share == 0.0}
    assert at_zero["thin"] < at_zero["fat"]
    assert 0.0 < e6.crossover(token) < e6.crossover(plain) < 1.0


def test_crossover_reads_the_share_where_thin_passes_fat():
    def rnd(design, share, total):
        return e6.Round(design, 1, share, 1, total, 0, 0)

    rounds = [rnd("fat", s, 100) for s in (0, 0.5, 1)]
    assert e6.crossover(rounds + [rnd("thin", 0, 50), rnd("thin", 0.5, 150)]) == 0.25
    assert e6.crossover(rounds + [rnd("thin", 0, 50), rnd("thin", 1.0, 90)]) is None
    assert e6.crossover(rounds + [rnd("thin", 0, 120), rnd("thin", 1.0, 190)]) == 0.0


def test_publishing_before_the_commit_misses_orders_and_a_bounded_retry_finds_them(
    rabbit_broker,
):
    with e6.EventLab(rabbit_broker) as lab:
        first = lab.run("thin", 1.0, events=10, commit_lag_s=0.3)
        after_commit = lab.run("thin", 1.0, events=10)
    with e6.EventLab(rabbit_broker, tries=7) as lab:
        retried = lab.run("thin", 1.0, events=10, commit_lag_s=0.3)

    assert first.missing > 0 and after_commit.missing == 0
    assert retried.missing == 0 and 1 < retried.max_calls <= 7


def test_a_lagging_update_reads_stale_without_the_version_and_fresh_with_it(rabbit_broker):
    results = []
    for check_version in (False, True):
        with e6.EventLab(rabbit_broker, tries=7, check_version=check_version) as lab:
            lab.run("thin", 1.0, events=10)
            results.append(lab.run("thin", 1.0, events=10, commit_lag_s=0.3, update=True))

    assert results[0].stale > 0 and results[1].stale == 0 and results[1].missing == 0


def test_jitter_lowers_the_peak_of_callbacks_on_the_orders_service(rabbit_broker):
    herd = e6.run_herd(rabbit_broker, consumers=6, events=3)
    spread = e6.run_herd(rabbit_broker, consumers=6, events=3, jitter_s=0.5)

    assert herd.calls == spread.calls == 18
    assert spread.peak(50) < herd.peak(50)
    assert max(spread.arrivals_ms) > max(herd.arrivals_ms)
