"""The bundled corpus against a ground truth read by hand (tests/data/corpus_truth.yaml).

Every document's 文号, title, dates, type, level, structure and a few clause texts are
checked; the truth file was written by reading the texts, not by running the parser.
"""

from __future__ import annotations

from datetime import date

import pytest

from huiqi.ingest.model import Document
from huiqi.ingest.text import squeeze

pytestmark = pytest.mark.usefixtures("corpus_docs", "truth")


def _find(docs: list[Document], entry: dict) -> Document:
    want = squeeze(entry["title"])
    hits = [d for d in docs if d.source == entry["source"] and squeeze(d.title) == want]
    assert hits, f"no document titled {entry['title']!r} in {entry['source']}"
    return hits[0]


def _date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def test_every_document_found_once(corpus_docs, truth):
    assert len(corpus_docs) == len(truth)
    for entry in truth:
        _find(corpus_docs, entry)


def _top_level(doc: Document) -> int:
    roots = [c for c in doc.clauses if c.kind not in ("preamble", "flat")]
    articles = [c for c in doc.walk() if c.kind == "article"]
    return len(articles) if articles else len(roots)


FIELDS = ["doc_number", "issued_on", "effective_from", "effective_to", "doc_type", "level"]


@pytest.mark.parametrize("field", [*FIELDS, "issuers", "top_level_count", "first_line", "parent"])
def test_metadata_field(corpus_docs, truth, field):
    problems = []
    for entry in truth:
        doc = _find(corpus_docs, entry)
        if field in ("issued_on", "effective_from", "effective_to"):
            got, want = getattr(doc, field), _date(entry[field])
        elif field == "issuers":
            got, want = doc.issuers, entry["issuers"]
        elif field == "top_level_count":
            got, want = _top_level(doc), entry["top_level_count"]
        elif field == "first_line":
            got, want = doc.line_start, entry["first_line"]
        elif field == "parent":
            got = squeeze(doc.parent_title) if doc.parent_title else None
            want = squeeze(entry["attached_to"]) if entry["attached_to"] else None
        else:
            got, want = getattr(doc, field), entry[field]
        if got != want:
            problems.append(
                f"{entry['source'][:3]}:{entry['first_line']} {entry['title'][:24]}: {got!r} != {want!r}"
            )
    assert not problems, "\n".join(problems)


def test_clause_texts_by_citation(corpus_docs, truth):
    problems = []
    for entry in truth:
        doc = _find(corpus_docs, entry)
        by_label = {}
        for c in doc.walk():
            by_label.setdefault(c.label, c)
        for clause in entry.get("clauses") or []:
            node = by_label.get(clause["label"])
            if node is None:
                problems.append(f"{entry['title'][:20]}: no clause {clause['label']}")
                continue
            if clause["starts_with"] not in node.text[:80]:
                problems.append(
                    f"{entry['title'][:20]} {clause['label']}: {node.text[:40]!r} lacks {clause['starts_with']!r}"
                )
    assert not problems, "\n".join(problems)


def test_repeals(corpus_docs, truth):
    problems = []
    for entry in truth:
        doc = _find(corpus_docs, entry)
        got = {
            r.target_number or squeeze(r.target_title or "")
            for r in doc.relations
            if r.kind == "repeals"
        }
        for want in entry.get("repeals") or []:
            from huiqi.ingest.text import canonical_doc_number

            key = canonical_doc_number(want) or squeeze(want).strip("《》")
            if key not in got and not any(key in g for g in got):
                problems.append(f"{entry['title'][:20]}: repeal of {want} not found in {got}")
    assert not problems, "\n".join(problems)
