"""Turn a model's answer into a new program source.

Two answer formats are understood:

* a full rewrite: the program in a fenced ```python block (the whole file, or
  only the EVOLVE block, which is then spliced into the parent);
* SEARCH/REPLACE diff blocks (the OpenEvolve format)::

      <<<<<<< SEARCH
      lines copied from the current program
      =======
      the lines that replace them
      >>>>>>> REPLACE

  applied in order to the parent source, by exact match first and then by a
  whitespace-tolerant line match.

Everything here is a pure function of text; nothing runs the code. The result
is an ``EditResult`` holding the new source or the reason there is none, phrased
so it can be shown to the model as feedback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from evosld.errors import ProgramError
from evosld.program import BLOCK_END, BLOCK_START, Program, parse_python, syntax_message
from evosld.proposers.base import NO_CHANGE

#: ``EditResult.kind`` values for unusable answers.
NO_CODE = "no_code"
DIFF_FAILED = "diff_failed"
TRUNCATED = "truncated"
STATIC_CHECK = "static_check"

_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*$", re.MULTILINE)
_DIFF = re.compile(
    r"^[ \t]*<{5,}[ \t]*SEARCH[^\n]*\n(.*?)^[ \t]*={5,}[ \t]*\n(.*?)^[ \t]*>{5,}[ \t]*REPLACE[^\n]*$",
    re.MULTILINE | re.DOTALL,
)
_DIFF_START = re.compile(r"^[ \t]*<{5,}[ \t]*SEARCH", re.MULTILINE)
_PYTHON_TAGS = {"", "python", "py", "python3", "python3.10", "python3.11", "python3.12"}


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of an answer.

    Attributes:
        code: the text between the fences.
        language: the tag after the opening fence (lower case, may be empty).
        closed: False when the answer ends before the closing fence.
    """

    code: str
    language: str
    closed: bool = True


@dataclass(frozen=True)
class DiffBlock:
    """One SEARCH/REPLACE pair."""

    search: str
    replace: str


@dataclass(frozen=True)
class EditResult:
    """The outcome of parsing an answer.

    Attributes:
        source: the new program source, or None if the answer is unusable.
        reason: why it is unusable (None on success), worded for the model.
        kind: one of ``no_code``, ``diff_failed``, ``truncated``,
            ``static_check``, ``no_change`` (None on success).
        mode: how the source was obtained: ``full`` (whole file), ``splice``
            (EVOLVE block put into the parent), ``diff`` or ``none``.
        blocks: number of diff blocks applied (diff mode only).
    """

    source: str | None
    reason: str | None = None
    kind: str | None = None
    mode: str = "none"
    blocks: int = 0

    @property
    def ok(self) -> bool:
        return self.source is not None


class DiffError(ValueError):
    """A SEARCH/REPLACE block does not match the program."""


# ---------------------------------------------------------------------------
# fenced code blocks
# ---------------------------------------------------------------------------
def code_blocks(text: str) -> list[CodeBlock]:
    """All fenced blocks of ``text`` in order; an unterminated last block has ``closed=False``."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            return blocks
        fence, language = opening.group(1), opening.group(2).lower()
        body_start = opening.end() + 1
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, body_start)
        if end is None:
            blocks.append(CodeBlock(text[body_start:], language, closed=False))
            return blocks
        blocks.append(CodeBlock(text[body_start : end.start()], language, closed=True))
        pos = end.end()


def _defines_contract(code: str) -> bool:
    return "def scaling_law_func" in code and "def fit_scaling_law" in code


def pick_code(blocks: list[CodeBlock]) -> CodeBlock | None:
    """The block holding the program: the last complete program, else the largest.

    Only python-tagged or untagged blocks count. A block "holds a program" when it
    defines both contract functions; among those the last wins (models tend to end
    with their final version). Otherwise the largest block is taken.
    """
    candidates = [b for b in blocks if b.language in _PYTHON_TAGS and b.code.strip()]
    if not candidates:
        return None
    programs = [b for b in candidates if _defines_contract(b.code)]
    if programs:
        return programs[-1]
    return max(reversed(candidates), key=lambda b: len(b.code))


def outside_code(text: str) -> str:
    """The prose of an answer: ``text`` without its fenced blocks and diff blocks."""
    text = _DIFF.sub("", text)
    out, pos = [], 0
    while True:
        opening = _FENCE.search(text, pos)
        if opening is None:
            out.append(text[pos:])
            break
        out.append(text[pos : opening.start()])
        fence = opening.group(1)
        closing = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.MULTILINE)
        end = closing.search(text, opening.end() + 1)
        if end is None:
            break
        pos = end.end()
    return re.sub(r"\n{3,}", "\n\n", "".join(out)).strip()


# ---------------------------------------------------------------------------
# SEARCH/REPLACE diffs
# ---------------------------------------------------------------------------
def diff_blocks(text: str) -> list[DiffBlock]:
    """The SEARCH/REPLACE blocks of ``text``, in order."""
    return [DiffBlock(m.group(1), m.group(2)) for m in _DIFF.finditer(text)]


def has_unterminated_diff(text: str) -> bool:
    """True when a SEARCH marker opens a block that never reaches REPLACE."""
    return len(_DIFF_START.findall(text)) > len(_DIFF.findall(text))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _reindent(lines: list[str], delta: int) -> list[str]:
    if delta == 0:
        return lines
    out = []
    for ln in lines:
        if not ln.strip():
            out.append(ln)
        elif delta > 0:
            out.append(" " * delta + ln)
        else:
            cut = min(-delta, _indent(ln))
            out.append(ln[cut:])
    return out


def _line_match(source: str, block: DiffBlock) -> str | None:
    """Apply ``block`` matching lines with surrounding whitespace ignored.

    Blank lines at the ends of SEARCH are ignored; the replacement is re-indented
    by the indentation difference between SEARCH and the matched lines.
    """
    search = _trim_blank(block.search.splitlines())
    if not search:
        return None
    src_lines = source.splitlines(keepends=True)
    wanted = [ln.strip() for ln in search]
    n = len(wanted)
    for i in range(len(src_lines) - n + 1):
        if all(src_lines[i + k].strip() == wanted[k] for k in range(n)):
            delta = _indent(src_lines[i]) - _indent(search[0])
            replacement = _reindent(block.replace.splitlines(), delta)
            body = "".join(ln + "\n" for ln in replacement)
            tail = src_lines[i + n - 1]
            if not tail.endswith("\n") and body.endswith("\n"):
                body = body[:-1]
            return "".join(src_lines[:i]) + body + "".join(src_lines[i + n :])
    return None


def apply_diff(source: str, blocks: list[DiffBlock]) -> str:
    """Apply SEARCH/REPLACE ``blocks`` to ``source`` in order.

    Each SEARCH text replaces its first exact occurrence; if there is none, its
    lines are matched ignoring leading and trailing whitespace. Raises DiffError
    naming the first block that matches nowhere.
    """
    if not blocks:
        raise DiffError("no SEARCH/REPLACE blocks")
    out = source
    for k, block in enumerate(blocks, start=1):
        where = f"block {k} of {len(blocks)}"
        if not block.search.strip():
            raise DiffError(f"{where} has an empty SEARCH section")
        if block.search in out:
            out = out.replace(block.search, block.replace, 1)
            continue
        matched = _line_match(out, block)
        if matched is None:
            first = next(ln.strip() for ln in block.search.splitlines() if ln.strip())
            raise DiffError(
                f"{where}: the SEARCH text is not in the current program "
                f"(it starts with {first[:80]!r}); copy the lines exactly"
            )
        out = matched
    return out


# ---------------------------------------------------------------------------
# the whole answer
# ---------------------------------------------------------------------------
def _syntax_problem(source: str) -> tuple[str, str] | None:
    """(kind, reason) if ``source`` does not parse, telling truncation apart."""
    try:
        parse_python(source)
    except SyntaxError as exc:
        lines = source.rstrip().splitlines()
        at_end = exc.lineno is None or exc.lineno >= len(lines)
        msg = (exc.msg or "").lower()
        unclosed = any(k in msg for k in ("eof", "never closed", "unterminated triple-quoted"))
        if unclosed or (at_end and "expected an indented block" in msg):
            return TRUNCATED, f"truncated code: the program ends mid-statement (line {exc.lineno}: {exc.msg})"
        return STATIC_CHECK, syntax_message(exc)
    return None


def check_source(source: str) -> EditResult | None:
    """None if ``source`` passes the static checks, else the failed EditResult."""
    problem = _syntax_problem(source)
    if problem is not None:
        return EditResult(None, problem[1], problem[0])
    try:
        Program(source).check()
    except ProgramError as exc:
        return EditResult(None, f"static check failed: {exc}", STATIC_CHECK)
    return None


def _finish(source: str, parent: str | None, mode: str, blocks: int = 0) -> EditResult:
    if not source.endswith("\n"):
        source += "\n"
    failed = check_source(source)
    if failed is not None:
        return EditResult(None, failed.reason, failed.kind, mode, blocks)
    if parent is not None and source.strip() == parent.strip():
        return EditResult(None, "the answer does not change the program", NO_CHANGE, mode, blocks)
    return EditResult(source, mode=mode, blocks=blocks)


def splice(code: str, parent: str | None) -> tuple[str, str]:
    """(source, mode) for a full-rewrite ``code`` given the parent's source.

    Code with EVOLVE markers, or any code when the parent has none, is the whole
    new file (``full``). Code without markers is put between the parent's markers
    (``splice``).
    """
    if parent is None or BLOCK_START in code or BLOCK_END in code:
        return code, "full"
    parent_program = Program(parent)
    if parent_program.block is None:
        return code, "full"
    return parent_program.with_block(code).source, "splice"


def parse_full(text: str, parent: str | None = None, *, finish_reason: str | None = None) -> EditResult:
    """Read a full rewrite from ``text``.

    Args:
        text: the model's answer.
        parent: the parent's source (for splicing an EVOLVE-block-only answer).
        finish_reason: the API's finish reason; ``length`` marks a cut-off answer.
    """
    blocks = code_blocks(text)
    if not blocks:
        return EditResult(None, "no code block: put the program in one ```python fenced block", NO_CODE)
    last = blocks[-1]
    if not last.closed and last.language in _PYTHON_TAGS and last.code.strip():
        return EditResult(
            None, "truncated code: the answer ends inside a code block (no closing ```)", TRUNCATED
        )
    chosen = pick_code(blocks)
    if chosen is None:
        return EditResult(None, "no code block: put the program in one ```python fenced block", NO_CODE)
    source, mode = splice(chosen.code, parent)
    result = _finish(source, parent, mode)
    if not result.ok and finish_reason == "length" and chosen is blocks[-1]:
        return EditResult(None, "truncated code: the answer hit the token limit", TRUNCATED, mode)
    return result


def parse_diff(text: str, parent: str) -> EditResult:
    """Apply the SEARCH/REPLACE blocks of ``text`` to ``parent``."""
    blocks = diff_blocks(text)
    if not blocks:
        if has_unterminated_diff(text):
            return EditResult(None, "truncated code: a SEARCH/REPLACE block is not terminated", TRUNCATED)
        return EditResult(None, "no code block: no SEARCH/REPLACE blocks found", NO_CODE)
    try:
        source = apply_diff(parent, blocks)
    except DiffError as exc:
        return EditResult(None, f"diff does not apply: {exc}", DIFF_FAILED, "diff", len(blocks))
    return _finish(source, parent, "diff", len(blocks))


def parse_response(
    text: str | None,
    parent: str | None = None,
    *,
    diff_mode: bool = False,
    finish_reason: str | None = None,
) -> EditResult:
    """Turn an answer into a new source, or say why it cannot be used.

    In diff mode the SEARCH/REPLACE blocks are applied to ``parent``; an answer
    with no diff blocks but a full program is accepted as a full rewrite. In
    full mode, an answer that holds diff blocks instead of a usable program is
    applied as a diff. With no parent, only full rewrites make sense.
    """
    if text is not None:
        text = text.replace("\r\n", "\n")
    if text is None or not text.strip():
        if finish_reason == "length":
            return EditResult(None, "truncated code: the answer hit the token limit before any code", TRUNCATED)
        return EditResult(None, "no code block: the answer is empty", NO_CODE)
    diff_parent = parent if _DIFF_START.search(text) is not None else None
    if diff_parent is not None and diff_mode:
        return parse_diff(text, diff_parent)
    result = parse_full(text, parent, finish_reason=finish_reason)
    if diff_parent is not None and not result.ok:
        return parse_diff(text, diff_parent)
    if diff_mode and result.kind == NO_CODE:
        return EditResult(None, "no code block: no SEARCH/REPLACE blocks and no ```python block", NO_CODE)
    return result
