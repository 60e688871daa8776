"""Run a compiled batch in DuckDB: materialise the wide table, then read the long result."""

from __future__ import annotations

from datetime import date

import duckdb

from ..packs.loader import CompiledRule, Pack
from .compile import CompiledBatch, compile_rules

RESULT = "result"


def evaluate(
    con: duckdb.DuckDBPyConnection,
    pack: Pack,
    as_of: date,
    rules: list[CompiledRule] | None = None,
    batch: CompiledBatch | None = None,
) -> CompiledBatch:
    """Evaluate the rules over the tables `registry` and `ev__*` of `con`; the long result
    is left in table `result` (one row per enterprise and rule)."""
    batch = batch or compile_rules(pack, as_of, "duckdb", rules)
    con.execute(f"CREATE OR REPLACE TEMP TABLE wide AS {batch.wide_sql}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {RESULT} AS {batch.sql}")
    con.execute("DROP TABLE wide")
    return batch
