"""The ``evosld bench`` subcommand: discoveries over tasks and seeds, then a leaderboard.

``evosld.cli.build_parser`` registers it with ``add_bench_parser(sub)``. The
handler returns an exit code; user mistakes raise ``EvosldError`` subclasses,
which the main CLI prints as one line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NoReturn


class ScriptParser(argparse.ArgumentParser):
    """An argument parser for the scripts in ``benchmarks/``: a mistake is one ``error:`` line, exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the discoveries of a bench (resuming), then write its leaderboard."""
    from evosld.bench.runs import run_bench
    from evosld.bench.spec import BenchSpec, parse_seeds, parse_tasks
    from evosld.cli import (
        err_console as err,  # one line per message when stderr is a file or a pipe
    )
    from evosld.run.runlock import RunLock
    from evosld.signals import StopRequest, signal_name

    spec = BenchSpec(
        tasks=parse_tasks(args.tasks),
        seeds=parse_seeds(args.seeds),
        output=Path(args.output),
        iterations=args.iterations,
        budget_seconds=args.budget_seconds,
        llm=tuple(args.llm or ()),
        jobs=args.jobs,
        data_dir=args.data_dir,
        dask_scheduler=args.dask_scheduler,
        dask_local=args.dask_local,
    )
    where = (f"on the Dask scheduler {spec.dask_scheduler}" if spec.dask_scheduler
             else f"{spec.jobs} at a time" + (" on a local Dask cluster" if spec.dask_local else ""))
    with RunLock.acquire(spec.output):  # a second bench on the same folder is refused, not run beside this one
        err.print(f"evosld bench: {len(spec.tasks)} task(s) x {len(spec.seeds)} seed(s), {where} -> {spec.output}",
                  highlight=False)
        stop = StopRequest()
        board, outcomes = run_bench(spec, report=lambda line: err.print(f"  {line}", highlight=False), stop=stop)
    for row in board.tasks:
        mean, best = row["mean_test_r2_clipped"], row["best_test_r2"]
        print(f"{row['task']:<30} runs {row['runs']}/{row['seeds']}  mean test R² "
              f"{'—' if mean is None else f'{mean:.3f}'}  best {'—' if best is None else f'{best:.3f}'}")
    print(f"leaderboard: {spec.output / 'leaderboard.md'} and {spec.output / 'leaderboard.json'}")
    if stop.requested:
        print(f"interrupted by {signal_name(stop.signum or 0)}: the leaderboard holds the runs that finished; "
              "rerun the same command to resume the others", file=sys.stderr)
        return stop.exit_code
    failed = [o for o in outcomes if o.returncode != 0]
    if failed:
        print(f"{len(failed)} run(s) failed; see their bench.log", file=sys.stderr)
        return 1
    return 0


def add_bench_parser(sub: Any) -> None:
    """Register ``evosld bench`` on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("bench", help="run discoveries over tasks and seeds and write a leaderboard",
                       description="One `evosld discover` per task and seed in OUTPUT/<task>/seed<k>; finished "
                                   "runs are skipped and unfinished ones resumed, then leaderboard.md and "
                                   "leaderboard.json are written from the run stores.")
    p.add_argument("--tasks", default="all", help="'all' or comma-separated built-in task names (default: all)")
    p.add_argument("--seeds", default="1", help="number of seeds K (seeds 0..K-1), or a list such as 1,4,7 (default: 1)")
    p.add_argument("--iterations", type=int, help="proposals per run")
    p.add_argument("--budget-seconds", dest="budget_seconds", type=float, help="wall-clock budget per run")
    p.add_argument("--llm", action="append", metavar="MODEL", help="model name (repeat for an ensemble); default: offline")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel (default 1; with --dask-local, its workers)")
    dask = p.add_mutually_exclusive_group()
    dask.add_argument("--dask-scheduler", dest="dask_scheduler", metavar="ADDRESS",
                      help="run each discovery as a task on this Dask scheduler (tcp://host:8786); its workers must "
                           "see OUTPUT and the data at the same paths")
    dask.add_argument("--dask-local", dest="dask_local", action="store_true",
                      help="run each discovery as a task on a local Dask cluster of --jobs workers")
    p.add_argument("--output", default="bench", help="bench directory (default: ./bench)")
    p.add_argument("--data-dir", help="directory with one folder per task holding train.csv/test.csv "
                                      "(default: $EVOSLD_DATA, else the Hugging Face Hub)")
    p.set_defaults(func=cmd_bench)
