from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from huiqi.ingest.model import Document
from huiqi.ingest.pipeline import ingest_paths
from huiqi.resources import bundled_corpus

DATA = Path(__file__).parent / "data"


TRUTH = yaml.safe_load((DATA / "corpus_truth.yaml").read_text(encoding="utf-8"))


def truth_corpus() -> list[Path]:
    """The corpus files the hand-read truth covers: a pack added later brings its own texts,
    and the counts below do not change."""
    sources = {entry["source"] for entry in TRUTH}
    return [p for p in bundled_corpus() if p.name in sources]


@pytest.fixture(scope="session")
def corpus_docs() -> list[Document]:
    result = ingest_paths(truth_corpus())
    assert not result.errors
    return result.documents


@pytest.fixture(scope="session")
def truth() -> list[dict]:
    return TRUTH


def copy_policies(tmp_path: Path, keep: dict[str, list[str]] | None = None) -> Path:
    """A writable copy of every bundled pack (packs extend each other, so a pack is copied
    with its siblings); `keep` limits a pack's rule files to the names given."""
    import shutil

    from huiqi.resources import policies_dir

    root = tmp_path / "policies"
    shutil.copytree(policies_dir(), root)
    # rule cases may name an example profile (../../examples/x.yaml)
    shutil.copytree(policies_dir().parent / "examples", tmp_path / "examples")
    for pack, names in (keep or {}).items():
        for path in (root / pack / "rules").glob("*.yaml"):
            if path.name not in names:
                path.unlink()
        shutil.rmtree(root / pack / "tests", ignore_errors=True)
    return root
