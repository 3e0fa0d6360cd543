"""The ``evosld predict`` subcommand: what a run's law says at inputs nobody ran.

``evosld.cli.build_parser`` registers it with ``add_predict_parser(sub)``. User
mistakes raise ``EvosldError`` subclasses, which the main CLI prints as one line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evosld.errors import DataError, OutputError

#: Suffix of a predicted target's column in ``--output`` (``loss_predicted``).
PREDICTED = "_predicted"
#: Suffixes of the lowest and highest prediction over refits on fewer runs (``predict.law.refit_range``).
REFIT_LOW, REFIT_HIGH = "_refit_low", "_refit_high"
#: Column of ``--output`` (and key of ``--json``) saying how far a row lies outside the train runs.
OUTSIDE = "outside_train"
#: Keys of a ``--json`` record beside the features (``group`` only when the law has several).
RECORD_FIELDS = ("group", "predicted", "refit_range", OUTSIDE)


def cmd_predict(args: argparse.Namespace) -> int:
    """Fit the run's law on its train rows and print (or write) its predictions at the inputs given."""
    from evosld.evaluation import Sandbox
    from evosld.predict.inputs import checked_inputs, group_keys, parse_at, read_inputs
    from evosld.predict.law import outside_train, predict_law, refit_range
    from evosld.run.rundir import run_law
    from evosld.run.summary import check_same_table, check_table_present
    from evosld.tasks.taskfile import task_from_spec

    if args.at and args.inputs:
        raise DataError("give the inputs to predict either as --at points or as an --inputs table, not both")
    if not args.at and not args.inputs:
        raise DataError("give the inputs to predict: --at \"N=7e10, D=1.4e12\" (repeat for more points) or "
                        "--inputs FILE (a table with the law's feature columns)")
    if not Path(args.run_dir).is_dir():
        raise DataError(f"{args.run_dir} is not a directory; give a run directory written by `evosld discover`")
    law = run_law(args.run_dir, args.law)
    if args.law is None and (note := law.unfinished_warning(args.run_dir)):
        warnings.warn(note, stacklevel=1)
    check_table_present(law.task_spec, args.run_dir)
    task = task_from_spec(law.task_spec, args.data_dir)
    check_same_table(task, law.started_on, args.run_dir)
    features = list(task.features)
    group_column = (law.task_spec.get("csv") or {}).get("group")
    df = (checked_inputs(parse_at(args.at, features), task, "--at") if args.at
          else read_inputs(args.inputs, task, group_column))
    keys = group_keys(task, df, args.group, group_column, table=not args.at)
    X = df[features].to_numpy(dtype=float)
    sandbox = Sandbox()
    pred = np.asarray(predict_law(task, law.source, X, keys, sandbox)).reshape(len(df), -1)
    lo, hi = refit_range(task, law.source, X, keys, sandbox, full=pred)
    outside = outside_train(task, X, keys)
    out = df.copy()
    columns = added_names([*(t + s for t in task.targets for s in (PREDICTED, REFIT_LOW, REFIT_HIGH)), OUTSIDE],
                          df.columns)
    for j, t in enumerate(task.targets):
        out[columns[t + PREDICTED]] = pred[:, j]
        out[columns[t + REFIT_LOW]], out[columns[t + REFIT_HIGH]] = lo[:, j], hi[:, j]
    out[columns[OUTSIDE]] = outside
    if args.output and (note := _renamed(columns, "--output", "column")):
        warnings.warn(note, stacklevel=1)
    if args.json:
        fields = added_names(list(RECORD_FIELDS), task.features)
        if note := _renamed(fields, "--json", "feature"):
            warnings.warn(note, stacklevel=1)
        print(json.dumps(_records(task, df, keys, pred, (lo, hi), outside, fields), indent=2))
    else:
        _print(task, law.program_id, args.run_dir, df, keys, pred, (lo, hi), outside)
    if args.output:  # after printing: a file that cannot be written loses nothing the user was shown
        _write(out, Path(args.output))
        if not args.json:
            print(f"written: {args.output}")
    return 0


def added_names(wanted: list[str], inputs: Iterable[Any]) -> dict[str, str]:
    """The name each of ``wanted`` (columns or keys predict adds) takes beside the ``inputs``' own names: itself
    when free, else itself with the first free number (``loss_predicted_2``), so no input is replaced."""
    taken = {str(c) for c in inputs}
    names: dict[str, str] = {}
    for name in wanted:
        free, n = name, 2
        while free in taken:
            free, n = f"{name}_{n}", n + 1
        names[name] = free
        taken.add(free)
    return names


def _renamed(names: dict[str, str], option: str, what: str) -> str:
    """One line saying which added names (``added_names``) were changed, "" when none was."""
    moved = [(a, b) for a, b in names.items() if a != b]
    if not moved:
        return ""
    several = len(moved) > 1
    return (f"{option}: the inputs have {what + 's' if several else 'a ' + what} named {', '.join(repr(a) for a, _ in moved)} "
            f"too, so evosld's {'are' if several else 'is'} named {', '.join(repr(b) for _, b in moved)}")


def _value(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _records(task, df: pd.DataFrame, keys: np.ndarray, pred: np.ndarray, refits: tuple[np.ndarray, np.ndarray],
             outside: list[str], fields: dict[str, str]) -> list[dict[str, Any]]:
    """One JSON record per input: its features, then ``RECORD_FIELDS`` under the names ``fields`` gives them
    (``added_names``: a feature named ``predicted`` keeps its key)."""
    lo, hi = refits
    recs = []
    for i in range(len(df)):
        rec: dict[str, Any] = {f: float(df[f].iloc[i]) for f in task.features}
        if len(task.groups) > 1:
            rec[fields["group"]] = str(keys[i])
        rec[fields["predicted"]] = {t: _value(v) for t, v in zip(task.targets, pred[i])}
        rec[fields["refit_range"]] = {t: [_value(a), _value(b)] for t, a, b in zip(task.targets, lo[i], hi[i])}
        rec[fields[OUTSIDE]] = outside[i]
        recs.append(rec)
    return recs


def _print(task, program_id: int, run_dir: str, df: pd.DataFrame, keys: np.ndarray, pred: np.ndarray,
           refits: tuple[np.ndarray, np.ndarray], outside: list[str]) -> None:
    from rich.table import Table

    from evosld.cli import console

    table = Table(title=f"law {program_id} of {run_dir}, fitted on its {len(task.train)} train runs")
    several = len(task.groups) > 1
    lo, hi = refits
    heads = [*(["group"] if several else []), *task.features,
             *(h for t in task.targets for h in (f"{t} (predicted)", refits_head(t, len(task.targets)))),
             "outside the train runs"]
    for h in heads:
        table.add_column(h, justify="left" if h in ("group", "outside the train runs") else "right")
    for i in range(len(df)):
        cells = [*([str(keys[i])] if several else []), *(f"{df[f].iloc[i]:.4g}" for f in task.features),
                 *(c for j, v in enumerate(pred[i]) for c in (_cell(v), _span(lo[i, j], hi[i, j]))),
                 outside[i] or "inside"]
        table.add_row(*cells)
    console.print(table)
    console.print("refit on fewer runs: the lowest and highest prediction of the same law fitted on all train "
                  "runs, without the validation runs, and without each band below them (the checks of its pick): "
                  "how far the runs nearest the prediction hold it in place; no confidence interval (the runs' own "
                  "scatter is not in it)")
    if any(outside):
        console.print("×k: k times the largest (or smallest) value the law was fitted on, in the input's group; "
                      "the further out, the less the runs vouch for the prediction (best.json: selection says how "
                      "the law extrapolated in its checks)")


def refits_head(target: str, n_targets: int) -> str:
    """The column of a target's refit range: named by the target when the law has several."""
    return "refit on fewer runs" if n_targets == 1 else f"{target}: refit on fewer runs"


def _cell(v: float) -> str:
    return "not finite" if math.isnan(v) else f"{v:.5g}"


def _span(lo: float, hi: float) -> str:
    return "none" if math.isnan(lo) else f"{lo:.5g} to {hi:.5g}"


def _write(out: pd.DataFrame, path: Path) -> None:
    """Write ``out`` as CSV through a temporary file beside ``path``, so a full disk leaves no half-written table.

    Raises:
        OutputError: the file or its directory cannot be written (one line saying so).
    """
    tmp = path.with_name(f".{path.name}.tmp")
    shown = "the predictions are printed above; choose another --output"
    if any(p.exists() and not p.is_dir() for p in path.parents):
        raise OutputError(f"cannot write {path}: {next(p for p in path.parents if p.exists() and not p.is_dir())} "
                          f"is a file, not a folder; {shown}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        out.to_csv(tmp, index=False)
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}; {shown}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def add_predict_parser(sub: Any) -> None:
    """Register ``evosld predict RUN_DIR (--at ... | --inputs FILE)`` on ``sub`` (argparse subparsers)."""
    p = sub.add_parser("predict", help="predict with a run's law at new inputs (e.g. a larger model)",
                       description="Fit the run's law on its train runs, per group, and predict the inputs given: "
                                   "the loss of a model nobody has trained yet.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `evosld discover`")
    p.add_argument("--at", action="append", metavar="POINT",
                   help="one input as NAME=VALUE pairs, e.g. \"N=7e10, D=1.4e12\" (70B and 1.4T work too); "
                        "repeat for more points")
    p.add_argument("--inputs", metavar="FILE", help="a table (CSV) with the law's feature columns, one row per input")
    p.add_argument("--group", help="the group the --at points belong to, when the law has several "
                                   "(a table gives its own group column)")
    p.add_argument("--law", type=int, metavar="ID", help="the law with this program id (as best.json names them; "
                                                         "default: the run's chosen law)")
    p.add_argument("--output", metavar="FILE", help="also write the inputs and predictions as CSV")
    p.add_argument("--data-dir", help="for a run on a built-in task: directory with one folder per task holding "
                                      "train.csv/test.csv (default: $EVOSLD_DATA, else the Hugging Face Hub)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_predict)
