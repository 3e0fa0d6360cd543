"""The report's figures, drawn on matplotlib's Agg canvas.

No pyplot and no global backend switch: each ``Figure`` gets its own
``FigureCanvasAgg``, so a notebook's backend is left alone.

Each ``*_figure`` function takes a ``ReportData`` and returns a ``Figure``;
``render_figures`` turns them all into PNG bytes. Test points and test scores
are drawn for the reader only; nothing here is used for selection.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from evosld.evaluation.evaluator import Evaluation
from evosld.program import Program
from evosld.report.collect import ReportData, complexity
from evosld.report.curves import TRAIN_SET

#: Colour-blind-safe colours (Okabe-Ito) for the three kinds of rows and the laws.
FIT_COLOR = "#0072B2"
VAL_COLOR = "#009E73"
TEST_COLOR = "#D55E00"
LAW_COLORS = ("#000000", "#CC79A7", "#E69F00")
STAR_COLOR = "#E69F00"
HUMAN_COLOR = "#7f7f7f"
FRONT_COLOR = "#D55E00"
OFF_TREND_COLOR = "#B2182B"
DPI = 150
#: Most outputs of a multi-output task drawn in the extrapolation figure.
MAX_OUTPUTS = 5
#: A panel with more rows than this is dense (checkpoints along training, a wide sweep): its markers shrink
#: and the law is marked at this many rows, evenly spread along the x axis, so the curves are not buried.
DENSE_ROWS = 300


@dataclass(frozen=True)
class FigureSpec:
    """One figure of the report: file stem, caption and how to draw it."""

    name: str
    title: str
    draw: Callable[[ReportData], Figure]


# --------------------------------------------------------------------------- helpers


def to_png(fig: Figure, dpi: int = DPI) -> bytes:
    """PNG bytes of ``fig`` drawn on an Agg canvas."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def display_floor(values: Sequence[float], keep: Sequence[float] = ()) -> float:
    """Lower y limit for R² plots, never below -1.

    Low enough for every value in ``keep``, for 80% of ``values`` and for a
    band of at least 0.05 below the largest value (so near-equal values all show).
    """
    vals = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    kept = [v for v in keep if v is not None and math.isfinite(v)]
    candidates = kept + ([float(np.quantile(vals, 0.2)), float(vals.max()) - 0.05] if vals.size else [])
    return max(-1.0, min(candidates)) if candidates else -1.0


def display_top(values: Sequence[float], floor: float) -> float:
    """Upper y limit for R² plots: the largest finite value (or just above ``floor``)."""
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return max(vals) if vals else floor + 0.05


def _r2_axis(ax, floor: float, top: float) -> None:  # noqa: ANN001 - matplotlib Axes
    span = max(top - floor, 0.02)
    hi = top + 0.06 * span
    if top <= 1.0:  # R² never exceeds 1: no empty band above it
        hi = min(hi, 1.0 + 0.01 * span)
    ax.set_ylim(floor - 0.06 * span, hi)
    ax.grid(True, alpha=0.3)


def _as_2d(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=float)
    return a.reshape(len(a), -1) if a.ndim == 1 else a


def _fmt(v: float) -> str:
    return f"{v:.3g}"


# --------------------------------------------------------------------------- search


def search_ends(data: ReportData) -> tuple[float, float]:
    """(last iteration, time searched) of the whole run: where the search figure's x axes end.

    The run's own totals (iterations proposed, seconds searched over all its
    sessions), so the axes go on past the last evaluation through a tail of
    proposals that found nothing new; never short of the last point drawn.
    """
    hist, facts = data.history, data.facts
    last_it = max((h.iteration for h in hist), default=0)
    last_t = max((h.searched_s for h in hist), default=0.0)
    wall = facts.wall_seconds if facts.wall_seconds is not None and math.isfinite(facts.wall_seconds) else 0.0
    return float(max(facts.iterations, last_it)), float(max(wall, last_t))


def search_figure(data: ReportData) -> Figure:
    """Best validation R² against iteration and against time searched; new bests starred.

    Both x axes run from 0 to the end of the run (``search_ends``), the best
    so far drawn to the end; on the time axis, dotted lines mark where the
    run was resumed (time spent down is left out).
    """
    hist = data.history
    fig = Figure(figsize=(12, 3.9), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    ok = [h for h in hist if h.ok and h.r2 is not None and math.isfinite(h.r2)]
    bests = [h.best_r2 for h in hist if h.best_r2 is not None]
    floor = display_floor([h.r2 for h in ok], bests[:1])
    top = display_top([h.r2 for h in ok], floor)
    changes = []
    prev = None
    for h in hist:
        if h.best_r2 is not None and (prev is None or h.best_r2 > prev):
            changes.append(h)
            prev = h.best_r2
    end_it, end_t = search_ends(data)
    for ax, key, label, end in ((axes[0], "iteration", "iteration", end_it),
                                (axes[1], "searched_s", "time searched (s)", end_t)):
        x_ok = np.array([getattr(h, key) for h in ok], dtype=float)
        y_ok = np.array([h.r2 for h in ok], dtype=float)
        low = y_ok < floor
        ax.scatter(x_ok[~low], y_ok[~low], s=14, color="#9e9e9e", alpha=0.6, label="a candidate", zorder=2)
        if low.any():
            ax.scatter(x_ok[low], np.full(low.sum(), floor), s=16, marker="v", color="#9e9e9e", alpha=0.6,
                       label=f"R² < {floor:.2f}", zorder=2)
        failed = [h for h in hist if not h.ok]
        if failed:
            ax.scatter([getattr(h, key) for h in failed], np.full(len(failed), floor), s=18, marker="x",
                       color="#c62828", alpha=0.7, label="failed", zorder=2)
        steps = [(getattr(h, key), h.best_r2) for h in hist if h.best_r2 is not None]
        if steps:
            steps.append((max(end, steps[-1][0]), steps[-1][1]))  # the best so far holds to the end of the run
            xs, ys = zip(*steps)
            ax.step(xs, np.maximum(ys, floor), where="post", color=FIT_COLOR, lw=2, label="best so far", zorder=3)
        ax.scatter([getattr(h, key) for h in changes], [max(h.best_r2, floor) for h in changes], s=90, marker="*",
                   color=STAR_COLOR, edgecolor="black", linewidths=0.6, label="new best", zorder=4)
        if key == "searched_s":
            for k, at in enumerate(data.resumed_at):
                ax.axvline(at, color="#555555", ls=":", lw=1.2, zorder=1, label="resumed" if k == 0 else None)
        ax.set_xlabel(label)
        pad = 0.02 * max(end, 1.0)
        ax.set_xlim(-pad, end + pad)
        if key == "iteration":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        _r2_axis(ax, floor, top)
    axes[0].set_ylabel("validation R²")
    handles, labels = [], []
    for ax in axes:  # "resumed" is only on the time axis
        for h, lab in zip(*ax.get_legend_handles_labels()):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(handles, labels, loc="outside right upper", fontsize=8, frameon=False)
    return fig


# --------------------------------------------------------------------------- extrapolation


def _panel_ylim(observed: list[np.ndarray], lines: list[np.ndarray]) -> tuple[float, float] | None:
    obs = np.concatenate([o.ravel() for o in observed if o.size]) if observed else np.array([])
    obs = obs[np.isfinite(obs)]
    if obs.size == 0:
        return None
    lo, hi = float(obs.min()), float(obs.max())
    span = max(hi - lo, 1e-9 + abs(hi) * 0.02)
    vals = np.concatenate([v.ravel() for v in lines if v.size]) if lines else np.array([])
    vals = vals[np.isfinite(vals)]
    if vals.size:
        lo, hi = min(lo, float(vals.min())), max(hi, float(vals.max()))
    lo = max(lo, float(obs.min()) - 0.5 * span)
    hi = min(hi, float(obs.max()) + 0.5 * span)
    pad = 0.06 * (hi - lo)
    return lo - pad, hi + pad


def _extra(ev: Evaluation, group: str, name: str) -> np.ndarray | None:
    arr = ev.extra.get(group, {}).get(name) if ev.ok else None
    return None if arr is None else _as_2d(arr)


def marker_area(base: float, rows: int) -> float:
    """Marker area for a panel of ``rows`` rows: ``base`` up to ``DENSE_ROWS``, then shrinking as
    1/sqrt(rows) (never below 2), so thousands of rows leave the curves through them visible."""
    return base if rows <= DENSE_ROWS else max(2.0, base * math.sqrt(DENSE_ROWS / rows))


def spread_sample(x: np.ndarray, limit: int = DENSE_ROWS) -> np.ndarray:
    """Indices of at most ``limit`` of the values ``x`` (N,), evenly spread over their order (all when N <= limit)."""
    order = np.argsort(x, kind="stable")
    if len(order) <= limit:
        return order
    return order[np.unique(np.linspace(0, len(order) - 1, limit).round().astype(int))]


def _draw_rows(ax, arrays: dict, g: str, j: int, t: int) -> list[np.ndarray]:  # noqa: ANN001 - Axes
    """Scatter the fit, validation and test rows of group ``g``; returns the targets drawn."""
    observed = []
    kinds = (("fit", FIT_COLOR, "o"), ("val", VAL_COLOR, "s"), ("test", TEST_COLOR, "^"))
    rows = sum(len(arrays[key][g].X) for key, _, _ in kinds if g in arrays[key])
    for key, color, marker in kinds:
        if g in arrays[key]:
            X, y = arrays[key][g].X, _as_2d(arrays[key][g].y)[:, t]
            ax.scatter(X[:, j], y, s=marker_area(18 if marker == "o" else 26, rows), marker=marker, color=color,
                       edgecolor="white", linewidths=0.4 if rows <= DENSE_ROWS else 0.0, alpha=0.9, zorder=3)
            observed.append(y)
    return observed


def _draw_off_trend(ax, data: ReportData, g: str, j: int, t: int) -> bool:  # noqa: ANN001 - Axes
    """Ring group ``g``'s train runs the best law misses grossly (``ReportData.off_trend``); True if any."""
    feature, target = data.task.features[j], data.task.targets[t]
    runs = [r for r in data.off_trend if str(r["group"]) == str(g)
            and feature in r["inputs"] and target in r["target"] and np.isfinite(r["target"][target])]
    if runs:
        ax.scatter([r["inputs"][feature] for r in runs], [r["target"][target] for r in runs], s=110,
                   facecolor="none", edgecolor=OFF_TREND_COLOR, linewidths=1.4, zorder=5)
    return bool(runs)


def _draw_panel(ax, data: ReportData, arrays: dict, k: int, t: int) -> set[str]:  # noqa: ANN001 - Axes
    """One group × output panel of the extrapolation figure; returns the legend entries it used."""
    task, plan = data.task, data.plan
    gp = plan.groups[k]
    g, j = gp.group, plan.x_for_output(t)
    best = data.best_law.test
    ref = data.reference.test if data.reference else None
    used: set[str] = set()
    observed = _draw_rows(ax, arrays, g, j, t)
    if _draw_off_trend(ax, data, g, j, t):
        used.add("off")
    lines: list[np.ndarray] = []
    for c, curve in enumerate(gp.curves):
        color = LAW_COLORS[c % len(LAW_COLORS)]
        for ev, kind in ((best, "best"), (ref, "ref")):
            pred = _extra(ev, g, curve.name) if ev is not None else None
            if pred is None or pred.shape[1] <= t:
                continue
            if kind == "best":
                ax.plot(curve.X[:, j], pred[:, t], "-", color=color, lw=1.8, zorder=4)
            else:
                ax.plot(curve.X[:, j], pred[:, t], "--", color=color if len(gp.curves) > 1 else HUMAN_COLOR,
                        lw=1.2, alpha=0.6, zorder=2)
            lines.append(pred[:, t])
            used.add(kind)
    train = arrays["train"].get(g)
    at_rows = _extra(best, g, TRAIN_SET)
    if train is not None and at_rows is not None and at_rows.shape[1] > t:
        others_vary = train.X.shape[1] > 1 and np.ptp(np.delete(train.X, j, axis=1), axis=0).max() > 0
        px, py = [train.X[:, j]], [at_rows[:, t]]
        if g in best.predictions and g in arrays["test"]:
            px.append(arrays["test"][g].X[:, j])
            py.append(_as_2d(best.predictions[g])[:, t])
        x, y = np.concatenate(px), np.concatenate(py)
        if others_vary:
            shown = spread_sample(x)
            ax.scatter(x[shown], y[shown], s=14, marker="+", color="black", alpha=0.55, linewidths=0.8, zorder=4)
            used.add("rows" if len(shown) == len(x) else "rows sampled")
        elif not gp.curves:
            order = np.argsort(x)
            ax.plot(x[order], y[order], "-", color="black", lw=1.4, zorder=4)
            used.add("best")
        lines.append(y)
    if plan.log_x:
        ax.set_xscale("log")
    ylim = _panel_ylim(observed, lines)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True, alpha=0.3)
    ax.set_xlabel(task.features[j])
    ax.set_ylabel(task.targets[t])
    title = ([f"group {g}"] if len(task.groups) > 1 else []) + ([task.targets[t]] if len(task.targets) > 1 else [])
    if title:
        ax.set_title(" · ".join(title), fontsize=10)
    if gp.curves and len(task.features) > 1:
        held = [Line2D([], [], color=LAW_COLORS[c % len(LAW_COLORS)], lw=1.8,
                       label=", ".join(f"{f}={_fmt(v)}" for f, v in cv.held.items()))
                for c, cv in enumerate(gp.curves)]
        ax.legend(handles=held, loc="best", fontsize=7, framealpha=0.85, title="laws drawn at", title_fontsize=7)
    return used


def extrapolation_figure(data: ReportData) -> Figure:
    """Target against the main scaling variable: fit, validation and test rows, the law through and beyond."""
    task, plan = data.task, data.plan
    arrays = {"fit": task.arrays(task.fit_df), "val": task.arrays(task.val_df), "train": task.arrays(task.train),
              "test": task.arrays(task.test) if len(task.test) else {}}
    n_out = min(len(task.targets), MAX_OUTPUTS)
    n_groups = len(plan.groups)
    if n_out > 1:
        nrows, ncols = n_groups, n_out
    else:
        ncols = min(3, n_groups)
        nrows = math.ceil(n_groups / ncols)
    fig = Figure(figsize=(min(15.0, max(8.0, 4.4 * ncols + 0.6)), (4.6 if nrows == 1 else 3.4) * nrows + 0.9),
                 layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    used: set[str] = set()
    for k in range(n_groups):
        for t in range(n_out):
            used |= _draw_panel(axes[k * n_out + t], data, arrays, k, t)
    for ax in axes[n_groups * n_out:]:
        ax.set_visible(False)
    handles = [
        Line2D([], [], ls="", marker="o", color=FIT_COLOR, label="fit rows (train)"),
        Line2D([], [], ls="", marker="s", color=VAL_COLOR, label="validation rows"),
        Line2D([], [], ls="", marker="^", color=TEST_COLOR, label="test rows (held out)"),
    ]
    if "best" in used:
        handles.append(Line2D([], [], color="black", lw=1.8, label="best law (fit on train)"))
    if "ref" in used:
        ref_name = "human law" if data.reference is not None and data.reference.kind == "human" else "starter"
        handles.append(Line2D([], [], color=HUMAN_COLOR, lw=1.2, ls="--", label=ref_name))
    if used & {"rows", "rows sampled"}:
        label = (f"best law at each row ({DENSE_ROWS} per panel where more)" if "rows sampled" in used
                 else "best law at each row")
        handles.append(Line2D([], [], ls="", marker="+", color="black", label=label))
    if "off" in used:
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="none", markeredgecolor=OFF_TREND_COLOR,
                              markersize=9, label="off-trend run (see warnings)"))
    fig.legend(handles=handles, loc="outside upper center", ncols=min(len(handles), 6 if ncols > 1 else 3),
               fontsize=8 if ncols == 1 else 10, frameon=False)
    return fig


# --------------------------------------------------------------------------- parity


def _pairs(ev: Evaluation | None, truth: dict) -> tuple[np.ndarray, np.ndarray] | None:
    if ev is None or not ev.ok or not ev.predictions:
        return None
    ps, ys = [], []
    for g, pred in ev.predictions.items():
        if g in truth:
            ps.append(_as_2d(pred).ravel())
            ys.append(_as_2d(truth[g].y).ravel())
    if not ps:
        return None
    return np.concatenate(ys), np.concatenate(ps)


def parity_figure(data: ReportData) -> Figure:
    """Predicted against actual on validation and on test, best law and reference law."""
    task = data.task
    fig = Figure(figsize=(10, 4.6), layout="constrained")
    axes = fig.subplots(1, 2)
    ref = data.reference
    for ax, split, color, title in ((axes[0], "val", VAL_COLOR, "validation (fit on train minus validation)"),
                                    (axes[1], "test", TEST_COLOR, "test (fit on all of train)")):
        truth = task.split_arrays(split)[1]
        best_ev = data.best_law.val if split == "val" else data.best_law.test
        ref_ev = None if ref is None else (ref.val if split == "val" else ref.test)
        every = []
        ref_pairs = _pairs(ref_ev, truth)
        if ref_pairs is not None:
            ax.scatter(*ref_pairs, s=30, facecolor="none", edgecolor=HUMAN_COLOR, linewidths=1.0,
                       label=f"{'human law' if ref.kind == 'human' else 'starter'} (R² {ref_ev.scores.r2:.3f})", zorder=2)
            every.append(ref_pairs)
        pairs = _pairs(best_ev, truth)
        if pairs is not None:
            ax.scatter(*pairs, s=26, color=color, edgecolor="black", linewidths=0.4,
                       label=f"best law (R² {best_ev.scores.r2:.3f})", zorder=3)
            every.append(pairs)
        if every:
            allv = np.concatenate([np.concatenate(p) for p in every])
            obs = np.concatenate([p[0] for p in every])
            allv = allv[np.isfinite(allv)]
            span = float(obs.max() - obs.min()) or 1e-3
            lo = max(float(allv.min()), float(obs.min()) - span)
            hi = min(float(allv.max()), float(obs.max()) + span)
            pad = 0.05 * (hi - lo or 1e-3)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="#555555", lw=1, ls=":", label="y = x", zorder=1)
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
            ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
        else:
            ax.text(0.5, 0.5, "no predictions", ha="center", va="center", transform=ax.transAxes)
        ax.set_aspect("equal", adjustable="box")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("actual " + (task.targets[0] if len(task.targets) == 1 else "target (all outputs)"))
        ax.set_ylabel("predicted")
        ax.grid(True, alpha=0.3)
    return fig


# --------------------------------------------------------------------------- front


@dataclass(frozen=True)
class FrontPoint:
    """A successful program placed by complexity and validation R²."""

    program_id: int
    complexity: float
    r2: float


def complexity_axis(data: ReportData) -> tuple[str, list[FrontPoint], int]:
    """(axis label, points, programs left out) for the accuracy/complexity front.

    Fitted parameters (meta ``n_params``) when at least half of the successful
    programs record them, else code lines of the EVOLVE block.
    """
    ok = [p for p in data.programs if p.evaluation is not None and p.evaluation.ok
          and p.evaluation.r2 is not None and math.isfinite(p.evaluation.r2)]
    sizes = {p.id: complexity(p) for p in ok}
    with_params = [p for p in ok if sizes[p.id][0] is not None]
    if ok and len(with_params) * 2 >= len(ok):
        pts = [FrontPoint(p.id, float(sizes[p.id][0]), float(p.evaluation.r2)) for p in with_params]
        return "fitted parameters per group", pts, len(ok) - len(with_params)
    pts = [FrontPoint(p.id, float(sizes[p.id][1]), float(p.evaluation.r2)) for p in ok]
    return "code lines (EVOLVE block)", pts, 0


def pareto(points: Sequence[FrontPoint]) -> list[FrontPoint]:
    """Points no other point beats on both counts (simpler or equal and more accurate), by complexity."""
    front: list[FrontPoint] = []
    for p in sorted(points, key=lambda q: (q.complexity, -q.r2, q.program_id)):
        if not front or p.r2 > front[-1].r2:
            front.append(p)
    return front


def front_figure(data: ReportData) -> Figure:
    """Validation R² against complexity for every successful program; the Pareto front highlighted."""
    label, pts, left_out = complexity_axis(data)
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    ax = fig.subplots()
    front = pareto(pts)
    floor = display_floor([p.r2 for p in pts], [p.r2 for p in front[-4:]])
    top = display_top([p.r2 for p in pts], floor)
    xs = np.array([p.complexity for p in pts])
    ys = np.array([p.r2 for p in pts])
    jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(xs)) if len(xs) else xs
    low = ys < floor
    ax.scatter(xs[~low] + jitter[~low], ys[~low], s=16, color="#9e9e9e", alpha=0.6, label="a program")
    if low.any():
        ax.scatter(xs[low] + jitter[low], np.full(low.sum(), floor), s=16, marker="v", color="#9e9e9e", alpha=0.6,
                   label=f"R² < {floor:.2f}")
    shown = [p for p in front if p.r2 >= floor]
    if shown:
        ax.step([p.complexity for p in shown], [p.r2 for p in shown], where="post", color=FRONT_COLOR, lw=1.2, alpha=0.8)
        ax.scatter([p.complexity for p in shown], [p.r2 for p in shown], s=46, color=FRONT_COLOR, edgecolor="black",
                   linewidths=0.6, label="Pareto front", zorder=3)
    chosen = next((p for p in pts if p.program_id == data.best.id), None)
    if chosen is not None:
        ax.scatter([chosen.complexity], [max(chosen.r2, floor)], s=180, facecolor="none", edgecolor=FIT_COLOR,
                   linewidths=2, label=f"best law (program {chosen.program_id})", zorder=4)
    ref = data.reference
    if ref is not None and ref.val.ok:
        ref_x = ref.n_params if label.startswith("fitted") else Program(ref.source).code_size()
        if ref_x is not None:
            ax.scatter([ref_x], [max(ref.val.scores.r2, floor)], s=80, marker="D", color=HUMAN_COLOR,
                       edgecolor="black", linewidths=0.6, zorder=4,
                       label="human law" if ref.kind == "human" else "starter")
    if label.startswith("fitted") and data.task.max_params:
        ax.axvline(data.task.max_params + 0.5, color="#555555", ls=":", lw=1)
        ax.annotate(f"task limit {data.task.max_params}", xy=(data.task.max_params + 0.5, 0.98),
                    xycoords=("data", "axes fraction"), fontsize=8, rotation=90, ha="right", va="top", color="#555555")
        ax.set_xlim(right=max(ax.get_xlim()[1], data.task.max_params + 1.0))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    unit = "program" if left_out == 1 else "programs"
    ax.set_xlabel(label + (f"  ({left_out} {unit} without a count not shown)" if left_out else ""))
    ax.set_ylabel("validation R²")
    _r2_axis(ax, floor, top)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False, borderaxespad=0)
    return fig


# --------------------------------------------------------------------------- all


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("extrapolation", "Extrapolation", extrapolation_figure),
    FigureSpec("parity", "Predicted against actual", parity_figure),
    FigureSpec("search", "The search over time", search_figure),
    FigureSpec("front", "Accuracy against complexity", front_figure),
)


def render_figures(data: ReportData) -> dict[str, bytes]:
    """PNG bytes of every report figure, keyed by ``FigureSpec.name``.

    A column named in a script the figures' font lacks (损失, a CJK name) is drawn as boxes; matplotlib warns
    once per glyph, and those warnings are not printed: the page's own text names the columns in full.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font")
        return {spec.name: _drawn(spec, data) for spec in FIGURES}


def _drawn(spec: FigureSpec, data: ReportData) -> bytes:
    """PNG bytes of one figure; one matplotlib cannot draw (values near the float limit, 1e300, overflow its
    ticks) is a panel that says so, not a report lost after the run."""
    try:
        return to_png(spec.draw(data))
    except (OverflowError, ValueError) as exc:
        fig = Figure(figsize=(6, 1.2))
        fig.text(0.5, 0.5, f"{spec.title}: not drawn ({type(exc).__name__}: {exc}); the tables of the report give its numbers",
                 ha="center", va="center", wrap=True, fontsize=9)
        return to_png(fig)
