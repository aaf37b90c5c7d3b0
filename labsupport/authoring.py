"""Generate exercises/NN_name.ipynb from solutions/NN_name.ipynb; check they are current.

Authors edit only solutions/ and mark what the learner writes, with nbgrader's markers:

- in a code cell, lines between `### BEGIN SOLUTION` and `### END SOLUTION` become one
  `raise NotImplementedError(...)` at the BEGIN marker's indentation (the `def` line and
  the docstring outside the markers stay);
- a cell tagged `solution` is blanked whole;
- in markdown, lines between `<!-- BEGIN SOLUTION -->` and `<!-- END SOLUTION -->` go.

Outputs and execution counts are dropped and the output is byte-for-byte stable, so
`python -m labsupport.authoring --check` can fail CI when an exercise is stale.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

CODE_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
MARKDOWN_MARKERS = ("<!-- BEGIN SOLUTION -->", "<!-- END SOLUTION -->")
CODE_PLACEHOLDER = 'raise NotImplementedError("Write this part: see the docstring above")'
CELL_PLACEHOLDER = (
    "# Write this cell: see the task above.\n"
    'raise NotImplementedError("Write this cell: see the task above")'
)
MARKDOWN_PLACEHOLDER = "*Write your answer here.*"
SOLUTION_TAG = "solution"
REGENERATE = "python -m labsupport.authoring"


class MarkerError(ValueError):
    """Raised when solution markers in a notebook are unbalanced or misspelt."""


def generate_exercise(solution: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """Return the exercise notebook for a solution notebook (name is used in messages)."""
    nb = copy.deepcopy(solution)
    for index, cell in enumerate(nb.cells):
        where = f"{name}, cell {index}"
        tagged = SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code":
            cell.source = CELL_PLACEHOLDER if tagged else blank_regions(cell.source, where, True)
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)  # timings nbclient leaves behind
        elif cell.cell_type == "markdown":
            cell.source = (
                MARKDOWN_PLACEHOLDER if tagged else blank_regions(cell.source, where, False)
            )
    nb.metadata.setdefault("labsupport", {})["generated"] = {
        "from": f"solutions/{name}",
        "note": f"Do not edit: edit solutions/{name} and run {REGENERATE}",
    }
    return nb


def blank_regions(source: str, where: str, code: bool) -> str:
    """Replace each marked region of a cell's source (code: a raise; markdown: nothing)."""
    begin, end = CODE_MARKERS if code else MARKDOWN_MARKERS
    kept: list[str] = []
    opened_on = 0
    for number, line in enumerate(source.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker == begin:
            if opened_on:
                raise MarkerError(
                    f"{where}, line {number}: {begin!r} inside the region opened on line "
                    f"{opened_on}: close that one with {end!r} first"
                )
            opened_on = number
            if code:
                indent = line[: len(line) - len(line.lstrip())]
                kept.append(f"{indent}{CODE_PLACEHOLDER}\n")
        elif marker == end:
            if not opened_on:
                raise MarkerError(f"{where}, line {number}: {end!r} without a {begin!r} before it")
            opened_on = 0
        elif "BEGIN SOLUTION" in marker.upper() or "END SOLUTION" in marker.upper():
            raise MarkerError(
                f"{where}, line {number}: {marker!r} looks like a marker but is not "
                f"{begin!r} or {end!r} exactly; fix it so the solution is not leaked"
            )
        elif not opened_on:
            kept.append(line)
    if opened_on:
        raise MarkerError(f"{where}, line {opened_on}: {begin!r} has no {end!r} after it")
    text = "".join(kept)
    return text if source.endswith("\n") else text.removesuffix("\n")


def render_exercise(solution_path: Path) -> str:
    """Return the exact text of the exercise file generated from solution_path."""
    solution = nbformat.read(solution_path, as_version=4)
    text = nbformat.writes(generate_exercise(solution, solution_path.name))
    return text if text.endswith("\n") else text + "\n"


def find_stale(root: Path) -> list[str]:
    """Return a line per exercise that is missing, out of date or has no solution."""
    stale = []
    solutions = _solution_paths(root)
    for path in solutions:
        target = root / "exercises" / path.name
        if not target.exists():
            stale.append(f"exercises/{path.name}: missing")
        elif target.read_text(encoding="utf-8") != render_exercise(path):
            stale.append(f"exercises/{path.name}: differs from what solutions/{path.name} gives")
    names = {p.name for p in solutions}
    for path in sorted((root / "exercises").glob("*.ipynb")):
        if path.name not in names:
            stale.append(f"exercises/{path.name}: has no solutions/{path.name}")
    return stale


def write_exercises(root: Path) -> list[Path]:
    """Regenerate every exercise from its solution; return the files that changed."""
    (root / "exercises").mkdir(exist_ok=True)
    changed = []
    for path in _solution_paths(root):
        target = root / "exercises" / path.name
        text = render_exercise(path)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            changed.append(target)
    return changed


def _solution_paths(root: Path) -> list[Path]:
    folder = root / "solutions"
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no solutions/ folder under {root}: pass --root with the repo root"
        )
    return sorted(folder.glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    """Run the command line: regenerate exercises, or with --check report stale ones."""
    parser = argparse.ArgumentParser(prog=REGENERATE, description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    parser.add_argument("--check", action="store_true", help="exit 1 if exercises are stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            stale = find_stale(args.root)
            for line in stale:
                print(f"stale: {line}")
            if stale:
                print(f"run {REGENERATE} and commit exercises/")
            return 1 if stale else 0
        changed = write_exercises(args.root)
        for path in changed:
            print(f"wrote {path.relative_to(args.root)}")
        if not changed:
            print("exercises/ is up to date")
    except (MarkerError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
