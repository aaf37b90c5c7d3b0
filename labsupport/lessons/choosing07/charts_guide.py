"""The decision guide as a widget: one toggle per question, the advice rendered under them."""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import Markdown

from .rigs_guide import QUESTIONS, recommend


def decision_guide(evidence: dict) -> widgets.VBox:
    """Return a widget that asks QUESTIONS and answers with `recommend(answers, evidence)`."""
    toggles = {
        key: widgets.ToggleButtons(options=options, description="", style={"button_width": "170px"})
        for key, (_question, options) in QUESTIONS.items()
    }
    out = widgets.Output()

    def show(_change=None) -> None:
        advice = recommend({key: t.value for key, t in toggles.items()}, evidence)
        out.outputs = ()  # replaced, not appended: one answer at a time
        out.append_display_data(Markdown(advice.as_markdown()))

    rows = []
    for key, toggle in toggles.items():
        toggle.observe(show, names="value")
        rows.append(widgets.VBox([widgets.HTML(f"<b>{QUESTIONS[key][0]}</b>"), toggle]))
    show()
    return widgets.VBox([*rows, out])
