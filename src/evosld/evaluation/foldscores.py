"""A law's scores on one inner fold, for the final pick (``search.selection``).

An inner fold (``tasks.folds``) refits a law on the fit rows below a band and
scores that band: one step of extrapolation. A scientist checking a law by
forward chaining also looks further ahead with the same fit: made without the
band and without validation, it predicts the validation rows too, one or two
steps beyond what it was fitted on, as the chosen law will later be asked to
predict test. Short steps reward whatever bends through the next slice; the
further rows tell the laws that carry their trend from the ones that only
follow the data they saw (on moe, over the 30 best laws of a run, the rank
correlation with test was 0.0 for validation and 0.5-0.6 for such a fit on
the small models predicting the validation size).

So a fold with a direction gives two scores from one refit, under two names:
its band (``inner1``) and its horizon (``inner1->val``), the trimmed R² of the
same fit on the validation rows (``evaluation.metrics.trimmed_r2``). Held-out
mixtures (random bands, no direction) have nothing further out and keep the
band alone. Test rows are never read.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from evosld.evaluation.evaluator import Evaluation
from evosld.evaluation.metrics import trimmed_r2
from evosld.tasks.folds import Fold
from evosld.tasks.task import Task

#: Suffix of a fold's horizon score: ``inner1->val`` is inner1's fit scored on validation.
HORIZON = "->val"
#: Name of the extra prediction set that carries the validation inputs (see ``build_job``).
_SET = "horizon"
#: Name of the extra prediction set that carries the probe inputs (``Task.probe``).
PROBE_SET = "probe"
#: Suffix of a fold fit's predictions at the probe inputs: ``inner1@probe`` (not a score).
AT_PROBE = "@probe"

#: evaluate(split, extra_predict) -> Evaluation: one sandboxed fit-and-predict of the law.
Evaluate = Callable[[str, dict[str, dict[str, np.ndarray]] | None], Evaluation]


def has_horizon(task: Task, fold: Fold) -> bool:
    """Whether ``fold``'s fit is also scored on validation (a direction, and validation rows to score)."""
    return fold.directed and bool(np.any(task.val_mask))


def score_names(task: Task, fold: Fold) -> tuple[str, ...]:
    """The scores one refit on ``fold`` gives: its band, then its horizon when it has one."""
    return (fold.name, fold.name + HORIZON) if has_horizon(task, fold) else (fold.name,)


def fold_names(task: Task, n_folds: int) -> tuple[str, ...]:
    """The names the final pick scores, in order: each inner fold, then its horizon when it has one."""
    return tuple(n for fold in task.inner_folds(n_folds) for n in score_names(task, fold))


def folds_digest(task: Task, n_folds: int) -> str:
    """A digest of the rows each of the task's first ``n_folds`` inner folds fits and scores, and of validation.

    Stored fold scores are named ``inner1``, ``inner2``, ...; when the folds a
    table gets change (a newer evosld drops a fold, so the next one takes its
    name), scores stored under a name belong to other rows. A run keeps this
    digest beside its scores and rescores when it differs.
    """
    h = hashlib.sha1(np.packbits(np.asarray(task.val_mask, dtype=bool)).tobytes())
    folds = task.inner_folds(n_folds) if n_folds else []
    for fold in folds:
        h.update(fold.name.encode())
        h.update(np.packbits(fold.fit).tobytes())
        h.update(np.packbits(fold.scored).tobytes())
    # a dense table's fits use a share of the rows (tasks.thinning): a run stored before, or under another cap,
    # rescores; tables under the cap keep the digest they always had
    for name, full in (("val", int((~np.asarray(task.val_mask, dtype=bool)).sum())),
                       *((f.name, int(f.fit.sum())) for f in folds)):
        used = len(task.frames(name)[0])
        if used < full:
            h.update(f"{name} fits {used} of {full} rows".encode())
    return h.hexdigest()


def fold_r2_of(ev: Evaluation) -> float | None:
    """A fold evaluation's band score: its trimmed R², None when it failed or is not finite."""
    r2 = ev.scores.r2_trimmed if ev.ok else None
    return r2 if r2 is not None and math.isfinite(r2) else None


def horizon_r2(ev: Evaluation, truth: dict[str, np.ndarray]) -> float | None:
    """Trimmed R² of a fold fit's predictions of the validation rows, all groups together.

    Args:
        ev: the fold's evaluation, with ``extra[group]["horizon"]`` (M_g,) or (M_g, T) predictions.
        truth: group -> validation targets (M_g,) or (M_g, T).
    Returns:
        The score, or None when the fit failed, no group could be predicted,
        or a prediction is not finite. Groups the fold could not fit (no fit
        rows) are left out, as the band leaves them out.
    """
    if not ev.ok:
        return None
    preds, ys = [], []
    for g, y in truth.items():
        p = (ev.extra or {}).get(g, {}).get(_SET)
        if p is None:
            continue
        y = np.asarray(y, dtype=float).reshape(len(y), -1)
        p = np.asarray(p, dtype=float)
        if p.size != y.size:
            return None
        preds.append(p.reshape(y.shape))
        ys.append(y)
    if not preds:
        return None
    P, Y = np.concatenate(preds), np.concatenate(ys)
    if not np.all(np.isfinite(P)):
        return None
    r2 = trimmed_r2(P, Y)
    return r2 if math.isfinite(r2) else None


def score_fold(evaluate: Evaluate, task: Task, fold: Fold) -> dict[str, Any]:
    """One refit of a law on ``fold``: its band score and, when the fold has one, its horizon score.

    A directed fold's fit also predicts the task's probe inputs (one step
    beyond validation, ``Task.probe``), for the final pick to see how far the
    law's prediction there moves when it is fitted on fewer runs
    (``search.plausibility.drift``).

    Args:
        evaluate: runs the law on a split with extra inputs to predict
            (``Evaluator.evaluate`` or a finishing clock's bounded version).
        task: the task the fold belongs to.
        fold: one of ``task.inner_folds()``.
    Returns:
        ``{fold.name: R² or None}``, plus ``{fold.name + HORIZON: R² or None}``,
        plus ``{fold.name + AT_PROBE: {group: probe predictions as lists} or None}``
        when the task has a probe (None: the fit failed).
    """
    if not has_horizon(task, fold):
        return {fold.name: fold_r2_of(evaluate(fold.name, None))}
    _, val = task.split_arrays("val")
    probe = task.probe()
    extra = {g: {_SET: d.X} for g, d in val.items()}
    for g, X in probe.items():
        extra.setdefault(g, {})[PROBE_SET] = X
    ev = evaluate(fold.name, extra)
    out: dict[str, Any] = {fold.name: fold_r2_of(ev),
                           fold.name + HORIZON: horizon_r2(ev, {g: d.y for g, d in val.items()})}
    if probe:
        out[fold.name + AT_PROBE] = probe_points(ev)
    return out


def probe_points(ev: Evaluation) -> dict[str, list] | None:
    """An evaluation's predictions at the probe inputs, group -> nested lists (JSON-ready); None when it failed."""
    if not ev.ok:
        return None
    return {g: np.asarray(sets[PROBE_SET], dtype=float).tolist() for g, sets in (ev.extra or {}).items()
            if PROBE_SET in sets}


def missing_folds(task: Task, n_folds: int, known: dict[str, float | None] | None = None) -> list[Fold]:
    """The task's first ``n_folds`` inner folds whose scores are not all in ``known``: the ones to refit."""
    have = known or {}
    return [fold for fold in task.inner_folds(n_folds) if not all(n in have for n in score_names(task, fold))]


def score_folds(evaluate: Evaluate | None, task: Task, n_folds: int, known: dict[str, float | None] | None = None,
                on_fold: Callable[[dict[str, Any]], None] | None = None,
                score: Callable[[Fold], dict[str, Any]] | None = None) -> dict[str, float | None]:
    """Every score of ``fold_names(task, n_folds)``, one refit per fold not already ``known``.

    Args:
        evaluate: as for ``score_fold`` (None when ``score`` is given).
        task: the task.
        n_folds: inner folds wanted.
        known: scores already computed (a fold whose names are all here is not refitted).
        on_fold: called with the scores so far after each refit (e.g. to store them), the
            fold fits' probe predictions included (``AT_PROBE``).
        score: fold -> its scores, instead of ``score_fold(evaluate, task, fold)``; e.g. a
            refit already started in another thread (``run.finishing.Ahead``).
    Returns:
        name -> score, in ``fold_names`` order.
    """
    if score is None and evaluate is None:
        raise ValueError("score_folds needs evaluate or score")
    have = dict(known or {})
    for fold in missing_folds(task, n_folds, have):
        have.update(score(fold) if score is not None else score_fold(evaluate, task, fold))
        if on_fold is not None:
            on_fold(dict(have))
    return {n: have.get(n) for n in fold_names(task, n_folds)}
