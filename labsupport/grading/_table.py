"""Turn executed notebooks into grades: one row per submission, one column per task."""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

FIXED_COLUMNS = ("submission", "total_percent", "status")
NOT_THIS_LESSON = ""  # the cell of a task from another lesson than the submission's
# `from labsupport.lessons.rest01 import ...` or `from labsupport.lessons import queues04`
_LESSON_IMPORT = re.compile(r"labsupport\.lessons(?:\.|\s+import\s+)[a-z_]*?(\d{2})\b")


@dataclass
class Grade:
    """Hold what one submission's run produced: the last record of each check, and problems."""

    submission: str
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lesson: str = ""  # "" when neither its checks nor its imports say which lesson it is


def submission_lesson(nb: nbformat.NotebookNode | None, records: dict[str, dict]) -> str:
    """Return the lesson a submission belongs to: its checks' lesson, else the one it imports.

    A notebook that died before any check reported still imports its lesson's package
    (`labsupport.lessons.rest01` is lesson 01); "" when neither tells.
    """
    reported = Counter(str(r["lesson"]) for r in records.values() if r.get("lesson"))
    if reported:
        return reported.most_common(1)[0][0]
    code = "\n".join(
        c.source for c in (nb.cells if nb is not None else []) if c.cell_type == "code"
    )
    imported = Counter(_LESSON_IMPORT.findall(code))
    return imported.most_common(1)[0][0] if imported else ""


def task_lessons(grades: list[Grade]) -> dict[str, str]:
    """Return each reported task's lesson, as its check records it."""
    lessons: dict[str, str] = {}
    for grade in grades:
        for task_id, record in grade.records.items():
            if record.get("lesson"):
                lessons.setdefault(task_id, str(record["lesson"]))
    return lessons


def own_tasks(grade: Grade, tasks: list[str], lessons: dict[str, str] | None) -> list[str]:
    """Return the tasks a submission is graded on: all but those of another known lesson."""
    if not (grade.lesson and lessons):
        return list(tasks)
    return [t for t in tasks if lessons.get(t, grade.lesson) == grade.lesson]


def read_check_records(nb: nbformat.NotebookNode | None) -> dict[str, dict[str, Any]]:
    """Return the check records found in the notebook's outputs, the last one per task."""
    records: dict[str, dict[str, Any]] = {}
    for cell in nb.cells if nb is not None else []:
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get("labsupport", {}).get("check")
            if isinstance(record, dict) and isinstance(record.get("task"), str):
                records[record["task"]] = record  # a re-run check replaces the earlier one
    return records


def task_columns(grades: list[Grade], expected: list[str]) -> list[str]:
    """Return the task ids to grade: the expected ones, then any others seen, in notebook order."""
    tasks = list(dict.fromkeys(expected))
    for grade in grades:
        tasks += [t for t in grade.records if t not in tasks]
    return tasks


def build_row(
    grade: Grade, tasks: list[str], lessons: dict[str, str] | None = None
) -> dict[str, str]:
    """Return the CSV row of one submission: scores 0-1 per task, total %, status.

    With `lessons` (task -> lesson), a submission is graded on its own lesson's tasks
    only; the cells of other lessons' tasks stay empty and do not count in its total.
    """
    row = {"submission": grade.submission}
    graded = own_tasks(grade, tasks, lessons)
    scores = []
    for task_id in tasks:
        if task_id not in graded:
            row[task_id] = NOT_THIS_LESSON
            continue
        score = _score(grade.records.get(task_id))
        scores.append(score)
        row[task_id] = f"{score:.2f}"
    total = 100 * sum(scores) / len(scores) if scores else 0.0
    row["total_percent"] = f"{total:.1f}"
    row["status"] = summarize_status(grade, graded)
    return row


def summarize_status(grade: Grade, tasks: list[str]) -> str:
    """Return "ok", or every problem of the run joined by "; " (cascading cell errors folded).

    `tasks` are the ones this submission is graded on.
    """
    cell_errors = [p for p in grade.problems if p.startswith("error: cell ")]
    problems = [p for p in grade.problems if p not in cell_errors[1:]]
    if len(cell_errors) > 1:
        problems[problems.index(cell_errors[0])] += (
            f" (+{len(cell_errors) - 1} more cells with errors)"
        )
    for task_id in tasks:
        record = grade.records.get(task_id)
        if record is None:
            problems.append(f"task {task_id} never reported (its check did not run)")
        elif record.get("status") == "error":
            problems.append(f"error: task {task_id}: {_first_error(record)}")
    return "; ".join(problems) or "ok"


def write_csv(path: Path, rows: list[dict[str, str]], tasks: list[str]) -> None:
    """Write the rows to path as CSV: submission, one column per task, total_percent, status."""
    columns = ["submission", *tasks, "total_percent", "status"]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def format_summary(rows: list[dict[str, str]], tasks: list[str], status_width: int = 70) -> str:
    """Return a plain-text table of the rows for the terminal."""
    columns = ["submission", *tasks, "total_percent", "status"]
    cells = [[_clip(row[c], status_width) for c in columns] for row in rows]
    header = ["submission", *tasks, "total %", "status"]
    widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(columns))]
    lines = [
        "  ".join(text.ljust(w) for text, w in zip(line, widths, strict=True)).rstrip()
        for line in [header, *cells]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _score(record: dict[str, Any] | None) -> float:
    if record is None:
        return 0.0
    try:
        return min(1.0, max(0.0, float(record.get("score", 0.0))))
    except (TypeError, ValueError):
        return 0.0


def _first_error(record: dict[str, Any]) -> str:
    if record.get("problem"):
        return str(record["problem"])
    for case in record.get("cases", []):
        if case.get("outcome") in {"error", "timeout"}:
            return f"case {case.get('name')!r}: {case.get('message')}"
    return "the check reported an error"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
