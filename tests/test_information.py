"""A pick every check scores below a constant is remade by the information criterion on all train runs
(``search.information``, ``run.runner.weigh_information``)."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

from evosld.search.information import COMPARISON, Information, bic, least_information, pick_evidence
from evosld.search.selection import Candidate, Selection


def test_bic_pays_ln_n_per_parameter_for_a_better_fit_on_every_run():
    rng = np.random.default_rng(0)
    y = {"a": 2.0 + 0.01 * rng.standard_normal(20)}
    exact = bic({"a": y["a"] + 1e-3}, y, 2)
    # the same residuals with one parameter more cost ln 20 more
    assert bic({"a": y["a"] + 1e-3}, y, 3) == pytest.approx(exact + math.log(20))
    # residuals ten times smaller: 20 ln 100 better
    assert bic({"a": y["a"] + 1e-4}, y, 2) == pytest.approx(exact - 20 * math.log(100))


def test_bic_sums_groups_and_outputs_and_measures_a_target_spanning_decades_on_logs():
    y = {"a": np.array([1.0, 10.0, 100.0, 1000.0]), "b": np.array([[1.0, 2.0], [1.5, 2.5], [2.0, 3.5]])}
    p = {"a": y["a"] * 1.01, "b": y["b"] + 0.01}
    expect = 4 * math.log(4 * math.log(1.01) ** 2 / 4) + 2 * math.log(4)  # a: relative residuals (logs)
    expect += 2 * 3 * math.log(3 * 0.01**2 / 3) + 2 * math.log(3)  # b: two outputs, one parameter count
    assert bic(p, y, 2) == pytest.approx(expect)


@pytest.mark.parametrize("bad", [{"a": np.array([1.0, np.nan, 3.0])}, {"a": np.array([1.0, 2.0])}, {},
                                 {"a": np.array([-1.0, 10.0, 100.0])}])
def test_bic_of_a_missing_broken_or_impossible_fit_is_infinite(bad):
    y = {"a": np.array([1.0, 10.0, 100.0])}
    assert bic(bad, y, 1) == math.inf


def test_a_law_with_as_many_parameters_as_runs_cannot_be_weighed():
    y = {"a": np.array([1.0, 10.0, 100.0])}
    assert bic(y, y, 3) == math.inf and math.isfinite(bic({"a": y["a"] * 1.01}, y, 2))


def test_the_least_bic_that_stays_sane_is_chosen_fewer_parameters_breaking_ties():
    scores = {"4": {"bic": -50.0, "n_params": 2, "beyond": 0.1},
              "1": {"bic": -80.0, "n_params": 3, "beyond": 2.0},  # runs away beyond the data
              "7": {"bic": -60.0, "n_params": 4, "beyond": None},
              COMPARISON: {"bic": -60.0, "n_params": 3, "beyond": 0.0},
              "9": {"bic": None, "n_params": None, "beyond": None}}
    sane = lambda b: b is None or b <= 1.0  # noqa: E731
    assert least_information(scores, sane) == COMPARISON
    assert least_information({k: v for k, v in scores.items() if k != COMPARISON}, sane) == "7"
    assert least_information({"9": scores["9"]}, sane) is None


def test_the_evidence_of_a_pick_is_its_fold_score_or_its_validation_r2():
    a = Candidate(1, 0.9, 3, {"inner1": -0.5}, score=-0.2)
    b = Candidate(2, 0.95, 2, {"inner1": -0.9}, score=-0.4)
    assert pick_evidence(Selection(1, "extrapolation folds", 0.3, (a, b), folds=("inner1",))) == \
        (-0.2, "validation and the extrapolation folds")
    assert pick_evidence(Selection(2, "validation", 0.3, (Candidate(2, -1.5, 2), a))) == (-1.5, "validation")
    assert pick_evidence(Selection(7, "validation", 0.3, (a,)))[0] is None


def test_a_weighing_reads_back_from_its_json():
    info = Information(-0.36, "validation", 4, {"4": {"bic": -50.0, "n_params": 2, "beyond": math.inf}},
                       "4", 4, "the plain power law")
    data = json.loads(json.dumps(info.to_json()))
    assert data["scores"]["4"]["beyond"] == "inf" and Information.from_json(data) == info


#: A released model suite (one run per size, sizes as a paper lists them): L = E + A/N^a with 0.3% noise, made
#: by benchmarks/synthtables.py's model_suite family (table seed 5) and written out here.
_SUITE = [(1.5e8, 2.462467009724363), (2.0e8, 2.3876881348663277), (2.6e8, 2.326927190619261),
          (5.0e8, 2.2227849390069583), (6.4e8, 2.1664076168435735), (6.5e8, 2.173904637701963),
          (8.4e8, 2.1261733065134005), (1.6e9, 2.0383795894223335), (1.9e9, 2.0197959204900107),
          (2.0e9, 2.01745531984133), (3.9e9, 1.957456739293726), (5.4e9, 1.9248496428062734),
          (8.1e9, 1.8919960267262972), (1.1e10, 1.8733169436258583)]


def test_a_pick_every_check_scores_below_a_constant_is_remade_by_the_information_criterion(tmp_path):
    """Seven fit runs, a validation band of three close sizes: every law misses the checks (an offset power
    law fitted on four or seven runs bends away over the short step), and the folds' best, a power law with
    no floor, tests -6. On all ten train runs the offset power law earns its third parameter."""
    import evosld

    df = pd.DataFrame(_SUITE, columns=["params", "loss"])
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = evosld.discover(df, features=["params"], target="loss", test="params >= 2.79e9", iterations=240,
                              budget_seconds=None, seed=0, output=run, progress=False)
    best = json.loads((run / "best.json").read_text())
    sel = best["selection"]
    info = sel["information"]
    assert sel["rule"] == "extrapolation folds" and info is not None
    pick = next(c for c in sel["candidates"] if c["program_id"] == info["pick"])
    assert info["evidence"] == pytest.approx(pick["score"]) and pick["score"] < 0
    assert info["checks"] == "validation and the extrapolation folds"
    chosen = info["scores"][info["chosen"]]
    assert all(v["bic"] is None or v["bic"] >= chosen["bic"] for v in info["scores"].values())
    assert sel["program_id"] == best["program_id"] == info["program_id"] != info["pick"]
    assert best["n_params"] == 3 and res.test["r2"] > 0.5, (best["formula"], res.test)
    # a re-finished run reads the weighing back: the same law, no second copy of a comparison law
    cmd = [sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "information criterion" in out.stdout, out.stdout
    again = json.loads((run / "best.json").read_text())
    assert again["program_id"] == best["program_id"] and again["selection"]["information"] == info
    with sqlite3.connect(run / "run.sqlite") as con:
        assert con.execute("SELECT COUNT(*) FROM programs WHERE proposer = 'reference'").fetchone()[0] <= 1
    rep = subprocess.run([sys.executable, "-m", "evosld.cli", "report", str(run)], capture_output=True, text=True,
                         timeout=600)
    assert rep.returncode == 0, rep.stderr
    assert "information criterion" in (run / "report.html").read_text()


def test_the_cli_and_the_report_show_a_weighing_whose_laws_include_one_that_cannot_be_weighed():
    from evosld.cli import information_line
    from evosld.report.html import _information_note

    info = Information(-0.44, "validation and the extrapolation folds", 9,
                       {"9": {"bic": math.inf, "n_params": 3, "beyond": 0.1},
                        "4": {"bic": -80.0, "n_params": 2, "beyond": 0.0},
                        "5": {"bic": None, "n_params": None, "beyond": None},
                        COMPARISON: {"bic": -70.0, "n_params": 3, "beyond": math.inf}},
                       "4", 4, "the plain power law").to_json()
    line = information_line(info)
    assert "program 4 has the least, -80 with 2 parameters, against program 9's inf with 3" in line, line
    html = _information_note({"information": info})
    assert html.index("program 4") < html.index("the plain power law") < html.index("program 9"), html
    assert "failed" in html and "(program 4)." in html and "<td>inf</td>" in html
