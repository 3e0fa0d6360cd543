"""The run report: collected numbers, figures, the page, and the page in a real browser."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosld.config import load_config
from evosld.errors import ConfigError
from evosld.evaluation import Evaluator
from evosld.report import REPORT_FILE, ReportError, figure_path, write_report
from evosld.report.cli import add_report_parser
from evosld.report.curves import EXTEND_FACTOR, main_variable, plan_plot
from evosld.report.figures import FIGURES, FrontPoint, pareto
from evosld.run.runner import run_discovery
from evosld.run.store import RunStore
from evosld.tasks.starter import starter_source
from evosld.tasks.taskfile import task_from_spec
from tests.conftest import chinchilla_frame

CHROMIUM = os.environ.get("EVOSLD_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")

CHINCHILLA_LAW = '''"""Chinchilla: L = E + A / N^a + B / D^b, fitted in log space."""
# EVOLVE-BLOCK-START
import numpy as np
from scipy.optimize import least_squares


def scaling_law_func(data_points, params):
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    E, A, a, B, b = params
    return E + A * (X[:, 0] / 1e9) ** (-a) + B * (X[:, 1] / 1e11) ** (-b)


def fit_scaling_law(data_points, loss_values):
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    y = np.asarray(loss_values, dtype=float)
    res = least_squares(lambda p: scaling_law_func(X, p) - y, [1.5, 0.2, 0.3, 0.2, 0.3],
                        bounds=([0, 0, 0, 0, 0], [10, 10, 2, 10, 2]))
    return res.x
# EVOLVE-BLOCK-END
'''

BROKEN = "def scaling_law_func(data_points, params):\n    return 1 / 0\n\n" \
         "def fit_scaling_law(data_points, loss_values):\n    return [1.0]\n"


def _csv_spec(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    chinchilla_frame().to_csv(folder / "runs.csv", index=False)
    return {"csv": {"path": str(folder / "runs.csv"), "features": ["N", "D"], "target": "loss", "name": "chinchilla"}}


# --------------------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def symbolic_run(tmp_path_factory) -> Path:
    """A real (tiny) offline discovery; the runner writes the report itself."""
    root = tmp_path_factory.mktemp("symbolic")
    spec = _csv_spec(root)
    config, _ = load_config(None, {"max_iterations": 1, "random_seed": 0})
    run_discovery(task_from_spec(spec), config, root / "run", task_spec=spec)
    return root / "run"


@pytest.fixture(scope="module")
def llm_run(tmp_path_factory) -> Path:
    """A store shaped like an LLM run: no formulas, a failing program, tokens and cost."""
    from evosld.evaluation import Limits, Sandbox

    root = tmp_path_factory.mktemp("llm")
    spec = _csv_spec(root)
    task = task_from_spec(spec)
    evaluator = Evaluator(task, Sandbox(Limits(wall_seconds=20)))
    config = {"config": {"proposer": "llm", "max_iterations": 3, "llm": {"models": [{"name": "gpt-test"}]}},
              "task_spec": spec}
    with RunStore.create(root / "run" / "run.sqlite", task.name, 7, config) as store:
        for it, (source, proposer) in enumerate([(starter_source(task), "starter"), (CHINCHILLA_LAW, "llm"),
                                                 (BROKEN, "llm")]):
            pid = store.add_program(source, iteration=it, proposer=proposer, meta={"origin": proposer})
            store.add_evaluation(pid, evaluator.evaluate(source, "val").metrics())
            if proposer == "llm":
                store.add_llm_call(it, "gpt-test", program_id=pid, prompt_tokens=1200, completion_tokens=800,
                                   cost_usd=0.0125, latency_s=2.5)
        store.add_failed_proposal(3, "llm", "no_code", "the answer held no code block")
        best = store.best("val")
        test = evaluator.evaluate(best.source, "test")
        store.add_test_evaluation(best.id, test.metrics(), test.params)
        store.add_event("stopped", {"reason": "iterations", "iteration": 3})
        store.update_state({"next_iteration": 4, "elapsed_seconds": 12.5})
    return root / "run"


# --------------------------------------------------------------------------- page structure


class _Refs(HTMLParser):
    """Collects every tag, and every URL-bearing attribute, of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data") and value is not None:
                self.urls.append((tag, name, value))


def _check_self_contained(html: str) -> list[str]:
    refs = _Refs()
    refs.feed(html)
    assert "script" not in refs.tags and "iframe" not in refs.tags
    imgs = [v for tag, name, v in refs.urls if tag == "img"]
    for tag, name, value in refs.urls:
        assert value.startswith("data:"), f"<{tag} {name}> points outside the page: {value[:60]}"
    assert "@import" not in html and "url(" not in html.split("<style>")[1].split("</style>")[0]
    return imgs


def test_report_of_a_real_run_is_complete_and_self_contained(symbolic_run: Path) -> None:
    page = symbolic_run / REPORT_FILE
    assert page.is_file(), "run_discovery should write the report"
    html = page.read_text(encoding="utf-8")
    imgs = _check_self_contained(html)
    assert len(imgs) == len(FIGURES)
    assert all(v.startswith("data:image/png;base64,") for v in imgs)
    for spec in FIGURES:
        assert figure_path(symbolic_run, spec.name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = json.loads((symbolic_run / "best.json").read_text())
    # the numbers on the page are the stored ones
    assert f"{best['val']['r2']:.4f}" in html and f"{best['test']['r2']:.4f}" in html
    if best.get("formula"):
        assert _escaped(best["formula"]) in html
    if best.get("latex"):
        assert _escaped(best["latex"]) in html
    assert "def scaling_law_func" in html and "Chinchilla form" in html  # user task with N and D: Chinchilla reference
    for heading in ("The best law", "Scores", "Extrapolation", "Predicted against actual", "The search over time",
                    "Accuracy against complexity", "Run"):
        assert f"<h2>{heading}</h2>" in html
    assert "symbolic (offline)" in html and "no LLM calls" in html
    assert {"param_names", "param_bounds", "params_at_bounds"} <= set(best)
    if best["proposer"] == "symbolic":  # its program declares its box: every parameter named, none unknown
        assert len(best["param_names"]) == best["n_params"] and isinstance(best["params_at_bounds"], list)
    assert "finished, stopped: iteration limit reached" in html


def _escaped(text: str) -> str:
    from html import escape

    return escape(text)


def test_report_of_an_llm_run_shows_failures_tokens_and_cost(llm_run: Path) -> None:
    path = write_report(llm_run)
    html = path.read_text(encoding="utf-8")
    _check_self_contained(html)
    assert "gpt-test" in html
    assert "2,400 prompt + 1,600 completion" in html and "$0.0250" in html
    assert "exception: 1" in html and "no_code: 1" in html
    assert "No formula was recorded" in html
    # the best (the Chinchilla law) has 5 fitted parameters, counted from its fit
    assert re.search(r"<strong>5</strong> fitted parameters per group", html)


def test_report_of_an_unfinished_run_says_so(llm_run: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(llm_run, run_dir)
    with sqlite3.connect(run_dir / "run.sqlite") as conn:  # killed before the test score was stored
        conn.execute("DELETE FROM test_evaluations")
        conn.execute("DELETE FROM events WHERE kind = 'stopped'")
    html = write_report(run_dir).read_text(encoding="utf-8")
    assert "not finished" in html and "computed for this report" in html
    with RunStore.open(run_dir / "run.sqlite") as store:
        assert store.test_evaluations() == []  # the report reads the store, never writes it


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a run directory"):
        write_report(tmp_path)
    with pytest.raises(ConfigError, match="not a directory"):
        write_report(tmp_path / "missing")
    spec = _csv_spec(tmp_path / "data")
    with RunStore.create(tmp_path / "run" / "run.sqlite", "chinchilla", 0, {"task_spec": spec}) as store:
        pid = store.add_program(BROKEN, proposer="llm")
        store.add_evaluation(pid, {"split": "val", "r2": -1.0, "error_kind": "exception", "error": "boom"})
    with pytest.raises(ReportError, match="no program .* evaluated successfully"):
        write_report(tmp_path / "run")


def test_report_command(llm_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    add_report_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(llm_run), "--x", "D"])
    assert args.func(args) == 0
    assert str(llm_run / REPORT_FILE) in capsys.readouterr().out
    with pytest.raises(ConfigError, match="unknown feature"):
        args = parser.parse_args(["report", str(llm_run), "--x", "nope"])
        args.func(args)


# --------------------------------------------------------------------------- pure parts


def test_main_variable_and_curves(synthetic_task) -> None:
    assert main_variable(synthetic_task) == "N"  # both log-scale; N has more distinct values (7 vs 6)
    plan = plan_plot(synthetic_task)
    assert plan.log_x and plan.x_feature == "N" and len(plan.groups) == 1
    curves = plan.groups[0].curves
    assert curves and all(c.X.shape[1] == 2 for c in curves)
    n_max = max(synthetic_task.train["N"].max(), synthetic_task.test["N"].max())
    assert np.isclose(curves[0].X[:, 0].max(), EXTEND_FACTOR * n_max)
    assert np.isclose(curves[0].X[:, 0].min(), min(synthetic_task.train["N"].min(), synthetic_task.test["N"].min()))
    held_d = {c.held["D"] for c in curves}
    assert held_d <= set(synthetic_task.test["D"])  # other features held at test-row values


def test_pareto_front() -> None:
    pts = [FrontPoint(1, 3, 0.5), FrontPoint(2, 3, 0.7), FrontPoint(3, 4, 0.6), FrontPoint(4, 5, 0.9),
           FrontPoint(5, 6, 0.9)]
    assert [p.program_id for p in pareto(pts)] == [2, 4]


# --------------------------------------------------------------------------- in a browser

CHECK_SCRIPT = """<script>
window.__errors = [];
window.addEventListener('error', function (e) {
  window.__errors.push(('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || 'resource')).slice(0, 120));
}, true);
document.addEventListener('securitypolicyviolation', function (e) { window.__errors.push('csp: ' + e.blockedURI); });
['error', 'warn'].forEach(function (level) {
  var original = console[level];
  console[level] = function () {
    window.__errors.push(level + ': ' + Array.prototype.join.call(arguments, ' '));
    original.apply(console, arguments);
  };
});
window.addEventListener('load', function () {
  var imgs = Array.prototype.map.call(document.images, function (i) {
    return {complete: i.complete, width: i.naturalWidth, height: i.naturalHeight};
  });
  var math = null, m = document.querySelector('math'), frac = document.querySelector('math mfrac');
  if (m) {
    var box = m.getBoundingClientRect();
    var num = frac && frac.children[0].getBoundingClientRect(), den = frac && frac.children[1].getBoundingClientRect();
    math = {width: box.width, height: box.height, display: getComputedStyle(m).display,
            stacked: frac ? num.bottom <= den.top + 1 && num.height > 0 && den.height > 0 : null};
  }
  var out = document.createElement('pre');
  out.id = '__check';
  out.textContent = JSON.stringify({imgs: imgs, errors: window.__errors,
                                    scrollWidth: document.documentElement.scrollWidth, math: math,
                                    rawLatex: /\\\\(frac|cdot|left|mathrm)/.test(document.body.innerText)});
  document.body.appendChild(out);
});
</script>"""


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
           "--enable-logging=stderr", "--v=0", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)


def _browser_check(page: Path, tmp_path: Path) -> tuple[dict, str]:
    """Load ``page`` (with a check script put first in <head>) and read what it found."""
    checked = tmp_path / "checked.html"
    html = page.read_text(encoding="utf-8")
    checked.write_text(html.replace("<head>", "<head>" + CHECK_SCRIPT, 1), encoding="utf-8")
    done = _chromium(["--virtual-time-budget=5000", "--window-size=1280,2000", "--dump-dom", checked.as_uri()],
                     tmp_path / "profile-dom")
    match = re.search(r'<pre id="__check">(.*?)</pre>', done.stdout, re.S)
    assert match, f"the check script did not run: {done.stderr[-800:]}"
    from html import unescape

    return json.loads(unescape(match.group(1))), done.stderr


@pytest.fixture
def chromium() -> str:
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is needed under CI (apt-get install -y chromium)")
        pytest.skip("chromium is not installed")
    return CHROMIUM


@pytest.mark.slow
@pytest.mark.parametrize("which", ["symbolic_run", "llm_run", "bound_run"])
def test_report_renders_in_chromium(which: str, request: pytest.FixtureRequest, chromium: str, tmp_path: Path) -> None:
    run_dir: Path = request.getfixturevalue(which)
    page = run_dir / REPORT_FILE if (run_dir / REPORT_FILE).is_file() else write_report(run_dir)
    result, log = _browser_check(page, tmp_path)
    assert len(result["imgs"]) == len(FIGURES)
    for img in result["imgs"]:
        assert img["complete"] and img["width"] > 0 and img["height"] > 0, img
    assert result["errors"] == []
    console = [line for line in log.splitlines() if "CONSOLE" in line]
    assert console == [], console  # the page itself logs nothing, blocks nothing
    assert result["scrollWidth"] <= 1280, "the page should not scroll sideways on a laptop screen"
    assert not result["rawLatex"], "raw LaTeX is visible on the page"
    if which == "bound_run":  # its best law has a formula: chromium lays it out as mathematics
        math = result["math"]
        assert math and math["width"] > 100 and math["height"] > 20, math
        assert math["stacked"], "the fraction's numerator should sit above its denominator"

    shot = tmp_path / "report.png"
    t0 = time.monotonic()
    done = _chromium([f"--screenshot={shot}", "--window-size=1280,2000", page.as_uri()], tmp_path / "profile-shot")
    assert shot.is_file(), done.stderr[-800:]
    assert time.monotonic() - t0 < 60
    from PIL import Image

    with Image.open(shot) as im:
        rgb = im.convert("RGB")
        assert rgb.size == (1280, 2000)
        colours = rgb.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 500, "the screenshot looks blank"
    commonest = max(colours)[0] / (1280 * 2000)
    assert commonest < 0.9, "the screenshot is mostly one colour"


# --------------------------------------------------------------------------- issue 21: the formula, bounds, time

SFT_LATEX = (r"\mathrm{sft\_loss} = c_{0} + c_{1} \, \frac{1}{1 + e^{\alpha_{1}\left(\ln\frac{\mathrm{sft\_data\_size}}"
             r"{9.1e+03} - \mu_{1}\right)}}")  # as an sft run stored it before the report rendered formulas
RAW_LATEX = re.compile(r"\\(frac|cdot|left|right|mathrm|alpha|mu|ln)\b")


def _sat_frame() -> pd.DataFrame:
    """Eight groups: seven logistic transitions a ``c0 + c1 sat(x)`` law fits inside its box, and one plain
    power law, which the same law can only follow by pushing its midpoint ``mu_1`` onto a bound (as sft did)."""
    x = np.logspace(3, 6, 12)
    rows = []
    for g in range(8):
        y = 2 + 3 * (x / 1e4) ** -0.3 if g == 7 else 1 + 2 / (1 + (x / (3e3 * 1.5**g)) ** 0.8)
        rows += [{"x": a, "y": b, "g": f"g{g}"} for a, b in zip(x, y)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def bound_run(tmp_path_factory) -> Path:
    """A finished run whose best is the symbolic ``c0 + c1 sat(x)`` program; in group g7 mu_1 sits on a bound.

    Its clock is set by hand: created at T0, evaluations at 1, 4 and 9 s, stopped after 60 s searched and
    43 iterations (a tail of proposals that found nothing new), as the sft run the issue describes.
    """
    from evosld.evaluation import Limits, Sandbox
    from evosld.proposers.symbolic.expr import Law
    from evosld.proposers.symbolic.proposer import SymbolicProposer

    root = tmp_path_factory.mktemp("bound")
    (root / "data").mkdir()
    _sat_frame().to_csv(root / "data" / "runs.csv", index=False)
    spec = {"csv": {"path": str(root / "data" / "runs.csv"), "features": ["x"], "target": "y", "group": "g",
                    "name": "satcase"}}
    task = task_from_spec(spec)
    proposal = SymbolicProposer(task.search_view(), seed=0).proposal(Law.from_json({"terms": [[], [["sat", [0]]]]}),
                                                                      "seed")
    evaluator = Evaluator(task, Sandbox(Limits(wall_seconds=30)))
    config = {"config": {"proposer": "symbolic", "max_iterations": 100000, "budget_seconds": 60}, "task_spec": spec}
    with RunStore.create(root / "run" / "run.sqlite", task.name, 0, config) as store:
        starter = store.add_program(starter_source(task), iteration=0, proposer="starter")
        store.add_evaluation(starter, evaluator.evaluate(starter_source(task), "val").metrics())
        pid = store.add_program(proposal.source, iteration=2, proposer="symbolic", meta=proposal.meta)
        store.add_evaluation(pid, evaluator.evaluate(proposal.source, "val").metrics())
        other = store.add_program(BROKEN, iteration=7, proposer="symbolic")
        store.add_evaluation(other, {"split": "val", "r2": -1.0, "error_kind": "exception", "error": "boom"})
        test = evaluator.evaluate(proposal.source, "test")
        store.add_test_evaluation(pid, test.metrics(), test.params)
        store.set_state("final_program_id", pid)
        store.add_event("stopped", {"reason": "budget", "iteration": 43})
        store.update_state({"next_iteration": 44, "elapsed_seconds": 60.0})
    with sqlite3.connect(root / "run" / "run.sqlite") as conn:
        t0 = 1_700_000_000.0
        conn.execute("UPDATE run SET created = ?", (t0,))
        for seq, at in zip((1, 2, 3), (1.0, 4.0, 9.0)):
            conn.execute("UPDATE evaluations SET created = ? WHERE seq = ?", (t0 + at, seq))
        conn.execute("INSERT INTO events (time, kind, data) VALUES (?, 'session', ?)",
                     (t0 + 0.5, json.dumps({"elapsed_before": 0.0, "resumed": False})))
    return root / "run"


def _visible_text(html: str) -> str:
    """The page's text as shown before anything is opened: no tags, no closed <details>, no <title>/<style>."""
    html = re.sub(r"<details.*?</details>", " ", html, flags=re.S)
    html = re.sub(r"<(style|title)>.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'\stitle="[^"]*"', " ", html)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_formula_was_shown_as_raw_latex_and_now_is_mathml(bound_run: Path) -> None:
    from evosld.report.mathml import latex_to_mathml

    html = write_report(bound_run).read_text(encoding="utf-8")
    with RunStore.open(bound_run / "run.sqlite") as store:
        latex = store.final().meta["latex"]
    assert r"\frac" in latex  # what the user saw on the page: this source, verbatim
    assert '<math display="block">' in html and "<mfrac>" in html
    assert not RAW_LATEX.search(_visible_text(html)), "raw LaTeX is visible on the page"
    assert not re.search(r"https?://", html), "the page names an outside resource (or a namespace URL)"
    _check_self_contained(html)
    # the plain-text and LaTeX forms stay on the page, to copy
    assert _escaped(latex) in html and "as text or LaTeX" in html
    # the sft formula as it was stored: converts, with the names whole and nothing to load
    markup = latex_to_mathml(SFT_LATEX)
    assert markup is not None and "<mi mathvariant=\"normal\">sft_loss</mi>" in markup
    assert "xmlns" not in markup and "\\" not in markup


def test_mathml_conversion_keeps_nothing_unsafe() -> None:
    from evosld.report.mathml import latex_to_mathml

    linked = latex_to_mathml(r"\href{https://example.org}{a} + b")
    assert linked is None or ("href" not in linked and "example.org" not in linked)
    assert latex_to_mathml(r"\url{https://example.org} x") is None  # would show raw \url text: the page shows text
    assert latex_to_mathml(r"\frac{1}{") is None
    assert latex_to_mathml(r"x_{1} < y") == ('<math display="block"><mrow><msub><mi>x</mi><mrow><mn>1</mn></mrow>'
                                               "</msub><mo>&lt;</mo><mi>y</mi></mrow></math>")


def test_a_formula_that_does_not_convert_is_shown_as_text() -> None:
    from evosld.report.html import _formula_part

    part = _formula_part("y = a * x^b", r"\unknowncommand{y}")
    assert "<math" not in part and '<div class="formula">y = a * x^b</div>' in part
    assert r"\unknowncommand{y}" in part.split("<details", 1)[1]  # the LaTeX only behind "as LaTeX"


def test_parameters_on_a_search_bound_are_flagged(bound_run: Path) -> None:
    html = write_report(bound_run).read_text(encoding="utf-8")
    # every one of the 8 groups is listed: the first 6, and g7 because mu_1 sits on a bound there
    assert "first 6 of 8 groups, and 1 more with a parameter on a bound" in html
    assert "Parameters on a search bound:" in html and "mu_1 at its lower bound" in html and "in 1 of 8 groups" in html
    rows = re.findall(r"<tr><td>(g\d)</td>(.*?)</tr>", html)
    assert [g for g, _ in rows] == ["g0", "g1", "g2", "g3", "g4", "g5", "g7"]
    marked = {g for g, cells in rows if "at lower bound" in cells or "at upper bound" in cells}
    assert marked == {"g7"}
    assert re.search(r"search bounds.*?unbounded.*?unbounded.*?\[-8, 8\]", html, re.S)
    assert "μ<sub>1</sub>" in html and "α<sub>1</sub>" in html


def test_best_json_names_the_parameters_on_a_bound(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The runner writes params_at_bounds into best.json (and says so on the console) for a real run."""
    from evosld.bounds import bounds_record
    from evosld.proposers.symbolic.expr import Law
    from evosld.proposers.symbolic.proposer import SymbolicProposer

    (tmp_path / "d").mkdir()
    _sat_frame().to_csv(tmp_path / "d" / "runs.csv", index=False)
    task = task_from_spec({"csv": {"path": str(tmp_path / "d" / "runs.csv"), "features": ["x"], "target": "y",
                                   "group": "g", "name": "satcase"}})
    proposal = SymbolicProposer(task.search_view(), seed=0).proposal(Law.from_json({"terms": [[], [["sat", [0]]]]}),
                                                                      "seed")
    from evosld.evaluation import Limits, Sandbox

    fit = Evaluator(task, Sandbox(Limits(wall_seconds=30))).evaluate(proposal.source, "test")
    record = bounds_record(proposal.source, proposal.meta, fit.params)
    assert record["param_names"] == ["c_0", "c_1", "alpha_1", "mu_1"]
    assert record["param_bounds"][:3] == [[None, None], [None, None], [-8.0, 8.0]]
    [flag] = record["params_at_bounds"]
    assert flag["group"] == "g7" and flag["name"] == "mu_1" and flag["side"] == "lower"
    assert flag["bound"] == record["param_bounds"][3][0]
    assert bounds_record(proposal.source, proposal.meta, None)["params_at_bounds"] is None  # not fitted on train yet
    from types import SimpleNamespace

    from evosld.cli import _bounds_line

    _bounds_line(SimpleNamespace(params=fit.params, best_source=proposal.source, meta=proposal.meta))
    assert "on a search bound: mu_1 at its lower bound" in capsys.readouterr().out
    assert bounds_record(CHINCHILLA_LAW, {}, fit.params) == {"param_names": None, "param_bounds": None,
                                                             "params_at_bounds": None}  # no declared box


def test_the_time_axis_covers_the_whole_run_not_just_the_last_evaluation(bound_run: Path) -> None:
    from evosld.report.collect import collect
    from evosld.report.figures import search_figure

    data = collect(bound_run)
    assert [h.searched_s for h in data.history] == pytest.approx([0.5, 3.5, 8.5])
    fig = search_figure(data)
    it_ax, time_ax = fig.axes[:2]
    # what the user saw: the axis ended at the last evaluation (9 s), though the run searched for 60 s
    assert time_ax.get_xlim()[0] <= 0 and time_ax.get_xlim()[1] >= 60.0
    assert it_ax.get_xlim()[1] >= 43
    best_line = next(line for line in time_ax.get_lines() if line.get_label() == "best so far")
    assert max(best_line.get_xdata()) == pytest.approx(60.0)  # the best so far is drawn to the end


def test_a_resumed_run_is_drawn_on_the_time_it_searched(bound_run: Path, tmp_path: Path) -> None:
    """Two sessions, 1000 s apart: the axis shows the 30 s searched, not the 1000 s down; the resume is marked."""
    from evosld.report.collect import collect
    from evosld.report.figures import search_figure

    run_dir = tmp_path / "run"
    shutil.copytree(bound_run, run_dir)
    t0 = 1_700_000_000.0
    with sqlite3.connect(run_dir / "run.sqlite") as conn:
        conn.execute("UPDATE evaluations SET created = ? WHERE seq = 3", (t0 + 1015.0,))
        conn.execute("INSERT INTO events (time, kind, data) VALUES (?, 'session', ?)",
                     (t0 + 1010.0, json.dumps({"elapsed_before": 10.0, "resumed": True})))
        conn.execute("UPDATE state SET value = '30.0' WHERE key = 'elapsed_seconds'")
    data = collect(run_dir)
    assert [h.searched_s for h in data.history] == pytest.approx([0.5, 3.5, 15.0])
    assert data.resumed_at == [10.0]
    time_ax = search_figure(data).axes[1]
    assert 30.0 <= time_ax.get_xlim()[1] < 40.0
    resumed = [line for line in time_ax.get_lines() if line.get_label() == "resumed"]
    assert resumed and list(resumed[0].get_xdata()) == [10.0, 10.0]


def test_a_run_stored_before_session_events_keeps_its_clock(llm_run: Path) -> None:
    with RunStore.open(llm_run / "run.sqlite") as store:
        assert store.sessions() == []
        assert all(h.searched_s == h.elapsed_s for h in store.history())


def test_a_figure_matplotlib_cannot_draw_is_a_panel_that_says_so():
    """Sizes near the float limit (1e300) overflow matplotlib's log ticks: the run keeps its report."""
    from evosld.report.figures import FigureSpec, _drawn

    def overflowing(data):
        raise OverflowError("cannot convert float infinity to integer")

    png = _drawn(FigureSpec("extrapolation", "Extrapolation", overflowing), None)
    assert png.startswith(b"\x89PNG")


def test_report_says_what_to_do_when_it_cannot_write_or_another_report_holds_the_run(symbolic_run, tmp_path, capsys):
    """The message for a run's files named --output, which `evosld report` does not take; and a report
    refused because another report is writing was told the holder "writes its own report when it ends"."""
    from evosld.run.runlock import RunLock
    from tests.conftest import one_error, run_cli

    run = tmp_path / "run"
    shutil.copytree(symbolic_run, run)
    (run / REPORT_FILE).unlink()
    (run / REPORT_FILE).mkdir()  # report.html cannot be written over
    code, _, err = run_cli(capsys, "report", str(run))
    line = one_error(code, err)
    assert line.startswith(f"error: cannot write {run / REPORT_FILE}: ") and "--output" not in line
    assert line.endswith(f"then run `evosld report {run}` again (the run itself is unchanged)")
    (run / REPORT_FILE).rmdir()
    lock = RunLock.acquire(run)
    try:  # the lock's note names the command that holds it: make it a report
        note = json.dumps({"pid": os.getpid(), "command": f"evosld report {run}"}).encode() + b"\n"
        os.ftruncate(lock.fd, 0)
        os.pwrite(lock.fd, note, 0)
        code, _, err = run_cli(capsys, "report", str(run))
    finally:
        lock.release()
    assert one_error(code, err).endswith(f"(evosld report {run}); it is writing its report; wait for it")
