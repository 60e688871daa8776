"""Ingest benchmark: the bundled corpus and a corpus 100 times larger generated from it.

Prints a table of parse time (decode, split, clause trees, relations) and store time (SQLite)
per corpus size, with the throughput, so that linear growth can be read off the ratio.

    uv run python bench/bench_ingest.py [--scale 100]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

from huiqi.ingest.pipeline import ingest_paths
from huiqi.library.store import Library
from huiqi.resources import bundled_corpus


def make_corpus(target: Path, scale: int) -> list[Path]:
    """`scale` copies of every file; each copy's 文号 serials and titles are made distinct."""
    paths = []
    for k in range(scale):
        for src in bundled_corpus():
            text = src.read_text(encoding="utf-8")
            if k:
                # another year in every 文号 bracket keeps each copy's numbers distinct
                text = re.sub(r"〔(\d{4})〕", f"〔{1900 + k}〕", text)
                text = text.replace("焦作市", f"焦作{k}市")
            path = target / f"{k:03d}_{src.name}"
            path.write_text(text, encoding="utf-8")
            paths.append(path)
    return paths


def run(paths: list[Path], db: Path) -> tuple[float, float, int, int]:
    start = time.perf_counter()
    result = ingest_paths(paths)
    parsed = time.perf_counter()
    Library(db).save(result.documents)
    stored = time.perf_counter()
    clauses = sum(sum(1 for _ in d.walk()) for d in result.documents)
    return parsed - start, stored - parsed, len(result.documents), clauses


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        rows = []
        for scale in (1, args.scale):
            folder = tmpdir / f"x{scale}"
            folder.mkdir()
            paths = bundled_corpus() if scale == 1 else make_corpus(folder, scale)
            size = sum(p.stat().st_size for p in paths)
            parse_s, store_s, docs, clauses = run(paths, tmpdir / f"x{scale}.db")
            rows.append((scale, size, docs, clauses, parse_s, store_s))
    print(
        f"{'corpus':>8} {'MB':>7} {'docs':>7} {'clauses':>8} {'parse s':>8} {'store s':>8} {'MB/s':>6}"
    )
    for scale, size, docs, clauses, parse_s, store_s in rows:
        mb = size / 1e6
        print(
            f"{'x' + str(scale):>8} {mb:7.2f} {docs:7d} {clauses:8d} {parse_s:8.3f} {store_s:8.3f}"
            f" {mb / parse_s:6.2f}"
        )
    base, big = rows[0], rows[-1]
    print(
        f"\nsize ratio {big[1] / base[1]:.0f}x, parse time ratio {big[4] / base[4]:.1f}x, "
        f"store time ratio {big[5] / base[5]:.1f}x (linear growth: time ratio ≈ size ratio)"
    )


if __name__ == "__main__":
    main()
