"""The ``evosld`` command line: tasks | eval | baselines (discover, report, bench follow)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import re
import shlex
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from evosld.errors import ConfigError, EvosldError
from evosld.signals import Aborted, exit_code_for, stop_line
from evosld.tasks.tables import split_names

if TYPE_CHECKING:
    from evosld.search.selection import Selection

# Tables keep their full width when piped to a file (rich would fold them to 80 columns).
console = Console() if sys.stdout.isatty() else Console(width=160)
# Messages to stderr are one line each when it is not a terminal (a log file, a pipe): no folding at 80 columns.
err_console = Console(stderr=True) if sys.stderr.isatty() else Console(stderr=True, soft_wrap=True)


# ---------------------------------------------------------------------------
# data options shared by every command that needs a task
def add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="directory with one folder per task holding train.csv/test.csv (default: $EVOSLD_DATA, else the Hugging Face Hub)")


def add_table_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("your own data (instead of a built-in task)")
    g.add_argument("--csv", help="a CSV file with one row per run")
    g.add_argument("--features", help="comma-separated feature columns, in the order the law receives them")
    g.add_argument("--target", "--targets", dest="target", help="target column (comma-separated for several outputs)")
    g.add_argument("--group-by", "--group", dest="group_by", help="column whose values are fitted separately (e.g. model)")
    g.add_argument("--test", help="rows held out as test, e.g. \"N >= 1e9\" (default: largest value of the first feature)")
    g.add_argument("--val", help="rows of train held out for selection (default: derived from --test: the train "
                   "rows next in line towards the test region)")
    g.add_argument("--baseline", help="reference law shown beside the found one: auto (default: the Chinchilla form "
                   "when the features look like model size and data, the data mixing law when they are a mixture's "
                   "shares), chinchilla, chinchilla:N_COL,D_COL, mixing or none; without either the plain power law "
                   "the search starts from is shown")
    g.add_argument("--scale-tolerance", dest="scale_tolerance", type=float,
                   help="values closer than this relative difference count as one scale (default 1e-3)")
    g.add_argument("--linear-features", dest="linear_features", metavar="A,B",
                   help="features kept on a linear scale (e.g. a column with zeros); by default a positive "
                   "feature spanning 10x or more, or on a geometric grid such as 1, 2, 4, 8, is treated on a log scale")
    g.add_argument("--log-features", dest="log_features", metavar="A,B",
                   help="positive features put on a log scale besides the ones guessed (e.g. a loss of 2.2 to 5 "
                   "that a batch size follows as a power law)")
    g.add_argument("--target-range", dest="target_range", metavar="LO,HI",
                   help="the range every target can take (e.g. 0,1 for an accuracy; either side may be empty: 0, "
                   "or ,1; a negative LO as --target-range=-1,0): rows outside it are an error, and laws that "
                   "leave it one step beyond the data are passed over. Default: 0,1 when every train target "
                   "lies in it (a fraction), else none; none: no range")
    g.add_argument("--name", help="a name for the law / task")
    g.add_argument("--description", help="what the runs are (goes into LLM prompts and the report)")
    g.add_argument("--max-params", dest="max_params", type=int, help="parameter limit for the law")


def option_names(names: list[str]) -> str:
    """``names`` as one comma-separated option value that ``split_names`` reads back (``tables.joined_names``: a
    name with a comma or a double quote in double quotes, its quotes doubled), quoted for the shell when it needs it."""
    import shlex

    from evosld.tasks.tables import joined_names

    return shlex.quote(joined_names(names))


#: What says which task and table a run is on (``task_spec_from_args``): fixed once a run has started.
_TASK_OPTIONS = ("task", "csv", "features", "target", "group_by", "test", "val", "log_features", "linear_features",
                 "target_range", "scale_tolerance", "baseline")


def task_spec_from_args(args: argparse.Namespace, name: str | None) -> dict:
    """How to build the task the user asked for (stored in the run for resume)."""
    from evosld.errors import DataError
    from evosld.run.plan import task_spec_for

    csv = getattr(args, "csv", None)
    if getattr(args, "scale_tolerance", None) is not None:  # named as typed, not as the loader's argument
        from evosld.tasks.scales import check_tolerance

        check_tolerance(args.scale_tolerance, "--scale-tolerance")
    if csv:
        if name:
            raise DataError(f"give either a task ({name}) or --csv, not both")
        if not args.features or not args.target:
            raise DataError("--csv needs --features (e.g. N,D) and --target (e.g. loss)")
        if args.max_params is not None and args.max_params < 1:  # evosld tasks / eval set no config to check it
            raise ConfigError(f"--max-params must be at least 1 (got {args.max_params})")
        given = dict(_table_overrides(args).values())  # read as they are beside a task file
        return {"csv": {
            "path": str(Path(csv).resolve()), "features": given["features"], "target": given["target"],
            "group": given.get("group"), "test": given.get("test"), "val": given.get("val"),
            "name": given.get("name", Path(csv).stem), "description": given.get("description", ""),
            "max_params": args.max_params, "scale_tolerance": given.get("scale_tolerance"),
            "baseline": given.get("baseline"), "log_features": given.get("log_features"),
            "linear_features": given.get("linear_features"),
            "target_range": given.get("target_range"),
        }}
    if not name:
        raise DataError("name a task (see `evosld tasks`), a task file (.yaml), or give --csv with --features and --target")
    return with_table_options(task_spec_for(name, getattr(args, "data_dir", None)), args)


def with_table_options(spec: dict, args: argparse.Namespace) -> dict:
    """``spec`` (a task file's or a run's) with the table options given on the command line in place of its
    own keys, as ``--csv`` takes them; a built-in task's table and split are fixed, so there they are an error."""
    from evosld.errors import DataError

    given = _table_overrides(args)
    if not given:
        return spec
    if "csv" not in spec:
        options, name = ", ".join(given), spec.get("name", "?")
        raise DataError(f"{options} {'is' if len(given) == 1 else 'are'} for your own data (--csv or a task "
                        f"file); the built-in task {name} has its own table and split (`evosld tasks {name}` "
                        f"shows them): drop {options}, or give the table with --csv")
    return {"csv": {**spec["csv"], **dict(given.values())}}


def _one_or_list(names: list[str]) -> str | list[str]:
    """A target option's names as a task spec holds them: one name, or the list of several."""
    return names[0] if len(names) == 1 else names


#: Table options a task file has a key for: option attribute -> (task-file key, how the value is read).
_OVERRIDABLE: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "features": ("features", split_names), "target": ("target", lambda t: _one_or_list(split_names(t))),
    "group_by": ("group", str), "test": ("test", str), "val": ("val", str),
    "log_features": ("log_features", split_names), "linear_features": ("linear_features", split_names),
    "scale_tolerance": ("scale_tolerance", float),
    "baseline": ("baseline", str), "name": ("name", str), "description": ("description", str),
}


def _table_overrides(args: argparse.Namespace) -> dict[str, tuple[str, Any]]:
    """The table options given beside a named task: ``--option`` -> (task-file key, value), in option order."""
    out: dict[str, tuple[str, Any]] = {}
    for attr, (key, read) in _OVERRIDABLE.items():
        value = getattr(args, attr, None)
        if value not in (None, ""):
            out[f"--{attr.replace('_', '-')}"] = (key, read(value))
    bounds = _target_range(args)
    if bounds is not None:
        out["--target-range"] = ("target_range", bounds)
    return out


def _target_range(args: argparse.Namespace) -> list[float | None] | str | None:
    """``--target-range`` as ``[lo, hi]`` (None for an open side), ``"none"`` for no range, or None when not given."""
    from evosld.tasks.targetrange import NO_RANGE, parse_target_range

    value = getattr(args, "target_range", None)
    if value is None:
        return None
    bounds = parse_target_range(value, "--target-range")
    return NO_RANGE if bounds is None else list(bounds)


def load_task_from_args(args: argparse.Namespace, name: str | None):
    from evosld.tasks.taskfile import task_from_spec

    return task_from_spec(task_spec_from_args(args, name), getattr(args, "data_dir", None))


# ---------------------------------------------------------------------------
def split_lines(task) -> list[str]:
    """How a task is split, in words: the rules, how validation was chosen, rows per group."""
    counts = task.split_counts()
    lines = [f"test: {task.test_rule or '?'}",
             f"validation: {task.val_rule}" + (f" ({task.val_how})" if task.val_how else "")]
    shown = list(counts.items())[:6]
    per = ", ".join(f"{g} {c['fit']}/{c['val']}/{c['test']}" for g, c in shown)
    more = f", ... ({len(counts)} groups)" if len(counts) > len(shown) else ""
    lines.append(f"rows fit/val/test: {int((~task.val_mask).sum())}/{int(task.val_mask.sum())}/{len(task.test)}"
                 + (f" (per group: {per}{more})" if len(counts) > 1 else ""))
    fit_rows, searched = int((~task.val_mask).sum()), task.search_fit_rows()
    if searched < fit_rows:
        lines.append(f"search fits: {searched:,} of the {fit_rows:,} fit rows, an even share of each group's (a table "
                     "this dense takes seconds per fit); the test score and the returned law fit on all train rows")
    if task.max_params_how:
        lines.append(f"parameter limit: {task.max_params} ({task.max_params_how})")
    from evosld.tasks import task_names

    mine = task.name not in task_names()  # a built-in task's scales are fixed with its table
    hint = ""
    if mine:
        import pandas as pd

        rows = pd.concat([task.train, task.test])
        positive = [f for f in task.features if f not in task.log_features and bool((rows[f] > 0).all())]
        hint = (f" (kept linear though positive: {', '.join(positive)}; --log-features {option_names(positive)} "
                f"fits powers of {'them' if len(positive) > 1 else 'it'})" if positive
                else " (--log-features / --linear-features to change)")
    lines.append(f"log scale: {', '.join(task.log_features) or 'no feature'}{hint}")
    from evosld.tasks.baselines import comparison_law

    lines.append(f"shown beside the pick: {comparison_law(task)[0]}" + (" (--baseline to change)" if mine else ""))
    if task.target_range is not None:
        from evosld.tasks.targetrange import describe

        assumed = (f"assumed: every train value of {', '.join(task.targets)} lies in it, as a fraction's would; "
                   "--target-range none to fit without it; " if task.target_range_how else "")
        lines.append(f"target range: {describe(task.target_range)} ({assumed}laws that leave it one step beyond "
                     "the data are passed over)")
    folds = task.inner_folds()
    if folds:
        lines.append("inner folds for the final pick: " + "; ".join(
            f"{f.name} fits {len(task.frames(f.name)[0])} rows, scores {int(f.scored.sum())}" for f in folds))
    elif task.inner_folds(min_fit_rows=3, min_levels_along=1):
        from evosld.tasks.folds import MIN_FIT_LEVELS_ALONG

        least = task.fold_min_fit_rows
        where = " of a group" if len(task.groups) > 1 else ""
        per = " per output" if len(task.targets) > 1 else ""
        why = []
        if least > 3 and task.inner_folds(min_fit_rows=3):
            why.append(f"would fit on fewer than {least} distinct runs{where}, and a law at the limit of {least - 1} "
                       f"parameters{per} passes through {least - 1} exactly")
        if task.inner_folds(min_levels_along=1):
            why.append(f"would fit on fewer than {MIN_FIT_LEVELS_ALONG} values of a feature it predicts beyond"
                       f"{where}, and a coefficient and an exponent pass through two exactly")
        because = " and ".join(why) or (f"would fit on too few runs or on fewer than {MIN_FIT_LEVELS_ALONG} values "
                                         "of a feature it predicts beyond")
        lines.append(f"inner folds for the final pick: none, so validation alone picks (a fold below it {because})")
    return lines


def cmd_tasks(args: argparse.Namespace) -> int:
    from evosld.tasks import load_task, task_names

    if args.task or getattr(args, "csv", None):
        task = load_task_from_args(args, args.task)
        if args.json:
            print(json.dumps(task.summary(), indent=2))
            return 0
        console.print(f"[bold]{task.name}[/bold]: features {', '.join(task.features)}; target(s) "
                      f"{', '.join(task.targets)}; {len(task.groups)} group(s)")
        for line in split_lines(task):
            console.print("  " + line)
        return 0
    rows = [load_task(n, data_dir=args.data_dir).summary() for n in task_names()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="Built-in tasks (SLDBench)")
    for col in ("task", "features", "targets", "groups", "fit/val/test rows", "max params"):
        table.add_column(col)
    for r in rows:
        feats = "\n".join(f"{f} [{r['ranges'][f][0]:.3g}, {r['ranges'][f][1]:.3g}]" for f in r["features"])
        targs = "\n".join(f"{t} [{r['ranges'][t][0]:.3g}, {r['ranges'][t][1]:.3g}]" for t in r["targets"])
        n = r["rows"]
        table.add_row(r["name"], feats, targs, str(r["groups"]), f"{n['fit']}/{n['val']}/{n['test']}", str(r["max_params"]))
    console.print(table)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from evosld.evaluation import Evaluator
    from evosld.program import Program

    if Path(args.program).is_dir():  # a run directory: its chosen law, on its own task unless one is given
        from evosld.errors import DataError
        from evosld.run.rundir import run_law
        from evosld.run.summary import check_same_table, check_table_present
        from evosld.tasks.taskfile import task_from_spec

        law = run_law(args.program, args.law)
        if args.law is None and (note := law.unfinished_warning(args.program)):
            warnings.warn(note, stacklevel=1)
        program = Program(law.source)
        given = args.task or getattr(args, "csv", None)
        if not given:
            check_table_present(law.task_spec, args.program)
        spec = with_table_options(law.task_spec, args)
        task = load_task_from_args(args, args.task) if given else task_from_spec(spec, args.data_dir)
        if not given and spec == law.task_spec:  # on another table or split on purpose, it is scored there
            check_same_table(task, law.started_on, args.program)
        own = _spec_features(law.task_spec)
        if given and own is not None and len(own) != len(task.features):
            raise DataError(f"{args.program}'s law takes {len(own)} feature(s) ({', '.join(own)}), and {task.name} "
                            f"gives {len(task.features)} ({', '.join(task.features)}): evaluate it on a task with "
                            "the same features, in the same order")
    else:
        if args.law is not None:
            raise ConfigError(f"--law picks a law of a run: {args.program} is not a run directory")
        program = Program.from_file(args.program)
        task = load_task_from_args(args, args.task)
    ev = Evaluator(task).evaluate(program, split=args.split)
    record = {"program": args.program, "task": task.name, **ev.metrics(), "params": ev.params}
    if args.json:
        print(json.dumps(record, indent=2, default=float))
        return 0 if ev.ok else 1
    if not ev.ok:
        err_console.print(f"[red]failed[/red] ({ev.error_kind}): {ev.message}")
        return 1
    table = Table(title=f"{args.program} on {task.name} ({args.split})")
    for col in ("R²", "R² (clipped)", "NMSE", "NMAE", "fit s", "total s"):
        table.add_column(col, justify="right")
    s = ev.scores
    table.add_row(f"{s.r2:.4f}", f"{s.r2_clipped:.4f}", f"{s.nmse:.4f}", f"{s.nmae:.4f}", f"{ev.fit_seconds:.2f}", f"{ev.duration:.2f}")
    console.print(table)
    return 0


def _spec_features(spec: dict) -> tuple[str, ...] | None:
    """The features of the task a run's stored spec names (a table's, or a built-in task's); None if unknown."""
    from evosld.tasks.builtin import BUILTIN

    if isinstance(spec.get("csv"), dict) and spec["csv"].get("features"):
        feats = spec["csv"]["features"]
        return tuple(split_names(feats) if isinstance(feats, str) else feats)
    named = BUILTIN.get(str(spec.get("name")))
    return named.features if named is not None else None


def baseline_rows(args: argparse.Namespace) -> list[dict]:
    from evosld.bench.leaderboard import PUBLISHED
    from evosld.evaluation import Evaluator, Sandbox
    from evosld.evaluation.reference import refit_law
    from evosld.tasks import task_names
    from evosld.tasks.baselines import baseline_source

    sandbox = Sandbox()
    rows = []
    for name in task_names():
        fit = refit_law(Evaluator(load_task_from_args(args, name), sandbox), name, baseline_source(name))
        rows.append({"task": name, **fit.scores(), "published_human_r2": PUBLISHED[name]["human"],
                     "seconds": fit.seconds})
    return rows


def cmd_baselines(args: argparse.Namespace) -> int:
    rows = baseline_rows(args)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="Reference human laws, refit on train")
    for col in ("task", "val R²", "test R²", "test R² (clipped)", "test NMSE", "test NMAE", "leaderboard R²",
                "seconds"):
        table.add_column(col, justify="right" if col != "task" else "left")
    for r in rows:
        table.add_row(r["task"], f"{r['val_r2']:.4f}", f"{r['test_r2']:.4f}", f"{r['test_r2_clipped']:.4f}",
                      f"{r['test_nmse']:.4f}",
                      f"{r['test_nmae']:.4f}", f"{r['published_human_r2']:.3f}", f"{r['seconds']:.1f}")
    console.print(table)
    return 0


#: The option of ``evosld discover`` behind each config key it sets, to name in an error.
CONFIG_OPTIONS = {
    "max_iterations": "--iterations", "budget_seconds": "--budget-seconds", "random_seed": "--seed",
    "max_cost": "--max-cost", "max_params": "--max-params", "proposer": "--proposer",
    "evaluator.parallel_evaluations": "--workers", "evaluator.timeout": "--timeout",
    "evaluator.dask_scheduler": "--dask-scheduler", "llm.models": "--llm", "llm.api_base": "--api-base",
}


def plan_from_args(args: argparse.Namespace):
    """The run ``evosld discover`` asked for (``plan.plan_run``, as ``evosld.discover`` does)."""
    from evosld.errors import DataError
    from evosld.run.plan import plan_run

    overrides = {
        "max_iterations": args.iterations,
        "budget_seconds": args.budget_seconds,
        "random_seed": args.seed,
        "max_cost": args.max_cost,
        "max_params": args.max_params,
        "diff_based_evolution": True if args.diff else None,
        "seed_with_human_law": True if args.seed_human else None,
        "evaluator.parallel_evaluations": args.workers,
        "evaluator.timeout": args.timeout,
        "evaluator.dask_scheduler": args.dask_scheduler,
        "evaluator.dask_local_cluster": True if args.dask_local else None,
    }
    if args.proposer:
        overrides["proposer"] = args.proposer
    if args.llm or args.api_base:
        llm: dict = {}
        if args.llm:
            llm["models"] = [{"name": m} for m in args.llm]
        if args.api_base:
            llm["api_base"] = args.api_base
        overrides["llm"] = llm
    if args.resume:
        given = [f"--{o.replace('_', '-')}" if o != "task" else "a task" for o in _TASK_OPTIONS
                 if getattr(args, o, None) not in (None, "", [])]
        if given:
            raise DataError(f"--resume continues the run in {args.resume} on the task it started with; "
                            f"drop {', '.join(given)} (for other data or another task, start a new run with "
                            "another --output)")
    spec = None if args.resume else task_spec_from_args(args, args.task)
    return plan_run(spec, overrides, config_file=args.config, output=args.output, resume=args.resume,
                    data_dir=args.data_dir, options={**CONFIG_OPTIONS, "output": "--output", "resume": "--resume"})


def cmd_discover(args: argparse.Namespace) -> int:
    from evosld.progress import RichProgress
    from evosld.run.runner import run_discovery
    from evosld.run.summary import n_params_of
    from evosld.search.status import STOP_REASONS

    plan = plan_from_args(args)
    task, config, run_dir, spec = plan.task, plan.config, plan.run_dir, plan.task_spec
    if plan.budget_spent:
        err_console.print(f"[yellow]note:[/yellow] this run has searched {plan.searched_seconds:.0f} s already, its "
                          f"whole budget of {config.budget_seconds:.0f} s (--budget-seconds counts the whole run); "
                          "give a larger --budget-seconds to search longer", highlight=False)
    for note in plan.notes:
        err_console.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    for key in plan.ignored:
        err_console.print(f"[yellow]note:[/yellow] config key {key} is an OpenEvolve setting evosld does not use; ignored")
    mode = "LLM " + ", ".join(m.name for m in _llm_settings(config).models) if config.uses_llm() \
        else "offline symbolic search"
    if not args.quiet:
        limit = f"{config.budget_seconds:.0f} s budget" if config.budget_seconds else f"{config.max_iterations} iterations"
        doing = f"resuming {task.name} ({plan.searched_seconds:.0f} s searched already)" if plan.resume else task.name
        err_console.print(f"evosld: {doing} with {mode}, {limit}, seed {config.random_seed} -> {run_dir}")
        for line in split_lines(task):
            err_console.print(f"  {line}", highlight=False)
    if args.quiet:
        outcome = run_discovery(task, config, run_dir, resume=bool(args.resume), task_spec=spec)
    else:
        with RichProgress(err_console, config.budget_seconds, config.iteration_bound) as progress:
            outcome = run_discovery(task, config, run_dir, resume=bool(args.resume), task_spec=spec, progress=progress)
    if outcome.best_id is None:
        print(f"no program evaluated successfully; see {run_dir / 'evosld.log'}")
        _failures_line(outcome)
        if outcome.failures is not None and (common := outcome.failures.common_line()):
            print(f"  {common}")
        failed = _diagnosis(outcome, config, task)
        return _interrupted_line(outcome, run_dir) or failed or 1
    meta = outcome.meta or {}
    print(f"best law (program {outcome.best_id}{_origin_note(meta, outcome.selection)}): {meta.get('formula') or '(see best_program.py)'}")
    n = n_params_of(meta)
    print(f"  parameters: {n if n is not None else '?'}" + (f" (limit {task.max_params})" if task.max_params else ""))
    print(f"  validation R² {outcome.val.get('r2', float('nan')):.4f}   test R² {outcome.test.get('r2', float('nan')):.4f}")
    _bounds_line(outcome)
    _scatter_line(outcome, task)
    sel = outcome.selection
    for line in selection_lines(sel, outcome.run_dir):
        print(line)
    if sel is not None and sel.limit is not None:
        away = [c for c in sel.candidates if c.beyond is not None and c.beyond > sel.limit]
        if away:
            ids = ", ".join(str(c.program_id) for c in away[:5]) + (" …" if len(away) > 5 else "")
            declared = ""
            if task.target_range is not None:
                from evosld.tasks.targetrange import describe

                said = "assumed" if task.target_range_how else "declared"
                declared = f", or leave the {said} range {describe(task.target_range)}"
            print(f"  passed over {len(away)} law(s) close on validation that run away one step beyond the data "
                  f"(program {ids}: predictions leave the train target range by more than {sel.limit:g} span"
                  f"{declared})")
    _finishing_line(outcome, run_dir)
    ref = outcome.reference
    if ref and meta.get("origin") != "comparison law":
        def fmt(split: dict | None) -> str:
            r2, error = (split or {}).get("r2"), (split or {}).get("error") or ""
            return f"{r2:.4f}" if isinstance(r2, (int, float)) else ("not scored" if "not scored" in error
                                                                       else "failed")

        print(f"  beside it, {ref['name']}: validation R² {fmt(ref.get('val'))}   test R² {fmt(ref.get('test'))}")
    why = outcome.status.stopped
    print(f"  stopped: {why} ({STOP_REASONS.get(why, 'unknown')}); outputs in {run_dir}")
    if outcome.status.crash:
        print(f"  the proposer's last error: {outcome.status.crash}")
    print(f"  ask the law about new runs: {predict_hint(task, run_dir)}")
    _failures_line(outcome)
    failed = _diagnosis(outcome, config, task)
    return _interrupted_line(outcome, run_dir) or failed


def predict_hint(task, run_dir: Path) -> str:
    """The ``evosld predict`` command for this run, at the held-out run furthest out (a group named when the law
    has several)."""
    from evosld.predict.inputs import example_point

    point, group = example_point(task)
    named = f" --group {shlex.quote(group)}" if len(task.groups) > 1 else ""
    return f"evosld predict {shlex.quote(str(run_dir))} --at {shlex.quote(point)}{named}"


def _origin_note(meta: dict, sel: Selection | None = None) -> str:
    """What the best-law line adds about where the law came from: the comparison law or the starter kept,
    or a law's fit-scale twin (``run.twins``); empty for a proposal. ``sel`` (the run's ``Selection``): a law
    the prior check or the information criterion put in place of the search's pick is said to be kept over it."""
    from evosld.proposers.symbolic.emit import TWIN_ORIGIN

    origin = meta.get("origin")
    info = (sel.information or {}) if sel is not None else {}
    replaced = sel is not None and (bool((sel.prior or {}).get("kept"))
                                    or info.get("program_id") not in (None, info.get("pick")))
    if origin == "comparison law" or (origin == "starter" and replaced):
        return ", kept over the search's pick"
    if origin == TWIN_ORIGIN:
        return f", program {meta.get('twin_of')}'s law fitted on relative residuals"
    if origin == "starter":
        if "anchored" in meta:
            return ", the starter anchored at the top of the target range: no proposal did better"
        if "logistic" in meta:
            return ", the starter's logistic curve up to the top of the target range: no proposal did better"
        return ", the starter: no proposal did better"
    return ""


def selection_lines(sel, run_dir: Path | None = None) -> list[str]:
    """What the CLI says about how the final law was picked (``search.selection.Selection``; None: nothing).

    Chosen among several laws: its score over the extrapolation folds and the runner-up's. Alone in the
    running: its fold scores all the same, with a warning when it fails or extrapolates poorly on one.
    A pick its checks scored below a constant: then how the information criterion weighed the laws.
    """
    if sel is None:
        return []
    if sel.information is not None:  # the checks' own pick first, then how it was remade
        from dataclasses import replace

        return (selection_lines(replace(sel, program_id=sel.information["pick"], information=None), run_dir)
                + [information_line(sel.information)])
    if sel.prior is not None and sel.prior.get("kept"):
        noise = [_noise_line(sel, run_dir)] if sel.noise is not None else []
        return noise + [f"  kept {sel.prior['name']} over the search's best law (program {sel.prior['pick']}): "
                        f"{sel.prior['why']}; a law written before the data carries no bonus from being the best "
                        "of many on a few runs (best.json: selection.prior)"]
    if sel.rule == "extrapolation folds":
        ranked = sorted(sel.candidates, key=lambda c: -(c.score if c.score is not None else -1.0))
        chosen = next(c for c in sel.candidates if c.program_id == sel.program_id)
        runner_up = next((c for c in ranked if c.program_id != sel.program_id), None)
        lead = next((c for c in sel.candidates if c.program_id == sel.widened_from), None)
        best = next((c for c in sel.candidates if c.program_id == sel.simpler_from), None)
        why = []
        if lead is not None and lead.score is not None:
            why.append(f"the best on validation (program {lead.program_id}) scored {lead.score:.4f} over the "
                       "extrapolation folds, worse than a constant, so it was weighed against the next laws by "
                       "validation")
        if best is not None and best.score is not None and chosen.program_id != best.program_id:
            why.append(f"{'then ' if why else ''}a simpler law beat the best of the laws close on validation "
                       f"(program {best.program_id}, {best.score:.4f}; the best law at each smaller parameter "
                       "count joins them)")
        laws = ("laws close on validation and the best at each smaller parameter count"
                if sel.simpler_from is not None else "laws close on validation")
        among = (f"{'; '.join(why)}; chosen among {len(sel.candidates)}" if why
                 else f"chosen among {len(sel.candidates)} {laws}")
        tie = ""
        if runner_up is not None and runner_up.score is not None and chosen.score is not None \
                and runner_up.score > chosen.score:
            steadier = sel.steady and chosen.drift is not None and runner_up.drift is not None \
                and chosen.drift < runner_up.drift
            tie = (f" (within {sel.steady:g}, too close to rank: refit on the folds, the pick's prediction one step "
                   f"beyond the data moves {chosen.drift:.3g} spans, the runner-up's {runner_up.drift:.3g})"
                   if steadier else " (a tie within parsimony_tolerance, won by fewer parameters)")
        return [f"  {among} by its score over the extrapolation "
                f"folds: {chosen.score:.4f} ({_fold_list(chosen.folds)})"
                + (f"; runner-up {runner_up.score:.4f}{tie}" if runner_up else "") + " (best.json: selection)"]
    if sel.noise is not None:
        return [_noise_line(sel, run_dir)]
    alone = sel.candidates[0] if sel.rule == "validation" and len(sel.candidates) == 1 else None
    if alone is None or not alone.folds or alone.score is None:
        return []
    poor = [k for k, v in alone.folds.items() if v is None or v < 0]
    return [f"  no other law was close on validation; refit on the extrapolation folds it scores {alone.score:.4f} "
            f"({_fold_list(alone.folds)})"
            + (f": it extrapolates poorly on {', '.join(poor)}, so trust its validation R² less" if poor else "")
            + " (best.json: selection)"]


def information_line(data: dict) -> str:
    """What weighing a pick by the information criterion decided (``search.information.Information`` as JSON)."""
    from evosld.search.information import Information, law_name

    info = Information.from_json(data)
    head = (f"  program {info.pick} scores {info.evidence:.4f} on {info.checks}, worse than a constant there: checks "
            "that every law misses cannot rank them, so the laws were weighed by the information criterion on all "
            "train runs (BIC, each refit on them)")
    if info.chosen is None:
        return head + f"; none could be weighed, so program {info.pick} stays (best.json: selection.information)"
    best = info.scores[info.chosen]
    line = f"{head}: {law_name(info, info.chosen)} has the least, {best['bic']:.4g} with {best['n_params']} parameters"
    if info.chosen == str(info.pick):
        return line + ", so it stays (best.json: selection.information)"
    mine = info.scores.get(str(info.pick))
    if mine and mine.get("bic") is not None:
        line += f", against program {info.pick}'s {mine['bic']:.4g} with {mine['n_params']}"
    return line + f"; it is the run's law (program {info.program_id}) (best.json: selection.information)"


def _noise_line(sel, run_dir: Path | None = None) -> str:
    """How sure a pick made by validation alone is (no inner fold): its noise, and the laws it cannot tell apart."""
    from evosld.search.selection import NOISE_Z

    line = (f"  no extrapolation fold below validation, so validation alone picked: its R² moves by "
            f"±{sel.noise:.2g} with the runs in it")
    if not sel.close_on_val:
        return line + f", and no other law scores within {NOISE_Z:g} times that of it (best.json: selection)"
    line += (f", and {sel.close_on_val} other law{'s' if sel.close_on_val > 1 else ''} score within "
             f"{NOISE_Z * sel.noise:.2g} of it, which it cannot tell apart")
    simple = sel.simplest_close
    if simple is not None:
        line += (f"; the simplest, program {simple.program_id} ({simple.n_params} parameters, validation R² "
                 f"{simple.val_r2:.4f}), is as well supported: weigh the two before trusting the pick beyond the "
                 f"data (evosld eval {run_dir or 'RUN_DIR'} --law {simple.program_id})")
    return line + " (best.json: selection)"


def _fold_list(folds: dict) -> str:
    return ", ".join(f"{k} {v:.4f}" if v is not None else f"{k} failed" for k, v in folds.items())


def _finishing_line(outcome, run_dir: Path) -> None:
    """Say when the time to finish ran out before the final pick had checked every law in the running."""
    fin, sel = outcome.finishing or {}, outcome.selection
    if not fin.get("cut"):
        return
    skipped = list(sel.unchecked) if sel is not None else []
    ids = ", ".join(str(i) for i in skipped[:5]) + (" …" if len(skipped) > 5 else "")
    if not skipped:
        what = "the reference law was not scored"
    elif sel.rule == "extrapolation folds":
        what = (f"{len(skipped)} law(s) close on validation were not fully checked (program {ids}); the pick is "
                f"the best of the {len(sel.candidates)} refit on the folds")
    else:
        probed = sel.limit is not None and any(c.beyond is not None for c in sel.candidates)
        what = (f"{len(skipped)} law(s) close on validation were not fully checked (program {ids}); the pick is "
                "the best on validation" + (" that stays sane one step beyond the data" if probed else ""))
    print(f"  finishing: its {fin['seconds']:g} s ran out ({fin['cut']} evaluation(s) cut or not started): "
          f"{what}; evosld discover --resume {run_dir} checks the rest (or set finish_seconds in --config)")


def _bounds_line(outcome) -> None:
    """Fitted parameters that sit on a bound of the program's search box (the law may be mis-specified)."""
    from evosld.bounds import params_at_bounds, program_bounds, summarize

    flags = params_at_bounds(outcome.params, program_bounds(outcome.best_source or "", outcome.meta))
    if flags:
        print(f"  on a search bound: {'; '.join(summarize(flags, len(outcome.params)))} "
              "(the fit wanted to go further; best.json: params_at_bounds)")


def _scatter_line(outcome, task) -> None:
    """Warn when validation or test varies little beyond the runs' scatter around the law, and name
    the train runs it misses grossly."""
    from evosld.evaluation.scatter import off_trend_warning, scatter_warning

    line = scatter_warning(outcome.scatter)
    if line:
        print(f"  scatter: {line} (best.json: scatter)")
    line = off_trend_warning(outcome.scatter, len(task.train), len(task.groups) > 1)
    if line:
        print(f"  off-trend runs: {line} (best.json: scatter.off_trend)")


def _failures_line(outcome) -> None:
    """How many proposals and evaluations failed, and why (the log has one line per failure); apart from
    them, how many proposals found nothing new (duplicates are dropped, not failed)."""
    from evosld.run.runner import describe_failures, describe_unchanged

    if outcome.failures is not None and outcome.failures.total:
        print(f"  failed: {describe_failures(outcome.failures)}")
    if outcome.failures is not None and outcome.failures.unchanged:
        print(f"  nothing new: {describe_unchanged(outcome.failures)}")


def _llm_settings(config):
    """The LLM settings the proposer is given: the config's, or the defaults (one model) when none were named."""
    from evosld.proposers.llm import LLMConfig

    return config.llm or LLMConfig()


def _diagnosis(outcome, config, task) -> int:
    """Say why candidates timed out and why no LLM proposal succeeded; 1 if none did, else 0."""
    from evosld.diagnose import LLMTarget, no_proposal_line, timeout_line

    if outcome.failures is None:
        return 0
    line = timeout_line(outcome.failures, config.evaluator.timeout, len(task.train) + len(task.test),
                        len(task.groups))
    if line:
        print(f"  {line}")
    if config.uses_llm() and outcome.proposed == 0 and (outcome.failures.proposals or outcome.failures.unchanged):
        llm = _llm_settings(config)
        names = tuple(m.name for m in llm.models)
        named = config.llm is not None and "models" in config.llm.model_fields_set
        target = LLMTarget(names if named else tuple(f"{n}, the default: name yours with --llm" for n in names),
                           llm.api_base, has_key=llm.api_key is not None or bool(os.environ.get("OPENAI_API_KEY")))
        print(f"error: {no_proposal_line(outcome.failures, target)}", file=sys.stderr)
        return 1
    return 0


def _interrupted_line(outcome, run_dir: Path) -> int:
    """Say how to continue a run stopped by a signal; its exit code (130 / 143), else 0."""
    from evosld.signals import exit_code_for, signal_name

    if outcome.signum is None:
        return 0
    if outcome.status.stopped == "interrupted":
        print(f"  interrupted by {signal_name(outcome.signum)}: continue the search with evosld discover --resume {run_dir}")
    else:
        print(f"  {signal_name(outcome.signum)} received while the run was finishing; it finished")
    return exit_code_for(outcome.signum)


# ---------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="evosld", description="Discover scaling laws from training-run data.")
    parser.add_argument("--version", action="version", version=f"evosld {__import__('evosld').__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tasks", help="list the built-in tasks, or show how one task (or your table) is split")
    p.add_argument("task", nargs="?", help="a built-in task or a task file (.yaml): show its splits; or use --csv")
    add_data_options(p)
    add_table_options(p)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("eval", help="score a program file on a task")
    p.add_argument("program", help="a Python file defining scaling_law_func and fit_scaling_law, or a run "
                                   "directory (its chosen law, on its task unless --task/--csv is given; table options "
                                   "such as --test change a run's own table's split)")
    p.add_argument("--task", help="built-in task name or a task file (.yaml); or use --csv")
    p.add_argument("--law", type=int, metavar="ID", help="with a run directory: the law with this program id "
                   "(as best.json names them; default: the run's chosen law)")
    p.add_argument("--split", choices=("val", "test"), default="val",
                   help="val: fit on train minus validation, score validation; test: fit on train, score test")
    add_data_options(p)
    add_table_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("discover", help="search for a scaling law (offline symbolic search unless an LLM is configured)")
    p.add_argument("task", nargs="?", help="built-in task name or a task file (.yaml); or use --csv")
    add_data_options(p)
    add_table_options(p)
    g = p.add_argument_group("search")
    g.add_argument("--iterations", type=int, help="number of proposals (default: 200 with an LLM; offline runs stop on their time budget, 180 s unless --budget-seconds; the same default as evosld.discover)")
    g.add_argument("--budget-seconds", dest="budget_seconds", type=float, help="stop cleanly once the run has searched this many seconds in all; on --resume "
                   "the time already searched counts, however the run stopped (Ctrl-C, SIGTERM, budget, kill -9). "
                   "The search's time, not the wall clock: the final pick's checks, the test score and the report "
                   "follow (5 to 20 s past the budget on most tables; on slow ones up to about the budget again, at least 30 s, "
                   "plus three --timeout: "
                   "leave that much room in a job's time limit)")
    g.add_argument("--seed", type=int, help="random seed (offline runs are reproducible from it)")
    g.add_argument("--config", help="YAML config (OpenEvolve / SLDBench key names accepted)")
    g.add_argument("--output", help="run directory (default: runs/<task>-seed<S>-<time>)")
    g.add_argument("--resume", metavar="DIR", help="continue the run in DIR (nothing evaluated is redone)")
    g.add_argument("--proposer", choices=("auto", "symbolic", "llm"), help="force a proposer (default: LLM if configured, else symbolic)")
    g.add_argument("--seed-human", dest="seed_human", action="store_true", help="also seed the search with the task's human law")
    g.add_argument("--workers", type=int, help="evaluations in parallel (default 2)")
    g.add_argument("--timeout", type=float, metavar="SECONDS",
                   help=("wall-clock limit for one candidate's fit and prediction (default 60); the "
                         "final pick's refits after the search share one allowance as long as the "
                         "time budget, and at least this and 30 s"))
    g.add_argument("--dask-scheduler", dest="dask_scheduler", help="run evaluations on this Dask scheduler (tcp://host:8786)")
    g.add_argument("--dask-local", dest="dask_local", action="store_true", help="run evaluations on a local Dask cluster")
    g.add_argument("--quiet", action="store_true", help="no live progress display")
    g = p.add_argument_group("LLM")
    g.add_argument("--llm", action="append", metavar="MODEL", help="model name (repeat for an ensemble); uses OPENAI_API_KEY")
    g.add_argument("--api-base", dest="api_base", help="OpenAI-compatible endpoint (default $OPENAI_BASE_URL)")
    g.add_argument("--max-cost", dest="max_cost", type=float, help="stop cleanly when LLM spend reaches this many USD")
    g.add_argument("--diff", action="store_true", help="ask the LLM for SEARCH/REPLACE diffs instead of full rewrites")
    p.set_defaults(func=cmd_discover)

    from evosld.bench.cli import add_bench_parser
    from evosld.predict.cli import add_predict_parser
    from evosld.report.cli import add_report_parser

    add_predict_parser(sub)
    add_report_parser(sub)
    add_bench_parser(sub)

    p = sub.add_parser("baselines", help="refit and score the human laws of every task")
    add_data_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_baselines)
    return parser


#: OS errors that mean "this disk cannot take the output" (shown as one line, not a traceback).
_DISK_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EIO}


def _joined_negative_values(argv: Sequence[str]) -> list[str]:
    """``--target-range -1,0`` as ``--target-range=-1,0``: argparse takes a value starting with a minus for an option."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] == "--target-range" and re.fullmatch(r"-[\d.][\d.eE+-]*,.*", arg):
            out[-1] = f"--target-range={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(_joined_negative_values(sys.argv[1:] if argv is None else argv))
    func: Callable[[argparse.Namespace], int] = args.func
    warnings.simplefilter("default")
    warnings.showwarning = lambda msg, *a, **k: err_console.print(f"[yellow]warning:[/yellow] {msg}")
    try:
        return func(args)
    except EvosldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Aborted as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exit_code_for(exc.signum)
    except BrokenPipeError:  # the reader went away (`evosld discover ... | head`): nothing left to say to it
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot write{where}: {exc.strerror}; free some space, or write elsewhere (--output for "
              "discover and bench)", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # SIGINT, or SIGTERM raised as Interrupted by evosld.entry
        line, code = stop_line(exc)
        err_console.print(line, highlight=False)
        return code


if __name__ == "__main__":  # pragma: no cover  (`python -m evosld.cli`: as the installed command runs)
    from evosld.entry import main as entry_main

    sys.exit(entry_main())
