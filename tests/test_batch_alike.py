"""The forecast reading the enterprises without events once per distinct row (`compile._alike`):
the queries whose columns are booleans and choices weigh each distinct row by how many
enterprises share it, and give the forecast that reading them one by one gives."""

from __future__ import annotations

from batch_helpers import AS_OF, COLUMNS, kjjl, pack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import huiqi.batch.compile as compile_mod
from huiqi.batch.compile import _alike, _compile, _rows_read, compile_rules
from huiqi.batch.report import label_tables
from huiqi.batch.runner import FORECAST, RESULT, connect, evaluate, forecast
from huiqi.batch.synthetic import DENSE, generate
from huiqi.lang.sql import select, to_sql


def _plain(rules, received=False):
    """The same rules compiled without `_alike` (every enterprise one by one)."""
    saved = compile_mod.ALIKE_MAX
    compile_mod.ALIKE_MAX = 0
    try:
        return _compile(pack(), AS_OF, "duckdb", rules, received, frozenset(), ())
    finally:
        compile_mod.ALIKE_MAX = saved


def _forecast(con, batch) -> set:
    evaluate(con, pack(), AS_OF, batch=batch, store=False)
    out = set(con.execute(f"SELECT {COLUMNS} FROM {FORECAST}").fetchall())
    con.execute(f"DROP TABLE {FORECAST}")
    return out


def test_the_queries_of_few_distinct_rows_are_read_alike():
    batch = compile_rules(pack(), AS_OF, rules=kjjl())
    alike = dict(zip(batch.restrictions, batch.alike, strict=True))
    # 首次认定的国家高新技术企业…奖励: where registered, independent legal person, no fraud,
    # the kind of applicant, and whether its certifications are known: at most
    # 6 × 64 × 3 × 3 × 2 distinct rows
    assert set(alike["certifications"]) == {
        "applicant",
        "registered_place",
        "independent_legal_person",
        "fraud_or_duplicate_claim",
        "certifications",
    }
    assert set(alike["science_awards"]) == {
        "applicant",
        "registered_place",
        "fraud_or_duplicate_claim",
        "science_awards",
    }
    # the rules that need no list read money (技术合同交易额, 专利代理机构的授权量): one by one
    assert alike[None] is None
    assert _plain(kjjl()).alike == [None] * len(batch.alike)


def test_enterprises_with_events_stay_one_by_one_and_the_others_are_counted():
    con = connect(1)
    generate(con, pack(), 3000, seed=5, as_of=AS_OF)
    keys = ["applicant", "registered_place", "fraud_or_duplicate_claim", "science_awards"]
    holders = {
        r
        for (r,) in con.execute(
            'SELECT DISTINCT e._rid FROM "ev__science_awards" e JOIN registry USING (_rid) '
            "WHERE science_awards"
        ).fetchall()
    }
    assert holders
    for rows, needed in [
        (compile_mod.exp.to_table("registry"), None),
        (_rows_read("science_awards", None, frozenset()), "science_awards"),
    ]:
        sql = to_sql(select("*").from_(_alike(rows, keys, ["science_awards"], needed)), "duckdb")
        read = con.execute(sql).fetchall()
        ones = {r[4] for r in read if r[4] is not None}
        assert {r[5] for r in read if r[4] is not None} == {1}
        if needed is None:
            # every enterprise counted once: those with events (of a known list) one by one
            assert sum(r[5] for r in read) == 3000
            assert holders <= ones
        else:
            # the registry's rows the list leaves open: unknown, or with events
            assert ones == holders
            left = con.execute(
                "SELECT count(*) FROM registry WHERE science_awards IS NULL"
            ).fetchall()[0][0]
            assert sum(r[5] for r in read if r[4] is None) == left
        others = [r for r in read if r[4] is None]
        assert len(others) < sum(r[5] for r in others) / 3  # distinct rows, not enterprises


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    unknown=st.sampled_from([0.1, 0.25, 0.6]),
    holders=st.sampled_from([0.1, DENSE]),
)
def test_the_forecast_read_alike_equals_the_one_read_one_by_one(seed, unknown, holders):
    """kjjl's queries over a registry of 1,000 enterprises, with and without `_alike`."""
    con = connect(1)
    generate(con, pack(), 1000, seed=seed, as_of=AS_OF, unknown=unknown, holders=holders)
    alike = _compile(pack(), AS_OF, "duckdb", kjjl(), False, frozenset(), ())
    assert sum(k is not None for k in alike.alike) == 5
    assert _forecast(con, alike) == _forecast(con, _plain(kjjl()))


def test_benefits_already_received_are_found_for_enterprises_read_alike():
    """高新区创业补助 (只能享受一次: "可给予一次性不超过10万元的创业补助") reads only booleans
    and choices and needs no event, so its query reads enterprises alike; those that received
    it already must still have it set aside: the range of each eligible one counts 0, as in
    the forecast grouped from every enterprise's rows."""
    rule = pack().by_id["jz.gxq.startup_grant"]
    rules = [rule]
    batch = compile_rules(pack(), AS_OF, rules=rules, received=True)
    assert batch.alike[0] is not None
    con = connect(1)
    generate(con, pack(), 2000, seed=3, as_of=AS_OF, unknown=0.1)
    con.execute(
        "CREATE TABLE received AS SELECT _rid, 'jz.gxq.startup_grant' AS rule, "
        "CAST(50000 AS DECIMAL(38, 2)) AS amount, CAST(2018 AS BIGINT) AS year, "
        "CAST(NULL AS VARCHAR) AS key FROM registry WHERE _rid % 2 = 0"
    )
    rids, places = zip(
        *con.execute("SELECT _rid, registered_place FROM registry ORDER BY _rid").fetchall(),
        strict=True,
    )
    label_tables(con, batch.rules, [f"E{r}" for r in rids], pack(), list(places), list(rids))
    evaluate(con, pack(), AS_OF, batch=batch, store=True)
    aside = con.execute(f"SELECT count(*) FROM {RESULT} WHERE set_aside").fetchall()[0][0]
    assert aside > 0
    forecast(con)  # grouped from the long result
    grouped = set(con.execute(f"SELECT {COLUMNS} FROM {FORECAST}").fetchall())
    con.execute(f"DROP TABLE {FORECAST}")
    assert _forecast(con, batch) == grouped
