"""Lesson 07: the outbox loses nothing under real kills; the relay check passes the solution and fails wrong answers."""

from __future__ import annotations

import os
import time

import pika
import pytest

from labsupport import config
from labsupport.checks import load_answers
from labsupport.lessons import choosing07 as c7
from labsupport.lessons.choosing07 import checks
from labsupport.lessons.choosing07._fixtures import RelayRig

NOTEBOOK = "07_choosing_and_combining.ipynb"
SOLUTION = config.REPO_ROOT / "solutions" / NOTEBOOK
EXERCISE = config.REPO_ROOT / "exercises" / NOTEBOOK
pytestmark = pytest.mark.broker
SOLVED, BLANK = load_answers(SOLUTION), load_answers(EXERCISE)


@pytest.fixture(autouse=True)
def _brokers(rabbit_broker):
    """Every test here needs RabbitMQ (never skipped under CI)."""


# --- wrong answers: the solution with one mistake each ----------------------------------

PUBLISH = 'channel.basic_publish("", queue, payload.encode(), props)  # raises if refused'
MARK = 'db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), row_id))'
UNMARK = 'db.execute("UPDATE outbox SET sent_at = NULL WHERE id = ?", (row_id,))'
SIGNATURE = "def relay_outbox(db: sqlite3.Connection, channel, queue: str) -> int:"
SELECT = '"SELECT id, payload FROM outbox WHERE sent_at IS NULL ORDER BY id").fetchall()'
MARKED_LATE = f"republishes the row under the same id.\n        {MARK}\n        db.commit()"
REFUSED, KILLED = "broker refused", "loses no event when SIGKILLed"
DEDUP, IN_ORDER = "idempotent consumer recognises", "in the order they were written"
MARKED, SECOND, EVERY = "marked sent, as another connection", "second pass", "every unsent row once"
AGAIN = "never publishes again a row that reads sent"
WRONG_ANSWERS = {  # name: (edits to the solution, the cases it must fail and no other)
    "marks rows sent before publishing": (
        [(PUBLISH, f"{MARK}\n        db.commit()\n        {PUBLISH}"), (MARKED_LATE, "republishes the row.")],
        {KILLED, REFUSED}),
    "a fresh message id per publish": ([('message_id=f"outbox-{row_id}"', "message_id=str(time.time_ns())")], {DEDUP}),
    "no message id at all": ([('message_id=f"outbox-{row_id}", ', "")], {DEDUP}),
    "no publisher confirms": ([("channel.confirm_delivery()", "pass")], {REFUSED}),
    "swallows a refusal and marks the row": (
        [(PUBLISH, f"try:\n            {PUBLISH}\n        except Exception:\n            pass")], {REFUSED}),
    "newest rows first": ([('ORDER BY id"', 'ORDER BY id DESC"')], {IN_ORDER}),
    "never commits the mark": ([("        db.commit()\n", "")], {MARKED, SECOND}),
    "republishes rows already sent": ([(" WHERE sent_at IS NULL", "")], {SECOND, AGAIN}),
    "marks every pending row at the end": (
        [(f"{MARK}\n        db.commit()\n    return len(rows)",
          'pass\n    db.execute("UPDATE outbox SET sent_at = ? WHERE sent_at IS NULL", (time.time(),))\n'
          "    db.commit()\n    return len(rows)")],
        {"written while it was running"}),
    "returns nothing": ([("return len(rows)", "return None")], {EVERY, SECOND}),
    "transient messages": ([("delivery_mode=2", "delivery_mode=1")], {"persistent"}),
    # Only a real kill catches this one (and the claim below): the `except` that undoes the
    # early mark runs when an exception unwinds the relay, never when its process is SIGKILLed.
    "marks first and unmarks when the publish raises": (
        [(PUBLISH, f"try:\n            {MARK}\n            db.commit()\n            {PUBLISH}\n"
                   f"        except BaseException:\n            {UNMARK}\n            db.commit()\n"
                   "            raise"),
         (MARKED_LATE, "republishes the row.")],
        {KILLED}),
    # Only a restarted process catches this one: its memory of what it sent is gone.
    "remembers in memory which rows it sent": (
        [(SIGNATURE, SIGNATURE.replace("queue: str)", "queue: str, done=[0])")),
         (SELECT, SELECT.replace("sent_at IS NULL", "id > ?").replace(").fetchall()", ", done).fetchall()")),
         (MARKED_LATE, f"{MARKED_LATE}\n        done[0] = row_id")],
        {AGAIN}),
}  # fmt: skip


def claims_every_row_then_releases_the_unpublished_on_error(db, channel, queue):
    """Marks all rows sent first (a claim), publishes, and un-marks the rest if anything raises.

    Only a real kill catches it: a SIGKILL after the claim skips the `finally`.
    """
    channel.confirm_delivery()
    rows = db.execute("SELECT id, payload FROM outbox WHERE sent_at IS NULL ORDER BY id").fetchall()
    published = 0
    try:
        with db:
            db.executemany(
                "UPDATE outbox SET sent_at = ? WHERE id = ?", [(time.time(), r) for r, _ in rows]
            )
        for row_id, payload in rows:
            props = pika.BasicProperties(message_id=str(row_id), delivery_mode=2)
            channel.basic_publish("", queue, payload.encode(), props)
            published += 1
    finally:
        if published < len(rows):
            with db:
                db.executemany(
                    "UPDATE outbox SET sent_at = NULL WHERE id = ?",
                    [(r,) for r, _ in rows[published:]],
                )
    return len(rows)


def publishes_all_then_marks_in_one_transaction(db, channel, queue):
    """A correct variant: duplicates after a kill, all under the rows' own ids."""
    channel.confirm_delivery()
    rows = db.execute("SELECT id, payload FROM outbox WHERE sent_at IS NULL ORDER BY id").fetchall()
    for row_id, payload in rows:
        props = pika.BasicProperties(message_id=str(row_id), delivery_mode=2)
        channel.basic_publish("", queue, payload.encode(), props)
    with db:
        db.executemany(
            "UPDATE outbox SET sent_at = ? WHERE id = ?", [(time.time(), r) for r, _ in rows]
        )
    return len(rows)


def runs_forever(db, channel, queue):
    """Keeps polling the outbox instead of making one pass."""
    channel.confirm_delivery()
    while True:
        for row_id, payload in db.execute("SELECT id, payload FROM outbox WHERE sent_at IS NULL"):
            channel.basic_publish(
                "", queue, payload.encode(), pika.BasicProperties(message_id=str(row_id))
            )
            db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", (time.time(), row_id))
            db.commit()
        time.sleep(0.05)


def failed_cases(report) -> dict[str, str]:
    return {c.name: c.message for c in report.cases if c.outcome != "passed"}


def assert_fails_exactly(report, targets: set[str], name: str) -> None:
    failed = failed_cases(report)
    hit = {target for target in targets if any(target in case for case in failed)}
    stray = [case for case in failed if not any(target in case for target in targets)]
    assert hit == targets and not stray, f"{name} failed {sorted(failed)}"


# --- the check --------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(3))
def test_the_solution_notebook_passes_every_case_run_after_run(attempt):
    report = c7.check_outbox_relay.run(SOLVED["relay_outbox"])

    assert report.status == "passed", str(report)
    assert report.score == 1.0 and report.total >= 10


def test_a_relay_that_marks_a_whole_batch_after_publishing_it_passes_too():
    report = c7.check_outbox_relay.run(publishes_all_then_marks_in_one_transaction)

    assert report.status == "passed", str(report)


def test_the_blank_exercise_reads_not_attempted_and_scores_zero():
    report = c7.check_outbox_relay.run(BLANK["relay_outbox"])

    assert report.status == "not attempted", str(report)
    assert report.score == 0.0 and "Traceback" not in str(report)


@pytest.mark.parametrize("name", sorted(WRONG_ANSWERS))
def test_each_wrong_relay_fails_exactly_the_cases_that_name_its_symptom(name):
    edits, targets = WRONG_ANSWERS[name]
    relay = load_answers(SOLUTION, edits=edits)["relay_outbox"]

    report = c7.check_outbox_relay.run(relay)

    assert_fails_exactly(report, targets, name)


def test_a_relay_that_claims_rows_and_releases_them_in_finally_loses_events_to_a_kill():
    report = c7.check_outbox_relay.run(claims_every_row_then_releases_the_unpublished_on_error)

    assert_fails_exactly(report, {KILLED}, "claims, then releases in finally")


def test_a_relay_that_never_returns_fails_with_a_message_about_it_instead_of_hanging():
    report = c7.check_outbox_relay.run(runs_forever)

    first = failed_cases(report).get("publishes every unsent row once and returns how many", "")
    assert "did nothing for" in first and "so the check killed it" in first, str(report)
    assert not any(r.outcome == "timeout" for r in report.cases), str(report)


def test_the_kill_campaign_sigkills_real_processes_after_publishes_and_before_commits():
    runs = checks.kill_campaign(SOLVED["relay_outbox"])

    kills = [kill for run in runs for kill in run["killed at"]]
    assert all(
        not run["lost"] and not run["again"] and not run["twice after dedup"] for run in runs
    )
    assert kills and all("exit code -9" in kill for kill in kills)
    assert any("(published order" in kill for kill in kills)
    assert any("(committing" in kill for kill in kills)


def test_a_relay_process_is_a_fork_of_this_one_and_forgets_it_on_restart():
    remembered: list[int] = []

    def relay(db, channel, queue):
        remembered.append(os.getpid())
        return len(remembered)

    with RelayRig() as rig:
        with rig.start(relay) as life:
            first, second = life.run_pass().result, life.run_pass().result
        again = rig.run(relay).result

    assert (first, second, again) == (1, 2, 1)
    assert remembered == []


# --- the crash experiment ---------------------------------------------------------------


def test_the_outbox_loses_no_event_at_any_crash_point_and_the_dual_write_does():
    runs = c7.crash_everywhere(rounds=1, progress=False)

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
