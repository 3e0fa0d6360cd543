"""evosld: discover scaling laws from training-run data.

    import evosld
    result = evosld.discover(df, features=["N", "D"], target="loss")
    task = evosld.load_task("sft_scaling_law"); evosld.evaluate("law.py", task)
"""

from __future__ import annotations

__version__ = "0.1.0"

from evosld.errors import DataError, EvosldError, ProgramError  # noqa: E402


def __getattr__(name: str):
    # Everything that needs numpy or pandas loads on first use, so `import evosld` stays quick and the
    # command's entry point (`evosld.entry`) can catch a Ctrl-C that arrives while those load.
    if name in {"discover", "evaluate", "load_task", "DiscoveryResult"}:
        from evosld import api

        return getattr(api, name)
    if name in {"Task", "task_from_csv", "task_from_frame", "task_names"}:
        from evosld import tasks

        return getattr(tasks, name)
    raise AttributeError(f"module 'evosld' has no attribute {name!r}")


__all__ = [
    "DataError",
    "DiscoveryResult",
    "EvosldError",
    "ProgramError",
    "Task",
    "discover",
    "evaluate",
    "load_task",
    "task_from_csv",
    "task_from_frame",
    "task_names",
]
