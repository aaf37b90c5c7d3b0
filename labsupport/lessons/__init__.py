"""The lessons' own code, one package per lesson (`rest01`, `queues04`, ...).

Each lesson package holds `services` (apps, servicers, workers), `rigs` (experiment
drivers), `charts`, `checks` (with `_fixtures`), split by topic where a file would pass
~200 lines, and re-exports its public names from its `__init__`. A lesson imports the
toolkit's public names and its own package, never another lesson.
"""

__all__: list[str] = []
