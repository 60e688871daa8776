"""Inputs no enterprise of the registry has unknown (`runner.complete_inputs`) are not tested
for a missing fact by the queries compiled for that registry (`compile_rules(complete=…)`):
the results must be those of the queries that test every fact."""

from __future__ import annotations

from batch_helpers import AS_OF, kjjl, pack

from huiqi.batch.compile import compile_rules
from huiqi.batch.runner import FORECAST, RESULT, complete_inputs, connect, evaluate
from huiqi.batch.synthetic import DENSE, generate


def _registry(n: int, seed: int):
    """A synthetic registry (a quarter of every fact unknown), then made complete in some
    inputs: the place, the fraud flag and the year of every certification filled in."""
    con = connect()
    generate(con, pack(), n, seed=seed, as_of=AS_OF, holders=DENSE)
    con.execute("UPDATE registry SET registered_place = '沁阳市' WHERE registered_place IS NULL")
    con.execute(
        "UPDATE registry SET fraud_or_duplicate_claim = false "
        "WHERE fraud_or_duplicate_claim IS NULL"
    )
    con.execute("UPDATE ev__certifications SET year = 2018 WHERE year IS NULL")
    return con


def test_complete_inputs_are_the_facts_no_enterprise_has_unknown():
    con = _registry(60, seed=3)
    complete = complete_inputs(con, pack(), AS_OF, kjjl())
    assert {"registered_place", "fraud_or_duplicate_claim", "certifications.year"} <= complete
    # a quarter unknown, as the generator makes them
    assert "independent_legal_person" not in complete
    assert "certifications" not in complete  # the list itself unknown for some
    # one unknown is enough
    con.execute("UPDATE registry SET fraud_or_duplicate_claim = NULL WHERE _rid = 7")
    con.execute(
        "UPDATE ev__certifications SET year = NULL "
        "WHERE _rid = (SELECT min(_rid) FROM ev__certifications)"
    )
    again = complete_inputs(con, pack(), AS_OF, kjjl())
    assert "fraud_or_duplicate_claim" not in again
    assert "certifications.year" not in again
    assert "registered_place" in again
    # only facts the rules name: kjjl reads no tax figure, however complete
    con.execute("UPDATE registry SET eit_taxable_income = 0")
    assert "eit_taxable_income" not in complete_inputs(con, pack(), AS_OF, kjjl())
    assert "eit_taxable_income" in complete_inputs(con, pack(), AS_OF)


def test_an_event_table_without_a_row_has_no_unknown_field():
    con = _registry(30, seed=4)
    con.execute("DELETE FROM ev__certifications")
    complete = complete_inputs(con, pack(), AS_OF, kjjl())
    assert {"certifications.kind", "certifications.first", "certifications.year"} <= complete


def _results(con, batch) -> tuple[list[tuple], set[tuple]]:
    evaluate(con, pack(), AS_OF, batch=batch, store=True)
    rows = con.execute(f"SELECT * FROM {RESULT} ORDER BY _rid, rule_idx").fetchall()
    evaluate(con, pack(), AS_OF, batch=batch, store=False)
    cols = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"
    return rows, set(con.execute(f"SELECT {cols} FROM {FORECAST}").fetchall())


def test_a_batch_compiled_for_the_complete_inputs_gives_the_same_results():
    con = _registry(300, seed=11)
    complete = complete_inputs(con, pack(), AS_OF, kjjl())
    every = compile_rules(pack(), AS_OF, rules=kjjl())
    fewer = compile_rules(pack(), AS_OF, rules=kjjl(), complete=complete)
    rows, forecast = _results(con, every)
    rows_c, forecast_c = _results(con, fewer)
    assert rows_c == rows
    assert forecast_c == forecast
    # not trivially: undetermined rules name their unknown facts, none of the complete ones
    at = [d[0] for d in con.execute(f"SELECT * FROM {RESULT} LIMIT 0").description].index("missing")
    named = {f for r in rows if r[at] for f in r[at].split(",")}
    assert "independent_legal_person" in named
    assert not named & {"registered_place", "fraud_or_duplicate_claim", "certifications.year"}
    # and the queries test fewer facts: no flag for the certifications' year, fewer counts
    text, text_c = "".join(every.forecast_sqls), "".join(fewer.forecast_sqls)
    assert "nf__certifications__year" in text
    assert "nf__certifications__year" not in text_c
    assert text_c.count("count_if") < text.count("count_if")
