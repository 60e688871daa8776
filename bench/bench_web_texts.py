"""Ingest accuracy on real-world-shaped texts (tests/data/web_texts/, issue #14).

Every file there is ingested in one run (as `huiqi ingest tests/data/web_texts/*` would) and the
documents are compared with the hand-written truth.yaml, field by field. Prints the share right
per field; `--detail` lists every miss.

    uv run python bench/bench_web_texts.py [--detail]
"""

from __future__ import annotations

import argparse
import re
from datetime import date
from pathlib import Path

import yaml

from huiqi.ingest.model import Document
from huiqi.ingest.pipeline import ingest_paths
from huiqi.ingest.text import halfwidth

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "tests" / "data" / "web_texts"
FIELDS = [
    "found",
    "doc_number",
    "title",
    "issuers",
    "issued_on",
    "effective_from",
    "effective_to",
    "structure",
    "clauses",
    "keep",
    "furniture",
]


def flat(text: object) -> str:
    """Compared without white space, with full-width and ASCII punctuation unified."""
    text = halfwidth(str(text or "")).replace("〔", "[").replace("〕", "]")
    return re.sub(r"\s+", "", text)


def load_truth() -> list[dict]:
    return yaml.safe_load((FOLDER / "truth.yaml").read_text(encoding="utf-8"))


def files() -> list[Path]:
    return sorted(p for p in FOLDER.iterdir() if p.name != "truth.yaml")


def _date(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _doc_text(doc: Document) -> str:
    return "\n".join(c.text for c in doc.walk())


def _pair(entries: list[dict], docs: list[Document]) -> list[tuple[dict, Document | None]]:
    """Each truth entry with the parsed document it describes: same title, else the one that
    holds its first kept sentence, else the next unused one."""
    unused = list(docs)
    pairs = []
    for entry in entries:
        pick = None
        if entry["title"]:
            pick = next((d for d in unused if flat(d.title) == flat(entry["title"])), None)
        if pick is None and entry.get("keep"):
            want = flat(entry["keep"][0])
            pick = next((d for d in unused if want in flat(_doc_text(d))), None)
        if pick is None and unused:
            pick = unused[0]
        if pick is not None:
            unused.remove(pick)
        pairs.append((entry, pick))
    return pairs


def _labels(doc: Document) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in doc.walk():
        out.setdefault(flat(c.label), c.text)
    return out


def score(docs: list[Document], truth: list[dict]) -> dict[str, list[tuple[bool, str]]]:
    """Per field, one (right, description) per check."""
    results: dict[str, list[tuple[bool, str]]] = {f: [] for f in FIELDS}
    by_file: dict[str, list[Document]] = {}
    for d in sorted(docs, key=lambda d: (d.source, d.line_start)):
        by_file.setdefault(d.source, []).append(d)
    entries_by_file: dict[str, list[dict]] = {}
    for e in truth:
        entries_by_file.setdefault(e["file"], []).append(e)
    for name, entries in entries_by_file.items():
        got = by_file.get(name, [])
        results["found"].append(
            (len(got) == len(entries), f"{name}: {len(got)} documents, truth {len(entries)}")
        )
        for entry, doc in _pair(entries, got):
            where = f"{name} 《{(entry['title'] or '（无标题）')[:24]}》"
            if doc is None:
                for f in FIELDS[1:]:
                    results[f].append((False, f"{where}: no document"))
                continue
            _score_doc(entry, doc, where, results)
    return results


def _score_doc(entry: dict, doc: Document, where: str, results) -> None:
    def check(field: str, ok: bool, got, want) -> None:
        results[field].append((ok, f"{where} {field}: got {got!r}, want {want!r}"))

    want_title = entry["title"]
    if want_title is None:
        check("title", not doc.title_in_text, (doc.title, doc.title_in_text), "no title in text")
    else:
        check("title", flat(doc.title) == flat(want_title), doc.title, want_title)
    check(
        "doc_number",
        flat(doc.doc_number) == flat(entry["doc_number"]),
        doc.doc_number,
        entry["doc_number"],
    )
    check("issuers", [flat(i) for i in doc.issuers] == [flat(i) for i in entry["issuers"]],
          doc.issuers, entry["issuers"])  # fmt: skip
    for f in ("issued_on", "effective_from", "effective_to"):
        check(f, getattr(doc, f) == _date(entry[f]), getattr(doc, f), entry[f])
    roots = [flat(c.label) for c in doc.clauses if c.kind not in ("preamble", "flat")]
    articles = sum(1 for c in doc.walk() if c.kind == "article")
    ok = roots == [flat(x) for x in entry["top_level"]]
    if "articles" in entry:
        ok = ok and articles == entry["articles"]
    check("structure", ok, (roots, articles), (entry["top_level"], entry.get("articles")))
    labels = _labels(doc)
    for clause in entry.get("clauses") or []:
        text = labels.get(flat(clause["label"]))
        # the clause text opens with its own marker (第七条, （一）), as in corpus_truth.yaml
        ok = text is not None and flat(clause["starts_with"]) in flat(text)[:80]
        check("clauses", ok, (clause["label"], (text or "")[:30]), clause["starts_with"])
    body = flat(_doc_text(doc))
    for sentence in entry.get("keep") or []:
        check(
            "keep",
            flat(sentence) in body,
            "missing" if flat(sentence) not in body else "",
            sentence,
        )
    everything = flat(doc.title) + body
    bad = [f for f in entry.get("furniture") or [] if flat(f) in everything]
    check("furniture", not bad, bad, [])


def run(held_out: bool | None = False) -> dict[str, list[tuple[bool, str]]]:
    """Scores on the files the parser was tuned on (held_out False), on the held-out files
    (True: truth written before the parser ever ran on them), or on all (None)."""
    truth = [e for e in load_truth() if held_out is None or bool(e.get("held_out")) == held_out]
    names = {e["file"] for e in truth}
    result = ingest_paths([p for p in files() if p.name in names])
    return score(result.documents, truth)


def table(results: dict[str, list[tuple[bool, str]]], title: str) -> None:
    print(f"\n{title}\n{'field':<16}{'right':>7}{'of':>5}{'share':>8}")
    for field in FIELDS:
        checks = results[field]
        right = sum(ok for ok, _ in checks)
        share = right / len(checks) if checks else 1.0
        print(f"{field:<16}{right:>7}{len(checks):>5}{share:>8.0%}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--detail", action="store_true", help="list every miss")
    args = parser.parse_args()
    tuned, held = run(False), run(True)
    table(tuned, "files the parser was improved on")
    table(held, "held-out files (truth written before the parser ran on them)")
    results = {f: tuned[f] + held[f] for f in FIELDS}
    if args.detail:
        for field in FIELDS:
            for ok, text in results[field]:
                if not ok:
                    print("  MISS", text)


if __name__ == "__main__":
    main()
