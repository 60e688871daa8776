"""The registry read in pieces (`read_registry(..., sink=...)`, what `huiqi batch` does with
DuckDB): the same records and rejections as reading it whole, from every kind of file, and a
CSV's encoding decided from all of its bytes without holding them."""

from __future__ import annotations

import csv
import io
from collections import deque
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

import huiqi.batch.read as read_module
from huiqi.batch.columns import Block
from huiqi.batch.compile import schema
from huiqi.batch.read import ReadError, open_table, read_registry
from huiqi.batch.tables import block_tables, write_tables
from huiqi.packs.loader import bundled_pack


@cache
def pack():
    return bundled_pack("jiaozuo")


def _label(type_: str) -> str:
    return next(
        v.label
        for v in pack().variables.values()
        if v.type == type_ and not v.derived and v.spec is not None
    )


def _rows() -> list[list[str]]:
    """Seven enterprises, two of them rejected (a bad amount, a repeated code)."""
    header = ["统一社会信用代码", f"{_label('money')}（万元）", _label("bool"), "注册地"]
    body = [
        ["A1", "120.5", "是", "焦作市"],
        ["A2", "", "否", "修武县"],
        ["A3", "十二", "是", ""],  # not a number: rejected
        ["A4", "3", "", "温县"],
        ["A1", "7", "否", ""],  # the code again: rejected
        ["A5", "0", "是", "孟州市"],
        ["A6", "8.25", "否", "焦作市"],
    ]
    return [header, *body]


def _csv(path: Path, rows: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _xlsx(path: Path, rows: list[list[str]]) -> Path:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)
    return path


def _parquet(path: Path, rows: list[list[str]]) -> Path:
    cols = list(zip(*rows[1:], strict=True))
    pq.write_table(pa.table({h: list(c) for h, c in zip(rows[0], cols, strict=True)}), path)
    return path


def _duckdb(path: Path, rows: list[list[str]]) -> Path:
    con = duckdb.connect(str(path))
    cols = list(zip(*rows[1:], strict=True))
    table = pa.table({h: list(c) for h, c in zip(rows[0], cols, strict=True)})
    con.register("t", table)
    con.execute('CREATE TABLE "登记表" AS SELECT * FROM t')
    con.close()
    return path


FILES = {
    "utf-8.csv": lambda p, rows: _csv(p, rows, "utf-8"),
    "bom.csv": lambda p, rows: _csv(p, rows, "utf-8-sig"),
    "gbk.csv": lambda p, rows: _csv(p, rows, "gbk"),
    "gb18030.csv": lambda p, rows: _csv(p, rows, "gb18030"),
    "r.xlsx": _xlsx,
    "r.parquet": _parquet,
    "r.duckdb": _duckdb,
}


@pytest.mark.parametrize("name", sorted(FILES))
def test_pieces_equal_the_whole(tmp_path, monkeypatch, name):
    """Pieces of 2 rows: the 7 rows (2 rejected: rows 4 and 6) give 2 + 1 + 1 + 1 records,
    the same as read whole; the ids, places, rows and rejections are kept either way."""
    path = FILES[name](tmp_path / name, _rows())
    whole = read_registry(path, pack())
    monkeypatch.setattr(read_module, "CHUNK_ROWS", 2)
    monkeypatch.setattr(read_module, "ARROW_ROWS", 2)  # (the Arrow CSV reader's)
    pieces: list[Block] = []
    streamed = read_registry(path, pack(), sink=pieces.append)
    assert [len(p) for p in pieces] == [2, 1, 1, 1]
    assert [r for p in pieces for r in p.records()] == whole.records and not streamed.records
    assert streamed.ids == whole.ids == ["A1", "A2", "A4", "A5", "A6"]
    assert streamed.places == whole.places == ["焦作市", "修武县", "温县", "孟州市", "焦作市"]
    assert streamed.rows == whole.rows == [2, 3, 5, 7, 8]
    assert streamed.rejections == whole.rejections
    assert sorted(whole.rejected_rows) == [4, 6]
    assert streamed.rows_in == whole.rows_in == 7  # rows in = 5 evaluated + 2 rejected


def _written_whole(tmp_path, monkeypatch):
    """The registry CSV, the schema, and a DuckDB with the tables written from the records
    read whole; later reads come in pieces of 2 rows."""
    path = _csv(tmp_path / "r.csv", _rows(), "gbk")
    sch = schema(pack())
    whole = duckdb.connect()
    write_tables(whole, sch, read_registry(path, pack()).records)
    monkeypatch.setattr(read_module, "CHUNK_ROWS", 2)
    monkeypatch.setattr(read_module, "ARROW_ROWS", 2)  # (the Arrow CSV reader's)
    return path, sch, whole


def test_the_tables_written_in_pieces_equal_those_written_whole(tmp_path, monkeypatch):
    path, sch, whole = _written_whole(tmp_path, monkeypatch)
    con = duckdb.connect()
    calls = []

    def sink(block: Block) -> None:
        write_tables(con, sch, block, append=bool(calls))
        calls.append(len(block))

    read_registry(path, pack(), sink=sink)
    assert calls == [2, 1, 1, 1]
    query = "SELECT * FROM registry ORDER BY _rid"
    assert con.execute(query).fetchall() == whole.execute(query).fetchall()


@pytest.mark.parametrize("keep", ["arrow", "duckdb", "switch"])
def test_the_sink_keeps_the_registry_as_arrow_then_as_a_duckdb_table(tmp_path, monkeypatch, keep):
    """DuckDBSink: within its budget the registry stays as Arrow pieces that DuckDB queries
    where they are (a view); beyond it, or with a budget of 0, they go into a DuckDB table
    (which spills to disk); switching halfway loses and repeats nothing. Every way, the same
    registry as written whole, and the same event tables."""
    from huiqi.batch.tables import DuckDBSink

    path, sch, whole = _written_whole(tmp_path, monkeypatch)
    con = duckdb.connect()
    con.execute("CREATE TABLE registry AS SELECT 1 AS stale")  # an earlier run's
    blocks: list[Block] = []
    read_registry(path, pack(), sink=blocks.append)
    sizes = [block_tables(sch, b)["registry"].nbytes for b in blocks]
    budget = {"arrow": 10**9, "duckdb": 0, "switch": sizes[0] + sizes[1]}[keep]
    sink = DuckDBSink(con, sch, keep_bytes=budget)
    read_registry(path, pack(), sink=sink)
    if keep == "switch":  # two pieces kept as Arrow, the third too many
        assert sink.arrow_bytes == sum(sizes[:3])
    assert sink.pieces == 4 and sink.rows == 5
    query = "SELECT * FROM registry ORDER BY _rid"
    assert con.execute(query).fetchall() == whole.execute(query).fetchall()
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert ("registry" in tables) == (keep != "arrow")  # else a view of the Arrow pieces
    assert (sink.arrow is None) == (keep != "arrow")
    for name in sch.events:
        events = f'SELECT * FROM "ev__{name}" ORDER BY ALL'
        assert con.execute(events).fetchall() == whole.execute(events).fetchall()


def test_no_valid_row_still_makes_the_tables(tmp_path):
    """Every row rejected: the sink is called once, with nothing, so the tables exist."""
    rows = [_rows()[0], ["", "1", "是", "焦作市"]]
    got: list[Block] = []
    reg = read_registry(_csv(tmp_path / "r.csv", rows, "utf-8"), pack(), sink=got.append)
    assert [len(b) for b in got] == [0] and reg.rows_in == 1 and reg.rejected_rows == {2}


def test_gbk_after_a_first_megabyte_of_ascii(tmp_path):
    """The first megabyte is plain ASCII (valid UTF-8), a GBK name comes after it: the whole
    file decides, so the name reads right instead of failing half-way."""
    filler = [[f"B{k:07d}", "1"] for k in range(120_000)]
    rows = [["id", "registered_place"], *filler, ["C1", "焦作市"]]
    path = _csv(tmp_path / "r.csv", rows, "gbk")
    data = path.read_bytes()
    assert len(data) > 1 << 20 and data[: 1 << 20].isascii()
    header, it = open_table(path)
    (last,) = deque(it, maxlen=1)
    assert header == ["id", "registered_place"] and last == ["C1", "焦作市"]


@pytest.mark.parametrize("into", [1, 2])
def test_a_utf8_character_across_the_first_megabyte(tmp_path, into):
    """The encoding is decided over the whole file block by block: a Chinese character (three
    bytes in UTF-8) that the end of the first megabyte cuts in two still reads as UTF-8.
    (Reading the second block from the file's start again once failed such files.)"""
    filler = [f"B{k:07d},1\r\n" for k in range(100_000)]
    text = "id,registered_place\r\n" + "".join(filler)
    text = text[: (1 << 20) - 40]  # ASCII: bytes = characters
    text = text[: text.rindex("\n") + 1]
    pad = (1 << 20) - into - len(text) - len("C1,,")  # 焦 starts `into` bytes before
    text += f"C1,{'y' * pad},焦作市\r\n" + "".join(filler[:10])
    path = tmp_path / "r.csv"
    path.write_bytes(text.encode("utf-8"))
    data = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):  # the first megabyte ends inside 焦
        data[: 1 << 20].decode("utf-8")
    header, it = open_table(path)
    rows = list(it)
    assert header == ["id", "registered_place"]
    assert ["C1", "y" * pad, "焦作市"] in rows


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "文件为空"),
        (b"  \r\n\r\n", "文件为空"),
        (b"\x00\x01\x02binary", "不是文本文件"),
        (b"id,x\r\nA1,\x81\x30\x81\x30\xff\xff\xff\r\n", "无法识别文件编码"),
    ],
)
def test_unreadable_csv_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=message) as err:
        open_table(path)
    assert str(path) in str(err.value)


def test_a_repeated_text_is_read_alike_and_equal_values_of_other_types_are_not(tmp_path):
    """Texts a column repeats are parsed once: a bad one is rejected on every row it is on.
    From a spreadsheet, 1 and TRUE are equal in Python but not as cells: an amount of 1 is
    1 元, TRUE in an amount column is rejected."""
    money = next(
        v.label
        for v in pack().variables.values()
        if v.type == "money" and not v.derived and v.spec is not None
    )
    rows = [["统一社会信用代码", money], ["A1", "十二"], ["A2", "十二"], ["A3", 1], ["A4", True]]
    reg = read_registry(_xlsx(tmp_path / "r.xlsx", rows), pack())
    assert sorted(reg.rejected_rows) == [2, 3, 5]
    assert reg.rejections[0].reason == reg.rejections[1].reason
    assert reg.ids == ["A3"] and reg.records[0]["facts"][_name(money)] == 1


def _name(label: str) -> str:
    return next(n for n, v in pack().variables.items() if v.label == label)


def test_an_events_file_is_added_as_the_registry_passes(tmp_path, monkeypatch):
    """With an events file the registry still passes in pieces: each enterprise's events
    (rows in any order in the file) are added as its piece is read. The rejections: the
    registry's first, then the events file's in its own row order, as when both were read
    whole; a list with a rejected row is unknown; a row for a rejected enterprise says so."""
    var = next(
        v
        for v in pack().variables.values()
        if v.type == "events" and not v.derived and "year" in v.fields and len(v.fields) <= 4
    )
    need = [f for f, s in var.fields.items() if not s.optional]

    def cells(year: str) -> list[str]:
        out = []
        for f in need:
            spec = var.fields[f]
            out.append(
                year
                if spec.type == "year"
                else spec.values[0]
                if spec.type == "enum"
                else {"bool": "是", "date": "2018-01-01"}.get(spec.type, "3")
            )
        return out

    header = ["统一社会信用代码", "事件列表", *[var.fields[f].label for f in need]]
    events = [
        header,
        ["A6", var.label, *cells("2018")],  # row 2: the last enterprise first
        ["A3", var.label, *cells("2018")],  # row 3: A3 was rejected
        ["A2", var.label, *cells("2017")],  # row 4
        ["A2", var.label, *cells("1800")],  # row 5: a bad year: A2's list is unknown
        ["A1", var.name],  # row 6: known and empty
        ["ZZ", "没有这个列表"],  # row 7: two problems
        ["A6", var.label, *cells("2017")],  # row 8
    ]
    registry = _csv(tmp_path / "r.csv", _rows(), "utf-8")
    ev = _csv(tmp_path / "e.csv", events, "gbk")
    whole = read_registry(registry, pack(), events=ev)
    monkeypatch.setattr(read_module, "CHUNK_ROWS", 2)
    monkeypatch.setattr(read_module, "ARROW_ROWS", 2)  # (the Arrow CSV reader's)
    pieces: list[Block] = []
    streamed = read_registry(registry, pack(), sink=pieces.append, events=ev)
    assert len(pieces) == 4
    assert [r for p in pieces for r in p.records()] == whole.records
    facts = {k: r["facts"] for k, r in zip(whole.ids, whole.records, strict=True)}
    assert len(facts["A6"][var.name]) == 2 and facts["A1"][var.name] == []
    assert var.name not in facts["A2"] and var.name not in facts["A4"]
    where = [(r.file.endswith("e.csv"), r.row, r.column) for r in streamed.rejections]
    assert where == [
        (False, 4, f"{_label('money')}（万元）"),
        (False, 6, "统一社会信用代码"),
        (True, 3, "统一社会信用代码"),
        (True, 5, var.fields["year"].label),
        (True, 7, "统一社会信用代码"),
        (True, 7, "事件列表"),
    ]
    assert streamed.rejections == whole.rejections
    assert (streamed.events_in, streamed.events_rejected) == (7, 3)


def test_read_ahead_keeps_order_raises_in_the_consumer_and_stops_with_it():
    """`ahead` (Arrow parses the next block while Python reads this one): the items in their
    order; an error in the producing thread raised where the items are consumed, after the
    items before it; a consumer that stops early stops the thread."""
    import itertools
    import threading
    import time

    from huiqi.batch.read import ahead

    before = set(threading.enumerate())
    assert list(ahead(iter(range(100)))) == list(range(100))
    assert list(ahead(iter([]))) == []

    def failing():
        yield from (1, 2, 3)
        raise ReadError("r.csv：无法读取 CSV 文件（…）")

    got = []
    with pytest.raises(ReadError, match="无法读取"):
        for item in ahead(failing()):
            got.append(item)
    assert got == [1, 2, 3]

    made = itertools.count()
    endless = (next(made) for _ in itertools.repeat(None))
    items = ahead(endless, depth=2)
    assert [next(items), next(items)] == [0, 1]
    items.close()
    time.sleep(0.3)  # the thread notices at its next put (it waits 0.1 s at a time)
    produced = next(made)
    time.sleep(0.3)
    assert next(made) == produced + 1  # nothing more was produced meanwhile
    left = [t for t in threading.enumerate() if t not in before and t.name == "huiqi-read-ahead"]
    assert not left


def test_duckdb_spills_beyond_half_the_machines_memory_unless_told_otherwise():
    """By default DuckDB may hold half the machine's memory (not its own 80%: the registry
    kept as Arrow and Python need the rest); `--memory-limit` sets another ceiling."""
    from huiqi.batch.runner import connect, machine_memory

    def limit(con) -> float:  # DuckDB shows the setting as e.g. '11.7 GiB' (cut, not rounded)
        shown = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        number, unit = shown.split()
        return float(number) * {"MiB": 2**20, "GiB": 2**30, "TiB": 2**40}[unit]

    memory = machine_memory()
    assert memory is not None  # (the CI machines are POSIX)
    shown = 0.1 * 2**30
    assert 0 <= memory / 2 - limit(connect()) < shown
    assert 0 <= 3e9 - limit(connect(memory_limit="3GB")) < shown
