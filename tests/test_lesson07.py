"""Lesson 07: the outbox loses nothing under real kills; the relay check passes the solution and fails wrong answers."""

from __future__ import annotations

import sqlite3
import time
import uuid

import nbformat
import pika
import pytest

from labsupport import config
from labsupport.lessons import choosing07 as c7

NOTEBOOK = "07_choosing_and_combining.ipynb"
pytestmark = pytest.mark.broker


def load_answers(folder: str) -> dict:
    """Run the task cells (those starting with `def`) of a lesson-07 notebook; return its names."""
    nb = nbformat.read(config.REPO_ROOT / folder / NOTEBOOK, as_version=4)
    space = {"pika": pika, "sqlite3": sqlite3, "time": time}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.source.startswith("def "):
            exec(compile(cell.source, f"{folder}/{NOTEBOOK}", "exec"), space)
    return space


SOLVED, BLANK = load_answers("solutions"), load_answers("exercises")


@pytest.fixture(autouse=True)
def _brokers(rabbit_broker):
    """Every test here needs RabbitMQ (never skipped under CI)."""


# --- wrong answers a learner plausibly writes -------------------------------------------


def make_relay(*, mark_first=False, ids="row", confirms=True, swallow=False, order="ORDER BY id",
               commit=True, where="WHERE sent_at IS NULL", bulk=False, limit="", persistent=True):  # fmt: skip
    """Build relay_outbox with one known mistake switched on."""

    def relay_outbox(db, channel, queue):
        if confirms:
            channel.confirm_delivery()
        rows = db.execute(f"SELECT id, payload FROM outbox {where} {order} {limit}").fetchall()
        for row_id, payload in rows:
            message_id = {"row": f"outbox-{row_id}", "uuid": uuid.uuid4().hex, "none": None}[ids]
            props = pika.BasicProperties(
                message_id=message_id, delivery_mode=2 if persistent else 1
            )
            if mark_first:
                db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), row_id))
                db.commit()
            try:
                channel.basic_publish("", queue, payload.encode(), props)
            except Exception:
                if not swallow:
                    raise
            if not (mark_first or bulk):
                db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), row_id))
                if commit:
                    db.commit()
        if bulk:
            db.execute("UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL", (time.time(),))
            db.commit()
        return len(rows)

    return relay_outbox


def publishes_all_then_marks_in_one_transaction(db, channel, queue):
    """A correct variant: duplicates after a kill, all under the rows' own ids."""
    channel.confirm_delivery()
    rows = db.execute("SELECT id, payload FROM outbox WHERE sent_at IS NULL ORDER BY id").fetchall()
    for row_id, payload in rows:
        channel.basic_publish(
            "",
            queue,
            payload.encode(),
            pika.BasicProperties(message_id=str(row_id), delivery_mode=2),
        )
    with db:
        db.executemany(
            "UPDATE outbox SET sent_at = ? WHERE id = ?", [(time.time(), r) for r, _ in rows]
        )
    return len(rows)


WRONG_ANSWERS = [
    ("marks rows sent before publishing", make_relay(mark_first=True), "loses no event when killed"),
    ("a fresh uuid per publish", make_relay(ids="uuid"), "idempotent consumer recognises"),
    ("no message id at all", make_relay(ids="none"), "idempotent consumer recognises"),
    ("no publisher confirms", make_relay(confirms=False), "broker refused"),
    ("swallows a refusal and marks the row", make_relay(swallow=True), "broker refused"),
    ("newest rows first", make_relay(order="ORDER BY id DESC"), "in the order they were written"),
    ("never commits the mark", make_relay(commit=False), "marked sent, as another connection"),
    ("republishes rows already sent", make_relay(where=""), "second pass"),
    ("marks every pending row at the end", make_relay(bulk=True), "written while it was running"),
    ("publishes the first row only", make_relay(limit="LIMIT 1"), "every unsent row once"),
    ("transient messages", make_relay(persistent=False), "persistent"),
]  # fmt: skip


def failed_cases(report) -> dict[str, str]:
    return {c.name: c.message for c in report.cases if c.outcome != "passed"}


# --- the check --------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(5))
def test_the_solution_notebook_passes_every_case_run_after_run(attempt):
    report = c7.check_outbox_relay.run(SOLVED["relay_outbox"])

    assert report.status == "passed", str(report)
    assert report.score == 1.0 and report.total >= 8


def test_a_relay_that_marks_a_whole_batch_after_publishing_it_passes_too():
    report = c7.check_outbox_relay.run(publishes_all_then_marks_in_one_transaction)

    assert report.status == "passed", str(report)


def test_the_blank_exercise_reads_not_attempted_and_scores_zero():
    report = c7.check_outbox_relay.run(BLANK["relay_outbox"])

    assert report.status == "not attempted", str(report)
    assert report.score == 0.0 and "Traceback" not in str(report)


@pytest.mark.parametrize("label, relay, case", WRONG_ANSWERS, ids=[w[0] for w in WRONG_ANSWERS])
def test_each_wrong_relay_fails_the_case_that_names_its_symptom(label, relay, case):
    report = c7.check_outbox_relay.run(relay)

    failed = failed_cases(report)
    assert report.status == "failed", f"{label} passed"
    assert any(case in name for name in failed), f"{label} failed {sorted(failed)}, not {case!r}"


def test_the_kill_campaign_really_kills_the_relay_after_a_publish():
    """The seeded kills include one after a confirmed publish: a duplicate the consumer absorbs."""
    runs = c7.checks.kill_campaign(SOLVED["relay_outbox"])

    assert all(not run["lost"] and not run["twice after dedup"] for run in runs)
    assert any(step % 4 == 2 for run in runs for step in run["killed at steps"])


# --- the crash experiment ---------------------------------------------------------------


def test_the_outbox_loses_no_event_at_any_crash_point_and_the_dual_write_does():
    runs = c7.crash_everywhere(rounds=1)

    outbox = [r for r in runs if r.mode == "outbox"]
    assert {r.point for r in outbox} == set(c7.OUTBOX_POINTS)
    assert all(r.exitcode == -9 for r in runs)
    assert sum(r.lost for r in outbox) == 0
    assert [r.lost for r in runs if r.mode == "dual_write" and r.point == "after_commit"] == [1]
    assert [r.point for r in outbox if r.duplicated] == ["relay_after_publish"]
    assert sum(r.duplicated_after_dedup for r in runs) == 0


def test_count_damage_tells_lost_from_duplicated_and_dedups_by_message_id():
    events = [("a", 1), ("a", 1), ("b", 2), ("c", 2)]

    assert c7.count_damage({1, 2, 3}, events) == (1, 2, 1)


# --- the decision guide -----------------------------------------------------------------

EVIDENCE = {"rest_ms": 12.0, "grpc_ms": 1.5, "react_ms": 3.0, "refused_status": 409,
            "outbox_lost": 0, "outbox_kills": 8, "dual_lost": 2, "dual_kills": 6}  # fmt: skip


def answers(**changes: str) -> dict[str, str]:
    base = {key: options[0] for key, (_q, options) in c7.QUESTIONS.items()}
    return base | changes


def test_a_browser_that_waits_gets_rest_at_the_edge_with_the_measured_request_time():
    advice = c7.recommend(answers(answer_now="yes"), EVIDENCE)

    assert advice.pattern.startswith("REST")
    assert any("12.0 ms" in fact and "1.5 ms" in fact for fact in advice.evidence)


def test_a_service_that_waits_on_another_gets_grpc():
    advice = c7.recommend(answers(answer_now="yes", initiator="one of our services"), EVIDENCE)

    assert advice.pattern.startswith("gRPC")


def test_an_event_that_must_survive_a_consumer_down_cites_the_outbox_kill_counts():
    chosen = answers(answer_now="no", consumers="several, more later", survive_down="yes")

    advice = c7.recommend(chosen, EVIDENCE)

    assert advice.pattern.startswith("events")
    assert any(
        "0 events lost over 8 kills" in fact and "2 lost over 6" in fact for fact in advice.evidence
    )


def test_a_large_payload_for_one_consumer_becomes_a_thin_message_on_a_queue():
    advice = c7.recommend(answers(answer_now="no", payload="large (MBs)"), EVIDENCE)

    assert advice.pattern.startswith("a work queue") and "thin" in advice.pattern


def test_the_widget_renders_the_advice_for_its_first_answers():
    guide = c7.decision_guide(EVIDENCE)

    assert len(guide.children) == len(c7.QUESTIONS) + 1
    assert guide.children[-1].outputs, "the advice was not written into the widget's Output"
