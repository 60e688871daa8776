"""`huiqi ingest`, `docs` and `show` through the CLI, on a temporary SQLite library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TRUTH, truth_corpus
from typer.testing import CliRunner

from huiqi.cli import app

runner = CliRunner()
SHOW_FIELDS = {
    "doc_number",
    "title",
    "issuers",
    "issued_on",
    "effective_from",
    "effective_to",
    "relations",
    "clauses",
}


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("lib") / "huiqi.db"
    files = [str(p) for p in truth_corpus()]
    result = runner.invoke(app, ["ingest", *files, "--db", str(path), "-q"])
    assert result.exit_code == 0, result.output
    assert f"{len(TRUTH)} 份文件" in result.output
    return str(path)


def test_docs_json_uses_the_same_field_names_as_show(db):
    result = runner.invoke(app, ["docs", "--db", db, "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert len(rows) == len(TRUTH)
    assert SHOW_FIELDS - {"clauses"} <= set(rows[0])
    assert {"id", "clause_count", "in_force", "doc_type", "level"} <= set(rows[0])


def test_show_by_number_in_any_bracket_style(db):
    ids = set()
    for ref in ["焦发〔2016〕9号", "焦发[2016]9号", "焦发(2016)9号", "焦发（2016）9号"]:
        result = runner.invoke(app, ["show", ref, "--db", db, "--json"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert set(data) >= SHOW_FIELDS
        ids.add(data["id"])
    assert len(ids) == 1


def test_show_clause_by_label_and_path(db):
    # 焦发〔2016〕9号 四（三）3: "对发明专利、科技含量较高的实用新型和外观设计授权专利分别给予每件5000元、800元和500元的一次性奖励"
    by_label = json.loads(
        runner.invoke(
            app, ["show", "焦发〔2016〕9号", "--clause", "四（三）3", "--db", db, "--json"]
        ).output
    )
    by_path = json.loads(
        runner.invoke(
            app, ["show", "焦发〔2016〕9号", "--clause", "i4.p3.n3", "--db", db, "--json"]
        ).output
    )
    assert by_label == by_path
    assert by_label["citation"] == "焦发〔2016〕9号 四（三）3"
    assert "每件5000元、800元和500元" in by_label["text"]


def test_show_by_title_gives_article_citations(db):
    # 第十八条 ... "市科学技术杰出贡献奖奖金数额为50万元人民币"
    data = json.loads(
        runner.invoke(
            app,
            ["show", "《焦作市科学技术奖励办法》", "--clause", "第十八条", "--db", db, "--json"],
        ).output
    )
    assert data["citation"] == "《焦作市科学技术奖励办法》第十八条"
    assert "50万元" in data["text"]


def test_attachment_cited_through_its_notice_number(db):
    data = json.loads(
        runner.invoke(
            app, ["show", "焦作市科技创新券实施管理暂行办法", "--db", db, "--json"]
        ).output
    )
    assert data["doc_number"] is None
    assert data["parent_number"] == "焦政办〔2016〕115号"
    first_article = next(c for c in data["clauses"][0]["children"] if c["label"] == "第一条")
    assert (
        first_article["citation"]
        == "《焦作市科技创新券实施管理暂行办法》（焦政办〔2016〕115号）第一条"
    )
    kinds = {r["kind"] for r in data["relations"]}
    assert {"attached_to", "repeals"} <= kinds


def test_relations_resolve_inside_the_library(db):
    # 焦作市科技重大专项管理暂行办法 第三十八条: "《焦作市重大科技专项管理暂行办法》（焦政办〔2012〕75号）同时废止"
    data = json.loads(
        runner.invoke(app, ["show", "焦作市科技重大专项管理暂行办法", "--db", db, "--json"]).output
    )
    repeal = next(r for r in data["relations"] if r["kind"] == "repeals")
    assert repeal["target_number"] == "焦政办〔2012〕75号"
    assert repeal["target_id"] is None  # not in the corpus: an external reference
    notice = next(r for r in data["relations"] if r["kind"] == "attached_to")
    assert notice["target_id"]


def test_unknown_document_and_clause_are_clear_errors(db):
    result = runner.invoke(app, ["show", "焦发〔2099〕1号", "--db", db])
    assert result.exit_code == 2 and "找不到文件" in result.output
    result = runner.invoke(app, ["show", "焦发〔2016〕9号", "--clause", "第九十九条", "--db", db])
    assert result.exit_code == 2 and "找不到条款" in result.output


def test_ingest_reports_bad_files_and_continues(tmp_path: Path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02")
    good = tmp_path / "good.txt"
    good.write_text(
        "焦作市人民政府\n关于测试的通知\n焦政〔2020〕1号\n一、第一项给予10万元奖励。\n",
        encoding="gbk",
    )
    db = tmp_path / "x.db"
    result = runner.invoke(app, ["ingest", str(bad), str(good), "--db", str(db)])
    assert result.exit_code == 0
    assert "bad.txt" in result.output and "1 份文件" in result.output


def test_library_round_trips_full_documents(db):
    from huiqi.library.catalogue import corpus_documents
    from huiqi.library.store import Library

    stored = {d.id: d for d in Library(db).all_documents()}
    for doc in corpus_documents():
        back = stored[doc.id]
        assert (back.title, back.doc_number, back.issued_on, back.effective_to) == (
            doc.title,
            doc.doc_number,
            doc.issued_on,
            doc.effective_to,
        )
        assert [(c.path, c.citation, c.text) for c in back.walk()] == [
            (c.path, c.citation, c.text) for c in doc.walk()
        ]


def test_ingest_rebuilds_the_search_index(tmp_path: Path):
    db = tmp_path / "lib.db"
    result = runner.invoke(app, ["ingest", "--db", str(db), "-q"])
    assert result.exit_code == 0 and (tmp_path / "lib.search.db").exists()
    found = runner.invoke(
        app, ["search", "科技创新券", "--index", str(tmp_path / "lib.search.db"), "--json"]
    )
    assert found.exit_code == 0
    assert any("科技创新券" in d["title"] for d in json.loads(found.output)["documents"])
