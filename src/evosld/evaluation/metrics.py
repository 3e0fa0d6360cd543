"""SLDBench metrics, as pure functions.

Per output column: NMSE = MSE / Var(y), NMAE = MAE / mean|y - mean(y)|,
R² = 1 - NMSE, all normalised by the *scored* split's own statistics;
then averaged over outputs (SLDBench, arXiv 2507.21184, and its unified
evaluator). A failed candidate (crash, NaN/inf, wrong shape) scores R² = -1.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

FAIL_NMSE = 100000.0
FAIL_R2 = -1.0
#: ``trimmed_r2``: a row is a gross outlier when its residual is this many robust sigmas (1.4826 MAD) off.
TRIM_SIGMAS = 5.0
#: ``trimmed_r2``: at most this share of the scored rows is dropped (rounded down: none below 10 rows).
TRIM_SHARE = 0.1
#: A scored slice's spread (variance, or mean absolute deviation) must exceed this absolute floor...
SPREAD_FLOOR = 1e-9
#: ...or, when that is smaller, this share of the slice's root mean square (squared for a variance): a
#: target in small units (an optimal learning rate ~3e-4, a loss in thousands of nats) varies by less than
#: 1e-9 and is still a target; only a slice flat to float precision is not scored.
SPREAD_REL = 1e-10


def _spread_ok(spread: np.ndarray, truth: np.ndarray, power: int) -> np.ndarray:
    """(T,) whether each output's spread (``power`` 2: variance, 1: mean absolute deviation) can divide.

    ``truth`` is (N, T). The spread must exceed the smaller of ``SPREAD_FLOOR`` and
    ``(SPREAD_REL * rms) ** power``, rms the output's root mean square: the absolute floor alone scored
    every law -inf on a target of order 1e-4 (its variance below 1e-9), whatever the law.
    """
    rms = np.sqrt(np.mean(np.square(truth), axis=0))
    return spread > np.minimum(SPREAD_FLOOR, (SPREAD_REL * rms) ** power)


@dataclass(frozen=True)
class Scores:
    """Aggregate metrics for one scored split.

    ``r2`` is unclipped (may be far below -1 for wild extrapolations);
    ``r2_clipped`` is ``max(r2, -1)``; ``combined_score`` = 1 / (1 + NMSE).
    """

    nmse: float
    nmae: float
    r2: float
    r2_clipped: float
    combined_score: float
    r2_per_output: list[float] = field(default_factory=list)
    r2_trimmed: float = FAIL_R2
    nmse_per_output: list[float] = field(default_factory=list)
    nmae_per_output: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


def failure(message: str) -> Scores:
    """The SLDBench failure record (R² = -1)."""
    return Scores(
        nmse=FAIL_NMSE, nmae=FAIL_NMSE, r2=FAIL_R2, r2_clipped=FAIL_R2, combined_score=0.0, error=message
    )


def score(predictions: np.ndarray, truth: np.ndarray) -> Scores:
    """Score predictions against truth.

    Args:
        predictions: (N,) or (N, T) array.
        truth: (N,) or (N, T) array, same shape once 1-D inputs become (N, 1).
    Returns:
        ``Scores``; a NaN/inf prediction or a shape mismatch is a failure.
    """
    try:
        pred = np.asarray(predictions, dtype=float)
        true = np.asarray(truth, dtype=float)
    except (TypeError, ValueError):
        return failure("predictions are not numeric")
    if pred.ndim == 1:
        pred = pred.reshape(-1, 1)
    if true.ndim == 1:
        true = true.reshape(-1, 1)
    if pred.shape != true.shape:
        return failure(f"predictions have shape {pred.shape}, expected {true.shape}")
    if true.size == 0:
        return failure("nothing to score")
    if not np.all(np.isfinite(pred)):
        return failure("predictions contain NaN or inf")
    mse = np.mean((true - pred) ** 2, axis=0)
    mae = np.mean(np.abs(true - pred), axis=0)
    var = np.var(true, axis=0)
    mad = np.mean(np.abs(true - true.mean(axis=0)), axis=0)
    nmse_d = np.divide(mse, var, out=np.full_like(mse, np.inf), where=_spread_ok(var, true, 2))
    nmae_d = np.divide(mae, mad, out=np.full_like(mae, np.inf), where=_spread_ok(mad, true, 1))
    nmse = float(np.mean(nmse_d))
    r2 = 1.0 - nmse
    return Scores(
        nmse=nmse,
        nmae=float(np.mean(nmae_d)),
        r2=r2,
        r2_clipped=max(r2, FAIL_R2),
        combined_score=1.0 / (1.0 + nmse),
        r2_per_output=(1.0 - nmse_d).tolist(),
        nmse_per_output=nmse_d.tolist(),
        nmae_per_output=nmae_d.tolist(),
        r2_trimmed=trimmed_r2(pred, true),
    )


def isolated_misses(resid, sigmas=5.0, share=0.1, floor=None):
    """(N,) mask of the few rows a law misses grossly: runs that went wrong, not the law.

    A row is a miss when its residual lies more than ``sigmas`` robust standard
    deviations (1.4826 times the median absolute deviation, per output) from
    the median residual, in its worst output; at most ``share`` of the rows
    (rounded down: none below 10 rows), the most extreme first. A law that
    misses many rows widens its own deviation and keeps them; only isolated
    misses go. The final pick's trimmed R² (``trimmed_r2``), the fitter's
    second start (``proposers.symbolic.fit``, which emitted programs carry, so
    numpy only) and the runs a report calls off-trend all use this rule; the
    defaults are ``TRIM_SIGMAS`` and ``TRIM_SHARE``.

    Args:
        resid: (N,) or (N, T) residuals; a row that is not finite counts as the worst.
        floor: (T,) or scalar least robust sd (default: 1e-12 of the mean absolute finite residual, plus 1e-12).
    """
    dev = robust_deviation(resid, floor)
    out = np.zeros(len(dev), dtype=bool)
    most = int(share * len(dev))
    if most == 0 or dev.size == 0:
        return out
    worst = np.argsort(-dev)[:most]
    out[worst[dev[worst] > sigmas]] = True
    return out


def robust_deviation(resid, floor=None):
    """(N,) how many robust sds each row's residual lies from the median residual, in its worst output.

    The robust sd is 1.4826 times the median absolute deviation of an output's
    finite residuals (at least ``floor``); a row that is not finite is infinitely
    far; with no finite residual at all, every row is 0 (nothing to compare).

    Args:
        resid: (N,) or (N, T) residuals.
        floor: (T,) or scalar least robust sd (default: 1e-12 of the mean absolute finite residual, plus 1e-12).
    """
    r = np.asarray(resid, dtype=float)
    r = np.where(np.isfinite(r), r, np.inf).reshape(len(r), -1)
    finite = np.isfinite(r)
    if not np.any(finite):
        return np.zeros(len(r))
    cols = [c[np.isfinite(c)] for c in r.T]
    med = np.array([np.median(c) if c.size else 0.0 for c in cols])
    sigma = 1.4826 * np.array([np.median(np.abs(c - m)) if c.size else 0.0 for c, m in zip(cols, med)])
    if floor is None:
        floor = 1e-12 * (1.0 + float(np.mean(np.abs(r[finite]))))
    return np.max(np.abs(r - med) / np.maximum(sigma, floor), axis=1)


def trimmed_r2(predictions: np.ndarray, truth: np.ndarray, sigmas: float = TRIM_SIGMAS,
               share: float = TRIM_SHARE) -> float:
    """R² with the few gross outlier rows left out (the final pick's fold score).

    A run that went wrong (a diverged seed, a mistyped loss) sits far off any
    law; in a slice of 16 rows one such row carries most of the squared error
    and every law scores alike on it, so the slice tells nothing. Here rows
    whose residual lies more than ``sigmas`` robust standard deviations
    (1.4826 · median absolute deviation of this law's residuals) from their
    median are dropped, at most ``share`` of the rows (the most extreme first),
    and R² is computed on the rest as in ``score``. A law that misses many
    rows widens its own deviation and keeps them; only isolated misses go.

    Args:
        predictions, truth: (N, T) arrays, finite.
    Returns:
        R² averaged over outputs; -1 when it cannot be computed.
    """
    resid = predictions - truth
    floor = 1e-9 * np.maximum(np.std(truth, axis=0), 1e-300)
    keep = ~isolated_misses(resid, sigmas, share, floor)
    var = np.var(truth[keep], axis=0)
    if not np.all(_spread_ok(var, truth[keep], 2)):
        return FAIL_R2
    return float(np.mean(1.0 - np.mean(resid[keep] ** 2, axis=0) / var))


def r2_spread(predictions: dict[str, np.ndarray], truth: dict[str, np.ndarray], draws: int = 200,
              seed: int = 0) -> float | None:
    """Standard error of a slice's R² from its runs: how far it moves with which runs happen to be in it.

    Each bootstrap draw takes every group's rows again at random with
    replacement (as many as it has, so the groups keep their weight) and
    computes 1 - MSE / Var(y) over them, averaged over outputs as ``score``
    does, with Var(y) the whole slice's: only the law's errors are
    redrawn. (Redrawing the spread of a slice of six runs too makes the R²
    of a good law swing by more than its distance from a constant.)

    Args:
        predictions: group -> (M_g,) or (M_g, T) predictions of the scored rows.
        truth: group -> the same rows' targets, same shapes.
        draws: bootstrap draws; seed: their random seed (the result is reproducible).
    Returns:
        The standard deviation of the draws' R², or None when a group's
        predictions are missing, of another shape or not finite, or the
        slice's targets do not vary.
    """
    got = _squared_errors([predictions], truth)
    if got is None:
        return None
    (errs,), var = got
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        sq = np.concatenate([e[rng.integers(0, len(e), len(e))] for e in errs])
        values.append(float(np.mean(1.0 - np.mean(sq, axis=0) / var)))
    return float(np.std(values))


def _squared_errors(laws: list[dict[str, np.ndarray]], truth: dict[str, np.ndarray]
                    ) -> tuple[list[list[np.ndarray]], np.ndarray] | None:
    """Per law, per group of ``truth``, the (M_g, T) squared errors of its predictions; and the slice's (T,) Var(y).

    None when a group's predictions are missing, of another shape or not finite, or the slice's targets do
    not vary (``r2_spread``, ``r2_gap_spread``).
    """
    errs: list[list[np.ndarray]] = [[] for _ in laws]
    ys = []
    for g, y in truth.items():
        y2 = np.asarray(y, dtype=float).reshape(len(y), -1)
        for k, preds in enumerate(laws):
            p = preds.get(g)
            p2 = None if p is None else np.asarray(p, dtype=float)
            if p2 is None or p2.size != y2.size or not np.all(np.isfinite(p2)):
                return None
            errs[k].append((p2.reshape(y2.shape) - y2) ** 2)
        ys.append(y2)
    if not ys:
        return None
    Y = np.concatenate(ys)
    var = np.var(Y, axis=0)
    return (errs, var) if np.all(_spread_ok(var, Y, 2)) else None


def r2_gap_spread(first: dict[str, np.ndarray], second: dict[str, np.ndarray], truth: dict[str, np.ndarray],
                  draws: int = 200, seed: int = 0) -> float | None:
    """Standard error of the difference of two laws' R² on one slice: is one really better there?

    As ``r2_spread``, but each bootstrap draw takes the same rows for both laws
    (every group's rows again at random with replacement) and records the
    difference of their R² over them, with Var(y) the whole slice's. Two laws
    that miss the same runs alike differ by little in every draw, however
    few the runs; the spread of one law's R² alone would not say that.

    Args:
        first, second: group -> (M_g,) or (M_g, T) predictions of the scored rows by each law.
        truth: group -> the same rows' targets, same shapes.
        draws: bootstrap draws; seed: their random seed (the result is reproducible).
    Returns:
        The standard deviation of the draws' R² differences (first minus second), or None when a group's
        predictions are missing, of another shape or not finite, or the slice's targets do not vary.
    """
    got = _squared_errors([first, second], truth)
    if got is None:
        return None
    (errs1, errs2), var = got
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(draws):
        rows = [rng.integers(0, len(e), len(e)) for e in errs1]
        sq1 = np.concatenate([e[i] for e, i in zip(errs1, rows)])
        sq2 = np.concatenate([e[i] for e, i in zip(errs2, rows)])
        values.append(float(np.mean((np.mean(sq2, axis=0) - np.mean(sq1, axis=0)) / var)))
    return float(np.std(values))
