"""Lesson 07, section 5 and 6: five patterns under one fault scenario, the guide that quotes them,
and the evidence store lessons 01-06 write to."""

from __future__ import annotations

import json
import time

import pytest

from labsupport import evidence
from labsupport.lessons import choosing07 as c7
from labsupport.lessons.choosing07.rigs_compare import Attempt, drive, summarize
from labsupport.waiting import wait_until

SHORT = c7.FaultScenario(run_s=1.6, outage_s=(0.5, 1.1), drain_s=8.0)
OUTAGE = c7.FaultScenario(run_s=2.4, outage_s=(0.8, 1.8), drain_s=8.0)  # 0.65 s on each side


@pytest.fixture
def lab(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_DIR", str(tmp_path))
    monkeypatch.setenv("LAB_PLOTS_DIR", str(tmp_path / "plots"))
    return tmp_path


# --- the comparison, against real services and a real broker -----------------------------


@pytest.mark.broker
def test_an_outage_fails_the_synchronous_callers_while_the_queue_delivers_every_accepted_order(
    rabbit_broker, lab
):
    rows = {row["pattern"]: row for row in c7.compare_patterns(rabbit_broker.url, SHORT)}

    assert list(rows) == ["REST", "JSON-RPC batch of 10", "gRPC unary", "work queue", "thin event"]
    assert all(row["sent in outage"] > 0 for row in rows.values())
    for name in ("REST", "JSON-RPC batch of 10", "gRPC unary"):
        assert rows[name]["ok in outage %"] < 50, name
    for name in ("work queue", "thin event"):
        assert rows[name]["delivered"] == rows[name]["accepted"] > 0, f"{name} lost messages"
        assert rows[name]["ok in outage %"] >= 99, name
    assert rows["JSON-RPC batch of 10"]["ops/s (up)"] > 3 * rows["REST"]["ops/s (up)"]
    assert min(row["p50 ms"] for row in rows.values()) >= SHORT.delay_ms
    assert c7.plot_patterns(list(rows.values())).saved_path.exists()


@pytest.mark.broker
@pytest.mark.parametrize("build", [c7.queue_pattern, c7.event_pattern], ids=["queue", "event"])
def test_an_order_sent_while_the_consumer_is_down_is_done_only_once_it_is_back(
    rabbit_broker, build
):
    pattern = build(rabbit_broker.url, delay_ms=5.0, error_rate=0.1, seed=7)
    try:
        start, attempts = drive(pattern, OUTAGE)
        wanted = {a.message_id for a in attempts if a.ok}
        wait_until(lambda: wanted <= pattern.done.keys(), 8, "the worker to catch up")
    finally:
        pattern.close()

    down_at, up_at = OUTAGE.outage_s
    # 150 ms of slack on each side: the outage timer and the stop take a moment under load.
    # A few orders are enough to show it; a busy machine publishes at 150 ms, not 10 ms, each.
    queued = [a for a in attempts if down_at + 0.15 <= a.at_s < up_at - 0.15]
    assert len(queued) >= 3, f"only {len(queued)} orders sent during the outage"
    assert all(pattern.done[a.message_id] - start >= up_at for a in queued)
    before = [a for a in attempts if a.at_s < down_at - 0.15]
    assert sum(pattern.done[a.message_id] - start < down_at for a in before) >= 3  # no outage yet


def test_without_an_outage_rest_fails_the_injected_share_and_pays_the_added_latency(lab):
    pattern = c7.rest_pattern(delay_ms=5.0, error_rate=0.3, seed=7)
    waits_ms, oks = [], []
    try:
        for i in range(100):
            started = time.perf_counter()
            oks.append(pattern.call(i))
            waits_ms.append(1000 * (time.perf_counter() - started))
    finally:
        pattern.close()

    assert 55 <= sum(oks) <= 85  # seeded dice: 30% of the requests answered 503
    assert min(waits_ms) >= 5.0


def test_a_queued_order_sent_during_the_outage_and_never_delivered_counts_as_lost():
    done = {"queue-0": 10.02, "queue-2": 11.5}
    pattern = c7.Pattern("work queue", "confirm", "broker", None, None, None, None, done=done)
    attempts = [Attempt(0.0, 6.0, True, "queue-0"), Attempt(1.2, 6.0, True, "queue-1"),
                Attempt(1.4, 7.0, True, "queue-2"), Attempt(1.6, 1.0, False, "queue-3")]  # fmt: skip

    row = summarize(pattern, attempts, c7.FaultScenario(run_s=3.0, outage_s=(1.0, 2.0)), 10.0)

    assert (row["accepted"], row["delivered"], row["sent in outage"]) == (3, 2, 3)
    assert row["ok in outage %"] == pytest.approx(33.3)
    assert row["done p50 ms"] == pytest.approx(60.0)


def test_a_synchronous_row_counts_only_calls_started_inside_the_outage():
    pattern = c7.Pattern("REST", "the reply", "inventory", None, None, None, None)
    attempts = [Attempt(0.5, 6.0, True, "x-0"), Attempt(1.5, 0.5, False, "x-1"),
                Attempt(1.9, 6.5, True, "x-2"), Attempt(2.5, 7.0, True, "x-3")]  # fmt: skip

    row = summarize(pattern, attempts, c7.FaultScenario(run_s=3.0, outage_s=(1.0, 2.0)), 0.0)

    assert row["ok in outage %"] == 50.0 and row["sent in outage"] == 2
    assert row["ops/s (up)"] == 1 and row["delivered"] is None


# --- the guide quotes numbers -------------------------------------------------------------

ROWS = {
    "REST": {"pattern": "REST", "caller waits for": "the reply", "p50 ms": 6.61, "p99 ms": 11.9,
             "ok in outage %": 0.0, "delivered": None},
    "gRPC unary": {"pattern": "gRPC unary", "caller waits for": "the reply", "p50 ms": 7.29,
                   "p99 ms": 10.74, "ok in outage %": 0.0, "delivered": None},
    "thin event": {"pattern": "thin event", "caller waits for": "the broker's confirm",
                   "p50 ms": 9.07, "p99 ms": 24.4, "ok in outage %": 100.0, "accepted": 295,
                   "delivered": 295, "done p50 ms": 847.7, "done p99 ms": 1231.1},
}  # fmt: skip
FACT = {"value": 2.41, "lesson": "03", "what": "REST p50 over gRPC p50", "unit": "x"}
EVIDENCE = {"rest_ms": 12.0, "grpc_ms": 1.5, "react_ms": 3.0, "refused_status": 409,
            "outbox_lost": 0, "outbox_kills": 8, "dual_lost": 2, "dual_kills": 6,
            "patterns": ROWS, "earlier": {"rest_over_grpc_p50": FACT}}  # fmt: skip


def answers(**changes: str) -> dict[str, str]:
    return {key: options[0] for key, (_q, options) in c7.QUESTIONS.items()} | changes


def test_a_caller_that_waits_is_shown_rest_and_grpc_failing_during_the_measured_outage():
    advice = c7.recommend(answers(answer_now="yes"), EVIDENCE)

    rest = next(fact for fact in advice.evidence if fact.startswith("REST in section 5"))
    assert "p50 6.61 ms, p99 11.9 ms" in rest and "0.0% of the orders sent" in rest
    assert any(fact.startswith("gRPC unary in section 5") for fact in advice.evidence)


def test_a_fact_an_earlier_lesson_stored_is_quoted_with_its_lesson():
    advice = c7.recommend(answers(answer_now="yes"), EVIDENCE)

    assert "lesson 03 measured REST p50 over gRPC p50: 2.41 x" in advice.evidence


def test_a_fact_not_measured_yet_says_which_lesson_to_run():
    advice = c7.recommend(answers(answer_now="yes"), EVIDENCE)

    assert any(fact.startswith("not measured yet: run lesson 02") for fact in advice.evidence)
    assert any("JSON-RPC batch of 10: not measured yet" in fact for fact in advice.evidence)


def test_events_for_several_consumers_quote_delivery_after_the_outage_and_lesson_04():
    chosen = answers(answer_now="no", consumers="several, more later", survive_down="yes")

    advice = c7.recommend(chosen, EVIDENCE)

    event = next(fact for fact in advice.evidence if fact.startswith("thin event in section 5"))
    assert "100.0% of the orders sent" in event and "295 of 295 accepted" in event
    assert any("run lesson 04" in fact for fact in advice.evidence)


def test_a_large_payload_quotes_lesson_06s_crossover_when_it_was_measured():
    fact = {"value": 62.5, "lesson": "06", "what": "the crossover", "unit": "%"}
    measured = EVIDENCE | {"earlier": {"thin_fat_crossover_pct": fact}}

    advice = c7.recommend(answers(answer_now="no", payload="large (MBs)"), measured)

    assert "lesson 06 measured the crossover: 62 %" in advice.evidence


# --- labsupport.evidence ------------------------------------------------------------------


def test_a_remembered_fact_is_recalled_with_its_lesson_and_unit(lab):
    evidence.remember("rest_over_grpc_p50", 2.5, lesson="03", what="REST over gRPC", unit="x")

    fact = evidence.recall()["rest_over_grpc_p50"]

    assert (fact["value"], fact["lesson"], fact["what"], fact["unit"]) == (
        2.5,
        "03",
        "REST over gRPC",
        "x",
    )
    assert fact["when"] and (lab / "evidence.json").exists()


def test_remembering_a_key_again_overwrites_it_and_keeps_the_others(lab):
    evidence.remember("a", 1, lesson="01", what="first")
    evidence.remember("b", 2, lesson="02", what="other")
    evidence.remember("a", 3, lesson="01", what="again")

    facts = evidence.recall()

    assert {key: fact["value"] for key, fact in facts.items()} == {"a": 3, "b": 2}
    assert facts["a"]["what"] == "again"


@pytest.mark.parametrize("broken", ["{not json", "[1, 2]", '{"a": 5}', ""])
def test_a_broken_evidence_file_reads_as_empty_and_is_rewritten(lab, broken):
    (lab / "evidence.json").write_text(broken)

    assert evidence.recall() == {}
    evidence.remember("b", 2, lesson="02", what="fixed")

    assert json.loads((lab / "evidence.json").read_text())["b"]["value"] == 2


def test_a_numpy_number_is_stored_as_a_plain_number(lab):
    np = pytest.importorskip("numpy")
    evidence.remember("n", np.int64(15), lesson="04", what="lost")
    evidence.remember("nan", float("nan"), lesson="04", what="nothing")

    assert evidence.recall()["n"]["value"] == 15 and evidence.recall()["nan"]["value"] is None


def test_a_value_json_cannot_hold_is_refused_without_touching_the_file(lab):
    evidence.remember("a", 1, lesson="01", what="kept")

    with pytest.raises(TypeError):
        evidence.remember("b", object(), lesson="01", what="bad")

    assert list(evidence.recall()) == ["a"]
