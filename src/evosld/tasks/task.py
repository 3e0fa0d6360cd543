"""The Task record: what is fitted, on which rows, and how it is split."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from evosld.tasks.holdout import feature_kind, holdout_rows, scaled, val_direction

GROUP_COLUMN = "group"

#: The three splits a task exposes. ``val`` is carved from ``train``; the
#: search fits on ``train`` minus ``val`` and scores on ``val``. ``test`` is
#: scored once, for the report, after fitting on the whole of ``train``.
SPLITS = ("val", "test")


@dataclass(frozen=True)
class GroupData:
    """One group's arrays, in the task's feature order.

    Attributes:
        X: (N, F) float array, columns in ``Task.features`` order.
        y: (N,) float array for one target, (N, T) for T targets.
    """

    X: np.ndarray
    y: np.ndarray


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
    log_features: tuple[str, ...] = ()
    val_rule: str = ""
    test_rule: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

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
        """(rows to fit on, rows to score) for ``split`` in ``{"val", "test", "inner"}``."""
        if split == "val":
            return self.fit_df, self.val_df
        if split == "test":
            return self.train, self.test
        if split == "inner":
            fit = self.fit_df
            held = self.inner_mask()
            return fit.loc[~held], fit.loc[held]
        raise ValueError(f"unknown split {split!r}; use 'val', 'test' or 'inner'")

    def inner_mask(self, frac: float = 0.2, seed: int = 0) -> np.ndarray:
        """Boolean mask (len(fit_df),): the fit rows that imitate validation.

        The ``inner`` split fits on the other fit rows and scores these: per
        group, the ``frac`` share lying furthest in the direction validation
        lies from the fit rows (log scale for size-like features), or a seeded
        random share when validation has no direction (held-out mixtures).
        Neither validation nor test targets are read. Used to break ties
        between laws that validate alike (``search.selection``).
        """
        cols = list(self.features)
        kinds = tuple(feature_kind(self.train[c].to_numpy(dtype=float), c in self.log_features) for c in cols)
        fit = self.fit_df
        direction = val_direction(scaled(fit[cols].to_numpy(dtype=float), kinds),
                                  scaled(self.val_df[cols].to_numpy(dtype=float), kinds))
        rng = np.random.default_rng(seed)
        keys = fit[GROUP_COLUMN].astype(str).to_numpy()
        held = np.zeros(len(fit), dtype=bool)
        for g in self.groups:
            idx = np.flatnonzero(keys == g)
            if len(idx):
                held[idx] = holdout_rows(scaled(fit.iloc[idx][cols].to_numpy(dtype=float), kinds), direction, rng, frac)
        return held

    # ---- arrays -------------------------------------------------------
    def arrays(self, df: pd.DataFrame) -> dict[str, GroupData]:
        """Split ``df`` by group into feature and target arrays.

        Returns a dict keyed by group name (train order) of ``GroupData`` with
        X of shape (N_g, F) and y of shape (N_g,) or (N_g, T).
        """
        out: dict[str, GroupData] = {}
        keys = df[GROUP_COLUMN].astype(str)
        for g in self.groups:
            sub = df.loc[keys == g]
            if sub.empty:
                continue
            X = sub[list(self.features)].to_numpy(dtype=float)
            if len(self.targets) == 1:
                y = sub[self.targets[0]].to_numpy(dtype=float)
            else:
                y = sub[list(self.targets)].to_numpy(dtype=float)
            out[g] = GroupData(X=X, y=y)
        return out

    def split_arrays(self, split: str) -> tuple[dict[str, GroupData], dict[str, GroupData]]:
        """(fit arrays, scored arrays) per group for ``split``."""
        fit, scored = self.frames(split)
        return self.arrays(fit), self.arrays(scored)

    def search_view(self) -> Task:
        """This task with the test rows removed: what a proposer may see."""
        return replace(self, test=self.test.iloc[:0])

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
            "val_rule": self.val_rule,
            "test_rule": self.test_rule,
            "description": self.description,
        }
