"""Rules that compute alike: a rule of a query whose status, amounts and unknown facts are
written exactly as an earlier rule's (`compile._signature`) is computed once; its long rows
and forecast are read from that rule's columns. Each such rule must give what it gives when
compiled alone, in a query of its own."""

from __future__ import annotations

from batch_helpers import AS_OF, KJJL, pack

from huiqi.batch.compile import compile_rules
from huiqi.batch.runner import FORECAST, RESULT, connect, evaluate
from huiqi.batch.synthetic import DENSE, generate
from huiqi.packs.loader import Pack, load_pack

FIGURES = "place, status, fact, n, amount, amount_min, amount_max"
LONG = "_rid, status, amount, amount_min, amount_max, amount_gross, set_aside, missing"


def _by_rule(con, table: str, columns: str) -> dict[int, set[tuple]]:
    out: dict[int, set[tuple]] = {}
    for row in con.execute(f"SELECT rule_idx, {columns} FROM {table}").fetchall():
        out.setdefault(row[0], set()).add(row[1:])
    return out


def _run(con, p: Pack, rules) -> tuple[dict[int, set[tuple]], dict[int, set[tuple]]]:
    """(forecast rows, long rows) per rule position, the batch compiled over `rules`."""
    batch = compile_rules(p, AS_OF, rules=rules)
    evaluate(con, p, AS_OF, rules, batch, store=False)
    figures = _by_rule(con, FORECAST, FIGURES)
    evaluate(con, p, AS_OF, rules, batch, store=True)
    return figures, _by_rule(con, RESULT, LONG)


def test_the_pack_rules_computed_alike_give_what_each_gives_alone():
    p = pack()
    batch = compile_rules(p, AS_OF)
    like = batch.computed_like
    at = {info.rule_id: info.idx for info in batch.rules}
    # the 实施意见 on 焦作高新区 (hitech_zone.yaml): what is granted to the zone itself (when:
    # *zone_itself, for the park, no sum of money), from the 统筹机制 of its first such
    # rule to the 先行先试 of 三17, is one computation
    first = at["jz.gxq.industry_concentration"]
    zone = ["jz.gxq.bond_allocation", "jz.gxq.annual_special_fund", "jz.gxq.city_level_powers"]
    assert all(like[at[r]] == first for r in [*zone, "jz.gxq.pilot_reform"])
    assert first not in like
    # rules of a stacking group are compared with their rivals: never read from another
    assert not any(p.compiled[i].rule.stacking for i in like)
    assert not any(p.compiled[i].rule.stacking for i in like.values())
    # a rule read from another has no column of its own in any query
    for j in like:
        assert not any(f'"s_{j}"' in q for q in batch.forecast_sqls + batch.sqls)

    con = connect()
    generate(con, p, 300, seed=13, as_of=AS_OF, holders=DENSE)
    figures, rows = _run(con, p, list(p.compiled))
    assert sum(len(v) for v in rows.values()) == 300 * len(p.compiled)
    # each against itself compiled without the rule it is read from; of a group, its first
    # three (the rules of 《关于促进工业经济平稳健康发展的若干政策措施》, not yet in force on
    # AS_OF, make groups of up to 25). In rounds of rules no two of which compute alike: one
    # of each group, and rules of two groups alike in different queries of the pack wait
    # for a later round.
    groups: dict[int, list[int]] = {}
    for j in sorted(like):
        groups.setdefault(like[j], []).append(j)
    left = sorted(j for g in groups.values() for j in g[:3])
    while left:
        picked: list[int] = []
        for j in left:
            if not any(like[j] == like[i] for i in picked):
                picked.append(j)
        batch = compile_rules(p, AS_OF, rules=[p.compiled[j] for j in picked])
        later = {picked[pos] for pos in batch.computed_like}
        picked = [j for j in picked if j not in later]
        left = [j for j in left if j not in picked]
        own_figures, own_rows = _run(con, p, [p.compiled[j] for j in picked])
        for pos, j in enumerate(picked):
            assert figures[j] == own_figures[pos], p.compiled[j].rule.id
            assert rows[j] == own_rows[pos], p.compiled[j].rule.id
    # not all of them trivially not eligible: some are met, some undetermined with facts named
    statuses = {r[1] for j in like for r in figures[j]}
    assert {"eligible", "undetermined"} <= statuses
    assert any(r[2] is not None for j in like for r in figures[j])


def test_same_condition_other_amount_is_not_read_from_the_other(tmp_path):
    """kjjl 第六条: “新认定（备案）的省创新龙头企业、省节能减排科技创新示范企业、省科技小巨人企业
    ……分别奖励50万元、20万元、20万元”. Edited so that the 龙头企业 and 小巨人 rules test the
    节能减排示范企业 certification too: 小巨人 (20万元, as 示范企业) computes like it, 龙头企业
    (50万元) does not."""
    from conftest import copy_policies

    root = copy_policies(tmp_path) / "jiaozuo"
    path = root / "rules" / "kjjl.yaml"
    text = path.read_text(encoding="utf-8")
    for kind in ("省创新龙头企业", "省科技小巨人企业"):
        old = f'kind == "{kind}" and year == last_year'
        assert text.count(old) == 1
        text = text.replace(old, 'kind == "省节能减排科技创新示范企业" and year == last_year')
    path.write_text(text, encoding="utf-8")
    p = load_pack(root)
    rules = [cr for cr in p.compiled if cr.rule.doc_title == KJJL]
    at = {cr.rule.id: k for k, cr in enumerate(rules)}
    leader, demo = at["jz.kjjl.prov_innovation_leader"], at["jz.kjjl.prov_energy_demo"]
    giant = at["jz.kjjl.prov_little_giant"]
    batch = compile_rules(p, AS_OF, rules=rules)
    assert batch.computed_like.get(giant) == demo
    assert leader not in batch.computed_like and demo not in batch.computed_like

    con = connect()
    generate(con, p, 2000, seed=3, as_of=AS_OF, holders=DENSE)
    figures, rows = _run(con, p, rules)
    met = [r for r in figures[demo] if r[1] == "eligible"]
    assert met, "some enterprise holds the certification"
    # each pays its own sum: 50万元 against 20万元 per enterprise met
    for k, per in ((leader, 500_000), (demo, 200_000), (giant, 200_000)):
        for place, status, _fact, count, amount, *_ in figures[k]:
            if status == "eligible":
                assert amount == count * per, (rules[k].rule.id, place)
    assert {(r[0], r[3]) for r in figures[leader]} == {(r[0], r[3]) for r in figures[demo]}
    assert figures[leader] != figures[demo]
    for k in (leader, demo, giant):
        own_figures, own_rows = _run(con, p, [rules[k]])
        assert figures[k] == own_figures[0], rules[k].rule.id
        assert rows[k] == own_rows[0], rules[k].rule.id
