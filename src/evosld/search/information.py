"""When every law misses the checks that picked it: choose by the information in all train runs.

The final pick (``search.selection``) ranks laws by how they predict runs
they were not fitted on: validation and, where the fit rows allow, the
extrapolation folds below it. On a small table those slices are a few runs
at close sizes, and their spread is no larger than the noise: a law fitted
on four or seven runs then misses them by more than their own variance, and
every law in the running scores below 0 (worse than predicting each slice's
mean). The ranking of such scores is a ranking of misses; it rewards the
law that bends least over the short step, which is not the law that holds
over the longer step to test (a released model suite with its four largest
sizes held out: the folds' pick, a power law with no floor, tested -1 where
the offset power law tested 0.82).

So when the pick's own evidence is below 0 (its selection score over
validation and the folds; its validation R² when validation alone picked),
the checks are set aside and the laws are weighed the way a statistician
weighs models fitted to the same few points: each refit on all train runs,
by the Bayesian information criterion (Schwarz 1978, "Estimating the
dimension of a model"), ``BIC = n ln(RSS / n) + k ln n`` per group and
output, summed: a better fit on every run, paid for by ``ln n`` per
parameter. The candidates are the laws the pick was chosen among (the
running and the simpler laws) and the law shown beside it, written before
the data (``tasks.baselines.comparison_law``); a law that runs away one step
beyond the data (``search.plausibility``) is passed over. Residuals are
taken on the scale the checks measure a target on: log values for a positive
target spanning a decade or more (multiplicative noise), else raw values.

Measured (session 51; test R² of the old and new pick refit on train after
the run, analysis only; the same searches, their finish redone with
``evosld discover --resume``). Nothing was tuned: the threshold is the
constant every R² is read against (0, a constant predictor), the criterion
the textbook one; a variant that keeps the checks' pick unless another
law's BIC is lower by more than 2 (Kass & Raftery 1995) was tried after
seeing the tune runs and not taken (0.682 on their 14 picks, against 0.707). Generality
benchmark, search seed 0, 60 s:

- tune tables (144 runs: seeds 0-13 of model_suite, kaplan_n_only,
  small_units and lr_compute; seeds 0-1 of the other families, 0-3 of three;
  seeds 12-13 of all): 14 picks scored below 0, mean clipped test R² of those
  0.413 -> 0.707, 6 better (model_suite seed 5 -1 -> 0.82, lr_compute seed 7
  -1 -> 0.95), 3 worse (kaplan_n_only seed 9 0.96 -> 0.88, u_shape seed 0
  0.91 -> 0.88);
- held out, the holdout tables (seeds 14 and 15, 46 runs): 2 picks below 0,
  huge_raw 0.994 -> 0.995, u_shape unchanged; the mean 0.669 unchanged;
- held out, fresh seeds 18-25 of the four small families (32 runs): 6 picks
  below 0, 0.245 -> 0.812 (model_suite seed 19 -1 -> 0.94, seed 20 -1 ->
  0.47; two lose 0.002 and 0.007); the mean 0.624 -> 0.730.

No pick of the built-in tasks or of the real tables of
``benchmarks/realtables.py`` (about 60 stored runs) scores below 0: there
it does not act.

Pure functions; the runner (``run.runner.weigh_information``) makes the fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from evosld.search.plausibility import measured, target_span
from evosld.search.selection import Selection

#: The label of the law shown beside the pick among the laws weighed (it has no program id until it is kept).
COMPARISON = "comparison"


def pick_evidence(selection: Selection) -> tuple[float | None, str]:
    """What the checks that made the pick say of it, and those checks in words.

    Its selection score over validation and the extrapolation folds when it was refitted on them, else its
    validation R²; None when the pick is not among the candidates.
    """
    pick = next((c for c in selection.candidates if c.program_id == selection.program_id), None)
    if pick is None:
        return None, "validation"
    if selection.folds and pick.score is not None:
        return pick.score, "validation and the extrapolation folds"
    return pick.val_r2, "validation"


def bic(predictions: Mapping[str, np.ndarray], targets: Mapping[str, np.ndarray], n_params: int) -> float:
    """The Bayesian information criterion of a law fitted on all train rows (lower is better).

    Args:
        predictions: group -> (N_g,) or (N_g, T) in-sample predictions (the law fitted on that group's rows).
        targets: group -> (N_g,) or (N_g, T) train targets.
        n_params: fitted parameters per group.
    Returns:
        The sum over groups and outputs of ``n ln(RSS / n) + k ln n``, with ``k = n_params`` shared by a
        group's outputs; residuals on log values for a positive output spanning a decade or more. ``inf``
        when a group has no prediction, a prediction is not finite or has the wrong shape, or is not
        positive on a log-measured output, or a group has no more runs than the law has parameters.
    """
    total = 0.0
    for g, y in targets.items():
        y = np.asarray(y, dtype=float)
        y2 = y.reshape(len(y), -1)
        p = predictions.get(g)
        if p is None:
            return math.inf
        p2 = np.asarray(p, dtype=float).reshape(len(y), -1) if np.size(p) == y2.size else None
        if p2 is None or not np.all(np.isfinite(p2)):
            return math.inf
        logged = target_span(y2)[3]
        py, pp = measured(y2, logged), measured(p2, logged)
        if py is None or pp is None:
            return math.inf
        n = len(y2)
        if n <= n_params:  # as many parameters as runs: the fit passes through them, nothing is left to weigh
            return math.inf
        for t in range(y2.shape[1]):
            rss = max(float(np.sum((py[:, t] - pp[:, t]) ** 2)), 1e-300)
            total += n * math.log(rss / n)
        total += n_params * math.log(n)
    return total


@dataclass(frozen=True)
class Information:
    """The pick remade by the information criterion (JSON-friendly through ``to_json``).

    ``evidence`` is the score the checks gave the pick they made (below 0), ``checks`` those checks in
    words, ``pick`` its program id; ``scores`` maps each law weighed (a program id as text, or
    ``COMPARISON`` for the law shown beside the pick) to ``{"bic", "n_params", "beyond"}`` (``bic`` None:
    its refit failed); ``chosen`` is the key of the law with the least BIC that stays sane one step beyond
    the data, ``program_id`` its program id (None: none could be weighed; the pick stays);
    ``comparison`` the label of the law shown beside the pick.
    """

    evidence: float
    checks: str
    pick: int
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    chosen: str | None = None
    program_id: int | None = None
    comparison: str | None = None

    def to_json(self) -> dict[str, Any]:
        def clean(v: Any) -> Any:
            return "inf" if isinstance(v, float) and not math.isfinite(v) else v

        return {"evidence": self.evidence, "checks": self.checks, "pick": self.pick, "chosen": self.chosen,
                "program_id": self.program_id, "comparison": self.comparison,
                "scores": {k: {kk: clean(vv) for kk, vv in v.items()} for k, v in self.scores.items()}}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Information:
        def back(v: Any) -> Any:
            return math.inf if v == "inf" else v

        scores = {k: {kk: back(vv) for kk, vv in v.items()} for k, v in (data.get("scores") or {}).items()}
        return cls(data["evidence"], data["checks"], data["pick"], scores, data.get("chosen"),
                   data.get("program_id"), data.get("comparison"))


def law_name(info: Information, key: str) -> str:
    """How a law weighed is named to the user: ``program N``, or the comparison law's label."""
    return (info.comparison or "the law shown beside it") if key == COMPARISON else f"program {key}"


def least_information(scores: Mapping[str, Mapping[str, Any]], sane) -> str | None:
    """The key of the law with the least finite BIC among those ``sane(beyond)`` accepts; fewer parameters,
    then the key, break ties. None when no law qualifies."""
    ok = [(v["bic"], v.get("n_params") if v.get("n_params") is not None else 10**9, k)
          for k, v in scores.items()
          if v.get("bic") is not None and math.isfinite(v["bic"]) and sane(v.get("beyond"))]
    return min(ok)[2] if ok else None


__all__ = ["COMPARISON", "Information", "bic", "law_name", "least_information", "pick_evidence"]
