"""Coverage of the law by rules: which sentences that state an amount are encoded.

A sentence states an amount when it names money or a percentage (20万元, 1亿元, 15%) and a
benefit word (奖励, 补助, 补贴, 贴息, 税率, 免征 …). It is covered when a rule of the pack
quotes it (quote, context or stacking quote), marked not encodable when a `provisions` entry
quotes it with a reason, and uncovered otherwise. The goal is no uncovered sentence.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..ingest.model import Document
from ..ingest.text import halfwidth, squeeze
from ..library.catalogue import find_document
from ..packs.loader import Pack

_QUANTITY = re.compile(
    r"(?:\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千]+)\s*(?:万元|亿元|元|%|‰|‱)"
    r"|百分之[一二三四五六七八九十]+|万分之[一二三四五六七八九十]+"
)
_BENEFIT = re.compile(
    r"奖励|奖补|补助|补贴|贴息|资助|扶持|支持|给予|减按|减半|免征|减征|抵免|抵扣|加计扣除|扣除"
    r"|税率|征收率|减计|优惠|返还|退还|留成|风险补偿|担保|入股|投资|拨付"
)
_SPLIT = re.compile(r"(?<=[。；;！？!?])|\n")
MIN_PIECE = 6  # quote pieces shorter than this (a lone 分别奖励) prove nothing


@dataclass
class Sentence:
    doc_id: str
    citation: str
    path: str
    text: str
    state: str = "uncovered"  # covered, not_encodable, uncovered
    by: list[str] = field(default_factory=list)  # rule or provision ids
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "citation": self.citation,
            "path": self.path,
            "text": self.text,
            "state": self.state,
            "by": self.by,
            "reason": self.reason,
        }


@dataclass
class DocCoverage:
    doc: Document
    sentences: list[Sentence]
    rules: int = 0
    determination: Counter = field(default_factory=Counter)

    def count(self, state: str) -> int:
        return sum(1 for s in self.sentences if s.state == state)

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc.id,
            "doc_number": self.doc.doc_number,
            "title": self.doc.title,
            "amount_sentences": len(self.sentences),
            "covered": self.count("covered"),
            "not_encodable": self.count("not_encodable"),
            "uncovered": self.count("uncovered"),
            "rules": self.rules,
            "determination": dict(self.determination),
            "uncovered_sentences": [s.to_dict() for s in self.sentences if s.state == "uncovered"],
            "not_encodable_sentences": [
                s.to_dict() for s in self.sentences if s.state == "not_encodable"
            ],
        }


def states_amount(sentence: str) -> bool:
    flat = halfwidth(sentence)
    return bool(_QUANTITY.search(flat) and _BENEFIT.search(flat))


def amount_sentences(doc: Document) -> list[Sentence]:
    out = []
    for clause in doc.walk():
        for piece in _SPLIT.split(clause.text):
            text = piece.strip()
            if text and states_amount(text):
                out.append(Sentence(doc.id, clause.citation, clause.path, text))
    return out


def _pieces(quote: str) -> list[str]:
    return [p for p in (squeeze(x) for x in _SPLIT.split(quote)) if len(p) >= MIN_PIECE]


def _quotes_cover(quotes: list[str], sentence: str) -> bool:
    flat = squeeze(sentence)
    return any(p in flat or flat in p for q in quotes for p in _pieces(q))


def coverage(pack: Pack) -> list[DocCoverage]:
    """Per document of the library, its amount sentences and what covers them."""
    docs = pack.documents
    by_doc: dict[str, list[tuple[str, list[str], str | None]]] = {}
    rules_per_doc: Counter = Counter()
    determination: dict[str, Counter] = {}
    for rule in pack.rules:
        doc = find_document(rule.doc, docs)
        if doc is None:
            continue
        quotes = [rule.quote, *(c.text for c in rule.context)]
        if rule.stacking and rule.stacking.quote:
            quotes.append(rule.stacking.quote)
        by_doc.setdefault(doc.id, []).append((rule.id, quotes, None))
        rules_per_doc[doc.id] += 1
        determination.setdefault(doc.id, Counter())[rule.determination] += 1
    for param in pack.parameters.values():  # a dated value quotes the sentence that sets it
        for value in param.values:
            doc = find_document(value.citation.doc, docs)
            if doc is not None:
                by_doc.setdefault(doc.id, []).append(
                    (f"param:{param.name}", [value.citation.quote], None)
                )
    for rfile in pack.files:
        doc = find_document(rfile.doc, docs)
        if doc is None:
            continue
        for ex in rfile.exclusions:  # an encoded disqualification covers its sentence
            by_doc.setdefault(doc.id, []).append((ex.id, [ex.quote], None))
        for prov in rfile.provisions:
            by_doc.setdefault(doc.id, []).append((prov.id, [prov.quote], prov.reason))
    out = []
    for doc in docs:
        sentences = amount_sentences(doc)
        for s in sentences:
            for ident, quotes, reason in by_doc.get(doc.id, []):
                if not _quotes_cover(quotes, s.text):
                    continue
                s.by.append(ident)
                if reason is None:
                    s.state = "covered"
                elif s.state != "covered":
                    s.state, s.reason = "not_encodable", reason
        out.append(
            DocCoverage(doc, sentences, rules_per_doc[doc.id], determination.get(doc.id, Counter()))
        )
    return out
