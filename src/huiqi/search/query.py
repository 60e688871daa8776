"""Query understanding: from what a user typed to a safe FTS5 MATCH expression.

Steps:
1. Normalise (full-width → half-width, traditional → simplified, lower case) and cut the
   text to `MAX_QUERY_CHARS`.
2. Pull out quoted phrases ("…", “…”, 「…」, 『…』, 《…》): each must occur verbatim (after
   normalisation, ignoring spaces) in the clause, its headings or the document title.
3. Cut the rest with the same segmenter as the index; drop stop words (question words such
   as 多少钱, 怎么); keep at most `MAX_GROUPS` distinct words.
4. Each word becomes a group of alternatives: itself plus synonyms and expansions from
   synonyms.yaml (高企 → 高新技术企业; 补贴 / 补助 / 资助 / 奖励; 买房 → 购房 …).
   Alternatives that never occur in the index are dropped; a word that occurs nowhere is
   replaced by the dictionary words inside it, or dropped.
5. The MATCH string is assembled only from tokens that match `[^\\W_]+` (what unicode61
   keeps as a token), each wrapped in double quotes, joined with the operators this module
   writes itself. User text can therefore never form FTS5 syntax: NEAR, AND, OR, NOT, *, ^,
   :, parentheses and quotes in a query are either dropped or searched as plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from .normalize import normalize
from .segment import WORD, Segmenter, synonyms_data

MAX_QUERY_CHARS = 500
MAX_GROUPS = 16
MAX_ALTERNATIVES = 8

_PHRASE = re.compile(r'"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』|《([^》]*)》')


@dataclass
class Group:
    """One query word and the alternatives that satisfy it (each a tuple of index tokens)."""

    word: str
    alternatives: list[tuple[str, ...]] = field(default_factory=list)

    @property
    def surfaces(self) -> list[str]:
        """Strings to look for in the original text (highlighting, coverage)."""
        return ["".join(a) for a in self.alternatives]


AMOUNT_INTENT = re.compile(r"多少|金额|几万|标准是|奖多少|补多少|给多少")


@dataclass
class ParsedQuery:
    text: str  # as typed (possibly truncated)
    normalized: str
    groups: list[Group]
    phrases: list[str]  # normalised, without whitespace
    phrase_groups: list[Group]  # the tokens of each phrase, required in the FTS match
    truncated: bool = False
    wants_amount: bool = False  # the user asks how much (多少钱): favour clauses with amounts

    @property
    def empty(self) -> bool:
        return not self.groups and not self.phrases

    def terms(self) -> list[str]:
        return [g.word for g in self.groups]

    def highlight_terms(self) -> list[str]:
        words = {s for g in self.groups for s in g.surfaces}
        words.update(self.phrases)
        for g in self.phrase_groups:
            words.update(g.surfaces)
        return sorted((w for w in words if w), key=len, reverse=True)


@cache
def synonym_table() -> dict[str, tuple[str, ...]]:
    """word → the words it also finds (normalised)."""
    data = synonyms_data()
    table: dict[str, list[str]] = {}
    for group in data["equivalents"]:
        words = [normalize(w) for w in group]
        for w in words:
            table.setdefault(w, []).extend(x for x in words if x != w)
    for key, values in data["abbreviations"].items():
        table.setdefault(normalize(key), []).extend(normalize(v) for v in values)
    return {k: tuple(dict.fromkeys(v)) for k, v in table.items()}


@cache
def stopwords() -> frozenset[str]:
    return frozenset(normalize(w) for w in synonyms_data()["stopwords"])


def parse_query(text: str, segmenter: Segmenter, df=None) -> ParsedQuery:
    """Read a query; `df(token) -> int` (the index's document frequency) prunes words
    that occur nowhere. Never raises on any string."""
    text = text if isinstance(text, str) else str(text)
    truncated = len(text) > MAX_QUERY_CHARS
    text = text[:MAX_QUERY_CHARS]
    norm = normalize(text)
    phrases: list[str] = []

    def take_phrase(m: re.Match) -> str:
        inner = next((g for g in m.groups() if g is not None), "")
        squeezed = "".join(WORD.findall(inner))
        if squeezed:
            phrases.append("".join(inner.split()))
        return " "

    rest = _PHRASE.sub(take_phrase, norm)
    words = [w for w in segmenter.words(rest) if w not in stopwords()]
    groups: list[Group] = []
    seen: set[str] = set()
    for word in words:
        if word in seen:
            continue
        seen.add(word)
        group = _group(word, segmenter, df)
        if group is not None:
            groups.append(group)
        if len(groups) >= MAX_GROUPS:
            break
    phrase_groups = []
    for phrase in phrases[:MAX_GROUPS]:
        tokens = tuple(segmenter.words(phrase))
        if tokens:
            phrase_groups.append(Group(phrase, [tokens]))
    phrases = [p for p in phrases if "".join(WORD.findall(p))][:MAX_GROUPS]
    return ParsedQuery(
        text,
        norm,
        groups,
        phrases,
        phrase_groups,
        truncated,
        wants_amount=bool(AMOUNT_INTENT.search(norm)),
    )


def _group(word: str, segmenter: Segmenter, df) -> Group | None:
    candidates = [word, *synonym_table().get(word, ())]
    alternatives: list[tuple[str, ...]] = []
    for cand in candidates:
        tokens = tuple(segmenter.words(cand))
        if tokens and tokens not in alternatives:
            alternatives.append(tokens)
    split = _decompose(word, segmenter)
    if split and split not in alternatives:
        # A compound also matches its parts written apart: 标准化良好行为企业 finds
        # 标准化良好行为称号的企业.
        alternatives.append(split)
    if df is not None:
        alternatives = [a for a in alternatives if all(df(t) > 0 for t in a)]
        if not alternatives:
            # A word the index never saw: fall back to the dictionary words inside it.
            inner = [s for s in segmenter.subwords(word) if df(s) > 0]
            inner = _maximal(inner)
            if not inner:
                return None
            alternatives = [tuple(inner)]
    if not alternatives:
        return None
    return Group(word, alternatives[:MAX_ALTERNATIVES])


def _decompose(word: str, segmenter: Segmenter) -> tuple[str, ...] | None:
    """A long word cut into shorter dictionary words (greedy, longest first), or None."""
    if len(word) < 4:
        return None
    parts: list[str] = []
    i = 0
    while i < len(word):
        for size in range(min(len(word) - i, len(word) - 1), 1, -1):
            piece = word[i : i + size]
            if segmenter.is_word(piece):
                parts.append(piece)
                i += size
                break
        else:
            return None
    return tuple(parts) if len(parts) > 1 else None


def _maximal(words: list[str]) -> list[str]:
    """Keep words not contained in a longer kept word."""
    kept: list[str] = []
    for w in sorted(words, key=len, reverse=True):
        if not any(w in k for k in kept):
            kept.append(w)
    return kept


# --- MATCH expressions ------------------------------------------------------------------


def _quote(token: str) -> str:
    if not WORD.fullmatch(token):  # cannot happen for segmenter output; belt and braces
        raise ValueError(f"not a token: {token!r}")
    return '"' + token.replace('"', '""') + '"'


def _alternative(tokens: tuple[str, ...]) -> str:
    if len(tokens) == 1:
        return _quote(tokens[0])
    return "(" + " AND ".join(_quote(t) for t in tokens) + ")"


def _group_expr(group: Group) -> str:
    alts = [_alternative(a) for a in group.alternatives]
    return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"


def match_all(parsed: ParsedQuery) -> str | None:
    """Every word (any of its alternatives) and every phrase's tokens."""
    parts = [_group_expr(g) for g in parsed.groups + parsed.phrase_groups]
    return " AND ".join(parts) if parts else None


def match_any(parsed: ParsedQuery) -> str | None:
    """Any word; phrases stay required."""
    required = [_group_expr(g) for g in parsed.phrase_groups]
    optional = [_group_expr(g) for g in parsed.groups]
    if not optional:
        return None
    any_expr = optional[0] if len(optional) == 1 else "(" + " OR ".join(optional) + ")"
    return " AND ".join([*required, any_expr])
