"""A piece of the registry read column by column: each column's distinct texts parsed once,
plain numbers without the general parser, and the accepted rows handed on as columns
(`Block`), so that a registry of a million rows and a few hundred columns is not turned into
a million dictionaries and back into columns again."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ..engine.profile import MAX_MONEY
from ..packs.variables import FieldSpec
from .compile import RID

Parsed = tuple[Any, str | None]  # (value or None, reason it is rejected or None)

_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,6})?")
_PLAIN_INTEGER = re.compile(r"-?[0-9]{1,18}")
_ONE = Decimal(1)
_CENT = Decimal("0.01")


def fast_number(
    text: str, spec: FieldSpec, factor: Decimal | None, bounds: tuple[Any, Any] | None = None
) -> Any:
    """The value `parse_cell` gives a plain number (digits, perhaps decimals), or None
    when it is not one or is not accepted as it stands (out of bounds, too large, not whole
    cents): `parse_cell` then decides and words the reason. A money column holds a distinct
    figure in nearly every row, so this is most of the reading time; a property test checks
    it against `parse_cell`."""
    t = spec.type
    if t in ("integer", "year"):
        if not _PLAIN_INTEGER.fullmatch(text):
            return None
        number: Any = int(text)
    elif t == "money":
        if not _PLAIN_DECIMAL.fullmatch(text):
            return None
        number = Decimal(text)
        if factor is not None:
            number = number * factor
        elif number == number.to_integral_value():  # as parse_number: 12.00 is 12
            number = number.quantize(_ONE)
        if number != number.quantize(_CENT):
            return None
        if abs(number) > MAX_MONEY:
            return None
    else:
        return None
    low, high = spec.bounds() if bounds is None else bounds
    if (low is not None and number < low) or (high is not None and number > high):
        return None
    return number


@dataclass
class ColumnParser:
    """Parses one column of the registry; remembers up to `keep` distinct texts it parsed."""

    spec: FieldSpec
    factor: Decimal | None
    parse: Callable[[Any, FieldSpec, Decimal | None], Parsed]
    keep: int
    seen: dict[str, Parsed] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.numeric = self.spec.type in ("integer", "year", "money")
        self.bounds = self.spec.bounds()

    def one(self, cell: Any) -> Parsed:
        # Only text is remembered: 1, 1.0 and True are equal keys but not equal cells.
        if type(cell) is not str:
            return self.parse(cell, self.spec, self.factor)
        hit = self.seen.get(cell)
        if hit is None:
            value = None
            if self.numeric and (stripped := cell.strip()):
                value = fast_number(stripped, self.spec, self.factor, self.bounds)
            hit = (value, None) if value is not None else self.parse(cell, self.spec, self.factor)
            if len(self.seen) < self.keep:
                self.seen[cell] = hit
        return hit

    def column(self, cells: tuple[Any, ...]) -> tuple[list[Any], list[tuple[int, str]]]:
        """The values of a column's cells (None: unknown) and (position, reason) of each
        rejected cell. Text cells go through their distinct values: a column of 是/否 or of
        places costs a lookup per cell."""
        if set(map(type, cells)) <= {str, type(None)}:
            parsed = {c: self.one(c) for c in set(cells) if c is not None}
            values = {c: v for c, (v, _) in parsed.items()}
            values[None] = None  # type: ignore[index]
            out = list(map(values.__getitem__, cells))
            bad = {c: why for c, (_, why) in parsed.items() if why}
            wrong = [(k, bad[c]) for k, c in enumerate(cells) if c in bad] if bad else []
            return out, wrong
        out, wrong = [], []
        for k, cell in enumerate(cells):
            value, why = self.one(cell)
            out.append(value)
            if why:
                wrong.append((k, why))
        return out, wrong


@dataclass
class Block:
    """The accepted rows of a piece of the registry, column by column: `values` holds, per
    input variable read, its value in each row (None: unknown); `lists`, the event lists
    made from yearly columns or given in an events file, per row (mostly empty); `received`,
    the benefits already received an events file gives, per row."""

    rids: list[int]
    applicants: list[str | None]
    values: dict[str, list[Any]]
    lists: list[dict[str, list[dict[str, Any]]]]
    received: list[list[dict[str, Any]]]

    def __len__(self) -> int:
        return len(self.rids)

    def records(self) -> list[dict[str, Any]]:
        """The rows as records (`{_rid, applicant, facts}`), as the scalar evaluator takes them."""
        names = list(self.values)
        rows = zip(*self.values.values(), strict=True) if names else [()] * len(self)
        out = []
        for k, row in enumerate(rows):
            facts = {n: v for n, v in zip(names, row, strict=True) if v is not None}
            facts.update(self.lists[k])
            record = {RID: self.rids[k], "applicant": self.applicants[k], "facts": facts}
            if self.received[k]:
                record["received"] = self.received[k]
            out.append(record)
        return out
