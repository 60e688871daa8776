"""Search (issue 5): query understanding, filters, grouping, index files, CLI, relevance."""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.library.catalogue import corpus_documents, find_document
from huiqi.search import (
    FilterError,
    SearchIndex,
    SearchResults,
    build_index,
    index_path_for,
    rebuild_index,
    search,
)
from huiqi.search.api import default_index, snippet_fragments
from huiqi.search.classify import entities, states_amount
from huiqi.search.normalize import normalize
from huiqi.search.query import match_all, match_any, parse_query
from huiqi.search.segment import derive_terms, get_segmenter, title_subject

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


@pytest.fixture(scope="module")
def ix() -> SearchIndex:
    return default_index()


def docs_of(results: SearchResults):
    return {h.doc_id for h in results.hits}


def by_id():
    return {d.id: d for d in corpus_documents()}


# --- normalisation and segmentation --------------------------------------------------------


def test_normalize_width_case_and_traditional():
    assert normalize("ＡＢＣ１２３％") == "abc123%"
    assert normalize("醫療補貼") == "医疗补贴"
    assert normalize("高新技術企業") == "高新技术企业"
    assert normalize("人才购房补贴") == "人才购房补贴"


def test_domain_words_stay_whole():
    seg = get_segmenter()
    assert any("研发费用加计扣除" in w for w in seg.words("研发费用加计扣除比例"))
    assert any("科技创新券" in w for w in seg.words("科技创新券怎么用"))
    # Kept whole, alone or inside a longer domain compound (小型微利企业所得税) that another
    # index built earlier in the process may have added to the shared dictionary.
    assert any("小型微利企业" in w for w in seg.words("扩大小型微利企业所得税优惠"))
    assert any("高新技术企业" in w for w in seg.words("高新技術企業"))


def test_terms_derived_from_the_corpus():
    terms = set(derive_terms(corpus_documents()))
    assert {"机器换人", "企业宁静日", "科技创新券"} <= terms  # quoted and title subjects
    assert title_subject("焦作市科技创新券实施管理暂行办法") == "科技创新券"


# --- query understanding -------------------------------------------------------------------


def test_stopwords_and_question_words_dropped(ix):
    parsed = parse_query("专利奖励多少钱", ix.segmenter, ix.df)
    assert parsed.terms() == ["专利", "奖励"]
    assert parsed.wants_amount


def test_synonyms_and_abbreviations(ix):
    parsed = parse_query("高企 买房 补贴 小微企业 研发", ix.segmenter, ix.df)
    alts = {g.word: {"".join(a) for a in g.alternatives} for g in parsed.groups}
    assert "高新技术企业" in alts["高企"]
    assert "购房" in alts["买房"]
    assert {"补助", "资助", "奖励"} <= alts["补贴"]
    assert "小型微利企业" in alts["小微企业"]
    assert "研究开发" in alts["研发"]


def test_quoted_phrase_must_occur_verbatim(ix):
    results = search('"购房补贴" 人才')
    assert results.phrases == ["购房补贴"]
    assert results.hits
    texts = {row[0] for row in ix.conn.execute("SELECT norm FROM clauses")}
    assert texts
    for hit in results.hits:
        norm = ix.conn.execute(
            "SELECT c.norm || d.norm_title FROM clauses c JOIN docs d ON d.id = c.doc_id "
            "WHERE c.doc_id = ? AND c.path = ?",
            (hit.doc_id, hit.path),
        ).fetchone()[0]
        assert "购房补贴" in norm


def test_fts_syntax_is_never_passed_through(ix):
    parsed = parse_query(
        '补贴 NEAR(研发 OR 专利)* ^奖励 title:人才 "a" -b +c {x}', ix.segmenter, ix.df
    )
    for expr in (match_all(parsed), match_any(parsed)):
        assert expr
        # Outside quoted tokens only our own operators and parentheses remain.
        outside = re.sub(r'"[^"]*"', "", expr)
        assert set(outside.split()) <= {"AND", "OR", "(", ")"} | set("()") or re.fullmatch(
            r"[\sANDOR()]*", outside
        )
        for token in re.findall(r'"([^"]*)"', expr):
            assert re.fullmatch(r"[^\W_]+", token)


def test_unknown_words_do_not_empty_the_query(ix):
    results = search("人才住房补贴 xyzzyqq")
    assert results.hits  # the unknown word is dropped, the rest still searched


@pytest.mark.parametrize("query", ["", "   ", "？！。，", "\u3000\t\n", '()*^:"', "的 了 吗"])
def test_empty_queries_give_a_message(query):
    results = search(query)
    assert results.hits == []
    assert results.message


# --- results -------------------------------------------------------------------------------


def test_grouping_by_document():
    results = search("补贴", limit=30)
    assert results.total == 30
    flat = [h for g in results.groups for h in g.clauses]
    assert sorted(h.rank for h in flat) == list(range(1, 31))
    assert len({g.doc_id for g in results.groups}) == len(results.groups)
    firsts = [g.clauses[0].rank for g in results.groups]
    assert firsts == sorted(firsts)  # documents ordered by their best hit
    for g in results.groups:
        assert [h.rank for h in g.clauses] == sorted(h.rank for h in g.clauses)
        assert all(h.doc_id == g.doc_id for h in g.clauses)
        assert g.title


def test_hit_fields_and_highlight():
    results = search("人才买房补贴", limit=3)
    top = results.hits[0]
    doc = find_document(top.doc_id)
    assert doc is not None and doc.title == "焦作市高层次人才住房保障实施办法"
    assert top.citation.startswith("《焦作市高层次人才住房保障实施办法》")
    assert "【购房补贴】" in top.snippet or "【购房】" in top.snippet
    assert results.groups[0].in_force is True
    data = results.to_dict()
    json.dumps(data, ensure_ascii=False)
    clause = data["documents"][0]["clauses"][0]
    assert {"citation", "path", "snippet", "score", "rules", "label"} <= set(clause)
    assert "fragments" not in clause


def test_snippet_window_and_marks():
    text = "甲" * 200 + "购房补贴" + "乙" * 200
    pieces = snippet_fragments(text, ["购房补贴"], width=40)
    joined = "".join(p for p, _ in pieces)
    assert ("购房补贴", True) in pieces
    assert joined.startswith("…") and joined.endswith("…")


def test_rule_lookup_annotates_clauses():
    target = find_document("焦作市高层次人才住房保障实施办法")
    assert target is not None

    def lookup(doc_id: str, path: str):
        if doc_id == target.id and path == "a6":
            return [("高层次人才购房补贴", "20万–120万元")]
        return []

    results = search("人才购房补贴", rule_lookup=lookup)
    annotated = [h for h in results.hits if h.rules]
    assert annotated and annotated[0].path == "a6"
    assert annotated[0].rules[0].amount == "20万–120万元"
    assert all(not h.rules for h in search("人才购房补贴").hits)


def test_amount_intent_favours_stated_amounts():
    results = search("众创空间奖励多少")
    assert results.hits[0].states_amount


# --- filters -------------------------------------------------------------------------------


def test_level_filter():
    docs = by_id()
    results = search("企业所得税", level="national", limit=50)
    assert results.hits
    assert all(docs[h.doc_id].level == "national" for h in results.hits)
    city = search("企业所得税", level="city", limit=50)
    assert all(docs[h.doc_id].level == "city" for h in city.hits)
    assert docs_of(city).isdisjoint(docs_of(results))
    assert search("补贴", level="县").hits == search("补贴", level="county").hits


def test_year_filter():
    docs = by_id()
    results = search("奖励", from_year=2017, to_year=2017, limit=50)
    assert results.hits
    for h in results.hits:
        issued = docs[h.doc_id].issued_on
        assert issued is not None and issued.year == 2017
    assert all(docs[h.doc_id].issued_on.year >= 2020 for h in search("企业", from_year=2020).hits)


def test_issuer_and_type_filters():
    docs = by_id()
    results = search("企业", issuer="孟州市人民政府", limit=50)
    assert results.hits
    assert all(any("孟州市人民政府" in i for i in docs[h.doc_id].issuers) for h in results.hits)
    typed = search("奖励", doc_type="办法", limit=50)
    assert typed.hits and all("办法" in docs[h.doc_id].doc_type for h in typed.hits)


def test_in_force_filter_matches_document_in_force():
    docs = by_id()
    on = date(2015, 1, 1)
    everything = search("企业", limit=200)
    kept = search("企业", in_force_on=on, limit=200)
    assert kept.hits and len(docs_of(kept)) < len(docs_of(everything))
    for h in kept.hits:
        assert docs[h.doc_id].in_force(on) is not False
    for g in kept.groups:
        assert g.in_force == docs[g.doc_id].in_force(on)
    # Documents in force in 2015 include the 2013 rules, not the 2017 ones.
    assert any(docs[d].issued_on and docs[d].issued_on.year == 2013 for d in docs_of(kept))
    assert not any(docs[d].issued_on and docs[d].issued_on.year >= 2016 for d in docs_of(kept))


def test_entity_filter():
    results = search("补贴", entity="person", limit=30)
    assert results.hits and all("person" in h.entities for h in results.hits)
    teams = search("资助", entity="团队", limit=30)
    assert teams.hits and all("team" in h.entities for h in teams.hits)


def test_amount_only_filter():
    results = search("奖励", amount_only=True, limit=50)
    assert results.hits and all(h.states_amount for h in results.hits)
    assert len(search("奖励", limit=200).hits) > len(
        search("奖励", amount_only=True, limit=200).hits
    )


def test_classifiers():
    assert (
        states_amount("给予20万元奖励") and states_amount("税率15%") and states_amount("奖励五万元")
    )
    assert not states_amount("比例不低于1:1")
    assert entities("支持科技企业孵化器和创新创业团队") == ["enterprise", "team", "institution"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"level": "foo"},
        {"entity": "alien"},
        {"in_force_on": "2018-13-01"},
        {"from_year": "twenty"},
        {"from_year": 2019, "to_year": 2017},
    ],
)
def test_bad_filter_values_raise_filter_error(kwargs):
    with pytest.raises(FilterError):
        search("补贴", **kwargs)


# --- index files ---------------------------------------------------------------------------


def test_build_and_open_index_file(tmp_path):
    docs = corpus_documents()[:12]
    path = tmp_path / "lib.search.db"
    built = build_index(docs, path)
    assert built.clause_count == sum(1 for d in docs for _ in d.walk())
    built.close()
    opened = SearchIndex.open(path)
    results = search("小型微利企业", index=opened)
    assert results.hits
    assert {h.doc_id for h in results.hits} <= {d.id for d in docs}
    opened.close()


def test_index_path_beside_the_library(tmp_path):
    assert index_path_for("huiqi.db") == Path("huiqi.search.db")
    assert index_path_for("sqlite:///data/x.db") == Path("data/x.search.db")
    assert index_path_for("sqlite:////abs/x.db") == Path("/abs/x.search.db")
    assert index_path_for("postgresql://host/db") is None
    assert index_path_for("sqlite:///:memory:") is None
    written = rebuild_index(corpus_documents()[:5], tmp_path / "lib.db")
    assert written == tmp_path / "lib.search.db" and written.exists()
    # Rebuilding replaces the file.
    assert rebuild_index(corpus_documents()[:3], f"sqlite:///{tmp_path / 'lib.db'}") == written


# --- CLI -----------------------------------------------------------------------------------


def test_cli_json_shape():
    result = runner.invoke(app, ["search", "人才买房补贴", "--json", "--limit", "3"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total"] == 3
    doc = data["documents"][0]
    assert {"doc_id", "title", "doc_number", "issued_on", "in_force", "clauses"} <= set(doc)
    assert doc["clauses"][0]["citation"]


def test_cli_text_output():
    result = runner.invoke(app, ["search", "兼并重组贴息", "--level", "city"])
    assert result.exit_code == 0, result.output
    assert "兼并重组" in result.stdout


@pytest.mark.parametrize("query", ["", "   ", "？？！", "的"])
def test_cli_empty_query_is_friendly(query):
    result = runner.invoke(app, ["search", query])
    assert result.exit_code == 0
    assert "Traceback" not in result.output
    assert result.stdout.strip()


@pytest.mark.parametrize(
    "args",
    [
        ["--level", "foo"],
        ["--in-force-on", "yesterday"],
        ["--entity", "x"],
        ["--limit", "0"],
        ["--from-year", "abc"],
    ],
)
def test_cli_bad_filter_exits_2(args):
    result = runner.invoke(app, ["search", "补贴", *args])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_cli_missing_index_file_exits_2(tmp_path):
    result = runner.invoke(app, ["search", "补贴", "--index", str(tmp_path / "none.db")])
    assert result.exit_code == 2


# --- relevance -----------------------------------------------------------------------------


def test_relevance_target():
    sys.path.insert(0, str(ROOT / "bench"))
    from relevance import evaluate, load_cases

    cases = load_cases()
    assert len(cases) >= 40
    report = evaluate(cases)
    assert report.recall_at(3) >= 0.9, [o.query for o in report.misses(3)]


def test_relevance_set_covers_every_document():
    sys.path.insert(0, str(ROOT / "bench"))
    from relevance import load_cases

    covered = set()
    for case in load_cases():
        for item in case["expect"]:
            doc = find_document(str(item["doc"]))
            assert doc is not None, item
            covered.add(doc.id)
    assert covered == {d.id for d in corpus_documents()}
