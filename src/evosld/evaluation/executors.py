"""Where evaluations run: a local thread pool over the sandbox, or a Dask cluster.

Both return ``concurrent.futures.Future[Evaluation]`` from ``submit``, so the
loop awaits them the same way (``asyncio.wrap_future``). Each evaluation still
runs in a sandboxed child process; the executor only decides on which machine
and how many at once.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
from collections.abc import Iterator
from typing import Any, Protocol

from evosld.dask_cluster import DaskCluster, as_concurrent
from evosld.evaluation.evaluator import Evaluation, Evaluator
from evosld.evaluation.sandbox import Limits, Sandbox
from evosld.tasks.task import Task


@contextlib.contextmanager
def refit_pool(sandbox: Sandbox, workers: int) -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    """A thread pool for a command's sandboxed refits that ends them when the command is stopped.

    On Ctrl-C or SIGTERM (any exception leaving the block) the sandbox kills
    its runs in flight and the queued ones are dropped, so the command ends
    within a moment instead of waiting for each refit at exit (``evosld
    report`` took 3 to 5 s to say "interrupted", and a second Ctrl-C in that
    wait printed a traceback). Used by ``evosld report`` and the bench's
    human-law refits.
    """
    pool = concurrent.futures.ThreadPoolExecutor(max(1, workers))
    try:
        yield pool
    except BaseException:
        sandbox.stop()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


class Executor(Protocol):
    """Runs evaluations; ``workers`` is how many it runs at once."""

    workers: int

    def submit(self, source: str, split: str = "val") -> concurrent.futures.Future[Evaluation]: ...

    def close(self) -> None: ...


#: Room a ``LocalExecutor``'s sandbox keeps beyond its workers, for runs made through it outside the pool.
LOCAL_SPARE_RUNS = 4


class LocalExecutor:
    """Evaluations on this machine, ``workers`` sandboxed children at a time."""

    def __init__(self, task: Task, workers: int = 2, limits: Limits | None = None, sandbox: Sandbox | None = None) -> None:
        self.workers = max(1, workers)
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(limits, max_concurrent=self.workers + LOCAL_SPARE_RUNS)
        self.evaluator = Evaluator(task, self.sandbox, limits)
        self._pool = concurrent.futures.ThreadPoolExecutor(self.workers, thread_name_prefix="evosld-eval")

    def submit(self, source: str, split: str = "val") -> concurrent.futures.Future[Evaluation]:
        return self._pool.submit(self.evaluator.evaluate, source, split)

    def cancel(self) -> None:
        """Drop queued evaluations and kill the sandboxed children in flight."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sandbox.stop(refuse_new=self._own_sandbox)  # a shared sandbox stays usable

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------
# Dask: one sandbox per worker process, created on first use.
_worker_sandboxes: dict[Any, Sandbox] = {}
_worker_lock = threading.Lock()


def _evaluate_on_worker(task: Task, source: str, split: str, limits: Limits | None) -> Evaluation:
    """Runs inside a Dask worker: evaluate through that worker's own sandbox."""
    key = limits
    with _worker_lock:
        sandbox = _worker_sandboxes.get(key)
        if sandbox is None:
            sandbox = _worker_sandboxes[key] = Sandbox(limits)
    return Evaluator(task, sandbox, limits).evaluate(source, split)


class DaskExecutor:
    """Evaluations on a Dask cluster (``distributed``).

    Args:
        task: scattered once to every worker.
        address: a scheduler address (``tcp://host:8786``); if None, a
            ``LocalCluster`` with ``workers`` single-threaded worker processes
            is started and closed with this executor.
    """

    def __init__(self, task: Task, address: str | None = None, workers: int = 2, limits: Limits | None = None) -> None:
        self._cluster = DaskCluster(address, workers)
        self.client = self._cluster.client
        self.workers = self._cluster.workers
        self.limits = limits
        [self._task] = self.client.scatter([task], broadcast=True)

    def submit(self, source: str, split: str = "val") -> concurrent.futures.Future[Evaluation]:
        return as_concurrent(self.client.submit(_evaluate_on_worker, self._task, source, split, self.limits, pure=False))

    def close(self) -> None:
        self._cluster.close()
