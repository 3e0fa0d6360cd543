"""Speed and quality of the symbolic fitter: analytic Jacobians against scipy's finite differences.

Every law the offline search proposes is fitted twice: in-process by the
pre-screen (``SCREEN_FIT``) and in the sandbox by the emitted program
(``PROGRAM_FIT``). Both run ``fit.fit_varpro``; this script fits the same laws
with ``jacobian=True`` (the default: ``fit.projected_jacobian`` and
``fit.basis_derivatives``) and ``jacobian=False`` (scipy's 2-point finite
differences), in one run on this machine, and prints per task and setting:

- the wall time of all fits of each variant and their ratio (old / new);
- the mean validation R² of the fitted laws (fit rows -> validation rows, all
  groups concatenated, clipped at -1) under each variant;
- how often the new fit's Huber objective on the fit rows is no worse than
  the old one's (within 1e-9 relative), i.e. the fits agree or improve.

The laws are the proposer's seed laws plus mutations of them drawn with a
fixed seed (``--laws`` per task). Timings are wall clock on a shared
machine: compare the ratio, measured in the same run, not the seconds.

    EVOSLD_DATA=../shared/sldbench python benchmarks/fit_speed.py
    EVOSLD_DATA=../shared/sldbench python benchmarks/fit_speed.py --tasks moe_scaling_law --laws 20
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from evosld.proposers.symbolic.emit import PROGRAM_FIT
from evosld.proposers.symbolic.model import Model
from evosld.proposers.symbolic.proposer import SymbolicProposer
from evosld.proposers.symbolic.screen import SCREEN_FIT, r2
from evosld.tasks.builtin import task_names
from evosld.tasks.loaders import load_task


def laws_for(proposer: SymbolicProposer, n: int, seed: int = 0) -> list:
    """Up to ``n`` distinct laws: the seed laws, then mutations of them."""
    out, keys = [], set()
    for law in proposer.seed_laws():
        if law.key not in keys:
            out.append(law)
            keys.add(law.key)
    rng = np.random.default_rng(seed)
    tries = 0
    while len(out) < n and tries < 20 * n:
        tries += 1
        parent = out[int(rng.integers(len(out)))]
        for law, _ in proposer.candidates(rng, parent, out, 1):
            if law.key not in keys:
                out.append(law)
                keys.add(law.key)
    return out[:n]


def huber_cost(res: np.ndarray) -> float:
    """The polish's objective at its own threshold (2x the median absolute residual)."""
    d = 2.0 * float(np.median(np.abs(res))) or 1e-300
    a = np.abs(res)
    return float(np.sum(np.where(a <= d, 0.5 * a**2, d * a - 0.5 * d**2)))


def measure(task_name: str, n_laws: int, settings: dict) -> dict:
    """Fit ``n_laws`` laws of one task with both Jacobians; times, validation R² and agreement."""
    task = load_task(task_name).search_view()
    proposer = SymbolicProposer(task, seed=0)
    fit, val = task.split_arrays("val")
    laws = laws_for(proposer, n_laws)
    seconds = {True: 0.0, False: 0.0}
    scores: dict[bool, list[float]] = {True: [], False: []}
    no_worse = total = 0
    for law in laws:
        model = Model(law, proposer.space)
        preds: dict[bool, list[np.ndarray]] = {True: [], False: []}
        truth = []
        for g in fit:
            if g not in val:
                continue
            cost = {}
            for jac in (False, True):
                t0 = time.perf_counter()
                params = model.fit(fit[g].X, fit[g].y, **settings, jacobian=jac)
                seconds[jac] += time.perf_counter() - t0
                preds[jac].append(np.asarray(model.predict(val[g].X, params), dtype=float).reshape(len(val[g].X), -1))
                res = np.asarray(model.predict(fit[g].X, params), dtype=float).reshape(len(fit[g].X), -1)
                cost[jac] = huber_cost((res - fit[g].y.reshape(len(fit[g].X), -1)).ravel())
            truth.append(val[g].y.reshape(len(val[g].X), -1))
            total += 1
            no_worse += cost[True] <= cost[False] * (1 + 1e-9) + 1e-300
        for jac in (False, True):
            scores[jac].append(max(-1.0, r2(np.concatenate(preds[jac]), np.concatenate(truth))))
    return {"laws": len(laws), "old_s": seconds[False], "new_s": seconds[True],
            "old_r2": float(np.mean(scores[False])), "new_r2": float(np.mean(scores[True])),
            "no_worse": no_worse, "fits": total}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", default="all", help="comma-separated built-in tasks (default: all)")
    ap.add_argument("--laws", type=int, default=10, help="laws per task (default 10)")
    args = ap.parse_args()
    names = task_names() if args.tasks == "all" else [t.strip() for t in args.tasks.split(",") if t.strip()]
    print("| task | setting | laws | fits | FD s | analytic s | speed-up | val R² FD | val R² analytic | analytic no worse |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name in names:
        for label, settings in (("screen", SCREEN_FIT), ("program", PROGRAM_FIT)):
            m = measure(name, args.laws, dict(settings))
            print(f"| {name} | {label} | {m['laws']} | {m['fits']} | {m['old_s']:.1f} | {m['new_s']:.1f} | "
                  f"{m['old_s'] / max(m['new_s'], 1e-9):.2f}x | {m['old_r2']:.4f} | {m['new_r2']:.4f} | "
                  f"{m['no_worse']}/{m['fits']} |", flush=True)


if __name__ == "__main__":
    main()
