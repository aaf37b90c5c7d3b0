"""Load a solved (or exercise) notebook's answers without running its checks or experiments.

Tests of a lesson's checks judge the real solution, not a copy of it:

    answers = load_answers("solutions/01_rest_with_fastapi.ipynb")
    check_retry_get.run(answers["get_with_retries"])

Only the top-level imports, `def`s and `class`es of the notebook's code cells run, in
order, in one fresh namespace; calls, assignments and anything else a cell does (start
brokers, run a check, stop services) are left out. `edits` turns the solution into a
known wrong answer, one exact text replacement at a time:

    load_answers(SOLUTION, edits=[("status_code < 500", "status_code < 400")])
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_KEPT = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def load_answers(
    notebook: str | Path, *, edits: Sequence[tuple[str, str]] = (), keep: Sequence[str] = ()
) -> dict[str, Any]:
    """Return the names a notebook's imports, functions and classes define, after `edits`.

    Each (old, new) edit replaces text that occurs exactly once in the code cells; any
    other count raises ValueError, so a wrong answer never silently equals the solution.
    `keep` names variables whose top-level assignments run too, because the answers need
    them (`keep=["shop_pb2_grpc"]` for `shop_pb2, shop_pb2_grpc = load_shop()`).
    """
    import nbformat  # only the tests and the grader need it

    path = Path(notebook)
    nb = nbformat.read(path, as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code"]
    for old, new in edits:
        found = sum(source.count(old) for source in sources)
        if found != 1:
            raise ValueError(f"{old!r} occurs {found} times in {path.name}'s code, not once")
        sources = [source.replace(old, new) for source in sources]
    space: dict[str, Any] = {"__name__": f"answers_{path.stem}"}
    for number, source in enumerate(sources):
        tree = ast.parse(source, filename=f"{path.name}, code cell {number + 1}")
        tree.body = [node for node in tree.body if isinstance(node, _KEPT) or _assigns(node, keep)]
        exec(compile(tree, f"{path}#cell{number + 1}", "exec"), space)  # noqa: S102
    return space


def _assigns(node: ast.stmt, names: Sequence[str]) -> bool:
    """Tell whether `node` is an assignment to one of `names`."""
    if not isinstance(node, ast.Assign):
        return False
    targets = [n.id for t in node.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
    return any(name in names for name in targets)
