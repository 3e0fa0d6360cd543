"""The Python API: discover a law for a DataFrame, load and evaluate tasks.

    import evosld
    result = evosld.discover(df, features=["N", "D"], target="loss", budget_seconds=120)
    result.formula, result.test["r2"]
    result.predict(new_runs)            # (M,) or (M, T) array
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evosld.errors import ConfigError, DataError
from evosld.evaluation import Evaluation, Evaluator
from evosld.evaluation.scatter import Scatter
from evosld.program import Program
from evosld.proposers.base import Proposer
from evosld.run.outputs import TABLE_FILE
from evosld.run.summary import n_params_of
from evosld.search.status import CRASH_PATIENCE
from evosld.tasks import Task, task_from_frame
from evosld.tasks import load_task as _load_task
from evosld.tasks.checks import FROM_PYTHON
from evosld.tasks.tables import split_names
from evosld.tasks.targetrange import NO_RANGE


@dataclass
class DiscoveryResult:
    """The best law of a run and how well it does.

    Attributes:
        source: the best program (a contract program, runs anywhere).
        formula: readable formula when the proposer knows it, else None.
        n_params: fitted parameters per group (None when unknown).
        params: group -> fitted parameters (fit on the whole train split).
        val, test: metrics records (R², NMSE, NMAE...) on validation and test.
        run_dir: where the run store, best_program.py, best.json and report live.
        scatter: how much the runs scatter around the law on train, and the R² that
            allows on validation and test (``evaluation.scatter``; None if not computed).
        group_by: the column of the user's table whose values were fitted separately
            (``discover(..., group=...)``); ``predict`` reads the groups from it.
    """

    task: Task
    source: str
    formula: str | None
    n_params: int | None
    params: dict[str, Any]
    val: dict[str, Any]
    test: dict[str, Any]
    run_dir: Path
    meta: dict[str, Any] = field(default_factory=dict)
    scatter: Scatter | None = None
    group_by: str | None = None

    @property
    def program(self) -> Program:
        return Program(self.source)

    def __repr__(self) -> str:
        """The law and its scores in one line (the dataclass's own repr printed the task's whole tables)."""
        def r2(rec: dict[str, Any]) -> str:
            value = rec.get("r2") if isinstance(rec, dict) else None
            return "None" if value is None else f"{value:.4f}"

        return (f"DiscoveryResult(task={self.task.name!r}, formula={self.formula!r}, n_params={self.n_params}, "
                f"val_r2={r2(self.val)}, test_r2={r2(self.test)}, run_dir={str(self.run_dir)!r})")

    def predict(self, df: pd.DataFrame) -> np.ndarray:
        """Predictions of the best law for the rows of ``df``.

        ``df`` needs the task's feature columns (and, when the task has several
        groups, the column it was grouped by, or a ``group`` column). The law is fitted per group on the train
        split and run in the sandbox. Returns (M,) for one target, (M, T) else.
        """
        from evosld.predict import predict_law

        X, keys = self._inputs(df, "predict")
        try:
            return predict_law(self.task, self.source, X, keys)
        except DataError as exc:
            raise DataError(f"predict: {exc}") from None

    def refit_range(self, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """How far the predictions for the rows of ``df`` move when the law is fitted on fewer runs.

        The lowest and highest prediction over the fit on all train rows and refits without the
        validation runs and without each inner fold's band (``evosld.predict.law.refit_range``,
        what ``evosld predict`` shows). Returns (lo, hi), each shaped as ``predict``'s
        result; NaN where no refit gave a finite value.
        """
        from evosld.predict.law import refit_range

        X, keys = self._inputs(df, "refit_range")
        lo, hi = refit_range(self.task, self.source, X, keys)
        return (lo, hi) if len(self.task.targets) > 1 else (lo[:, 0], hi[:, 0])

    def _inputs(self, df: pd.DataFrame, what: str) -> tuple[np.ndarray, np.ndarray]:
        """(M, F) features of ``df`` in the task's order and (M,) their groups, or one ``DataError`` saying why not."""
        from evosld.predict.inputs import checked_inputs, group_keys

        features = list(self.task.features)
        if isinstance(df, pd.DataFrame):  # rows named by their index, not by lines of a file it never was
            df = df.copy(deep=False)
            df.attrs[FROM_PYTHON] = True
        df = checked_inputs(df, self.task, what)
        try:
            keys = group_keys(self.task, df, group_column=self.group_by, option=None)
        except DataError as exc:
            raise DataError(f"{what}: {exc}") from None
        return df[features].to_numpy(dtype=float), keys


def _say_interrupted(signum: int, run_dir: Path, found: bool) -> None:
    """Tell a notebook or script user where an interrupted run is; exit after SIGTERM."""
    import signal
    import sys

    from evosld.signals import exit_code_for, signal_name

    what = ("no law had run yet" if not found else "the best law so far is in the run's best files (the process "
            "now exits)" if signum == signal.SIGTERM else "the best law so far is returned")
    print(f"evosld: interrupted by {signal_name(signum)}; {what}. The run is in {run_dir}; continue it with "
          f"evosld.discover(..., resume={str(run_dir)!r}) and the same data", file=sys.stderr)
    if signum == signal.SIGTERM:
        raise SystemExit(exit_code_for(signum))
    if not found:
        raise KeyboardInterrupt(f"interrupted before any law ran; the run is in {run_dir}")


def load_task(name: str, data_dir: str | None = None) -> Task:
    """A built-in task (``evosld.task_names()``), from ``data_dir``, $EVOSLD_DATA or the Hub."""
    return _load_task(name, data_dir=data_dir)


def evaluate(program: str | Path | Program, task: Task | str, split: str = "val") -> Evaluation:
    """Score a program (source text, file path or Program) on a task, sandboxed."""
    if isinstance(task, str):
        task = load_task(task)
    if isinstance(program, Path) or (isinstance(program, str) and "\n" not in program and program.endswith(".py")):
        program = Program.from_file(program)
    return Evaluator(task).evaluate(program, split)


def _store_table(df: pd.DataFrame, spec: dict[str, Any], run_dir: Path) -> dict[str, Any]:
    """Write the rows (``TABLE_FILE``) into the run directory and return the task spec that rebuilds the task."""
    from evosld.run.outputs import STORE_FILE, check_fresh_output

    if (run_dir / STORE_FILE).exists():
        raise ConfigError(f"{run_dir} already holds a run; give another output directory")
    check_fresh_output(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / TABLE_FILE
    # pandas writes floats in their shortest exact form and keeps a whole-valued float column float
    # (64000000.0): with "%.17g" it read back as integers, the tables' digest changed and --resume refused the run
    df.to_csv(path, index=False)
    return {"csv": {"path": str(path.resolve()), **spec}}


def _check_kinds(values: dict[str, Any], kinds: tuple[type, ...], what: str) -> None:
    """Refuse an argument given (not None) as something other than ``kinds``, naming it: ``output=123`` said
    "expected str, bytes or os.PathLike object, not int" from deep inside, and ``test=5`` "'int' object has no
    attribute 'strip'"."""
    for name, value in values.items():
        if value is not None and not isinstance(value, kinds):
            raise ConfigError(f"{name} takes {what}, not {type(value).__name__} {value!r}")


def discover(
    data: pd.DataFrame | Task | str,
    features: list[str] | str | None = None,
    target: str | list[str] | None = None,
    *,
    group: str | None = None,
    test: str | None = None,
    val: str | None = None,
    name: str = "my_law",
    description: str = "",
    max_params: int | None = None,
    scale_tolerance: float = 1e-3,
    log_features: list[str] | None = None,
    linear_features: list[str] | None = None,
    baseline: str | None = "auto",
    target_range: str | tuple[float | None, float | None] | None = None,
    proposer: str | Proposer | None = None,
    llm: dict[str, Any] | None = None,
    budget_seconds: float | None = None,
    iterations: int | None = None,
    seed: int | None = None,
    output: str | Path | None = None,
    config: str | Path | None = None,
    progress: bool = True,
    resume: str | Path | None = None,
    workers: int | None = None,
    timeout: float | None = None,
) -> DiscoveryResult:
    """Discover a scaling law for a table of runs (or a built-in task).

    Args:
        data: a DataFrame with one row per run, a Task, or a built-in task name.
        features, target, group, test, val: as for ``evosld discover --csv``
            (without ``val``, validation is derived from ``test``).
        scale_tolerance: sizes closer than this relative difference count as one scale.
        log_features, linear_features: features put on a log scale besides the ones guessed (a
            positive feature spanning less than 10x), and features kept on a linear scale whatever the
            guess (a column with zeros), as ``--log-features`` / ``--linear-features``.
        target_range: the range every target can take, ``"0,1"`` or ``(0, 1)``
            (an empty side or None in the pair: open); rows outside it are an
            error, and laws that leave it one step beyond the data are passed
            over. None: [0, 1] when every train target lies in it (a
            fraction), else no range; ``"none"``: no range at all.
        baseline: reference law refit beside the found one (``"auto"``: the
            Chinchilla form when the features look like model size and data).
        proposer: None or "symbolic" (offline search), "llm" (uses ``llm``
            settings: models, api_base...), or a Proposer object.
        budget_seconds, iterations: when to stop (whichever first). The defaults are
            those of ``evosld discover``: an offline run given no ``iterations``
            stops on its time budget, 180 s unless ``budget_seconds`` is given;
            an LLM run stops after 200 proposals.
        seed: reproducible in symbolic mode (default 0).
        output: run directory (default: ``runs/<name>-seed<S>-<time>``).
        progress: show a live progress line (works in notebooks too).
        resume: a run directory to continue (the same data and settings).
        workers, timeout: evaluations in parallel (default 2) and seconds each candidate may take (default
            60), as ``--workers`` / ``--timeout``.

    Ctrl-C (KeyboardInterrupt, a notebook's interrupt) stops the search; the run
    still finishes and its best law so far is returned, with a line saying
    where the run is and how to continue it. A second Ctrl-C while it finishes
    raises KeyboardInterrupt at once; the run directory stays resumable. After
    SIGTERM the run finishes the same way and the process exits (code 143).
    """
    from evosld.run.plan import plan_run
    from evosld.run.runner import run_discovery

    _check_kinds({"test": test, "val": val, "name": name, "description": description}, (str,), "text")
    _check_kinds({"output": output, "config": config, "resume": resume}, (str, os.PathLike), "a path (text or Path)")
    table_spec: dict[str, Any] | None = None
    if isinstance(data, (Task, str)):
        task_or_spec: Task | str = data
    else:
        if features is None or target is None:
            raise DataError("discover(df, ...) needs features=[...] and target=...")
        if isinstance(features, str) and not (isinstance(data, pd.DataFrame) and features in data.columns):
            features = split_names(features)  # "N,D", as the command line takes it: a list of names is meant
        if isinstance(data, pd.DataFrame):  # messages name its rows by index, not by lines of a file it has not
            data = data.copy(deep=False)
            data.attrs[FROM_PYTHON] = True
        task_or_spec = task_from_frame(data, features, target, group=group, test=test, val=val, name=name,
                                       description=description, max_params=max_params,
                                       scale_tolerance=scale_tolerance, baseline=baseline,
                                       target_range=target_range, log_features=log_features,
                                       linear_features=linear_features)
        table_spec = {"features": list(task_or_spec.features), "target": target, "group": group, "test": test,
                      "val": val, "name": name, "description": description, "max_params": max_params,
                      "scale_tolerance": scale_tolerance, "baseline": baseline,
                      "log_features": log_features, "linear_features": linear_features,
                      # as given, so a resumed run assumes (or not) what this one did
                      "target_range": (None if task_or_spec.target_range_how else
                                       list(task_or_spec.target_range) if task_or_spec.target_range is not None
                                       else NO_RANGE)}
    overrides: dict[str, Any] = {"random_seed": seed, "budget_seconds": budget_seconds,
                                 "max_iterations": iterations, "max_params": max_params,
                                 "evaluator.parallel_evaluations": workers, "evaluator.timeout": timeout}
    injected: Proposer | None = None
    if isinstance(proposer, str):
        overrides["proposer"] = proposer
    elif proposer is not None:
        injected = proposer
    if llm is not None:
        overrides["llm"] = llm
    plan = plan_run(task_or_spec, overrides, config_file=config, output=output, resume=resume)
    for note in plan.notes:
        print(f"evosld: note: {note}", file=sys.stderr)
    task, run_dir = plan.task, plan.run_dir
    spec = _store_table(data, table_spec, run_dir) if table_spec is not None and not plan.resume else plan.task_spec
    common: dict[str, Any] = {"proposer": injected, "task_spec": spec, "resume": plan.resume}
    if progress:
        from evosld.progress import RichProgress

        with RichProgress(budget_seconds=plan.config.budget_seconds, max_iterations=plan.config.iteration_bound) as bar:
            out = run_discovery(task, plan.config, run_dir, progress=bar, **common)
    else:
        out = run_discovery(task, plan.config, run_dir, **common)
    if out.signum is not None:
        _say_interrupted(out.signum, run_dir, found=out.best_source is not None)
    if out.status.crash:
        print(f"evosld: the proposer raised on every proposal of the last {CRASH_PATIENCE} (the last: "
              f"{out.status.crash}); the run stopped, its best law so far is returned. Fix the proposer; "
              f"evosld.discover(..., resume={str(run_dir)!r}) continues", file=sys.stderr)
    if out.best_source is None:
        raise DataError(f"no candidate law ran successfully; see {run_dir / 'evosld.log'}")
    return DiscoveryResult(
        task=task, source=out.best_source, formula=out.meta.get("formula"), n_params=n_params_of(out.meta),
        params=out.params, val=out.val, test=out.test, run_dir=run_dir, meta=out.meta,
        scatter=out.scatter, group_by=group if table_spec is not None else None,
    )
