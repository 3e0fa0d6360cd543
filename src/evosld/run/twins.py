"""Fit-scale twins: the laws in the running, fitted on relative residuals too, for the final pick to judge.

evosld finds a law and the routine that fits it. For a positive target an
emitted program fits absolute residuals, unless the target spans a decade
(``proposers.symbolic.fit.relative_weights``). Neither is right for every
table. Absolute residuals let the runs with the largest targets set the fit.
Relative residuals weigh each run by ``1 / y``, much as a fit of the log of
the loss does (Hoffmann et al. 2022 fit Huber on log loss). Which of the two
extrapolates better is a property of the table, like the law itself.

So each law in the running (``search.selection.tied``) whose fit uses
absolute residuals on some positive group gets a twin before the pick. The
twin is the same law fitted on relative residuals for any positive target
(``emit.relative_twin``). It is stored as a program of the run, beside its
law, with its validation score (proposer ``twin``, iteration 0: made by the
finishing, not proposed by the search, see ``run.store.FINISH_PROPOSERS``). The twins then join the candidates:
validation, the inner folds and the probe one step beyond the data judge
laws and twins alike. The laws alone still set who is in the running (the
band and the pool, ``tied``'s ``law_of``): a twin joins beside its law when
it is within the band, and never pushes another law out. Test rows are
never read.

A twin is made once: a resumed or re-finished run finds it in the store.
Its validation refit comes out of the finishing allowance
(``run.finishing``); a twin not scored in time is not stored, and the laws
go on without it.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np

from evosld.config import RunConfig
from evosld.evaluation.evaluator import Evaluator
from evosld.program import Program
from evosld.proposers.symbolic.emit import TWIN_ORIGIN, relative_twin
from evosld.run.finishing import Ahead, FinishClock
from evosld.run.store import TWIN_PROPOSER, RunStore
from evosld.search.plausibility import LOG_SPAN
from evosld.search.selection import Candidate, OutOfTime, tied
from evosld.tasks.task import Task

log = logging.getLogger("evosld")


def twins_differ(task: Task) -> bool:
    """True when some output of some group is positive on train and spans less than ``LOG_SPAN``.

    Only there does a twin fit differently from its law: elsewhere both use
    absolute residuals (a target not all positive) or both relative ones (a
    target spanning a decade).
    """
    for d in task.arrays(task.train).values():
        Y = np.asarray(d.y, dtype=float).reshape(len(d.y), -1)
        for y in Y.T:
            y = y[np.isfinite(y)]
            if y.size and np.min(y) > 0 and np.max(y) < LOG_SPAN * np.min(y):
                return True
    return False


def twin_laws(store: RunStore) -> dict[int, int]:
    """Twin program id -> the id of the law it fits again, for every twin in the store."""
    return {p.id: int(p.meta["twin_of"]) for p in store.programs()
            if p.meta.get("origin") == TWIN_ORIGIN and isinstance(p.meta.get("twin_of"), int)}


def add_twins(store: RunStore, evaluator: Evaluator, config: RunConfig, clock: FinishClock, ahead: Ahead,
              candidates: list[Candidate], law_of: dict[int, int]) -> dict[int, int]:
    """Store and score on validation the twins of the laws in the running among ``candidates``.

    Args:
        law_of: the twins already in the store (``twin_laws``).
    Returns:
        The twins added now, id -> the id of the law each fits again (none
        when the task gives them nothing to change, the pick makes no checks
        (``selection_band`` 0), every law in the running has its twin
        already, or is not an emitted program).
    """
    if config.selection_band <= 0 or not twins_differ(evaluator.task):
        return {}
    running = tied(candidates, config.selection_band, config.parsimony_tolerance, config.selection_pool, law_of)
    todo, val = [], {c.program_id: c.val_r2 for c in running}
    for c in running:
        law = store.program(c.program_id)
        source = relative_twin(law.source)
        if source is None:
            continue
        digest = Program(source).digest
        if store.find_digest(digest):  # twinned before: a resumed or re-finished run
            continue
        job = partial(clock.evaluate, evaluator, source, "val")
        todo.append((law, source, digest, job))
        ahead.start(("twin", law.id), job)
    added: dict[int, int] = {}
    for law, source, digest, job in todo:
        try:
            ev = ahead.result(("twin", law.id), job)
        except OutOfTime:
            log.info("finishing: no time left to score the fit-scale twins of %d law(s)", len(todo) - len(added))
            break
        pid = store.add_program(source, parent_id=law.id, iteration=0, proposer=TWIN_PROPOSER,
                                meta={**law.meta, "origin": TWIN_ORIGIN, "twin_of": law.id, "residuals": "relative"},
                                digest=digest)
        store.add_evaluation(pid, ev.metrics())
        added[pid] = law.id
        if ev.ok:
            log.info("program %d: program %d fitted on relative residuals, validation R² %.4f (it scored %.4f)",
                     pid, law.id, ev.scores.r2, val[law.id])
    return added
