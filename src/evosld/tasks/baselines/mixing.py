"""The data mixing law as the reference for a user's table of mixtures.

When a table's features are the shares of a data mixture (fractions that sum
to one on every run) and nothing else, the law a researcher would fit by hand
is the data mixing law of Ye et al. 2024 (arXiv:2403.16952),
``L_i = c_i + k_i exp(sum_j t_ij r_j)`` per output, the human law of the
built-in domain-mixture task (``domain_mixture.py``, which fits any number of
shares and outputs). It is shown beside the pick instead of the plain power
law, whose negative powers of a share are infinite where a mixture leaves a
domain out (a held-out mixture without one of them: the plain law then has no
test score at all).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: ``Task.baseline`` (and ``--baseline``) for the data mixing law.
MIXING = "mixing"
#: How the law is named beside the pick.
MIXING_LABEL = "data mixing law c + k exp(sum_j t_j r_j) (Ye et al. 2024), one per output"
#: The built-in law file it is (``baselines/<stem>.py``).
MIXING_STEM = "domain_mixture"


def is_mixture(df: pd.DataFrame, features: Sequence[str], atol: float = 1e-3) -> bool:
    """Whether ``features`` (two or more) are a mixture's shares: in [0, 1] and summing to one on every row."""
    if len(features) < 2 or df.empty:
        return False
    X = df[list(features)].to_numpy(dtype=float)
    return bool(np.all((X >= 0) & (X <= 1)) and np.allclose(X.sum(axis=1), 1.0, atol=atol))
