"""What a run shows while it runs and says when it stops: the loop's display contract.

The loop fills a ``LoopStatus`` and stops at a ``LoopLimits``; the progress
line, the CLI and the report read these, and ``STOP_REASONS`` puts a stop in
words, without importing the loop itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoopStatus:
    """What the progress display shows."""

    iteration: int = 0
    max_iterations: int = 0
    evaluations: int = 0
    failures: int = 0
    best_val_r2: float | None = None
    best_id: int | None = None
    started: float = field(default_factory=time.monotonic)
    eval_seconds: float = 0.0
    propose_seconds: float = 0.0  # wall time spent in the proposer (this session)
    llm_calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    stopped: str | None = None
    crash: str = ""  # when stopped is "proposer_crash": the last error the proposer raised ("ValueError: ...")
    unchanged: int = 0  # proposals that found nothing new (a duplicate, or nothing left to try)
    activity: Callable[[], str | None] | None = None  # what the proposer is waiting on (LLM calls), if anything

    @property
    def evals_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.evaluations / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class LoopLimits:
    """When to stop: whichever comes first."""

    max_iterations: int
    budget_seconds: float | None = None
    max_cost: float | None = None


#: Consecutive proposals on which the proposer raised (a bug in it, not a model server's failure) after which a
#: run stops (``search.loop``): a user's proposer that raised on every call had the loop spin 17,726 times in 20 s,
#: saying nothing.
CRASH_PATIENCE = 20

#: Why a run stopped (``LoopStatus.stopped``), in words for the CLI and the report.
STOP_REASONS = {
    "iterations": "iteration limit reached",
    "budget": "time budget spent",
    "max_cost": "LLM cost limit reached",
    "exhausted": "every structure within the parameter limit was tried",
    "interrupted": "stopped by a signal (Ctrl-C or SIGTERM); --resume continues the search",
    "llm_unavailable": "the LLM server failed every request of a generation, after retries (see evosld.log); "
                       "--resume continues once it answers",
    "proposer_crash": f"the proposer raised an error on {CRASH_PATIENCE} proposals in a row (the last is in evosld.log and "
                      "run.sqlite's failed_proposals); fix it, and --resume continues",
}
