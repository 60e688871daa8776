"""Chinese word segmentation for indexing and querying, with a policy-domain dictionary.

One jieba `Tokenizer` serves the whole process: loading its dictionary costs about half a
second and is paid on first use, never per query. Its dictionary is extended with

* the curated `terms` of the packs' search/synonyms.yaml and every word of a synonym group;
* terms derived from the documents being indexed (`derive_terms`):
  - defined terms, from （以下简称“创新券”） and similar;
  - short quoted expressions, “机器换人”, “企业宁静日”;
  - the subject of short 《》 titles and document titles, with the issuer prefix and the
    instrument suffix cut off (某市科技创新券实施管理暂行办法 → 科技创新券);
  - frequent compounds: two or three adjacent words (each at least two characters) that
    occur together at least three times and end in a head noun such as 企业, 人才, 资金,
    whose other words are nouns (jieba's part-of-speech tags), counted over the first two
    million characters of text.

Segmentation runs without jieba's HMM guesser, so a string is cut the same way in a query
and in a clause: words in the dictionary stay whole and anything else falls to single
characters. Index tokens also carry the dictionary sub-words of every long word
(高新技术企业 → 高新, 技术, 企业, 高新技术), which lets a query word match inside a
compound.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable
from functools import cache
from typing import Any

from ..ingest.model import Document
from .normalize import normalize

WORD = re.compile(r"[^\W_]+")  # what FTS5's unicode61 tokenizer keeps as one token
CJK = re.compile(r"^[\u3400-\u9fff]+$")

HEADS = (
    "企业",
    "人才",
    "团队",
    "资金",
    "基金",
    "补贴",
    "奖励",
    "补助",
    "中心",
    "平台",
    "园区",
    "空间",
    "机构",
    "工程",
    "设备",
    "专项",
    "扣除",
    "优惠",
    "产业",
    "项目",
    "示范区",
    "孵化器",
)


@cache
def _title_prefix() -> re.Pattern[str]:
    """Issuer and place words that open a title; the place names are the packs' data."""
    from ..jurisdictions import bundled_registry

    places = "|".join(map(re.escape, bundled_registry().place_names()))
    return re.compile(rf"^(?:中共)?(?:(?:{places})|国家)*(?:人民政府)?(?:关于)?")


_TITLE_SUFFIX = re.compile(
    r"(?:的)?(?:实施管理暂行办法|管理暂行办法|实施办法|暂行办法|管理办法|奖励办法|办法|实施方案|"
    r"攻坚方案|行动方案|方案|实施意见|指导意见|意见|通知|规定|条例|目录|规划|措施)"
    r"(?:（[^）]*）)?$"
)


def synonyms_data() -> dict[str, Any]:
    """The packs' search dictionaries (search/dictionary.py) in the shape the segmenter and
    the query reader use."""
    from .dictionary import search_data

    data = search_data()
    return {
        "equivalents": data.equivalents,
        "abbreviations": data.abbreviations,
        "terms": data.terms,
        "stopwords": data.stopwords,
    }


def curated_terms() -> list[str]:
    data = synonyms_data()
    words = list(data["terms"])
    for group in data["equivalents"]:
        words.extend(group)
    for key, values in data["abbreviations"].items():
        words.append(key)
        words.extend(values)
    return [w for w in dict.fromkeys(normalize(w) for w in words) if len(w) >= 2]


class Segmenter:
    """A jieba tokenizer with the domain dictionary; safe to share between threads."""

    def __init__(self) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tk = jieba.Tokenizer()
        self._tk.initialize()
        self._lock = threading.Lock()
        self._added: set[str] = set()
        self._tag_table: dict[str, str] | None = None
        self.add_terms(curated_terms())

    def add_terms(self, terms: Iterable[str]) -> int:
        """Add words to the dictionary (idempotent); returns how many were new."""
        new = [t for t in (normalize(t).strip() for t in terms) if t and t not in self._added]
        with self._lock:
            for term in new:
                if WORD.fullmatch(term) and len(term) >= 2:
                    # A frequency high enough that the word stays whole wherever it occurs.
                    self._tk.add_word(term, freq=max(self._tk.FREQ.get(term, 0), 1000))
                self._added.add(term)
        return len(new)

    @property
    def terms(self) -> set[str]:
        return set(self._added)

    def words(self, text: str) -> list[str]:
        """Normalised text cut into index words (only what FTS5 keeps as tokens)."""
        norm = normalize(text)
        with self._lock:
            raw = self._tk.lcut(norm, HMM=False)
        out: list[str] = []
        for piece in raw:
            out.extend(WORD.findall(piece))
        return out

    def subwords(self, word: str) -> list[str]:
        """Dictionary words strictly inside a long word (for matching inside compounds)."""
        if len(word) < 3 or not CJK.match(word):
            return []
        freq = self._tk.FREQ
        found = []
        for size in range(len(word) - 1, 1, -1):
            for start in range(0, len(word) - size + 1):
                sub = word[start : start + size]
                if freq.get(sub):
                    found.append(sub)
        return found

    def is_word(self, word: str) -> bool:
        return bool(self._tk.FREQ.get(word))

    def tag(self, word: str) -> str | None:
        """jieba's part-of-speech tag of a base-dictionary word (the table is read once, on
        first use: about half a second), None for words it does not know."""
        if self._tag_table is None:
            table: dict[str, str] = {}
            with self._tk.get_dict_file() as f:
                for line in f:
                    parts = line.decode("utf-8").split()
                    if len(parts) == 3:
                        table[parts[0]] = parts[2]
            self._tag_table = table
        return self._tag_table.get(word)

    def tags(self, words: Iterable[str]) -> dict[str, str]:
        """Part-of-speech tags of base-dictionary words (read from jieba's dict.txt)."""
        need = set(words)
        out: dict[str, str] = {}
        with self._tk.get_dict_file() as f:
            for line in f:
                parts = line.decode("utf-8").split()
                if len(parts) == 3 and parts[0] in need:
                    out[parts[0]] = parts[2]
        return out


_segmenter: Segmenter | None = None
_segmenter_lock = threading.Lock()


def get_segmenter() -> Segmenter:
    """The process-wide segmenter (created on first use)."""
    global _segmenter
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                _segmenter = Segmenter()
    return _segmenter


# --- terms derived from the corpus ------------------------------------------------------

COMPOUND_SAMPLE_CHARS = 2_000_000  # about 14 times the bundled corpus
_DEFINED = re.compile(r"以下(?:简称|称)[为：:]?[“\"「]?([\u4e00-\u9fff]{2,10})[”\"」]?")
_QUOTED = re.compile(r"[“\"「]([\u4e00-\u9fff]{2,8})[”\"」]")
_BOOK = re.compile(r"《([^《》]{2,40})》")


def title_subject(title: str) -> str | None:
    """The subject of a title: X市科技创新券实施管理暂行办法 → 科技创新券.

    Leading verbs are cut later, in `derive_terms`, once part-of-speech tags are known.
    """
    t = normalize(re.sub(r"\s+", "", title))
    if "关于" in t:
        t = t.split("关于", 1)[1]
    t = re.sub(r"^印发", "", t)
    t = t.strip("《》")
    for _ in range(2):
        t = _TITLE_SUFFIX.sub("", t)
        t = _title_prefix().sub("", t)
    t = re.sub(r"(?:优惠)?政策$", "", t.strip('《》“”"'))
    if 4 <= len(t) <= 16 and CJK.match(t):
        return t
    return None


def derive_terms(documents: Iterable[Document], segmenter: Segmenter | None = None) -> list[str]:
    """Domain words read from the documents themselves (see the module docstring)."""
    seg = segmenter or get_segmenter()
    found: dict[str, None] = {}
    subjects: list[str] = []
    texts: list[str] = []
    for doc in documents:
        subject = title_subject(doc.title)
        if subject:
            subjects.append(subject)
        for clause in doc.walk():
            texts.append(clause.text)
    for text in texts:
        for m in _DEFINED.finditer(text):
            found[normalize(m.group(1))] = None
        for m in _QUOTED.finditer(text):
            found[normalize(m.group(1))] = None
        for m in _BOOK.finditer(text):
            subject = title_subject(m.group(1))
            if subject:
                subjects.append(subject)
    # Candidate compounds: adjacent words ending in a head noun. Counted over at most
    # COMPOUND_SAMPLE_CHARS of text, so the cost stays bounded on a large library.
    counts: Counter[str] = Counter()
    parts_of: dict[str, list[str]] = {}
    budget = COMPOUND_SAMPLE_CHARS
    for text in texts:
        budget -= len(text)
        if budget < 0:
            break
        words = seg.words(text)
        for i in range(1, len(words)):
            if words[i] not in HEADS:
                continue
            for span in (2, 3):
                if i - span + 1 < 0:
                    continue
                parts = words[i - span + 1 : i + 1]
                if all(len(p) >= 2 and CJK.match(p) for p in parts):
                    compound = "".join(parts)
                    counts[compound] += 1
                    parts_of[compound] = parts
    frequent = [c for c, n in counts.items() if n >= 3 and 4 <= len(c) <= 8]
    subject_words = {s: seg.words(s) for s in dict.fromkeys(subjects)}
    tags = seg.tags(
        {p for c in frequent for p in parts_of[c]}
        | {w for ws in subject_words.values() for w in ws}
    )

    known = seg.terms

    def nominal(word: str) -> bool:
        tag = tags.get(word)
        if tag is None:
            return word in known
        return tag[0] in "njb" or tag == "an"

    for words in subject_words.values():
        while words and not nominal(words[0]):  # 促进企业技术改造 → 企业技术改造
            words = words[1:]
        term = "".join(words)
        if 4 <= len(term) <= 10:
            found[term] = None
    for compound in frequent:
        modifiers = parts_of[compound][:-1]
        if not seg.is_word(compound) and all(nominal(p) and p not in HEADS for p in modifiers):
            found[compound] = None
    return [t for t in found if t]
