"""A forecast query whose rules are all for kinds of applicant that leave out a large share of
the registry (`compile_rules(applicants=…)`) reads only the rows of those kinds and of an
unknown kind; the others count as 不符合 for each of its rules (未生效或已失效 for a rule out of
force). The forecast must be the one of the queries that read every row."""

from __future__ import annotations

from collections import Counter

from batch_helpers import AS_OF, COLUMNS, pack

from huiqi.batch.compile import FILTERED_SHARE, _applicants, compile_rules
from huiqi.batch.runner import FORECAST, applicant_counts, connect, evaluate
from huiqi.batch.synthetic import DENSE, generate

HOUSING = "jz.talent_hl_housing."
# rules for enterprises (企业所得税法实施条例), for talents (人才住房), for three kinds (市科学技术
# 奖), and the 2020 measures, none in force on AS_OF
DOCS = {
    "cn.tax-eit-regulation",
    "jiaozuo.talent-highlevel-housing",
    "jiaozuo.sci-award",
    "jiaozuo.measures-2020",
}


def _rules():
    return [cr for cr in pack().compiled if cr.rule.doc in DOCS]


def _forecast(con, batch) -> set[tuple]:
    evaluate(con, pack(), AS_OF, batch=batch, store=False)
    return set(con.execute(f"SELECT {COLUMNS} FROM {FORECAST}").fetchall())


def test_queries_read_only_the_kinds_their_rules_are_for_and_count_the_others():
    con = connect()
    generate(con, pack(), 400, seed=17, as_of=AS_OF, holders=DENSE)
    counts = applicant_counts(con)
    # the generator's registry: about half of unknown kind, a tenth of each of the five kinds
    assert {k for k, _ in counts} == {"", *pack().entities}
    assert sum(n for _, n in counts) == 400
    every = compile_rules(pack(), AS_OF, rules=_rules())
    some = compile_rules(pack(), AS_OF, rules=_rules(), applicants=counts)
    assert every.applicants == [None] * len(every.forecast_sqls)
    # the tax rules' query leaves out the other four kinds (~40%), the talents' one all but
    # person; the science awards' one, for three kinds (~20% left out) is read whole; the
    # 2020 measures' ones read nothing
    assert Counter(some.applicants) == {(): 2, ("enterprise",): 1, ("person",): 1, None: 1}
    for kinds, sql in zip(some.applicants, some.forecast_sqls, strict=True):
        if kinds:
            assert "'" + kinds[0] + "'" in sql.split('"l0" AS', 1)[1].split('"lh" AS', 1)[0]
    assert _forecast(con, some) == _forecast(con, every)


def test_a_registry_of_enterprises_reads_nothing_for_the_talents_rules():
    con = connect()
    generate(con, pack(), 200, seed=3, as_of=AS_OF, holders=DENSE)
    con.execute("UPDATE registry SET applicant = 'enterprise'")
    counts = applicant_counts(con)
    assert counts == (("enterprise", 200),)
    every = compile_rules(pack(), AS_OF, rules=_rules())
    some = compile_rules(pack(), AS_OF, rules=_rules(), applicants=counts)
    forecast = _forecast(con, some)
    assert forecast == _forecast(con, every)
    # 《焦作市高层次人才住房保障实施办法》 houses talents (person): every enterprise is 不符合
    housing = [r.idx for r in some.rules if r.rule_id.startswith(HOUSING)]
    assert housing
    for idx in housing:
        rows = [r for r in forecast if r[1] == idx]
        assert {r[2] for r in rows} == {"not_eligible"}
        assert sum(r[4] for r in rows) == 200
    # the tax rules' query reads every row: none is left out
    assert Counter(some.applicants) == {(): 2, ("person",): 1, None: 2}


def test_a_query_is_read_whole_unless_the_kinds_left_out_are_a_third():
    rules = [cr for cr in pack().compiled if cr.rule.beneficiary == ("enterprise",)][:3]
    assert all(cr.rule.valid_from is None or cr.rule.valid_from <= AS_OF for cr in rules)
    total = 300
    # left out: the enterprises of kinds other than enterprise, never those of unknown kind
    just = int(total * FILTERED_SHARE) + 1
    assert _applicants(pack(), AS_OF, rules, (("", 100), ("enterprise", 99), ("park", just))) == (
        "enterprise",
    )
    below = just - 2
    counts = (("", total - below - 50), ("enterprise", 50), ("park", below))
    assert _applicants(pack(), AS_OF, rules, counts) is None
    # without counts, every row is read
    assert _applicants(pack(), AS_OF, rules, ()) is None
