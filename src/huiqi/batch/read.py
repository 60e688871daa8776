"""Read a registry (CSV, XLSX or Parquet) into enterprise records, rejecting bad rows with
their row number, column and reason; never dropping a row silently.

Columns map to variables by name or by Chinese label; a unit in the header (万元, 亿元, 元,
%) converts plain numbers exactly (Decimal). The enterprise key is 统一社会信用代码 (or `id`);
an optional applicant column (applicant / 申请主体) holds the kind of applicant.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..engine.profile import MAX_MONEY, Problem, _scalar
from ..ingest.decode import IngestError, decode_bytes
from ..packs.loader import Pack
from ..packs.variables import FieldSpec
from .compile import RID

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


@dataclass
class Registry:
    records: list[dict[str, Any]] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)  # by _rid
    rows_in: int = 0
    rejected_rows: set[int] = field(default_factory=set)
    rejections: list[Rejection] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    events_in: int = 0
    events_rejected: int = 0


def read_table(path: Path) -> tuple[list[str], list[list[Any]]]:
    """Header and rows of a CSV (UTF-8 ± BOM, GBK, GB18030), XLSX or Parquet file."""
    label = str(path)
    if not path.is_file():
        raise ReadError(f"{label}：文件不存在")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            text, _ = decode_bytes(path.read_bytes(), label, chinese=False)
        except IngestError as exc:
            raise ReadError(str(exc)) from None
        rows = list(csv.reader(io.StringIO(text)))
        rows = [r for r in rows if any(c.strip() for c in r)] if rows else []
        if not rows:
            raise ReadError(f"{label}：文件为空")
        return [h.strip().lstrip("\ufeff") for h in rows[0]], rows[1:]
    if suffix == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception as exc:  # openpyxl raises many kinds
            raise ReadError(f"{label}：无法读取 Excel 文件（{type(exc).__name__}）") from None
        sheet = wb.worksheets[0]
        all_rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        wb.close()
        if not all_rows:
            raise ReadError(f"{label}：文件为空")
        header = ["" if h is None else str(h).strip() for h in all_rows[0]]
        return header, all_rows[1:]
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:
            raise ReadError(f"{label}：无法读取 Parquet 文件（{type(exc).__name__}）") from None
        cols = [table.column(i).to_pylist() for i in range(table.num_columns)]
        return list(table.column_names), [list(r) for r in zip(*cols, strict=True)]
    raise ReadError(f"{label}：不支持的文件类型 {suffix}（可用 .csv .xlsx .parquet）")


def split_header(header: str) -> tuple[str, Decimal | None]:
    """“营业收入（万元）” -> (营业收入, 10000)."""
    m = _UNIT_RE.match(header.strip())
    if m and m.group(1):
        return m.group(1).strip(), UNITS[m.group(2)]
    return header.strip(), None


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


def read_registry(path: Path, pack: Pack) -> Registry:
    header, rows = read_table(path)
    label = str(path)
    specs = {n: v.spec for n, v in pack.variables.items() if v.spec is not None and not v.derived}
    labels = {v.label: n for n, v in pack.variables.items() if n in specs}
    out = Registry()
    id_col = next((i for i, h in enumerate(header) if h in ID_COLUMNS), None)
    if id_col is None:
        raise ReadError(f"{label}：缺少“统一社会信用代码”（或 id）列")
    app_col = next((i for i, h in enumerate(header) if h in APPLICANT_COLUMNS), None)
    columns: list[tuple[int, str, str, Decimal | None]] = []
    for i, h in enumerate(header):
        if i in (id_col, app_col):
            continue
        name, factor = split_header(h)
        var = _lookup(specs, labels, h) or _lookup(specs, labels, name)
        if var is None:
            out.ignored_columns.append(h)
            continue
        if var == _lookup(specs, labels, h):
            factor = None  # the whole header is the name (no unit)
        columns.append((i, h, var, factor))
    entities = {**{k: k for k in pack.entities}, **{v: k for k, v in pack.entities.items()}}
    seen: dict[str, int] = {}
    out.rows_in = len(rows)
    for n, row in enumerate(rows, start=2):
        problems: list[Rejection] = []
        cells = list(row) + [None] * (len(header) - len(row))
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
        facts: dict[str, Any] = {}
        for i, h, var, factor in columns:
            value, why = parse_cell(cells[i], specs[var], factor)
            if why:
                problems.append(Rejection(label, n, h, why))
            elif value is not None:
                facts[var] = value
        applicant = None
        if app_col is not None and cells[app_col] not in (None, ""):
            applicant = entities.get(str(cells[app_col]).strip())
            if applicant is None:
                problems.append(
                    Rejection(
                        label,
                        n,
                        header[app_col],
                        f"应为以下之一：{'、'.join(pack.entities.values())}；而不是 {cells[app_col]!r}",
                    )
                )
        if problems:
            out.rejections.extend(problems)
            out.rejected_rows.add(n)
            continue
        seen[key] = n
        out.records.append({RID: len(out.ids), "applicant": applicant, "facts": facts})
        out.ids.append(key)
    return out


def read_events(path: Path, pack: Pack, registry: Registry) -> None:
    """Add event lists to the records: one row per event, keyed by 统一社会信用代码, the list
    named (by name or label) in column list / 事件列表; a row with only the key and the
    list marks a known, empty list."""
    header, rows = read_table(path)
    label = str(path)
    lists = {n: v for n, v in pack.variables.items() if v.type == "events" and not v.derived}
    list_labels = {v.label: n for n, v in lists.items()}
    id_col = next((i for i, h in enumerate(header) if h in ID_COLUMNS), None)
    list_col = next((i for i, h in enumerate(header) if h in LIST_COLUMNS), None)
    if id_col is None or list_col is None:
        raise ReadError(
            f"{label}：事件文件须有“统一社会信用代码”（或 id）列与“事件列表”（或 list）列"
        )
    by_key = {k: i for i, k in enumerate(registry.ids)}
    registry.events_in += len(rows)
    broken: set[tuple[str, str]] = set()  # a list with a rejected row is unknown, not partial
    for n, row in enumerate(rows, start=2):
        cells = list(row) + [None] * (len(header) - len(row))
        key = "" if cells[id_col] is None else str(cells[id_col]).strip()
        lname = "" if cells[list_col] is None else str(cells[list_col]).strip()
        problems: list[Rejection] = []
        name = lname if lname in lists else list_labels.get(lname)
        if name is None:
            problems.append(Rejection(label, n, header[list_col], f"未知事件列表 {lname!r}"))
        if key not in by_key:
            problems.append(
                Rejection(label, n, header[id_col], f"登记表中没有（或已被拒绝）的企业 {key!r}")
            )
        event: dict[str, Any] = {}
        bad: set[str] = set()
        if name is not None:
            var = lists[name]
            flabels = {s.label: f for f, s in var.fields.items()}
            for i, h in enumerate(header):
                if i in (id_col, list_col):
                    continue
                fname, factor = split_header(h)
                f = h if h in var.fields else flabels.get(h)
                if f is None:
                    f = fname if fname in var.fields else flabels.get(fname)
                else:
                    factor = None
                if f is None:
                    continue
                value, why = parse_cell(cells[i], var.fields[f], factor)
                if why:
                    problems.append(Rejection(label, n, h, why))
                    bad.add(f)
                elif value is not None:
                    event[f] = value
            if event or bad:
                for f, s in var.fields.items():
                    if not s.optional and f not in event and f not in bad:
                        problems.append(Rejection(label, n, s.label, "缺少必填字段"))
        if problems:
            registry.rejections.extend(problems)
            registry.events_rejected += 1
            if name is not None and key in by_key:
                broken.add((key, name))
            continue
        facts = registry.records[by_key[key]]["facts"]
        items = facts.setdefault(name, [])
        if event:
            items.append(event)
    for key, name in broken:
        registry.records[by_key[key]]["facts"].pop(name, None)
