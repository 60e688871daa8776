from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from huiqi.ingest.model import Document
from huiqi.ingest.pipeline import ingest_paths
from huiqi.resources import bundled_corpus

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def corpus_docs() -> list[Document]:
    result = ingest_paths(bundled_corpus())
    assert not result.errors
    return result.documents


@pytest.fixture(scope="session")
def truth() -> list[dict]:
    return yaml.safe_load((DATA / "corpus_truth.yaml").read_text(encoding="utf-8"))
