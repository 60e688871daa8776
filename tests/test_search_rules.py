"""Search shows the rules that encode a clause beside it."""

from __future__ import annotations

from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.engine.lookup import bundled_rule_lookup
from huiqi.search import search


def test_hits_carry_the_rules_of_their_clause():
    # 《焦作市科技创新奖励资金管理暂行办法》第六条: "首次认定的国家高新技术企业奖励20万元"
    results = search("首次认定的国家高新技术企业奖励", rule_lookup=bundled_rule_lookup())
    hit = next(
        h for h in results.hits if h.citation == "《焦作市科技创新奖励资金管理暂行办法》第六条"
    )
    assert ("首次认定的国家高新技术企业奖励", "20万") in [(r.title, r.amount) for r in hit.rules]


def test_cli_prints_the_closest_rules():
    result = CliRunner().invoke(app, ["search", "首次认定的国家高新技术企业奖励", "--limit", "1"])
    assert result.exit_code == 0
    assert "规则：首次认定的国家高新技术企业奖励  20万" in result.output
