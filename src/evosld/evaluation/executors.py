"""Where evaluations run: a local thread pool over the sandbox, or a Dask cluster.

Both return ``concurrent.futures.Future[Evaluation]`` from ``submit``, so the
loop awaits them the same way (``asyncio.wrap_future``). Each evaluation still
runs in a sandboxed child process; the executor only decides on which machine
and how many at once.
"""

from __future__ import annotations

import concurrent.futures
import threading
from typing import Any, Protocol

from evosld.evaluation.evaluator import Evaluation, Evaluator
from evosld.evaluation.sandbox import Limits, Sandbox
from evosld.tasks.task import Task


class Executor(Protocol):
    """Runs evaluations; ``workers`` is how many it runs at once."""

    workers: int

    def submit(self, source: str, split: str = "val") -> concurrent.futures.Future[Evaluation]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Evaluations on this machine, ``workers`` sandboxed children at a time."""

    def __init__(self, task: Task, workers: int = 2, limits: Limits | None = None, sandbox: Sandbox | None = None) -> None:
        self.workers = max(1, workers)
        self._own_sandbox = sandbox is None
        self.sandbox = sandbox or Sandbox(limits, max_concurrent=self.workers + 4)
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
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the install
            from evosld.errors import ConfigError

            raise ConfigError("the Dask executor needs `pip install 'evosld[distributed]'`") from None
        self._cluster = None
        # Sandboxed children are forked from worker processes, so workers must not be daemonic.
        with dask.config.set({"distributed.worker.daemon": False}):
            if address is None:
                self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                             dashboard_address=None)
                self.client = Client(self._cluster)
            else:
                self.client = Client(address)
        self.workers = max(1, sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values()))
        self.limits = limits
        [self._task] = self.client.scatter([task], broadcast=True)

    def submit(self, source: str, split: str = "val") -> concurrent.futures.Future[Evaluation]:
        dask_future = self.client.submit(_evaluate_on_worker, self._task, source, split, self.limits, pure=False)
        out: concurrent.futures.Future[Evaluation] = concurrent.futures.Future()

        def _done(f: Any) -> None:
            if out.cancelled():  # the loop gave up on it (its budget ran out)
                return
            try:
                out.set_result(f.result())
            except BaseException as exc:  # noqa: BLE001 - surfaced to the awaiting loop
                out.set_exception(exc)

        dask_future.add_done_callback(_done)
        return out

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()
