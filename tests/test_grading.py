"""Grading: a folder of notebooks becomes one row per submission, whatever the notebooks do."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labsupport.authoring import write_exercises
from labsupport.grading import Grade, grade_folder, main
from labsupport.grading._table import build_row, submission_lesson, summarize_status, task_columns

# The check is defined in the notebook itself, so the demo needs no module on disk.
CHECK_CELL = '''from labsupport.checks import task


class Flaky:
    def __init__(self, failures):
        self.failures, self.count = failures, 0

    def __call__(self):
        self.count += 1
        if self.count <= self.failures:
            raise ConnectionError("refused")
        return "ok"


@task("retry_call", lesson="99", title="Retry a flaky call", timeout_s=2)
def check_retry_call(case, retry_call):
    with case("returns once a failing call succeeds", hint="The first calls fail: do you try again?"):
        assert retry_call(Flaky(failures=2), attempts=5) == "ok", "did not return the call's result"
    with case("gives up after the allowed attempts", hint="Count the calls to a call that always fails."):
        flaky = Flaky(failures=100)
        try:
            retry_call(flaky, attempts=3)
        except ConnectionError:
            pass
        assert flaky.count == 3, f"made {flaky.count} calls with attempts=3"'''

TASK_CELL = '''def retry_call(fn, attempts):
    """Call fn() until it does not raise ConnectionError, at most `attempts` times."""
    ### BEGIN SOLUTION
    for attempt in range(attempts):
        try:
            return fn()
        except ConnectionError:
            if attempt == attempts - 1:
                raise
    ### END SOLUTION'''

LOOPING_TASK_CELL = '''def retry_call(fn, attempts):
    """Call fn() until it does not raise ConnectionError, at most `attempts` times."""
    while True:
        pass'''


def build_solution() -> nbformat.NotebookNode:
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Demo exercise\nWrite `retry_call`, then run its check."),
            new_code_cell(CHECK_CELL),
            new_code_cell(TASK_CELL),
            new_code_cell("check_retry_call(retry_call)"),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


def with_cell(nb: nbformat.NotebookNode, source: str, at: int = 3) -> nbformat.NotebookNode:
    changed = nbformat.from_dict(nb)
    changed.cells.insert(at, new_code_cell(source))
    return changed


def read_rows(path):
    with path.open(newline="", encoding="utf-8") as f:
        return {row["submission"]: row for row in csv.DictReader(f)}


def test_a_folder_with_blank_solved_and_looping_copies_grades_0_100_and_an_error_row(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(build_solution(), tmp_path / "solutions" / "99_demo.ipynb")
    write_exercises(tmp_path)
    submissions = tmp_path / "submissions"
    submissions.mkdir()
    shutil.copy(tmp_path / "exercises" / "99_demo.ipynb", submissions / "ada_blank.ipynb")
    shutil.copy(tmp_path / "solutions" / "99_demo.ipynb", submissions / "bob_solved.ipynb")
    looping = build_solution()
    looping.cells[2].source = LOOPING_TASK_CELL
    nbformat.write(looping, submissions / "cy_loops.ipynb")

    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "labsupport.grading", str(submissions), "--csv", "grades.csv"]
        + ["--timeout-per-cell", "10", "--timeout-per-notebook", "60"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=170,
    )
    print(f"graded 3 notebooks in {time.monotonic() - started:.1f} s")

    assert done.returncode == 0, done.stderr
    rows = read_rows(tmp_path / "grades.csv")
    assert list(rows["ada_blank.ipynb"]) == ["submission", "retry_call", "total_percent", "status"]
    assert (rows["ada_blank.ipynb"]["total_percent"], rows["ada_blank.ipynb"]["status"]) == (
        "0.0",
        "ok",
    )
    assert rows["bob_solved.ipynb"]["retry_call"] == "1.00"
    assert (rows["bob_solved.ipynb"]["total_percent"], rows["bob_solved.ipynb"]["status"]) == (
        "100.0",
        "ok",
    )
    loops = rows["cy_loops.ipynb"]
    assert loops["total_percent"] == "0.0"
    assert loops["status"].startswith("error: task retry_call:")
    assert "took longer than 2 s" in loops["status"]
    for name in ("ada_blank.ipynb", "bob_solved.ipynb", "cy_loops.ipynb"):
        assert name in done.stdout  # the summary table


@pytest.fixture(scope="module")
def edge_rows(tmp_path_factory):
    """Grade, once, a folder of notebooks that misbehave in the ways a class manages to."""
    folder = tmp_path_factory.mktemp("edge")
    solution = build_solution()
    nbformat.write(with_cell(solution, "while True:\n    pass"), folder / "spins.ipynb")
    stubborn = "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
    stubborn += "while True:\n    time.sleep(0.05)"
    nbformat.write(with_cell(solution, stubborn), folder / "ignores_interrupts.ipynb")
    nbformat.write(with_cell(solution, "import os\nos._exit(3)"), folder / "exits.ipynb")
    broken = with_cell(with_cell(solution, "1 / 0"), "undefined_name")
    nbformat.write(broken, folder / "raises.ipynb")
    # A passing record saved in a cell that will never run: only clearing it first stops it.
    forged = nbformat.read(folder / "ignores_interrupts.ipynb", as_version=4)
    record = {"lesson": "99", "task": "retry_call", "status": "passed", "score": 1.0}
    forged.cells[4].outputs = [
        new_output("display_data", {"text/plain": "ok"}, metadata={"labsupport": {"check": record}})
    ]
    nbformat.write(forged, folder / "stale_outputs.ipynb")
    tasks, rows = grade_folder(folder, cell_timeout_s=3, notebook_timeout_s=60, jobs=2)
    assert tasks == ["retry_call"]
    return {row["submission"]: row for row in rows}


def test_a_cell_that_loops_forever_is_interrupted_and_the_checks_after_it_still_report(edge_rows):
    row = edge_rows["spins.ipynb"]

    assert row["status"] == "timeout in cell 3 (interrupted after 3 s)"
    assert row["retry_call"] == "1.00"


def test_a_kernel_that_ignores_interrupts_is_killed_and_its_unreported_task_scores_zero(edge_rows):
    row = edge_rows["ignores_interrupts.ipynb"]

    assert row["status"].startswith("timeout in cell 3 (kernel killed; later cells not run)")
    assert "task retry_call never reported" in row["status"]
    assert row["retry_call"] == "0.00"


def test_a_kernel_that_dies_is_an_error_row_saying_where(edge_rows):
    row = edge_rows["exits.ipynb"]

    assert row["status"].startswith("error: the kernel died in cell 3")
    assert row["total_percent"] == "0.0"


def test_cell_errors_are_named_once_and_the_cells_after_them_still_run(edge_rows):
    row = edge_rows["raises.ipynb"]

    assert row["status"] == (
        "error: cell 3: NameError: name 'undefined_name' is not defined (+1 more cells with errors)"
    )
    assert row["retry_call"] == "1.00"


def test_outputs_saved_in_a_submission_are_cleared_before_grading(edge_rows):
    row = edge_rows["stale_outputs.ipynb"]

    assert row["retry_call"] == "0.00"
    assert "task retry_call never reported" in row["status"]


def test_a_task_named_up_front_gets_a_column_even_when_no_submission_reported_it():
    grades = [Grade("a.ipynb", {"t1": {"task": "t1", "status": "passed", "score": 1.0}})]

    tasks = task_columns(grades, ["t0"])
    row = build_row(grades[0], tasks)

    assert tasks == ["t0", "t1"]
    assert (row["t0"], row["t1"], row["total_percent"]) == ("0.00", "1.00", "50.0")
    assert row["status"] == "task t0 never reported (its check did not run)"


def test_a_check_that_reported_an_error_is_named_in_the_status():
    record = {
        "task": "t1",
        "status": "error",
        "score": 0.5,
        "problem": "",
        "cases": [{"name": "x", "outcome": "error", "message": "KeyError: 'id'"}],
    }

    status = summarize_status(Grade("a.ipynb", {"t1": record}), ["t1"])

    assert status == "error: task t1: case 'x': KeyError: 'id'"


def test_an_empty_folder_is_a_clear_error(tmp_path, capsys):
    assert main([str(tmp_path), "--csv", str(tmp_path / "g.csv")]) == 2

    assert "no .ipynb files" in capsys.readouterr().err


def test_a_notebook_over_its_time_limit_stops_and_its_unreported_task_scores_zero(tmp_path):
    slow = with_cell(build_solution(), "import time\ntime.sleep(3)")
    nbformat.write(with_cell(slow, "time.sleep(3)", at=4), tmp_path / "slow.ipynb")

    tasks, [row] = grade_folder(
        tmp_path, cell_timeout_s=10, notebook_timeout_s=5, tasks=["retry_call"]
    )

    assert tasks == ["retry_call"]  # named up front, as no submission reached its check

    assert "notebook time limit reached" in row["status"]
    assert "task retry_call never reported" in row["status"]
    assert row["retry_call"] == "0.00"


def test_each_notebook_runs_in_this_python_inside_its_own_folder(tmp_path, monkeypatch):
    folder, executed = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    probe = (
        "import os, sys\nprint(sys.executable, os.getcwd(), os.environ.get('LAB_CHECKS_STRICT'))"
    )
    nbformat.write(new_notebook(cells=[new_code_cell(probe)]), folder / "probe.ipynb")
    monkeypatch.setenv("LAB_CHECKS_STRICT", "1")  # must not reach the kernel: checks report there

    grade_folder(folder, cell_timeout_s=30, executed_dir=executed)

    printed = nbformat.read(executed / "probe.ipynb", as_version=4).cells[0].outputs[0].text
    python, cwd, strict = printed.split()
    assert (python, Path(cwd).resolve(), strict) == (sys.executable, folder.resolve(), "None")


def test_a_folder_mixing_lessons_grades_each_notebook_on_its_own_lessons_tasks(tmp_path):
    nbformat.write(build_solution(), tmp_path / "ada_lesson99.ipynb")
    other = build_solution()
    other.cells[1].source = CHECK_CELL.replace(
        '"retry_call", lesson="99"', '"retry_twice", lesson="98"'
    )
    other.cells[1].source = other.cells[1].source.replace(
        "def check_retry_call", "def check_retry_twice"
    )
    other.cells[3].source = "check_retry_twice(retry_call)"
    nbformat.write(other, tmp_path / "bob_lesson98.ipynb")

    tasks, rows = grade_folder(tmp_path, cell_timeout_s=10, notebook_timeout_s=60, jobs=2)

    by_name = {row["submission"]: row for row in rows}
    assert sorted(tasks) == ["retry_call", "retry_twice"]
    assert {k: by_name["ada_lesson99.ipynb"][k] for k in (*tasks, "total_percent", "status")} == {
        "retry_call": "1.00", "retry_twice": "", "total_percent": "100.0", "status": "ok"
    }  # fmt: skip
    assert {k: by_name["bob_lesson98.ipynb"][k] for k in (*tasks, "total_percent", "status")} == {
        "retry_call": "", "retry_twice": "1.00", "total_percent": "100.0", "status": "ok"
    }  # fmt: skip


def test_a_notebook_that_died_before_its_checks_is_graded_on_the_lesson_it_imports():
    died = new_notebook(
        cells=[new_code_cell("from labsupport.lessons.rest01 import check_gateway")]
    )
    ran = {"t4": {"task": "t4", "lesson": "04", "status": "passed", "score": 1.0}}
    grades = [
        Grade("died.ipynb", {}, ["error: cell 1: NameError"], lesson=submission_lesson(died, {})),
        Grade("ran.ipynb", ran, lesson=submission_lesson(None, ran)),
    ]
    lessons = {"t1": "01", "t4": "04"}

    rows = [build_row(g, ["t1", "t4"], lessons) for g in grades]

    assert [g.lesson for g in grades] == ["01", "04"]
    assert (rows[0]["t1"], rows[0]["t4"], rows[0]["total_percent"]) == ("0.00", "", "0.0")
    assert (
        rows[0]["status"]
        == "error: cell 1: NameError; task t1 never reported (its check did not run)"
    )
    assert (rows[1]["t1"], rows[1]["t4"], rows[1]["total_percent"], rows[1]["status"]) == (
        "", "1.00", "100.0", "ok"
    )  # fmt: skip


def test_a_notebook_whose_lesson_is_unknown_is_graded_on_every_task():
    grade = Grade("mystery.ipynb", {})

    row = build_row(grade, ["t1", "t4"], {"t1": "01", "t4": "04"})

    assert (row["t1"], row["t4"], row["total_percent"]) == ("0.00", "0.00", "0.0")
