"""Relevance of `huiqi search` over tests/data/search_relevance.yaml (keyword queries) and
bench/questions.yaml (questions as users write them, issue 15).

    uv run python bench/relevance.py [--misses]
    uv run python bench/relevance.py --questions [--misses]

Keyword set: prints MRR, recall@3 and recall@10 and lists the queries whose first answer is
not in the top 3. A returned clause answers a query if it is one of the expected clauses or
inside one (a descendant). Ranks are over the flat ranked list (`SearchResults.hits`).

Question set: per kind, recall@3 (an expected document among the top 3 clauses) and the
right-clause rate (an expected clause, or one inside it, among the top 3); out-of-scope
questions count as answered honestly when a notice of the results says what `honest` asks
for; answerable questions that got a not-found or other-region notice are false alarms.
Importable: `evaluate()` / `evaluate_questions()` return the figures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RELEVANCE_FILE = ROOT / "tests" / "data" / "search_relevance.yaml"
QUESTIONS_FILE = ROOT / "bench" / "questions.yaml"


@dataclass
class QueryOutcome:
    query: str
    rank: int | None  # rank of the first answering clause (1-based) within the top 10
    expected: list[str]
    top: list[str] = field(default_factory=list)


@dataclass
class Report:
    outcomes: list[QueryOutcome]

    @property
    def mrr(self) -> float:
        return sum(1 / o.rank for o in self.outcomes if o.rank) / len(self.outcomes)

    def recall_at(self, k: int) -> float:
        return sum(1 for o in self.outcomes if o.rank and o.rank <= k) / len(self.outcomes)

    def misses(self, k: int = 3) -> list[QueryOutcome]:
        return [o for o in self.outcomes if not o.rank or o.rank > k]


def load_cases(path: Path = RELEVANCE_FILE) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def evaluate(cases: list[dict] | None = None, index=None, depth: int = 10) -> Report:
    from huiqi.library.catalogue import corpus_documents, find_clause, find_document
    from huiqi.search import search

    docs = corpus_documents()
    outcomes = []
    for case in cases if cases is not None else load_cases():
        expected: list[tuple[str, str]] = []  # (doc id, path prefix)
        for item in case["expect"]:
            doc = find_document(str(item["doc"]), docs)
            if doc is None:
                raise ValueError(f"unknown document in relevance set: {item['doc']}")
            clause = find_clause(doc, str(item["clause"]))
            if clause is None:
                raise ValueError(f"unknown clause {item['clause']} in {item['doc']}")
            expected.append((doc.id, clause.path))
        results = search(case["query"], limit=depth, index=index)
        rank = None
        for hit in results.hits:
            if any(
                hit.doc_id == d and (hit.path == p or hit.path.startswith(p + "."))
                for d, p in expected
            ):
                rank = hit.rank
                break
        outcomes.append(
            QueryOutcome(
                case["query"],
                rank,
                [f"{d}:{p}" for d, p in expected],
                [f"{h.citation} [{h.path}]" for h in results.hits[:3]],
            )
        )
    return Report(outcomes)


@dataclass
class QuestionOutcome:
    question: str
    kind: str
    doc_hit: bool = False  # an expected document among the top 3
    clause_hit: bool = False  # an expected clause among the top 3
    honest: bool | None = None  # out of scope: the notice asked for was given
    false_alarm: bool = False  # answerable, yet told "not found" / "other region"
    notices: list[str] = field(default_factory=list)
    top: list[str] = field(default_factory=list)


def _notices(results) -> list[str]:
    notes = list(getattr(results, "notices", []) or [])
    if results.message:
        notes.append(results.message)
    return notes


def evaluate_questions(path: Path = QUESTIONS_FILE, index=None) -> list[QuestionOutcome]:
    from huiqi.library.catalogue import corpus_documents, find_clause, find_document
    from huiqi.search import search

    docs = corpus_documents()
    outcomes = []
    for case in yaml.safe_load(path.read_text(encoding="utf-8")):
        results = search(case["q"], limit=3, index=index)
        notes = _notices(results)
        out = QuestionOutcome(case["q"], case["kind"], notices=notes)
        out.top = [f"{h.doc_id} {h.citation} [{h.path}]" for h in results.hits[:3]]
        if case.get("out_of_scope"):
            out.honest = any(case["honest"] in n for n in notes)
            outcomes.append(out)
            continue
        expected: list[tuple[str, str]] = []
        for item in case["expect"]:
            doc = find_document(str(item["doc"]), docs)
            if doc is None:
                raise ValueError(f"unknown document in question set: {item['doc']}")
            clause = find_clause(doc, str(item["clause"]))
            if clause is None:
                raise ValueError(f"unknown clause {item['clause']} in {item['doc']}")
            expected.append((doc.id, clause.path))
        top = results.hits[:3]
        out.doc_hit = any(h.doc_id == d for h in top for d, _ in expected)
        out.clause_hit = any(
            h.doc_id == d and (h.path == p or h.path.startswith(p + "."))
            for h in top
            for d, p in expected
        )
        out.false_alarm = any(
            ("没有找到与" in n or "没有该地区" in n) for n in getattr(results, "notices", []) or []
        )
        outcomes.append(out)
    return outcomes


def question_table(outcomes: list[QuestionOutcome]) -> list[tuple[str, int, float, float]]:
    """(kind, n, recall@3, right-clause rate) per kind of answerable question, then all."""
    rows = []
    answerable = [o for o in outcomes if o.honest is None]
    kinds = list(dict.fromkeys(o.kind for o in answerable))
    for kind in [*kinds, "all"]:
        group = answerable if kind == "all" else [o for o in answerable if o.kind == kind]
        n = len(group)
        rows.append(
            (kind, n, sum(o.doc_hit for o in group) / n, sum(o.clause_hit for o in group) / n)
        )
    return rows


def main_questions(argv: list[str]) -> int:
    outcomes = evaluate_questions()
    print(f"{'kind':<12} {'n':>3} {'recall@3':>9} {'clause@3':>9}")
    for kind, n, recall, clause in question_table(outcomes):
        print(f"{kind:<12} {n:>3} {recall:>9.3f} {clause:>9.3f}")
    scope = [o for o in outcomes if o.honest is not None]
    honest = sum(1 for o in scope if o.honest)
    alarms = [o for o in outcomes if o.false_alarm]
    print(f"out_of_scope {len(scope):>3}   honest {honest}/{len(scope)}")
    print(f"false alarms on answerable questions: {len(alarms)}")
    if "--misses" in argv:
        for o in outcomes:
            bad = (o.honest is False) or (o.honest is None and not (o.doc_hit and o.clause_hit))
            if bad or o.false_alarm:
                flag = "alarm" if o.false_alarm else ("doc" if not o.doc_hit else "clause")
                if o.honest is not None:
                    flag = "dishonest"
                print(f"\n  [{o.kind}/{flag}] {o.question}   notices: {o.notices}")
                for line in o.top:
                    print(f"      got {line}")
    return 0


def main(argv: list[str]) -> int:
    if "--questions" in argv:
        return main_questions(argv)
    report = evaluate()
    n = len(report.outcomes)
    print(f"queries     {n}")
    print(f"MRR         {report.mrr:.3f}")
    print(f"recall@3    {report.recall_at(3):.3f}")
    print(f"recall@10   {report.recall_at(10):.3f}")
    misses = report.misses(3)
    if misses:
        print(f"\nnot in the top 3 ({len(misses)}):")
        for o in misses:
            where = f"rank {o.rank}" if o.rank else "not in top 10"
            print(f"  {o.query}  ({where}; expected {', '.join(o.expected)})")
            if "--misses" in argv:
                for line in o.top:
                    print(f"      got {line}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "src"))
    raise SystemExit(main(sys.argv[1:]))
