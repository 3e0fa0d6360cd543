"""A resumed run keeps the parameter limit it started with.

Without ``--max-params`` a user table's limit is computed from the table
(``tasks.paramlimit``), and that rule can change between versions (repeated
runs came to count once): a run resumed under a newer evosld would then
search and pick under another limit than the one its stored programs were
proposed and ranked under. So a run records the limit it searches under
(store state ``param_limit``) and a resume takes it from there; a run from
before that record takes the limit its ``best.json`` reports, when the limit
was the table's default. A ``--max-params`` beside ``--resume`` that differs
from the run's limit is refused, as other task options are.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from evosld.config import RunConfig
from evosld.errors import ConfigError
from evosld.run.outputs import BEST_JSON
from evosld.run.store import RunStore
from evosld.tasks.task import Task

#: Store state: the parameter limit the run searches under ({"max_params": int | None}).
LIMIT_STATE = "param_limit"


def run_limit(task: Task, config: RunConfig) -> int | None:
    """The parameter limit a run searches and picks under: ``--max-params``, else the task's."""
    return config.max_params or task.max_params


def record_limit(store: RunStore, task: Task, config: RunConfig) -> None:
    """Record the run's limit, once: a run keeps the limit its first session recorded."""
    if store.get_state(LIMIT_STATE) is None:
        store.set_state(LIMIT_STATE, {"max_params": run_limit(task, config)})


def started_limit(recorded: Any, run_dir: Path, task: Task, started_with: int | None) -> tuple[bool, int | None]:
    """(known, limit): the limit the run in ``run_dir`` started with, as far as the run says.

    From the store's record (``recorded``: the value of its ``LIMIT_STATE``). A run from before the record searched under the
    ``--max-params`` it started with (``started_with``), else its task's limit
    as given (``task``, rebuilt from the run's spec), else the default of its
    table, the only limit that can move: for that, the limit its ``best.json``
    reports, if it got that far. (False, None) when nothing says.
    """
    known, limit = recorded_limit(recorded)
    if known:
        return known, limit
    if started_with is not None or not task.max_params_how:
        return True, started_with or task.max_params
    try:
        value = json.loads((run_dir / BEST_JSON).read_text(encoding="utf-8")).get("max_params")
    except (OSError, ValueError, AttributeError):
        return False, None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return True, value
    return False, None


def with_limit(task: Task, limit: int | None) -> Task:
    """``task`` with the run's ``limit`` in place of the default limit computed from its table now; a limit the
    user gave (in the spec or config; ``max_params_how`` empty) or an unchanged one leaves it as it is."""
    if not task.max_params_how or task.max_params == limit:
        return task
    return dataclasses.replace(task, max_params=limit, max_params_how="the limit this run started with")


def recorded_limit(recorded: Any) -> tuple[bool, int | None]:
    """(known, limit) from the value of a run's ``LIMIT_STATE`` (None when never recorded)."""
    if isinstance(recorded, dict) and "max_params" in recorded:
        value = recorded["max_params"]
        return True, value if isinstance(value, int) and not isinstance(value, bool) else None
    return False, None


def keep_limit(task: Task, recorded: Any, run_dir: Path, *, given: int | None,
               started_with: int | None, option: str = "max_params") -> tuple[Task, list[str]]:
    """The task of a resumed run with the limit it started with, and the notes to show.

    Args:
        task: the task rebuilt from the run's spec (a default limit computed from the table now).
        recorded: the run's record of its limit (the value of its store state ``LIMIT_STATE``; None: none).
        run_dir: the run directory.
        given: the ``--max-params`` given beside ``--resume`` (None: not given).
        started_with: the ``--max-params`` the run was started with (its stored config; None: not given).
        option: how the user gives the limit, to name in an error (``--max-params``).

    Raises:
        ConfigError: ``given`` differs from the run's limit.
    """
    known, limit = started_limit(recorded, run_dir, task, started_with)
    if not known:  # a run from before the record that never finished: the table's limit now (recorded from now on)
        return task, []
    shown = limit if limit is not None else "none"
    if given is not None and given != limit:
        raise ConfigError(f"--resume continues the run in {run_dir} with the parameter limit it started with "
                          f"({shown}); drop {option} {given} (for another limit, start a new run with another "
                          "--output)")
    kept = with_limit(task, limit)
    if kept is task or given is not None:
        return kept, []
    why = task.max_params_how.split("; --max-params")[0]
    return kept, [f"this run keeps the parameter limit it started with, {shown}, though the table now gives "
                  f"{task.max_params} ({why}); for that limit, start a new run with another --output"]
