"""Assemble the report page: one self-contained HTML file.

Figures are embedded as base64 PNG data URIs and the style sheet is inline;
the page loads nothing else (a Content-Security-Policy says so) and runs no
script. Every piece of text that comes from a run (code, formulas, labels) is
escaped; the formula is typeset as MathML rebuilt from an allow-list
(``mathml.py``), which the browser draws without loading anything.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import Iterable, Mapping
from html import escape
from typing import Any

import numpy as np

from evosld import __version__
from evosld.bounds import summarize
from evosld.evaluation.foldscores import HORIZON
from evosld.evaluation.metrics import TRIM_SIGMAS
from evosld.proposers.symbolic.emit import TWIN_ORIGIN
from evosld.report.collect import LawResult, ReportData
from evosld.report.curves import EXTEND_FACTOR
from evosld.report.figures import FIGURES
from evosld.report.mathml import latex_to_mathml
from evosld.search.plausibility import RANGE_SLACK
from evosld.search.selection import NOISE_Z
from evosld.search.status import STOP_REASONS
from evosld.tasks.targetrange import describe as describe_range

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f4f5f7; color: #1d232b;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 20px 20px 40px; }
header { padding: 8px 0 12px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 0 0 10px; }
h3 { font-size: 1rem; margin: 14px 0 6px; }
.sub { color: #5b6672; font-size: .92rem; }
section { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 16px 18px; margin: 14px 0; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(190px, 1fr)); gap: 10px; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 8px; padding: 10px 14px; }
.card .k { color: #5b6672; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
.card .v { font-size: 1.45rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .n { color: #5b6672; font-size: .8rem; }
.formula.math { font: 1rem/1.6 system-ui, sans-serif; white-space: normal; padding: 10px 14px; }
.formula.math math { font-size: 1.6em; font-family: math, "STIX Two Math", "Latin Modern Math", "Cambria Math", serif; }
details.copy { margin: 6px 0 10px; font-size: .88rem; }
details.copy summary { color: #5b6672; cursor: pointer; }
.at-bound { font-weight: 600; }
.formula { font: 1rem/1.5 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f0f4fa;
  border-left: 4px solid #0072B2; padding: 8px 12px; overflow-x: auto; white-space: pre-wrap; word-break: break-word; }
code { font: .88rem ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f0f2f5;
  padding: 1px 4px; border-radius: 3px; word-break: break-word; }
pre { font: .82rem/1.45 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; background: #f7f8fa;
  border: 1px solid #e3e6ea; border-radius: 6px; padding: 10px 12px; overflow-x: auto; max-height: 560px; }
pre code { background: none; padding: 0; font: inherit; word-break: normal; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e7e9ed; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { background: #f7f8fa; font-weight: 600; font-size: .88rem; }
th.test, td.test { background: #fdf3ee; }
table.facts td, table.facts th { text-align: left; }
table.facts th { width: 32%; font-weight: 500; color: #3d4752; }
figure { margin: 0; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { color: #5b6672; font-size: .88rem; margin-top: 8px; }
.ok { color: #1b7f3b; } .bad { color: #b3261e; }
.note { color: #5b6672; font-size: .88rem; }
.warn { background: #fff6e0; border: 1px solid #f0d48a; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
footer { color: #5b6672; font-size: .8rem; text-align: center; margin-top: 20px; }
@media (max-width: 640px) { main { padding: 10px; } section { padding: 12px; } .card .v { font-size: 1.2rem; } }
"""

CAPTIONS = {
    "extrapolation": (
        "The target against {x} for {groups}: fit rows, validation rows and the held-out test rows "
        "(the largest scales). Lines are the laws fitted on all of train, drawn through and beyond the data "
        "(to {ext}× the largest {x}) with the other features held at the values of the test rows; "
        "solid: the best law, dashed: the {ref}."
    ),
    "parity": (
        "Predicted against actual. Validation: the law fitted on train minus validation, as the search scored it. "
        "Test: fitted on all of train, scored once for this report."
    ),
    "search": (
        "Validation R² of every candidate (grey) and the best so far (line), against iteration and against time "
        "searched (summed over the run's sessions, time spent stopped left out; dotted lines: where it was "
        "resumed); stars mark where the best changed. Both axes run to the end of the run, past the last "
        "improvement. Values below the axis are drawn at its floor."
    ),
    "front": (
        "Accuracy against complexity for every successfully evaluated program; the Pareto front (no other program "
        "is both simpler and more accurate on validation) is highlighted."
    ),
}


# --------------------------------------------------------------------------- formatting


def fmt_num(value: Any, digits: int = 4) -> str:
    """A metric for the table: fixed decimals, or '—' when missing / not finite."""
    if value is None or isinstance(value, bool):
        return "—"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "—"
    if not math.isfinite(v):
        return "—"
    return f"{v:.{digits}f}" if abs(v) < 1e5 else f"{v:.3g}"


def fmt_seconds(seconds: float | None) -> str:
    """'42.1 s', '3 min 5 s', '1 h 02 min'."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def fmt_params(values: Any, limit: int = 12) -> str:
    """Fitted parameter values, compact (first ``limit`` numbers)."""
    try:
        flat = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        return escape(str(values))[:200]
    text = ", ".join(f"{v:.4g}" for v in flat[:limit])
    return f"[{text}{', …' if flat.size > limit else ''}]"


def data_uri(png: bytes) -> str:
    """A ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _table(head: Iterable[str], rows: Iterable[Iterable[str]], cls: str = "", head_cls: Mapping[int, str] | None = None) -> str:
    """An HTML table from already-escaped cells."""
    head_cls = head_cls or {}
    ths = "".join(f'<th class="{head_cls[i]}">{h}</th>' if i in head_cls else f"<th>{h}</th>" for i, h in enumerate(head))
    body = []
    for row in rows:
        tds = "".join(f'<td class="{head_cls[i]}">{c}</td>' if i in head_cls else f"<td>{c}</td>" for i, c in enumerate(row))
        body.append(f"<tr>{tds}</tr>")
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{ths}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _facts_table(rows: Iterable[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<div class="scroll"><table class="facts"><tbody>{body}</tbody></table></div>'


# --------------------------------------------------------------------------- sections


def _cards(data: ReportData) -> str:
    best, ref = data.best_law, data.reference
    limit = data.task.max_params
    n = best.n_params
    within = n is None or limit is None or n <= limit
    cards = [
        ("validation R²", fmt_num(best.val_metrics.get("r2")), "selected on this"),
        ("test R²", fmt_num(best.test_metrics.get("r2")), "held out; reported only"),
    ]
    if ref is not None:
        cards.append((f"{'human law' if ref.kind == 'human' else 'starter'} test R²", fmt_num(ref.test_metrics.get("r2")),
                      "refit on the same train rows"))
    cls = "ok" if within else "bad"
    cards.append(("fitted parameters", f'<span class="{cls}">{n if n is not None else "?"}</span>',
                  f"task limit {limit}" if limit else "no limit set"))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{escape(k)}</div><div class="v">{v}</div><div class="n">{escape(note)}</div></div>'
        for k, v, note in cards) + "</div>"


def _law_section(data: ReportData) -> str:
    best = data.best_law
    meta = data.best.meta or {}
    formula, latex = meta.get("formula"), meta.get("latex")
    limit = data.task.max_params
    parts = ["<section><h2>The best law</h2>"]
    parts.append(_formula_part(formula, latex))
    n = best.n_params
    if n is None:
        count = "unknown number of fitted parameters"
    else:
        count = f"<strong>{n}</strong> fitted parameters per group"
    if limit and n is not None:
        verdict = ('<span class="ok">within the task limit of {0}</span>' if n <= limit
                   else '<span class="bad">more than the task limit of {0}: report it as such</span>').format(limit)
        count += f", {verdict}"
    proposer = escape(data.best.proposer)
    made = (f"program {escape(str(meta.get('twin_of')))}'s law fitted on relative residuals (each run weighed by "
            "1 / its target): its fit-scale twin, made by the final pick, which judged both fits"
            if meta.get("origin") == TWIN_ORIGIN else
            f"proposed by <code>{proposer}</code> at iteration {data.best.iteration}")
    parts.append(f"<p>{count}. Program {data.best.id}, {made}.</p>")
    params = best.test.params if best.test.ok else {}
    if params:
        parts.append(_params_part(data, params))
    parts.append("<h3>Program</h3>")
    parts.append(f"<pre><code>{escape(data.best.source)}</code></pre>")
    parts.append("</section>")
    return "".join(parts)


def _formula_part(formula: Any, latex: Any) -> str:
    """The formula as MathML, with its plain-text and LaTeX forms to copy; the text alone if it does not convert."""
    if not formula and not latex:
        return '<p class="note">No formula was recorded for this program; read it from the code below.</p>'
    markup = latex_to_mathml(str(latex)) if latex else None
    text = str(formula or latex)
    if markup is None:
        shown = f'<div class="formula">{escape(text)}</div>'
        if latex and formula:
            shown += (f'<details class="copy"><summary>as LaTeX</summary><p><code>{escape(str(latex))}</code>'
                      "</p></details>")
        return shown
    forms = "".join(f'<p>{label}: <code>{escape(str(v))}</code></p>'
                    for label, v in (("text", formula), ("LaTeX", latex)) if v)
    return (f'<div class="formula math" title="{escape(text)}">{markup}</div>'
            f'<details class="copy"><summary>as text or LaTeX (to copy)</summary>{forms}</details>')


#: Groups the parameter table shows (besides every group with a parameter on a bound).
SHOWN_GROUPS = 6
#: Most parameters shown as columns; a longer fit is shown as one list per group.
MAX_PARAM_COLUMNS = 12


#: Greek names of the symbolic blocks' parameters, as the formula shows them.
GREEK = {"alpha": "α", "mu": "μ", "tau": "τ", "rho": "ρ", "kappa": "κ", "omega": "ω"}


def _param_label(name: str) -> str:
    """``mu_1`` as μ₁ (HTML, the name itself as its tooltip); other names as they are."""
    head, sep, idx = name.partition("_")
    if not (sep and idx.isdigit()):
        return escape(name)
    return f'<span title="{escape(name)}">{escape(GREEK.get(head, head))}<sub>{idx}</sub></span>'


def _param_rows(params: Mapping[str, Any], targets: list[str]) -> list[tuple[str, str, int | None, np.ndarray]] | None:
    """(group, row label, output, (P,) values) per group and output; None when the fits are not numeric arrays."""
    rows = []
    for g, v in params.items():
        try:
            arr = np.asarray(v, dtype=float)
        except (TypeError, ValueError):
            return None
        if arr.ndim == 1:
            rows.append((str(g), str(g), None, arr))
        elif arr.ndim == 2:
            for t, row in enumerate(arr):
                name = targets[t] if t < len(targets) else f"output {t}"
                rows.append((str(g), f"{g} · {name}", t, row))
        else:
            return None
    sizes = {r[3].size for r in rows}
    return rows if len(sizes) == 1 and 0 < sizes.pop() <= MAX_PARAM_COLUMNS else None


def _params_part(data: ReportData, params: Mapping[str, Any]) -> str:
    """The fitted parameters, one column each, with the search box; values on a bound are marked."""
    box, flags = data.bounds, data.at_bounds
    flagged_groups = {f.group for f in flags}
    keep = set(list(params)[:SHOWN_GROUPS]) | flagged_groups
    shown = {g: v for g, v in params.items() if g in keep}
    extra = len(shown) - min(len(params), SHOWN_GROUPS)
    title = "Fitted on all of train"
    if len(shown) < len(params):
        title += f" (first {SHOWN_GROUPS} of {len(params)} groups"
        title += f", and {extra} more with a parameter on a bound)" if extra else ")"
    warn = ""
    if flags:
        lines = "; ".join(escape(line) for line in summarize(flags, len(params)))
        warn = (f'<div class="warn"><strong>Parameters on a search bound:</strong> {lines}. The fit wanted to go '
                "further: the law may be mis-specified for those groups, or the bound too tight. Read those "
                "groups' extrapolations with care.</div>")
    rows = _param_rows(shown, list(data.task.targets))
    if rows is None:
        table = _facts_table((escape(str(g)), f"<code>{escape(fmt_params(v))}</code>") for g, v in shown.items())
        return f"<h3>{title}</h3>{warn}{table}"
    size = rows[0][3].size
    names = list(box.names) if box is not None and box.size == size else [f"p[{i}]" for i in range(size)]
    marks = {(f.group, f.output, f.index): f for f in flags}
    body = []
    if box is not None and box.size == size:
        body.append(['<span class="note">search bounds</span>',
                     *(f'<span class="note">{escape(box.describe(i))}</span>' for i in range(size))])
    for g, label, t, values in rows:
        cells = [escape(label)]
        for i, v in enumerate(values):
            f = marks.get((g, t, i))
            if f is None:
                cells.append(f"{v:.4g}")
            else:
                cells.append(f'<span class="bad at-bound" title="{escape(f.describe())}">{v:.4g} '
                             f"(at {f.side} bound)</span>")
        body.append(cells)
    head = ["group" if len(params) > 1 or rows[0][2] is not None else "", *(_param_label(n) for n in names)]
    return f"<h3>{title}</h3>{warn}" + _table(head, body, cls="params")


def _law_row(law: LawResult) -> list[str]:
    v, t = law.val_metrics, law.test_metrics
    label = escape(law.label)
    err = t.get("error") or v.get("error")
    if err and (t.get("error_kind") or v.get("error_kind")):
        label += f'<br><span class="note bad">{escape(str(err))[:160]}</span>'
    return [label, fmt_num(v.get("r2")), fmt_num(v.get("nmse")), fmt_num(v.get("nmae")),
            fmt_num(t.get("r2")), fmt_num(t.get("nmse")), fmt_num(t.get("nmae")),
            "?" if law.n_params is None else str(law.n_params)]


def _metrics_section(data: ReportData) -> str:
    head = ["law", "val R²", "val NMSE", "val NMAE", "test R²", "test NMSE", "test NMAE", "params"]
    rows = [_law_row(data.best_law)]
    if data.reference is not None:
        rows.append(_law_row(data.reference))
    test_cols = {4: "test", 5: "test", 6: "test"}
    note = ("The search selected on validation R² (validation: the largest scales of train, held out from the "
            "fit). Test rows are the largest scales of all and were never shown to the search; test columns "
            "(shaded) are reported, not used.")
    if data.best_law.note:
        note += " " + escape(data.best_law.note) + "."
    r2c = data.best_law.test_metrics.get("r2_clipped")
    r2 = data.best_law.test_metrics.get("r2")
    if r2 is not None and r2c is not None and r2c != r2:
        note += f" Test R² clipped at −1: {fmt_num(r2c)}."
    return ("<section><h2>Scores</h2>" + _table(head, rows, head_cls=test_cols)
            + f'<p class="note">{note} NMSE = MSE / Var(y), NMAE = MAE / mean|y − mean(y)|, R² = 1 − NMSE, '
            "averaged over outputs.</p>" + _selection_part(data) + "</section>")


def _group_counts(task) -> str:
    """Rows fit/val/test per group, as a short sentence (empty for one group)."""
    counts = task.split_counts()
    if len(counts) <= 1:
        return ""
    shown = "; ".join(f"{escape(g)} {c['fit']}/{c['val']}/{c['test']}" for g, c in list(counts.items())[:8])
    more = f"; … ({len(counts)} groups)" if len(counts) > 8 else ""
    return f". Rows fit/val/test per group: {shown}{more}"


def _selection_part(data: ReportData) -> str:
    """How sure the pick is: the laws in the running and their scores on each extrapolation fold."""
    sel = data.selection
    if sel and sel.get("noise") is not None:
        return _noise_part(data, sel)
    alone = bool(sel) and sel.get("rule") == "validation" and any(c.get("folds") for c in sel.get("candidates", []))
    if not sel or (sel.get("rule") != "extrapolation folds" and not alone and not _refused(sel)
                   and not sel.get("unchecked")):
        return ""
    folds = list(sel.get("folds") or [])
    drifts = any(c.get("drift") is not None for c in sel.get("candidates", []))
    rows = []
    for c in sel.get("candidates", []):
        chosen = c.get("program_id") == sel.get("program_id")
        mark = ' <span class="ok">chosen</span>' if chosen else (
            " (the checks' pick)" if c.get("program_id") == (sel.get("information") or {}).get("pick") else "")
        per_fold = [fmt_num((c.get("folds") or {}).get(f)) for f in folds]
        moved = [("inf" if c.get("drift") == "inf" else fmt_num(c.get("drift"), 3))] if drifts else []
        rows.append([f"program {escape(str(c.get('program_id')))}{mark}", fmt_num(c.get("val_r2")), *per_fold,
                     _beyond_cell(c.get("beyond"), sel.get("limit"), data.task.target_range,
                                  data.task.target_range_how), *moved,
                     fmt_num(c.get("score")), "?" if c.get("n_params") is None else escape(str(c["n_params"]))])
    band = fmt_num(sel.get("band"), 2)
    weight = fmt_num(sel.get("val_weight"), 2)
    bands = [f for f in folds if HORIZON not in f]
    describe = "; ".join(f"{escape(f.name)}: {len(data.task.frames(f.name)[0])} rows fitted, {int(f.scored.sum())} scored"
                         for f in data.task.inner_folds(len(bands))) if bands else ""
    further = (f" The same fit also predicts the validation rows further out: the {escape(HORIZON)} columns "
               "score it there, as the chosen law will later be asked to predict test."
               if len(bands) < len(folds) else "")
    return ("<h3>How the law was chosen (how sure is this pick)</h3>"
            + _table(["law", "val R²", *[f"{escape(f)} R²" for f in folds], "beyond the data",
                      *(["moves when refit"] if drifts else []), "selection score", "params"], rows)
            + f'<p class="note">{_running_phrase(alone, band, sel.get("widened_from"))}{_simpler_phrase(sel)} '
            "Each was also refit on the inner extrapolation folds below validation (fit on the fit rows "
            "beyond a band, predict the band: forward chaining towards validation; the fits read no validation or "
            f"test targets; {describe}).{further} The selection score weighs validation {weight} and the fold scores "
            "the rest "
            "(each R² clipped at −1); the best score is returned (scores closer than the parsimony tolerance are a tie that "
            f"fewer parameters win).{_steady_phrase(sel) if drifts else ''} Laws that agree across folds are a safer pick "
            "than one that wins a single slice. &ldquo;Beyond the data&rdquo;: each law refit on all train rows "
            "predicts inputs one step past validation (the step from the band below validation to validation); "
            "shown is how far those predictions leave the range the targets span on train, in units of that span. "
            "A law that leaves it by more than the limit runs away just past the largest runs, and scores −1 "
            "whatever its folds say." + _declared_note(data.task.target_range, data.task.target_range_how) + "</p>"
            + _information_note(sel) + _unchecked_note(sel))


def _noise_part(data: ReportData, sel: dict[str, Any]) -> str:
    """How sure a pick made by validation alone is (no inner fold): its noise, and the laws it cannot tell apart."""
    se = float(sel["noise"])
    close = int(sel.get("close_on_val") or 0)
    simple = sel.get("simplest_close")
    laws = list(sel.get("candidates", []))
    if simple and all(c.get("program_id") != simple.get("program_id") for c in laws):
        laws.append(simple)
    rows = []
    for c in laws:
        mark = (' <span class="ok">chosen</span>' if c.get("program_id") == sel.get("program_id") else
                " (the simplest close on validation)" if simple and c.get("program_id") == simple.get("program_id")
                else "")
        rows.append([f"program {escape(str(c.get('program_id')))}{mark}", fmt_num(c.get("val_r2")),
                     _beyond_cell(c.get("beyond"), sel.get("limit"), data.task.target_range,
                                  data.task.target_range_how),
                     "?" if c.get("n_params") is None else escape(str(c["n_params"]))])
    return ("<h3>How the law was chosen (how sure is this pick)</h3>"
            + _table(["law", "val R²", "beyond the data", "params"], rows)
            + '<p class="note">No extrapolation fold was cut below validation (too few scales to fit on, or '
            "<code>selection_folds</code> = 0), so validation alone picked, and the best of hundreds of laws on one "
            "slice is partly luck. The pick is the best on validation whose predictions one step beyond the data "
            "stay within the range the train targets span (&ldquo;beyond the data&rdquo;). Its validation R² moves "
            f"by ±{fmt_num(se)} with the runs in it (one standard error, over bootstrap draws of its runs); {close} "
            f"other law{'s' if close != 1 else ''} score within {fmt_num(NOISE_Z * se)} ({NOISE_Z:g} standard "
            "errors) of it, which validation cannot tell apart."
            + (" The simplest of them that stays sane beyond the data is shown: it is as well supported as the "
               "pick, and fewer parameters are "
               "fewer ways to bend through a few runs; weigh it (and the reference law, when one is shown) "
               "before trusting the pick beyond the data." if simple else "")
            + _declared_note(data.task.target_range, data.task.target_range_how) + _prior_note(sel) + "</p>"
            + _information_note(sel) + _unchecked_note(sel))


def _inf_or(v: float | None, digits: int = 4) -> str:
    """``fmt_num``, with an infinite value shown as such (a law that cannot be weighed, or runs away)."""
    return "inf" if v is not None and math.isinf(v) else fmt_num(v, digits)


def _information_note(sel: dict[str, Any]) -> str:
    """How the information criterion weighed a pick its checks scored below a constant (``search.information``;
    empty when it did not act)."""
    data = sel.get("information")
    if not data:
        return ""
    from evosld.search.information import Information, law_name

    info = Information.from_json(data)
    rows = []
    for key, v in sorted(info.scores.items(), key=lambda kv: (math.inf if kv[1].get("bic") is None else kv[1]["bic"],
                                                              kv[0])):
        mark = ' <span class="ok">chosen</span>' if key == info.chosen else (
            " (the checks' pick)" if key == str(info.pick) else "")
        rows.append([escape(law_name(info, key)) + mark, "failed" if v.get("bic") is None else _inf_or(v["bic"]),
                     "?" if v.get("n_params") is None else escape(str(v["n_params"])), _inf_or(v.get("beyond"), 3)])
    return ("<h3>Weighed by the information criterion</h3>"
            + _table(["law", "BIC on all train runs", "params", "beyond the data"], rows)
            + f'<p class="note">The pick scores {fmt_num(info.evidence)} on {escape(info.checks)}, '
            "worse than predicting each checked slice&rsquo;s mean: checks that every law misses (a few runs at close "
            "sizes, no wider than their noise) cannot rank the laws. So each law it was chosen among, and the law "
            "shown beside it, was refit on all train runs and weighed by the Bayesian information criterion, "
            "n ln(RSS/n) + k ln n per group and output (residuals on logs for a positive target spanning a decade): "
            "a better fit on every run, paid for by ln n per parameter. The least that stays sane one step beyond the "
            "data is the run&rsquo;s law"
            + (f" (program {info.program_id})." if info.program_id is not None
               else "; none could be weighed, so the pick stays.") + "</p>")


def _prior_note(sel: dict[str, Any]) -> str:
    """What weighing the pick against the law shown beside it decided (``search.prior``; empty when not weighed)."""
    prior = sel.get("prior")
    if not prior:
        return ""
    verdict = (f"so that law is the run's law (program {escape(str(prior.get('program_id')))}), not the search's "
               f"best (program {escape(str(prior.get('pick')))}): a law written before the data carries no bonus "
               "from being the best of many on a few runs" if prior.get("kept") else "so the search's law stays")
    return (f" Weighed against {escape(str(prior.get('name')))}: {escape(str(prior.get('why')))}; {verdict}.")


def _declared_note(bounds: Any, how: str = "") -> str:
    """What the declared (or assumed) target range does to the check (empty when there is none)."""
    if bounds is None:
        return ""
    said = "assumed (every train target lies there)" if how else "declared"
    return (f" The targets were {said} to lie in {escape(describe_range(bounds))}: a law whose predictions there "
            f"leave that range by more than {RANGE_SLACK:.0%} of the train target span also runs away.")


def _running_phrase(alone: bool, band: str, widened_from: int | None = None) -> str:
    """The first sentence of the selection note: which laws were in the running."""
    if alone:
        return (f"No other law scored within {band} of this law's remaining error (1 − val R²) on validation, and "
                "its folds score it no worse than a constant, so it is the pick; its fold scores below say how far "
                "to trust it (a law that fails a fold may have won validation by luck).")
    if widened_from is not None:
        return (f"No other law scored within {band} of the best on validation (program {widened_from}), but refit "
                "on the extrapolation folds that law did worse than a constant, so the next laws by validation R² "
                "joined the running and the folds picked among them.")
    return f"These laws scored within {band} of the best law's remaining error (1 − val R²) on validation."


def _steady_phrase(sel: dict[str, Any]) -> str:
    """How the drift column acted on the pick (``search.selection.steadiest``)."""
    steady = sel.get("steady")
    if not steady:
        return (" &ldquo;Moves when refit&rdquo;: how far each law's predictions one step beyond the data move "
                "when it is fitted on an inner fold's rows instead of all train, in spans of the train targets.")
    return (f" Of the laws scoring within {fmt_num(steady, 3)} of the best, the one whose predictions one step "
            "beyond the data move least when it is fitted on an inner fold's rows instead of all train "
            "(&ldquo;moves when refit&rdquo;, in spans of the train targets) is returned (selection_steady; off "
            "by default).")


def _simpler_phrase(sel: dict[str, Any]) -> str:
    """A sentence when simpler laws joined the running (empty otherwise), saying whether one of them won."""
    best = sel.get("simpler_from")
    if best is None:
        return ""
    won = sel.get("program_id") != best
    return (" The best law on validation at each smaller parameter count joined them: a law that bends through the "
            "noise of a few runs fails its folds, and a simpler one may not."
            + (f" A simpler law won over the best of the laws close on validation (program {escape(str(best))})."
               if won else ""))


def _unchecked_note(sel: dict[str, Any]) -> str:
    """A warning when the time to finish ran out before every law in the running was checked."""
    left = [escape(str(i)) for i in sel.get("unchecked") or []]
    if not left:
        return ""
    return (f'<p class="note warn">The time to finish ran out before {len(left)} more law(s) close on validation '
            f"were fully checked (program {', '.join(left)}): they are left out, and the pick is the best of the "
            "laws checked. <code>evosld discover --resume</code> checks them.</p>")


def _refused(sel: dict[str, Any]) -> list[dict[str, Any]]:
    """The laws in the running that ran away beyond the data."""
    limit = sel.get("limit")
    return [c for c in sel.get("candidates", []) if c.get("beyond") == "inf"
            or (isinstance(limit, (int, float)) and isinstance(c.get("beyond"), (int, float)) and c["beyond"] > limit)]


def _beyond_cell(value: Any, limit: Any, bounds: Any = None, how: str = "") -> str:
    """The probe excess of one law, flagged when it runs away (``search.plausibility``).

    Infinite: predictions not finite, or (``bounds`` given) outside the target range (declared, or ``how``
    "assumed").
    """
    if value is None:
        return "—"
    if value == "inf" or (isinstance(value, float) and not math.isfinite(value)):
        said = "assumed" if how else "declared"
        what = "not finite" if bounds is None else f"not finite or leaves the {said} range {describe_range(bounds)}"
        return f'<span class="bad">{escape(what)}: runs away</span>'
    text = f"{float(value):.2f} spans"
    if isinstance(limit, (int, float)) and float(value) > float(limit):
        return f'<span class="bad">{text}: runs away</span>'
    return text


def _figure_section(name: str, title: str, png: bytes, data: ReportData) -> str:
    plan = data.plan
    shown = len(plan.groups)
    groups = ("the single group" if plan.total_groups == 1 else
              f"{shown} of {plan.total_groups} groups" if shown < plan.total_groups else f"all {shown} groups")
    ref = "human law" if data.reference is None or data.reference.kind == "human" else "starter program"
    caption = CAPTIONS.get(name, "").format(x=escape(plan.x_feature), groups=groups, ext=f"{EXTEND_FACTOR:g}", ref=ref)
    if name == "extrapolation" and not plan.log_x:
        x = "its paired feature" if plan.paired else escape(plan.x_feature)
        caption = (f"Each target against {x} for {groups}: fit, validation and held-out test "
                   "rows, and the best law (fitted on all of train) at each row.")
    if name == "extrapolation" and data.off_trend:
        caption += (f" Ringed: the {len(data.off_trend)} train run(s) the best law misses by more than "
                    f"{TRIM_SIGMAS:g} robust standard deviations (off-trend runs, listed in the warnings"
                    + ("; groups not drawn here may hold some)." if shown < plan.total_groups else ")."))
    alt = f"{title} figure"
    return (f'<section><h2>{escape(title)}</h2><figure><img src="{data_uri(png)}" alt="{escape(alt)}" '
            f'><figcaption>{caption}</figcaption></figure></section>')


def _facts_section(data: ReportData) -> str:
    f = data.facts
    rows: list[tuple[str, str]] = [
        ("task", f"<code>{escape(f.task)}</code> — {escape(data.task.description[:300]) or 'user task'}"),
        ("run directory", f"<code>{escape(str(data.run_dir))}</code>"),
        *([("target range", f"{escape(describe_range(data.task.target_range))} "
                            + ("(assumed: every train target lies in it, as a fraction's would; "
                               "<code>--target-range none</code> fits without it)"
                               if data.task.target_range_how else "(declared)"))]
          if data.task.target_range is not None else []),
        ("seed", str(f.seed)),
        ("started", escape(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(f.created)))),
        ("status", ("finished" if f.finished else "not finished (resume it with <code>evosld discover --resume</code>)")
         + (f", stopped: {escape(STOP_REASONS.get(str(f.stop_reason), str(f.stop_reason)))}" if f.stop_reason else "")),
        ("proposer", escape(f.proposer) + (" — " + ", ".join(f"{escape(k)}: {v}" for k, v in sorted(f.proposals_by_proposer.items()))
                                           if f.proposals_by_proposer else "")),
        ("models", ", ".join(f"<code>{escape(m)}</code>" for m in f.models) or "none"),
        ("iterations", f"{f.iterations}" + (f" of {f.max_iterations}" if f.max_iterations else "")
         + (f" (budget {fmt_seconds(f.budget_seconds)})" if f.budget_seconds else "")),
        ("programs / evaluations", f"{f.programs} programs, {f.evaluations} evaluations ({f.ok_evaluations} succeeded)"),
    ]
    fails = f.failures
    if fails.total:
        ev = ", ".join(f"{escape(k)}: {n}" for k, n in fails.evaluations.items()) or "none"
        pr = ", ".join(f"{escape(k)}: {n}" for k, n in fails.proposals.items()) or "none"
        rows.append(("failures", f"evaluations — {ev}; proposals — {pr}"))
    else:
        rows.append(("failures", "none"))
    if fails.unchanged:
        same = ", ".join(f"{escape(k)}: {n}" for k, n in fails.unchanged.items())
        rows.append(("found nothing new", f"{sum(fails.unchanged.values())} proposals ({same}; not failures)"))
    rows.append(("wall time", fmt_seconds(f.wall_seconds)))
    llm = f.llm
    if llm.calls:
        rows.append(("LLM calls", f"{llm.calls} ({llm.failed_calls} failed), {fmt_seconds(llm.latency_s)} waiting"))
        rows.append(("LLM tokens", f"{llm.prompt_tokens:,} prompt + {llm.completion_tokens:,} completion"
                     + (f" (of which {llm.reasoning_tokens:,} reasoning)" if llm.reasoning_tokens else "")
                     + f" = {llm.total_tokens:,}"))
        rows.append(("LLM cost", f"${llm.cost_usd:.4f}"))
    else:
        rows.append(("LLM", "no LLM calls (no tokens, no cost)"))
    rows.append(("data", f"{len(data.task.fit_df)} fit / {int(data.task.val_mask.sum())} validation / "
                 f"{len(data.task.test)} test rows, {len(data.task.groups)} group(s); validation: "
                 f"<code>{escape(data.task.val_rule or '?')}</code>"
                 + (f" ({escape(data.task.val_how)})" if data.task.val_how else "")
                 + f", test: <code>{escape(data.task.test_rule or '?')}</code>" + _group_counts(data.task)))
    rows.append(("evosld", escape(f.evosld_version)))
    return "<section><h2>Run</h2>" + _facts_table(rows) + "</section>"


def render_html(data: ReportData, images: Mapping[str, bytes]) -> str:
    """The report page for ``data`` with ``images`` (name -> PNG bytes) embedded."""
    task = data.task
    title = f"evosld report — {task.name}"
    warn = "".join(f'<div class="warn">{escape(w)}</div>' for w in data.warnings)
    figs = "".join(_figure_section(s.name, s.title, images[s.name], data) for s in FIGURES if s.name in images)
    status = "finished" if data.facts.finished else "not finished"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<h1>{escape(title)}</h1>
<div class="sub">seed {data.facts.seed} · {escape(data.facts.proposer)} · {data.facts.iterations} iterations ·
{fmt_seconds(data.facts.wall_seconds)} · {status}</div>
</header>
{warn}
{_cards(data)}
{_law_section(data)}
{_metrics_section(data)}
{figs}
{_facts_section(data)}
<footer>Written by evosld {escape(__version__)} on {escape(time.strftime("%Y-%m-%d %H:%M"))}.
This page is self-contained: it loads nothing and runs no script.</footer>
</main>
</body>
</html>
"""
