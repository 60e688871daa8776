"""Ingest: raw files in, documents with clause trees and relations out.

Every line read is accounted for: it ends in exactly one document (heading, metadata, noise,
preamble, body or blank) or in one reported rejection (a duplicate, or a line no document
took), and `IngestResult` carries the counts so that callers can show and check them.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .decode import IngestError, decode
from .html import html_to_text, looks_like_html
from .metadata import build_document, level_hints, validity
from .model import Document, Relation
from .segment import (
    SALUTATION_RE,
    RawDocument,
    doc_type_of,
    read_heading,
    split_attachments,
    split_compilation,
)
from .text import find_doc_numbers, halfwidth, int_to_cn, squeeze

# Documented limits (README, "Ingest"): inputs beyond them are reported, never half-read.
MAX_FILE_BYTES = 10 * 1024 * 1024  # one policy text is a few hundred kB at most
MAX_FILES = 10_000  # files one run reads from the paths and directories given
TEXT_SUFFIXES = (".txt", ".html", ".htm")


@dataclass
class Rejection:
    """Lines of a file that no document keeps, with the reason (shown even with -q)."""

    source: str
    line_start: int
    line_end: int
    lines: int
    reason: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line_start}" + (
            f"–{self.line_end}" if self.line_end > self.line_start else ""
        )
        return f"{where}：{self.reason}（{self.lines} 行）"


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # files that could not be read
    warnings: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # files read
    skipped: list[str] = field(default_factory=list)  # files in a directory not read
    notices: list[str] = field(default_factory=list)  # duplicates, conflicts: never hidden
    rejections: list[Rejection] = field(default_factory=list)
    lines_in: int = 0  # lines of every decoded file

    @property
    def lines_placed(self) -> int:
        return sum(d.lines_placed for d in self.documents)

    @property
    def lines_reported(self) -> int:
        return sum(r.lines for r in self.rejections)

    @property
    def balanced(self) -> bool:
        return self.lines_in == self.lines_placed + self.lines_reported


def split_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines; a final line break does not start another line."""
    if text.endswith("\n"):
        text = text[:-1]
    return list(enumerate(text.split("\n"), start=1)) if text else []


def parse_text(text: str, source: str, rejections: list[Rejection] | None = None) -> list[Document]:
    """All documents of one decoded file; lines no document takes go to `rejections`."""
    lines = split_lines(text)
    documents: list[Document] = []
    raws: list[RawDocument] = []
    for chunk in split_compilation(lines):
        raw = read_heading(chunk)
        parts = split_attachments(raw)
        notice_doc: Document | None = None
        for r in parts:
            doc = build_document(r, source)
            if r.parent is None:
                notice_doc = doc
            elif notice_doc is not None:
                _link_attachment(notice_doc, doc)
            documents.append(doc)
            raws.append(r)
        if notice_doc is not None and raw.attachment_titles:
            _record_unprinted_attachments(notice_doc, raw.attachment_titles, documents)
    _account(lines, raws, documents, source, rejections)
    for doc in documents:
        _finish(doc)
    return documents


def _account(
    lines: list[tuple[int, str]],
    raws: list[RawDocument],
    documents: list[Document],
    source: str,
    rejections: list[Rejection] | None,
) -> None:
    """Each line to exactly one document; a line taken by none is reported, never lost."""
    taken: set[int] = set()
    for raw, doc in zip(raws, documents, strict=True):
        own = {n for n, _ in raw.header + raw.body} - taken
        taken |= own
        doc.lines_placed = len(own)
    missing = [n for n, _ in lines if n not in taken]
    if missing and rejections is not None:
        for start, end in _runs(missing):
            rejections.append(Rejection(source, start, end, end - start + 1, "未归入任何文件的行"))


def _runs(numbers: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted line numbers as (first, last)."""
    runs: list[tuple[int, int]] = []
    for n in numbers:
        if runs and runs[-1][1] == n - 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


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
    # The first line of text that is not the addressee (各县（市、区）人民政府…：), which
    # names no document.
    for clause in doc.walk():
        for line in clause.text.split("\n"):
            line = line.strip()
            if line and not SALUTATION_RE.match(halfwidth(line)):
                return line[:30]
    return "（无标题）"


# --- files --------------------------------------------------------------------------------

_OS_ERRORS = {
    errno.ENOENT: "文件不存在",
    errno.EACCES: "没有{doing}权限",
    errno.EPERM: "没有{doing}权限",
    errno.ELOOP: "符号链接循环",
    errno.EISDIR: "是目录，不是文件",
    errno.ENAMETOOLONG: "路径过长",
    errno.ENOTDIR: "路径中有一段不是目录",
    errno.EEXIST: "路径上已有同名文件",
    errno.ENOSPC: "磁盘空间不足",
    errno.EROFS: "文件系统只读",
}


def os_reason(exc: OSError, doing: str = "读取") -> str:
    """A Chinese reason for an OS error (strerror is English); `doing`: 读取, 写入, …"""
    found = _OS_ERRORS.get(exc.errno or 0, "无法{doing}（系统错误 " + str(exc.errno) + "）")
    return found.format(doing=doing)


def _limit_mb(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB"


def read_bytes(path: Path) -> bytes:
    """A regular file's bytes, at most MAX_FILE_BYTES; devices and FIFOs are refused
    before they are opened (reading /dev/zero never ends, opening a FIFO blocks)."""
    try:
        info = path.stat()
    except OSError as exc:
        raise IngestError(f"{path}：{os_reason(exc)}") from None
    except ValueError:  # a NUL character in the path
        raise IngestError(f"{path!s:.80}：路径中含有不允许的字符") from None
    if stat.S_ISDIR(info.st_mode):
        raise IngestError(f"{path}：是目录，不是文件")
    if not stat.S_ISREG(info.st_mode):
        raise IngestError(f"{path}：不是普通文件（设备、管道或套接字），只读取普通文本文件")
    if info.st_size > MAX_FILE_BYTES:
        raise IngestError(
            f"{path}：文件过大（{_limit_mb(info.st_size)}），上限为 {_limit_mb(MAX_FILE_BYTES)}"
        )
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)  # the file may grow after stat
    except OSError as exc:
        raise IngestError(f"{path}：{os_reason(exc)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"{path}：文件过大，上限为 {_limit_mb(MAX_FILE_BYTES)}")
    return data


def read_file(path: Path) -> tuple[str, str]:
    decoded = decode(read_bytes(path), str(path))
    return decoded.text, decoded.encoding


def expand_paths(paths: Iterable[Path], skipped: list[str] | None = None) -> list[Path]:
    """Files to read: paths as given, and the .txt files under directories (sorted).

    Other files under a directory are named in `skipped`; symbolic links to directories are
    not followed (a link loop would never end).
    """
    out: list[Path] = []
    notes = skipped if skipped is not None else []
    for p in paths:
        if _is_dir(p):  # given explicitly: walked even through a link
            found = _walk_dir(p, notes)
            if not found:
                notes.append(f"{p}：目录中没有 .txt、.html 或 .htm 文件")
            out.extend(found)
        else:
            out.append(p)
    return out


def _is_dir(path: Path) -> bool:
    """Path.is_dir, except that a name too long (or any OS error) is left to read_bytes,
    which names the problem, instead of escaping as an exception."""
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def _walk_dir(root: Path, skipped: list[str]) -> list[Path]:
    found: list[Path] = []

    def on_error(exc: OSError) -> None:
        skipped.append(f"{exc.filename}：{os_reason(exc)}，目录未读取")

    for folder, dirs, files in os.walk(root, onerror=on_error, followlinks=False):
        dirs.sort()
        base = Path(folder)
        for name in dirs:
            if os.path.islink(base / name):
                skipped.append(f"{base / name}：指向目录的符号链接，未跟随")
        for name in sorted(files):
            path = base / name
            if name.lower().endswith(TEXT_SUFFIXES):
                found.append(path)
            else:
                skipped.append(f"{path}：不是 .txt、.html 或 .htm 文件，已跳过")
    return sorted(found)


def ingest_paths(paths: Iterable[Path]) -> IngestResult:
    result = IngestResult()
    files = expand_paths(list(paths), result.skipped)
    if len(files) > MAX_FILES:
        result.errors.append(
            f"一次最多读取 {MAX_FILES} 个文件（收到 {len(files)} 个），其余 {len(files) - MAX_FILES} 个未读取"
        )
        files = files[:MAX_FILES]
    for path in files:
        try:
            decoded = decode(read_bytes(path), str(path))
        except IngestError as exc:
            result.errors.append(str(exc))
            continue
        result.files.append(path.name)
        text = decoded.text
        if looks_like_html(text):  # by content: a saved page may be named .txt
            text = html_to_text(text)
            result.warnings.append(f"{path}：网页格式，已提取正文（不含网页标记与页面栏目）")
        if decoded.controls:
            result.warnings.append(f"{path}：已删除 {decoded.controls} 个控制字符")
        result.lines_in += len(split_lines(text))
        result.documents.extend(parse_text(text, path.name, result.rejections))
    result.documents = _unique(result.documents, result)
    resolve(result.documents)
    for doc in result.documents:
        for w in doc.warnings:
            result.warnings.append(f"{doc.source}:{doc.line_start} 《{doc.title}》: {w}")
    return result


def fingerprint(doc: Document) -> str:
    """What a document says: title, 文号 and clause texts (not where it was read)."""
    h = hashlib.sha1()
    for part in (squeeze(doc.title), doc.doc_number or "", *(c.text for c in doc.walk())):
        h.update(squeeze(part).encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def _unique(documents: list[Document], result: IngestResult) -> list[Document]:
    """A document read twice (same text) is kept once and reported; two different texts
    under one title are both kept, the later under an id made from its content."""
    seen: dict[str, Document] = {}
    prints: dict[str, str] = {}
    for doc in documents:
        own = fingerprint(doc)
        first = seen.get(doc.id)
        # A re-keyed id may meet a document re-keyed before: compare again until the id is
        # free (a new document) or holds the same text (a duplicate); never overwrite.
        clash = first
        while first is not None and own != prints[doc.id]:
            rekey(doc)
            first = seen.get(doc.id)
        if first is None:
            seen[doc.id], prints[doc.id] = doc, own
            if clash is not None:
                result.notices.append(
                    f"{doc.source}:{doc.line_start} 《{doc.title}》与 {clash.source}:"
                    f"{clash.line_start} 标题相同但内容不同，两份都保留（编号 {clash.id} 与 {doc.id}）"
                )
            continue
        where = f"{first.source}:{first.line_start}"
        result.rejections.append(
            Rejection(
                doc.source, doc.line_start, doc.line_end, doc.lines_placed,
                f"《{doc.title}》与 {where} 内容相同，重复，只保留一份",
            )
        )  # fmt: skip
    return list(seen.values())


def rekey(doc: Document) -> None:
    """A distinct, stable id for a document whose title and 文号 another one already has."""
    doc.id = "d" + hashlib.sha1(f"{doc.id}|{fingerprint(doc)}".encode()).hexdigest()[:10]


def reconcile(documents: list[Document], stored: dict[str, Document]) -> list[str]:
    """Documents of this run against the library: same id, other text and another file:
    both are kept (the new one re-keyed); from the same file it is an update. Messages
    for every case where stored text changes or a second copy is kept."""
    notes: list[str] = []
    for doc in documents:
        old = stored.get(doc.id)
        if old is None or fingerprint(old) == fingerprint(doc):
            continue
        if old.source == doc.source:
            notes.append(
                f"{doc.source}:{doc.line_start} 《{doc.title}》内容有变化，已更新库中的版本"
            )
            continue
        first_id = doc.id
        rekey(doc)
        notes.append(
            f"{doc.source}:{doc.line_start} 《{doc.title}》与库中来自 {old.source} 的同名文件内容不同，"
            f"两份都保留（编号 {first_id} 与 {doc.id}）"
        )
    return notes


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
