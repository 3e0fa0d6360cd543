"""A dense table (learning curves logged at every step): the search on a share of the fit rows against all of them.

``tasks.thinning`` lets the search's fits (validation, the inner folds, the
final pick's checks) use about ``SEARCH_FIT_ROWS`` fit rows; the test score
and the returned law fit on every train row. This script runs the same
discovery twice in one process, once as shipped and once with the cap lifted
(every fit on every row, as before the cap), on a synthetic table of loss
curves (L = E + A/N^a + B/D^b, noise 0.02, ``--sizes`` model sizes with
``--steps`` logged steps each; test: the largest model) and prints, per
variant, the evaluations made in the budget, evaluations per second, the
wall time (search plus finishing), laws the finishing allowance did not
reach, and the test R² and parameter count of the pick. Wall times depend on
the machine and its load: compare the two rows of one run.

    python benchmarks/dense_tables.py
    python benchmarks/dense_tables.py --steps 12000 --budget-seconds 60
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

import evosld
from evosld.tasks import thinning


def dense_curves(sizes: int, steps: int, seed: int = 0) -> pd.DataFrame:
    """(sizes * steps) rows: one per logged step of each model's loss curve."""
    rng = np.random.default_rng(seed)
    frames = []
    for N in np.logspace(np.log10(2e7), np.log10(1.6e9), sizes):
        D = np.arange(100, 100 + steps) * 5e5
        loss = 1.7 + 400 * N**-0.34 + 410 * D**-0.28 + rng.normal(0, 0.02, steps)
        frames.append(pd.DataFrame({"N": N, "tokens": D, "loss": loss}))
    return pd.concat(frames, ignore_index=True)


def run(df: pd.DataFrame, budget: float, cap: int, out: Path) -> dict:
    """One discovery with the search's fits capped at ``cap`` rows; its figures."""
    thinning.SEARCH_FIT_ROWS = cap
    t0 = time.monotonic()
    result = evosld.discover(df, ["N", "tokens"], "loss", budget_seconds=budget, seed=0, progress=False, output=out)
    wall = time.monotonic() - t0
    best = json.loads((out / "best.json").read_text())
    con = sqlite3.connect(out / "run.sqlite")
    evals = con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]
    con.close()
    return {"search fit rows": best["split"]["search_fit_rows"], "evals": evals, "evals/s": evals / budget,
            "wall s": wall, "unchecked": len(best["selection"].get("unchecked") or []) if best.get("selection") else 0,
            "test R²": result.test["r2"], "params": result.n_params}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, default=7, help="model sizes (the largest is test)")
    ap.add_argument("--steps", type=int, default=6000, help="logged steps per model")
    ap.add_argument("--budget-seconds", type=float, default=60.0)
    args = ap.parse_args()
    df = dense_curves(args.sizes, args.steps)
    shipped = thinning.SEARCH_FIT_ROWS
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, cap in ((f"capped at {shipped}", shipped), ("every row", 10**9)):
            rows[label] = run(df, args.budget_seconds, cap, Path(tmp) / label.replace(" ", "_"))
    thinning.SEARCH_FIT_ROWS = shipped
    print(f"{len(df):,} rows ({args.sizes} model sizes x {args.steps} steps), {args.budget_seconds:g} s budget, seed 0\n")
    keys = list(next(iter(rows.values())))
    print("| variant | " + " | ".join(keys) + " |")
    print("|---|" + "---:|" * len(keys))
    for label, r in rows.items():
        cells = [f"{v:.4f}" if k == "test R²" else f"{v:.1f}" if isinstance(v, float) else f"{v:,}"
                 for k, v in r.items()]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
