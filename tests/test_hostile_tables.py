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


def _json_lines(path: Path) -> None:
    chinchilla_frame().to_json(path, orient="records", lines=True)


def _json_records(path: Path) -> None:
    chinchilla_frame().to_json(path, orient="records")


def _parquet_bytes(path: Path) -> None:
    path.write_bytes(b"PAR1" + bytes(64))  # a Parquet file starts (and ends) with these four bytes


def _excel_bytes(path: Path) -> None:
    path.write_bytes(b"PK\x03\x04" + bytes(64))  # an .xlsx is a zip archive


CASES = {
    "json-lines": (_json_lines, "is JSON, not a CSV text file; write it as CSV, e.g. pandas.read_json("),
    "json-records": (_json_records, "is JSON, not a CSV text file"),
    "parquet": (_parquet_bytes, "is a Parquet file, not a CSV text file; write it as CSV, e.g. pandas.read_parquet("),
    "excel": (_excel_bytes, "an Excel workbook (.xlsx) or a zip archive, not a CSV text file; save the sheet as CSV"),
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
    if kind == "json-lines":
        assert "lines=True" in lines[0]


def test_a_header_that_only_looks_like_json_is_read_as_csv(tmp_path):
    path = tmp_path / "runs.csv"
    chinchilla_frame().rename(columns={"N": "[N]"}).to_csv(path, index=False)
    from evosld.tasks.loaders import task_from_csv

    task = task_from_csv(path, ["[N]", "D"], "loss")
    assert task.features == ("[N]", "D")


def test_frames_from_python_are_checked_the_same_way():
    df = chinchilla_frame()
    with pytest.raises(DataError, match="more than once"):
        task_from_frame(pd.concat([df, df[["loss"]]], axis=1), ["N", "D"], "loss")
    big = pd.DataFrame({"N": np.ones(MAX_ROWS + 1), "D": 1.0, "loss": 1.0})
    with pytest.raises(DataError, match="one row per training run"):
        task_from_frame(big, ["N", "D"], "loss")
