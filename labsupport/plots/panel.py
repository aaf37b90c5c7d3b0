"""Build sliders and buttons that steer a running experiment from the notebook."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as widgets

DEFAULT_KNOBS = {"delay_ms": (0, 500, 10), "error_rate": (0.0, 1.0, 0.05)}


class ControlPanel(widgets.VBox):
    """A box of sliders (one per knob), optional start/stop buttons and a status line."""

    def __init__(
        self,
        sliders: dict[str, widgets.ValueWidget],
        buttons: dict[str, widgets.Button],
        status: widgets.HTML,
    ) -> None:
        rows = list(sliders.values())
        if buttons:
            rows.append(widgets.HBox(list(buttons.values())))
        super().__init__(rows + [status])
        self.sliders = sliders
        self.buttons = buttons
        self.status = status


def _slider(knob: str, spec, initial) -> widgets.ValueWidget:
    try:
        low, high, step, *rest = spec
    except (TypeError, ValueError):
        raise ValueError(
            f"knob {knob!r}: give (min, max, step) or (min, max, step, initial), got {spec!r}"
        ) from None
    if not low < high or step <= 0 or len(rest) > 1:
        raise ValueError(f"knob {knob!r}: need min < max and step > 0, got {spec!r}")
    value = rest[0] if rest else (initial if isinstance(initial, int | float) else low)
    value = min(max(value, low), high)
    kind = (
        widgets.IntSlider
        if all(isinstance(v, int) for v in (low, high, step))
        else widgets.FloatSlider
    )
    # continuous_update=False: dragging sends one change when released, not fifty.
    style = {"description_width": "initial"}
    return kind(
        value=value,
        min=low,
        max=high,
        step=step,
        description=knob,
        continuous_update=False,
        style=style,
        layout=widgets.Layout(width="420px"),
    )


def _current(target, knob: str):
    # The fault proxy and middleware expose their settings as a `.knobs` dataclass.
    return getattr(getattr(target, "knobs", None), knob, getattr(target, knob, None))


def _runner_calls(runner, start, stop) -> tuple[Callable[[], Any] | None, Callable[[], Any] | None]:
    if runner is not None:
        if not (
            callable(getattr(runner, "start", None)) and callable(getattr(runner, "stop", None))
        ):
            raise TypeError(
                f"runner {runner!r} needs start() and stop() methods; or pass start=..., stop=..."
            )
        return runner.start, runner.stop
    return start, stop


def controls(
    target,
    knobs: Mapping[str, tuple] | None = None,
    on_change: Callable[[str, Any], Any] | None = None,
    *,
    runner=None,
    start: Callable[[], Any] | None = None,
    stop: Callable[[], Any] | None = None,
) -> ControlPanel:
    """Build sliders that call `target.set(knob=value)`, and start/stop buttons if asked.

    `target` is anything with `.set(**knobs)`: the fault proxy or the fault middleware.
    `knobs` maps a knob to `(min, max, step)` or `(min, max, step, initial)`; without an
    initial value the slider starts at the target's current setting, else at min.
    `on_change(knob, value)` runs after each successful set. `runner` is an object with
    start()/stop() (or pass `start`/`stop` callables); they should return quickly, with
    the experiment running in the background, so the sliders stay responsive.

        panel = controls(proxy, {"delay_ms": (0, 300, 10)}, runner=experiment)
        panel   # shows the widgets in JupyterLab; headless it builds and does nothing
    """
    if not callable(getattr(target, "set", None)):
        raise TypeError(
            f"{target!r} has no .set(**knobs) method: pass the fault proxy or middleware"
        )
    status = widgets.HTML(value="")
    specs = knobs or DEFAULT_KNOBS
    sliders = {k: _slider(k, spec, _current(target, k)) for k, spec in specs.items()}
    for knob, slider in sliders.items():
        slider.observe(_on_slide(target, knob, status, on_change), names="value")
    begin, end = _runner_calls(runner, start, stop)
    buttons = {}
    if begin is not None:
        buttons["start"] = widgets.Button(description="Start", button_style="success", icon="play")
        buttons["start"].on_click(_on_press(begin, "start", status))
    if end is not None:
        buttons["stop"] = widgets.Button(description="Stop", button_style="danger", icon="stop")
        buttons["stop"].on_click(_on_press(end, "stop", status))
    return ControlPanel(sliders, buttons, status)


def _on_slide(target, knob: str, status: widgets.HTML, on_change):
    def apply(change) -> None:
        try:
            target.set(**{knob: change["new"]})
            if on_change is not None:
                on_change(knob, change["new"])
        except Exception as exc:  # a widget callback has nobody above it to report to
            status.value = (
                f"<span style='color:#D55E00'>could not set {knob}={change['new']}: {exc}</span>"
            )
        else:
            status.value = f"set {knob} = {change['new']}"

    return apply


def _on_press(action: Callable[[], Any], verb: str, status: widgets.HTML):
    def press(_button) -> None:
        try:
            action()
        except Exception as exc:  # shown in the panel: a button callback has no cell to fail in
            status.value = f"<span style='color:#D55E00'>{verb} failed: {exc}</span>"
        else:
            status.value = f"{verb} pressed: done"

    return press
