"""A column mapping file (`huiqi batch --mapping`): a registry whose headers are its own."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import pytest
from test_batch_read import _batch, _pick, pack

from huiqi.batch.mapping import read_mapping
from huiqi.batch.read import ReadError, read_registry


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


MONEY, MONEY_LABEL = _pick("money")
FLAG, FLAG_LABEL = _pick("bool")
REGISTRY = [
    ["纳税人识别号", "上年营业额", "是否认定", "企业名称"],
    ["B1", "120.5", "是", "甲公司"],
    ["B2", "", "否", "乙公司"],
]


def _registry(tmp_path: Path) -> Path:
    return _csv(tmp_path / "r.csv", REGISTRY, "gbk")


def _check(reg) -> None:
    b1, b2 = (r["facts"] for r in reg.records)
    assert reg.ids == ["B1", "B2"] and not reg.rejections
    assert b1 == {MONEY: Decimal("1205000.0"), FLAG: True}  # 120.5 万元, by the mapping's unit
    assert b2 == {FLAG: False}
    assert "企业名称" in reg.ignored_columns
    assert any("不存在的列" in note for note in reg.notes)


def test_a_table_mapping(tmp_path):
    """列名 / 变量 / 单位, GBK like the registry; a variable by its label or its name."""
    mapping = _csv(
        tmp_path / "m.csv",
        [
            ["列名", "变量", "单位"],
            ["纳税人识别号", "统一社会信用代码", ""],
            ["上年营业额", MONEY_LABEL, "万元"],
            ["是否认定", FLAG, ""],
            ["不存在的列", FLAG_LABEL, ""],
        ],
        "gbk",
    )
    _check(read_registry(_registry(tmp_path), pack(), mapping=read_mapping(mapping, pack())))


def test_a_yaml_mapping(tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        f"纳税人识别号: 统一社会信用代码\n上年营业额: {{变量: {MONEY}, 单位: 万元}}\n"
        f"是否认定: {FLAG_LABEL}\n不存在的列: {FLAG}\n",
        encoding="utf-8",
    )
    _check(read_registry(_registry(tmp_path), pack(), mapping=read_mapping(mapping, pack())))


@pytest.mark.parametrize(
    ("row", "expect"),
    [
        (["上年营业额", "没有这个变量", ""], "第 3 行：未知变量“没有这个变量”"),
        (["上年营业额", "制造业企业", ""], "第 3 行：“制造业企业”由其他数据推算得出"),
        (["上年营业额", "size_quarters", ""], "第 3 行：“从业人数和资产总额（按季度）”是事件列表"),
        (["上年营业额", MONEY, "千元"], "第 3 行：单位应为"),
        (["纳税人识别号", MONEY, ""], "第 3 行：列名“纳税人识别号”重复（另见第 2 行）"),
        (["上年营业额", "", ""], "第 3 行：“列名”与“变量”都须填写"),
    ],
    ids=["unknown", "derived", "events", "unit", "repeated", "blank"],
)
def test_a_bad_mapping_names_its_line(tmp_path, row, expect):
    mapping = _csv(
        tmp_path / "m.csv",
        [["列名", "变量", "单位"], ["纳税人识别号", "统一社会信用代码", ""], row],
    )
    with pytest.raises(ReadError) as exc:
        read_mapping(mapping, pack())
    assert expect in str(exc.value).replace(str(tmp_path) + "/", "")


def test_a_mapping_without_its_columns_or_as_a_list(tmp_path):
    with pytest.raises(ReadError, match="须有“列名”与“变量”两列"):
        read_mapping(_csv(tmp_path / "m.csv", [["列", "变量"], ["a", "b"]]), pack())
    bad = tmp_path / "m.yaml"
    bad.write_text("- 上年营业额\n", encoding="utf-8")
    with pytest.raises(ReadError, match="应为“列名: 变量”的映射"):
        read_mapping(bad, pack())


def test_the_cli_reads_the_mapping(tmp_path):
    mapping = _csv(
        tmp_path / "m.csv",
        [["列名", "变量", "单位"], ["纳税人识别号", "id", ""], ["上年营业额", MONEY, "万元"]],
    )
    out = tmp_path / "o.csv"
    args = [str(_registry(tmp_path)), "--as-of", "2019-03-01", "--out", str(out), "--no-html"]
    got = _batch(*args, "--mapping", str(mapping))
    assert got.exit_code == 0, got.output
    assert "行数：读入 2 = 评估 2 + 拒绝 0" in got.output
    mapping.write_text("列名,变量\n上年营业额,营业额\n", encoding="utf-8")
    bad = _batch(*args, "--mapping", str(mapping))
    # (Rich wraps the message where the terminal ends, after the file's path, whose length
    # varies: at a space, or between two Chinese characters)
    assert bad.exit_code == 2 and "第2行：未知变量“营业额”" in "".join(bad.output.split())
