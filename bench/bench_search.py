"""Search speed: index build time and query latency, on the corpus and 100 times larger.

    uv run python bench/bench_search.py [--scale 100] [--repeat 5]

The large library replicates every document of the bundled corpus with a new id, title
and 文号, so the index holds SCALE times the clauses (same words, so the same posting-list
shapes as a library of many similar policies). Queries: the first 50 of the relevance set,
each run REPEAT times after one warm-up pass. Segmenter start-up is measured once, first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))


def replicate(documents, scale: int):
    out = []
    for k in range(scale):
        for doc in documents:
            if k == 0:
                out.append(doc)
                continue
            number = f"{doc.doc_number}-{k}" if doc.doc_number else None
            out.append(
                replace(doc, id=f"{doc.id}x{k}", title=f"{doc.title}（第{k}辑）", doc_number=number)
            )
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[rank]


def time_queries(index, queries: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per query. On a shared machine the wall clock also
    counts time waiting for a core; the CPU time is what the query itself costs."""
    from huiqi.search import search

    for q in queries:  # warm-up (df cache, page cache)
        search(q, index=index)
    times, cpu = [], []
    for _ in range(repeat):
        for q in queries:
            t, c = time.perf_counter(), time.process_time()
            search(q, index=index)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
    return times, cpu


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    t = time.perf_counter()
    from huiqi.search.segment import get_segmenter

    get_segmenter()
    startup = time.perf_counter() - t

    from relevance import load_cases

    from huiqi.library.catalogue import corpus_documents
    from huiqi.search import SearchIndex

    queries = [c["query"] for c in load_cases()][:50]
    questions_file = ROOT / "bench" / "questions.yaml"
    questions = []
    if questions_file.exists():  # issue 15: questions as users type them
        import yaml

        questions = [c["q"] for c in yaml.safe_load(questions_file.read_text(encoding="utf-8"))]
    docs = list(corpus_documents())
    rows = []
    for scale in (1, args.scale):
        library = replicate(docs, scale)
        t = time.perf_counter()
        index = SearchIndex.build(library)
        build = time.perf_counter() - t
        for name, qs in (("keywords", queries), ("questions", questions)):
            if not qs:
                continue
            times, cpu = time_queries(index, qs, args.repeat)
            rows.append(
                (
                    f"{scale}× {name}",
                    len(library),
                    index.clause_count,
                    build,
                    statistics.median(times),
                    percentile(times, 99),
                    max(times),
                    statistics.median(cpu),
                )
            )
        index.close()

    print(f"segmenter start-up (once per process): {startup * 1000:.0f} ms")
    print(f"queries: {len(queries)} keywords, {len(questions)} questions, × {args.repeat} runs\n")
    head = (
        f"{'library':>16} {'docs':>6} {'clauses':>8} {'build s':>8} {'p50 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'cpu p50':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, ndocs, nclauses, build, p50, p99, worst, cpu in rows:
        print(
            f"{name:>16} {ndocs:>6} {nclauses:>8} {build:>8.2f} {p50:>7.2f} {p99:>7.2f} "
            f"{worst:>7.2f} {cpu:>7.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
