"""The result of a batch run: one row per enterprise and rule, and the budget forecast (a
summary per rule and per document), written as CSV, XLSX or Parquet by extension."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from .compile import RID, RuleInfo
from .runner import RESULT

FORMATS = (".csv", ".xlsx", ".parquet")
TOP_MISSING = 3
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header


def label_tables(con: duckdb.DuckDBPyConnection, rules: list[RuleInfo], ids: list[str]) -> None:
    """Tables `rules_meta` (rule_idx -> id, title, document) and `ids` (_rid -> key)."""
    meta = pa.table(
        {
            "rule_idx": pa.array([r.idx for r in rules], pa.int64()),
            "rule_id": [r.rule_id for r in rules],
            "title": [r.title for r in rules],
            "document": [r.doc for r in rules],
        }
    )
    keys = pa.table({RID: pa.array(range(len(ids)), pa.int64()), "id": pa.array(ids, pa.string())})
    for name, table in (("rules_meta", meta), ("ids", keys)):
        con.register(f"arrow_{name}", table)
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM "arrow_{name}"')
        con.unregister(f"arrow_{name}")


ROWS_SQL = f"""
SELECT i.id, m.rule_id, m.title, m.document, r.status, r.amount, r.amount_min, r.amount_max,
       r.set_aside,
       CASE WHEN r.missing IS NULL OR r.missing = '' THEN []::VARCHAR[]
            ELSE string_split(r.missing, ',') END AS missing
FROM {RESULT} r JOIN rules_meta m USING (rule_idx) JOIN ids i USING ({RID})
ORDER BY r.{RID}, r.rule_idx
"""


def _summary_sql(by: str) -> str:
    """Per rule or per document: counts, the certain total, the review-dependent range, and
    the inputs most often missing where the rule is undetermined."""
    keys = "m.rule_id, m.title, m.document" if by == "rule" else "m.document"
    return f"""
WITH r AS (SELECT * FROM {RESULT} JOIN rules_meta m USING (rule_idx)),
counts AS (
  SELECT {keys},
    count(*) FILTER (WHERE status = 'eligible') AS eligible,
    count(*) FILTER (WHERE status = 'undetermined') AS undetermined,
    count(*) FILTER (WHERE status = 'not_eligible') AS not_eligible,
    count(*) FILTER (WHERE status = 'not_in_force') AS not_in_force,
    coalesce(sum(amount) FILTER (WHERE status = 'eligible'), 0) AS certain_total,
    coalesce(sum(coalesce(amount_min, 0)) FILTER (WHERE status = 'eligible'
      AND amount_max IS NOT NULL), 0) AS range_min_total,
    coalesce(sum(amount_max) FILTER (WHERE status = 'eligible'), 0) AS range_max_total
  FROM r m GROUP BY ALL),
miss AS (
  SELECT {keys}, fact, count(*) AS n FROM (
    SELECT *, unnest(string_split(missing, ',')) AS fact FROM r
    WHERE status = 'undetermined' AND missing <> '') m
  GROUP BY ALL),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY {keys.replace("m.", "")}
    ORDER BY n DESC, fact) AS k FROM miss m),
top AS (
  SELECT {keys.replace("m.", "")}, string_agg(fact || '（' || n || '）', '、' ORDER BY k)
    AS most_missing FROM ranked WHERE k <= {TOP_MISSING} GROUP BY ALL)
SELECT c.*, t.most_missing FROM counts c LEFT JOIN top t
  USING ({keys.replace("m.", "")})
ORDER BY certain_total DESC, eligible DESC
"""


def write_result(con: duckdb.DuckDBPyConnection, out: Path) -> tuple[Path, Path, Path]:
    """Write the rows to `out`, the summaries beside it (<stem>.rules.<ext>,
    <stem>.documents.<ext>)."""
    ext = out.suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"{out}：结果文件应为 .csv、.xlsx 或 .parquet")
    by_rule = out.with_name(f"{out.stem}.rules{ext}")
    by_doc = out.with_name(f"{out.stem}.documents{ext}")
    rows = ROWS_SQL
    if ext == ".csv":  # a list cannot be a CSV cell: 、-separated
        rows = f"SELECT * REPLACE (array_to_string(missing, '、') AS missing) FROM ({ROWS_SQL})"
    for path, sql in ((out, rows), (by_rule, _summary_sql("rule")), (by_doc, _summary_sql("doc"))):
        _write(con, sql, path)
    return out, by_rule, by_doc


def _write(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    """Stream a query to a file (the path never enters SQL)."""
    ext = path.suffix.lower()
    if ext in (".parquet", ".csv"):
        reader = con.execute(sql).to_arrow_reader(100_000)
        if ext == ".parquet":
            import pyarrow.parquet as pq

            with pq.ParquetWriter(path, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
            return
        import pyarrow.csv as pacsv

        with path.open("wb") as fh:
            fh.write("\ufeff".encode())  # Excel opens a UTF-8 CSV with a BOM correctly
            with pacsv.CSVWriter(fh, reader.schema) as writer:
                for batch in reader:
                    writer.write_batch(batch)
        return
    from openpyxl import Workbook

    count = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
    if count and count[0] > XLSX_MAX_ROWS:
        raise ValueError(
            f"{path}：结果有 {count[0]:,} 行，超过 Excel 的上限 {XLSX_MAX_ROWS:,} 行；请改用 .parquet 或 .csv"
        )
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("result")
    ws.append(names)
    while batch := cur.fetchmany(10_000):
        for row in batch:
            ws.append(["、".join(v) if isinstance(v, list) else v for v in row])
    wb.save(path)
