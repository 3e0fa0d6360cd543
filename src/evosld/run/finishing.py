"""How long a run may take to finish once its search has stopped.

After the search, the final pick refits the laws in the running on the inner
folds and probes them one step beyond the data, and the reference law is
refit (``run.runner.finish``). Each of these is a sandboxed evaluation
(``--workers`` of them at once, see :class:`Ahead` below). Given the
per-candidate limit each, a run whose laws are slow to fit could spend many
times that limit finishing (about 40 evaluations with the default pool),
long after its time budget was spent.

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

The final pick asks for its checks one law at a time, but it knows up front
which laws it will check first. With ``--workers`` above 1 those checks and
the reference's refits are started at once, ``workers`` at a time
(:class:`Ahead`), in the order they are needed: the running's probes and
folds, the reference, then the simpler laws' probes and folds (their folds
are read only if their probes pass); the pick then reads the results as it
goes, and the checks nothing read are killed when the finishing ends. The
checks are the same fits (deterministic), so the pick is the same; it only
comes sooner (and when the allowance runs out, more laws have been checked
by then). The store is written by the main thread alone.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

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
        cut: evaluations cut short or not started because the allowance was spent (counted
            as the pick reads them, ``Ahead.result``).
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
            OutOfTime: the allowance is spent, or ran out while this evaluation ran. It is counted
                in ``cut`` when the pick reads it (``Ahead.result``), so an evaluation started
                ahead that nothing asked for is not.
        """
        left = self.left()
        if left <= 0:
            raise OutOfTime(f"not started: the {self.seconds:g} s to finish were spent")
        wall = min(self.limits.wall_seconds, left)
        ev = evaluator.evaluate(source, split, extra_predict, limits=replace(self.limits, wall_seconds=wall))
        if ev.error_kind == "timeout" and wall < self.limits.wall_seconds:
            raise OutOfTime(f"cut short: the {self.seconds:g} s to finish ran out")
        return ev

    def record(self) -> dict[str, Any]:
        """What the allowance was and how much of it was used (for best.json and the log)."""
        return {"seconds": self.seconds, "used": round(self.clock() - self.started, 3),
                "cut": self.cut}


T = TypeVar("T")


class Ahead:
    """Finishing evaluations started before they are asked for, ``workers`` at a time.

    ``start(key, job)`` queues ``job`` (a callable with no arguments, run in
    a worker thread; it must not touch the run store); ``result(key, job)``
    returns that job's result, waiting for it, or runs ``job`` here when it
    was never started. Exceptions come out of ``result``; an ``OutOfTime``
    is counted there in ``clock.cut`` (when a clock is given). With one
    worker nothing is started ahead: every job runs when asked for, as
    without this class.

        ahead = Ahead(2, clock)
        ahead.start(("probe", 7), lambda: probe_law(evaluator, source, clock))
        ...
        excess = ahead.result(("probe", 7), lambda: probe_law(evaluator, source, clock))
        ahead.close()
    """

    def __init__(self, workers: int, clock: FinishClock | None = None) -> None:
        self.workers = max(1, int(workers))
        self.clock = clock
        self._pool = (concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="evosld-finish")
                      if self.workers > 1 else None)
        self._started: dict[Hashable, concurrent.futures.Future[Any]] = {}

    def start(self, key: Hashable, job: Callable[[], Any]) -> None:
        """Queue ``job`` under ``key`` (once per key; nothing with one worker)."""
        if self._pool is not None and key not in self._started:
            self._started[key] = self._pool.submit(job)

    def result(self, key: Hashable, job: Callable[[], T]) -> T:
        """The result of the job started under ``key``, or of ``job`` run now when none was."""
        future = self._started.pop(key, None)
        try:
            return job() if future is None else future.result()
        except OutOfTime:
            if self.clock is not None:
                self.clock.cut += 1  # only the thread that reads results counts
            raise

    def keep(self, key: Hashable, value: Any) -> None:
        """Hold ``value`` under ``key`` as a finished job's result: the next ``result(key, ...)`` returns it."""
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        future.set_result(value)
        self._started[key] = future

    def close(self, abort: bool = False) -> None:
        """Drop the jobs not started; wait for those running unless ``abort`` (then kill their
        sandboxed children first, with ``Sandbox.stop``, so the threads end at once)."""
        if self._pool is not None:
            self._pool.shutdown(wait=not abort, cancel_futures=True)
        self._started.clear()
