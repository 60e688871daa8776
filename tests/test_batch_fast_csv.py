"""Arrow's CSV reader (`read._arrow_csv`) against the row-by-row reader: for random registry
files, with bad cells, blank rows, quotes, units and the usual encodings, both give the
same tables, the same rejections (row, column, reason) and the same counts. Rows narrower or
wider than the header stay with Arrow's reader (it skips them, they are read in place);
a file with control characters or a quoted header goes to the row-by-row reader."""

from __future__ import annotations

import csv
import io
from datetime import date
from functools import cache
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huiqi.batch import read
from huiqi.batch.compile import schema
from huiqi.batch.tables import block_tables
from huiqi.packs.loader import bundled_pack

AS_OF = date(2019, 3, 1)


@cache
def pack():
    return bundled_pack("jiaozuo")


@cache
def columns() -> list[tuple[str, str, tuple[str, ...]]]:
    """(header, type, typical cells) of a few input variables of each type, by label, with
    a unit in the money headers."""
    out = []
    wanted = {"money": 3, "bool": 3, "enum": 2, "integer": 2, "ratio": 1, "date": 1, "year": 1}
    for _name, var in pack().variables.items():
        t = var.type
        if var.derived or var.spec is None or not wanted.get(t):
            continue
        wanted[t] -= 1
        header = f"{var.label}（万元）" if t == "money" and wanted[t] == 1 else var.label
        typical = {
            "money": ["120.5", "0", "3", "1,000", "12.345", "-5", "一百", "1e3"],
            "bool": ["是", "否", "TRUE", "0", "也许"],
            "enum": [*(var.spec.values or [])[:3], "不存在的选项"],
            "integer": ["3", "2.5", "-1", "007", "十"],
            "ratio": ["0.15", "15%", "2", "x"],
            "date": ["2018-05-01", "2018/5/1", "2018-13-01", "昨天"],
            "year": ["2018", "1800", "二〇一八"],
        }[t]
        out.append((header, t, tuple(typical)))
    return out


def _of(type_: str) -> str:
    """The header of the first column of a type."""
    return next(h for h, t, _ in columns() if t == type_)


junk = st.sampled_from(["", " ", "\u3000", "  12 ", '引"号', "逗,号", "换\n行", "a\r\nb"])


@st.composite
def registries(draw) -> tuple[list[list[str]], str]:
    cols = draw(st.lists(st.sampled_from(columns()), min_size=1, max_size=8, unique=True))
    header = ["统一社会信用代码", "申请主体", *(h for h, _, _ in cols)]
    rows = [header]
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 15)) == 0:  # a blank row
            rows.append(draw(st.sampled_from([[], [""] * len(header), [" "] * len(header)])))
            continue
        key = draw(st.sampled_from(["91410800A", "91410800B", "91410800C", "", "91410800D"]))
        key = key + str(draw(st.integers(0, 30))) if key else key
        applicant = draw(st.sampled_from(["", "企业", "外星人"]))
        cells = [draw(st.one_of(st.sampled_from(typical), junk)) for _, _, typical in cols]
        row = [key, applicant, *cells]
        if draw(st.integers(0, 9)) == 0:  # narrower or wider than the header
            cut = draw(st.integers(0, len(row) - 1))
            row = row[:cut] + draw(st.lists(st.one_of(junk, st.just("多")), max_size=3))
        rows.append(row)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "gbk"]))
    return rows, encoding


def _write(path: Path, rows: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _read(path: Path, fast: bool, monkeypatch) -> tuple:
    monkeypatch.setattr(read, "FAST_CSV", fast)
    sch = schema(pack())
    pieces: dict[str, list[pa.Table]] = {}

    def sink(block) -> None:
        for name, table in block_tables(sch, block).items():
            pieces.setdefault(name, []).append(table)

    reg = read.read_registry(path, pack(), as_of=AS_OF, sink=sink)
    tables = {n: pa.concat_tables(t).to_pylist() for n, t in pieces.items()}
    return tables, [str(r) for r in reg.rejections], reg.rows_in, reg.rows, reg.ids, reg.notes


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(registries())
def test_arrow_reader_reads_as_the_row_by_row_reader(tmp_path, monkeypatch, case):
    rows, encoding = case
    path = _write(tmp_path / "r.csv", rows, encoding)
    assert _read(path, True, monkeypatch) == _read(path, False, monkeypatch)


def test_regular_files_take_arrows_reader_and_irregular_ones_do_not(tmp_path):
    """The comparison above is not between one reader and itself: a file with quoted
    cells, blank rows, GBK, rows wider or narrower than the header goes to Arrow's reader;
    a control character and a quoted header go to the row-by-row one."""
    header = ["统一社会信用代码", _of("money"), _of("bool")]
    regular = [header, ["A1", "1,000", "是"], [], ["A2", "换\n行", ""], ["A3", "1"], ["A4"] * 4]
    assert read._arrow_csv_or_encoding(_write(tmp_path / "a.csv", regular, "gbk"))[0]
    irregular = {
        "control": [header, ["A1", "1\x07", "是"]],
        "quoted header": [[*header[:2], "换\n行"], ["A1", "1", "是"]],
    }
    for what, rows in irregular.items():
        path = _write(tmp_path / "b.csv", rows, "utf-8")
        assert read._arrow_csv_or_encoding(path) == (None, "utf-8"), what


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_a_registry_of_many_pieces_reads_alike(tmp_path, monkeypatch, encoding):
    """Several of Arrow's blocks (a small block size here): row numbers run on across the
    pieces, and a bad cell in the third piece is reported on its row."""
    rows = [["统一社会信用代码", _of("money"), _of("bool")]]
    rows += [[f"K{k}", str(k % 997), "是" if k % 3 else "否"] for k in range(3_000)]
    rows[2_500][1] = "很多"  # file row 2,501
    path = _write(tmp_path / "r.csv", rows, encoding)
    monkeypatch.setattr(read, "ARROW_BLOCK", 16 << 10)
    fast = _read(path, True, monkeypatch)
    assert fast == _read(path, False, monkeypatch)
    (only,) = fast[1]
    assert "第 2501 行" in only and "很多" in only and fast[2] == 3_000


@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_rows_of_another_width_are_read_in_place_across_pieces(tmp_path, monkeypatch, encoding):
    """Arrow skips a row that is not of the header's width; it is read in its place: the
    first row, rows on either side of a block's seam, a run of them, one spanning lines in
    quotes, a blank one and the last row. Row numbers, order (the first of two equal keys
    is kept), rejections and counts are those of the row-by-row reader."""
    rows = [["统一社会信用代码", _of("money"), _of("bool")]]
    rows += [[f"K{k}", str(k % 997), "是" if k % 3 else "否"] for k in range(3_000)]
    rows[1] = ["K0", "5"]  # file row 2: narrower, accepted (its yes/no unknown)
    rows[700] = ["K699", "1", "是", "", " "]  # wider with blank cells: accepted
    rows[701] = ["K700", "1", "是", "多"]  # wider, a cell beyond the header: rejected
    rows[702:705] = [["K701"], ["", ""], ["K703", '换\n"行"']]  # a run; a blank row
    rows[1_200] = ["K5", "7"]  # a duplicate key, after the first K5
    rows[-1] = ["K2999", "很多"]  # the last row: a bad figure
    path = _write(tmp_path / "r.csv", rows, encoding)
    monkeypatch.setattr(read, "ARROW_BLOCK", 16 << 10)
    assert read._arrow_csv_or_encoding(path)[0] is not None
    fast = _read(path, True, monkeypatch)
    assert fast == _read(path, False, monkeypatch)
    rejections = fast[1]
    assert any("第 702 行" in r and "第 4 列" in r for r in rejections)
    assert any("第 1201 行" in r and "重复" in r for r in rejections)
    assert any("第 3001 行" in r and "很多" in r for r in rejections)
    assert len(rejections) == 4  # the three above and K703's figure '换\n"行"'
    assert fast[2] == 2_999  # rows in: 3,000 less the blank one
    assert len(fast[3]) == 2_995  # read: less the four rejected


def test_rows_of_another_width_everywhere_do_not_split_the_pieces(tmp_path, monkeypatch):
    """A file whose rows with an empty last cell are short (as some programs write them)
    has skipped rows everywhere: they go into the pieces of the rows around them, so the
    file is handed on in as many pieces as the same file with every row whole."""
    header = ["统一社会信用代码", _of("money"), _of("bool")]
    whole = [header] + [[f"K{k}", str(k), "是" if k % 4 else ""] for k in range(8_000)]
    short = [header] + [row[:2] if row[2] == "" else row for row in whole[1:]]
    monkeypatch.setattr(read, "ARROW_BLOCK", 16 << 10)

    def pieces(rows) -> tuple[int, tuple]:
        path = _write(tmp_path / "r.csv", rows, "utf-8")
        handed = []
        reg = read.read_registry(path, pack(), as_of=AS_OF, sink=handed.append)
        return len(handed), (reg.rows_in, reg.ids, [str(r) for r in reg.rejections])

    n_whole, read_whole = pieces(whole)
    n_short, read_short = pieces(short)
    assert n_whole >= 5 and n_short == n_whole
    assert read_short == read_whole  # (an empty cell and a missing one are both unknown)


@pytest.mark.parametrize("fast", [True, False])
def test_a_piece_whose_rows_are_all_rejected(tmp_path, monkeypatch, fast):
    """Seventy rows, every one without its key: a money column of that many cells is parsed
    as an Arrow array, and keeping none of its rows once failed (an empty list of positions
    is typed null in Arrow). Now every row is rejected, and the tables exist, empty."""
    rows = [["统一社会信用代码", _of("money")], *([["", str(k)] for k in range(70)])]
    tables, rejections, rows_in, kept, *_ = _read(
        _write(tmp_path / "r.csv", rows, "utf-8"), fast, monkeypatch
    )
    assert rows_in == 70 and len(rejections) == 70 and kept == [] and tables["registry"] == []
    assert all("缺少统一社会信用代码" in r for r in rejections)
