"""How long a run may take to finish once its search has stopped.

After the search, the final pick refits the laws in the running on the inner
folds and probes them one step beyond the data, and the reference law is
refit (``run.runner.finish``). Each of these is a sandboxed evaluation, one
after another. Given the per-candidate limit each, a run whose laws are slow
to fit could spend many times that limit finishing (about 40 evaluations
with the default pool), long after its time budget was spent.

So these evaluations share one allowance, ``RunConfig.finish_limit()``
seconds (the per-candidate ``--timeout``, at least 30 s, unless
``finish_seconds`` is set). Each gets the per-candidate limit or what is left
of the allowance, whichever is less; one cut short by the allowance, or not
started because it is spent, raises :class:`~evosld.search.selection.OutOfTime`
(the law leaves the running; nothing is stored for it, so a resumed run checks
it again). A law that hits its own per-candidate limit still fails as in the
search. The test score of the pick is not part of the allowance: it gets its
own per-candidate limit, as every law the search kept passed its validation
fit within that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from evosld.evaluation.evaluator import Evaluation, Evaluator
from evosld.evaluation.sandbox import Limits
from evosld.search.selection import OutOfTime


@dataclass
class FinishClock:
    """The finishing allowance: ``seconds`` from when it is made, shared by the evaluations run through it.

    Attributes:
        seconds: the allowance.
        limits: the per-candidate limits (``wall_seconds`` is the per-candidate timeout).
        clock: monotonic time source.
        cut: evaluations cut short or not started because the allowance was spent.
    """

    seconds: float
    limits: Limits
    clock: Callable[[], float] = time.monotonic
    started: float = field(init=False)
    cut: int = 0

    def __post_init__(self) -> None:
        self.started = self.clock()

    def left(self) -> float:
        """Seconds of the allowance left (never below 0)."""
        return max(0.0, self.seconds - (self.clock() - self.started))

    def evaluate(self, evaluator: Evaluator, source: str, split: str,
                 extra_predict: dict[str, dict[str, np.ndarray]] | None = None) -> Evaluation:
        """``evaluator.evaluate`` within what is left of the allowance.

        Raises:
            OutOfTime: the allowance is spent, or ran out while this evaluation ran.
        """
        left = self.left()
        if left <= 0:
            self.cut += 1
            raise OutOfTime(f"not started: the {self.seconds:g} s to finish were spent")
        wall = min(self.limits.wall_seconds, left)
        ev = evaluator.evaluate(source, split, extra_predict, limits=replace(self.limits, wall_seconds=wall))
        if ev.error_kind == "timeout" and wall < self.limits.wall_seconds:
            self.cut += 1
            raise OutOfTime(f"cut short: the {self.seconds:g} s to finish ran out")
        return ev

    def record(self) -> dict[str, Any]:
        """What the allowance was and how much of it was used (for best.json and the log)."""
        return {"seconds": self.seconds, "used": round(self.clock() - self.started, 3),
                "cut": self.cut}
