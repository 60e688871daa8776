"""The bundled corpus parsed in memory: the embedded catalogue that needs no database.

Rules checking, search and the web UI read the same documents whether or not `huiqi ingest`
has been run; parsing the bundled corpus takes well under a second and is done once per
process.
"""

from __future__ import annotations

import hashlib
import re
from functools import cache
from pathlib import Path

from ..ingest.model import Clause, Document
from ..ingest.text import canonical_doc_number, squeeze
from ..resources import bundled_corpus


@cache
def corpus_documents() -> tuple[Document, ...]:
    """Every bundled pack's corpus."""
    return documents_in(tuple(bundled_corpus()))


_PARSED: dict[tuple, tuple[Document, ...]] = {}


def documents_in(paths: tuple[Path, ...]) -> tuple[Document, ...]:
    """The documents of some corpus files (a pack's and those of the packs it extends),
    parsed once per content in a process: copies of the same texts elsewhere are not re-read."""
    key = tuple((p.name, hashlib.sha1(p.read_bytes()).hexdigest()) for p in paths)
    hit = _PARSED.get(key)
    if hit is None:
        from ..ingest.pipeline import ingest_paths  # only when texts must be parsed

        hit = _PARSED[key] = tuple(ingest_paths(paths).documents)
    return hit


def find_document(ref: str, documents: tuple[Document, ...] | None = None) -> Document | None:
    """By id, by 文号 (any bracket style) or by title (with or without 《》)."""
    docs = documents if documents is not None else corpus_documents()
    ref = ref.strip()
    for d in docs:
        if d.id == ref or (d.slug and d.slug == ref):
            return d
    number = canonical_doc_number(ref)
    if number:
        hits = [d for d in docs if d.doc_number == number]
        if hits:
            return hits[0]
    flat = squeeze(ref).strip("《》")
    for d in docs:
        if squeeze(d.title) == flat:
            return d
    return None


_NTH = re.compile(r"^(?P<label>.+?)（第(?P<n>\d+)处）$")


def find_clause(doc: Document, ref: str) -> Clause | None:
    """By the text's own numbering (第十八条, 四（三）3; 三（五）（第2处） for the second
    三（五） of a text that numbers twice), or by the parser's internal path (a18, i4.p3.n3),
    which rules do not use: paths may change when the parser does."""
    ref = ref.strip()
    nth = _NTH.match(ref)
    label, n = (nth["label"], int(nth["n"])) if nth else (ref, 1)
    seen = 0
    for c in doc.walk():
        if c.label == label:
            seen += 1
            if seen == n:
                return c
    for c in doc.walk():
        if c.path == ref:
            return c
    return None
