"""What a check found: one result per case, the task's status, and how it reads.

A report only ever holds the case names, the check author's own failure messages,
the hints, and the type and text of exceptions the learner's code raised. Expected
values never reach it, so it cannot give the answer away.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

PASSED = "passed"
FAILED = "failed"
ERROR = "error"
TIMEOUT = "timeout"
NOT_ATTEMPTED = "not attempted"

_MARKS = {PASSED: "✓", FAILED: "✗", ERROR: "✗", TIMEOUT: "✗", NOT_ATTEMPTED: "·"}
_COLOURS = {PASSED: "#1a7f37", NOT_ATTEMPTED: "#6e7781"}
_NOT_ATTEMPTED_TEXT = (
    "not attempted yet (it still raises NotImplementedError): write it, run its cell, "
    "then run this check again"
)


@dataclass(frozen=True)
class CaseResult:
    """Hold how one case of a check ended."""

    name: str
    outcome: str  # passed | failed | error | timeout | not attempted
    message: str = ""
    hint: str = ""


@dataclass(frozen=True)
class TaskReport:
    """Hold the outcome of one run of a task's check, and show it in a notebook or a console."""

    task_id: str
    lesson: str
    title: str
    cases: tuple[CaseResult, ...]
    problem: str = ""  # what went wrong outside any case (setup, wrong call, a hang)
    not_run: int = 0  # cases that never started because an earlier one hung
    background_threads: int = 0  # abandoned learner code still running in this process
    problem_outcome: str = field(default=ERROR, repr=False)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.cases if c.outcome == PASSED)

    @property
    def total(self) -> int:
        return len(self.cases) + self.not_run

    @property
    def score(self) -> float:
        """Return the fraction of cases passed, in [0, 1]."""
        return self.passed / self.total if self.total else 0.0

    @property
    def status(self) -> str:
        """Return "passed", "failed", "not attempted" or "error"."""
        outcomes = {c.outcome for c in self.cases}
        if self.problem:
            if self.problem_outcome != NOT_ATTEMPTED:
                return ERROR
            outcomes.add(NOT_ATTEMPTED)
        if outcomes == {PASSED} and not self.not_run:
            return PASSED
        if outcomes & {ERROR, TIMEOUT}:
            return ERROR
        if NOT_ATTEMPTED in outcomes and not outcomes & {PASSED, FAILED}:
            return NOT_ATTEMPTED
        return FAILED

    def to_record(self) -> dict[str, Any]:
        """Return the machine-readable summary the grader reads from a notebook's outputs."""
        return {
            "lesson": self.lesson,
            "task": self.task_id,
            "title": self.title,
            "status": self.status,
            "passed": self.passed,
            "total": self.total,
            "score": round(self.score, 4),
            "problem": self.problem,
            "cases": [
                {"name": c.name, "outcome": c.outcome, "message": c.message} for c in self.cases
            ],
        }

    def headline(self) -> str:
        """Return one line: which task, and how it went."""
        what = f"Task {self.task_id} (lesson {self.lesson}): {self.title}"
        if self.status == NOT_ATTEMPTED:
            return f"{what}: {_NOT_ATTEMPTED_TEXT} (0 points)"
        if not self.total:
            return f"{what}: the check could not run"
        return f"{what}: {self.passed} of {self.total} cases passed"

    def _notes(self) -> list[str]:
        notes = []
        if self.problem and self.status != NOT_ATTEMPTED:
            notes.append(self.problem)
        if self.not_run:
            notes.append(f"{self.not_run} more case(s) did not run: the check stopped early")
        if self.background_threads:
            notes.append(
                f"{self.background_threads} earlier check run(s) still busy in the background: "
                "restart the kernel if the notebook gets slow"
            )
        return notes

    def __str__(self) -> str:
        lines = [self.headline()]
        if self.status != NOT_ATTEMPTED:
            for c in self.cases:
                lines.append(f"  {_MARKS[c.outcome]} {c.name}")
                if c.outcome != PASSED:
                    lines.append(f"      what happened: {c.message}")
                    lines.append(f"      hint: {c.hint}")
        lines += [f"  ! {note}" for note in self._notes()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<TaskReport {self.task_id}: {self.status}, {self.passed}/{self.total} cases>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        colour = _COLOURS.get(self.status, "#cf222e")
        parts = [f'<div><p style="color:{colour};font-weight:bold">{_esc(self.headline())}</p>']
        if self.status != NOT_ATTEMPTED and self.cases:
            parts.append(
                "<table><tr><th></th><th>case</th><th>what happened</th><th>hint</th></tr>"
            )
            for c in self.cases:
                ok = c.outcome == PASSED
                mark_colour = _COLOURS.get(c.outcome, "#cf222e")
                parts.append(
                    f'<tr><td style="color:{mark_colour}">{_MARKS[c.outcome]}</td>'
                    f'<td style="text-align:left">{_esc(c.name)}</td>'
                    f'<td style="text-align:left">{"" if ok else _esc(c.message)}</td>'
                    f'<td style="text-align:left">{"" if ok else _esc(c.hint)}</td></tr>'
                )
            parts.append("</table>")
        parts += [f"<p>{_esc(note)}</p>" for note in self._notes()]
        parts.append("</div>")
        return "".join(parts)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)
