"""Program source for a law: a self-contained contract program (numpy + scipy).

The emitted file states the formula in its docstring, defines ``scaling_law_func``
and ``fit_scaling_law`` between the EVOLVE markers, and carries its own fitter: the
functions of ``fit.py`` are copied in verbatim, so what the search fitted in-process
and what the program fits are the same code. Fits use a fixed seed, so the program
is deterministic; it runs unchanged in SLDBench's evaluator (fit per group on train,
predict test).
"""

from __future__ import annotations

import inspect
import textwrap
from functools import cache, lru_cache

import numpy as np

from evosld.evaluation import metrics
from evosld.program import source_text
from evosld.proposers.symbolic import blocks, fit
from evosld.proposers.symbolic.blocks import KINDS
from evosld.proposers.symbolic.expr import Law
from evosld.proposers.symbolic.model import Model
from evosld.proposers.symbolic.space import Space, short_names

#: Fitter settings written into programs (keyword arguments of fit_varpro).
PROGRAM_FIT = {"n_starts": 48, "n_refine": 3, "max_nfev": 300}


def _fmt(v: float) -> str:
    return repr(float(v))


def _array(values: np.ndarray) -> str:
    return "np.array([" + ", ".join(_fmt(v) for v in values) + "])"


def term_texts(law: Law, space: Space, latex: bool = False) -> list[str]:
    """Readable (or LaTeX) text of each term, coefficient included."""
    model = Model(law, space)
    coef, names = model.param_names()
    out = []
    for k, term in enumerate(law.terms):
        parts = []
        for f, p in zip(term.factors, names[k]):
            block = KINDS[f.kind]
            parts.append(block.latex(f.feats, p, space) if latex else block.text(f.feats, p, space))
        c = f"c_{{{k}}}" if latex else coef[k]
        out.append((r" \, " if latex else " * ").join([c, *parts]))
    return out


def param_names(law: Law, space: Space) -> list[str]:
    """(P,) names of one output's parameters in program order: ``c_0 .. c_{K-1}``, then the nonlinear ones."""
    coef, names = Model(law, space).param_names()
    return coef + [n for term in names for factor in term for n in factor]


def formula_text(law: Law, space: Space, target: str = "y") -> str:
    """One-line readable formula, e.g. ``loss = c_0 + c_1 * (N/2e8)^alpha_1``."""
    return f"{target} = " + " + ".join(term_texts(law, space))


def formula_latex(law: Law, space: Space, target: str = "y") -> str:
    """The formula in LaTeX."""
    t = r"\mathrm{" + short_names((target,))[0].replace("_", r"\_") + "}"
    return f"{t} = " + " + ".join(term_texts(law, space, latex=True))


def basis_source(law: Law, space: Space) -> str:
    """Source of ``_basis(X, th) -> (N, K)`` for ``law``."""
    used = sorted({i for t in law.terms for f in t.factors for i in f.feats})
    lines = [
        "def _basis(X, th, t=0):",
        '    """(N, F) features, (P,) nonlinear parameters, output t -> (N, K) terms."""',
        "    X = np.atleast_2d(np.asarray(X, dtype=float))",
    ]
    for i in used:
        lines.append(f"    u{i} = {space.u_source(i)}  # {source_text(space.names[i])}")
    cols = []
    for row in Model(law, space).slices:
        if not row:
            cols.append("np.ones(len(X))")
            continue
        parts = []
        for kind, feats, sl in row:
            th = [f"th[{j}]" for j in range(sl.start, sl.stop)]
            parts.append(KINDS[kind].source(feats, th, space))
        cols.append(" * ".join(parts) if len(parts) > 1 or row[0][0] != "lin" else f"1.0 * {parts[0]}")
    lines.append("    return np.column_stack([")
    lines += [f"        {c}," for c in cols]
    lines.append("    ])")
    return "\n".join(lines)


_API = '''
def scaling_law_func(data_points, params):
    """Predict: (N, F) features, params (P,) or (T, P) -> (N,) or (N, T)."""
    P = np.asarray(params, dtype=float)
    rows = np.atleast_2d(P)
    with np.errstate(all="ignore"):
        out = np.column_stack([_basis(data_points, p[N_LINEAR:], t) @ p[:N_LINEAR] for t, p in enumerate(rows)])
    return out[:, 0] if P.ndim == 1 else out


def fit_scaling_law(data_points, loss_values):
    """Fit one group: (N, F) features, (N,) or (N, T) targets -> (P,) or (T, P)."""
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    y = np.asarray(loss_values, dtype=float)
    Y = y.reshape(len(X), -1)
    rows = []
    for t in range(Y.shape[1]):
        coef, theta = fit_varpro(
            lambda X, th, t=t: _basis(X, th, t), X, Y[:, t], LO, HI, INIT_LO, INIT_HI,
            n_starts=N_STARTS, n_refine=N_REFINE, max_nfev=MAX_NFEV, seed=0,
        )
        rows.append(np.concatenate([coef, theta]))
    P = np.array(rows)
    return P[0] if y.ndim == 1 else P
'''


def _range_lines(space: Space) -> list[str]:
    """The declared target range and the inputs past the data where the fit keeps the law in it (none: no range)."""
    if not space.keeps_range:
        return []
    lo, hi = (None if v is None else float(v) for v in space.y_range)
    rows = ",\n    ".join("[" + ", ".join(_fmt(v) for v in row) + "]" for row in space.untransform(np.array(space.beyond)))
    return [f"Y_RANGE = ({lo!r}, {hi!r})", f"BEYOND = np.array([\n    {rows},\n])"]


def _api(space: Space) -> str:
    """``scaling_law_func`` and ``fit_scaling_law``; the fit keeps the law in a declared range when there is one."""
    if not space.keeps_range:
        return _API
    return _API.replace("fit_varpro(\n", "fit_in_range(\n", 1).replace(
        "LO, HI, INIT_LO, INIT_HI,\n", "LO, HI, INIT_LO, INIT_HI, BEYOND, Y_RANGE,\n", 1)


def _strip_annotations(src: str) -> str:
    return src.replace("from __future__ import annotations\n", "")


@cache
def _copied(fn) -> str:
    """The source of ``fn`` as copied into programs (read once per process: every emitted program repeats it)."""
    return inspect.getsource(fn)


@lru_cache(maxsize=2)
def _fitter_source(keeps_range: bool) -> str:
    """The fitter's functions, copied into every program; with ``keeps_range`` also the range guard's."""
    return "\n\n".join(
        _copied(fn) for fn in (fit.solve_linear, fit.projected_residual, fit.basis_derivatives,
                               fit.projected_jacobian, fit.robust_polish, fit.relative_weights,
                               metrics.robust_deviation, metrics.isolated_misses, fit.huber_cost,
                               fit.refine_projected, fit.projected_fit, fit._linear_part, fit._row_weighted,
                               fit.fit_varpro,
                               *((fit.range_guard, fit.fit_in_range) if keeps_range else ()))
    )


#: The docstring line emitted programs end with, and the first line of their residual rule as copied in
#: (``fit.relative_weights``; a test keeps the two in step).
_KEY_LINE = "Structure key: "
_RELATIVE_OFF = "def relative_weights(y, span=10.0):  # span: as search.plausibility.LOG_SPAN"
_RELATIVE_ON = "def relative_weights(y, span=1.0):  # relative residuals for any positive target (a fit-scale twin)"


#: ``meta["origin"]`` of a twin stored in a run (``run.twins``).
TWIN_ORIGIN = "fit-scale twin"


def relative_twin(source: str) -> str | None:
    """The same program fitted on relative residuals for any positive target: its fit-scale twin.

    An emitted program fits relative residuals (each row weighed by ``1 / y``)
    only where a positive target spans a decade (``fit.relative_weights``);
    its twin does so for every positive target, and says so in its
    docstring. Nothing else changes: the law, its boxes, starts and seed.

    Returns:
        The twin's source, or None when ``source`` is not an emitted program
        with that rule (a program written elsewhere, or a twin already).
    """
    if source.count(_RELATIVE_OFF) != 1 or _KEY_LINE not in source:
        return None
    note = ("Fit-scale twin: residuals are relative (each run weighed by 1 / its target) for any positive target, "
            "not only one spanning a decade.")
    at = source.index(_KEY_LINE)
    doc = source[:at] + "\n".join(textwrap.wrap(note, 88, break_long_words=False)) + "\n" + source[at:]
    return doc.replace(_RELATIVE_OFF, _RELATIVE_ON)


def program_source(law: Law, space: Space, targets: tuple[str, ...] | list[str], fit_settings: dict | None = None) -> str:
    """The full program for ``law`` (a self-contained Python module)."""
    settings = {**PROGRAM_FIT, **(fit_settings or {})}
    model = Model(law, space)
    lo, hi, ilo, ihi = model.boxes()
    T = len(targets)
    target = targets[0] if T == 1 else "y_t"
    names = [source_text(n) for n in space.names]
    lines = [f"Features, in order: {', '.join(names[: space.n_raw])}."]
    lines += [f"{space.short[i]} = {names[i]}." for i in range(space.n_raw) if space.short[i] != space.names[i]]
    if space.own:
        lines.append("x_own = the proportion of output t's own component: " + ", ".join(
            f"{names[i]} for {source_text(targets[t])}" for t, i in enumerate(space.own)
        ) + ".")
    per_out = law.n_params
    if T > 1:
        lines.append(f"One law per output y_t ({', '.join(map(source_text, targets))}), each with its own parameters.")
    lines.append(
        f"Fitted per group: {per_out} parameters per output ({per_out * T} in all): "
        f"{law.n_linear} linear coefficients c_k, solved in closed form, and "
        f"{law.n_nonlinear} nonlinear ones, fitted by bounded least squares from seeded "
        "random starts (variable projection); then all of them refined together under a Huber "
        "loss (threshold 2x the median absolute residual), so a few off-trend runs do not bend "
        "the law; when least squares misses a few runs by more than 5 robust sigmas, it is also "
        "redone without them, and that fit is kept when its Huber loss is lower by more than 0.1%. "
        "Deterministic; needs only numpy and scipy."
    )
    if space.keeps_range:
        low, high = ("" if v is None else f"{float(v):g}" for v in space.y_range)
        lines.append(f"Kept within the declared target range [{low}, {high}] past the data (fit_in_range): where "
                     f"the plain fit leaves it at the {len(space.beyond)} inputs BEYOND (up to half the data's span "
                     "past its largest runs), the law is refitted with the amounts it leaves the range by as "
                     "residuals.")
    if any(f.kind == "escale" for t in law.terms for f in t.factors):
        lines.append("A factor (1 + k*ln(x/x0)) is read as (x/x0)^k where x is below x0, the smallest training value "
                     "(same value and slope at x0), so it never reaches zero.")
    lines.append(f"{_KEY_LINE}{law.key}")
    body_text = "\n".join(textwrap.fill(line, 88, break_long_words=False) for line in lines)
    doc = (
        '"""Scaling law found by evosld\'s symbolic search.\n\n'
        f"    {formula_text(law, space, source_text(target))}\n\n"
        f"{body_text}\n"
        '"""\n'
    )
    needs_eff = any(f.kind == "eff" for t in law.terms for f in t.factors)
    helpers = [
        "def _exp(a):\n    return np.exp(np.clip(a, -50.0, 50.0))",
    ]
    if needs_eff:
        helpers.append(_copied(blocks.eff_power).replace("def eff_power(", "def _eff(", 1))
    if any(f.kind == "escale" for t in law.terms for f in t.factors):
        helpers.append(_copied(blocks.escale_power).replace("def escale_power(", "def _escale(", 1))
    fitter = _fitter_source(space.keeps_range)
    body = "\n".join(
        [
            "# EVOLVE-BLOCK-START",
            "import numpy as np",
            "from scipy.optimize import least_squares",
            "",
            f"N_LINEAR = {law.n_linear}",
            f"LO = {_array(lo)}",
            f"HI = {_array(hi)}",
            f"INIT_LO = {_array(ilo)}",
            f"INIT_HI = {_array(ihi)}",
            f"N_STARTS, N_REFINE, MAX_NFEV = {settings['n_starts']}, {settings['n_refine']}, {settings['max_nfev']}",
            *_range_lines(space),
            "",
            "",
            "\n\n\n".join(helpers),
            "",
            "",
            basis_source(law, space),
            "",
            "",
            fitter.rstrip(),
            "",
            _api(space).rstrip(),
            "# EVOLVE-BLOCK-END",
            "",
        ]
    )
    return doc + body
