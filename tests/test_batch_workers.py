"""The chunks' queries of a small registry run side by side on cursors of one database
(`runner._Workers`): the same long result and forecast as one after the other."""

from __future__ import annotations

from datetime import date
from functools import cache

import duckdb
import pytest

from huiqi.batch import runner
from huiqi.batch.compile import compile_rules
from huiqi.batch.runner import FORECAST, RESULT, connect, evaluate
from huiqi.batch.synthetic import DENSE, generate
from huiqi.packs.loader import bundled_pack

AS_OF = date(2019, 3, 1)


@cache
def pack():
    return bundled_pack("jiaozuo")


def kjjl():
    """Three chunks of rules: enough to run side by side."""
    return [
        cr for cr in pack().compiled if cr.rule.doc_title == "焦作市科技创新奖励资金管理暂行办法"
    ]


@pytest.fixture
def cursors(monkeypatch) -> list[int]:
    """The number of cursors each run's queries went to (0: one after the other on `con`)."""
    used: list[int] = []
    run = runner._Workers.run

    def counted(self, todo, fetch):
        used.append(len(self.opened) if self.side_by_side(fetch) else 0)
        return run(self, todo, fetch)

    monkeypatch.setattr(runner._Workers, "run", counted)
    return used


def _results(con, **kw) -> tuple[list[tuple], list[tuple]]:
    batch = compile_rules(pack(), AS_OF, rules=kjjl())
    evaluate(con, pack(), AS_OF, batch=batch, store=True, **kw)
    rows = con.execute(f"SELECT * FROM {RESULT} ORDER BY _rid, rule_idx").fetchall()
    evaluate(con, pack(), AS_OF, batch=batch, store=False, **kw)
    cols = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"
    forecast = con.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall()
    return rows, forecast


def _registry(threads: int):
    con = connect(threads)
    generate(con, pack(), 150, seed=9, as_of=AS_OF, holders=DENSE)
    return con


def test_side_by_side_and_one_after_the_other_agree(cursors):
    one = _results(_registry(1))
    assert cursors == [0, 0]
    both = _results(_registry(2))
    assert cursors[2:] == [2, 2]
    assert both == one
    rows, forecast = both
    assert len(rows) == 150 * len(kjjl())
    assert any(f[3] is not None for f in forecast)  # unknown facts counted


def test_a_registry_kept_as_arrow_is_registered_on_each_cursor(cursors):
    con = _registry(2)
    table = con.sql("SELECT * FROM registry").to_arrow_table()
    con.execute("DROP TABLE registry")
    con.register("registry", table)
    side_by_side = _results(con, views={"registry": table})
    assert cursors == [2, 2]
    # without the view a cursor cannot see the registry: one after the other, the same
    assert _results(con) == side_by_side
    assert cursors[2:] == [0, 0]
    assert len(side_by_side[0]) == 150 * len(kjjl())


def test_a_large_registry_stores_its_rows_one_query_after_the_other(cursors, monkeypatch):
    monkeypatch.setattr(runner, "ROW_GROUP", 50)  # 150 enterprises > 2 threads × 50 rows
    # the long result one query after the other (two storing 1M rows at once contend), the
    # forecast's queries side by side still
    _results(_registry(2))
    assert cursors == [0, 2]


def test_a_failing_query_on_a_cursor_is_raised_in_the_caller(cursors, monkeypatch):
    monkeypatch.setattr(runner, "QUERIES_PER_CURSOR", 1)  # each query on one thread
    con = _registry(2)
    con.execute("ALTER TABLE ev__certifications DROP COLUMN year")
    with pytest.raises(duckdb.BinderException):
        evaluate(con, pack(), AS_OF, kjjl(), store=False)
    assert cursors == [2]
    assert _threads(con) == 2  # DuckDB's threads given back


def _threads(con) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchall()[0][0])


def test_many_forecast_queries_run_on_one_thread_each(monkeypatch):
    """At least QUERIES_PER_CURSOR forecast queries a cursor: DuckDB runs each on one thread
    (the cursors side by side), then has its threads back; rows stored keep them."""
    con = _registry(2)
    batch = compile_rules(pack(), AS_OF, rules=kjjl())
    seen: list[int] = []
    done = runner._done

    def watched(cursor, fetch):
        out = done(cursor, fetch)
        seen.append(_threads(cursor))
        return out

    monkeypatch.setattr(runner, "_done", watched)
    cols = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"

    def forecast_now():
        evaluate(con, pack(), AS_OF, batch=batch, store=False)
        return con.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall()

    # kjjl's 6 queries and the count of each place's enterprises: 7 jobs for 2 cursors
    assert len(batch.forecast_sqls) == 6
    shared = forecast_now()
    assert set(seen) == {2}
    seen.clear()
    monkeypatch.setattr(runner, "QUERIES_PER_CURSOR", 3)
    assert forecast_now() == shared
    assert seen == [1] * 7
    assert _threads(con) == 2
    seen.clear()
    evaluate(con, pack(), AS_OF, batch=batch, store=True)  # (150 enterprises: side by side)
    assert set(seen) == {2}


def test_the_forecast_is_the_same_whichever_query_ends_first(monkeypatch):
    """The count of each place's enterprises is a job of the workers too; the chunks that
    end before it wait for it (here every chunk ends first: the jobs end in reverse)."""
    con = _registry(2)
    batch = compile_rules(pack(), AS_OF, rules=kjjl())
    assert any(batch.restrictions)
    cols = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"

    def forecast_now():
        evaluate(con, pack(), AS_OF, batch=batch, store=False)
        return con.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall()

    in_order = forecast_now()
    run = runner._Workers.run

    def reversed_run(self, todo, fetch):
        return reversed(list(run(self, todo, fetch)))

    monkeypatch.setattr(runner._Workers, "run", reversed_run)
    assert forecast_now() == in_order
    assert any(row[2] == "not_eligible" and row[4] > 0 for row in in_order)
