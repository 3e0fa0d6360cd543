"""Per-candidate overhead of the sandbox, against a fresh `python` per candidate.

Prints, from one run on this machine:
- the mean wall time to run a trivial program in the sandbox (warm forkserver);
- the mean wall time to run the same program in a freshly launched interpreter
  that imports numpy and scipy.optimize (what a naive evaluator does);
- their ratio;
- evaluations per second of the human law on sft_scaling_law (42 groups);
- the time of a program doing a fit's linear algebra (SVD, lstsq) alone and
  while other processes keep every core busy, and their ratio. Before the
  forkserver was started with one BLAS thread, this program took 50x longer
  alone and 240x longer with the cores busy.

Usage: EVOSLD_DATA=../shared/sldbench python benchmarks/eval_overhead.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from evosld.evaluation import Evaluator, Sandbox
from evosld.tasks import load_task
from evosld.tasks.baselines import baseline_source

TRIVIAL = """
import numpy as np
def scaling_law_func(data_points, params):
    return np.full(len(data_points), params[0])
def fit_scaling_law(data_points, loss_values):
    return np.array([float(np.mean(loss_values))])
"""

FRESH_RUNNER = """
import json, sys
import numpy as np, scipy.optimize
ns = {}
exec(open(sys.argv[1]).read(), ns)
X = np.arange(1.0, 9.0).reshape(-1, 1)
p = ns["fit_scaling_law"](X, X[:, 0])
print(json.dumps(np.asarray(ns["scaling_law_func"](X, p)).tolist()))
"""


LSTSQ = """
import numpy as np
import scipy.linalg
def fit_scaling_law(data_points, loss_values):
    A = np.random.default_rng(0).random((2700, 8))
    for _ in range(500):
        scipy.linalg.svd(A, full_matrices=False)
        np.linalg.lstsq(A, A[:, 0], rcond=None)
    return np.array([float(np.mean(loss_values))])
def scaling_law_func(data_points, params):
    return np.full(len(data_points), params[0])
"""

BUSY = "import time\nt = time.time()\nwhile time.time() - t < {seconds}: pass\n"


def tiny_job() -> dict:
    """A one-group sandbox job of 8 rows, 1 feature."""
    X = np.arange(1.0, 9.0).reshape(-1, 1)
    return {"groups": [{"name": "g", "X_fit": X, "y_fit": X[:, 0], "predict": {"scored": X}}]}


def lstsq_seconds(sandbox: Sandbox, busy: bool) -> float:
    """Wall time of the LSTSQ program, alone or with every core kept busy."""
    job = tiny_job()
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY.format(seconds=120)])
            for _ in range(os.cpu_count() or 1)] if busy else []
    try:
        t0 = time.perf_counter()
        r = sandbox.run(LSTSQ, job)
        assert r.ok, r.message
        return time.perf_counter() - t0
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def sandbox_seconds(sandbox: Sandbox, repeats: int) -> float:
    job = tiny_job()
    sandbox.run(TRIVIAL, job)  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        r = sandbox.run(TRIVIAL, job)
        assert r.ok, r.message
    return (time.perf_counter() - t0) / repeats


def fresh_python_seconds(repeats: int) -> float:
    with tempfile.TemporaryDirectory() as d:
        prog = os.path.join(d, "candidate.py")
        runner = os.path.join(d, "runner.py")
        with open(prog, "w") as f:
            f.write(TRIVIAL)
        with open(runner, "w") as f:
            f.write(FRESH_RUNNER)
        t0 = time.perf_counter()
        for _ in range(repeats):
            subprocess.run([sys.executable, runner, prog], check=True, capture_output=True)
        return (time.perf_counter() - t0) / repeats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--sft-repeats", type=int, default=5)
    args = ap.parse_args()

    sandbox = Sandbox()
    sandbox.warm_up()
    sb = sandbox_seconds(sandbox, args.repeats)
    fresh = fresh_python_seconds(args.repeats)
    print(f"trivial program, sandbox (warm forkserver): {sb * 1000:8.1f} ms per candidate")
    print(f"trivial program, fresh python + numpy/scipy: {fresh * 1000:8.1f} ms per candidate")
    print(f"ratio fresh / sandbox: {fresh / sb:8.1f}x")

    task = load_task("sft_scaling_law")
    ev = Evaluator(task, sandbox)
    src = baseline_source("sft_scaling_law")
    ev.evaluate(src, "val")
    t0 = time.perf_counter()
    for _ in range(args.sft_repeats):
        e = ev.evaluate(src, "val")
        assert e.ok, e.message
    per = (time.perf_counter() - t0) / args.sft_repeats
    print(f"human law on sft_scaling_law (42 groups, val): {1 / per:8.2f} evaluations/s ({per:.2f} s each, fit {e.fit_seconds:.2f} s)")

    alone = lstsq_seconds(sandbox, busy=False)
    busy = lstsq_seconds(sandbox, busy=True)
    print(f"500 SVDs and least-squares solves of 2700 x 8: {alone:.2f} s alone, {busy:.2f} s with all cores busy "
          f"(ratio {busy / alone:.1f}x)")


if __name__ == "__main__":
    main()
