"""The registry's physical types and the arithmetic DuckDB does on them.

* A choice (enum variable, event field, kind of applicant) is a DuckDB ENUM of its declared
  values, however the registry was written, and a value outside them is rejected by the
  reader (row and column named), never handed to DuckDB.
* Rounding to cents and `floor` take DuckDB's 64-bit decimals where a value fits them
  (`ExprCompiler.narrow`) and the 128-bit ones elsewhere: checked against Python's decimal
  arithmetic on both sides of the bound.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import duckdb
from batch_helpers import AS_OF, kjjl, pack
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlglot import exp

from huiqi.batch.compile import REGISTRY, compile_rules, events_table, schema
from huiqi.batch.read import read_registry
from huiqi.batch.runner import FORECAST, connect, evaluate
from huiqi.batch.synthetic import generate
from huiqi.batch.tables import DuckDBSink, write_tables
from huiqi.lang.sql import ExprCompiler, Typed, dec_type, to_sql


def _types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ?", [table]
    ).fetchall()
    return dict(rows)


def _enum(values) -> str:
    return "ENUM(" + ", ".join(f"'{v}'" for v in values) + ")"


def _check_types(con: duckdb.DuckDBPyConnection) -> None:
    p = pack()
    registry = _types(con, REGISTRY)
    place = p.variables["registered_place"].spec.values
    assert "焦作市" in place and "孟州市" in place
    assert registry["registered_place"] == _enum(place)
    assert registry["applicant"] == _enum(p.entities)
    assert registry["independent_legal_person"] == "BOOLEAN"
    assert registry["tech_absorb_volume_last_year"] == "DECIMAL(38,2)"
    awards = _types(con, events_table("science_awards"))
    assert awards["grade"] == _enum(p.variables["science_awards"].fields["grade"].values)
    assert awards["year"] == "BIGINT"


def test_a_generated_registry_holds_its_choices_as_enums():
    con = connect(1)
    generate(con, pack(), 50, seed=3, as_of=AS_OF)
    _check_types(con)


def test_a_registry_written_from_records_holds_its_choices_as_enums():
    con = duckdb.connect()
    record = {
        "_rid": 0,
        "applicant": "enterprise",
        "facts": {
            "registered_place": "温县",
            "science_awards": [{"prize": "进步奖", "grade": "二等奖", "year": 2018}],
        },
    }
    write_tables(con, schema(pack()), [record])
    _check_types(con)
    row = con.execute("SELECT registered_place, applicant FROM registry").fetchall()
    assert row == [("温县", "enterprise")]


def test_a_choice_outside_the_declared_values_is_rejected_before_duckdb(tmp_path: Path):
    """注册地 火星市 and 申请主体 外星人 are no declared values: the reader rejects those rows
    with their row and column, the others are evaluated over the ENUM registry (a DuckDB
    table: keep_bytes=0), and rows in = evaluated + rejected."""
    path = tmp_path / "r.csv"
    path.write_text(
        "统一社会信用代码,注册地,申请主体\nA1,焦作市,企业\nA2,火星市,企业\nA3,温县,外星人\nA4,,\n",
        encoding="utf-8",
    )
    con = connect(1)
    sink = DuckDBSink(con, schema(pack()), keep_bytes=0)
    reg = read_registry(path, pack(), as_of=AS_OF, sink=sink)
    why = {(r.row, r.column): r.reason for r in reg.rejections}
    assert sorted(why) == [(3, "注册地"), (4, "申请主体")]
    assert "火星市" in why[(3, "注册地")] and "焦作市" in why[(3, "注册地")]
    assert "外星人" in why[(4, "申请主体")]
    assert reg.rows_in == 4 and sink.rows == 2
    assert _types(con, REGISTRY)["registered_place"].startswith("ENUM(")
    rules = kjjl()
    evaluate(con, pack(), AS_OF, rules, compile_rules(pack(), AS_OF, "duckdb", rules), False)
    places = {p for (p,) in con.execute(f"SELECT DISTINCT place FROM {FORECAST}").fetchall()}
    assert places == {"焦作市", None}


# --- the 64-bit fast path ------------------------------------------------------------------


def _run(scale: int, values: list[Decimal], op) -> list[tuple[Decimal, Decimal]]:
    """(narrowed, 128-bit) op of each value held as DECIMAL(38, scale)."""
    c = ExprCompiler({}, AS_OF)
    column = Typed(exp.column("v"), "dec", scale)
    fast = to_sql(c.narrow(column, op, dec_type(2)))
    slow = to_sql(exp.Cast(this=op(exp.column("v")), to=dec_type(2)))
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t (k INT, v DECIMAL(38, {scale}))")
    con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    return con.execute(f"SELECT {fast}, {slow} FROM t ORDER BY k").fetchall()


def _cents(v: exp.Expression) -> exp.Expression:
    return exp.Round(this=v, decimals=exp.Literal.number(2))


def _floor(v: exp.Expression) -> exp.Expression:
    return exp.Floor(this=v)


def _edges(scale: int) -> list[Decimal]:
    """Both sides of DECIMAL(18, scale)'s range, ties for rounding, and 128-bit values (as
    whole units of the scale, so that each is exact)."""
    units = [10**18 - 1, 10**18, 0, 10**25, 10**30]
    if scale >= 3:  # 0.005, 2.675 and 10^25 + 0.005: ties, rounded away from zero
        tie = 5 * 10 ** (scale - 3)
        units += [tie, 2670 * 10 ** (scale - 3) + tie, 10**25 + tie]
    return [Decimal(u).scaleb(-scale) for u in units] + [Decimal(-u).scaleb(-scale) for u in units]


def _quantize(values: list[Decimal], exponent: Decimal, rounding: str) -> list[Decimal]:
    with localcontext(prec=80):  # (the default 28 digits would not hold 10^30)
        return [v.quantize(exponent, rounding) for v in values]


def test_rounding_and_floor_on_both_sides_of_the_64_bit_range():
    for scale in (0, 2, 3, 6, 10, 12):
        values = _edges(scale)
        cents = _quantize(values, Decimal("0.01"), ROUND_HALF_UP)  # 四舍五入, away from zero
        assert [f for f, _ in _run(scale, values, _cents)] == cents, scale
        assert [s for _, s in _run(scale, values, _cents)] == cents, scale
        floors = _quantize(values, Decimal(1), ROUND_FLOOR)
        assert [f for f, _ in _run(scale, values, _floor)] == floors, scale


@settings(max_examples=40, deadline=None)
@given(
    scale=st.integers(0, 12),
    units=st.lists(
        st.integers(-(10**25), 10**25) | st.integers(-(10**19), 10**19), min_size=1, max_size=20
    ),
)
def test_rounding_to_cents_equals_python_decimal_for_any_value(scale, units):
    values = [Decimal(u).scaleb(-scale) for u in units]
    got = _run(scale, values, _cents)
    assert [f for f, _ in got] == _quantize(values, Decimal("0.01"), ROUND_HALF_UP)


def test_division_of_large_integers_is_exact_not_an_overflow():
    """x / y of two integer facts is truncated to 10 decimals in 128 bits. An integer above
    ~9.2e8 times 10^10 overflowed BIGINT and stopped the whole run, though the readers take
    numbers up to 10^15 (MAX_MONEY)."""
    c = ExprCompiler({}, AS_OF)
    quotient = c._divide(Typed(exp.column("a"), "int"), Typed(exp.column("b"), "int"))
    con = duckdb.connect()
    con.execute("CREATE TABLE t (k INT, a BIGINT, b BIGINT)")
    pairs = [(10**12 + 1, 7), (-(10**15), 3), (10**17 + 3, -9), (5, 0), (None, 2)]
    con.executemany("INSERT INTO t VALUES (?, ?, ?)", [(k, *p) for k, p in enumerate(pairs)])
    got = [v for (v,) in con.execute(f"SELECT {to_sql(quotient.sql)} FROM t ORDER BY k").fetchall()]
    with localcontext(prec=80):
        want = [
            None if a is None or not b else (Decimal(a) / b).quantize(Decimal("1E-10"), ROUND_DOWN)
            for a, b in pairs
        ]
    assert got == want
