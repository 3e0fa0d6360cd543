"""SLDBench metrics against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest

from evosld.evaluation.metrics import failure, score


def test_single_output_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.0, 2.0, 3.0, 5.0])
    s = score(p, y)
    # MSE = 1/4; Var(y) = 1.25 -> NMSE = 0.2, R² = 0.8
    assert s.nmse == pytest.approx(0.2)
    assert s.r2 == pytest.approx(0.8)
    # MAE = 1/4; mean|y - 2.5| = 1.0 -> NMAE = 0.25
    assert s.nmae == pytest.approx(0.25)
    assert s.combined_score == pytest.approx(1 / 1.2)


def test_multi_output_averages_per_output():
    y = np.array([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]])
    p = np.array([[1.0, 10.0], [2.0, 20.0], [4.0, 30.0]])
    s = score(p, y)
    # output 0: MSE 1/3, Var 2/3 -> NMSE 0.5; output 1: perfect
    assert s.nmse_per_output == pytest.approx([0.5, 0.0])
    assert s.nmse == pytest.approx(0.25)
    assert s.r2 == pytest.approx(0.75)


def test_unclipped_and_clipped_r2():
    y = np.array([1.0, 2.0, 3.0])
    s = score(y + 10, y)
    assert s.r2 < -1
    assert s.r2_clipped == -1


@pytest.mark.parametrize(
    "pred",
    [np.array([1.0, np.nan, 3.0]), np.array([1.0, np.inf, 3.0]), np.array([1.0, 2.0]), np.array(["a", "b", "c"])],
)
def test_failures_score_minus_one(pred):
    s = score(pred, np.array([1.0, 2.0, 3.0]))
    assert s.r2 == -1 and s.error


def test_column_vector_matches_flat_target():
    y = np.array([1.0, 2.0, 3.0])
    assert score(y.reshape(-1, 1), y).r2 == pytest.approx(1.0)


def test_constant_truth_gives_infinite_nmse():
    s = score(np.array([1.0, 1.0]), np.array([2.0, 2.0]))
    assert s.nmse == np.inf and s.r2_clipped == -1


def test_trimmed_r2_leaves_out_a_run_that_went_wrong():
    rng = np.random.default_rng(0)
    y = np.linspace(2.9, 3.1, 16)  # a narrow band, as an inner fold often is
    good = y + 0.01 * rng.standard_normal(16)
    truth = y.copy()
    truth[5] += 0.5  # one run that went wrong
    plain = score(good, truth)
    assert plain.r2 < 0.5 and plain.r2_trimmed > 0.95  # one row carried the squared error
    bad = y + 0.2 * np.sin(np.arange(16))  # a law that misses many rows keeps them all
    assert score(bad, y).r2_trimmed == pytest.approx(score(bad, y).r2)
    few = score(good[:9], truth[:9])  # under ten rows nothing is dropped
    assert few.r2_trimmed == pytest.approx(few.r2)
    assert failure("x").r2_trimmed == -1.0


def test_r2_spread_is_the_bootstrap_standard_error_of_r2():
    """How far a slice's R² moves with which runs are in it: none for exact predictions, shrinking with rows."""
    from evosld.evaluation.metrics import r2_spread

    rng = np.random.default_rng(0)

    def slice_of(n: int) -> tuple[dict, dict]:
        y = {"a": np.linspace(1.0, 2.0, n), "b": np.linspace(3.0, 4.0, n)}
        return {g: v + 0.1 * rng.standard_normal(n) for g, v in y.items()}, y

    exact = {"a": np.linspace(1.0, 2.0, 8)}
    assert r2_spread(exact, exact) == pytest.approx(0.0, abs=1e-12)
    small, large = r2_spread(*slice_of(8)), r2_spread(*slice_of(200))
    assert small is not None and large is not None and 0 < large < small
    pred, truth = slice_of(8)
    assert r2_spread(pred, truth) == r2_spread(pred, truth)  # seeded: reproducible
    assert r2_spread({"a": pred["a"]}, truth) is None  # a group not predicted
    assert r2_spread({"a": np.full(8, np.nan), "b": pred["b"]}, truth) is None
    assert r2_spread({"a": np.ones(3)}, {"a": np.full(3, 2.0)}) is None  # targets that do not vary
