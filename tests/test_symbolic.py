"""Symbolic proposer: structures, fitting, emitted programs, proposals (synthetic data)."""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import textwrap
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from evosld.evaluation.metrics import isolated_misses
from evosld.proposers.base import ParentInfo, ProposalRequest
from evosld.proposers.symbolic import Factor, Law, SymbolicProposer, Term
from evosld.proposers.symbolic.blocks import KINDS
from evosld.proposers.symbolic.emit import program_source
from evosld.proposers.symbolic.fit import (
    fit_varpro,
    huber_cost,
    projected_jacobian,
    projected_residual,
)
from evosld.proposers.symbolic.identify import dof_along, identifiable, tie_pairs
from evosld.proposers.symbolic.model import Model
from evosld.proposers.symbolic.mutate import available_kinds, crossover, mutate, random_law, valid
from evosld.proposers.symbolic.space import Space
from evosld.tasks.task import Task


def F(kind: str, *feats: int) -> Factor:
    return Factor(kind, feats)


def chinchilla_table(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """L = 1.7 + 400/N^0.34 + 410/D^0.28 on a log grid; X (n, 2), y (n,)."""
    rng = np.random.default_rng(seed)
    N = 10 ** rng.uniform(7, 9.5, n)
    D = 10 ** rng.uniform(8, 11, n)
    y = 1.7 + 400.0 / N**0.34 + 410.0 / D**0.28
    return np.column_stack([N, D]), y


def synthetic_task(noise: float = 0.0) -> Task:
    X, y = chinchilla_table(200, seed=1)
    y = y + noise * np.random.default_rng(2).normal(size=len(y))
    df = pd.DataFrame({"group": "all", "N": X[:, 0], "D": X[:, 1], "loss": y})
    big = df["N"] > 10**9.2
    train, test = df[~big].reset_index(drop=True), df[big].reset_index(drop=True)
    val_mask = (train["N"] > 10**8.9).to_numpy()
    return Task(name="synthetic", features=("N", "D"), targets=("loss",), train=train, test=test,
                val_mask=val_mask, max_params=5, log_features=("N", "D"))


def space_for(X: np.ndarray, names=("N", "D"), logs=("N", "D")) -> Space:
    return Space.from_data(X, names, logs)


# ---- structures ---------------------------------------------------------------

def test_canonical_key_ignores_order_and_round_trips() -> None:
    a = Law.of(Term(), Term.of(F("pow", 0), F("pow", 1)), Term.of(F("sat", 1)))
    b = Law.of(Term.of(F("sat", 1)), Term.of(F("pow", 1), F("pow", 0)), Term())
    assert a.key == b.key == "1 + pow(0)*pow(1) + sat(1)"
    assert a.n_params == 1 + 3 + 3 and a.n_linear == 3
    assert Law.from_json(a.to_json()).key == a.key
    with pytest.raises(ValueError):
        Law.from_json({"terms": [[["nope", [0]]]]})


def test_valid_respects_limit_and_features() -> None:
    X, _ = chinchilla_table()
    sp = space_for(X)
    law = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("pow", 1)))
    assert valid(law, sp, 5) and not valid(law, sp, 4)
    assert not valid(Law.of(Term.of(F("pow", 0), F("pow", 0))), sp, None)
    assert not valid(Law.of(Term.of(F("expmix", 0))), sp, None)  # needs fractions




def test_no_unbounded_log_term_along_an_extrapolated_feature() -> None:
    X, _ = chinchilla_table()
    fit, val = X[X[:, 0] < 10**9], X[X[:, 0] >= 10**9]
    sp = space_for(X).with_extrapolation(fit, val)
    assert sp.extrapolated == (0,)
    assert not valid(Law.of(Term(), Term.of(F("lin", 0))), sp, None)  # c ln N falls forever
    assert not valid(Law.of(Term(), Term.of(F("logsh", 0))), sp, None)
    assert valid(Law.of(Term(), Term.of(F("lin", 0), F("pow", 0))), sp, None)  # ln N * N^a has a limit
    assert valid(Law.of(Term(), Term.of(F("lin", 1))), sp, None)  # D is not extrapolated
    assert valid(Law.of(Term(), Term.of(F("bowl", 1, 0))), sp, None)  # an optimum that moves with N


def test_bowls_curve_only_along_features_with_an_optimum_in_the_data() -> None:
    """Loss that falls monotonically with D but has an optimum in the learning rate."""
    D, lr = np.meshgrid(10.0 ** np.arange(8, 12), 10.0 ** np.linspace(-4, -2, 5))
    X = np.column_stack([D.ravel(), lr.ravel()])
    y = 2.0 + 50.0 / X[:, 0] ** 0.2 + 0.3 * (np.log10(X[:, 1]) + 3.0) ** 2
    sp = space_for(X, names=("D", "lr"), logs=("D", "lr")).with_optima([(X, y)])
    assert sp.monotone == (0,)  # every sweep of D is lowest at its end; lr sweeps are lowest inside
    assert not valid(Law.of(Term(), Term.of(F("bowl", 0))), sp, None)
    assert valid(Law.of(Term(), Term.of(F("bowl", 1, 0))), sp, None)  # lr's optimum may move with D
    rng = np.random.default_rng(0)
    for _ in range(200):
        law = random_law(rng, sp, None)
        assert all(f.feats[0] == 1 for t in law.terms for f in t.factors if f.kind == "bowl")

def test_features_never_swept_are_judged_on_quantile_bins() -> None:
    """Users' tables rarely repeat the other features exactly (sizes read off a figure, continuous runs)."""
    Xr, yr = chinchilla_table()  # N and D both continuous: no row varies one of them alone
    sp = space_for(Xr).with_optima([(Xr, yr)])
    assert sp.monotone == (0, 1)  # the loss falls along both, so no bump or bowl curves along them
    assert not valid(Law.of(Term(), Term.of(F("bump", 0))), sp, None)
    assert not valid(Law.of(Term(), Term.of(F("bowl", 1))), sp, None)
    # A continuous learning rate with an optimum stays free, whatever the model size does.
    rng = np.random.default_rng(1)
    X = np.column_stack([10 ** rng.uniform(7, 9, 200), 10 ** rng.uniform(-4, -2, 200)])
    y = 2.0 + 50.0 / X[:, 0] ** 0.2 + 0.3 * (np.log10(X[:, 1]) + 3.0) ** 2
    sp = space_for(X, names=("N", "lr"), logs=("N", "lr")).with_optima([(X, y)])
    assert 1 not in sp.monotone and 0 in sp.monotone
    # Too few rows for bins: nothing is known, the feature stays free.
    assert space_for(Xr[:12]).with_optima([(Xr[:12], yr[:12])]).monotone == ()
def test_no_effective_scale_between_features_the_data_entangles() -> None:
    """Data grown with model size (D ~ 20 N): (N (1 + k ln D))^a mimics an exponent and runs off beyond the data."""
    rng = np.random.default_rng(0)
    N = 10 ** rng.uniform(7.5, 10, 150)
    tangled = np.column_stack([N, 20 * N * np.exp(rng.normal(0, 1.0, 150))])
    sp = space_for(tangled)
    assert sp.entangled == ((0, 1),)
    assert not valid(Law.of(Term(), Term.of(F("escale", 0, 1))), sp, None)
    assert not valid(Law.of(Term(), Term.of(F("escale", 1, 0))), sp, None)
    crossed = np.column_stack([np.repeat(10.0 ** np.arange(8, 11), 4), np.tile([1.0, 2.0, 4.0, 8.0], 3)])
    sp = space_for(crossed, names=("N", "P"), logs=("N", "P"))  # ParScale's grid: N x parallel streams
    assert sp.entangled == ()
    assert valid(Law.of(Term(), Term.of(F("escale", 0, 1))), sp, None)


def test_free_parameters_along_a_feature_are_counted_and_bounded_by_its_levels() -> None:
    """Four model sizes pin down at most three parameters of the curve in N."""
    N, E = np.meshgrid(10.0 ** np.array([7.0, 7.5, 8.0, 8.5]), 2.0 ** np.arange(8))
    X = np.column_stack([E.ravel(), N.ravel()])
    sp = space_for(X, names=("E", "N"), logs=("E", "N")).with_levels([X])
    assert sp.levels == (8, 4)
    c = Term()
    cases = [  # law, free parameters along E, along N (given the other feature)
        (Law.of(c, Term.of(F("pow", 0), F("pow", 1))), 2, 2),  # c + A E^a N^b: c and A are pinned along the other
        (Law.of(c, Term.of(F("pow", 1)), Term.of(F("pow", 0))), 3, 3),  # terms in E merge into the constant along N
        (Law.of(c, Term.of(F("pow", 1), F("shift", 0))), 3, 2),  # c + A N^b (E + e^k)^a
        # c + A ln E N^b + B (N + e^k)^beta: along N a level on a 4-parameter curve and a slope on a 2-parameter one
        (Law.of(c, Term.of(F("lin", 0), F("pow", 1)), Term.of(F("shift", 1))), 1, 4),
        (Law.of(Term.of(F("pow", 1)), Term.of(F("pow", 1), F("lin", 1))), 1, 4),  # A N^a + B ln N N^b
        (Law.of(c, Term.of(F("escale", 1, 0))), 2, 1),  # c + A (N (1 + k ln E))^a: only k is E's own
        # c + A N^a + k (ln E - m0 - m1 ln N)^2: an optimum in E moving with N; along N the level is a
        # 3-parameter curve and the optimum a 2-parameter one (k is the same at every N): 3, not 4 (the
        # count before session 26, which took every parameter not pinned at one N as one curve)
        (Law.of(c, Term.of(F("pow", 1)), Term.of(F("bowl", 0, 1))), 2, 3),
    ]
    for law, along_e, along_n in cases:
        assert (dof_along(law, sp, 0), dof_along(law, sp, 1)) == (along_e, along_n), law.key
        assert identifiable(law, sp) == (along_n < 4 and along_e < 8), law.key
    two = space_for(X[X[:, 0] <= 2], names=("E", "N"), logs=("E", "N")).with_levels([X[X[:, 0] <= 2]])
    assert two.levels == (2, 4)  # two levels carry a one-parameter effect, not more
    assert identifiable(cases[0][0], two) and identifiable(cases[-1][0], two)
    assert not identifiable(cases[1][0], two)  # c + A N^a + B E^b: two parameters for one contrast
    assert identifiable(cases[3][0], space_for(X, names=("E", "N"), logs=("E", "N")))  # levels unknown: no check


def test_an_optimum_that_moves_with_model_size_is_a_starting_law_on_four_sizes() -> None:
    """Loss against model size and learning rate, a bowl in ln lr whose optimum falls with size (StepLaw-like,
    Li et al. 2025), four sizes in the fit rows: the true law is pinned down and is one of the starting laws."""
    rng = np.random.default_rng(0)
    N, lr = (a.ravel() for a in np.meshgrid(np.logspace(7.7, 9.5, 6), np.logspace(-4, -1.5, 8), indexing="ij"))
    loss = 1.8 + 300.0 * N ** -0.32 + 0.02 * (np.log(lr) - (-1.2 - 0.25 * np.log(N))) ** 2
    df = pd.DataFrame({"group": "all", "N": N, "lr": lr, "loss": loss + rng.normal(0, 0.01, len(N))})
    task = Task(name="bowl", features=("N", "lr"), targets=("loss",), train=df[N < 3e9], test=df[N >= 3e9],
                val_mask=(df.loc[N < 3e9, "N"] > 1e9).to_numpy(), max_params=9, log_features=("N", "lr"))
    prop = SymbolicProposer(task.search_view(), seed=0)
    assert prop.space.levels == (4, 8) and prop.space.bowl_axis(1)
    truth = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("bowl", 1, 0)))
    assert dof_along(truth, prop.space, 0) == 3 and identifiable(truth, prop.space)
    assert truth.key in {law.key for law in prop.seed_laws()}


def test_three_sizes_keep_the_learning_rate_bowl_and_a_screen_that_tells_laws_apart() -> None:
    """The same loss against size and learning rate with three sizes in the fit rows: no inner fold (too few
    sizes below validation), and ``E + A N^a`` is not pinned along N. The starting laws still curve along the
    learning rate (leaving out the power of N, not the bowl listed after it), and the screen scores every
    starting law on the fold that fits two sizes (it scored every law -inf: proposals were the smallest of
    each batch); with one size fewer still, on a random hold-out of the fit rows."""
    from evosld.proposers.symbolic.screen import fold_splits

    rng = np.random.default_rng(0)
    N, lr = (a.ravel() for a in np.meshgrid(np.logspace(7.7, 9.5, 5), np.logspace(-4, -1.5, 8), indexing="ij"))
    loss = 1.8 + 300.0 * N ** -0.32 + 0.02 * (np.log(lr) - (-1.2 - 0.25 * np.log(N))) ** 2
    df = pd.DataFrame({"group": "all", "N": N, "lr": lr, "loss": loss + rng.normal(0, 0.01, len(N))})

    def task(smallest: float) -> Task:
        keep = df[df["N"] >= smallest]
        train = keep[keep["N"] < 3e9]
        return Task(name="bowl3", features=("N", "lr"), targets=("loss",), train=train, test=keep[keep["N"] >= 3e9],
                    val_mask=(train["N"] > 1e9).to_numpy(), max_params=9, log_features=("N", "lr"))

    three = task(0.0)
    prop = SymbolicProposer(three.search_view(), seed=0)
    assert prop.space.levels == (3, 8) and not three.inner_folds(1)
    assert not identifiable(Law.of(Term(), Term.of(F("pow", 0))), prop.space)
    laws = prop.seed_laws()
    assert any(f.kind == "bowl" for law in laws for t in law.terms for f in t.factors)
    scores = {law.key: prop.screen.score(law) for law in laws}
    assert all(np.isfinite(v) for v in scores.values())
    assert max(scores.values()) > scores[Law.of(Term()).key] + 1.0
    splits = fold_splits(three)  # fit on the two smaller sizes, score the third
    assert len(splits) == 1 and len(np.unique(splits[0].X_fit[:, 0])) == 2 and len(np.unique(splits[0].X_out[:, 0])) == 1
    two = fold_splits(task(1e8))  # two sizes in the fit rows: a fifth of them at random
    assert len(two) == 1 and len(two[0].X_out) == round(0.2 * 16) and len(two[0].X_fit) == 16 - len(two[0].X_out)


def _seeds_and_proposals(prop: SymbolicProposer, n: int) -> list[Law]:
    """The structures of ``prop``'s seeds and of ``n`` proposals, each made from the one before."""
    return [Law.from_json(p.meta["structure"]) for p in proposals_of(prop, n) if p.source]


def test_proposer_only_proposes_laws_the_fit_rows_pin_down() -> None:
    """With four sizes in the fit rows, no proposal has four free parameters along N."""
    N, D = np.meshgrid(10.0 ** np.array([7.0, 7.5, 8.0, 8.5, 9.0]), 10.0 ** np.linspace(8, 11, 12))
    X = np.column_stack([N.ravel(), D.ravel()])
    y = 1.7 + 400.0 / X[:, 0] ** 0.34 + 410.0 / X[:, 1] ** 0.28
    df = pd.DataFrame({"group": "all", "N": X[:, 0], "D": X[:, 1], "loss": y})
    task = Task(name="four_sizes", features=("N", "D"), targets=("loss",), train=df, test=df.iloc[:0],
                val_mask=(df["N"] > 10**8.7).to_numpy(), max_params=7, log_features=("N", "D"))
    prop = SymbolicProposer(task.search_view(), seed=0)
    assert prop.space.levels == (4, 12)
    laws = _seeds_and_proposals(prop, 30)
    assert max(law.n_params for law in laws) >= 5  # the limit leaves room for richer laws...
    assert all(dof_along(law, prop.space, 0) <= 3 for law in laws)  # ...but never four parameters in N


def test_no_law_uses_a_feature_the_fit_rows_hold_at_one_value() -> None:
    """A learning rate the user never varied: no fit can learn its effect, so no law is given one (a new-user
    audit found picks with a bump or an exponential in it, parameters on their bounds)."""
    X, y = chinchilla_table(120, seed=3)
    df = pd.DataFrame({"group": "all", "N": X[:, 0], "D": X[:, 1], "lr": 3e-4, "loss": y})
    task = Task(name="constant_lr", features=("N", "D", "lr"), targets=("loss",), train=df, test=df.iloc[:0],
                val_mask=(df["N"] > 10**9.2).to_numpy(), max_params=9, log_features=("N", "D"))
    prop = SymbolicProposer(task.search_view(), seed=0)
    assert prop.space.levels[2] == 1
    c = Term()
    assert not identifiable(Law.of(c, Term.of(F("pow", 0)), Term.of(F("bump", 2))), prop.space)
    assert identifiable(Law.of(c, Term.of(F("pow", 0)), Term.of(F("pow", 1))), prop.space)
    laws = _seeds_and_proposals(prop, 40)
    assert len(laws) > 20
    assert not any(2 in f.feats for law in laws for t in law.terms for f in t.factors)


# ---- fitting ------------------------------------------------------------------

def test_varpro_recovers_two_power_laws() -> None:
    X, y = chinchilla_table()
    sp = space_for(X)
    law = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("pow", 1)))
    model = Model(law, sp)
    params = model.fit(X, y)
    pred = model.predict(X, params)
    assert np.max(np.abs(pred - y)) < 1e-6
    coef, theta = params[: law.n_linear], params[law.n_linear:]
    assert sorted(np.round(theta, 3).tolist()) == [-0.34, -0.28]
    assert coef[law.terms.index(Term())] == pytest.approx(1.7, abs=1e-4)


def test_projected_jacobian_matches_central_differences_also_at_a_bound() -> None:
    from scipy.optimize._numdiff import approx_derivative

    X, y = chinchilla_table()
    y = y + 0.01 * np.random.default_rng(3).normal(size=len(y))
    sp = space_for(X)
    law = Law.of(Term(), Term.of(F("pow", 0), F("pow", 1)), Term.of(F("pow", 1)))
    model = Model(law, sp)
    lo, hi, ilo, ihi = model.boxes()
    U = sp.transform(X, 0)
    for theta in (np.clip((ilo + ihi) / 2 + 0.1 * (ihi - ilo), lo, hi), np.where(np.arange(lo.size) == 0, hi, (ilo + ihi) / 2)):
        J = projected_jacobian(theta, model.basis_u, U, y, lo, hi)
        ref = approx_derivative(lambda t: projected_residual(t, model.basis_u, U, y), theta, method="3-point",
                                bounds=(lo, hi))
        assert J.shape == (len(y), lo.size)
        assert np.max(np.abs(J - ref)) < 1e-4 * np.max(np.abs(ref))


def test_analytic_and_finite_difference_fits_agree() -> None:
    X, y = chinchilla_table()
    y = y + 0.01 * np.random.default_rng(4).normal(size=len(y))
    model = Model(Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("pow", 1))), space_for(X))
    fast, slow = model.fit(X, y), model.fit(X, y, jacobian=False)
    assert np.max(np.abs(model.predict(X, fast) - model.predict(X, slow))) < 1e-4


def test_fit_varpro_is_deterministic_and_handles_no_nonlinear_params() -> None:
    X, y = chinchilla_table()
    U = np.log(X)

    def basis(U, th):
        return np.column_stack([np.ones(len(U)), np.exp(th[0] * U[:, 0]), np.exp(th[1] * U[:, 1])])

    lo, hi = np.array([-2.0, -2.0]), np.array([1.0, 1.0])
    a = fit_varpro(basis, U, y, lo, hi, lo / 2, hi / 2, seed=3)
    b = fit_varpro(basis, U, y, lo, hi, lo / 2, hi / 2, seed=3)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    coef, theta = fit_varpro(lambda U, th: np.column_stack([np.ones(len(U)), U[:, 0]]), U, 2 + 3 * U[:, 0],
                             np.zeros(0), np.zeros(0), np.zeros(0), np.zeros(0))
    assert theta.size == 0 and np.allclose(coef, [2, 3])


def _saturating_runs(n: int = 40, n_bad: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 1) log sizes and losses of y = 1.5 + 2 x^-0.4 with 0.2% noise; ``n_bad``
    runs spread over the range sit 0.3 too high (runs that went wrong)."""
    rng = np.random.default_rng(seed)
    u = np.linspace(0.0, 6.0, n)[:, None]
    y = (1.5 + 2.0 * np.exp(-0.4 * u[:, 0])) * (1 + 0.002 * rng.standard_normal(n))
    y[np.linspace(3, n - 4, n_bad).astype(int) if n_bad else []] += 0.3
    return u, y


def _one_power(U, th):
    return np.column_stack([np.ones(len(U)), np.exp(th[0] * U[:, 0])])


def test_huber_polish_is_not_pulled_by_off_trend_runs() -> None:
    u, y = _saturating_runs()
    lo, hi = np.array([-3.0]), np.array([0.0])
    (c_ls, th_ls) = fit_varpro(_one_power, u, y, lo, hi, lo, hi, huber=0.0)
    (c_hu, th_hu) = fit_varpro(_one_power, u, y, lo, hi, lo, hi)
    truth = np.array([1.5, 2.0, -0.4])
    err_ls = np.abs(np.concatenate([c_ls, th_ls]) - truth)
    err_hu = np.abs(np.concatenate([c_hu, th_hu]) - truth)
    assert np.all(err_hu < [0.02, 0.01, 0.01])  # the robust fit finds the law of the other 36 runs
    assert err_ls[0] > 3 * err_hu[0]  # least squares lifts the floor (the limit it extrapolates to)


def test_huber_polish_leaves_clean_and_exact_fits_alone() -> None:
    u, y = _saturating_runs(n_bad=0)
    lo, hi = np.array([-3.0]), np.array([0.0])
    c_ls, th_ls = fit_varpro(_one_power, u, y, lo, hi, lo, hi, huber=0.0)
    c_hu, th_hu = fit_varpro(_one_power, u, y, lo, hi, lo, hi)
    assert np.allclose(c_hu, c_ls, rtol=0.02) and np.allclose(th_hu, th_ls, atol=0.01)
    exact = 1.5 + 2.0 * np.exp(-0.4 * u[:, 0])  # zero residuals: no threshold, the fit is kept as is
    c_ex, th_ex = fit_varpro(_one_power, u, exact, lo, hi, lo, hi)
    assert np.allclose(c_ex, [1.5, 2.0], atol=1e-6) and th_ex[0] == pytest.approx(-0.4, abs=1e-6)


def _diverged_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An 8 N x 8 D grid of L = 1.8 + 500/N^0.35 + 350/D^0.28 with 1% noise, where three train runs
    diverged (loss + 0.3..1.0). Returns X (64, 2), y (64,), and the (64,) train mask (all but the
    largest N). The draw is one where those runs pull least squares into a wrong basin (the floor and
    the data term trade: E in the thousands, the D exponent 0)."""
    rng = np.random.default_rng([0, 3942744037])
    Ns, Ds = np.logspace(np.log10(5e7), np.log10(7e9), 8), np.logspace(np.log10(3e9), np.log10(3e11), 8)
    N, D = (a.ravel() for a in np.meshgrid(Ns, Ds, indexing="ij"))
    y = 1.8 + 500.0 / N**0.35 + 350.0 / D**0.28 + rng.normal(0, 0.01, len(N))
    train = N < Ns[-1] * 0.999
    bad = rng.choice(np.flatnonzero(train), size=3, replace=False)
    y[bad] += rng.uniform(0.3, 1.0, 3)
    return np.column_stack([N, D]), y, train


def test_a_few_diverged_runs_do_not_pull_the_fit_into_another_basin() -> None:
    X, y, train = _diverged_grid()
    law = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("pow", 1)))
    model = Model(law, space_for(X[train]))
    params = model.fit(X[train], y[train])
    floor = params[law.terms.index(Term())]
    assert floor == pytest.approx(1.8, abs=0.1)  # least squares alone: 3015, with a data term of -3013 D^0
    pred, held = model.predict(X[~train], params), y[~train]
    assert 1 - np.mean((pred - held) ** 2) / np.var(held) > 0.99  # least squares alone: 0.96


def test_a_second_start_is_kept_only_when_it_is_another_basin() -> None:
    u, y = _saturating_runs(n_bad=0)
    lo, hi = np.array([-3.0]), np.array([0.0])
    assert not isolated_misses(y - (1.5 + 2.0 * np.exp(-0.4 * u[:, 0]))).any()  # clean runs: no second start
    u, y = _saturating_runs()
    misses = isolated_misses(y - (1.5 + 2.0 * np.exp(-0.4 * u[:, 0])))
    assert misses.sum() == 4  # the four runs 0.3 too high, at 0.2% noise
    assert not isolated_misses(np.r_[np.zeros(8), 5.0]).any()  # fewer than 10 rows: nothing is a miss
    coef, theta = fit_varpro(_one_power, u, y, lo, hi, lo, hi)
    assert np.allclose(np.concatenate([coef, theta]), [1.5, 2.0, -0.4], atol=0.02)
    first = fit_varpro(_one_power, u, y, lo, hi, lo, hi, basin=1.0)  # the first start always kept
    assert np.array_equal(np.concatenate([coef, theta]), np.concatenate(first))  # the same optimum: the first stays
    X, y, train = _diverged_grid()
    law = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("pow", 1)))
    model = Model(law, space_for(X[train]))
    assert model.fit(X[train], y[train], basin=1.0)[law.terms.index(Term())] > 100  # another basin: the first is wrong
    assert huber_cost(np.array([0.5, -2.0]), 1.0) == pytest.approx(0.125 + 1.5)


def test_a_target_spanning_decades_with_a_gross_miss_is_fitted_on_relative_residuals() -> None:
    rng = np.random.default_rng(0)
    C = np.logspace(18, 23, 24)[:, None]
    y = 3e6 * (C[:, 0] / 1e21) ** 1.1 * (1 + 0.02 * rng.standard_normal(24))
    y[[5, 17]] *= 3.0  # two runs logged three times too high: the second start fits the other 22
    law = Law.of(Term.of(F("pow", 0)))
    model = Model(law, space_for(C, names=("C",), logs=("C",)))
    params = model.fit(C, y)  # rows weighted by 1 / y, also for the 22 runs of the second start
    pred = model.predict(C, params)
    assert np.median(np.abs(pred / y - 1)) < 0.03


# ---- emitted programs -----------------------------------------------------------

ALL_BLOCKS_X = None


def mixed_table(n: int = 60, seed: int = 0) -> tuple[np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Columns: two log sizes (D >= U), a fraction pair summing to one, a plain feature."""
    rng = np.random.default_rng(seed)
    U = 10 ** rng.uniform(8, 10, n)
    D = U * rng.uniform(1, 30, n)
    D[:5] = U[:5]
    p = rng.uniform(0, 1, n)
    z = rng.normal(3, 2, n)
    return np.column_stack([D, U, p, 1 - p, z]), ("D", "U", "p1", "p2", "z"), ("D", "U")


def every_block_law() -> Law:
    return Law.of(
        Term(),
        Term.of(F("pow", 0), F("sat", 1)),
        Term.of(F("shift", 2), F("lin", 4)),
        Term.of(F("logsh", 3)),
        Term.of(F("expmix", 2, 3)),
        Term.of(F("bowl", 4, 0)),
        Term.of(F("eff", 0, 1)),
        Term.of(F("bump", 4)),
        Term.of(F("escale", 1, 0)),
        Term.of(F("tpow", 0, 1)),
    )


def test_emitted_basis_matches_blocks_for_every_kind() -> None:
    X, names, logs = mixed_table()
    sp = Space.from_data(X, names, logs)
    assert sp.entangled == ((0, 1),)  # D >= U grows with U: no effective scale between them in a search,
    sp = replace(sp, entangled=())  # but every block is emitted here, escale and tpow included
    law = every_block_law()
    assert valid(law, sp, None)
    assert {f.kind for t in law.terms for f in t.factors} == set(KINDS)
    model = Model(law, sp)
    ns: dict = {}
    exec(compile(program_source(law, sp, ("y",)), "<prog>", "exec"), ns)
    lo, hi, ilo, ihi = model.boxes()
    theta = ilo + (ihi - ilo) * np.random.default_rng(0).random(lo.size)
    assert np.allclose(ns["_basis"](X, theta), model.basis(X, theta), rtol=1e-10, atol=1e-12)


def test_program_is_self_contained_and_deterministic(tmp_path) -> None:
    X, y = chinchilla_table()
    sp = space_for(X)
    law = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("sat", 1)))
    src = program_source(law, sp, ("loss",))
    assert "# EVOLVE-BLOCK-START" in src and "# EVOLVE-BLOCK-END" in src
    imported = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= {"numpy", "scipy"}
    path = tmp_path / "law.py"
    path.write_text(src)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = textwrap.dedent(
        f"""
        import importlib.util, numpy as np
        spec = importlib.util.spec_from_file_location("law", {str(path)!r})
        m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
        X = np.load({str(tmp_path / 'X.npy')!r}); y = np.load({str(tmp_path / 'y.npy')!r})
        p1 = m.fit_scaling_law(X, y); p2 = m.fit_scaling_law(X, y)
        assert np.array_equal(p1, p2)
        pred = m.scaling_law_func(X, p1)
        assert pred.shape == y.shape
        print(1 - np.mean((pred - y) ** 2) / np.var(y))
        """
    )
    out = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert float(out.stdout) > 0.999


def test_multi_output_program_returns_per_output_params() -> None:
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(3), size=40)
    Y = np.column_stack([2 + np.exp(-2 * P[:, t] + 0.5 * P[:, (t + 1) % 3]) for t in range(3)])
    sp = Space.from_data(P, ("a", "b", "c"), ())
    assert sp.mixture and sp.kinds == ("frac",) * 3
    law = Law.of(Term(), Term.of(F("expmix", 0, 1, 2)))
    ns: dict = {}
    exec(compile(program_source(law, sp, ("ya", "yb", "yc")), "<prog>", "exec"), ns)
    params = ns["fit_scaling_law"](P, Y)
    assert params.shape == (3, law.n_params)
    pred = ns["scaling_law_func"](P, params)
    assert pred.shape == Y.shape and np.max(np.abs(pred - Y)) < 1e-4


# ---- the proposer -------------------------------------------------------------------

def run_proposals(seed: int, n: int = 6) -> list:
    return proposals_of(SymbolicProposer(synthetic_task(noise=0.002).search_view(), seed=seed), n)


def proposals_of(prop: SymbolicProposer, n: int) -> list:
    """``prop``'s seeds, then ``n`` proposals, each made from the one before."""
    out = prop.seeds()
    parent = ParentInfo(program_id=0, source=out[0].source or "", meta=out[0].meta)
    for i in range(n):
        p = asyncio.run(prop.propose(ProposalRequest(iteration=i, parent=parent, seed=i)))
        out.append(p)
        parent = ParentInfo(program_id=i + 1, source=p.source or "", meta=p.meta)
    return out


def test_proposer_is_reproducible_novel_and_within_limit() -> None:
    a, b = run_proposals(0), run_proposals(0)
    assert [p.source for p in a] == [p.source for p in b]
    keys = [p.meta["structure_key"] for p in a]
    assert len(keys) == len(set(keys))
    for p in a:
        assert p.proposer == "symbolic" and p.source
        assert p.meta["n_params"] <= 5
        assert {"structure", "structure_key", "formula", "latex", "n_params"} <= set(p.meta)
        assert Law.from_json(p.meta["structure"]).key == p.meta["structure_key"]
    assert [p.source for p in run_proposals(1)] != [p.source for p in a]


def test_proposer_never_reads_test_rows() -> None:
    task = synthetic_task()
    view = task.search_view()
    assert len(view.test) == 0
    prop = SymbolicProposer(view, seed=0)
    assert prop.seeds()


def test_foreign_parent_starts_from_a_random_law() -> None:
    prop = SymbolicProposer(synthetic_task().search_view(), seed=0)
    foreign = ParentInfo(program_id=1, source="def f(): pass", meta={"proposer": "llm"})
    p = asyncio.run(prop.propose(ProposalRequest(iteration=1, parent=foreign, seed=5)))
    assert p.source and p.meta["n_params"] <= 5


def test_mutation_and_crossover_stay_valid() -> None:
    X, names, logs = mixed_table()
    sp = Space.from_data(X, names, logs)
    rng = np.random.default_rng(0)
    laws = [random_law(rng, sp, 9) for _ in range(20)]
    for law in laws:
        assert valid(law, sp, 9)
        m = mutate(rng, law, sp, 9)
        if m is not None:
            assert valid(m[0], sp, 9) and m[0].key != law.key
    child = crossover(rng, laws[0], laws[1], sp, 9)
    assert child is None or valid(child, sp, 9)


def test_own_component_feature_for_one_output_per_component() -> None:
    rng = np.random.default_rng(1)
    P = rng.dirichlet(np.ones(3), size=50)
    Y = np.column_stack([1.5 - 0.3 * np.log(P[:, t] + 0.05) for t in range(3)])
    sp = Space.from_data(P, ("a", "b", "c"), ()).with_own(3)
    assert sp.own == (0, 1, 2) and sp.n_features == 4 and sp.n_raw == 3
    law = Law.of(Term(), Term.of(F("logsh", 3)))
    assert valid(law, sp, 3)
    ns: dict = {}
    src = program_source(law, sp, ("ya", "yb", "yc"))
    assert "x_own" in src
    exec(compile(src, "<prog>", "exec"), ns)
    params = ns["fit_scaling_law"](P, Y)
    assert np.max(np.abs(ns["scaling_law_func"](P, params) - Y)) < 1e-5
    assert np.allclose(Model(law, sp).predict(P, params), ns["scaling_law_func"](P, params))


# ---- non-monotone targets in one feature -----------------------------------------


def hump_table(seed: int = 0, noise: float = 0.003) -> tuple[np.ndarray, np.ndarray]:
    """A score that falls with x, rises over a bump, then keeps falling; x is not a size.

    x (n, 1) in [-1, 3] (a log10 compute, say: may be negative); y (n,).
    """
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1.0, 3.0, 160))
    y = -0.2 - 0.5 * (1 - np.exp(-0.3 * (x + 1))) + 0.25 * np.exp(-0.5 * ((x - 0.8) / 0.35) ** 2)
    return x[:, None], y + noise * rng.normal(size=len(x))


def test_bump_fits_a_local_excursion_and_returns_to_the_trend_beyond_it() -> None:
    X, y = hump_table()
    fit, far = X[:, 0] < 2.0, X[:, 0] >= 2.0
    sp = Space.from_data(X[fit], ("x",), ()).with_extrapolation(X[fit & (X[:, 0] < 1.6)], X[fit & (X[:, 0] >= 1.6)])
    assert sp.kinds == ("lin",) and sp.extrapolated == (0,)
    # a bowl (a parabola) may not curve along an extrapolated feature; a bump may
    assert not valid(Law.of(Term(), Term.of(F("bowl", 0))), sp, None)
    with_bump = Law.of(Term(), Term.of(F("expmix", 0)), Term.of(F("bump", 0)))  # trend + bump: 6 parameters
    trend = Law.of(Term(), Term.of(F("expmix", 0)))
    assert with_bump.n_params == 6 and valid(with_bump, sp, 6)
    r2 = {}
    for name, law in (("bump", with_bump), ("trend", trend)):
        model = Model(law, sp)
        resid = model.predict(X[far], model.fit(X[fit], y[fit])) - y[far]
        r2[name] = 1 - np.mean(resid**2) / np.var(y[far])
    assert r2["bump"] > 0.9 > r2["trend"], r2  # past the bump, back on the trend


def test_bumps_only_along_features_the_data_does_not_show_monotone() -> None:
    D, lr = np.meshgrid(10.0 ** np.arange(8, 12), 10.0 ** np.linspace(-4, -2, 5))
    X = np.column_stack([D.ravel(), lr.ravel()])
    y = 2.0 + 50.0 / X[:, 0] ** 0.2 + 0.3 * (np.log10(X[:, 1]) + 3.0) ** 2
    sp = space_for(X, names=("D", "lr"), logs=("D", "lr")).with_optima([(X, y)])
    assert sp.monotone == (0,)
    assert not valid(Law.of(Term(), Term.of(F("bump", 0))), sp, None)
    assert valid(Law.of(Term(), Term.of(F("bump", 1))), sp, None)
    rng = np.random.default_rng(0)
    bumps = [f.feats[0] for _ in range(300) for t in random_law(rng, sp, None).terms for f in t.factors
             if f.kind == "bump"]
    assert bumps and set(bumps) == {1}


def test_proposer_reaches_trend_plus_bump_on_a_non_monotone_target() -> None:
    X, y = hump_table(seed=3)
    df = pd.DataFrame({"group": "all", "x": X[:, 0], "score": y})
    train, test = df[df["x"] < 2.0].reset_index(drop=True), df[df["x"] >= 2.0].reset_index(drop=True)
    task = Task(name="hump", features=("x",), targets=("score",), train=train, test=test,
                val_mask=(train["x"] >= 1.6).to_numpy(), max_params=6, log_features=())
    prop = SymbolicProposer(task.search_view(), seed=0)
    best = (-np.inf, None)
    for i in range(20):
        p = asyncio.run(prop.propose(ProposalRequest(iteration=i, parent=None, seed=i)))
        if p.source is not None and p.meta.get("screen_r2", -np.inf) > best[0]:
            best = (p.meta["screen_r2"], Law.from_json(p.meta["structure"]))
    assert best[0] > 0.9
    assert "bump" in {f.kind for t in best[1].terms for f in t.factors}


# ---- effective scale: a size times a log of another feature, one exponent ---------------


def parallel_table(seed: int = 0) -> pd.DataFrame:
    """L = E_g + (3e8 / (N (0.4 ln P + 1)))^0.3 for two groups; N jittered per P; P in {1, 2, 4, 8}."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, floor in (("a", 1.5), ("b", 2.4)):
        for P in (1, 2, 4, 8):
            for N in np.geomspace(5e8, 4.4e9, 6) * (1 + 0.01 * rng.random(6)):
                rows.append((g, N, P, floor + (3e8 / (N * (0.4 * np.log(P) + 1))) ** 0.3))
    return pd.DataFrame(rows, columns=["group", "N", "P", "loss"])


def test_escale_values_source_and_text() -> None:
    df = parallel_table()
    X = df[["N", "P"]].to_numpy(float)
    sp = space_for(X, names=("N", "P"), logs=("N", "P"))
    block = KINDS["escale"]
    assert block.n_params((0, 1)) == 2 and block.valid((0, 1), sp) and block.valid((1, 0), sp)
    assert not block.valid((0, 0), sp) and not block.valid((0,), sp)
    assert block.origin(1, sp)[0] == 1.0  # the log factor starts at 1 at the smallest P
    U = sp.transform(X)
    got = block.evaluate(U, (0, 1), np.array([-0.3, 0.4]), sp)
    want = ((X[:, 0] / sp.ref[0]) * (1 + 0.4 * np.log(X[:, 1]))) ** -0.3
    assert np.allclose(got, want, rtol=1e-12)
    assert np.allclose(block.evaluate(U, (0, 1), np.array([-0.3, 0.0]), sp), (X[:, 0] / sp.ref[0]) ** -0.3)
    law = Law.of(Term(), Term.of(F("escale", 0, 1)))
    ns: dict = {}
    exec(compile(program_source(law, sp, ("loss",)), "<prog>", "exec"), ns)
    theta = np.array([-0.3, 0.4])
    assert np.allclose(ns["_basis"](X, theta), Model(law, sp).basis(X, theta), rtol=1e-12)
    text = KINDS["escale"].text((0, 1), ["alpha_1", "kappa_1"], sp)
    assert text == f"(N/{sp.ref[0]:.3g} * (1 + kappa_1*ln(P/1)))^alpha_1"
    latex = KINDS["escale"].latex((0, 1), ["alpha_1", "kappa_1"], sp)
    assert r"\ln \mathrm{P}" in latex and r"\kappa_{1}" in latex


def test_escale_is_finite_everywhere_in_its_box() -> None:
    df = parallel_table()
    X = df[["N", "P"]].to_numpy(float)
    sp = space_for(X, names=("N", "P"), logs=("N", "P"))
    block = KINDS["escale"]
    box = block.box((0, 1), sp)
    assert box.lo[1] == 0.0 and box.init_lo[1] == box.init_hi[1] == 0.0  # k >= 0; fits start with no effect
    far = np.column_stack([np.geomspace(1e3, 1e14, 50), np.geomspace(1e-3, 1e4, 50)])  # P below its smallest
    U = sp.transform(far)
    rng = np.random.default_rng(0)
    corners = [np.array([a, k]) for a in (box.lo[0], box.hi[0]) for k in (box.lo[1], box.hi[1])]
    for th in corners + [rng.uniform(box.lo, box.hi) for _ in range(200)]:
        assert np.all(np.isfinite(block.evaluate(U, (0, 1), th, sp)))


def test_escale_has_no_pole_below_the_smallest_training_value() -> None:
    # A test row below every training x_j (a smaller learning rate than any run) used to meet the zero of
    # 1 + k ln(x_j/x_j0) at x_j0 e^(-1/k): the law jumped there. Below x_j0 the factor is (x_j/x_j0)^k.
    df = parallel_table()
    X = df[["N", "P"]].to_numpy(float)
    sp = space_for(X, names=("N", "P"), logs=("N", "P"))
    block = KINDS["escale"]
    k = float(block.box((0, 1), sp).hi[1])
    P = np.geomspace(1e-4, 8.0, 400)
    grid = np.column_stack([np.full_like(P, 1e9), P])
    got = block.evaluate(sp.transform(grid), (0, 1), np.array([-0.3, k]), sp)
    factor = np.where(P >= 1.0, 1 + k * np.log(np.maximum(P, 1.0)), P ** k)
    assert np.allclose(got, ((1e9 / sp.ref[0]) * factor) ** -0.3, rtol=1e-12)
    assert np.all(np.isfinite(got)) and np.all(np.diff(got) < 0)  # smooth, monotone: no jump at any P
    h = 1e-6  # same slope on both sides of x_j0
    u = sp.transform(np.array([[1e9, np.exp(-h)], [1e9, 1.0], [1e9, np.exp(h)]]))
    v = np.log(block.evaluate(u, (0, 1), np.array([-0.3, k]), sp))
    assert abs((v[1] - v[0]) - (v[2] - v[1])) < 1e-9
    law = Law.of(Term(), Term.of(F("escale", 0, 1)))
    source = program_source(law, sp, ("loss",))
    ns: dict = {}
    exec(compile(source, "<prog>", "exec"), ns)
    assert np.allclose(ns["_basis"](grid, np.array([-0.3, k]))[:, 1], got, rtol=1e-12)
    assert "(x/x0)^k" in source


def test_escale_k_stays_zero_where_the_fit_rows_hold_one_value() -> None:
    df = parallel_table()
    one = df[df["P"] == 1]
    X = one[["N", "P"]].to_numpy(float)
    sp = space_for(df[["N", "P"]].to_numpy(float), names=("N", "P"), logs=("N", "P"))
    law = Law.of(Term(), Term.of(F("escale", 0, 1)))
    params = Model(law, sp).fit(X[one["group"] == "a"], one.loc[one["group"] == "a", "loss"].to_numpy())
    assert params[-1] == pytest.approx(0.0, abs=1e-8)  # k not identified: no effect, not an arbitrary one


def test_discovery_finds_the_effective_scale_coupling() -> None:
    df = parallel_table(seed=1)
    train, test = df[df["P"] < 8].reset_index(drop=True), df[df["P"] == 8].reset_index(drop=True)
    task = Task(name="par", features=("N", "P"), targets=("loss",), train=train, test=test,
                val_mask=(train["P"] == 4).to_numpy(), max_params=4, log_features=("N", "P"))
    prop = SymbolicProposer(task.search_view(), seed=0)
    assert prop.space.levels[1] == 2
    laws = [Law.from_json(p.meta["structure"]) for p in prop.seeds()]
    for i in range(10):
        p = asyncio.run(prop.propose(ProposalRequest(iteration=i, parent=None, seed=i)))
        if p.source is not None:
            laws.append(Law.from_json(p.meta["structure"]))
    fit_rows, val_rows = train[train["P"] < 4], train[train["P"] == 4]
    feats = ["N", "P"]

    def score(law, fit_df, out_df):
        model, preds = Model(law, prop.space), []
        for g in ("a", "b"):
            f, o = fit_df[fit_df["group"] == g], out_df[out_df["group"] == g]
            preds.append(model.predict(o[feats].to_numpy(float), model.fit(f[feats].to_numpy(float),
                                                                           f["loss"].to_numpy())))
        return 1 - np.mean((np.concatenate(preds) - out_df["loss"].to_numpy()) ** 2) / np.var(out_df["loss"])

    best = max(laws, key=lambda law: score(law, fit_rows, val_rows))  # picked on validation, as the loop does
    assert "escale" in best.key and best.n_params <= 4
    assert score(best, train, test) > 0.999


# ---- tied exponents (tpow) ----------------------------------------------------

def overtrain_table(seed: int = 0, sizes: int = 3, tied: bool = True) -> pd.DataFrame:
    """Gadre et al. (2024)-like runs: a few model sizes (jittered, as read off a figure), each trained
    on 0.25x to 32x its Chinchilla-optimal 20 tokens per parameter; two groups (datasets) of their own
    E and A. Loss E + A/N^0.3 + B/D^0.3 (tied) or 0.34 / 0.28 (untied), 0.3% multiplicative noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for g, (e, a) in {"c4": (1.7, 400.0), "rpj": (1.8, 450.0)}.items():
        for n in np.geomspace(1e7, 4e8, sizes) * (1 + 1e-6 * rng.random(sizes)):
            for m in 2.0 ** np.arange(-2, 6):
                d = 20 * n * m
                aN, aD = (0.3, 0.3) if tied else (0.34, 0.28)
                loss = e + a / n**aN + 1200.0 / d**aD
                rows.append((g, n, d, loss * (1 + 0.003 * rng.normal())))
    return pd.DataFrame(rows, columns=["group", "N", "D", "loss"])


def test_tpow_values_source_and_text() -> None:
    df = overtrain_table()
    X = df[["N", "D"]].to_numpy(float)
    sp = space_for(X)
    block = KINDS["tpow"]
    assert block.n_params((0, 1)) == 2 and block.valid((0, 1), sp)
    assert not block.valid((1, 0), sp) and not block.valid((0, 0), sp) and not block.valid((0,), sp)
    theta = np.array([-0.3, 1.5])
    got = block.evaluate(sp.transform(X), (0, 1), theta, sp)
    want = (X[:, 0] / sp.ref[0]) ** -0.3 + np.exp(1.5) * (X[:, 1] / sp.ref[1]) ** -0.3
    assert np.allclose(got, want, rtol=1e-12)
    law = Law.of(Term(), Term.of(F("tpow", 0, 1)))
    ns: dict = {}
    exec(compile(program_source(law, sp, ("loss",)), "<prog>", "exec"), ns)
    assert np.allclose(ns["_basis"](X, theta), Model(law, sp).basis(X, theta), rtol=1e-12)
    text = block.text((0, 1), ["alpha_1", "rho_1"], sp)
    assert text == f"((N/{sp.ref[0]:.3g})^alpha_1 + exp(rho_1) * (D/{sp.ref[1]:.3g})^alpha_1)"
    assert r"e^{\rho_{1}}" in block.latex((0, 1), ["alpha_1", "rho_1"], sp)


def test_a_tied_exponent_is_pinned_where_two_exponents_are_not() -> None:
    """Three model sizes pin two parameters along N: E + A/N^a + B/D^b has three, E + A/N^a + B/D^a two."""
    df = overtrain_table(sizes=3)
    X = df[["N", "D"]].to_numpy(float)
    sp = space_for(X).with_levels([X])
    assert sp.levels[0] == 3
    tied = Law.of(Term(), Term.of(F("tpow", 0, 1)))
    free = Law.of(Term(), Term.of(F("pow", 0)), Term.of(F("pow", 1)))
    assert [dof_along(tied, sp, i) for i in (0, 1)] == [2, 2]
    assert identifiable(tied, sp) and not identifiable(free, sp)
    prop = SymbolicProposer(Task(name="ot", features=("N", "D"), targets=("loss",), train=df, test=df.iloc[:0],
                                 val_mask=(df["N"] > 1e8).to_numpy(), log_features=("N", "D")).search_view(),
                            seed=0)
    assert tied.key in {law.key for law in prop.seed_laws()}
    assert tie_pairs(sp) == ((0, 1),) and "tpow" in available_kinds(sp)
    many = overtrain_table(sizes=6)
    X6 = many[["N", "D"]].to_numpy(float)
    sp6 = space_for(X6).with_levels([X6])  # six sizes pin two exponents: no tie offered, the search as before
    assert identifiable(free, sp6) and tie_pairs(sp6) == () and "tpow" not in available_kinds(sp6)
    assert all("tpow" not in law.key for law in random_law_sample(sp6))


def random_law_sample(sp: Space, n: int = 200) -> list[Law]:
    rng = np.random.default_rng(0)
    return [random_law(rng, sp, 8) for _ in range(n)]


def test_tied_law_fits_and_extrapolates_few_sizes() -> None:
    """Fit on three sizes, predict a size 10x beyond: the tied law recovers the exponent."""
    df = overtrain_table(sizes=4, tied=True)
    big = df["N"] > 3e8
    fit_df, out_df = df[~big & (df["group"] == "c4")], df[big & (df["group"] == "c4")]
    sp = space_for(df[["N", "D"]].to_numpy(float))
    law = Law.of(Term(), Term.of(F("tpow", 0, 1)))
    model = Model(law, sp)
    params = model.fit(fit_df[["N", "D"]].to_numpy(float), fit_df["loss"].to_numpy())
    assert params[-2] == pytest.approx(-0.3, abs=0.03)  # the shared exponent
    pred = model.predict(out_df[["N", "D"]].to_numpy(float), params)
    assert np.max(np.abs(pred / out_df["loss"].to_numpy() - 1)) < 0.01
