"""Yearly figures in a registry's wide columns (主营业务收入（万元）, 2019年研发费用（万元）,
研发费用_2019) read into the yearly event list 分年度经营数据 (annual_results): one item per
enterprise and year, the year from the header or 上年度 of the evaluation date, merged with an
events file, and evaluated end to end by `huiqi batch`."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from typer.testing import CliRunner

from huiqi.batch.read import read_registry, split_yearly
from huiqi.packs.loader import bundled_pack

AS_OF = date(2021, 3, 1)  # 上年度 = 2020, 前年度 = 2019
RULE = "jz.wz2020.rd_increase_subsidy"


@cache
def pack():
    return bundled_pack("jiaozuo")


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def _years(record: dict, window: range = range(2011, 2021)) -> dict[int, dict]:
    """The figures given, by year; every year of the window has an item (one), the years
    without a figure an empty one (unknown figures, not zeros)."""
    items = record["facts"]["annual_results"]
    assert [i["year"] for i in items] == list(window)
    return {i["year"]: v for i in items if (v := {k: x for k, x in i.items() if k != "year"})}


def test_year_and_unit_in_headers():
    assert split_yearly("2017年主营业务收入（万元）") == ("主营业务收入", Decimal(10000), 2017)
    assert split_yearly("2018年度研发费用(万元)") == ("研发费用", Decimal(10000), 2018)
    assert split_yearly("主营业务收入_2018") == ("主营业务收入", None, 2018)
    assert split_yearly("主营业务收入_2018（亿元）") == ("主营业务收入", Decimal(10**8), 2018)
    assert split_yearly("研发费用（万元）_2019") == ("研发费用", Decimal(10000), 2019)
    assert split_yearly("研发费用（2019年）") == ("研发费用", None, 2019)
    assert split_yearly("主营业务收入（万元）") == ("主营业务收入", Decimal(10000), None)
    assert split_yearly("职工人数") == ("职工人数", None, None)


REGISTRY = [
    [
        "统一社会信用代码",
        "注册地",
        "重点工业企业",
        "研发费用（万元）",  # no year: 上年度 (2020)
        "2019年研发费用（万元）",
        "主营业务收入_2019（亿元）",
        "利润总额（万元）",  # no variable or field: not used
    ],
    ["A1", "山阳区", "是", "3500", "3000", "5.2", "80"],
    ["A2", "山阳区", "是", "", "", "", ""],  # no yearly figure: the list stays unknown
    ["A3", "山阳区", "是", "三千五百", "3000", "", ""],  # row 4: not a number
    ["A4", "山阳区", "是", "0.01", "", "", ""],
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_wide_columns_become_yearly_items(tmp_path, encoding):
    reg = read_registry(_csv(tmp_path / "r.csv", REGISTRY, encoding), pack(), as_of=AS_OF)
    a1, a2, a4 = reg.records
    # 3500万元 = 35,000,000 元 for 2020; 3000万元 and 5.2亿元 = 520,000,000 元 for 2019
    assert _years(a1) == {
        2019: {"rd_expense": Decimal(30_000_000), "revenue": Decimal(520_000_000)},
        2020: {"rd_expense": Decimal(35_000_000)},
    }
    assert "annual_results" not in a2["facts"]
    assert _years(a4) == {2020: {"rd_expense": Decimal(100)}}  # 0.01万元 = 100 元
    assert [(r.row, r.column) for r in reg.rejections] == [(4, "研发费用（万元）")]
    assert "三千五百" in reg.rejections[0].reason
    assert reg.rows_in == 4 == len(reg.records) + len(reg.rejected_rows)
    assert reg.ignored_columns == ["利润总额（万元）"]
    assert any("「研发费用（万元）」未注明年度，按上年度（2020年度）读入" in n for n in reg.notes)
    assert any("「2019年研发费用（万元）」按2019年度读入" in n for n in reg.notes)
    assert any("2011—2020年度中登记表没有给出的数值按不清楚处理" in n for n in reg.notes)


def test_without_evaluation_date_a_yearless_column_is_not_guessed(tmp_path):
    reg = read_registry(_csv(tmp_path / "r.csv", REGISTRY[:2]), pack())
    assert _years(reg.records[0], range(2010, 2020)) == {
        2019: {"rd_expense": Decimal(30_000_000), "revenue": Decimal(520_000_000)}
    }
    assert any("「研发费用（万元）」未注明年度" in n and "未读入" in n for n in reg.notes)


def test_xlsx_numbers_and_two_columns_for_one_year(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["统一社会信用代码", "研发费用（万元）", "2020年研发费用（万元）", "营业收入2020"])
    ws.append(["X1", 3500.5, 3500.5, 1234567.89])  # the same 2020 figure twice: fine
    ws.append(["X2", 3500, 3600, None])  # row 3: two different 2020 figures
    wb.save(tmp_path / "r.xlsx")
    reg = read_registry(tmp_path / "r.xlsx", pack(), as_of=AS_OF)
    # 3500.5万元 = 35,005,000 元 exactly; 营业收入2020 has no unit: 元
    assert _years(reg.records[0]) == {
        2020: {"rd_expense": Decimal(35_005_000), "revenue": Decimal("1234567.89")}
    }
    assert [(r.row, r.column) for r in reg.rejections] == [(3, "2020年研发费用（万元）")]
    assert (
        reg.rejections[0].reason
        == "2020年度的数值 36,000,000 元 与“研发费用（万元）”列的 35,000,000 元 不一致"
    )
    assert reg.rows_in == 2 == len(reg.records) + len(reg.rejected_rows)


EVENTS = [
    ["统一社会信用代码", "事件列表", "年度", "研发费用（万元）", "入库税收地方留成部分（万元）"],
    ["A1", "分年度经营数据", "2020", "3500", "12"],  # row 2: same 2020 figure, one more field
    ["A4", "分年度经营数据", "2020", "3600", ""],  # row 3: contradicts 0.01万元 (registry row 5)
    ["A2", "分年度经营数据", "2020", "3800", ""],  # rows 4–5: only in the events file
    ["A2", "分年度经营数据", "2019", "3000", ""],
]


def test_events_file_merges_with_wide_columns(tmp_path):
    events = _csv(tmp_path / "e.csv", EVENTS)
    reg = read_registry(_csv(tmp_path / "r.csv", REGISTRY), pack(), as_of=AS_OF, events=events)
    a1, a2, a4 = reg.records
    assert _years(a1)[2020] == {"rd_expense": Decimal(35_000_000), "local_tax_retained": 120_000}
    assert a2["facts"]["annual_results"] == [  # from the events file only: as given
        {"year": 2020, "rd_expense": Decimal(38_000_000)},
        {"year": 2019, "rd_expense": Decimal(30_000_000)},
    ]
    assert "annual_results" not in a4["facts"]  # contradicted: unknown, not either figure
    conflict = [r for r in reg.rejections if r.file.endswith("e.csv")]
    assert [(r.row, r.column) for r in conflict] == [(3, "研发费用（万元）")]
    assert (
        "2020年度的数值 36,000,000 元 与登记表第 5 行“研发费用（万元）”列的 100 元 不一致"
        in conflict[0].reason
    )
    assert reg.events_in == 4 and reg.events_rejected == 1


def test_cli_batch_evaluates_a_rule_reading_annual_results(tmp_path):
    """《关于促进工业经济平稳健康发展的若干政策措施》（焦发〔2020〕17号）一2：“对年度研发投入
    达到 3000 万元以上的重点企业，按照当年研发费用新增部分，给予 20% 补助（依据上年度经税务
    部门申报享受的税前加计扣除费用），每年不超过 200 万元。” Evaluated on 2021-03-01:
    上年度 2020 against 2019."""
    from huiqi.cli import app

    registry = [
        *REGISTRY,
        ["A5", "山阳区", "是", "5000", "3000", "", ""],
        ["A6", "山阳区", "是", "2900", "2000", "", ""],
        ["A7", "山阳区", "是", "3500", "", "", ""],
    ]
    _csv(tmp_path / "r.csv", registry, "gbk")
    _csv(tmp_path / "e.csv", EVENTS)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        app,
        [
            *("batch", str(tmp_path / "r.csv"), "--as-of", AS_OF.isoformat()),
            *("--out", str(out), "--pack", "jiaozuo", "--events", str(tmp_path / "e.csv")),
            "--no-html",
        ],
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "按上年度（2020年度）读入" in text.replace(" ", "")
    assert "读入 7 = 评估 6 + 拒绝 1" in text
    assert "事件行：读入 4 = 采用 3 + 拒绝 1" in text
    with out.open(encoding="utf-8-sig") as f:
        rows = {r["统一社会信用代码"]: r for r in csv.DictReader(f) if r["规则编号"] == RULE}
    got = {k: (r["结论"], r["确定金额（元）"]) for k, r in rows.items()}
    assert got == {
        # A1: 2020 3500万 − 2019 3000万 = 500万 新增；× 20% = 100万元
        "A1": ("符合", "1000000.00"),
        # A2 (events file only): 3800万 − 3000万 = 800万；× 20% = 160万元
        "A2": ("符合", "1600000.00"),
        # A4: the registry and the events file disagree on 2020: unknown
        "A4": ("待确定", ""),
        # A5: 5000万 − 3000万 = 2000万；× 20% = 400万元 > 每年不超过 200万元
        "A5": ("符合", "2000000.00"),
        # A6: 2900万 is not 达到 3000 万元以上
        "A6": ("不符合", ""),
        # A7: 2020 3500万, 2019 not given: the 新增部分 is unknown (not all of 3500万)
        "A7": ("待确定", ""),
    }
    # what A7 lacks is named, as `huiqi match` names it: the list's field, by its labels
    lists = {n: v for n, v in bundled_pack("jiaozuo").variables.items() if v.type == "events"}
    rd = lists["annual_results"]
    assert f"{rd.label}（{rd.fields['rd_expense'].label}）" in rows["A7"]["缺少的信息"]
