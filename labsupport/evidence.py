"""Keep the figures each lesson measured, so lesson 07's decision guide can quote them.

A lesson notebook calls `remember(...)` once at a key measurement; the facts land in
`<lab dir>/evidence.json`, and `recall()` reads them back:

    remember("rest_p50_ms", 1.9, lesson="03", what="REST p50 on the same data", unit="ms")
    recall()["rest_p50_ms"]["value"]   # 1.9
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from . import config

FILE_NAME = "evidence.json"


def evidence_path() -> Path:
    """Return where the facts live: `evidence.json` in the lab folder."""
    return config.lab_dir() / FILE_NAME


def recall() -> dict[str, dict[str, Any]]:
    """Return every fact remembered so far: key -> {value, lesson, what, unit, when}.

    A missing, unreadable or malformed file reads as no facts (never an error).
    """
    try:
        facts = json.loads(evidence_path().read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(facts, dict):
        return {}
    return {key: fact for key, fact in facts.items() if isinstance(fact, dict) and "value" in fact}


def remember(key: str, value: Any, *, lesson: str, what: str, unit: str = "") -> None:
    """Store one measured fact under `key`, replacing an older one.

    `value` must be JSON-serialisable (a number, usually). The file is written to a
    temporary name and renamed, so a reader never sees half a file; a broken file is
    replaced by a good one.
    """
    if hasattr(value, "item"):  # a numpy number
        value = value.item()
    if isinstance(value, float) and value != value:  # NaN is not JSON
        value = None
    fact = {"value": value, "lesson": str(lesson), "what": what, "unit": unit,
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z")}  # fmt: skip
    json.dumps(fact)  # fail here, before touching the file, if value is not JSON
    facts = recall()
    facts[key] = fact
    path = evidence_path()
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    partial.write_text(json.dumps(facts, indent=1, sort_keys=True))
    partial.replace(path)
