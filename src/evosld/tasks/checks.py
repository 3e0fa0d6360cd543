"""Input checks: each failure is one DataError line that says what to fix."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from evosld.errors import DataError
from evosld.tasks.baselines.mixing import is_mixture
from evosld.tasks.numbers import (
    DECIMAL_COMMA,
    is_blank,
    is_missing,
    mixed_spelling,
    numbers_in_another_form,
    percentages,
    read_numbers,
    spelled_as_number,
    thousands_guess,
)
from evosld.tasks.scales import DEFAULT_RTOL, levels_per_group, n_levels, top_cluster_tolerance
from evosld.tasks.splits import (
    check_rule_values,
    group_keys,
    largest_rule,
    parse_largest,
    rule_columns,
    rule_mask,
    user_columns,
)
from evosld.tasks.task import GROUP_COLUMN

#: Fewest rows a group needs in a fit split for a law to be fitted at all.
MIN_FIT_ROWS = 3


#: ``DataFrame.attrs`` key marking a table passed from Python (no file, so no line numbers; pandas keeps attrs
#: through selections and copies).
FROM_PYTHON = "evosld_from_python"


def _rows(df: pd.DataFrame, positions: np.ndarray, limit: int = 5) -> str:
    """Where rows are, counted one way in every message: the file's own line numbers, every line counted.

    A table read from a CSV keeps its row index 0, 1, ... (also in its train
    and test parts), so row index ``i`` is line ``i + 2`` of the file (after any
    comment lines above the header, ``tasks.tables`` shifts the index by their
    number, so this stays true; the message therefore does not say the header
    is line 1, which it is not then). A frame with another index, or one
    passed from Python (``FROM_PYTHON`` in its ``attrs``, set by
    ``evosld.discover``: it has no file), is named by its index labels.
    """
    labels = df.index[positions]
    more = f" and {len(labels) - limit} more" if len(labels) > limit else ""
    if pd.api.types.is_integer_dtype(df.index) and not df.attrs.get(FROM_PYTHON):
        shown = ", ".join(str(int(i) + 2) for i in labels[:limit])
        return f"line{'s' if len(labels) > 1 else ''} {shown}{more} of the file (counting every line, the header too)"
    shown = ", ".join(repr(i) for i in labels[:limit])
    return f"the row(s) with index {shown}{more}"


def check_columns(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Every named column exists; else one line naming them, with the column meant when it is plain to see."""
    missing = [c for c in columns if c not in df.columns]
    if not missing:
        return
    names = ", ".join(missing)
    near = [h for c in missing for h in map(str, df.columns) if _loose(h) == _loose(c)]
    hint = f"; did you mean {', '.join(map(repr, near))}?" if near else ""
    commas = [str(h) for h in df.columns if "," in str(h) and any(c.strip() in str(h) for c in missing)]
    if commas and not near:  # --features "size (params, M),tokens" split the name at its comma
        names = ", ".join(map(repr, missing))
        hint = f"; a name with a comma goes in double quotes, as in --features '\"{commas[0]}\",...'"
    raise DataError(f"{where}: column(s) {names} not found (columns: {', '.join(map(str, df.columns))}){hint}")


def _loose(name: str) -> str:
    """A column name without case or spaces, for suggesting the column a user meant."""
    return "".join(str(name).lower().split())


def check_groups_named(df: pd.DataFrame, group: str, where: str) -> None:
    """Every run has a value in the group column: a cell that is not empty (text such as ``None`` or ``NA`` there
    is a label, as a table file's group column is read, ``tables.read_csv_bounded``)."""
    blank = np.flatnonzero(df[group].map(is_blank).to_numpy(dtype=bool))
    if len(blank):
        raise DataError(f"{where}: the group column {group!r} is empty in {_rows(df, blank)}; give every run "
                        "its group (e.g. its model family), or drop those rows")


def as_numbers(df: pd.DataFrame, columns: list[str], where: str = "") -> pd.DataFrame:
    """``df`` with each of ``columns`` that holds only numbers (as numbers or as text) made float.

    Read by ``tasks.numbers.read_numbers``: numbers written as text, integers beyond 64 bits (FLOP
    counts written out in full, which pandas keeps as objects), sizes with a suffix on every cell
    (70M, 1.3B), thousands separators (1,300,000), percentages (45%, read as 0.45, said once);
    missing-value marks (N/A, -, ...) become NaN.
    A column read with thousands separators that could be decimal commas (4,611) is warned about,
    once, with a cell and what it was read as. Other columns are left for ``check_numeric``.
    """
    fixed = {}
    for col in columns:
        if not pd.api.types.is_numeric_dtype(df[col]) and not _is_time(df[col]):
            vals = read_numbers(df[col])
            if vals is not None:
                fixed[col] = vals
                guess, percent = thousands_guess(df[col]), percentages(df[col])
                if percent:
                    warnings.warn(f"{where + ': ' if where else ''}column {col!r} holds percentages, read as fractions "
                                  f"(\"{percent[0]}\" as {percent[1]:.15g}); laws and scores are in fractions",
                                  stacklevel=3)
                if guess:
                    warnings.warn(f"{where + ': ' if where else ''}column {col!r}: cells like \"{guess[0]}\" were "
                                  f"read as {guess[1]:.15g} (a thousands separator); if the comma is a decimal mark, "
                                  "save the table with ';' as separator or '.' decimals", stacklevel=3)
    return df.assign(**fixed) if fixed else df


def drop_missing(df: pd.DataFrame, columns: list[str], where: str) -> pd.DataFrame:
    """``df`` without the rows that have no value in one of ``columns`` (a run not done, a cell left empty).

    Warns with the lines left out. When half the rows or more have a gap, the
    column is more likely the wrong one than a few runs missing: they are kept,
    for ``check_numeric`` to refuse with the lines they are on.
    """
    gaps = {c: df[c].isna().to_numpy() for c in columns if pd.api.types.is_numeric_dtype(df[c])}
    if not gaps:
        return df
    gap = np.logical_or.reduce(list(gaps.values()))
    if not gap.any() or 2 * gap.sum() >= len(df):
        return df
    named = ", ".join(repr(c) for c, g in gaps.items() if g.any())
    warnings.warn(f"{where}: {int(gap.sum())} run(s) have no value for {named} ({_rows(df, np.flatnonzero(gap))}); "
                  "they are left out", stacklevel=3)
    return df.loc[~gap]


def prepare_rule_columns(df: pd.DataFrame, rules: list[tuple[str, str]], known: set[str], where: str) -> pd.DataFrame:
    """``df`` ready for its split rules: ``rules`` are (rule, option) pairs, ``known`` the columns already read.

    The other columns a rule reads (not a feature, target or group: a compute
    column, a model label) are read as numbers where they hold numbers, as the
    features are (``1.3B``, ``1,300,000``); quoted values are checked
    (``splits.check_rule_values``); and a run with no value in such a column is
    left out, with a warning naming its lines: every comparison with a missing
    value is False, so the rule could neither hold it out nor keep it, and it
    would silently join train (the largest runs, whose compute was not filled in,
    among them).
    """
    reads: dict[str, str] = {}  # each other column a rule reads -> the first option whose rule reads it
    for rule, option in rules:
        for col in rule_columns(rule, user_columns(df)):
            if col not in known:
                reads.setdefault(col, option)
    df = as_numbers(df, list(reads), where)
    for rule, option in rules:
        check_rule_values(rule, df, option)
    for col, option in reads.items():
        gap = df[col].map(is_missing).to_numpy(dtype=bool)
        if gap.any():
            warnings.warn(f"{where}: {int(gap.sum())} run(s) have no value for {col!r}, which {option} reads "
                          f"({_rows(df, np.flatnonzero(gap))}); the rule can place them in neither train nor test, "
                          "so they are left out", stacklevel=3)
            df = df.loc[~gap]
    return df


#: At most this many distinct texts make a feature a column of labels (an optimiser, a dataset name).
MAX_LABELS = 50


def check_label_features(df: pd.DataFrame, features: list[str], where: str, group: str | None = None) -> None:
    """A feature whose every cell is text (``adam``, ``sgd``), repeated across runs, is refused as labels.

    A law takes numbers; such a column names a setting, and the way to use it is
    to fit each label on its own (``--group-by``), not to read it as a number.
    The error says so, instead of the general advice on how to write numbers.
    A column with any number in it is left to ``check_cells_numeric``.
    """
    for col in features:
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        cells = df[col][~df[col].map(is_missing)]
        if cells.empty or pd.to_numeric(cells, errors="coerce").notna().any():
            continue
        labels = list(dict.fromkeys(str(c).strip() for c in cells))
        if len(labels) > MAX_LABELS or len(labels) == len(cells):
            continue
        if numbers_in_another_form(labels):  # 10.000.000, 3.2Btok: check_cells_numeric says how to write them
            continue
        shown = ", ".join(repr(v) for v in labels[:3]) + (", ..." if len(labels) > 3 else "")
        how = (f"give --group-by {col} and leave it out of --features" if not group else
               f"join it and {group!r} into one column (e.g. '{df[group].iloc[0]}/{labels[0]}') and give that as "
               "--group-by (one group column)")
        raise DataError(f"{where}: feature {col!r} holds labels, not numbers ({len(labels)} distinct: {shown}); "
                        f"a law takes numbers: to fit a law per label, {how}; or write the labels as numbers if "
                        "they stand for amounts")


def _is_time(column: pd.Series) -> bool:
    """Whether a column holds dates, times or durations (pandas datetime, timedelta or period values)."""
    return (pd.api.types.is_datetime64_any_dtype(column) or pd.api.types.is_timedelta64_dtype(column)
            or isinstance(column.dtype, pd.PeriodDtype))


def check_cells_numeric(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Every cell of ``columns`` is a number or a missing-value mark; else one line naming a cell and its line.

    Run before rows with gaps are left out (``drop_missing``): a comment line
    inside the data (``# rerun below``) is a row whose first cell is text and
    whose other cells are empty, and it must be named, not dropped as a run
    with gaps. Only comment lines above the header are skipped on reading.
    """
    for col in columns:
        if pd.api.types.is_numeric_dtype(df[col]):
            continue
        if _is_time(df[col]):  # pandas reads dates as nanoseconds; a law in them is no law, and the run's own
            # copy of the table (text) could not be read back by report, eval or predict
            stamps = f"df[{col!r}].dt.to_timestamp()" if isinstance(df[col].dtype, pd.PeriodDtype) else f"df[{col!r}]"
            instead = (f"hours: df[{col!r}] = df[{col!r}].dt.total_seconds() / 3600"
                       if pd.api.types.is_timedelta64_dtype(df[col]) else
                       f"the days since the first run: df[{col!r}] = ({stamps} - {stamps}.min()).dt.days")
            raise DataError(f"{where}: column {col!r} holds dates or times, not numbers; give a number instead, "
                            f"such as {instead}")
        bad = pd.to_numeric(df[col], errors="coerce").isna() & ~df[col].map(is_missing)
        rows = np.flatnonzero(bad.to_numpy())
        mixed = mixed_spelling(df[col])
        if mixed:
            raise DataError(
                f"{where}: column {col!r} mixes sizes with a suffix ({df[col].iloc[mixed[0]]!r} in "
                f"{_rows(df, np.array(mixed[:1]))}) and plain numbers ({df[col].iloc[mixed[1]]!r} in "
                f"{_rows(df, np.array(mixed[1:]))}), which could be in any unit; write every cell one way "
                "(70M and 1.3B, or 7e7 and 1.3e9)")
        if not len(rows):
            raise DataError(f"{where}: column {col!r} is not numeric")
        # a cell no spelling reads (~4e8) rather than one that is fine alone (2.85B beside it)
        rows = np.array(sorted(rows, key=lambda r: spelled_as_number(df[col].iloc[r])))
        cell = df[col].iloc[rows[0]]
        found = f"{where}: column {col!r} is not numeric (e.g. {cell!r} in {_rows(df, rows[:1])})"
        if col == df.columns[0] and str(cell).lstrip().startswith("#"):
            raise DataError(f"{found}; that line is a comment, and comment lines ('# ...') are skipped only above "
                            "the header: delete it, or move it above the header")
        decimal = ("; a decimal comma (0,5) is read only in a ';'-separated file: save the table with ';' as "
                   "separator or '.' decimals") if DECIMAL_COMMA.match(str(cell)) else ""
        raise DataError(
            f"{found}; write plain numbers (1.3e9 or 1300000000, not ~1e9); "
            "sizes with a suffix (70M, 1.3B), thousands separators (1,300,000) or percentages (45%) are read "
            f"only when every cell of the column is written that way{decimal}"
        )


def check_numeric(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Columns are numeric (``check_cells_numeric``) and finite; names the offending rows otherwise."""
    check_cells_numeric(df, columns, where)
    for col in columns:
        vals = df[col].to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(vals))
        if len(bad):
            raise DataError(f"{where}: column {col!r} has NaN or infinite values in {_rows(df, bad)}; drop or fill them")


def check_positive(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Log-scale features are strictly positive."""
    for col in columns:
        vals = df[col].to_numpy(dtype=float)
        bad = np.flatnonzero(vals <= 0)
        if len(bad):
            raise DataError(
                f"{where}: column {col!r} is treated on a log scale but has values <= 0 in "
                f"{_rows(df, bad)}; remove those rows or keep it on a linear scale "
                f"(--linear-features {col}, or linear_features: [{col}] in a task file; "
                "and not in --log-features)"
            )


def check_split_sizes(task_name: str, fit: pd.DataFrame, val: pd.DataFrame, test: pd.DataFrame) -> None:
    """Enough runs in all, non-empty splits and enough fit rows in every group that is scored; a warning for a
    group with too few fit rows and none held out.

    A table too small for any split is told so first: on six runs, "no rows to fit on" would send the
    user after the rules when the runs are what is missing.
    """
    total = len(fit) + len(val) + len(test)
    one_group = len(set(fit[GROUP_COLUMN].astype(str)) | set(val[GROUP_COLUMN].astype(str))
                    | set(test[GROUP_COLUMN].astype(str))) == 1
    if one_group and total < MIN_FIT_ROWS + 2 * MIN_SLICE_ROWS:
        raise DataError(
            f"{task_name}: {total} runs are too few: a law needs at least {MIN_FIT_ROWS} runs to fit on, "
            f"{MIN_SLICE_ROWS} to validate and {MIN_SLICE_ROWS} to test ({MIN_FIT_ROWS + 2 * MIN_SLICE_ROWS} in all); "
            "add runs"
        )
    if len(test) == 0:
        raise DataError(f"{task_name}: the test rule leaves no test rows; choose a rule that holds some runs out")
    if len(val) == 0:
        raise DataError(f"{task_name}: the validation rule leaves no validation rows; choose a rule that holds some train runs out")
    if len(fit) == 0:
        raise DataError(f"{task_name}: the rules leave no rows to fit on; hold out fewer runs")
    counts = fit[GROUP_COLUMN].astype(str).value_counts()
    scored = set(val[GROUP_COLUMN].astype(str)) | set(test[GROUP_COLUMN].astype(str))
    small = sorted(g for g in scored if counts.get(g, 0) < MIN_FIT_ROWS)
    if small:
        listed = ", ".join(f"{g!r} ({counts.get(g, 0)} rows)" for g in small[:5])
        raise DataError(
            f"{task_name}: group(s) {listed} have fewer than {MIN_FIT_ROWS} rows left to fit on after the "
            "test and validation rules; add runs, merge groups, or hold out fewer rows with --test / --val"
        )
    # A group with none held out changes no score, so the run goes on; but its law is fitted on one or two runs
    # (a law with four parameters passes through them whatever they are) and `evosld predict --group` answers
    # for it with nothing to check it against: the user is told.
    unchecked = sorted(g for g, n in counts.items() if n < MIN_FIT_ROWS and g not in scored)
    if unchecked:
        listed = ", ".join(f"{g!r} ({counts[g]} run{'s' if counts[g] != 1 else ''})" for g in unchecked[:5])
        more = f" and {len(unchecked) - 5} more" if len(unchecked) > 5 else ""
        warnings.warn(f"{task_name}: group(s) {listed}{more} have fewer than {MIN_FIT_ROWS} runs and none held out: "
                      "their laws are fitted on those runs alone and never checked, so predictions for them "
                      "(evosld predict --group) say little; add runs or leave those groups out", stacklevel=3)


def warn_duplicates(df: pd.DataFrame, columns: list[str], where: str) -> None:
    """Warn (not fail) when the same run appears twice."""
    cols = [GROUP_COLUMN, *columns] if GROUP_COLUMN in df.columns else columns
    dup = np.flatnonzero(df.duplicated(subset=cols).to_numpy())
    if len(dup):
        warnings.warn(f"{where}: {len(dup)} duplicate row(s) (e.g. {_rows(df, dup)}); they are kept", stacklevel=3)


def warn_constant_features(df: pd.DataFrame, features: list[str], where: str,
                           test: pd.DataFrame | None = None) -> None:
    """Warn (not fail) when a feature takes one value on every row a law is fitted on, or within every group
    (each group is fitted on its own): no law can learn its effect. A model-size column beside ``--group-by
    model`` is the usual case: the search then spells each group's constant as a function of its size.

    When ``test`` (the held-out rows) holds other values of such a feature, the warning says so: the
    laws predict those runs as if the feature were unchanged, and their test score measures a guess."""
    groups = df[GROUP_COLUMN].astype(str).to_numpy() if GROUP_COLUMN in df.columns else np.zeros(len(df))
    names = list(dict.fromkeys(groups))
    for col in features:
        vals = df[col].to_numpy(dtype=float)
        if len(vals) > 1 and np.ptp(vals) == 0:
            held = np.array([]) if test is None or col not in test.columns else test[col].to_numpy(dtype=float)
            other = np.unique(held[np.isfinite(held) & (held != vals[0])])
            unseen = (f"; the test runs take other values ({', '.join(f'{v:g}' for v in other[:3])}"
                      f"{', ...' if len(other) > 3 else ''}), which the laws predict as if it were {vals[0]:g}: "
                      "their test score there is a guess" if len(other) else "")
            warnings.warn(f"{where}: feature {col!r} takes one value ({vals[0]:g}) in every row, so no law can learn "
                          f"its effect; drop it from the features{unseen}", stacklevel=3)
        elif len(names) > 1 and all(np.ptp(vals[groups == g]) == 0 for g in names):
            warnings.warn(f"{where}: feature {col!r} takes one value within every group ({len(names)} groups), and "
                          "each group is fitted on its own, so no law can learn its effect; drop it from the "
                          "features, or drop --group-by to fit one law across the groups", stacklevel=3)


#: Two features are tied when one follows the other exactly (a straight line, in logs for positive features)
#: to within this share of its spread on every train run: sizes written to three digits still count.
TIE_SHARE = 0.01


def _relation(fb: np.ndarray, fa: np.ndarray) -> np.ndarray | None:
    """(1 + K,) intercept and slopes of fb (N,) as a linear function of the columns of fa (N, K), when it is
    one to within ``TIE_SHARE`` of fb's spread on every row; else None."""
    design = np.column_stack([np.ones(len(fb)), fa])
    coef = np.linalg.lstsq(design, fb, rcond=None)[0]
    miss = np.max(np.abs(design @ coef - fb))
    return coef if miss <= TIE_SHARE * np.std(fb) else None


def _spelt(b: str, a: list[str], coef: np.ndarray, logs: bool) -> str:
    """A relation ``_relation`` found, written out: ``D = 20 x N``, ``C = 6 x N x D``, ``D ~ N^0.50``."""
    if not logs:
        return f"{b} = {coef[0]:.3g}" + "".join(f" {'+' if c >= 0 else '-'} {abs(c):.3g} x {n}" for n, c in
                                                zip(a, coef[1:]))
    powers = " x ".join(n if abs(c - 1) < 0.01 else f"{n}^{c:.2f}" for n, c in zip(a, coef[1:]))
    return f"{b} = {np.exp(coef[0]):.2g} x {powers}"


def warn_tied_features(df: pd.DataFrame, features: list[str], where: str, test: pd.DataFrame | None = None,
                       rtol: float = 1e-3) -> None:
    """Warn (not fail) when a feature follows others on every train run: tokens = 20 x parameters in a
    suite trained compute-optimally, or compute = 6 x parameters x tokens listed beside both. No law can
    tell their effects apart.

    The relation is linear in the transformed values (logs of a positive feature, so any product of
    powers ``b = k a^s c^t``), fitted per group (each group is fitted on its own), to within
    ``TIE_SHARE`` of b's spread, in every group where b takes three scales or more and the rows
    outnumber the relation's terms by two. Features are tried from the last listed (the one most
    likely derived), each against those not already found to follow others. The law found then
    holds on that line (or surface) only: the warning says whether the test runs lie on it too,
    or leave it (their predictions a guess). The shares of a mixture (fractions summing to one on
    every run) are not said to follow each other: they do by design, and the search knows it.
    """
    groups = group_keys(df)
    names = list(dict.fromkeys(groups))
    varying = [c for c in features if np.ptp(df[c].to_numpy(dtype=float)) > 0]
    logs = {c: bool(np.all(df[c].to_numpy(dtype=float) > 0)) for c in varying}

    def transformed(frame: pd.DataFrame, cols: list[str]) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.column_stack([np.log(frame[c].to_numpy(dtype=float)) if logs[c] else
                                    frame[c].to_numpy(dtype=float) for c in cols])

    fractions = [c for c in varying if df[c].between(0, 1).all()]
    mixture = is_mixture(df, fractions)
    free = list(varying)
    for b in reversed(varying):
        others = [c for c in free if c != b]
        if not others or (mixture and b in fractions):  # a mixture's shares sum to one by design
            continue
        fb, fa = transformed(df, [b])[:, 0], transformed(df, others)
        found: dict[str, np.ndarray] = {}  # per group: the relation's (1 + K,) intercept and slopes
        spread: dict[str, float] = {}  # per group: the sd of b (transformed)
        for g in names:
            here = groups == g
            if n_levels(df[b].to_numpy(dtype=float)[here], rtol) < 3 or here.sum() < len(others) + 3:
                continue
            coef = _relation(fb[here], fa[here])
            if coef is None:
                found = {}
                break
            found[g], spread[g] = coef, float(np.std(fb[here]))
        if not found:
            continue
        free.remove(b)
        # the features the relation leans on: those that move b by more than the tie's tolerance
        moves = {c: max(np.std(fa[groups == g][:, k]) * abs(found[g][1 + k]) for g in found)
                 for k, c in enumerate(others)}
        used = [c for c in others if moves[c] > TIE_SHARE * min(spread.values())] or others
        if len(names) == 1:
            k_used = [others.index(c) for c in used]
            coef = found[names[0]]
            how = _spelt(b, used, np.concatenate([coef[:1], coef[1:][k_used]]), all(logs[c] for c in [b, *used]))
        else:
            how = f"{b} follows {' and '.join(used)} within every group"
        if len(used) == 1:
            said = (f"{where}: features {used[0]!r} and {b!r} move together on every train run ({how}), so no law "
                    "can tell their effects apart: the law found holds along that line only; keep one of them")
        else:
            said = (f"{where}: feature {b!r} follows {' and '.join(map(repr, used))} on every train run ({how}), so "
                    f"no law can tell its effect from theirs: the law found holds on that surface only; drop {b!r} "
                    "from the features")
        if test is not None and len(test) and all(c in test.columns for c in [b, *others]):
            t_groups = group_keys(test)
            tb, ta = transformed(test, [b])[:, 0], transformed(test, others)
            off = [k for k in range(len(test)) if t_groups[k] in found and not (
                abs(tb[k] - found[t_groups[k]][0] - ta[k] @ found[t_groups[k]][1:]) <= TIE_SHARE * spread[t_groups[k]])]
            if off:
                at = ", ".join(f"{c}={test[c].iloc[off[0]]:g}" for c in [*used, b])
                said += f"; {len(off)} test run(s) leave it (e.g. {at}), and their predictions are a guess"
            else:
                said += "; the test runs lie on it too"
        warnings.warn(said, stacklevel=3)


def warn_constant_groups(df: pd.DataFrame, targets: list[str], where: str) -> None:
    """Warn (not fail) when a target takes one value in every run of a group (of two runs or more).

    Such a group holds no scaling to learn: R² within it is undefined
    (it divides by the group's variance), and the near-perfect fit of a
    constant only pads the R² pooled over groups. Often a failed export or
    the wrong rows.
    """
    groups = df[GROUP_COLUMN].astype(str).to_numpy()
    names = list(dict.fromkeys(groups))
    if len(names) < 2:
        return
    for t in targets:
        vals = df[t].to_numpy(dtype=float)
        flat = [(g, vals[groups == g][0]) for g in names
                if np.sum(groups == g) > 1 and np.ptp(vals[groups == g]) == 0]
        if flat:
            shown = ", ".join(f"{g!r} ({v:g})" for g, v in flat[:5])
            more = f" and {len(flat) - 5} more" if len(flat) > 5 else ""
            warnings.warn(f"{where}: {t!r} takes one value in every run of group(s) {shown}{more}; R² within such "
                          "a group is undefined and no law learns a scaling from it: check those rows, or drop "
                          "the group(s)", stacklevel=3)


def features_beyond(train: pd.DataFrame, test: pd.DataFrame, features: tuple[str, ...] | list[str],
                    rtol: float) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(beyond, below): the features along which more than a fifth of the ``test`` rows lie outside train, above
    its largest value or below its smallest (a test rule ``lr <= 1e-4``, ``loss <= 2.1``), in feature order;
    ``below`` the ones of them where test lies below."""
    beyond, below = [], []
    for col in features:
        tr, te = train[col].to_numpy(dtype=float), test[col].to_numpy(dtype=float)
        if not (len(tr) and len(te)):
            continue
        top, bottom = tr.max(), tr.min()
        if float(np.mean(te > top + rtol * abs(top))) > 0.2:
            beyond.append(col)
        elif float(np.mean(te < bottom - rtol * abs(bottom))) > 0.2:
            beyond.append(col)
            below.append(col)
    return tuple(beyond), tuple(below)


def warn_few_scales(train: pd.DataFrame, test: pd.DataFrame, log_features: list[str], where: str,
                    rtol: float) -> None:
    """Warn (not fail) when test lies beyond train (above or below) along a scale feature that train holds at two
    values or fewer.

    From two sizes a law can pin at most one effect along the feature, so its
    prediction further out is mostly the formula's guess (three model sizes,
    the largest held out as test).
    """
    from evosld.tasks.scales import n_levels
    from evosld.tasks.splits import group_keys

    tr_groups, te_groups = group_keys(train), group_keys(test)
    for col in log_features:
        tr_all, te_all = train[col].to_numpy(dtype=float), test[col].to_numpy(dtype=float)
        for g in dict.fromkeys(te_groups):
            tr, te = tr_all[tr_groups == g], te_all[te_groups == g]
            if not (len(tr) and len(te) and (te.max() > tr.max() * (1 + rtol) or te.min() < tr.min() * (1 - rtol))):
                continue
            n = n_levels(tr, rtol)
            if n <= 2:
                in_group = f" in group {g!r}" if len(set(te_groups)) > 1 else ""
                warnings.warn(f"{where}: test lies beyond train along {col!r}, which train holds at only "
                              f"{n} value(s){in_group}; a law's prediction that far out is mostly "
                              "its formula's guess: add runs at more sizes, or hold out fewer with --test",
                              stacklevel=3)
                return


def few_scale_groups_warnings(fit: pd.DataFrame, log_features: list[str], rtol: float) -> list[str]:
    """Warnings for groups sampled along a scale feature at fewer sizes than most, which bound every group's law.

    A law is fitted group by group, so along each scale feature it may have no more free parameters than
    the worst-sampled group's distinct sizes less one (``proposers.symbolic.identify``, ``scales.fewest_levels``).
    Three sizes bar a floor (``E + A/N^a`` has three along N) for all groups. That is right, but when a few
    small groups decide it for many well-sampled ones, the user should know which, to give them more runs or
    leave them out. Said when the fewest sizes are at most ``DOF_ALONG_FEATURE`` and below the median group's.

    Args:
        fit: the rows the laws are fitted on (train less validation), with the group column.
        log_features: the scale features (the ones the limit applies to).
    """
    from evosld.tasks.starter import DOF_ALONG_FEATURE

    out = []
    groups = fit[GROUP_COLUMN].astype(str).to_numpy()
    names = list(dict.fromkeys(groups))
    if len(names) < 3:
        return out
    for col in log_features:
        counts = levels_per_group(fit[col].to_numpy(dtype=float), groups, rtol)
        counts = {g: c for g, c in counts.items() if c >= 2}  # a group holding it at one value bounds nothing
        if len(counts) < 3:
            continue
        fewest, median = min(counts.values()), float(np.median(list(counts.values())))
        if fewest > DOF_ALONG_FEATURE or fewest >= median:
            continue
        small = [g for g, c in counts.items() if c == fewest]
        shown = ", ".join(map(repr, small[:5])) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
        out.append(f"{len(small)} of {len(counts)} groups ({shown}) hold {col!r} at only {fewest} distinct "
                   f"values in the fit rows (the median group: {median:g}); a law is fitted in every group, so "
                   f"its curve along {col!r} gets at most {fewest - 1} free parameter(s) in all groups (a floor "
                   f"with a power law, E + A/x^a, has {DOF_ALONG_FEATURE}, so needs {DOF_ALONG_FEATURE + 1} "
                   "sizes): give those groups more runs, or leave them out of the table")
    return out


#: Fewest rows a validation or test slice needs for its R² to mean anything.
MIN_SLICE_ROWS = 3


def _per_group(df: pd.DataFrame) -> str:
    counts = df[GROUP_COLUMN].astype(str).value_counts(sort=False) if len(df) else pd.Series(dtype=int)
    if len(counts) <= 1:
        return ""
    shown = ", ".join(f"{g!r}: {n}" for g, n in list(counts.items())[:5])
    return f" (per group: {shown}{', ...' if len(counts) > 5 else ''})"


def _example_text(rule: str) -> str:
    """An example rule for the refusal below, with what it holds out."""
    if rule.startswith("largest:"):
        return f"\"{rule}\" takes every run of the largest size"
    return f"a threshold such as \"{rule}\" takes every run past it"


def _largest_column(rule: str, columns) -> str | None:
    """The column of a ``largest:COL[:K]`` rule, or None for another rule or one that does not parse."""
    rule = rule.strip()
    if not rule.startswith("largest:"):
        return None
    try:
        return parse_largest(rule, list(columns))[0]
    except DataError:
        return None


def _cluster_hint(rule: str, table: pd.DataFrame | None, rtol: float) -> str:
    """For a ``largest:COL`` rule on ``table`` whose largest values lie a few percent apart: the tolerance above
    ``rtol`` that makes them one size."""
    col = None if table is None else _largest_column(rule, table.columns)
    if col is None:
        return ""
    tol = top_cluster_tolerance(table[col].to_numpy(dtype=float), group_keys(table), MIN_SLICE_ROWS, above=rtol)
    if tol is None:
        return ""
    return (f"; or, if {col}'s largest values, a few percent apart, are one size read with some error, "
            f"--scale-tolerance {tol:g} counts them as one")


def read_apart_tolerance(df: pd.DataFrame, column: str, held: int, rtol: float) -> float | None:
    """The scale tolerance that counts the largest values of ``column`` as one size, when they are readings of
    one size a few percent apart and ``largest:COL`` (holding ``held`` rows at ``rtol``) takes only part of it.

    Readings, not sizes: among the rows that tolerance puts in each group's largest size, most values are
    distinct at ``rtol`` (a size read off a figure once per run). Two exact sizes a few percent apart (6.6e9 and
    7e9, five runs each) are two sizes, and None is returned, as when no tolerance would hold more rows.
    """
    values, groups = df[column].to_numpy(dtype=float), group_keys(df)
    tol = top_cluster_tolerance(values, groups, held + 1, above=rtol)
    if tol is None:
        return None
    top = rule_mask(df, largest_rule(column), rtol=tol)
    if int(top.sum()) <= held:
        return None
    readings = sum(n_levels(values[top & (groups == g)], rtol) for g in dict.fromkeys(groups[top]))
    return tol if 2 * readings > int(top.sum()) else None


def largest_cut_warnings(rule: str, df: pd.DataFrame, mask: np.ndarray, *, which: str, option: str,
                         rtol: float = DEFAULT_RTOL) -> list[str]:
    """Where ``largest:COL[:K]`` holds out only part of the largest size, its runs read a few percent apart.

    Values within ``rtol`` count as one size; sizes read off a figure lie further apart, so ``largest:N:2`` then
    takes the two largest *readings* of one size (three runs of ten at ~7e9), not the two largest sizes. When
    more runs lie near each group's largest value (``scales.top_cluster_tolerance``) and a tolerance that counts
    them as one size makes the rule hold more runs, this names that ``--scale-tolerance`` and the count.
    ``mask`` (len(df),) bool: the rows the rule holds; ``which`` names the rule ("test").
    """
    col = _largest_column(rule, df.columns)
    if col is None:
        return []
    held = int(np.asarray(mask, dtype=bool).sum())
    tol = read_apart_tolerance(df, col, held, rtol)
    if tol is None:
        return []
    whole = int(rule_mask(df, rule.strip(), rtol=tol).sum())
    return [f"the {which} rule {rule!r} holds out {held} run(s), part of {col}'s largest size: its runs lie a few "
            f"percent apart (read off a figure?) and count as different sizes at --scale-tolerance {rtol:g}; "
            f"with {option} {rule!r} --scale-tolerance {tol:g} they count as one size, and {whole} runs are held out"]


def check_slices(task_name: str, val: pd.DataFrame, test: pd.DataFrame, targets: list[str],
                 val_rule: str, test_rule: str, derived_val: bool = False,
                 example: Callable[[], str] = lambda: "N >= 1e9",
                 table: pd.DataFrame | None = None, train: pd.DataFrame | None = None,
                 rtol: float = DEFAULT_RTOL) -> None:
    """Refuse validation or test slices on which R² is meaningless, before any work.

    A slice needs at least ``MIN_SLICE_ROWS`` rows (all groups together, as
    R² is computed) and every target must vary on it. ``derived_val``: the
    validation rule was derived from the test rule (the user gave none), so the
    way out is named as a change of the test rule, or a validation rule of their own. ``example``: gives a rule
    on the user's own table, for the message (called only when there is one to write). ``table``: the whole
    table (train and test), and ``train``, the rows validation is cut from, to say when a ``largest:COL`` slice
    is small because the largest size's values were read with some error (``scales.top_cluster_tolerance``; a
    tolerance above ``rtol``, the one in use).
    """
    val_option = "--test (validation is derived from it) or --val" if derived_val else "--val"
    for label, df, rule, option in (("validation", val, val_rule, val_option), ("test", test, test_rule, "--test")):
        if 0 < len(df) < MIN_SLICE_ROWS:
            raise DataError(
                f"{task_name}: the {label} rule {rule!r} holds out only {len(df)} row(s){_per_group(df)}; "
                f"R² on fewer than {MIN_SLICE_ROWS} runs says nothing: give {option} a rule that holds out more runs "
                f"({_example_text(example())}){_cluster_hint(rule, train if label == 'validation' else table, rtol)}"
            )
        for t in targets:
            vals = df[t].to_numpy(dtype=float) if len(df) else np.zeros(0)
            if len(vals) and float(np.var(vals)) == 0.0:
                raise DataError(
                    f"{task_name}: {t} takes one value ({vals[0]:g}) on all {len(vals)} {label} rows "
                    f"(rule {rule!r}){_per_group(df)}, so R² is undefined there: give {option} a rule that "
                    "holds out runs whose results differ"
                )


def val_rule_warnings(val_rule: str, train: pd.DataFrame, val_mask: np.ndarray, test: pd.DataFrame,
                      test_rule: str, features: list[str], targets: list[str]) -> list[str]:
    """Warnings about a validation rule the user gave (``--val``) that the run can use but likely did not mean.

    - It picks runs by a target (``loss < 2.5``): the law is then chosen partly on the noise of the runs.
    - Along a feature both rules read, validation lies on the other side of the fitted runs than test
      (``--val "N < 1e8"`` beside ``--test "N >= 6e9"``, a ``<`` for a ``>``): the law is then picked on how
      it extrapolates the other way. Sides are compared by the median of each part.

    A validation rule that also holds test runs (``N >= 1e9`` beside ``--test "N >= 3e9"``) is the usual way
    to write the band below test, not a slip: those runs stay test, without a word.

    Args:
        train: the train rows, ``val_mask`` (N,) bool: those ``val_rule`` holds; ``test``: the test rows.
    """
    out = []
    on_target = rule_columns(val_rule, list(targets))
    if on_target:
        out.append(f"the validation rule {val_rule!r} picks runs by the target {on_target[0]!r} itself, so the law "
                   "is chosen partly on the noise of the runs it holds; a rule on a feature, next in line towards "
                   "the test runs, checks extrapolation (or leave out --val: it is then derived from --test)")
    fit, val = train.loc[~np.asarray(val_mask)], train.loc[np.asarray(val_mask)]
    val_columns = rule_columns(val_rule, features)
    for col in (c for c in rule_columns(test_rule, features) if c in val_columns):
        if not (len(fit) and len(val) and len(test)):
            break
        middle = float(np.median(fit[col].to_numpy(dtype=float)))
        v, t = (float(np.median(part[col].to_numpy(dtype=float))) - middle for part in (val, test))
        if v * t < 0:
            side, other = ("below", "above") if v < 0 else ("above", "below")
            out.append(f"validation ({val_rule!r}) lies {side} the fitted runs in {col} while test lies {other} "
                       f"them, so the law is picked on how it extrapolates the other way; give --val the runs next "
                       "in line towards the test runs (or leave it out: it is then derived from --test)")
            break
    return out


def target_rule_warnings(test_rule: str, targets: list[str] | tuple[str, ...], derived_val: bool = True,
                         example: Callable[[], str] = lambda: "N >= 1e9") -> list[str]:
    """A warning when the test rule picks runs by a target (``loss < 2.5``): the held-out runs are then partly
    chosen by their noise (the ones that happened to land low), which biases test R², and validation, when
    derived from the test rule (``derived_val``), is chosen by the target too. ``example()``: a rule on this
    table's own features to suggest instead (called only when the warning is given)."""
    on_target = rule_columns(test_rule, list(targets))
    if not on_target:
        return []
    return [f"the test rule {test_rule!r} picks runs by the target {on_target[0]!r} itself, so the runs held out "
            "are partly chosen by their noise and test R² is biased"
            + (" (validation is derived from the target too)" if derived_val else "") + "; "
            f"a rule on a feature or on compute, such as \"{example()}\", tests extrapolation in scale"]
