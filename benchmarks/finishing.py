"""How long a run takes to finish, its checks run one at a time against several at once.

Once the search stops, the final pick refits the laws in the running on the
inner folds and probes them beyond the data, and the reference law is refit
(``run.runner.finish``). With ``--workers`` above 1 those evaluations are
started together, ``--workers`` at a time (``run.finishing.Ahead``).

For each table (synthetic families of ``benchmarks/synthtables.py``, and
built-in tasks given with ``--tasks``), one short discovery is run (its search
is not what is measured). Its store is then copied once per worker count, its
checks, reference and pick are cleared, and ``evosld discover --resume`` finishes
it again. Printed per table: the finishing seconds (``best.json`` ``finishing.used``)
and the resume's wall time with 1 worker and with N, their ratio, and whether
the pick is the same (it must be: the checks are the same deterministic fits).

Usage: python benchmarks/finishing.py [--tables figure_chinchilla,uneven_compound,lr_bowl] [--tasks T1,T2]
           [--workers N] [--budget-seconds 30] [--output DIR]
Built-in tasks read ``$EVOSLD_DATA`` (or the Hub).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from evosld.run.runner import (
    FOLD_PROBE_STATE,
    FOLD_ROWS_STATE,
    FOLD_STATE,
    INFORMATION_STATE,
    PROBE_POINTS_STATE,
)
from evosld.run.store import RunStore

#: The state a finish writes; cleared so the resume redoes every check.
FINISH_STATE = {FOLD_STATE: {}, FOLD_ROWS_STATE: None, FOLD_PROBE_STATE: {}, "probe_excess": {},
                PROBE_POINTS_STATE: {}, "reference": None, "selection": None, "final_program_id": None, "scatter": None,
                "prior_check": None, INFORMATION_STATE: None}


def _synth() -> Any:
    spec = importlib.util.spec_from_file_location("evosld_bench_synthtables", Path(__file__).with_name("synthtables.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def search_once(name: str, out: Path, budget: float, builtin: bool) -> Path:
    """One short discovery of a synthetic family (seed 0) or a built-in task; its run directory."""
    run_dir = out / name / "search"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    base = [sys.executable, "-m", "evosld.cli", "discover"]
    if builtin:
        args = [*base, name]
    else:
        table = _synth().make(name, 0)
        csv = out / name / "table.csv"
        csv.parent.mkdir(parents=True, exist_ok=True)
        table.df.to_csv(csv, index=False)
        args = [*base, "--csv", str(csv), "--features", ",".join(table.features), "--target", ",".join(table.targets),
                "--test", table.test]
        if table.group:
            args += ["--group-by", table.group]
        if table.target_range:
            args += ["--target-range", table.target_range]
    args += ["--budget-seconds", str(budget), "--seed", "0", "--output", str(run_dir), "--quiet"]
    subprocess.run(args, check=True, capture_output=True, text=True)
    return run_dir


def refinish(run_dir: Path, copy: Path, workers: int) -> dict[str, Any]:
    """Finish a copy of ``run_dir`` again from scratch with ``workers``; its figures."""
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(run_dir, copy)
    with RunStore.open(copy / "run.sqlite") as store:
        store.update_state(FINISH_STATE)
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(copy), "--workers", str(workers),
                    "--quiet"], check=True, capture_output=True, text=True)
    wall = time.monotonic() - t0
    best = json.loads((copy / "best.json").read_text())
    return {"workers": workers, "finishing": float(best["finishing"]["used"]), "wall": wall,
            "pick": best["program_id"], "checked": len(best["selection"]["candidates"])}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", default="figure_chinchilla,uneven_compound,lr_bowl",
                   help="synthetic families (benchmarks/synthtables.py), comma-separated; '' for none")
    p.add_argument("--tasks", default="", help="built-in tasks, comma-separated")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="the parallel side (default: cores)")
    p.add_argument("--budget-seconds", type=float, default=30.0, help="each table's one search")
    p.add_argument("--output", help="keep the runs here (default: a temporary directory)")
    args = p.parse_args(argv)
    names = [(n, False) for n in args.tables.split(",") if n] + [(n, True) for n in args.tasks.split(",") if n]
    out = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="evosld-finishing-"))
    print(f"finishing one worker against {args.workers} (this machine: {os.cpu_count()} cores); runs in {out}")
    print(f"{'table':28s} {'laws':>4s} {'1 worker s':>10s} {f'{args.workers} workers s':>11s} {'ratio':>6s} "
          f"{'wall 1/N s':>13s} same pick")
    ratios = []
    for name, builtin in names:
        run_dir = search_once(name, out, args.budget_seconds, builtin)
        one = refinish(run_dir, out / name / "w1", 1)
        many = refinish(run_dir, out / name / f"w{args.workers}", args.workers)
        ratio = one["finishing"] / max(many["finishing"], 1e-9)
        ratios.append(ratio)
        print(f"{name:28s} {one['checked']:4d} {one['finishing']:10.1f} {many['finishing']:11.1f} {ratio:6.2f} "
              f"{one['wall']:6.1f}/{many['wall']:<6.1f} {'yes' if one['pick'] == many['pick'] else 'NO'}")
    if ratios:
        print(f"median ratio {sorted(ratios)[len(ratios) // 2]:.2f} (finishing seconds, 1 worker / {args.workers})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
