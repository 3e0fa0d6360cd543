"""Score a candidate on a task: fit each group in the sandbox, score centrally.

``val`` fits on train minus validation and scores validation (what the search
selects on); ``test`` fits on the whole train split and scores test (computed
once, for the report). The candidate only ever receives the rows it fits on
and the features of the rows it predicts: never the targets it is scored on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evosld.errors import ProgramError
from evosld.evaluation.metrics import Scores, failure, score
from evosld.evaluation.sandbox import Limits, RunResult, Sandbox
from evosld.program import Program
from evosld.tasks.task import Task


@dataclass
class Evaluation:
    """The outcome of scoring one program on one split.

    ``predictions`` maps group -> (M,) or (M, T) array for the scored rows, in
    the order of ``Task.arrays``; ``params`` maps group -> fitted parameters
    (nested float lists, as the program returned them).
    """

    split: str
    scores: Scores
    params: dict[str, Any] = field(default_factory=dict)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    extra: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    error_kind: str | None = None
    message: str = ""
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0
    duration: float = 0.0
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    def metrics(self) -> dict[str, Any]:
        """Flat JSON-friendly metrics record (what the store and reports keep)."""
        s = self.scores
        return {
            "split": self.split,
            "r2": s.r2,
            "r2_clipped": s.r2_clipped,
            "nmse": s.nmse,
            "nmae": s.nmae,
            "combined_score": s.combined_score,
            "r2_per_output": s.r2_per_output,
            "error_kind": self.error_kind,
            "error": self.message or None,
            "fit_seconds": self.fit_seconds,
            "predict_seconds": self.predict_seconds,
            "duration": self.duration,
        }


def build_job(task: Task, split: str, extra_predict: dict[str, dict[str, np.ndarray]] | None = None) -> dict[str, Any]:
    """The sandbox job for ``split``: per group, fit rows and rows to predict.

    ``extra_predict`` maps group -> {set name: X (M, F)} for additional
    predictions (e.g. a curve through and beyond the data, for plots).
    """
    fit, scored = task.split_arrays(split)
    groups = []
    for name, g in fit.items():
        predict: dict[str, np.ndarray] = {}
        if name in scored:
            predict["scored"] = scored[name].X
        for set_name, X in (extra_predict or {}).get(name, {}).items():
            predict[set_name] = np.asarray(X, dtype=float)
        if predict:
            groups.append({"name": name, "X_fit": g.X, "y_fit": g.y, "predict": predict})
    return {"groups": groups}


def score_run(task: Task, split: str, run: RunResult) -> Evaluation:
    """Turn a sandbox result into an Evaluation (metrics computed here, not in the child)."""
    base = {"stdout": run.stdout, "stderr": run.stderr, "duration": run.duration}
    if not run.ok or run.value is None:
        where = f" (group {run.error_group})" if run.error_group else ""
        msg = f"{run.message}{where}"
        return Evaluation(split, failure(msg), error_kind=run.error_kind, message=msg, **base)
    _, scored = task.split_arrays(split)
    preds, truths, params, extra = [], [], {}, {}
    by_group: dict[str, np.ndarray] = {}
    fit_s = pred_s = 0.0
    for g in run.value.get("groups", []):
        name = g["name"]
        params[name] = g.get("params")
        fit_s += float(g.get("fit_seconds", 0.0))
        pred_s += float(g.get("predict_seconds", 0.0))
        sets = g.get("predictions", {})
        extra[name] = {k: np.asarray(v, dtype=float) for k, v in sets.items() if k != "scored"}
        if name in scored:
            try:
                p = np.asarray(sets.get("scored"), dtype=float)
            except (TypeError, ValueError):
                p = np.array([np.nan])
            expected = scored[name].y
            if p.ndim == 1 and expected.ndim == 2 and expected.shape[1] == 1:
                p = p.reshape(-1, 1)
            if p.ndim == 2 and expected.ndim == 1 and p.shape[1] == 1:
                p = p.ravel()
            if p.shape != expected.shape:
                msg = f"group {name}: predictions have shape {p.shape}, expected {expected.shape}"
                return Evaluation(split, failure(msg), params=params, error_kind="bad_output", message=msg, **base)
            by_group[name] = p
            preds.append(p)
            truths.append(expected)
    missing = [g for g in scored if g not in by_group]
    if missing:
        msg = f"no predictions for group(s) {', '.join(missing[:3])}"
        return Evaluation(split, failure(msg), params=params, error_kind="bad_output", message=msg, **base)
    s = score(np.concatenate(preds), np.concatenate(truths))
    kind = None if s.ok else "bad_output"
    return Evaluation(split, s, params=params, predictions=by_group, extra=extra, error_kind=kind,
                      message=s.error or "", fit_seconds=fit_s, predict_seconds=pred_s, **base)


class Evaluator:
    """Evaluates programs on one task through a sandbox.

    Args:
        task: the task (its test rows are used only when ``split="test"``).
        sandbox: where programs run; a default one is made if not given.
        limits: per-run limits (default: the sandbox's).
    """

    def __init__(self, task: Task, sandbox: Sandbox | None = None, limits: Limits | None = None) -> None:
        self.task = task
        self.sandbox = sandbox or Sandbox()
        self.limits = limits

    def evaluate(
        self,
        program: Program | str,
        split: str = "val",
        extra_predict: dict[str, dict[str, np.ndarray]] | None = None,
        limits: Limits | None = None,
    ) -> Evaluation:
        """Fit per group and score ``split``; never raises on a bad candidate.

        ``limits`` overrides the evaluator's own for this run (e.g. a shorter
        wall-clock limit while a run finishes).
        """
        prog = program if isinstance(program, Program) else Program(program)
        t0 = time.perf_counter()
        try:
            prog.check()
        except ProgramError as exc:
            return Evaluation(split, failure(str(exc)), error_kind="static", message=str(exc),
                              duration=time.perf_counter() - t0)
        run = self.sandbox.run(prog.source, build_job(self.task, split, extra_predict), limits or self.limits)
        return score_run(self.task, split, run)
