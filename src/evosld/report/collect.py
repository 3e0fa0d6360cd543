"""Gather what a report shows: facts from the run store, fits from the sandbox.

``collect`` reads the store (never writes it) and evaluates two programs, the
run's best and the task's reference law (the human law of a built-in task, or
the starter of a user task), on validation and test through the sandbox. The
test fit only draws the figures and fills the table: nothing here feeds back
into a search.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from evosld.bounds import AtBound, ParamBounds, params_at_bounds, program_bounds
from evosld.errors import ConfigError, EvosldError
from evosld.evaluation.evaluator import Evaluation, Evaluator
from evosld.evaluation.executors import refit_pool
from evosld.evaluation.reference import ReferenceFit, refit_law
from evosld.evaluation.sandbox import Sandbox
from evosld.evaluation.scatter import off_trend_warning, scatter_of, scatter_warning
from evosld.program import Program, parse_python
from evosld.report.curves import TRAIN_SET, PlotPlan, plan_plot
from evosld.run.keptlimit import LIMIT_STATE
from evosld.run.outputs import STORE_FILE
from evosld.run.store import FailureCounts, HistoryPoint, LLMTotals, RunStore, StoredProgram
from evosld.run.summary import (
    DATA_STATE,
    RunSummary,
    check_same_table,
    count_params,
    n_params_of,
    stored_task,
)
from evosld.tasks.task import Task


class ReportError(EvosldError):
    """A run cannot be reported on (nothing succeeded, or the run is unusable)."""


@dataclass
class LawResult:
    """One law evaluated for the report.

    ``val`` / ``test`` are the evaluations made for the figures (fit on train
    minus validation / on all of train); ``val_metrics`` / ``test_metrics``
    are the numbers the table shows (for the run's best: the ones the run
    stored, when it stored them).
    """

    label: str
    kind: Literal["best", "human", "starter"]
    source: str
    val: Evaluation
    test: Evaluation
    val_metrics: dict[str, Any]
    test_metrics: dict[str, Any]
    n_params: int | None
    note: str = ""


@dataclass(frozen=True)
class RunFacts:
    """How the run went: who proposed, how much was spent, what failed."""

    task: str
    seed: int
    created: float
    evosld_version: str
    proposer: str
    models: list[str]
    proposals_by_proposer: dict[str, int]
    iterations: int
    max_iterations: int | None
    budget_seconds: float | None
    programs: int
    evaluations: int
    ok_evaluations: int
    failures: FailureCounts
    wall_seconds: float | None
    stop_reason: str | None
    llm: LLMTotals
    finished: bool


@dataclass
class ReportData:
    """Everything the figures and the page are built from."""

    run_dir: Path
    task: Task
    best: StoredProgram
    best_law: LawResult
    reference: LawResult | None
    plan: PlotPlan
    history: list[HistoryPoint]
    programs: list[StoredProgram]
    facts: RunFacts
    warnings: list[str] = field(default_factory=list)
    #: how the final law was picked (``search.selection.Selection.to_json``), if recorded
    selection: dict[str, Any] | None = None
    #: the search box the best program declares (None: it declares none)
    bounds: ParamBounds | None = None
    #: the best law's parameters (fitted on all of train) that sit on a bound of that box
    at_bounds: list[AtBound] = field(default_factory=list)
    #: where on the searched-time clock each resumed session started (seconds)
    resumed_at: list[float] = field(default_factory=list)
    #: train runs the best law misses grossly (``evaluation.scatter.off_trend_runs`` records)
    off_trend: list[dict[str, Any]] = field(default_factory=list)


def open_run(run_dir: str | Path) -> RunStore:
    """Open the store of a run directory, or raise a one-line ``ConfigError``."""
    path = Path(run_dir)
    if not path.is_dir():
        raise ConfigError(f"{path} is not a directory; give the run directory of an `evosld discover` run")
    if not (path / STORE_FILE).is_file():
        raise ConfigError(f"{path} is not a run directory (it holds no {STORE_FILE})")
    return RunStore.open(path / STORE_FILE)


def law_title(source: str, fallback: str) -> str:
    """The first line of a program's docstring (e.g. the human law's reference)."""
    try:
        doc = ast.get_docstring(parse_python(source))
    except SyntaxError:
        doc = None
    line = (doc or "").strip().splitlines()[0:1]
    return line[0].rstrip(".") if line and line[0] else fallback


def run_facts(store: RunStore, summary: RunSummary | None = None) -> RunFacts:
    """Facts about a run, read from its store (and its summary, when read already)."""
    info = store.run()
    summary = summary or RunSummary.from_store(store)
    config = info.config.get("config") or {}
    programs = store.programs()
    by_proposer: dict[str, int] = {}
    for p in programs:
        by_proposer[p.proposer] = by_proposer.get(p.proposer, 0) + 1
    return RunFacts(
        task=info.task,
        seed=info.seed,
        created=info.created,
        evosld_version=info.evosld_version,
        proposer="LLM" if summary.uses_llm else "symbolic (offline)",
        models=summary.models,
        proposals_by_proposer=by_proposer,
        iterations=summary.iterations,
        max_iterations=config.get("max_iterations"),
        budget_seconds=config.get("budget_seconds"),
        programs=len(programs),
        evaluations=store.evaluation_count(),
        ok_evaluations=store.evaluation_count(ok_only=True),
        failures=store.failure_counts(),
        wall_seconds=summary.elapsed_seconds,
        stop_reason=summary.stop_reason,
        llm=store.llm_totals(),
        finished=summary.finished,
    )


def _reference(task: Task, evaluator: Evaluator, extra: dict[str, Any]) -> tuple[ReferenceFit, Literal["human", "starter"]]:
    """The law the best is compared with (``tasks.baselines.comparison_law``), refit (its test fit with
    ``extra`` predictions), and its kind: the task's reference law, else the plain power law of the starter.
    """
    from evosld.tasks.baselines import comparison_law
    from evosld.tasks.builtin import BUILTIN

    label, source, kind = comparison_law(task)
    fit = refit_law(evaluator, label, source, extra)
    if task.name in BUILTIN:
        fit = replace(fit, label=f"human law: {law_title(fit.source, task.name)}")
    return fit, kind


def _n_params(meta: dict[str, Any], fit: Evaluation) -> int | None:
    n = n_params_of(meta)
    return n if n is not None else count_params(fit.params)


def collect(
    run_dir: str | Path,
    task: Task | None = None,
    data_dir: str | None = None,
    x_feature: str | None = None,
    sandbox: Sandbox | None = None,
) -> ReportData:
    """Read a run and evaluate its best and reference laws for the report.

    Args:
        run_dir: a directory written by ``evosld discover``.
        task: the run's task (rebuilt from the store when not given).
        data_dir: where built-in task data lives, when the task is rebuilt.
        x_feature: the feature of the extrapolation axis (default: ``main_variable``).
        sandbox: where the programs run (default: one with the run's limits).
    Raises:
        ConfigError: ``run_dir`` is not a run directory.
        ReportError: no program of the run was evaluated successfully.
    """
    run_dir = Path(run_dir)
    with open_run(run_dir) as store:
        info = store.run()
        if task is None:
            task = stored_task(info, run_dir, data_dir=data_dir, limit=store.get_state(LIMIT_STATE))
            check_same_table(task, store.get_state(DATA_STATE), run_dir)
        best = store.final()
        if best is None:
            raise ReportError(f"no program of the run in {run_dir} was evaluated successfully; nothing to report")
        summary = RunSummary.from_store(store)
        stored_test = summary.test
        facts = run_facts(store, summary)
        history = store.history()
        programs = store.programs()
        selection = store.get_state("selection")
        resumed_at = [before for _, before, resumed in store.sessions() if resumed]
    limits = summary.limits
    sandbox = sandbox or Sandbox(limits)
    evaluator = Evaluator(task, sandbox, limits)
    plan = plan_plot(task, x_feature)
    extra = plan.extra_predict(task)
    with refit_pool(sandbox, 3) as pool:  # a stop ends the refits in flight
        best_val = pool.submit(evaluator.evaluate, best.source, "val")
        best_test = pool.submit(evaluator.evaluate, best.source, "test", extra)
        ref = pool.submit(_reference, task, evaluator, extra)
        done = {"best_val": best_val.result(), "best_test": best_test.result()}
        ref_fit, ref_kind = ref.result()
    warnings: list[str] = []
    if stored_test is not None:
        test_metrics, note = stored_test.metrics, ""
    else:
        test_metrics = done["best_test"].metrics()
        note = "test scores computed for this report: the run has not finished (no stored test evaluation)"
        warnings.append(note)
    if not done["best_test"].ok:
        warnings.append(f"the best law failed when refit for the figures: {done['best_test'].message}")
    spread = scatter_of(task, done["best_test"], TRAIN_SET)
    for line in (scatter_warning(spread), off_trend_warning(spread, len(task.train), len(task.groups) > 1)):
        if line:
            warnings.append(line[0].upper() + line[1:])
    best_law = LawResult(
        label=f"best law found (program {best.id})",
        kind="best",
        source=best.source,
        val=done["best_val"],
        test=done["best_test"],
        val_metrics=best.evaluation.metrics if best.evaluation else done["best_val"].metrics(),
        test_metrics=test_metrics,
        n_params=_n_params(best.meta or {}, done["best_test"]),
        note=note,
    )
    reference = LawResult(
        label=ref_fit.label,
        kind=ref_kind,
        source=ref_fit.source,
        val=ref_fit.val,
        test=ref_fit.test,
        val_metrics=ref_fit.val.metrics(),
        test_metrics=ref_fit.test.metrics(),
        n_params=count_params(ref_fit.test.params) or count_params(ref_fit.val.params),
    )
    if not (isinstance(selection, dict) and selection.get("program_id") == best.id):
        selection = None
    box = program_bounds(best.source, best.meta)
    at_bounds = params_at_bounds(done["best_test"].params if done["best_test"].ok else None, box)
    return ReportData(run_dir, task, best, best_law, reference, plan, history, programs, facts, warnings,
                      selection=selection, bounds=box, at_bounds=at_bounds, resumed_at=resumed_at,
                      off_trend=spread.off_trend if spread is not None else [])


def complexity(program: StoredProgram) -> tuple[int | None, int]:
    """(fitted parameters from the program's meta or None, code lines of its EVOLVE block)."""
    return n_params_of(program.meta), Program(program.source).code_size()
