"""Variables: the typed facts about an applicant that rules read (pack file variables.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..errors import PackError
from ..lang.expr import Node

TYPES = {
    "bool": "是/否",
    "integer": "整数",
    "money": "金额（元）",
    "ratio": "比例（0–1）",
    "date": "日期",
    "year": "年份",
    "enum": "选项",
    "events": "事件列表",
}
ENTITIES_DEFAULT = {
    "enterprise": "企业",
    "person": "个人",
    "team": "团队",
    "park": "园区",
    "institution": "机构",
}
YEAR_MIN, YEAR_MAX = 1949, 2100


@dataclass(frozen=True)
class FieldSpec:
    """A scalar slot: a variable of a scalar type, or one field of an event."""

    name: str
    label: str
    type: str
    values: tuple[str, ...] = ()  # enum values (Chinese, their own labels)
    min: Decimal | None = None
    max: Decimal | None = None
    optional: bool = False  # events only: the field may be left out (then it is unknown)
    unit: str = ""  # display unit for counts (件, 项); money and ratio have their own

    def bounds(self) -> tuple[Decimal | None, Decimal | None]:
        low, high = self.min, self.max
        if self.type == "money" and low is None:
            low = Decimal(0)
        if self.type == "ratio":
            low = Decimal(0) if low is None else low
            high = Decimal(1) if high is None else high
        if self.type == "year":
            low = Decimal(YEAR_MIN) if low is None else low
            high = Decimal(YEAR_MAX) if high is None else high
        return low, high


@dataclass(frozen=True)
class Variable:
    name: str
    label: str
    type: str
    entity: str
    question: str = ""
    help: str = ""
    spec: FieldSpec | None = None  # scalar types
    fields: dict[str, FieldSpec] = field(default_factory=dict)  # events
    formula: str | None = None  # derived variables: computed, never asked
    node: Node | None = None  # resolved formula
    file: str = ""
    line: int = 0

    @property
    def derived(self) -> bool:
        return self.formula is not None


def expr_type(type_: str) -> str:
    """The type an expression sees: num, bool, str, date or events."""
    return {
        "bool": "bool",
        "integer": "num",
        "money": "num",
        "ratio": "num",
        "year": "num",
        "date": "date",
        "enum": "str",
        "events": "events",
    }[type_]


def _spec(name: str, raw: dict, file: str, where: str, places: tuple[str, ...] = ()) -> FieldSpec:
    type_ = raw.get("type")
    if type_ not in TYPES or type_ == "events":
        raise PackError(
            f"类型应为 {'、'.join(t for t in TYPES if t != 'events')} 之一，而不是 {type_!r}",
            file=file,
            field=where,
            line=getattr(raw, "line", None),
        )
    raw_values = raw.get("values")
    # `values: places`: the places of every loaded jurisdiction (pack data, not a fixed list).
    values = places if raw_values == "places" else tuple(str(v) for v in raw_values or ())
    if type_ == "enum" and not values:
        raise PackError(
            "选项类型须列出 values", file=file, field=where, line=getattr(raw, "line", None)
        )
    return FieldSpec(
        name=name,
        label=str(raw.get("label") or name),
        type=type_,
        values=values,
        min=Decimal(str(raw["min"])) if raw.get("min") is not None else None,
        max=Decimal(str(raw["max"])) if raw.get("max") is not None else None,
        optional=bool(raw.get("optional", False)),
        unit=str(raw.get("unit") or ""),
    )


def load_variables(
    data: Any, file: str, places: tuple[str, ...] = ()
) -> tuple[dict[str, str], dict[str, Variable]]:
    """Parse variables.yaml (formulas are resolved later, by the pack)."""
    errors: list[PackError] = []
    if not isinstance(data, dict) or not isinstance(data.get("variables"), dict):
        raise PackError("应包含 variables: 映射", file=file)
    entities = dict(data.get("entities") or ENTITIES_DEFAULT)
    out: dict[str, Variable] = {}
    for name, raw in data["variables"].items():
        line = data["variables"].line_of(name) if hasattr(data["variables"], "line_of") else 0
        where = f"variables.{name}"
        try:
            if not isinstance(raw, dict):
                raise PackError("应为映射", file=file, field=where, line=line)
            if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
                raise PackError("名称应为英文 snake_case", file=file, field=where, line=line)
            entity = raw.get("entity", "enterprise")
            if entity not in entities:
                raise PackError(
                    f"未知主体 {entity}（可用：{'、'.join(entities)}）",
                    file=file,
                    field=where,
                    line=line,
                )
            type_ = raw.get("type")
            common = {
                "name": name,
                "label": str(raw.get("label") or ""),
                "entity": entity,
                "question": str(raw.get("question") or ""),
                "help": str(raw.get("help") or ""),
                "formula": str(raw["formula"]) if raw.get("formula") is not None else None,
                "file": file,
                "line": line,
            }
            if not common["label"]:
                raise PackError("缺少中文名称 label", file=file, field=where, line=line)
            if common["formula"] is None and not common["question"]:
                raise PackError("缺少提问 question", file=file, field=where, line=line)
            if type_ == "events":
                fields_raw = raw.get("fields") or {}
                if not fields_raw:
                    raise PackError("事件列表须列出 fields", file=file, field=where, line=line)
                fields = {
                    str(k): _spec(str(k), v, file, f"{where}.fields.{k}", places)
                    for k, v in fields_raw.items()
                }
                out[name] = Variable(type=type_, fields=fields, **common)
            else:
                spec = _spec(name, raw, file, where, places)
                out[name] = Variable(type=type_, spec=spec, **common)
        except PackError as exc:
            errors.append(exc)
    if errors:
        from ..errors import PackErrors

        raise PackErrors(errors)
    return entities, out
