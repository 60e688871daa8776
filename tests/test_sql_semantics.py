"""Hand-computed cases for the SQL back end where SQL differs from the scalar semantics:
`if` with an unknown condition, division by zero, min/max with an unknown argument,
aggregates over empty lists and with an unknown `where`; and the spark dialect switch."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pytest
from sqlglot import exp

from huiqi.lang.expr import Scope, parse, resolve
from huiqi.lang.sql import Env, ExprCompiler, Typed, to_sql, typed_column

SCOPE = Scope(
    variables={"a": "num", "b": "num", "e": "events"},
    parameters={},
    event_fields={"e": {"x": "num", "f": "bool"}},
)
AS_OF = date(2020, 6, 1)


class RowEnv(Env):
    def var(self, name: str) -> Typed:
        return typed_column(exp.column(name), "money")


class EventEnv(Env):
    def var(self, name: str) -> Typed:
        return typed_column(exp.column(name), "money")

    def field(self, node) -> Typed:
        return typed_column(exp.column(node.name), "money" if node.name == "x" else "bool")


def scalar_sql(text: str, a, b):
    node = resolve(parse(text), SCOPE)
    sql = to_sql(ExprCompiler({}, AS_OF).compile(node, RowEnv()).sql)
    con = duckdb.connect()
    row = "SELECT CAST(? AS DECIMAL(38, 2)) AS a, CAST(? AS DECIMAL(38, 2)) AS b"
    return con.execute(f"SELECT {sql} FROM ({row})", [a, b]).fetchone()[0]


@pytest.mark.parametrize(
    ("text", "a", "b", "want"),
    [
        ("if a > 1 then 5 else 5", None, 0, 5),  # unknown condition, branches agree
        ("if a > 1 then 5 else 6", None, 0, None),  # unknown condition: unknown (not 6)
        ("if a > 1 then 5 else 6", 2, 0, 5),
        ("a / b", 10, 0, None),  # x / 0 is unknown
        ("a / b", 10, 4, Decimal("2.5")),
        ("a / b", 1, 3, Decimal("0.3333333333")),  # 10 decimals
        ("min(a, 3)", None, 0, None),  # LEAST would ignore the NULL
        ("max(a, b)", 7, 2, 7),
        ("a > 1 or b > 1", None, 5, True),  # Kleene
        ("a > 1 and b > 1", None, 0, False),
        ("a * 10%", Decimal("0.05"), 0, Decimal("0.005")),
    ],
)
def test_scalar_semantics(text, a, b, want):
    got = scalar_sql(text, a, b)
    assert got == want


def agg_sql(text: str, events: list[tuple]):
    """The aggregate over a known list ([]: empty)."""
    node = resolve(parse(text), SCOPE)
    comp = ExprCompiler({}, AS_OF)
    if not events:
        return (
            duckdb.connect()
            .execute(f"SELECT {to_sql(comp.empty(node, Typed(exp.null(), 'dec', 2)))}")
            .fetchone()[0]
        )
    sql = to_sql(comp.aggregate(node, EventEnv()).sql)
    con = duckdb.connect()
    con.execute("CREATE TABLE ev (x DECIMAL(38, 2), f BOOLEAN)")
    con.executemany("INSERT INTO ev VALUES (?, ?)", events)
    return con.execute(f"SELECT {sql} FROM ev").fetchone()[0]


UNKNOWN_WHERE = [(10, True), (20, None)]
DECIDED = [(10, True), (20, False)]


@pytest.mark.parametrize(
    ("text", "events", "want"),
    [
        ("count(e where f)", UNKNOWN_WHERE, None),  # the unknown event could count
        ("any(e where f)", UNKNOWN_WHERE, True),  # one match decides
        ("all(e where f)", UNKNOWN_WHERE, None),
        ("all(e where f)", DECIDED, False),
        ("sum(x for e where f)", UNKNOWN_WHERE, None),
        ("sum(x for e where f)", DECIDED, 10),
        ("count(e where f)", DECIDED, 1),
        ("max(x for e where f)", DECIDED, 10),
        ("count(e)", DECIDED, 2),
        ("count(e where f)", [], 0),  # empty list
        ("sum(x for e)", [], 0),
        ("any(e where f)", [], False),
        ("all(e where f)", [], True),
    ],
)
def test_aggregate_semantics(text, events, want):
    assert agg_sql(text, events) == want


def test_spark_is_a_dialect_switch():
    from huiqi.batch.compile import compile_rules
    from huiqi.packs.loader import bundled_pack

    pack = bundled_pack("jiaozuo")
    kjjl = [cr for cr in pack.compiled if cr.rule.doc_title == "焦作市科技创新奖励资金管理暂行办法"]
    batch = compile_rules(pack, AS_OF, "spark", kjjl)
    assert "INT128" not in batch.sql and "HUGEINT" not in batch.sql
    assert "`" in batch.sql  # spark quoting
    node = resolve(parse("a / b"), SCOPE)
    assert "DECIMAL(38, 10)" in to_sql(
        ExprCompiler({}, AS_OF, "spark").compile(node, RowEnv()).sql, "spark"
    )
