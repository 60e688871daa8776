"""Relevance of `huiqi search` over tests/data/search_relevance.yaml.

    uv run python bench/relevance.py [--misses]

Prints MRR, recall@3 and recall@10 and lists the queries whose first answer is not in the
top 3. A returned clause answers a query if it is one of the expected clauses or inside
one (a descendant). Ranks are over the flat ranked list (`SearchResults.hits`).
Importable: `evaluate()` returns the figures (tests/test_search_relevance.py uses it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
RELEVANCE_FILE = ROOT / "tests" / "data" / "search_relevance.yaml"


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


def main(argv: list[str]) -> int:
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
