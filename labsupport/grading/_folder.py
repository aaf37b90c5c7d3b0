"""Grade a folder of submitted notebooks: run each, read its checks, write a table."""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from ._execute import execute_notebook
from ._table import (
    Grade,
    build_row,
    format_summary,
    read_check_records,
    submission_lesson,
    task_columns,
    task_lessons,
    write_csv,
)


def grade_folder(
    folder: Path,
    *,
    cell_timeout_s: float = 60,
    notebook_timeout_s: float = 600,
    jobs: int = 1,
    tasks: list[str] | None = None,
    cwd: Path | None = None,
    executed_dir: Path | None = None,
) -> tuple[list[str], list[dict[str, str]]]:
    """Run every notebook in folder and return (task ids, one row per submission).

    A folder may mix lessons: each notebook is graded on its own lesson's tasks, and the
    columns of other lessons' tasks stay empty in its row.
    """
    paths = sorted(p for p in Path(folder).glob("*.ipynb") if p.is_file())
    if not paths:
        raise FileNotFoundError(f"no .ipynb files in {folder}: point at the submissions folder")
    if executed_dir is not None and executed_dir.resolve() == Path(folder).resolve():
        raise ValueError("--executed must be another folder, or it overwrites the submissions")

    def grade_one(path: Path) -> Grade:
        run = execute_notebook(path, cwd or path.parent, cell_timeout_s, notebook_timeout_s)
        print(f"ran {path.name} in {run.seconds:.1f} s", file=sys.stderr)
        if executed_dir is not None and run.nb is not None:
            executed_dir.mkdir(parents=True, exist_ok=True)
            nbformat.write(run.nb, executed_dir / path.name)
        records = read_check_records(run.nb)
        lesson = submission_lesson(run.nb, records)
        return Grade(path.name, records, run.problems, run.seconds, lesson)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        grades = list(pool.map(grade_one, paths))
    columns, lessons = task_columns(grades, tasks or []), task_lessons(grades)
    return columns, [build_row(g, columns, lessons) for g in grades]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m labsupport.grading", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("submissions", type=Path, help="folder of submitted .ipynb files")
    parser.add_argument("--csv", type=Path, default=Path("grades.csv"), help="where to write")
    parser.add_argument("--timeout-per-cell", type=float, default=60.0, metavar="S")
    parser.add_argument("--timeout-per-notebook", type=float, default=600.0, metavar="S")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks run at once (default 1)")
    parser.add_argument("--tasks", default="", help="comma-separated task ids always graded")
    parser.add_argument(
        "--cwd", type=Path, help="kernel working folder (default: the submission's)"
    )
    parser.add_argument("--executed", type=Path, help="also save the executed notebooks here")
    args = parser.parse_args(argv)
    try:
        tasks, rows = grade_folder(
            args.submissions,
            cell_timeout_s=args.timeout_per_cell,
            notebook_timeout_s=args.timeout_per_notebook,
            jobs=args.jobs,
            tasks=[t.strip() for t in args.tasks.split(",") if t.strip()],
            cwd=args.cwd,
            executed_dir=args.executed,
        )
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    write_csv(args.csv, rows, tasks)
    print(format_summary(rows, tasks))
    print(f"\nwrote {args.csv} ({len(rows)} submissions, {len(tasks)} tasks)")
    return 0
