"""Run a compiled batch in DuckDB: one statement from the registry to the long result (or
straight to the per-rule forecast), streamed: the wide row per enterprise is never stored."""

from __future__ import annotations

import os
import queue
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
from sqlglot import exp

from ..packs.loader import CompiledRule, Pack
from .compile import (
    LONG_COLUMNS,
    PLACE,
    RECEIVED,
    REGISTRY,
    RID,
    CompiledBatch,
    compile_rules,
    events_table,
    facts_read,
    schema,
)

RESULT = "result"
# projection_placement: superlinear in the size of a whole pack's query (~2 s of planning
# for 449 rules), nothing measurable gained in execution here. partial_aggregate_pushdown:
# on the forecast's GROUP BY over the wide rows it inlines the stacking layer's expressions
# into the aggregates' inputs, and common_subexpressions then spends 30-50 s per chunk of
# tax rules undoing it (planning a chunk of 25 rules: 53 s with it, 0.2 s without).
NOT_WORTH_IT = "projection_placement,partial_aggregate_pushdown"


def machine_memory() -> int | None:
    """The machine's memory in bytes (None where it cannot be told: not a POSIX system)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def connect(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB that spills to the system temp folder (not the working folder)
    beyond `memory_limit` (e.g. "4GB"; by default half the machine's memory: DuckDB's own
    default, 80%, left too little beside the registry kept as Arrow and Python: 20.7 GB of
    24 for the rows of 100k enterprises × the pack), so that a registry or result larger
    than memory is processed in pieces."""
    import tempfile

    from sqlglot import exp

    con = duckdb.connect()
    spill = exp.Literal.string(str(Path(tempfile.gettempdir()) / "huiqi-duckdb")).sql("duckdb")
    con.execute(f"SET temp_directory = {spill}")
    # (Disabling statistics propagation too saved planning but made the whole pack at 1M 45%
    # slower.)
    con.execute(f"SET disabled_optimizers = '{NOT_WORTH_IT}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("SET preserve_insertion_order = false")  # lets large results spill
    elif memory := machine_memory():
        con.execute("SET memory_limit = ?", [f"{memory // 2 >> 20}MiB"])
    return con


def evaluate(
    con: duckdb.DuckDBPyConnection,
    pack: Pack,
    as_of: date,
    rules: list[CompiledRule] | None = None,
    batch: CompiledBatch | None = None,
    store: bool = True,
    on_chunk: Callable[[int, int], None] | None = None,
    keep: list[str] | None = None,
    views: dict[str, pa.Table] | None = None,
) -> CompiledBatch:
    """Evaluate the rules over the tables `registry` and `ev__*` of `con`. With store=True
    the long result is left in table `result` (one row per enterprise and rule); with
    store=False only the budget forecast, table `forecast` (`forecast.FORECAST_SCHEMA`:
    counts and totals per registered place, rule and status, and the unknown facts of
    undetermined rules), aggregated straight from the wide rows: no row per enterprise and
    rule is made.
    `keep` (with store=True): only the rows of these statuses and the eligible ones (which
    the report counts) are kept, and table `forecast` counts every row: for a result of up
    to ONE_PASS_ROWS rows, the whole result is stored, the forecast grouped from it and the
    other rows deleted; for a larger one, the forecast is computed from the wide rows first
    and only the kept rows are stored.
    The chunks' queries run on as many cursors as DuckDB has threads (`_Workers`); `views`:
    the Arrow tables registered on `con` as the registry or event tables (`DuckDBSink.views`),
    which each cursor registers in turn."""
    batch = batch or compile_rules(pack, as_of, "duckdb", rules)
    runs: list[tuple[str, list[str], dict[str, list[str]] | None]] = []
    stored = {"keep": stored_statuses(keep or [])}
    rows = _rows(con)
    one_pass = store and keep is not None and rows * len(batch.rules) <= ONE_PASS_ROWS
    if one_pass:
        # the whole result, then the forecast grouped from it and the other rows deleted: its
        # queries planned once, not twice, most of a small run's time (the officials' page,
        # 200 enterprises × the pack: 3.0 -> 1.4 s)
        runs.append((RESULT, batch.sqls, None))
    elif store and keep is not None:
        runs.append((FORECAST, batch.forecast_sqls, None))
        kept = [f"SELECT * FROM ({sql}) WHERE list_contains($keep, status)" for sql in batch.sqls]
        runs.append((RESULT, kept, stored))
    else:
        runs.append((RESULT, batch.sqls, None) if store else (FORECAST, batch.forecast_sqls, None))
    total, done = sum(len(sqls) for _, sqls, _ in runs) + one_pass, 0
    tables = [REGISTRY, RECEIVED, *(events_table(e) for e in batch.schema.events)]
    with _Workers(con, views, rows, tables) as workers:
        for target, sqls, params in runs:
            if target == RESULT:  # (a table of the database: the workers' cursors add to it)
                cols = ", ".join(f"{n} {t}" for n, t in ((RID, "BIGINT"), *LONG_COLUMNS))
                con.execute(f"CREATE OR REPLACE TABLE {RESULT} ({cols})")
                todo = [(f"INSERT INTO {RESULT} {sql}", params) for sql in sqls]
            else:  # the rows made of the grouped aggregates (`forecast`), in chunk order
                todo = [(sql, None) for sql in sqls]
            # the enterprises of each place, if some chunk's forecast reads only some: a job
            # of the workers, the first (0.01 s at 1M, beside the first chunk's query)
            counted = target == FORECAST and batch.reads_some
            jobs = [(batch.everyone_sql, None), *todo] if counted else todo
            made: dict[int, pa.Table] = {}
            waiting: dict[int, pa.Table] = {}  # chunks' aggregates that ended before the count
            everyone: pa.Table | None = None
            for k, fetched in workers.run(jobs, fetch=target == FORECAST):
                if counted and k == 0:
                    everyone = fetched
                else:
                    if fetched is not None:
                        waiting[k - 1 if counted else k] = fetched
                    done += 1
                    if on_chunk is not None:  # (done, of): for a progress bar
                        on_chunk(done, total)
                if everyone is not None or not counted:
                    for j in list(waiting):
                        made[j] = batch.chunk_forecast(j, waiting.pop(j), everyone)
            if target == FORECAST:
                con.register("forecast_rows", pa.concat_tables([made[k] for k in range(len(sqls))]))
                con.execute(
                    f'CREATE OR REPLACE TEMP TABLE {FORECAST} AS SELECT * FROM "forecast_rows"'
                )
                con.unregister("forecast_rows")
    if one_pass:
        place = PLACE if PLACE in batch.schema.inputs else "CAST(NULL AS VARCHAR)"
        con.execute(_from_result(f"(SELECT {RID}, {place} AS place FROM {REGISTRY})"))
        con.execute(f"DELETE FROM {RESULT} WHERE NOT list_contains($keep, status)", stored)
        if on_chunk is not None:
            on_chunk(total, total)
    return batch


#: the least queries per cursor for which each runs on one thread (`_Workers.run`)
QUERIES_PER_CURSOR = 4

#: DuckDB's rows per row group: a scan's unit of parallel work
ROW_GROUP = 122_880


class _Workers:
    """The chunks' queries of a forecast, and those that store rows for a registry of up to
    one row group per thread, run side by side on cursors of the same database, as many as
    DuckDB has threads. A query plans on one thread and scans a row group on one: run one
    after the other, the whole pack's 22 queries over 100k enterprises kept the second core
    idle most of the time (3.7-4.1 s; 2.1 s side by side). The forecast's queries over 1M
    enterprises leave it idle too, in their joins and small aggregates (kjjl 0.68 -> 0.60 s,
    the pack 7.0 -> 6.5 s), but two queries storing 1M enterprises' rows at once contend
    (kjjl 3.9-4.0 -> 4.3-4.9 s). At least QUERIES_PER_CURSOR forecast queries a cursor: each
    runs on one thread (`run`). No cursor, or a table a cursor cannot see (a view of `con`
    not in `views`): the queries run on `con`, one after the other."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        views: dict[str, pa.Table] | None,
        rows: int,
        tables: list[str],
    ):
        """`tables`: those the queries may read (the ones `con` has must be seen by a cursor)."""
        self.con, self.views, self.rows = con, views or {}, rows
        self.tables = tables
        self.cursors: queue.SimpleQueue[duckdb.DuckDBPyConnection] = queue.SimpleQueue()
        self.opened: list[duckdb.DuckDBPyConnection] = []
        self.small = True  # (set on entering: a registry of up to one row group per thread)

    def __enter__(self) -> _Workers:
        threads = int(self.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        self.small = self.rows <= threads * ROW_GROUP
        local = _local(self.con, self.tables) if threads > 1 else []
        for _ in range(threads if threads > 1 else 0):
            cur = self.con.cursor()
            self.opened.append(cur)
            for name, table in self.views.items():
                cur.register(name, table)
            try:  # every view or temporary table the queries read, as the cursor sees them
                for name in local:
                    cur.execute(f'SELECT 1 FROM "{name}" LIMIT 0').fetchall()
            except duckdb.CatalogException:
                self.close()
                break
            self.cursors.put(cur)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for cur in self.opened:
            cur.close()
        self.opened = []
        self.cursors = queue.SimpleQueue()

    def side_by_side(self, fetch: bool) -> bool:
        """Whether the statements run side by side: fetching a forecast's aggregates, or
        storing rows of a small registry."""
        return bool(self.opened) and (fetch or self.small)

    def run(
        self, todo: list[tuple[str, dict[str, list[str]] | None]], fetch: bool
    ) -> Iterator[tuple[int, pa.Table | None]]:
        """(chunk position, its aggregates when `fetch`) as each statement ends."""
        if not self.side_by_side(fetch):
            for k, (sql, params) in enumerate(todo):
                yield k, _done(self.con.execute(sql, params), fetch)
            return

        def one(k: int) -> tuple[int, pa.Table | None]:
            cur = self.cursors.get()
            try:
                sql, params = todo[k]
                return k, _done(cur.execute(sql, params), fetch)
            finally:
                self.cursors.put(cur)

        # many forecast queries: each on one thread, the cursors side by side. DuckDB's
        # threads shared by the queries cost more than they gave: the pack's forecast at 1M,
        # 32 queries, 4.37-4.50 s instead of 4.59-4.82, 6% less CPU. Few: DuckDB's threads
        # stay, the largest query would be left alone on one (kjjl's 6, one of them 60% of
        # the CPU: 0.47-0.50 s instead of 0.39-0.43). Rows stored: they stay too (the pack
        # over 20k enterprises, 32 queries inserting into one table: 10% slower on one each).
        threads = len(self.opened)
        alone = fetch and len(todo) >= QUERIES_PER_CURSOR * threads
        if alone:
            self.con.execute("SET threads = 1")
        try:
            with ThreadPoolExecutor(threads) as pool:
                running = [pool.submit(one, k) for k in range(len(todo))]
                try:
                    for fut in as_completed(running):
                        yield fut.result()  # (a failed query raises here)
                finally:
                    for fut in running:
                        fut.cancel()
        finally:
            if alone:
                self.con.execute(f"SET threads = {threads}")


def _done(cursor: duckdb.DuckDBPyConnection, fetch: bool) -> pa.Table | None:
    return _fetched(cursor) if fetch else None


def _local(con: duckdb.DuckDBPyConnection, names: list[str]) -> list[str]:
    """The views (registered Arrow tables are views) and temporary tables of `names` that
    `con` has: those another cursor may not see. Its tables it does (checking each of the
    pack's 20 tables on each cursor took 0.01 s of every run)."""
    found = {
        n
        for (n,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE temporary "
            "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    }
    return [n for n in names if n in found]


#: The largest result (enterprises × rules) a run that keeps some rows stores whole before
#: deleting the others: the officials' page's largest upload (20,000 × the pack: 9M rows)
#: fits; 1M enterprises × the pack (449M rows) take the two passes.
ONE_PASS_ROWS = 10_000_000


def complete_inputs(
    con: duckdb.DuckDBPyConnection,
    pack: Pack,
    as_of: date,
    rules: list[CompiledRule] | None = None,
) -> frozenset[str]:
    """The inputs the rules may name as missing that no enterprise of the registry in `con`
    has unknown: registry columns without a NULL, `list.field` for event fields without one
    (`compile_rules`'s `complete`). One pass over each table, counting the values of those
    columns only (every column of a 1M-enterprise registry: 0.26 s)."""
    wanted = facts_read(pack, as_of, rules)
    sch = schema(pack)
    registry = [c for c in sch.registry_columns() if c in wanted]
    tables = [(REGISTRY, registry, "")]
    tables += [
        (events_table(e), [f for f in sch.events[e] if f"{e}.{f}" in wanted], f"{e}.")
        for e in sch.events
    ]
    out: set[str] = set()
    for table, cols, prefix in tables:
        if not cols:
            continue
        counts = ", ".join(f"count({exp.to_identifier(c).sql('duckdb')})" for c in cols)
        try:
            total, *known = con.execute(f'SELECT count(*), {counts} FROM "{table}"').fetchall()[0]
        except duckdb.CatalogException:  # an event table not written: no events, none unknown
            total, known = 0, [0] * len(cols)
        out.update(prefix + c for c, k in zip(cols, known, strict=True) if k == total)
    return frozenset(out)


def applicant_counts(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, int], ...]:
    """The registry's enterprises per kind of applicant ("" for those of unknown kind), for
    `compile_rules`' `applicants` (a GROUP BY of one column: 0.01 s at 1M)."""
    rows = con.execute(
        f"SELECT coalesce(CAST(applicant AS VARCHAR), ''), count(*) FROM {REGISTRY} GROUP BY 1"
    ).fetchall()
    return tuple(sorted((str(k), int(n)) for k, n in rows))


def _rows(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute(f"SELECT count(*) FROM {REGISTRY}").fetchall()[0][0])


def _fetched(cursor: duckdb.DuckDBPyConnection) -> pa.Table:
    """A small result (a row per place) as an Arrow table, its values exact (decimals). From
    the cursor that ran it, not `con.sql(...).to_arrow_table()`: a relation binds its query
    once more before running it, which for the forecast took as long as its planning (1 s
    for the whole pack, at any size). Not through Python rows either: the pack's ~3,000
    aggregates × 65 places as Python objects, then typed back into Arrow, held the GIL for
    0.23 s of every run (0.07 s as Arrow)."""
    return cursor.to_arrow_table()


# The copy DuckDB warns of when a cursor's result is fetched as Arrow is that of the few rows
# `_fetched` fetches (a filter of the process, set once: `catch_warnings` is not safe across
# the workers' threads).
warnings.filterwarnings("ignore", "Arrow output on a DB-API result makes", UserWarning)


#: Statuses stored in the result whatever the row file keeps: the report counts the
#: enterprises with a benefit and shows the distribution of their amounts from these rows.
STORED_ALWAYS = ("eligible",)


def stored_statuses(keep: list[str]) -> list[str]:
    """The statuses whose rows a run that keeps `keep` stores."""
    return [s for s in STORED_ALWAYS if s not in keep] + list(keep)


FORECAST = "forecast"


def _from_result(places: str) -> str:
    """The forecast grouped from the long result, each enterprise's place read from `places`
    (a table or query of `_rid`, `place`): the same figures `forecast_sqls` compute from the
    wide rows (tests/test_batch_forecast.py), the place as text as there (the registry's is
    an ENUM)."""
    return f"""
CREATE OR REPLACE TEMP TABLE {FORECAST} AS
WITH r AS (SELECT x.*, CAST(i.place AS VARCHAR) AS place FROM {RESULT} x JOIN {places} i USING (_rid))
SELECT place, rule_idx, status, CAST(NULL AS VARCHAR) AS fact, count(*) AS n,
  CAST(coalesce(sum(amount) FILTER (WHERE status = 'eligible'), 0) AS DECIMAL(38, 2)) AS amount,
  CAST(coalesce(sum(coalesce(amount_min, 0)) FILTER (WHERE status = 'eligible'
    AND amount_max IS NOT NULL), 0) AS DECIMAL(38, 2)) AS amount_min,
  CAST(coalesce(sum(amount_max) FILTER (WHERE status = 'eligible'), 0) AS DECIMAL(38, 2))
    AS amount_max
FROM r GROUP BY place, rule_idx, status
UNION ALL
SELECT place, rule_idx, 'undetermined', fact, count(*), NULL, NULL, NULL FROM (
  SELECT place, rule_idx, unnest(string_split(missing, ',')) AS fact FROM r
  WHERE status = 'undetermined' AND missing <> '')
GROUP BY place, rule_idx, fact
"""


# The forecast from the long result after `label_tables`, the place the one read with the
# registry (table ids).
FORECAST_FROM_RESULT = _from_result("ids")


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [name])
    return bool(found.fetchall()[0][0])


def forecast(con: duckdb.DuckDBPyConnection) -> None:
    """Make sure table `forecast` exists: from the long result when only that was computed
    (after `label_tables`, which gives each enterprise its place)."""
    if not has_table(con, FORECAST):
        con.execute(FORECAST_FROM_RESULT)
