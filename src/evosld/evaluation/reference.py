"""A task's reference law refit through the sandbox: fit on train, scored on validation and test.

    label, source, kind = comparison_law(task)       # tasks.baselines: the human law, Chinchilla or the plain law
    fit = refit_law(Evaluator(task, sandbox), label, source)
    fit.val.scores.r2, fit.test.scores.r2, fit.error

The one place the reference law is refit: the runner (``best.json``'s
``reference``), ``evosld baselines``, the bench's human-law scores and the
report all call it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evosld.evaluation.evaluator import Evaluation, Evaluator


@dataclass(frozen=True)
class ReferenceFit:
    """A law refit on train and scored on both held-out splits.

    ``val`` / ``test``: its two evaluations (fit on train, and on all of train
    for test, as the evaluator does); ``test`` carries the extra predictions
    asked for, if any.
    """

    label: str
    source: str
    val: Evaluation
    test: Evaluation

    @property
    def error(self) -> str | None:
        """The first failure message (test's, else validation's), or None when both ran."""
        return self.test.message or self.val.message or None

    @property
    def seconds(self) -> float:
        """Time the two evaluations took."""
        return self.val.duration + self.test.duration

    def scores(self) -> dict[str, Any]:
        """Validation R², test R² (also clipped at -1), test NMSE and NMAE, and the error, as floats (may be nan)."""
        val, test = self.val.scores, self.test.scores
        return {"val_r2": val.r2, "test_r2": test.r2, "test_r2_clipped": test.r2_clipped,
                "test_nmse": test.nmse, "test_nmae": test.nmae, "error": self.error}


def refit_law(evaluator: Evaluator, label: str, source: str,
              test_extra: dict[str, dict[str, np.ndarray]] | None = None,
              evaluate: Callable[..., Evaluation] | None = None) -> ReferenceFit:
    """Refit ``source`` on the evaluator's task and score it on validation, then test.

    ``test_extra`` maps group -> {set name: X (M, F)}: extra predictions of the
    test fit (e.g. the curves of the report's figures). ``evaluate(source,
    split, extra)`` runs each evaluation (default ``evaluator.evaluate``; the
    runner passes its finishing allowance's, which may raise ``OutOfTime``).
    """
    run = evaluate or evaluator.evaluate
    return ReferenceFit(label, source, run(source, "val", None), run(source, "test", test_extra))


__all__ = ["ReferenceFit", "refit_law"]
