"""Tests for labsupport.plots: charts, live plots, saved frames and controls."""

from __future__ import annotations

import base64
import warnings
from dataclasses import dataclass
from pathlib import Path

import ipywidgets as widgets
import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

from labsupport import plots
from labsupport.plots import (
    LivePlot,
    controls,
    new_figure,
    plot_breaker_states,
    plot_comparison,
    plot_latency_cdf,
    plot_latency_histogram,
    plot_latency_over_time,
    plot_queue_depth,
    plot_sequence,
    plot_throughput,
    slugify,
)
from labsupport.plots._output import PNG_SIGNATURE
from labsupport.plots.queues import state_spans

# --- shared data -------------------------------------------------------------------------


@dataclass
class Record:
    """A request record shaped like labsupport.measure's RequestRecord."""

    intended_s: float
    start_s: float
    end_s: float
    ok: bool
    error: str | None = None


@dataclass
class Result:
    """A load result shaped like labsupport.measure's LoadResult (records plus a label)."""

    records: list
    label: str = ""


def make_run(n=400, rate_per_s=200.0, service_ms=2.0, stall=None, fail_every=0, label="open loop"):
    """Build an open-loop run: one request every 1/rate, optional stall (start_s, end_s)."""
    rng = np.random.default_rng(3)
    records = []
    for i in range(n):
        intended = i / rate_per_s
        start = intended + 0.0001
        begin = max(start, stall[1]) if stall and stall[0] <= start < stall[1] else start
        end = begin + service_ms / 1000 * rng.lognormal(0, 0.3)
        ok = not (fail_every and i % fail_every == 0)
        records.append(Record(intended, start, end, ok, None if ok else "HTTPStatusError"))
    return Result(records, label)


@pytest.fixture
def plots_folder(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "plots"
    monkeypatch.setenv("LAB_PLOTS_DIR", str(folder))
    return folder


def legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def all_legend_texts(fig) -> list[str]:
    return [text for ax in fig.axes for text in legend_texts(ax)]


EVENTS = [
    (0.000, "gateway", "orders", "POST /orders", "c1"),
    (0.001, "orders", "inventory", "reserve", "c1"),
    (0.002, "gateway", "orders", "POST /orders", "c2"),
    (0.004, "inventory", "orders", "reserved", "c1"),
    (0.005, "orders", "gateway", "201 Created", "c1"),
    (0.006, "orders", "orders", "retry", "c2"),
]

CHARTS = {
    "latency over time": (
        lambda: plot_latency_over_time(make_run(fail_every=50), title="Latency over time"),
        "(s)",
        "(ms)",
    ),
    "histogram": (
        lambda: plot_latency_histogram(make_run(), title="Latency distribution"),
        "(ms",
        "(%)",
    ),
    "cdf": (lambda: plot_latency_cdf(make_run(), title="Latency percentiles"), "(ms", "percentile"),
    "throughput": (lambda: plot_throughput(make_run(), title="Throughput"), "(s)", "(1/s)"),
    "queue depth": (
        lambda: plot_queue_depth([(0, 0), (1, 5), (2, 3)], title="Queue depth"),
        "(s)",
        "(count)",
    ),
    "breaker": (
        lambda: plot_breaker_states(
            [(0, "closed"), (0.5, "open"), (1.0, "half_open"), (1.2, "closed")],
            make_run(),
            title="Breaker",
        ),
        "(s)",
        "(ms)",
    ),
    "comparison": (
        lambda: plot_comparison({"REST": 1.9, "gRPC": 0.6}, title="Compare"),
        "",
        "(ms)",
    ),
    "sequence": (lambda: plot_sequence(EVENTS, title="Sequence"), "", "(ms)"),
}


# --- every chart ---------------------------------------------------------------------------


@pytest.mark.parametrize("chart", list(CHARTS))
def test_each_chart_saves_a_png_named_after_its_title_with_units_on_its_axes(plots_folder, chart):
    build, x_unit, y_unit = CHARTS[chart]
    fig = build()
    title = fig.axes[0].get_title()
    assert fig.saved_path == plots_folder / f"{slugify(title)}.png"
    assert fig.saved_path.read_bytes().startswith(PNG_SIGNATURE)
    assert fig._repr_png_().startswith(PNG_SIGNATURE)
    labelled = [ax for ax in fig.axes if ax.get_ylabel()]
    assert any(y_unit in ax.get_ylabel() for ax in labelled), [a.get_ylabel() for a in labelled]
    assert any(x_unit in ax.get_xlabel() for ax in fig.axes)


def test_latency_over_time_names_percentile_lines_and_counts_errors(plots_folder):
    fig = plot_latency_over_time(make_run(n=400, fail_every=50))
    texts = legend_texts(fig.axes[0])
    assert any(t.startswith("p50 per") for t in texts)
    assert any(t.startswith("p99 per") for t in texts)
    assert "failed (8)" in texts
    assert "succeeded (392)" in texts


def test_a_stall_lifts_the_p99_line_above_the_stall_length(plots_folder):
    fig = plot_latency_over_time(make_run(n=400, stall=(0.5, 1.0)), bin_s=0.25)
    p99 = next(line for line in fig.axes[0].get_lines() if line.get_label().startswith("p99"))
    assert np.nanmax(p99.get_ydata()) >= 400  # requests sent at 0.5 s waited until 1.0 s
    assert fig.axes[0].get_yscale() == "log"


def test_overlaid_runs_get_one_legend_entry_each_with_their_percentiles(plots_folder):
    closed, opened = make_run(label="closed"), make_run(stall=(0.5, 1.0), label="open")
    for chart in (plot_latency_histogram, plot_latency_cdf):
        fig = chart({"closed loop": closed, "open loop": opened})
        texts = legend_texts(fig.axes[0])
        assert [t.split(":")[0] for t in texts[:2]] == ["closed loop", "open loop"]
        assert all("p50" in t and "p99" in t for t in texts[:2])
        assert fig.axes[0].get_xscale() == "log"


def test_the_cdf_labels_its_axis_with_tail_percentiles(plots_folder):
    fig = plot_latency_cdf(make_run(n=2000))
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert {"p50", "p90", "p99", "p99.9"} <= set(labels)


def test_runs_given_as_plain_latency_lists_are_compared_too(plots_folder):
    fig = plot_latency_histogram({"fast": [1.0, 1.2, 1.1, 0.9], "slow": [10.0, 12.0, 30.0]})
    assert [t.split(":")[0] for t in legend_texts(fig.axes[0])[:2]] == ["fast", "slow"]


def test_a_timeline_refuses_latencies_that_carry_no_send_times(plots_folder):
    with pytest.raises(ValueError, match="needs the time of each request"):
        plot_latency_over_time([1.0, 2.0, 3.0])


def test_unplottable_data_gets_an_error_saying_what_to_pass(plots_folder):
    with pytest.raises(TypeError, match="latencies_ms"):
        plot_latency_histogram(42)


def test_a_chart_drawn_on_given_axes_stays_there_and_saves_nothing(plots_folder):
    fig, (left, right) = new_figure(1, 2)
    assert plot_latency_histogram(make_run(), ax=left) is fig
    assert plot_throughput(make_run(), ax=right) is fig
    assert not plots_folder.exists() or not list(plots_folder.iterdir())
    path = plots.save_figure(fig, "Two charts")
    assert path.name == "two-charts.png" and path.read_bytes().startswith(PNG_SIGNATURE)


def test_throughput_bars_count_every_response_once(plots_folder):
    run = make_run(n=300, rate_per_s=100.0, fail_every=10)
    ax = plot_throughput(run, bin_s=0.5).axes[0]
    bars = ax.patches
    ok_bars, error_bars = bars[: len(bars) // 2], bars[len(bars) // 2 :]
    responses = sum(b.get_height() * b.get_width() for b in bars)
    errors = sum(b.get_height() * b.get_width() for b in error_bars)
    assert responses == pytest.approx(300)
    assert errors == pytest.approx(30)
    assert max(b.get_height() for b in ok_bars) == pytest.approx(90, rel=0.25)


def test_queue_depth_draws_one_line_per_queue_and_names_them(plots_folder):
    samples = {"orders.placed": [(10.0, 0), (11.0, 4)], "orders.dlq": [(10.5, 1), (12.0, 2)]}
    ax = plot_queue_depth(samples).axes[0]
    assert legend_texts(ax) == ["orders.placed", "orders.dlq"]
    assert min(line.get_xdata()[0] for line in ax.get_lines()) == 0.0


def test_breaker_transitions_become_spans_until_the_end():
    moves = [(1.0, "closed"), (3.0, "open"), (4.0, "half-open"), (4.5, "CLOSED")]
    spans = state_spans(moves, end_s=6.0, t0_s=1.0)
    assert spans == [
        (0.0, 2.0, "closed"),
        (2.0, 3.0, "open"),
        (3.0, 3.5, "half_open"),
        (3.5, 5.0, "closed"),
    ]
    with pytest.raises(ValueError, match="'closed', 'open' or 'half_open'"):
        state_spans([(0.0, "ajar")], end_s=1.0)


def test_breaker_states_explain_their_colours_and_can_sit_under_other_axes(plots_folder):
    moves = [(0, "closed"), (0.5, "open"), (1.0, "half_open")]
    fig = plot_breaker_states(moves, make_run())
    texts = all_legend_texts(fig)
    assert {"closed: calls go through", "open: calls fail fast", "half-open: trial calls"} <= set(
        texts
    )
    assert any(t.startswith("failed (") for t in texts)
    own_fig, ax = new_figure()
    assert plot_breaker_states(moves, ax=ax) is own_fig
    assert len(ax.patches) == 3


def test_comparison_bars_carry_their_values_and_pairs_get_a_legend(plots_folder):
    ax = plot_comparison({"REST": 1.92, "gRPC": 0.48}).axes[0]
    assert [t.get_text() for t in ax.texts] == ["1.92", "0.48"]
    assert ax.get_legend() is None
    ax = plot_comparison({"closed": (1.6, 1510.0), "open": (1.7, 9.0)}, log=True).axes[0]
    assert legend_texts(ax) == ["p50", "p99"]
    assert "1,510" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="same length"):
        plot_comparison({"a": (1, 2), "b": (1, 2, 3)})


def test_the_sequence_diagram_has_a_lifeline_per_service_and_an_arrow_per_message(plots_folder):
    ax = plot_sequence(EVENTS).axes[0]
    lifelines = [line for line in ax.get_lines() if (line.get_gid() or "").startswith("lifeline:")]
    arrows = [a for a in ax.texts if (a.get_gid() or "").startswith("message:")]
    assert sorted(line.get_gid() for line in lifelines) == [
        "lifeline:gateway",
        "lifeline:inventory",
        "lifeline:orders",
    ]
    assert len(arrows) == len(EVENTS)
    colours = {a.get_gid(): a.arrow_patch.get_edgecolor() for a in arrows}
    c1 = {colours[f"message:{i}"] for i in (0, 1, 3, 4)}
    c2 = {colours[f"message:{i}"] for i in (2, 5)}
    assert len(c1) == 1 and len(c2) == 1 and c1 != c2
    assert legend_texts(ax) == ["c1", "c2"]


def test_a_message_without_its_services_gets_a_clear_error(plots_folder):
    with pytest.raises(ValueError, match="correlation_id"):
        plot_sequence([(0.0, "gateway", "", "hello", "c1")])


# --- live plots ------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


def test_a_live_plot_pushes_at_most_max_fps_frames_and_always_the_final_one(plots_folder):
    clock, frames = FakeClock(), []
    live = LivePlot("Live run", max_fps=2.0, show_frame=frames.append, clock=clock)
    pushed = []
    for tick in range(20):  # 20 updates over 2 s of fake time
        clock.now_s = tick / 10
        pushed.append(live.update(make_run(n=10 * (tick + 1))))
    assert sum(pushed) == 4 == len(frames)  # at 0.0, 0.5, 1.0 and 1.5 s
    assert not pushed[-1]
    path = live.close()
    assert len(frames) == 5 and all(f.startswith(PNG_SIGNATURE) for f in frames)
    assert path == plots_folder / "live-run.png" and path.read_bytes() == frames[-1]
    ax = live.figure.axes[0]
    assert ax.get_title() == "Live run"
    assert "succeeded (200)" in legend_texts(ax)  # the final frame used the latest data


def test_a_running_frame_says_so_in_its_title(plots_folder):
    seen = []
    live = LivePlot("Work queue", draw=lambda ax, n: ax.plot(range(n)), show_frame=seen.append)
    live(5)
    assert live.figure.axes[0].get_title() == "Work queue (running)"
    live.close()
    assert live.figure.axes[0].get_title() == "Work queue"


def test_closing_a_live_plot_without_data_still_leaves_a_frame_and_closes_once(plots_folder):
    frames = []
    live = LivePlot("Nothing yet", show_frame=frames.append)
    path = live.close()
    assert path.exists() and len(frames) == 1
    assert live.close() == path and len(frames) == 1
    assert live.update(make_run()) is False and len(frames) == 1


def test_a_live_plot_keeps_its_last_frame_when_the_experiment_fails(plots_folder):
    frames = []
    with pytest.raises(RuntimeError, match="broker went away"):
        with LivePlot("Crashed run", show_frame=frames.append) as live:
            live.update(make_run(n=50))
            raise RuntimeError("broker went away")
    assert live.path.exists() and len(frames) == 2


def test_a_live_plot_with_several_axes_passes_them_all_to_draw(plots_folder):
    def draw(axes, run) -> None:
        plot_latency_over_time(run, ax=axes[0])
        plot_throughput(run, ax=axes[1])

    with LivePlot("Two panels", draw=draw, nrows=2, show_frame=lambda png: None) as live:
        live.update(make_run())
    assert live.figure.get_suptitle() == "Two panels"
    assert len(live.figure.axes) == 3  # two panels plus the throughput's error-rate axis


def test_a_live_plot_outside_a_notebook_prints_nothing(plots_folder, capsys):
    with LivePlot("Quiet") as live:
        live.update(make_run(n=20))
    assert capsys.readouterr().out == "" and live.path.exists()


def test_max_fps_must_be_positive():
    with pytest.raises(ValueError, match="max_fps"):
        LivePlot("x", max_fps=0)


# --- files and figures -------------------------------------------------------------------------


def test_slugs_are_stable_file_names():
    assert slugify("Open loop: 200 req/s (p99)") == "open-loop-200-req-s-p99"
    assert slugify("¿?") == "plot"
    assert len(slugify("x" * 300)) == 80


def test_the_plots_folder_follows_lab_plots_dir(plots_folder):
    assert plots.plots_dir() == plots_folder


def test_many_plots_leave_no_pyplot_figures_and_no_warnings(plots_folder):
    import matplotlib.pyplot as plt

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(21):  # pyplot would warn past 20 open figures
            plot_comparison({"a": i + 1.0, "b": 2.0}, title=f"bars {i}")
            with LivePlot(f"live {i}", draw=lambda ax, n: ax.plot(range(n))) as live:
                live.update(i)
    assert plt.get_fignums() == []
    assert [str(w.message) for w in caught] == []


def test_the_public_names_are_sorted():
    assert plots.__all__ == sorted(plots.__all__)


# --- controls ---------------------------------------------------------------------------------


class RecordingProxy:
    """Stands in for the fault proxy's knob surface: remembers every .set call."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.delay_ms = 120

    def set(self, **knobs) -> None:
        if knobs.get("error_rate", 0) > 0.9:
            raise ValueError("error_rate above 0.9 makes the lesson pointless")
        self.calls.append(knobs)


def test_moving_a_slider_sets_that_knob_on_the_target():
    proxy, changes = RecordingProxy(), []
    panel = controls(proxy, on_change=lambda knob, value: changes.append((knob, value)))
    assert isinstance(panel.sliders["delay_ms"], widgets.IntSlider)
    assert isinstance(panel.sliders["error_rate"], widgets.FloatSlider)
    assert panel.sliders["delay_ms"].value == 120  # starts where the proxy is
    panel.sliders["delay_ms"].value = 250
    panel.sliders["error_rate"].value = 0.25
    assert proxy.calls == [{"delay_ms": 250}, {"error_rate": 0.25}]
    assert changes == [("delay_ms", 250), ("error_rate", 0.25)]
    assert "error_rate = 0.25" in panel.status.value


def test_a_refused_setting_is_shown_in_the_panel():
    proxy = RecordingProxy()
    panel = controls(proxy, {"error_rate": (0.0, 1.0, 0.05)})
    panel.sliders["error_rate"].value = 0.95
    assert proxy.calls == []
    assert "could not set error_rate" in panel.status.value and "pointless" in panel.status.value


def test_start_and_stop_buttons_drive_the_experiment():
    class Experiment:
        def __init__(self) -> None:
            self.events: list[str] = []

        def start(self) -> None:
            self.events.append("start")

        def stop(self) -> None:
            self.events.append("stop")

    experiment = Experiment()
    panel = controls(RecordingProxy(), runner=experiment)
    panel.buttons["start"].click()
    panel.buttons["stop"].click()
    assert experiment.events == ["start", "stop"]
    started = []
    panel = controls(RecordingProxy(), start=lambda: started.append(1))
    assert list(panel.buttons) == ["start"]
    panel.buttons["start"].click()
    assert started == [1]


def test_bad_knobs_and_targets_are_refused_with_a_hint():
    with pytest.raises(TypeError, match=r"\.set\(\*\*knobs\)"):
        controls(object())
    with pytest.raises(ValueError, match="min < max"):
        controls(RecordingProxy(), {"delay_ms": (500, 0, 10)})
    with pytest.raises(ValueError, match=r"\(min, max, step\)"):
        controls(RecordingProxy(), {"delay_ms": 5})
    with pytest.raises(TypeError, match=r"start\(\) and stop\(\)"):
        controls(RecordingProxy(), runner=object())


# --- with the lab's own measuring and fault parts ------------------------------------------------


def test_a_live_plot_follows_a_real_open_loop_run_to_its_final_result(plots_folder):
    from labsupport.measure import run_open_loop

    frames = []
    with LivePlot("Open loop", show_frame=frames.append) as live:
        result = run_open_loop(
            lambda: sum(range(200)), rate_per_s=200, duration_s=1.2, on_tick=live
        )
    assert len(frames) >= 2  # at least one tick while running, plus the final frame
    final_legend = legend_texts(live.figure.axes[0])
    assert f"succeeded ({int(result.records.ok.sum())})" in final_legend


def test_chart_percentiles_agree_with_the_load_results_summary(plots_folder):
    from labsupport.measure import LoadResult, RecordTable

    run = make_run(n=500, stall=(1.0, 1.3), fail_every=25)
    result = LoadResult(mode="open", records=RecordTable.from_records(run.records), duration_s=2.5)
    summary = result.summary()
    label = legend_texts(plot_latency_cdf(result).axes[0])[0]
    assert label.startswith("open loop:")
    assert f"p50 {plots._data.format_ms(summary.p50_ms)}," in label
    assert f"p99 {plots._data.format_ms(summary.p99_ms)} ms" in label


def test_sliders_drive_the_real_fault_middleware_and_proxy():
    from labsupport.faults import FaultyProxy, HttpFaults

    faults = HttpFaults(delay_ms=40)
    panel = controls(faults)
    assert panel.sliders["delay_ms"].value == 40
    panel.sliders["error_rate"].value = 0.3
    assert faults.knobs.error_rate == pytest.approx(0.3)
    proxy = FaultyProxy("127.0.0.1:9", name="plots-controls-test")
    try:
        panel = controls(proxy, {"delay_ms": (0, 300, 10)})
        panel.sliders["delay_ms"].value = 120
        assert proxy.knobs.delay_ms == 120
    finally:
        proxy.stop()


# --- inside a real kernel ----------------------------------------------------------------------


def test_a_headless_notebook_keeps_one_image_per_chart_and_the_live_plots_final_frame(
    plots_folder,
):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np\nfrom labsupport.plots import *"),
        nbformat.v4.new_code_cell("plot_comparison({'a': 1.0, 'b': 2.0}, title='nb bars')"),
        nbformat.v4.new_code_cell(
            "with LivePlot('nb live', max_fps=1000) as live:\n"
            "    for k in range(1, 5):\n"
            "        live.update({'times_s': np.arange(50 * k) / 100, 'latencies_ms': np.ones(50 * k)})\n"
            "live.frames"
        ),
    ]
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()

    def images(cell) -> list[bytes]:
        data = [out.get("data", {}) for out in cell.outputs]
        return [base64.b64decode(d["image/png"]) for d in data if "image/png" in d]

    assert len(images(nb.cells[1])) == 1 and images(nb.cells[1])[0].startswith(PNG_SIGNATURE)
    assert nb.cells[2].outputs[-1]["data"]["text/plain"] == "5"  # four updates and the final frame
    assert images(nb.cells[2]) == [(plots_folder / "nb-live.png").read_bytes()]
