"""Query understanding: from what a user typed to a safe FTS5 MATCH expression.

Steps:
1. Normalise (full-width → half-width, traditional → simplified, lower case) and cut the
   text to `MAX_QUERY_CHARS`.
2. Pull out quoted phrases ("…", “…”, 「…」, 『…』, 《…》): each must occur verbatim (after
   normalisation, ignoring spaces) in the clause, its headings or the document title.
3. Place names: those outside the library's jurisdictions are noted and cut out (places.py).
4. Numbers written in words become digits (三千万 → 3000万, 一个亿 → 1亿).
5. Intents: question forms (比例是多少, 截止到几号, 去哪里办 …; pack data) say what kind of
   clause answers; they are noted and cut out, and so are filler phrases (能不能, 有没有 …).
6. Cut the rest with the same segmenter as the index; correct a word typed wrong by one
   character (typo.py); drop stop words and single characters that mean nothing alone; keep
   at most `MAX_GROUPS` distinct words.
7. Each word becomes a group of alternatives: itself plus synonyms and everyday words from
   the packs' search/synonyms.yaml (高企 → 高新技术企业; 老婆 → 配偶; 营收 → 营业收入 …).
   Alternatives that never occur in the index are dropped; a word that occurs nowhere is
   replaced by the dictionary words inside it, or reported as unmatched (never dropped
   silently). Words that are neither generic (pack data) nor frequent are essential.
8. The MATCH string is assembled only from tokens that match `[^\\W_]+` (what unicode61
   keeps as a token), each wrapped in double quotes, joined with the operators this module
   writes itself. User text can therefore never form FTS5 syntax: NEAR, AND, OR, NOT, *, ^,
   :, parentheses and quotes in a query are either dropped or searched as plain words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from .dictionary import search_data
from .normalize import normalize
from .numerals import arabic_amounts
from .places import place_matcher
from .segment import CJK, WORD, Segmenter, synonyms_data
from .typo import Correction, Vocabulary, correct

MAX_QUERY_CHARS = 500
MAX_GROUPS = 16
MAX_ALTERNATIVES = 8
GENERIC_SHARE = 0.08  # a word in more than this share of clauses is not essential

_PHRASE = re.compile(r'"([^"]*)"|“([^”]*)”|「([^」]*)」|『([^』]*)』|《([^》]*)》')
# A document number (文号): 焦政〔2017〕24号, 财税[2017]43号.
DOC_NUMBER = re.compile(r"([\u4e00-\u9fff]{1,10})[〔\[［(（](\d{4})[〕\]］)）]\s*第?(\d+)\s*号")
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_AMOUNT_WORD = re.compile(r"^[\d.零〇一二两三四五六七八九十百千万亿]+[万亿元块个]*$")


@dataclass
class Group:
    """One query word and the alternatives that satisfy it (each a tuple of index tokens)."""

    word: str
    alternatives: list[tuple[str, ...]] = field(default_factory=list)
    essential: bool = True  # the answer must contain it (not generic, not a number)
    partial: bool = False  # found nowhere as written: searched by the words inside it

    @property
    def surfaces(self) -> list[str]:
        """Strings to look for in the original text (highlighting, coverage)."""
        return ["".join(a) for a in self.alternatives]


@dataclass
class ParsedQuery:
    text: str  # as typed (possibly truncated)
    normalized: str
    groups: list[Group]
    phrases: list[str]  # normalised, without whitespace
    phrase_groups: list[Group]  # the tokens of each phrase, required in the FTS match
    truncated: bool = False
    intents: list[str] = field(default_factory=list)  # what the question asks for
    corrections: list[Correction] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # key words found in no clause
    outside_places: list[str] = field(default_factory=list)
    places: list[str] = field(default_factory=list)  # the library's own places named
    doc_numbers: list[str] = field(default_factory=list)  # 文号 named, canonical form

    @property
    def wants_amount(self) -> bool:
        """The user asks how much (多少钱): favour clauses with amounts."""
        return "amount" in self.intents or "rate" in self.intents

    @property
    def empty(self) -> bool:
        return not self.groups and not self.phrases

    @property
    def essential(self) -> list[Group]:
        return [g for g in self.groups if g.essential]

    @property
    def suggestion(self) -> str | None:
        """The query as corrected, when a word was corrected."""
        if not self.corrections:
            return None
        text = self.normalized
        for c in self.corrections:
            text = text.replace(c.wrong, c.right, 1)
        return text.strip()

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


def read_intents(text: str) -> tuple[list[str], str]:
    """The intents whose question forms occur in the text (longest form first, forms do not
    overlap), and the text with those forms and the filler phrases cut out."""
    data = search_data()
    forms = sorted(
        ((f, name) for name, it in data.intents.items() for f in it.query),
        key=lambda x: -len(x[0]),
    )
    taken = [False] * len(text)
    found: list[tuple[int, str]] = []
    for form, name in forms:
        start = text.find(form)
        while start != -1:
            end = start + len(form)
            if not any(taken[start:end]):
                found.append((start, name))
                for i in range(start, end):
                    taken[i] = True
            start = text.find(form, end)
    kept = "".join(" " if t else ch for ch, t in zip(text, taken, strict=True))
    for filler in data.fillers:
        kept = kept.replace(filler, " ")
    intents = list(dict.fromkeys(name for _, name in sorted(found)))
    return intents, kept


def hinted_intents(words: list[str]) -> list[str]:
    """Intents suggested by the query's words when no question form named one: 人才购房补贴
    asks what the user gets, i.e. the amount."""
    text = "".join(words)
    return [n for n, it in search_data().intents.items() if any(h in text for h in it.hint)]


def parse_query(
    text: str,
    segmenter: Segmenter,
    df=None,
    vocab: Vocabulary | None = None,
    clause_count: int = 0,
) -> ParsedQuery:
    """Read a query; `df(token) -> int` (the index's document frequency) prunes words
    that occur nowhere; `vocab` (the index's words) corrects typos. Never raises on any
    string."""
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
    doc_numbers = [canonical_doc_number(m) for m in DOC_NUMBER.finditer(rest)]
    outside, places, rest = place_matcher().find(rest)
    rest = arabic_amounts(rest)
    intents, rest = read_intents(rest)
    words = segmenter.words(rest)
    stops = stopwords()
    synonyms = synonym_table()
    corrections: list[Correction] = []
    if vocab is not None and df is not None and words:
        weak = [
            (len(w) == 1 and CJK.match(w) is not None and w not in stops and w not in synonyms)
            or (len(w) > 1 and CJK.match(w) is not None and df(w) == 0 and w not in synonyms)
            for w in words
        ]
        if any(weak):
            fixes = correct(words, weak, stops, vocab, search_data().confusables)
            for i, j, fix in reversed(fixes):
                words[i:j] = [fix.right]
            corrections = [f for _, _, f in fixes]
    if not intents:
        intents = hinted_intents(words)
    groups: list[Group] = []
    missing: list[list[str]] = []  # runs of adjacent words found in no clause
    seen: set[str] = set()
    generic = search_data().generic
    last_missing = -2
    for pos, word in enumerate(words):
        if word in stops or word in seen:
            continue
        if len(word) == 1 and CJK.match(word) and word not in synonyms:
            continue  # a single character alone matches unrelated sentences
        seen.add(word)
        group = _group(word, segmenter, df)
        if group is None:
            if len(word) > 1 or word in synonyms:
                if last_missing == pos - 1 and missing:
                    missing[-1].append(word)  # 外卖 骑手 → 外卖骑手
                else:
                    missing.append([word])
                last_missing = pos
            continue
        if group.partial:  # 农民工 searched as 农民: the word itself is in no clause
            missing.append([word])
            last_missing = pos
        group.essential = word not in places and _essential(group, generic, df, clause_count)
        groups.append(group)
        if len(groups) >= MAX_GROUPS:
            break
    # A key word is a noun or a word jieba does not know (外卖骑手, 农民工, 房贷); verbs and
    # other question words the library never uses (拿到, 跟着, 下来) are not worth a notice.
    unmatched = ["".join(run) for run in missing if any(_key_word(w, segmenter) for w in run)]
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
        intents=intents,
        corrections=corrections,
        unmatched=unmatched,
        outside_places=outside,
        places=list(dict.fromkeys(places)),
        doc_numbers=doc_numbers,
    )


def canonical_doc_number(m: re.Match[str]) -> str:
    return f"{m.group(1)}〔{m.group(2)}〕{int(m.group(3))}号"


def doc_number_key(doc_number: str | None) -> str | None:
    """A document's 文号 in the form `ParsedQuery.doc_numbers` uses."""
    m = DOC_NUMBER.search(normalize(doc_number or ""))
    return canonical_doc_number(m) if m else None


_KEY_TAGS = ("n", "j", "vn", "l", "i", "eng", "x")


def _key_word(word: str, segmenter: Segmenter) -> bool:
    if _NUMBER.match(word) or _AMOUNT_WORD.match(word):
        return False
    tag = segmenter.tag(word)
    return tag is None or tag.startswith(_KEY_TAGS)


def _essential(group: Group, generic: set[str], df, clause_count: int) -> bool:
    if group.word in generic or _NUMBER.match(group.word) or _AMOUNT_WORD.match(group.word):
        return False
    if df is None or clause_count <= 0:
        return True
    # The word as typed (or its first form the library uses) decides: a word the library
    # uses everywhere tells little.
    share = min(df(t) for t in group.alternatives[0]) / clause_count
    return share <= GENERIC_SHARE


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
            return Group(word, [tuple(inner)], partial=True)
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
