"""A damaged run store gets one `error:` line from every command that reads it, and is never written.

The stores are real: one short `evosld discover` run, then its run.sqlite is
truncated, overwritten, stripped of a table or stamped with a newer schema.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import chinchilla_frame


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evosld.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ), timeout=300)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("store")
    csv = root / "runs.csv"
    chinchilla_frame().to_csv(csv, index=False)
    run = root / "run"
    done = _cli("discover", "--csv", str(csv), "--features", "N,D", "--target", "loss", "--output", str(run),
                "--iterations", "4", "--quiet")
    assert done.returncode == 0, done.stderr
    return run


def _truncate(db: Path, fraction: float) -> None:
    with open(db, "r+b") as f:
        f.truncate(int(os.path.getsize(db) * fraction))


def _overwrite(db: Path) -> None:
    db.write_bytes(b"these are not the bytes of a database\n" * 100)


def _drop_table(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("DROP TABLE evaluations")
    con.commit()
    con.close()


def _newer(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()


DAMAGE = {
    "truncated-half": (lambda db: _truncate(db, 0.5), "is damaged"),
    "truncated-tail": (lambda db: _truncate(db, 0.97), "is damaged"),
    "not-a-database": (_overwrite, "not an SQLite database"),
    "wrong-schema": (_drop_table, "table 'evaluations' is missing"),
    "newer-evosld": (_newer, "newer evosld"),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_store_gives_one_error_line_and_is_left_alone(finished_run, tmp_path, kind):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    db = run / "run.sqlite"
    damage, expected = DAMAGE[kind]
    damage(db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()
    for args in (("discover", "--resume", str(run), "--quiet"), ("report", str(run)), ("eval", str(run))):
        done = _cli(*args)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (args, done.stderr)
        assert hashlib.sha256(db.read_bytes()).hexdigest() == digest, f"{args} changed the damaged store"


def test_eval_on_a_run_scores_its_chosen_law(finished_run):
    done = _cli("eval", str(finished_run), "--json")
    assert done.returncode == 0, done.stderr
    assert '"r2"' in done.stdout


def test_eval_on_a_run_scores_any_of_its_laws_by_id(finished_run):
    """`--law ID` scores another of the run's laws (the simplest one close to the pick, say) on the run's task."""
    import json

    chosen = json.loads((finished_run / "best.json").read_text())["program_id"]
    other = 1 if chosen != 1 else 2
    done = _cli("eval", str(finished_run), "--law", str(other), "--json")
    assert done.returncode == 0, done.stderr
    again = _cli("eval", str(finished_run), "--law", str(chosen), "--json")
    assert json.loads(again.stdout)["r2"] == json.loads(_cli("eval", str(finished_run), "--json").stdout)["r2"]
    for args, expected in ((("eval", str(finished_run), "--law", "99999"), "has no law 99999"),
                           (("eval", str(finished_run / "best_program.py"), "--law", "1"), "is not a run directory")):
        failed = _cli(*args)
        lines = failed.stderr.strip().splitlines()
        assert failed.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]
