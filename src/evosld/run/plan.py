"""The one front door: what a run will be, decided once for the CLI and the Python API.

``plan_run(task_or_spec, overrides, ...)`` turns what the user gave (a Task, a
built-in task name, a task file, a task spec, or a run directory to resume)
and the flat config overrides into the task, the validated RunConfig, the run
directory and the task spec stored in the run. ``evosld discover`` and
``evosld.discover`` both call it, so a new run gets the same budget, iteration
limit and run directory from either door; the defaults themselves live in
``config.RunConfig`` (``for_new_run``, ``default_run_dir``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evosld.config import RunConfig, load_config
from evosld.errors import DataError
from evosld.run.outputs import STORE_FILE
from evosld.run.runlock import check_free
from evosld.tasks.task import Task


@dataclass(frozen=True)
class RunPlan:
    """A run about to start (or resume).

    Attributes:
        task: the task to search.
        config: the validated configuration, defaults applied.
        run_dir: where the run's store and outputs go.
        task_spec: how to rebuild the task (stored in the run; ``taskfile.task_from_spec``).
        resume: continue the run stored in ``run_dir``.
        ignored: OpenEvolve config keys evosld accepted but does not use.
        searched_seconds: time the run has searched already (0 for a new run).
        notes: what to tell the user before the run (one line each), e.g. that a resume keeps its parameter limit.
    """

    task: Task
    config: RunConfig
    run_dir: Path
    task_spec: dict[str, Any]
    resume: bool = False
    ignored: tuple[str, ...] = ()
    searched_seconds: float = 0.0
    notes: tuple[str, ...] = ()

    @property
    def budget_spent(self) -> bool:
        """A resumed run that has already searched its whole time budget."""
        budget = self.config.budget_seconds
        return self.resume and budget is not None and self.searched_seconds >= budget


def task_spec_for(name: str, data_dir: str | None = None) -> dict[str, Any]:
    """The task spec of a built-in task name or a task file (.yaml)."""
    from evosld.tasks.taskfile import is_task_file, read_task_file

    if is_task_file(name):
        return read_task_file(name)
    return {"name": name, "data_dir": data_dir}


def plan_run(
    task_or_spec: Task | str | dict[str, Any] | None,
    overrides: dict[str, Any] | None = None,
    *,
    config_file: str | Path | None = None,
    output: str | Path | None = None,
    resume: str | Path | None = None,
    data_dir: str | None = None,
    options: dict[str, str] | None = None,
) -> RunPlan:
    """Decide the task, config, run directory and task spec of a run.

    Args:
        task_or_spec: a Task, a built-in task name or task file, or a task spec
            (``{"name": ...}`` / ``{"csv": {...}}``). On resume it may be None (the
            stored spec rebuilds the task); a Task given is used as is.
        overrides: flat config overrides (``"evaluator.timeout"``; None values are skipped).
        config_file: a YAML config for a new run (a resumed run starts from its stored config).
        output: the run directory of a new run (default ``RunConfig.default_run_dir``).
        resume: a run directory to continue.
        data_dir: where built-in tasks' tables are (default $EVOSLD_DATA, else the Hub).
        options: the command-line option of each override key, to name in an error (``load_config``).

    Raises:
        ConfigError: a bad config key or value, no run store in ``resume``, or a ``max_params`` or
            ``random_seed`` override other than the resumed run's (``run.keptlimit``, ``_keep_seed``).
        DataError: the task cannot be built.
    """
    from evosld.tasks.taskfile import task_from_spec

    if resume is not None:
        from evosld.run.keptlimit import LIMIT_STATE, keep_limit
        from evosld.run.store import RunStore
        from evosld.run.summary import check_table_present

        run_dir = Path(resume)
        check_free(run_dir)
        named = options or {}
        if output is not None and Path(output).resolve() != run_dir.resolve():
            raise DataError(f"{named.get('resume', 'resume')} continues the run in {run_dir} and writes there; drop "
                            f"{named.get('output', 'output')} {output} (to keep a copy elsewhere, copy the directory "
                            "once the run is done)")
        with RunStore.open(run_dir / STORE_FILE) as store:
            info = store.run()
            searched = float(store.get_state("elapsed_seconds", 0.0) or 0.0)
            recorded = store.get_state(LIMIT_STATE)
        if isinstance(task_or_spec, str) and task_or_spec != info.task:
            raise DataError(f"{run_dir} is a run on {info.task!r}, not on {task_or_spec!r}: resume it without "
                            f"naming a task, or start a new run on {task_or_spec!r} in another folder")
        spec = info.config.get("task_spec") or {"name": info.task}
        if not isinstance(task_or_spec, Task):
            check_table_present(spec, run_dir)
        base = info.config.get("config") or {}
        _keep_seed(base, overrides, run_dir, (options or {}).get("random_seed", "random_seed"))
        config, ignored = load_config(None, overrides, base=base, options=options)
        task = task_or_spec if isinstance(task_or_spec, Task) else task_from_spec(spec, data_dir)
        task, notes = keep_limit(task, recorded, run_dir, given=(overrides or {}).get("max_params"),
                                 started_with=base.get("max_params"),
                                 option=(options or {}).get("max_params", "max_params"))
        return RunPlan(task, config, run_dir, spec, resume=True, ignored=tuple(ignored), searched_seconds=searched,
                       notes=tuple(notes))

    config, ignored = load_config(config_file, overrides, options=options)
    config = config.for_new_run()
    if output is not None:
        check_free(output)
    if isinstance(task_or_spec, Task):
        task, spec = task_or_spec, {"name": task_or_spec.name}
    else:
        if task_or_spec is None:
            raise DataError("name a task (see `evosld tasks`), a task file (.yaml), or give a table")
        spec = task_spec_for(task_or_spec, data_dir) if isinstance(task_or_spec, str) else task_or_spec
        task = task_from_spec(spec, data_dir)
    run_dir = Path(output) if output is not None else config.default_run_dir(task.name)
    return RunPlan(task, config, run_dir, spec, ignored=tuple(ignored))


def _keep_seed(base: dict[str, Any], overrides: dict[str, Any] | None, run_dir: Path, option: str) -> None:
    """Refuse a resume under another seed than the run's: its proposals so far came from that seed's random
    stream, and a search continued on another could be reproduced from neither."""
    from evosld.errors import ConfigError

    given, started = (overrides or {}).get("random_seed"), base.get("random_seed", 0)
    if given is not None and int(given) != int(started):
        raise ConfigError(f"--resume continues the run in {run_dir} with the seed it started with ({started}); "
                          f"drop {option} {given} (for another seed, start a new run with another --output)")
