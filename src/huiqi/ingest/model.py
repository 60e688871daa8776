"""What ingest produces: documents with metadata, relations and a clause tree."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass
class Clause:
    """One numbered unit of a document (chapter, article, item) or a flat passage.

    `text` is the clause's own text (its heading line and unnumbered paragraphs, not its
    children's), exactly as in the source apart from surrounding whitespace.
    """

    kind: str  # preamble, chapter, section, article, item1..item5, flat
    number: int | None
    label: str  # canonical marker: 第十八条, 四, （三）, 3, （1）, ①
    path: str  # stable, URL-safe: a18, i4.p3.n3, preamble
    citation: str = ""  # filled once the document's citation prefix is known
    text: str = ""
    line_start: int = 0
    line_end: int = 0
    children: list[Clause] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "label": self.label,
            "kind": self.kind,
            "citation": self.citation,
            "text": self.text,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "children": [c.to_dict() for c in self.children],
        }


@dataclass
class Relation:
    kind: str  # repeals, cites, attaches (notice -> attachment), attached_to
    target_title: str | None = None
    target_number: str | None = None
    target_id: str | None = None  # resolved when the target is in the library
    evidence: str = ""  # the sentence the relation was read from

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "target_id": self.target_id,
            "target_title": self.target_title,
            "target_number": self.target_number,
            "evidence": self.evidence,
        }


@dataclass
class Document:
    title: str
    source: str  # file name
    line_start: int
    line_end: int
    doc_number: str | None = None
    title_in_text: bool = True
    issuers: list[str] = field(default_factory=list)
    issued_on: date | None = None
    published_on: date | None = None
    effective_from: date | None = None
    effective_to: date | None = None
    doc_type: str | None = None
    level: str | None = None
    status: str | None = None  # 时效性 as stated by the publisher (现行有效)
    rank: str | None = None  # 效力级别
    index_number: str | None = None  # 索引号
    part: str | None = None  # compilation part heading
    parent_title: str | None = None  # notice that issues this attachment
    parent_number: str | None = None
    relations: list[Relation] = field(default_factory=list)
    clauses: list[Clause] = field(default_factory=list)
    noise: list[str] = field(default_factory=list)  # page furniture kept out of the body
    warnings: list[str] = field(default_factory=list)
    id: str = ""
    slug: str | None = None  # a pack's stable name for it (documents.yaml); not stored
    lines_placed: int = 0  # source lines this document took (heading, metadata, body, blank)
    body_text: str = field(default="", repr=False)  # for reading metadata; not stored

    def assign_id(self) -> None:
        """A stable id from what identifies the document, not from where it was read."""
        key = f"{self.doc_number or ''}|{squeeze_title(self.title)}|{self.parent_number or ''}"
        self.id = "d" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:10]

    @property
    def citation_prefix(self) -> str:
        if self.doc_number and "〔" in self.doc_number:
            return self.doc_number
        if self.parent_number:
            return f"《{self.title}》（{self.parent_number}）"
        return f"《{self.title}》"

    def walk(self):
        for clause in self.clauses:
            yield from clause.walk()

    def in_force(self, on: date) -> bool | None:
        """Whether the document is in force on a date; None when the text does not say."""
        repealed = any(r.kind == "repealed_by" for r in self.relations)
        return in_force_on(self.effective_from or self.issued_on, self.effective_to, on, repealed)


def in_force_on(
    start: date | None, end: date | None, on: date, repealed: bool = False
) -> bool | None:
    """In force on a date given the window; None when neither end of it is known."""
    if repealed:
        return False
    if start is not None and on < start:
        return False
    if end is not None and on > end:
        return False
    return None if start is None and end is None else True


def squeeze_title(title: str) -> str:
    return "".join(title.split())
