"""Give every chart the same look, and turn figures into PNG files and notebook frames."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..config import plots_dir

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
DPI = 100
FIGSIZE_IN = (8.0, 4.5)

# Okabe-Ito colours: distinguishable with the common kinds of colour blindness.
BLUE, ORANGE, GREEN, VERMILLION = "#0072B2", "#E69F00", "#009E73", "#D55E00"
PURPLE, SKY, YELLOW, GREY = "#CC79A7", "#56B4E9", "#F0E442", "#666666"
RUN_COLORS = (BLUE, ORANGE, GREEN, PURPLE, SKY, GREY)
ROLE_COLORS = {"request": SKY, "p50": BLUE, "p99": ORANGE, "error": VERMILLION, "late": GREY}

_STYLE = {
    "font.size": 11,
    "axes.titlesize": 13,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.fontsize": 9.5,
    "legend.framealpha": 0.9,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=RUN_COLORS),
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
}


class LabFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in a notebook, without pyplot.

    pyplot is avoided on purpose: a figure it manages is shown again at the end of the
    cell by the inline backend and counts towards its "more than 20 figures" warning.
    """

    saved_path: Path | None = None

    def _repr_png_(self) -> bytes:
        return render_png(self)


@contextmanager
def lab_style() -> Iterator[None]:
    """Apply the course's fonts, grid and colours to figures created and drawn inside."""
    with matplotlib.rc_context(_STYLE):
        yield


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize_in: tuple[float, float] | None = None,
    **subplots_kw: Any,
) -> tuple[LabFigure, Any]:
    """Create a LabFigure and its axes: the way to compose several charts in one image.

    Pass each axes to a chart function (`plot_latency_cdf(runs, ax=axes[0])`), then
    call `save_figure(fig, "a title")` and end the cell with `fig` to show it.
    """
    with lab_style():
        fig = LabFigure(figsize=figsize_in or FIGSIZE_IN, dpi=DPI, layout="constrained")
        axes = fig.subplots(nrows, ncols, **subplots_kw)
    return fig, axes


def figure_and_axes(
    ax: Axes | None, figsize_in: tuple[float, float] | None = None
) -> tuple[Figure, Axes, bool]:
    """Return (figure, axes, created): the given axes, or a new LabFigure with one axes."""
    if ax is not None:
        return ax.figure, ax, False
    fig, new_ax = new_figure(figsize_in=figsize_in)
    return fig, new_ax, True


def finish_chart(fig: Figure, created: bool, title: str) -> Figure:
    """Save a chart the function created itself; a caller's figure is theirs to save."""
    if created:
        save_figure(fig, title)
    return fig


def slugify(title: str) -> str:
    """Turn a title into a stable file name: lower case, dashes, at most 80 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80].rstrip("-")
    return slug or "plot"


def render_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes with the Agg renderer (no GUI, no pyplot)."""
    buffer = io.BytesIO()
    with lab_style():
        fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_png(png: bytes, title: str) -> Path:
    """Write PNG bytes to `<plots dir>/<slug of title>.png` and return the path."""
    folder = plots_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slugify(title)}.png"
    # Write then rename, so a file viewer never opens half an image.
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_bytes(png)
    partial.replace(path)
    return path


def save_figure(fig: Figure, title: str) -> Path:
    """Save a figure as a PNG in the plots folder under a name made from `title`."""
    path = save_png(render_png(fig), title)
    fig.saved_path = path
    return path


def in_notebook() -> bool:
    """Tell whether we run inside a Jupyter kernel, where images can be displayed."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class NotebookFrames:
    """Show PNG frames in one notebook output, each new frame replacing the last.

    A display handle updated in place keeps its final image when the notebook runs
    headless (nbconvert, nbval); outside a kernel, showing a frame does nothing.
    """

    def __init__(self) -> None:
        self._handle = None

    def __call__(self, png: bytes) -> None:
        if not in_notebook():
            return
        from IPython.display import Image, display

        image = Image(data=png, format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)
