"""Rules for the test suite itself: what may run beside what under `make test`."""

from __future__ import annotations

import ast
import re

import nbformat
from conftest import LONGEST_FIRST, SERIAL_NOTEBOOKS, SPREAD

from labsupport import config

# A call that takes a shared broker down, whatever the variable holding it is called.
OUTAGE = re.compile(r"\b(\w*(?:broker|rabbit|redis)\w*)\.(kill|restart|stop|set_persistence)\(")
OWN_BROKERS = ("tmp_path",)  # a test with a lab folder of its own disturbs nobody


def _marks(function: ast.FunctionDef) -> set[str]:
    return {ast.unparse(d).removeprefix("pytest.mark.") for d in function.decorator_list}


def test_a_test_that_stops_a_shared_broker_is_marked_serial():
    unmarked = []
    for path in sorted((config.REPO_ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
                continue
            source = ast.unparse(node)
            params = {a.arg for a in node.args.args}
            if (
                OUTAGE.search(source)
                and not params & set(OWN_BROKERS)
                and "serial" not in _marks(node)
            ):
                unmarked.append(f"{path.name}::{node.name}")
    assert unmarked == [], "mark these @pytest.mark.serial: they stop a broker other tests share"


def test_a_notebook_that_stops_a_shared_broker_runs_alone():
    stopping = []
    for path in sorted((config.REPO_ROOT / "notebooks").glob("*.ipynb")):
        code = "\n".join(
            c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"
        )
        if re.search(r"\b(rabbit|redis)\w*\.(kill|restart|stop)\(\)", code):
            stopping.append(f"notebooks/{path.name}")
    assert stopping, "no notebook stops a broker: the pattern above no longer matches the lessons"
    assert sorted(set(stopping) - set(SERIAL_NOTEBOOKS)) == [], "add these to SERIAL_NOTEBOOKS"


def test_the_scheduling_lists_name_files_that_exist():
    listed = [*SERIAL_NOTEBOOKS, *SPREAD, *LONGEST_FIRST]
    missing = [path for path in listed if not (config.REPO_ROOT / path).is_file()]
    assert missing == [], f"renamed or removed: update tests/conftest.py ({missing})"
    assert len(set(LONGEST_FIRST)) == len(LONGEST_FIRST)
    assert set(SPREAD) <= set(LONGEST_FIRST), "a spread file's tests should start early"
