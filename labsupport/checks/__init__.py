"""Check exercise tasks: run the learner's code, show what passed and a hint, never the answer.

A lesson's checks module declares each task once:

    from labsupport.checks import task

    @task("retry_get", lesson="01", title="GET with retries")
    def check_retry_get(case, get_with_retries):
        with case("does not retry a 404", hint="A 404 will not go away by asking again."):
            ...
            assert calls == 1, f"made {calls} calls for a 404"

and the learner runs `check_retry_get(get_with_retries)` (or `check("retry_get",
get_with_retries)`) in the exercise notebook. The check shows a table of cases with
✓/✗, the failure message and the hint, and records lesson, task, cases passed and
status in the output's metadata (`metadata["labsupport"]["check"]`) for the grader.

- Score: the fraction of cases passed, in [0, 1]; an untouched task (its body still
  raises NotImplementedError) is "not attempted" and scores 0.
- Each case has a deadline (the task's `timeout_s`, 10 s unless set, or the case's own
  `timeout_s=`); learner code that passes it is abandoned in a background thread and
  the case reported as too slow.
- The check body runs in a thread of its own, with no event loop running: a case may
  call `asyncio.run(...)` on the learner's coroutine, which a cell cannot.
- Exceptions from the learner's code are reported per case, never raised, unless
  LAB_CHECKS_STRICT=1 (set when the solutions run under nbval): then a check that
  does not pass raises CheckFailed after showing its report.
"""

from __future__ import annotations

from ._report import CaseResult, TaskReport
from ._task import STRICT_ENV, CheckFailed, Task, check, show_report, task

__all__ = [
    "CaseResult",
    "CheckFailed",
    "STRICT_ENV",
    "Task",
    "TaskReport",
    "check",
    "show_report",
    "task",
]
