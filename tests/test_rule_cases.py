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
        date(2018, 6, 30),
    )
    by_id = {r.rule.id: r for r in report.results}
    paid = [by_id["jz.kjjl.gaoqi_first_cert"], by_id["jz.gqpy.new_hte_subsidy"]]
    assert all(r.status == "eligible" for r in paid)
    assert sorted(r.amount for r in paid) == [0, 200000]  # 20万 once, not 40万
