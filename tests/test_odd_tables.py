"""Own tables as spreadsheets and people write them: each one loads, or stops with one `error:` line saying what to do."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evosld.errors import DataError
from evosld.tasks import task_from_csv
from tests.conftest import chinchilla_frame


def _tasks_csv(path: Path, *args: str) -> subprocess.CompletedProcess:
    """``evosld tasks --csv`` (loads and splits the table, no search)."""
    return subprocess.run([sys.executable, "-m", "evosld.cli", "tasks", "--csv", str(path), *args],
                          capture_output=True, text=True, env=dict(os.environ), timeout=300)


# ---------------------------------------------------------------- how the file is written
@pytest.mark.parametrize("kind", ["semicolon", "semicolon-decimal-comma", "tab", "bom-crlf", "cp1252", "spaced-header",
                                  "quoted-header"])
def test_spreadsheet_exports_load_as_the_same_table(tmp_path, kind):
    df = chinchilla_frame()
    path = tmp_path / "runs.csv"
    target = "loss"
    if kind == "semicolon":
        df.to_csv(path, index=False, sep=";")
    elif kind == "semicolon-decimal-comma":
        path.write_text(df.to_csv(index=False, sep=";").replace(".", ","))
    elif kind == "tab":
        df.to_csv(path, index=False, sep="\t")
    elif kind == "bom-crlf":
        path.write_bytes(("\ufeff" + df.to_csv(index=False, lineterminator="\r\n")).encode("utf-8"))
    elif kind == "cp1252":
        target = "pérte"
        path.write_bytes(df.rename(columns={"loss": target}).to_csv(index=False).encode("cp1252"))
    elif kind == "spaced-header":
        df.rename(columns={"N": " N", "D": "D ", "loss": " loss "}).to_csv(path, index=False)
    else:
        df.to_csv(path, index=False, quoting=1)
    task = task_from_csv(path, ["N", "D"], target, baseline="none")
    got = pd.concat([task.train, task.test]).sort_values(["N", "D"])
    want = df.sort_values(["N", "D"])
    np.testing.assert_allclose(got[target].to_numpy(), want["loss"].to_numpy(), rtol=1e-12)


def test_empty_rows_are_dropped_and_lines_still_counted_from_the_file(tmp_path):
    df = chinchilla_frame()
    lines = df.to_csv(index=False).splitlines()
    lines.insert(5, "")     # a blank line: line 6 of the file
    lines.insert(9, ",,")   # a row left empty: line 10
    path = tmp_path / "runs.csv"
    path.write_text("\n".join(lines) + "\n")
    task = task_from_csv(path, ["N", "D"], "loss", baseline="none")
    assert len(task.train) + len(task.test) == len(df)
    lines[20] = lines[20].rsplit(",", 1)[0] + ","  # line 21 of the file: no loss
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"'loss' has NaN or infinite values in line 21 of the file"):
        task_from_csv(path, ["N", "D"], "loss")


@pytest.mark.parametrize("kind, expected", [
    ("empty", "is empty"),
    ("header-only", "has no rows"),
    ("workbook", "save the sheet as CSV"),
])
def test_files_that_are_no_table_of_runs_get_one_error_line(tmp_path, kind, expected):
    path = tmp_path / "runs.csv"
    if kind == "empty":
        path.write_text("")
    elif kind == "header-only":
        path.write_text("N,D,loss\n")
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("xl/workbook.xml", "<workbook/>")
    done = _tasks_csv(path, "--features", "N,D", "--target", "loss")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert expected in lines[0]
