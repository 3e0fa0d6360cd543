"""Static checks on candidate programs."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

from evosld import program
from evosld.errors import ProgramError
from evosld.program import Program

SRC = """import numpy as np
# EVOLVE-BLOCK-START
def scaling_law_func(data_points, params):
    return params[0] * np.ones(len(data_points))

def fit_scaling_law(data_points, loss_values):
    return [loss_values.mean()]
# EVOLVE-BLOCK-END
print_me = 1
"""


def test_block_and_check():
    p = Program(SRC)
    p.check()
    assert "def scaling_law_func" in p.block
    assert "print_me" not in p.block
    assert p.code_size() == 4


def test_with_block_keeps_the_rest():
    p = Program(SRC).with_block("def scaling_law_func(x, p):\n    return x\ndef fit_scaling_law(x, y):\n    return 1\n")
    assert p.source.startswith("import numpy as np\n# EVOLVE-BLOCK-START\ndef scaling_law_func(x, p)")
    assert p.source.rstrip().endswith("print_me = 1")


@pytest.mark.parametrize(
    ("src", "msg"),
    [
        ("def scaling_law_func(x, p)\n  return 1", "syntax error at line 1"),
        ("import numpy as np\x00\n", r"^syntax error: source code string cannot contain null bytes$"),  # not "line None"
        ("def fit_scaling_law(x, y):\n    return 1\n", "does not define scaling_law_func"),
        ("def scaling_law_func(x):\n    return 1\ndef fit_scaling_law(x, y):\n    return 1\n", "2 positional"),
        ("async def scaling_law_func(x, p):\n    return 1\ndef fit_scaling_law(x, y):\n    return 1\n", "not async"),
    ],
)
def test_static_errors(src, msg):
    with pytest.raises(ProgramError, match=msg):
        Program(src).check()


def test_missing_file(tmp_path):
    with pytest.raises(ProgramError, match="not found"):
        Program.from_file(tmp_path / "x.py")


def test_programs_are_parsed_one_thread_at_a_time():
    """CPython 3.11's AST builder is not thread-safe (python/cpython#106905): a
    rank check in CI failed with "AST constructor recursion depth mismatch"."""
    done = threading.Event()
    with program._PARSE_LOCK:
        worker = threading.Thread(target=lambda: (Program(SRC).check(), done.set()))
        worker.start()
        assert not done.wait(0.2)  # waits for the parse lock
    assert done.wait(10)
    worker.join()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda _: Program(SRC).check(), range(200)))
