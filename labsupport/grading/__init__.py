"""Grade a folder of submitted exercise notebooks into a CSV and a summary table.

    python -m labsupport.grading SUBMISSIONS_DIR --csv grades.csv [--timeout-per-cell 60]
        [--timeout-per-notebook 600] [--jobs 1] [--tasks a,b] [--cwd DIR] [--executed DIR]

Each *.ipynb in the folder runs in a fresh kernel of the grader's own Python (so the
installed labsupport is the one imported, whatever kernelspecs exist), outputs
cleared first, errors allowed so later cells still run. A cell over its time limit is
interrupted; if the kernel is not back within 5 s it is killed and the rest is not
run. The kernel's working folder is the submission's own folder, as with `jupyter
nbconvert --execute` (labsupport is installed, so imports work from anywhere); pass
`--cwd exercises` when notebooks open files relative to the course's exercises/.

Scores come from the records each check leaves in its output's metadata; the last
record of a task counts. Score per task: the fraction of its cases passed (0-1);
total_percent is the mean over tasks. Tasks are the ones any submission reported,
plus --tasks, so a notebook that died early still gets every column, scored 0. A
folder may mix lessons: each notebook is graded only on its own lesson's tasks (the
lesson its checks report, else the `labsupport.lessons.<name>NN` package it imports);
other lessons' columns stay empty in its row and do not count in its total.
The status is "ok" or its problems joined by "; ": "timeout in cell N (...)",
"error: cell N: NameError: ...", "error: task T: case '...': ...", "task T never
reported (...)"; cell N is the N-th code cell, shown as [N] in the --executed copy.
"""

from __future__ import annotations

from ._folder import grade_folder, main
from ._table import Grade

__all__ = ["Grade", "grade_folder", "main"]
