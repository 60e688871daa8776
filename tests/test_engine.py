"""Unit tests of the rules engine: expressions, three-valued evaluation, profiles, stacking,
`huiqi check` failures and the CLI."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import copy_policies
from typer.testing import CliRunner

from huiqi.authoring.check import check_pack_dir
from huiqi.authoring.numbers import chinese_to_int, numbers_in
from huiqi.cli import app
from huiqi.engine.match import evaluate, match
from huiqi.engine.profile import ProfileError
from huiqi.errors import ExprError, PackErrors
from huiqi.explain import render
from huiqi.lang.expr import BoolOp, Compare, Num, parse
from huiqi.lang.scalar import UNKNOWN
from huiqi.packs.loader import bundled_pack, load_pack
from huiqi.resources import policies_dir

JZ = policies_dir() / "jiaozuo"
AS_OF = date(2018, 2, 1)
runner = CliRunner()


@pytest.fixture(scope="module")
def pack():
    return bundled_pack("jiaozuo")


@pytest.fixture(scope="module")
def kjjl_pack(tmp_path_factory):
    """The pack with only the 科技创新奖励资金 rules, for counts that other documents change."""

    from huiqi.packs.loader import load_pack

    base = copy_policies(tmp_path_factory.mktemp("pack"), keep={"jiaozuo": ["kjjl.yaml"], "cn": []})
    return load_pack(base / "jiaozuo")


# --- expressions -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("20万", Decimal(200000), "money"),
        ("1.5亿", Decimal(150000000), "money"),
        ("2000元", Decimal(2000), "money"),
        ("20万元", Decimal(200000), "money"),
        ("10%", Decimal("0.1"), "ratio"),
        ("2‱", Decimal("0.0002"), "ratio"),
        ("2016", Decimal(2016), "number"),
    ],
)
def test_literals(text, value, unit):
    node = parse(text)
    assert isinstance(node, Num) and node.value == value and node.unit == unit


def test_tree_is_plain_data():
    node = parse('a >= 3000万 and not b or c in ["x", "y"]')
    assert isinstance(node, BoolOp) and node.op == "or"
    assert isinstance(node.items[0].items[0], Compare)
    assert node == parse('a >= 3000万 and not b or c in ["x", "y"]')  # positions do not count


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [("a +", 1, 4), ("a ? b", 1, 3), ("foo(1)", 1, 1), ("x and\n  and y", 2, 3)],
)
def test_syntax_errors_have_positions(text, line, column):
    with pytest.raises(ExprError) as exc:
        parse(text)
    assert (exc.value.line, exc.value.column) == (line, column)


def test_no_eval_of_python():
    with pytest.raises(ExprError):
        parse("__import__('os')")


# --- evaluation -----------------------------------------------------------------------------------


def test_three_valued_and_or(pack):
    facts = {"registered_place": "郑州市"}
    out = evaluate("local(registered_place) and independent_legal_person", facts, AS_OF, pack)
    assert out.value is False and out.missing == ()
    out = evaluate("local(registered_place) or independent_legal_person", facts, AS_OF, pack)
    assert out.value is UNKNOWN and out.missing == ("independent_legal_person",)
    out = evaluate("not local(registered_place) or independent_legal_person", facts, AS_OF, pack)
    assert out.value is True


def test_derived_variable_reports_its_inputs(pack):
    out = evaluate("local_legal_entity", {"registered_place": "焦作市"}, AS_OF, pack)
    assert out.value is UNKNOWN and out.missing == ("independent_legal_person",)


def test_aggregates_and_builtins(pack):
    facts = {
        "patent_awards": [{"grade": "二等奖", "year": 2017}, {"grade": "三等奖", "year": 2016}],
        "registry_volume_last_year": Decimal(0),
    }
    assert evaluate("count(patent_awards where year == last_year)", facts, AS_OF, pack).value == 1
    assert evaluate('any(patent_awards where grade == "三等奖")', facts, AS_OF, pack).value is True
    assert evaluate("all(patent_awards where year >= 2016)", facts, AS_OF, pack).value is True
    assert evaluate("year(as_of) - 1 == last_year", facts, AS_OF, pack).value is True
    assert evaluate("if registry_volume_last_year > 0 then 1 else 2", facts, AS_OF, pack).value == 2
    assert evaluate("min(5万, 3万) + max(1, 2)", facts, AS_OF, pack).value == 30002
    # x / 0 is NULL, as in SQL
    assert evaluate("1 / registry_volume_last_year", facts, AS_OF, pack).value is UNKNOWN


def test_unknown_event_field_is_missing(pack):
    facts = {"certifications": [{"kind": "国家高新技术企业", "year": 2017}]}
    out = evaluate("any(certifications where first)", facts, AS_OF, pack)
    assert out.value is UNKNOWN and out.missing == ("certifications.first",)


def test_parameter_by_date(pack):
    assert evaluate("kjjl_annual_budget", {}, AS_OF, pack).value == 20_000_000
    assert evaluate("kjjl_annual_budget", {}, date(2016, 6, 1), pack).value is UNKNOWN


def test_trace_and_gap(pack):
    report = match(
        {
            "registered_place": "焦作市",
            "independent_legal_person": True,
            "patent_agency_approved": True,
            "agency_grants_last_year": 90,
            "agency_grants_prior_year": 50,
        },
        AS_OF,
        pack,
    )
    r = next(x for x in report.results if x.rule.id == "jz.kjjl.patent_agency")
    assert r.status == "not_eligible" and r.near_miss
    (gap,) = r.gaps
    # 超过100件: 90件 needs 11 more to reach 101
    assert gap["variable"] == "agency_grants_last_year" and gap["shortfall"] == 11
    trace = r.trace
    assert [t["result"] for t in trace] == [True, True, False, True]
    assert trace[2]["reads"] == {"agency_grants_last_year": 90}
    assert trace[2]["clause"].endswith("第八条（二）")


def test_next_question_decides_most_rules(kjjl_pack):
    pack = kjjl_pack
    report = match({"registered_place": "焦作市"}, AS_OF, pack)
    first = report.next_questions()[0]
    # 第六条 and 第八条 all require 独立法人资格: it decides more rules than any other question
    assert first["variable"] == "independent_legal_person" and first["decides"] == 24
    report = match({"registered_place": "焦作市", "independent_legal_person": True}, AS_OF, pack)
    first = report.next_questions()[0]
    assert first["variable"] == "science_awards" and first["decides"] == 12


# --- profiles -----------------------------------------------------------------------------------


def test_profile_lists_every_problem(pack):
    with pytest.raises(ProfileError) as exc:
        match(
            {
                "nope": 1,
                "registered_place": "焦作",
                "tech_absorb_volume_last_year": -1,
                "tech_service_tier": 0,
                "certifications": [{"kind": "x", "year": 2017, "colour": "red"}, {"year": 2017}],
                "local_legal_entity": True,
                "received_benefits": [{"rule": "no.such.rule", "amount": 5}],
            },
            AS_OF,
            pack,
        )
    paths = [p.path for p in exc.value.problems]
    assert paths == [
        "nope",
        "registered_place",
        "tech_absorb_volume_last_year",
        "tech_service_tier",
        "certifications[0].kind",
        "certifications[0].colour",
        "certifications[1].kind",
        "local_legal_entity",
        "received_benefits[0].rule",
    ]


def test_profile_money_literals(pack):
    report = match(
        {
            "registered_place": "焦作市",
            "independent_legal_person": True,
            "tech_absorb_volume_last_year": "300万",
        },
        AS_OF,
        pack,
    )
    r = next(x for x in report.results if x.rule.id == "jz.kjjl.tech_absorb")
    assert r.amount == 300000  # 300万元 × 10%


# --- synthetic packs: stacking, errors, check -----------------------------------------------------


def _copy_pack(tmp_path: Path) -> Path:
    return copy_policies(tmp_path) / "jiaozuo"


def _edit(root: Path, old: str, new: str, file: str = "rules/kjjl.yaml") -> None:
    path = root / file
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_difference_stacking(tmp_path):
    root = _copy_pack(tmp_path)
    _edit(
        root,
        "stacking: &contest_stack {group: contest, policy: highest,",
        "stacking: &contest_stack {group: contest, policy: difference,",
    )
    pack = load_pack(root)
    profile = {
        "registered_place": "焦作市",
        "independent_legal_person": True,
        "contest_awards": [{"level": "国家", "grade": "一等奖", "year": 2017}],
        "received_benefits": [
            {"rule": "jz.kjjl.contest_prov_1st", "amount": 300000, "year": 2017, "key": "2017"}
        ],
    }
    r = next(
        x
        for x in match(profile, AS_OF, pack).results
        if x.rule.id == "jz.kjjl.contest_national_1st"
    )
    assert (r.gross, r.amount) == (500000, 200000)  # 50万 − 30万 already paid
    assert "补差" in render(r.stacking_note)


def test_expression_errors_name_file_rule_and_position(tmp_path):
    root = _copy_pack(tmp_path)
    _edit(root, "      - major_contribution\n", "      - major_contribution and no_such_var\n")
    _edit(root, "amount: {fixed: 20万}", "amount: {fixed: 20万 +}")
    with pytest.raises(PackErrors) as exc:
        load_pack(root)
    messages = [str(e) for e in exc.value.errors]
    assert any(
        "jz.kjjl.major_case" in m and "no_such_var" in m and "kjjl.yaml:" in m for m in messages
    )
    assert any("jz.kjjl.gaoqi_first_cert" in m and "amount.fixed" in m for m in messages)


def test_enum_literal_typos_are_caught(tmp_path):
    root = _copy_pack(tmp_path)
    _edit(root, 'kind == "省创新龙头企业"', 'kind == "省创新龙头"')
    with pytest.raises(PackErrors) as exc:
        load_pack(root)
    assert "省创新龙头" in str(exc.value)


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        (
            "quote: 从2016年开始，首次认定的国家高新技术企业奖励20万元。",
            "quote: 从2016年开始，首次认定的国家高新技术企业奖励30万元。",
            "引文不在",
        ),
        ("amount: {fixed: 20万}", "amount: {fixed: 25万}", "数值 25万 未见于引文"),
        ("clause: 第十二条\n", "clause: 第九十九条\n", "找不到条款"),
        ("document: jiaozuo.kjjl", "document: 不存在的办法", "找不到文件"),
        (
            "  - id: jz.kjjl.prov_energy_demo",
            "  - id: jz.kjjl.prov_innovation_leader",
            "规则编号重复",
        ),
    ],
)
def test_check_failures(tmp_path, old, new, expect):
    root = _copy_pack(tmp_path)
    _edit(root, old, new)
    _pack, errors = check_pack_dir(root)
    assert any(expect in str(e) for e in errors), [str(e) for e in errors]


def test_check_parameter_gap_and_overlap(tmp_path):
    root = _copy_pack(tmp_path)
    extra = """        quote: 自2017年起，市财政科技经费每年安排2000万元
        to: 2017-12-31
      - from: 2018-03-01
        value: 2000万
        doc: 焦作市科技创新奖励资金管理暂行办法
        clause: 第二条
        quote: 自2017年起，市财政科技经费每年安排2000万元
"""
    _edit(
        root,
        "        quote: 自2017年起，市财政科技经费每年安排2000万元\n",
        extra,
        "parameters.yaml",
    )
    _pack, errors = check_pack_dir(root)
    assert any("空档" in str(e) for e in errors)


def test_check_replacement_windows(tmp_path):
    root = _copy_pack(tmp_path)
    _edit(
        root,
        "      - major_contribution\n    amount: {max: 500万}\n",
        "      - major_contribution\n    amount: {max: 500万}\n    validity: {to: 2019-12-31}\n",
    )
    rules = (root / "rules" / "kjjl.yaml").read_text(encoding="utf-8")
    block = rules[rules.index("  - id: jz.kjjl.major_case") :]
    block = block.replace("jz.kjjl.major_case", "jz.kjjl.major_case_v2").replace(
        "validity: {to: 2019-12-31}",
        "validity: {from: 2020-03-01}\n    replaces: jz.kjjl.major_case",
    )
    (root / "rules" / "kjjl.yaml").write_text(rules + block, encoding="utf-8")
    _pack, errors = check_pack_dir(root)
    assert any("空档" in str(e) and "jz.kjjl.major_case_v2" in str(e) for e in errors)


# --- numbers in the text ---------------------------------------------------------------------------


def test_numbers_in_all_written_forms():
    found = numbers_in("奖励20万元、1亿元，增长率10%，两年，万分之二，3000万—5000万")
    for n in ("20", "200000", "100000000", "0.1", "2", "0.0002", "30000000", "50000000"):
        assert Decimal(n).normalize() in found
    assert chinese_to_int("二百零五") == 205 and chinese_to_int("三千万") == 30_000_000


# --- CLI ---------------------------------------------------------------------------------------------


def test_cli_match_json(tmp_path):
    result = runner.invoke(
        app, ["match", str(JZ.parents[1] / "examples" / "hightech_enterprise.yaml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rule = next(r for r in data["rules"] if r["rule_id"] == "jz.kjjl.gaoqi_first_cert")
    for key in (
        "rule_id",
        "title",
        "status",
        "amount",
        "amount_min",
        "amount_max",
        "citation",
        "quote",
        "missing",
        "gap",
        "trace",
    ):
        assert key in rule
    assert rule["status"] == "eligible" and rule["amount"] == 200000
    # 20万 + 2万 + 30万 (同届就高) + 280万 × 10% + 5万 + 2000元 × 1
    kjjl = sum(
        r["amount"] or 0
        for r in data["rules"]
        if r["status"] == "eligible" and r["rule_id"].startswith("jz.kjjl.")
    )
    assert kjjl == 200000 + 20000 + 300000 + 280000 + 50000 + 2000
    assert data["total"] >= kjjl  # other documents of the pack may add to it


def test_cli_match_refuses_bad_profile(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"foo": 1, "registered_place": 3}), encoding="utf-8")
    result = runner.invoke(app, ["match", str(bad), "--json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "foo" in result.stderr and "registered_place" in result.stderr


def test_cli_rules_check_test():
    result = runner.invoke(app, ["rules", "--json", "--doc", "焦作市科技创新奖励资金管理暂行办法"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert len(data["rules"]) == 45 and {p["clause"] for p in data["not_encoded"]} >= {"第十一条"}
    major = next(r for r in data["rules"] if r["id"] == "jz.kjjl.major_case")
    assert major["amount_max"] == 5000000 and major["determination"] == "discretion"
    assert runner.invoke(app, ["check"]).exit_code == 0
    assert runner.invoke(app, ["test"]).exit_code == 0


def test_variables_may_be_split_over_files_but_not_defined_twice(tmp_path):

    from huiqi.errors import PackErrors
    from huiqi.packs.loader import load_pack

    root = copy_policies(tmp_path) / "jiaozuo"
    (root / "variables").mkdir(exist_ok=True)
    (root / "variables" / "extra.yaml").write_text(
        "variables:\n  zz_test_only_count:\n    label: 测试用计数\n    question: 测试用计数是多少？\n    type: integer\n    min: 0\n",
        encoding="utf-8",
    )
    assert "zz_test_only_count" in load_pack(root).variables
    (root / "variables" / "clash.yaml").write_text(
        "variables:\n  independent_legal_person:\n    label: 重复\n    question: 重复？\n    type: bool\n",
        encoding="utf-8",
    )
    with pytest.raises(PackErrors) as info:
        load_pack(root)
    assert any("independent_legal_person 重复定义" in str(e) for e in info.value.errors)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_profiles_in_any_usual_encoding(tmp_path, encoding):
    from typer.testing import CliRunner

    from huiqi.cli import app

    path = tmp_path / "p.yaml"
    path.write_bytes("label: 测试企业\nregistered_place: 焦作市\n".encode(encoding))
    result = CliRunner().invoke(app, ["match", str(path), "--as-of", "2018-02-01", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["label"] == "测试企业"


def test_ascii_json_profile(tmp_path):
    from typer.testing import CliRunner

    from huiqi.cli import app

    path = tmp_path / "p.json"
    path.write_text('{"registered_place": "\\u7126\\u4f5c\\u5e02"}', encoding="ascii")
    result = CliRunner().invoke(app, ["match", str(path), "--as-of", "2018-02-01", "--json"])
    assert result.exit_code == 0, result.output


def test_case_totals_count_the_rules_of_their_own_file():
    from huiqi.authoring.cases import load_cases
    from huiqi.packs.loader import bundled_pack

    cases = [c for c in load_cases(bundled_pack("jiaozuo")) if c.file == "kjjl.yaml"]
    assert cases and all(c.scope == ("kjjl.yaml",) for c in cases)


def test_applicant_type_sets_aside_benefits_for_others():
    from huiqi.engine.match import match
    from huiqi.engine.profile import ProfileError

    # kjjl rules are for enterprises (and institutions for some); a person asking gets none.
    report = match({"applicant": "个人", "registered_place": "焦作市"}, date(2018, 2, 1))
    kjjl = [r for r in report.results if r.rule.id.startswith("jz.kjjl.")]
    others = [r for r in kjjl if "person" not in r.rule.beneficiary]
    assert others and all(
        r.status == "not_eligible" and "申请人为个人" in render(r.reason) for r in others
    )
    asked = {rid for q in report.next_questions() for rid in q["rules"]}
    assert not asked & {r.rule.id for r in others}
    # 第十条 science awards also go to persons: still evaluated
    persons = [r for r in kjjl if "person" in r.rule.beneficiary]
    assert persons and all("申请人" not in render(r.reason) for r in persons)
    same = match({"applicant": "enterprise", "registered_place": "焦作市"}, date(2018, 2, 1))
    assert any(r.status == "undetermined" for r in same.results if r.rule.id.startswith("jz.kjjl."))
    with pytest.raises(ProfileError, match="applicant"):
        match({"applicant": "公司"}, date(2018, 2, 1))


@pytest.mark.parametrize(
    "revenue, tier",
    # 焦发〔2017〕6号 五（三）2 “每跨越一个10亿元台阶”: the tier is the whole number of 10亿元 steps
    [(0, 0), (999_999_999, 0), (1_000_000_000, 1), (5_200_000_000, 5), (10_500_000_000, 10)],
)
def test_floor_gives_the_revenue_tier(pack, revenue, tier):
    facts = {"annual_results": [{"year": AS_OF.year - 1, "taxable_revenue": Decimal(revenue)}]}
    assert evaluate("floor(taxable_revenue_last_year / 10亿)", facts, AS_OF, pack).value == tier
    assert evaluate("taxable_revenue_tier_last_year", facts, AS_OF, pack).value == tier


def test_floor_of_an_unknown_is_unknown(pack):
    out = evaluate("floor(taxable_revenue_last_year / 10亿)", {}, AS_OF, pack)
    assert out.value is UNKNOWN and out.missing == ("annual_results",)


def test_a_year_without_an_entry_never_passes_an_upper_bound(pack):
    """One input for yearly figures (annual_results). A year without an entry sums to 0, so a
    ceiling (年营业收入1亿元以下) is read together with has_results_last_year."""
    facts = {"annual_results": [{"year": AS_OF.year - 2, "revenue": Decimal(5)}]}
    gated = "has_results_last_year and revenue_last_year <= 1亿"
    assert evaluate("revenue_last_year", facts, AS_OF, pack).value == 0
    assert evaluate(gated, facts, AS_OF, pack).value is False
    facts["annual_results"].append({"year": AS_OF.year - 1})
    out = evaluate(gated, facts, AS_OF, pack)
    assert out.value is UNKNOWN and out.missing == ("annual_results.revenue",)
    facts["annual_results"][-1]["revenue"] = Decimal(5)
    assert evaluate(gated, facts, AS_OF, pack).value is True
