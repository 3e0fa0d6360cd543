"""A full disk or a read-only output directory: one `error:` line, and what was committed stays resumable.

Uses a small real tmpfs (needs root, e.g. in a container); without one, the
read-only case falls back to a directory without write permission (which only
stops a non-root user) and the full-disk case is skipped.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import chinchilla_frame


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=600)


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


class Tmpfs:
    """A mounted tmpfs; ``resize`` grows it (so a run that filled it can be resumed in place)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def resize(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True)


@pytest.fixture
def small_tmpfs(tmp_path) -> Iterator[Tmpfs]:
    mnt = tmp_path / "small"
    if os.geteuid() != 0 or not _mount(mnt, "size=400k"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield Tmpfs(mnt)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def read_only_dir(tmp_path) -> Iterator[Path]:
    mnt = tmp_path / "ro"
    if os.geteuid() == 0:
        if not _mount(mnt, "size=64k,ro"):
            pytest.skip("cannot mount a read-only tmpfs here")
        try:
            yield mnt
        finally:
            subprocess.run(["umount", "-l", str(mnt)], check=False)
    else:
        mnt.mkdir()
        mnt.chmod(0o555)
        try:
            yield mnt
        finally:
            mnt.chmod(0o755)


@pytest.fixture
def csv(tmp_path) -> Path:
    path = tmp_path / "runs.csv"
    chinchilla_frame().to_csv(path, index=False)
    return path


def _one_error_line(done: subprocess.CompletedProcess) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_read_only_output_directory(csv, read_only_dir):
    done = _cli("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss",
                "--output", str(read_only_dir / "run"), "--iterations", "2", "--quiet")
    line = _one_error_line(done)
    assert "cannot write into" in line and "--output" in line


def _evaluations(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM evaluations").fetchone()[0])
    finally:
        con.close()


def test_full_disk_keeps_what_was_committed_and_resumes(csv, small_tmpfs):
    run = small_tmpfs.path / "run"
    done = _cli("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--output", str(run),
                "--iterations", "100000", "--budget-seconds", "300", "--quiet")
    line = _one_error_line(done)
    assert "disk is full" in line or "No space left" in line, line
    kept = _evaluations(run / "run.sqlite")
    assert kept > 0  # readable after the failure
    small_tmpfs.resize("16m")
    done = _cli("discover", "--resume", str(run), "--iterations", str(kept + 2), "--quiet")
    assert done.returncode == 0, done.stderr
    assert _evaluations(run / "run.sqlite") >= kept
    assert (run / "best.json").is_file() and (run / "report.html").is_file()
