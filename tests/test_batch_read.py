"""The registry reader of `huiqi batch`: encodings, label headers, units, every rejection
reason with its row and column, and rows in = rows evaluated + rows rejected."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.batch.read import ReadError, read_registry, split_header
from huiqi.packs.loader import bundled_pack


@cache
def pack():
    return bundled_pack("jiaozuo")


def _pick(type_: str) -> tuple[str, str]:
    """(name, label) of the first input variable of a type, from the pack's metadata."""
    for name, var in pack().variables.items():
        plain = var.type == type_ and not var.derived and var.spec is not None
        if plain and (type_ != "integer" or var.spec.max is None):
            return name, var.label
    raise AssertionError(type_)


def _batch(*args: str):
    """`huiqi batch ARGS` through the CLI runner."""
    from huiqi.cli import app

    return CliRunner().invoke(app, ["batch", *args])


def _write(path: Path, rows: list[list[str]], encoding: str) -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_encodings_labels_and_units(tmp_path, encoding):
    money, money_label = _pick("money")
    flag, flag_label = _pick("bool")
    ratio, ratio_label = _pick("ratio")
    rows = [
        ["统一社会信用代码", f"{money_label}（万元）", flag_label, f"{ratio_label}(%)", ratio],
        ["A1", "120.5", "是", "15", ""],
        ["A2", "0.01", "否", "", "0.5"],
    ]
    # the ratio is given twice for A1's column set; the plain-name column is read too
    reg = read_registry(_write(tmp_path / "r.csv", rows, encoding), pack())
    assert reg.rows_in == 2 and not reg.rejections
    a1, a2 = (r["facts"] for r in reg.records)
    assert a1[money] == Decimal("1205000")  # 120.5万元, by hand
    assert a1[flag] is True and a2[flag] is False
    assert a1[ratio] == Decimal("0.15")  # 15%
    assert a2[money] == Decimal("100")  # 0.01万元 = 100元
    assert a2[ratio] == Decimal("0.5")
    assert reg.ids == ["A1", "A2"]


def test_split_header():
    assert split_header("营业收入（万元）") == ("营业收入", Decimal(10000))
    assert split_header("营业收入(亿元)") == ("营业收入", Decimal(100000000))
    assert split_header("增长率%") == ("增长率", Decimal("0.01"))
    assert split_header("营业收入") == ("营业收入", None)


def test_every_rejection_reason_with_row_and_column(tmp_path):
    _money, money_label = _pick("money")
    _count, count_label = _pick("integer")
    enum = next(
        n for n, v in pack().variables.items() if v.type == "enum" and not v.derived and v.spec
    )
    rows = [
        ["统一社会信用代码", money_label, count_label, enum, "申请主体"],
        ["B1", "100", "3", pack().variables[enum].spec.values[0], "企业"],  # row 2: fine
        ["B2", "一百", "", "", ""],  # row 3: wrong type
        ["B3", "-5", "", "", ""],  # row 4: out of bounds
        ["B4", "", "", "不存在的选项", ""],  # row 5: unknown enum value
        ["B5", "", "2.5", "", ""],  # row 6: not an integer
        ["", "1", "", "", ""],  # row 7: no key
        ["B1", "1", "", "", ""],  # row 8: duplicate key
        ["B6", "", "", "", "外星人"],  # row 9: unknown applicant
    ]
    reg = read_registry(_write(tmp_path / "r.csv", rows, "utf-8"), pack())
    where = {(r.row, r.column) for r in reg.rejections}
    assert where == {
        (3, money_label),
        (4, money_label),
        (5, enum),
        (6, count_label),
        (7, "统一社会信用代码"),
        (8, "统一社会信用代码"),
        (9, "申请主体"),
    }
    text = {r.row: str(r) for r in reg.rejections}
    assert "第 4 行" in text[4] and "小于下限" in text[4]
    assert "r.csv" in text[3]
    assert reg.rows_in == 8 == len(reg.records) + len(reg.rejected_rows)
    assert reg.records[0]["applicant"] == "enterprise"


def test_blank_rows_are_counted_in_row_numbers_but_not_read(tmp_path):
    """A blank line before the header, a blank line and a line of commas between rows: the
    rows keep the numbers a spreadsheet shows them under (numbering once skipped the blank
    rows, so every rejection after one named the row above it)."""
    _money, money_label = _pick("money")
    text = f"\n统一社会信用代码,{money_label}\n\nD1,100\n , \nD2,一百\n"
    path = tmp_path / "r.csv"
    path.write_text(text, encoding="utf-8")
    reg = read_registry(path, pack())
    # row 1 blank, header row 2, row 3 blank, D1 row 4, row 5 blank cells, D2 row 6
    assert [(r.row, r.column) for r in reg.rejections] == [(6, money_label)]
    assert reg.rows == [4] and reg.rows_in == 2

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", money_label])
    ws.append([None, None])  # row 2: an empty row of the sheet
    ws.append(["D1", "一百"])  # row 3
    ws.append(["  ", None])  # row 4: a cell of spaces only
    wb.save(tmp_path / "r.xlsx")
    reg = read_registry(tmp_path / "r.xlsx", pack())
    assert [(r.row, r.column) for r in reg.rejections] == [(3, money_label)]
    assert reg.rows_in == 1


def test_cells_beyond_the_header_reject_the_row(tmp_path):
    """A row with more cells than the header (a comma too many in one row) cannot say which
    column its figures belong to: it is rejected, naming the first cell beyond the header;
    empty trailing cells, as spreadsheets write them, are fine."""
    money, money_label = _pick("money")
    path = tmp_path / "r.csv"
    path.write_text(f"统一社会信用代码,{money_label}\nE1,100,,\nE2,1,000\nE3,5\n", encoding="utf-8")
    reg = read_registry(path, pack())
    (bad,) = reg.rejections
    assert (bad.row, bad.column) == (3, "第 3 列") and "多于表头的 2 列" in bad.reason
    assert [r["facts"] for r in reg.records] == [{money: Decimal(100)}, {money: Decimal(5)}]
    assert reg.rows_in == 3 == len(reg.records) + len(reg.rejected_rows)


def test_cli_batch_makes_the_result_folder_or_says_why_it_cannot(tmp_path):
    """A result in a folder that does not exist yet: the folder is made (it once ended a
    finished run with a traceback, the work lost). A file where the folder should be: a
    clear error before anything is read."""
    _write(tmp_path / "r.csv", [["id"], ["F1"]], "utf-8")
    out = tmp_path / "new" / "deeper" / "result.csv"
    got = _batch(str(tmp_path / "r.csv"), "--as-of", "2019-03-01", "--out", str(out))
    assert got.exit_code == 0, got.output
    assert out.is_file() and "读入 1 = 评估 1 + 拒绝 0" in got.output
    (tmp_path / "taken").write_text("not a folder")
    out = tmp_path / "taken" / "result.csv"
    got = _batch(str(tmp_path / "r.csv"), "--as-of", "2019-03-01", "--out", str(out))
    said = "".join(got.output.split())  # (the terminal wraps lines)
    assert got.exit_code == 2 and "无法建立结果文件夹（路径上已有同名文件）" in said
    assert "Traceback" not in said


def test_events_file(tmp_path):
    var = next(v for v in pack().variables.values() if v.type == "events" and not v.derived)
    required = [f for f, s in var.fields.items() if not s.optional]
    _write(tmp_path / "r.csv", [["id"], ["C1"], ["C2"], ["C3"]], "utf-8")

    def value(spec):
        return {
            "bool": "是",
            "enum": spec.values[0] if spec.values else "",
            "year": "2018",
            "integer": "3",
            "money": "10",
            "ratio": "0.1",
            "date": "2018-01-01",
        }[spec.type]

    header = ["id", "事件列表", *[var.fields[f].label for f in required]]
    good = ["C1", var.label, *[value(var.fields[f]) for f in required]]
    empty = ["C2", var.name] + [""] * len(required)
    unknown_ent = ["ZZ", var.name, *[value(var.fields[f]) for f in required]]
    _write(tmp_path / "e.csv", [header, good, empty, unknown_ent], "utf-8")
    reg = read_registry(tmp_path / "r.csv", pack(), events=tmp_path / "e.csv")
    facts = [r["facts"] for r in reg.records]
    assert len(facts[0][var.name]) == 1  # one event
    assert facts[1][var.name] == []  # known, empty
    assert var.name not in facts[2]  # unknown
    assert [(r.row, r.column) for r in reg.rejections] == [(4, "id")]
    assert reg.events_in == 3 and reg.events_rejected == 1


def test_events_repeating_a_text_are_each_read_and_each_rejected(tmp_path):
    """A column's texts are parsed once each and remembered (a list's kinds and years repeat
    over many rows): a text repeated on several rows is accepted, or rejected with its own
    row, on every one of them, and a text that differs only by a space reads the same."""
    var = pack().variables["certifications"]
    _write(tmp_path / "r.csv", [["id"], ["C1"], ["C2"], ["C3"], ["C4"]], "utf-8")
    header = ["id", "事件列表", var.fields["kind"].label, var.fields["year"].label]
    rows = [
        ["C1", var.label, "省创新龙头企业", "2018"],
        ["C2", var.label, "省创新龙头企业", "二〇一八"],
        ["C3", var.label, "省创新龙头企业", " 2018 "],
        ["C4", var.label, "省创新龙头企业", "二〇一八"],
    ]
    _write(tmp_path / "e.csv", [header, *rows], "utf-8")
    reg = read_registry(tmp_path / "r.csv", pack(), events=tmp_path / "e.csv")
    lists = {
        key: r["facts"].get("certifications") for key, r in zip(reg.ids, reg.records, strict=True)
    }
    event = {"kind": "省创新龙头企业", "year": 2018}
    assert lists == {"C1": [event], "C2": None, "C3": [event], "C4": None}
    year = var.fields["year"].label
    assert [(r.row, r.column) for r in reg.rejections] == [(3, year), (5, year)]
    assert reg.rejections[0].reason == reg.rejections[1].reason
    assert reg.events_in == 4 and reg.events_rejected == 2


def test_cli_batch_counts_and_writes(tmp_path):

    _money, money_label = _pick("money")
    _write(
        tmp_path / "r.csv",
        [["统一社会信用代码", f"{money_label}（万元）"], ["D1", "3"], ["D2", "x"], ["D3", ""]],
        "gbk",
    )
    out = tmp_path / "out.parquet"
    result = _batch(
        str(tmp_path / "r.csv"), "--as-of", "2019-03-01", "--out", str(out), "--pack", "jiaozuo"
    )
    assert result.exit_code == 0, result.output
    assert "读入 3 = 评估 2 + 拒绝 1" in result.output
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == 2 * len(pack().compiled)
    assert set(table.column("统一社会信用代码").to_pylist()) == {"D1", "D3"}
    assert (tmp_path / "out.rules.parquet").exists() and (
        tmp_path / "out.documents.parquet"
    ).exists()


def test_cli_batch_summary_shows_each_document_on_one_line_in_wan_yuan(tmp_path, monkeypatch):
    """The terminal's summary by document: amounts in 万元 (display only), a row per document
    however long its title (one with a space once wrapped into a second row of blanks), the
    figures whole in a narrow terminal. 《焦作市科技创新奖励资金管理暂行办法》第六条: “新认定
    （备案）的省创新龙头企业……分别奖励50万元”: K1, registered in 焦作市 with its own legal
    personality and a 2018 recognition, is certain to get 500,000 元 = 50.00 万元 from it."""
    from rich.console import Console

    monkeypatch.setattr("huiqi.cli.batch.console", Console(width=100))
    registry = _write(
        tmp_path / "r.csv",
        [
            ["统一社会信用代码", "注册地", "具有独立法人资格", "弄虚作假或重复申报"],
            ["K1", "焦作市", "是", "否"],
        ],
        "utf-8",
    )
    events = _write(
        tmp_path / "e.csv",
        [
            ["统一社会信用代码", "事件列表", "认定类别", "认定（备案、入库）年度"],
            ["K1", "企业认定（备案）记录", "省创新龙头企业", "2018"],
        ],
        "utf-8",
    )
    args = ["--events", str(events), "--as-of", "2019-03-01", "--pack", "jiaozuo"]
    result = _batch(str(registry), *args, "--out", str(tmp_path / "o.csv"), "--forecast-only")
    assert result.exit_code == 0, result.output
    table = result.output.split("按文件测算")[1].split("结果：")[0]
    assert "确定金额（万元）" in table
    rows = [line for line in table.splitlines() if line.startswith("│")]
    kjjl = [r for r in rows if "焦作市科技创新奖" in r]
    assert len(kjjl) == 1 and "50.00" in kjjl[0].split("│")[4]
    # every row names its document and ends with its figures: no row of blanks
    for row in rows:
        cells = [c.strip() for c in row.split("│")[1:-1]]
        assert len(cells) == 6 and all(cells[:5]), row
    assert all(len(line) <= 100 for line in table.splitlines())


def test_xlsx_and_parquet_inputs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from openpyxl import Workbook

    money, money_label = _pick("money")
    flag, flag_label = _pick("bool")
    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", f"{money_label}（万元）", flag_label])
    ws.append(["X1", 120.5, True])
    ws.append(["X2", "很多", None])  # row 3: wrong type
    wb.save(tmp_path / "r.xlsx")
    reg = read_registry(tmp_path / "r.xlsx", pack())
    assert reg.records[0]["facts"] == {money: Decimal("1205000"), flag: True}
    assert [(r.row, r.column) for r in reg.rejections] == [(3, f"{money_label}（万元）")]

    table = pa.table({"id": ["P1", "P2"], money: [Decimal("12.34"), None], flag: [False, None]})
    pq.write_table(table, tmp_path / "r.parquet")
    reg = read_registry(tmp_path / "r.parquet", pack())
    assert [r["facts"] for r in reg.records] == [{money: Decimal("12.34"), flag: False}, {}]


def test_benefits_already_received_from_the_events_file(tmp_path):
    """A list of its own in the events file: rule (id or title), amount, year, key. For
    jz.gxq.startup_grant, 焦政办〔2017〕63号 二10: “依据其投入情况，市财政、焦作高新区财政可
    给予一次性不超过10万元的创业补助” (一次性: group gxq_startup_grant, policy once), an
    enterprise that already received it gets nothing more; one that did not keeps the range
    up to 100,000 元."""
    title = "科技人员创办小微科技企业一次性创业补助（不超过10万元）"
    registry = _write(
        tmp_path / "r.csv",
        [
            [
                "统一社会信用代码",
                "注册地",
                "与焦作高新区的关系",
                "科技人员创办的科技企业",
                "企业规模",
            ],
            ["G1", "焦作市", "在焦作高新区内", "是", "小型"],
            ["G2", "焦作市", "在焦作高新区内", "是", "微型"],
        ],
        "gbk",
    )
    events = _write(
        tmp_path / "e.csv",
        [
            ["统一社会信用代码", "事件列表", "政策事项", "金额（万元）", "年度"],
            ["G1", "已享受的奖补", title, "8", "2018"],
            ["G2", "已享受的奖补", "没有这项政策", "8", "2018"],  # unknown: rejected
            ["G2", "已享受的奖补", title, "", "2018"],  # no amount: rejected
        ],
        "gbk",
    )
    reg = read_registry(registry, pack(), events=events)
    assert reg.records[0]["received"] == [
        {"rule": "jz.gxq.startup_grant", "amount": Decimal("80000"), "year": 2018, "key": None}
    ]
    assert "received" not in reg.records[1]
    assert [(r.row, r.column) for r in reg.rejections] == [(3, "政策事项"), (4, "金额（万元）")]
    assert reg.events_in == 3 and reg.events_rejected == 2

    out = tmp_path / "out.csv"
    result = _batch(
        str(registry),
        "--events",
        str(events),
        "--as-of",
        "2019-03-01",
        "--out",
        str(out),
        "--pack",
        "jiaozuo",
    )
    assert result.exit_code == 0, result.output
    assert "事件行：读入 3 = 采用 1 + 拒绝 2" in result.output
    with out.open(encoding="utf-8-sig") as fh:
        rows = [r for r in csv.DictReader(fh) if r["规则编号"] == "jz.gxq.startup_grant"]
    got = {
        r["统一社会信用代码"]: (r["结论"], r["评审区间上限（元）"], r["因叠加规定不另行发放"])
        for r in rows
    }
    assert got == {
        "G1": ("符合", "0.00", "是"),  # 一次性: received in 2018, set aside
        "G2": ("符合", "100000.00", "否"),  # 不超过10万元
    }


def test_registry_and_events_as_tables_of_a_duckdb_file(tmp_path):
    """INPUT and --events may be tables of a DuckDB database file (file:table, or the file
    alone when it holds one table); an unknown table is an error listing the tables."""
    import duckdb

    db = tmp_path / "登记库.duckdb"
    con = duckdb.connect(str(db))
    con.execute(
        'CREATE TABLE registry ("统一社会信用代码" VARCHAR, "注册地" VARCHAR, '
        '"与焦作高新区的关系" VARCHAR, "科技人员创办的科技企业" BOOLEAN, "企业规模" VARCHAR)'
    )
    con.execute(
        "INSERT INTO registry VALUES ('D1', '焦作市', '在焦作高新区内', TRUE, '小型'), "
        "('D2', '焦作市', '在焦作高新区内', TRUE, '特大型')"
    )
    con.execute(
        'CREATE TABLE paid ("统一社会信用代码" VARCHAR, "事件列表" VARCHAR, "规则编号" VARCHAR,'
        ' "金额（万元）" DECIMAL(10, 2), "年度" INTEGER)'
    )
    con.execute("INSERT INTO paid VALUES ('D1', '已享受的奖补', 'jz.gxq.startup_grant', 8, 2018)")
    con.close()

    reg = read_registry(Path(f"{db}:main.registry"), pack())
    assert reg.ids == ["D1"] and reg.rows_in == 2 and reg.rejected_rows == {3}
    assert [(r.row, r.column) for r in reg.rejections] == [(3, "企业规模")]  # 特大型
    with pytest.raises(ReadError, match=r"库中没有这张表.*main\.paid、main\.registry"):
        read_registry(Path(f"{db}:nope"), pack())
    with pytest.raises(ReadError, match="请用“文件:表名”指明"):
        read_registry(db, pack())

    out = tmp_path / "out.csv"
    result = _batch(
        f"{db}:registry",
        "--events",
        f"{db}:paid",
        "--as-of",
        "2019-03-01",
        "--out",
        str(out),
        "--pack",
        "jiaozuo",
        "--no-html",
    )
    assert result.exit_code == 0, result.output
    assert "读入 2 = 评估 1 + 拒绝 1" in " ".join(result.output.split())
    with out.open(encoding="utf-8-sig") as fh:
        row = next(r for r in csv.DictReader(fh) if r["规则编号"] == "jz.gxq.startup_grant")
    # 焦政办〔2017〕63号 二10 “一次性不超过10万元”: received in 2018, so set aside
    got = (
        row["统一社会信用代码"],
        row["结论"],
        row["评审区间上限（元）"],
        row["因叠加规定不另行发放"],
    )
    assert got == ("D1", "符合", "0.00", "是")
