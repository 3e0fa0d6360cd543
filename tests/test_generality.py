"""Nothing in scoring, loading or search may assume the built-in tables' scales or shapes.

Each test builds its own small synthetic table the way a user's would look
(a target in small units, two model sizes, ...) and checks that it is
handled like any other table.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evosld.evaluation.metrics import score, trimmed_r2
from evosld.tasks.loaders import guess_log_features


def _law_and_noise(n: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(truth (n,), predictions (n,)) of a loss-like target of order 2 and a law missing it by ~1%."""
    rng = np.random.default_rng(seed)
    N = np.logspace(7, 10, n)
    truth = 1.7 + 400 / N**0.34
    return truth, truth * (1 + 0.01 * rng.standard_normal(n))


@pytest.mark.parametrize("unit", [1e-3, 1e-5, 1e-8])
def test_a_target_in_small_units_scores_as_in_large_ones(unit):
    # an optimal learning rate (~3e-4), or a loss written in other units: R² is scale-free, so the
    # variance floor must not turn a target that varies by less than 1e-9 into -inf for every law
    truth, pred = _law_and_noise()
    ref = score(pred, truth)
    small = score(pred * unit, truth * unit)
    assert np.isfinite(small.r2) and small.r2 == pytest.approx(ref.r2, rel=1e-9)
    assert small.nmae == pytest.approx(ref.nmae, rel=1e-9)
    assert trimmed_r2((pred * unit)[:, None], (truth * unit)[:, None]) == pytest.approx(
        trimmed_r2(pred[:, None], truth[:, None]), rel=1e-9)


def test_a_flat_slice_is_still_not_scored():
    flat = np.full(6, 2.5e-4)
    assert score(flat * 1.01, flat).r2 == -np.inf
    assert trimmed_r2(flat[:, None] * 1.01, flat[:, None]) == -1.0


def test_a_run_on_a_target_in_small_units_finds_a_law(tmp_path):
    import evosld

    rng = np.random.default_rng(0)
    N = np.logspace(7, 10, 16)
    lr = 1e-3 * (1.7 + 400 / N**0.34) * (1 + 0.003 * rng.standard_normal(len(N)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evosld.discover(pd.DataFrame({"N": N, "lr": lr}), features=["N"], target="lr", iterations=2,
                                 budget_seconds=None, seed=0, output=tmp_path / "run", progress=False)
    assert result.val["r2"] > 0.9 and result.test["r2"] > 0.5, (result.val, result.test)


def test_the_screen_scores_a_target_in_small_units_as_in_large_ones():
    from evosld.proposers.symbolic.screen import r2

    truth, pred = _law_and_noise()
    assert r2(pred * 1e-7, truth * 1e-7) == pytest.approx(r2(pred, truth), rel=1e-9)


def test_two_model_sizes_with_the_larger_as_test_still_validate():
    # the default test rule holds out the larger model; the next-largest in train is all of train, so
    # validating there would leave nothing to fit: the table must not be refused for a rule it never gave
    from evosld.tasks.loaders import task_from_frame

    N = np.repeat([1e8, 1e9], 8)
    D = np.tile(np.logspace(9, 11, 8), 2)
    df = pd.DataFrame({"N": N, "D": D, "loss": 1.7 + 400 / N**0.34 + 410 / D**0.28})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task = task_from_frame(df, ["N", "D"], "loss")
    assert task.test_rule == "largest:N" and task.val_rule.startswith("random:")
    assert "no train rows to fit on" in task.val_how
    counts = task.split_counts()["all_data"]
    assert counts["fit"] >= 3 and counts["val"] >= 3 and counts["test"] == 8
    assert any("only 1 value(s)" in str(w.message) for w in caught)  # the user is told test is a guess along N


def _families(single: tuple[float, ...] = (3e8,)) -> pd.DataFrame:
    """A data sweep per model family; family 'a' is run at the sizes ``single``, family 'b' at three sizes."""
    rng = np.random.default_rng(0)
    rows = [{"fam": fam, "N": N, "D": d, "loss": (1.7 if fam == "a" else 1.8) + 400 / N**0.34 + 410 / d**0.28}
            for fam, sizes in (("a", single), ("b", (1e8, 3e8, 1e9))) for N in sizes for d in np.logspace(9, 11, 8)]
    df = pd.DataFrame(rows)
    df["loss"] *= 1 + 0.003 * rng.standard_normal(len(df))
    return df


def test_a_family_run_at_one_size_leaves_laws_to_propose():
    # the fewest sizes in any family's fit rows was 1, under which no law at all counted as identifiable
    # (not even a constant): the symbolic search proposed nothing and the run returned its starter
    from evosld.proposers.symbolic.identify import identifiable
    from evosld.proposers.symbolic.proposer import SymbolicProposer
    from evosld.tasks.loaders import task_from_frame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        task = task_from_frame(_families(), ["D", "N"], "loss", group="fam")
    prop = SymbolicProposer(task.search_view(), seed=0)
    assert prop.space.levels[1] == 3  # the family with three sizes pins laws along N; the one-size family cannot
    laws = prop.seed_laws()
    assert any(1 in f.feats for law in laws for t in law.terms for f in t.factors)  # laws in N are proposed
    # when every family holds a feature at one value, laws that ignore it remain
    one = prop.space.__class__(**{**prop.space.__dict__, "levels": (prop.space.levels[0], 1)})
    uses_n = [any(1 in f.feats for t in law.terms for f in t.factors) for law in laws]
    assert any(identifiable(law, one) for law, n in zip(laws, uses_n) if not n)
    assert not all(identifiable(law, one) for law, n in zip(laws, uses_n) if n)


def test_a_doubling_grid_is_read_on_a_log_scale():
    rng = np.random.default_rng(0)
    P = np.tile([1.0, 2.0, 4.0, 8.0], 6) * (1 + 1e-6 * rng.uniform(-1, 1, 24))  # streams read off a figure
    df = pd.DataFrame({
        "P": P,
        "warmup": np.tile([100.0, 200.0, 300.0, 400.0], 6),  # even steps: linear
        "pair": np.tile([1.0, 2.0], 12),  # two levels say nothing about the grid
        "with_zero": np.tile([0.0, 2.0, 4.0, 8.0], 6),  # a zero: not on a log scale unless it spans 10x
        "N": np.repeat(np.logspace(7, 9, 6), 4),
    })
    assert guess_log_features(df, list(df.columns)) == ("P", "N")
