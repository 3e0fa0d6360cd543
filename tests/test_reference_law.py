"""The Chinchilla form, or the data mixing law, as the reference law of a user's table."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from evosld.errors import DataError
from evosld.evaluation.evaluator import Evaluator
from evosld.tasks import task_from_frame
from evosld.tasks.baselines import reference_law
from evosld.tasks.baselines.chinchilla import guess_size_and_data, resolve
from tests.conftest import chinchilla_frame


def test_size_and_data_are_read_off_the_column_names():
    logs = ("N_params", "D_tokens", "C_flop", "model_size", "data_size", "numTokens", "nParams")
    assert guess_size_and_data(["N_params", "D_tokens"], logs) == ("N_params", "D_tokens")
    assert guess_size_and_data(["model_size", "data_size"], logs) == ("model_size", "data_size")
    assert guess_size_and_data(["nParams", "numTokens"], logs) == ("nParams", "numTokens")
    assert guess_size_and_data(["N_params", "C_flop"], logs) is None
    assert guess_size_and_data(["N_params", "D_tokens"], ("N_params",)) is None  # D not on a log scale
    ratio = ("model size (B)", "tokens/param", "tokens_per_parameter", "data_size", "D_tokens")
    assert guess_size_and_data(["model size (B)", "tokens/param"], ratio) is None  # a ratio is not data
    assert guess_size_and_data(["model size (B)", "tokens_per_parameter", "data_size"], ratio) == \
        ("model size (B)", "data_size")


def test_baseline_option_is_checked():
    feats, logs = ["N", "D", "lr"], ("N", "D", "lr")
    assert resolve("auto", feats, logs) == "chinchilla:N,D"
    assert resolve("none", feats, logs) == ""
    assert resolve("chinchilla:D,N", feats, logs) == "chinchilla:D,N"
    assert resolve("auto", ["x", "y"], ("x", "y")) == ""
    with pytest.raises(DataError, match="name them"):
        resolve("chinchilla", ["x", "y"], ("x", "y"))
    with pytest.raises(DataError, match="'Q' is not a feature"):
        resolve("chinchilla:N,Q", feats, logs)
    with pytest.raises(DataError, match="two different feature columns"):
        resolve("chinchilla:N,N", feats, logs)
    assert resolve("mixing", feats, logs) == "mixing"  # whether the features are a mixture is read from the data
    with pytest.raises(DataError, match="unknown baseline .* or mixing"):
        resolve("kaplan", feats, logs)


def test_a_column_whose_name_holds_a_comma_is_named_in_double_quotes_and_so_suggested(tmp_path):
    """`--baseline chinchilla:"size (params, M)",D` was split at every comma, and its error suggested the
    unquoted form, which fails the same way (session 57)."""
    name = "size (params, M)"
    feats = [name, "D"]
    assert resolve('chinchilla:"size (params, M)", D', feats, feats) == f"chinchilla:\"{name}\",D"
    with pytest.raises(DataError, match="'size \\(params' is not a feature") as err:
        resolve(f"chinchilla:{name},D", feats, feats)
    suggested = str(err.value).split("as in ")[1].split(" (features")[0]
    assert suggested == """--baseline 'chinchilla:"size (params, M)",D'"""
    path = tmp_path / "runs.csv"
    chinchilla_frame().rename(columns={"N": name}).to_csv(path, index=False)
    done = subprocess.run([sys.executable, "-m", "evosld.cli", "tasks", "--csv", str(path), "--features",
                           f'"{name}",D', "--target", "loss", *shlex.split(suggested)],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Chinchilla form E + A/size (params, M)^a + B/D^b" in done.stdout


def test_chinchilla_form_refit_in_the_sandbox_recovers_its_law():
    rng = np.random.default_rng(3)
    N = np.repeat(np.logspace(7.5, 10, 8), 6) * (1 + 1e-6 * rng.uniform(-1, 1, 48))
    D = N * np.tile([5, 10, 20, 40, 80, 160], 8)
    loss = (1.69 + 406.4 / N**0.34 + 410.7 / D**0.28) * (1 + 0.002 * rng.standard_normal(len(N)))
    df = pd.DataFrame({"model_params": N, "train_tokens": D, "loss": loss})
    task = task_from_frame(df, ["model_params", "train_tokens"], "loss", test="model_params > 5e9", name="c")
    assert task.baseline == "chinchilla:model_params,train_tokens"
    label, source = reference_law(task)
    assert "Chinchilla" in label
    ev = Evaluator(task).evaluate(source, "test")
    assert ev.ok and ev.scores.r2 > 0.95
    E, A, alpha, B, beta = ev.params["all_data"]
    assert abs(E - 1.69) < 0.15 and abs(alpha - 0.34) < 0.1 and abs(beta - 0.28) < 0.1


def test_signed_targets_get_no_chinchilla_reference():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"N": np.repeat(np.logspace(7, 10, 6), 4), "D": np.tile(np.logspace(9, 12, 4), 6)})
    df["loss"] = -1 / np.log(df.N) + 0.01 * rng.standard_normal(len(df))
    assert task_from_frame(df, ["N", "D"], "loss", name="s").baseline == ""


def test_a_target_that_rises_with_size_and_data_gets_no_automatic_chinchilla_reference():
    """An accuracy rises with model size and data; the Chinchilla form (a floor plus two falling powers)
    cannot follow it, so it is not shown unless asked for. A loss keeps it, also where one column is
    held fixed in every group (nothing to judge there)."""
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"N_B": np.repeat(np.logspace(-1.5, 1, 8), 5), "D_B": np.tile(np.logspace(0, 2.5, 5), 8)})
    compute = np.log10(6e18 * df.N_B * df.D_B)
    df["acc_pct"] = 25 + 70 / (1 + np.exp(-1.5 * (compute - 21))) + rng.normal(0, 1, len(df))
    assert task_from_frame(df, ["N_B", "D_B"], "acc_pct", name="acc", test="N_B > 5").baseline == ""
    assert task_from_frame(df, ["N_B", "D_B"], "acc_pct", name="acc", test="N_B > 5",
                           baseline="chinchilla").baseline == "chinchilla:N_B,D_B"  # asked for: shown
    df["loss"] = 1.7 + 0.4 / df.N_B**0.34 + 0.6 / df.D_B**0.28 + rng.normal(0, 0.005, len(df))
    assert task_from_frame(df, ["N_B", "D_B"], "loss", name="l", test="N_B > 5").baseline == "chinchilla:N_B,D_B"
    family = np.tile(["a", "b"], 20)
    suite = df.assign(family=family, D_B=np.where(family == "a", 3.0, 300.0))
    assert task_from_frame(suite, ["N_B", "D_B"], "loss", name="s", group="family",
                           test="N_B > 5").baseline == "chinchilla:N_B,D_B"


def test_a_size_column_whose_name_holds_a_comma_gets_its_reference():
    """"size (params, M)" and D: the reference names both columns (splitting "chinchilla:N,D" at the first
    comma raised ValueError, at load for the rising-target check and at the end of a run for the reference)."""
    df = chinchilla_frame().rename(columns={"N": "size (params, M)"})
    task = task_from_frame(df, ["size (params, M)", "D"], "loss", name="c", test="D >= 1e11")
    assert task.baseline == 'chinchilla:"size (params, M)",D'  # as --baseline is written
    label, source = reference_law(task)
    assert "A/size (params, M)^a + B/D^b" in label and "N_COL, D_COL = 0, 1" in source


def test_chinchilla_form_is_the_same_law_in_any_unit():
    """Tokens given raw (1e9..1e11) or in billions: the same fit and the same test score. Before the fit
    centred its logs, raw tokens tied log B and beta so tightly that L-BFGS-B stopped early (3x the loss)."""
    rng = np.random.default_rng(0)
    N = np.repeat(np.logspace(7, 9.5, 6), 5) * (1 + 1e-6 * rng.uniform(size=30))
    D = np.tile(np.logspace(9, 11, 5), 6)
    loss = 1.7 + 400 / N**0.34 + 410 / D**0.28 + rng.normal(0, 0.01, 30)
    scores = []
    for unit in (1.0, 1e9):
        df = pd.DataFrame({"N": N, "D": D / unit, "loss": loss})
        task = task_from_frame(df, ["N", "D"], "loss", test="N > 1e9", name="units")
        ev = Evaluator(task).evaluate(reference_law(task)[1], "test")
        assert ev.ok
        scores.append((ev.scores.r2, np.asarray(ev.params["all_data"], dtype=float)))
    (r2_raw, p_raw), (r2_bn, p_bn) = scores
    assert r2_raw == pytest.approx(r2_bn, abs=1e-6)
    assert p_raw[[0, 1, 2, 4]] == pytest.approx(p_bn[[0, 1, 2, 4]], rel=1e-4)  # E, A, alpha, beta
    assert p_raw[3] == pytest.approx(p_bn[3] * 1e9 ** p_bn[4], rel=1e-4)  # B absorbs the unit


def test_chinchilla_form_is_not_thrown_by_one_diverged_run():
    """One run that diverged (loss 55 among losses near 3) left in the table: the Huber fit ignores it, and
    so must its starts. Least squares bent every start towards that run, the refinement set B to zero and
    the reference tested R² 0.00 where it tests 0.99 without the run; each start now leaves such runs out."""
    rng = np.random.default_rng(0)
    N = np.repeat([5e7, 1e8, 2e8, 4e8, 8e8, 1.6e9], 5)
    D = N * np.tile([5, 10, 20, 40, 80], 6)
    loss = 1.69 + 406.4 / N**0.34 + 410.7 / D**0.28 + rng.normal(0, 0.01, len(N))
    clean = pd.DataFrame({"N": N, "D": D, "loss": loss})
    diverged = clean.copy()
    diverged.loc[3, "loss"] = 55.0  # N = 5e7, D = 2e9
    fits = []
    for df in (clean, diverged):
        task = task_from_frame(df, ["N", "D"], "loss", test="N >= 1.6e9", name="div")
        ev = Evaluator(task).evaluate(reference_law(task)[1], "test")
        assert ev.ok
        fits.append((ev.scores.r2, np.asarray(ev.params["all_data"], dtype=float)))
    (r2_clean, p_clean), (r2_div, p_div) = fits
    assert r2_clean > 0.9 and r2_div == pytest.approx(r2_clean, abs=0.01)
    assert p_div[3] > 1.0 and p_div[4] == pytest.approx(p_clean[4], abs=0.02)  # B and beta kept


def test_chinchilla_form_fits_each_target_of_a_table_with_two():
    """Two losses of the same runs: the form is fitted target by target (it failed on a shape error before)."""
    rng = np.random.default_rng(2)
    N = np.repeat(np.logspace(7, 9.5, 6), 5)
    D = np.tile(np.logspace(9, 11, 5), 6)
    df = pd.DataFrame({"N": N, "D": D,
                       "loss_web": 1.7 + 400 / N**0.34 + 410 / D**0.28 + rng.normal(0, 0.005, 30),
                       "loss_code": 0.9 + 250 / N**0.3 + 300 / D**0.3 + rng.normal(0, 0.005, 30)})
    task = task_from_frame(df, ["N", "D"], ["loss_web", "loss_code"], test="N > 1e9", name="two")
    assert task.baseline == "chinchilla:N,D"
    ev = Evaluator(task).evaluate(reference_law(task)[1], "test")
    assert ev.ok, ev.message
    assert ev.scores.r2 > 0.95
    E = np.asarray(ev.params["all_data"], dtype=float)[:, 0]  # one row of [E, A, alpha, B, beta] per target
    assert E == pytest.approx([1.7, 0.9], abs=0.15)


def _mixtures(n: int = 60, seed: int = 0) -> pd.DataFrame:
    """Runs on mixtures of three domains, some leaving a domain out, two losses from the data mixing law."""
    rng = np.random.default_rng(seed)
    shares = rng.dirichlet([1.0, 1.0, 1.0], n)
    shares[rng.random(n) < 0.3, rng.integers(3)] = 0.0  # some mixtures leave one domain out
    shares /= shares.sum(axis=1, keepdims=True)
    df = pd.DataFrame(shares, columns=["web", "code", "books"])
    df["loss_web"] = 2.0 + 1.5 * np.exp(-2.0 * df.web - 0.3 * df.code) + 0.005 * rng.standard_normal(n)
    df["loss_code"] = 1.0 + 2.0 * np.exp(-3.0 * df.code + 0.2 * df.books) + 0.005 * rng.standard_normal(n)
    return df


def test_a_table_of_mixtures_is_shown_beside_the_data_mixing_law():
    """Features that are a mixture's shares get the law of Ye et al. 2024 as reference, one per output."""
    df = _mixtures()
    task = task_from_frame(df, ["web", "code", "books"], ["loss_web", "loss_code"], test="random:8", name="mix")
    assert task.baseline == "mixing"
    label, source = reference_law(task)
    assert label.startswith("data mixing law") and "Ye et al. 2024" in label
    ev = Evaluator(task).evaluate(source, "test")
    assert ev.ok and ev.scores.r2 > 0.95  # the generating law, refit: test runs leaving a domain out are scored too
    assert task_from_frame(df, ["web", "code", "books"], ["loss_web", "loss_code"], test="random:8",
                           baseline="none").baseline == ""
    # shares plus a model size are no mixture: no automatic mixing law, and asking for it says why
    sized = df.assign(N=np.repeat([1e8, 4e8, 1.6e9], 20))
    assert task_from_frame(sized, ["web", "code", "books", "N"], "loss_web", test="random:8").baseline != "mixing"
    with pytest.raises(DataError, match="--baseline mixing: the data mixing law needs features that are a mixture"):
        task_from_frame(sized, ["web", "code", "books", "N"], "loss_web", test="random:8", baseline="mixing")


def test_the_law_shown_beside_the_pick_is_named_before_the_run(tmp_path, capsys):
    """`evosld tasks --csv` (and the start of `discover`) says which law the pick will be shown beside."""
    from tests.conftest import run_cli

    def beside(path, *args):
        code, out, _ = run_cli(capsys, "tasks", "--csv", str(path), *args)
        assert code == 0
        return next(ln.strip() for ln in out.splitlines() if ln.strip().startswith("shown beside the pick:"))

    _mixtures().to_csv(tmp_path / "mix.csv", index=False)
    mix = ["--features", "web,code,books", "--targets", "loss_web,loss_code", "--test", "random:8"]
    assert beside(tmp_path / "mix.csv", *mix).startswith("shown beside the pick: data mixing law")
    assert "the plain power law" in beside(tmp_path / "mix.csv", *mix, "--baseline", "none")
    chinchilla_frame().rename(columns={"N": "N_params", "D": "D_tokens"}).to_csv(tmp_path / "c.csv", index=False)
    line = beside(tmp_path / "c.csv", "--features", "N_params,D_tokens", "--target", "loss")
    assert line == ("shown beside the pick: Chinchilla form E + A/N_params^a + B/D_tokens^b (Hoffmann et al. 2022, "
                    "Huber on log loss) (--baseline to change)")
