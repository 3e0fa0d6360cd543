"""Log-scale features a user names: ``--log-features`` adds to the guess, as ``--linear-features`` takes from it.

A positive feature that spans less than 10x and is not on a geometric grid is kept linear by the guess, and
the search can then only fit exponentials in it. A loss of 2.2 to 5 that a critical batch size follows as a
power law (McCandlish et al. 2018, Kaplan et al. 2020: B_crit = B* / L^(1/alpha_B)) is such a feature; before,
the command line had no way to say so (a task file could, but its key replaced the whole guess).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from evosld import discover
from tests.conftest import one_error, run_cli


def _bcrit(path) -> pd.DataFrame:
    """20 runs: critical batch size against loss (2.2 to 5), B = 2e8 / L^(1/0.21), 8% noise; model size too."""
    rng = np.random.default_rng(0)
    L = np.sort(rng.uniform(2.2, 5.0, 20))
    df = pd.DataFrame({"N": np.logspace(9, 6, 20), "loss": L,
                       "bcrit": 2e8 / L ** (1 / 0.21) * np.exp(0.08 * rng.standard_normal(20))})
    df.to_csv(path, index=False)
    return df


def _scale_line(out: str) -> str:
    return next(ln.strip() for ln in out.splitlines() if ln.strip().startswith("log scale:"))


def test_log_features_add_to_the_guess_and_are_shown(tmp_path, capsys):
    _bcrit(tmp_path / "b.csv")
    base = ["tasks", "--csv", str(tmp_path / "b.csv"), "--features", "N,loss", "--target", "bcrit"]
    code, out, _ = run_cli(capsys, *base)
    assert code == 0 and _scale_line(out) == (  # the positive feature left linear is named, with the way out
        "log scale: N (kept linear though positive: loss; --log-features loss fits powers of it)")
    code, out, _ = run_cli(capsys, *base, "--log-features", "loss")
    assert code == 0 and _scale_line(out) == "log scale: N, loss (--log-features / --linear-features to change)"
    code, out, _ = run_cli(capsys, *base, "--log-features", "loss", "--linear-features", "N")
    assert code == 0 and _scale_line(out).startswith("log scale: loss")
    # a task file's key adds the same way, and the option beside it replaces the key
    (tmp_path / "b.yaml").write_text("data: b.csv\nfeatures: [N, loss]\ntarget: bcrit\nlog_features: [loss]\n")
    code, out, _ = run_cli(capsys, "tasks", str(tmp_path / "b.yaml"))
    assert code == 0 and _scale_line(out).startswith("log scale: N, loss")


def test_a_built_in_task_shows_its_scales_without_the_hint(capsys, data_dir):  # reads $EVOSLD_DATA
    from tests.conftest import SFT_TASK

    code, out, _ = run_cli(capsys, "tasks", SFT_TASK)
    assert code == 0 and _scale_line(out) == "log scale: sft_data_size"


def test_bad_log_features_get_one_error_line(tmp_path, capsys):
    df = _bcrit(tmp_path / "b.csv")
    base = ["tasks", "--csv", str(tmp_path / "b.csv"), "--features", "N,loss", "--target", "bcrit"]
    code, _, err = run_cli(capsys, *base, "--log-features", "loss,lr")
    assert one_error(code, err) == "error: log feature(s) lr are not among the features (N, loss)"
    code, _, err = run_cli(capsys, *base, "--log-features", "loss", "--linear-features", "loss")
    assert "cannot be both a log feature and a linear feature" in one_error(code, err)
    df.assign(loss=df.loss - 3.0).to_csv(tmp_path / "neg.csv", index=False)
    code, _, err = run_cli(capsys, "tasks", "--csv", str(tmp_path / "neg.csv"), "--features", "N,loss",
                           "--target", "bcrit", "--log-features", "loss")
    line = one_error(code, err)
    assert "'loss' is treated on a log scale but has values <= 0" in line and "not in --log-features" in line


def test_a_run_keeps_its_log_features_and_fits_a_power_law_in_them(tmp_path):
    df = _bcrit(tmp_path / "b.csv")
    res = discover(df, ["loss"], "bcrit", test="loss <= 2.6", log_features=["loss"], iterations=40, seed=0,
                   output=tmp_path / "run", progress=False)
    assert res.task.log_features == ("loss",)
    stored = json.loads((tmp_path / "run" / "best.json").read_text())
    assert stored["task"] == res.task.name
    again = discover(df, ["loss"], "bcrit", test="loss <= 2.6", log_features=["loss"], iterations=60,
                     resume=tmp_path / "run", progress=False)  # rebuilt from the stored spec: the same scales
    assert again.task.log_features == ("loss",)
    assert "(loss/" in (again.formula or "")  # a power of the loss, not an exponential in it


def test_the_suggested_option_reads_back_as_the_same_names():
    """A name holding a quote (it's, say "hi") did not read back: the list was wrapped in single quotes as it was."""
    import shlex

    from evosld.cli import option_names, split_names

    for names in (["loss"], ["loss", "bits"], ["size (params, M)", "tokens"], ["model size"], ["it's", 'say "hi"']):
        text = option_names(names)
        [shell] = shlex.split(text)  # what the shell hands over
        assert split_names(shell) == names, text
