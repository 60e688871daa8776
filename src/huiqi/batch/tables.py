"""Load enterprise records (normalised facts, as the scalar evaluator takes them) into the
registry and event tables of a DuckDB connection, through typed Arrow tables."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import pyarrow as pa

from ..lang.sql import RATIO_SCALE
from .columns import Block
from .compile import RECEIVED, REGISTRY, RID, Schema, events_table
from .runner import machine_memory

ARROW = {
    "bool": pa.bool_(),
    "integer": pa.int64(),
    "year": pa.int64(),
    "money": pa.decimal128(38, 2),
    "ratio": pa.decimal128(38, RATIO_SCALE),
    "date": pa.date32(),
    "enum": pa.string(),
}


def arrow_values(values: list[Any] | pa.Array, type_: str) -> pa.Array:
    """Values of a variable type as the Arrow array of its column."""
    if isinstance(values, pa.Array):  # parsed as Arrow already (whole cents)
        # (a cast to the same type is not free: pyarrow tries to import dateutil each time)
        return values if values.type == ARROW[type_] else values.cast(ARROW[type_])
    if type_ == "money":
        try:  # amounts read from a file are whole cents already: no rounding to do
            return pa.array(values, type=ARROW[type_])
        except pa.ArrowInvalid:
            values = [None if v is None else v.quantize(_CENT) for v in values]
    elif type_ == "ratio":
        values = [None if v is None else v.quantize(_RATIO) for v in values]
    return pa.array(values, type=ARROW[type_])


def write_tables(
    con: duckdb.DuckDBPyConnection,
    sch: Schema,
    records: list[dict] | Block,
    append: bool = False,
) -> None:
    """records: {"_rid": int, "applicant": str|None, "facts": {variable: value},
    "received": [{rule, amount, year, key}] (optional)}; an event list present in facts
    (possibly empty) is known, absent is unknown. Or a `Block` of the registry read column
    by column. `append`: add to the tables an earlier call made (a registry written in
    pieces as it is read)."""
    tables = (
        block_tables(sch, records) if isinstance(records, Block) else arrow_tables(sch, records)
    )
    for name, table in tables.items():
        _create(con, name, table, append, sch)


class DuckDBSink:
    """`read_registry`'s sink into DuckDB: each Block appended to the tables the first one
    created; counts the enterprises written.

    The registry itself is kept as Arrow pieces, which DuckDB queries where they are (a view
    re-registered after each piece: no flush for a caller to forget), while they stay within
    `keep_bytes` (default: an eighth of the machine's memory). Appending a piece to a DuckDB
    table costs about 20 ns per value (some 25 s for 1M enterprises × 261 columns) and the
    queries read Arrow about as fast as DuckDB's own tables. Beyond `keep_bytes` the pieces
    go into a DuckDB table, which spills to disk under a memory limit; `keep_bytes=0` (as
    `--memory-limit` asks) always does."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, sch: Schema, keep_bytes: int | None = None
    ) -> None:
        self.con, self.sch = con, sch
        self.pieces = self.rows = 0
        self.keep_bytes = arrow_budget() if keep_bytes is None else keep_bytes
        self.arrow: list[pa.Table] | None = []  # the registry's pieces, while kept as Arrow
        self.arrow_bytes = 0

    def views(self) -> dict[str, pa.Table]:
        """The registry while it is kept as Arrow (a view of this connection only), for
        `runner.evaluate`'s cursors to register."""
        return {REGISTRY: pa.concat_tables(self.arrow)} if self.arrow else {}

    def __call__(self, block: Block) -> None:
        tables = block_tables(self.sch, block)
        registry = tables.pop(REGISTRY)
        for name, table in tables.items():
            _create(self.con, name, table, self.pieces > 0, self.sch)
        if self.pieces == 0:
            self.con.execute(f'DROP TABLE IF EXISTS "{REGISTRY}"')  # an earlier run's
        if self.arrow is not None:
            self.arrow.append(registry)
            self.arrow_bytes += registry.nbytes
            whole = pa.concat_tables(self.arrow)  # no copy: the pieces become its chunks
            if self.arrow_bytes <= self.keep_bytes:
                self.con.register(REGISTRY, whole)
            else:
                self.con.unregister(REGISTRY)
                _create(self.con, REGISTRY, whole, False, self.sch)
                self.arrow = None
        else:
            _create(self.con, REGISTRY, registry, True, self.sch)
        self.pieces += 1
        self.rows += len(block)


def arrow_budget() -> int:
    """An eighth of the machine's memory (256 MB where it cannot be told)."""
    total = machine_memory()
    return 256 * 2**20 if total is None else total // 8


def block_tables(sch: Schema, block: Block) -> dict[str, pa.Table]:
    """The tables of a `Block`: the registry straight from its columns; event lists and
    benefits received (fewer rows have them) through records of those rows."""
    n = len(block)
    some = [
        {RID: rid, "facts": made, "received": got}
        for rid, made, got in zip(block.rids, block.lists, block.received, strict=True)
        if made or got
    ]
    out = _beside(sch, some)
    cols: dict[str, pa.Array] = {
        RID: pa.array(block.rids, type=pa.int64()),
        "applicant": pa.array(block.applicants, type=pa.string()),
    }
    for name, type_ in sch.inputs.items():
        values = block.values.get(name)
        cols[name] = pa.nulls(n, ARROW[type_]) if values is None else arrow_values(values, type_)
    for name in sch.events:
        cols[name] = pa.array([True if name in m else None for m in block.lists], pa.bool_())
    out[REGISTRY] = pa.table(cols)
    return out


def arrow_tables(sch: Schema, records: list[dict]) -> dict[str, pa.Table]:
    """The registry and event tables as typed Arrow tables (for DuckDB or Spark)."""
    cols: dict[str, pa.Array] = {
        RID: pa.array([r[RID] for r in records], type=pa.int64()),
        "applicant": pa.array([r.get("applicant") for r in records], type=pa.string()),
    }
    for name, type_ in sch.inputs.items():
        cols[name] = arrow_values([r["facts"].get(name) for r in records], type_)
    for name in sch.events:
        cols[name] = pa.array(
            [True if name in r["facts"] else None for r in records], type=pa.bool_()
        )
    return {REGISTRY: pa.table(cols), **_beside(sch, records)}


def _beside(sch: Schema, records: list[dict]) -> dict[str, pa.Table]:
    """The tables beside the registry: benefits already received and the event lists."""
    out: dict[str, pa.Table] = {}
    # benefits already received (stacking), read when the batch is compiled with received=True
    got = [(r[RID], item) for r in records for item in r.get("received") or ()]
    out[RECEIVED] = pa.table(
        {
            RID: pa.array([rid for rid, _ in got], type=pa.int64()),
            "rule": pa.array([i["rule"] for _, i in got], type=pa.string()),
            "amount": arrow_values([i["amount"] for _, i in got], "money"),
            "year": pa.array([i.get("year") for _, i in got], type=pa.int64()),
            "key": pa.array(
                [None if i.get("key") is None else str(i["key"]) for _, i in got],
                type=pa.string(),
            ),
        }
    )
    for name, fields in sch.events.items():
        rids: list[int] = []
        values: dict[str, list[Any]] = {f: [] for f in fields}
        for r in records:
            for ev in r["facts"].get(name) or ():
                rids.append(r[RID])
                for f in fields:
                    values[f].append(ev.get(f))
        table = pa.table(
            {
                RID: pa.array(rids, type=pa.int64()),
                **{f: arrow_values(values[f], t) for f, t in fields.items()},
            }
        )
        out[events_table(name)] = table
    return out


def _create(
    con: duckdb.DuckDBPyConnection, name: str, table: pa.Table, append: bool, sch: Schema
) -> None:
    if append and table.num_rows == 0:  # most pieces have no rows for most event lists
        return
    view = f"arrow_{name}"
    con.register(view, table)
    if not append and name in sch.tables():
        create_typed(con, name, sch)
    elif not append:  # the benefits received: as Arrow types them
        con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM "{view}" LIMIT 0')
    con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM "{view}"')
    con.unregister(view)


def create_typed(con: duckdb.DuckDBPyConnection, name: str, sch: Schema) -> None:
    """The empty registry or event table `name` with its DuckDB column types (choices as
    ENUM: `Schema.duckdb_columns`)."""
    cols = ", ".join(f'"{c}" {t}' for c, t in sch.duckdb_columns(name).items())
    con.execute(f'CREATE OR REPLACE TABLE "{name}" ({cols})')


_CENT = Decimal("0.01")
_RATIO = Decimal(1).scaleb(-RATIO_SCALE)
