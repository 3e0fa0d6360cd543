"""A Dask client: on a scheduler given by address, or on a local cluster started (and closed) here.

    with DaskCluster(address=None, workers=2) as cluster:    # a LocalCluster of 2 worker processes
        future = cluster.client.submit(fn, *args, pure=False)

Used by evaluations (``evaluation.executors.DaskExecutor``) and by the bench's
runs (``bench.daskruns``). Errors a user can fix (``distributed`` missing, a
scheduler that cannot be reached, a malformed address) raise ``ConfigError``.
"""

from __future__ import annotations

import concurrent.futures
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from evosld.errors import ConfigError


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while local workers are started, so they inherit it ignored.

    A Ctrl-C at the terminal reaches every process of its group: the local
    workers must not die of it, the process that owns them decides how to stop.
    Outside the main thread (no handlers there) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)


def as_concurrent(dask_future: Any) -> concurrent.futures.Future[Any]:
    """A ``concurrent.futures.Future`` settled with ``dask_future``'s result or error.

    Cancelling it does not cancel the Dask task (its result is then dropped).
    """
    out: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def _done(f: Any) -> None:
        if out.cancelled():  # the caller gave up on it
            return
        try:
            out.set_result(f.result())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the caller
            out.set_exception(exc)

    dask_future.add_done_callback(_done)
    return out


class DaskCluster:
    """A ``distributed.Client`` and, without ``address``, the ``LocalCluster`` it runs on.

    Args:
        address: a scheduler address (``tcp://host:8786``); if None, a
            ``LocalCluster`` of ``workers`` single-threaded worker processes is
            started and closed with this object.
        workers: local worker processes (ignored with ``address``).
    Raises:
        ConfigError: ``distributed`` is not installed, or the scheduler cannot be reached.
    """

    def __init__(self, address: str | None = None, workers: int = 2) -> None:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:  # pragma: no cover - depends on the install
            raise ConfigError("Dask needs `pip install 'evosld[distributed]'`") from None
        self._cluster: Any = None
        # Sandboxed children are forked from worker processes, so workers must not be daemonic.
        with dask.config.set({"distributed.worker.daemon": False}):
            if address is None:
                with _sigint_ignored():
                    self._cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                                                 dashboard_address=None)
                self.client = Client(self._cluster)
            else:
                try:
                    self.client = Client(address)
                except (OSError, ValueError) as exc:
                    raise ConfigError(f"cannot reach the Dask scheduler at {address} ({exc}); check the address "
                                      "and that `dask scheduler` runs there, or use --dask-local") from None

    @property
    def workers(self) -> int:
        """Tasks the cluster runs at once (its worker threads, at least 1)."""
        infos = self.client.scheduler_info()["workers"].values()
        return max(1, sum(w.get("nthreads", 1) for w in infos))

    def close(self) -> None:
        """Close the client, and the local cluster when this object started it."""
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["DaskCluster", "as_concurrent"]
