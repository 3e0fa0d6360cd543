"""Fit-scale twins: the laws in the running fitted on relative residuals too, judged by the same checks.

A law and the routine that fits it are found together; for a positive target, whether absolute or relative
residuals extrapolate better is a property of the table, so the final pick sees both fits of each law in the
running (``run.twins``).
"""

from __future__ import annotations

import inspect
import json
import sqlite3
import subprocess
import sys
import warnings
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from evosld.proposers.symbolic import Factor, Law, Term, emit, fit
from evosld.proposers.symbolic.emit import TWIN_ORIGIN, program_source, relative_twin
from evosld.proposers.symbolic.space import Space
from evosld.report.collect import collect
from evosld.report.html import _law_section
from evosld.run.twins import twins_differ
from evosld.search.selection import Candidate, tied
from evosld.tasks.task import Task
from tests.conftest import chinchilla_frame


def _power_program() -> tuple[str, np.ndarray, np.ndarray]:
    """An emitted program for y = c x^a (no offset) and a table it cannot fit exactly: y = 1 + 5 x^-0.5."""
    x = np.logspace(0, 3, 30)
    y = 1.0 + 5.0 * x**-0.5
    X = x[:, None]
    space = Space.from_data(X, ("x",), (True,))
    src = program_source(Law.of(Term.of(Factor("pow", (0,)))), space, ("y",))
    return src, X, y


def _load(src: str) -> dict:
    ns: dict = {}
    exec(compile(src, "<prog>", "exec"), ns)
    return ns


def test_the_twin_changes_only_its_residual_rule_and_says_so():
    src, _, _ = _power_program()
    twin = relative_twin(src)
    assert twin is not None and twin != src
    assert "Fit-scale twin: residuals are relative" in twin.split('"""')[1]  # in the module docstring
    removed = [a for a in src.splitlines() if a not in twin.splitlines()]
    assert removed == [emit._RELATIVE_OFF]
    assert relative_twin(twin) is None  # a twin has no twin
    assert relative_twin("def scaling_law_func(X, p):\n    return X[:, 0]\n") is None  # not an emitted program


def test_the_line_the_twin_replaces_is_the_one_programs_carry():
    assert inspect.getsource(fit.relative_weights).splitlines()[0] == emit._RELATIVE_OFF


def test_the_twin_fits_relative_residuals_where_its_law_fits_absolute_ones():
    src, X, y = _power_program()
    assert y.max() < 10 * y.min()  # below a decade: the law's own fit uses absolute residuals
    law, twin = _load(src), _load(relative_twin(src))
    p_law, p_twin = law["fit_scaling_law"](X, y), twin["fit_scaling_law"](X, y)
    f_law, f_twin = law["scaling_law_func"](X, p_law), twin["scaling_law_func"](X, p_twin)
    assert np.sum((f_law - y) ** 2) < np.sum((f_twin - y) ** 2)
    assert np.sum((f_twin / y - 1) ** 2) < np.sum((f_law / y - 1) ** 2)


def _task(y: np.ndarray | list[np.ndarray]) -> Task:
    ys = y if isinstance(y, list) else [y]
    n = len(ys[0])
    df = pd.DataFrame({"group": "all", "x": np.logspace(0, 2, n), **{f"y{i}": v for i, v in enumerate(ys)}})
    return Task("t", ("x",), tuple(f"y{i}" for i in range(len(ys))), df, df.iloc[:0], np.zeros(n, dtype=bool))


@pytest.mark.parametrize("ys, differ", [
    (np.linspace(2.0, 3.0, 12), True),  # a loss: positive, within a decade
    (np.linspace(-5.0, -4.0, 12), False),  # a negative target: both fits absolute
    (np.logspace(0, 3, 12), False),  # spans a decade: both fits relative already
    ([np.linspace(-5.0, -4.0, 12), np.linspace(2.0, 3.0, 12)], True),  # one output of two is a loss
])
def test_twins_are_made_only_where_they_fit_differently(ys, differ):
    assert twins_differ(_task(ys)) is differ


def test_a_law_and_its_twin_take_one_place_in_the_running():
    laws = [Candidate(1, 0.99, 3), Candidate(2, 0.985, 3), Candidate(3, 0.98, 3)]
    twin = Candidate(11, 0.995, 3)  # program 1's law, fitted on relative residuals
    assert [c.program_id for c in tied(laws, 10.0, 0.0, pool=2)] == [1, 2]
    assert [c.program_id for c in tied([*laws, twin], 10.0, 0.0, pool=2)] == [11, 1]  # counted as a law: 2 is out
    assert [c.program_id for c in tied([*laws, twin], 10.0, 0.0, pool=2, law_of={11: 1})] == [11, 1, 2]
    # the laws set the band: a twin that leads validation does not narrow it
    assert [c.program_id for c in tied([*laws, twin], 1.0, 0.0)] == [11, 1]
    assert [c.program_id for c in tied([*laws, twin], 1.0, 0.0, law_of={11: 1})] == [11, 1, 2, 3]
    # a twin outside the band its law sets stays out
    assert [c.program_id for c in tied([*laws, Candidate(12, 0.9, 3)], 1.0, 0.0, law_of={12: 1})] == [1, 2, 3]


def test_a_run_stores_the_twins_of_its_running_and_picks_among_them(tmp_path):
    import evosld

    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evosld.discover(chinchilla_frame(), features=["N", "D"], target="loss", test="N > 2e9",
                        iterations=24, budget_seconds=None, seed=0, output=run, progress=False)
    best = json.loads((run / "best.json").read_text())
    with sqlite3.connect(run / "run.sqlite") as con:
        rows = con.execute("SELECT p.id, p.parent_id, p.meta, e.r2 FROM programs p JOIN evaluations e "
                           "ON e.program_id = p.id AND e.split = 'val'").fetchall()
        made = con.execute("SELECT DISTINCT proposer, iteration FROM programs WHERE proposer = 'twin'").fetchall()
    twins = {pid: (parent, json.loads(meta), r2) for pid, parent, meta, r2 in rows
             if json.loads(meta).get("origin") == TWIN_ORIGIN}
    assert twins, "no twin stored"
    assert made == [("twin", 0)]  # made by the final pick, not proposed by a search iteration
    ids = {r[0] for r in rows}
    for parent, meta, r2 in twins.values():
        assert parent in ids and meta["twin_of"] == parent and meta["residuals"] == "relative"
        assert r2 is not None and np.isfinite(r2)
    sel = best["selection"]
    running = {c["program_id"] for c in sel["candidates"]}
    assert running & set(twins), sel["candidates"]  # twins are judged with the laws
    twin_of_pick = [pid for pid, (parent, _, _) in twins.items() if parent == best["program_id"]]
    assert twin_of_pick or best["program_id"] in twins
    # a re-finished run finds its twins in the store: none is made twice
    out = subprocess.run([sys.executable, "-m", "evosld.cli", "discover", "--resume", str(run), "--quiet"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(run / "run.sqlite") as con:
        again = [json.loads(m).get("origin") for (m,) in con.execute("SELECT meta FROM programs")]
    assert again.count(TWIN_ORIGIN) == len(twins)
    assert json.loads((run / "best.json").read_text())["program_id"] == best["program_id"]
    # the report's law section says which law a twin fits again, and that the final pick made it
    data = collect(run)
    twin = next(p for p in data.programs if p.id in twins)
    section = _law_section(replace(data, best=twin))
    assert f"program {twins[twin.id][0]}'s law fitted on relative residuals" in section
    assert "made by the final pick" in section and "proposed by" not in section


def test_a_negative_target_gets_no_twins(tmp_path):
    import evosld

    df = chinchilla_frame()
    df["loss"] = -df["loss"]
    run = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        evosld.discover(df, features=["N", "D"], target="loss", test="N > 2e9",
                        iterations=10, budget_seconds=None, seed=0, output=run, progress=False)
    with sqlite3.connect(run / "run.sqlite") as con:
        metas = [json.loads(m) for (m,) in con.execute("SELECT meta FROM programs")]
    assert not [m for m in metas if m.get("origin") == TWIN_ORIGIN]


def test_the_summary_line_says_when_the_pick_is_a_twin():
    from evosld.cli import _origin_note

    assert _origin_note({"origin": TWIN_ORIGIN, "twin_of": 7}) == ", program 7's law fitted on relative residuals"
    assert _origin_note({"origin": "add_term"}) == ""
    assert _origin_note({"origin": "comparison law"}) == ", kept over the search's pick"
    from evosld.search.selection import Selection

    plain = Selection(1, "validation", 0.1, ())
    assert _origin_note({"origin": "starter"}, plain) == ", the starter: no proposal did better"
    kept = Selection(1, "validation", 0.1, (), prior={"kept": True, "pick": 11})
    assert _origin_note({"origin": "starter"}, kept) == ", kept over the search's pick"
