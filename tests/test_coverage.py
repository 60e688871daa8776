"""`huiqi coverage`: amount sentences of the law against the rules that encode them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from huiqi.authoring.coverage import amount_sentences, coverage, states_amount
from huiqi.cli import app
from huiqi.library.catalogue import find_document
from huiqi.packs.loader import bundled_pack


@pytest.mark.parametrize(
    "sentence, expected",
    [
        ("首次认定的国家高新技术企业奖励20万元。", True),
        ("高新企业享受15%的优惠所得税率。", True),
        ("按上年度技术交易额的10%，给予最高不超过100万元的奖励。", True),
        ("项目首批经费拨付经费总额的50％，剩余经费在项目通过中期评估和验收后拨付", True),
        ("2017年,化解煤炭过剩产能66万吨。", False),  # a target, not money
        ("主要工业产品采标率达到80%以上；", False),  # a percentage without a benefit
        ("对优秀专利进行奖励。", False),  # a benefit without an amount
    ],
)
def test_what_states_an_amount(sentence, expected):
    assert states_amount(sentence) is expected


def test_the_innovation_award_fund_is_fully_covered():
    doc = find_document("焦作市科技创新奖励资金管理暂行办法")
    row = next(r for r in coverage(bundled_pack()) if r.doc.id == doc.id)
    # 第二条 (budget, a parameter) and 第六条 to 第十二条 state amounts; every one is encoded.
    assert len(row.sentences) == len(amount_sentences(doc)) >= 20
    assert row.count("uncovered") == 0
    assert row.rules == 45
    budget = next(s for s in row.sentences if "2000万元" in s.text)
    assert budget.by == ["param:kjjl_annual_budget"]


def test_cli_json_and_strict_exit():
    runner = CliRunner()
    result = runner.invoke(
        app, ["coverage", "--json", "--doc", "焦作市科技创新奖励资金管理暂行办法"]
    )
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["uncovered"] == 0 and data["documents"][0]["covered"] >= 20
    bad = runner.invoke(app, ["coverage", "--doc", "不存在的文件"])
    assert bad.exit_code == 2


def test_no_amount_sentence_of_the_corpus_is_left_uncovered():
    rows = coverage(bundled_pack())
    uncovered = [(s.citation, s.text) for r in rows for s in r.sentences if s.state == "uncovered"]
    assert not uncovered
    # Every document of the corpus with an amount sentence has rules or reasons for them.
    for r in rows:
        for s in r.sentences:
            assert s.state == "covered" or s.reason, s.citation
