"""Differential test of the Spark back end: for synthetic and hypothesis-drawn profiles, the
scalar evaluator, DuckDB and Spark agree on the status and amount of every rule of a document
(《焦作市科技创新奖励资金管理暂行办法》, 45 rules with event lists, ranges and stacking).

One local Spark session for the module (start-up takes seconds); every profile is evaluated
in one Spark query, so the cost is one job, not one per profile."""

from __future__ import annotations

import dataclasses
import shutil
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from test_batch_sql import KJJL_AS_OF, _inputs_read, _record, disagreements, kjjl_rules, pack

from huiqi.batch import spark as sp
from huiqi.batch.compile import RID, _in_force, compile_rules, schema
from huiqi.batch.runner import FORECAST, RESULT, connect, evaluate
from huiqi.batch.synthetic import DENSE, generate, profiles
from huiqi.batch.tables import arrow_tables, write_tables
from huiqi.lang.expr import Node

SYNTHETIC = 150
DRAWN = 120


@pytest.fixture(scope="module")
def spark():
    assert shutil.which("java"), "Spark needs a Java runtime (.ci/run installs one)"
    session = sp.session("local[2]", partitions=2)
    # small inputs: Spark's own defaults are tuned for big ones
    session.conf.set("spark.sql.adaptive.enabled", "false")
    yield session
    session.stop()


def _records() -> list[dict]:
    """SYNTHETIC seeded enterprises, then about DRAWN profiles from hypothesis (collected over
    several draws, without shrinking; one Spark query for them all)."""
    con = connect()
    generate(con, pack(), SYNTHETIC, seed=21, as_of=KJJL_AS_OF, holders=DENSE)
    records = profiles(con, pack())
    drawn: list = []

    @settings(
        max_examples=DRAWN // 15,
        phases=[Phase.generate],
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(_record(_inputs_read(kjjl_rules()), KJJL_AS_OF), min_size=1, max_size=15))
    def draw(batch):
        drawn.extend(batch)

    draw()
    for i, rec in enumerate(drawn, start=len(records)):
        facts = {k: v for k, v in rec["facts"].items() if v is not None}
        records.append({RID: i, "applicant": rec["applicant"], "facts": facts})
    return records


def test_scalar_duckdb_and_spark_agree(spark):
    records = _records()
    sch = schema(pack())
    rules = kjjl_rules()
    # benefits already received in the document's stacking groups (every third enterprise),
    # 50,000 元 paid this year without a key: counts for last year's awards
    stacked = [cr.rule.id for cr in rules if cr.rule.stacking is not None]
    for k, rec in enumerate(records[::3]):
        rec["received"] = [
            {
                "rule": stacked[k % len(stacked)],
                "amount": Decimal(50_000),
                "year": 2019,
                "key": None,
            }
        ]

    duck = connect()
    write_tables(duck, sch, records)
    batch_duck = compile_rules(pack(), KJJL_AS_OF, "duckdb", rules, received=True)
    evaluate(duck, pack(), KJJL_AS_OF, rules, batch_duck)

    sp.load_arrow(spark, arrow_tables(sch, records))
    on_spark = connect()
    batch = compile_rules(pack(), KJJL_AS_OF, "spark", rules, received=True)
    assert sp.evaluate(spark, batch, on_spark) == len(records) * len(rules)

    cols = f"{RID}, rule_idx, status, amount, amount_min, amount_max, set_aside"
    want = duck.execute(f"SELECT {cols} FROM {RESULT} ORDER BY 1, 2").fetchall()
    got = on_spark.execute(f"SELECT {cols} FROM {RESULT} ORDER BY 1, 2").fetchall()
    assert got == want
    # the outcomes are varied enough for the comparison to mean something
    statuses = {r[2] for r in got}
    assert {"eligible", "not_eligible", "undetermined"} <= statuses
    assert any(r[3] for r in got) and any(r[5] for r in got)
    assert disagreements(on_spark, rules, records, KJJL_AS_OF) == []

    # the budget forecast computed in Spark (`--forecast-only`) equals DuckDB's
    sp.evaluate(spark, batch, on_spark, store=False)
    evaluate(duck, pack(), KJJL_AS_OF, rules, batch_duck, store=False)
    cols = "place, rule_idx, status, fact, n, amount, amount_min, amount_max"
    want = duck.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall()
    assert on_spark.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall() == want
    assert any(r[3] is not None for r in want) and any(r[5] for r in want)

    # `--rows 待确定` (a few rules: each Spark query costs seconds to plan and compile): the
    # undetermined and the eligible rows come back, the forecast is the one of every row —
    # both as DuckDB has them from its full run of the same rules
    paying = {batch.rules[r[1]].rule_id for r in got if r[2] == "eligible"}
    chosen = [cr for cr in rules if cr.rule.id in paying][:4]
    chosen += [cr for cr in rules[:4] if cr not in chosen]
    few_duck = compile_rules(pack(), KJJL_AS_OF, "duckdb", chosen, received=True)
    evaluate(duck, pack(), KJJL_AS_OF, chosen, few_duck)
    rows = f"{RID}, rule_idx, status, amount, amount_min, amount_max, set_aside, missing"
    kept = duck.execute(
        f"SELECT {rows} FROM {RESULT} WHERE status IN ('eligible', 'undetermined') ORDER BY 1, 2"
    ).fetchall()
    assert {r[2] for r in kept} == {"eligible", "undetermined"}
    evaluate(duck, pack(), KJJL_AS_OF, chosen, few_duck, store=False)
    forecast = duck.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall()
    few = compile_rules(pack(), KJJL_AS_OF, "spark", chosen, received=True)
    sp.evaluate(spark, few, on_spark, keep=["undetermined"])
    assert on_spark.execute(f"SELECT {rows} FROM {RESULT} ORDER BY 1, 2").fetchall() == kept
    assert on_spark.execute(f"SELECT {cols} FROM {FORECAST} ORDER BY ALL").fetchall() == forecast


def test_parquet_registry_read_by_spark(spark, tmp_path):
    """A registry where it lives (Parquet): the key column kept, a column named by its
    Chinese label recognised, a variable absent from the file unknown."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    money = next(n for n, v in pack().variables.items() if v.type == "money" and not v.derived)
    label = pack().variables[money].label
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"统一社会信用代码": ["A1", "A2"], label: ["1200.50", None]}), path)
    loaded = sp.load_source(spark, str(path), pack(), schema(pack()))
    rows = {r["id"]: r[money] for r in loaded.select("id", money).collect()}
    assert {k: (None if v is None else str(v)) for k, v in rows.items()} == {
        "A1": "1200.50",
        "A2": None,
    }


def test_a_csv_registry_on_spark_through_the_cli(spark, tmp_path, monkeypatch):
    """`huiqi batch FILE.csv --engine spark --document …`: the file read in pieces and handed
    to Spark as Arrow tables (no record per enterprise held) gives the same result and
    forecast files as DuckDB, for a document whose subsidy is stacked with a kjjl award."""
    from typer.testing import CliRunner

    import huiqi.batch.read as read_module
    from huiqi.cli import app

    monkeypatch.setattr(read_module, "CHUNK_ROWS", 7)  # 40 rows: six pieces
    monkeypatch.setattr(read_module, "ARROW_ROWS", 7)  # (the Arrow CSV reader's)
    con = connect()
    generate(con, pack(), 40, seed=3, as_of=KJJL_AS_OF, holders=DENSE)
    keep = ", ".join(f'"{n}"' for n in schema(pack()).inputs)
    path = tmp_path / "r.csv"
    con.execute(
        f"COPY (SELECT 'X' || CAST({RID} AS VARCHAR) AS id, applicant, {keep} FROM registry) "
        f"TO '{path}' (HEADER)"
    )
    outputs = {}
    for engine in ("duckdb", "spark"):
        out = tmp_path / engine / "result.csv"
        out.parent.mkdir()
        args = ["batch", str(path), "--as-of", str(KJJL_AS_OF), "--out", str(out), "--no-html"]
        args += ["--document", "焦作市加快高新技术企业培育行动方案（2017—2020年）"]
        got = CliRunner().invoke(app, [*args, "--engine", engine, "--spark-master", "local[2]"])
        assert got.exit_code == 0, got.output
        assert "行数：读入 40 = 评估 40 + 拒绝 0" in got.output
        outputs[engine] = {
            p.name: sorted(p.read_text(encoding="utf-8-sig").splitlines())
            for p in out.parent.glob("*.csv")
        }
    assert len(outputs["spark"]) == 5 and outputs["spark"] == outputs["duckdb"]
    assert len(outputs["spark"]["result.csv"]) > 40  # a header and a row per enterprise and rule


def _kinds(node, out: set[str]) -> set[str]:
    """Every kind of node in an expression tree, with its operator, function or unit."""
    if isinstance(node, Node):
        kind = type(node).__name__
        for attr in ("op", "func", "unit"):
            value = getattr(node, attr, None)
            if isinstance(value, str):
                kind += f":{value}"
        out.add(kind)
        for f in dataclasses.fields(node):
            _kinds(getattr(node, f.name), out)
    elif isinstance(node, (tuple, list)):
        for item in node:
            _kinds(item, out)
    return out


def _features(cr) -> set[str]:
    """What a rule asks of a back end: its trees' kinds, its amount form and terms, its key,
    exclusions, stacking policy and deadline parts."""
    out: set[str] = {f"amount:{cr.rule.amount.type}"}
    for node, _ in cr.parts:
        _kinds(node, out)
    for term, node in cr.amount_nodes.items():
        out.add(f"term:{term}")
        _kinds(node, out)
    for label, nodes in (("key", [cr.key_node]), ("exclusion", cr.exclusion_nodes)):
        for node in nodes:
            if node is not None:
                out.add(label)
                _kinds(node, out)
    if cr.rule.stacking is not None:
        out.add(f"stacking:{cr.rule.stacking.policy}")
    if any(part.deadline for part in cr.rule.when):
        out.add("deadline")
    return out


def test_every_kind_of_rule_in_the_pack_runs_on_spark(spark):
    """The whole pack on Spark costs half a minute of planning, so Spark runs the fewest rules
    (greedy) that together use every kind of node, operator, function, unit, amount form,
    key, exclusion, stacking policy and deadline of the pack's rules in force, with their
    stacking rivals: Spark, DuckDB and the scalar evaluator agree on every enterprise."""
    in_force = [cr for cr in pack().compiled if _in_force(cr.rule, KJJL_AS_OF) is None]
    features = {cr.rule.id: _features(cr) for cr in in_force}
    left = set().union(*features.values())
    cover: list[str] = []
    while left:
        best = max(features, key=lambda r: len(features[r] & left))
        cover.append(best)
        left -= features[best]
    groups = {pack().by_id[r].rule.stacking.group for r in cover if pack().by_id[r].rule.stacking}
    rules = [
        cr
        for cr in pack().compiled
        if cr.rule.id in cover or (cr.rule.stacking and cr.rule.stacking.group in groups)
    ]
    assert len(rules) < len(pack().compiled) / 4
    con = connect()
    generate(con, pack(), 60, seed=5, as_of=KJJL_AS_OF, holders=DENSE)
    records = profiles(con, pack())
    sch = schema(pack())
    duck = connect()
    write_tables(duck, sch, records)
    evaluate(duck, pack(), KJJL_AS_OF, rules, compile_rules(pack(), KJJL_AS_OF, "duckdb", rules))
    sp.load_arrow(spark, arrow_tables(sch, records))
    on_spark = connect()
    sp.evaluate(spark, compile_rules(pack(), KJJL_AS_OF, "spark", rules), on_spark)
    cols = f"{RID}, rule_idx, status, amount, amount_min, amount_max, set_aside, missing"
    want = duck.execute(f"SELECT {cols} FROM {RESULT} ORDER BY 1, 2").fetchall()
    assert on_spark.execute(f"SELECT {cols} FROM {RESULT} ORDER BY 1, 2").fetchall() == want
    assert len(want) == 60 * len(rules)
    assert {"eligible", "not_eligible", "undetermined"} <= {r[2] for r in want}
    assert disagreements(on_spark, rules, records, KJJL_AS_OF) == []


def test_a_warehouse_table_with_its_own_column_names(spark, tmp_path):
    """A mapping (`--mapping`) names the key and a variable held under the warehouse's own
    column names; its unit (万元) is multiplied in Spark, exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from huiqi.batch.read import KEY_TARGET, Target

    money = next(n for n, v in pack().variables.items() if v.type == "money" and not v.derived)
    path = tmp_path / "r.parquet"
    pq.write_table(pa.table({"纳税人识别号": ["B1", "B2"], "营业额": ["120.5", None]}), path)
    mapping = {
        "纳税人识别号": Target(KEY_TARGET, None, "m.csv 第 2 行"),
        "营业额": Target(money, Decimal(10_000), "m.csv 第 3 行"),
    }
    loaded = sp.load_source(spark, str(path), pack(), schema(pack()), mapping)
    rows = {r["id"]: r[money] for r in loaded.select("id", money).collect()}
    assert rows == {"B1": Decimal("1205000.00"), "B2": None}
