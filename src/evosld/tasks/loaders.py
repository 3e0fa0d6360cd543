"""Build Tasks from a local SLDBench-format directory, the Hub, or a user table."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from evosld.errors import DataError
from evosld.tasks import checks, tables
from evosld.tasks.baselines.chinchilla import resolve as resolve_baseline
from evosld.tasks.baselines.chinchilla import rises_with, size_and_data
from evosld.tasks.baselines.mixing import MIXING, is_mixture
from evosld.tasks.builtin import BUILTIN, TaskSpec, task_names
from evosld.tasks.folds import default_test_rule, derive_val_rule
from evosld.tasks.paramlimit import default_param_limit
from evosld.tasks.scales import DEFAULT_RTOL, check_tolerance, levels, n_levels
from evosld.tasks.splits import (
    exact_equality_hint,
    near_equality_warnings,
    parse_largest,
    rule_mask,
    threshold_cut_warnings,
)
from evosld.tasks.targetrange import (
    TargetRange,
    assumed_range,
    check_targets_within,
    parse_target_range,
)
from evosld.tasks.task import GROUP_COLUMN, NO_GROUP, Task

HUB_DATASET = "pkuHaowei/sldbench"
DATA_ENV = "EVOSLD_DATA"


def example_rule(df: pd.DataFrame, features: Sequence[str], rtol: float = DEFAULT_RTOL) -> str:
    """A test rule that works on ``df``, for error messages: the default rule (``folds.default_test_rule``) on
    the first feature that varies, so the example names the user's own column and a value it takes."""
    varying = [f for f in features if f in df.columns and df[f].nunique() > 1]
    return default_test_rule(df, (varying or list(features))[0], rtol)


def _read_dir(spec: TaskSpec, data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    folder = data_dir / spec.name
    if not folder.is_dir():
        raise DataError(
            f"no folder {folder} for task {spec.name}; {DATA_ENV} / --data-dir must point at a "
            "directory holding one folder per task with train.csv and test.csv"
        )
    return tables.read_table(folder / "train.csv"), tables.read_table(folder / "test.csv")


def _read_hub(spec: TaskSpec) -> tuple[pd.DataFrame, pd.DataFrame]:  # pragma: no cover - network
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"no local data: set {DATA_ENV} (or --data-dir) to an SLDBench copy, or install "
            "the Hub extra with `pip install 'evosld[hub]'` to download it"
        ) from None
    try:
        ds = datasets.load_dataset(HUB_DATASET, spec.name)
    except Exception as exc:  # the Hub raises many kinds; one line is enough
        raise DataError(
            f"cannot download {HUB_DATASET}/{spec.name} from the Hugging Face Hub "
            f"({type(exc).__name__}); set {DATA_ENV} to a local copy to work offline"
        ) from None
    return ds["train"].to_pandas(), ds["test"].to_pandas()


def _finish(
    name: str,
    features: Sequence[str],
    targets: Sequence[str],
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    val_rule: str,
    test_rule: str,
    description: str,
    max_params: int | None,
    log_features: Sequence[str],
    val_how: str = "",
    scale_rtol: float = DEFAULT_RTOL,
    derive_val: bool = False,
    baseline: str = "",
    target_range: TargetRange | None = None,
    target_range_how: str = "",
    default_limit: bool = False,
    split_warnings: Sequence[str] = (),
) -> Task:
    """Check the split and build the Task; ``split_warnings`` (about the test rule) are given once it is usable."""
    features, targets = tuple(features), tuple(targets)
    for where, df in (("train", train), ("test", test)):
        label = f"{name} ({where})"
        checks.check_columns(df, [*features, *targets], label)
        checks.check_numeric(df, [*features, *targets], label)
        checks.check_positive(df, list(log_features), label)
    if GROUP_COLUMN not in train.columns:
        train = train.assign(**{GROUP_COLUMN: NO_GROUP})
    if GROUP_COLUMN not in test.columns:
        test = test.assign(**{GROUP_COLUMN: NO_GROUP})
    checks.warn_duplicates(train, [*features, *targets], f"{name} (train)")  # before the reset: lines of the file
    train = train.reset_index(drop=True).copy()
    test = test.reset_index(drop=True).copy()
    train[GROUP_COLUMN] = train[GROUP_COLUMN].astype(str)
    test[GROUP_COLUMN] = test[GROUP_COLUMN].astype(str)
    unknown = sorted(set(test[GROUP_COLUMN]) - set(train[GROUP_COLUMN]))
    if unknown:
        more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        raise DataError(f"{name}: the test rule {test_rule!r} holds out every row of group(s) "
                        f"{', '.join(unknown[:5])}{more}, so no law can be fitted for them; give --test a rule "
                        "that leaves each group some smaller runs to fit on, or drop those groups")
    if derive_val:
        derived = derive_val_rule(train, test, test_rule, features, tuple(log_features), rtol=scale_rtol)
        val_rule, val_how = derived.rule, derived.how
    val_mask = rule_mask(train, val_rule, features, rtol=scale_rtol)
    if not val_mask.any() and (hint := exact_equality_hint(val_rule, train, "--val")):
        raise DataError(f"{name}: the validation rule {val_rule!r} holds out no run of train{hint}")
    checks.check_split_sizes(name, train.loc[~val_mask], train.loc[val_mask], test)
    whole = pd.concat([train, test])
    tables.check_targets_vary(name, targets, {"": whole})
    checks.warn_constant_groups(whole, list(targets), name)
    checks.check_slices(name, train.loc[val_mask], test, list(targets), val_rule, test_rule, derived_val=derive_val,
                        example=lambda: example_rule(whole, features, scale_rtol), table=whole, train=train,
                        rtol=scale_rtol)
    checks.warn_constant_features(train, list(features), f"{name} (train)", test)
    checks.warn_tied_features(train, list(features), f"{name} (train)", test, scale_rtol)
    checks.warn_few_scales(train, test, list(log_features), name, scale_rtol)
    split_warnings = list(split_warnings)
    split_warnings += checks.few_scale_groups_warnings(train.loc[~val_mask], list(log_features), scale_rtol)
    if not derive_val:  # a rule derived from the data is not the user's to rewrite
        split_warnings += near_equality_warnings(val_rule, train, val_mask, which="validation", option="--val",
                                                 stays="the rows fitted", rtol=scale_rtol)
        split_warnings += threshold_cut_warnings(val_rule, train, val_mask, which="validation", option="--val",
                                                 stays="the rows fitted", rtol=scale_rtol)
        split_warnings += checks.largest_cut_warnings(val_rule, train, val_mask, which="validation", option="--val",
                                                      rtol=scale_rtol)
        split_warnings += checks.val_rule_warnings(val_rule, train, val_mask, test, test_rule, list(features),
                                                   list(targets))
    for line in split_warnings:  # once the split is known to be usable: an error comes alone
        warnings.warn(f"{name}: {line}", stacklevel=3)
    limit_how = ""
    if max_params is None and default_limit:
        fit = train.loc[~val_mask]
        max_params, limit_how = default_param_limit(fit[GROUP_COLUMN].to_numpy(), len(targets),
                                                    fit[list(features)].to_numpy(dtype=float), scale_rtol)
    test_beyond, test_below = checks.features_beyond(train, test, features, scale_rtol)
    return Task(
        target_range=target_range,
        target_range_how=target_range_how,
        test_beyond=test_beyond,
        test_below=test_below,
        name=name,
        features=features,
        targets=targets,
        train=train,
        test=test,
        val_mask=val_mask,
        description=description,
        max_params=max_params,
        max_params_how=limit_how,
        log_features=tuple(log_features),
        val_rule=val_rule,
        test_rule=test_rule,
        val_how=val_how,
        scale_rtol=scale_rtol,
        baseline=baseline,
    )


def load_task(name: str, data_dir: str | os.PathLike | None = None) -> Task:
    """Load a built-in task by name.

    Data comes from ``data_dir``, else the ``EVOSLD_DATA`` directory, else the
    Hugging Face Hub (needs the ``hub`` extra and a network).
    """
    if name not in BUILTIN:
        suffix = Path(name).suffix.lower()
        table = suffix in (".csv", ".tsv", ".txt", ".json", ".parquet", ".xlsx") or (
            Path(name).is_file() and suffix not in (".yaml", ".yml"))
        hint = (f"; to use your own table, give it with --csv {name} --features COLUMNS --target COLUMN"
                if table else "")
        raise DataError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}{hint}")
    spec = BUILTIN[name]
    root = data_dir if data_dir is not None else os.environ.get(DATA_ENV)
    if root:
        train, test = _read_dir(spec, Path(root))
    else:
        train, test = _read_hub(spec)
    return _finish(
        spec.name,
        spec.features,
        spec.targets,
        train,
        test,
        val_rule=spec.val_rule,
        test_rule=spec.test_rule,
        description=spec.description,
        max_params=spec.max_params,
        log_features=spec.log_features,
        val_how="the built-in rule: the largest scales of train, as SLDBench holds out the largest as test"
        if spec.val_rule else "",
        derive_val=not spec.val_rule,
    )


#: A positive feature on a geometric grid spanning this factor or more is treated on a log scale (below 10x).
GEOMETRIC_SPAN = 4.0


def _geometric_grid(values: np.ndarray, rtol: float = DEFAULT_RTOL) -> bool:
    """True when positive ``values`` (N,) sit on a grid evener in log than in linear steps.

    At least three distinct levels (``tasks.scales``, so jittered copies of one
    size count once) spanning ``GEOMETRIC_SPAN`` or more, whose gaps between
    consecutive levels vary less, relative to their mean, in log than in linear
    scale: {1, 2, 4, 8} parallel streams or epochs is a doubling grid, {100, 200,
    300} warmup steps is not.
    """
    lv = levels(values, rtol)
    ok = lv >= 0
    if not ok.any():
        return False
    reps = np.array([values[ok][lv[ok] == k].min() for k in range(int(lv[ok].max()) + 1)])
    if len(reps) < 3 or reps.max() < GEOMETRIC_SPAN * reps.min():
        return False

    def unevenness(steps: np.ndarray) -> float:
        return float(np.std(steps) / np.mean(steps))

    return unevenness(np.diff(np.log(reps))) < unevenness(np.diff(reps))


def guess_log_features(df: pd.DataFrame, features: Sequence[str]) -> tuple[str, ...]:
    """Features a search should treat on a log scale.

    Mostly positive (90% of the values) and spanning 10x or more; or all
    positive on a geometric grid (``_geometric_grid``: 1, 2, 4, 8 parallel
    streams), where a power law in the feature is the natural guess.
    """
    out = []
    for f in features:
        vals = pd.to_numeric(df[f], errors="coerce").to_numpy(dtype=float)
        vals = vals[np.isfinite(vals)]
        pos = vals[vals > 0]
        if not len(vals) or len(pos) < 0.9 * len(vals):
            continue
        if pos.max() >= 10 * pos.min() or (len(pos) == len(vals) and _geometric_grid(pos)):
            out.append(f)
    return tuple(out)


def task_from_frame(
    df: pd.DataFrame,
    features: Sequence[str],
    target: str | Sequence[str],
    *,
    group: str | None = None,
    test: str | None = None,
    val: str | None = None,
    name: str = "my_law",
    description: str = "",
    max_params: int | None = None,
    log_features: Sequence[str] | None = None,
    linear_features: Sequence[str] | None = None,
    scale_tolerance: float = DEFAULT_RTOL,
    baseline: str | None = "auto",
    target_range: str | Sequence[float | None] | None = None,
) -> Task:
    """Build a Task from a user table with one row per run.

    Args:
        df: the runs; must hold ``features``, ``target`` and, if given, ``group``.
        features: feature columns, in the order the law receives them.
        target: one target column, or several (predicted jointly).
        group: column whose values are fitted separately (e.g. base model).
        test: hold-out rule (see ``evosld.tasks.splits``); default: the
            largest value of the first feature in each group (or, when that
            is fewer than three runs, its largest tenth).
        val: validation rule applied to the remaining rows; default: derived
            from ``test`` (``tasks.folds.derive_val_rule``): the train rows
            next in line towards the test region.
        log_features: features on a log scale besides the ones guessed (``guess_log_features``): a
            positive feature spanning less than 10x, such as a loss of 2.2 to 5 that a critical batch size
            follows as a power law; they must be positive.
        linear_features: features never on a log scale (e.g. a column with zeros), whatever the guess.
        scale_tolerance: values closer than this relative difference count as
            one scale (sizes read off a figure are never exactly equal); in
            [0, 0.5), else OptionValueError (a ValueError) naming it.
        baseline: the reference law shown beside the found one: ``"auto"``
            (the Chinchilla form when the features look like model size and
            data and the target is positive; the data mixing law when they
            are a mixture's shares), ``"chinchilla"``,
            ``"chinchilla:N_COL,D_COL"``, ``"mixing"`` or ``"none"``.
        target_range: the range every target can take, ``"LO,HI"`` (either
            side empty) or ``(lo, hi)`` with None for an open side
            (``tasks.targetrange``); target values outside it are an error.
            None (not given): [0, 1] when every train target lies in it, as a
            fraction's do (``targetrange.assumed_range``), else no range;
            ``"none"``: no range at all.
    """
    if not isinstance(df, pd.DataFrame):
        raise DataError("expected a pandas DataFrame of runs (one row per run)")
    scale_tolerance = check_tolerance(scale_tolerance, "scale_tolerance")  # the CLI and task files check theirs first
    test, val = ((rule.strip() or None) if isinstance(rule, str) else rule for rule in (test, val))  # "  " is ""
    tables.check_frame(df, name)
    df = tables.stripped_text(df)
    features = [features] if isinstance(features, str) else list(features)
    targets = [target] if isinstance(target, str) or not isinstance(target, Iterable) else list(target)
    odd = [c for c in [*features, *targets, *([group] if group is not None else [])] if not isinstance(c, str)]
    if odd:
        raise DataError(f"features, target and group take the names (text) of the table's columns, and "
                        f"{', '.join(map(repr, odd))} {'is' if len(odd) == 1 else 'are'} not one: pass names, as in "
                        "features=['N', 'D'], target='loss', group='model' (a table with unnamed columns: name them "
                        "first, df.columns = [...])")
    if not features:
        raise DataError("give at least one feature column")
    if not targets:
        raise DataError("give at least one target column")
    both = [t for t in dict.fromkeys(targets) if t in features]
    if both:
        raise DataError(f"{', '.join(map(repr, both))} is both a feature and a target; a law would just copy it: "
                        "remove it from --features")
    for listed, option in ((features, "--features"), (targets, "--target")):
        twice = sorted({c for c in listed if listed.count(c) > 1})
        if twice:
            raise DataError(f"column(s) {', '.join(map(repr, twice))} listed more than once in {option}; "
                            "name each column once")
    if GROUP_COLUMN in [*features, *targets] and group != GROUP_COLUMN:
        raise DataError(f"column {GROUP_COLUMN!r} is where evosld keeps each run's group, so it cannot be a "
                        f"feature or target; rename it in the table (e.g. to {GROUP_COLUMN}_id), or give "
                        f"--group-by {GROUP_COLUMN} to fit its groups separately")
    if group and group in [*features, *targets]:
        raise DataError(f"{group!r} is both the group column and a {'feature' if group in features else 'target'}: "
                        "within a group it takes one value, so a law cannot learn from it; group by another "
                        "column, or drop --group-by")
    needed = [*features, *targets] + ([group] if group else [])
    checks.check_columns(df, needed, name)
    if group or GROUP_COLUMN in df.columns:
        checks.check_groups_named(df, group or GROUP_COLUMN, name)
    df = checks.as_numbers(df, [*features, *targets], name)
    checks.check_label_features(df, list(features), name, group)
    checks.check_cells_numeric(df, [*features, *targets], name)  # before rows with gaps go: a comment line is named
    df = checks.drop_missing(df, [*features, *targets], name)
    checks.check_numeric(df, [*features, *targets], name)
    bounds = parse_target_range(target_range)
    check_targets_within(df, targets, bounds, name)
    df = df.copy()
    if group:
        df[GROUP_COLUMN] = df[group].astype(str)
    elif GROUP_COLUMN not in df.columns:
        df[GROUP_COLUMN] = NO_GROUP
    test_rule = test or default_test_rule(df, features[0], rtol=scale_tolerance)
    df = checks.prepare_rule_columns(df, [(test_rule, "--test"), *([(val, "--val")] if val else [])],
                                     {*features, *targets, GROUP_COLUMN, *([group] if group else [])}, name)
    test_mask = rule_mask(df, test_rule, tuple(features), rtol=scale_tolerance)
    train, held = df.loc[~test_mask], df.loc[test_mask]
    if len(held) == 0:
        spans = ", ".join(f"{f} {df[f].min():.3g} to {df[f].max():.3g}" for f in features)
        example = example_rule(df, features, scale_tolerance)
        what = (exact_equality_hint(test_rule, df, "--test")
                or f"; give --test a rule that holds out the largest runs, such as \"{example}\"")
        raise DataError(f"{name}: the test rule {test_rule!r} holds out no run (the features span {spans}){what}")
    if len(train) == 0:
        single = _single_value_groups(df, test_rule, scale_tolerance)
        if single:
            raise DataError(f"{name}: the test rule {test_rule!r} holds out every row: {single}")
        why = "" if test else (f" (the default: {features[0]!r}, the first feature, takes one value in every group; "
                               "list a feature that varies first in --features, or")
        example = example_rule(df, features, scale_tolerance)
        raise DataError(f"{name}: the test rule {test_rule!r} holds out every row; nothing is left to train on"
                        + (f"{why} give --test a rule such as \"{example}\")" if why else
                           f"; give --test a rule that keeps the smaller runs, such as \"{example}\""))
    for kind, names in (("log", log_features), ("linear", linear_features)):
        unknown = [f for f in names or () if f not in features]
        if unknown:
            raise DataError(f"{kind} feature(s) {', '.join(unknown)} are not among the features "
                            f"({', '.join(features)})")
    both = [f for f in log_features or () if f in set(linear_features or ())]
    if both:
        raise DataError(f"{', '.join(both)} cannot be both a log feature and a linear feature: "
                        "give each feature to at most one of --log-features and --linear-features")
    range_how = ""
    if target_range is None and (assumed := assumed_range(train, targets)) is not None:  # "none": no range at all
        bounds, range_how = assumed, "assumed"  # from train alone: the test rows are not read to set it
    logs = set(guess_log_features(df, features)) | set(log_features or ())
    logs = tuple(f for f in features if f in logs and f not in set(linear_features or ()))
    reference = resolve_baseline(baseline, features, logs)
    if reference == MIXING and not is_mixture(df, features):
        raise DataError(f"--baseline {MIXING}: the data mixing law needs features that are a mixture's shares "
                        f"(fractions summing to one on every run), and {', '.join(features)} are not; give "
                        "--baseline auto or none")
    if reference and reference != MIXING and (baseline or "auto") == "auto" and not _looks_like_a_loss(
            df, train, features, targets, reference):
        reference = ""  # the Chinchilla form predicts a positive loss that falls with size and data
    if not reference and (baseline or "auto") == "auto" and is_mixture(df, features):
        reference = MIXING
    return _finish(
        name,
        features,
        targets,
        train,
        held,
        val_rule=val or "",
        test_rule=test_rule,
        description=description,
        max_params=max_params,
        log_features=logs,
        val_how="given" if val else "",
        scale_rtol=float(scale_tolerance),
        derive_val=not val,
        baseline=reference,
        target_range=bounds,
        target_range_how=range_how,
        default_limit=True,
        split_warnings=[*near_equality_warnings(test_rule, df, test_mask, which="test", option="--test",
                                                stays="train", rtol=scale_tolerance),
                        *threshold_cut_warnings(test_rule, df, test_mask, which="test", option="--test",
                                                stays="train", rtol=scale_tolerance),
                        *(checks.largest_cut_warnings(test_rule, df, test_mask, which="test", option="--test",
                                                      rtol=scale_tolerance) if test else []),
                        *checks.target_rule_warnings(test_rule, targets, derived_val=not val,
                                                     example=lambda: example_rule(df, features, scale_tolerance))],
    )


def _single_value_groups(df: pd.DataFrame, rule: str, rtol: float) -> str:
    """Why a ``largest:COL`` rule held out every row when every group holds one value of COL (a run per group,
    or a column constant within each group), as advice; "" otherwise."""
    if not rule.startswith("largest:") or GROUP_COLUMN not in df.columns:
        return ""
    col = parse_largest(rule, list(df.columns))[0]  # the rule was read already: its column is there
    per_group = df.groupby(GROUP_COLUMN, sort=False)[col].agg(lambda v: n_levels(v.to_numpy(dtype=float), rtol))
    if len(per_group) < 2 or per_group.max() > 1:
        return ""
    sizes = df.groupby(GROUP_COLUMN, sort=False).size()
    what = "one run" if sizes.max() == 1 else f"one value of {col!r}"
    return (f"each of its {len(per_group)} groups holds {what}, and a law is fitted group by group, so it needs "
            f"runs at several values of {col!r} in every group: group the runs more coarsely (another --group-by, "
            "or none)")


def _looks_like_a_loss(df: pd.DataFrame, train: pd.DataFrame, features: Sequence[str], targets: Sequence[str],
                       reference: str) -> bool:
    """Whether every target is positive (in the whole table) and does not rise with both the size and the data
    column of ``reference`` (``"chinchilla:N,D"``) on the train rows, within groups: a loss, which the Chinchilla
    form (a floor plus two falling powers) can follow, and not an accuracy or a reward, which it cannot."""
    size, data = size_and_data(reference, features)
    groups = train[GROUP_COLUMN].to_numpy()
    return all((df[t].to_numpy(dtype=float) > 0).all()
               and not all(rises_with(train[t].to_numpy(dtype=float), train[f].to_numpy(dtype=float), groups)
                           for f in (size, data))
               for t in targets)


def task_from_csv(path: str | os.PathLike, features: Sequence[str], target: str | Sequence[str], **kwargs) -> Task:
    """``task_from_frame`` on a CSV file."""
    p = Path(path)
    if p.is_dir():
        raise DataError(f"{p} is a directory; give --csv the CSV file of runs itself (e.g. {p / 'runs.csv'})")
    if p.exists() and not p.is_file():
        raise DataError(f"{p} is not a file of runs (a device or a pipe); give --csv a CSV file saved on disk")
    if not p.is_file():
        raise DataError(f"file not found: {p}")
    kwargs.setdefault("name", p.stem)
    return task_from_frame(tables.read_table(p, labels=[kwargs.get("group") or GROUP_COLUMN]), features, target,
                           **kwargs)
