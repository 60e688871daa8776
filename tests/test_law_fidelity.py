"""Law fidelity: the semantics quotes alone cannot check (stacking units, the same event paid
twice, implementing rules, review amounts kept apart), each with the clause it rests on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from conftest import copy_policies
from typer.testing import CliRunner

from huiqi.authoring.check import check_pack
from huiqi.authoring.overlaps import overlap_pairs
from huiqi.cli import app
from huiqi.engine.match import match
from huiqi.engine.result import build_result
from huiqi.errors import PackErrors
from huiqi.packs.loader import bundled_pack, load_pack

runner = CliRunner()


def _edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# -- 1. stacking: `difference` must name the unit of "the same benefit" -----------------------


def test_difference_without_key_is_an_error(tmp_path):
    root = copy_policies(tmp_path)
    _edit(
        root / "jiaozuo/rules/measures_2020.yaml",
        "    stacking: {group: dqy_revenue_steps, policy: highest, key: last_year}",
        "    stacking: {group: dqy_revenue_steps, policy: difference}",
    )
    _edit(
        root / "jiaozuo/rules/big_groups.yaml",
        "stacking: {group: dqy_revenue_steps, policy: highest, key: last_year,",
        "stacking: {group: dqy_revenue_steps, policy: difference, key: last_year,",
    )
    with pytest.raises(PackErrors) as info:
        load_pack(root / "jiaozuo")
    (err,) = [e for e in info.value.errors if e.rule == "jz.wz2020.revenue_10yi_step"]
    assert err.field == "stacking.key" and "measures_2020.yaml" in err.file and err.line


def test_check_of_a_sound_pack_survives_a_broken_pack_elsewhere_in_the_tree(tmp_path):
    """The vocabulary lint reads the whole tree: a broken city pack must not crash the check
    of the national pack (it did, with a traceback, before)."""
    from huiqi.authoring.check import check_pack_dir

    root = copy_policies(tmp_path)
    _edit(
        root / "jiaozuo/rules/measures_2020.yaml",
        "    stacking: {group: dqy_revenue_steps, policy: highest, key: last_year}",
        "    stacking: {group: dqy_revenue_steps, policy: difference}",
    )
    pack, errors = check_pack_dir(root / "cn", own_only=True)
    assert pack is not None and errors == []
    _, errors = check_pack_dir(root / "mengzhou")
    assert any(e.rule == "jz.wz2020.revenue_10yi_step" for e in errors)


# 焦发〔2020〕17号 一1: “对应税营业收入达到 10 亿元的企业，以后每跨越一个 10 亿元台阶，市财政奖励 50 万元。”
def test_a_new_step_is_paid_after_an_earlier_step_award():
    report = match(
        {
            "registered_place": "焦作市",
            "annual_results": [
                {"year": 2019, "taxable_revenue": "24亿"},
                {"year": 2020, "taxable_revenue": "31亿"},
            ],
            # 50万 received in 2020 for the 20亿 step crossed in 2019
            "received_benefits": [
                {"rule": "jz.wz2020.revenue_10yi_step", "amount": "50万", "year": 2020, "key": 2019}
            ],
        },
        as_of=date(2021, 3, 1),
    )
    r = next(r for r in report.results if r.rule.id == "jz.wz2020.revenue_10yi_step")
    # 2020: 31亿 is step 3, the highest before was step 2 → 1 new step × 50万
    assert (r.status, r.amount) == ("eligible", Decimal(500000))


# -- 2. the same event paid twice across documents and packs -------------------------------


def test_overlap_lint_finds_the_mengzhou_double_subsidy(tmp_path):
    root = copy_policies(tmp_path)
    _edit(
        root / "mengzhou/rules/gongjian_mengzhou_jigai.yaml",
        "    stacking: {group: mic_city_cultivation, policy: highest, key: last_year}\n",
        "",
    )
    errors = check_pack(load_pack(root / "mengzhou"))
    hits = [e for e in errors if e.rule == "mz.gj.jg.mic_city_cultivation"]
    assert len(hits) == 1
    assert "jz.gj.jg.mic_city_cultivation" in str(hits[0])
    assert "上年度购置研发、中试等设备投入资金" in str(hits[0])  # the shared spend, by its label


def test_independent_of_needs_the_verbatim_sentence(tmp_path):
    root = copy_policies(tmp_path)
    path = root / "mengzhou/rules/gongjian_mengzhou_jigai.yaml"
    _edit(
        path,
        "    stacking: {group: mic_city_cultivation, policy: highest, key: last_year}\n",
        "    independent_of:\n"
        "      - {rule: jz.gj.jg.mic_city_cultivation, clause: i2, quote: 两级财政分别补助，可以叠加}\n",
    )
    errors = check_pack(load_pack(root / "mengzhou"))
    mine = [e for e in errors if e.rule == "mz.gj.jg.mic_city_cultivation"]
    # the overlap is declared, but the sentence is not in the text: one error, on the quote
    assert [e.field for e in mine] == ["independent_of[0].quote"]


def test_bundled_overlaps_are_all_declared():
    pack = bundled_pack()
    pairs = overlap_pairs(pack)
    ids = {frozenset((a.rule.id, b.rule.id)) for a, b, _ in pairs}
    # the pairs the review found (issue: 160万 + 160万, 500万 + 100万, 100万 + 50万)
    assert frozenset(("jz.gj.jg.mic_city_cultivation", "mz.gj.jg.mic_city_cultivation")) in ids
    assert frozenset(("jz.gj.jg.mic_promoted_provincial", "jz.wz2020.mic_prov_recognized")) in ids
    assert frozenset(("jz.dqy.national_platform", "jz.ljrc.rd_center_nat")) in ids
    from huiqi.authoring.overlaps import lint_overlaps

    assert lint_overlaps(pack) == []


# 孟州方案与焦作方案同一句：“凡列入市创新中心培育名单的单位,在培育期内按照年度内购置研发、中试等设备
# 投入资金的20%给予补助,年度补助金额最高不超过300万元”；孟州方案“根据《焦作市人民政府关于印发焦作市
# 化解过剩产能攻坚方案等五个方案的通知》…文件精神,结合我市实际,特制定本方案”：one subsidy, not two.
def test_mengzhou_firm_gets_the_centre_subsidy_once():
    report = match(
        {
            "registered_place": "孟州市",
            "industry_recognitions": [{"kind": "市级制造业创新中心培育名单", "year": 2017}],
            "rd_pilot_equipment_spend_last_year": "800万",
        },
        as_of=date(2018, 6, 30),
    )
    paid = {
        r.rule.id: r.amount
        for r in report.eligible
        if r.rule.id.endswith("mic_city_cultivation") and r.amount
    }
    # 800万 × 20% = 160万, paid once (the probe got 160万 + 160万)
    assert paid == {"jz.gj.jg.mic_city_cultivation": Decimal(1600000)}


# 焦发〔2016〕9号 五（五）：“与我市其他政策有重复、交叉的，按照“从优、从高、不重复”的原则执行。”
def test_national_technology_centre_paid_once_at_the_higher_amount():
    report = match(
        {
            "registered_place": "焦作市",
            "big_group_target": True,
            "ljrc_leader_enterprise": True,
            "platform_recognitions": [
                {
                    "kind": "企业技术中心",
                    "level": "国家级",
                    "outcome": "新认定（备案）",
                    "year": 2017,
                }
            ],
        },
        as_of=date(2018, 6, 30),
    )
    by_id = {r.rule.id: r for r in report.results}
    # 焦发〔2017〕6号 五（三）6 “一次性给予100万元建设经费补助” beats 四（三）2 “国家级…50万元”
    assert by_id["jz.dqy.national_platform"].amount == Decimal(1000000)
    assert by_id["jz.ljrc.rd_center_nat"].amount == Decimal(0)
    assert by_id["jz.ljrc.rd_center_nat"].set_aside_by == "jz.dqy.national_platform"


# -- 3. implementing rules bind the parent's benefits ----------------------------------------


# A doctor who founded a tech firm in the city with 300万 of own capital: meets 焦发〔2016〕9号 二（一）2
# and its 实施办法 第七条（一）.
FOUNDER = {
    "local_enterprise_tie": True,
    "ljrc_degree": "博士",
    "age": 40,
    "ljrc_large_org_years": 8,
    "ljrc_months_per_year": 12,
    "ljrc_owns_ip": True,
    "ljrc_tech_advanced_pilot": True,
    "ljrc_founding_mode": "本人创办",
    "ljrc_own_capital": "300万",
}


# 实施办法第七条（一）：“…年龄不超过55周岁，引进后每年在焦工作时间不少于6个月…”
@pytest.mark.parametrize(
    ("fact", "value", "label"),
    [
        ("age", 58, "年龄不超过55周岁（经专家评审机构认定可放宽）"),
        ("ljrc_months_per_year", 4, "引进后每年在焦工作时间不少于6个月"),
    ],
)
def test_leader_funding_obeys_the_implementing_rules(fact, value, label):
    profile = {**FOUNDER, "ljrc_limits_relaxed": False}
    report = match(profile, as_of=date(2018, 6, 30))
    ok = next(r for r in report.results if r.rule.id == "jz.ljrc.entrepreneur_leader")
    assert (ok.status, ok.amount) == ("eligible", Decimal(2000000))
    report = match({**profile, fact: value}, as_of=date(2018, 6, 30))
    r = next(r for r in report.results if r.rule.id == "jz.ljrc.entrepreneur_leader")
    failed = [t for t in r.trace if t["result"] is False]
    assert r.status == "not_eligible"
    assert [t["label"] for t in failed] == [label]
    assert "实施办法" in failed[0]["clause"]


# -- 7. review amounts never in the certain total --------------------------------------------


def test_review_amounts_are_kept_apart():
    # 焦发〔2016〕9号 四（一）2 “创业领军人才给予200万元项目产业化扶持资金资助” is paid after
    # “经评审认定” (评审裁量): a range of one point, never in the certain total
    profile = FOUNDER
    report = match(profile, as_of=date(2018, 6, 30))
    result = build_result(report)
    review_ids = {b.rule_id for b in result.review}
    assert "jz.ljrc.entrepreneur_leader" in review_ids
    assert "jz.ljrc.entrepreneur_leader" not in {b.rule_id for b in result.cash}
    assert report.review_max >= Decimal(2000000)
    assert report.total + report.review_max == report.total_max
    assert result.review_range[1] >= Decimal(2000000)


def test_check_cli_on_bundled_packs_passes():
    result = runner.invoke(app, ["check"])
    assert result.exit_code == 0, result.output


# -- 4. time: binding deadlines, claims after a policy ends, the period shown -----------------


# 《焦作市科技创新奖励资金管理暂行办法》第十五条：“…在奖励项目取得后的次年第一季度报送至奖励办公室，
# 逾期不予受理。” 第六条：“…首次认定的国家高新技术企业奖励20万元。”
HTE_2017 = {
    "registered_place": "焦作市",
    "independent_legal_person": True,
    "certifications": [{"kind": "国家高新技术企业", "year": 2017, "first": True}],
}


@pytest.mark.parametrize(
    ("as_of", "status", "amount"),
    [
        (date(2018, 3, 31), "eligible", Decimal(200000)),  # last day of 次年第一季度
        (date(2018, 4, 1), "overdue", None),  # one day late
        (date(2018, 6, 30), "overdue", None),
    ],
)
def test_hard_deadline_gives_overdue_with_the_date(as_of, status, amount):
    report = match(HTE_2017, as_of=as_of)
    r = next(r for r in report.results if r.rule.id == "jz.kjjl.gaoqi_first_cert")
    assert (r.status, r.amount) == (status, amount)
    if status == "overdue":
        assert r.reason.params["closes"] == "2018-03-31"
        assert "逾期不予受理" in r.reason.params["quote"]
        result = build_result(report)
        # the cultivation plan's 20万 for the same certification is paid from the same fund,
        # under the same window (焦政〔2017〕22号 五4 with the fund's 第五条, 第十五条)
        assert {o.rule_id for o in result.overdue} == {
            "jz.kjjl.gaoqi_first_cert",
            "jz.gqpy.new_hte_subsidy",
        }
        assert "2018-03-31" in result.overdue[0].reason
        assert "jz.kjjl.gaoqi_first_cert" not in {b.rule_id for b in result.cash}


# 《焦作市推进企业技术改造攻坚方案》（至2020年）：“对晋升为省级创新中心的一次性奖励500万元。”
# A 2020 promotion is earned while the plan is in force and claimed in 2021.
def test_benefit_earned_in_force_is_due_after_the_policy_ends():
    profile = {
        "registered_place": "焦作市",
        "industry_recognitions": [
            {"kind": "市级制造业创新中心认定", "year": 2018},
            {"kind": "省级制造业创新中心认定", "year": 2020},
        ],
    }
    report = match(profile, as_of=date(2021, 3, 1))
    r = next(r for r in report.results if r.rule.id == "jz.gj.jg.mic_promoted_provincial")
    assert (r.status, r.amount) == ("eligible", Decimal(5000000))
    assert r.to_dict(trace=False)["period"] == "2020年度（上年度）的情况"
    # 2022: a 2021 promotion was earned after the plan ended
    profile["industry_recognitions"][1]["year"] = 2021
    report = match(profile, as_of=date(2022, 3, 1))
    r = next(r for r in report.results if r.rule.id == "jz.gj.jg.mic_promoted_provincial")
    assert r.status == "not_in_force"


# 标准化项目奖励办法 第九条 “获得相关认定后1年内提出申请”；第十一条 “（二）超过规定期限的” 不予受理
def test_time_limit_condition_gives_overdue_not_not_eligible():
    pack = bundled_pack("jiaozuo")
    rule = pack.by_id["jz.bzhjl.committee_tc"].rule
    assert [p.label for p in rule.when if p.deadline] == [
        "在获得认定后1年内申请（超过规定期限的不予受理）"
    ]


def test_result_page_lists_overdue_benefits():
    """The web result page renders the result model's 逾期未申请 part (no matching of its own)."""
    from huiqi.web import service
    from huiqi.web.pages import templates

    pack = service.load_pack()
    s = service.summary(service.match(HTE_2017, date(2018, 6, 30), pack))
    assert {o.rule_id for o in s["overdue"]} == {
        "jz.kjjl.gaoqi_first_cert",
        "jz.gqpy.new_hte_subsidy",
    }
    html = templates.env.get_template("result.html").render(
        s=s,
        questions=[],
        report=None,
        request=None,
        links={},
        places=[],
        place="",
        applicant="",
        resend=[],
    )
    assert "逾期未申请（2 项）" in html and "2018-03-31" in html
