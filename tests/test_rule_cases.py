"""Every YAML rule test case of every pack, one pytest case each (id = file::case), plus
`huiqi check` over every pack, so CI proves every rule against the text of the law."""

from __future__ import annotations

import pytest

from huiqi.authoring.cases import load_cases, run_case
from huiqi.authoring.check import check_all
from huiqi.packs.loader import bundled_pack, pack_dirs

PACKS = [d.name for d in pack_dirs()]
CASES = [(name, case) for name in PACKS for case in load_cases(bundled_pack(name))]


@pytest.mark.parametrize(("pack_name", "case"), CASES, ids=[f"{n}/{c.id}" for n, c in CASES])
def test_rule_case(pack_name, case):
    result = run_case(bundled_pack(pack_name), case)
    assert result.ok, "\n".join(result.failures)


def test_huiqi_check_passes_for_every_pack():
    problems = [f"{name}: {e}" for name, _pack, errors in check_all() for e in errors]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pack_name", PACKS)
def test_every_rule_has_an_eligible_and_a_not_eligible_case(pack_name):
    pack = bundled_pack(pack_name)
    # each pack's cases cover its own rules; the packs it extends are checked on their own
    seen: dict[str, set[str]] = {rid: set() for rid in pack.by_id if pack.own(rid)}
    for case in load_cases(pack):
        for rid, exp in case.expect.items():
            if rid in seen and exp.get("status"):
                seen[rid].add(exp["status"])
    lacking = [rid for rid, st in seen.items() if not {"eligible", "not_eligible"} <= st]
    assert not lacking, f"rules without an eligible and a not-eligible case: {lacking}"


def test_a_wrong_expectation_fails():
    pack = bundled_pack("jiaozuo")
    case = next(c for c in load_cases(pack) if c.name == "第六条各类认定齐全")
    case.expect = {"jz.kjjl.gaoqi_first_cert": {"status": "eligible", "amount": "30万"}}
    result = run_case(pack, case)
    assert not result.ok and "amount" in result.failures[0]


def test_the_same_award_in_two_documents_is_paid_once():
    """Cross-document stacking: 首次认定高企 20万 in 《焦作市科技创新奖励资金管理暂行办法》第六条 and
    the 高新技术企业培育行动方案 五4 (same day, same fund: 第五条) is one award."""
    from datetime import date

    from huiqi.engine.match import match

    report = match(
        {
            "registered_place": "焦作市",
            "independent_legal_person": True,
            "certifications": [{"kind": "国家高新技术企业", "year": 2017, "first": True}],
        },
        date(2018, 3, 1),  # inside the fund's window (第十五条 次年第一季度)
    )
    by_id = {r.rule.id: r for r in report.results}
    paid = [by_id["jz.kjjl.gaoqi_first_cert"], by_id["jz.gqpy.new_hte_subsidy"]]
    assert all(r.status == "eligible" for r in paid)
    assert sorted(r.amount for r in paid) == [0, 200000]  # 20万 once, not 40万


def _kjjl_case(name: str):
    pack = bundled_pack("jiaozuo")
    return pack, next(c for c in load_cases(pack) if c.name == name)


def test_a_case_failing_on_two_conditions_fails_and_names_both():
    # 第六条：“对在我市注册、具有独立法人资格的科技型企业” + “新认定（备案）的省创新龙头企业……奖励50万元”：
    # a company registered elsewhere with no certification fails both parts.
    pack, case = _kjjl_case("第六条各类认定齐全")
    case.profile = {
        "registered_place": "郑州市",
        "independent_legal_person": True,
        "certifications": [],
    }
    case.expect = {
        "jz.kjjl.prov_innovation_leader": {
            "status": "not_eligible",
            "because": "在我市注册、具有独立法人资格",
        }
    }
    case.total = None
    result = run_case(pack, case)
    assert not result.ok
    assert "未满足 2 项" in result.failures[0]
    assert "在我市注册、具有独立法人资格" in result.failures[0]
    assert "省创新龙头企业" in result.failures[0]


def test_because_must_name_the_failed_condition():
    pack, case = _kjjl_case("高企重新认定不奖励")
    rid = "jz.kjjl.gaoqi_first_cert"
    case.expect = {rid: {"status": "not_eligible", "because": "在我市注册、具有独立法人资格"}}
    result = run_case(pack, case)
    assert not result.ok and "上年度首次认定为国家高新技术企业" in result.failures[0]
    case.expect = {rid: {"status": "not_eligible", "because": "上年度首次认定为国家高新技术企业"}}
    assert run_case(pack, case).ok
    # a clause shared by every part of the rule does not single one out
    case.expect = {rid: {"status": "not_eligible", "because": "第六条"}}
    result = run_case(pack, case)
    assert not result.ok and "指向多项" in result.failures[0]


def test_an_exclusion_is_a_reason_of_its_own():
    pack, case = _kjjl_case("弄虚作假取消资格")
    rid = next(iter(case.expect))
    assert case.expect[rid]["because"] == "弄虚作假、重复申报的取消申请资格"
    assert run_case(pack, case).ok


def test_a_bare_not_eligible_is_an_error(tmp_path):
    from types import SimpleNamespace

    from huiqi.errors import PackError

    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "x.yaml").write_text(
        "cases:\n  - name: 甲\n    as_of: 2018-02-01\n    profile: {}\n"
        "    expect:\n      jz.kjjl.gaoqi_first_cert: not_eligible\n",
        encoding="utf-8",
    )
    with pytest.raises(PackError, match="须写明唯一未满足的条件"):
        load_cases(SimpleNamespace(root=tmp_path))


# Thresholds whose false side no case can show with exactly one failed condition: the part is
# implied by another part of the same rule, or the rule is not in force while it is false.
UNREACHABLE_BOUNDARIES = {
    # taxable revenue ≥ 10亿 is implied by "tier above max(base tier, 1)" (tier ≥ 2 means ≥ 20亿)
    ("jz.dqy.revenue_steps", "taxable_revenue_last_year >= 10亿"),
    ("jz.wz2020.revenue_10yi_step", "taxable_revenue_last_year >= 10亿"),
    # “从2016年开始”: the 办法 is in force from 2017-08-15, when 上年度 is already 2016 or later
    ("jz.kjjl.gaoqi_first_cert", "last_year >= 2016"),
    ("jz.kjjl.eng_center_first_demo", "last_year >= 2016"),
    ("jz.kjjl.patent_annual_fee", "last_year >= 2016"),
}


@pytest.mark.parametrize("pack_name", PACKS)
def test_money_rule_thresholds_have_a_case_on_each_side(pack_name):
    from huiqi.authoring.boundaries import boundary_coverage

    pack = bundled_pack(pack_name)
    rows = boundary_coverage(pack, load_cases(pack))
    lacking = [
        f"{b.rule}: {b.condition}（满足 {len(b.true_cases)}，不满足 {len(b.false_cases)}）"
        for b in rows
        if not b.covered and (b.rule, b.condition) not in UNREACHABLE_BOUNDARIES
    ]
    assert not lacking, "\n".join(lacking)


def test_boundary_coverage_sees_both_sides_and_the_threshold_itself():
    from huiqi.authoring.boundaries import boundary_coverage

    pack = bundled_pack("jiaozuo")
    rows = {(b.rule, b.condition): b for b in boundary_coverage(pack, load_cases(pack))}
    # 第八条（二）“增长率在10%（含）以上”: 110 -> 121 is exactly 10%, 110 -> 120 is 9.09%
    growth = rows[
        (
            "jz.kjjl.patent_agency",
            "agency_grants_last_year - agency_grants_prior_year >= agency_grants_prior_year * 10%",
        )
    ]
    assert "kjjl.yaml::科技服务平台" in growth.true_cases
    assert "kjjl.yaml::科技服务平台" in growth.at_threshold
    assert "kjjl.yaml::专利代理增长率不足10%" in growth.false_cases
    # `x > 0` only tests that something happened: not a threshold
    assert not any(c.endswith("> 0") for _, c in rows)
