"""A candidate law program: its source, EVOLVE block, static checks and size.

The contract (SLDBench / OpenEvolve): between ``# EVOLVE-BLOCK-START`` and
``# EVOLVE-BLOCK-END`` the file defines ``scaling_law_func(data_points, params)``
and ``fit_scaling_law(data_points, loss_values)``. Nothing here runs the code.
"""

from __future__ import annotations

import ast
import hashlib
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from evosld.errors import ProgramError

BLOCK_START = "# EVOLVE-BLOCK-START"
BLOCK_END = "# EVOLVE-BLOCK-END"
REQUIRED = {"scaling_law_func": 2, "fit_scaling_law": 2}

#: CPython 3.11 keeps the AST builder's recursion depth in state shared by all
#: threads, so two threads parsing at once can fail with "SystemError: AST
#: constructor recursion depth mismatch" (python/cpython#106905). Evaluations
#: and rank checks parse programs from worker threads: parse one at a time.
_PARSE_LOCK = threading.Lock()


def parse_python(source: str, mode: str = "exec") -> ast.AST:
    """``ast.parse`` made safe to call from several threads at once."""
    with _PARSE_LOCK:
        return ast.parse(source, mode=mode)


def syntax_message(exc: SyntaxError) -> str:
    """``syntax error at line N: what``; without the line when Python gives none (a NUL byte in the file)."""
    return f"syntax error at line {exc.lineno}: {exc.msg}" if exc.lineno else f"syntax error: {exc.msg}"


def source_text(text: str) -> str:
    """``text`` (a column or task name) made safe to write into a program's docstring or a ``#`` comment.

    A name is the user's: a spreadsheet header may hold a backslash (``$\\xi$``, ``C:\\runs``), three
    quotes or a line break (a wrapped cell). Pasted as it is, ``\\N`` or ``\\x`` ends a docstring in a
    syntax error and a line break ends a comment, so every candidate fails to compile. Here a backslash is
    doubled (a docstring still reads as the name), a double quote is escaped (no ``\"\"\"`` can close the
    docstring) and a control character (line breaks, NUL) is written as its escape (``\\n``).
    """
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif unicodedata.category(ch) in ("Cc", "Zl", "Zp"):
            out.append(repr(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


@dataclass(frozen=True)
class Program:
    """A candidate program's source and what can be learnt without running it."""

    source: str

    @classmethod
    def from_file(cls, path: str | Path) -> Program:
        p = Path(path)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ProgramError(f"program file not found: {p}") from None
        except (UnicodeDecodeError, IsADirectoryError) as exc:
            raise ProgramError(f"cannot read program {p}: {exc}") from None
        return cls(text)

    @property
    def digest(self) -> str:
        """Short content hash, stable across runs (identifies duplicates)."""
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    @property
    def block(self) -> str | None:
        """The text between the EVOLVE markers, or None if there are none."""
        start = self.source.find(BLOCK_START)
        end = self.source.find(BLOCK_END)
        if start < 0 or end < 0 or end < start:
            return None
        start = self.source.index("\n", start) + 1 if "\n" in self.source[start:end] else start + len(BLOCK_START)
        return self.source[start:end]

    def with_block(self, block: str) -> Program:
        """A copy whose EVOLVE block is replaced by ``block`` (whole file if no markers)."""
        if self.block is None:
            return Program(block)
        start = self.source.index("\n", self.source.find(BLOCK_START)) + 1
        end = self.source.find(BLOCK_END)
        body = block if block.endswith("\n") else block + "\n"
        return Program(self.source[:start] + body + self.source[end:])

    def check(self) -> None:
        """Raise ProgramError unless the source parses and defines both functions."""
        try:
            tree = parse_python(self.source)
        except SyntaxError as exc:
            raise ProgramError(syntax_message(exc)) from None
        defined = {
            node.name: node
            for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for name, nargs in REQUIRED.items():
            fn = defined.get(name)
            if fn is None:
                raise ProgramError(f"the program does not define {name}(...) at top level")
            if isinstance(fn, ast.AsyncFunctionDef):
                raise ProgramError(f"{name} must be a plain function, not async")
            args = fn.args
            positional = len(args.posonlyargs) + len(args.args)
            required = positional - len(args.defaults)
            if not (required <= nargs and (positional >= nargs or args.vararg is not None)):
                raise ProgramError(f"{name} must accept {nargs} positional arguments")

    def code_size(self) -> int:
        """Number of non-blank, non-comment lines of the EVOLVE block (or whole file)."""
        text = self.block if self.block is not None else self.source
        return sum(1 for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#"))
