"""Run a compiled batch on Spark (pyspark): local mode, or a cluster by master URL.

The rules compile to Spark SQL from the same trees as for DuckDB (`compile_rules(...,
"spark")`). The registry comes either from the file reader (validated rows, as Arrow tables)
or from where it lives: a Parquet file or folder, or a catalogue table (`table:db.name`),
whose columns are named by variable (or by their Chinese labels) and are cast to the
variables' types in Spark. ANSI mode is on: an overflow or a bad cast is an error, never a
silent NULL. The long result comes back to the driver as Arrow batches into a DuckDB table,
where the same report code summarises it.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from ..packs.loader import Pack
from .compile import REGISTRY, RID, CompiledBatch, Schema
from .read import (
    APPLICANT_COLUMNS,
    APPLICANT_TARGET,
    ID_COLUMNS,
    KEY_TARGET,
    ReadError,
    Target,
    role_column,
)
from .runner import FORECAST, RESULT, machine_memory, stored_statuses

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TABLE_PREFIX = "table:"


def session(master: str | None = None, partitions: int | None = None) -> SparkSession:
    """A Spark session: `master` a URL (spark://host:7077, yarn, k8s://…, local[4]); without
    one, the master configured for spark-submit or else local mode on every core."""
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.appName("huiqi batch")
        .config("spark.sql.ansi.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        # Inferring constraints over a rule chunk's hundreds of CASE columns and aliases is
        # most of Catalyst's planning, and nothing here filters on them: kjjl's three
        # queries over 100k enterprises planned in 5 s instead of 9 (Spark 4.3, local[2])
        .config("spark.sql.constraintPropagation.enabled", "false")
    )
    if master:
        builder = builder.master(master)
    if master is None or master.startswith("local"):
        # local mode computes in the driver's JVM, whose default heap (1 GB) does not hold a
        # 100k-enterprise registry, and at 4 GB the whole pack's forecast over 100k ran out of
        # aggregation memory (AGGREGATE_OUT_OF_MEMORY); a cluster's driver memory is the
        # cluster's configuration
        memory = os.environ.get("HUIQI_SPARK_DRIVER_MEMORY") or _local_memory()
        builder = builder.config("spark.driver.memory", memory)
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _local_memory() -> str:
    """Half of the machine's memory, between 1 and 8 GB, for the local driver's heap."""
    total = machine_memory()
    return "4g" if total is None else f"{max(1, min(8, total // 2**31))}g"


def load_arrow(spark: SparkSession, tables: dict[str, pa.Table]) -> None:
    """Temp views `registry` and `ev__<list>` from Arrow tables (`tables.arrow_tables`)."""
    for name, table in tables.items():
        spark.createDataFrame(decoded(table)).createOrReplaceTempView(name)


def decoded(table: pa.Table) -> pa.Table:
    """`table` with its dictionary columns (DuckDB's ENUM choices, read as Arrow) as plain
    strings: Spark has no ENUM, and the compiled Spark SQL compares strings."""
    if not any(pa.types.is_dictionary(f.type) for f in table.schema):
        return table  # (a cast to the same types is not free)
    fields = [
        pa.field(f.name, f.type.value_type) if pa.types.is_dictionary(f.type) else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))


def is_table(source: str) -> bool:
    return source.startswith(TABLE_PREFIX)


def load_source(
    spark: SparkSession,
    source: str,
    pack: Pack,
    sch: Schema,
    mapping: dict[str, Target] | None = None,
) -> DataFrame:
    """The registry view from a Parquet path or a catalogue table (`table:db.name`): the key
    column (统一社会信用代码 or id) kept as `id`, a `_rid` numbered in Spark, every known
    variable column cast to its type (ANSI: a value that does not fit is an error), a column
    missing from the source NULL (unknown) and event lists unknown. `mapping`: what the
    source's own column names hold (`mapping.read_mapping`), a unit multiplied in Spark."""
    from pyspark.sql import functions as F

    from ..lang.sql import column_type

    table = source[len(TABLE_PREFIX) :]
    df = spark.table(table) if is_table(source) else spark.read.parquet(source)
    columns = df.columns
    mapped = mapping or {}
    k = role_column(columns, mapped, KEY_TARGET, ID_COLUMNS)
    if k is None:
        raise ReadError(f"{source}：缺少“统一社会信用代码”（或 id）列")
    labels = {v.label: n for n, v in pack.variables.items() if n in sch.inputs}
    by_var: dict[str, tuple[str, Decimal | None]] = {}
    for c in columns:
        if c in mapped:
            var, factor = mapped[c].name, mapped[c].factor
        else:
            var, factor = (c if c in sch.inputs else labels.get(c)), None
        if var in sch.inputs:
            by_var[var] = (c, factor)
    a = role_column(columns, mapped, APPLICANT_TARGET, APPLICANT_COLUMNS)
    key, app = columns[k], None if a is None else columns[a]
    cols = [
        F.monotonically_increasing_id().alias(RID),
        F.col(f"`{key}`").cast("string").alias("id"),
        (F.col(f"`{app}`").cast("string") if app else F.lit(None).cast("string")).alias(
            "applicant"
        ),
    ]
    for name, type_ in sch.inputs.items():
        sql_type = column_type(type_).replace("VARCHAR", "STRING")
        column, factor = by_var.get(name, (None, None))
        value = F.lit(None) if column is None else F.col(f"`{column}`")
        if factor is not None:  # exact: a decimal times the unit's factor
            value = value.cast("decimal(38,6)") * F.lit(factor)
        cols.append(value.cast(sql_type).alias(name))
    for name in sch.events:
        cols.append(F.lit(None).cast("boolean").alias(name))
    registry = df.select(*cols).cache()
    registry.createOrReplaceTempView(REGISTRY)
    for name, fields in sch.events.items():  # unknown lists: empty tables of the right shape
        spec = ", ".join(
            [f"CAST(NULL AS BIGINT) AS {RID}"]
            + [
                f"CAST(NULL AS {column_type(t).replace('VARCHAR', 'STRING')}) AS `{f}`"
                for f, t in fields.items()
            ]
        )
        spark.sql(f"SELECT {spec} WHERE FALSE").createOrReplaceTempView(f"ev__{name}")
    return registry


def evaluate(
    spark: SparkSession,
    batch: CompiledBatch,
    con: duckdb.DuckDBPyConnection,
    store: bool = True,
    keep: list[str] | None = None,
) -> int:
    """Run the compiled (Spark dialect) batch and bring the long result (store=False: only
    the budget forecast, computed in Spark) to the driver as Arrow, into DuckDB table
    `result` (`forecast`). `keep`: as `runner.evaluate`, only the rows of these statuses and
    the eligible ones come back, the forecast computed in Spark first. Returns the number
    of rows."""
    from pyspark.sql import functions as F

    if batch.dialect != "spark":
        raise ValueError("the batch was not compiled for Spark")
    if store and keep is not None:
        evaluate(spark, batch, con, store=False)
        stored = stored_statuses(keep)
        frames = [spark.sql(q).where(F.col("status").isin(stored)) for q in batch.sqls]
        table, target = pa.concat_tables([f.toArrow() for f in frames]), RESULT
    elif store:
        table, target = pa.concat_tables([spark.sql(q).toArrow() for q in batch.sqls]), RESULT
    else:  # the aggregates per place come back; their rows are made here (`forecast`)
        everyone = batch.everyone(lambda sql: spark.sql(sql).toArrow())
        table = pa.concat_tables(
            [
                batch.chunk_forecast(k, spark.sql(q).toArrow(), everyone)
                for k, q in enumerate(batch.forecast_sqls)
            ]
        )
        target = FORECAST
    con.register("spark_result", table)
    # (the long result a table of the database, as `runner.evaluate` makes it)
    temp = "TEMP " if target == FORECAST else ""
    con.execute(f'CREATE OR REPLACE {temp}TABLE {target} AS SELECT * FROM "spark_result"')
    con.unregister("spark_result")
    return table.num_rows


def ids(registry: DataFrame) -> tuple[list[int], list[str], list[str | None]]:
    """(_rid, key, registered place) of a registry loaded in Spark, for the report."""
    cols = [RID, "id"] + (["registered_place"] if "registered_place" in registry.columns else [])
    table = registry.select(*cols).toArrow()
    places = (
        table.column("registered_place").to_pylist()
        if "registered_place" in table.column_names
        else [None] * table.num_rows
    )
    return table.column(RID).to_pylist(), table.column("id").to_pylist(), places
