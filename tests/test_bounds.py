"""Search bounds read from a program, and fitted parameters that sit on them."""

from __future__ import annotations

import math

import numpy as np

from evosld.bounds import AtBound, declared_bounds, params_at_bounds, program_bounds, summarize

BOXED = '''
# EVOLVE-BLOCK-START
import numpy as np
N_LINEAR = 2
LO = np.array([-8.0, -19.066950298275703])
HI = np.array([8.0, 19.05614463252129])
N_STARTS, N_REFINE, MAX_NFEV = 48, 3, 300
# EVOLVE-BLOCK-END
'''


def test_the_box_is_read_from_the_program_the_run_fitted() -> None:
    box = declared_bounds(BOXED, ["c_0", "c_1", "alpha_1", "mu_1"])
    assert box is not None and box.names == ("c_0", "c_1", "alpha_1", "mu_1")
    assert box.lo[:2] == (-math.inf, -math.inf) and box.hi[3] == 19.05614463252129
    assert box.describe(0) == "unbounded" and box.describe(2) == "[-8, 8]"
    assert declared_bounds(BOXED).names == ("p[0]", "p[1]", "p[2]", "p[3]")  # no names: by position
    assert declared_bounds(BOXED, ["a"]).names[0] == "p[0]"  # names of the wrong length are not trusted
    assert declared_bounds("LO = [0, 1]\nHI = (2, 3)\nN_LINEAR = 0\n").hi == (2.0, 3.0)


def test_programs_without_a_box_declare_none() -> None:
    assert declared_bounds("def fit_scaling_law(x, y):\n    return [1.0]\n") is None
    assert declared_bounds("N_LINEAR = 1\nLO = np.array([0.0])\nHI = np.array([1.0, 2.0])\n") is None  # lengths differ
    assert declared_bounds("N_LINEAR = 1\nLO = np.array(lo)\nHI = np.array([1.0])\n") is None  # not a literal
    assert declared_bounds("this is not python (") is None
    assert program_bounds(BOXED, {"param_names": ["c_0", "c_1", "alpha_1", "mu_1"]}).names[3] == "mu_1"
    assert program_bounds(BOXED, {"param_names": "mu_1"}).names[3] == "p[3]"


def test_the_sft_fit_is_on_its_upper_bound() -> None:
    """sft, group cerebras/Cerebras-GPT-256M|flan: mu_1 = 19.056144632420065 against the bound 19.05614463252129."""
    box = declared_bounds(BOXED, ["c_0", "c_1", "alpha_1", "mu_1"])
    params = {
        "cerebras/Cerebras-GPT-256M|flan": [-15.934457379043458, 19.81665603948266, 0.1578643672953655,
                                            19.056144632420065],
        "MBZUAI/LaMini-GPT-124M|flan": [1.1218944078024282, 3.3395717249525934, 0.4609123949813068,
                                        2.04543577639277],
        "low": [0.0, 1e6, -8.0, 0.0],  # huge linear coefficients are never "on a bound": they have none
    }
    flags = params_at_bounds(params, box)
    assert flags == [
        AtBound("cerebras/Cerebras-GPT-256M|flan", None, 3, "mu_1", 19.056144632420065, 19.05614463252129, "upper"),
        AtBound("low", None, 2, "alpha_1", -8.0, -8.0, "lower"),
    ]
    assert flags[0].describe() == "mu_1 = 19.06 at its upper bound 19.06"
    assert summarize(flags, 3) == ["mu_1 at its upper bound 19.06 in 1 of 3 groups",
                                   "alpha_1 at its lower bound -8 in 1 of 3 groups"]
    # near, but not on: one per cent of the box away is a fitted value, not a stuck one
    assert params_at_bounds({"g": [0, 0, 8.0 - 0.16, 0]}, box) == []


def test_outputs_of_a_multi_output_law_are_checked_one_by_one() -> None:
    box = declared_bounds(BOXED)
    params = {"g": np.array([[0.0, 1.0, 0.5, 0.0], [0.0, 1.0, 0.5, -19.066950298275703]])}
    [flag] = params_at_bounds(params, box)
    assert (flag.group, flag.output, flag.index, flag.side) == ("g", 1, 3, "lower")
    assert params_at_bounds({"g": [1.0, 2.0]}, box) == []  # another program's shape: not this box
    assert params_at_bounds({"g": "oops"}, box) == [] and params_at_bounds(None, box) == []
    assert params_at_bounds({"g": [0, 0, 8.0, 0]}, None) == []
