"""What every lesson's check tests assert, written once (rule 5 in `labsupport.checks`).

A lesson's test file names its tasks and loads both notebooks, then takes the two tests
every check owes from here:

    TASKS = {"retry_get": (check_retry_get, "get_with_retries"), ...}
    SOLVED, BLANK = load_answers(SOLUTION), load_answers(EXERCISE)
    test_the_solution_passes_every_case_run_after_run, test_the_blank_exercise_scores_zero = (
        solution_and_blank_tests(TASKS, SOLVED, BLANK, runs=5, min_cases=8)
    )

and judges each of its own wrong answers with `assert_fails_its_cases`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest

Tasks = Mapping[str, tuple]  # task id -> (check, name of the answer in the notebook)
Answers = Mapping | Callable[[], Mapping]


def _names(answers: Answers) -> Mapping:
    return answers() if callable(answers) else answers


def failed_cases(report) -> dict[str, str]:
    """Return {case name: message} for the cases of `report` that did not pass."""
    return {c.name: c.message for c in report.cases if c.outcome != "passed"}


def assert_fails_its_cases(report, expected: str | Sequence[str], *, exactly: bool = False) -> None:
    """Assert the answer failed every case `expected` names a part of, each with a hint.

    With `exactly`, no other case may fail: one mistake, one failing case.
    """
    parts = [expected] if isinstance(expected, str) else list(expected)
    failed = failed_cases(report)
    assert report.status in ("failed", "error"), str(report)
    not_failed = [part for part in parts if not any(part in name for name in failed)]
    unexplained = [n for n in failed if not any(p in n for p in parts)] if exactly else []
    assert (not_failed, unexplained) == ([], []), str(report)
    assert all(c.hint for c in report.cases if c.outcome != "passed"), str(report)


def solution_and_blank_tests(
    tasks: Tasks, solved: Answers, blank: Answers, *, runs: int, min_cases: int
) -> tuple[Callable, Callable]:
    """Return the two tests: the solution passes `runs` times in a row; the blank scores 0.

    `solved` and `blank` are the notebooks' names, or functions returning them when loading
    must wait until a test runs.
    """

    @pytest.mark.parametrize("task_id", sorted(tasks))
    def test_the_solution_passes_every_case_run_after_run(task_id):
        check, name = tasks[task_id]

        reports = [check.run(_names(solved)[name]) for _ in range(runs)]

        assert [r.status for r in reports] == ["passed"] * runs, "\n".join(map(str, reports))
        assert reports[0].score == 1.0 and reports[0].total >= min_cases

    @pytest.mark.parametrize("task_id", sorted(tasks))
    def test_the_blank_exercise_reads_not_attempted_and_scores_zero(task_id):
        check, name = tasks[task_id]

        report = check.run(_names(blank)[name])

        assert report.status == "not attempted", str(report)
        assert report.score == 0.0 and "Traceback" not in str(report)
        assert "not attempted yet" in str(report)

    return (
        test_the_solution_passes_every_case_run_after_run,
        test_the_blank_exercise_reads_not_attempted_and_scores_zero,
    )


def wrong_answer_tests(
    tasks: Tasks, wrong: Mapping[str, Mapping[str, tuple]], earlier: Mapping[str, int], make
) -> tuple[Callable, Callable]:
    """Return the two tests of a lesson's wrong answers.

    `wrong[task_id][mistake]` is a tuple whose second item names the cases that mistake
    must fail (and no other); `make(task_id, mistake)` builds the answer. Each task needs
    at least 8 wrong answers besides the `earlier[task_id]` an earlier review wrote.
    """

    @pytest.mark.parametrize(
        ("task_id", "mistake"), [(t, m) for t in wrong for m in wrong[t]], ids=lambda x: x
    )
    def test_a_wrong_answer_fails_exactly_the_cases_that_target_its_mistake(task_id, mistake):
        check, _ = tasks[task_id]

        report = check.run(make(task_id, mistake))

        assert_fails_its_cases(report, wrong[task_id][mistake][1], exactly=True)

    def test_every_task_has_at_least_eight_wrong_answers_of_our_own():
        ours = {task_id: len(wrong.get(task_id, ())) - earlier[task_id] for task_id in tasks}

        assert min(ours.values()) >= 8, ours

    return (
        test_a_wrong_answer_fails_exactly_the_cases_that_target_its_mistake,
        test_every_task_has_at_least_eight_wrong_answers_of_our_own,
    )
