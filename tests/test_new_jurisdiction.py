"""A new county is a folder, not a code change: a fictional county pack built in a temporary
copy of the packs — its own policy text, three rules over facts the national pack already has,
and cases — passes `check` and `test`, and `match` picks it from the registration place.

This follows docs/jurisdictions.md step by step; the county, its document and its amounts are
invented for the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_policies

CORPUS = """示例县人民政府关于印发示例县促进科技型企业发展若干措施的通知
示政〔2021〕3号
各乡镇人民政府，县政府各部门：
现将《示例县促进科技型企业发展若干措施》印发给你们，请认真贯彻执行。
示例县人民政府
2021年3月1日
示例县促进科技型企业发展若干措施
第一条 为支持本县科技型企业发展，制定本措施。
第二条 对在本县注册、首次认定为国家高新技术企业的企业，奖励10万元。
第三条 对新评价入库的科技型中小企业，奖励1万元。
第四条 对小型、微型企业首次认定为国家高新技术企业的，再给予5万元奖励。
第五条 本措施奖励可与国家、省、市同类奖励叠加享受。
第六条 本措施自2021年3月1日起施行。
"""

JURISDICTION = """name: 示例县
level: county
extends: jiaozuo
aliases: [示例]
doc_prefixes: [示]
issuers: [示例县人民政府]
"""

RULES = """document: 示例县促进科技型企业发展若干措施
defaults: {beneficiary: [enterprise], kind: one_time, determination: application,
           payer: 示例县财政}
rules:
  - id: sl.kj.hte_first
    title: 首次认定国家高新技术企业奖励
    clause: 第二条
    quote: 对在本县注册、首次认定为国家高新技术企业的企业，奖励10万元。
    when:
      - {expr: local(registered_place), label: 在本县注册}
      - 'any(certifications where kind == "国家高新技术企业" and first and year == last_year)'
    amount: {fixed: 10万}
    # `huiqi check` asks how a county award stacks with the city's for the same certification
    independent_of:
      - {rule: jz.kjjl.gaoqi_first_cert, clause: 第五条, quote: 本措施奖励可与国家、省、市同类奖励叠加享受。}
      - {rule: jz.gqpy.new_hte_subsidy, clause: 第五条, quote: 本措施奖励可与国家、省、市同类奖励叠加享受。}
  - id: sl.kj.tech_sme
    title: 科技型中小企业入库奖励
    clause: 第三条
    quote: 对新评价入库的科技型中小企业，奖励1万元。
    when:
      - {expr: local(registered_place), label: 在本县注册}
      - 'any(certifications where kind == "科技型中小企业" and year == last_year)'
    amount: {fixed: 1万}
  - id: sl.kj.small_hte_bonus
    title: 小微企业首次认定高企追加奖励
    clause: 第四条
    quote: 对小型、微型企业首次认定为国家高新技术企业的，再给予5万元奖励。
    when:
      - {expr: local(registered_place), label: 在本县注册}
      - {expr: 'enterprise_size in ["小型", "微型"]', label: 小型、微型企业}
      - 'any(certifications where kind == "国家高新技术企业" and first and year == last_year)'
    amount: {fixed: 5万}
    # `huiqi check` asks how a county award stacks with the city's for the same certification
    independent_of:
      - {rule: jz.kjjl.gaoqi_first_cert, clause: 第五条, quote: 本措施奖励可与国家、省、市同类奖励叠加享受。}
      - {rule: jz.gqpy.new_hte_subsidy, clause: 第五条, quote: 本措施奖励可与国家、省、市同类奖励叠加享受。}
"""

CASES = """cases:
  - name: 小型企业首次认定高企并入库
    as_of: 2022-03-01
    profile:
      registered_place: 示例县
      enterprise_size: 小型
      certifications:
        - {kind: 国家高新技术企业, year: 2021, first: true}
        - {kind: 科技型中小企业, year: 2021}
    expect:
      # 第二条：“……首次认定为国家高新技术企业的企业，奖励10万元。” -> 100000
      sl.kj.hte_first: {status: eligible, amount: 100000}
      # 第三条：“对新评价入库的科技型中小企业，奖励1万元。” -> 10000
      sl.kj.tech_sme: {status: eligible, amount: 10000}
      # 第四条：“对小型、微型企业首次认定……再给予5万元奖励。” -> 50000
      sl.kj.small_hte_bonus: {status: eligible, amount: 50000}
    # 100000 + 10000 + 50000
    total: 160000
  - name: 中型企业没有追加奖励
    as_of: 2022-03-01
    profile:
      registered_place: 示例县
      enterprise_size: 中型
      certifications: [{kind: 国家高新技术企业, year: 2021, first: true}]
    expect:
      sl.kj.hte_first: {status: eligible, amount: 100000}
      # 第四条“对小型、微型企业”：中型企业只缺这一项
      sl.kj.small_hte_bonus: {status: not_eligible, because: 小型、微型企业}
  - name: 注册在温县
    as_of: 2022-03-01
    profile:
      registered_place: 温县
      enterprise_size: 小型
      certifications: [{kind: 国家高新技术企业, year: 2021, first: true}, {kind: 科技型中小企业, year: 2021}]
    expect:
      # 第二条至第四条都以在本县注册为前提：其余条件都满足
      sl.kj.hte_first: {status: not_eligible, because: 在本县注册}
      sl.kj.tech_sme: {status: not_eligible, because: 在本县注册}
      sl.kj.small_hte_bonus: {status: not_eligible, because: 在本县注册}
"""


@pytest.fixture(scope="module")
def policies(tmp_path_factory) -> Path:
    root = copy_policies(tmp_path_factory.mktemp("county"))
    county = root / "shili"
    for sub in ("corpus", "rules", "tests"):
        (county / sub).mkdir(parents=True)
    (county / "jurisdiction.yaml").write_text(JURISDICTION, encoding="utf-8")
    # a county's texts often come in GB18030 from its website
    (county / "corpus" / "shi_zheng_2021_3.txt").write_bytes(CORPUS.encode("gb18030"))
    (county / "rules" / "keji.yaml").write_text(RULES, encoding="utf-8")
    (county / "tests" / "keji.yaml").write_text(CASES, encoding="utf-8")
    return root


def _huiqi(policies: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "HUIQI_POLICIES": str(policies),
        "HUIQI_CACHE_DIR": str(policies.parent / "cache"),
    }
    return subprocess.run(
        [sys.executable, "-m", "huiqi.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_new_county_passes_check(policies):
    result = _huiqi(policies, "check", "--pack", "shili")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "shili：" in result.stdout and "全部通过" in result.stdout


def test_new_county_cases_pass(policies):
    result = _huiqi(policies, "test", "--pack", "shili")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3/3 个用例通过，覆盖 3/3 条规则" in result.stdout


def test_match_picks_the_county_from_the_registration_place(policies, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text(
        "registered_place: 示例县\nenterprise_size: 微型\n"
        "certifications: [{kind: 国家高新技术企业, year: 2021, first: true}]\n",
        encoding="utf-8",
    )
    result = _huiqi(policies, "match", str(profile), "--as-of", "2022-03-01", "--json")
    assert result.returncode == 0, result.stderr
    rules = {r["rule_id"]: r for r in json.loads(result.stdout)["rules"]}
    # 第二条 10万元 + 第四条 5万元
    assert rules["sl.kj.hte_first"]["amount"] == 100000
    assert rules["sl.kj.small_hte_bonus"]["amount"] == 50000
    # the list of certifications is complete and holds no 科技型中小企业 entry
    assert rules["sl.kj.tech_sme"]["status"] == "not_eligible"


def test_the_existing_packs_are_unchanged(policies):
    result = _huiqi(policies, "test", "--pack", "mengzhou")
    assert result.returncode == 0, result.stdout + result.stderr
