"""Published SLDBench leaderboard programs run unchanged through `evosld eval` and give their R².

The fixtures in tests/leaderboard_programs/ are SLDAgent programs copied from the
SLDBench leaderboard (source and licence in each file's header). Each is
deterministic (seeded starts, no global search without a seed), so its test R²
on the SLDBench tables is a number the leaderboard printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "leaderboard_programs"

#: (task, fixture, leaderboard test R², tolerance). parallel reproduces to the
#: printed digits. The easy_question program fits six non-convex parameters by
#: finite-difference L-BFGS-B from a handful of starts; on these tables it lands
#: 1.8e-4 above its printed figure (0.670708 vs 0.670530), hence the looser bound.
CASES = [
    ("parallel_scaling_law", "parallel_sldagent_gpt5_run2.py", 0.999912, 1e-6),
    ("easy_question_scaling_law", "easy_question_sldagent_gpt5_run4.py", 0.670530, 1e-3),
]


@pytest.mark.data
@pytest.mark.slow
@pytest.mark.parametrize(("task", "fixture", "published", "tol"), CASES, ids=[c[0] for c in CASES])
def test_published_program_reproduces_its_leaderboard_r2(task, fixture, published, tol, data_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "evosld.cli", "eval", str(FIXTURES / fixture), "--task", task,
         "--split", "test", "--json", "--data-dir", str(data_dir)],
        capture_output=True, text=True, env=dict(os.environ), timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["r2"] == pytest.approx(published, abs=tol), result
