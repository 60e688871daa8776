"""The locality lint of `huiqi check`: a money rule of a city or county pack must say that its
beneficiary is local (local()/within() on the registration place, directly or through a derived
variable) or record, with `locality:`, why the text does not restrict the place."""

from __future__ import annotations

from conftest import copy_policies

from huiqi.authoring.check import check_pack_dir
from huiqi.authoring.locality import lint_locality
from huiqi.packs.loader import bundled_pack

MESSAGE = "资金类规则缺少属地条件"
# jz.kjjl.major_case (第十二条 一事一议，最高500万元) as it stands in kjjl.yaml
MAJOR_CASE_PART = (
    "      - {expr: local(registered_place), label: 为全市作出重大贡献的我市企业、单位}\n"
)


def _errors(tmp_path, *edits: tuple[str, str, str]) -> list[str]:
    root = copy_policies(tmp_path)
    for file, old, new in edits:
        path = root / "jiaozuo" / "rules" / file
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    _, errors = check_pack_dir(root / "jiaozuo")
    return [str(e) for e in errors]


def test_bundled_packs_have_no_unlocated_money_rule():
    assert lint_locality(bundled_pack("mengzhou")) == []


def test_a_money_rule_without_a_place_condition_is_named(tmp_path):
    errors = _errors(tmp_path, ("kjjl.yaml", MAJOR_CASE_PART, ""))
    flagged = [e for e in errors if MESSAGE in e]
    assert len(flagged) == 1 and "jz.kjjl.major_case" in flagged[0]
    assert "kjjl.yaml" in flagged[0]


def test_a_recorded_reason_is_accepted(tmp_path):
    errors = _errors(
        tmp_path,
        ("kjjl.yaml", MAJOR_CASE_PART, ""),
        (
            "kjjl.yaml",
            "    clause: 第十二条\n",
            "    clause: 第十二条\n    locality: 测试：原文不限属地。\n",
        ),
    )
    assert not [e for e in errors if MESSAGE in e]


def test_a_reason_in_the_file_defaults_covers_its_rules(tmp_path):
    errors = _errors(
        tmp_path,
        ("kjjl.yaml", MAJOR_CASE_PART, ""),
        ("kjjl.yaml", "defaults:\n", "defaults:\n  locality: 测试：全文不限属地。\n"),
    )
    assert not [e for e in errors if MESSAGE in e]


def test_a_rule_without_money_needs_no_place(tmp_path):
    errors = _errors(
        tmp_path,
        ("kjjl.yaml", MAJOR_CASE_PART, ""),
        ("kjjl.yaml", "    amount: {max: 500万}\n", "    amount: {unstated: 一事一议}\n"),
    )
    assert not [e for e in errors if MESSAGE in e]


def test_a_derived_variable_testing_the_place_counts(tmp_path):
    # jz.kjjl.gaoqi_first_cert reads local_legal_entity = local(registered_place) and …;
    # reading only the legal-person fact leaves it without a place
    old = "      - {expr: local_legal_entity, label: 在我市注册、具有独立法人资格}\n"
    errors = _errors(tmp_path, ("kjjl.yaml", old, "      - independent_legal_person\n"))
    flagged = [e for e in errors if MESSAGE in e]
    assert flagged and "jz.kjjl.gaoqi_first_cert" in flagged[0]
