"""Huge or hostile user tables: each gets one `error:` line from `evosld discover --csv`, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosld.errors import DataError
from evosld.tasks import task_from_frame
from evosld.tasks.tables import MAX_ROWS
from tests.conftest import chinchilla_frame


def _discover_csv(path: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "evosld.cli", "discover", "--csv", str(path), "--features", "N,D", "--target", "loss",
         "--output", str(tmp_path / "run"), "--iterations", "2", "--quiet"],
        capture_output=True, text=True, env=dict(os.environ), timeout=300)


def _duplicated_columns(path: Path) -> None:
    df = chinchilla_frame()
    rows = "".join(f"{r.N},{r.D},{r.loss},{r.loss}\n" for r in df.itertuples())
    path.write_text("N,D,loss,loss\n" + rows)


def _text_in_numbers(path: Path) -> None:
    df = chinchilla_frame().astype({"D": object})
    df.loc[7, "D"] = "lots"
    df.to_csv(path, index=False)


def _infinite(path: Path) -> None:
    df = chinchilla_frame()
    df.loc[3, "N"] = np.inf
    df.to_csv(path, index=False)


def _all_equal_target(path: Path) -> None:
    chinchilla_frame().assign(loss=2.5).to_csv(path, index=False)


def _three_million_rows(path: Path) -> None:
    df = chinchilla_frame()
    block = "".join(f"{r.N},{r.D},{r.loss}\n" for r in df.itertuples()) * 1000
    with open(path, "w") as f:
        f.write("N,D,loss\n")
        for _ in range(3_000_000 // (len(df) * 1000) + 1):
            f.write(block)


CASES = {
    "duplicated-columns": (_duplicated_columns, "appear more than once"),
    "text-in-numbers": (_text_in_numbers, "is not numeric"),
    "infinite": (_infinite, "NaN or infinite"),
    "all-equal-target": (_all_equal_target, "has the same value"),
    "three-million-rows": (_three_million_rows, f"more than {MAX_ROWS:,} rows"),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_bad_table_gives_one_error_line(tmp_path, kind):
    make, expected = CASES[kind]
    path = tmp_path / "runs.csv"
    make(path)
    t0 = time.monotonic()
    done = _discover_csv(path, tmp_path)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], done.stderr
    assert time.monotonic() - t0 < 60  # the 3M-row file is refused after reading MAX_ROWS + 1 rows


def test_frames_from_python_are_checked_the_same_way():
    df = chinchilla_frame()
    with pytest.raises(DataError, match="more than once"):
        task_from_frame(pd.concat([df, df[["loss"]]], axis=1), ["N", "D"], "loss")
    big = pd.DataFrame({"N": np.ones(MAX_ROWS + 1), "D": 1.0, "loss": 1.0})
    with pytest.raises(DataError, match="one row per training run"):
        task_from_frame(big, ["N", "D"], "loss")
