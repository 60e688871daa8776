"""A column mapping file (`huiqi batch --mapping`): which variable each of a registry's own
column names holds, for registries whose headers are neither our variable names nor their
Chinese labels (“企业所在县区”, “上年营业收入”).

Either a table (CSV in any of the registry's encodings, or XLSX) with the columns 列名 and
变量 and optionally 单位, one row per registry column; or YAML, `列名: 变量` or
`列名: {变量: …, 单位: 万元}`. 变量 is a variable's name or Chinese label, or
统一社会信用代码 / 申请主体 for the key and the kind of applicant. 单位 (万元, 亿元, 元, %)
converts the column's plain numbers; without it a unit in the header still does.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from ..packs.loader import Pack
from ..safeyaml import InputError, load_yaml_text
from .read import (
    APPLICANT_COLUMNS,
    APPLICANT_TARGET,
    ID_COLUMNS,
    KEY_TARGET,
    UNITS,
    ReadError,
    Target,
    open_numbered,
)

COLUMN_HEADERS = ("列名", "column")
VARIABLE_HEADERS = ("变量", "variable")
UNIT_HEADERS = ("单位", "unit")
MAX_BYTES = 1_000_000  # a mapping of a few hundred columns is a few kB


def read_mapping(path: Path, pack: Pack) -> dict[str, Target]:
    """Registry column name -> Target; a ReadError names the file and line of a bad entry."""
    label = str(path)
    if not path.is_file():
        raise ReadError(f"{label}：文件不存在")
    if path.stat().st_size > MAX_BYTES:
        raise ReadError(f"{label}：列名对照文件过大（上限 {MAX_BYTES // 1000} kB）")
    if path.suffix.lower() in (".yaml", ".yml"):
        entries = _yaml_entries(path)
    else:
        entries = _table_entries(path)
    names = {n: n for n, v in pack.variables.items()}
    by_label = {v.label: n for n, v in pack.variables.items()}
    out: dict[str, Target] = {}
    for where, column, variable, unit in entries:
        if column in out:
            first = out[column].where.removeprefix(f"{label} ")
            raise ReadError(f"{where}：列名“{column}”重复（另见{first}）")
        out[column] = Target(
            _target(where, variable, names, by_label, pack), _unit(where, unit), where
        )
    return out


def _target(
    where: str, variable: str, names: dict[str, str], by_label: dict[str, str], pack: Pack
) -> str:
    if variable in ID_COLUMNS:
        return KEY_TARGET
    if variable in APPLICANT_COLUMNS:
        return APPLICANT_TARGET
    name = names.get(variable) or by_label.get(variable)
    if name is None:
        raise ReadError(f"{where}：未知变量“{variable}”（应为本政策包的变量名或中文名称）")
    var = pack.variables[name]
    if var.derived:
        raise ReadError(f"{where}：“{var.label}”由其他数据推算得出，不能从登记表读入")
    if var.type == "events":
        raise ReadError(f"{where}：“{var.label}”是事件列表，请用 --events 事件文件提供")
    return name


def _unit(where: str, unit: str) -> Decimal | None:
    if not unit:
        return None
    if unit not in UNITS:
        raise ReadError(f"{where}：单位应为 {'、'.join(UNITS)} 之一，而不是“{unit}”")
    return UNITS[unit]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _table_entries(path: Path) -> list[tuple[str, str, str, str]]:
    header, rows = open_numbered(path)
    label = str(path)

    def find(names: tuple[str, ...]) -> int | None:
        return next((i for i, h in enumerate(header) if h in names), None)

    col, var, unit = find(COLUMN_HEADERS), find(VARIABLE_HEADERS), find(UNIT_HEADERS)
    if col is None or var is None:
        raise ReadError(f"{label}：列名对照表须有“列名”与“变量”两列（可另有“单位”列）")
    out = []
    for n, row in rows:
        cells = list(row) + [None] * (len(header) - len(row))
        column, variable = _text(cells[col]), _text(cells[var])
        if not column or not variable:
            raise ReadError(f"{label} 第 {n} 行：“列名”与“变量”都须填写")
        out.append((f"{label} 第 {n} 行", column, variable, _text(cells[unit]) if unit else ""))
    return out


def _yaml_entries(path: Path) -> list[tuple[str, str, str, str]]:
    label = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = load_yaml_text(text, label)
    except UnicodeDecodeError:
        raise ReadError(f"{label}：YAML 文件应为 UTF-8 编码") from None
    except InputError as exc:
        raise ReadError(str(exc)) from None
    if not isinstance(data, dict):
        raise ReadError(f"{label}：应为“列名: 变量”的映射")
    lines = {
        k: n for n, line in enumerate(text.splitlines(), start=1) for k in data if _starts(line, k)
    }
    out = []
    for column, value in data.items():
        where = f"{label} 第 {lines.get(column, '?')} 行"
        if isinstance(value, dict):
            unknown = set(value) - {*VARIABLE_HEADERS, *UNIT_HEADERS}
            if unknown:
                raise ReadError(
                    f"{where}：未知的键 {'、'.join(map(str, unknown))}（应为 变量、单位）"
                )
            variable = next((value[k] for k in VARIABLE_HEADERS if k in value), None)
            unit = next((value[k] for k in UNIT_HEADERS if k in value), None)
        else:
            variable, unit = value, None
        if not _text(column) or not _text(variable):
            raise ReadError(f"{where}：“列名”与“变量”都须填写")
        out.append((where, _text(column), _text(variable), _text(unit)))
    return out


def _starts(line: str, key: Any) -> bool:
    """The line of a top-level key (for messages only)."""
    text = str(key)
    return line.startswith((text + ":", f'"{text}":', f"'{text}':"))
