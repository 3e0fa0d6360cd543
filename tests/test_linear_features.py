"""A feature with a zero in it: the error names the file's lines and the option that fixes it, which works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.conftest import chinchilla_frame


def _table(tmp_path: Path) -> Path:
    df = chinchilla_frame()
    df["warmup"] = np.tile([0.0, 10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0], 6)
    df.loc[1:, "warmup"] = df.loc[1:, "warmup"].replace(0.0, 50.0)  # one zero, on line 2 of the file
    path = tmp_path / "runs.csv"
    df.to_csv(path, index=False)
    return path


def _tasks(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", "tasks", *args], capture_output=True, text=True,
                          timeout=120)


def test_a_zero_in_a_log_feature_names_the_line_and_linear_features_fixes_it(tmp_path: Path) -> None:
    csv = _table(tmp_path)
    common = ["--csv", str(csv), "--features", "N,D,warmup", "--target", "loss"]
    bad = _tasks(*common)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    [line] = bad.stderr.strip().splitlines()
    assert line.startswith("error:") and "values <= 0 in line 2 of the file (counting every line, the header too)" in line, line
    assert "--linear-features warmup" in line
    good = _tasks(*common, "--linear-features", "warmup")
    assert good.returncode == 0, good.stderr
    unknown = _tasks(*common, "--linear-features", "lr")
    assert unknown.returncode == 2 and "linear feature(s) lr are not among the features" in unknown.stderr


def test_a_task_file_declares_linear_features(tmp_path: Path) -> None:
    _table(tmp_path)
    task = tmp_path / "law.yaml"
    task.write_text("data: runs.csv\nfeatures: [N, D, warmup]\ntarget: loss\nlinear_features: [warmup]\n")
    out = _tasks(str(task))
    assert out.returncode == 0, out.stderr
