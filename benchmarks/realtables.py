"""Real tables with splits nobody tuned for: the SLDBench runs, held out the way another researcher might.

Every selection rule of evosld was measured on the eight SLDBench tables with
SLDBench's own held-out regimes (the largest data, the largest vocabulary, the
largest dense size...). A user brings real runs and a test rule of their own.
These tables are the same real runs (read from ``EVOSLD_DATA``: train and test
of a built-in task together, the ``group`` column renamed as a user would name
it), held out another way: the largest model sizes instead of the most data,
the most experts instead of the largest dense size, more parallel streams,
the two largest fine-tuning sets, a lower emergence threshold, random held-out
mixtures. They go through ``evosld.discover`` as a user's DataFrame, so the
derived validation rule, the default parameter limit and the reference law
are a user's.

No generating law is known, so the generality benchmark shows no truth for
them (``--set real``): evosld beside the law it refits itself (the plain power
law, the Chinchilla form, or the data mixing law), a log-linear fit and
Operon. The splits were chosen in session 46 before any evosld run on them;
nothing in evosld has been tuned on their results.

Usage: EVOSLD_DATA=../shared/sldbench python benchmarks/generality.py --set real --peers none
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: Where the SLDBench tables are (one folder per task with train.csv and test.csv).
DATA_ENV = "EVOSLD_DATA"


@dataclass(frozen=True)
class Resplit:
    """One built-in task's runs under another test rule.

    Attributes:
        name: the table's name in the benchmark.
        task: the built-in task whose runs (train and test together) it holds.
        test: the test rule, as a user would type it (``evosld discover --test``).
        group: the name the ``group`` column gets (None: the task has one group, and the column is dropped).
        note: what is held out.
    """

    name: str
    task: str
    test: str
    group: str | None
    note: str


RESPLITS: tuple[Resplit, ...] = (
    Resplit("dc_largest_models", "data_constrained_scaling_law", "params >= 2.8e9", None,
            "the four largest models (2.8B to 8.7B parameters), every data budget"),
    Resplit("dc_most_data", "data_constrained_scaling_law", "tokens >= 5e10", None,
            "runs with the most unique data (50B tokens or more), every model size"),
    Resplit("lr_bsz_most_data", "lr_bsz_scaling_law", "data_size >= 8e10", None,
            "runs on 80B tokens or more, every model size, learning rate and batch size"),
    Resplit("lr_bsz_largest_model", "lr_bsz_scaling_law", "non_embedding_param_size >= 1e9", None,
            "the 1.07B model at every data size"),
    Resplit("vocab_largest_model", "vocab_scaling_law", "largest:non_vocab_parameters", None,
            "the largest model (1.13B non-vocabulary parameters), every vocabulary"),
    Resplit("vocab_large_vocabularies", "vocab_scaling_law", "vocab_size >= 64000", None,
            "the two largest vocabularies (64K and 96K), every model size"),
    Resplit("moe_most_experts", "moe_scaling_law", "num_experts >= 256", None,
            "256 and 512 experts, every dense size"),
    Resplit("moe_two_largest", "moe_scaling_law", "dense_parameter_count >= 3e8", None,
            "the two largest dense sizes (368M and 1.3B), every expert count"),
    Resplit("parallel_largest_models", "parallel_scaling_law", "num_params >= 3e9", "corpus",
            "the largest models (3B parameters or more), every number of parallel streams"),
    Resplit("parallel_p4_p8", "parallel_scaling_law", "parallel_size >= 4", "corpus",
            "4 and 8 parallel streams, fitted on 1 and 2"),
    Resplit("sft_two_largest", "sft_scaling_law", "sft_data_size >= 409600", "setting",
            "the two largest fine-tuning sets of each (model, dataset) pair"),
    Resplit("sft_three_largest", "sft_scaling_law", "sft_data_size >= 204800", "setting",
            "the three largest fine-tuning sets of each (model, dataset) pair"),
    Resplit("easy_from_1_8", "easy_question_scaling_law", "log_flops >= 1.8", "benchmark",
            "every benchmark above 10^1.8 x 1e21 FLOPs (one threshold for all)"),
    Resplit("easy_from_2_0", "easy_question_scaling_law", "log_flops >= 2.0", "benchmark",
            "every benchmark above 10^2 x 1e21 FLOPs"),
    Resplit("mixture_random", "domain_mixture_scaling_law", "random:5", "model",
            "five random mixtures per model size (SLDBench holds out six chosen ones)"),
)
TABLES: dict[str, Resplit] = {r.name: r for r in RESPLITS}


def _synthtables():
    """``benchmarks/synthtables.py`` (whose ``SynthTable`` a real table is, without a law), loaded once."""
    name = "evosld_bench_synthtables"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("synthtables.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
    return sys.modules[name]


def data_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The SLDBench tables' folder: ``data_dir``, else ``$EVOSLD_DATA``; FileNotFoundError when neither is one."""
    root = data_dir or os.environ.get(DATA_ENV)
    if not root or not Path(root).is_dir():
        raise FileNotFoundError(f"the real tables are the SLDBench runs: set {DATA_ENV} to their folder "
                                f"(e.g. {DATA_ENV}=../shared/sldbench), got {root!r}")
    return Path(root)


def make(name: str, seed: int = 0, data_dir: str | os.PathLike | None = None):
    """The real table ``name`` as a ``synthtables.SynthTable`` with no law (``law`` None, noise kind "real"):
    its runs, features, target(s), group column, test rule and the (N,) rows that rule holds out.
    ``seed`` is accepted for the benchmark's sake and must be 0."""
    from evosld.tasks.builtin import BUILTIN
    from evosld.tasks.splits import rule_mask

    if name not in TABLES:
        raise KeyError(f"unknown real table {name!r}; known: {', '.join(TABLES)}")
    if seed != 0:
        raise ValueError(f"a real table has one version (seed 0), not seed {seed}")
    r = TABLES[name]
    spec = BUILTIN[r.task]
    folder = data_root(data_dir) / r.task
    df = pd.concat([pd.read_csv(folder / "train.csv"), pd.read_csv(folder / "test.csv")], ignore_index=True)
    keys = df["group"].astype(str)
    df = df.drop(columns="group") if r.group is None else df.rename(columns={"group": r.group})
    mask = rule_mask(df.assign(group=keys), r.test, spec.features)  # per group, as evosld reads the rule
    return _synthtables().SynthTable(name, 0, df, spec.features, spec.targets, r.group, r.test,
                                     np.asarray(mask, dtype=bool), None, (), float("nan"), "real",
                                     note=f"{r.note} ({r.task}, re-split)")
