"""The discovery loop: select -> propose -> evaluate -> record, in generations.

The loop wires the parts together and holds no I/O of its own: the proposer
writes source, the executor runs it (sandboxed), the database selects, the
store persists, the ``on_best``/``progress`` callbacks publish. Each
generation selects ``batch`` parents from the database, asks the proposer for
all of them concurrently, evaluates the new programs in parallel and records
the results in iteration order. The next generation is proposed while the
previous one is being evaluated (the proposer and the sandboxes work at the
same time), so its parents are chosen from the database as it stood one
generation earlier: a fixed lag, so a fixed seed gives the same selections for
the same proposals whatever the timing. Fitness is the validation score only.

A generation's proposals are stored in one transaction with what resuming
needs: the next iteration, the database's random state, the loop's streaks and
the proposer's journal (a ``Resumable`` proposer). A run resumed after a kill
rebuilds that state, puts the last stored generation back in flight and so
proposes what the unbroken run would have.
A run stops at its iteration, time or cost limit, or once the proposer has
found nothing new for ``EXHAUSTED_PATIENCE`` proposals in a row (a small
search space fully tried), rather than idling out its budget, or has raised
on ``CRASH_PATIENCE`` proposals in a row (a bug in a user's proposer).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from evosld.evaluation.evaluator import Evaluation
from evosld.evaluation.executors import Executor
from evosld.program import Program
from evosld.proposers.base import (
    DUPLICATE,
    EXHAUSTED,
    NOTHING_NEW,
    ParentInfo,
    Proposal,
    ProposalRequest,
    Proposer,
    Resumable,
    is_service_failure,
)
from evosld.run.store import FINISH_PROPOSERS, RunStore, StoredProgram
from evosld.search.database import ProgramDatabase, ProgramRecord
from evosld.search.status import CRASH_PATIENCE, LoopLimits, LoopStatus

#: Consecutive proposals with nothing new (``EXHAUSTED``) after which a run stops.
EXHAUSTED_PATIENCE = 200
#: Event kind of a generation's proposer journal (``Resumable.journal``), replayed on resume.
JOURNAL_EVENT = "proposer_journal"


def fitness_of(metrics: dict[str, Any], kind: str = "r2") -> float | None:
    """Selection fitness from validation metrics (None for a failed program)."""
    if metrics.get("error_kind"):
        return None
    value = metrics.get("r2_clipped" if kind == "r2" else "combined_score")
    if value is None or not np.isfinite(value):
        return None
    return float(value)


def _failed(ev: Evaluation | BaseException) -> bool:
    """An evaluation that gave no result: the executor raised, or the candidate failed in its sandbox."""
    return isinstance(ev, BaseException) or not ev.ok


def _record(p: StoredProgram, fitness_kind: str) -> ProgramRecord:
    metrics = p.evaluation.metrics if p.evaluation else {}
    return ProgramRecord(
        id=p.id,
        source=p.source,
        fitness=fitness_of(metrics, fitness_kind) if p.evaluation else None,
        metrics=metrics,
        meta=p.meta,
        island=p.island,
        iteration=p.iteration,
        parent_id=p.parent_id,
        error=metrics.get("error"),
    )


def _parent_info(r: ProgramRecord) -> ParentInfo:
    shown = {k: r.metrics[k] for k in ("r2", "nmse", "nmae", "combined_score") if k in r.metrics}
    return ParentInfo(program_id=r.id, source=r.source, metrics=shown, error=r.error, meta=r.meta)


class DiscoveryLoop:
    """Runs (or resumes) one discovery.

    Args:
        proposer: writes candidate programs.
        executor: evaluates them (sandboxed; local pool or Dask).
        store: the run's SQLite store (already created or opened).
        database: selection state (islands, MAP-Elites, archive).
        seed: the run's seed (per-request seeds derive from it).
        batch: proposals per generation (in flight at once).
        fitness: "r2" (validation R², clipped at -1) or "combined_score".
        seeds: initial programs (source, proposer name, meta) for a new run.
        cost_so_far: callable giving the LLM spend so far (USD).
        on_best: called with (program id, source, evaluation) when the best changes.
        progress: called with the LoopStatus after every generation.
    """

    def __init__(
        self,
        *,
        proposer: Proposer,
        executor: Executor,
        store: RunStore,
        database: ProgramDatabase,
        seed: int = 0,
        batch: int = 4,
        fitness: str = "r2",
        seeds: list[Proposal] | None = None,
        cost_so_far: Callable[[], float] | None = None,
        on_best: Callable[[int, str, dict[str, Any]], None] | None = None,
        progress: Callable[[LoopStatus], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.proposer = proposer
        self.executor = executor
        self.store = store
        self.db = database
        self.seed = seed
        self.batch = max(1, batch)
        self.fitness = fitness
        self.seeds = seeds or []
        self.cost_so_far = cost_so_far or (lambda: 0.0)
        self.on_best = on_best or (lambda *a: None)
        self.progress = progress or (lambda s: None)
        self.clock = clock
        self.status = LoopStatus(activity=getattr(proposer, "activity", None))
        self._seen: set[str] = set()
        self._exhausted_streak = 0
        self._service_streak = 0  # proposals in a row whose model server failed (after retries)
        self._crash_streak = 0  # proposals in a row on which the proposer raised
        self.last_crash = ""  # the last of them, "ValueError: ..."
        self._stop_requested = False
        self._aio_loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._deadline: float | None = None  # when the time budget ends (clock time): no candidate starts after it

    # ------------------------------------------------------------------ stopping
    def request_stop(self) -> None:
        """Stop as soon as possible (thread- and signal-safe, idempotent).

        No new proposals are made; proposals and evaluations in flight are
        cancelled (their programs stay stored and unevaluated, so ``--resume``
        evaluates them) and the executor is asked to kill its sandboxes.
        """
        self._stop_requested = True
        if self._aio_loop is not None and self._stop_event is not None:
            try:
                self._aio_loop.call_soon_threadsafe(self._stop_event.set)
            except RuntimeError:  # the loop has ended already (the run is finishing)
                pass

    async def _unless_stopped(self, task: asyncio.Future[Any]) -> bool:
        """Wait for ``task`` unless a stop is requested first (then cancel it); True when it finished."""
        assert self._stop_event is not None
        if not self._stop_requested:
            waiter = asyncio.ensure_future(self._stop_event.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return False

    def _kill_in_flight(self) -> None:
        cancel = getattr(self.executor, "cancel", None)
        if callable(cancel):
            cancel()

    # ------------------------------------------------------------------ setup
    async def _restore(self) -> tuple[int, list[StoredProgram]]:
        """Rebuild the loop's state as it stood when the last stored generation was proposed.

        That generation was being evaluated while the next one would have been
        proposed, so its programs are returned, to be evaluated (if a kill cut
        that short) and recorded once the next generation's parents are drawn;
        earlier programs a kill left unevaluated are evaluated now. Returns the
        next iteration and the generation in flight (its programs, in order).
        """
        stored = self.store.programs()
        self._seen = {p.digest for p in stored}
        # Stores written before generations were stored whole may hold part of a
        # generation past the counter: continue after the highest iteration stored.
        last = max((p.iteration for p in stored), default=0)
        next_it = max(int(self.store.get_state("next_iteration", 1)), last + 1)
        first = self.store.get_state("in_flight")
        first = next_it if first is None else int(first)
        self._restore_best([p for p in stored if p.evaluation is not None and p.proposer not in FINISH_PROPOSERS])
        pending = self.store.unevaluated_programs()  # judged against that best: not a "new best" of their own
        if pending:
            self.store.add_event("resume_pending", {"programs": [p.id for p in pending]})
            await self._evaluate_and_record([(p.id, p.source) for p in pending if p.iteration < first],
                                            restoring=True)
        stored = [p for p in self.store.programs(order="evaluated") if p.proposer not in FINISH_PROPOSERS]
        self.db.rebuild([_record(p, self.fitness) for p in stored if p.iteration < first])
        state = self.store.get_state("database")
        if state is not None:
            self.db.set_state(state)
        streaks = self.store.get_state("streaks") or {}
        self._exhausted_streak = int(streaks.get("exhausted", 0))
        # the streaks of failures start again: a resumed session may have its server back or its proposer fixed
        # (restored, a run stopped by either stopped again at once on --resume)
        self._service_streak = self._crash_streak = 0
        if isinstance(self.proposer, Resumable):
            name = getattr(self.proposer, "name", "?")
            self.proposer.replay([r for e in self.store.events(JOURNAL_EVENT) if e.data.get("proposer") == name
                                  for r in e.data["records"]])
        self.status.evaluations = sum(1 for p in stored if p.evaluation is not None)
        self.status.failures = sum(1 for p in stored if p.evaluation is not None and not p.evaluation.ok)
        self.status.unchanged = sum(self.store.failure_counts().unchanged.values())
        self._restore_best(stored)
        return next_it, [p for p in self.store.programs() if p.iteration >= first]

    def _restore_best(self, programs: list[StoredProgram]) -> None:
        """Set the search's best from stored programs (none evaluated: left as it is).

        Done before a kill's unevaluated programs are evaluated too: with no best restored yet, the first of
        them counted as a new best, however poor, and the best files named it until a better one came.
        """
        ok = [r for r in (_record(p, self.fitness) for p in programs) if r.fitness is not None]
        if ok:
            best = max(ok, key=lambda r: r.fitness)
            self.status.best_val_r2, self.status.best_id = best.metrics.get("r2"), best.id

    async def _finish_in_flight(self, programs: list[StoredProgram]) -> None:
        """Evaluate what is left of the generation in flight at a kill and record it all, in order."""
        await self._evaluate_and_record([(p.id, p.source) for p in programs if p.evaluation is None],
                                        restoring=True)
        for p in programs:
            prog = self.store.program(p.id)
            if prog.evaluation is not None:
                self.db.add(_record(prog, self.fitness), prog.island)

    async def _seed(self) -> None:
        items = []
        with self.store.batch():  # all the seeds or none
            for prop in self.seeds:
                if prop.source is None:
                    continue
                digest = Program(prop.source).digest
                if digest in self._seen:
                    continue
                self._seen.add(digest)
                pid = self.store.add_program(prop.source, iteration=0, island=0, proposer=prop.proposer,
                                             meta=prop.meta, digest=digest)
                items.append((pid, prop.source))
            self.store.add_event("seeded", {"programs": [i for i, _ in items]})
        await self._evaluate_and_record(items)
        self.store.set_state("next_iteration", 1)

    # ------------------------------------------------------------------ core
    async def _evaluate_and_record(self, items: list[tuple[int, str]], restoring: bool = False) -> None:
        """Evaluate (id, source) pairs in parallel; record results in the given order.

        Once the time budget is spent no candidate starts: those still queued
        stay stored and unevaluated (``--resume`` evaluates them).
        """
        if items and self._deadline is not None and self.clock() >= self._deadline:
            self.store.add_event("not_started", {"programs": [pid for pid, _ in items], "why": "budget spent"})
            return
        submitted = [self.executor.submit(src, "val") for _, src in items]
        guard = asyncio.ensure_future(self._cancel_unstarted_at_deadline(submitted))
        futures = [asyncio.wrap_future(f) for f in submitted]
        try:
            results: list[Evaluation | BaseException] = await asyncio.gather(*futures, return_exceptions=True)
        finally:
            guard.cancel()
        skipped = [pid for (pid, _), ev in zip(items, results) if isinstance(ev, asyncio.CancelledError)]
        if skipped:
            self.store.add_event("not_started", {"programs": skipped, "why": "budget spent"})
        # A candidate that failed once a stop was asked for may have been killed by the stop itself: Ctrl-C
        # reaches the whole process group, and a sandbox child still starting up (before it leaves the group)
        # dies of it, "exited with code 1". Scored, it would count as the law's own failure for good; left
        # unevaluated, --resume runs it again.
        stopped = [pid for (pid, _), ev in zip(items, results)
                   if self._stop_requested and not isinstance(ev, asyncio.CancelledError) and _failed(ev)]
        if stopped:
            self.store.add_event("not_started", {"programs": stopped, "why": "failed after a stop was asked for"})
        for (pid, src), ev in zip(items, results):
            if isinstance(ev, asyncio.CancelledError) or pid in stopped:
                continue
            if isinstance(ev, BaseException):
                metrics = {"split": "val", "r2": -1.0, "r2_clipped": -1.0, "error_kind": "executor",
                           "error": f"{type(ev).__name__}: {ev}"[:300]}
            else:
                metrics = ev.metrics()
                self.status.eval_seconds += ev.duration
            self.store.add_evaluation(pid, metrics)
            self.status.evaluations += 1
            fit = fitness_of(metrics, self.fitness)
            if fit is None:
                self.status.failures += 1
            if not restoring:
                prog = self.store.program(pid)
                self.db.add(_record(prog, self.fitness), prog.island)
            elif self.store.program(pid).proposer in FINISH_PROPOSERS:
                continue  # a final pick's check a kill cut short: not a law of the search, never its best
            if fit is not None and (self.status.best_val_r2 is None or self._better(metrics)):
                self.status.best_val_r2 = metrics.get("r2")
                self.status.best_id = pid
                self.store.add_event("new_best", {"program_id": pid, "val_r2": metrics.get("r2")})
                self.on_best(pid, src, metrics)

    async def _cancel_unstarted_at_deadline(self, submitted: list[Any]) -> None:
        """At the budget's end, drop the evaluations not started yet (those running finish)."""
        if self._deadline is None:
            return
        await asyncio.sleep(max(0.0, self._deadline - self.clock()))
        for f in submitted:
            f.cancel()  # a no-op for an evaluation already running

    def _better(self, metrics: dict[str, Any]) -> bool:
        best = self.store.program(self.status.best_id) if self.status.best_id else None
        if best is None or best.evaluation is None:
            return True
        return (fitness_of(metrics, self.fitness) or -np.inf) > (fitness_of(best.evaluation.metrics, self.fitness) or -np.inf)

    def _request(self, iteration: int, island: int) -> tuple[ProposalRequest, ProgramRecord | None]:
        parent, inspirations = self.db.sample(island)
        feedback = None
        failures = self.db.failures(island)
        if failures:
            last = failures[-1]
            feedback = f"A recent attempt on this island failed: {last.error}" if last.error else None
        req = ProposalRequest(
            iteration=iteration,
            parent=_parent_info(parent) if parent is not None else None,
            inspirations=tuple(_parent_info(r) for r in inspirations),
            seed=int(np.random.SeedSequence([self.seed, iteration]).generate_state(1)[0]),
            feedback=feedback,
        )
        return req, parent

    async def _propose_generation(
        self, first_iteration: int, requests: list[tuple[ProposalRequest, ProgramRecord | None]]
    ) -> list[tuple[int, str]]:
        """Propose and store one generation; return its new (id, source) pairs to evaluate.

        The generation is stored in one transaction with the state a resumed
        run starts from (see the module docstring): after a kill it is either
        all there or not at all, and then proposed again the same way.
        """
        count = len(requests)
        islands = [(first_iteration + j) % self.db.num_islands for j in range(count)]
        t0 = time.perf_counter()
        proposals = await asyncio.gather(
            *(self.proposer.propose(req) for req, _ in requests), return_exceptions=True
        )
        self.status.propose_seconds += time.perf_counter() - t0
        items = []
        with self.store.batch():
            for j, ((_req, parent), prop) in enumerate(zip(requests, proposals)):
                it = first_iteration + j
                if isinstance(prop, BaseException):
                    self._crash_streak += 1
                    self.last_crash = f"{type(prop).__name__}: {prop}"[:300]
                    self.store.add_failed_proposal(it, getattr(self.proposer, "name", "?"), "proposer_crash",
                                                   self.last_crash)
                    continue
                self._crash_streak = 0
                for u in prop.usage:
                    self.store.add_llm_call(it, **dataclasses.asdict(u))
                    self.status.llm_calls += 1
                    self.status.tokens += u.prompt_tokens + u.completion_tokens
                self._exhausted_streak = self._exhausted_streak + 1 if prop.error_kind == EXHAUSTED else 0
                self.status.unchanged += prop.error_kind in NOTHING_NEW
                self._service_streak = self._service_streak + 1 if is_service_failure(prop.error_kind) else 0
                if prop.source is None:
                    self.store.add_failed_proposal(it, prop.proposer, prop.error_kind, prop.error)
                    continue
                digest = Program(prop.source).digest
                if digest in self._seen:
                    self.store.add_failed_proposal(it, prop.proposer, DUPLICATE,
                                                   "the same program was already evaluated")
                    self.status.unchanged += 1
                    continue
                self._seen.add(digest)
                pid = self.store.add_program(
                    prop.source, parent_id=parent.id if parent else None, island=islands[j], iteration=it,
                    proposer=prop.proposer, meta=prop.meta, digest=digest,
                )
                items.append((pid, prop.source))
            if isinstance(self.proposer, Resumable):
                self.store.add_event(JOURNAL_EVENT, {"proposer": getattr(self.proposer, "name", "?"),
                                                     "iteration": first_iteration,
                                                     "records": self.proposer.journal()})
            self.store.update_state({
                "next_iteration": first_iteration + count,
                "in_flight": first_iteration,
                "database": self.db.get_state(),  # its random state after drawing this generation's parents
                "streaks": {"exhausted": self._exhausted_streak},  # the failure streaks start again on resume
            })
        return items

    async def _evaluate_generation(self, items: list[tuple[int, str]]) -> None:
        """Evaluate and record one generation (the selection state was saved with its proposals)."""
        await self._evaluate_and_record(items)

    def _report_generation(self) -> None:
        """Publish the status once a generation is recorded."""
        self.status.cost_usd = self.cost_so_far()
        self.progress(self.status)

    async def run(self, limits: LoopLimits) -> LoopStatus:
        """Run until a limit is reached or :meth:`request_stop`; safe to call on a resumed store."""
        self._aio_loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        if self._stop_requested:
            self._stop_event.set()
        start = self.clock()
        self._deadline = None if limits.budget_seconds is None else start + limits.budget_seconds
        fresh = self.store.program_count() == 0
        evaluating: asyncio.Future[None] | None = None  # the previous generation, in the sandboxes
        if fresh:
            await self._seed()
            next_it = 1
        else:
            next_it, in_flight = await self._restore()
            if in_flight:
                evaluating = asyncio.ensure_future(self._finish_in_flight(in_flight))
        self.status.max_iterations = limits.max_iterations
        self.status.iteration = next_it - 1
        self.progress(self.status)
        proposing: asyncio.Future[list[tuple[int, str]]] | None = None
        try:
            while True:
                self.status.cost_usd = self.cost_so_far()
                if self._stop_requested:
                    self.status.stopped = "interrupted"
                    break
                if next_it > limits.max_iterations:
                    self.status.stopped = "iterations"
                    break
                if limits.budget_seconds is not None and self.clock() - start >= limits.budget_seconds:
                    self.status.stopped = "budget"
                    break
                if limits.max_cost is not None and self.status.cost_usd >= limits.max_cost:
                    self.status.stopped = "max_cost"
                    break
                if self._exhausted_streak >= EXHAUSTED_PATIENCE:
                    self.status.stopped = "exhausted"
                    break
                if self._service_streak >= self.batch:
                    self.status.stopped = "llm_unavailable"
                    break
                if self._crash_streak >= CRASH_PATIENCE:
                    self.status.stopped, self.status.crash = "proposer_crash", self.last_crash
                    break
                count = min(self.batch, limits.max_iterations - next_it + 1)
                # Parents are drawn now, before anything awaits: the generation started
                # evaluating last has not recorded a result yet, whatever the timing.
                requests = [self._request(next_it + j, (next_it + j) % self.db.num_islands) for j in range(count)]
                proposing = asyncio.ensure_future(self._propose_generation(next_it, requests))
                if not await self._unless_stopped(proposing):
                    continue
                items = proposing.result()
                if evaluating is not None:
                    if not await self._unless_stopped(evaluating):
                        evaluating = None
                        continue
                    self._report_generation()
                evaluating = asyncio.ensure_future(self._evaluate_generation(items))
                next_it += count
                self.status.iteration = next_it - 1
            if evaluating is not None:  # what was proposed is evaluated before the run ends (unless stopped)
                if await self._unless_stopped(evaluating):
                    self._report_generation()
                else:
                    self.status.stopped = "interrupted"
        except BaseException:
            # One failure (a full disk while storing a proposal) ends the run; the other
            # generation may have failed the same way: settle it so its error is not
            # printed again as an unretrieved task exception.
            for job in (evaluating, proposing):
                if job is None:
                    continue
                if not job.done():
                    job.cancel()
                elif not job.cancelled():
                    job.exception()  # marks it retrieved
            raise
        if self.status.stopped == "interrupted":
            self._kill_in_flight()
        self.store.add_event("stopped", {"reason": self.status.stopped, "iteration": self.status.iteration})
        return self.status
