"""Snapshot of POST /api/match for every examples/*.yaml profile, to prove a speed change left
the documents as they were: the slim default (also with every next question), ?questions=true, ?detail=full and
?trace=true.

    uv run python bench/match_snapshot.py write /tmp/before      # at the old commit
    uv run python bench/match_snapshot.py check /tmp/before      # after: byte-identical?

`check` reports each document as identical, parsed-equal (same JSON, other bytes; each
rule's `apply` key resolved to its block in `applies`, so a renumbering of the keys counts as
equal) or different (and exits 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from fastapi.testclient import TestClient

from huiqi.web.app import create_app

ROOT = Path(__file__).resolve().parent.parent
VARIANTS = {
    "slim": "",
    # every next question (an older tree ignores the parameter and gives them all)
    "slim_all": "?next_questions=1000",
    "questions": "?questions=true",
    "full": "?detail=full",
    "trace": "?trace=true",
}


def documents() -> dict[str, bytes]:
    client = TestClient(create_app())
    out = {}
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
        body = json.dumps({"profile": profile}, ensure_ascii=False, default=str).encode()
        for name, query in VARIANTS.items():
            r = client.post(f"/api/match{query}", content=body)
            assert r.status_code == 200, (path.name, name, r.status_code, r.text[:300])
            out[f"{path.stem}.{name}.json"] = r.content
    return out


def resolved(content: bytes) -> object:
    """The document with each slim rule's `apply` key replaced by the block it names."""
    doc = json.loads(content)
    applies = doc.pop("applies", None) if isinstance(doc, dict) else None
    if applies is not None:
        for rule in doc["rules"]:
            if isinstance(rule.get("apply"), str):
                rule["apply"] = applies[rule["apply"]]
    return doc


def main() -> None:
    mode, folder = sys.argv[1], Path(sys.argv[2])
    docs = documents()
    if mode == "write":
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in docs.items():
            (folder / name).write_bytes(content)
        print(f"{len(docs)} documents written to {folder}")
        return
    same = equal = 0
    bad = []
    for name, content in docs.items():
        before = (folder / name).read_bytes()
        if before == content:
            same += 1
        elif resolved(before) == resolved(content):
            equal += 1
        else:
            bad.append(name)
    print(f"{same} byte-identical, {equal} parsed-equal, {len(bad)} different: {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
