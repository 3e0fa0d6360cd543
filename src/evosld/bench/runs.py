"""Benchmark: discoveries over tasks and seeds, then a leaderboard from their stores.

    spec = BenchSpec(tasks=("moe_scaling_law", "sft_scaling_law"), seeds=(0, 1, 2),
                     output=Path("bench"), iterations=50, jobs=3)
    board, outcomes = run_bench(spec)   # bench/<task>/seed<k>/, leaderboard.md, leaderboard.json

The composition of the bench's parts: ``spec`` (what to run and each run's
state), ``discoveries`` (one ``evosld discover --quiet`` subprocess per
unfinished run, ``jobs`` at a time; a finished run is skipped, an unfinished
one resumed, so an interrupted bench simply continues), ``daskruns`` (the
same subprocesses as tasks on a Dask cluster), ``humanlaws`` (the human laws
refit once per task through the sandbox, cached in the bench directory) and
``leaderboard`` (every number read from the run stores).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from evosld.bench.daskruns import execute_on_dask
from evosld.bench.discoveries import Children, RunOutcome, execute
from evosld.bench.humanlaws import human_scores
from evosld.bench.leaderboard import Leaderboard, build_leaderboard, write_leaderboard
from evosld.bench.spec import BenchSpec, plan_runs
from evosld.errors import ConfigError
from evosld.signals import StopRequest, catch_stop_signals


def run_bench(spec: BenchSpec, report: Callable[[str], None] = lambda s: None,
              stop: StopRequest | None = None) -> tuple[Leaderboard, list[RunOutcome]]:
    """Run (or resume) every discovery of ``spec``, refit the human laws, write the leaderboard.

    SIGINT / SIGTERM (or ``stop.request()``) are passed on to the running
    discoveries, which finish their runs; runs not started yet are not started,
    and the leaderboard is written from what finished. ``stop.signum`` then
    says which signal; a second signal aborts the runs and the bench at once.
    """
    if spec.jobs < 1:
        raise ConfigError("--jobs must be at least 1")
    Path(spec.output).mkdir(parents=True, exist_ok=True)
    runs = plan_runs(spec)
    if spec.on_dask:
        outcomes = execute_on_dask(spec, runs, report, stop)
    else:
        children = Children()
        if stop is not None:
            children.stop = stop
        with catch_stop_signals(children.stop, forward=children.forward):
            outcomes = execute(spec, runs, report, children)
    human = human_scores(spec, report)
    board = build_leaderboard(spec, human)
    write_leaderboard(spec.output, board)
    return board, outcomes


__all__ = ["run_bench"]
