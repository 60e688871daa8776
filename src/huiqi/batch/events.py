"""An events file (`huiqi batch --events`): one row per event, keyed by 统一社会信用代码, the
list named (by name or label) in column list / 事件列表; a row with only the key and the
list marks a known, empty list; benefits already received are a list of their own.

The file is read before the registry and its rows kept by enterprise (a few fields each);
each enterprise's rows are then applied as the registry reaches it (`EventsFile.apply`), so
the registry itself still passes through in pieces. Rows are checked in file order, against
the same year's item from the registry's wide columns, exactly as when both were held whole;
their rejections are reported after the registry's, in file order."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..packs.loader import Pack
from ..packs.variables import FieldSpec
from .read import (
    ID_COLUMNS,
    LIST_COLUMNS,
    ReadError,
    Registry,
    Rejection,
    WideItem,
    _show,
    beyond_header,
    field_names,
    open_numbered,
    parse_cell,
    split_header,
)


@dataclass
class _Row:
    """One row of the events file, checked on its own (not yet against the registry)."""

    n: int
    key: str
    name: str | None  # the event list (None: a received benefit, or a list not known)
    problems: list[Rejection]
    event: dict[str, Any] = field(default_factory=dict)
    column_of: dict[str, str] = field(default_factory=dict)  # field -> its header
    received: dict[str, Any] | None = None  # a benefit already received


# distinct texts remembered per column: an event list's kinds, levels, years and flags repeat
# over hundreds of thousands of rows; amounts do not, and stop being remembered
SEEN_TEXTS = 4096


class _Column:
    """One column of the events file as a field of one list; `parse` is `parse_cell`, each
    distinct text parsed once (parse_cell depends on the cell, the field and the unit only)."""

    __slots__ = ("factor", "field", "header", "i", "seen", "spec")

    def __init__(
        self, i: int, header: str, field: str, spec: FieldSpec, factor: Decimal | None
    ) -> None:
        self.i, self.header, self.field, self.spec, self.factor = i, header, field, spec, factor
        self.seen: dict[str, tuple[Any, str | None]] = {}

    def parse(self, cell: Any) -> tuple[Any, str | None]:
        if type(cell) is not str:  # a spreadsheet's number, date or bool: as it is
            return parse_cell(cell, self.spec, self.factor)
        hit = self.seen.get(cell)
        if hit is None:
            hit = parse_cell(cell, self.spec, self.factor)
            if len(self.seen) < SEEN_TEXTS:
                self.seen[cell] = hit
        return hit


class EventsFile:
    """The rows of an events file by enterprise key; `apply` adds an enterprise's to it."""

    def __init__(self, path: Path, pack: Pack, registry: Registry) -> None:
        header, rows = open_numbered(path)
        self.label = label = str(path)
        self.pack, self.registry = pack, registry
        self.lists = {
            n: v for n, v in pack.variables.items() if v.type == "events" and not v.derived
        }
        list_labels = {v.label: n for n, v in self.lists.items()}
        id_col = next((i for i, h in enumerate(header) if h in ID_COLUMNS), None)
        list_col = next((i for i, h in enumerate(header) if h in LIST_COLUMNS), None)
        if id_col is None or list_col is None:
            raise ReadError(
                f"{label}：事件文件须有“统一社会信用代码”（或 id）列与“事件列表”（或 list）列"
            )
        self.id_header = header[id_col]
        self.names_of = {
            lname: {n: f for f, spec in var.fields.items() for n in field_names(spec)}
            for lname, var in self.lists.items()
        }
        self.plans: dict[str, list[_Column]] = {}
        used: set[int] = {id_col, list_col}
        self.by_key: dict[str, list[_Row]] = {}
        self.rejections: list[Rejection] = []
        for n, row in rows:
            registry.events_in += 1
            cells = list(row) + [None] * (len(header) - len(row))
            extra = beyond_header(label, n, row, len(header))
            key = "" if cells[id_col] is None else str(cells[id_col]).strip()
            lname = "" if cells[list_col] is None else str(cells[list_col]).strip()
            problems: list[Rejection] = [extra] if extra else []
            name = lname if lname in self.lists else list_labels.get(lname)
            if name is None and lname in RECEIVED_LISTS:
                item = _received_row(
                    label, n, header, cells, (id_col, list_col), pack, problems, used
                )
                self.by_key.setdefault(key, []).append(_Row(n, key, None, problems, received=item))
                continue
            if name is None:
                problems.append(Rejection(label, n, header[list_col], f"未知事件列表 {lname!r}"))
            got = _Row(n, key, name, problems)
            if name is not None:
                self._fields(got, header, cells, (id_col, list_col), used)
            self.by_key.setdefault(key, []).append(got)
        registry.ignored_columns.extend(
            f"{h}（{Path(label).name}）" for i, h in enumerate(header) if i not in used
        )

    def _plan(self, name: str, header: list[str], skip: tuple[int, int], used: set[int]):
        """The columns that hold fields of list `name`, in header order (worked out once per
        list, not per row)."""
        plan = self.plans.get(name)
        if plan is None:
            names = self.names_of[name]
            plan = []
            for i, h in enumerate(header):
                if i in skip:
                    continue
                fname, factor = split_header(h)
                f = names.get(h)
                if f is None:
                    f = names.get(fname)
                else:
                    factor = None  # the whole header is the name (no unit)
                if f is not None:
                    plan.append(_Column(i, h, f, self.lists[name].fields[f], factor))
                    used.add(i)
            self.plans[name] = plan
        return plan

    def _fields(
        self,
        got: _Row,
        header: list[str],
        cells: list[Any],
        skip: tuple[int, int],
        used: set[int],
    ) -> None:
        """The event's fields from the row's cells (problems appended to the row's)."""
        var = self.lists[got.name]  # type: ignore[index]
        bad: set[str] = set()
        for c in self._plan(got.name, header, skip, used):  # type: ignore[arg-type]
            value, why = c.parse(cells[c.i])
            if why:
                got.problems.append(Rejection(self.label, got.n, c.header, why))
                bad.add(c.field)
            elif value is not None:
                got.event[c.field] = value
                got.column_of[c.field] = c.header
        if got.event or bad:
            for f, s in var.fields.items():
                if not s.optional and f not in got.event and f not in bad:
                    got.problems.append(Rejection(self.label, got.n, s.label, "缺少必填字段"))

    def apply(
        self,
        key: str,
        lists: dict[str, list[dict[str, Any]]],
        wide: dict[tuple[str, int], WideItem],
        received: list[dict[str, Any]],
    ) -> None:
        """Add an accepted enterprise's rows: events to `lists` (its event lists), benefits
        to `received`; `wide` holds the items its wide columns gave, by (list, year). A list
        with a rejected row is unknown, not partial."""
        broken: set[str] = set()
        for row in self.by_key.pop(key, ()):
            problems = list(row.problems)
            if row.received is not None:
                if problems:
                    self._reject(problems)
                else:
                    received.append(row.received)
                continue
            same_year = None  # the item the registry's wide columns gave for this year
            if row.name is not None and row.event and not problems:
                year_field = self.registry.year_fields.get(row.name)
                if year_field is not None and year_field in row.event:
                    year = row.event[year_field]
                    same_year = wide.get((row.name, year))
                if same_year is not None:
                    fields = self.lists[row.name].fields
                    problems += _contradictions(
                        self.label, row.n, year, same_year, row.event, row.column_of, fields
                    )
            if problems:
                self._reject(problems)
                if row.name is not None:
                    broken.add(row.name)
                continue
            items = lists.setdefault(row.name, [])  # type: ignore[arg-type]
            if same_year is not None:  # one item per year: the two sources agree, merge them
                for f, value in row.event.items():
                    same_year.item[f] = value
                    same_year.sources.setdefault(f, f"事件文件第 {row.n} 行“{row.column_of[f]}”列")
            elif row.event:
                items.append(row.event)
        for name in broken:
            lists.pop(name, None)

    def wanted(self, key: str) -> bool:
        """Whether the file has rows for this enterprise."""
        return key in self.by_key

    def finish(self) -> None:
        """Reject the rows of enterprises the registry does not have (or rejected); hand the
        file's rejections to the registry, in file order."""
        for key, rows in self.by_key.items():
            for row in rows:
                unknown = Rejection(
                    self.label, row.n, self.id_header, f"登记表中没有（或已被拒绝）的企业 {key!r}"
                )
                self._reject([unknown, *row.problems])
        self.by_key.clear()
        self.rejections.sort(key=lambda r: r.row)  # stable: a row's problems keep their order
        self.registry.rejections.extend(self.rejections)

    def _reject(self, problems: list[Rejection]) -> None:
        self.rejections.extend(problems)
        self.registry.events_rejected += 1


# Benefits already received (stacking: 只能享受一次, 补差, 就高), in the events file as a list
# of their own: the rule (its id or its title), the amount paid, the year paid, the key.
RECEIVED_LISTS = ("received_benefits", "已享受的奖补", "已享受奖补", "已获奖补")
RECEIVED_FIELDS = {
    "rule": ("rule", "规则编号", "政策事项"),
    "amount": ("amount", "金额", "已获金额"),
    "year": ("year", "年度", "兑现年度"),
    "key": ("key", "届次或档次", "届次", "档次"),
}


def _rules_titled(pack: Pack) -> dict[str, list[str]]:
    """Rule ids by title, built once per pack (a received benefit may name its rule by title)."""
    found = pack.memo.get("rules_titled")
    if found is None:
        found = {}
        for cr in pack.compiled:
            found.setdefault(cr.rule.title, []).append(cr.rule.id)
        pack.memo["rules_titled"] = found
    return found


def _received_row(
    label: str,
    n: int,
    header: list[str],
    cells: list[Any],
    skip: tuple[int, int],
    pack: Pack,
    problems: list[Rejection],
    used: set[int],
) -> dict[str, Any]:
    """One benefit already received, as `Profile.received` holds it; problems appended."""
    specs = {
        "amount": FieldSpec("amount", "金额", "money"),
        "year": FieldSpec("year", "年度", "year"),
    }
    item: dict[str, Any] = {"rule": None, "amount": None, "year": None, "key": None}
    columns: dict[str, str] = {}
    for i, h in enumerate(header):
        if i in skip:
            continue
        name, factor = split_header(h)
        f = next((f for f, names in RECEIVED_FIELDS.items() if h in names or name in names), None)
        if f is None:
            continue
        used.add(i)
        columns[f] = h
        raw = cells[i]
        if raw is None or str(raw).strip() == "":
            continue
        if f in specs:
            value, why = parse_cell(raw, specs[f], factor if h not in RECEIVED_FIELDS[f] else None)
            if why:
                problems.append(Rejection(label, n, h, why))
            item[f] = value
        elif f == "rule":
            text = str(raw).strip()
            ids = [text] if text in pack.by_id else _rules_titled(pack).get(text, [])
            if len(ids) != 1:
                why = (
                    "有多条同名政策事项，请填规则编号"
                    if ids
                    else f"未知的规则编号或政策事项 {text!r}"
                )
                problems.append(Rejection(label, n, h, why))
            else:
                item["rule"] = ids[0]
        else:
            item["key"] = str(raw).strip()
    for f, need in (("rule", "规则编号或政策事项"), ("amount", "金额")):
        if item[f] is None and not any(p.column == columns.get(f) for p in problems):
            problems.append(Rejection(label, n, columns.get(f, need), "缺少必填字段"))
    return item


def _contradictions(
    label: str,
    n: int,
    year: int,
    wide: WideItem,
    event: dict[str, Any],
    column_of: dict[str, str],
    fields: dict[str, FieldSpec],
) -> list[Rejection]:
    """An events-file row against the registry's figures for the same enterprise and year."""
    out = []
    for f, value in event.items():
        if f in wide.sources and wide.item[f] != value:
            out.append(
                Rejection(
                    label,
                    n,
                    column_of[f],
                    f"{year}年度的数值 {_show(value, fields[f])} 与{wide.sources[f]}的 "
                    f"{_show(wide.item[f], fields[f])} 不一致",
                )
            )
    return out
