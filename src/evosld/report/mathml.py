"""A law's LaTeX as MathML the page can show without loading anything.

``latex_to_mathml`` converts with the ``latex2mathml`` library, then rebuilds
the result from an allow-list of MathML Core elements and attributes (no
links, no namespace URL, every text escaped), so a formula read from a run
store can neither load a resource nor inject markup. Runs of upright one-letter
identifiers (what ``\\mathrm{sft\\_loss}`` becomes) are merged into one, so the
name copies as one word. A formula that does not convert cleanly (an unknown
command would show as raw ``\\command`` text) gives ``None``: the page then
shows the plain-text formula instead.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from html import escape

from latex2mathml.converter import convert

#: MathML Core presentation elements the page may contain.
ELEMENTS = frozenset({
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msub", "msup", "msubsup", "mfrac", "msqrt",
    "mroot", "mstyle", "munder", "mover", "munderover", "mtable", "mtr", "mtd", "mpadded", "mphantom",
})
#: Their attributes that change only how the formula is laid out.
ATTRIBUTES = frozenset({
    "display", "mathvariant", "stretchy", "fence", "form", "separator", "lspace", "rspace", "width", "height",
    "depth", "accent", "accentunder", "movablelimits", "largeop", "symmetric", "minsize", "maxsize",
    "linethickness", "displaystyle", "scriptlevel", "columnalign",
})
#: Elements whose text is shown as it is (a backslash there is raw LaTeX left over).
_TEXT = ("mi", "mn", "mo", "ms", "mtext")


class _Unsafe(ValueError):
    """The converted formula holds something the page should not show."""


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _merge_upright(el: ET.Element) -> None:
    """Merge adjacent ``<mi mathvariant="normal">`` children of ``el`` into one (recursively)."""
    kids = list(el)
    merged: list[ET.Element] = []
    for kid in kids:
        _merge_upright(kid)
        prev = merged[-1] if merged else None
        upright = _local(kid.tag) == "mi" and kid.get("mathvariant") == "normal" and len(kid) == 0
        if (upright and prev is not None and _local(prev.tag) == "mi" and prev.get("mathvariant") == "normal"
                and len(prev) == 0 and not (prev.tail or "").strip()):
            prev.text = (prev.text or "") + (kid.text or "")
            prev.tail = kid.tail
            continue
        merged.append(kid)
    if len(merged) != len(kids):
        for kid in kids:
            el.remove(kid)
        el.extend(merged)


def _emit(el: ET.Element, out: list[str]) -> None:
    tag = _local(el.tag)
    if tag not in ELEMENTS:
        raise _Unsafe(f"element <{tag}>")
    attrs = "".join(f' {k}="{escape(v)}"' for k, v in sorted(el.attrib.items()) if _local(k) in ATTRIBUTES)
    text = el.text or ""
    if tag in _TEXT and "\\" in text:
        raise _Unsafe(f"raw LaTeX {text!r}")
    out.append(f"<{tag}{attrs}>{escape(text, quote=False)}")
    for kid in el:
        _emit(kid, out)
        if (kid.tail or "").strip():
            raise _Unsafe("text between elements")
    out.append(f"</{tag}>")


def latex_to_mathml(latex: str, display: str = "block") -> str | None:
    """``<math>`` markup for ``latex``, or None when it does not convert cleanly.

    Args:
        latex: a formula in LaTeX (the ``latex`` of a symbolic program's meta).
        display: ``"block"`` (a formula on its own line) or ``"inline"``.
    """
    try:
        root = ET.fromstring(convert(latex))
    except Exception:  # any failure of a third-party converter means "show the text form"
        return None
    if _local(root.tag) != "math":
        return None
    _merge_upright(root)
    root.attrib.clear()
    root.set("display", display)
    out: list[str] = []
    try:
        _emit(root, out)
    except _Unsafe:
        return None
    return "".join(out)
