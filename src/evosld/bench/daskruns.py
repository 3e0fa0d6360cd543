"""A bench's discoveries on a Dask cluster (``evosld bench --dask-local`` / ``--dask-scheduler``).

    outcomes = execute_on_dask(spec, plan_runs(spec), report, stop)   # spec.dask_local or spec.dask_scheduler

Each run that is not finished becomes one Dask task that runs the same
``evosld discover --quiet`` subprocess as the thread pool
(``bench.discoveries``), on a worker; outcomes are gathered as they finish.
The run directories (and ``--data-dir``) must be on a filesystem the workers
share with the bench, which reads the run stores for its leaderboard.

Stop signals: the bench routes SIGINT / SIGTERM to ``stop`` and publishes the
signals it received in a Dask ``Variable``; each task looks at it every
``POLL_SECONDS`` and passes the next new one on to its subprocess. A first
signal lets the running discoveries finish their runs and makes the ones not
started yet return at once; a second one aborts the discoveries, and the
bench waits (at most ``ABORT_WAIT_SECONDS``) for them to end, cancels what is
left and closes the cluster.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from evosld.bench.discoveries import (
    POLL_SECONDS,
    Children,
    RunOutcome,
    in_order,
    report_outcome,
    run_one,
    skip_finished,
)
from evosld.bench.spec import BenchRun, BenchSpec
from evosld.dask_cluster import DaskCluster, as_concurrent
from evosld.signals import Aborted, StopRequest, catch_stop_signals

#: After a second signal, how long the bench waits for the aborted discoveries before cancelling them.
ABORT_WAIT_SECONDS = 30.0


def _signal_poll(name: str) -> Callable[[Children], None]:
    """On a worker: a ``poll`` passing on the signals published under ``name`` that it has not passed on yet."""
    from distributed import Variable, get_client

    published = Variable(name, client=get_client())
    passed = 0

    def poll(children: Children) -> None:
        nonlocal passed
        try:
            signals = list(published.get(timeout=POLL_SECONDS))
        except (OSError, TimeoutError):  # the scheduler is slow to answer: look again next time
            return
        if passed < len(signals):
            # one a call: two signals sent back to back may reach the child as one (the kernel merges them)
            signum = signals[passed]
            passed += 1
            if not children.stop.requested:
                children.stop.request(signum)
            children.forward(signum)

    return poll


def _run_on_worker(spec: BenchSpec, run: BenchRun, signals: str) -> RunOutcome:
    """A Dask task: one discovery subprocess on this worker, stopped by the signals published under ``signals``."""
    return run_one(spec, run, Children(), poll=_signal_poll(signals))


def execute_on_dask(spec: BenchSpec, runs: Sequence[BenchRun], report: Callable[[str], None] = lambda s: None,
                    stop: StopRequest | None = None) -> list[RunOutcome]:
    """Run every run that is not finished on the Dask cluster of ``spec``; finished ones are skipped.

    A local cluster (``spec.dask_local``) has ``spec.jobs`` single-threaded
    workers; on a scheduler (``spec.dask_scheduler``) the cluster's worker
    threads decide how many run at once.
    Raises:
        ConfigError: the scheduler cannot be reached.
        Aborted: a second stop signal arrived (the discoveries were aborted).
    """
    stop = stop or StopRequest()
    if all(run.state == "finished" for run in runs):  # nothing to run: no cluster needed
        return skip_finished(runs, report)[0]
    with DaskCluster(spec.dask_scheduler, spec.jobs) as cluster:
        from distributed import Variable

        outcomes, todo = skip_finished(runs, report)
        client = cluster.client
        token = uuid.uuid4().hex[:12]
        received: list[int] = []
        stop.on_request(lambda: received.append(stop.signum or 0))  # now, if the bench was stopped already
        signals = Variable(f"evosld-bench-signals-{token}", client=client)
        signals.set(list(received))
        dask_futures = {run: client.submit(_run_on_worker, spec, run, signals.name, pure=False,
                                           key=f"evosld-bench-{run.task}-seed{run.seed}-{token}")
                        for run in todo}
        pending = {as_concurrent(f): run for run, f in dask_futures.items()}
        published = len(received)
        try:
            with catch_stop_signals(stop):
                while pending:
                    done, _ = concurrent.futures.wait(pending, timeout=POLL_SECONDS,
                                                      return_when=concurrent.futures.FIRST_COMPLETED)
                    if len(received) > published:
                        published = len(received)
                        signals.set(list(received))
                    for fut in done:
                        outcomes.append(_outcome(fut, pending.pop(fut), report))
                        report_outcome(outcomes[-1], stop, report)
        except Aborted as exc:
            received.append(exc.signum)
            signals.set(list(received))
            concurrent.futures.wait(pending, timeout=ABORT_WAIT_SECONDS)
            client.cancel(list(dask_futures.values()), force=True)
            raise
        finally:
            try:
                signals.delete()
            except Exception:  # noqa: BLE001 - the cluster is going away anyway
                pass
    return in_order(outcomes, runs)


def _outcome(fut: concurrent.futures.Future[Any], run: BenchRun, report: Callable[[str], None]) -> RunOutcome:
    """The outcome a task returned, or a failed one (exit 1) when the task itself failed on the cluster."""
    try:
        return fut.result()
    except Exception as exc:  # noqa: BLE001 - a lost worker or a run directory the worker cannot write
        report(f"{run.task} seed {run.seed}: the Dask task failed ({type(exc).__name__}: {exc})")
        action = "resumed" if run.state == "unfinished" else "new"
        return RunOutcome(run.task, run.seed, run.run_dir, action, 1, 0.0)


__all__ = ["ABORT_WAIT_SECONDS", "execute_on_dask"]
