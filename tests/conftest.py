"""Shared fixtures: the SLDBench data directory, a sandbox, synthetic tasks."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosld.evaluation import Limits, Sandbox
from evosld.run.store import RunStore
from evosld.tasks import task_from_frame

DATA_ENV = "EVOSLD_DATA"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The SLDBench tables; skips locally when absent, fails under CI."""
    root = os.environ.get(DATA_ENV)
    if not root or not Path(root).is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{DATA_ENV} must point at the SLDBench tables under CI (got {root!r})")
        pytest.skip(f"set {DATA_ENV} to the SLDBench tables to run data tests")
    return Path(root)


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    sb = Sandbox(Limits(wall_seconds=20, cpu_seconds=30, memory_mb=2048))
    sb.warm_up()
    return sb


def chinchilla_frame(seed: int = 0, noise: float = 0.01) -> pd.DataFrame:
    """A synthetic table from L = E + A/N^a + B/D^b over a grid of N and D."""
    rng = np.random.default_rng(seed)
    N = np.repeat(np.logspace(7, 10, 7), 6)
    D = np.tile(np.logspace(9, 12, 6), 7)
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28
    loss = loss * (1 + noise * rng.standard_normal(len(loss)))
    return pd.DataFrame({"N": N, "D": D, "loss": loss})


SFT_TASK = "sft_scaling_law"


def write_sft_tables(root: Path) -> Path:
    """A small synthetic SFT table (three groups, plateau then power law) as ``root/sft_scaling_law`` (a data directory)."""
    rng = np.random.default_rng(0)
    frames = []
    for i, (b, a, e) in enumerate([(3.0, 0.3, 1.2), (2.5, 0.25, 1.0), (3.5, 0.35, 1.5)]):
        d = 200.0 * 2.0 ** np.arange(13)
        loss = e + b / (1 + (d / 3000.0) ** a) * (1 + 0.005 * rng.standard_normal(d.size))
        frames.append(pd.DataFrame({"group": f"model{i}|data", "sft_data_size": d, "sft_loss": loss}))
    table = pd.concat(frames, ignore_index=True)
    largest = table["sft_data_size"] == table["sft_data_size"].max()
    (root / SFT_TASK).mkdir(parents=True)
    table[~largest].to_csv(root / SFT_TASK / "train.csv", index=False)
    table[largest].to_csv(root / SFT_TASK / "test.csv", index=False)
    return root


@pytest.fixture
def synthetic_task():
    return task_from_frame(chinchilla_frame(), ["N", "D"], "loss", name="chinchilla")


def store_with_laws(path: Path, task_name: str, laws: list[tuple[str, str, float]],
                    n_params: int) -> tuple[RunStore, dict[str, int]]:
    """A run store at ``path`` holding ``(name, source, val R²)`` laws, each evaluated on val; name -> program id."""
    store = RunStore.create(path, task_name, 0, {})
    ids = {}
    for name, src, val in laws:
        pid = store.add_program(src, meta={"n_params": n_params})
        store.add_evaluation(pid, {"split": "val", "r2": val}, r2=val)
        ids[name] = pid
    return store, ids



def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """``evosld ARGS`` in this process: (exit code, stdout, stderr)."""
    from evosld import cli

    code = cli.main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error(code: int, err: str) -> str:
    """The one ``error:`` line a refused command printed (exit code 2, nothing else on stderr)."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]
