"""The policy library: documents, clauses and relations in SQLite (or any SQLAlchemy URL).

Writes replace a document by its stable id, so ingesting the same file twice keeps one
copy. Reads return plain dicts shaped like the JSON of `huiqi show`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
)

from ..ingest.model import Clause, Document, Relation, in_force_on
from ..ingest.text import canonical_doc_number, squeeze

metadata = MetaData()

documents = Table(
    "documents",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("doc_number", String(64), index=True),
    Column("title", Text, nullable=False),
    Column("title_in_text", Boolean, nullable=False),
    Column("issuers", Text, nullable=False),  # JSON list
    Column("issued_on", Date),
    Column("published_on", Date),
    Column("effective_from", Date),
    Column("effective_to", Date),
    Column("doc_type", String(16)),
    Column("level", String(16)),
    Column("status", String(32)),
    Column("rank", String(64)),
    Column("index_number", String(64)),
    Column("part", String(64)),
    Column("parent_id", String(16)),
    Column("parent_title", Text),
    Column("parent_number", String(64)),
    Column("source", String(255), nullable=False),
    Column("line_start", Integer, nullable=False),
    Column("line_end", Integer, nullable=False),
    Column("noise", Text, nullable=False),  # JSON list
    Column("warnings", Text, nullable=False),  # JSON list
    Column("ordinal", Integer, nullable=False),  # order of reading, for listings
)

clauses = Table(
    "clauses",
    metadata,
    Column("doc_id", String(16), ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(128), primary_key=True),
    Column("parent_path", String(128)),
    Column("ordinal", Integer, nullable=False),
    Column("depth", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("label", String(64), nullable=False),
    Column("citation", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("line_start", Integer, nullable=False),
    Column("line_end", Integer, nullable=False),
)

relations = Table(
    "relations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String(16), ForeignKey("documents.id", ondelete="CASCADE"), index=True),
    Column("kind", String(16), nullable=False),
    Column("target_id", String(16)),
    Column("target_title", Text),
    Column("target_number", String(64)),
    Column("evidence", Text, nullable=False),
)


def default_url() -> str:
    return os.environ.get("HUIQI_DB") or "sqlite:///huiqi.db"


def _url(db: str | Path | None) -> str:
    if db is None:
        return default_url()
    text = str(db)
    return text if "://" in text else f"sqlite:///{text}"


class LibraryError(Exception):
    """A library that cannot be opened or used; the message is Chinese, names the database."""


SQLITE_MAGIC = b"SQLite format 3\x00"


def sqlite_file(db: str | Path | None) -> str | None:
    """The file behind a SQLite library (None for other databases and in-memory SQLite).

    A plain path is taken as it is: `#`, `?` and `%` are part of the file name.
    """
    text = str(db) if db is not None else default_url()
    if "://" not in text:
        return text
    if not text.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        url = make_url(text)
        url.get_dialect()  # sqlite+nosuchdriver:// is refused here, not read as a path
    except NoSuchModuleError:
        raise LibraryError(f"不支持的数据库类型：{text.split('://', 1)[0]}") from None
    except (ArgumentError, ValueError):
        raise LibraryError(f"数据库地址无法识别：{text}") from None
    name = url.database
    return None if not name or name == ":memory:" else name


def check_sqlite_file(path: str, *, create: bool) -> None:
    """Clear errors before SQLite sees a bad path (it would only say "unable to open")."""
    where = Path(path)
    parent = where.parent if str(where.parent) else Path(".")
    if where.is_dir():
        raise LibraryError(f"{path}：是目录，不是政策库文件")
    if where.exists():
        try:
            with where.open("rb") as fh:
                head = fh.read(len(SQLITE_MAGIC))
        except OSError:
            raise LibraryError(f"{path}：无法读取政策库文件（权限不足？）") from None
        if head and head != SQLITE_MAGIC:
            raise LibraryError(f"{path}：不是 SQLite 数据库文件")
        return
    if not create:
        raise LibraryError(f"政策库不存在：{path}（先运行 huiqi ingest）")
    if not parent.is_dir():
        raise LibraryError(f"{path}：所在目录不存在（{parent}）")


def _sqlite_engine(path: str, *, create: bool) -> Engine:
    """An engine on a file: URI, quoted, so that `#`, `?` or spaces name the file itself;
    read-only when only reading, so that reading never creates or changes a file."""
    import sqlite3
    from urllib.parse import quote

    uri = f"file:{quote(os.path.abspath(path))}?mode={'rwc' if create else 'ro'}"
    return create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True))


def open_library(db: str | Path | None = None, *, create: bool = False) -> Library:
    """Open a library for reading (create=False: it must exist) or for writing.

    Raises LibraryError with a Chinese message for every bad path or URL.
    """
    from sqlalchemy import inspect
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    url = _url(db)
    try:
        path = sqlite_file(db)
        if path is not None:
            check_sqlite_file(path, create=create)
            engine = _sqlite_engine(path, create=create)
        else:
            engine = create_engine(url)
        library = Library(engine=engine, create=create)
        if not create and not inspect(engine).has_table("documents"):
            raise LibraryError(f"{db or url}：不是惠企政策库（缺少数据表，先运行 huiqi ingest）")
        return library
    except LibraryError:
        raise
    except NoSuchModuleError:
        raise LibraryError(f"不支持的数据库类型：{url.split('://', 1)[0]}") from None
    except ImportError:
        raise LibraryError(f"缺少该数据库的驱动程序：{url.split('://', 1)[0]}") from None
    except (ArgumentError, ValueError):
        raise LibraryError(f"数据库地址无法识别：{url}") from None
    except SQLAlchemyError:
        raise LibraryError(f"无法打开政策库：{db or url}") from None


class Library:
    def __init__(
        self, db: str | Path | None = None, engine: Engine | None = None, create: bool = True
    ) -> None:
        if engine is None:
            plain = db is not None and "://" not in str(db)
            engine = _sqlite_engine(str(db), create=True) if plain else create_engine(_url(db))
        self.engine = engine
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        if create:
            metadata.create_all(self.engine)

    # --- writing ------------------------------------------------------------------------
    def save(self, docs: Iterable[Document]) -> int:
        docs = list({d.id: d for d in docs}.values())  # one row per id, last reading wins
        by_title = {squeeze(d.title): d.id for d in docs}
        with self.engine.begin() as conn:
            start = conn.execute(select(documents.c.ordinal).order_by(documents.c.ordinal.desc()))
            last = start.scalar()
            ordinal = (last or 0) + 1
            ids = [d.id for d in docs]
            # Replace by id: the same document ingested again stays one copy.
            conn.execute(delete(clauses).where(clauses.c.doc_id.in_(ids)))
            conn.execute(delete(relations).where(relations.c.doc_id.in_(ids)))
            existing = {
                r.id: r.ordinal
                for r in conn.execute(
                    select(documents.c.id, documents.c.ordinal).where(documents.c.id.in_(ids))
                )
            }
            conn.execute(delete(documents).where(documents.c.id.in_(ids)))
            for doc in docs:
                row_ordinal = existing.get(doc.id)
                if row_ordinal is None:
                    row_ordinal, ordinal = ordinal, ordinal + 1
                conn.execute(insert(documents), [_doc_row(doc, row_ordinal, by_title)])
                rows = list(_clause_rows(doc))
                if rows:
                    conn.execute(insert(clauses), rows)
                rel_rows = [{"doc_id": doc.id, **r.to_dict()} for r in doc.relations]
                if rel_rows:
                    conn.execute(insert(relations), rel_rows)
        return len(docs)

    # --- reading ------------------------------------------------------------------------
    def list_documents(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(documents).order_by(documents.c.ordinal)).mappings().all()
            counts = dict(
                conn.execute(select(clauses.c.doc_id, _count()).group_by(clauses.c.doc_id)).all()
            )
        return [_doc_dict(r, clause_count=counts.get(r["id"], 0)) for r in rows]

    def full_documents(self) -> list[dict[str, Any]]:
        """Every document shaped like `get_document`, read in three queries, in reading order."""
        return self._load(None)

    def all_documents(self) -> list[Document]:
        """Every stored document as an ingest model, with clauses and relations.

        What the search index and relation resolution need after an incremental ingest.
        """
        out = []
        for data in self.full_documents():
            doc = Document(**{f: data[f] for f in _MODEL_FIELDS})
            doc.relations = [
                Relation(
                    r["kind"], r["target_title"], r["target_number"], r["target_id"], r["evidence"]
                )
                for r in data["relations"]
            ]
            doc.clauses = [_clause(n) for n in data["clauses"]]
            out.append(doc)
        return out

    def resolve_id(self, ref: str) -> str | None:
        """A document id from an id, a 文号 (any bracket style) or an exact title."""
        ref = ref.strip()
        number = canonical_doc_number(ref)
        with self.engine.connect() as conn:
            hit = conn.execute(select(documents.c.id).where(documents.c.id == ref)).scalar()
            if hit:
                return hit
            if number:
                hit = conn.execute(
                    select(documents.c.id)
                    .where(documents.c.doc_number == number)
                    .order_by(documents.c.ordinal)
                ).scalar()
                if hit:
                    return hit
            flat = squeeze(ref).strip("《》")
            for row in conn.execute(select(documents.c.id, documents.c.title)):
                if squeeze(row.title) == flat:
                    return row.id
        return None

    def get_document(self, ref: str) -> dict[str, Any] | None:
        doc_id = self.resolve_id(ref)
        if doc_id is None:
            return None
        return self._load([doc_id])[0]

    def _load(self, ids: list[str] | None) -> list[dict[str, Any]]:
        """Documents (all when `ids` is None) with their relations and clause trees."""
        doc_q = select(documents).order_by(documents.c.ordinal)
        clause_q = select(clauses).order_by(clauses.c.doc_id, clauses.c.ordinal)
        rel_q = select(relations).order_by(relations.c.id)
        if ids is not None:
            doc_q = doc_q.where(documents.c.id.in_(ids))
            clause_q = clause_q.where(clauses.c.doc_id.in_(ids))
            rel_q = rel_q.where(relations.c.doc_id.in_(ids))
        with self.engine.connect() as conn:
            rows = conn.execute(doc_q).mappings().all()
            clause_rows: dict[str, list] = {}
            for r in conn.execute(clause_q).mappings():
                clause_rows.setdefault(r["doc_id"], []).append(r)
            rel_rows: dict[str, list] = {}
            for r in conn.execute(rel_q).mappings():
                rel_rows.setdefault(r["doc_id"], []).append(r)
        out = []
        for row in rows:
            mine = clause_rows.get(row["id"], [])
            data = _doc_dict(row, clause_count=len(mine))
            data["relations"] = [
                {
                    k: r[k]
                    for k in ("kind", "target_id", "target_title", "target_number", "evidence")
                }
                for r in rel_rows.get(row["id"], [])
            ]
            data["clauses"] = _tree(mine)
            out.append(data)
        return out

    def get_clause(self, ref: str, path: str) -> dict[str, Any] | None:
        doc = self.get_document(ref)
        if doc is None:
            return None
        for node in _walk(doc["clauses"]):
            if node["path"] == path or node["label"] == path:
                return node
        return None

    def iter_clauses(self) -> list[dict[str, Any]]:
        """Every clause with its document's id, for indexing."""
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    select(clauses).order_by(clauses.c.doc_id, clauses.c.ordinal)
                ).mappings()
            ]


_MODEL_FIELDS = (
    "id", "title", "source", "line_start", "line_end", "doc_number", "title_in_text", "issuers",
    "issued_on", "published_on", "effective_from", "effective_to", "doc_type", "level", "status",
    "rank", "index_number", "part", "parent_title", "parent_number", "noise", "warnings",
)  # fmt: skip


def _clause(node: dict[str, Any]) -> Clause:
    return Clause(
        kind=node["kind"], number=None, label=node["label"], path=node["path"],
        citation=node["citation"], text=node["text"], line_start=node["line_start"],
        line_end=node["line_end"], children=[_clause(c) for c in node["children"]],
    )  # fmt: skip


def _count():
    from sqlalchemy import func

    return func.count()


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _doc_row(doc: Document, ordinal: int, by_title: dict[str, str]) -> dict[str, Any]:
    return {
        "id": doc.id,
        "doc_number": doc.doc_number,
        "title": doc.title,
        "title_in_text": doc.title_in_text,
        "issuers": json.dumps(doc.issuers, ensure_ascii=False),
        "issued_on": doc.issued_on,
        "published_on": doc.published_on,
        "effective_from": doc.effective_from,
        "effective_to": doc.effective_to,
        "doc_type": doc.doc_type,
        "level": doc.level,
        "status": doc.status,
        "rank": doc.rank,
        "index_number": doc.index_number,
        "part": doc.part,
        "parent_id": by_title.get(squeeze(doc.parent_title)) if doc.parent_title else None,
        "parent_title": doc.parent_title,
        "parent_number": doc.parent_number,
        "source": doc.source,
        "line_start": doc.line_start,
        "line_end": doc.line_end,
        "noise": json.dumps(doc.noise, ensure_ascii=False),
        "warnings": json.dumps(doc.warnings, ensure_ascii=False),
        "ordinal": ordinal,
    }


def _clause_rows(doc: Document):
    ordinal = 0

    def visit(nodes: list[Clause], parent: str | None, depth: int):
        nonlocal ordinal
        for node in nodes:
            ordinal += 1
            yield {
                "doc_id": doc.id,
                "path": node.path,
                "parent_path": parent,
                "ordinal": ordinal,
                "depth": depth,
                "kind": node.kind,
                "label": node.label,
                "citation": node.citation,
                "text": node.text,
                "line_start": node.line_start,
                "line_end": node.line_end,
            }
            yield from visit(node.children, node.path, depth + 1)

    yield from visit(doc.clauses, None, 0)


def in_force(row: dict[str, Any], on: date, repealed: bool = False) -> bool | None:
    return in_force_on(
        row.get("effective_from") or row.get("issued_on"), row.get("effective_to"), on, repealed
    )


def _doc_dict(row, clause_count: int) -> dict[str, Any]:
    d = dict(row)
    for key in ("issuers", "noise", "warnings"):
        d[key] = json.loads(d[key])
    for key in ("issued_on", "published_on", "effective_from", "effective_to"):
        if isinstance(d[key], datetime):
            d[key] = d[key].date()
    d["clause_count"] = clause_count
    d.pop("ordinal", None)
    return d


def _tree(rows) -> list[dict[str, Any]]:
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for r in rows:
        node = {
            "path": r["path"],
            "label": r["label"],
            "kind": r["kind"],
            "citation": r["citation"],
            "text": r["text"],
            "line_start": r["line_start"],
            "line_end": r["line_end"],
            "children": [],
        }
        nodes[r["path"]] = node
        parent = nodes.get(r["parent_path"]) if r["parent_path"] else None
        (parent["children"] if parent else roots).append(node)
    return roots


def _walk(nodes):
    for n in nodes:
        yield n
        yield from _walk(n["children"])
