"""Property tests: no query string can make search fail (issue 5)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.search import SearchResults, search
from huiqi.search.normalize import normalize

FTS_FRAGMENTS = [
    '"',
    "*",
    "(",
    ")",
    "NEAR",
    "NEAR(",
    "AND",
    "OR",
    "NOT",
    "^",
    ":",
    "-",
    "+",
    "{",
    "}",
    "title:",
    "body:",
    "clause_fts",
    "'",
    ";",
    "--",
    "\\",
    "%",
    "_",
    "\x00",
    "　",
    "，",
    "补贴",
    "高新技术企业",
    "研发",
    "人才",
    "near/3",
    "\u200b",
    "🙂",
    "ＡＮＤ",
    "（",
    "）",
]
PAIRS = [
    ("醫療補貼", "医疗补贴"),
    ("高新技術企業", "高新技术企业"),
    ("人才購房補貼", "人才购房补贴"),
    ("專利獎勵", "专利奖励"),
    ("兼併重組貼息", "兼并重组贴息"),
    ("科技創新券", "科技创新券"),
]

common = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(query: str) -> SearchResults:
    results = search(query, limit=5)
    assert isinstance(results, SearchResults)
    assert results.total == len(results.hits) <= 5
    results.to_dict()
    return results


@common
@given(st.text())
def test_any_unicode_string(query):
    check(query)


@common
@given(st.lists(st.sampled_from(FTS_FRAGMENTS), max_size=20).map(" ".join))
def test_fts_syntax_fragments(query):
    check(query)


@common
@given(st.lists(st.sampled_from(FTS_FRAGMENTS), max_size=20).map("".join))
def test_fts_syntax_fragments_unspaced(query):
    check(query)


@settings(max_examples=10, deadline=None)
@given(st.text(min_size=1, max_size=5), st.integers(min_value=2000, max_value=10000))
def test_very_long_queries(seed, size):
    check((seed * (size // len(seed) + 1))[:size])


def test_ten_thousand_characters():
    check("研发费用加计扣除" * 1250)
    check("(" * 10_000)
    check('"' * 9_999)


def to_fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@common
@given(
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=30),
    st.booleans(),
)
def test_full_and_half_width_mixes(query, flip):
    mixed = "".join(to_fullwidth(c) if (i % 2 == 0) == flip else c for i, c in enumerate(query))
    assert normalize(mixed) == normalize(query)  # width is folded; nothing else changes
    a, b = check(mixed), check(query)
    assert [(h.doc_id, h.path) for h in a.hits] == [(h.doc_id, h.path) for h in b.hits]


def test_fullwidth_digits_and_letters_match_halfwidth():
    a = search("小型微利企业 ５０万元")
    b = search("小型微利企业 50万元")
    assert a.hits and [(h.doc_id, h.path) for h in a.hits] == [(h.doc_id, h.path) for h in b.hits]


@pytest.mark.parametrize(("traditional", "simplified"), PAIRS)
def test_traditional_finds_the_same_clauses(traditional, simplified):
    t, s = search(traditional, limit=5), search(simplified, limit=5)
    assert s.hits
    assert [(h.doc_id, h.path) for h in t.hits] == [(h.doc_id, h.path) for h in s.hits]
