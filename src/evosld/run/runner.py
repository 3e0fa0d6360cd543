"""One discovery run, end to end: set up, loop, test once, write outputs.

``run_discovery`` builds the parts (store, database, proposer, executor) unless
they are passed in, runs the loop (resuming if the run directory holds a
store), scores the final best once on test and writes ``best_program.py``,
``best.json`` and the report. It works from a script, the CLI or a notebook
(it never clashes with a running event loop).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from evosld.bounds import bounds_record
from evosld.config import RunConfig
from evosld.diagnose import ranked_kinds, unchanged_kinds
from evosld.errors import ConfigError, DataError, EvosldError, OutputError
from evosld.evaluation.evaluator import Evaluation, Evaluator
from evosld.evaluation.executors import LOCAL_SPARE_RUNS, DaskExecutor, Executor, LocalExecutor
from evosld.evaluation.foldscores import (
    AT_PROBE,
    PROBE_SET,
    fold_names,
    folds_digest,
    missing_folds,
    probe_points,
    score_fold,
    score_folds,
)
from evosld.evaluation.metrics import r2_gap_spread, r2_spread
from evosld.evaluation.reference import refit_law
from evosld.evaluation.sandbox import UIDS_PER_PROCESS, Limits, Sandbox
from evosld.evaluation.scatter import Scatter, scatter_of
from evosld.program import Program
from evosld.proposers.base import Proposal, Proposer
from evosld.run.finishing import Ahead, FinishClock
from evosld.run.keptlimit import record_limit
from evosld.run.outputs import LOG_FILE, STORE_FILE, RunLogHandler, check_fresh_output, write_best
from evosld.run.runlock import RunLock
from evosld.run.store import PRIOR_PROPOSER, SESSION_EVENT, FailureCounts, RunStore
from evosld.run.store.schema import FINAL_STATE, SEARCH_BEST
from evosld.run.summary import DATA_STATE, check_same_table
from evosld.run.twins import add_twins, twin_laws
from evosld.search.database import ProgramDatabase
from evosld.search.information import COMPARISON, Information, bic, least_information, pick_evidence
from evosld.search.loop import DiscoveryLoop
from evosld.search.plausibility import LIMIT, drift, plausible, runaway
from evosld.search.prior import PriorCheck, keep_prior
from evosld.search.selection import (
    Candidate,
    OutOfTime,
    Selection,
    choose,
    pinned_first,
    simpler,
    tied,
    within_limit,
)
from evosld.search.status import CRASH_PATIENCE, LoopLimits, LoopStatus
from evosld.signals import Aborted, StopRequest, catch_stop_signals, signal_name
from evosld.tasks.folds import Fold
from evosld.tasks.starter import (
    anchored_meta,
    anchored_source,
    logistic_meta,
    logistic_source,
    starter_meta,
    starter_source,
)
from evosld.tasks.task import SEARCH_TRAIN, Task, data_digest

log = logging.getLogger("evosld")


@dataclass
class RunOutcome:
    """What a finished (or stopped) run produced."""

    run_dir: Path
    status: LoopStatus
    best_id: int | None
    best_source: str | None
    val: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    selection: Selection | None = None
    reference: dict[str, Any] | None = None
    signum: int | None = None  # a SIGINT/SIGTERM received during the run (it stopped the search, or came while finishing)
    failures: FailureCounts | None = None  # failed proposals and evaluations, by kind
    proposed: int = 0  # programs the proposer wrote over the whole run (seeds not counted)
    finishing: dict[str, Any] | None = None  # the finishing allowance and its use (``FinishClock.record``)
    scatter: Scatter | None = None  # the runs' scatter around the pick and the R² it allows (``evaluation.scatter``)


#: Store state holding the fold scores of the laws in the running (trimmed R²;
#: runs before trimming kept plain R² under ``fold_r2``, which is not read).
FOLD_STATE = "fold_r2_trimmed"
#: Store state: the digest of the rows the stored fold scores were made on (``evaluation.foldscores.folds_digest``).
FOLD_ROWS_STATE = "fold_rows"
#: Store state: program id -> fold name -> its fold fit's predictions at the probe inputs (group -> lists),
#: kept beside ``FOLD_STATE`` and emptied with it.
FOLD_PROBE_STATE = "fold_probe"
#: Store state: program id -> its fit on all train's predictions at the probe inputs (group -> lists).
PROBE_POINTS_STATE = "probe_points"
#: Store state: a pick its checks scored below 0, weighed by the information criterion
#: (``search.information.Information``, as JSON).
INFORMATION_STATE = "information"


def limits_from(config: RunConfig) -> Limits:
    return config.evaluator.limits()


def check_workers(config: RunConfig) -> None:
    """Refuse more local workers than the sandbox can run at once (each run has its own user id).

    Raises:
        ConfigError: one line saying the most, and what to do instead.
    """
    ev = config.evaluator
    most = UIDS_PER_PROCESS - LOCAL_SPARE_RUNS
    if not (ev.dask_scheduler or ev.dask_local_cluster) and ev.parallel_evaluations > most:
        raise ConfigError(f"--workers (evaluator.parallel_evaluations) {ev.parallel_evaluations}: at most {most} evaluations run at once on one "
                          "machine; give fewer, or run them on a Dask cluster (--dask-scheduler)")


def make_executor(task: Task, config: RunConfig) -> Executor:
    """Where the search's evaluations run: a Dask cluster when one is configured, else this machine
    (``check_workers`` has refused more local workers than the sandbox runs at once)."""
    ev = config.evaluator
    if ev.dask_scheduler or ev.dask_local_cluster:
        return DaskExecutor(task, address=ev.dask_scheduler, workers=ev.parallel_evaluations, limits=limits_from(config))
    return LocalExecutor(task, workers=ev.parallel_evaluations, limits=limits_from(config))


def make_proposer(task: Task, config: RunConfig, meter: Any = None) -> Proposer:
    view = task.search_view()
    if config.uses_llm():
        from evosld.proposers.llm import LLMConfig, LLMProposer

        llm = config.llm or LLMConfig()
        if config.diff_based_evolution and not llm.diff_based_evolution:
            llm = llm.model_copy(update={"diff_based_evolution": True})
        return LLMProposer(view, llm, seed=config.random_seed, meter=meter,
                           system_message=config.prompt.system_message)
    from evosld.proposers.symbolic import SymbolicProposer

    return SymbolicProposer(view, seed=config.random_seed, max_params=config.max_params or task.max_params)


def seed_programs(task: Task, config: RunConfig, proposer: Proposer) -> list[Proposal]:
    """The task's starter (and, for a target range with a top, the starter anchored there and the logistic
    curve up to it), the human law if asked, and the proposer's own seeds."""
    seeds = [Proposal(starter_source(task), "starter", meta=starter_meta(task))]
    anchored = anchored_source(task)
    if anchored is not None:
        seeds.append(Proposal(anchored, "starter", meta=anchored_meta(task)))
        seeds.append(Proposal(logistic_source(task), "starter", meta=logistic_meta(task)))
    if config.seed_with_human_law:
        from evosld.tasks.baselines import baseline_source
        from evosld.tasks.builtin import BUILTIN

        if task.name in BUILTIN:
            seeds.append(Proposal(baseline_source(task.name), "human", meta={"origin": "human law"}))
    own = getattr(proposer, "seeds", None)
    if callable(own):
        seeds.extend(own())
    return seeds


def _lineage(store: RunStore, pid: int) -> list[dict[str, Any]]:
    chain, seen = [], set()
    current: int | None = pid
    while current is not None and current not in seen:
        seen.add(current)
        p = store.program(current)
        chain.append({
            "program_id": p.id, "iteration": p.iteration, "proposer": p.proposer,
            "val_r2": p.evaluation.r2 if p.evaluation else None,
        })
        current = p.parent_id
    return chain


def best_record(store: RunStore, task: Task, pid: int, test: dict[str, Any] | None = None,
                params: Any = None, selection: Selection | None = None) -> dict[str, Any]:
    p = store.program(pid)
    meta = p.meta or {}
    return {
        "task": task.name,
        "program_id": pid,
        "iteration": p.iteration,
        "proposer": p.proposer,
        "formula": meta.get("formula"),
        "latex": meta.get("latex"),
        "n_params": meta.get("n_params"),
        "max_params": task.max_params,
        "within_param_limit": (meta.get("n_params") is None or task.max_params is None
                               or meta["n_params"] <= task.max_params),
        "val": p.evaluation.metrics if p.evaluation else None,
        "test": test,
        "params": params,
        **bounds_record(p.source, meta, params),
        "lineage": _lineage(store, pid),
        "selection": selection.to_json() if selection is not None else None,
        "split": task.split_summary(),
        **({"target_range": list(task.target_range)} if task.target_range is not None else {}),
        **({"target_range_how": task.target_range_how} if task.target_range_how else {}),
    }


def _run_coroutine(coro: Any) -> Any:
    """asyncio.run, or in a worker thread when a loop is already running (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _setup_logging(run_dir: Path) -> logging.Handler:
    handler = RunLogHandler(run_dir / LOG_FILE, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return handler


def run_discovery(task: Task, config: RunConfig, run_dir: Path, *, stop: StopRequest | None = None,
                  **kwargs: Any) -> RunOutcome:
    """Run (or resume) a discovery in ``run_dir``, holding its lock; stop cleanly on SIGINT/SIGTERM.

    Takes the arguments of :func:`run_locked`. A first SIGINT or SIGTERM (or
    ``stop.request()``) ends the search at once and the run finishes as usual
    (``outcome.signum`` says which signal); a second one raises
    :class:`~evosld.signals.Aborted`, leaving a store that ``--resume`` completes.

    Raises:
        RunLocked: another live process is running in ``run_dir``.
    """
    run_dir = Path(run_dir)
    check_workers(config)  # before the run directory is made
    if kwargs.get("resume") and not (run_dir / STORE_FILE).is_file():
        raise ConfigError(f"run store not found: {run_dir / STORE_FILE}")
    if not kwargs.get("resume") and not (run_dir / STORE_FILE).exists():
        check_fresh_output(run_dir)  # before the lock file is made, so a refused folder is left as it was
    stop = stop or StopRequest()
    with RunLock.acquire(run_dir), catch_stop_signals(stop):
        try:
            outcome = run_locked(task, config, run_dir, stop=stop, **kwargs)
        except Aborted as exc:
            raise Aborted(exc.signum, f"aborted by a second {signal_name(exc.signum)}; nothing evaluated "
                                      f"is lost: evosld discover --resume {run_dir} finishes the run") from None
    outcome.signum = stop.signum  # also when it came after the search had stopped on its own
    return outcome


def run_locked(
    task: Task,
    config: RunConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    task_spec: dict[str, Any] | None = None,
    proposer: Proposer | None = None,
    executor: Executor | None = None,
    progress: Any = None,
    write_report: bool = True,
    stop: StopRequest | None = None,
) -> RunOutcome:
    """Run (or resume) a discovery in ``run_dir`` and write its outputs (the caller holds the lock).

    Args:
        task: the task (test rows are only used for the final test score).
        config: validated run configuration.
        run_dir: output directory; holds ``run.sqlite`` and the outputs.
        resume: continue the run stored in ``run_dir``.
        task_spec: how to rebuild the task on resume (stored in the run).
        proposer, executor: injected parts (defaults from ``config``).
        progress: a callable taking ``LoopStatus`` (e.g. a rich display).
        stop: when requested, the search stops and the run finishes.
    """
    run_dir = Path(run_dir)
    store_path = run_dir / STORE_FILE
    if resume:
        store = RunStore.open(store_path)
        try:
            check_same_table(task, store.get_state(DATA_STATE), run_dir,
                             "put the original table back to resume, or start a new run on the new one with "
                             "another --output")
        except DataError:
            store.close()
            raise
    else:
        if store_path.exists():
            raise ConfigError(f"{run_dir} already holds a run; use --resume {run_dir} or another --output")
        run_dir.mkdir(parents=True, exist_ok=True)
        store = RunStore.create(store_path, task.name, config.random_seed,
                                {"config": config.model_dump(mode="json", exclude={"llm": {"api_key"}}),
                                 "task_spec": task_spec or {"name": task.name}})
        store.set_state(DATA_STATE, data_digest(task))
    with store, _logging_into(run_dir):
        record_limit(store, task, config)  # a resume keeps it (``plan_run``); a run from before the record gets it now
        return _run_with_store(store, task, config, run_dir, resume=resume, proposer=proposer, executor=executor,
                               progress=progress, write_report=write_report, stop=stop)


@contextlib.contextmanager
def _logging_into(run_dir: Path) -> Iterator[None]:
    """Log the ``evosld`` logger into ``run_dir``'s log file for the duration, whatever ends it."""
    handler = _setup_logging(run_dir)
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


def _run_with_store(store: RunStore, task: Task, config: RunConfig, run_dir: Path, *, resume: bool,
                    proposer: Proposer | None, executor: Executor | None, progress: Any, write_report: bool,
                    stop: StopRequest | None) -> RunOutcome:
    """The body of :func:`run_locked` once the store is open and the log file attached."""
    split = task.split_summary()
    store.set_state("split", split)
    log.info("test: %s; validation: %s (%s); rows fit/val/test per group: %s", split["test_rule"], split["val_rule"],
             split["val_how"] or "given", split["rows_per_group"])
    meter = None
    if config.uses_llm():
        from evosld.proposers.llm import CostMeter

        meter = CostMeter(max_cost=config.max_cost, spent=store.llm_totals().cost_usd)
    own_executor = executor is None
    proposer = proposer or make_proposer(task, config, meter)
    executor = executor or make_executor(task, config)
    database = ProgramDatabase(config.database, seed=config.random_seed)
    t_start = time.monotonic()
    elapsed_before = float(store.get_state("elapsed_seconds", 0.0))
    # where this session starts on the run's searched-time clock (the report's time axis leaves out time down)
    store.add_event(SESSION_EVENT, {"elapsed_before": elapsed_before, "resumed": resume})
    budget = None if config.budget_seconds is None else max(0.0, config.budget_seconds - elapsed_before)
    timings_before = dict(store.get_state("timings", {}) or {})
    t_seeds = time.perf_counter()
    seeds = seed_programs(task, config, proposer)
    seed_seconds = time.perf_counter() - t_seeds
    loop: DiscoveryLoop | None = None

    def save_timings() -> None:
        # where the time went, over all sessions: proposing (with seeding) and screening (symbolic proposer)
        screen = getattr(getattr(proposer, "screen", None), "seconds", None)
        now = {"propose_seconds": seed_seconds + (loop.status.propose_seconds if loop is not None else 0.0),
               "screen_seconds": float(screen) if isinstance(screen, (int, float)) else None}
        store.set_state("timings", {k: None if v is None else float(timings_before.get(k) or 0.0) + v
                                    for k, v in now.items()})

    def on_progress(status: LoopStatus) -> None:
        # the time searched so far, kept as it grows: a budget on --resume counts it whatever stopped the run
        store.set_state("elapsed_seconds", elapsed_before + time.monotonic() - t_start)
        save_timings()
        if progress is not None:
            progress(status)

    def on_best(pid: int, source: str, metrics: dict[str, Any]) -> None:
        write_best(run_dir, source, best_record(store, task, pid))
        store.set_state(SEARCH_BEST, pid)  # the law the best files name until the final pick
        log.info("new best: program %d, val R2 %.4f", pid, metrics.get("r2", float("nan")))

    loop = DiscoveryLoop(
        proposer=proposer,
        executor=executor,
        store=store,
        database=database,
        seed=config.random_seed,
        batch=config.proposals_in_flight,
        fitness=config.fitness,
        seeds=seeds,
        cost_so_far=(lambda: meter.spent) if meter is not None else None,
        on_best=on_best,
        progress=on_progress,
    )
    loop.status.started -= elapsed_before  # the progress clock counts the earlier sessions too
    if stop is not None:
        stop.on_request(loop.request_stop)
    log.info("%s %s on %s (seed %d)", "resuming" if resume else "starting", type(proposer).__name__, task.name, config.random_seed)
    if resume:  # this session may find a better law: until its own final pick, the run's law is the search's best
        store.set_state(FINAL_STATE, None)
    async def _main() -> LoopStatus:
        try:
            return await loop.run(LoopLimits(config.max_iterations, budget, config.max_cost))
        finally:
            closer = getattr(proposer, "aclose", None)
            if closer is not None:
                await closer()

    try:
        status = _run_coroutine(_main())
    finally:
        store.set_state("elapsed_seconds", elapsed_before + time.monotonic() - t_start)
        save_timings()
        if own_executor:
            executor.close()
    outcome = finish(store, task, run_dir, config, status)
    log.info("stopped (%s) after iteration %d; best val R2 %s, test R2 %s", status.stopped, status.iteration,
             outcome.val.get("r2"), outcome.test.get("r2"))
    outcome.failures = store.failure_counts()
    outcome.proposed = sum(1 for p in store.programs() if p.iteration > 0)
    if status.crash:
        log.error("the proposer raised on %d proposals in a row; the last: %s", CRASH_PATIENCE, status.crash)
    log.info("failures: %s", describe_failures(outcome.failures))
    if common := outcome.failures.common_line():
        log.info("%s", common)
    if outcome.failures.unchanged:
        log.info("nothing new: %s", describe_unchanged(outcome.failures))
    if write_report:
        try:
            from evosld.report import write_report as _write_report

            _write_report(run_dir, task=task)
        except OutputError:
            raise  # a full or read-only disk is the user's to fix, not a missing figure
        except EvosldError as exc:
            log.warning("no report: %s", exc)
    return outcome




def describe_failures(counts: FailureCounts) -> str:
    """``proposals 5 (llm_timeout ×4, no_code ×1); evaluations 2 (timeout ×2)``, or ``none``.

    Proposals that found nothing new are not failures (``describe_unchanged``).
    """
    parts = []
    for what, by_kind in (("proposals", counts.proposals), ("evaluations", counts.evaluations)):
        if by_kind:
            parts.append(f"{what} {sum(by_kind.values())} ({ranked_kinds(by_kind)})")
    return "; ".join(parts) or "none"


def describe_unchanged(counts: FailureCounts) -> str:
    """``proposals 3 (duplicate ×3: a program already evaluated)``, or ``none``."""
    by_kind = counts.unchanged
    return f"proposals {sum(by_kind.values())} ({unchanged_kinds(by_kind)})" if by_kind else "none"


def final_candidates(store: RunStore, evaluator: Evaluator, config: RunConfig) -> list[Candidate]:
    """One candidate per distinct program with a finite validation R², within the parameter limit.

    A program whose meta says the fit rows do not pin its curve (``"pinned": False``: the starter on too
    few scales, ``tasks.starter.starter_pinned``) is left out while any other candidate remains.
    """
    seen: set[str] = set()
    candidates, unpinned = [], set()
    for p in store.programs():
        ev = p.evaluation
        if ev is None or not ev.ok or ev.r2 is None or not math.isfinite(ev.r2) or p.digest in seen:
            continue
        seen.add(p.digest)
        n = p.meta.get("n_params")
        candidates.append(Candidate(p.id, float(ev.r2), n if isinstance(n, int) else None))
        if p.meta.get("pinned") is False:
            unpinned.add(p.id)
    kept = pinned_first(candidates, unpinned)
    for c in candidates if len(kept) < len(candidates) else ():
        if c.program_id in unpinned:
            log.info("program %d (validation R² %.4f) is passed over: the fit rows hold too few scales of a feature "
                     "to pin its curve (tasks.starter.starter_pinned)", c.program_id, c.val_r2)
    return within_limit(kept, config.max_params or evaluator.task.max_params)


def _stored_fold_scores(store: RunStore, task: Task, n_folds: int) -> dict[str, Any]:
    """The fold scores kept in the store (program id -> fold name -> score); emptied when the folds' rows changed."""
    rows = folds_digest(task, n_folds)
    if store.get_state(FOLD_ROWS_STATE) != rows:  # scores made on other folds (or before the record): rescored
        store.set_state(FOLD_STATE, {})
        store.set_state(FOLD_PROBE_STATE, {})
        store.set_state(FOLD_ROWS_STATE, rows)
        return {}
    return dict(store.get_state(FOLD_STATE, {}) or {})


def _fold_job(evaluator: Evaluator, clock: FinishClock, source: str, fold: Fold) -> Callable[[], dict[str, Any]]:
    return lambda: score_fold(lambda split, extra: clock.evaluate(evaluator, source, split, extra),
                              evaluator.task, fold)


def _probe_job(evaluator: Evaluator, clock: FinishClock | None,
               source: str) -> Callable[[], tuple[float | None, dict[str, list] | None]]:
    return lambda: probe_fit(evaluator, source, clock)


def check_waves(candidates: list[Candidate], config: RunConfig,
                law_of: dict[int, int] | None = None) -> list[list[Candidate]]:
    """The laws the final pick will check first, in its order: the running (``search.selection.tied``),
    then, when more than one is in the running, the simpler laws (``search.selection.simpler``). None
    with ``selection_band`` 0 (no checks)."""
    if config.selection_band <= 0:
        return []
    running = tied(candidates, config.selection_band, config.parsimony_tolerance, config.selection_pool, law_of)
    return [running, simpler(candidates, running, config.selection_pool)] if len(running) > 1 else [running]


def queue_checks(store: RunStore, evaluator: Evaluator, config: RunConfig, clock: FinishClock, ahead: Ahead,
                 laws: list[Candidate]) -> None:
    """Start the checks of ``laws`` (``run.finishing.Ahead``): their probes, then their fold refits, best on
    validation first. Checks already in the store are not started; nothing is with one worker."""
    if ahead.workers < 2 or not laws:
        return
    task, n_folds = evaluator.task, config.selection_folds
    sources = {c.program_id: store.program(c.program_id).source for c in laws}
    if config.selection_probe is not None and task.probe():
        probes = store.get_state("probe_excess", {}) or {}
        points = store.get_state(PROBE_POINTS_STATE, {}) or {}
        probes = {k: v for k, v in probes.items() if k in points}  # a probe without its points is made again
        for pid, src in sources.items():
            if str(pid) not in probes:
                ahead.start(("probe", pid), _probe_job(evaluator, clock, src))
    if n_folds:
        folds = _stored_fold_scores(store, task, n_folds)
        for pid, src in sources.items():
            for fold in missing_folds(task, n_folds, folds.get(str(pid), {})):
                ahead.start(("fold", pid, fold.name), _fold_job(evaluator, clock, src, fold))


def select_final(store: RunStore, evaluator: Evaluator, config: RunConfig,
                 clock: FinishClock | None = None, ahead: Ahead | None = None,
                 candidates: list[Candidate] | None = None, law_of: dict[int, int] | None = None) -> Selection | None:
    """The final law (``search.selection``); the laws in the running are refitted on the inner folds.

    Fold scores (trimmed R², ``evaluation.metrics.trimmed_r2``) are kept in the
    store (state ``FOLD_STATE``: program id -> fold name -> score), so a
    resumed or re-finished run does not refit them, unless the folds' rows
    have changed since (state ``FOLD_ROWS_STATE``). The refits and probes run
    within ``clock``'s allowance (``run.finishing``; default: the config's);
    those ``ahead`` has started (``queue_checks``) are read from it. ``law_of``: the store's fit-scale
    twins (``run.twins.twin_laws``; read from the store when not given).
    """
    clock = clock or FinishClock(config.finish_limit(), limits_from(config))
    ahead = ahead or Ahead(1, clock)
    n_folds = config.selection_folds
    done = _stored_fold_scores(store, evaluator.task, n_folds)
    at_probe: dict[str, Any] = dict(store.get_state(FOLD_PROBE_STATE, {}) or {})
    folds = list(fold_names(evaluator.task, n_folds)) if n_folds else []
    if candidates is None:
        candidates = final_candidates(store, evaluator, config)

    def fold_r2(pid: int) -> dict[str, float | None]:
        def keep(scores: dict[str, Any]) -> None:  # each fold kept as it is scored: one cut short is redone
            done[str(pid)] = {k: v for k, v in scores.items() if not k.endswith(AT_PROBE)}
            store.set_state(FOLD_STATE, done)
            points = {k[: -len(AT_PROBE)]: v for k, v in scores.items() if k.endswith(AT_PROBE)}
            if points:
                at_probe[str(pid)] = {**at_probe.get(str(pid), {}), **points}
                store.set_state(FOLD_PROBE_STATE, at_probe)

        def score(fold: Fold) -> dict[str, float | None]:  # the source is read only when a fold is refitted
            return ahead.result(("fold", pid, fold.name),
                                lambda: _fold_job(evaluator, clock, store.program(pid).source, fold)())

        return score_folds(None, evaluator.task, n_folds, known=done.get(str(pid), {}), on_fold=keep, score=score)

    probe = probe_excess(store, evaluator, clock, ahead) if config.selection_probe is not None else None
    moves = fold_drift(store, evaluator.task, at_probe) if probe is not None else None  # shown; picks if steady
    return choose(candidates, config.selection_band, config.parsimony_tolerance, fold_r2,
                  pool=config.selection_pool, val_weight=config.selection_val_weight, folds=folds,
                  probe=probe, limit=config.selection_probe if config.selection_probe is not None else LIMIT,
                  noise=None if folds else val_noise(store, evaluator, clock, ahead),
                  law_of=twin_laws(store) if law_of is None else law_of,
                  drift=moves, steady=config.selection_steady)


def fold_drift(store: RunStore, task: Task, at_probe: dict[str, Any]) -> Callable[[int], float | None]:
    """program id -> how far its probe predictions move from its fit on all train to its fold fits
    (``search.plausibility.drift``, in spans); None when either is not in the store.

    Read after the law's probe and fold refits (``at_probe``: the fold fits' predictions, kept as they are
    scored; the full fit's are kept by ``probe_excess``).
    """
    targets = {g: d.y for g, d in task.arrays(task.train).items()}

    def moved(pid: int) -> float | None:
        full = (store.get_state(PROBE_POINTS_STATE, {}) or {}).get(str(pid))
        refits = at_probe.get(str(pid))
        if full is None or not refits:
            return None
        return drift(full, list(refits.values()), targets)

    return moved


def val_noise(store: RunStore, evaluator: Evaluator, clock: FinishClock | None = None,
              ahead: Ahead | None = None) -> Callable[[int], float | None]:
    """program id -> the standard error of the law's validation R² (``evaluation.metrics.r2_spread``).

    From one more fit of the law on the fit rows (within ``clock``'s
    allowance when given: it may raise ``OutOfTime``); None when that fit
    fails. Kept in the store (state ``val_noise``), so a re-finished run does
    not fit again; the refit itself is held in ``ahead`` (key ``("val", id)``)
    for ``weigh_prior``, which scores the same fit against the comparison law.
    """
    done: dict[str, Any] = dict(store.get_state("val_noise", {}) or {})
    task = evaluator.task

    def spread(pid: int) -> float | None:
        if str(pid) not in done:
            source = store.program(pid).source
            ev = _evaluate(evaluator, source, "val", clock)
            if ahead is not None:
                ahead.keep(("val", pid), ev)  # the pick's weighing against the comparison law reads the same refit
            _, val = task.split_arrays("val")
            done[str(pid)] = r2_spread(ev.predictions, {g: d.y for g, d in val.items()}) if ev.ok else None
            store.set_state("val_noise", done)
        return done[str(pid)]

    return spread


def probe_excess(store: RunStore, evaluator: Evaluator, clock: FinishClock | None = None,
                 ahead: Ahead | None = None) -> Callable[[int], float | None] | None:
    """program id -> how far the law, refit on all train, leaves the train target range one step beyond the data.

    In spans of each group's targets (``search.plausibility.runaway``); None
    when the law fails to fit or predict. Kept in the store (state
    ``probe_excess``). None when the task has no probe (held-out mixtures).
    A probe ``ahead`` has started is read from it.
    """
    if not evaluator.task.probe():
        return None
    done: dict[str, Any] = dict(store.get_state("probe_excess", {}) or {})
    points: dict[str, Any] = dict(store.get_state(PROBE_POINTS_STATE, {}) or {})
    ahead = ahead or Ahead(1, clock)

    def excess(pid: int) -> float | None:
        if str(pid) not in done or str(pid) not in points:  # a run from before the points were kept: probed again
            value, at = ahead.result(("probe", pid), lambda: _probe_job(evaluator, clock, store.program(pid).source)())
            done[str(pid)] = value if value is None or math.isfinite(value) else "inf"
            points[str(pid)] = at
            store.set_state("probe_excess", done)
            store.set_state(PROBE_POINTS_STATE, points)
        value = done[str(pid)]
        return math.inf if value == "inf" else value

    return excess


def _evaluate(evaluator: Evaluator, source: str, split: str, clock: FinishClock | None = None,
              extra: dict[str, dict[str, np.ndarray]] | None = None) -> Evaluation:
    """``evaluator.evaluate``, within ``clock``'s allowance when one is given (then it may raise ``OutOfTime``)."""
    return clock.evaluate(evaluator, source, split, extra) if clock is not None else \
        evaluator.evaluate(source, split, extra_predict=extra)


def probe_law(evaluator: Evaluator, source: str, clock: FinishClock | None = None) -> float | None:
    """How far ``source``, refit on all train, leaves the train target range at the task's probe (spans).

    None when the task has no probe or the law fails to fit or predict
    (``search.plausibility.runaway``; ``inf`` for predictions that are not finite or,
    when the task declares a target range, outside it).
    """
    return probe_fit(evaluator, source, clock)[0]


def probe_fit(evaluator: Evaluator, source: str,
              clock: FinishClock | None = None) -> tuple[float | None, dict[str, list] | None]:
    """``probe_law``'s excess, and the predictions it was measured on (group -> lists; None: no fit)."""
    rows = evaluator.task.probe()
    if not rows:
        return None, None
    ev = _train_fit(evaluator, source, clock, rows)
    return _probe_excess(evaluator.task, ev) if ev.ok else (None, None)


def _train_fit(evaluator: Evaluator, source: str, clock: FinishClock | None,
               rows: dict[str, np.ndarray]) -> Evaluation:
    """``source`` fitted on all train rows (thinned on a dense table: ``tasks.thinning``), scored there
    (in-sample) and predicting the probe inputs ``rows`` (``Task.probe``; none when empty)."""
    extra = {g: {PROBE_SET: X} for g, X in rows.items()} if rows else None
    return _evaluate(evaluator, source, SEARCH_TRAIN, clock, extra)


def _probe_excess(task: Task, ev: Evaluation) -> tuple[float, dict[str, list] | None]:
    """How far a fit on all train (``_train_fit``) leaves the train target range at the probe, and its
    predictions there (``search.plausibility.runaway``)."""
    targets = {g: d.y for g, d in task.arrays(task.train).items()}
    points = probe_points(ev)
    return runaway({g: np.asarray(p) for g, p in (points or {}).items()}, targets, task.target_range), points


def _fitted_params(ev: Evaluation) -> int | None:
    """The most fitted parameters any group of a fit has (None: no group fitted)."""
    sizes = [int(np.size(p)) for p in ev.params.values() if p is not None]
    return max(sizes) if sizes else None


def _stored_reference(store: RunStore, task: Task) -> tuple[tuple[str, str], dict[str, Any] | None]:
    """The law the pick is shown beside (label, source: ``tasks.baselines.comparison_law``), and its scores
    if the store already holds them."""
    from evosld.tasks.baselines import comparison_law

    label, source, _ = comparison_law(task)
    done = store.get_state("reference")
    return (label, source), done if isinstance(done, dict) and done.get("name") == label else None


def queue_reference(store: RunStore, task: Task, evaluator: Evaluator, clock: FinishClock, ahead: Ahead) -> None:
    """Start the reference law's two refits (``reference_scores`` reads them), unless the store holds its scores."""
    ref, done = _stored_reference(store, task)
    if done is None:
        for split in ("val", "test"):
            ahead.start(("reference", split), lambda split=split: clock.evaluate(evaluator, ref[1], split, None))


def reference_scores(store: RunStore, task: Task, evaluator: Evaluator,
                     clock: FinishClock | None = None, ahead: Ahead | None = None) -> dict[str, Any]:
    """The law the pick is shown beside refit, val and test R²: the human law, the Chinchilla form for a
    user table that looks like one, else the plain power law (``tasks.baselines.comparison_law``).

    Computed once and kept in the store (state ``reference``), like the test score;
    within ``clock``'s allowance when given (not kept when it ran out: a resumed run scores it).
    Refits ``ahead`` has started (``queue_reference``) are read from it.
    """
    ref, done = _stored_reference(store, task)
    if done is not None:
        return done
    ahead = ahead or Ahead(1, clock)

    def run(src: str, split: str, extra):  # noqa: ANN001 - extra predictions, as Evaluator.evaluate
        return ahead.result(("reference", split), lambda: _evaluate(evaluator, src, split, clock, extra))

    try:
        fit = refit_law(evaluator, *ref, evaluate=run)
    except OutOfTime:
        out = {"name": ref[0], "params": None}
        out.update({s: {"r2": None, "error": "not scored: the time to finish ran out"} for s in ("val", "test")})
        return out
    out: dict[str, Any] = {"name": fit.label}
    for split, ev in (("val", fit.val), ("test", fit.test)):
        out[split] = {"r2": ev.scores.r2 if ev.ok else None, "error": ev.message or None}
    out["params"] = fit.test.params if fit.test.ok else None
    store.set_state("reference", out)
    return out


def weigh_prior(store: RunStore, task: Task, evaluator: Evaluator, selection: Selection,
                clock: FinishClock | None = None, ahead: Ahead | None = None) -> Selection:
    """A pick made by validation alone, weighed against the law shown beside it (``search.prior``).

    The comparison law is refit on the fit rows (the reference's own
    validation refit, then left for ``reference_scores``) and the pick once
    more, both scored on the same bootstrap draws of the validation runs;
    it is probed one step beyond the data. When ``search.prior.keep_prior``
    says so, it is stored as a program of the run (proposer ``"reference"``,
    with that validation evaluation) and becomes the pick. The check is kept
    in the store (state ``prior_check``), so a re-finished run does not
    store the law twice. Picks the folds made, and a finishing time that
    runs out, leave the pick as it is.
    """
    if selection.folds or selection.rule != "validation":
        return selection
    (label, source), _ = _stored_reference(store, task)
    done = store.get_state("prior_check")
    if isinstance(done, dict) and done.get("name") == label and selection.program_id in (
            done.get("pick"), done.get("program_id")):  # weighed before (a re-finish may pick the kept law itself)
        check = PriorCheck.from_json(done)
    elif store.program(selection.program_id).digest == Program(source).digest:
        return selection  # the pick is that law already (the plain power law the search started from)
    else:
        try:
            check = _prior_check(store, task, evaluator, selection.program_id, label, source, clock, ahead)
        except OutOfTime:
            return selection
        store.set_state("prior_check", check.to_json())
    if check.kept and check.program_id is not None:
        return replace(selection, program_id=check.program_id, prior=check.to_json())
    return replace(selection, prior=check.to_json())


def _prior_check(store: RunStore, task: Task, evaluator: Evaluator, pick: int, label: str, source: str,
                 clock: FinishClock | None, ahead: Ahead | None) -> PriorCheck:
    """``pick`` weighed against the comparison law (``label``, ``source``); the law is stored when kept."""
    ahead = ahead or Ahead(1, clock)
    ref = ahead.result(("reference", "val"), lambda: _evaluate(evaluator, source, "val", clock))
    ahead.keep(("reference", "val"), ref)  # the reference's scores read the same refit
    if not ref.ok:
        return PriorCheck(label, pick, None, None, None, None, None, False, "the comparison law failed on validation")
    mine = ahead.result(("val", pick), lambda: _evaluate(evaluator, store.program(pick).source, "val", clock))  # kept by val_noise, if it ran
    _, val = task.split_arrays("val")
    gap = mine.scores.r2 - ref.scores.r2 if mine.ok else None
    se = r2_gap_spread(mine.predictions, ref.predictions, {g: d.y for g, d in val.items()}) if mine.ok else None
    n_params = _fitted_params(ref)
    beyond = probe_law(evaluator, source, clock)
    kept, why = keep_prior(gap, se, beyond, n_params, task.max_params)
    pid = _keep_comparison(store, pick, label, source, n_params, ref) if kept else None
    return PriorCheck(label, pick, ref.scores.r2, gap, se, beyond, n_params, kept, why, pid)


def _keep_comparison(store: RunStore, pick: int, label: str, source: str, n_params: int | None,
                     val: Evaluation) -> int:
    """The comparison law's program id in the store, stored (with its validation evaluation ``val``) if it
    is not there yet: kept by an earlier finish, or the starter itself."""
    digest = Program(source).digest
    same = [i for i in store.find_digest(digest) if store.program(i).evaluation is not None]
    if same:
        return same[0]
    pid = store.add_program(source, iteration=store.program(pick).iteration, proposer=PRIOR_PROPOSER,
                            meta={"origin": "comparison law", "formula": label, "n_params": n_params},
                            digest=digest)
    store.add_evaluation(pid, val.metrics())
    return pid


def insample_fit(evaluator: Evaluator, source: str,
                 clock: FinishClock | None = None) -> dict[str, Any]:
    """``source`` refit on all train runs: its information criterion there (``search.information.bic``; None:
    the fit failed), its fitted parameters per group and how far it leaves the train target range one step
    beyond the data (``probe_law``'s excess; None: no probe), from one fit."""
    task = evaluator.task
    rows = task.probe()
    ev = _train_fit(evaluator, source, clock, rows)
    if not ev.ok:
        return {"bic": None, "n_params": None, "beyond": None}
    n_params = _fitted_params(ev) or 0
    beyond = _probe_excess(task, ev)[0] if rows else None
    targets = {g: d.y for g, d in task.arrays(task.train).items()}
    return {"bic": bic(ev.predictions or {}, targets, n_params), "n_params": n_params, "beyond": beyond}


def weigh_information(store: RunStore, task: Task, evaluator: Evaluator, selection: Selection,
                      clock: FinishClock | None = None) -> Selection:
    """A pick its own checks score below 0, remade by the information criterion on all train runs
    (``search.information``): among the laws it was chosen from and the law shown beside it, the least BIC
    that stays sane one step beyond the data. Other picks, and a finishing time that runs out, are left as
    they are. The weighing is kept in the store (state ``information``): a re-finished run reads it back,
    and a comparison law chosen is stored once, as a program of the run (proposer ``"reference"``).
    """
    evidence, checks = pick_evidence(selection)
    if evidence is None or evidence >= 0:
        return selection
    done = store.get_state(INFORMATION_STATE)
    if isinstance(done, dict) and done.get("pick") == selection.program_id:
        info = Information.from_json(done)
    else:
        try:
            info = _weigh(store, task, evaluator, selection, evidence, checks, clock)
        except OutOfTime:
            return selection
        store.set_state(INFORMATION_STATE, info.to_json())
    if info.program_id is None:
        return replace(selection, information=info.to_json())
    return replace(selection, program_id=info.program_id, information=info.to_json())


def _weigh(store: RunStore, task: Task, evaluator: Evaluator, selection: Selection, evidence: float, checks: str,
           clock: FinishClock | None) -> Information:
    pick = selection.program_id
    scores: dict[str, dict[str, Any]] = {}
    digests = {}
    for c in selection.candidates:
        program = store.program(c.program_id)
        digests[program.digest] = c.program_id
        scores[str(c.program_id)] = insample_fit(evaluator, program.source, clock)
    (label, source), _ = _stored_reference(store, task)
    if Program(source).digest not in digests:  # else it is among them already (the starter)
        scores[COMPARISON] = insample_fit(evaluator, source, clock)
    pool = {k: v for k, v in scores.items()  # a law from outside the search may break the parameter limit
            if task.max_params is None or v["n_params"] is None or v["n_params"] <= task.max_params}
    chosen = least_information(pool, lambda beyond: plausible(beyond, LIMIT))
    if chosen is None:
        return Information(evidence, checks, pick, scores, None, None, label)
    if chosen != COMPARISON:
        return Information(evidence, checks, pick, scores, chosen, int(chosen), label)
    val = _evaluate(evaluator, source, "val", clock)
    if not val.ok:  # stored laws carry their validation evaluation; one that fails there is not kept
        pool.pop(COMPARISON)
        chosen = least_information(pool, lambda beyond: plausible(beyond, LIMIT))
        return Information(evidence, checks, pick, scores, chosen, int(chosen) if chosen else None, label)
    pid = _keep_comparison(store, pick, label, source, scores[COMPARISON]["n_params"], val)
    return Information(evidence, checks, pick, scores, chosen, pid, label)


def finish_workers(config: RunConfig) -> int:
    """Evaluations the finishing runs at once: ``--workers``, at most this machine's cores (the finishing
    runs here, also when the search ran on a Dask cluster), leaving the sandbox one run for the main thread."""
    return max(1, min(config.evaluator.parallel_evaluations, os.cpu_count() or 1, UIDS_PER_PROCESS - 1))


def finish(store: RunStore, task: Task, run_dir: Path, config: RunConfig, status: LoopStatus) -> RunOutcome:
    """Pick the final law, score it once on test (fit on all of train) and write best files.

    The pick's checks and the reference's refits run ``finish_workers`` at a
    time (``run.finishing.Ahead``). When it ends (or a signal aborts it), the
    checks still in flight, which nothing will read, are killed, not waited for.
    """
    workers = finish_workers(config)  # the threads' runs and one of the main thread's at once
    sandbox = Sandbox(limits_from(config), max_concurrent=min(UIDS_PER_PROCESS, max(16, workers + 1)))
    evaluator = Evaluator(task, sandbox, limits_from(config))
    clock = FinishClock(config.finish_limit(), limits_from(config))
    ahead = Ahead(workers, clock)
    try:
        return _finish(store, task, run_dir, config, status, evaluator, clock, ahead)
    finally:  # checks started ahead that the pick never asked for (all of them, on a signal) end at once
        sandbox.stop()
        ahead.close(abort=True)


def _finish(store: RunStore, task: Task, run_dir: Path, config: RunConfig, status: LoopStatus,
            evaluator: Evaluator, clock: FinishClock, ahead: Ahead) -> RunOutcome:
    candidates = final_candidates(store, evaluator, config)
    law_of = twin_laws(store)
    added = add_twins(store, evaluator, config, clock, ahead, candidates, law_of)
    if added:  # the running's fit-scale twins join them
        candidates = final_candidates(store, evaluator, config)
        law_of = {**law_of, **added}
    if candidates:  # started in the order they are needed: the simpler laws' folds only if their probes pass
        # the law shown beside the pick first: two refits, the comparison the user reads the pick against (and
        # the prior check's refit); on a large table the checks alone can spend the finishing allowance
        queue_reference(store, task, evaluator, clock, ahead)
        waves = check_waves(candidates, config, law_of)
        queue_checks(store, evaluator, config, clock, ahead, waves[0] if waves else [])
        for wave in waves[1:]:
            queue_checks(store, evaluator, config, clock, ahead, wave)
    selection = select_final(store, evaluator, config, clock, ahead, candidates, law_of)
    if selection is None:
        return RunOutcome(run_dir, status, None, None)
    selection = weigh_information(store, task, evaluator, selection, clock)
    if selection.information is None:
        selection = weigh_prior(store, task, evaluator, selection, clock, ahead)
    best = store.program(selection.program_id)
    store.set_state(FINAL_STATE, best.id)
    store.set_state("selection", selection.to_json())
    done = store.test_evaluation(best.id)
    if done is None:
        train = task.arrays(task.train)
        ev = evaluator.evaluate(best.source, "test", extra_predict={g: {"train": d.X} for g, d in train.items()})
        scatter = scatter_of(task, ev)
        store.set_state("scatter", {"program_id": best.id, "scatter": scatter.to_json() if scatter else None})
        store.add_test_evaluation(best.id, ev.metrics(), ev.params)
        test, params = ev.metrics(), ev.params
    else:
        test, params = done.metrics, done.params
        kept = store.get_state("scatter") or {}
        scatter = Scatter(**kept["scatter"]) if kept.get("program_id") == best.id and kept.get("scatter") else None
    record = best_record(store, task, best.id, test=test, params=params, selection=selection)
    record["scatter"] = scatter.to_json() if scatter else None
    record["reference"] = reference_scores(store, task, evaluator, clock, ahead)
    record["finishing"] = clock.record()
    if clock.cut:
        log.warning("finishing: the %g s to finish ran out (%d evaluation(s) cut or not started); laws not "
                    "checked: %s", clock.seconds, clock.cut, list(selection.unchecked) or "none")
    write_best(run_dir, best.source, record)
    return RunOutcome(run_dir, status, best.id, best.source, val=record["val"] or {}, test=test,
                      params=params or {}, meta=best.meta, selection=selection, reference=record["reference"],
                      finishing=record["finishing"], scatter=scatter)
