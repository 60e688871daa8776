"""The registry read column by column (`batch.columns`): the plain-number shortcut and the
per-column parsing must give exactly what `parse_cell` gives cell by cell."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from huiqi.batch.columns import ARROW_MIN_CELLS, ColumnParser, fast_number
from huiqi.batch.read import SEEN_CELLS, UNITS, parse_cell
from huiqi.packs.variables import FieldSpec

SPECS = [
    FieldSpec("revenue", "主营业务收入", "money"),
    FieldSpec("grant", "补助", "money", min=Decimal("100.5"), max=Decimal(5_000_000)),
    FieldSpec("staff", "职工人数", "integer"),
    FieldSpec("staff_cap", "人数", "integer", min=Decimal(-3), max=Decimal(500)),
    FieldSpec("founded", "成立年份", "year"),
    FieldSpec("share", "占比", "ratio"),
    FieldSpec("hte", "高企", "bool"),
    FieldSpec("place", "注册地", "enum", values=("甲县", "乙区")),
]
FACTORS = [None, *UNITS.values()]

numberish = st.one_of(
    st.from_regex(r"-?[0-9]{1,22}(\.[0-9]{0,4})?", fullmatch=True),
    st.from_regex(r"\s*[-+]?[0-9,_]{0,8}(\.[0-9]{0,3})?(万|万元|%|e3)?\s*", fullmatch=True),
    st.sampled_from(["0", "-0", "00012", "0.10", "1000000000000000", "1000000000000000.01"]),
)


def _same(a, b) -> bool:
    """Equal, of the same type and written the same (Decimal('1') is not Decimal('1.00'))."""
    return type(a) is type(b) and a == b and str(a) == str(b)


@settings(max_examples=600, deadline=None)
@given(numberish, st.sampled_from(SPECS), st.sampled_from(FACTORS))
def test_the_plain_number_shortcut_gives_what_parse_cell_gives(text, spec, factor):
    got = fast_number(text.strip(), spec, factor)
    if got is not None:
        value, why = parse_cell(text, spec, factor)
        assert why is None and _same(got, value), (text, got, value)


def test_the_shortcut_takes_the_usual_figures():
    """Not a test that cannot fail: typical registry figures do take the shortcut."""
    money, staff, year = SPECS[0], SPECS[2], SPECS[4]
    assert _same(fast_number("8611677.00", money, None), Decimal("8611677"))
    assert _same(fast_number("12.5", money, Decimal(10_000)), Decimal("125000.0"))
    assert _same(fast_number("12.30", money, None), Decimal("12.30"))
    assert fast_number("37", staff, None) == 37 and fast_number("2018", year, None) == 2018
    # left to parse_cell, which words the reason: below the floor, sub-cent, a unit in the cell
    assert fast_number("-5", money, None) is None
    assert fast_number("0.125", money, Decimal(10_000)) is not None  # 1,250 元: whole cents
    assert fast_number("0.12", money, Decimal("0.01")) is None
    assert fast_number("12万", money, None) is None


cells = st.one_of(
    st.none(),
    numberish,
    st.sampled_from(["是", "否", "有", "1", "0", "甲县", "乙区", "丙县", " ", "", "2018-02-01"]),
    st.integers(-10, 3000),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, min_value=-10, max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.just(datetime(2018, 2, 1, 10, 0)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(cells, max_size=40), st.sampled_from(SPECS), st.sampled_from(FACTORS))
def test_a_column_parses_as_its_cells_do(column, spec, factor):
    """Values and rejections of a whole column, texts only or mixed (a spreadsheet's numbers
    and booleans), equal `parse_cell` on each cell; twice, so that remembered texts serve."""
    parser = ColumnParser(spec, factor, parse_cell, SEEN_CELLS)
    want = [parse_cell(c, spec, factor) for c in column]
    for _ in range(2):
        values, wrong = parser.column(tuple(column))
        assert all(_same(v, w[0]) for v, w in zip(values, want, strict=True))
        assert wrong == [(k, w[1]) for k, w in enumerate(want) if w[1]]


text_cells = st.one_of(
    st.none(),
    numberish,
    st.sampled_from(["", " ", "\t", "　", "12万", "1,234", "是", "-0", "0.001", "１２"]),
    st.sampled_from(["0.1234567", "0.00000049", "15%", "12.5%", "0.855700", "1"]),
)
DECIMAL = [s for s in SPECS if s.type in ("money", "ratio")]
PLACES = {"money": Decimal("0.01"), "ratio": Decimal("0.000001")}


def _stored(value, type_: str):
    """A value as its column stores it: a ratio to six places (a money value that
    parse_cell accepts has whole cents already)."""
    return value if value is None else value.quantize(PLACES[type_])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(text_cells, min_size=ARROW_MIN_CELLS, max_size=2 * ARROW_MIN_CELLS),
    st.sampled_from(DECIMAL),
    st.sampled_from(FACTORS),
)
def test_a_money_or_ratio_column_parsed_as_arrow_gives_what_parse_cell_gives(column, spec, factor):
    """A reader with a sink parses a money or ratio column of texts in Arrow: the same
    values (as decimal128(38, 2) or (38, 6): 12 and 12.00 are one value there, a ratio of
    more places is rounded as its column stores it) and the same rejections, in order, as
    `parse_cell` cell by cell."""
    parser = ColumnParser(spec, factor, parse_cell, SEEN_CELLS, arrow=True)
    want = [parse_cell(c, spec, factor) for c in column]
    values, wrong = parser.column(tuple(column))
    assert not isinstance(values, list)  # the Arrow path was taken
    assert values.to_pylist() == [_stored(w[0], spec.type) for w in want]
    assert wrong == [(k, w[1]) for k, w in enumerate(want) if w[1]]


def test_the_arrow_path_takes_the_usual_figures_and_leaves_short_columns():
    money = SPECS[0]
    parser = ColumnParser(money, Decimal(10_000), parse_cell, SEEN_CELLS, arrow=True)
    cells = ("12.5", " 3 ", "", None, "8611677.00", "12万", "x", "0.00000001") * 8
    values, wrong = parser.column(cells)
    assert values.to_pylist()[:8] == [
        Decimal(125_000),
        Decimal(30_000),
        None,
        None,
        Decimal("86116770000"),
        Decimal(120_000),
        None,
        None,
    ]
    # 12万 by the cell's own unit (parse_cell's way); a word and a sub-cent figure rejected
    assert [k for k, _ in wrong[:2]] == [6, 7]
    assert isinstance(parser.column(cells[:8])[0], list)  # shorter than ARROW_MIN_CELLS
    integers = ColumnParser(SPECS[2], None, parse_cell, SEEN_CELLS, arrow=True)
    assert isinstance(integers.column(("3",) * ARROW_MIN_CELLS)[0], list)  # money and ratio only
    share = ColumnParser(SPECS[5], None, parse_cell, SEEN_CELLS, arrow=True)
    ratios, wrong = share.column(("0.855700", "15%", "0.12345678", "2") * 16)
    # a plain figure in Arrow; 15% and the eighth place cell by cell, rounded to six places
    # as the column stores them; 2 is above a ratio's 1
    assert ratios.to_pylist()[:4] == [Decimal("0.8557"), Decimal("0.15"), Decimal("0.123457"), None]
    assert [k for k, _ in wrong[:1]] == [3]
