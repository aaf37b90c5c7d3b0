"""Lesson 07's decision guide: questions in, a recommendation and its measured evidence out.

`recommend` is a plain function (the widget in `charts_guide` only collects answers),
so the advice can be tested and read: each rule quotes the numbers that back it, taken
from `evidence`, a dict the notebook fills with what it measured (section 5's comparison
under `patterns`) and what lessons 01-06 stored with `labsupport.evidence.remember`
(under `earlier`); a fact not measured yet says which lesson to run.
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


# The facts earlier lessons store with `labsupport.evidence.remember`, and who measures them.
EARLIER = {
    "retry_success_pct": "01",
    "batch_call_share": "02",
    "rest_over_grpc_p50": "03",
    "auto_ack_lost": "04",
    "http_over_tcp_p50": "05",
    "thin_fat_crossover_pct": "06",
}


def _fmt(evidence: dict, key: str, unit: str = "ms") -> str:
    value = evidence.get(key)
    if value is None:
        return "not measured"
    return f"{value:.2f} {unit}" if abs(value) < 1 else f"{value:.1f} {unit}"


def _number(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
    return str(value)


def earlier(evidence: dict, key: str) -> str:
    """Quote what an earlier lesson measured under `key`, or say which lesson to run."""
    fact = evidence.get("earlier", {}).get(key)
    if fact is None:
        return f"not measured yet: run lesson {EARLIER[key]} to measure it ({key})"
    value, unit = _number(fact["value"]), fact.get("unit", "")
    return f"lesson {fact['lesson']} measured {fact['what']}: {value} {unit}".rstrip()


def under_faults(evidence: dict, pattern: str) -> str:
    """Quote section 5's row for `pattern`: the caller's wait and success during the outage."""
    row = evidence.get("patterns", {}).get(pattern)
    if row is None:
        return f"{pattern}: not measured yet (run section 5, the comparison)"
    text = (f"{pattern} in section 5 (same latency, errors and outage): the caller waited "
            f"p50 {row['p50 ms']} ms, p99 {row['p99 ms']} ms for {row['caller waits for']}; "
            f"{row['ok in outage %']}% of the orders sent while the downstream was down succeeded")  # fmt: skip
    if row.get("delivered") is not None:
        text += (f" ({row['delivered']} of {row['accepted']} accepted messages delivered in the "
                 f"end; done p50 {row['done p50 ms']} ms, p99 {row['done p99 ms']} ms after the send)")  # fmt: skip
    return text


def recommend(answers: dict[str, str], evidence: dict) -> Advice:
    """Return the pattern that fits `answers` (keys of QUESTIONS), backed by `evidence`.

    `evidence` holds this notebook's numbers, `patterns` (section 5's rows by pattern
    name) and `earlier` (what `labsupport.evidence.recall()` returned).
    """
    if answers["answer_now"] == "yes":
        if answers["initiator"] == "a browser or partner":
            advice = Advice("REST (JSON over HTTP) at the edge; gRPC behind it",
                            ["any client speaks HTTP and JSON; the caller waits, so keep the chain short",
                             "internal calls the reply depends on go over gRPC: typed contract, one connection"])  # fmt: skip
        else:
            advice = Advice("gRPC (unary calls, a deadline on each)",
                            ["a typed contract between our own services, deadlines, streams, many calls on one connection "
                             "(speed is not the reason: compare REST and gRPC below)",
                             "many tiny calls at once: a JSON-RPC batch pays the round trip once"])  # fmt: skip
        advice.evidence += [
            under_faults(evidence, "REST"),
            under_faults(evidence, "gRPC unary"),
            under_faults(evidence, "JSON-RPC batch of 10"),
            earlier(evidence, "rest_over_grpc_p50"),
            earlier(evidence, "batch_call_share"),
            earlier(evidence, "http_over_tcp_p50"),
            earlier(evidence, "retry_success_pct"),
            f"REST request in the hybrid flow: {_fmt(evidence, 'rest_ms')} end to end, "
            f"of which inventory spent {_fmt(evidence, 'grpc_ms')} serving the gRPC reservation; "
            f"a refused reservation reached the caller as HTTP {evidence.get('refused_status', '?')}",
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
    advice.evidence += [
        under_faults(evidence, "thin event" if several else "work queue"),
        f"in the hybrid flow, consumers started {_fmt(evidence, 'react_ms')} after the publish "
        f"began; the caller's whole request took {_fmt(evidence, 'rest_ms')}",
    ]
    if answers["survive_down"] == "yes":
        advice.reasons.append(
            "durable queues keep messages while a consumer is down; save and publish through an outbox"
        )
        advice.evidence += [
            f"outbox: {evidence.get('outbox_lost', '?')} events lost over {evidence.get('outbox_kills', '?')} kills; "
            f"dual write: {evidence.get('dual_lost', '?')} lost over {evidence.get('dual_kills', '?')} kills",
            earlier(evidence, "auto_ack_lost"),
        ]
    if answers["payload"] == "large (MBs)":
        advice.pattern += ", thin (an id and a link; consumers fetch the body over REST)"
        advice.reasons.append(
            "brokers are tuned for small messages; a thin event couples consumers to the source again"
        )
        advice.evidence.append(earlier(evidence, "thin_fat_crossover_pct"))
    return advice
