"""`search()`: what the CLI and the REST API call.

    from huiqi.search import search
    results = search("人才买房补贴", level="city", limit=5)
    for group in results.groups:            # ranked clauses, grouped by document
        print(group.title, group.doc_number, group.in_force)
        for hit in group.clauses:
            print(hit.citation, hit.snippet, hit.rules)

Ranking (issue 15): a fixed pool of candidates (clauses with every essential word, and
clauses with any essential word, each the best `POOL` by BM25) is scored and sorted, then cut
to `limit`, so that the first results never depend on `limit`. A clause's score, highest
weight first: it holds every essential word; it is of the kind the question asks for (the
amount, the deadline, the office …: intents.yaml); how much of the query it covers, rarer
words weighing more; BM25. `SearchResults.hits` is that flat ranking; `SearchResults.groups`
the same hits grouped by document, documents ordered by their best hit.

Honest results: `notices` tell the user, in Chinese, of a corrected typo ("您是不是要找：…"),
of places outside the library ("政策库中没有该地区的政策"), of key words no clause contains and
of essential words no clause holds together ("没有找到与…相关的条款"); `relaxed` is true only
in that last case.
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
from .dictionary import search_data
from .filters import IN_FORCE_SQL, FilterError, Filters, parse_date
from .index import WEIGHTS, SearchIndex
from .normalize import fold, normalize
from .query import ParsedQuery, doc_number_key, match_all, match_any, parse_query

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
    answers: bool = False  # a clause of the kind the question asks for (amount, deadline …)
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
    relaxed: bool = False  # no clause holds every essential word: hits match only part
    message: str | None = None  # why there are no results, for the user
    elapsed_ms: float = 0.0
    intents: list[str] = field(default_factory=list)  # labels of what the question asks for
    suggestion: str | None = None  # the query as corrected (searched instead)
    corrections: list[tuple[str, str]] = field(default_factory=list)  # (typed, corrected)
    unmatched: list[str] = field(default_factory=list)  # key words no clause contains
    outside_places: list[str] = field(default_factory=list)  # places the library lacks
    notices: list[str] = field(default_factory=list)  # all of the above, for the user

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
            "intents": self.intents,
            "suggestion": self.suggestion,
            "corrections": [list(c) for c in self.corrections],
            "unmatched": self.unmatched,
            "outside_places": self.outside_places,
            "notices": self.notices,
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
    parsed = parse_query(
        query if isinstance(query, str) else "",
        ix.segmenter,
        ix.df,
        vocab=ix.vocabulary(),
        clause_count=ix.clause_count,
    )
    data = search_data()
    results = SearchResults(
        query=parsed.text,
        terms=parsed.terms(),
        phrases=parsed.phrases,
        filters=filters,
        as_of=when,
        hits=[],
        groups=[],
        intents=[data.intents[i].label for i in parsed.intents if i in data.intents],
        suggestion=parsed.suggestion,
        corrections=[(c.wrong, c.right) for c in parsed.corrections],
        unmatched=list(parsed.unmatched),
        outside_places=list(parsed.outside_places),
    )
    if parsed.suggestion:
        results.notices.append(f"您是不是要找：{parsed.suggestion}（已按此查找）")
    if parsed.outside_places:
        results.notices.append(
            f"政策库中没有该地区的政策（{'、'.join(parsed.outside_places)}）；"
            "以下条款来自政策库已收录的地区，不适用于该地区"
        )
    for word in parsed.unmatched:
        results.notices.append(f"没有找到与“{word}”相关的条款")
    if parsed.empty:
        if parsed.unmatched:
            results.message = results.notices[-1]
        elif not parsed.normalized.strip() or not re.search(r"[^\W_]", parsed.normalized):
            results.message = "请输入要查找的内容，例如：研发费用加计扣除、人才购房补贴"
        else:
            results.message = "政策库中没有找到这些词"
        results.elapsed_ms = (time.perf_counter() - started) * 1000
        return results
    rows, missing = _run(ix, parsed, filters, limit)
    if missing and rows:
        results.relaxed = True
        quoted = "”“".join(missing)
        results.notices.append(f"没有找到与“{quoted}”相关的条款；以下条款只与其他词语相关")
    results.hits = _hits(ix, parsed, rows, rule_lookup)
    results.groups = _group(ix, results.hits, when)
    if not results.hits:
        results.message = "没有找到符合条件的条款"
    results.elapsed_ms = (time.perf_counter() - started) * 1000
    return results


# Ids and BM25 only: what an ORDER BY keeps for every matching row (texts are read after, for
# the candidates alone). The joins are there for the filters' conditions.
_RANK = (
    "SELECT c.id, bm25(clause_fts, {w}) AS score "
    "FROM clause_fts JOIN clauses c ON c.id = clause_fts.rowid "
    "JOIN docs d ON d.id = c.doc_id "
    "WHERE clause_fts MATCH ?{extra} ORDER BY score LIMIT ?"
).replace("{w}", ", ".join(str(w) for w in WEIGHTS))
_RANK_BARE = (
    "SELECT rowid, bm25(clause_fts, {w}) AS score FROM clause_fts "
    "WHERE clause_fts MATCH ? ORDER BY score LIMIT ?"
).replace("{w}", ", ".join(str(w) for w in WEIGHTS))
_DETAIL = (
    "SELECT c.id, c.norm, d.norm_title || ' ' || COALESCE(d.doc_number, ''), "
    "c.kind, d.doc_number FROM clauses c JOIN docs d ON d.id = c.doc_id "
    "WHERE c.id IN ({marks})"
)

# The best POOL clauses by BM25 of each candidate query are scored and re-sorted; any further
# clauses follow in BM25 order. Neither depends on `limit`, which only cuts the list: the top
# results never change with it.
POOL = 40
# Score weights: holding every essential word outranks everything else; then answering what
# the question asks for; then coverage of the query (idf-weighted share); then BM25. A
# chapter heading (第三章 医保待遇) names a topic and answers nothing itself.
W_ESSENTIAL, W_INTENT, W_COVER, W_BM25, W_HEADING = 4.0, 1.0, 1.0, 0.3, -0.5
W_DOC_NUMBER = 2.0  # the query names the clause's document by its 文号
# Below this share of the essential words (idf-weighted) in the best clause, the essential
# words it lacks are reported as not found.
FOUND_SHARE = 0.5


def _run(ix: SearchIndex, parsed: ParsedQuery, filters: Filters, limit: int):
    """([(clause id, score, answers, matched words)] best first, cut to `limit`;
    the essential words the best-covering clause lacks, when it holds too few of them)."""
    where, params = filters.sql()
    for phrase in parsed.phrases:
        where = " AND ".join(
            w for w in (where, "(instr(c.norm, ?) > 0 OR instr(d.norm_title, ?) > 0)") if w
        )
        params = [*params, phrase, phrase]
    sql = _RANK.replace("{extra}", f" AND {where}") if where else _RANK_BARE
    essential = parsed.essential or parsed.groups
    core = ParsedQuery(
        parsed.text, parsed.normalized, essential, parsed.phrases, parsed.phrase_groups
    )
    strict_expr = match_all(core)
    loose_expr = match_any(core) if len(essential) > 1 else None
    depth = max(POOL, limit)
    with ix.lock:
        strict = (
            ix.conn.execute(sql, (strict_expr, *params, depth)).fetchall() if strict_expr else []
        )
        # Clauses with only some essential words compete when those with all of them do not
        # fill the pool (a fixed size, so this never depends on `limit` either).
        loose = []
        if loose_expr and len(strict) < POOL:
            loose = ix.conn.execute(sql, (loose_expr, *params, depth)).fetchall()
    bm25 = {}
    for cid, score in (*loose[:POOL], *strict[:POOL]):
        bm25.setdefault(cid, score)
    if not bm25:
        return [], []
    ids = list(bm25)
    with ix.lock:
        detail = ix.conn.execute(_DETAIL.replace("{marks}", ",".join("?" * len(ids))), ids)
        pool = {r[0]: (r[0], bm25[r[0]], *r[1:]) for r in detail}
    intents = ix.clause_intents(list(pool))
    asked = set(parsed.intents)
    total = max(ix.clause_count, 1)
    idf = [
        math.log(1 + total / (1 + max(ix.df(t) for alt in g.alternatives for t in alt)))
        for g in parsed.groups
    ]
    idf_sum = sum(idf) or 1.0
    best_bm25 = max(-r[1] for r in pool.values()) or 1.0
    ess_sum = sum(w for w, g in zip(idf, parsed.groups, strict=True) if g.essential) or 1.0
    scored = []
    best_share, best_hits = -1.0, []
    named = set(parsed.doc_numbers)
    for cid, score, norm, title, kind, doc_number in pool.values():
        haystack = norm + title
        hits = [_contains(haystack, g.alternatives) for g in parsed.groups]
        pairs = list(zip(parsed.groups, hits, idf, strict=True))
        whole = all(h for g, h, _ in pairs if g.essential)
        share = sum(w for g, h, w in pairs if g.essential and h) / ess_sum
        if share > best_share:
            best_share, best_hits = share, hits
        answered = len(asked & intents[cid])
        answers = answered > 0
        value = (
            W_ESSENTIAL * whole
            + W_INTENT * answered / max(len(asked), 1)  # 交给谁 + 材料: the clause with both
            + W_COVER * sum(w for _, h, w in pairs if h) / idf_sum
            + W_BM25 * (-score / best_bm25)
            + W_HEADING * (kind == "chapter")
            + W_DOC_NUMBER * bool(named and doc_number_key(doc_number) in named)
        )
        scored.append((cid, value, answers, sum(hits)))
    scored.sort(key=lambda r: (-r[1], r[0]))
    if len(scored) < limit:  # beyond the pool: BM25 order, after every scored clause
        seen = set(pool)
        for cid, _ in (*strict[POOL:], *loose[POOL:]):
            if cid not in seen:
                seen.add(cid)
                scored.append((cid, 0.0, False, 0))
    missing = []
    if parsed.essential and best_share < FOUND_SHARE:
        missing = [
            g.word for g, h in zip(parsed.groups, best_hits, strict=True) if g.essential and not h
        ]
    return scored[:limit], missing


def _contains(haystack: str, alternatives: list[tuple[str, ...]]) -> bool:
    """Whether a clause's text holds one of a word's alternatives (all of its tokens)."""
    for alt in alternatives:
        if len(alt) == 1:
            if alt[0] in haystack:
                return True
        elif all(t in haystack for t in alt):
            return True
    return False


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
    for rank, (cid, score, answers, matched) in enumerate(rows, 1):
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
                answers=answers,
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
