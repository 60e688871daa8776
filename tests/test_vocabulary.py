"""The vocabulary lint of `huiqi check`: it passes on the bundled packs and fails, naming the
variable, on each kind of drift back into per-document dialects."""

from __future__ import annotations

import pytest
from conftest import copy_policies

from huiqi.authoring.check import check_pack_dir
from huiqi.packs.loader import bundled_pack


def _check(tmp_path, extra: str = "", edit: tuple[str, str, str] | None = None) -> list[str]:
    root = copy_policies(tmp_path)
    if extra:
        (root / "jiaozuo" / "variables" / "zz_extra.yaml").write_text(
            "variables:\n" + extra, encoding="utf-8"
        )
    if edit:
        path = root / "jiaozuo" / edit[0]
        text = path.read_text(encoding="utf-8")
        assert edit[1] in text
        path.write_text(text.replace(edit[1], edit[2], 1), encoding="utf-8")
    _, errors = check_pack_dir(root / "jiaozuo")
    return [str(e) for e in errors]


def test_bundled_vocabulary_is_clean():
    # every input is read somewhere in the tree, no label or question is asked twice
    from huiqi.authoring.vocabulary import lint_vocabulary, tree_reads

    pack = bundled_pack("mengzhou")
    assert lint_vocabulary(pack, readers=tree_reads(pack)) == []


def test_the_same_fact_asked_twice_is_an_error(tmp_path):
    errors = _check(
        tmp_path,
        "  revenue_again:\n    label: 企业规模\n    question: 贵单位是大型还是小型企业？\n"
        "    type: enum\n    values: [大型, 小型]\n",
    )
    dup = [e for e in errors if "revenue_again" in e and "enterprise_size" in e]
    assert dup and "同一事实只应有一个输入变量" in dup[0]


def test_an_input_nobody_reads_is_an_error(tmp_path):
    errors = _check(
        tmp_path, "  zz_unread:\n    label: 无人读取\n    question: 无人读取？\n    type: bool\n"
    )
    assert any("zz_unread" in e and "没有任何规则" in e for e in errors)


def test_a_variable_named_after_a_place_is_an_error(tmp_path):
    errors = _check(
        tmp_path,
        "  jiaozuo_flag:\n    label: 本地标志\n    type: bool\n"
        "    formula: local(registered_place)\n",
    )
    assert any("jiaozuo_flag" in e and "地名" in e for e in errors)


@pytest.mark.parametrize("times", [3])
def test_a_bundle_inline_in_three_rules(tmp_path, times):
    root = copy_policies(tmp_path)
    path = root / "jiaozuo" / "rules" / "talent_highlevel_housing.yaml"
    text = path.read_text(encoding="utf-8")
    inline = '      - {expr: talent_class == "A类" or spouse_talent_class == "A类",'
    text = text.replace("      - {expr: is_household_class_a,", inline, times)
    path.write_text(text, encoding="utf-8")
    _, errors = check_pack_dir(root / "jiaozuo")
    assert any("条件组合在 3 条规则中重复书写" in str(e) for e in errors)


def test_a_national_rule_may_not_read_a_city_fact(tmp_path):
    root = copy_policies(tmp_path)
    path = root / "cn" / "rules" / "tax_hte.yaml"
    text = path.read_text(encoding="utf-8")
    first = text.index("    when:")
    text = text[:first] + "    when:\n      - local_legal_entity\n" + text[first + 10 :]
    path.write_text(text, encoding="utf-8")
    _, errors = check_pack_dir(root / "jiaozuo")
    assert any("读取了下级规则包 jiaozuo 的变量 local_legal_entity" in str(e) for e in errors)
