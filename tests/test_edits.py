"""Parsing model answers: full rewrites, EVOLVE-block splicing, SEARCH/REPLACE diffs."""

from __future__ import annotations

import pytest

from evosld.program import Program
from evosld.proposers.llm.edits import (
    DIFF_FAILED,
    NO_CHANGE,
    NO_CODE,
    STATIC_CHECK,
    TRUNCATED,
    DiffBlock,
    DiffError,
    apply_diff,
    code_blocks,
    diff_blocks,
    outside_code,
    parse_response,
    pick_code,
)
from tests.fakes.programs import CHILD, CHILD_BLOCK, NO_FIT, PARENT


def fenced(code: str, lang: str = "python") -> str:
    return f"```{lang}\n{code.rstrip()}\n```"


def diff(*pairs: tuple[str, str]) -> str:
    return "\n".join(
        f"<<<<<<< SEARCH\n{s.rstrip(chr(10))}\n=======\n{r.rstrip(chr(10))}\n>>>>>>> REPLACE\n" for s, r in pairs
    )


# ---- code blocks ----------------------------------------------------------
def test_code_blocks_closed_and_unclosed():
    text = "intro\n```python\nx = 1\n```\nmid\n```\ny = 2\n```\n```py\nz = (\n"
    blocks = code_blocks(text)
    assert [(b.code, b.language, b.closed) for b in blocks] == [
        ("x = 1\n", "python", True),
        ("y = 2\n", "", True),
        ("z = (\n", "py", False),
    ]


def test_pick_code_prefers_last_complete_program_then_largest():
    snippet = fenced("x = 1")
    text = f"{fenced(PARENT)}\nthen a tweak\n{snippet}\nfinal:\n{fenced(CHILD)}\n{snippet}"
    assert pick_code(code_blocks(text)).code.strip() == CHILD.strip()
    small, large = "a = 1", "a = 1\nb = 2\nc = 3"
    assert pick_code(code_blocks("\n".join([fenced(small), fenced(large), fenced(small)]))).code.strip() == large
    assert pick_code(code_blocks(fenced("not code", "text"))) is None


def test_outside_code_keeps_the_prose():
    text = f"I add a bound.\n{fenced(CHILD)}\nIt should help.\n" + diff(("a", "b"))
    assert outside_code(text) == "I add a bound.\n\nIt should help."


# ---- full rewrites ----------------------------------------------------------
def test_full_rewrite_with_markers_is_the_whole_file():
    result = parse_response(f"Better start values.\n{fenced(CHILD)}", PARENT)
    assert result.ok and result.mode == "full"
    assert result.source.strip() == CHILD.strip()
    Program(result.source).check()


def test_block_only_answer_is_spliced_into_the_parent():
    result = parse_response(fenced(CHILD_BLOCK), PARENT)
    assert result.ok and result.mode == "splice"
    assert '"""A law program for the toy task."""' in result.source
    assert "def helper_outside_block" in result.source
    assert "beta = params" in Program(result.source).block
    assert result.source.count("# EVOLVE-BLOCK-START") == 1


def test_no_parent_takes_the_code_as_is():
    result = parse_response(fenced(CHILD_BLOCK), None)
    assert result.ok and result.mode == "full" and result.source.strip() == CHILD_BLOCK.strip()


@pytest.mark.parametrize("text", ["", "   ", "The law looks fine to me.", fenced("just prose", "text")])
def test_no_code_block(text):
    result = parse_response(text, PARENT)
    assert not result.ok and result.kind == NO_CODE
    assert result.reason.startswith("no code block")


def test_unclosed_fence_is_truncated():
    text = "Here:\n```python\n" + CHILD[: len(CHILD) // 2]
    result = parse_response(text, PARENT, finish_reason="length")
    assert result.kind == TRUNCATED and "truncated code" in result.reason


def test_syntax_error_at_end_of_file_is_truncated():
    cut = CHILD_BLOCK + "\n\ndef extra(a,\n    b,\n"
    result = parse_response(fenced(cut), PARENT)
    assert result.kind == TRUNCATED, result.reason


def test_empty_answer_at_token_limit_is_truncated():
    assert parse_response(None, PARENT, finish_reason="length").kind == TRUNCATED


def test_syntax_error_in_the_middle_is_a_static_check_failure():
    broken = CHILD_BLOCK.replace("def fit_scaling_law(data_points, loss_values):", "def fit_scaling_law(data_points loss_values):")
    result = parse_response(fenced(broken), PARENT)
    assert result.kind == STATIC_CHECK and "syntax error" in result.reason


def test_missing_function_fails_the_static_check():
    result = parse_response(fenced(NO_FIT), None)
    assert result.kind == STATIC_CHECK
    assert "fit_scaling_law" in result.reason and result.reason.startswith("static check failed")


def test_unchanged_program_is_rejected():
    assert parse_response(fenced(PARENT), PARENT).kind == NO_CHANGE


# ---- diffs --------------------------------------------------------------------
def test_diff_exact_match_applies_in_order():
    text = diff(
        ("    return least_squares(residuals, x0=[1.0, 10.0, 0.3]).x", "    return least_squares(residuals, x0=[2.0, 50.0, 0.25]).x"),
        ("    return 42", "    return 43"),
    )
    result = parse_response(text, PARENT, diff_mode=True)
    assert result.ok and result.mode == "diff" and result.blocks == 2
    assert "x0=[2.0, 50.0, 0.25]" in result.source and "return 43" in result.source
    assert result.source.replace("x0=[2.0, 50.0, 0.25]", "x0=[1.0, 10.0, 0.3]").replace("43", "42") == PARENT


def test_diff_in_a_fence_still_parses():
    text = "```diff\n" + diff(("    return 42", "    return 7")) + "```\n"
    result = parse_response(text, PARENT, diff_mode=True)
    assert result.ok and "return 7" in result.source


def test_diff_whitespace_tolerant_match_reindents():
    # The model dropped the indentation and added trailing spaces.
    search = "def residuals(p):   \nreturn scaling_law_func(X, p) - y"
    replace = "def residuals(p):\n    r = scaling_law_func(X, p) - y\n    return r"
    result = parse_response(diff((search, replace)), PARENT, diff_mode=True)
    assert result.ok, result.reason
    assert "    def residuals(p):\n        r = scaling_law_func(X, p) - y\n        return r\n" in result.source
    Program(result.source).check()


def test_diff_that_does_not_apply_names_the_block():
    text = diff(("    return 42", "    return 1"), ("    return a + b * N ** -alpha", "    return 0"))
    result = parse_response(text, PARENT, diff_mode=True)
    assert result.kind == DIFF_FAILED
    assert result.reason.startswith("diff does not apply: block 2 of 2")
    assert "return a + b * N ** -alpha" in result.reason


def test_apply_diff_errors():
    with pytest.raises(DiffError, match="empty SEARCH"):
        apply_diff(PARENT, [DiffBlock("  \n", "x")])
    with pytest.raises(DiffError, match="no SEARCH/REPLACE"):
        apply_diff(PARENT, [])


def test_unterminated_diff_is_truncated():
    text = "<<<<<<< SEARCH\n    return 42\n=======\n    return"
    result = parse_response(text, PARENT, diff_mode=True)
    assert result.kind == TRUNCATED


def test_diff_mode_accepts_a_full_rewrite():
    result = parse_response(fenced(CHILD), PARENT, diff_mode=True)
    assert result.ok and result.mode == "full"


def test_diff_that_breaks_the_program_fails_the_static_check():
    text = diff(("def fit_scaling_law(data_points, loss_values):", "def fit_law(data_points, loss_values):"))
    result = parse_response(text, PARENT, diff_mode=True)
    assert result.kind == STATIC_CHECK and "fit_scaling_law" in result.reason


def test_diff_blocks_parser():
    blocks = diff_blocks("x\n" + diff(("a\nb", "c"), ("d", "")))
    assert blocks == [DiffBlock("a\nb\n", "c\n"), DiffBlock("d\n", "\n")]


def test_crlf_answers_are_normalised():
    text = diff(("    return 42", "    return 5")).replace("\n", "\r\n")
    result = parse_response(text, PARENT, diff_mode=True)
    assert result.ok and "return 5" in result.source and "\r" not in result.source


def test_full_mode_still_applies_a_diff_answer():
    result = parse_response(diff(("    return 42", "    return 9")), PARENT)
    assert result.ok and result.mode == "diff" and "return 9" in result.source


def test_diff_mode_no_code_reason_mentions_both_formats():
    result = parse_response("Nothing to change.", PARENT, diff_mode=True)
    assert result.kind == NO_CODE and "SEARCH/REPLACE" in result.reason
