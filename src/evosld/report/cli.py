"""The ``evosld report`` subcommand (``evosld bench`` is in ``evosld.bench.cli``).

``evosld.cli.build_parser`` registers it with ``add_report_parser(sub)``.

Each handler returns an exit code; user mistakes raise ``EvosldError``
subclasses, which the main CLI prints as one line.
"""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import Any

from evosld.errors import OutputError
from evosld.run.outputs import STORE_FILE
from evosld.run.runlock import LOCK_FILE, RunLock, RunLocked


def cmd_report(args: argparse.Namespace) -> int:
    """Write ``report.html`` (and the figures) into a run directory.

    The run's lock is held while the report is written: a run still in
    progress (it writes its own report when it ends) or a second ``evosld
    report`` on the same run is refused rather than written over.
    """
    from evosld.report import write_report

    run_dir = Path(args.run_dir)
    try:
        with _held(run_dir):
            path = write_report(run_dir, data_dir=args.data_dir, x_feature=args.x)
    except OutputError as exc:  # the message written for a run names --output, which report does not take
        raise OutputError(f"{str(exc).split('; ')[0]}; fix that (free some space, or the folder's permissions), "
                          f"then run `evosld report {run_dir}` again (the run itself is unchanged)") from None
    print(f"report written: {path}")
    return 0


def _held(run_dir: Path) -> contextlib.AbstractContextManager[Any]:
    """The run's lock for the report (``RunLocked``, worded for a report, when another process holds it); no lock
    for a folder that is not a run (a bench's), or a shared run whose lock file this user may not open."""
    if not ((run_dir / LOCK_FILE).is_file() and (run_dir / STORE_FILE).is_file()):
        return contextlib.nullcontext()
    try:
        return RunLock.acquire(run_dir)
    except RunLocked as exc:
        what = ("is writing its report; wait for it" if "evosld report" in exc.holder else
                "writes its own report when it ends, or run `evosld report` again once it has")
        raise RunLocked(f"{run_dir} is in use by {exc.holder}; it {what}", exc.holder) from None
    except OutputError:
        return contextlib.nullcontext()


def add_report_parser(sub: Any) -> None:
    """Register ``evosld report RUN_DIR [--data-dir D] [--x FEATURE]`` on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("report", help="write a self-contained HTML report (and PNG figures) for a run",
                       description="Refit the run's best law and the task's human law in the sandbox and write "
                                   "RUN_DIR/report.html plus its figures as PNG files.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `evosld discover`")
    p.add_argument("--data-dir", help="directory with one folder per task holding train.csv/test.csv "
                                      "(default: $EVOSLD_DATA, else the Hugging Face Hub)")
    p.add_argument("--x", metavar="FEATURE", help="feature on the extrapolation plot's x axis "
                                                  "(default: the log-scale feature with the most distinct values)")
    p.set_defaults(func=cmd_report)
