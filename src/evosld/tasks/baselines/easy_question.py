"""U-shaped scaling of easy questions (Wu & Lo 2025): the paper's own curve fit.

    y(x) = c0 + c1 x + c2 x**2 + c3 x**3 + c4 x**4 + c5 x**5

x is log10 of training compute in units of 1e21 FLOPs (``log_flops``) and y
the easy-question score (``brier_score``: minus the target-conditioned Brier
score of the easiest third of the questions). The paper fits this group's
curve with a degree-5 polynomial in x (its "easy" cluster; the hard cluster
gets degree 2), before the emergence threshold, and extrapolates it beyond.
6 fitted params per group (benchmark): [c0, c1, c2, c3, c4, c5].

Reference: T.-Y. Wu and P.-Y. Lo, "U-shaped and Inverted-U Scaling behind
Emergent Abilities of Large Language Models", ICLR 2025 (arXiv:2410.01692);
fit_cluster.py of its repository (github.com/tony10101105/U-shaped-and-
Inverted-U-Scaling-behind-Emergent-Abilities-of-Large-Language-Models).

Fit: ordinary least squares, as in the paper. A quintic extrapolated past the
fitted range diverges, which is why SLDBench scores this law at R² = -1
(clipped): it is the human reference, not a good predictor.
"""

# EVOLVE-BLOCK-START
import numpy as np

_DEGREE = 5


def scaling_law_func(data_points, params):
    """Predict the easy-question score.

    Args:
        data_points: (N, 1) array, column ``log_flops``.
        params: (6,) array [c0, c1, c2, c3, c4, c5].
    Returns:
        (N,) predicted brier_score.
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    coef = np.asarray(params, dtype=float).ravel()[: _DEGREE + 1]
    return np.vander(X[:, 0], _DEGREE + 1, increasing=True) @ coef


def fit_scaling_law(data_points, loss_values):
    """Least-squares fit of the degree-5 polynomial to one group.

    Args:
        data_points: (N, 1) array of log_flops.
        loss_values: (N,) array of brier_score.
    Returns:
        (6,) array [c0, c1, c2, c3, c4, c5].
    """
    X = np.atleast_2d(np.asarray(data_points, dtype=float))
    y = np.asarray(loss_values, dtype=float).ravel()
    V = np.vander(X[:, 0], _DEGREE + 1, increasing=True)
    return np.linalg.lstsq(V, y, rcond=None)[0]


# EVOLVE-BLOCK-END
