"""Benchmark of the offline symbolic proposer on SLDBench, against the human laws and SLDAgent.

Runs ``evosld discover --proposer symbolic`` on each task for each seed under a
wall-clock budget (through ``evosld.bench.runs``: OUTPUT/<task>/seed<k>; finished
runs are skipped and unfinished ones resumed, so an interrupted benchmark is
continued by running the same command again). Each run selects its law without the
test split (among the laws close on validation R², the best weighted mean R²
over validation, two inner extrapolation folds and those folds' fits scored on
validation, laws that run away one step beyond the data scoring -1:
``search.selection``); that law
is scored once on test. Then, for every
finished run, ``evosld.bench.rankcheck`` refits the run's best distinct laws (by
validation R²) on all of train and asks how well validation R² ranked them
compared with test R² (Spearman ρ; analysis only, never fed back to a search).

Prints one table, per task: mean test R² over seeds (each clipped at -1),
best test R², parameters of the law (best seed's, max over seeds) against the
task's limit, the human law refit here, the published human and SLDAgent+GPT-5
figures, the mean validation-test Spearman ρ and whether the mean reaches the
human law (refit) and SLDAgent (published); then a summary line and the law
found by each run. The same content goes to OUTPUT/discovery.md and
OUTPUT/discovery.json.

Peer (``--peers operon``, the default; ``pip install -e '.[peers]'``): after the
evosld runs, Operon (``benchmarks/peers.py``: same split, validation-based
selection, same budget on one core, one model per group) runs once per task and
seed; the table shows its mean test R² and constants, and the same restricted to
the task's parameter limit. Without pyoperon a one-line note says so.

Time to quality (``evosld.bench.timetoquality``): for each finished run, the run's
final pick is replayed over its history (by the selection score, never test),
each pick is scored on test after the run, and the table gives the median over
seeds of the time at which the pick first reached the human law's refit test R²
and the SLDAgent+GPT-5 published mean ("—" when the median run never did).
A second table says where each run's time went: proposing (of which
screening, symbolic proposer), the sandbox (of which the candidates' own
fitting), from the run store.

Usage: EVOSLD_DATA=../shared/sldbench python benchmarks/discovery.py --budget-seconds 300 --seeds 3
       [--tasks all|a,b] [--jobs 2] [--workers 1] [--output bench-discovery] [--data-dir D] [--rank-top 30]
       [--peers operon|none]

Runs in parallel: ``--jobs`` discoveries at once, each evaluating ``--workers``
candidates at once (default 2 x 1, for a 2-core machine). Runs already in
OUTPUT are reused whatever budget made them: use a new OUTPUT for new settings.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
from pathlib import Path
from typing import Any

from evosld.bench.cli import ScriptParser
from evosld.bench.humanlaws import human_scores
from evosld.bench.leaderboard import PUBLISHED
from evosld.bench.rankcheck import rank_check
from evosld.bench.runs import run_bench
from evosld.bench.spec import BenchSpec, parse_seeds, parse_tasks
from evosld.bench.timetoquality import time_to_quality
from evosld.errors import ConfigError, DataError, EvosldError
from evosld.run.outputs import STORE_FILE, write_atomic
from evosld.run.store import RunStore
from evosld.tasks.builtin import BUILTIN

DEFAULT_OUTPUT = "bench-discovery"
MARKDOWN = "discovery.md"
JSON_FILE = "discovery.json"


def build_parser() -> argparse.ArgumentParser:
    p = ScriptParser(description=__doc__.splitlines()[0])
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
    p.add_argument("--peers", choices=("operon", "none"), default="operon",
                   help="generic symbolic regressor to compare with (default operon, skipped when not installed)")
    return p


def load_peers() -> Any:
    """``benchmarks/peers.py`` as a module (it sits next to this script, not in the package)."""
    spec = importlib.util.spec_from_file_location("evosld_bench_peers", Path(__file__).with_name("peers.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def run_timings(run_dir: str | Path) -> dict[str, float | None]:
    """Where a run's time went, from its store (seconds; None when not recorded).

    ``search``: wall time of the search; ``propose``: time in the proposer,
    seeding included, of which ``screen`` pre-screening (symbolic proposer);
    ``sandbox``: evaluations in the sandbox (process start to result, summed
    over evaluations: with several workers it can exceed ``search``), of which
    ``fit`` in the candidates' ``fit_scaling_law``. Proposing and evaluating
    overlap, so the parts need not add up to ``search``. Runs made before
    proposing was timed have no ``propose``/``screen``.
    """
    path = Path(run_dir) / STORE_FILE
    if not path.is_file():
        return {}
    with RunStore.open(path) as store:
        timings = store.get_state("timings") or {}
        search = store.get_state("elapsed_seconds")
        sandbox = fit = 0.0
        count = 0
        for p in store.programs(order="evaluated"):
            m = p.evaluation.metrics if p.evaluation else {}
            sandbox += float(m.get("duration") or 0.0)
            fit += float(m.get("fit_seconds") or 0.0)
            count += 1

    def num(v: Any) -> float | None:
        return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None

    return {"search": num(search), "propose": num(timings.get("propose_seconds")),
            "screen": num(timings.get("screen_seconds")), "sandbox": sandbox, "fit": fit, "evaluations": count}


# --------------------------------------------------------------------------- numbers


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _at_least(a: float | None, b: float | None) -> bool | None:
    return None if a is None or b is None else a >= b


def _median_time(values: list[float | None]) -> float | None:
    """Median over runs of a time to quality, a run that never reached the level counting as infinite.

    None when the median run never reached it (or there are no runs).
    """
    if not values:
        return None
    m = statistics.median([math.inf if v is None else v for v in values])
    return None if math.isinf(m) else float(m)


def _peer_fields(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Operon's per-task figures from its per-seed results (failed runs left out)."""
    ok = [r for r in results if isinstance(r.get("best"), dict)]
    limited = [r["within_limit"] for r in ok if isinstance(r.get("within_limit"), dict)]
    best = [r["best"] for r in ok]

    def biggest(rows: list[dict[str, Any]]) -> int | None:
        sizes = [x["n_params"] for x in rows if x.get("n_params") is not None]
        return max(sizes) if sizes else None

    return {
        "operon_runs": len(ok),
        "operon_mean_test_r2": _mean([x.get("test_r2_clipped") for x in best]),
        "operon_n_params": biggest(best),
        "operon_limit_mean_test_r2": _mean([x.get("test_r2_clipped") for x in limited]),
        "operon_limit_n_params": biggest(limited),
        "operon_limit_fallbacks": sum(int(x.get("fallbacks") or 0) for x in limited),
        "operon_errors": [r["error"] for r in results if "error" in r],
    }


TIMING_KEYS = ("search", "propose", "screen", "sandbox", "fit", "evaluations")


def summarize(spec: BenchSpec, board: Any, human: dict[str, dict[str, Any]],
              checks: dict[tuple[str, int], dict[str, Any]],
              ttq: dict[tuple[str, int], dict[str, Any]] | None = None,
              timings: dict[tuple[str, int], dict[str, Any]] | None = None,
              peers: dict[tuple[str, int], dict[str, Any]] | None = None,
              peer_note: str | None = None) -> dict[str, Any]:
    """Per-task rows, the summary and the per-run rows (JSON-ready) of a finished benchmark.

    ``ttq``: (task, seed) -> ``TimeToQuality.to_json()``; ``timings``: (task,
    seed) -> ``run_timings``; ``peers``: (task, seed) -> Operon's result (or
    ``{"error": ...}``); ``peer_note``: why there is no peer, if there is none.
    """
    ttq, timings, peers = ttq or {}, timings or {}, peers or {}
    runs = []
    for r in board.runs:
        check = checks.get((r["task"], r["seed"]), {})
        limit = BUILTIN[r["task"]].max_params
        q = ttq.get((r["task"], r["seed"]))
        runs.append({**r, "max_params": limit,
                     "within_limit": None if r.get("n_params") is None else r["n_params"] <= limit,
                     "spearman": check.get("spearman"), "rank_n": check.get("n"), "rank_check": check,
                     "time_to_quality": q, "timings": timings.get((r["task"], r["seed"])),
                     "operon": peers.get((r["task"], r["seed"]))})
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
        replayed = [r["time_to_quality"] for r in mine if r["time_to_quality"]]
        peer = _peer_fields([peers[(task, s)] for s in spec.seeds if (task, s) in peers])
        clock = [r["timings"] for r in mine if r["timings"]]
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
            **peer,
            "beats_operon": _at_least(mean, peer["operon_mean_test_r2"]),
            "beats_operon_limit": _at_least(mean, peer["operon_limit_mean_test_r2"]),
            "ttq_runs": len(replayed),
            "ttq_human_s": _median_time([q["reached"].get("human") for q in replayed]),
            "ttq_human_reached": sum(q["reached"].get("human") is not None for q in replayed),
            "ttq_sldagent_s": _median_time([q["reached"].get("sldagent") for q in replayed]),
            "ttq_sldagent_reached": sum(q["reached"].get("sldagent") is not None for q in replayed),
            "timings": {k: _mean([c.get(k) for c in clock]) for k in TIMING_KEYS} if clock else None,
        })
    scored = [t for t in tasks if t["runs"]]
    summary = {
        "tasks": len(scored),
        "beats_human": sum(bool(t["beats_human"]) for t in scored),
        "beats_sldagent": sum(bool(t["beats_sldagent"]) for t in scored),
        "beats_operon": sum(bool(t["beats_operon"]) for t in scored),
        "beats_operon_limit": sum(bool(t["beats_operon_limit"]) for t in scored),
        "operon_tasks": sum(1 for t in scored if t["operon_runs"]),
        "all_within_limits": bool(scored) and all(t["within_limit"] is True for t in scored),
        "over_limit": [t["task"] for t in scored if t["within_limit"] is False],
        "mean_test_r2": _mean([t["mean_test_r2"] for t in scored]),
        "published_sldagent_r2": _mean([t["published_sldagent_r2"] for t in scored]),
        "human_refit_r2": _mean([t["human_refit_r2"] for t in scored]),
        "failed_runs": [f"{r['task']} seed {r['seed']}" for r in runs if r["status"] != "finished"],
        "peer_note": peer_note,
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


def _with_size(r2: float | None, n: int | None) -> str:
    return "—" if r2 is None else f"{r2:.4f} ({_f(n)})"


def _time(t: dict[str, Any], key: str) -> str:
    if not t["ttq_runs"]:
        return "—"
    value = t[f"ttq_{key}_s"]
    return f"{'—' if value is None else f'{value:.0f} s'} ({t[f'ttq_{key}_reached']}/{t['ttq_runs']})"


def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    """A Markdown table padded to aligned columns (readable as plain text too)."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if i in right else "-" * (w + 2) for i, w in enumerate(widths)) + "|"
    return [line(header), rule, *(line(r) for r in rows)]


def _seconds(value: float | None, part: float | None = None) -> str:
    if value is None:
        return "—"
    return f"{value:.0f}" if part is None else f"{value:.0f} ({part:.0f})"


def render(result: dict[str, Any]) -> str:
    """The benchmark as Markdown: task table, summary line, where the time goes, law per run."""
    s, summ = result["settings"], result["summary"]
    header = ["task", "runs", "mean test R²", "best test R²", "params best/max (limit)", "human refit",
              "human pub.", "SLDAgent pub.", "Operon (consts)", "Operon ≤ limit (consts)", "to human",
              "to SLDAgent", "val–test ρ", "mean ≥ human?", "mean ≥ SLDAgent?", "mean ≥ Operon ≤ limit?"]
    rows = []
    for t in result["tasks"]:
        rows.append([t["task"], f"{t['runs']}/{t['seeds']}", _f(t["mean_test_r2"], 4), _f(t["best_test_r2"], 4),
                     f"{_f(t['best_n_params'])}/{_f(t['max_n_params'])} ({t['max_params']})",
                     _f(t["human_refit_r2"], 4), _f(t["published_human_r2"]), _f(t["published_sldagent_r2"]),
                     _with_size(t["operon_mean_test_r2"], t["operon_n_params"]),
                     _with_size(t["operon_limit_mean_test_r2"], t["operon_limit_n_params"]),
                     _time(t, "human"), _time(t, "sldagent"),
                     _f(t["mean_spearman"], 2), _f(t["beats_human"]), _f(t["beats_sldagent"]),
                     _f(t["beats_operon_limit"])])
    lines = [
        "# evosld discovery benchmark: offline symbolic proposer",
        "",
        f"Seeds {', '.join(map(str, s['seeds']))}; {s['budget_seconds']:g} s per run; "
        f"{s['jobs']} run(s) at once, `{' '.join(s['extra_args'])}`.",
        "Test R² on the held-out largest scales; the law of each run is selected without test rows "
        "(among the laws close on validation R², the best weighted mean over validation, two inner extrapolation "
        "folds and those folds' fits scored on validation further out; "
        "a law whose predictions one step beyond the data run away scores −1). "
        "Mean over finished seeds with each R² clipped at −1; best unclipped. Human refit: the task's human "
        "law fit here on the same train rows (clipped at −1); pub.: SLDBench published figures "
        "(SLDAgent: GPT-5, mean of five runs). Operon: mean test R² over the same seeds, same split and budget "
        "(one core, one model per group; `benchmarks/peers.py`), chosen on validation, and the largest "
        "number of constants per group; ≤ limit: chosen among its models within the task's parameter limit. "
        "to human / to SLDAgent: median over seeds of the run time at which the run's pick (by the selection "
        "score, replayed after the run) first scored at least the human refit / SLDAgent pub. on test "
        "(— when the median run never did; in brackets, how many runs did). val–test ρ: Spearman correlation "
        "between validation and test R² over each run's best distinct laws, mean over seeds.",
        "",
        *_table(header, rows, right=set(range(1, len(header) - 3))),
        "",
    ]
    limits = "yes" if summ["all_within_limits"] else ("no: " + ", ".join(summ["over_limit"]) if summ["over_limit"]
                                                       else "unknown for some runs")
    lines.append(f"**Summary**: over {summ['tasks']} task(s), mean test R² ≥ human law (refit) on "
                 f"{summ['beats_human']}, ≥ SLDAgent+GPT-5 (published) on {summ['beats_sldagent']}"
                 + (f", ≥ Operon on {summ['beats_operon']} and ≥ Operon within the limit on "
                    f"{summ['beats_operon_limit']} (of {summ['operon_tasks']} with Operon)"
                    if summ["operon_tasks"] else "")
                 + f"; all laws within the parameter limits: {limits}. Average mean test R² "
                 f"{_f(summ['mean_test_r2'], 4)} vs human refit {_f(summ['human_refit_r2'], 4)}, "
                 f"SLDAgent {_f(summ['published_sldagent_r2'])}.")
    if summ.get("peer_note"):
        lines.append(summ["peer_note"])
    if summ["failed_runs"]:
        lines.append(f"Unfinished or failed runs: {', '.join(summ['failed_runs'])} (see their bench.log).")
    time_rows = []
    for t in result["tasks"]:
        c = t.get("timings")
        if not c:
            continue
        rate = (c["evaluations"] / c["search"]) if c.get("evaluations") and c.get("search") else None
        time_rows.append([t["task"], _seconds(c["search"]), _seconds(c["propose"], c["screen"]),
                          _seconds(c["sandbox"], c["fit"]), _f(None if c["evaluations"] is None else round(c["evaluations"])),
                          _f(rate, 1)])
    if time_rows:
        lines += ["", "## Where the time goes", "",
                  "Seconds per run, mean over seeds, from the run stores. Proposing includes seeding; in brackets "
                  "the symbolic proposer's pre-screening. Sandbox: evaluations from process start to result, in "
                  "brackets the candidates' own `fit_scaling_law`. Proposing and evaluating overlap. "
                  "The final pick's refits and the test score come after the search and are not counted.", "",
                  *_table(["task", "search", "proposing (screen)", "sandbox (fit)", "evaluations", "eval/s"],
                          time_rows, right={1, 2, 3, 4, 5})]
    run_rows = []
    for r in result["runs"]:
        formula = r.get("formula") or (f"({r['best_proposer']} program, no formula)" if r.get("best_proposer") else "—")
        rho = "—" if r.get("rank_n") is None else f"{_f(r['spearman'], 2)} (n={r['rank_n']})"
        op = r.get("operon") or {}
        op_cell = ("failed" if "error" in op else
                   _with_size((op.get("best") or {}).get("test_r2_clipped"), (op.get("best") or {}).get("n_params")))
        q = r.get("time_to_quality") or {}
        reached = q.get("reached") or {}
        ttq_cell = "—" if not q else " / ".join("—" if reached.get(k) is None else f"{reached[k]:.0f} s"
                                                for k in ("human", "sldagent"))
        run_rows.append([r["task"], str(r["seed"]), r["status"], _f(r.get("val_r2"), 4), _f(r.get("test_r2"), 4),
                         f"{_f(r.get('n_params'))} ({r['max_params']})", _f(r.get("evaluations")), rho,
                         op_cell, ttq_cell,
                         "`" + formula.replace("|", "\\|").replace("`", "'") + "`"])
    lines += ["", "## Law per run", "",
              *_table(["task", "seed", "status", "val R²", "test R²", "params (limit)", "evaluations", "val–test ρ",
                       "Operon (consts)", "to human / SLDAgent", "law"], run_rows, right={1, 3, 4, 5, 6, 7, 8, 9}), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def run_peer(args: argparse.Namespace, spec: BenchSpec, loaded: dict[str, Any],
             log: Any) -> tuple[dict[tuple[str, int], dict[str, Any]], str | None]:
    """Operon's results per (task, seed) after the evosld runs, or ({}, a one-line note why not)."""
    if args.peers == "none":
        return {}, "Operon: not run (--peers none)."
    peers = load_peers()
    if peers.operon_version() is None:
        note = "Operon: skipped, pyoperon is not installed (pip install -e '.[peers]')."
        log(note)
        return {}, note
    return peers.run_all(loaded, spec.seeds, spec.budget_seconds, spec.output, spec.data_dir,
                         jobs=spec.jobs, report=log), None



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
        ttq: dict[tuple[str, int], dict[str, Any]] = {}
        timings: dict[tuple[str, int], dict[str, Any]] = {}
        for r in board.runs:
            if r["status"] != "finished":
                continue
            key = (r["task"], r["seed"])
            timings[key] = run_timings(r["run_dir"])
            levels = {"human": human.get(r["task"], {}).get("test_r2_clipped"),
                      "sldagent": PUBLISHED.get(r["task"], {}).get("sldagent_gpt5")}
            try:
                q = time_to_quality(r["run_dir"], loaded[r["task"]], levels=levels, sandbox=sandbox,
                                    workers=spec.jobs * args.workers)
            except EvosldError as exc:
                log(f"{r['task']} seed {r['seed']}: no time to quality ({exc})")
                continue
            if q.evaluated:
                log(f"{r['task']} seed {r['seed']}: time to quality, {len(q.picks)} pick(s), {q.evaluated} refit(s)")
            ttq[key] = q.to_json()
        peers, peer_note = run_peer(args, spec, loaded, log)
        result = summarize(spec, board, human, checks, ttq, timings, peers, peer_note)
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
