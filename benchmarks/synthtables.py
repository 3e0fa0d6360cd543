"""Synthetic tables of training runs that look like users' tables, each with a KNOWN generating law.

Used by ``benchmarks/generality.py`` (and its tests): each family is a pure
function ``seed -> SynthTable``, the same seed giving the same table. Every
family imitates a kind of published data and the way it has broken tools
before (sizes read off a figure, a handful of runs, a target in small units,
raw FLOPs, a column with zeros, a non-monotone target, diverged runs...).

Table seeds are split: ``TUNE_SEEDS`` may be looked at while changing evosld,
``HOLDOUT_SEEDS`` only to report the change. A holdout whose runs have been
examined joins the tune seeds and fresh seeds become the holdout: seeds 2 and
3 were the holdout until session 24, whose selection analysis read their runs'
candidates; 4 and 5 until session 25, whose selection change was tried on
some of their runs; 6 and 7 until session 26, whose selection change was
tried on one of their runs; 8 and 9 until session 27, which read their runs
while looking for what the search and the pick miss; 10 and 11 until
session 32, which read the picks of their model_suite runs; 12 and 13 until
session 51 (session 50 read the candidates of their runs while weighing a
selection rule); from then the holdout is 14 and 15.

The laws and constants cite their papers; the tables themselves are made up.
This module only builds tables (numpy and pandas); it runs nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

#: Table seeds to tune on and to report on (never tune on the holdout seeds).
TUNE_SEEDS: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)
HOLDOUT_SEEDS: tuple[int, ...] = (14, 15)

#: law(X, params) -> predictions: X (N, F) in the table's feature order, params (P,); returns (N,) or (N, T).
Law = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class SynthTable:
    """One synthetic table and what generated it.

    Attributes:
        name: the family's name.
        seed: the table seed it was generated from.
        df: the runs, one row per run (features, target(s), group and extra columns).
        features: feature columns, in the order ``law`` receives them.
        targets: target column(s); ``law`` returns (N,) for one, (N, T) for several.
        group: the group column (fitted separately), or None.
        test: the test rule as a user would type it (``evosld discover --test``).
        test_mask: (N,) bool, the rows that rule holds out (computed here, independently of evosld).
        law: the true law; refit per group on train rows (``p0`` as the start). None for a real table
            (``realtables.py``): no law is known.
        p0: the true parameters (of the first group), a start for refitting.
        group_p0: the true parameters of each group when they differ between groups (else empty).
        noise: size of the noise (``noise_kind`` says of what kind).
        noise_kind: "additive", "multiplicative" (relative) or a short phrase.
        target_range: the range the target can take, as ``discover(target_range=...)`` takes it, or None.
        note: what the family imitates and what it tests.
    """

    name: str
    seed: int
    df: pd.DataFrame
    features: tuple[str, ...]
    targets: tuple[str, ...]
    group: str | None
    test: str
    test_mask: np.ndarray
    law: Law | None
    p0: tuple[float, ...]
    noise: float
    noise_kind: str
    target_range: str | None = None
    note: str = ""
    extra: dict[str, object] = field(default_factory=dict)
    group_p0: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def start(self, group: str) -> tuple[float, ...]:
        """The true parameters of ``group``: a start for refitting the true law there."""
        return self.group_p0.get(group, self.p0)

    @property
    def target(self) -> str | list[str]:
        """The target as ``evosld.discover`` takes it: a name, or a list of names."""
        return self.targets[0] if len(self.targets) == 1 else list(self.targets)


# --------------------------------------------------------------------------- helpers


def _rng(seed: int, name: str) -> np.random.Generator:
    """A generator seeded by the table seed and the family name (families do not share draws)."""
    return np.random.default_rng([seed, sum(ord(c) * 31**i for i, c in enumerate(name)) % 2**32])


def _below(value: float) -> str:
    """A threshold a user would type that keeps ``value`` on its side of ``>=``: 3 significant digits, rounded down."""
    text = f"{value:.3g}"
    return text if float(text) <= value else f"{value * (1 - 1e-3):.3g}"


def _between(lo: float, hi: float) -> str:
    """A round threshold strictly between ``lo`` < ``hi`` (their geometric mean, 3 significant digits, more if needed)."""
    for digits in range(3, 10):
        text = f"{np.sqrt(lo * hi):.{digits}g}"
        if lo < float(text) < hi:
            return text
    raise AssertionError((lo, hi, text))


def _largest_per_group(values: np.ndarray, groups: np.ndarray, rtol: float = 1e-3) -> np.ndarray:
    """(N,) mask of the rows at each group's largest value (within ``rtol``), as ``largest:COL`` holds out."""
    mask = np.zeros(len(values), dtype=bool)
    for g in np.unique(groups):
        sel = groups == g
        top = values[sel].max()
        mask |= sel & (values >= top * (1 - rtol))
    return mask


def chinchilla(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """L = E + A/N^a + B/D^b (Hoffmann et al. 2022); X (N, 2) = (N, D); p = (E, A, a, B, b)."""
    E, A, a, B, b = p
    return E + A / X[:, 0] ** a + B / X[:, 1] ** b


#: Hoffmann et al. 2022, approach 3 fit.
CHINCHILLA = (1.69, 406.4, 0.34, 410.7, 0.28)


# --------------------------------------------------------------------------- families


def figure_chinchilla(seed: int) -> SynthTable:
    """~240 runs read off a figure: 9 model sizes jittered per run, data varying per run; test by compute."""
    rng = _rng(seed, "figure_chinchilla")
    sizes = np.logspace(np.log10(7e7), np.log10(1.6e10), 9)
    n_per = rng.integers(22, 31, size=9)
    N = np.concatenate([np.full(k, s) for s, k in zip(sizes, n_per)])
    N = N * (1 + 0.03 * rng.uniform(-1, 1, len(N)))
    D = np.exp(rng.uniform(np.log(5e9), np.log(5e11), len(N)))
    loss = chinchilla(np.column_stack([N, D]), np.array(CHINCHILLA)) + rng.normal(0, 0.02, len(N))
    C = 6 * N * D
    t = _below(float(np.quantile(C, 0.95)))
    df = pd.DataFrame({"params": N, "tokens": D, "C": C, "loss": loss})
    return SynthTable("figure_chinchilla", seed, df, ("params", "tokens"), ("loss",), None, f"C > {t}",
                      C > float(t), chinchilla, CHINCHILLA, 0.02, "additive",
                      note="Chinchilla law read off a figure: no two sizes equal; test = largest compute (not a feature)")


def _kaplan(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """L = (Nc/N)^alpha (Kaplan et al. 2020); p = (ln Nc, alpha)."""
    return np.exp(p[1] * (p[0] - np.log(X[:, 0])))


def kaplan_n_only(seed: int) -> SynthTable:
    """10 unevenly spaced sizes 1e6..1e9, two runs each, L = (8.8e13/N)^0.076, 0.5% noise; test the 2 largest sizes."""
    rng = _rng(seed, "kaplan_n_only")
    inner = np.sort(rng.uniform(6.1, 8.9, 8))
    sizes = 10 ** np.concatenate([[6.0], inner, [9.0]])
    N = np.repeat(sizes, 2)  # two seeds per size: the 2 largest sizes give the 3 test runs R² needs
    p = (np.log(8.8e13), 0.076)
    loss = _kaplan(N[:, None], np.array(p)) * (1 + 0.005 * rng.standard_normal(len(N)))
    t = _between(sizes[-3], sizes[-2])
    df = pd.DataFrame({"N": N, "loss": loss})
    return SynthTable("kaplan_n_only", seed, df, ("N",), ("loss",), None, f"N >= {t}", N >= float(t),
                      _kaplan, p, 0.005, "multiplicative",
                      note="Kaplan N-only power law without offset, uneven sizes, two runs each")


def grouped_offsets(seed: int) -> SynthTable:
    """Three datasets sharing exponents, each with its own E and A; 8 N x 5 D; test = largest N per group."""
    rng = _rng(seed, "grouped_offsets")
    groups = {"web": (1.85, 420.0), "code": (1.05, 260.0), "books": (2.25, 610.0)}
    a, B, b = 0.33, 380.0, 0.29
    Ns = np.logspace(np.log10(3e7), np.log10(3e9), 8)
    Ds = np.logspace(np.log10(2e9), np.log10(2e11), 5)
    rows = []
    for g, (E, A) in groups.items():
        for n in Ns:
            for d in Ds:
                rows.append((g, n, d, E + A / n**a + B / d**b + rng.normal(0, 0.015)))
    df = pd.DataFrame(rows, columns=["dataset", "N", "D", "loss"])
    mask = _largest_per_group(df["N"].to_numpy(), df["dataset"].to_numpy())
    E0, A0 = groups["web"]
    return SynthTable("grouped_offsets", seed, df, ("N", "D"), ("loss",), "dataset", "largest:N", mask,
                      chinchilla, (E0, A0, a, B, b), 0.015, "additive",
                      note="per-group offset and coefficient, shared exponents (refit per group)",
                      group_p0={g: (E, A, a, B, b) for g, (E, A) in groups.items()})


def uneven_compound(seed: int) -> SynthTable:
    """N and D on an irregular grid (each size trained on a window of data sizes); test `N >= a or D >= b`."""
    rng = _rng(seed, "uneven_compound")
    p = (2.05, 260.0, 0.31, 880.0, 0.30)
    Ns = np.logspace(np.log10(2e7), np.log10(5e9), 10)
    Ds = np.logspace(np.log10(1e9), np.log10(3e11), 8)
    rows = []
    for i, n in enumerate(Ns):
        centre = 1 + i * 6 / 9  # larger models on more data, as compute-limited sweeps are
        width = rng.integers(2, 4)
        lo, hi = max(0, int(round(centre - width))), min(7, int(round(centre + width)))
        for j in range(lo, hi + 1):
            if rng.uniform() < 0.85:
                rows.append((n, Ds[j]))
    X = np.array(rows)
    loss = chinchilla(X, np.array(p)) + rng.normal(0, 0.01, len(X))
    df = pd.DataFrame({"model_size": X[:, 0], "data_size": X[:, 1], "loss": loss})
    a, b = _below(Ns[-1]), _below(Ds[-1])
    mask = (X[:, 0] >= float(a)) | (X[:, 1] >= float(b))
    return SynthTable("uneven_compound", seed, df, ("model_size", "data_size"), ("loss",), None,
                      f"model_size >= {a} or data_size >= {b}", mask, chinchilla, p, 0.01, "additive",
                      note="irregular (N, D) grid; compound test rule")


def outliers(seed: int) -> SynthTable:
    """A clean 8 N x 8 D Chinchilla grid where 4% of the train runs diverged (loss + 0.3..1.0); test largest N."""
    rng = _rng(seed, "outliers")
    p = (1.8, 500.0, 0.35, 350.0, 0.28)
    Ns = np.logspace(np.log10(5e7), np.log10(7e9), 8)
    Ds = np.logspace(np.log10(3e9), np.log10(3e11), 8)
    N, D = (a.ravel() for a in np.meshgrid(Ns, Ds, indexing="ij"))
    loss = chinchilla(np.column_stack([N, D]), np.array(p)) + rng.normal(0, 0.01, len(N))
    t = _below(Ns[-1])
    mask = N >= float(t)
    train_idx = np.flatnonzero(~mask)
    bad = rng.choice(train_idx, size=int(round(0.04 * len(N))), replace=False)
    loss[bad] += rng.uniform(0.3, 1.0, len(bad))
    df = pd.DataFrame({"N": N, "D": D, "loss": loss})
    return SynthTable("outliers", seed, df, ("N", "D"), ("loss",), None, f"N >= {t}", mask, chinchilla, p,
                      0.01, "additive, plus diverged runs", note=f"diverged runs at rows {sorted(bad.tolist())}",
                      extra={"diverged_rows": sorted(bad.tolist())})


def few_scales(seed: int) -> SynthTable:
    """Only 3 model sizes, 12 data sizes each; test = the largest model."""
    rng = _rng(seed, "few_scales")
    p = (1.75, 450.0, 0.34, 420.0, 0.28)
    Ns = np.array([1.2e8, 4.0e8, 1.4e9])
    Ds = np.logspace(np.log10(2e9), np.log10(1e11), 12) * (1 + 0.02 * rng.uniform(-1, 1, 12))
    N, D = (a.ravel() for a in np.meshgrid(Ns, Ds, indexing="ij"))
    loss = chinchilla(np.column_stack([N, D]), np.array(p)) + rng.normal(0, 0.01, len(N))
    df = pd.DataFrame({"N": N, "D": D, "loss": loss})
    t = _below(Ns[-1])
    return SynthTable("few_scales", seed, df, ("N", "D"), ("loss",), None, f"N >= {t}", N >= float(t),
                      chinchilla, p, 0.01, "additive", note="three model sizes only: one left in train besides val")


def _lr_bowl(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """L = E + A N^-a + k (ln lr - (m0 + m1 ln N))^2 (optimum moving with size, as in StepLaw, Li et al. 2025)."""
    E, A, a, k, m0, m1 = p
    return E + A * X[:, 0] ** -a + k * (np.log(X[:, 1]) - (m0 + m1 * np.log(X[:, 0]))) ** 2


def lr_bowl(seed: int) -> SynthTable:
    """Loss against model size and learning rate: a bowl in ln lr whose optimum falls with size; test largest N."""
    rng = _rng(seed, "lr_bowl")
    m1 = -0.25
    m0 = float(np.log(3e-3) - m1 * np.log(1e8))  # optimum 3e-3 at N = 1e8
    p = (1.8, 300.0, 0.32, 0.02, m0, m1)
    Ns = np.logspace(np.log10(5e7), np.log10(3e9), 6)
    lrs = np.logspace(-4, np.log10(3e-2), 8)
    N, lr = (a.ravel() for a in np.meshgrid(Ns, lrs, indexing="ij"))
    keep = rng.uniform(size=len(N)) < 0.9  # a few sweep points missing, as in real sweeps
    N, lr = N[keep], lr[keep]
    loss = _lr_bowl(np.column_stack([N, lr]), np.array(p)) + rng.normal(0, 0.01, len(N))
    t = _below(Ns[-1])
    df = pd.DataFrame({"N": N, "lr": lr, "loss": loss})
    return SynthTable("lr_bowl", seed, df, ("N", "lr"), ("loss",), None, f"N >= {t}", N >= float(t), _lr_bowl, p,
                      0.01, "additive", note="non-monotone in lr, optimum shifts with N")


def _rising(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """acc = floor + span * sigmoid(a (log10 C - c0))."""
    floor, span, a, c0 = p
    return floor + span / (1 + np.exp(-a * (np.log10(X[:, 0]) - c0)))


def rising_accuracy(seed: int) -> SynthTable:
    """Accuracy against compute, rising from chance (0.25) to a ceiling; bounded target 0..1; test largest C."""
    rng = _rng(seed, "rising_accuracy")
    p = (0.25, 0.7, 1.5, 21.5)
    C = 10 ** (np.linspace(18, 23, 30) + rng.uniform(-0.05, 0.05, 30))
    acc = np.clip(_rising(C[:, None], np.array(p)) + rng.normal(0, 0.01, len(C)), 0, 1)
    t = _between(np.sort(C)[-6], np.sort(C)[-5])
    df = pd.DataFrame({"compute": C, "accuracy": acc})
    return SynthTable("rising_accuracy", seed, df, ("compute",), ("accuracy",), None, f"compute >= {t}",
                      C >= float(t), _rising, p, 0.01, "additive", target_range="0,1",
                      note="rising, saturating target bounded in [0, 1]")


def _power(X: np.ndarray, p: np.ndarray, pivot: float = 1.0) -> np.ndarray:
    """y = c (x / pivot)^b, p = (c, b); the pivot is fixed by the family, not fitted."""
    return p[0] * (X[:, 0] / pivot) ** p[1]


def small_units(seed: int) -> SynthTable:
    """Optimal learning rate against model size, lr* = 3e-3 (N/1e8)^-0.3, 5% noise, 2 runs per size; test 3 largest."""
    rng = _rng(seed, "small_units")
    Ns = np.logspace(7, 10, 14)
    N = np.repeat(Ns, 2)
    p = (3e-3, -0.3)
    law = partial(_power, pivot=1e8)
    lr = law(N[:, None], np.array(p)) * np.exp(0.05 * rng.standard_normal(len(N)))
    t = _between(Ns[-4], Ns[-3])
    df = pd.DataFrame({"N": N, "lr_opt": lr})
    return SynthTable("small_units", seed, df, ("N",), ("lr_opt",), None, f"N >= {t}", N >= float(t), law, p,
                      0.05, "multiplicative", note="target of order 1e-3")


def _offset_power(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """L = E + A / N^a."""
    return p[0] + p[1] / X[:, 0] ** p[2]


def handful(seed: int) -> SynthTable:
    """Only 7 runs (one per model size), L = E + A/N^a; test the largest two."""
    rng = _rng(seed, "handful")
    N = np.logspace(7, 10, 7) * (1 + 0.05 * rng.uniform(-1, 1, 7))
    p = (2.0, 380.0, 0.33)
    loss = _offset_power(N[:, None], np.array(p)) + rng.normal(0, 0.005, 7)
    t = _between(N[-3], N[-2])
    df = pd.DataFrame({"N": N, "loss": loss})
    return SynthTable("handful", seed, df, ("N",), ("loss",), None, f"N >= {t}", N >= float(t), _offset_power, p,
                      0.005, "additive", note="seven runs: too few for a 3-run test split")


def model_suite(seed: int) -> SynthTable:
    """A released model suite (as Pythia, OPT, Cerebras-GPT list theirs): 11 to 16 sizes, one run each.

    L = E + A/N^a (the form of Hoffmann et al. 2022 at fixed data), 0.3% noise; sizes as a paper lists
    them (two significant digits), test: the 3 or 4 largest. A table this small is where a default
    parameter limit bites: its fit rows hold 6 to 10 runs.
    """
    rng = _rng(seed, "model_suite")
    n = int(rng.integers(11, 17))
    N = np.array(sorted({float(f"{v:.2g}") for v in 10 ** rng.uniform(7.8, 10.1, n)}))
    p = (1.6 + 0.4 * rng.random(), 400.0 * (0.7 + 0.6 * rng.random()), 0.30 + 0.08 * rng.random())
    loss = _offset_power(N[:, None], np.array(p)) * (1 + 0.003 * rng.standard_normal(len(N)))
    k = int(rng.integers(3, 5))
    t = _between(N[-k - 1], N[-k])
    df = pd.DataFrame({"params": N, "loss": loss})
    return SynthTable("model_suite", seed, df, ("params",), ("loss",), None, f"params >= {t}", N >= float(t),
                      _offset_power, p, 0.003, "multiplicative",
                      note="one run per released size: a floor the default parameter limit must leave room for")


def huge_raw(seed: int) -> SynthTable:
    """GPU-hours against raw FLOPs (1e18..1e24, unscaled): 3e6 (C/1e21)^1.1, 10% noise; test largest C."""
    rng = _rng(seed, "huge_raw")
    C = np.sort(10 ** rng.uniform(18, 24, 24))
    p = (3e6, 1.1)
    law = partial(_power, pivot=1e21)
    hours = law(C[:, None], np.array(p)) * np.exp(0.1 * rng.standard_normal(len(C)))
    t = _between(C[-5], C[-4])
    df = pd.DataFrame({"flops": C, "gpu_hours": hours})
    return SynthTable("huge_raw", seed, df, ("flops",), ("gpu_hours",), None, f"flops >= {t}", C >= float(t),
                      law, p, 0.1, "multiplicative", note="raw FLOPs; a positive target spanning six decades")


def _warmup(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """L = E + A/N^a + c exp(-W / tau): a small penalty for too little warmup."""
    E, A, a, c, tau = p
    return E + A / X[:, 0] ** a + c * np.exp(-X[:, 1] / tau)


def with_zero(seed: int) -> SynthTable:
    """Loss against model size and warmup steps (0, 100, 1000, 5000): a column with zeros; test largest N."""
    rng = _rng(seed, "with_zero")
    p = (1.9, 420.0, 0.34, 0.06, 400.0)
    Ns = np.logspace(np.log10(4e7), np.log10(4e9), 8)
    Ws = np.array([0.0, 100.0, 1000.0, 5000.0])
    N, W = (a.ravel() for a in np.meshgrid(Ns, Ws, indexing="ij"))
    loss = _warmup(np.column_stack([N, W]), np.array(p)) + rng.normal(0, 0.008, len(N))
    t = _below(Ns[-1])
    df = pd.DataFrame({"N": N, "warmup_steps": W, "loss": loss})
    return SynthTable("with_zero", seed, df, ("N", "warmup_steps"), ("loss",), None, f"N >= {t}", N >= float(t),
                      _warmup, p, 0.008, "additive", note="a feature with zeros (linear scale), weak effect")


def _moe(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """log10 L = a log10 N + b log10 E + c log10 N log10 E + d (Clark et al. 2022)."""
    a, b, c, d = p
    ln, le = np.log10(X[:, 0]), np.log10(X[:, 1])
    return 10 ** (a * ln + b * le + c * ln * le + d)


def moe_like(seed: int) -> SynthTable:
    """Loss against dense parameters and number of experts (Clark et al. 2022 form); test largest N."""
    rng = _rng(seed, "moe_like")
    p = (-0.082, -0.108, 0.009, 1.104)
    Ns = np.logspace(7, np.log10(1.3e9), 6)
    Es = np.array([1.0, 2, 4, 8, 16, 32, 64])
    N, E = (a.ravel() for a in np.meshgrid(Ns, Es, indexing="ij"))
    loss = _moe(np.column_stack([N, E]), np.array(p)) * np.exp(0.005 * rng.standard_normal(len(N)))
    t = _below(Ns[-1])
    df = pd.DataFrame({"dense_params": N, "num_experts": E, "loss": loss})
    return SynthTable("moe_like", seed, df, ("dense_params", "num_experts"), ("loss",), None,
                      f"dense_params >= {t}", N >= float(t), _moe, p, 0.005, "multiplicative",
                      note="bilinear in logs, experts on a geometric grid starting at 1")


def _ushape(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """err = y0 + h exp(-(x - xb)^2 / (2 w^2)) - d sigmoid(k (x - x1)), x = log10 C: worsens, then recovers."""
    y0, h, xb, w, d, k, x1 = p
    x = np.log10(X[:, 0])
    return y0 + h * np.exp(-((x - xb) ** 2) / (2 * w**2)) - d / (1 + np.exp(-k * (x - x1)))


def u_shape(seed: int) -> SynthTable:
    """An error rate that worsens then improves with compute (Wu & Lo 2025), 4 benchmarks; per-group threshold test."""
    rng = _rng(seed, "u_shape")
    rows, clauses = [], []
    mask_parts = []
    starts: dict[str, tuple[float, ...]] = {}
    for i, g in enumerate(["arith", "qa", "logic", "trivia"]):
        p = (0.55 + 0.05 * i + rng.uniform(-0.03, 0.03), 0.15 + rng.uniform(-0.04, 0.04),
             20.0 + 0.3 * i + rng.uniform(-0.2, 0.2), 0.45, 0.35 + rng.uniform(-0.05, 0.05), 2.0,
             21.3 + 0.15 * i + rng.uniform(-0.15, 0.15))
        starts[g] = p
        x = np.sort(rng.uniform(18, 23, 28))
        C = 10**x
        y = _ushape(C[:, None], np.array(p)) + rng.normal(0, 0.01, len(C))
        t = _between(C[-5], C[-4])
        clauses.append(f"(benchmark == '{g}' and flops > {t})")
        mask_parts.append(C > float(t))
        rows += [(g, c, v) for c, v in zip(C, y)]
    df = pd.DataFrame(rows, columns=["benchmark", "flops", "error_rate"])
    return SynthTable("u_shape", seed, df, ("flops",), ("error_rate",), "benchmark", " or ".join(clauses),
                      np.concatenate(mask_parts), _ushape, starts["arith"], 0.01, "additive",
                      note="non-monotone: an inverted U on a falling trend; per-group thresholds", group_p0=starts)


def _repetition(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Muennighoff et al. 2023: L = E + A/N^a + B/D'^b, D' = U (1 + R* (1 - exp(-R/R*))), R = D/U - 1 epochs."""
    E, A, a, B, b, rstar = p
    N, D, U = X[:, 0], X[:, 1], X[:, 2]
    R = np.maximum(D / U - 1, 0)
    Deff = U * (1 + rstar * (1 - np.exp(-R / rstar)))
    return E + A / N**a + B / Deff**b


def data_repetition(seed: int) -> SynthTable:
    """Loss against params, tokens and unique tokens (repeated epochs lose value, Muennighoff et al. 2023)."""
    rng = _rng(seed, "data_repetition")
    p = (1.9, 420.0, 0.34, 410.0, 0.28, 15.4)
    Ns = np.logspace(np.log10(1e8), np.log10(3e9), 6)
    Us = np.array([1e9, 4e9, 1.6e10])
    epochs = np.array([1.0, 2, 4, 8, 16, 40])
    rows = []
    for n in Ns:
        for u in Us:
            for e in epochs:
                if rng.uniform() < 0.8:
                    rows.append((u, n, u * e))
    X = np.array(rows)
    loss = _repetition(X[:, [1, 2, 0]], np.array(p)) + rng.normal(0, 0.01, len(X))
    df = pd.DataFrame({"unique_tokens": X[:, 0], "params": X[:, 1], "tokens": X[:, 2], "loss": loss})
    t = _below(Ns[-1])

    def law(Xf: np.ndarray, q: np.ndarray) -> np.ndarray:  # features (params, tokens, unique_tokens)
        return _repetition(Xf, q)

    return SynthTable("data_repetition", seed, df, ("params", "tokens", "unique_tokens"), ("loss",), None,
                      f"params >= {t}", X[:, 1] >= float(t), law, p, 0.01, "additive",
                      note="three features; effective data saturates with epochs")


def _two(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Train and validation loss sharing exponents: (N, 2) = (E1 + A/N^a + B/D^b, E2 + A/N^a + g B/D^b)."""
    E1, E2, A, a, B, b, g = p
    n, d = A / X[:, 0] ** a, B / X[:, 1] ** b
    return np.column_stack([E1 + n + d, E2 + n + g * d])


def two_targets(seed: int) -> SynthTable:
    """Train and validation loss predicted jointly (two targets); test largest N."""
    rng = _rng(seed, "two_targets")
    p = (1.7, 1.95, 400.0, 0.34, 410.0, 0.28, 1.3)
    Ns = np.logspace(np.log10(5e7), np.log10(5e9), 7)
    Ds = np.logspace(np.log10(5e9), np.log10(2e11), 6)
    N, D = (a.ravel() for a in np.meshgrid(Ns, Ds, indexing="ij"))
    Y = _two(np.column_stack([N, D]), np.array(p)) + rng.normal(0, 0.01, (len(N), 2))
    t = _below(Ns[-1])
    df = pd.DataFrame({"N": N, "D": D, "train_loss": Y[:, 0], "val_loss": Y[:, 1]})
    return SynthTable("two_targets", seed, df, ("N", "D"), ("train_loss", "val_loss"), None, f"N >= {t}",
                      N >= float(t), _two, p, 0.01, "additive", note="two targets predicted jointly")


def learning_curves(seed: int) -> SynthTable:
    """Loss logged along training (30 checkpoints) for 5 model sizes; test: the last checkpoints of every run.

    L = E + A/N^a + B/T^b with T the tokens seen (the Chinchilla form, Hoffmann et al. 2022, used on
    checkpoints as users do to forecast the end of their runs); many rows per size, dense in T.
    """
    rng = _rng(seed, "learning_curves")
    p = CHINCHILLA
    Ns = np.logspace(np.log10(3e7), np.log10(1e9), 5) * (1 + 0.01 * rng.uniform(-1, 1, 5))
    grid = np.logspace(np.log10(2e8), np.log10(2e10), 30)
    N = np.repeat(Ns, len(grid))
    T = np.tile(grid, len(Ns)) * (1 + 0.005 * rng.uniform(-1, 1, len(N)))
    loss = chinchilla(np.column_stack([N, T]), np.array(p)) + rng.normal(0, 0.005, len(N))
    t = _between(grid[-7] * 1.006, grid[-6] * 0.994)
    df = pd.DataFrame({"params": N, "tokens": T, "loss": loss})
    return SynthTable("learning_curves", seed, df, ("params", "tokens"), ("loss",), None, f"tokens >= {t}",
                      T >= float(t), chinchilla, p, 0.005, "additive",
                      note="checkpoints of 5 runs; forecast the last sixth of training")


def lr_compute(seed: int) -> SynthTable:
    """Optimal learning rate against compute, 16 budgets read off sweeps: lr* = 0.3118 C^-0.125, 4% noise.

    DeepSeek LLM's fit (Bi et al. 2024, arXiv:2401.02954) over five decades of compute; the target spans
    about a factor 4, less than a decade, yet its noise is relative (an optimum read off a geometric grid).
    Test: the 4 largest budgets.
    """
    rng = _rng(seed, "lr_compute")
    p = (0.3118, -0.125)
    C = np.logspace(17, 22, 16) * (1 + 0.03 * rng.uniform(-1, 1, 16))
    lr = _power(C[:, None], np.array(p)) * np.exp(0.04 * rng.standard_normal(len(C)))
    t = _between(C[-5], C[-4])
    df = pd.DataFrame({"compute": C, "lr_opt": lr})
    return SynthTable("lr_compute", seed, df, ("compute",), ("lr_opt",), None, f"compute >= {t}", C >= float(t),
                      _power, p, 0.04, "multiplicative", note="small span, relative noise, one run per budget")


def _acc_of_loss(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """acc = floor + (top - floor) / (1 + exp(k (L - L0))): accuracy rising as the loss falls."""
    floor, top, k, L0 = p
    return floor + (top - floor) / (1 + np.exp(k * (X[:, 0] - L0)))


def acc_vs_loss(seed: int) -> SynthTable:
    """Benchmark accuracy against the model's validation loss (30 models, 3 benchmarks); test: the lowest losses.

    The second step of predicting downstream accuracy from loss (Llama 3 report, Dubey et al. 2024;
    Gadre et al. 2024): the test lies *below* the training losses, not above.
    """
    rng = _rng(seed, "acc_vs_loss")
    L = np.sort(rng.uniform(2.0, 3.6, 30))
    t = _between(L[5], L[6])
    rows, starts = [], {}
    for g, floor, L0 in (("mc4", 0.25, 2.55), ("binary", 0.5, 2.75), ("gen", 0.0, 2.35)):
        p = (floor, 0.9 + rng.uniform(-0.03, 0.03), 5.0 + rng.uniform(-1, 1), L0 + rng.uniform(-0.1, 0.1))
        starts[g] = p
        acc = np.clip(_acc_of_loss(L[:, None], np.array(p)) + rng.normal(0, 0.01, len(L)), 0, 1)
        rows += [(g, x, a) for x, a in zip(L, acc)]
    df = pd.DataFrame(rows, columns=["benchmark", "val_loss", "accuracy"])
    return SynthTable("acc_vs_loss", seed, df, ("val_loss",), ("accuracy",), "benchmark", f"val_loss <= {t}",
                      df["val_loss"].to_numpy() <= float(t), _acc_of_loss, starts["mc4"], 0.01, "additive",
                      target_range="0,1", note="test at lower values of the feature", group_p0=starts)


def _acc_of_size(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """acc = floor + (top - floor) / (1 + exp(-k (ln N - m))): a benchmark score rising with model size (B)."""
    floor, top, k, m = p
    return floor + (top - floor) / (1 + np.exp(-k * (np.log(X[:, 0]) - m)))


def open_models(seed: int) -> SynthTable:
    """A benchmark score of released models against their size, one group per model family (5 to 8 models each,
    0.07B to 70B); test: each family's largest model; no target range declared.

    Imitates the evaluations of open models that observational scaling laws are fitted to (Ruan et al. 2024,
    arXiv:2405.10938, whose HellaSwag scores of five families with five or more models motivated it): few models
    per family, sizes as released, a score rising from chance (0.25) towards a ceiling, and a user who does not
    say the target is a fraction.
    """
    rng = _rng(seed, "open_models")
    rows, starts = [], {}
    for g in ("fam_a", "fam_b", "fam_c", "fam_d", "fam_e"):
        n = int(rng.integers(5, 9))
        sizes = np.sort(np.round(10 ** rng.uniform(np.log10(0.07), np.log10(70.0), n), 2))
        sizes = np.unique(np.maximum(sizes, 0.07))
        p = (0.25, 0.9 + rng.uniform(-0.04, 0.04), 0.7 + rng.uniform(-0.15, 0.25), np.log(10 ** rng.uniform(-0.3, 0.8)))
        starts[g] = p
        acc = np.clip(_acc_of_size(sizes[:, None], np.array(p)) + rng.normal(0, 0.01, len(sizes)), 0, 1)
        rows += [(g, x, a) for x, a in zip(sizes, acc)]
    df = pd.DataFrame(rows, columns=["family", "params_B", "score"])
    largest = df.groupby("family")["params_B"].transform("max").to_numpy()
    return SynthTable("open_models", seed, df, ("params_B",), ("score",), "family", "largest:params_B",
                      df["params_B"].to_numpy() >= largest, _acc_of_size, starts["fam_a"], 0.01, "additive",
                      note="few models per family, a fraction with no declared range", group_p0=starts)


def overtrained(seed: int) -> SynthTable:
    """Loss of a few model sizes each trained 0.25x to 32x past 20 tokens per parameter, three datasets;
    test: two sizes 3.5x and 17x beyond the largest trained one.

    Imitates the over-training runs of Gadre et al. 2024 (arXiv:2403.08540; github.com/mlfoundations/scaling):
    four small sizes (10M to 400M parameters) crossed with eight token multipliers, one run missing per
    dataset, then 1.4B runs at 1x and one larger multiplier and a 6.9B run at 1x held out. Chinchilla's form
    with exponents drawn apart per seed (a tie between them is sometimes right, mostly not), each dataset
    its own E and A, 0.4% multiplicative noise. Data grow with model size (D = 20 M N), and three sizes
    remain beside validation.
    """
    rng = _rng(seed, "overtrained")
    a, b = rng.uniform(0.25, 0.4, 2)
    mults = 2.0 ** np.arange(-2, 6)
    sizes = np.geomspace(1.06e7, 4.1e8, 4)
    rows, starts = [], {}
    for g in ("c4", "pile", "web"):
        p = (1.7 + rng.uniform(-0.15, 0.15), 400.0 * np.exp(rng.uniform(-0.3, 0.3)), a, 410.0, b)
        starts[g] = p
        cells = [(n, m) for n in sizes for m in mults]
        del cells[int(rng.integers(len(cells)))]
        cells += [(1.44e9, 1.0), (1.44e9, float(rng.choice([4.0, 16.0, 32.0]))), (6.89e9, 1.0)]
        for n, m in cells:
            d = 20.0 * n * m
            loss = chinchilla(np.array([[n, d]]), np.array(p))[0] * np.exp(rng.normal(0, 0.004))
            rows.append((g, n, d, m, loss))
    df = pd.DataFrame(rows, columns=["dataset", "params", "tokens", "multiplier", "loss"])
    return SynthTable("overtrained", seed, df, ("params", "tokens"), ("loss",), "dataset", "params > 1e9",
                      df["params"].to_numpy() > 1e9, chinchilla, starts["c4"], 0.004, "multiplicative",
                      note="four sizes x eight token multipliers per dataset; test 3.5x and 17x beyond",
                      group_p0=starts)


def _sparse(X: np.ndarray, p: np.ndarray) -> np.ndarray:
    """L = (aS (1 - S)^bS + cS) (N / 1e6)^-bN + c (Frantar et al. 2023); X (N, 2) = (S, N)."""
    aS, bS, cS, bN, c = p
    return (aS * (1 - X[:, 0]) ** bS + cS) * (X[:, 1] / 1e6) ** -bN + c


def sparsity(seed: int) -> SynthTable:
    """Loss against weight sparsity (0 to 0.875, a fraction with zeros) and non-zero parameters; test largest N.

    The sparse scaling law of Frantar et al. 2023 (arXiv:2309.08520) at fixed data: at equal non-zero
    parameters a sparser model is better, through a coefficient that is a power of (1 - S).
    """
    rng = _rng(seed, "sparsity")
    p = (2.0, 0.8, 2.5, 0.2, 1.8)
    Ss = np.array([0.0, 0.5, 0.75, 0.875])
    Ns = np.logspace(7, np.log10(5e8), 6) * (1 + 0.01 * rng.uniform(-1, 1, 6))
    S, N = (a.ravel() for a in np.meshgrid(Ss, Ns, indexing="ij"))
    loss = _sparse(np.column_stack([S, N]), np.array(p)) + rng.normal(0, 0.01, len(S))
    t = _below(Ns[-1])
    df = pd.DataFrame({"sparsity": S, "nonzero_params": N, "loss": loss})
    return SynthTable("sparsity", seed, df, ("sparsity", "nonzero_params"), ("loss",), None,
                      f"nonzero_params >= {t}", N >= float(t), _sparse, p, 0.01, "additive",
                      note="a fraction feature with zeros multiplying a power of size")


#: Every family, by name, in the order the benchmark runs them.
FAMILIES: dict[str, Callable[[int], SynthTable]] = {f.__name__: f for f in (
    figure_chinchilla, kaplan_n_only, grouped_offsets, uneven_compound, outliers, few_scales, lr_bowl,
    rising_accuracy, small_units, handful, model_suite, huge_raw, with_zero, moe_like, u_shape, data_repetition,
    two_targets, learning_curves, lr_compute, acc_vs_loss, sparsity, open_models, overtrained,
)}


def make(name: str, seed: int) -> SynthTable:
    """The table of family ``name`` for table seed ``seed``."""
    if name not in FAMILIES:
        raise KeyError(f"unknown table family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name](seed)
