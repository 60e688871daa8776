"""Ingest: raw files in, documents with clause trees and relations out."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .decode import IngestError, decode_bytes
from .metadata import build_document, level_hints, validity
from .model import Document, Relation
from .segment import doc_type_of, read_heading, split_attachments, split_compilation
from .text import find_doc_numbers, halfwidth, int_to_cn, squeeze


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be read
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files read


def parse_text(text: str, source: str) -> list[Document]:
    """All documents of one decoded file."""
    lines = list(enumerate(text.split("\n"), start=1))
    documents: list[Document] = []
    for chunk in split_compilation(lines):
        raw = read_heading(chunk)
        raws = split_attachments(raw)
        notice_doc: Document | None = None
        for r in raws:
            doc = build_document(r, source)
            if r.parent is None:
                notice_doc = doc
            elif notice_doc is not None:
                _link_attachment(notice_doc, doc)
            documents.append(doc)
        if notice_doc is not None and raw.attachment_titles:
            _record_unprinted_attachments(notice_doc, raw.attachment_titles, documents)
    for doc in documents:
        _finish(doc)
    return documents


def _link_attachment(notice: Document, doc: Document) -> None:
    doc.parent_title = notice.title
    doc.parent_number = notice.doc_number
    doc.issuers = doc.issuers or list(notice.issuers)
    if doc.issued_on is None:
        doc.issued_on = notice.issued_on
        validity(doc, {})  # 自印发之日起施行, 有效期五年 count from the notice's date
    notice.relations.append(Relation("attaches", doc.title, None, evidence="印发"))
    doc.relations.append(Relation("attached_to", notice.title, notice.doc_number, evidence="印发"))


def _record_unprinted_attachments(notice: Document, titles: list[str], docs: list[Document]):
    """Attachments named by the notice whose text is not in the file: external references."""
    printed = {squeeze(d.title) for d in docs}
    for title in titles:
        if squeeze(title) not in printed and not any(
            r.kind == "attaches" and squeeze(r.target_title or "") == squeeze(title)
            for r in notice.relations
        ):
            notice.relations.append(
                Relation("attaches", title, None, evidence="印发（正文未收录）")
            )


def _finish(doc: Document) -> None:
    if not doc.level:
        doc.level = _level(doc)
    if not doc.title:
        doc.title_in_text = False
        doc.title = _headless_title(doc)
        doc.warnings.append("标题缺失：由正文推断")
    doc.assign_id()
    _finish_citations(doc)


def _level(doc: Document) -> str | None:
    if doc.part and "国家" in doc.part:
        return "national"
    probes = [*doc.issuers, doc.doc_number or "", doc.title or "", doc.parent_title or ""]
    for level, pattern in level_hints():
        if any(pattern.search(p) for p in probes if p):
            return level
    return None


def _headless_title(doc: Document) -> str:
    """A notice whose heading is missing: name it after what it issues."""
    attached = [r.target_title for r in doc.relations if r.kind == "attaches" and r.target_title]
    if attached:
        more = f"等{int_to_cn(len(attached))}个文件" if len(attached) > 1 else ""
        return f"关于印发{attached[0]}{more}的通知"
    first = next((c.text for c in doc.walk() if c.text), "")
    return first[:30] or "（无标题）"


# --- files --------------------------------------------------------------------------------


def read_file(path: Path) -> tuple[str, str]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise IngestError(f"{path}: 无法读取（{exc.strerror}）") from exc
    return decode_bytes(data, str(path))


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(
                sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() == ".txt")
            )
        else:
            out.append(p)
    return out


def ingest_paths(paths: Iterable[Path]) -> IngestResult:
    result = IngestResult()
    for path in expand_paths(paths):
        try:
            text, _encoding = read_file(path)
        except IngestError as exc:
            result.errors.append(str(exc))
            continue
        result.files.append(path.name)
        result.documents.extend(parse_text(text, path.name))
    result.documents = _unique(result.documents, result.warnings)
    resolve(result.documents)
    for doc in result.documents:
        for w in doc.warnings:
            result.warnings.append(f"{doc.source}:{doc.line_start} 《{doc.title}》: {w}")
    return result


def _unique(documents: list[Document], warnings: list[str]) -> list[Document]:
    """The same document read twice (in two files or twice in one) is kept once."""
    seen: dict[str, Document] = {}
    for doc in documents:
        first = seen.setdefault(doc.id, doc)
        if first is not doc:
            warnings.append(
                f"{doc.source}:{doc.line_start} 《{doc.title}》与 {first.source}:{first.line_start} 重复，只保留一份"
            )
    return list(seen.values())


# --- across documents -----------------------------------------------------------------------


def resolve(documents: list[Document], known: list[Document] | None = None) -> None:
    """Link relations to documents in the library; recover missing headings from citations."""
    pool = list(documents) + list(known or [])
    _recover_headless(documents, pool)
    by_number = {d.doc_number: d for d in pool if d.doc_number}
    by_title: dict[str, Document] = {}
    for d in pool:
        by_title.setdefault(_title_key(d.title), d)
    for doc in documents:
        for rel in doc.relations:
            target = None
            if rel.target_number and rel.target_number in by_number:
                target = by_number[rel.target_number]
            elif rel.target_title:
                target = by_title.get(_title_key(rel.target_title))
                if (
                    target is not None
                    and rel.target_number
                    and target.doc_number
                    and (target.doc_number != rel.target_number)
                ):
                    target = None  # same title, another document (an older version)
            if target is not None and target is not doc:
                rel.target_id = target.id
                if rel.kind == "repeals" and not any(
                    r.kind == "repealed_by" and r.target_id == doc.id for r in target.relations
                ):
                    target.relations.append(
                        Relation("repealed_by", doc.title, doc.doc_number, doc.id, rel.evidence)
                    )


def _title_key(title: str) -> str:
    """Titles compared without spaces, brackets' width, or the issuer prefix."""
    flat = squeeze(halfwidth(title)).strip("《》")
    return re.sub(r"^.*?(?=关于)", "", flat) if "关于" in flat else flat


def _recover_headless(documents: list[Document], pool: list[Document]) -> None:
    """A notice without its heading takes title and 文号 from a document that cites it."""
    for doc in documents:
        if doc.title_in_text:
            continue
        attached = [r.target_title for r in doc.relations if r.kind == "attaches"]
        if not attached:
            continue
        first = squeeze(halfwidth(attached[0]))
        candidates = [
            (rel, other)
            for other in pool
            if other is not doc
            for rel in other.relations
            if rel.kind in ("cites", "repeals")
            and rel.target_title
            and "印发" in rel.target_title
            and first in squeeze(halfwidth(rel.target_title))
        ]
        if not candidates:
            continue
        # A citation that also gives the 文号 is the better witness.
        rel, other = max(candidates, key=lambda c: c[0].target_number is not None)
        doc.title = rel.target_title
        doc.doc_number = doc.doc_number or rel.target_number
        doc.warnings.append(f"标题与文号取自《{other.title}》的引用")
        m = re.match(r"(.+?)关于", doc.title)
        if m and not doc.issuers:
            from .metadata import split_issuers

            doc.issuers = split_issuers(m.group(1))
        doc.level = doc.level or _level(doc)
        doc.doc_type = doc.doc_type or doc_type_of(doc.title)
        _refresh_children(doc, documents)
        _finish_citations(doc)


def _refresh_children(notice: Document, documents: list[Document]) -> None:
    """Attachments of a recovered notice take its new title and 文号."""
    issued = {squeeze(r.target_title or "") for r in notice.relations if r.kind == "attaches"}
    for d in documents:
        if d.source != notice.source or d.parent_number is not None:
            continue
        if squeeze(d.title) not in issued:
            continue
        for rel in d.relations:
            if rel.kind == "attached_to":
                rel.target_title, rel.target_number = notice.title, notice.doc_number
        d.parent_title = notice.title
        d.parent_number = notice.doc_number
        d.issuers = d.issuers or list(notice.issuers)
        d.level = d.level or _level(d)
        _finish_citations(d)


def _finish_citations(doc: Document) -> None:
    prefix = doc.citation_prefix
    for clause in doc.walk():
        sep = "" if prefix.endswith(("）", "》")) else " "
        clause.citation = f"{prefix}{sep}{clause.label}"


__all__ = ["IngestError", "IngestResult", "find_doc_numbers", "ingest_paths", "parse_text"]
