"""The self-check questionnaire: it never asks a fact twice, only asks what concerns the
applicant, terminates when every answer is 不知道, reaches the complete profile's money, and
`huiqi ask` can be driven end to end."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from huiqi.cli import app
from huiqi.engine.match import match
from huiqi.engine.profile import read_profile_file
from huiqi.engine.questionnaire import APPLICANT, FAMILIES, Questionnaire, State
from huiqi.packs.loader import bundled_pack

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_questionnaire import money_key, run_guided  # noqa: E402

PACK = bundled_pack()
AS_OF = date(2018, 6, 30)


def _walk(qn: Questionnaire, choose, limit: int = 200) -> tuple[State, list]:
    state, asked = State(), []
    for _ in range(limit):
        report = qn.report(state)
        q = qn.next_question(state, report)
        if q is None:
            return state, asked
        asked.append(q)
        state = choose(qn, state, q, report)
    raise AssertionError("the questionnaire did not end")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), applicant=st.sampled_from(list(PACK.entities)))
def test_never_asks_twice_and_only_what_concerns_the_applicant(data, applicant):
    qn = Questionnaire(PACK, AS_OF)

    def choose(qn, state, q, report):
        if q.name == APPLICANT:
            return qn.answer(state, APPLICANT, applicant)
        # every question concerns an undecided rule for this kind of applicant
        open_for_me = {r.rule.id for r in report.results if r.status == "undetermined"}
        assert q.name == FAMILIES or set(q.rules) <= open_for_me, q.name
        assert all(applicant in PACK.by_id[rid].rule.beneficiary for rid in q.rules)
        if q.name == FAMILIES:
            picked = data.draw(st.lists(st.sampled_from([c for c, _ in q.choices]), max_size=2))
            return qn.answer(state, FAMILIES, picked)
        if q.choices and data.draw(st.booleans()):
            return qn.answer(state, q.name, data.draw(st.sampled_from([c for c, _ in q.choices])))
        if q.kind == "bool" and data.draw(st.booleans()):
            return qn.answer(state, q.name, data.draw(st.booleans()))
        return qn.dont_know(state, q.name)  # events and numbers: 不知道

    _, asked = _walk(qn, choose)
    names = [q.name for q in asked]
    assert len(names) == len(set(names)), names


def test_all_dont_know_terminates():
    qn = Questionnaire(PACK, AS_OF)

    def choose(qn, state, q, report):
        if q.name == APPLICANT:
            return qn.answer(state, APPLICANT, "enterprise")
        return qn.dont_know(state, q.name)

    state, _asked = _walk(qn, choose)
    # every rule still open is blocked by a fact answered 不知道 (later conditions behind
    # that gate are never asked)
    blocked = (
        set(state.unknown) | set(qn.families) if FAMILIES in state.unknown else set(state.unknown)
    )
    open_rules = [r for r in qn.report(state).results if r.status == "undetermined"]
    assert open_rules and all(
        {m.split(".")[0] for m in r.missing if not m.startswith("param:")} & blocked
        for r in open_rules
    )


def test_back_undoes_the_last_answer():
    qn = Questionnaire(PACK, AS_OF)
    s1 = qn.answer(State(), APPLICANT, "enterprise")
    s2 = qn.answer(s1, "registered_place", "温县")
    assert qn.back(s2).answers == s1.answers
    s3 = qn.dont_know(s1, "registered_place")
    assert qn.back(s3).unknown == []


def test_guided_answers_reach_the_complete_profiles_money():
    # the simulated user of bench/bench_questionnaire.py, on a high-tech enterprise
    data = dict(read_profile_file(ROOT / "examples" / "hightech_enterprise.yaml"))
    as_of = date.fromisoformat(str(data["as_of"]))
    out = run_guided(PACK, data, as_of)
    assert out["to_money"] is not None and out["to_money"] <= 40 and out["twice"] == 0


def test_huiqi_ask_end_to_end(tmp_path):
    # 企业, registered in 焦作市; no records; 独立法人 yes; then stop: the result follows.
    saved = tmp_path / "me.yaml"
    script = "1\n2\n\n是\n结束\n"
    result = CliRunner().invoke(
        app, ["ask", "--as-of", "2018-06-30", "--save", str(saved)], input=script
    )
    assert result.exit_code == 0, result.output
    assert "体检结果" in result.output and "现金奖补" in result.output
    text = saved.read_text(encoding="utf-8")
    assert "registered_place: 焦作市" in text and "applicant: enterprise" in text
    # resuming from the saved answers does not ask them again
    again = CliRunner().invoke(app, ["ask", str(saved)], input="结束\n")
    assert again.exit_code == 0 and "身份" not in again.output and "注册地" not in again.output


def test_ask_result_equals_match_on_the_complete_profile(tmp_path):
    # A complete profile resumed: nothing is left to ask that the profile could answer, and
    # the certain cash equals `match` on the same profile.
    from huiqi.engine.result import build_result

    path = ROOT / "examples" / "patent_agency.yaml"
    data = dict(read_profile_file(path))
    full = build_result(match(data))
    qn = Questionnaire(PACK, date.fromisoformat(str(data["as_of"])))
    state = State({k: v for k, v in data.items() if k not in ("as_of", "label")})
    assert money_key(qn.report(state)) == money_key(match(data))
    assert build_result(qn.report(state)).cash_total == full.cash_total


def test_match_writes_an_excel_workbook(tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "r.xlsx"
    result = CliRunner().invoke(
        app, ["match", str(ROOT / "examples" / "mengzhou_enterprise.yaml"), "--xlsx", str(out)]
    )
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    summary = {r[0]: r[1] for r in ws.iter_rows(max_col=2, values_only=True) if r[0]}
    # examples/mengzhou_enterprise.yaml (2018-06-30): 智能车间软硬件投资1500万元 × 8% = 120万元
    # （省财政“予以补助”，经省里评审确定：需评审，不计入合计）；新备案省科技型中小企业 2万元须
    # “在奖励项目取得后的次年第一季度报送…逾期不予受理”（2018-03-31 已过）→ 可确定合计 0 元
    assert summary["可确定的资金奖励补贴合计（元）"] == 0
    assert summary["需评审确定的金额，最高（元，未计入合计）"] == 1_200_000
    rows = list(ws.iter_rows(min_row=10, values_only=True))
    amounts = {r[0]: r[2] for r in rows if r[1] == "需评审"}
    assert 1_200_000 in amounts.values()
