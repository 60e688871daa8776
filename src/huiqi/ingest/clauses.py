"""Build a clause tree from a document's body lines.

Both numbering families occur, sometimes mixed: 第一章 / 第一节 / 第一条 (also 第17条) for
办法 and 条例, and 一、 （一） 1. （1） ① for 意见 and 方案. Each marker has a rank; a marker
closes every open clause of its rank or deeper and opens a child of what remains. Item
markers are checked against the running sequence (2. follows 1.), which is what lets us
split bodies that a web page glued onto one line (` 一、总体要求 … 1.时间节点:…`) without
mistaking a number inside a sentence for a clause.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .model import Clause
from .text import cn_to_int, halfwidth, int_to_cn

_NUM = r"[一二三四五六七八九十百千零〇○两\d]+"
CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"


@dataclass(frozen=True)
class Family:
    kind: str
    rank: float
    pattern: re.Pattern[str]
    path_prefix: str
    inline: bool  # may be recognised inside a line (after white space)
    # Inside a line, Arabic numbers are often quantities: accept them only in sequence.
    # 二、 and （二） after white space are markers even when a list lost its first item.
    strict: bool = False


# PDF and Word copies space out the digits of a number: 第 2 1 条.
_NUM_SP = r"[一二三四五六七八九十百千零〇○两\d](?:[ \u3000]?[一二三四五六七八九十百千零〇○两\d])*"
FAMILIES = [
    Family("chapter", 1, re.compile(rf"第\s*({_NUM_SP})\s*章"), "c", False),
    Family("section", 2, re.compile(rf"第\s*({_NUM_SP})\s*节"), "s", False),
    Family("article", 3, re.compile(rf"第\s*({_NUM_SP})\s*条"), "a", False),
    Family("item1", 4, re.compile(r"([一二三四五六七八九十]{1,3})\s?、"), "i", True),
    # ㈠ … ㈩: one character for （一） … （十） in some sites' fonts
    Family("item2", 5, re.compile(r"\(([一二三四五六七八九十]{1,3})\)|([㈠-㈩])"), "p", True),
    # 1. and 1、 are separate lists: a 1、 list nests inside a 1. item.
    Family("item3", 6, re.compile(r"(\d{1,2})\s?\.(?!\d)"), "n", True, True),
    Family("item3b", 6, re.compile(r"(\d{1,2})、"), "n", True, True),
    Family("item4", 7, re.compile(r"\((\d{1,2})\)"), "q", True, True),
    Family("item5", 8, re.compile(f"([{CIRCLED}])"), "r", True, True),
]
_BY_KIND = {f.kind: f for f in FAMILIES}
# Articles numbered inside parts (一、…（一）…第一条…二、…第四条): the document itself says the
# parts hold the articles, so there an article ranks below the item families.
NESTED_ARTICLE = Family("article", 5.5, _BY_KIND["article"].pattern, "a", False)
_INLINE_START = re.compile(r"(?<=\s)(?=[一二三四五六七八九十\d(（①-⑳㈠-㈩])")
# Articles glued onto one line (…。第二条 …): only after a sentence end, and only in sequence.
_INLINE_ARTICLE = re.compile(rf"(?<=[。；;])\s*(?=第\s*{_NUM}\s*条)")


@dataclass
class Marker:
    family: Family
    number: int
    length: int  # characters of the marker in the (half-width) text


def _number(family: Family, raw: str) -> int:
    if family.kind == "item5":
        return CIRCLED.index(raw) + 1
    if "㈠" <= raw <= "㈩":
        return ord(raw) - ord("㈠") + 1
    return cn_to_int(
        raw.replace(" ", "").replace("\u3000", "") if " " in raw or "\u3000" in raw else raw
    )


def match_marker(text: str, pos: int = 0, nested: bool = False) -> Marker | None:
    """The numbering marker at `pos` in `text` (already half-width), if any.

    Matching in place (not on a slice) keeps a long line with many candidates linear.
    """
    for family in FAMILIES:
        m = family.pattern.match(text, pos)
        if m:
            if nested and family.kind == "article":
                family = NESTED_ARTICLE
            raw = m.group(1) if m.group(1) is not None else m.group(m.lastindex or 1)
            try:
                return Marker(family, _number(family, raw), m.end() - pos)
            except ValueError:
                return None
    return None


def canonical_label(kind: str, number: int) -> str:
    return {
        "chapter": f"第{int_to_cn(number)}章",
        "section": f"第{int_to_cn(number)}节",
        "article": f"第{int_to_cn(number)}条",
        "item1": int_to_cn(number),
        "item2": f"（{int_to_cn(number)}）",
        "item3": str(number),
        "item3b": str(number),
        "item4": f"（{number}）",
        "item5": CIRCLED[number - 1] if 0 < number <= len(CIRCLED) else f"({number})",
    }[kind]


class TreeBuilder:
    def __init__(self) -> None:
        self.roots: list[Clause] = []
        self.stack: list[tuple[Family | None, Clause]] = []
        self.preamble: Clause | None = None
        self.extra: dict[int, tuple[Clause, list[str]]] = {}  # paragraphs added to a clause

    # -- placing markers -------------------------------------------------------------
    def _nearest(self, family: Family) -> int | None:
        for i in range(len(self.stack) - 1, -1, -1):
            fam = self.stack[i][0]
            if fam is not None and fam.kind == family.kind:
                return i
        return None

    def fits(self, marker: Marker, inline: bool) -> bool:
        """Whether a marker continues the structure (strict for markers inside a line)."""
        fam = marker.family
        if fam.kind == "article" and inline:
            i = self._nearest(fam)
            return i is not None and marker.number == (self.stack[i][1].number or 0) + 1
        if fam.rank <= 3:
            return not inline
        if not inline or not fam.strict:
            return True
        i = self._nearest(fam)
        if i is not None:
            prev = self.stack[i][1].number or 0
            return marker.number in (prev + 1, 1)
        return marker.number == 1

    def open(self, marker: Marker, line_no: int, text: str) -> Clause:
        fam = marker.family
        i = self._nearest(fam) if fam.rank > 3 else None
        if fam.rank <= 3:
            while (
                self.stack and self.stack[-1][0] is not None and self.stack[-1][0].rank >= fam.rank
            ):
                self.stack.pop()
        elif i is not None and (
            marker.number == (self.stack[i][1].number or 0) + 1 or marker.number == 1
        ):
            # next sibling, or the same list numbered afresh: never nested in itself
            del self.stack[i:]
        elif i is not None:
            del self.stack[i:]  # out-of-sequence number at a line start: a sibling anyway
        else:
            while (
                self.stack and self.stack[-1][0] is not None and self.stack[-1][0].rank > fam.rank
            ):
                self.stack.pop()
        clause = Clause(
            kind="item3" if fam.kind == "item3b" else fam.kind,
            number=marker.number,
            label=canonical_label(fam.kind, marker.number),
            path="",
            text=text,
            line_start=line_no,
            line_end=line_no,
        )
        parent = self.stack[-1][1] if self.stack else None
        (parent.children if parent else self.roots).append(clause)
        self.stack.append((fam, clause))
        return clause

    def add_text(self, line_no: int, text: str) -> None:
        if self.stack:
            target = self.stack[-1][1]
        else:
            if self.preamble is None:
                self.preamble = Clause("preamble", None, "", "preamble", line_start=line_no)
                self.roots.append(self.preamble)
            target = self.preamble
        # Paragraphs are collected and joined once (`finish`): appending to the string
        # each time copied it, quadratic for a long unnumbered text.
        pieces = self.extra.setdefault(id(target), (target, [target.text] if target.text else []))
        pieces[1].append(text)
        target.line_end = line_no
        for _, open_clause in self.stack:
            open_clause.line_end = line_no

    def finish(self) -> list[Clause]:
        for clause, pieces in self.extra.values():
            clause.text = "\n".join(pieces)
        self.extra.clear()
        return self.roots


def _split_inline(text: str) -> list[int]:
    """Offsets inside a line where an item marker follows white space, or an article
    marker follows the end of a sentence."""
    offsets = {m.start() for m in _INLINE_START.finditer(text)}
    offsets.update(m.end() for m in _INLINE_ARTICLE.finditer(text))
    return sorted(offsets)


def build_tree(lines: list[tuple[int, str]]) -> tuple[list[Clause], list[str]]:
    """Clause tree for body lines given as (1-based line number, text)."""
    builder = TreeBuilder()
    nested = _articles_nested(lines)
    for line_no, raw in lines:
        text = raw.strip()
        if not text:
            continue
        norm = halfwidth(text)  # same length as text: offsets carry over
        marker = match_marker(norm, 0, nested)
        pending: Clause | None = None
        if marker and builder.fits(marker, inline=False):
            pending = builder.open(marker, line_no, "")
        seg_start = 0
        # Further markers glued onto the same line, each checked against the tree as it
        # stands once the pieces before it are placed.
        for offset in _split_inline(norm):
            m = match_marker(norm, offset, nested)
            if m is None or not _inline_family(m) or not _plausible_inline(norm, offset, m):
                continue
            if builder.fits(m, inline=True):
                _finish(builder, pending, line_no, text[seg_start:offset])
                pending = builder.open(m, line_no, "")
                seg_start = offset
        _finish(builder, pending, line_no, text[seg_start:])
    roots = builder.finish()
    warnings: list[str] = []
    if roots and all(c.kind == "preamble" for c in roots):
        roots[0].kind, roots[0].path = "flat", "body"
        warnings.append("未识别到条款编号，正文作为一个整体保存")
    assign_paths(roots)
    return roots, warnings


_PART_START = re.compile(r"\s*[一二三四五六七八九十]{1,3}\s?、")


def _articles_nested(lines: list[tuple[int, str]]) -> bool:
    """Whether parts (一、) hold the articles: a part opens before the first article, and
    another part follows an article, with no chapter or section in the document."""
    if not any(_PART_START.match(raw) for _, raw in lines):  # cheap: most texts have no 一、
        return False
    kinds = []
    for _, raw in lines:
        m = match_marker(halfwidth(raw.strip()))
        if m and m.family.kind in ("chapter", "section", "article", "item1"):
            kinds.append(m.family.kind)
    if "article" not in kinds or "chapter" in kinds or "section" in kinds:
        return False
    first = kinds.index("article")
    return "item1" in kinds[:first] and "item1" in kinds[first:]


def _finish(builder: TreeBuilder, clause: Clause | None, line_no: int, segment: str) -> None:
    segment = segment.strip()
    if clause is not None:
        clause.text = segment
    elif segment:
        builder.add_text(line_no, segment)


def _inline_family(marker: Marker) -> bool:
    return marker.family.inline or marker.family.kind == "article"


def _plausible_inline(norm: str, offset: int, marker: Marker) -> bool:
    """An inline marker must be followed by text, not be the tail of a number or list."""
    end = offset + marker.length
    if marker.family.kind == "article":  # 第二条 may be followed by a space, then its text
        return bool(norm[end : end + 40].strip())
    after = norm[end : end + 1]
    return bool(after) and not after.isspace()


def assign_paths(roots: list[Clause]) -> None:
    """Give every clause a path and a label chain; articles restart the chain."""

    def visit(nodes: list[Clause], path: list[str], label: list[str]) -> None:
        seen: dict[str, int] = {}
        for node in nodes:
            if node.kind in ("preamble", "flat"):
                node.label = "序言" if node.kind == "preamble" else "正文"
                visit(node.children, path, label)
                continue
            fam = _BY_KIND[node.kind]
            seg = f"{fam.path_prefix}{node.number}"
            if node.kind == "article":
                p, lab = [seg], [node.label]
            else:
                p, lab = [*path, seg], [*label, node.label]
            key = ".".join(p)
            seen[key] = seen.get(key, 0) + 1
            if seen[key] > 1:
                p[-1] = f"{seg}~{seen[key]}"
            node.path = ".".join(p)
            node.label = "".join(lab)
            visit(node.children, p, lab)

    visit(roots, [], [])
