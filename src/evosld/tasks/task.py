"""The Task record: what is fitted, on which rows, and how it is split."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evosld.tasks.scales import DEFAULT_RTOL

if TYPE_CHECKING:
    from evosld.tasks.folds import Fold

GROUP_COLUMN = "group"
#: The one group of a table with no group column (evosld adds ``GROUP_COLUMN`` with this value).
NO_GROUP = "all_data"

#: The three splits a task exposes. ``val`` is carved from ``train``; the
#: search fits on ``train`` minus ``val`` and scores on ``val``. ``test`` is
#: scored once, for the report, after fitting on the whole of ``train``.
SPLITS = ("val", "test")

#: Inner extrapolation folds below validation, used by the final pick.
INNER_FOLDS = 2
#: The split the final pick's checks refit a law on: all train, thinned on a dense table (``Task.frames``).
SEARCH_TRAIN = "search_train"


@dataclass(frozen=True)
class GroupData:
    """One group's arrays, in the task's feature order.

    Attributes:
        X: (N, F) float array, columns in ``Task.features`` order.
        y: (N,) float array for one target, (N, T) for T targets.
    """

    X: np.ndarray
    y: np.ndarray


def _take_rows(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``a`` in ``a``'s memory order (a column-major table gives column-major groups, as each
    group's own ``to_numpy`` did), so a law's fit sees the very arrays it did before."""
    rows = a[idx]
    return np.asfortranarray(rows) if a.ndim == 2 and a.flags.f_contiguous and not a.flags.c_contiguous else rows


@dataclass(frozen=True)
class Task:
    """A scaling-law task: features, targets, groups and the three splits.

    ``train`` and ``test`` are the tables as given; ``val_mask`` marks the rows
    of ``train`` held out for selection (its largest scales). Each group is fitted
    separately; the law's form is shared.
    """

    name: str
    features: tuple[str, ...]
    targets: tuple[str, ...]
    train: pd.DataFrame
    test: pd.DataFrame
    val_mask: np.ndarray
    description: str = ""
    max_params: int | None = None
    #: how ``max_params`` was chosen when the user gave none (``tasks.paramlimit``); "" when given
    max_params_how: str = ""
    log_features: tuple[str, ...] = ()
    val_rule: str = ""
    test_rule: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    val_how: str = ""
    scale_rtol: float = DEFAULT_RTOL
    baseline: str = ""
    #: features along which the test rows lie beyond train (read from their features at load, never their targets):
    #: the direction the search must extrapolate in when validation, drawn at random, shows none
    test_beyond: tuple[str, ...] = ()
    #: those of ``test_beyond`` along which the test rows lie below train (``loss <= 2.1``), not above it
    test_below: tuple[str, ...] = ()
    #: the range every target can take, as the user declared it or as assumed for a fraction (``tasks.targetrange``):
    #: (lo, hi), None for an open side; None: no range (every built-in task). Laws predicting outside it beyond the
    #: data are refused.
    target_range: tuple[float | None, float | None] | None = None
    #: "assumed" when ``target_range`` was not declared but taken from the data (``targetrange.assumed_range``)
    target_range_how: str = ""

    # ---- tables -------------------------------------------------------
    @property
    def fit_df(self) -> pd.DataFrame:
        """Training rows the search may fit on (train minus validation)."""
        return self.train.loc[~self.val_mask]

    @property
    def val_df(self) -> pd.DataFrame:
        """Validation rows (largest scales of train): selection only."""
        return self.train.loc[self.val_mask]

    @property
    def groups(self) -> list[str]:
        """Group names in order of first appearance in train."""
        return list(dict.fromkeys(self.train[GROUP_COLUMN].astype(str)))

    def frames(self, split: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(rows to fit on, rows to score) for ``split``: ``"val"``, ``"test"``, ``"train"`` or ``"innerK"``.

        ``train`` fits and scores all train rows (in-sample; for predictions
        beyond the data from the law as it is returned).

        ``innerK`` is the K-th extrapolation fold below validation
        (``inner_folds``); ``"inner"`` is ``"inner1"``.

        The search's splits (``val``, ``innerK``) fit on about
        ``tasks.thinning.SEARCH_FIT_ROWS`` rows when there are more, an even share of each group's
        (a table of dense learning curves); ``test`` and ``train`` fit on all.
        ``SEARCH_TRAIN`` is ``train`` for the final pick's checks (the probe
        beyond the data, the information criterion): fitted on train thinned
        the same way, scored on all of it.
        """
        if split == "val":
            return self._search_rows("val", self.fit_df), self.val_df
        if split == "test":
            return self.train, self.test
        if split == "train":
            return self.train, self.train
        if split == SEARCH_TRAIN:
            return self._search_rows("train", self.train), self.train
        if split.startswith("inner"):
            fold = self.fold(split)
            return self._search_rows(split, self.train.loc[fold.fit]), self.train.loc[fold.scored]
        raise ValueError(f"unknown split {split!r}; use 'val', 'test', 'train', {SEARCH_TRAIN!r} or 'inner1', "
                         "'inner2', ...")

    def _search_rows(self, split: str, fit: pd.DataFrame) -> pd.DataFrame:
        """``fit`` thinned for a search-time fit (``tasks.thinning``), kept once per split."""
        from evosld.tasks.thinning import thinned

        cache = self.__dict__.setdefault("_thinned", {})
        if split not in cache:
            cache[split] = thinned(fit, self.features, GROUP_COLUMN)
        return cache[split]

    def search_fit_rows(self) -> int:
        """Rows the validation fit uses (all fit rows unless the table is thinned: ``tasks.thinning``)."""
        return len(self.frames("val")[0])

    def inner_folds(self, n: int = INNER_FOLDS, min_fit_rows: int | None = None,
                    min_levels_along: int | None = None) -> list[Fold]:
        """Up to ``n`` extrapolation folds below validation, nearest first (``tasks.folds``).

        Fold k fits on the fit rows beyond the k-th band counted from
        validation and scores that band (random bands for held-out mixtures);
        a group is scored only with ``min_fit_rows`` distinct settings to fit
        on (default ``fold_min_fit_rows``) and, beyond its fit rows along a
        feature, with ``min_levels_along`` scales of it to fit on (default
        ``tasks.folds.MIN_FIT_LEVELS_ALONG``). Neither validation nor test targets are read.
        """
        from evosld.tasks.folds import MIN_FIT_LEVELS_ALONG, inner_folds

        least = self.fold_min_fit_rows if min_fit_rows is None else min_fit_rows
        along = MIN_FIT_LEVELS_ALONG if min_levels_along is None else min_levels_along
        cache = self.__dict__.setdefault("_folds", {})
        if (n, least, along) not in cache:
            cache[(n, least, along)] = inner_folds(
                self.train, self.val_mask, self.val_rule, self.features, self.targets, self.log_features,
                n_folds=n, rtol=self.scale_rtol, min_fit_rows=least, min_levels_along=along)
        return cache[(n, least, along)]

    @property
    def fold_min_fit_rows(self) -> int:
        """Distinct fit settings a group needs before an inner fold scores it: more than a law's parameters.

        A law at the parameter limit (per output) passes through that many runs
        exactly, so a fold fitting it on no more says nothing about how it
        extrapolates: on a released suite of 9 train sizes (6 fit), the fold
        fitting 3 scored the law with a floor, E + A/N^a, at R² -38 and the
        pick became a bare power law, test R² -4.8 where E + A/N^a tests 0.85.
        At least 3 (a fold fitting two runs tells nothing either); without a limit, 3.
        """
        per_output = -(-self.max_params // len(self.targets)) if self.max_params else 0
        return max(3, per_output + 1)

    def probe(self) -> dict[str, np.ndarray]:
        """Inputs one step beyond validation, per group: group -> (M_g, F) (``tasks.probe``).

        Empty for held-out mixtures (random folds: no direction to step along). When validation was drawn
        at random but the test rows lie beyond train along some features (``test_beyond``: three model
        sizes, the largest as test), the step is the one from the second-largest train scale of those
        features to the largest, taken once more beyond it (from the second-smallest to the smallest along
        ``test_below``). The step is along the features the validation rule reads (``test_beyond`` for a
        random one), never back from the held-out side, or along every feature when it reads none.
        """
        from evosld.tasks.folds import distance_from, rule_directions
        from evosld.tasks.probe import probe_rows
        from evosld.tasks.splits import scales_above

        cache = self.__dict__.setdefault("_probe", {})
        if "rows" not in cache:
            held = self.train.loc[self.val_mask]
            direction = distance_from(self.fit_df, self.val_rule, held, self.features, self.log_features,
                                      self.scale_rtol)
            folds = self.inner_folds()
            band = None if direction.distance is None else \
                folds[0].scored if folds else np.zeros(len(self.train), dtype=bool)  # none: all fit rows
            if band is None and self.val_rule.startswith("random:") and self.test_beyond:
                # per row, how many scales lie between it and the train edge nearest test (0: at the edge)
                inward = np.min([scales_above(self.train, f, self.scale_rtol, below=f in self.test_below)
                                 for f in self.test_beyond], axis=0)
                cache["rows"] = probe_rows(self.train, inward == 0, inward == 1, self.features, self.log_features,
                                           along={f: -1 if f in self.test_below else 1 for f in self.test_beyond})
            else:
                ways = rule_directions(self.val_rule, list(self.train.columns))
                cache["rows"] = probe_rows(self.train, self.val_mask, band, self.features, self.log_features,
                                           along={f: w for f, w in ways.items() if f in self.features})
        return cache["rows"]

    def fold(self, name: str) -> Fold:
        """The inner fold called ``name`` (``"inner1"``...; ``"inner"`` is the first)."""
        try:
            k = int(name[len("inner"):] or 1)
        except ValueError:
            raise ValueError(f"unknown split {name!r}; use 'inner1', 'inner2', ...") from None
        folds = self.inner_folds(max(k, INNER_FOLDS))
        if not 1 <= k <= len(folds):
            raise ValueError(f"task {self.name} has {len(folds)} inner fold(s); no {name!r}")
        return folds[k - 1]

    # ---- arrays -------------------------------------------------------
    def arrays(self, df: pd.DataFrame) -> dict[str, GroupData]:
        """Split ``df`` by group into feature and target arrays.

        Returns a dict keyed by group name (train order) of ``GroupData`` with
        X of shape (N_g, F) and y of shape (N_g,) or (N_g, T).
        """
        out: dict[str, GroupData] = {}
        if df.empty:
            return out
        # one pass over the rows, not one per group: a table of 1000 groups spent seconds per evaluation here
        rows = df.groupby(df[GROUP_COLUMN].astype(str).to_numpy(), sort=False).indices
        X = df[list(self.features)].to_numpy(dtype=float)
        y = df[self.targets[0] if len(self.targets) == 1 else list(self.targets)].to_numpy(dtype=float)
        for g in self.groups:
            if g in rows:
                out[g] = GroupData(X=_take_rows(X, rows[g]), y=_take_rows(y, rows[g]))
        return out

    def split_arrays(self, split: str) -> tuple[dict[str, GroupData], dict[str, GroupData]]:
        """(fit arrays, scored arrays) per group for ``split``."""
        fit, scored = self.frames(split)
        return self.arrays(fit), self.arrays(scored)

    def search_view(self) -> Task:
        """This task with the test rows removed: what a proposer may see."""
        return replace(self, test=self.test.iloc[:0])

    def split_counts(self) -> dict[str, dict[str, int]]:
        """Rows per group in each split: ``{group: {"fit": n, "val": n, "test": n}}``."""
        keys = self.train[GROUP_COLUMN].astype(str).to_numpy()
        val = np.asarray(self.val_mask, dtype=bool)
        fit_n, val_n = Counter(keys[~val].tolist()), Counter(keys[val].tolist())  # one pass, not one per group
        test_n = Counter(self.test[GROUP_COLUMN].astype(str).tolist())
        return {g: {"fit": fit_n[g], "val": val_n[g], "test": test_n[g]} for g in self.groups}

    def split_summary(self) -> dict:
        """How the task is split (JSON-friendly): rules, how validation was chosen, rows per group, inner folds."""
        return {
            "test_rule": self.test_rule,
            "val_rule": self.val_rule,
            "val_how": self.val_how,
            "scale_tolerance": self.scale_rtol,
            "rows_per_group": self.split_counts(),
            "search_fit_rows": self.search_fit_rows(),
            "inner_folds": [{"name": f.name, "fit_rows": len(self.frames(f.name)[0]), "scored_rows": int(f.scored.sum()),
                             "rule": f.rule} for f in self.inner_folds()],
        }

    def summary(self) -> dict:
        """Facts about the task for listings and prompts (JSON-friendly)."""
        ranges = {}
        for col in (*self.features, *self.targets):
            vals = pd.concat([self.train[col], self.test[col]])
            ranges[col] = [float(vals.min()), float(vals.max())]
        return {
            "name": self.name,
            "features": list(self.features),
            "targets": list(self.targets),
            "groups": len(self.groups),
            "rows": {
                "train": int(len(self.train)),
                "fit": int((~self.val_mask).sum()),
                "val": int(self.val_mask.sum()),
                "test": int(len(self.test)),
            },
            "ranges": ranges,
            "max_params": self.max_params,
            **({"max_params_how": self.max_params_how} if self.max_params_how else {}),
            "val_rule": self.val_rule,
            "val_how": self.val_how,
            "test_rule": self.test_rule,
            "split_counts": self.split_counts(),
            "description": self.description,
            **({"target_range": list(self.target_range)} if self.target_range is not None else {}),
            **({"target_range_how": self.target_range_how} if self.target_range_how else {}),
        }


def data_digest(task: Task, salt: str = "") -> str:
    """A short digest (16 hex digits) of ``salt`` and a task's train and test tables: what a run's scores or a
    cache were computed on (a table edited since gives another digest)."""
    h = hashlib.sha256(salt.encode())
    for df in (task.train, task.test):
        h.update(df.to_csv(index=False).encode())
    return h.hexdigest()[:16]
