"""A piece of the registry read column by column: each column's distinct texts parsed once,
plain numbers without the general parser, and the accepted rows handed on as columns
(`Block`), so that a registry of a million rows and a few hundred columns is not turned into
a million dictionaries and back into columns again. A money or ratio column, distinct in nearly
every row, may be parsed as an Arrow array (`ColumnParser(arrow=True)`, for a reader whose
pieces go on as Arrow tables) instead of a Decimal per cell."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..engine.profile import MAX_MONEY
from ..lang.sql import RATIO_SCALE
from ..packs.variables import FieldSpec
from .compile import RID

if TYPE_CHECKING:
    import pyarrow as pa

Parsed = tuple[Any, str | None]  # (value or None, reason it is rejected or None)

_PLAIN_DECIMAL = re.compile(r"-?[0-9]{1,18}(?:\.[0-9]{1,6})?")
_PLAIN_INTEGER = re.compile(r"-?[0-9]{1,18}")
_ONE = Decimal(1)
_CENT = Decimal("0.01")
# the same plain figure for Arrow (RE2), after trimming the whitespace str.strip() trims in
# ASCII: a cell with any other space goes to the cell-by-cell path, which strips the rest
_PLAIN_DECIMAL_RE2 = f"^{_PLAIN_DECIMAL.pattern}$"
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
ARROW_MIN_CELLS = 64  # shorter columns: the per-cell path costs less than Arrow's set-up


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

    arrow: bool = False  # money and ratio columns of text as Arrow arrays (the reader has a sink)

    def __post_init__(self) -> None:
        self.numeric = self.spec.type in ("integer", "year", "money")
        self.bounds = self.spec.bounds()
        # the decimal places a value of the column keeps in its Arrow array
        self.scale = {"money": 2, "ratio": RATIO_SCALE}.get(self.spec.type)
        self.arrow = self.arrow and self.scale is not None

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

    def _arrow_decimal(
        self, cells: tuple[str | None, ...] | pa.Array
    ) -> tuple[pa.Array, list] | None:
        """A money or ratio column of texts as a decimal128(38, scale) array: the plain
        figures (the unit applied, whole cents for money, at most RATIO_SCALE places for a
        ratio, within bounds and MAX_MONEY) decided in Arrow, every other non-empty cell by
        `one` (parse_cell words its reason or reads 15%, 1,000, 万 …). None when Arrow cannot
        hold the arithmetic (a unit with too many digits)."""
        import pyarrow as pa  # (not at import: the web app imports the reader's errors)
        import pyarrow.compute as pc

        from .tables import arrow_values  # (tables reads Blocks from here)

        assert self.scale is not None
        stored = pa.decimal128(38, self.scale)
        try:
            text = cells if isinstance(cells, pa.Array) else pa.array(cells, pa.string())
            trimmed = pc.utf8_trim(text, characters=_ASCII_SPACE)
            plain = pc.match_substring_regex(trimmed, _PLAIN_DECIMAL_RE2)
            # 18 + 6 digits in 28: room for a unit of up to 9 digits in 38
            number = pc.cast(pc.if_else(plain, trimmed, None), pa.decimal128(28, 6))
            if self.factor is not None:
                number = pc.multiply(number, _decimal_scalar(self.factor))
            # a figure with more places goes cell by cell (a ratio is then rounded as the
            # per-cell path's values are, `tables.arrow_values`)
            ok = pc.and_(plain, pc.equal(number, pc.round(number, self.scale)))
            ok = pc.and_(ok, pc.less_equal(pc.abs(number), _decimal_scalar(MAX_MONEY)))
            low, high = self.bounds
            if low is not None:
                ok = pc.and_(ok, pc.greater_equal(number, _decimal_scalar(Decimal(low))))
            if high is not None:
                ok = pc.and_(ok, pc.less_equal(number, _decimal_scalar(Decimal(high))))
            ok = pc.fill_null(ok, False)
            values = pc.cast(pc.if_else(ok, number, None), stored)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        # the rest, cell by cell: figures with separators or units, words, …; an empty or
        # blank cell is unknown (parse_cell's None, no reason) without a call
        rest = pc.and_(pc.invert(ok), pc.not_equal(trimmed, ""))
        rest = pc.fill_null(rest, False)
        others: dict[int, Any] = {}
        wrong: list[tuple[int, str]] = []
        at = pc.indices_nonzero(rest)
        for k, cell in zip(at.to_pylist(), text.take(at).to_pylist(), strict=True):
            value, why = self.one(cell)
            if why:
                wrong.append((k, why))
            elif value is not None:
                others[k] = value
        if others:
            filled = arrow_values([others.get(k) for k in range(len(cells))], self.spec.type)
            values = pc.if_else(ok, values, filled)
        return values, wrong

    def column(
        self, cells: tuple[Any, ...] | pa.Array
    ) -> tuple[list[Any] | pa.Array, list[tuple[int, str]]]:
        """The values of a column's cells (None: unknown; an Arrow array for money with
        `arrow`) and (position, reason) of each rejected cell. Text cells go through their
        distinct values: a column of 是/否 or of places costs a lookup per cell."""
        arrow_text = not isinstance(cells, (list, tuple))  # (from Arrow's CSV reader)
        if arrow_text or set(map(type, cells)) <= {str, type(None)}:
            if self.arrow and len(cells) >= ARROW_MIN_CELLS:
                got = self._arrow_decimal(cells)
                if got is not None:
                    return got
            if arrow_text:
                return self._arrow_text(cells)  # type: ignore[arg-type]
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

    def _arrow_text(self, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str]]]:
        """An Arrow text column through its distinct texts, each parsed once by `one`: the
        Arrow array of their values, taken by each cell's index into them."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from .tables import arrow_values  # (tables reads Blocks from here)

        encoded = text.dictionary_encode()
        parsed = [self.one(c) for c in encoded.dictionary.to_pylist()]
        values = arrow_values([v for v, _ in parsed], self.spec.type).take(encoded.indices)
        bad = [j for j, (_, why) in enumerate(parsed) if why]
        if not bad:
            return values, []
        index = encoded.indices
        hit = pc.indices_nonzero(pc.is_in(index, value_set=pa.array(bad, index.type)))
        at = hit.to_pylist()
        return values, [
            (k, parsed[j][1])  # type: ignore[misc]
            for k, j in zip(at, index.take(hit).to_pylist(), strict=True)
        ]


def _decimal_scalar(value: Decimal) -> pa.Scalar:
    """An exact Arrow decimal of the digits the value has (precision at least its scale)."""
    import pyarrow as pa

    sign_digits_exponent = value.as_tuple()
    digits, exponent = sign_digits_exponent.digits, int(sign_digits_exponent.exponent)
    scale = max(0, -exponent)
    precision = max(len(digits) + max(0, exponent), scale, 1)
    return pa.scalar(value, pa.decimal128(precision, scale))


@dataclass
class Block:
    """The accepted rows of a piece of the registry, column by column: `values` holds, per
    input variable read, its value in each row (None: unknown; a list, or an Arrow array
    where `ColumnParser(arrow=True)` made one); `lists`, the event lists
    made from yearly columns or given in an events file, per row (mostly empty); `received`,
    the benefits already received an events file gives, per row."""

    rids: list[int]
    applicants: list[str | None]
    values: dict[str, list[Any] | pa.Array]
    lists: list[dict[str, list[dict[str, Any]]]]
    received: list[list[dict[str, Any]]]

    def __len__(self) -> int:
        return len(self.rids)

    def records(self) -> list[dict[str, Any]]:
        """The rows as records (`{_rid, applicant, facts}`), as the scalar evaluator takes them."""
        names = list(self.values)
        columns = [v if isinstance(v, list) else v.to_pylist() for v in self.values.values()]
        rows = zip(*columns, strict=True) if names else [()] * len(self)
        out = []
        for k, row in enumerate(rows):
            facts = {n: v for n, v in zip(names, row, strict=True) if v is not None}
            facts.update(self.lists[k])
            record = {RID: self.rids[k], "applicant": self.applicants[k], "facts": facts}
            if self.received[k]:
                record["received"] = self.received[k]
            out.append(record)
        return out
