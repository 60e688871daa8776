"""Parameters: values that change over time, each dated and cited (parameters.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from ..errors import PackError, PackErrors
from ..lang.expr import literal_value, parse


@dataclass(frozen=True)
class Citation:
    doc: str
    clause: str
    quote: str
    line: int = 0
    # A law outside the library (e.g. 企业所得税法 for the statutory 25% rate): the quote is
    # recorded but cannot be verified against the library; `huiqi check` only requires the
    # value's number to be in the quote.
    external: bool = False


@dataclass(frozen=True)
class DatedValue:
    start: date
    end: date | None  # inclusive; None = until the next value (or open)
    value: Decimal | bool | str
    text: str  # as written, e.g. 2000万
    citation: Citation


@dataclass(frozen=True)
class Parameter:
    name: str
    label: str
    type: str
    values: tuple[DatedValue, ...]  # sorted by start
    file: str = ""
    line: int = 0

    def at(self, on: date) -> DatedValue | None:
        found = None
        for v in self.values:
            if v.start <= on and (v.end is None or on <= v.end):
                found = v
        return found

    def problems(self) -> list[str]:
        """Gaps and overlaps between the dated values."""
        out: list[str] = []
        for a, b in zip(self.values, self.values[1:], strict=False):
            if a.end is None:
                continue
            if b.start <= a.end:
                out.append(f"{a.start}–{a.end} 与自 {b.start} 起的值重叠")
            elif b.start > a.end + timedelta(days=1):
                out.append(f"{a.end} 与 {b.start} 之间无值（空档）")
        starts = [v.start for v in self.values]
        if len(set(starts)) != len(starts):
            out.append("有两个值起始日期相同（重叠）")
        return out


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def load_parameters(data: Any, file: str) -> dict[str, Parameter]:
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("parameters", {}), dict):
        raise PackError("应包含 parameters: 映射", file=file)
    out: dict[str, Parameter] = {}
    errors: list[PackError] = []
    for name, raw in (data.get("parameters") or {}).items():
        line = data["parameters"].line_of(name)
        where = f"parameters.{name}"
        try:
            values = []
            for i, v in enumerate(raw.get("values") or []):
                vline = getattr(v, "line", line)
                try:
                    value = literal_value(v["value"])
                    text = str(v["value"])
                    if not isinstance(value, (bool, str)):
                        parse(text)  # the written form must be a valid literal
                    values.append(
                        DatedValue(
                            start=_as_date(v["from"]),
                            end=_as_date(v["to"]) if v.get("to") is not None else None,
                            value=value,
                            text=text,
                            citation=Citation(
                                str(v.get("doc") or ""),
                                str(v.get("clause") or ""),
                                str(v.get("quote") or ""),
                                vline,
                                bool(v.get("external", False)),
                            ),
                        )
                    )
                except (KeyError, ValueError, TypeError) as exc:
                    raise PackError(
                        f"第{i + 1}个值有误：{exc}", file=file, field=where, line=vline
                    ) from None
            if not values:
                raise PackError("须至少有一个带日期的值", file=file, field=where, line=line)
            values.sort(key=lambda x: x.start)
            out[name] = Parameter(
                name=name,
                label=str(raw.get("label") or name),
                type=str(raw.get("type") or "money"),
                values=tuple(values),
                file=file,
                line=line,
            )
        except PackError as exc:
            errors.append(exc)
    if errors:
        raise PackErrors(errors)
    return out
