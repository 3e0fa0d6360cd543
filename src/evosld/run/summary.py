"""What a run came to, read from its store: the one reader of finished (or stopped) runs.

``RunSummary.from_store(store)`` gives the final law and its test evaluation,
whether the run finished, how it stopped, its iterations, the number of
parameters of the final law, the run's configuration with the sandbox limits
it ran under, and whether it used an LLM. The report, the bench, the rank
check and the CLI read a run through it, so each of these is decided once.
The small guards the readers share (``finite``, ``n_params_of``,
``count_params``) live here too.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from evosld.config import EvaluatorConfig, RunConfig
from evosld.evaluation.sandbox import Limits
from evosld.run.store import RunInfo, RunStore, StoredProgram, StoredTestEvaluation

if TYPE_CHECKING:
    from evosld.tasks.task import Task


def finite(value: Any) -> float | None:
    """``value`` as a float when it is a finite number, else None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def n_params_of(meta: dict[str, Any] | None) -> int | None:
    """The fitted-parameter count a proposer recorded in a program's meta (a whole number >= 0), or None."""
    n = (meta or {}).get("n_params")
    if isinstance(n, bool) or not isinstance(n, (int, float)) or not math.isfinite(n) or n < 0 or n != int(n):
        return None
    return int(n)


def count_params(params: dict[str, Any] | None) -> int | None:
    """Number of fitted parameters of one group (the first) of a fit, or None."""
    if not params:
        return None
    first = next(iter(params.values()))
    try:
        arr = np.asarray(first, dtype=float)
    except (TypeError, ValueError):
        return None
    return int(arr.size) if arr.size else None


def stored_config(stored: dict[str, Any] | None) -> RunConfig | None:
    """The RunConfig a run stored (its record's ``config`` entry), or None when it no longer validates."""
    try:
        return RunConfig.model_validate((stored or {}).get("config") or {})
    except (ValidationError, ValueError):
        return None


def stored_limits(stored: dict[str, Any] | None) -> Limits:
    """The sandbox limits a run ran under, from what it stored (the defaults where that is unreadable)."""
    config = stored_config(stored)
    if config is not None:
        return config.evaluator.limits()
    try:
        section = ((stored or {}).get("config") or {}).get("evaluator") or {}
        return EvaluatorConfig.model_validate(section).limits()
    except (ValidationError, ValueError, AttributeError):
        return Limits()


@dataclass(frozen=True)
class RunSummary:
    """One run as its store records it.

    Attributes:
        task, seed: what the run searched, with which seed.
        config: the run's configuration (None when it no longer validates).
        task_spec: how to rebuild the task (``taskfile.task_from_spec``).
        final: the chosen law (``RunStore.final``: the recorded pick, else the best on validation).
        test: the final law's stored test evaluation (None until the run finished).
        stop_reason: why the last session stopped (``search.status.STOP_REASONS``), None if it never did.
        iterations: proposals made (the loop's iteration counter).
        elapsed_seconds: time searched over all sessions (None if never recorded).
    """

    task: str
    seed: int
    config: RunConfig | None
    task_spec: dict[str, Any]
    final: StoredProgram | None
    test: StoredTestEvaluation | None
    stop_reason: str | None
    iterations: int
    elapsed_seconds: float | None
    limits: Limits

    @classmethod
    def from_store(cls, store: RunStore) -> RunSummary:
        info = store.run()
        stops = store.events("stopped")
        final = store.final()
        next_iteration = store.get_state("next_iteration")
        iterations = (int(next_iteration) - 1 if next_iteration
                      else max((p.iteration for p in store.programs()), default=0))
        return cls(
            task=info.task,
            seed=info.seed,
            config=stored_config(info.config),
            task_spec=info.config.get("task_spec") or {"name": info.task},
            final=final,
            test=store.test_evaluation(final.id) if final is not None else None,
            stop_reason=(stops[-1].data or {}).get("reason") if stops else None,
            iterations=iterations,
            elapsed_seconds=finite(store.get_state("elapsed_seconds")),
            limits=stored_limits(info.config),
        )

    @property
    def finished(self) -> bool:
        """The run stopped and its final law was scored on test."""
        return self.stop_reason is not None and self.test is not None

    @property
    def complete(self) -> bool:
        """Finished, and stopped by a limit rather than a signal (an interrupted run is worth resuming)."""
        return self.finished and self.stop_reason != "interrupted"

    @property
    def n_params(self) -> int | None:
        """Fitted parameters of the final law: what its proposer recorded, else counted in its test fit."""
        if self.final is None:
            return None
        n = n_params_of(self.final.meta)
        if n is None and self.test is not None:
            n = count_params(self.test.params)
        return n

    @property
    def uses_llm(self) -> bool:
        return self.config is not None and self.config.uses_llm()

    @property
    def models(self) -> list[str]:
        """The LLM models of the run (empty for an offline run)."""
        if not self.uses_llm or self.config is None or self.config.llm is None:
            return []
        return [m.name for m in self.config.llm.models]


#: Store state: the digest of the table a run started on (``tasks.task.data_digest`` of its train and test rows).
DATA_STATE = "data_digest"


def check_same_table(task: Task, started_on: str | None, run_dir: str | os.PathLike,
                     back: str = "put the original table back, or start a new run on the new one") -> None:
    """Raise a ``DataError`` when ``task``'s rows are not the rows a run started on (``started_on``: its stored
    ``DATA_STATE``; None, a run from before the record, passes): its law was fitted and scored on the old rows, so
    a resume, a prediction, an evaluation or a report on the new ones would mix two tables. ``back`` says what to do."""
    from evosld.errors import DataError
    from evosld.tasks.task import data_digest

    if started_on is not None and started_on != data_digest(task):
        raise DataError(f"{run_dir}: the table this run started on has changed since (its train or test rows "
                        f"differ), and its law and stored scores were made on the old rows; {back}")


def check_table_present(spec: dict[str, Any], run_dir: str | os.PathLike) -> None:
    """Raise a ``DataError`` that says what to do when the table a run was made on (its stored task spec's csv
    file) is no longer where the run read it: the run rebuilds its task from that file, and checks it is the same."""
    from evosld.errors import DataError

    path = (spec.get("csv") or {}).get("path") if isinstance(spec, dict) else None
    if path and not Path(path).exists():
        raise DataError(f"the run in {run_dir} was made on the table {path}, which is not there any more: put it "
                        "back at that path (the run checks it is the same table) and run this again")


def stored_task(info: RunInfo, run_dir: str | os.PathLike, task: Task | str | None = None,
                data_dir: str | os.PathLike | None = None, limit: Any = None) -> Task:
    """The task a stored run was made on: ``task`` itself, a built-in task by name, or rebuilt from the run.

    Args:
        info: the run's ``RunInfo`` (its task name and stored config).
        run_dir: the run directory (for the error message).
        task: a ``Task``, a built-in task name, or None (the run's own, from its
            stored task spec as ``--resume`` rebuilds it: its csv table, else
            the built-in task of its name on the data directory the run used).
        data_dir: where built-in task data lives when the run stored none
            (default ``$EVOSLD_DATA``).
        limit: the run's recorded parameter limit (its store state ``run.keptlimit.LIMIT_STATE``), which a
            task rebuilt with the default limit of its table takes, as ``--resume`` does.
    Raises:
        DataError: the task does not match the run's, or its data cannot be loaded.
    """
    from evosld.errors import DataError

    if task is None:
        from evosld.run.keptlimit import recorded_limit, with_limit
        from evosld.tasks.taskfile import task_from_spec

        spec = info.config.get("task_spec") or {"name": info.task}
        check_table_present(spec, run_dir)
        task = task_from_spec(spec, None if data_dir is None else str(data_dir))
        known, kept = recorded_limit(limit)
        task = with_limit(task, kept) if known else task
    elif isinstance(task, str):
        from evosld.tasks import load_task

        task = load_task(task, data_dir=data_dir)
    if task.name != info.task:
        raise DataError(f"{run_dir} is a run on {info.task!r}, not on {task.name!r}")
    return task
