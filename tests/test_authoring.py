"""Authoring: exercises are generated from solutions, blanked where marked, and checked for drift."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from labsupport import config
from labsupport.authoring import (
    CELL_PLACEHOLDER,
    MarkerError,
    find_stale,
    generate_exercise,
    main,
    render_exercise,
    write_exercises,
)

TASK_CELL = '''import time


def retry_call(fn, attempts):
    """Call fn() until it does not raise ConnectionError, at most `attempts` times."""
    ### BEGIN SOLUTION
    for attempt in range(attempts):
        try:
            return fn()
        except ConnectionError:
            time.sleep(0.01 * 2**attempt)
    ### END SOLUTION


retry_call'''

EXPECTED_TASK_CELL = '''import time


def retry_call(fn, attempts):
    """Call fn() until it does not raise ConnectionError, at most `attempts` times."""
    raise NotImplementedError("Write this part: see the docstring above")


retry_call'''


def build_solution() -> nbformat.NotebookNode:
    """Return a solution notebook using every kind of marker, run once (it has outputs)."""
    cells = [
        new_markdown_cell(
            "# Retries\nWhy back off?\n<!-- BEGIN SOLUTION -->\nBecause of retry storms.\n"
            "<!-- END SOLUTION -->\nNow write it."
        ),
        new_code_cell(TASK_CELL, execution_count=1, outputs=[new_output("stream", text="hi\n")]),
        new_code_cell("answer = 42\nanswer", metadata={"tags": ["solution"]}),
        new_markdown_cell("The answer is 42.", metadata={"tags": ["solution"]}),
        new_code_cell("### BEGIN SOLUTION\nsecret = 'sesame'\n### END SOLUTION\nprint('done')"),
    ]
    cells[1].metadata["execution"] = {"iopub.execute_input": "2024-01-01T00:00:00Z"}
    cells[1].metadata["tags"] = ["keep-me"]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


@pytest.fixture
def root(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(build_solution(), tmp_path / "solutions" / "01_retries.ipynb")
    return tmp_path


def exercise_of(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return generate_exercise(nb, "01_retries.ipynb")


def test_marked_lines_become_one_raise_at_the_markers_indentation_keeping_def_and_docstring():
    exercise = exercise_of(build_solution())

    assert exercise.cells[1].source == EXPECTED_TASK_CELL


def test_a_marked_region_at_the_top_of_a_cell_keeps_the_lines_after_it():
    exercise = exercise_of(build_solution())

    assert exercise.cells[4].source == (
        "raise NotImplementedError(\"Write this part: see the docstring above\")\nprint('done')"
    )


def test_a_code_cell_tagged_solution_is_replaced_whole():
    exercise = exercise_of(build_solution())

    assert exercise.cells[2].source == CELL_PLACEHOLDER
    assert "42" not in exercise.cells[3].source


def test_markdown_between_solution_comments_is_removed():
    exercise = exercise_of(build_solution())

    assert exercise.cells[0].source == "# Retries\nWhy back off?\nNow write it."


def test_no_solution_text_survives_anywhere_in_the_exercise_file(root):
    write_exercises(root)
    text = (root / "exercises" / "01_retries.ipynb").read_text(encoding="utf-8")

    for leaked in ("retry storms", "time.sleep(0.01", "sesame", "answer = 42", "SOLUTION"):
        assert leaked not in text


def test_outputs_counts_and_timings_are_stripped_while_other_metadata_is_kept():
    solution = build_solution()
    exercise = exercise_of(solution)

    task_cell = exercise.cells[1]
    assert task_cell.outputs == [] and task_cell.execution_count is None
    assert "execution" not in task_cell.metadata
    assert task_cell.metadata["tags"] == ["keep-me"]
    assert task_cell.id == solution.cells[1].id
    assert exercise.metadata["kernelspec"] == solution.metadata["kernelspec"]
    assert solution.cells[1].outputs, "the solution itself must not be changed"


def test_the_exercise_is_marked_as_generated_and_says_where_to_edit():
    exercise = exercise_of(build_solution())

    generated = exercise.metadata["labsupport"]["generated"]
    assert generated["from"] == "solutions/01_retries.ipynb"
    assert "do not edit" in generated["note"].lower()
    assert "python -m labsupport.authoring" in generated["note"]


def test_every_generated_code_cell_still_compiles(root):
    write_exercises(root)
    exercise = nbformat.read(root / "exercises" / "01_retries.ipynb", as_version=4)
    nbformat.validate(exercise)

    for index, cell in enumerate(exercise.cells):
        if cell.cell_type == "code":
            compile(cell.source, f"cell {index}", "exec")


def test_generating_twice_gives_byte_identical_files_ending_in_a_newline(root):
    write_exercises(root)
    first = (root / "exercises" / "01_retries.ipynb").read_bytes()
    (root / "exercises" / "01_retries.ipynb").unlink()
    write_exercises(root)
    second = (root / "exercises" / "01_retries.ipynb").read_bytes()

    assert first == second
    assert first.endswith(b"}\n")
    assert render_exercise(root / "solutions" / "01_retries.ipynb").encode() == first


@pytest.mark.parametrize(
    ("source", "complaint"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1", "line 2: '### BEGIN SOLUTION' has no"),
        ("x = 1\n### END SOLUTION", "line 2: '### END SOLUTION' without"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
            "line 2: '### BEGIN SOLUTION' inside",
        ),
        ("## BEGIN SOLUTION\nsecret = 1\n## END SOLUTION", "looks like a marker"),
    ],
)
def test_unbalanced_or_misspelt_markers_name_the_notebook_cell_and_line(source, complaint):
    nb = new_notebook(cells=[new_markdown_cell("# T"), new_code_cell(source)])

    with pytest.raises(MarkerError) as caught:
        generate_exercise(nb, "03_grpc.ipynb")

    assert "03_grpc.ipynb, cell 1" in str(caught.value)
    assert complaint in str(caught.value)


def test_unbalanced_markdown_markers_are_refused_too():
    nb = new_notebook(cells=[new_markdown_cell("<!-- BEGIN SOLUTION -->\nthe answer")])

    with pytest.raises(MarkerError, match="04_queues.ipynb, cell 0, line 1"):
        generate_exercise(nb, "04_queues.ipynb")


def test_check_passes_when_exercises_are_current(root, capsys):
    assert main(["--root", str(root)]) == 0

    assert main(["--root", str(root), "--check"]) == 0
    assert find_stale(root) == []


def test_check_fails_and_lists_an_exercise_that_drifted_from_its_solution(root, capsys):
    main(["--root", str(root)])
    solution = nbformat.read(root / "solutions" / "01_retries.ipynb", as_version=4)
    solution.cells[0].source += "\nOne more sentence."
    nbformat.write(solution, root / "solutions" / "01_retries.ipynb")
    capsys.readouterr()

    assert main(["--root", str(root), "--check"]) == 1

    out = capsys.readouterr().out
    assert "stale: exercises/01_retries.ipynb: differs" in out
    assert "run python -m labsupport.authoring" in out


def test_check_lists_missing_exercises_and_exercises_without_a_solution(root):
    main(["--root", str(root)])
    (root / "exercises" / "09_orphan.ipynb").write_text("{}", encoding="utf-8")
    nbformat.write(build_solution(), root / "solutions" / "02_new.ipynb")

    assert find_stale(root) == [
        "exercises/02_new.ipynb: missing",
        "exercises/09_orphan.ipynb: has no solutions/09_orphan.ipynb",
    ]


def test_a_hand_edit_of_a_generated_exercise_is_detected(root):
    main(["--root", str(root)])
    path = root / "exercises" / "01_retries.ipynb"
    path.write_text(path.read_text(encoding="utf-8").replace("Now write it.", "Edited."))

    assert find_stale(root) == [
        "exercises/01_retries.ipynb: differs from what solutions/01_retries.ipynb gives"
    ]


def test_a_root_without_solutions_is_a_clear_error(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "--check"]) == 2

    assert "no solutions/ folder" in capsys.readouterr().err


def test_the_command_runs_as_a_module_and_reports_marker_errors(root):
    nb = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")])
    nbformat.write(nb, root / "solutions" / "05_bad.ipynb")

    done = subprocess.run(
        [sys.executable, "-m", "labsupport.authoring", "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2
    assert "05_bad.ipynb, cell 0, line 1" in done.stderr


@pytest.mark.parametrize(
    "solution",
    sorted((config.REPO_ROOT / "solutions").glob("*.ipynb")),
    ids=lambda path: path.name,
)
def test_every_committed_exercise_is_what_the_generator_makes_from_its_solution(solution):
    exercise = config.REPO_ROOT / "exercises" / solution.name
    assert exercise.exists(), f"{exercise} is missing: run python -m labsupport.authoring"
    assert exercise.read_text(encoding="utf-8") == render_exercise(solution), (
        f"{exercise} is stale: edit {solution}, then run python -m labsupport.authoring"
    )
