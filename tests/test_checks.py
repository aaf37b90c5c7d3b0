"""Checks: pass the solution, report each wrong answer with a hint, never show the answer."""

from __future__ import annotations

import importlib.util
import json
import math
import threading
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from labsupport.checks import CheckFailed, check, load_answers, task

# The demo task lives in a module of its own, as a lesson's checks will: pytest rewrites
# asserts in test files (adding the compared values), which no lesson module gets.
DEMO_CHECKS = '''
from labsupport.checks import task

SECRET = "tok-4b1d"


class Flaky:
    """A call that raises ConnectionError `failures` times, then returns SECRET."""

    def __init__(self, failures, error=ConnectionError):
        self.failures, self.error, self.count = failures, error, 0

    def __call__(self):
        self.count += 1
        if self.count <= self.failures:
            raise self.error("refused")
        return SECRET


@task("demo_retry", lesson="99", title="Retry a flaky call", timeout_s=1)
def check_demo_retry(case, retry_call):
    with case("returns once a failing call succeeds", hint="The first calls fail: do you try again?"):
        assert retry_call(Flaky(failures=2), attempts=5) == SECRET
    with case("gives up after the allowed attempts", hint="Count the calls to a call that always fails."):
        flaky = Flaky(failures=100)
        try:
            retry_call(flaky, attempts=3)
        except ConnectionError:
            pass
        assert flaky.count == 3, f"made {flaky.count} calls with attempts=3"
    with case("lets other errors through at once", hint="Is a ValueError a network problem?"):
        flaky = Flaky(failures=100, error=ValueError)
        try:
            retry_call(flaky, attempts=3)
        except ValueError:
            pass
        assert flaky.count == 1, f"called {flaky.count} times although the error was a ValueError"
'''


@pytest.fixture
def demo(tmp_path):
    path = tmp_path / "demo_checks.py"
    path.write_text(DEMO_CHECKS, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("demo_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def solution(fn, attempts):
    for attempt in range(attempts):
        try:
            return fn()
        except ConnectionError:
            if attempt == attempts - 1:
                raise


def blank(fn, attempts):
    raise NotImplementedError("Write this part: see the docstring above")


def one_call_too_many(fn, attempts):
    for _ in range(attempts):
        try:
            return fn()
        except ConnectionError:
            pass
    return fn()


def retries_everything(fn, attempts):
    for attempt in range(attempts):
        try:
            return fn()
        except Exception:
            if attempt == attempts - 1:
                raise


def returns_something_else(fn, attempts):
    return "a wrong token"


def crashes(fn, attempts):
    return len(attempts)  # a TypeError from the learner's own line


def test_the_solution_passes_every_case_and_scores_one(demo):
    report = demo.check_demo_retry.run(solution)

    assert report.status == "passed"
    assert (report.passed, report.total, report.score) == (3, 3, 1.0)
    assert "3 of 3 cases passed" in str(report)


def test_an_untouched_task_is_not_attempted_with_zero_points_and_no_traceback(demo):
    report = demo.check_demo_retry.run(blank)

    assert report.status == "not attempted"
    assert report.score == 0.0
    assert "not attempted yet" in str(report)
    assert "Traceback" not in str(report) and "Traceback" not in report._repr_html_()


def test_a_wrong_answer_fails_with_the_authors_message_and_the_hint(demo):
    report = demo.check_demo_retry.run(one_call_too_many)

    assert report.status == "failed"
    outcomes = {c.name: c.outcome for c in report.cases}
    assert outcomes["gives up after the allowed attempts"] == "failed"
    assert outcomes["returns once a failing call succeeds"] == "passed"
    for text in (str(report), report._repr_html_()):
        assert "made 4 calls with attempts=3" in text
        assert "Count the calls to a call that always fails." in text
    assert report.score == pytest.approx(2 / 3)


def test_a_second_known_wrong_answer_fails_a_different_case(demo):
    report = demo.check_demo_retry.run(retries_everything)

    failed = [c.name for c in report.cases if c.outcome != "passed"]
    assert failed == ["lets other errors through at once"]
    assert "called 3 times although the error was a ValueError" in str(report)


def test_the_expected_value_is_never_shown_even_by_an_assert_without_a_message(demo):
    report = demo.check_demo_retry.run(returns_something_else)

    first = report.cases[0]
    assert first.outcome == "failed"
    assert first.message == "the result was not what this case expects"
    shown = str(report) + report._repr_html_() + json.dumps(report.to_record())
    assert demo.SECRET not in shown
    assert "retry_call(Flaky" not in shown  # nor the check's own source


def test_an_exception_in_the_learners_code_is_reported_per_case_with_its_type(demo):
    report = demo.check_demo_retry.run(crashes)

    assert report.status == "error"
    first = report.cases[0]
    assert first.outcome == "error"
    assert first.message.startswith("TypeError:")
    assert "raised in crashes" in first.message
    assert first.hint == "The first calls fail: do you try again?"
    assert len(report.cases) == 3  # the cases after it still ran


def test_an_assert_in_the_learners_own_code_is_an_error_not_a_failed_expectation(demo):
    def asserts(fn, attempts):
        assert attempts > 10, "my own sanity check"

    report = demo.check_demo_retry.run(asserts)

    assert report.cases[0].outcome == "error"
    assert report.cases[0].message.startswith("AssertionError: my own sanity check")


def test_a_case_that_hangs_is_cut_by_its_timeout_and_the_rest_are_not_run(demo):
    release = threading.Event()
    entered = threading.Event()

    def hangs(fn, attempts):
        entered.set()
        release.wait(60)  # bounded, so the thread ends even if the test dies before set()

    try:
        started = time.monotonic()
        report = demo.check_demo_retry.run(hangs)
        elapsed_s = time.monotonic() - started

        assert entered.is_set() and not release.is_set()  # cut while the learner's call was stuck
        assert elapsed_s >= 1.0
        first = report.cases[0]
        assert first.outcome == "timeout"
        assert "took longer than 1 s" in first.message
        assert report.status == "error"
        assert (report.passed, report.total, report.not_run) == (0, 3, 2)
        later = demo.check_demo_retry.run(solution)
        assert later.status == "passed"
        assert later.background_threads >= 1
        assert "still busy in the background" in str(later)
    finally:
        release.set()


def test_by_default_a_failing_check_prints_its_report_and_does_not_raise(demo, capsys, monkeypatch):
    monkeypatch.delenv("LAB_CHECKS_STRICT", raising=False)

    assert demo.check_demo_retry(one_call_too_many) is None

    out = capsys.readouterr().out
    assert "2 of 3 cases passed" in out and "hint:" in out


@pytest.mark.parametrize("answer", [blank, one_call_too_many, crashes])
def test_strict_mode_raises_check_failed_when_the_check_does_not_pass(demo, monkeypatch, answer):
    monkeypatch.setenv("LAB_CHECKS_STRICT", "1")

    with pytest.raises(CheckFailed, match="LAB_CHECKS_STRICT"):
        demo.check_demo_retry(answer)


def test_strict_mode_stays_quiet_when_the_check_passes(demo, monkeypatch):
    monkeypatch.setenv("LAB_CHECKS_STRICT", "1")

    demo.check_demo_retry(solution)


def test_check_by_task_id_runs_the_registered_task(demo, capsys):
    check("demo_retry", solution)

    assert "3 of 3 cases passed" in capsys.readouterr().out


def test_an_unknown_task_id_says_what_to_run_first():
    with pytest.raises(LookupError, match="run the notebook's import cell first"):
        check("no_such_task", solution)


def test_calling_a_check_without_the_learners_code_reports_how_to_call_it(demo):
    report = demo.check_demo_retry.run()

    assert report.status == "error"
    assert "call it as check_demo_retry(retry_call)" in str(report)


def test_the_record_for_the_grader_carries_lesson_task_counts_and_status(demo):
    record = demo.check_demo_retry.run(one_call_too_many).to_record()

    assert record["lesson"] == "99" and record["task"] == "demo_retry"
    assert (record["passed"], record["total"], record["status"]) == (2, 3, "failed")
    assert record["score"] == pytest.approx(2 / 3, abs=1e-3)
    json.dumps(record)  # must survive the trip through the notebook file


def test_in_ipython_the_report_is_displayed_with_the_record_in_its_metadata(demo, monkeypatch):
    # A stand-in shell only: a real InteractiveShell leaves IPython's builtins behind for
    # every later test. The real display path is covered by test_grading, which reads
    # these records back from notebooks run in real kernels.
    import IPython
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython, "get_ipython", lambda: object())
    monkeypatch.setattr(IPython.display, "display", lambda obj, **kw: shown.append((obj, kw)))

    demo.check_demo_retry(one_call_too_many)

    [(report, options)] = shown
    assert report._repr_html_().startswith("<div>")
    assert options["metadata"]["labsupport"]["check"] == report.to_record()
    assert options["metadata"]["labsupport"]["check"]["status"] == "failed"


def test_the_html_report_escapes_what_the_learners_code_raised(demo):
    def raises_markup(fn, attempts):
        raise RuntimeError("<script>alert(1)</script>")

    html = demo.check_demo_retry.run(raises_markup)._repr_html_()

    assert "<script>" not in html and "&lt;script&gt;" in html


def test_a_task_id_used_by_another_check_is_refused(demo):
    with pytest.raises(ValueError, match="already used by demo_checks.check_demo_retry"):

        @task("demo_retry", lesson="99", title="Another")
        def check_other(case, fn):
            pass


def test_the_decorator_without_parentheses_is_refused_with_the_right_spelling():
    with pytest.raises(TypeError, match=r'@task\("task_id"'):

        @task
        def check_x(case, fn):
            pass


def test_a_task_without_lesson_or_title_is_refused():
    with pytest.raises(TypeError, match="lesson= and title="):
        task("demo_untitled")


def test_a_check_with_no_cases_is_an_error_for_its_author():
    @task("demo_no_cases", lesson="99", title="Nothing")
    def check_nothing(case, fn):
        fn()

    report = check_nothing.run(lambda: None)

    assert report.status == "error"
    assert "ran no cases" in str(report)


# --- load_answers: the real solution for the tests, and wrong answers made from it --------

SOLVED_NOTEBOOK_CELLS = [
    "import math\n\nprint('set-up that must not run in tests')\nSTARTED = True",
    'def area(r):\n    """Return the area of a circle."""\n    return math.pi * r**2\n\n\narea(1)',
    "check_area(area)",
]


@pytest.fixture
def solved_notebook(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# Demo")])
    nb.cells += [new_code_cell(source) for source in SOLVED_NOTEBOOK_CELLS]
    path = tmp_path / "99_demo.ipynb"
    nbformat.write(nb, path)
    return path


def test_load_answers_runs_only_the_imports_functions_and_classes(solved_notebook, capsys):
    answers = load_answers(solved_notebook)

    assert answers["area"](2) == pytest.approx(4 * math.pi)
    assert "STARTED" not in answers and "check_area" not in answers
    assert capsys.readouterr().out == ""


def test_load_answers_applies_an_edit_that_occurs_exactly_once(solved_notebook):
    wrong = load_answers(solved_notebook, edits=[("math.pi * r**2", "2 * math.pi * r")])

    assert wrong["area"](3) == pytest.approx(6 * math.pi)


@pytest.mark.parametrize("old", ["not in the notebook", "r"])
def test_load_answers_refuses_an_edit_found_nowhere_or_more_than_once(solved_notebook, old):
    with pytest.raises(ValueError, match="not once"):
        load_answers(solved_notebook, edits=[(old, "x")])
