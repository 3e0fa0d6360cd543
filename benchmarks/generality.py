"""Generality benchmark: evosld's offline discovery on user-like synthetic tables with a KNOWN law.

evosld was tuned on the eight SLDBench tables; users bring their own. Each
family of ``benchmarks/synthtables.py`` imitates a kind of published table
(sizes read off a figure, a handful of runs, a target in small units, raw
FLOPs, a column with zeros, a non-monotone target, diverged runs, ...) and
knows the law that generated it. Per (family, table seed) this runs

- **evosld**: ``evosld.discover(df, ..., test=RULE, budget_seconds=B, seed=S)``,
  the offline symbolic search as a user calls it; its test R² (unclipped and
  clipped at -1), validation R², parameters, formula, evaluations, wall time,
  stop reason, or the error line when it refuses or fails (a result, not a
  crash of the benchmark);

and, on the SAME train/test split (the family computes the rule's test rows
itself; the benchmark checks evosld held out as many):

- **truth**: the generating law refit per group on all train rows (scipy
  ``least_squares`` from the true values and jittered starts, on ln y where
  the noise is multiplicative, then a Huber polish at twice the median
  absolute residual, as evosld's fitter does):
  the ceiling a perfect search reaches;
- **baseline**: the law evosld itself refits and shows beside its pick
  (``best.json`` ``reference``: the Chinchilla form when the features look
  like model size and data, else the plain power law the search starts from);
- **loglinear**: ordinary least squares of ln y on ln x per group (a feature
  or target that is not positive everywhere stays linear), what a user tries
  first;
- **Operon** (``--peers operon``, needs ``pip install -e '.[peers]'``): the
  peer of ``benchmarks/peers.py`` on evosld's own task (same split, selection
  on validation, the same budget on one core, one model per group).

``--set real`` runs real tables instead (``realtables.py``: the SLDBench runs
under other test rules, read from ``EVOSLD_DATA``), which have no known law:
their truth column is empty, and evosld is read against the baseline, the
log-linear fit and Operon.

Table seeds and the search seed are separate knobs. Table seeds 0 to 13 are
the TUNE set, 14 and 15 the HOLDOUT set (``synthtables.TUNE_SEEDS`` /
``HOLDOUT_SEEDS``; 2 to 13 were the holdout, two at a time, until they were
examined): tune changes on one, report them on the other.

Usage: nice -n 19 python benchmarks/generality.py [--set tune|holdout|all|real] [--tables all|a,b]
       [--budget-seconds 60] [--search-seed 0] [--jobs 2] [--peers operon|none] [--output bench-generality]

Each (family, seed) runs in its own subprocess (``--jobs`` at a time), writing
OUTPUT/<family>/seed<k>/result.json (and operon.json); a finished one is read
back, not rerun, while its budget and search seed are the same, so an
interrupted benchmark continues when run again (an unfinished one starts
over). Prints a Markdown table and writes OUTPUT/generality.md and
OUTPUT/generality.json.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.util
import json
import math
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from evosld.bench.cli import ScriptParser
from evosld.bench.leaderboard import cell


def _sibling(name: str) -> Any:
    """``benchmarks/<name>.py`` as a module (benchmarks/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"evosld_bench_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


synth = _sibling("synthtables")
real = _sibling("realtables")

DEFAULT_OUTPUT = "bench-generality"
MARKDOWN = "generality.md"
JSON_FILE = "generality.json"
RESULT = "result.json"
OPERON = "operon.json"
SETS = {"tune": synth.TUNE_SEEDS, "holdout": synth.HOLDOUT_SEEDS, "all": synth.TUNE_SEEDS + synth.HOLDOUT_SEEDS,
        "real": (0,)}
#: evosld within this much of the truth's clipped test R² counts as reaching it.
TOLERANCE = 0.02
#: Starts of the true law's refit: the true values, then this many jittered copies.
JITTERED_STARTS = 5


# --------------------------------------------------------------------------- peers (maths only)


def split(table: Any) -> tuple[Any, Any]:
    """(train rows, test rows) of ``table`` by its own test rule (``SynthTable.test_mask``)."""
    return table.df.loc[~table.test_mask], table.df.loc[table.test_mask]


def _groups(table: Any, df: Any) -> np.ndarray:
    """(N,) group key of each row ("all" without a group column)."""
    return df[table.group].astype(str).to_numpy() if table.group else np.full(len(df), "all")


def _y(table: Any, df: Any) -> np.ndarray:
    """(N,) or (N, T) target values."""
    cols = list(table.targets)
    return df[cols[0]].to_numpy(float) if len(cols) == 1 else df[cols].to_numpy(float)


def pooled_r2(preds: list[np.ndarray], truths: list[np.ndarray]) -> float:
    """R² of the per-group predictions pooled over groups, as evosld scores a law (mean over outputs; -inf on failure)."""
    from evosld.evaluation.metrics import score

    if not preds:
        return -math.inf
    r2 = score(np.concatenate(preds), np.concatenate(truths)).r2
    return float(r2) if r2 is not None and not math.isnan(r2) else -math.inf


def fit_law(law: Any, p0: np.ndarray, X: np.ndarray, y: np.ndarray, seed: int = 0,
            log_target: bool = False) -> np.ndarray:
    """Parameters (P,) of ``law`` fitted to (N, F) X and (N,) or (N, T) y from ``p0`` and jittered starts.

    Least squares from each start, the lowest train error kept, then a Huber
    polish with threshold twice the median absolute residual. ``log_target``:
    residuals of ln y (for multiplicative noise: the maximum-likelihood fit).
    """
    from scipy.optimize import least_squares

    p0 = np.asarray(p0, dtype=float)
    rng = np.random.default_rng(seed)

    def resid(p: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            pred = np.asarray(law(X, p), dtype=float)
            r = (np.log(pred) - np.log(y) if log_target else pred - y).ravel()
        return np.where(np.isfinite(r), r, 1e6)

    starts = [p0] + [p0 * np.exp(0.05 * rng.standard_normal(p0.size)) for _ in range(JITTERED_STARTS)]
    best, best_cost = p0, math.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for s in starts:
            try:
                sol = least_squares(resid, s, x_scale="jac", max_nfev=2000)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.all(np.isfinite(sol.x)) and sol.cost < best_cost:
                best, best_cost = sol.x, sol.cost
        scale = 2 * float(np.median(np.abs(resid(best))))
        if scale > 0:
            try:
                sol = least_squares(resid, best, x_scale="jac", loss="huber", f_scale=scale, max_nfev=2000)
                if np.all(np.isfinite(sol.x)):
                    best = sol.x
            except (ValueError, np.linalg.LinAlgError):
                pass
    return best


def truth_scores(table: Any) -> dict[str, Any]:
    """The true law refit per group on train, scored on test: {"test_r2", "test_r2_clipped", "params"}.

    Fitted on ln y where the table's noise is multiplicative, else on y. A real table has no known law:
    its scores are None.
    """
    if table.law is None:
        return {"test_r2": None, "test_r2_clipped": None, "params": {}}
    train, test = split(table)
    gtr, gte = _groups(table, train), _groups(table, test)
    preds, truths, params = [], [], {}
    for i, g in enumerate(dict.fromkeys(gte)):
        Xtr = train.loc[gtr == g, list(table.features)].to_numpy(float)
        ytr = _y(table, train.loc[gtr == g])
        p = fit_law(table.law, np.asarray(table.start(g)), Xtr, ytr, seed=i,
                    log_target=table.noise_kind == "multiplicative" and bool(np.all(ytr > 0)))
        sel = test.loc[gte == g]
        with np.errstate(all="ignore"):
            preds.append(np.asarray(table.law(sel[list(table.features)].to_numpy(float), p), dtype=float))
        truths.append(_y(table, sel))
        params[g] = [float(v) for v in p]
    r2 = pooled_r2(preds, truths)
    return {"test_r2": r2 if math.isfinite(r2) else None, "test_r2_clipped": max(-1.0, r2), "params": params}


def _design(X: np.ndarray, logged: np.ndarray) -> np.ndarray:
    """(N, F + 1) design matrix: ln x for the ``logged`` (F,) columns, x for the others, and a constant."""
    Z = np.where(logged, np.log(np.where(logged, X, 1.0)), X)
    return np.column_stack([Z, np.ones(len(X))])


def loglinear_scores(table: Any) -> dict[str, Any]:
    """ln y = sum_i b_i ln x_i + c per group and target (linear where a column is not positive everywhere)."""
    train, test = split(table)
    feats = list(table.features)
    Xall = table.df[feats].to_numpy(float)
    logged = np.all(Xall > 0, axis=0)
    gtr, gte = _groups(table, train), _groups(table, test)
    preds, truths = [], []
    for g in dict.fromkeys(gte):
        ytr = _y(table, train.loc[gtr == g]).reshape(int((gtr == g).sum()), -1)
        sel = test.loc[gte == g]
        A, B = _design(train.loc[gtr == g, feats].to_numpy(float), logged), _design(sel[feats].to_numpy(float), logged)
        out = []
        for t in range(ytr.shape[1]):
            y = ytr[:, t]
            log_y = bool(np.all(y > 0))
            coef, *_ = np.linalg.lstsq(A, np.log(y) if log_y else y, rcond=None)
            with np.errstate(all="ignore"):
                out.append(np.exp(B @ coef) if log_y else B @ coef)
        preds.append(out[0] if len(out) == 1 else np.column_stack(out))
        truths.append(_y(table, sel))
    r2 = pooled_r2(preds, truths)
    return {"test_r2": r2 if math.isfinite(r2) else None, "test_r2_clipped": max(-1.0, r2)}


# --------------------------------------------------------------------------- one run (in its own process)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:400]


def _from_run(run_dir: Path) -> dict[str, Any]:
    """What a run's directory says besides the result: reference law, selection, stop reason, evaluations."""
    from evosld.run.outputs import STORE_FILE
    from evosld.run.store import RunStore
    from evosld.run.summary import RunSummary

    out: dict[str, Any] = {}
    best = run_dir / "best.json"
    if best.is_file():
        data = json.loads(best.read_text(encoding="utf-8"))
        ref = data.get("reference") or {}
        out["reference"] = {"name": ref.get("name"), "val_r2": (ref.get("val") or {}).get("r2"),
                            "test_r2": (ref.get("test") or {}).get("r2"),
                            "error": (ref.get("test") or {}).get("error")} if ref else None
        sel = data.get("selection") or {}
        out["selection"] = {"rule": sel.get("rule"), "program_id": sel.get("program_id"),
                            "candidates": [{k: c.get(k) for k in ("program_id", "val_r2", "n_params", "folds", "score")}
                                           for c in sel.get("candidates") or []][:10]}
        out["val_split"] = (data.get("split") or {}).get("val_rule")
    if (run_dir / STORE_FILE).is_file():
        with RunStore.open(run_dir / STORE_FILE) as store:
            summary = RunSummary.from_store(store)
            out["stop_reason"] = summary.stop_reason
            out["iterations"] = summary.iterations
            out["evaluations"] = store.evaluation_count()
    return out


def run_one(table: Any, search_seed: int, budget_seconds: float, out_dir: Path) -> dict[str, Any]:
    """Discover a law for ``table`` and score the peers on its split; the benchmark's record of one run.

    ``out_dir/run`` holds evosld's run directory (started afresh).
    """
    import evosld

    out_dir = Path(out_dir)
    run_dir = out_dir / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rec: dict[str, Any] = {"table": table.name, "seed": table.seed, "search_seed": search_seed,
                           "budget_seconds": budget_seconds, "rows": len(table.df),
                           "test_rows": int(table.test_mask.sum()), "test_rule": table.test,
                           "features": list(table.features), "targets": list(table.targets), "group": table.group,
                           "noise": table.noise, "noise_kind": table.noise_kind, "note": table.note}
    rec["truth"] = truth_scores(table)
    rec["loglinear"] = loglinear_scores(table)
    t0 = time.monotonic()
    ev: dict[str, Any] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = evosld.discover(table.df, features=list(table.features), target=table.target, group=table.group,
                                  test=table.test, target_range=table.target_range, budget_seconds=budget_seconds,
                                  seed=search_seed, output=run_dir, progress=False)
            r2 = res.test.get("r2")
            r2 = float(r2) if r2 is not None and math.isfinite(r2) else None
            ev = {"test_r2": r2, "test_r2_clipped": max(-1.0, r2) if r2 is not None else -1.0,
                  "val_r2": res.val.get("r2"), "n_params": res.n_params, "formula": res.formula,
                  "test_error": res.test.get("error"), "split_rows_agree": len(res.task.test) == rec["test_rows"]}
        except Exception as exc:  # noqa: BLE001 - a refusal or a failure is this run's result
            ev = {"error": _one_line(exc), "test_r2": None, "test_r2_clipped": -1.0}
    ev["wall_seconds"] = time.monotonic() - t0
    ev["warnings"] = sorted({str(w.message).splitlines()[0][:200] for w in caught})[:5]
    ev.update(_from_run(run_dir))
    rec["evosld"] = ev
    return rec


def run_operon_one(table: Any, search_seed: int, budget_seconds: float) -> dict[str, Any]:
    """Operon (``benchmarks/peers.py``) on the task evosld builds from ``table`` (same split and validation)."""
    from evosld.tasks import task_from_frame

    peers = _sibling("peers")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = task_from_frame(table.df, list(table.features), table.target, group=table.group, test=table.test,
                               target_range=table.target_range)
    out = peers.run_operon(task, search_seed, budget_seconds)
    best = out.get("best") or {}
    return {"test_r2": best.get("test_r2"), "test_r2_clipped": best.get("test_r2_clipped"),
            "n_params": best.get("n_params"), "formula": best.get("formula"), "seconds": out.get("seconds"),
            "budget_seconds": budget_seconds, "search_seed": search_seed}


# --------------------------------------------------------------------------- the benchmark


def result_dir(output: Path, name: str, seed: int) -> Path:
    """Where one (family, table seed) lives: ``OUTPUT/<family>/seed<k>``."""
    return Path(output) / name / f"seed{seed}"


def _read(path: Path, budget: float, search_seed: int) -> dict[str, Any] | None:
    """A finished record at ``path`` made with these settings, else None."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(rec, dict) and rec.get("budget_seconds") == budget and rec.get("search_seed") == search_seed
    return rec if ok else None


def _subprocess(args: list[str], timeout: float) -> str | None:
    """Run this script with ``args``; None on success, else the last line of its stderr."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines()
        return (lines[-1] if lines else f"exit code {proc.returncode}")[:400]
    return None


def run_all(names: list[str], seeds: tuple[int, ...], args: argparse.Namespace,
            log: Any) -> tuple[list[dict[str, Any]], dict[tuple[str, int], dict[str, Any]], str | None]:
    """Every (family, seed): evosld runs first, then Operon; (records, Operon results, a note on Operon)."""
    output = Path(args.output)
    common = ["--search-seed", str(args.search_seed), "--budget-seconds", str(args.budget_seconds),
              "--output", str(output)]
    timeout = 3 * args.budget_seconds + 600
    items = [(n, s) for n in names for s in seeds]

    def evo(item: tuple[str, int]) -> dict[str, Any]:
        name, seed = item
        path = result_dir(output, name, seed) / RESULT
        hit = _read(path, args.budget_seconds, args.search_seed)
        if hit is not None:
            return hit
        log(f"{name} seed {seed}: evosld, {args.budget_seconds:g} s")
        err = _subprocess(["--one", name, "--table-seed", str(seed), *common], timeout)
        rec = _read(path, args.budget_seconds, args.search_seed)
        if rec is None:
            rec = {"table": name, "seed": seed, "search_seed": args.search_seed, "budget_seconds": args.budget_seconds,
                   "evosld": {"error": f"benchmark subprocess: {err}", "test_r2": None, "test_r2_clipped": -1.0},
                   "truth": {}, "loglinear": {}}
        ev = rec["evosld"]
        log(f"{name} seed {seed}: test R² {cell(ev.get('test_r2'))}, truth {cell(rec['truth'].get('test_r2'))}"
            + (f" ({ev['error']})" if ev.get("error") else ""))
        return rec

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        records = list(pool.map(evo, items))

    operon: dict[tuple[str, int], dict[str, Any]] = {}
    if args.peers == "none":
        return records, operon, "Operon: not run (--peers none)."
    if _sibling("peers").operon_version() is None:
        return records, operon, "Operon: skipped, pyoperon is not installed (pip install -e '.[peers]')."

    def op(item: tuple[str, int]) -> dict[str, Any]:
        name, seed = item
        path = result_dir(output, name, seed) / OPERON
        hit = _read(path, args.budget_seconds, args.search_seed)
        if hit is not None:
            return hit
        log(f"{name} seed {seed}: Operon, {args.budget_seconds:g} s")
        err = _subprocess(["--one", name, "--table-seed", str(seed), "--peer", "operon", *common], timeout)
        return _read(path, args.budget_seconds, args.search_seed) or {"error": err, "test_r2_clipped": -1.0}

    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        for item, res in zip(items, pool.map(op, items)):
            operon[item] = res
    return records, operon, None


# --------------------------------------------------------------------------- summary and table


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def summarize(records: list[dict[str, Any]], operon: dict[tuple[str, int], dict[str, Any]]) -> dict[str, Any]:
    """Rows of the table and the summary line (means of clipped R²; counts over (family, seed) runs)."""
    rows = []
    for r in records:
        ev = r["evosld"]
        op = operon.get((r["table"], r["seed"]))
        ref = ev.get("reference") or {}
        ref_r2 = ref.get("test_r2")
        rows.append({
            "table": r["table"], "seed": r["seed"],
            "evosld": ev.get("test_r2_clipped"), "evosld_unclipped": ev.get("test_r2"), "val_r2": ev.get("val_r2"),
            "n_params": ev.get("n_params"), "truth": r["truth"].get("test_r2_clipped"),
            "baseline": None if ref_r2 is None else max(-1.0, ref_r2),
            "loglinear": r["loglinear"].get("test_r2_clipped"),
            "operon": None if op is None else op.get("test_r2_clipped"),
            "operon_n_params": None if op is None else op.get("n_params"),
            "operon_error": None if op is None else op.get("error"),
            "stop": ev.get("stop_reason"), "evaluations": ev.get("evaluations"), "wall": ev.get("wall_seconds"),
            "formula": ev.get("formula"), "error": ev.get("error"),
        })
    for row in rows:
        row["gap"] = (None if row["truth"] is None or row["evosld"] is None else row["truth"] - row["evosld"])
    summary = {
        "runs": len(rows),
        "mean_evosld": _mean([r["evosld"] for r in rows]),
        "mean_truth": _mean([r["truth"] for r in rows]),
        "mean_baseline": _mean([r["baseline"] for r in rows]),
        "baseline_runs": sum(r["baseline"] is not None for r in rows),
        "mean_loglinear": _mean([r["loglinear"] for r in rows]),
        "mean_operon": _mean([r["operon"] for r in rows]),
        "operon_runs": sum(r["operon"] is not None for r in rows),
        "reaches_truth": sum(r["gap"] is not None and r["gap"] <= TOLERANCE for r in rows),
        "below_loglinear": sum(r["loglinear"] is not None and r["evosld"] < r["loglinear"] for r in rows),
        "below_operon": sum(r["operon"] is not None and r["evosld"] < r["operon"] for r in rows),
        "errors": [f"{r['table']} seed {r['seed']}" for r in rows if r["error"]],
    }
    return {"rows": rows, "summary": summary}



def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(c) for c in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]


def render(result: dict[str, Any]) -> str:
    """The benchmark as Markdown: one row per (family, seed), the summary line, then the law of each run."""
    s, summ = result["settings"], result["summary"]
    header = ["table", "seed", "evosld test R²", "params", "truth", "baseline", "loglinear", "Operon (consts)",
              "gap to truth", "stop", "evals"]
    rows = []
    for r in result["rows"]:
        evo = "error" if r["error"] else cell(r["evosld"])
        if r["evosld_unclipped"] is not None and r["evosld_unclipped"] < -1:
            evo += f" ({r['evosld_unclipped']:.3g})"
        op = ("—" if r["operon"] is None else "error" if r["operon_error"]
              else f"{r['operon']:.3f} ({cell(r['operon_n_params'])})")
        rows.append([r["table"], str(r["seed"]), evo, cell(r["n_params"]), cell(r["truth"]), cell(r["baseline"]),
                     cell(r["loglinear"]), op, cell(r["gap"]), cell(r["stop"]), cell(r["evaluations"])])
    title = ("real tables re-split: SLDBench runs under test rules nobody tuned for, no known law"
             if s["set"] == "real" else "synthetic user-like tables with a known law")
    tables = ("Real tables (benchmarks/realtables.py; truth: none known)" if s["set"] == "real"
              else f"Table seeds {', '.join(map(str, s['seeds']))} ({s['set']} set)")
    lines = [
        f"# evosld generality benchmark: {title}", "",
        f"{tables}; search seed {s['search_seed']}; {s['budget_seconds']:g} s per run; {s['jobs']} run(s) at once.",
        "Test R² clipped at −1 (an evosld run that refused or failed counts −1). truth: the generating law refit per "
        "group on the same train rows (the ceiling; none for a real table); baseline: the law evosld refits itself "
        "beside its pick (the Chinchilla form or the data mixing law, else the plain power law it starts from); "
        "loglinear: ln y on ln x per group; gap to truth: truth − evosld.", "",
        *_table(header, rows), "",
        f"**Summary** over {summ['runs']} run(s): mean clipped test R² evosld {cell(summ['mean_evosld'])}"
        + (f", truth {cell(summ['mean_truth'])}" if summ["mean_truth"] is not None else "")
        + f", loglinear {cell(summ['mean_loglinear'])}, baseline {cell(summ['mean_baseline'])} "
        f"(on its {summ['baseline_runs']} runs)"
        + (f", Operon {cell(summ['mean_operon'])} (on its {summ['operon_runs']} runs)" if summ["operon_runs"] else "")
        + "; "
        + (f"evosld ≥ truth − {TOLERANCE} on {summ['reaches_truth']}/{summ['runs']}, "
           if summ["mean_truth"] is not None else "")
        + f"evosld < loglinear on {summ['below_loglinear']}/{summ['runs']}"
        + (f", evosld < Operon on {summ['below_operon']}/{summ['operon_runs']}" if summ["operon_runs"] else "") + ".",
    ]
    if result.get("operon_note"):
        lines.append(result["operon_note"])
    if summ["errors"]:
        lines.append(f"Refused or failed: {', '.join(summ['errors'])}.")
    law_rows = [[r["table"], str(r["seed"]), cell(r["val_r2"]), cell(r["wall"], 0),
                 (r["error"] or r["formula"] or "—").replace("|", "\\|")] for r in result["rows"]]
    lines += ["", "## Law per run", "", *_table(["table", "seed", "val R²", "wall s", "law or error"], law_rows), ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    p = ScriptParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget-seconds", dest="budget_seconds", type=float, default=60.0,
                   help="search budget of each evosld run (and of Operon)")
    p.add_argument("--set", dest="set", choices=sorted(SETS), default="tune",
                   help=f"table seeds: tune {list(synth.TUNE_SEEDS)}, holdout {list(synth.HOLDOUT_SEEDS)} or all; "
                   "real: the SLDBench runs re-split (benchmarks/realtables.py, needs EVOSLD_DATA)")
    p.add_argument("--tables", default="all", help="families to run, comma-separated (default all)")
    p.add_argument("--search-seed", dest="search_seed", type=int, default=0, help="evosld's (and Operon's) seed")
    p.add_argument("--jobs", type=int, default=2, help="runs at once")
    p.add_argument("--peers", choices=("operon", "none"), default="operon")
    p.add_argument("--output", default=DEFAULT_OUTPUT)
    p.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one family in this process
    p.add_argument("--table-seed", dest="table_seed", type=int, help=argparse.SUPPRESS)
    p.add_argument("--peer", help=argparse.SUPPRESS)
    return p


def make_table(name: str, seed: int) -> Any:
    """A synthetic table (``synthtables``) or a real one (``realtables``), by name."""
    return real.make(name, seed) if name in real.TABLES else synth.make(name, seed)


def _main_one(args: argparse.Namespace) -> int:
    table = make_table(args.one, args.table_seed)
    out_dir = result_dir(Path(args.output), args.one, args.table_seed)
    from evosld.run.outputs import write_atomic

    if args.peer == "operon":
        rec = run_operon_one(table, args.search_seed, args.budget_seconds)
        write_atomic(out_dir / OPERON, json.dumps(rec, indent=1) + "\n")
        return 0
    rec = run_one(table, args.search_seed, args.budget_seconds, out_dir)
    write_atomic(out_dir / RESULT, json.dumps(rec, indent=1, default=float) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.one:
        return _main_one(args)
    known = real.TABLES if args.set == "real" else synth.FAMILIES
    names = list(known) if args.tables == "all" else [t.strip() for t in args.tables.split(",") if t.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"error: unknown table(s) {', '.join(unknown)} for --set {args.set}; known: {', '.join(known)}",
              file=sys.stderr)
        return 2
    if args.set == "real":
        try:
            real.data_root()
        except FileNotFoundError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if not args.budget_seconds > 0 or args.jobs < 1:
        print("error: --budget-seconds must be positive and --jobs at least 1", file=sys.stderr)
        return 2
    seeds = SETS[args.set]
    log = lambda line: print(f"  {line}", file=sys.stderr, flush=True)  # noqa: E731
    print(f"generality benchmark: {len(names)} table(s) x seeds {seeds}, {args.budget_seconds:g} s each, "
          f"{args.jobs} at a time -> {args.output}", file=sys.stderr, flush=True)
    records, operon, note = run_all(names, seeds, args, log)
    result = summarize(records, operon)
    result["settings"] = {"set": args.set, "seeds": list(seeds), "tables": names, "search_seed": args.search_seed,
                          "budget_seconds": args.budget_seconds, "jobs": args.jobs, "peers": args.peers}
    result["operon_note"] = note
    result["records"] = records
    result["operon"] = {f"{k[0]} seed {k[1]}": v for k, v in operon.items()}
    text = render(result)
    from evosld.run.outputs import write_atomic

    write_atomic(Path(args.output) / MARKDOWN, text)
    write_atomic(Path(args.output) / JSON_FILE, json.dumps(result, indent=1, default=float) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
