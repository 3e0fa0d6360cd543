"""Running a bench's discoveries: one ``evosld discover --quiet`` subprocess per (task, seed).

Up to ``spec.jobs`` at a time; a finished run is skipped and an unfinished one
resumed (``--resume``). Each subprocess runs in its own session, so a Ctrl-C at
the terminal reaches the bench only, which passes it on once (the run finishes
cleanly; a second signal aborts it).
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from evosld.bench.spec import BenchRun, BenchSpec
from evosld.run.outputs import BENCH_LOG
from evosld.signals import StopRequest

#: Each run's subprocess output, appended in its run directory (a new run may start beside it).
RUN_LOG = BENCH_LOG


@dataclass(frozen=True)
class RunOutcome:
    """How the subprocess of a run ended (``skipped`` when it was already finished)."""

    task: str
    seed: int
    run_dir: Path
    action: Literal["skipped", "new", "resumed"]
    returncode: int
    seconds: float


def discover_command(spec: BenchSpec, run: BenchRun, python: str = sys.executable) -> list[str]:
    """The ``evosld discover`` command line of a run (``--resume`` for an unfinished one)."""
    cmd = [python, "-m", "evosld.entry", "discover"]
    if run.state == "unfinished":
        cmd += ["--resume", str(run.run_dir)]
    else:
        cmd += [run.task, "--seed", str(run.seed), "--output", str(run.run_dir)]
    if spec.iterations is not None:
        cmd += ["--iterations", str(spec.iterations)]
    if spec.budget_seconds is not None:
        cmd += ["--budget-seconds", str(spec.budget_seconds)]
    for model in spec.llm:
        cmd += ["--llm", model]
    if spec.data_dir:
        cmd += ["--data-dir", str(spec.data_dir)]
    return [*cmd, "--quiet", *spec.extra_args]


class Children:
    """The discovery subprocesses running now, so a signal can be passed on to them."""

    def __init__(self) -> None:
        self.pids: set[int] = set()
        self.stop = StopRequest()

    def forward(self, signum: int) -> None:
        """Send ``signum`` to every child (each finishes its run, or aborts on a second signal)."""
        for pid in list(self.pids):
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass


#: Seconds between two looks at the bench's stop signals while a run's subprocess runs (``poll``).
POLL_SECONDS = 1.0


def run_one(spec: BenchSpec, run: BenchRun, children: Children | None = None,
            poll: Callable[[Children], None] | None = None) -> RunOutcome:
    """Run one discovery subprocess, its output appended to ``<run_dir>/bench.log``.

    ``poll(children)``, when given, is called before the run starts and every
    ``POLL_SECONDS`` while it runs, to pass on stop signals that arrive from
    elsewhere (``bench.daskruns``); without it they come through ``children``.
    """
    action: Literal["new", "resumed"] = "resumed" if run.state == "unfinished" else "new"
    children = children or Children()
    if poll is not None:
        poll(children)
    if children.stop.requested:  # the bench was stopped before this run began
        return RunOutcome(run.task, run.seed, run.run_dir, action, children.stop.exit_code, 0.0)
    run.run_dir.mkdir(parents=True, exist_ok=True)
    cmd = discover_command(spec, run)
    t0 = time.monotonic()
    with open(run.run_dir / RUN_LOG, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(cmd)}\n")
        log.flush()
        # Its own session: a Ctrl-C at the terminal reaches the bench only, which passes it on once.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        children.pids.add(proc.pid)
        try:
            if children.stop.requested:
                children.forward(children.stop.signum or signal.SIGTERM)
            code = _wait(proc, children, poll)
        finally:
            children.pids.discard(proc.pid)
    return RunOutcome(run.task, run.seed, run.run_dir, action, code, time.monotonic() - t0)


def _wait(proc: subprocess.Popen[Any], children: Children, poll: Callable[[Children], None] | None) -> int:
    """``proc``'s exit code, calling ``poll(children)`` every ``POLL_SECONDS`` meanwhile."""
    if poll is None:
        return proc.wait()
    while True:
        try:
            return proc.wait(timeout=POLL_SECONDS)
        except subprocess.TimeoutExpired:
            poll(children)


def skip_finished(runs: Sequence[BenchRun], report: Callable[[str], None]) -> tuple[list[RunOutcome], list[BenchRun]]:
    """(outcomes of the runs finished already, the runs to start or resume), each reported."""
    skipped: list[RunOutcome] = []
    todo: list[BenchRun] = []
    for run in runs:
        if run.state == "finished":
            skipped.append(RunOutcome(run.task, run.seed, run.run_dir, "skipped", 0, 0.0))
            report(f"{run.task} seed {run.seed}: finished already, skipped")
        else:
            todo.append(run)
    for run in todo:
        report(f"{run.task} seed {run.seed}: {'resuming' if run.state == 'unfinished' else 'starting'}")
    return skipped, todo


def report_outcome(out: RunOutcome, stop: StopRequest, report: Callable[[str], None]) -> None:
    """One line on how a run ended: done, interrupted by the bench's stop, or failed."""
    if out.returncode == 0:
        verdict = "done"
    elif stop.requested and out.returncode in (stop.exit_code, -(stop.signum or 0)):  # said so, or died of it
        verdict = "interrupted (rerun the bench to resume it)"
    else:
        verdict = f"failed (exit {out.returncode}; see {out.run_dir / RUN_LOG})"
    report(f"{out.task} seed {out.seed}: {verdict} in {out.seconds:.0f} s")


def in_order(outcomes: Sequence[RunOutcome], runs: Sequence[BenchRun]) -> list[RunOutcome]:
    """``outcomes`` in the order of ``runs`` (tasks, then seeds)."""
    order = {(r.task, r.seed): i for i, r in enumerate(runs)}
    return sorted(outcomes, key=lambda o: order[(o.task, o.seed)])


def execute(spec: BenchSpec, runs: Sequence[BenchRun], report: Callable[[str], None] = lambda s: None,
            children: Children | None = None) -> list[RunOutcome]:
    """Run every run that is not finished, ``spec.jobs`` at a time; finished ones are skipped."""
    children = children or Children()
    outcomes, todo = skip_finished(runs, report)
    with concurrent.futures.ThreadPoolExecutor(max(1, spec.jobs)) as pool:
        futures = [pool.submit(run_one, spec, run, children) for run in todo]
        for fut in concurrent.futures.as_completed(futures):
            outcomes.append(fut.result())
            report_outcome(outcomes[-1], children.stop, report)
    return in_order(outcomes, runs)


__all__ = ["POLL_SECONDS", "RUN_LOG", "Children", "RunOutcome", "discover_command", "execute", "in_order", "report_outcome",
           "run_one", "skip_finished"]
