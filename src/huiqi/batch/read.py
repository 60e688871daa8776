"""Read a registry (CSV, XLSX or Parquet) into enterprise records, rejecting bad rows with
their row number, column and reason; never dropping a row silently.

Columns map to variables by name or by Chinese label; a unit in the header (万元, 亿元, 元,
%) converts plain numbers exactly (Decimal). The enterprise key is 统一社会信用代码 (or `id`);
an optional applicant column (applicant / 申请主体) holds the kind of applicant.

A registry keeps yearly figures in wide columns (主营业务收入（万元）, 2017年研发费用（万元）,
主营业务收入_2018) while the rules read them from a yearly event list (one item per year). A
column that names a field of such a list (an event list whose items need nothing but their
year) becomes one item per enterprise and year: the year from the header, or 上年度 of the
evaluation date when the header has none (said in Registry.notes).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path
from typing import Any

from ..engine.profile import MAX_MONEY, Problem, _scalar
from ..ingest.decode import (
    IngestError,
    candidates,
    has_controls,
    plausible,
    utf8_has_controls,
    without_controls,
)
from ..jurisdictions import PLACE_VARIABLE
from ..packs.loader import Pack
from ..packs.variables import FieldSpec
from .columns import Block, ColumnParser

ID_COLUMNS = ("统一社会信用代码", "id")
APPLICANT_COLUMNS = ("applicant", "申请主体")
LIST_COLUMNS = ("list", "事件列表")
UNITS = {
    "万元": Decimal(10_000),
    "亿元": Decimal(100_000_000),
    "元": Decimal(1),
    "%": Decimal("0.01"),
    "％": Decimal("0.01"),
    "万": Decimal(10_000),
}
_UNIT_RE = re.compile(r"^(.*?)\s*[（(]?\s*(万元|亿元|元|%|％|万)\s*[）)]?$")
_YEAR = r"((?:19|20)\d{2})"
_SEP = r"[\s_\-－—:：]*"
# 2017年主营业务收入 / 2018年度研发费用 / 2018_研发费用 ; 主营业务收入_2018 / 研发费用（2018年）
_YEAR_PREFIX_RE = re.compile(rf"^{_YEAR}(?:年度|年)?{_SEP}(\D.*)$")
_YEAR_SUFFIX_RE = re.compile(rf"^(.*?\D){_SEP}[（(]?{_YEAR}(?:年度|年)?[）)]?$")
# Years a yearly list read from wide columns covers (up to 上年度): rules compare 上年度 with
# earlier years (前年度, every year since a start year), none further back than this.
YEARS_BACK = 10
TRUE = {"是", "true", "True", "TRUE", "1", "y", "Y", "yes", "有"}
FALSE = {"否", "false", "False", "FALSE", "0", "n", "N", "no", "无"}


class ReadError(Exception):
    """A file that cannot be read at all (message in Chinese, naming the file)."""


@dataclass(frozen=True)
class Rejection:
    file: str
    row: int  # as a spreadsheet shows it: the header is row 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file} 第 {self.row} 行，列“{self.column}”：{self.reason}"


KEY_TARGET, APPLICANT_TARGET = "#key", "#applicant"  # what a mapping may name besides variables


@dataclass(frozen=True)
class Target:
    """What a registry column holds by the column mapping (`mapping.read_mapping`): a
    variable, KEY_TARGET or APPLICANT_TARGET, and the unit factor the mapping gives."""

    name: str
    factor: Decimal | None
    where: str  # the mapping's file and line, for messages


@dataclass
class WideItem:
    item: dict[str, Any]  # the event, as in the record's facts
    sources: dict[str, str]  # field -> where it was given (“登记表第 3 行“研发费用（万元）”列”)


@dataclass
class Registry:
    # the records read (when `read_registry` has no sink: else they were handed on)
    records: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # by _rid
    places: list[Any] = field(default_factory=list)  # the registration place, by _rid
    rows_in: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    events_in: int = 0
    events_rejected: int = 0
    notes: list[str] = field(default_factory=list)  # how columns were read, for the user
    rows: list[int] = field(default_factory=list)  # the spreadsheet row, by _rid
    year_fields: dict[str, str] = field(default_factory=dict)  # yearly list -> its year field
    received: int = 0  # benefits already received, from an events file


DUCKDB_FILES = (".duckdb", ".ddb")
#: Rows read, parsed column by column and handed on (`read_registry`'s `sink`) at a time: a
#: piece is held as text and as values at once, ~30 kB a row for 261 columns (20,000 rows
#: streamed peaked at 300 MB with pieces of 2,000, 426 MB with 5,000, 619 MB with 10,000).
CHUNK_ROWS = 2_000
#: Distinct texts of a column kept parsed (text -> value, reason); parsed values are immutable.
SEEN_CELLS = 4_096


def read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a CSV (UTF-8 ± BOM, GBK, GB18030), XLSX or Parquet file, or of a
    table of a DuckDB database file (`registry.duckdb:schema.table`; `registry.duckdb` alone
    when it holds one table), all in memory (see `open_table`)."""
    header, rows = open_table(path)
    return header, list(rows)


def open_table(path: Path) -> tuple[list[str], Iterator[list[Any]]]:
    """Header and an iterator over the rows of a table file (as `read_table`), read as they
    are consumed, so that a registry larger than memory passes through in pieces."""
    header, numbered = open_numbered(path)
    return header, (row for _, row in numbered)


def open_numbered(
    path: Path, encoding: str | None = None
) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """As `open_table`, each row with its number as a spreadsheet shows it: the header is the
    first row that is not blank, and blank rows (no cell with anything but spaces: an empty
    line, a line of commas, a sheet's empty rows) are counted but not handed on. `encoding`:
    a CSV's, when `_csv_scan` decided it already (it reads the whole file)."""
    label = str(path)
    base, table = label, ""
    if any(f"{ext}:" in label for ext in DUCKDB_FILES):
        base, _, table = label.rpartition(":")
    if Path(base).suffix.lower() in DUCKDB_FILES:
        header, rows = _duckdb_table(Path(base), table)
        return header, enumerate(rows, start=2)
    if not path.is_file():
        raise ReadError(f"{label}：文件不存在")
    suffix = path.suffix.lower()
    if suffix == ".parquet":  # typed columns: a row of nulls is a row like any other
        header, rows = _parquet_table(path)
        return header, enumerate(rows, start=2)
    if suffix == ".csv":
        raw, blank, clean = _csv_rows(path, encoding), _blank_text, _csv_header
    elif suffix == ".xlsx":
        raw, blank, clean = _xlsx_rows(path), _blank_cells, _xlsx_header
    else:
        raise ReadError(
            f"{label}：不支持的文件类型 {suffix}（可用 .csv .xlsx .parquet，或 DuckDB 数据库文件中的表）"
        )
    numbered = enumerate(raw, start=1)
    for _, first in numbered:
        if not blank(first):
            return clean(first), ((k, row) for k, row in numbered if not blank(row))
    raise ReadError(f"{label}：文件为空")


def _blank_cells_of(column: Any) -> Any:
    """Which cells of an Arrow text column hold nothing but whitespace."""
    import pyarrow.compute as pc

    return pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(column)), 0)


def _blank_text(row: list[str]) -> bool:
    return not "".join(row).strip()  # one C-level scan


def _blank_cells(row: list[Any]) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in row)


def _csv_header(row: list[str]) -> list[str]:
    return [h.strip().lstrip("\ufeff") for h in row]


def _xlsx_header(row: list[Any]) -> list[str]:
    return ["" if h is None else str(h).strip() for h in row]


def beyond_header(label: str, n: int, row: list[Any], width: int) -> Rejection | None:
    """A row with more cells than the header has columns, when one of those is not blank:
    what it holds belongs to no column, and dropping it would lose it silently."""
    if len(row) <= width:
        return None
    extra = next((j for j in range(width, len(row)) if not _blank_cells([row[j]])), None)
    if extra is None:
        return None  # trailing separators, as spreadsheets write them
    return Rejection(
        label,
        n,
        f"第 {extra + 1} 列",
        f"本行有 {len(row)} 个单元格，多于表头的 {width} 列；表头之外的内容无法归入任何一列",
    )


_BLOCK = 1 << 20  # bytes read at a time


def _csv_encoding(path: Path) -> str:
    """The encoding of a CSV file, decided as `decode_bytes` decides for a whole text (a BOM's,
    else UTF-8, else GB18030, a superset of GBK, when its start reads as text), checking that
    every byte decodes block by block: the file is never held in memory at once."""
    return _csv_scan(path)[0]


def _csv_scan(path: Path) -> tuple[str, bool]:
    """The encoding of a CSV file (`_csv_encoding`) and whether its text has a control
    character that `without_controls` removes, found in the same pass."""
    label = str(path)
    with path.open("rb") as f:
        head = f.read(_BLOCK)
        try:
            encodings = candidates(head, label)
        except IngestError as exc:
            raise ReadError(str(exc)) from None
        for encoding in encodings:
            f.seek(len(head))  # the blocks after the head (a character may span the seam)
            decoder = codecs.getincrementaldecoder(encoding)()
            # UTF-8's controls are found in its bytes, faster than in the decoded text
            in_bytes = encoding in ("utf-8", "utf-8-sig")
            try:
                start = decoder.decode(head)
                controls = utf8_has_controls(head) if in_bytes else has_controls(start)
                last = head
                while block := f.read(_BLOCK):
                    text = decoder.decode(block)  # (decoded to know the encoding holds)
                    found = utf8_has_controls(block, last) if in_bytes else has_controls(text)
                    controls, last = controls or found, block
                controls = has_controls(decoder.decode(b"", final=True)) or controls
            except UnicodeDecodeError:
                continue
            # strict UTF-8 or a BOM is trusted; GB18030 decodes almost anything: the start
            # must read as text
            if plausible(start, chinese=False, trusted=encoding != "gb18030"):
                return encoding, controls
    raise ReadError(
        f"{label}：无法识别文件编码（支持 UTF-8、UTF-16（带字节顺序标记）、GBK、GB18030）"
    )


#: Whether a registry CSV read into a sink may be read by Arrow's CSV reader (`_arrow_csv`);
#: the differential tests turn it off to compare with the row-by-row reader.
FAST_CSV = True
#: Bytes of CSV text Arrow's reader parses at a time: the rows of a piece (`_arrow_csv`).
ARROW_BLOCK = 8 << 20
#: Rows of a piece of the Arrow reader at most (a narrow file has many rows to a block).
ARROW_ROWS = 20_000


def _arrow_csv(
    path: Path, encoding: str
) -> tuple[list[str], Iterator[tuple[list[int], list[Any], dict[int, list[Any]]]]] | None:
    """A CSV file read by Arrow's CSV reader instead of row by row: its header and pieces of
    (row numbers, one Arrow text array per column), blank rows left out. None when the file
    needs the row-by-row reader: a header not alone on the first line. A file with control
    characters to remove (`_csv_scan`) is not given to it.
    A row that is not of the header's width is skipped by Arrow and handed to the invalid-row
    handler with its record number and text; it is split by `csv` and handed on in its place
    as a piece of its own, padded or cut as the row-by-row reader does (`_row_pieces`), so
    that one short row does not send a whole file to the slower reader.
    Both readers split rows and quotes alike (tests/test_batch_fast_csv.py compares them)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding, newline="") as f:
        line = f.readline()
    if '"' in line or not line.strip():
        return None  # quoted header cells may span lines, a blank first line shifts rows
    header = _csv_header(next(csv.reader([line])))
    width = len(header)
    names = [f"c{i}" for i in range(width)]
    # (record number, text) of the rows Arrow skipped, in file order: the serial reader
    # (use_threads=False) numbers them as `numbers` below does, the header being row 1
    irregular: deque[tuple[int | None, str]] = deque()

    def invalid(row: Any) -> str:
        irregular.append((row.number, row.text))
        return "skip"

    reader = pcsv.open_csv(
        path,
        read_options=pcsv.ReadOptions(
            column_names=names,
            skip_rows=1,
            block_size=ARROW_BLOCK,
            use_threads=False,
            encoding="utf8" if encoding in ("utf-8", "utf-8-sig") else encoding,
        ),
        parse_options=pcsv.ParseOptions(
            newlines_in_values=True, ignore_empty_lines=False, invalid_row_handler=invalid
        ),
        convert_options=pcsv.ConvertOptions(
            column_types=dict.fromkeys(names, pa.string()), strings_can_be_null=False
        ),
    )

    def skipped(start: int) -> tuple[int, list[tuple[int, list[str]]]]:
        """How many skipped rows are numbered from `start` on without a gap, and those
        rows split by `csv` (blank ones counted but not handed on)."""
        rows, n = [], start
        while irregular and irregular[0][0] == n:
            _, text = irregular.popleft()
            cells = next(csv.reader(io.StringIO(text, newline="")), [])
            if not _blank_text(cells):
                rows.append((n, cells))
            n += 1
        return n - start, rows

    def pieces() -> Iterator[tuple[list[int], list[Any], dict[int, list[Any]]]]:
        start = 2  # the record number of the next row

        def lost() -> ReadError:
            return ReadError(f"{path}：第 {start} 行前后有一行与表头列数不同，无法确定其行号")

        def gap() -> int | None:
            """Rows before the next skipped one (None: none is waiting). Arrow's serial
            reader numbers every skipped row, in order: anything else is an error, not a
            row put in the wrong place."""
            if not irregular:
                return None
            number = irregular[0][0]
            if number is None or number < start:
                raise lost()
            return number - start

        try:
            for batch in reader:
                # the batch's rows with the skipped rows among and right after them, in file
                # order: `order` indexes the batch's rows, then the skipped ones (`extra`),
                # so that each column is put together by one take, however many rows were
                # skipped (a file whose rows with an empty last cell are short has them
                # everywhere)
                order: list[int] = []
                numbers: list[int] = []
                extra: list[list[str]] = []
                at, rows = 0, batch.num_rows
                while True:
                    ahead_of = gap()
                    if ahead_of == 0:  # skipped rows come next
                        n, cells = skipped(start)
                        for number, row in cells:
                            order.append(rows + len(extra))
                            numbers.append(number)
                            extra.append(row)
                        start += n
                        continue
                    if at == rows:
                        break
                    take = rows - at if ahead_of is None else min(rows - at, ahead_of)
                    order.extend(range(at, at + take))
                    numbers.extend(range(start, start + take))
                    at, start = at + take, start + take
                yield from _in_pieces(*_joined(batch.columns, order, numbers, extra, width))
            while (ahead_of := gap()) is not None:  # rows skipped after Arrow's last row
                if ahead_of:
                    raise lost()
                n, cells = skipped(start)
                yield from _row_pieces(iter(cells), width)
                start += n
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise ReadError(f"{path}：第 {start} 行起无法按 CSV 读取（{exc}）") from None

    return header, ahead(pieces())


def _blank_rows(columns: list[Any]) -> set[int]:
    """The rows of Arrow text columns with nothing but whitespace: those whose first cell
    is blank, then the rest of their cells (Arrow trims exactly what str.strip() does)."""
    import pyarrow.compute as pc

    at = pc.indices_nonzero(_blank_cells_of(columns[0]))
    for column in columns[1:]:
        if not len(at):
            break
        at = at.filter(_blank_cells_of(column.take(at)))
    return set(at.to_pylist())


def _joined(
    columns: list[Any],
    order: list[int],
    numbers: list[int],
    extra: list[list[str]],
    width: int,
) -> tuple[list[int], list[Any], dict[int, list[Any]]]:
    """A batch's Arrow columns and the rows Arrow skipped (`extra`, split by `csv`) as one
    run of rows in `order` (k < len(batch): the batch's row k; else extra[k - len(batch)]),
    blank batch rows left out. A skipped row's cells are padded with unknown or cut to the
    header's width as `_row_pieces` does; a longer one is also kept whole (by position)."""
    import pyarrow as pa

    rows = len(columns[0]) if columns else 0
    blank = _blank_rows(columns) if rows else set()
    if not extra and not blank:
        return numbers, columns, {}  # the usual batch: every row regular and filled
    kept = [k for k, i in enumerate(order) if i not in blank]
    order, numbers = [order[k] for k in kept], [numbers[k] for k in kept]
    long_rows = {
        k: extra[i - rows]
        for k, i in enumerate(order)
        if i >= rows and len(extra[i - rows]) > width
    }
    index = _indices(order)
    if extra:
        cells = [[row[j] if j < len(row) else None for row in extra] for j in range(width)]
        columns = [
            pa.concat_arrays([c, pa.array(v, pa.string())])
            for c, v in zip(columns, cells, strict=True)
        ]
    return numbers, [c.take(index) for c in columns], long_rows


def _in_pieces(
    numbers: list[int], columns: list[Any], long_rows: dict[int, list[Any]]
) -> Iterator[tuple[list[int], list[Any], dict[int, list[Any]]]]:
    """A run of rows in pieces of ARROW_ROWS (the long rows by position in each piece)."""
    for at in range(0, len(numbers), ARROW_ROWS):
        part = [c.slice(at, ARROW_ROWS) for c in columns]
        longer = {k - at: row for k, row in long_rows.items() if at <= k < at + ARROW_ROWS}
        yield numbers[at : at + ARROW_ROWS], part, longer


_DONE = object()


def ahead(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """`items`, produced by a thread up to `depth` items ahead of the consumer: Arrow parses
    the next block of a CSV (without holding the GIL) while Python reads this block's
    columns. An exception in the thread is raised in the consumer; a consumer that stops
    early stops the thread at its next item."""
    import queue
    import threading

    q: queue.Queue[tuple[BaseException | None, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(entry: tuple[BaseException | None, Any]) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
            put((None, _DONE))
        except BaseException as exc:  # handed to the consumer, raised there
            put((exc, None))

    threading.Thread(target=run, name="huiqi-read-ahead", daemon=True).start()
    try:
        while True:
            exc, item = q.get()
            if exc is not None:
                raise exc
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()


def _arrow_csv_or_encoding(path: Path) -> tuple[Any, str]:
    """`_arrow_csv`'s reading of a CSV file (None: row by row) and the file's encoding,
    decided once for either reader (`_csv_scan` reads the whole file)."""
    encoding, controls = _csv_scan(path)
    return (None if controls else _arrow_csv(path, encoding)), encoding


def _csv_rows(path: Path, encoding: str | None = None) -> Iterator[list[str]]:
    """Every row of a CSV file, blank ones included (an empty line is [])."""
    label = str(path)
    encoding = encoding or _csv_encoding(path)
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding, newline="") as f:
        # control characters go, as decode_bytes removes them from a text
        lines = map(without_controls, f)
        try:
            yield from csv.reader(lines)
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ReadError(f"{label}：无法读取 CSV 文件（{exc}）") from None


def _xlsx_rows(path: Path) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    label = str(path)
    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds
        raise ReadError(f"{label}：无法读取 Excel 文件（{type(exc).__name__}）") from None
    try:
        for row in wb.worksheets[0].iter_rows(values_only=True):
            yield list(row)
    except Exception as exc:  # a damaged part of the sheet, found while reading it
        raise ReadError(f"{label}：无法读取 Excel 文件（{type(exc).__name__}）") from None
    finally:
        wb.close()


def _parquet_table(path: Path) -> tuple[list[str], Iterator[list[Any]]]:
    import pyarrow.parquet as pq

    label = str(path)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as exc:
        raise ReadError(f"{label}：无法读取 Parquet 文件（{type(exc).__name__}）") from None

    def rows() -> Iterator[list[Any]]:
        try:
            for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
                cols = [c.to_pylist() for c in batch.columns]
                yield from (list(r) for r in zip(*cols, strict=True))
        except Exception as exc:
            raise ReadError(f"{label}：无法读取 Parquet 文件（{type(exc).__name__}）") from None

    return list(parquet.schema_arrow.names), rows()


def _duckdb_table(path: Path, table: str) -> tuple[list[str], Iterator[list[Any]]]:
    """A table of a DuckDB database file, opened read-only; the name is checked against the
    file's catalogue and quoted as an identifier (it never becomes SQL text of its own)."""
    import duckdb
    from sqlglot import exp

    label = f"{path}:{table}" if table else str(path)
    if not path.is_file():
        raise ReadError(f"{path}：文件不存在")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise ReadError(f"{path}：无法打开 DuckDB 数据库（{type(exc).__name__}）") from None
    try:
        found = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() UNION ALL "
            "SELECT schema_name, view_name FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        names = {f"{s}.{t}": (s, t) for s, t in found} | {t: (s, t) for s, t in found}
        if not table:
            if len(found) != 1:
                listed = "、".join(sorted(f"{s}.{t}" for s, t in found)) or "（无）"
                raise ReadError(f"{path}：请用“文件:表名”指明读哪张表（库中的表：{listed}）")
            table = found[0][1]
        if table not in names:
            listed = "、".join(sorted(f"{s}.{t}" for s, t in found)) or "（无）"
            raise ReadError(f"{label}：库中没有这张表（库中的表：{listed}）")
        schema_name, name = names[table]
        ref = exp.table_(name, db=schema_name, quoted=True).sql("duckdb")
        cur = con.execute(f"SELECT * FROM {ref}")
        header = [d[0] for d in cur.description]
    except BaseException:
        con.close()
        raise

    def rows() -> Iterator[list[Any]]:
        try:
            while batch := cur.fetchmany(10_000):
                yield from (list(r) for r in batch)
        finally:
            con.close()

    return header, rows()


def split_header(header: str) -> tuple[str, Decimal | None]:
    """“营业收入（万元）” -> (营业收入, 10000)."""
    m = _UNIT_RE.match(header.strip())
    if m and m.group(1):
        return m.group(1).strip(), UNITS[m.group(2)]
    return header.strip(), None


def split_year(header: str) -> tuple[str, int | None]:
    """“2017年主营业务收入” / “主营业务收入_2018” -> (主营业务收入, 2017 / 2018)."""
    text = header.strip()
    for pattern, name, year in ((_YEAR_PREFIX_RE, 2, 1), (_YEAR_SUFFIX_RE, 1, 2)):
        m = pattern.match(text)
        if m and m.group(name).strip():
            return m.group(name).strip(), int(m.group(year))
    return text, None


def split_yearly(header: str) -> tuple[str, Decimal | None, int | None]:
    """A header's name, unit factor and year, the year before or after the unit:
    “2018年度研发费用(万元)”, “研发费用（万元）_2018”, “研发费用_2018（万元）”."""
    rest, year = split_year(header)
    name, factor = split_header(rest)
    if year is None:
        name, year = split_year(name)
    return name, factor, year


@dataclass(frozen=True)
class YearlyField:
    """A field of an event list kept one item per year."""

    list: str
    field: str
    year_field: str


def yearly_fields(pack: Pack) -> dict[str, list[YearlyField]]:
    """Names (field_names) a registry column may use for a field of a yearly event list: one
    whose items have exactly one year field and need nothing else, so that a single figure
    and its year make an item."""
    out: dict[str, list[YearlyField]] = {}
    for lname, var in pack.variables.items():
        if var.type != "events" or var.derived:
            continue
        years = [f for f, s in var.fields.items() if s.type == "year"]
        if len(years) != 1 or any(not s.optional for f, s in var.fields.items() if f != years[0]):
            continue
        for fname, spec in var.fields.items():
            if fname == years[0]:
                continue
            for n in field_names(spec):
                out.setdefault(n, []).append(YearlyField(lname, fname, years[0]))
    return out


def field_names(spec: FieldSpec) -> set[str]:
    """The names a column may use for an event field: its name, its label, and the label's
    parts outside and inside brackets (“营业收入（主营业务收入）” is also 营业收入 and
    主营业务收入; “研发费用（享受加计扣除的实际发生额）” is also 研发费用)."""
    names = {spec.name, spec.label}
    m = re.match(r"^(.+?)[（(](.+)[）)]$", spec.label)
    if m:
        names.update({m.group(1).strip(), m.group(2).strip()})
    return {n for n in names if len(n) >= 2 and n not in UNITS}


def _lookup(specs: dict[str, FieldSpec], labels: dict[str, str], name: str) -> str | None:
    if name in specs:
        return name
    return labels.get(name)


def parse_cell(value: Any, spec: FieldSpec, factor: Decimal | None) -> tuple[Any, str | None]:
    """A cell as a normalised value (None: unknown) or a reason why it is rejected."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, None
    if isinstance(value, str):
        value = value.strip()
    t = spec.type
    if t == "bool" and isinstance(value, (str, int)) and not isinstance(value, bool):
        text = str(value)
        if text in TRUE:
            value = True
        elif text in FALSE:
            value = False
        else:  # in the user's words (the engine's own message names JSON's true/false)
            return None, f"应为“是”或“否”，而不是 {text!r}"
    if t in ("integer", "year") and isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = int(value)
    if t in ("integer", "year") and isinstance(value, Decimal) and value == int(value):
        value = int(value)
    if t in ("money", "ratio") and factor is not None and not isinstance(value, bool):
        try:
            number = Decimal(str(value)) if not isinstance(value, Decimal) else value
            value = number * factor
            if abs(value) > MAX_MONEY:
                return None, f"数值过大（上限 {MAX_MONEY:,}）"
        except InvalidOperation:
            pass
    if t == "date" and isinstance(value, datetime):
        value = value.date()
    problems: list[Problem] = []
    out = _scalar(value, spec, "", problems)
    if problems:
        return None, problems[0].reason
    if t == "money" and isinstance(out, Decimal) and out != out.quantize(Decimal("0.01")):
        return None, f"金额最小单位为分，而不是 {out}"
    return out, None


def read_registry(
    path: Path,
    pack: Pack,
    as_of: date | None = None,
    sink: Callable[[Block], None] | None = None,
    events: Path | None = None,
    mapping: dict[str, Target] | None = None,
) -> Registry:
    """Read the registry; `as_of` (the evaluation date) gives the year of a yearly column
    whose header names none (上年度); without it such a column is not used.

    The file is read `CHUNK_ROWS` rows at a time, column by column (`columns.ColumnParser`).
    With `sink`, each piece's accepted rows are handed to it as a `Block` (at least once,
    perhaps empty) and not kept: a registry larger than memory passes through. Without, they
    are kept in `records`. `events`: an events file (`events.EventsFile`), read first, its
    rows added to each enterprise as the registry reaches it. `mapping`: what the registry's
    own column names hold (`mapping.read_mapping`), before names and labels are looked up."""
    fast, encoding = None, None
    if FAST_CSV and sink is not None and path.suffix.lower() == ".csv" and path.is_file():
        fast, encoding = _arrow_csv_or_encoding(path)
    if fast is not None:
        header, pieces = fast
    else:
        header, rows = open_numbered(path, encoding)
        pieces = _row_pieces(rows, len(header))
    label = str(path)
    specs = {n: v.spec for n, v in pack.variables.items() if v.spec is not None and not v.derived}
    labels = {v.label: n for n, v in pack.variables.items() if n in specs}
    out = Registry()
    mapped = mapping or {}
    id_col = role_column(header, mapped, KEY_TARGET, ID_COLUMNS)
    if id_col is None:
        raise ReadError(f"{label}：缺少“统一社会信用代码”（或 id）列")
    app_col = role_column(header, mapped, APPLICANT_TARGET, APPLICANT_COLUMNS)
    for h, target in mapped.items():
        if h not in header:
            out.notes.append(f"列名对照中的“{h}”（{target.where}）在登记表中没有。")
    columns: list[tuple[int, str, str]] = []  # (position, header, variable)
    parsers: list[ColumnParser] = []
    yearly: list[tuple[int, str, YearlyField, int, Decimal | None]] = []
    by_name = yearly_fields(pack)
    for i, h in enumerate(header):
        if i in (id_col, app_col):
            continue
        name, factor = split_header(h)
        if h in mapped:  # the mapping's unit, else one in the header
            var = mapped[h].name
            if var in (KEY_TARGET, APPLICANT_TARGET):  # another such column: not read
                out.ignored_columns.append(h)
                continue
            factor = mapped[h].factor if mapped[h].factor is not None else factor
        else:
            var = _lookup(specs, labels, h) or _lookup(specs, labels, name)
            if var is not None and var == _lookup(specs, labels, h):
                factor = None  # the whole header is the name (no unit)
        if var is not None:
            columns.append((i, h, var))
            # pieces handed to a sink go on as Arrow tables: money columns parsed as Arrow
            parser = ColumnParser(
                specs[var], factor, parse_cell, SEEN_CELLS, arrow=sink is not None
            )
            parsers.append(parser)
            continue
        column = _yearly_column(h, by_name, pack, as_of, out.notes)
        if column is None:
            out.ignored_columns.append(h)
        else:
            yearly.append((i, h, *column))
    windows = _windows(yearly, pack, as_of, out.notes)
    out.year_fields.update({lname: year_field for lname, (year_field, _) in windows.items()})
    from .events import EventsFile  # (it reads files with this module's helpers)

    ev = None if events is None else EventsFile(events, pack, out)
    entities = {**{k: k for k in pack.entities}, **{v: k for k, v in pack.entities.items()}}
    seen: dict[str, int] = {}
    width = len(header)
    handed = False
    needed = sorted({id_col, *([] if app_col is None else [app_col]), *(y[0] for y in yearly)})
    for numbers, by_column, long_rows in pieces:
        parsed: list[list[Any]] = []
        wrong: dict[int, list[Rejection]] = {}  # position in the piece -> its cells' problems
        for (i, h, _), parser in zip(columns, parsers, strict=True):
            values, bad = parser.column(by_column[i])
            parsed.append(values)
            for k, why in bad:
                wrong.setdefault(k, []).append(Rejection(label, numbers[k], h, why))
        # the cells read row by row: the key, the applicant and the yearly figures
        by_row = {i: _cells(by_column[i]) for i in needed}
        kept: list[int] = []
        rids: list[int] = []
        applicants: list[str | None] = []
        lists: list[dict[str, list[dict[str, Any]]]] = []
        received: list[list[dict[str, Any]]] = []
        for k, n in enumerate(numbers):
            cells = {i: by_row[i][k] for i in needed}
            out.rows_in += 1
            problems: list[Rejection] = []
            if k in long_rows and (extra := beyond_header(label, n, long_rows[k], width)):
                problems.append(extra)
            key = cells[id_col]
            key = "" if key is None else str(key).strip()
            if not key:
                problems.append(Rejection(label, n, header[id_col], "缺少统一社会信用代码"))
            elif key in seen:
                problems.append(
                    Rejection(
                        label, n, header[id_col], f"统一社会信用代码重复（另见第 {seen[key]} 行）"
                    )
                )
            problems += wrong.get(k, ())
            items = _yearly_items(label, n, cells, yearly, pack, problems)
            applicant = None
            if app_col is not None and cells[app_col] not in (None, ""):
                applicant = entities.get(str(cells[app_col]).strip())
                if applicant is None:
                    problems.append(
                        Rejection(
                            label,
                            n,
                            header[app_col],
                            f"应为以下之一：{'、'.join(pack.entities.values())}；"
                            f"而不是 {cells[app_col]!r}",
                        )
                    )
            if problems:
                out.rejections.extend(problems)
                out.rejected_rows.add(n)
                continue
            seen[key] = n
            rid = len(out.ids)
            made: dict[str, list[dict[str, Any]]] = {}
            # the items made from wide columns, for the events file's items of the same year:
            # those may repeat them (same values) but not contradict them
            wide: dict[tuple[str, int], WideItem] | None = (
                {} if ev is not None and ev.wanted(key) else None
            )
            for lname in sorted({lname for lname, _, _ in items}):
                year_field, years = windows[lname]
                for year in years:  # every year of the window: a figure not given is unknown
                    given = items.get((lname, year_field, year), {})
                    item = {year_field: year, **{f: v for f, (v, _) in given.items()}}
                    made.setdefault(lname, []).append(item)
                    if wide is not None:
                        sources = {f: f"登记表第 {n} 行“{h}”列" for f, (_, h) in given.items()}
                        wide[(lname, year)] = WideItem(item, sources)
            paid: list[dict[str, Any]] = []
            if ev is not None and wide is not None:
                ev.apply(key, made, wide, paid)
                out.received += len(paid)
            out.ids.append(key)
            out.rows.append(n)
            kept.append(k)
            rids.append(rid)
            applicants.append(applicant)
            lists.append(made)
            received.append(paid)
        values = _merged(columns, parsed, kept, len(numbers))
        block = Block(rids, applicants, values, lists, received)
        places = block.values.get(PLACE_VARIABLE)
        out.places.extend([None] * len(block) if places is None else _cells(places))
        if sink is None:
            out.records.extend(block.records())
        else:
            sink(block)
            handed = True
    if ev is not None:
        ev.finish()
    if sink is not None and not handed:
        sink(Block([], [], {}, [], []))  # once at least: the tables exist even when empty
    return out


def role_column(
    header: list[str], mapped: dict[str, Target], target: str, names: tuple[str, ...]
) -> int | None:
    """The key (KEY_TARGET, usual names ID_COLUMNS) or applicant column: the one the column
    mapping names, else one by its usual name that the mapping does not take for another."""
    found = [i for i, h in enumerate(header) if h in mapped and mapped[h].name == target]
    found += [i for i, h in enumerate(header) if h not in mapped and h in names]
    return found[0] if found else None


def _row_pieces(
    rows: Iterator[tuple[int, list[Any]]], width: int
) -> Iterator[tuple[list[int], list[Any], dict[int, list[Any]]]]:
    """Numbered rows in pieces of CHUNK_ROWS, as (row numbers, the cells column by column,
    the rows longer than the header by position): cells padded to the header's width."""
    while piece := list(islice(rows, CHUNK_ROWS)):
        cells_of = [
            row
            if len(row) == width and type(row) is list  # a CSV row as it is (not copied)
            else list(row)[:width]
            if len(row) >= width
            else list(row) + [None] * (width - len(row))
            for _, row in piece
        ]
        by_column = list(zip(*cells_of, strict=True)) if cells_of else [()] * width
        long_rows = {k: row for k, (_, row) in enumerate(piece) if len(row) > width}
        yield [n for n, _ in piece], by_column, long_rows


def _indices(positions: list[int]) -> Any:
    import pyarrow as pa

    return pa.array(positions, pa.int64())


def _cells(column: Any) -> list[Any] | tuple[Any, ...]:
    """A column's cells as Python values (an Arrow text column's as strings)."""
    return column if isinstance(column, (list, tuple)) else column.to_pylist()


def _merged(
    columns: list[tuple[int, str, str]],
    parsed: list[Any],
    kept: list[int],
    rows: int,
) -> dict[str, Any]:
    """The kept rows' values per variable (a list, or an Arrow array as `ColumnParser` gave
    it); of two columns read as one variable, the later one's known values win (as a
    record's facts were filled column by column)."""
    out: dict[str, Any] = {}
    for (_, _, var), values in zip(columns, parsed, strict=True):
        if len(kept) < rows:
            values = (
                [values[k] for k in kept]
                if isinstance(values, list)
                else values.take(_indices(kept))  # (an empty list would be typed null)
            )
        if var in out:
            a, b = (v if isinstance(v, list) else v.to_pylist() for v in (out[var], values))
            values = [y if y is not None else x for x, y in zip(a, b, strict=True)]
        out[var] = values
    return out


def _yearly_column(
    header: str,
    by_name: dict[str, list[YearlyField]],
    pack: Pack,
    as_of: date | None,
    notes: list[str],
) -> tuple[YearlyField, int, Decimal | None] | None:
    """The yearly field, year and unit factor of a column, or None (not used: a note says
    why when the name was recognised)."""
    name, factor, year = split_yearly(header)
    if header.strip() in by_name:  # the whole header is a field's name (brackets included)
        name, factor, year = header.strip(), None, None
    targets = by_name.get(name, [])
    if not targets:
        return None
    if len(targets) > 1:
        lists = "、".join(f"“{pack.variables[t.list].label}”" for t in targets)
        notes.append(
            f"「{header}」可对应{lists}中的多个项目，无法确定，未读入；请改用事件文件提供。"
        )
        return None
    target = targets[0]
    var = pack.variables[target.list]
    what = f"“{var.label}”的“{var.fields[target.field].label}”"
    if year is None:
        if as_of is None:
            notes.append(f"「{header}」未注明年度，且未给出评估日期，未读入。")
            return None
        year = as_of.year - 1
        notes.append(f"「{header}」未注明年度，按上年度（{year}年度）读入{what}。")
    else:
        notes.append(f"「{header}」按{year}年度读入{what}。")
    return target, year, factor


def _windows(
    yearly: list[tuple[int, str, YearlyField, int, Decimal | None]],
    pack: Pack,
    as_of: date | None,
    notes: list[str],
) -> dict[str, tuple[str, range]]:
    """The years each yearly list gets an item for (list -> (year field, years)), for every
    enterprise that has any figure of it: YEARS_BACK years up to 上年度 (or the latest year
    in a header), and back to the earliest year in a header.

    A rule sums a year's figure over that year's items, so a year with no item counts as 0:
    with only 上年度 columns, a 前年度 figure would silently be 0 and a “新增部分” the whole
    of 上年度's. An item with the year and no figure makes that year's figure unknown instead."""
    out: dict[str, tuple[str, range]] = {}
    for lname in dict.fromkeys(t.list for _, _, t, _, _ in yearly):
        year_field = next(t.year_field for _, _, t, _, _ in yearly if t.list == lname)
        given = {year for _, _, t, year, _ in yearly if t.list == lname}
        last = max(given | ({as_of.year - 1} if as_of else set()))
        first = min(min(given), last - YEARS_BACK + 1)
        out[lname] = (year_field, range(first, last + 1))
        notes.append(
            f"“{pack.variables[lname].label}”：{first}—{last}年度中登记表没有给出的数值"
            "按不清楚处理（不按零计算），用到这些数值的待遇显示为待确定；可用事件文件补充。"
        )
    return out


def _yearly_items(
    label: str,
    n: int,
    cells: dict[int, Any],
    yearly: list[tuple[int, str, YearlyField, int, Decimal | None]],
    pack: Pack,
    problems: list[Rejection],
) -> dict[tuple[str, str, int], dict[str, tuple[Any, str]]]:
    """One row's yearly figures: (list, year field, year) -> field -> (value, column); two
    columns giving the same year's figure must agree."""
    items: dict[tuple[str, str, int], dict[str, tuple[Any, str]]] = {}
    for i, h, target, year, factor in yearly:
        spec = pack.variables[target.list].fields[target.field]
        value, why = parse_cell(cells[i], spec, factor)
        if why:
            problems.append(Rejection(label, n, h, why))
            continue
        if value is None:
            continue
        given = items.setdefault((target.list, target.year_field, year), {})
        if target.field in given and given[target.field][0] != value:
            other, where = given[target.field]
            problems.append(
                Rejection(
                    label,
                    n,
                    h,
                    f"{year}年度的数值 {_show(value, spec)} 与“{where}”列的 "
                    f"{_show(other, spec)} 不一致",
                )
            )
            continue
        given.setdefault(target.field, (value, h))
    return items


def _show(value: Any, spec: FieldSpec) -> str:
    if spec.type == "money" and isinstance(value, Decimal):
        cents = value.quantize(Decimal("0.01"))
        text = f"{cents:,}"
        return f"{text.removesuffix('.00')} 元"
    return str(value)
