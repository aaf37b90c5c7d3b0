"""Lesson 07's decision guide: questions in, a recommendation and its measured evidence out.

`recommend` is a plain function (the widget in `charts_guide` only collects answers),
so the advice can be tested and read: each rule names the numbers that back it, taken
from `evidence`, a dict the notebook fills with what it measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUESTIONS = {
    "answer_now": ("Does the caller need the answer before it can go on?", ("yes", "no")),
    "initiator": ("Who initiates?", ("a browser or partner", "one of our services")),
    "consumers": ("How many services must react?", ("one", "several, more later")),
    "survive_down": ("Must it work while the receiver is down?", ("no", "yes")),
    "payload": ("Payload size?", ("small (< 64 kB)", "large (MBs)")),
}


@dataclass
class Advice:
    """A recommendation, why, and the measured numbers behind it."""

    pattern: str
    reasons: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)

    def as_markdown(self) -> str:
        lines = [f"**Use: {self.pattern}**", ""]
        lines += [f"- {reason}" for reason in self.reasons]
        lines += ["", "*Measured:*"] + [f"- {fact}" for fact in self.evidence]
        return "\n".join(lines)


def _fmt(evidence: dict, key: str, unit: str = "ms") -> str:
    value = evidence.get(key)
    if value is None:
        return "not measured"
    return f"{value:.2f} {unit}" if abs(value) < 1 else f"{value:.1f} {unit}"


def recommend(answers: dict[str, str], evidence: dict) -> Advice:
    """Return the pattern that fits `answers` (keys of QUESTIONS), backed by `evidence`."""
    if answers["answer_now"] == "yes":
        if answers["initiator"] == "a browser or partner":
            advice = Advice("REST (JSON over HTTP) at the edge; gRPC behind it",
                            ["any client speaks HTTP and JSON; the caller waits, so keep the chain short",
                             "internal calls the reply depends on go over gRPC: typed contract, one connection"])  # fmt: skip
        else:
            advice = Advice("gRPC (unary calls, a deadline on each)",
                            ["a typed contract between our own services, cheap calls on one HTTP/2 connection",
                             "many tiny calls at once: a JSON-RPC batch pays the round trip once"])  # fmt: skip
        advice.evidence += [
            f"REST request in the hybrid flow: {_fmt(evidence, 'rest_ms')} end to end, "
            f"of which inventory spent {_fmt(evidence, 'grpc_ms')} serving the gRPC reservation",
            f"a refused reservation reached the caller as HTTP {evidence.get('refused_status', '?')}: "
            "synchronous calls couple the caller to the callee being up",
        ]
        if answers["survive_down"] == "yes":
            advice.reasons.append("it cannot both answer now and work while the receiver is down: "
                                  "answer what you can now, and send the rest as an event")  # fmt: skip
        return advice
    several = answers["consumers"] == "several, more later"
    advice = Advice(
        "events on a fanout exchange" if several else "a work queue (one consumer group)"
    )
    advice.reasons.append("nobody waits: the sender answers once the broker confirmed the message")
    if several:
        advice.reasons.append("new consumers bind their own queue; the sender does not change")
    advice.evidence.append(
        f"consumers started {_fmt(evidence, 'react_ms')} after the publish began, on their own "
        f"threads; the caller's whole request took {_fmt(evidence, 'rest_ms')}"
    )
    if answers["survive_down"] == "yes":
        advice.reasons.append(
            "durable queues keep messages while a consumer is down; save and publish through an outbox"
        )
        advice.evidence.append(
            f"outbox: {evidence.get('outbox_lost', '?')} events lost over {evidence.get('outbox_kills', '?')} kills; "
            f"dual write: {evidence.get('dual_lost', '?')} lost over {evidence.get('dual_kills', '?')} kills"
        )
    if answers["payload"] == "large (MBs)":
        advice.pattern += ", thin (an id and a link; consumers fetch the body over REST)"
        advice.reasons.append(
            "brokers are tuned for small messages; a thin event couples consumers to the source again"
        )
    return advice
