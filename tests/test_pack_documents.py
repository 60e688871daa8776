"""A pack's documents.yaml: slugs rules cite, and corrections of parsed metadata with a reason."""

from __future__ import annotations

from datetime import date

from conftest import copy_policies

from huiqi.authoring.check import check_pack
from huiqi.packs.loader import load_pack

KJJL = "焦作市科技创新奖励资金管理暂行办法"


def _pack(tmp_path, documents: str):
    root = copy_policies(tmp_path, keep={"jiaozuo": ["kjjl.yaml"], "cn": [], "mengzhou": []})
    (root / "jiaozuo" / "documents.yaml").write_text(documents, encoding="utf-8")
    return root


def test_slug_and_correction_apply(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_NO_CACHE", "1")
    root = _pack(
        tmp_path,
        f"""documents:
  - slug: jiaozuo.kjjl
    match: {{title: {KJJL}}}
    set: {{doc_number: "焦政办[2017]99号", effective_to: 2022-08-14}}
    reason: 测试：页面所载文号与有效期
""",
    )
    pack = load_pack(root / "jiaozuo")
    (doc,) = [d for d in pack.documents if d.slug == "jiaozuo.kjjl"]
    assert doc.doc_number == "焦政办〔2017〕99号" and doc.effective_to == date(2022, 8, 14)
    # citations follow the corrected 文号; the shared parse is not changed
    assert next(doc.walk()).citation.startswith("焦政办〔2017〕99号")
    # the rules citing the slug still find their document, clauses and quotes
    cited = [e.message for e in check_pack(pack) if "找不到" in e.message or "引文" in e.message]
    assert cited == []
    assert pack.rules and all(r.doc_id == doc.id for r in pack.rules)


def test_reason_is_required_and_a_stale_match_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HUIQI_NO_CACHE", "1")
    from huiqi.errors import PackErrors

    root = _pack(tmp_path, "documents:\n  - slug: jiaozuo.kjjl\n    match: {title: 某个标题}\n")
    try:
        load_pack(root / "jiaozuo")
    except PackErrors as exc:
        assert any("reason" in e.message for e in exc.errors)
    else:
        raise AssertionError("a documents.yaml entry without reason was accepted")
    root2 = _pack(
        tmp_path / "b",
        "documents:\n  - slug: jiaozuo.kjjl\n    match: {title: 某个标题}\n    reason: 测试\n",
    )
    pack = load_pack(root2 / "jiaozuo")
    messages = [e.message for e in check_pack(pack)]
    assert "政策库中找不到文件 《某个标题》" in messages
