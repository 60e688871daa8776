"""Citations survive parser changes (issue #14): rules cite documents by 文号 or a slug declared
in the pack's documents.yaml, and clauses by the text's own numbering (第十四条, 二（三）2), never by
the parser's internal paths. Renumbering every internal path and re-running `huiqi check` on all
bundled packs must find every citation again."""

from __future__ import annotations

import hashlib

import pytest

from huiqi.authoring.check import check_all
from huiqi.ingest import clauses as clauses_mod
from huiqi.library import catalogue


@pytest.fixture
def renumbered(monkeypatch):
    """The parser as if rewritten: every clause path replaced by an unrelated one."""
    original = clauses_mod.assign_paths

    def perturbed(roots):
        original(roots)
        stack = list(roots)
        while stack:
            node = stack.pop()
            node.path = "z" + hashlib.sha1(node.path.encode()).hexdigest()[:8]
            stack.extend(node.children)

    monkeypatch.setattr(clauses_mod, "assign_paths", perturbed)
    monkeypatch.setenv("HUIQI_NO_CACHE", "1")  # the disk cache holds the old parse
    monkeypatch.setattr(catalogue, "_PARSED", {})
    catalogue.corpus_documents.cache_clear()
    yield
    catalogue.corpus_documents.cache_clear()


def test_check_passes_with_renumbered_paths(renumbered):
    docs = catalogue.corpus_documents()
    paths = [c.path for d in docs for c in d.walk()]
    assert paths and all(p.startswith("z") for p in paths)  # the perturbation took effect
    # the old paths no longer resolve: a rule citing one would now fail
    groups = catalogue.find_document("焦发〔2017〕6号", docs)
    assert catalogue.find_clause(groups, "i5.p3.n1") is None
    assert catalogue.find_clause(groups, "五（三）1").text.startswith("1.鼓励企业做大做强")
    problems = [(name, str(e)) for name, _pack, errors in check_all() for e in errors]
    assert problems == []


def test_second_occurrence_of_a_repeated_number():
    """焦办〔2017〕18号 numbers （一）…（五） twice under 三 (conditions, then exclusions):
    三（五）（第2处） is the second, quoted from the text."""
    doc = catalogue.find_document("焦办〔2017〕18号")
    first = catalogue.find_clause(doc, "三（五）")
    second = catalogue.find_clause(doc, "三（五）（第2处）")
    assert first.text.startswith("（五）诚信经营，依法足额纳税。")
    assert second.text.startswith("（五）发生越级和违规到市级以上部门集体上访")
    assert catalogue.find_clause(doc, "三（五）（第3处）") is None
