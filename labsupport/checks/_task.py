"""Declare a task's check once with @task; learners call it on their own code."""

from __future__ import annotations

import ast
import functools
import inspect
import os
import re
import textwrap
from collections.abc import Callable
from typing import Any

from ._report import PASSED, TaskReport
from ._runner import Progress, count_background_threads, run_cases

_TASKS: dict[str, Task] = {}
_TASK_ID = re.compile(r"[a-z][a-z0-9_]*\Z")
STRICT_ENV = "LAB_CHECKS_STRICT"


class CheckFailed(AssertionError):
    """Raised in strict mode (LAB_CHECKS_STRICT=1) when a check does not pass."""


class Task:
    """Hold one task's check; call it with the learner's code to run, show and record it."""

    def __init__(
        self, body: Callable[..., Any], task_id: str, lesson: str, title: str, timeout_s: float
    ) -> None:
        functools.update_wrapper(self, body)
        self.task_id, self.lesson, self.title, self.timeout_s = task_id, lesson, title, timeout_s
        self._body = body
        full = inspect.signature(body)
        # What the learner sees with `check_x?`: the check minus its `case` parameter.
        self.__signature__ = full.replace(parameters=list(full.parameters.values())[1:])
        self._check_file = body.__code__.co_filename
        self._declared_cases = _count_cases(body)

    def run(self, *args: Any, **kwargs: Any) -> TaskReport:
        """Run the check on the learner's code and return the report without showing it."""
        try:
            self.__signature__.bind(*args, **kwargs)
        except TypeError as exc:
            params = ", ".join(self.__signature__.parameters)
            usage = f"call it as {self.__name__}({params}), passing your own code ({exc})"
            return self._report([], problem=usage)
        busy_before = count_background_threads()
        progress = Progress(self._check_file, self.timeout_s)
        run_cases(self._body, progress, args, kwargs)
        cut_short = progress.abandoned or bool(progress.problem)
        seen = len(progress.results)
        return self._report(
            progress.results,
            problem=progress.problem,
            problem_outcome=progress.problem_outcome,
            not_run=max(0, self._declared_cases - seen) if cut_short else 0,
            background_threads=busy_before,
        )

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        __tracebackhide__ = True  # IPython and pytest show the report, not this frame
        report = self.run(*args, **kwargs)
        show_report(report)
        if is_strict() and report.status != PASSED:
            raise CheckFailed(f"{STRICT_ENV} is set and the check did not pass:\n{report}")

    def __repr__(self) -> str:
        return f"<Task {self.task_id} (lesson {self.lesson}): {self.title}>"

    def _report(self, results: list, **extra: Any) -> TaskReport:
        return TaskReport(
            self.task_id,
            self.lesson,
            self.title,
            tuple(results),
            **({"background_threads": count_background_threads()} | extra),
        )


def task(
    task_id: str, *, lesson: str = "", title: str = "", timeout_s: float = 10.0
) -> Callable[[Callable[..., Any]], Task]:
    """Declare the check of one exercise task; first used in the exercise notebooks.

    The decorated function takes `case` first, then the learner's code. Each
    `with case(name, hint=...)` block is one case, run against a deadline of
    timeout_s (or the case's own `timeout_s=`). A failing `assert` inside a case
    fails that case, and its message is shown: describe the symptom, never the
    expected value.

        @task("retry_get", lesson="01", title="GET with retries")
        def check_retry_get(case, get_with_retries):
            with case("does not retry a 404", hint="Count the calls a 404 gets."):
                assert calls == 1, f"made {calls} calls for a 404"
    """
    if callable(task_id):
        raise TypeError('write @task("task_id", lesson="01", title="..."), with the parentheses')
    if not (lesson and title):
        raise TypeError(f'@task("{task_id}", ...) needs lesson= and title=, e.g. lesson="01"')
    if not _TASK_ID.match(task_id):
        raise ValueError(f"task id {task_id!r}: use lower_case letters, digits and underscores")

    def register(body: Callable[..., Any]) -> Task:
        if not inspect.signature(body).parameters:
            raise TypeError(f"{body.__name__} must take `case` as its first parameter")
        new = Task(body, task_id, lesson, title, timeout_s)
        old = _TASKS.get(task_id)
        if old is not None and _origin(old) != _origin(new):
            raise ValueError(f"task id {task_id!r} is already used by {'.'.join(_origin(old))}")
        _TASKS[task_id] = new  # a re-run cell or a reloaded module replaces its own task
        return new

    return register


def check(task_id: str, *args: Any, **kwargs: Any) -> None:
    """Run the check of task_id on your code and show what passed: check("retry_get", fn)."""
    found = _TASKS.get(task_id)
    if found is None:
        known = ", ".join(sorted(_TASKS)) or "none yet"
        raise LookupError(
            f"no task {task_id!r} is known here: run the notebook's import cell first "
            f"(tasks known: {known})"
        )
    found(*args, **kwargs)


def show_report(report: TaskReport) -> None:
    """Display the report with its record as output metadata, or print it outside IPython."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        print(report)
        return
    if get_ipython() is None:
        print(report)
        return
    display(report, metadata={"labsupport": {"check": report.to_record()}})


def is_strict() -> bool:
    """Return True when failing checks must raise (LAB_CHECKS_STRICT=1, as under nbval)."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _origin(t: Task) -> tuple[str, str]:
    return (t.__module__, t.__qualname__)


def _count_cases(body: Callable[..., Any]) -> int:
    """Count the `with case(...)` blocks in the check's source (0 when it cannot be read)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(body)))
    except (OSError, TypeError, SyntaxError):
        return 0
    case_name = next(iter(inspect.signature(body).parameters))
    return sum(
        1
        for node in ast.walk(tree)
        if isinstance(node, ast.withitem)
        and isinstance(node.context_expr, ast.Call)
        and isinstance(node.context_expr.func, ast.Name)
        and node.context_expr.func.id == case_name
    )
