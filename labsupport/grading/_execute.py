"""Run one submitted notebook in a fresh kernel of this Python, within time limits.

Each code cell gets `cell_timeout_s`. A cell that passes it is interrupted (SIGINT, as
the stop button does); if the kernel answers within a few seconds the run goes on with
the next cell, otherwise the kernel is killed and the remaining cells are not run. The
whole notebook also has `notebook_timeout_s`. Errors never stop the run
(`allow_errors`), so every check after a broken cell still reports.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

import nbformat
import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import ensure_async
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from ..checks import STRICT_ENV

INTERRUPT_GRACE_S = 5.0
# nbclient logs each timeout as an error; the grader reports it in the row instead.
_QUIET_LOG = logging.getLogger("labsupport.grading.nbclient")
_QUIET_LOG.setLevel(logging.CRITICAL)


@dataclass
class Execution:
    """Hold an executed notebook (None if it could not be read) and what went wrong."""

    nb: nbformat.NotebookNode | None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _ThisPython(KernelSpecManager):
    """Resolve every kernel name to ipykernel in the grader's own Python.

    A kernelspec named python3 in the user's Jupyter folders may point at another
    environment, one without labsupport; the grader must use its own.
    """

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            display_name="Python (grader)",
            language="python",
            resource_dir="",
            metadata={"supported_encryption": ["curve"]},
        )


def execute_notebook(
    path: Path, cwd: Path, cell_timeout_s: float, notebook_timeout_s: float
) -> Execution:
    """Execute the notebook at path in a new kernel started in cwd; never raise for its content."""
    started = time.monotonic()
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - a broken upload is a row, not a crash
        return Execution(None, [f"error: not a readable notebook ({type(exc).__name__}: {exc})"])
    for cell in nb.cells:  # stale outputs could carry forged or old check results
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    result = Execution(nb)
    asyncio.run(_run_cells(result, cwd, cell_timeout_s, started + notebook_timeout_s))
    result.seconds = time.monotonic() - started
    return result


async def _run_cells(result: Execution, cwd: Path, cell_timeout_s: float, deadline: float) -> None:
    env = {k: v for k, v in os.environ.items() if k != STRICT_ENV}  # checks must report, not raise
    km = AsyncKernelManager(
        kernel_name="python3",
        kernel_spec_manager=_ThisPython(),
        transport_encryption="auto" if zmq.has("curve") else "disabled",
    )
    client = NotebookClient(
        result.nb, km=km, allow_errors=True, record_timing=False, log=_QUIET_LOG
    )
    then = "go"
    try:
        await km.start_kernel(cwd=str(cwd), env=env)
        await client.async_start_new_kernel_client()
        code_cells = [(i, c) for i, c in enumerate(result.nb.cells) if c.cell_type == "code"]
        for number, (index, cell) in enumerate(code_cells, start=1):
            problem, then = await _run_cell(client, cell, (index, number), cell_timeout_s, deadline)
            if problem:
                result.problems.append(problem)
            if then != "go":
                break
    except Exception as exc:  # noqa: BLE001 - e.g. the kernel would not start
        result.problems.append(f"error: could not run the notebook ({type(exc).__name__}: {exc})")
    finally:
        await _shut_down(client, km, now=then == "kill")


async def _run_cell(
    client: NotebookClient,
    cell: nbformat.NotebookNode,
    where: tuple[int, int],
    cell_timeout_s: float,
    deadline: float,
) -> tuple[str, str]:
    """Run one code cell; return (the problem or "", then: "go", "stop" or "kill")."""
    index, number = where
    remaining_s = deadline - time.monotonic()
    if remaining_s <= 0:
        return f"timeout before cell {number} (notebook time limit reached; rest not run)", "kill"
    client.timeout = max(1, math.ceil(min(cell_timeout_s, remaining_s)))
    try:
        await client.async_execute_cell(cell, index, execution_count=number)
    except CellTimeoutError:
        if remaining_s <= cell_timeout_s:
            return f"timeout in cell {number} (notebook time limit reached; rest not run)", "kill"
        if await _interrupt(client):
            return f"timeout in cell {number} (interrupted after {client.timeout} s)", "go"
        return f"timeout in cell {number} (kernel killed; later cells not run)", "kill"
    except DeadKernelError:
        return f"error: the kernel died in cell {number}; later cells not run", "stop"
    error = _cell_error(cell)
    return (f"error: cell {number}: {error}" if error else ""), "go"


async def _interrupt(client: NotebookClient) -> bool:
    """Interrupt the kernel; return True if it is ready for the next cell within the grace time."""
    await ensure_async(client.km.interrupt_kernel())
    msg_id = client.kc.kernel_info()  # answered only once the interrupted cell has ended
    deadline = time.monotonic() + INTERRUPT_GRACE_S
    while (left_s := deadline - time.monotonic()) > 0:
        try:
            reply = await ensure_async(client.kc.shell_channel.get_msg(timeout=left_s))
        except Empty:
            return False
        if reply["parent_header"].get("msg_id") == msg_id:
            return True
    return False


async def _shut_down(client: NotebookClient, km: AsyncKernelManager, now: bool) -> None:
    try:
        if client.kc is not None:
            client.kc.stop_channels()
        if km.has_kernel:
            await km.shutdown_kernel(now=now)
    except Exception as exc:  # noqa: BLE001 - a kernel that is already gone is fine
        print(f"warning: kernel shutdown: {exc}", file=sys.stderr)


def _cell_error(cell: nbformat.NotebookNode) -> str:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
            return text if len(text) <= 120 else text[:117] + "..."
    return ""
