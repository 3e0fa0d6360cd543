"""Benchmark of the offline symbolic proposer on SLDBench, against the human laws and SLDAgent.

Runs ``evosld discover --proposer symbolic`` on each task for each seed under a
wall-clock budget (through ``evosld.bench``: OUTPUT/<task>/seed<k>; finished
runs are skipped and unfinished ones resumed, so an interrupted benchmark is
continued by running the same command again). Each run selects its law without the
test split (among the laws close on validation R², the best median R² over
validation and two inner extrapolation folds: ``search.selection``); that law
is scored once on test. Then, for every
finished run, ``evosld.rankcheck`` refits the run's best distinct laws (by
validation R²) on all of train and asks how well validation R² ranked them
compared with test R² (Spearman ρ; analysis only, never fed back to a search).

Prints one table, per task: mean test R² over seeds (each clipped at -1),
best test R², parameters of the law (best seed's, max over seeds) against the
task's limit, the human law refit here, the published human and SLDAgent+GPT-5
figures, the mean validation-test Spearman ρ and whether the mean reaches the
human law (refit) and SLDAgent (published); then a summary line and the law
found by each run. The same content goes to OUTPUT/discovery.md and
OUTPUT/discovery.json.

Usage: EVOSLD_DATA=../shared/sldbench python benchmarks/discovery.py --budget-seconds 300 --seeds 3
       [--tasks all|a,b] [--jobs 2] [--workers 1] [--output bench-discovery] [--data-dir D] [--rank-top 30]

Runs in parallel: ``--jobs`` discoveries at once, each evaluating ``--workers``
candidates at once (default 2 x 1, for a 2-core machine). Runs already in
OUTPUT are reused whatever budget made them: use a new OUTPUT for new settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from evosld.bench import BenchSpec, human_scores, parse_seeds, parse_tasks, run_bench
from evosld.errors import ConfigError, DataError, EvosldError
from evosld.leaderboard import PUBLISHED
from evosld.outputs import write_atomic
from evosld.rankcheck import rank_check
from evosld.tasks.builtin import BUILTIN

DEFAULT_OUTPUT = "bench-discovery"
MARKDOWN = "discovery.md"
JSON_FILE = "discovery.json"


class _Parser(argparse.ArgumentParser):
    """Argument errors as one ``error:`` line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-seconds", dest="budget_seconds", type=float, required=True,
                   help="wall-clock budget of each discovery run")
    p.add_argument("--seeds", required=True, help="number of seeds K (0..K-1) or a list such as 1,4,7")
    p.add_argument("--tasks", default="all", help="'all' (default) or comma-separated built-in task names")
    p.add_argument("--jobs", type=int, default=2, help="discovery runs at once (default 2)")
    p.add_argument("--workers", type=int, default=1, help="evaluations in parallel within a run (default 1)")
    p.add_argument("--output", default=DEFAULT_OUTPUT, help=f"benchmark directory (default ./{DEFAULT_OUTPUT})")
    p.add_argument("--data-dir", dest="data_dir", help="SLDBench tables, one folder per task (default $EVOSLD_DATA)")
    p.add_argument("--rank-top", dest="rank_top", type=int, default=30,
                   help="laws per run in the validation-test rank check (default 30)")
    return p


# --------------------------------------------------------------------------- numbers


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _at_least(a: float | None, b: float | None) -> bool | None:
    return None if a is None or b is None else a >= b


def summarize(spec: BenchSpec, board: Any, human: dict[str, dict[str, Any]],
              checks: dict[tuple[str, int], dict[str, Any]]) -> dict[str, Any]:
    """Per-task rows, the summary and the per-run rows (JSON-ready) of a finished benchmark."""
    runs = []
    for r in board.runs:
        check = checks.get((r["task"], r["seed"]), {})
        limit = BUILTIN[r["task"]].max_params
        runs.append({**r, "max_params": limit,
                     "within_limit": None if r.get("n_params") is None else r["n_params"] <= limit,
                     "spearman": check.get("spearman"), "rank_n": check.get("n"), "rank_check": check})
    tasks = []
    for row in board.tasks:
        task = row["task"]
        mine = [r for r in runs if r["task"] == task and r["status"] == "finished" and r.get("test_r2") is not None]
        params = [r["n_params"] for r in mine if r.get("n_params") is not None]
        h = human.get(task, {})
        pub = PUBLISHED.get(task, {})
        mean = row["mean_test_r2_clipped"]
        human_refit = h.get("test_r2_clipped")
        rhos = [r["spearman"] for r in mine if r["spearman"] is not None]
        tasks.append({
            "task": task,
            "runs": len(mine),
            "seeds": len(spec.seeds),
            "mean_test_r2": mean,
            "best_test_r2": row["best_test_r2"],
            "best_seed": row["best_seed"],
            "best_n_params": row["best_n_params"],
            "max_n_params": max(params) if params else None,
            "max_params": BUILTIN[task].max_params,
            "within_limit": (max(params) <= BUILTIN[task].max_params) if params and len(params) == len(mine) else None,
            "human_refit_r2": human_refit,
            "published_human_r2": pub.get("human"),
            "published_sldagent_r2": pub.get("sldagent_gpt5"),
            "mean_spearman": _mean(rhos),
            "spearman_runs": len(rhos),
            "beats_human": _at_least(mean, human_refit),
            "beats_sldagent": _at_least(mean, pub.get("sldagent_gpt5")),
        })
    scored = [t for t in tasks if t["runs"]]
    summary = {
        "tasks": len(scored),
        "beats_human": sum(bool(t["beats_human"]) for t in scored),
        "beats_sldagent": sum(bool(t["beats_sldagent"]) for t in scored),
        "all_within_limits": bool(scored) and all(t["within_limit"] is True for t in scored),
        "over_limit": [t["task"] for t in scored if t["within_limit"] is False],
        "mean_test_r2": _mean([t["mean_test_r2"] for t in scored]),
        "published_sldagent_r2": _mean([t["published_sldagent_r2"] for t in scored]),
        "human_refit_r2": _mean([t["human_refit_r2"] for t in scored]),
        "failed_runs": [f"{r['task']} seed {r['seed']}" for r in runs if r["status"] != "finished"],
    }
    settings = {"proposer": "symbolic", "tasks": list(spec.tasks), "seeds": list(spec.seeds),
                "budget_seconds": spec.budget_seconds, "jobs": spec.jobs, "extra_args": list(spec.extra_args),
                "data_dir": spec.data_dir, "output": str(spec.output)}
    return {"settings": settings, "tasks": tasks, "summary": summary, "runs": runs}


# --------------------------------------------------------------------------- text


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """A Markdown table padded to aligned columns (readable as plain text too)."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)) + "|"
    return [line(header), rule, *(line(r) for r in rows)]


def render(result: dict[str, Any]) -> str:
    """The benchmark as Markdown: task table, summary line, law per run."""
    s, summ = result["settings"], result["summary"]
    header = ["task", "runs", "mean test R²", "best test R²", "params best/max (limit)", "human refit",
              "human pub.", "SLDAgent pub.", "val–test ρ", "mean ≥ human?", "mean ≥ SLDAgent?"]
    rows = []
    for t in result["tasks"]:
        rows.append([t["task"], f"{t['runs']}/{t['seeds']}", _f(t["mean_test_r2"], 4), _f(t["best_test_r2"], 4),
                     f"{_f(t['best_n_params'])}/{_f(t['max_n_params'])} ({t['max_params']})",
                     _f(t["human_refit_r2"], 4), _f(t["published_human_r2"]), _f(t["published_sldagent_r2"]),
                     _f(t["mean_spearman"], 2), _f(t["beats_human"]), _f(t["beats_sldagent"])])
    lines = [
        "# evosld discovery benchmark: offline symbolic proposer",
        "",
        f"Seeds {', '.join(map(str, s['seeds']))}; {s['budget_seconds']:g} s per run; "
        f"{s['jobs']} run(s) at once, `{' '.join(s['extra_args'])}`.",
        "Test R² on the held-out largest scales; the law of each run is selected without test rows "
        "(among the laws close on validation R², the best median over validation and two inner extrapolation folds). "
        "Mean over finished seeds with each R² clipped at −1; best unclipped. Human refit: the task's human "
        "law fit here on the same train rows (clipped at −1); pub.: SLDBench published figures "
        "(SLDAgent: GPT-5, mean of five runs). val–test ρ: Spearman correlation between validation and "
        "test R² over each run's best distinct laws, mean over seeds.",
        "",
        *_table(header, rows, right=set(range(1, len(header) - 2))),
        "",
    ]
    limits = "yes" if summ["all_within_limits"] else ("no: " + ", ".join(summ["over_limit"]) if summ["over_limit"]
                                                       else "unknown for some runs")
    lines.append(f"**Summary**: over {summ['tasks']} task(s), mean test R² ≥ human law (refit) on "
                 f"{summ['beats_human']}, ≥ SLDAgent+GPT-5 (published) on {summ['beats_sldagent']}; "
                 f"all laws within the parameter limits: {limits}. Average mean test R² {_f(summ['mean_test_r2'], 4)} "
                 f"vs human refit {_f(summ['human_refit_r2'], 4)}, SLDAgent {_f(summ['published_sldagent_r2'])}.")
    if summ["failed_runs"]:
        lines.append(f"Unfinished or failed runs: {', '.join(summ['failed_runs'])} (see their bench.log).")
    run_rows = []
    for r in result["runs"]:
        formula = r.get("formula") or (f"({r['best_proposer']} program, no formula)" if r.get("best_proposer") else "—")
        rho = "—" if r.get("rank_n") is None else f"{_f(r['spearman'], 2)} (n={r['rank_n']})"
        run_rows.append([r["task"], str(r["seed"]), r["status"], _f(r.get("val_r2"), 4), _f(r.get("test_r2"), 4),
                         f"{_f(r.get('n_params'))} ({r['max_params']})", _f(r.get("evaluations")), rho,
                         "`" + formula.replace("|", "\\|").replace("`", "'") + "`"])
    lines += ["", "## Law per run", "",
              *_table(["task", "seed", "status", "val R²", "test R²", "params (limit)", "evaluations", "val–test ρ",
                       "law"], run_rows, right={1, 3, 4, 5, 6, 7}), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log = lambda line: print(f"  {line}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        tasks, seeds = parse_tasks(args.tasks), parse_seeds(args.seeds)
        if not args.budget_seconds > 0:
            raise ConfigError("--budget-seconds must be positive")
        for name in ("jobs", "workers", "rank_top"):
            if getattr(args, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1")
        data_dir = args.data_dir or os.environ.get("EVOSLD_DATA")
        if not data_dir:
            raise DataError("no data: set EVOSLD_DATA or --data-dir to the SLDBench tables")
        if not Path(data_dir).is_dir():
            raise DataError(f"data directory not found: {data_dir}")
        from evosld.tasks import load_task

        loaded = {t: load_task(t, data_dir=data_dir) for t in tasks}  # fails early on missing tables
        spec = BenchSpec(tasks=tasks, seeds=seeds, output=Path(args.output), budget_seconds=args.budget_seconds,
                         jobs=args.jobs, data_dir=str(Path(data_dir).resolve()),
                         extra_args=("--proposer", "symbolic", "--workers", str(args.workers)))
        print(f"discovery benchmark: {len(tasks)} task(s) x {len(seeds)} seed(s), {args.budget_seconds:g} s each, "
              f"{spec.jobs} at a time -> {spec.output}", file=sys.stderr, flush=True)
        board, outcomes = run_bench(spec, report=log)
        human = human_scores(spec)  # cached by run_bench: no refit here

        from evosld.evaluation import Sandbox

        sandbox = Sandbox()
        checks: dict[tuple[str, int], dict[str, Any]] = {}
        for r in board.runs:
            if r["status"] != "finished":
                continue
            try:
                check = rank_check(r["run_dir"], loaded[r["task"]], top=args.rank_top, sandbox=sandbox,
                                   workers=spec.jobs * args.workers)
            except EvosldError as exc:
                log(f"{r['task']} seed {r['seed']}: no rank check ({exc})")
                continue
            if check.evaluated:
                log(f"{r['task']} seed {r['seed']}: rank check, {check.evaluated} law(s) refit on test")
            checks[(r["task"], r["seed"])] = check.to_json()
        result = summarize(spec, board, human, checks)
        text = render(result)
        write_atomic(spec.output / MARKDOWN, text)
        write_atomic(spec.output / JSON_FILE, json.dumps(result, indent=2) + "\n")
    except EvosldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: run the same command again to continue", file=sys.stderr)
        return 130
    print(text)
    print(f"written: {spec.output / MARKDOWN} and {spec.output / JSON_FILE}", file=sys.stderr)
    failed = [o for o in outcomes if o.returncode != 0]
    if failed:
        print(f"{len(failed)} run(s) failed; see their bench.log", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
