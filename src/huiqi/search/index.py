"""The search index: SQLite FTS5 over pre-segmented clause text, BM25 ranking.

One row per clause. jieba cuts the text (see segment.py) and the words are stored
space-separated in an FTS5 table tokenised with `unicode61`, which then only splits on the
spaces. Columns, weighted for BM25:

    title    document title and 文号, with dictionary sub-words            weight 2
    context  headings of the enclosing clauses (chapter, article, item)     weight 1
    body     the clause's own words, in order                               weight 4
    extra    dictionary sub-words of the body's long words                  weight 1

The FTS table is contentless; the original text lives in `clauses` (for snippets and
exact-phrase checks on a normalised copy) and document metadata in `docs` (for filters).

An index is built in memory from the embedded catalogue on first use, or written to a
file with `build_index` (ingest does this beside the library: X.db → X.search.db).
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from ..ingest.model import Clause, Document
from .classify import entities, states_amount
from .normalize import normalize
from .segment import Segmenter, curated_terms, derive_terms, get_segmenter

SCHEMA_VERSION = "1"
WEIGHTS = (2.0, 1.0, 4.0, 1.0)  # title, context, body, extra

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE docs(
    id TEXT PRIMARY KEY, ord INTEGER NOT NULL, doc_number TEXT, title TEXT NOT NULL,
    norm_title TEXT NOT NULL, issuers TEXT NOT NULL, issued_on TEXT, year INTEGER,
    effective_from TEXT, effective_to TEXT, repealed INTEGER NOT NULL, doc_type TEXT,
    level TEXT
);
CREATE TABLE clauses(
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, path TEXT NOT NULL, label TEXT NOT NULL,
    kind TEXT NOT NULL, citation TEXT NOT NULL, text TEXT NOT NULL, norm TEXT NOT NULL,
    ord INTEGER NOT NULL, amount INTEGER NOT NULL, entities TEXT NOT NULL
);
CREATE INDEX clauses_doc ON clauses(doc_id, path);
CREATE VIRTUAL TABLE clause_fts USING fts5(
    title, context, body, extra, content='', tokenize='unicode61 remove_diacritics 2'
);
CREATE VIRTUAL TABLE clause_vocab USING fts5vocab(clause_fts, 'row');
"""


class IndexFileError(ValueError):
    """An index file that cannot be used; the message is Chinese and names the file."""


@dataclass(frozen=True)
class DocInfo:
    id: str
    doc_number: str | None
    title: str
    issuers: tuple[str, ...]
    issued_on: str | None
    doc_type: str | None
    level: str | None


class SearchIndex:
    """An open index: a SQLite connection plus the segmenter that reads queries for it."""

    def __init__(self, conn: sqlite3.Connection, path: str = ":memory:") -> None:
        self.conn = conn
        self.path = path
        self.lock = threading.RLock()
        self.segmenter: Segmenter = get_segmenter()
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema") != SCHEMA_VERSION:
            raise IndexFileError(
                f"不支持的检索索引版本：{meta.get('schema')}（请重新运行 huiqi ingest）"
            )
        self.meta = meta
        self.segmenter.add_terms(json.loads(meta.get("terms", "[]")))
        self.docs: dict[str, DocInfo] = {}
        for row in conn.execute(
            "SELECT id, doc_number, title, issuers, issued_on, doc_type, level FROM docs"
        ):
            self.docs[row[0]] = DocInfo(
                row[0], row[1], row[2], tuple(json.loads(row[3])), row[4], row[5], row[6]
            )
        self._df: dict[str, int] = {}
        self._vocab = None
        self._intents: dict[int, frozenset[str]] = {}

    # --- opening and building ---------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path) -> SearchIndex:
        """Open an index file read-only. The path goes into a quoted file: URI, so that
        `#`, `?` or `%` in it name the file itself (unquoted, `a#b.db` opened `a`
        read-write and left a stray file)."""
        path = str(path)
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        if os.path.isdir(path):
            raise IndexFileError(f"{path}：是目录，不是检索索引文件")
        uri = f"file:{quote(os.path.abspath(path))}?mode=ro"
        try:
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            return cls(conn, path)
        except sqlite3.Error:
            raise IndexFileError(
                f"{path}：不是检索索引文件（或已损坏；重新运行 huiqi ingest）"
            ) from None

    @classmethod
    def build(cls, documents: Iterable[Document], path: str | Path | None = None) -> SearchIndex:
        """Index documents in memory (path None) or into a file, replaced atomically."""
        documents = list(documents)
        if path is None:
            conn = sqlite3.connect(":memory:", check_same_thread=False)
            _fill(conn, documents)
            return cls(conn)
        path = str(path)
        tmp = f"{path}.tmp-{os.getpid()}"
        if os.path.exists(tmp):
            os.remove(tmp)
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            _fill(conn, documents)
        finally:
            conn.close()
        os.replace(tmp, path)
        return cls.open(path)

    # --- statistics -------------------------------------------------------------------
    def df(self, term: str) -> int:
        """How many clauses contain a token (any column)."""
        hit = self._df.get(term)
        if hit is None:
            with self.lock:
                row = self.conn.execute(
                    "SELECT doc FROM clause_vocab WHERE term = ?", (term,)
                ).fetchone()
            hit = self._df[term] = row[0] if row else 0
        return hit

    def vocabulary(self):
        """The index's words by pinyin, for typo correction (built on first use)."""
        if self._vocab is None:
            from .typo import Vocabulary

            vocab = Vocabulary.of_index(self.conn, self.lock)
            with self.lock:
                if self._vocab is None:
                    self._vocab = vocab
        return self._vocab

    def clause_intents(self, ids: list[int]) -> dict[int, frozenset[str]]:
        """What each clause states (the packs' intents.yaml), read from its own text once per
        clause and kept."""
        from .dictionary import search_data

        todo = [cid for cid in ids if cid not in self._intents]
        if todo:
            intents = search_data().intents.values()
            marks = ",".join("?" * len(todo))
            with self.lock:
                rows = self.conn.execute(
                    f"SELECT id, text FROM clauses WHERE id IN ({marks})", todo
                ).fetchall()
            for cid, text in rows:
                norm = "".join(normalize(text).split())
                self._intents[cid] = frozenset(
                    it.name for it in intents if it.clause is not None and it.clause.search(norm)
                )
        return {cid: self._intents[cid] for cid in ids}

    @property
    def clause_count(self) -> int:
        return int(self.meta.get("clauses", "0"))

    def close(self) -> None:
        self.conn.close()


def build_index(documents: Iterable[Document], path: str | Path) -> SearchIndex:
    """Write an index file for documents (replacing any file at path)."""
    return SearchIndex.build(documents, path)


def index_path_for(db_url_or_path: str | Path) -> Path | None:
    """Where ingest keeps the index of a library: X.db → X.search.db beside it.

    SQLite URLs (sqlite:///X.db) and plain paths are accepted; other databases (and
    in-memory SQLite) have no index file and None is returned.
    """
    text = str(db_url_or_path)
    if "://" in text:
        if not text.startswith("sqlite"):
            return None
        text = re.sub(r"^sqlite(?:\+\w+)?:///", "", text)
        text = text.split("?", 1)[0]
        if not text or text == ":memory:":
            return None
    path = Path(text)
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    return path.with_name(f"{stem}.search.db")


def rebuild_index(documents: Iterable[Document], db_url_or_path: str | Path) -> Path | None:
    """Rebuild the search index beside a library; returns its path (None: nothing written).

    Called by `huiqi ingest` with the documents now in the library.
    """
    target = index_path_for(db_url_or_path)
    if target is None:
        return None
    build_index(documents, target).close()
    return target


# --- filling ----------------------------------------------------------------------------


def _first_line(text: str, limit: int = 60) -> str:
    line = text.strip().split("\n", 1)[0]
    return line[:limit]


def _with_subwords(seg: Segmenter, words: Sequence[str]) -> list[str]:
    out: list[str] = []
    for w in words:
        out.append(w)
        out.extend(seg.subwords(w))
    return out


def _fill(conn: sqlite3.Connection, documents: Sequence[Document]) -> None:
    started = time.perf_counter()
    seg = get_segmenter()
    terms = [*curated_terms(), *derive_terms(documents, seg)]
    seg.add_terms(terms)
    conn.executescript(_SCHEMA)
    clause_rows: list[tuple] = []
    fts_rows: list[tuple] = []
    heading_cache: dict[str, str] = {}
    rowid = 0
    for ord_, doc in enumerate(documents):
        repealed = any(r.kind == "repealed_by" for r in doc.relations)
        issued = doc.issued_on.isoformat() if doc.issued_on else None
        conn.execute(
            "INSERT INTO docs VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc.id,
                ord_,
                doc.doc_number,
                doc.title,
                "".join(normalize(doc.title).split()),
                json.dumps(doc.issuers, ensure_ascii=False),
                issued,
                doc.issued_on.year if doc.issued_on else None,
                doc.effective_from.isoformat() if doc.effective_from else None,
                doc.effective_to.isoformat() if doc.effective_to else None,
                int(repealed),
                doc.doc_type,
                doc.level,
            ),
        )
        title_text = f"{doc.title} {doc.doc_number or ''}"
        title_tokens = " ".join(_with_subwords(seg, seg.words(title_text)))

        def visit(
            clause: Clause,
            ancestors: list[str],
            order: list[int],
            doc: Document = doc,
            title_tokens: str = title_tokens,
        ) -> None:
            nonlocal rowid
            rowid += 1
            order[0] += 1
            context = " ".join(ancestors)
            body_words = seg.words(clause.text)
            extra = [s for w in body_words for s in seg.subwords(w)]
            if context not in heading_cache:
                heading_cache[context] = " ".join(_with_subwords(seg, seg.words(context)))
            about = f"{context}\n{clause.text}"
            clause_rows.append(
                (
                    rowid,
                    doc.id,
                    clause.path,
                    clause.label,
                    clause.kind,
                    clause.citation,
                    clause.text,
                    "".join(normalize(about).split()),
                    order[0],
                    int(states_amount(clause.text)),
                    "," + ",".join(entities(about)) + ",",
                )
            )
            fts_rows.append(
                (rowid, title_tokens, heading_cache[context], " ".join(body_words), " ".join(extra))
            )
            child_ancestors = [*ancestors, _first_line(clause.text)]
            for child in clause.children:
                visit(child, child_ancestors, order)

        order = [0]
        for clause in doc.clauses:
            visit(clause, [], order)
        if len(clause_rows) > 5000:
            _flush(conn, clause_rows, fts_rows)
    _flush(conn, clause_rows, fts_rows)
    conn.execute("INSERT INTO clause_fts(clause_fts) VALUES ('optimize')")
    meta = {
        "schema": SCHEMA_VERSION,
        "documents": str(len(documents)),
        "clauses": str(rowid),
        "terms": json.dumps(sorted(set(terms)), ensure_ascii=False),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "build_seconds": f"{time.perf_counter() - started:.3f}",
    }
    conn.executemany("INSERT INTO meta VALUES (?, ?)", list(meta.items()))
    conn.commit()


def _flush(conn: sqlite3.Connection, clause_rows: list[tuple], fts_rows: list[tuple]) -> None:
    conn.executemany("INSERT INTO clauses VALUES (?,?,?,?,?,?,?,?,?,?,?)", clause_rows)
    conn.executemany(
        "INSERT INTO clause_fts(rowid, title, context, body, extra) VALUES (?,?,?,?,?)",
        fts_rows,
    )
    clause_rows.clear()
    fts_rows.clear()
