"""Engine features added for the tax computation of the national tax documents (docs/tax.md):
parameters cited to a law outside the library, 减半 as a stated number, and the derived
variables of a formula amount shown as its steps."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from huiqi.authoring.check import check_pack_dir
from huiqi.authoring.numbers import numbers_in
from huiqi.engine.match import match
from huiqi.explain import render
from huiqi.packs.loader import bundled_pack, load_pack

VARIABLES = """
variables:
  income:
    label: 应纳税所得额
    question: 应纳税所得额是多少元？
    type: money
  tax_without:
    label: 不享受优惠的应纳税额
    type: money
    formula: income * rate_standard
  tax_with:
    label: 享受优惠的应纳税额
    type: money
    formula: income * 50% * 20%
  saving:
    label: 节税额
    type: money
    formula: tax_without - tax_with
"""

PARAMETERS = """
parameters:
  rate_standard:
    label: 法定税率
    type: ratio
    values:
      - from: 2008-01-01
        value: {value}
        external: {external}
        doc: {doc}
        clause: 第四条
        quote: {quote}
"""

RULES = """
document: 财税〔2017〕43号
prefix: t.sme
defaults: {beneficiary: [enterprise], kind: yearly, determination: automatic}
rules:
  - id: t.sme.small
    title: 小型微利企业
    clause: 一
    quote: 对年应纳税所得额低于50万元（含50万元）的小型微利企业，其所得减按50%计入应纳税所得额，按20%的税率缴纳企业所得税。
    when: income <= 50万
    amount: {formula: saving}
"""


def _pack(
    tmp_path: Path,
    value="25%",
    external="true",
    doc="中华人民共和国企业所得税法",
    quote="企业所得税的税率为25%。",
) -> Path:
    root = tmp_path / "policies" / "taxpack"
    (root / "rules").mkdir(parents=True)
    (root / "variables.yaml").write_text(VARIABLES, encoding="utf-8")
    (root / "parameters.yaml").write_text(
        PARAMETERS.format(value=value, external=external, doc=doc, quote=quote), encoding="utf-8"
    )
    (root / "rules" / "sme.yaml").write_text(RULES, encoding="utf-8")
    return root


def test_external_citation_passes_check(tmp_path):
    _, errors = check_pack_dir(_pack(tmp_path))
    assert errors == [], [str(e) for e in errors]


def test_external_citation_still_needs_the_number_in_its_quote(tmp_path):
    _, errors = check_pack_dir(_pack(tmp_path, value="30%"))
    assert any("数值 30% 未见于引文" in str(e) for e in errors), [str(e) for e in errors]


def test_external_citation_needs_a_quote(tmp_path):
    _, errors = check_pack_dir(_pack(tmp_path, quote="''"))
    assert any("库外依据" in str(e) for e in errors), [str(e) for e in errors]


def test_a_library_citation_is_still_verified(tmp_path):
    # without `external`, a document missing from the library is an error as before
    _, errors = check_pack_dir(_pack(tmp_path, external="false"))
    assert any("找不到文件" in str(e) for e in errors), [str(e) for e in errors]


def test_jian_ban_states_one_half():
    assert Decimal("0.5") in numbers_in("超过500万元的部分，减半征收企业所得税。")
    assert Decimal("0.5") not in numbers_in("免征企业所得税")


def test_formula_steps_show_the_derived_variables(tmp_path):
    pack = load_pack(_pack(tmp_path))
    r = next(x for x in match({"income": 500000}, date(2018, 6, 30), pack).results)
    assert r.status == "eligible" and r.amount == 75000  # 500000 × 25% − 500000 × 50% × 20%
    assert [render(s) for s in r.steps] == [
        "不享受优惠的应纳税额（tax_without）= 125,000 元",
        "享受优惠的应纳税额（tax_with）= 50,000 元",
        "节税额（saving）= 75,000 元",
        "saving = 75,000 元",
    ]


def test_bundled_tax_example_shows_its_steps():
    from huiqi.engine.profile import read_profile_file

    pack = bundled_pack("jiaozuo")
    profile = read_profile_file(pack.root.parents[1] / "examples" / "tax_sme_2018.yaml")
    r = next(
        x
        for x in match(profile, date(2018, 12, 31), pack).results
        if x.rule.id == "tax.eit.equipment_credit"
    )
    assert r.amount == 37500
    assert (
        "抵免前应纳税额（享受加计扣除、技术转让、税率优惠后）（eit_tax_before_credits）= 37,500 元"
        in [render(s) for s in r.steps]
    )
    assert "在有效期内的国家高新技术企业（hte_valid）= 否" in [render(s) for s in r.steps]
