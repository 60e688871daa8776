"""`huiqi batch --document`: the budget of some documents only, their rules decided with the
rivals they are stacked with in other documents."""

from __future__ import annotations

import csv
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.batch.scope import ScopeError, documents_scope
from huiqi.packs.loader import bundled_pack

PLAN = "焦作市加快高新技术企业培育行动方案（2017—2020年）"
KJJL = "焦作市科技创新奖励资金管理暂行办法"


@cache
def pack():
    return bundled_pack("jiaozuo")


def _csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _run(tmp_path: Path, *more: str):
    """One enterprise, H1: registered in 焦作市 with its own legal personality, first
    recognised as a 国家高新技术企业 in 2018 (the year before the evaluation date)."""
    from huiqi.cli import app

    tmp_path.mkdir(exist_ok=True)
    registry = _csv(
        tmp_path / "r.csv",
        [
            ["统一社会信用代码", "注册地", "具有独立法人资格", "弄虚作假或重复申报"],
            ["H1", "焦作市", "是", "否"],
        ],
    )
    events = _csv(
        tmp_path / "e.csv",
        [
            ["统一社会信用代码", "事件列表", "认定类别", "认定（备案、入库）年度", "是否首次认定"],
            ["H1", "企业认定（备案）记录", "国家高新技术企业", "2018", "是"],
        ],
    )
    out = tmp_path / "out" / "o.csv"
    args = ["batch", str(registry), "--events", str(events), "--as-of", "2019-03-01"]
    got = CliRunner().invoke(app, [*args, "--pack", "jiaozuo", "--out", str(out), *more])
    return got, out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


def test_a_document_is_evaluated_with_its_stacking_rivals_and_reported_alone(tmp_path):
    """The plan's 四1/五4 pays a newly recognised high-tech enterprise 20万元 (new_hte_subsidy);
    《焦作市科技创新奖励资金管理暂行办法》第六条 pays the same enterprise 20万元 for its first
    recognition, and 第五条 says the fund rewards only what “我市已出台奖励政策规定” —
    the two are one benefit, the higher paid once, and on a tie the rule quoting that
    principle (kjjl's) is the one paid. So H1 is eligible for the plan's subsidy but it is
    set aside: the plan's certain total for H1 is 0 元, exactly as in a whole-pack run. Only
    the plan's rules are listed."""
    got, out = _run(tmp_path, "--document", PLAN)
    assert got.exit_code == 0, got.output
    rows = _rows(out)
    assert {r["文件"] for r in rows} == {PLAN}  # the kjjl rival was evaluated, not listed
    subsidy = [r for r in rows if r["规则编号"] == "jz.gqpy.new_hte_subsidy"]
    assert len(subsidy) == 1
    assert (subsidy[0]["结论"], subsidy[0]["因叠加规定不另行发放"]) == ("符合", "是")
    assert Decimal(subsidy[0]["确定金额（元）"]) == 0
    documents = _rows(out.with_name("o.documents.csv"))
    assert [d["文件"] for d in documents] == [PLAN]
    assert Decimal(documents[0]["确定金额（元）"]) == 0
    # the report's totals too: the kjjl award paid instead is not the plan's cost
    report = out.with_name("o.report.html").read_text(encoding="utf-8")
    assert "确定金额合计 0.00 万元" in report

    # the kjjl award alone: 第六条 “首次认定的国家高新技术企业……奖励20万元”
    got, out = _run(tmp_path / "k", "-d", f"《{KJJL}》")
    assert got.exit_code == 0, got.output
    documents = _rows(out.with_name("o.documents.csv"))
    assert [d["文件"] for d in documents] == [KJJL]
    assert Decimal(documents[0]["确定金额（元）"]) == 200_000


def test_an_unknown_document_is_named(tmp_path):
    got, _ = _run(tmp_path, "--document", "不存在的办法")
    assert got.exit_code == 2
    assert "找不到文件“不存在的办法”" in got.output
    assert "Traceback" not in got.output


def test_scope_takes_rivals_from_other_documents():
    """Evaluated: the document's rules and every member of their stacking groups; reported:
    the document's rules only."""
    scope = documents_scope(pack(), [PLAN])
    shown = {cr.rule.id for cr in pack().compiled if cr.rule.doc_title == PLAN}
    assert scope.shown == shown
    rivals = {cr.rule.id for cr in scope.rules} - shown
    assert "jz.kjjl.gaoqi_first_cert" in rivals
    groups = {
        cr.rule.stacking.group for cr in scope.rules if cr.rule.id in shown and cr.rule.stacking
    }
    for cr in pack().compiled:  # every rival in those groups, nothing else
        in_group = cr.rule.stacking is not None and cr.rule.stacking.group in groups
        assert (cr.rule.id in rivals) == (in_group and cr.rule.id not in shown)
    with pytest.raises(ScopeError, match="找不到文件“国发〔1900〕1号”"):
        documents_scope(pack(), ["国发〔1900〕1号"])
    with_rules = {cr.rule.doc_id for cr in pack().compiled}
    bare = next(d for d in pack().documents if d.id not in with_rules)  # in the library only
    with pytest.raises(ScopeError, match="暂无可测算的规则"):
        documents_scope(pack(), [bare.title])
