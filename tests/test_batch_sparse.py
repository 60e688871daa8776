"""Rules only an enterprise with events of one list can meet (`batch.sparse`), and the
forecast that reads them only where the list is unknown or has events."""

from __future__ import annotations

from batch_helpers import AS_OF, COLUMNS, KJJL, pack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.batch.compile import chunks, compile_rules, restriction
from huiqi.batch.report import label_tables
from huiqi.batch.runner import FORECAST, RESULT, complete_inputs, connect, evaluate, forecast
from huiqi.batch.sparse import needs_events, ruled_out_by
from huiqi.batch.synthetic import DENSE, generate, profiles
from huiqi.engine.match import NOT_ELIGIBLE, evaluate_profile
from huiqi.engine.profile import Profile


def _out(rule_id: str) -> list[str]:
    return ruled_out_by(pack(), pack().by_id[rule_id], AS_OF)


def test_a_rule_that_needs_an_event_is_ruled_out_by_its_empty_list():
    # 首次认定的国家高新技术企业，奖励20万元: "any(certifications where kind == 国家高新技术企业 …)"
    assert _out("jz.kjjl.gaoqi_first_cert") == ["certifications"]
    # 国家级科技创新大赛一等奖: an award of the contest list
    assert _out("jz.kjjl.contest_national_1st") == ["contest_awards"]
    # 小型微利企业: reads event lists (through its derived income), but an empty one does not
    # make any of its parts false
    assert _out("tax.sme43.small_low_profit") == []
    # 《焦作市人民政府关于…（2020）》 is not in force on 2019-03-01: every enterprise gets
    # 未生效, whatever its lists
    assert _out("jz.wz2020.revenue_first_50yi") == []


def test_the_lists_chosen_keep_stacking_groups_together_and_skip_small_lists():
    rules = list(pack().compiled)
    lists = needs_events(pack(), AS_OF, rules)
    for i, name in lists.items():
        assert name in ruled_out_by(pack(), rules[i], AS_OF)
    groups: dict[str, set] = {}
    for i, cr in enumerate(rules):
        if cr.rule.stacking is not None:
            groups.setdefault(cr.rule.stacking.group, set()).add(lists.get(i))
    assert all(len(chosen) == 1 for chosen in groups.values())
    per_list: dict[str, int] = {}
    for name in lists.values():
        per_list[name] = per_list.get(name, 0) + 1
    assert min(per_list.values()) >= 3
    # 《焦作市科技创新奖励资金管理暂行办法》: 35 of its 45 rules, in 5 lists
    kjjl = [cr for cr in rules if cr.rule.doc_title == KJJL]
    mine = needs_events(pack(), AS_OF, kjjl)
    assert len(mine) == 35
    assert set(mine.values()) == {
        "certifications",
        "contest_awards",
        "platform_recognitions",
        "service_recognitions",
        "science_awards",
    }


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), unknown=st.sampled_from([0.0, 0.25, 0.6]))
def test_with_its_list_known_and_empty_such_a_rule_is_never_eligible(seed, unknown):
    """Whatever else the scalar evaluator knows of an enterprise (every fact known when
    `unknown` is 0), a rule the list rules out is 不符合 (not 待确定, not 逾期) once the list
    is known and empty."""
    rules = list(pack().compiled)
    lists = needs_events(pack(), AS_OF, rules, min_rules=1)
    names = sorted(set(lists.values()))
    con = connect(1)
    generate(con, pack(), 80, seed=seed, as_of=AS_OF, unknown=unknown, holders=DENSE)
    checked = 0
    for k, rec in enumerate(profiles(con, pack())):
        name = names[
            (k + seed) % len(names)
        ]  # one list emptied per enterprise, the others as drawn
        facts = {**rec["facts"], name: []}
        report = evaluate_profile(pack(), Profile(facts, [], applicant=rec["applicant"]), AS_OF)
        status = {r.rule.id: r.status for r in report.results}
        for i, listed in lists.items():
            if listed == name:
                assert status[rules[i].rule.id] == NOT_ELIGIBLE, (rules[i].rule.id, name)
                checked += 1
    assert checked > 0


def _forecast_both_ways(con, batch) -> tuple[set, set]:
    rids, places = zip(
        *con.execute("SELECT _rid, registered_place FROM registry ORDER BY _rid").fetchall(),
        strict=True,
    )
    label_tables(con, batch.rules, [f"E{r}" for r in rids], pack(), list(places), list(rids))
    evaluate(con, pack(), AS_OF, batch=batch, store=True)
    forecast(con)  # grouped from the long result, every enterprise read
    grouped = set(con.execute(f"SELECT {COLUMNS} FROM {FORECAST}").fetchall())
    con.execute(f"DROP TABLE {FORECAST}")
    con.execute(f"DROP TABLE {RESULT}")
    evaluate(con, pack(), AS_OF, batch=batch, store=False)
    return grouped, set(con.execute(f"SELECT {COLUMNS} FROM {FORECAST}").fetchall())


def test_the_forecast_read_where_the_lists_leave_it_open_equals_the_whole_one():
    """The lists known for every enterprise (most have none of the events): the queries of
    rules that need events read only the enterprises with some, `complete` drops the test
    for an unknown list, and the forecast is the one grouped from every enterprise's rows."""
    con = connect()
    sch = generate(con, pack(), 300, seed=11, as_of=AS_OF)
    con.execute("UPDATE registry SET " + ", ".join(f'"{e}" = TRUE' for e in sch.events))
    kjjl = [cr for cr in pack().compiled if cr.rule.doc_title == KJJL]
    complete = complete_inputs(con, pack(), AS_OF, kjjl)
    assert "certifications" in complete
    batch = compile_rules(pack(), AS_OF, rules=kjjl, complete=complete)
    assert sorted(filter(None, batch.restrictions)) == [
        "certifications",
        "contest_awards",
        "platform_recognitions",
        "science_awards",
        "service_recognitions",
    ]
    # every enterprise those queries read has events: nothing is read alike (`_alike`)
    assert [a for a, r in zip(batch.alike, batch.restrictions, strict=True) if r] == [None] * 5
    holders = con.execute('SELECT count(DISTINCT _rid) FROM "ev__certifications"').fetchall()[0][0]
    assert 0 < holders < 300  # some enterprises are read, most are not
    grouped, restricted = _forecast_both_ways(con, batch)
    assert restricted == grouped
    # not trivially: rules of the restricted queries are eligible for some enterprises and
    # undetermined for others, and 不符合 for the rest
    listed = {
        i
        for c, name in zip(
            chunks(kjjl, needs_events(pack(), AS_OF, kjjl)), batch.restrictions, strict=True
        )
        if name
        for i in c
    }
    statuses = {r[2] for r in restricted if r[1] in listed and r[3] is None and r[4] > 0}
    assert statuses == {"eligible", "undetermined", "not_eligible"}


def test_each_query_of_a_list_holds_only_rules_that_need_it():
    rules = list(pack().compiled)
    lists = needs_events(pack(), AS_OF, rules)
    out = chunks(rules, lists)
    assert sorted(i for c in out for i in c) == list(range(len(rules)))
    restricted = [c for c in out if restriction(c, lists) is not None]
    assert len(restricted) >= 10
    for c in restricted:
        assert len({lists.get(i) for i in c}) == 1
    # the dense queries hold every rule no list was chosen for
    assert {i for c in out if restriction(c, lists) is None for i in c} == {
        i for i in range(len(rules)) if i not in lists
    }
