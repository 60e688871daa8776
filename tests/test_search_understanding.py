"""Search that understands a user's question (issue 15): filler, intents, everyday words,
typos, places outside the library, honest "not found", results independent of --limit."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.library.catalogue import corpus_documents, find_document
from huiqi.search import search
from huiqi.search.api import default_index
from huiqi.search.dictionary import SearchDataError, load_search_data
from huiqi.search.numerals import arabic_amounts, chinese_int
from huiqi.search.places import build_matcher
from huiqi.search.query import parse_query, read_intents

ROOT = Path(__file__).resolve().parents[1]
KEYWORDS = [
    c["query"] for c in yaml.safe_load((ROOT / "tests/data/search_relevance.yaml").read_text())
]
QUESTIONS = [c["q"] for c in yaml.safe_load((ROOT / "bench/questions.yaml").read_text())]


@pytest.fixture(scope="module")
def ix():
    return default_index()


def parse(text: str, ix):
    return parse_query(
        text, ix.segmenter, ix.df, vocab=ix.vocabulary(), clause_count=ix.clause_count
    )


def clause_id(title: str, path: str) -> tuple[str, str]:
    doc = find_document(title, corpus_documents())
    assert doc is not None
    return doc.id, path


def top(results, k: int = 3) -> list[tuple[str, str]]:
    return [(h.doc_id, h.path) for h in results.hits[:k]]


# --- filler and question words ---------------------------------------------------------------


def test_filler_and_single_characters_are_not_searched(ix):
    parsed = parse("能不能问一下专利奖励最多有没有多少钱", ix)
    assert parsed.terms() == ["专利", "奖励"]
    # 最 / 多 alone would match every sentence with 最高 / 最多 / 多个 in it.
    assert not any(len(t) == 1 for t in parsed.terms())


@pytest.mark.parametrize(
    ("question", "intent"),
    [
        ("研发费用加计扣除比例是多少", "rate"),
        ("标准化项目奖励申请截止到几号", "deadline"),
        ("购房补贴的钱什么时候到账", "schedule"),
        ("高层次人才认定去哪里办", "department"),
        ("申请购房补贴要带什么材料", "materials"),
        ("享受小微企业优惠要什么条件", "eligibility"),
        ("专利奖励多少钱", "amount"),
    ],
)
def test_question_forms_map_to_intents(question, intent, ix):
    parsed = parse(question, ix)
    assert parsed.intents[0] == intent
    # The question form itself is no word of the policy.
    assert not {"是多少", "几号", "到账", "去哪里", "材料", "条件", "多少钱"} & set(parsed.terms())


def test_longest_question_form_wins():
    intents, rest = read_intents("补贴比例是多少")
    assert intents == ["rate"]  # not "amount" for the 多少 inside 比例是多少
    assert rest.strip() == "补贴"


def test_benefit_words_hint_at_the_amount(ix):
    assert parse("人才购房补贴", ix).intents == ["amount"]
    assert parse("人才购房补贴什么时候到账", ix).intents == ["schedule"]


# --- everyday words and numbers -------------------------------------------------------------


def test_everyday_words_reach_the_policy_terms(ix):
    alts = {
        g.word: {"".join(a) for a in g.alternatives}
        for g in parse("老婆 营收 户口 员工 小作坊 个税", ix).groups
    }
    assert "配偶" in alts["老婆"]
    assert "营业收入" in alts["营收"]
    assert "户籍" in alts["户口"]
    assert "从业人数" in alts["员工"]
    assert "小型微利企业" in alts["小作坊"]
    assert "个人所得税" in alts["个税"]


def test_numbers_written_in_words():
    assert chinese_int("三千五百") == 3500
    assert chinese_int("十二") == 12
    assert chinese_int("三四十") is None  # a range, no single value
    assert arabic_amounts("营收一个亿") == "营收1亿"
    assert arabic_amounts("50个亿") == "50亿"
    assert arabic_amounts("研发投入三千万") == "研发投入3000万"
    assert arabic_amounts("三四十万") == "三四十万"


def test_research_spending_in_words_finds_the_clause():
    # 焦发〔2020〕17号 一2: "对年度研发投入达到 3000 万元以上的重点企业，按照当年研发费用新增
    # 部分，给予 20% 补助"
    results = search("研发投入超过三千万有没有补助", limit=3)
    assert clause_id("关于促进工业经济平稳健康发展的若干政策措施", "i1.n2") in top(results)


# --- typos ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "wrong", "right"),
    [
        ("人才购房不贴多少", "不贴", "补贴"),  # same sound (bu tie)
        ("小型微利企业所得税优会", "优会", "优惠"),  # same sound (you hui)
        ("人才配隅就业", "配隅", "配偶"),  # look-alike 隅 / 偶
        ("兼并重祖贷款贴息", "兼并重祖", "兼并重组"),  # look-alike 祖 / 组
    ],
)
def test_typos_are_corrected_and_shown(typed, wrong, right):
    results = search(typed, limit=3)
    # The longest run with a library word is corrected (购房不贴 → 购房补贴 holds 不贴 → 补贴).
    assert any(wrong in w and r == w.replace(wrong, right) for w, r in results.corrections)
    assert results.suggestion is not None and right in results.suggestion
    assert any(n.startswith("您是不是要找：") for n in results.notices)
    assert any(right in t or t in right for t in results.terms)


def test_corrected_typo_finds_the_amount_clause():
    # 《焦作市高层次人才住房保障实施办法》第六条: "A类人才发给购房补贴120万元；……"
    results = search("人才购房不贴多少", limit=3)
    assert clause_id("焦作市高层次人才住房保障实施办法", "a6") in top(results)


def test_keyword_queries_are_never_corrected():
    for query in KEYWORDS:
        results = search(query, limit=3)
        assert results.corrections == [], query
        assert results.notices == [], query


def test_a_word_written_in_the_library_is_no_typo():
    # 焦办 is no word of jieba's, but the library writes it (焦办〔2016〕36号).
    assert search("焦办〔2016〕36号", limit=3).corrections == []


# --- honest results ---------------------------------------------------------------------------


def test_places_outside_the_library_are_named():
    results = search("深圳人才买房补贴标准是多少", limit=3)
    assert results.outside_places == ["深圳市"]
    assert any("政策库中没有该地区的政策" in n for n in results.notices)
    assert "深圳" not in results.terms


@pytest.mark.parametrize(
    "query", ["焦作人才买房补贴", "孟州市技术改造", "温县企业技术改造", "河南省高新技术企业"]
)
def test_the_librarys_own_places_are_not_outside(query):
    assert search(query, limit=3).outside_places == []


def test_place_matcher_is_data_driven():
    from huiqi.search.dictionary import SearchData

    data = SearchData(
        gazetteer=["甲乙市", "丙丁市", "戊己省"],
        suffixes=["市", "省"],
        full_name_only={"丙丁市"},
    )
    matcher = build_matcher(data, covered={"戊己省"})
    outside, inside, rest = matcher.find("甲乙和丙丁和丙丁市和戊己的补贴")
    assert outside == ["甲乙市", "丙丁市"]  # 丙丁 alone is an ordinary word: only in full
    assert inside == ["戊己"]
    assert "甲乙" not in rest and "戊己" in rest


def test_key_word_matched_nowhere_is_reported():
    results = search("外卖骑手有没有社保补贴", limit=3)
    assert results.unmatched == ["外卖骑手"]
    assert "没有找到与“外卖骑手”相关的条款" in results.notices


def test_only_unmatched_words_give_a_message():
    results = search("外卖骑手", limit=3)
    assert results.hits == []
    assert results.message == "没有找到与“外卖骑手”相关的条款"


def test_relaxed_only_when_essential_words_are_missing():
    assert not search("人才购房补贴", limit=10).relaxed
    assert not search("研发费用加计扣除比例", limit=10).relaxed


# --- ranking ----------------------------------------------------------------------------------


def test_the_clause_that_states_the_amount_wins():
    # 焦发〔2017〕6号 五（三）5: "IPO首发成功的再奖励100万元" — not the clause listing 上市公司 as
    # 培育对象 (三).
    results = search("公司上市了市里奖多少", limit=3)
    assert top(results)[0] == clause_id("焦发〔2017〕6号", "i5.p3.n5")
    assert results.hits[0].answers


def test_the_office_that_accepts_applications_wins():
    # 《焦作市高层次人才认定办法》第十二条: "……人才交流中心负责受理高层次人才的认定申请。";
    # 第四条: "市人力资源社会保障部门负责高层次人才认定工作的综合管理……"
    results = search("高层次人才认定去哪里办", limit=3)
    offices = {clause_id("焦作市高层次人才认定办法", p) for p in ("a12", "a4")}
    assert top(results)[0] in offices


common = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@common
@given(
    st.sampled_from(KEYWORDS + QUESTIONS),
    st.integers(min_value=1, max_value=12),
    st.integers(min_value=1, max_value=200),
)
def test_top_results_never_depend_on_the_limit(query, small, large):
    small, large = min(small, large), max(small, large)
    a = [(h.doc_id, h.path, h.score) for h in search(query, limit=small).hits]
    b = [(h.doc_id, h.path, h.score) for h in search(query, limit=large).hits]
    assert a == b[: len(a)]
    assert len(a) == min(small, len(b))


@common
@given(
    st.lists(
        st.sampled_from(
            ["人才", "补贴", "多少", "专利", "深圳", "外卖", "到账", "高新技术企业", "最", "的"]
        ),
        max_size=6,
    ).map("".join)
)
def test_prefix_stability_for_word_mixes(query):
    a = [(h.doc_id, h.path) for h in search(query, limit=3).hits]
    b = [(h.doc_id, h.path) for h in search(query, limit=10).hits]
    assert a == b[:3]


# --- outputs ----------------------------------------------------------------------------------


def test_cli_shows_what_it_understood():
    runner = CliRunner()
    out = runner.invoke(app, ["search", "人才购房不贴多少", "--limit", "3"]).output
    assert "您是不是要找：人才购房补贴多少" in out
    out = runner.invoke(app, ["search", "深圳人才买房补贴", "--limit", "3"]).output
    assert "政策库中没有该地区的政策" in out
    out = runner.invoke(app, ["search", "外卖骑手有没有社保补贴", "--limit", "3"]).output
    assert "没有找到与“外卖骑手”相关的条款" in out


def test_json_has_the_new_fields():
    data = search("深圳人才购房不贴多少", limit=3).to_dict()
    assert data["outside_places"] == ["深圳市"]
    assert data["corrections"] == [["购房不贴", "购房补贴"]]
    assert data["intents"] == ["金额"]
    assert data["notices"] and data["unmatched"] == []


# --- dictionaries are pack data ---------------------------------------------------------------


def test_bad_search_data_names_the_file(tmp_path):
    pack = tmp_path / "p"
    (pack / "search").mkdir(parents=True)
    (pack / "search" / "synonyms.yaml").write_text(
        "abbreviatons:\n  老婆: [配偶]\n", encoding="utf-8"
    )
    with pytest.raises(SearchDataError) as err:
        load_search_data([pack])
    assert "p/search/synonyms.yaml" in str(err.value) and "abbreviatons" in str(err.value)


def test_lower_packs_add_to_the_national_data(tmp_path):
    cn, city = tmp_path / "cn", tmp_path / "city"
    for root, text in (
        (cn, "abbreviations:\n  老婆: [配偶]\nstopwords: [的]\n"),
        (city, "abbreviations:\n  老婆: [家属]\n  人才办: [人才工作领导小组办公室]\n"),
    ):
        (root / "search").mkdir(parents=True)
        (root / "search" / "synonyms.yaml").write_text(text, encoding="utf-8")
    data = load_search_data([cn, city])
    assert data.abbreviations["老婆"] == ["配偶", "家属"]
    assert data.abbreviations["人才办"] == ["人才工作领导小组办公室"]
    assert data.stopwords == {"的"}


def test_web_page_and_api_show_the_notices_escaped():
    from fastapi.testclient import TestClient

    from huiqi.web.app import create_app

    client = TestClient(create_app())
    page = client.get("/search", params={"q": "深圳人才购房不贴<b>多少"}).text
    assert '<p class="notice">政策库中没有该地区的政策（深圳市）' in page
    assert "您是不是要找：深圳人才购房补贴&lt;b&gt;多少" in page
    body = client.get("/api/search", params={"q": "外卖骑手有没有社保补贴", "limit": 2}).json()
    assert body["unmatched"] == ["外卖骑手"]
    assert body["notices"] == ["没有找到与“外卖骑手”相关的条款"]
