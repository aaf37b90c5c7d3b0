"""Drive the course as a learner meets it: JupyterLab started as `make lab` does, in Debian's chromium.

`Lab` starts `python -m labsupport.lab run -- jupyter lab ...` with a lab folder of its own
(its own brokers), a token, 127.0.0.1 and a free port, serving a temporary copy of the
course so the browser's autosave never writes into the repository. `Notebook` opens one
notebook in a page and runs cells through JupyterLab's own menus and keys. Every wait is
bounded and says what it waited for.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from labsupport import config

CHROMIUM = Path(os.environ.get("LAB_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
NO_NEWS = {"fetchNews": "false", "checkForUpdates": False}
ERROR_NAME = r"/^\w*(Error|Exception|Interrupt|Exit)\b/m"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((config.HOST, 0))
        return sock.getsockname()[1]


def copy_course(root: Path) -> Path:
    """Copy notebooks/ (and the exercises they link to) under root; return root."""
    for folder in ("notebooks", "exercises"):
        source = config.REPO_ROOT / folder
        if source.is_dir():
            shutil.copytree(source, root / folder, ignore=shutil.ignore_patterns(".*", "_*"))
    return root


class Lab:
    """JupyterLab started exactly as `make lab` starts it, in a folder of its own."""

    def __init__(self, root: Path, state: Path, start_timeout_s: float = 120.0) -> None:
        self.root, self.state = root, state
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://{config.HOST}:{self.port}"
        settings = state / "user-settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True, exist_ok=True)
        (settings / "notification.jupyterlab-settings").write_text(json.dumps(NO_NEWS))
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "AMQP_URL")}
        env.update(
            LAB_DIR=str(state / "lab"),  # its own brokers: stopping them spares the caller's
            JUPYTERLAB_SETTINGS_DIR=str(state / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
            JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        )
        py = sys.executable
        cmd = [py, "-m", "labsupport.lab", "run", "--", py, "-m", "jupyter", "lab"]
        cmd += [
            f"--ServerApp.root_dir={root}",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.ip={config.HOST}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--no-browser",
        ]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log_path = state / "jupyter.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            cmd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready(start_timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.api("status"), timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.25)
        raise TimeoutError(f"JupyterLab did not answer within {timeout_s:.0f} s:\n{self.log()}")

    def api(self, path: str) -> str:
        return f"{self.url}/api/{path}?token={self.token}"

    def shutdown_kernels(self) -> None:
        """Stop every kernel this lab runs (closing a page leaves its kernel running)."""
        with urllib.request.urlopen(self.api("sessions"), timeout=10) as reply:
            sessions = json.load(reply)
        for session in sessions:
            request = urllib.request.Request(self.api(f"sessions/{session['id']}"), method="DELETE")
            urllib.request.urlopen(request, timeout=30).close()

    def lab_url(self, path: str) -> str:
        return f"{self.url}/lab/tree/{path}?token={self.token}&reset"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop JupyterLab like Ctrl-C does; the lab supervisor then stops its brokers."""
        if self.process.poll() is None:
            # Ctrl-C reaches the whole group: the supervisor waits for JupyterLab (which
            # takes its kernels along), then stops the brokers.
            os.killpg(self.process.pid, signal.SIGINT)  # JupyterLab asks to confirm...
            time.sleep(0.2)
            os.killpg(self.process.pid, signal.SIGINT)  # ...a second Ctrl-C quits at once
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self._log.close()


def launch_chromium(playwright):
    """Debian's chromium, headless, with the flags this kind of machine needs (no download)."""
    if not CHROMIUM.exists():
        raise RuntimeError(
            f"{CHROMIUM} not found: run 'make test' (it apt-installs chromium) or set LAB_CHROMIUM"
        )
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


class Notebook:
    """One notebook open in JupyterLab in a browser page, driven through menus and keys."""

    def __init__(self, page, lab: Lab, path: str, open_timeout_s: float = 90.0) -> None:
        self.page, self.lab, self.path = page, lab, path
        self.errors_in_page: list[str] = []
        page.on("pageerror", lambda exc: self.errors_in_page.append(str(exc)))
        page.goto(lab.lab_url(path), timeout=open_timeout_s * 1000)
        self.panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first
        expected = len(json.loads((lab.root / path).read_text())["cells"])
        self._wait(
            lambda: self.panel.locator(".jp-Cell").count() == expected and self._kernel_ready(),
            open_timeout_s,
            f"{expected} cells shown and the kernel idle",
        )

    def _wait(self, ready, timeout_s: float, what: str, steady_s: float = 1.5) -> None:
        """Poll `ready` until it holds for steady_s in a row; raise TimeoutError naming `what`."""
        deadline = time.monotonic() + timeout_s
        since = None
        while time.monotonic() < deadline:
            if ready():
                since = since or time.monotonic()
                if time.monotonic() - since >= steady_s:
                    return
            else:
                since = None
            time.sleep(0.25)
        raise TimeoutError(f"{self.path}: no {what} within {timeout_s:.0f} s")

    def _kernel_ready(self) -> bool:
        # A slow first kernel start can make JupyterLab ask which kernel to use: pick the
        # notebook's own (the default button), as a learner would.
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in dialog.inner_text():
            dialog.locator(".jp-mod-accept").click()
            return False
        return self.kernel_status() == "idle"

    @property
    def code_cells(self):
        return self.panel.locator(".jp-CodeCell")

    def kernel_status(self) -> str:
        indicator = self.page.locator(".jp-Notebook-ExecutionIndicator").first
        return indicator.get_attribute("data-status") or ""

    def prompts(self) -> list[str]:
        # textContent, not innerText: cells scrolled out of view are not laid out
        # (content-visibility), and innerText of those is empty.
        return self.code_cells.locator(".jp-InputArea-prompt").all_text_contents()

    def run_all(self, timeout_s: float) -> float:
        """Run > Run All Cells; wait until nothing runs or waits; return the seconds it took."""
        start = time.monotonic()
        self.page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        self.page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        self.wait_done(timeout_s, started=start)
        return time.monotonic() - start

    def wait_done(self, timeout_s: float, started: float | None = None) -> None:
        """Wait until the kernel is idle and no cell shows [*] (running or queued)."""
        spent = time.monotonic() - (started or time.monotonic())
        self._wait(
            lambda: not any("*" in p for p in self.prompts()) and self._kernel_ready(),
            timeout_s - spent,
            "end of the run (no [*] prompt, kernel idle)",
        )

    def run_cell(self, index: int, timeout_s: float = 60.0) -> None:
        """Select code cell `index` by its prompt and run it in place (Ctrl-Enter)."""
        cell = self.code_cells.nth(index)
        cell.scroll_into_view_if_needed()
        before = cell.locator(".jp-InputArea-prompt").text_content()
        cell.locator(".jp-InputArea-prompt").click()
        self.page.keyboard.press("Control+Enter")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = cell.locator(".jp-InputArea-prompt").text_content() or ""
            if now != before and "*" not in now and now.strip("[]: "):
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.path}: code cell {index} did not finish in {timeout_s:.0f} s")

    def append_and_run(self, source: str, timeout_s: float = 60.0) -> str:
        """Add a code cell at the end (as a learner would), run it, return its text output."""
        last = self.panel.locator(".jp-Cell").last
        last.scroll_into_view_if_needed()
        last.locator(".jp-InputArea-prompt, .jp-Cell-inputCollapser").first.click()
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("b")  # command mode: new cell below, editor focused next
        self.page.keyboard.press("Enter")
        self.page.keyboard.insert_text(source)
        self.page.keyboard.press("Shift+Enter")
        cell = self.code_cells.last
        # Shift-Enter adds an empty cell below: the one we wrote is second to last.
        cell = self.code_cells.nth(self.code_cells.count() - 2)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            prompt = cell.locator(".jp-InputArea-prompt").text_content() or ""
            if "*" not in prompt and prompt.strip("[]: "):
                return cell.locator(".jp-OutputArea").text_content() or ""
            time.sleep(0.2)
        raise TimeoutError(f"{self.path}: the added cell did not finish in {timeout_s:.0f} s")

    def code_cell_with(self, text: str):
        """Return the code cell whose source holds `text`, and its index among code cells."""
        sources = self.code_cells.locator(".jp-InputArea-editor").all_text_contents()
        index = next(i for i, source in enumerate(sources) if text in source)
        return self.code_cells.nth(index), index

    def press_button(self, cell, label: str, status: str, timeout_s: float = 30.0) -> None:
        """Click a widget button under `cell`; wait until the panel's status line says `status`."""
        cell.locator("button.jupyter-button", has_text=label).click()
        self.wait_text(cell, status, timeout_s)

    def drag_slider(self, cell, knob: str, fraction: float, timeout_s: float = 30.0) -> float:
        """Drag the slider named `knob` with the mouse to `fraction` of its track; return its value."""
        slider = cell.locator(".widget-slider", has=self.page.locator("label", has_text=knob))
        handle = slider.locator(".noUi-handle")
        slider.scroll_into_view_if_needed()  # the mouse works on what is on screen
        track = slider.locator(".noUi-target").bounding_box()
        box = handle.bounding_box()
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.mouse.down()
        y = track["y"] + track["height"] / 2
        for step in range(1, 11):  # a hand moves in steps, not one jump
            self.page.mouse.move(track["x"] + track["width"] * fraction * step / 10, y)
        self.page.mouse.up()
        self.wait_text(cell, f"set {knob} = ", timeout_s)
        return float(slider.locator(".widget-readout").inner_text())

    def wait_text(self, cell, text: str, timeout_s: float) -> None:
        self._wait(
            lambda: text in (cell.text_content() or ""), timeout_s, f"{text!r} under the cell", 0
        )

    def output_image_src(self, cell) -> str:
        return cell.locator(".jp-OutputArea-output img").first.get_attribute("src") or ""

    def save(self, timeout_s: float = 30.0) -> dict:
        """Save with Ctrl-S and return the notebook as JupyterLab wrote it to disk."""
        file = self.lab.root / self.path
        before = file.stat().st_mtime_ns
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if file.stat().st_mtime_ns != before:
                try:  # the write may still be under way: a whole file parses
                    return json.loads(file.read_text())
                except json.JSONDecodeError:
                    pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.path}: Ctrl-S wrote no notebook within {timeout_s:.0f} s")

    def error_outputs_shown(self) -> list[str]:
        """Return the tracebacks shown under cells (stderr text that names an error)."""
        return self.panel.evaluate(
            f"""el => [...el.querySelectorAll(
                    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
                .map(o => o.textContent).filter(t => {ERROR_NAME}.test(t) || t.includes('Traceback'))"""
        )

    def images(self) -> dict[str, int]:
        """Count output images, and those the browser actually decoded (width above 0)."""
        return self.panel.evaluate(
            """el => {
                const imgs = [...el.querySelectorAll('.jp-OutputArea-output img')];
                return {shown: imgs.length,
                        decoded: imgs.filter(i => i.complete && i.naturalWidth > 0).length};
            }"""
        )


def saved_errors(notebook: dict) -> list[str]:
    """Return `ename: evalue` of every error output in a saved notebook."""
    return [
        f"{out['ename']}: {out['evalue']}"
        for cell in notebook["cells"]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]


def saved_never_ran(notebook: dict) -> list[int]:
    """Return the indexes (among code cells) of cells a saved notebook shows as never run."""
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    return [i for i, cell in enumerate(cells) if cell.get("execution_count") is None]


def saved_images(notebook: dict) -> int:
    return sum(
        1
        for cell in notebook["cells"]
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    )
