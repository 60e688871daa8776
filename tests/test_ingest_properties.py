"""Property tests: ingest never crashes and never loses a character of the body."""

from __future__ import annotations

import random
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.ingest.clauses import build_tree
from huiqi.ingest.pipeline import parse_text
from huiqi.ingest.segment import read_heading, split_attachments, split_compilation
from huiqi.resources import bundled_corpus

CORPUS = {p.name: p.read_text(encoding="utf-8") for p in bundled_corpus()}
REAL_LINES = [line for text in CORPUS.values() for line in text.split("\n")]

# Text that looks like policy: markers, dates, 文号, full-width digits, stray spaces.
FRAGMENTS = [
    "第一章",
    "第十二条",
    "第17条",
    "一、",
    "（二）",
    "(三)",
    "1.",
    "2、",
    "３．",
    "（1）",
    "①",
    "焦政办〔2016〕104号",
    "财税[2008]118号",
    "2017年6月6日",
    "二○○八年六月十六日",
    "2008-06-16",
    "索 引 号",
    "文　　号",
    "《焦作市科学技术奖励办法》",
    "印发",
    "通知",
    "。",
    "，",
    " ",
    "　",
    "\n",
    "给予20万元奖励",
    "第一部分 国家政策",
    "各县（市）区人民政府：",
]
policyish = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=60).map(
    "".join
)


def _chars(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _split_all(text: str):
    lines = list(enumerate(text.split("\n"), start=1))
    raws = []
    for chunk in split_compilation(lines):
        raws.extend(split_attachments(read_heading(chunk)))
    return lines, raws


def _tree_text(roots) -> str:
    out = []

    def visit(nodes):
        for n in nodes:
            out.append(n.text)
            visit(n.children)

    visit(roots)
    return "".join(out)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400), policyish))
def test_arbitrary_text_never_crashes(text):
    docs = parse_text(text, "random.txt")
    for doc in docs:
        assert doc.id
        for clause in doc.walk():
            assert clause.path and clause.citation


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=400), policyish))
def test_every_line_belongs_to_exactly_one_document(text):
    lines, raws = _split_all(text)
    # A line may be cut into pieces (a repost's title, 文号 and text glued onto one line);
    # the pieces stay in one document, so a line number never belongs to two documents.
    seen = [n for raw in raws for n in {n for n, _ in raw.header + raw.body}]
    assert len(seen) == len(set(seen))
    nonblank = {n for n, t in lines if t.strip()}
    assert nonblank <= set(seen)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.sampled_from(REAL_LINES), policyish), max_size=40))
def test_clause_tree_keeps_every_character_of_the_body(body_lines):
    lines = list(enumerate(body_lines, start=1))
    roots, _ = build_tree(lines)
    assert _tree_text(roots) == _chars("".join(body_lines)) or _chars(_tree_text(roots)) == _chars(
        "".join(body_lines)
    )


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(CORPUS)), st.randoms(use_true_random=False), st.floats(0.05, 1.0))
def test_shuffled_or_truncated_real_documents(name, rnd: random.Random, keep):
    lines = CORPUS[name].split("\n")
    cut = lines[: max(1, int(len(lines) * keep))]
    shuffled = cut[:]
    rnd.shuffle(shuffled)
    for variant in (cut, shuffled, cut[len(cut) // 3 :]):
        text = "\n".join(variant)
        docs = parse_text(text, name)
        covered = "".join(_chars(c.text) for d in docs for c in d.walk())
        _, raws = _split_all(text)
        body = "".join(_chars(t) for raw in raws for _, t in raw.body)
        assert covered == body
