"""A pack's documents.yaml: stable names (slugs) for documents, and corrections of what the
parser read from a text (title, 文号, dates, issuers), each with the reason.

Rules cite a document by its 文号 or by a slug declared here, never by whatever title the parser
happens to produce; a parser change that alters a title then needs one line changed here, and
`huiqi check` says which. The file:

    documents:
      - slug: city.sci-awards                   # what rules write as `document:`
        match: {title: 某市科技创新奖励资金管理暂行办法}   # or {doc_number: 某政〔2017〕8号}
        set: {issued_on: 2017-08-15}           # optional corrections of the parsed metadata
        reason: 文件无文号，以标题确定          # required
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import PackError
from ..ingest.model import Document
from ..ingest.text import canonical_doc_number, squeeze
from .yamlio import load_yaml

FILENAME = "documents.yaml"
_SETTABLE = {"title", "doc_number", "issued_on", "effective_from", "effective_to", "issuers"}
_DATES = {"issued_on", "effective_from", "effective_to"}


@dataclass
class DocumentEntry:
    slug: str | None
    match_title: str | None
    match_number: str | None
    values: dict[str, Any] = field(default_factory=dict)
    reason: str = ""
    file: str = ""
    line: int = 0

    def matches(self, doc: Document) -> bool:
        if self.match_number is not None:
            return doc.doc_number == self.match_number
        return squeeze(doc.title).strip("《》") == squeeze(self.match_title or "").strip("《》")

    def describe(self) -> str:
        return self.match_number or f"《{self.match_title}》"


def load_documents_file(root: Path, label: str) -> tuple[list[DocumentEntry], list[PackError]]:
    """The entries of a pack's documents.yaml (none when the file is absent)."""
    path = root / FILENAME
    if not path.is_file():
        return [], []
    data = load_yaml(path, label)
    errors: list[PackError] = []
    entries: list[DocumentEntry] = []
    items = data.get("documents") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return [], [PackError("documents.yaml 须有 documents 列表", file=label)]
    slugs: set[str] = set()
    for i, item in enumerate(items):
        where = f"documents[{i}]"
        line = getattr(item, "line", 0)
        if not isinstance(item, dict):
            errors.append(PackError("每一项须为映射", file=label, field=where, line=line))
            continue
        unknown = set(item) - {"slug", "match", "set", "reason"}
        if unknown:
            errors.append(PackError(f"未知字段：{'、'.join(sorted(unknown))}", file=label,
                                    field=where, line=line))  # fmt: skip
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            errors.append(PackError("须写明 reason（为何这样命名或更正）", file=label,
                                    field=f"{where}.reason", line=line))  # fmt: skip
        match = item.get("match")
        title = number = None
        if isinstance(match, dict) and len(match) == 1 and "title" in match:
            title = str(match["title"])
        elif isinstance(match, dict) and len(match) == 1 and "doc_number" in match:
            number = canonical_doc_number(str(match["doc_number"]))
            if number is None:
                errors.append(PackError(f"无法识别的文号：{match['doc_number']}", file=label,
                                        field=f"{where}.match", line=line))  # fmt: skip
                continue
        else:
            errors.append(PackError("match 须为 {title: …} 或 {doc_number: …}", file=label,
                                    field=f"{where}.match", line=line))  # fmt: skip
            continue
        values = item.get("set") or {}
        if not isinstance(values, dict) or set(values) - _SETTABLE:
            bad = sorted(set(values) - _SETTABLE) if isinstance(values, dict) else []
            errors.append(PackError(
                f"set 只能更正：{'、'.join(sorted(_SETTABLE))}" + (f"（不能更正 {'、'.join(bad)}）" if bad else ""),
                file=label, field=f"{where}.set", line=line))  # fmt: skip
            continue
        clean: dict[str, Any] = {}
        for key, value in values.items():
            if key in _DATES:
                if value is not None and not isinstance(value, date):
                    try:
                        value = date.fromisoformat(str(value))
                    except ValueError:
                        errors.append(PackError(f"日期格式应为 2017-08-15：{value}", file=label,
                                                field=f"{where}.set.{key}", line=line))  # fmt: skip
                        continue
            elif key == "issuers":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    errors.append(PackError("issuers 须为机关名称列表", file=label,
                                            field=f"{where}.set.issuers", line=line))  # fmt: skip
                    continue
            elif key == "doc_number":
                value = canonical_doc_number(str(value)) or str(value)
            else:
                value = str(value)
            clean[key] = value
        slug = item.get("slug")
        if slug is not None:
            slug = str(slug)
            if slug in slugs:
                errors.append(PackError(f"slug 重复：{slug}", file=label, field=f"{where}.slug",
                                        line=line))  # fmt: skip
            slugs.add(slug)
        entries.append(DocumentEntry(slug, title, number, clean, str(reason or ""), label, line))
    return entries, errors


def apply_entries(
    documents: tuple[Document, ...], entries: list[DocumentEntry]
) -> tuple[tuple[Document, ...], list[PackError]]:
    """The documents with slugs and corrections applied (copies: the parsed library is shared
    between packs); an entry that matches no document, or several, is a problem."""
    out = list(documents)
    problems: list[PackError] = []
    for entry in entries:
        hits = [i for i, d in enumerate(out) if entry.matches(d)]
        if len(hits) != 1:
            what = "找不到" if not hits else f"有 {len(hits)} 份"
            problems.append(PackError(f"政策库中{what}文件 {entry.describe()}", file=entry.file,
                                      field="match", line=entry.line))  # fmt: skip
            continue
        doc = out[hits[0]]
        changes: dict[str, Any] = dict(entry.values)
        if entry.slug:
            changes["slug"] = entry.slug
        new = replace(doc, **changes)
        if "title" in changes or "doc_number" in changes:
            from ..ingest.pipeline import _finish_citations

            new.clauses = copy.deepcopy(doc.clauses)  # shared with other packs' copies
            _finish_citations(new)
        out[hits[0]] = new
    return tuple(out), problems
