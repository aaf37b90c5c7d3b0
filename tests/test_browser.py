"""The course in a real browser: JupyterLab started as `make lab` does, driven in headless chromium.

Lesson 00 runs top to bottom through Run > Run All Cells, shows every plot and widget,
and one of its sliders, dragged with the mouse, really slows the load running behind it.
Every other lesson opens, renders, and runs its first cells (nbval already runs each one
to the end; see docs/INSTRUCTORS.md for the budget). A lesson whose cell raises fails.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from _browser import (
    CHROMIUM,
    Lab,
    Notebook,
    copy_course,
    launch_chromium,
    saved_errors,
    saved_images,
    saved_never_ran,
)

from labsupport import config

pytestmark = pytest.mark.broker
LESSON_00 = "notebooks/00_lab_check.ipynb"
OTHER_LESSONS = sorted(
    f"notebooks/{p.name}"
    for p in (config.REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")
    if p.name != Path(LESSON_00).name
)
# Per other lesson: its imports and first service or broker (cost measured in INSTRUCTORS.md).
FIRST_CELLS = 3
RUN_ALL_TIMEOUT_S = 420


def _need(condition: bool, what: str) -> None:
    if not condition:
        if config.in_ci():
            pytest.fail(f"{what} is required under CI: run 'make test' (it installs it)")
        pytest.skip(f"{what} not available here: 'make test' installs it")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _need(CHROMIUM.exists(), str(CHROMIUM))
    base = tmp_path_factory.mktemp("browser")
    root = copy_course(base / "course")
    _write_broken_lesson(root / "broken" / "00_broken.ipynb")
    running = Lab(root, base / "state")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "the playwright package")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, lab):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(60_000)
    yield context.new_page()
    context.close()
    lab.shutdown_kernels()


def _write_broken_lesson(path: Path) -> None:
    """Copy lesson 00's opening and put a raising cell before its last code cell."""
    notebook = json.loads((config.REPO_ROOT / LESSON_00).read_text())
    cells = notebook["cells"][:6]  # title, the lab check, the brokers
    raising = {
        "cell_type": "code",
        "execution_count": None,
        "id": "raises",
        "metadata": {},
        "outputs": [],
        "source": "raise RuntimeError('a lesson cell raised')",
    }
    notebook["cells"] = cells[:-1] + [raising] + cells[-1:]
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(notebook))


def run_all_and_check(notebook: Notebook, timeout_s: float) -> dict:
    """Run all cells in the browser; assert every cell ran clean and every plot rendered."""
    took_s = notebook.run_all(timeout_s)
    shown = notebook.error_outputs_shown()
    saved = notebook.save()
    prompts = notebook.prompts()
    assert shown == [], f"{notebook.path}: error output in the page:\n{shown[0][-2000:]}"
    assert saved_errors(saved) == [], f"{notebook.path}: {saved_errors(saved)}"
    never_ran = saved_never_ran(saved)
    assert never_ran == [], f"{notebook.path}: code cells {never_ran} never ran (Run All stopped)"
    images = notebook.images()
    assert images["decoded"] == images["shown"] == saved_images(saved), images
    assert notebook.errors_in_page == [], notebook.errors_in_page
    return {"seconds": took_s, "images": images["decoded"], "cells": len(prompts)}


@pytest.mark.timeout(RUN_ALL_TIMEOUT_S + 240)
def test_lesson_00_runs_in_chromium_with_every_plot_and_widget_and_a_slider_steers_the_load(
    page, lab
):
    notebook = Notebook(page, lab, LESSON_00)
    run = run_all_and_check(notebook, RUN_ALL_TIMEOUT_S)
    assert run["images"] >= 5  # histogram, two bars, live plot, CDF, steered load
    panel, index = notebook.code_cell_with("controls(proxy, knobs, runner=load)")
    assert panel.locator(".widget-slider").count() == 3
    assert [b.strip() for b in panel.locator("button.jupyter-button").all_text_contents()] == [
        "Start",
        "Stop",
    ]
    assert "Error displaying widget" not in (notebook.panel.text_content() or "")

    # Run All ended with the cleanup cell (stop_all): bring the service, the proxy and the
    # panel back by running their cells again, as a learner coming back to play would.
    for source in ('run = serve_app(app, name="orders")', "proxy = FaultyProxy("):
        notebook.run_cell(notebook.code_cell_with(source)[1], timeout_s=120)
    notebook.run_cell(index)
    idle_frame = notebook.output_image_src(panel)
    notebook.press_button(panel, "Start", "start pressed: done")
    # Cells wait in the kernel (bounded) for whole segments of requests, however busy the machine.
    notebook.append_and_run(
        "from labsupport.waiting import wait_until\n"
        "wait_until(lambda: len(load.records) >= 50, 90, 'requests before the turn')\n"
        "n_before = len(load.records)"
    )
    delay_ms = notebook.drag_slider(panel, "delay_ms", 0.5)
    notebook.append_and_run(
        "n_turn = len(load.records)  # a segment in flight may straddle the turn: skip one\n"
        "wait_until(lambda: len(load.records) >= n_turn + 100, 90, 'requests after the turn')"
    )
    notebook.press_button(panel, "Stop", "stop pressed: done")
    assert 50 <= delay_ms <= 150, delay_ms
    assert notebook.output_image_src(panel) != idle_frame, "the live plot never redrew"

    # Stalls on a busy machine only add latency, so the fastest request of a window shows
    # the floor the proxy sets: well under the delay before the turn, at least it after.
    out = notebook.append_and_run(
        "ms = [r.latency_s * 1000 for r in load.records]\n"
        "before, after = min(ms[:n_before]), min(ms[n_turn + 50 :])\n"
        "print(f'knob={proxy.knobs.delay_ms} before={before:.1f} after={after:.1f}')"
    )
    found = re.search(r"knob=(\S+) before=(\S+) after=(\S+)", out)
    assert found, out
    knob, before_ms, after_ms = map(float, found.groups())
    assert knob == delay_ms, "the slider's value is not the proxy's"
    assert before_ms < 0.5 * delay_ms <= 0.8 * delay_ms <= after_ms, f"no step at the turn: {out}"


@pytest.mark.parametrize("lesson", OTHER_LESSONS)
def test_each_other_lesson_renders_and_its_first_cells_run(page, lab, lesson):
    notebook = Notebook(page, lab, lesson)
    assert notebook.panel.locator(".jp-RenderedMarkdown h1").count() == 1
    assert notebook.panel.locator(".jp-RenderedMarkdown h2").count() >= 3
    for index in range(min(FIRST_CELLS, notebook.code_cells.count())):
        notebook.run_cell(index, timeout_s=120)
    assert notebook.error_outputs_shown() == []
    assert saved_errors(notebook.save()) == []


def test_a_lesson_cell_that_raises_fails_the_browser_check(page, lab):
    notebook = Notebook(page, lab, "broken/00_broken.ipynb")
    with pytest.raises(AssertionError, match="RuntimeError: a lesson cell raised"):
        run_all_and_check(notebook, 180)
