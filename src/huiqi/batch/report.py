"""The result of a batch run: one row per enterprise and rule, and the budget forecast — a
summary per rule, per document, per department and per county — written as CSV, XLSX or
Parquet by extension, plus a self-contained HTML report with charts (`html.py`)."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import duckdb
import pyarrow as pa

from ..engine.match import STATUS_LABELS
from ..packs.loader import Pack
from .compile import RID, RuleInfo
from .runner import FORECAST, RESULT, forecast, has_table

FORMATS = (".csv", ".xlsx", ".parquet")
TOP_MISSING = 3
XLSX_MAX_ROWS = 1_048_575  # a sheet's rows, less the header
NO_PLACE = "（注册地不详）"


@dataclass(frozen=True)
class Dimension:
    """One summary: its file suffix, its key columns (in `r`) and their Chinese headers."""

    suffix: str
    keys: tuple[str, ...]
    headers: tuple[str, ...]
    title: str


DIMENSIONS = (
    Dimension(
        "rules", ("rule_id", "title", "document"), ("规则编号", "政策事项", "文件"), "按规则"
    ),
    Dimension("documents", ("document",), ("文件",), "按文件"),
    Dimension("departments", ("department",), ("受理部门",), "按部门"),
    Dimension("counties", ("place",), ("注册地",), "按县（市、区）"),
)
BY = {d.suffix: d for d in DIMENSIONS}

# the summary's columns after the keys, with their Chinese headers
MEASURES = (
    ("eligible", "符合（家次）"),
    ("undetermined", "待确定（家次）"),
    ("not_eligible", "不符合（家次）"),
    ("not_in_force", "未生效或已失效（家次）"),
    ("overdue", "逾期未申请（家次）"),
    ("certain_total", "确定金额（元）"),
    ("range_min_total", "评审区间下限（元）"),
    ("range_max_total", "评审区间上限（元）"),
    ("most_missing", "最常缺少的信息（次数）"),
)


def label_tables(
    con: duckdb.DuckDBPyConnection,
    rules: list[RuleInfo],
    ids: list[str],
    pack: Pack | None = None,
    places: list[str | None] | None = None,
    rids: list[int] | None = None,
) -> None:
    """Tables `rules_meta` (rule_idx -> id, title, document, department), `ids` (_rid -> key,
    registered place) and `fact_labels` (input or parameter name -> its Chinese label)."""
    meta = pa.table(
        {
            "rule_idx": pa.array([r.idx for r in rules], pa.int64()),
            "rule_id": [r.rule_id for r in rules],
            "title": [r.title for r in rules],
            "document": [r.doc for r in rules],
            "department": [r.department for r in rules],
        }
    )
    keys = pa.table(
        {
            RID: pa.array(range(len(ids)) if rids is None else rids, pa.int64()),
            "id": pa.array(ids, pa.string()),
            "place": pa.array(places or [None] * len(ids), pa.string()),
        }
    )
    names: list[str] = []
    labels: list[str] = []
    if pack is not None:
        for name, var in pack.variables.items():
            names.append(name)
            labels.append(var.label or name)
            for f, spec in (var.fields or {}).items():  # an event's field: list.field
                names.append(f"{name}.{f}")
                labels.append(f"{var.label or name}（{spec.label or f}）")
        for name, par in pack.parameters.items():
            names.append(f"param:{name}")
            labels.append(f"{par.label or name}（参数未定）")
    facts = pa.table({"fact": pa.array(names, pa.string()), "label": pa.array(labels, pa.string())})
    for name, table in (("rules_meta", meta), ("ids", keys), ("fact_labels", facts)):
        con.register(f"arrow_{name}", table)
        con.execute(f'CREATE OR REPLACE TEMP TABLE "{name}" AS SELECT * FROM "arrow_{name}"')
        con.unregister(f"arrow_{name}")


# the missing facts by their Chinese labels (an id without a label stays as it is), worked
# out once per distinct list of the result: per row, the map of every label was copied into
# each of millions of rows (15 of 18 s for 20k enterprises × the pack)
MISSING_LABELS = f"""
CREATE OR REPLACE TEMP TABLE missing_labels AS
WITH lab AS (SELECT map(list(fact), list(label)) AS m FROM fact_labels)
SELECT d.missing,
       list_transform(string_split(d.missing, ','), lambda f: coalesce(lab.m[f], f)) AS labels
FROM (SELECT DISTINCT missing FROM {RESULT} WHERE missing <> '') d CROSS JOIN lab
"""

# the rows' columns (as the query names them) and their Chinese headers, in file order
ROW_HEADERS = (
    ("id", "统一社会信用代码"),
    ("rule_id", "规则编号"),
    ("title", "政策事项"),
    ("document", "文件"),
    ("department", "受理部门"),
    ("status", "结论"),
    ("amount", "确定金额（元）"),
    ("amount_min", "评审区间下限（元）"),
    ("amount_max", "评审区间上限（元）"),
    ("set_aside", "因叠加规定不另行发放"),
    ("missing", "缺少的信息"),
)
# a status as the user reads it (符合, 待确定…): the engine's labels, as SQL string literals
_STATUS = "CASE r.status {} END".format(
    " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STATUS_LABELS.items())
)
_HEADED = ", ".join(f'{c} AS "{h}"' for c, h in ROW_HEADERS)


def _kept(status: str) -> str:
    """SQL: whether a row's status is one of $keep (NULL: every row)."""
    return f"($keep::VARCHAR[] IS NULL OR list_contains($keep::VARCHAR[], {status}))"


# the rows of enterprises $lo <= _rid < $hi (after MISSING_LABELS) whose status is one of
# $keep (NULL: every row), in file order
ROWS_SQL = f"""
WITH rows AS (
SELECT r.{RID}, r.rule_idx, i.id, m.rule_id, m.title, m.document, m.department,
       {_STATUS} AS status, r.amount, r.amount_min, r.amount_max,
       CASE WHEN r.set_aside THEN '是' ELSE '否' END AS set_aside,
       coalesce(x.labels, []::VARCHAR[]) AS missing
FROM {RESULT} r JOIN rules_meta m USING (rule_idx) JOIN ids i USING ({RID})
LEFT JOIN missing_labels x ON x.missing = r.missing
WHERE r.{RID} >= $lo AND r.{RID} < $hi
  AND {_kept("r.status")})
SELECT {_HEADED} FROM rows ORDER BY {RID}, rule_idx
"""
MISSING_HEADER = ROW_HEADERS[-1][1]
#: Rows of the result sorted at a time: one sort of tens of millions of rows with their texts
#: grew superlinearly (100k enterprises × the pack: 65 s and 20 GB; in slices 27 s and 7 GB).
ROWS_PER_SLICE = 2_000_000
#: The same for a CSV streamed by the web server, which may make several at once: 20k
#: enterprises × the pack (9M rows kept, 3.2 GB of CSV) peaked at 2.3 GB in 4.9 s in slices
#: of 2M rows, at 0.5 GB in 6.2 s in these
STREAMED_SLICE_ROWS = 250_000


ALL_ROWS = "全部"


def kept_statuses(text: str) -> list[str] | None:
    """The statuses whose rows the row file keeps, from the user's words: 全部 (None: every
    row), or conclusions as the file shows them, separated by commas or 、 (符合,待确定)."""
    words = [w.strip() for w in text.replace("、", ",").replace("，", ",").split(",")]
    words = [w for w in words if w]
    if not words or words == [ALL_ROWS]:
        return None
    by_label = {label: status for status, label in STATUS_LABELS.items()}
    unknown = [w for w in words if w not in by_label]
    if unknown:
        raise ValueError(
            f"未知的结论“{'、'.join(unknown)}”：可选 {'、'.join(STATUS_LABELS.values())}，"
            f"或 {ALL_ROWS}"
        )
    chosen = {by_label[w] for w in words}
    return [status for status in STATUS_LABELS if status in chosen]  # in the engine's order


def rows_kept(con: duckdb.DuckDBPyConnection, keep: list[str] | None) -> int:
    """How many rows the row file has with `keep` (`kept_statuses`)."""
    sql = f"SELECT count(*) FROM {RESULT} WHERE {_kept('status')}"
    return con.execute(sql, {"keep": keep}).fetchall()[0][0]


def row_slices(
    con: duckdb.DuckDBPyConnection, keep: list[str] | None = None, rows: int | None = None
) -> list[dict[str, object]]:
    """The parameters of ROWS_SQL: the enterprises of the result in ranges of _rid ($lo,
    $hi) of about `rows` (ROWS_PER_SLICE) rows each (one, empty, for an empty result), and
    the statuses kept ($keep)."""
    lo, hi, rules = con.execute(
        f"SELECT min({RID}), max({RID}), count(DISTINCT rule_idx) FROM {RESULT}"
    ).fetchall()[0]
    if lo is None:
        return [{"lo": 0, "hi": 0, "keep": keep}]
    per = max(1, (rows or ROWS_PER_SLICE) // max(rules, 1))
    return [{"lo": at, "hi": at + per, "keep": keep} for at in range(lo, hi + 1, per)]


def summary_sql(by: str) -> str:
    """Counts, the certain total, the review-dependent range, and the facts most often missing
    where a rule is undetermined (by their Chinese labels), per rule, document, department or
    county (`by`: a suffix of DIMENSIONS), from table `forecast` (`runner.forecast`)."""
    dim = BY[by]
    keys = ", ".join(dim.keys)
    counts = ",\n    ".join(
        f"coalesce(sum(n) FILTER (WHERE status = '{m}'), 0) AS {m}" for m, _ in MEASURES[:5]
    )
    return f"""
WITH f AS (
  SELECT x.status, x.fact, x.n, x.amount, x.amount_min, x.amount_max, m.rule_id, m.title,
         m.document, m.department, coalesce(x.place, '{NO_PLACE}') AS place
  FROM {FORECAST} x JOIN rules_meta m USING (rule_idx)),
counts AS (
  SELECT {keys},
    {counts},
    coalesce(sum(amount), 0) AS certain_total,
    coalesce(sum(amount_min), 0) AS range_min_total,
    coalesce(sum(amount_max), 0) AS range_max_total
  FROM f WHERE fact IS NULL GROUP BY ALL),
miss AS (
  SELECT {keys}, coalesce(l.label, f.fact) AS fact, sum(f.n) AS n
  FROM f LEFT JOIN fact_labels l ON l.fact = f.fact
  WHERE f.fact IS NOT NULL GROUP BY ALL),
ranked AS (
  SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY n DESC, fact) AS k FROM miss),
top AS (
  SELECT {keys}, string_agg(fact || '（' || n || '）', '、' ORDER BY k) AS most_missing
  FROM ranked WHERE k <= {TOP_MISSING} GROUP BY ALL)
SELECT {", ".join(f'c.{k} AS "{h}"' for k, h in zip(dim.keys, dim.headers, strict=True))},
  {", ".join(f'{"t" if m == "most_missing" else "c"}.{m} AS "{h}"' for m, h in MEASURES)}
FROM counts c LEFT JOIN top t USING ({keys})
ORDER BY c.certain_total DESC, c.range_max_total DESC, c.eligible DESC, {", ".join(f"c.{k}" for k in dim.keys)}
"""


def write_result(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    title: str = "",
    html: bool = True,
    keep: list[str] | None = None,
) -> list[Path]:
    """`write_rows` to `out` (when the long result was computed: not for a forecast-only
    run) and `write_summaries` beside it. Call after `label_tables`."""
    written = [out] if write_rows(con, out, keep) else []
    return written + write_summaries(con, out, title, html)


def write_rows(con: duckdb.DuckDBPyConnection, out: Path, keep: list[str] | None = None) -> bool:
    """Write one row per enterprise and rule to `out` (with `keep`, only the rows of those
    statuses, `kept_statuses`); False when there is no long result (a forecast-only run).
    Too many rows for a sheet is a ValueError, found before anything is written."""
    ext = _format(out)
    if not has_table(con, RESULT):
        return False
    if ext == ".xlsx":
        _fits_a_sheet(out, rows_kept(con, keep))
    rows = _csv_cells(ROWS_SQL) if ext == ".csv" else ROWS_SQL
    con.execute(MISSING_LABELS)
    _write(con, rows, out, row_slices(con, keep))
    return True


def _fits_a_sheet(out: Path, count: int) -> None:
    """Too many rows for a sheet is a ValueError, found before anything is written."""
    if count > XLSX_MAX_ROWS:
        raise ValueError(
            f"{out}：结果有 {count:,} 行，超过 Excel 的上限 {XLSX_MAX_ROWS:,} 行；请改用 .parquet 或 .csv"
        )


def _csv_cells(rows: str) -> str:
    """The rows of query `rows` as a CSV has them: a list cannot be a cell, the missing
    facts are 、-separated."""
    joined = f'array_to_string("{MISSING_HEADER}", \'、\') AS "{MISSING_HEADER}"'
    return f"SELECT * REPLACE ({joined}) FROM ({rows})"


CSV_BOM = "\ufeff".encode()  # Excel opens a UTF-8 CSV with a BOM correctly
BATCH_ROWS = 100_000  # rows per batch written (and per piece of a streamed CSV)


#: What a row store holds (`save_rows`): the rows kept of the long result, unlabelled, and
#: the tables that label them (`label_tables`), each as <name>.parquet
STORE_TABLES = (RESULT, "ids", "rules_meta", "fact_labels")


def save_rows(con: duckdb.DuckDBPyConnection, folder: Path, keep: list[str] | None = None) -> int:
    """Keep the rows of `keep` (`kept_statuses`) in `folder` as they are in table `result`,
    with the tables that label them, from which `rows_csv` and `rows_sheet` make the row
    file when it is downloaded: labelled and sorted, 20,000 enterprises × the pack with most
    facts unknown (9M rows) took 4.3 s to write as Parquet, unlabelled 0.9 s. Returns the
    number of rows kept."""
    folder.mkdir(parents=True, exist_ok=True)
    _write(
        con,
        f"SELECT * FROM {RESULT} WHERE {_kept('status')}",
        folder / f"{RESULT}.parquet",
        [{"keep": keep}],
    )
    for name in STORE_TABLES[1:]:
        _write(con, f'SELECT * FROM "{name}"', folder / f"{name}.parquet")
    return rows_in_store(folder)


def rows_in_store(folder: Path) -> int:
    """The rows a row store (`save_rows`) keeps."""
    import pyarrow.parquet as pq

    return pq.read_metadata(folder / f"{RESULT}.parquet").num_rows


def _open_store(folder: Path) -> duckdb.DuckDBPyConnection:
    """A database whose views are the tables of a row store (`save_rows`), as ROWS_SQL reads
    them: each slice of enterprises read from the files as it is written, not the whole
    store loaded first."""
    con = duckdb.connect()
    try:
        for name in STORE_TABLES:
            con.read_parquet(str(folder / f"{name}.parquet")).create_view(name)
        con.execute(MISSING_LABELS)
    except BaseException:
        con.close()
        raise
    return con


def rows_csv(folder: Path) -> Iterator[bytes]:
    """The rows of a row store (`save_rows`) as the CSV `write_rows` would have written, in
    pieces as it is made: the officials' page streams it when it is downloaded instead of
    writing it with every run (20,000 enterprises with most facts unknown: 3.2 GB, most runs
    never downloaded)."""
    con = _open_store(folder)
    try:
        out = io.BytesIO()
        slices = row_slices(con, rows=STREAMED_SLICE_ROWS)
        for _ in _csv(con, _csv_cells(ROWS_SQL), out, slices):
            yield out.getvalue()
            out.seek(0)
            out.truncate()
        yield out.getvalue()  # (the BOM and header alone, when no row is kept)
    finally:
        con.close()


def rows_sheet(folder: Path, out: Path) -> None:
    """The rows of a row store (`save_rows`) as the Excel sheet `write_rows` would have
    written to `out`: the officials' page makes its sheet, the slow part of a small run,
    only when it is downloaded."""
    _fits_a_sheet(out, rows_in_store(folder))
    con = _open_store(folder)
    try:
        _write(con, ROWS_SQL, out, row_slices(con))
    finally:
        con.close()


def write_summaries(
    con: duckdb.DuckDBPyConnection, out: Path, title: str = "", html: bool = True
) -> list[Path]:
    """The budget forecast beside `out` (<stem>.rules.<ext>, <stem>.documents.<ext>,
    <stem>.departments.<ext>, <stem>.counties.<ext>: every enterprise counted, whatever the
    rows kept) and the HTML report (<stem>.report.html)."""
    ext = _format(out)
    forecast(con)
    written = []
    for dim in DIMENSIONS:
        path = out.with_name(f"{out.stem}.{dim.suffix}{ext}")
        _write(con, summary_sql(dim.suffix), path)
        written.append(path)
    if html:
        from .html import render_report

        page = out.with_name(f"{out.stem}.report.html")
        page.write_text(render_report(con, title), encoding="utf-8")
        written.append(page)
    return written


def _format(out: Path) -> str:
    ext = out.suffix.lower()
    if ext not in FORMATS:
        raise ValueError(f"{out}：结果文件应为 .csv、.xlsx 或 .parquet")
    return ext


def _batches(
    con: duckdb.DuckDBPyConnection, sql: str, runs: list[dict[str, object] | None]
) -> tuple[pa.RecordBatchReader, Iterator[pa.RecordBatch]]:
    """The first run's reader (for the schema) and the batches of every run, in order."""
    readers = (con.sql(sql, params=p).to_arrow_reader(BATCH_ROWS) for p in runs)
    first = next(readers)
    return first, (b for r in itertools.chain([first], readers) for b in r)


def _csv(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    out: BinaryIO,
    runs: Sequence[dict[str, object] | None],
) -> Iterator[None]:
    """Write the query's rows to `out` as CSV (a BOM, the header, then the rows of every
    run of parameters), pausing after each batch."""
    import pyarrow.csv as pacsv

    first, batches = _batches(con, sql, list(runs))
    out.write(CSV_BOM)
    with pacsv.CSVWriter(out, first.schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            yield


def _write(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    path: Path,
    slices: list[dict[str, object]] | None = None,
) -> None:
    """Stream a query to a file (the path never enters SQL); with `slices`, the query once
    per set of parameters, one after the other into the same file."""
    ext = path.suffix.lower()
    runs: list[dict[str, object] | None] = list(slices) if slices else [None]
    if ext == ".parquet":
        import pyarrow.parquet as pq

        first, batches = _batches(con, sql, runs)
        with pq.ParquetWriter(path, first.schema) as writer:
            for batch in batches:
                writer.write_batch(batch)
        return
    if ext == ".csv":
        with path.open("wb") as fh:
            for _ in _csv(con, sql, fh, runs):
                pass
        return
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("result")
    for k, p in enumerate(runs):
        cur = con.execute(sql, p)
        if k == 0:
            ws.append([d[0] for d in cur.description])
        while batch := cur.fetchmany(10_000):
            for row in batch:
                ws.append([_cell(v) for v in row])
    wb.save(path)


def _cell(v):
    """Text that Excel would take for a formula is kept as text."""
    if isinstance(v, list):
        v = "、".join(v)
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@"):
        return "'" + v
    return v
