"""`search()`: what the CLI and the REST API call.

    from huiqi.search import search
    results = search("人才买房补贴", level="city", limit=5)
    for group in results.groups:            # ranked clauses, grouped by document
        print(group.title, group.doc_number, group.in_force)
        for hit in group.clauses:
            print(hit.citation, hit.snippet, hit.rules)

Ranking: clauses matching every query word (any of its synonyms) come first, by BM25.
When they are fewer than `limit`, clauses matching only some words follow, ordered by how
many words they match, then BM25. `SearchResults.hits` is that flat ranking;
`SearchResults.groups` the same hits grouped by document, documents ordered by their best
hit.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

from ..ingest.model import Document
from .filters import IN_FORCE_SQL, FilterError, Filters, parse_date
from .index import WEIGHTS, SearchIndex
from .normalize import fold, normalize
from .query import ParsedQuery, match_all, match_any, parse_query

RuleLookup = Callable[[str, str], list[tuple[str, str]]]

MAX_LIMIT = 200
SNIPPET_CHARS = 90
HIT_OPEN, HIT_CLOSE = "【", "】"

__all__ = [
    "ClauseHit",
    "DocumentResult",
    "FilterError",
    "Filters",
    "RuleRef",
    "SearchResults",
    "default_index",
    "search",
]


@dataclass
class RuleRef:
    title: str
    amount: str


@dataclass
class ClauseHit:
    rank: int
    doc_id: str
    path: str
    label: str
    citation: str
    snippet: str  # hits marked 【like this】
    score: float  # higher is better
    matched: int  # how many query words the clause matches
    states_amount: bool
    entities: list[str]
    rules: list[RuleRef] = field(default_factory=list)
    fragments: list[tuple[str, bool]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("fragments")
        return data


@dataclass
class DocumentResult:
    doc_id: str
    title: str
    doc_number: str | None
    issued_on: str | None
    issuers: list[str]
    doc_type: str | None
    level: str | None
    in_force: bool | None  # on SearchResults.as_of; None: the text does not say
    clauses: list[ClauseHit]

    def to_dict(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "clauses"}
        data["clauses"] = [c.to_dict() for c in self.clauses]
        return data


@dataclass
class SearchResults:
    query: str
    terms: list[str]  # the query words searched for (after stop words)
    phrases: list[str]
    filters: Filters
    as_of: date
    hits: list[ClauseHit]
    groups: list[DocumentResult]
    relaxed: bool = False  # some hits match only part of the query
    message: str | None = None  # why there are no results, for the user
    elapsed_ms: float = 0.0

    @property
    def total(self) -> int:
        return len(self.hits)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "terms": self.terms,
            "phrases": self.phrases,
            "filters": self.filters.to_dict(),
            "as_of": self.as_of.isoformat(),
            "total": self.total,
            "relaxed": self.relaxed,
            "message": self.message,
            "elapsed_ms": round(self.elapsed_ms, 2),
            "documents": [g.to_dict() for g in self.groups],
        }


# --- the default index -------------------------------------------------------------------

_default: SearchIndex | None = None
_default_lock = threading.Lock()


def default_index() -> SearchIndex:
    """The embedded catalogue indexed in memory, built on first use in the process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                from ..library.catalogue import corpus_documents

                _default = SearchIndex.build(corpus_documents())
    return _default


def open_index(source: SearchIndex | str | Path | Iterable[Document] | None) -> SearchIndex:
    if source is None:
        return default_index()
    if isinstance(source, SearchIndex):
        return source
    if isinstance(source, str | Path):
        return SearchIndex.open(source)
    return SearchIndex.build(source)


# --- search ------------------------------------------------------------------------------


def search(
    query: str,
    *,
    issuer: str | None = None,
    from_year: int | str | None = None,
    to_year: int | str | None = None,
    doc_type: str | None = None,
    level: str | None = None,
    in_force_on: date | str | None = None,
    entity: str | None = None,
    amount_only: bool = False,
    filters: Filters | None = None,
    limit: int = 10,
    as_of: date | str | None = None,
    index: SearchIndex | str | Path | None = None,
    rule_lookup: RuleLookup | None = None,
) -> SearchResults:
    """Ranked clauses for a query. Raises FilterError (a ValueError with a Chinese message)
    for unusable filter values; any query string is accepted."""
    if filters is None:
        filters = Filters.of(
            issuer=issuer,
            from_year=from_year,
            to_year=to_year,
            doc_type=doc_type,
            level=level,
            in_force_on=in_force_on,
            entity=entity,
            amount_only=amount_only,
        )
    when = parse_date(as_of) or filters.in_force_on or date.today()
    try:
        limit = max(1, min(int(limit), MAX_LIMIT))
    except (TypeError, ValueError):
        raise FilterError(f"结果数量不对：{limit}") from None
    ix = open_index(index)
    started = time.perf_counter()  # query time only, not the first-use index build
    parsed = parse_query(query if isinstance(query, str) else "", ix.segmenter, ix.df)
    results = SearchResults(
        query=parsed.text,
        terms=parsed.terms(),
        phrases=parsed.phrases,
        filters=filters,
        as_of=when,
        hits=[],
        groups=[],
    )
    if parsed.empty:
        if not parsed.normalized.strip() or not re.search(r"[^\W_]", parsed.normalized):
            results.message = "请输入要查找的内容，例如：研发费用加计扣除、人才购房补贴"
        else:
            results.message = "政策库中没有找到这些词"
        results.elapsed_ms = (time.perf_counter() - started) * 1000
        return results
    rows = _run(ix, parsed, filters, limit)
    strict = [r for r in rows if r[2] is True]
    results.relaxed = len(strict) < len(rows)
    results.hits = _hits(ix, parsed, rows, rule_lookup)
    results.groups = _group(ix, results.hits, when)
    if not results.hits:
        results.message = "没有找到符合条件的条款"
    results.elapsed_ms = (time.perf_counter() - started) * 1000
    return results


_SELECT = (
    "SELECT c.id, bm25(clause_fts, {w}) AS score, c.norm, d.norm_title "
    "FROM clause_fts JOIN clauses c ON c.id = clause_fts.rowid "
    "JOIN docs d ON d.id = c.doc_id "
    "WHERE clause_fts MATCH ?{extra} ORDER BY score{boost} LIMIT ?"
).replace("{w}", ", ".join(str(w) for w in WEIGHTS))
AMOUNT_BOOST = 1.5  # when the query asks how much, clauses stating an amount score higher


def _run(ix: SearchIndex, parsed: ParsedQuery, filters: Filters, limit: int):
    """[(clause id, score, strict, matched words)] best first."""
    where, params = filters.sql()
    for phrase in parsed.phrases:
        where = " AND ".join(
            w for w in (where, "(instr(c.norm, ?) > 0 OR instr(d.norm_title, ?) > 0)") if w
        )
        params = [*params, phrase, phrase]
    extra = f" AND {where}" if where else ""
    boost = f" * (CASE WHEN c.amount THEN {AMOUNT_BOOST} ELSE 1 END)" if parsed.wants_amount else ""
    sql = _SELECT.replace("{extra}", extra).replace("{boost}", boost)
    out: list[tuple[int, float, bool, int]] = []
    seen: set[int] = set()
    expr = match_all(parsed)
    n_groups = len(parsed.groups)
    with ix.lock:
        if expr:
            for cid, score, _, _ in ix.conn.execute(sql, (expr, *params, limit)):
                out.append((cid, -score, True, n_groups))
                seen.add(cid)
        loose = match_any(parsed) if n_groups > 1 else None
        if loose and len(out) < limit:
            candidates = ix.conn.execute(sql, (loose, *params, limit * 4)).fetchall()
        else:
            candidates = []
    # Partial matches: rarer words weigh more (idf), then BM25.
    total = max(ix.clause_count, 1)
    idf = [
        math.log(1 + total / (1 + max(ix.df(t) for alt in g.alternatives for t in alt)))
        for g in parsed.groups
    ]
    more = []
    for cid, score, norm, title in candidates:
        if cid in seen:
            continue
        haystack = norm + title
        hits = [any(s in haystack for s in g.surfaces) for g in parsed.groups]
        weight = sum(w for w, hit in zip(idf, hits, strict=True) if hit)
        more.append((cid, -score, False, sum(hits), weight))
    more.sort(key=lambda r: (-r[4], -r[1]))
    out.extend(r[:4] for r in more[: limit - len(out)])
    return out


def _hits(ix, parsed: ParsedQuery, rows, rule_lookup) -> list[ClauseHit]:
    if not rows:
        return []
    ids = [r[0] for r in rows]
    marks = ",".join("?" * len(ids))
    with ix.lock:
        data = {
            r[0]: r
            for r in ix.conn.execute(
                "SELECT id, doc_id, path, label, citation, text, amount, entities "
                f"FROM clauses WHERE id IN ({marks})",
                ids,
            )
        }
    terms = parsed.highlight_terms()
    hits = []
    for rank, (cid, score, _, matched) in enumerate(rows, 1):
        _, doc_id, path, label, citation, text, amount, ents = data[cid]
        fragments = snippet_fragments(text, terms)
        rules = []
        if rule_lookup is not None:
            rules = [RuleRef(str(t), str(a)) for t, a in (rule_lookup(doc_id, path) or [])]
        hits.append(
            ClauseHit(
                rank=rank,
                doc_id=doc_id,
                path=path,
                label=label,
                citation=citation,
                snippet="".join(f"{HIT_OPEN}{s}{HIT_CLOSE}" if hit else s for s, hit in fragments),
                score=round(score, 4),
                matched=matched,
                states_amount=bool(amount),
                entities=[e for e in ents.split(",") if e],
                rules=rules,
                fragments=fragments,
            )
        )
    return hits


def _group(ix: SearchIndex, hits: list[ClauseHit], when: date) -> list[DocumentResult]:
    groups: dict[str, DocumentResult] = {}
    ids = list(dict.fromkeys(h.doc_id for h in hits))
    in_force = {}
    if ids:
        marks = ",".join("?" * len(ids))
        on = when.isoformat()
        with ix.lock:
            for doc_id, state in ix.conn.execute(
                f"SELECT d.id, {IN_FORCE_SQL} FROM docs d WHERE d.id IN ({marks})",
                (on, on, *ids),
            ):
                in_force[doc_id] = None if state is None else bool(state)
    for hit in hits:
        group = groups.get(hit.doc_id)
        if group is None:
            info = ix.docs[hit.doc_id]
            group = groups[hit.doc_id] = DocumentResult(
                doc_id=info.id,
                title=info.title,
                doc_number=info.doc_number,
                issued_on=info.issued_on,
                issuers=list(info.issuers),
                doc_type=info.doc_type,
                level=info.level,
                in_force=in_force.get(hit.doc_id),
                clauses=[],
            )
        group.clauses.append(hit)
    return list(groups.values())


# --- snippets ----------------------------------------------------------------------------


def snippet_fragments(
    text: str, terms: list[str], width: int = SNIPPET_CHARS
) -> list[tuple[str, bool]]:
    """A window of the original text around the densest hits, as (text, is_hit) pieces.

    Terms are normalised; they are looked up in a normalised copy of the text that keeps
    offsets (width/case folding, traditional → simplified only when lengths agree).
    """
    flat = " ".join(text.split())
    norm = normalize(flat)
    if len(norm) != len(flat):
        norm = fold(flat)
    spans: list[tuple[int, int]] = []
    taken = [False] * len(norm)
    for term in terms:  # longest first
        start = norm.find(term)
        while start != -1 and term:
            end = start + len(term)
            if not any(taken[start:end]):
                spans.append((start, end))
                for i in range(start, end):
                    taken[i] = True
            start = norm.find(term, end)
    spans.sort()
    if len(flat) <= width:
        lo, hi = 0, len(flat)
    else:
        best, lo = -1, 0
        for s, _ in spans or [(0, 0)]:
            begin = max(0, min(s - width // 4, len(flat) - width))
            count = sum(1 for a, b in spans if a >= begin and b <= begin + width)
            if count > best:
                best, lo = count, begin
        hi = min(len(flat), lo + width)
    pieces: list[tuple[str, bool]] = []
    cursor = lo
    if lo > 0:
        pieces.append(("…", False))
    for a, b in spans:
        if a < lo or b > hi:
            continue
        if a > cursor:
            pieces.append((flat[cursor:a], False))
        pieces.append((flat[a:b], True))
        cursor = b
    if cursor < hi:
        pieces.append((flat[cursor:hi], False))
    if hi < len(flat):
        pieces.append(("…", False))
    return pieces
