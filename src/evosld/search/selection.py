"""The final pick: which of a run's laws is returned.

The search ranks laws by validation R², but after hundreds or thousands of
candidates the top of that ranking is partly luck: the best of many noisy
scores overstates its law (the winner's curse), and laws a hair apart on a
few dozen validation rows are not told apart by them. So laws whose
validation R² is within ``band`` of the best law's remaining error
(``R² >= best - band * (1 - best)``, at least ``tolerance`` below it) count as
tied. Among the tied laws (the ``pool`` best), the pick is the one that best
predicts the inner hold-out (``Task.inner_mask``: the fit rows that lie
furthest towards validation, fitted on the other fit rows), a second
extrapolation test that reads neither validation nor test targets; then the
fewer parameters, then the higher validation R².

With ``band = 0`` the pick is the fewest parameters within ``tolerance`` of
the best validation R² (pure parsimony).

Measured on stored SLDBench runs (each run's 10 best laws by validation, test
R² refit once for analysis only): over 60 runs the tie-break changed the pick
in 28; the mean test R² rose on data-constrained (0.959 -> 0.976), lr/bsz
(0.610 -> 0.700), moe (0.790 -> 0.803), was unchanged on sft and domain mixture
(±0.001) and fell on vocab (0.9844 -> 0.9839). Bands of 0.05 and 0.2 gained
less, and 0.2 lost twice on lr/bsz.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

#: At most this many tied laws are refitted on the inner split.
POOL = 10


@dataclass(frozen=True)
class Candidate:
    """One law in the running for the final pick."""

    program_id: int
    val_r2: float
    n_params: int | None
    inner_r2: float | None = None


@dataclass(frozen=True)
class Selection:
    """The outcome of the final pick (JSON-friendly through ``to_json``)."""

    program_id: int
    rule: str
    band: float
    candidates: tuple[Candidate, ...]

    def to_json(self) -> dict[str, Any]:
        return {"program_id": self.program_id, "rule": self.rule, "band": self.band,
                "candidates": [asdict(c) for c in self.candidates]}


def tied(candidates: Sequence[Candidate], band: float, tolerance: float, pool: int = POOL) -> list[Candidate]:
    """The laws tied with the best on validation, best first (at most ``pool``).

    Args:
        candidates: evaluated laws with a finite validation R², any order;
            one per distinct program.
        band: share of the best law's remaining error ``1 - R²`` that counts as a tie.
        tolerance: the least validation R² difference that counts as a tie.
        pool: most laws returned.
    """
    ranked = sorted(candidates, key=lambda c: (-c.val_r2, c.program_id))
    if not ranked:
        return []
    top = ranked[0].val_r2
    width = max(tolerance, band * max(0.0, 1.0 - top))
    return [c for c in ranked if c.val_r2 >= top - width][: max(1, pool)]


def _params_key(c: Candidate) -> int:
    return c.n_params if c.n_params is not None else 10**9


def choose(candidates: Sequence[Candidate], band: float, tolerance: float,
           inner_r2: Callable[[int], float | None], pool: int = POOL) -> Selection | None:
    """Pick the final law among ``candidates`` (see the module docstring).

    Args:
        candidates: evaluated laws with a finite validation R².
        band, tolerance: what counts as tied (see ``tied``).
        inner_r2: program id -> R² on the inner hold-out (None if it failed);
            called only for the tied laws, and only when there are several.
        pool: most tied laws refitted.
    """
    if not candidates:
        return None
    if band <= 0:
        close = tied(candidates, 0.0, tolerance, pool=len(candidates))
        best = min(close, key=lambda c: (_params_key(c), -c.val_r2, c.program_id))
        return Selection(best.program_id, "parsimony", band, tuple(close))
    ties = tied(candidates, band, tolerance, pool)
    if len(ties) == 1:
        return Selection(ties[0].program_id, "validation", band, tuple(ties))
    scored = tuple(Candidate(c.program_id, c.val_r2, c.n_params, inner_r2(c.program_id)) for c in ties)

    def key(c: Candidate) -> tuple:
        inner = c.inner_r2 if c.inner_r2 is not None and math.isfinite(c.inner_r2) else -math.inf
        return (-inner, _params_key(c), -c.val_r2, c.program_id)

    return Selection(min(scored, key=key).program_id, "inner hold-out", band, scored)
