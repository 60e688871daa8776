"""The budget forecast computed straight from the wide rows (`forecast_sqls`, what
`huiqi batch --forecast-only` runs) against the same figures grouped from the long result,
which tests/test_batch_sql.py checks rule by rule against the scalar evaluator."""

from __future__ import annotations

from datetime import date
from functools import cache

from huiqi.batch.compile import compile_rules
from huiqi.batch.report import label_tables
from huiqi.batch.runner import FORECAST, RESULT, connect, evaluate, forecast
from huiqi.batch.synthetic import DENSE, generate
from huiqi.packs.loader import bundled_pack

COLUMNS = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"


@cache
def pack():
    return bundled_pack("jiaozuo")


def _rows(con) -> set[tuple]:
    return set(con.execute(f"SELECT {COLUMNS} FROM {FORECAST}").fetchall())


def test_forecast_from_wide_rows_equals_the_grouped_long_result():
    as_of, seed = date(2019, 3, 1), 21
    con = connect()
    generate(con, pack(), 400, seed=seed, as_of=as_of, holders=DENSE)
    batch = compile_rules(pack(), as_of)
    rids, places = zip(
        *con.execute("SELECT _rid, registered_place FROM registry ORDER BY _rid").fetchall(),
        strict=True,
    )
    label_tables(con, batch.rules, [f"E{r}" for r in rids], pack(), list(places), list(rids))

    evaluate(con, pack(), as_of, batch=batch, store=True)
    forecast(con)  # grouped from the long result
    from_long = _rows(con)
    con.execute(f"DROP TABLE {FORECAST}")
    con.execute(f"DROP TABLE {RESULT}")

    evaluate(con, pack(), as_of, batch=batch, store=False)
    from_wide = _rows(con)

    assert from_wide == from_long
    # the forecast is not trivially empty: money, undetermined rules with their unknown facts,
    # more than one place, every enterprise counted once per rule
    assert any(r[2] == "eligible" and r[5] > 0 for r in from_wide)
    assert any(r[3] is not None for r in from_wide)
    assert len({r[0] for r in from_wide}) > 1
    per_rule = con.execute(
        f"SELECT rule_idx, sum(n) FROM {FORECAST} WHERE fact IS NULL GROUP BY rule_idx"
    ).fetchall()
    assert len(per_rule) == len(batch.rules)
    assert {n for _, n in per_rule} == {400}


def test_forecast_only_run_writes_the_same_summaries(tmp_path):
    """`huiqi batch --forecast-only`: the same summary files as a full run, no per-enterprise
    file, and an HTML report that says the distribution is not available."""
    import csv

    from typer.testing import CliRunner

    from huiqi.cli import app

    registry = tmp_path / "r.csv"
    con = connect()
    generate(con, pack(), 60, seed=5, as_of=date(2019, 3, 1), holders=DENSE)
    rows = con.execute(
        "SELECT 'E' || _rid, registered_place, independent_legal_person FROM registry"
    ).fetchall()
    with registry.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["统一社会信用代码", "注册地", "具有独立法人资格"])
        for key, place, legal in rows:
            w.writerow([key, place or "", "" if legal is None else ("是" if legal else "否")])

    def run(out, *extra):
        result = CliRunner().invoke(
            app,
            [
                "batch",
                str(registry),
                "--as-of",
                "2019-03-01",
                "--out",
                str(out),
                "--pack",
                "cn",
                *extra,
            ],
        )
        assert result.exit_code == 0, result.output
        return result.output

    run(tmp_path / "full.csv")
    output = run(tmp_path / "fc.csv", "--forecast-only")
    assert "读入 60 = 评估 60 + 拒绝 0" in output
    assert not (tmp_path / "fc.csv").exists()
    for dim in ("rules", "documents", "departments", "counties"):
        full = (tmp_path / f"full.{dim}.csv").read_text(encoding="utf-8-sig")
        only = (tmp_path / f"fc.{dim}.csv").read_text(encoding="utf-8-sig")
        assert only == full, dim
    page = (tmp_path / "fc.report.html").read_text(encoding="utf-8")
    assert "未逐户输出结果" in page
    assert "每家企业确定金额的分布" in (tmp_path / "full.report.html").read_text(encoding="utf-8")


def test_forecast_rows_from_the_aggregates_per_place():
    """`forecast_rows` on aggregates written by hand: two places, a rule that is eligible
    (3 and 1 enterprises, 30,000.50 and 10,000 元, ranges 0–5,000 and 1,000–2,000),
    not eligible (4 and 0) or undetermined (what is left: 10 − 3 − 4 = 3 and 2 − 1 − 0 = 1),
    and undetermined for want of a fact (2 and 0). Rows without an enterprise are dropped;
    a status that is not eligible has no money, a fact row none at all."""
    from decimal import Decimal

    import pyarrow as pa
    import pytest

    from huiqi.batch.forecast import ForecastItem, forecast_rows

    money = pa.decimal128(38, 2)
    grouped = pa.table(
        {
            "place": ["甲县", None],
            "n": pa.array([10, 2], pa.int64()),
            "c_7": pa.array([Decimal("30000.50"), Decimal("10000")], money),
            "r_7": pa.array([Decimal(0), Decimal(1000)], money),
            "h_7": pa.array([Decimal(5000), Decimal(2000)], money),
            "n_7_0": pa.array([3, 1], pa.int64()),
            "n_7_1": pa.array([4, 0], pa.int64()),
            "f_7_0": pa.array([2, 0], pa.int64()),
        }
    )
    items = (
        ForecastItem(7, "eligible", count="n_7_0", sums=("c_7", "r_7", "h_7")),
        ForecastItem(7, "not_eligible", count="n_7_1"),
        ForecastItem(7, "undetermined", others=("n_7_0", "n_7_1")),
        ForecastItem(7, "undetermined", fact="rd_expense", count="f_7_0"),
    )
    rows = forecast_rows(grouped, items).to_pylist()
    d = Decimal
    assert sorted(rows, key=lambda r: (str(r["place"]), r["status"], str(r["fact"]))) == [
        {"place": None, "rule_idx": 7, "status": "eligible", "fact": None, "n": 1,
         "amount": d("10000.00"), "amount_min": d("1000.00"), "amount_max": d("2000.00")},
        {"place": None, "rule_idx": 7, "status": "undetermined", "fact": None, "n": 1,
         "amount": d(0), "amount_min": d(0), "amount_max": d(0)},
        {"place": "甲县", "rule_idx": 7, "status": "eligible", "fact": None, "n": 3,
         "amount": d("30000.50"), "amount_min": d(0), "amount_max": d("5000.00")},
        {"place": "甲县", "rule_idx": 7, "status": "not_eligible", "fact": None, "n": 4,
         "amount": d(0), "amount_min": d(0), "amount_max": d(0)},
        {"place": "甲县", "rule_idx": 7, "status": "undetermined", "fact": None, "n": 3,
         "amount": d(0), "amount_min": d(0), "amount_max": d(0)},
        {"place": "甲县", "rule_idx": 7, "status": "undetermined", "fact": "rd_expense", "n": 2,
         "amount": None, "amount_min": None, "amount_max": None},
    ]  # fmt: skip
    # a sum finer than the cent is an error, never rounded away
    finer = grouped.set_column(2, "c_7", pa.array([Decimal("0.005"), Decimal(0)]))
    with pytest.raises(pa.ArrowInvalid):
        forecast_rows(finer, items[:1])


def test_forecast_rows_of_a_query_that_read_some_enterprises():
    """A chunk whose query read only the enterprises with an event (`restrictions`): 甲县 has
    10 enterprises of which 4 were read (3 eligible, 1 undetermined), 乙县 5 of which none
    was read, and 2 have no known place, 1 read (undetermined). 不符合 is what the others
    leave of every enterprise of the place: 10 − 3 − 1 = 6, 5, 2 − 0 − 1 = 1."""
    from decimal import Decimal

    import pyarrow as pa

    from huiqi.batch.forecast import ForecastItem, forecast_rows

    money = pa.decimal128(38, 2)
    grouped = pa.table(  # as the query gives it: the places read, `n` the rows read
        {
            "place": [None, "甲县"],
            "n": pa.array([1, 4], pa.int64()),
            "c_2": pa.array([None, Decimal("60000")], money),
            "n_2_0": pa.array([0, 3], pa.int64()),
            "n_2_2": pa.array([1, 1], pa.int64()),
        }
    )
    everyone = pa.table({"place": ["乙县", "甲县", None], "n": pa.array([5, 10, 2], pa.int64())})
    items = (
        ForecastItem(2, "eligible", count="n_2_0", sums=("c_2", None, None)),
        ForecastItem(2, "not_eligible", others=("n_2_0", "n_2_2")),
        ForecastItem(2, "undetermined", count="n_2_2"),
    )
    rows = forecast_rows(grouped, items, everyone).to_pylist()
    got = sorted((str(r["place"]), r["status"], r["n"], r["amount"]) for r in rows)
    assert got == [
        ("None", "not_eligible", 1, Decimal(0)),
        ("None", "undetermined", 1, Decimal(0)),
        ("乙县", "not_eligible", 5, Decimal(0)),
        ("甲县", "eligible", 3, Decimal("60000.00")),
        ("甲县", "not_eligible", 6, Decimal(0)),
        ("甲县", "undetermined", 1, Decimal(0)),
    ]
