"""A deterministic synthetic registry for a pack, generated inside DuckDB.

Every value is a function of (seed, enterprise, variable name[, event number, field]): one
64-bit hash per row (of the enterprise, or of the event slot, and the seed), mixed with a
constant per variable into one hash per cell, whose three 21-bit slices are the uniform
numbers that cell needs (its value, a second draw, unknown or not). Integer hashing only, so
1M enterprises take seconds, and the same seed gives the same registry whatever the thread
count or the row count. Generic over the pack's metadata: for every input variable a
realistic value by type, bounds and enum values (log-normal money, recent years with a bias
to 上年度, enums sampled, dates in the last ten years), about a quarter of the facts unknown
(NULL); for every event list the list itself unknown for about a quarter of the enterprises,
and of the others a share (`holders`, default HOLDERS) holding 0–3 events of it, the rest none.
"""

from __future__ import annotations

import hashlib
import math
from datetime import date
from decimal import Decimal

import duckdb
from sqlglot import exp

from ..packs.loader import Pack
from ..packs.variables import FieldSpec
from .compile import PLACE, REGISTRY, RID, Schema, events_table, schema
from .tables import create_typed

UNKNOWN_SHARE = 0.25
MAX_EVENTS = 3
# Of the enterprises whose list is known, the share that draws events of it (0–3, so about
# 3/4 of this share hold one or more): a certification, an award, a listing or a merger is
# the lot of few enterprises in a city's registry (high-tech enterprises and 科技型中小企业
# together are a few per cent of a city's enterprises, prizes far fewer), so one in ten is a
# generous figure for every list. DENSE gives every known list 0–3 events (the generator
# before this share existed): small test registries exercise the event paths with it.
HOLDERS = 0.1
DENSE = 1.0
_BITS = 21  # three independent uniforms per 64-bit hash, each with ~2M steps
_MASK = (1 << _BITS) - 1
ROW = "_h"  # the per-row hash column of the generating subqueries


def _key(*salt: str) -> int:
    """A stable 64-bit constant for a salt (Python's hash() is randomised per process)."""
    digest = hashlib.blake2b("\x1f".join(salt).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _num(value: float | int | str | Decimal) -> exp.Expression:
    return exp.Literal.number(str(value))


def _dbl(value: float | Decimal) -> exp.Expression:
    """A DOUBLE constant: a plain decimal literal is a DECIMAL in DuckDB, and mixing it into
    floating-point arithmetic costs a conversion per row."""
    return exp.cast(_num(value), "DOUBLE")


def _cell(row: exp.Expression, *salt: str) -> exp.Expression:
    """The hash of one cell: the row's hash mixed with the salt's constant."""
    key = exp.cast(_num(_key(*salt)), "UBIGINT", dialect="duckdb")
    return exp.Anonymous(this="hash", expressions=[exp.BitwiseXor(this=row, expression=key)])


def _u(h: exp.Expression, part: int) -> exp.Expression:
    """Uniform in [0, 1) from the part-th 21-bit slice of a cell hash (part 0, 1 or 2)."""
    bits = h if part == 0 else exp.BitwiseRightShift(this=h, expression=_num(_BITS * part))
    sliced = exp.Paren(this=exp.BitwiseAnd(this=bits, expression=_num(_MASK)))
    return exp.Div(this=exp.cast(sliced, "DOUBLE"), expression=_dbl(_MASK + 1))


def _below(h: exp.Expression, part: int, p: float) -> exp.Expression:
    """_u(h, part) < p, compared on the integer slice (no conversion to DOUBLE per row)."""
    bits = h if part == 0 else exp.BitwiseRightShift(this=h, expression=_num(_BITS * part))
    sliced = exp.Paren(this=exp.BitwiseAnd(this=bits, expression=_num(_MASK)))
    return exp.LT(this=sliced, expression=_num(math.ceil(p * (_MASK + 1))))


def _clamp(value: exp.Expression, low: Decimal | None, high: Decimal | None) -> exp.Expression:
    # DuckDB's own greatest/least (sqlglot's exp.Greatest adds a NULL guard per call, which
    # copies the whole value expression; no bound here is ever NULL)
    if low is not None:
        value = exp.Anonymous(this="greatest", expressions=[value, _dbl(low)])
    if high is not None:
        value = exp.Anonymous(this="least", expressions=[value, _dbl(high)])
    return value


def _lognormal(u1: exp.Expression, u2: exp.Expression, median: float, sigma: float):
    """Box–Muller on two uniforms, exponentiated."""
    u1 = exp.Add(this=u1, expression=_dbl(1e-9))
    z = exp.Mul(
        this=exp.Sqrt(this=exp.Mul(this=_dbl(-2), expression=exp.Ln(this=u1))),
        expression=exp.Cos(this=exp.Mul(this=_dbl(2 * math.pi), expression=u2)),
    )
    return exp.Exp(
        this=exp.Add(
            this=_dbl(math.log(median)), expression=exp.Mul(this=_dbl(sigma), expression=z)
        )
    )


def _pick(values: list[str] | tuple[str, ...], u: exp.Expression) -> exp.Expression:
    """One of `values`, uniformly, from a uniform. (DuckDB's list_extract, 1-based: sqlglot's
    exp.Bracket takes a 0-based index and shifts it, which once made the first value never
    drawn and the last index fall off the list as NULL.)"""
    index = exp.Floor(this=exp.Mul(this=u, expression=_num(len(values))))
    one_based = exp.Add(this=exp.cast(index, "BIGINT"), expression=_num(1))
    options = exp.Array(expressions=[exp.Literal.string(v) for v in values])
    return exp.Anonymous(this="list_extract", expressions=[options, one_based])


def value_sql(spec: FieldSpec, h: exp.Expression, as_of: date) -> exp.Expression:
    """A realistic value for one typed slot from its cell hash (slices 0 and 1)."""
    low, high = spec.bounds()
    u, u2 = _u(h, 0), _u(h, 1)
    if spec.type == "bool":
        return _below(h, 0, 0.5)
    if spec.type == "enum":
        return _pick(spec.values, u)
    if spec.type == "money":
        raw = _lognormal(u, u2, 5e6, 2.2)
        raw = _clamp(exp.Anonymous(this="least", expressions=[raw, _dbl(1e11)]), low, high)
        return exp.cast(exp.Round(this=raw, decimals=_num(0)), "DECIMAL(38, 2)")
    if spec.type == "ratio":
        lo, hi = float(low or 0), float(high if high is not None else 1)
        raw = exp.Add(this=_dbl(lo), expression=exp.Mul(this=u, expression=_dbl(hi - lo)))
        return exp.cast(exp.Round(this=raw, decimals=_num(4)), "DECIMAL(38, 6)")
    if spec.type == "year":
        back = exp.cast(exp.Floor(this=exp.Mul(this=u, expression=_num(12))), "BIGINT")
        recent = exp.Sub(this=_num(as_of.year - 1), expression=back)
        pick = exp.If(this=_below(h, 1, 0.4), true=_num(as_of.year - 1), false=recent)
        return exp.cast(_clamp(pick, low, high), "BIGINT")
    if spec.type == "integer":
        if low is not None and high is not None and high - low <= 50:
            step = exp.Floor(this=exp.Mul(this=u, expression=_num(high - low + 1)))
            raw = exp.Add(this=_num(low), expression=step)
        else:
            raw = exp.Floor(this=_lognormal(u, u2, 8, 1.6))
        return exp.cast(_clamp(raw, low, high), "BIGINT")
    if spec.type == "date":
        days = exp.cast(exp.Floor(this=exp.Mul(this=u, expression=_num(3650))), "INTEGER")
        start = exp.cast(exp.Literal.string(as_of.isoformat()), "DATE")
        return exp.cast(exp.Sub(this=start, expression=days), "DATE")
    raise ValueError(f"no synthetic value for type {spec.type}")


def _maybe(value: exp.Expression, h: exp.Expression, share: float) -> exp.Expression:
    """NULL (unknown) for `share` of the rows, from slice 2 of the cell hash."""
    return exp.If(this=_below(h, 2, share), true=exp.null(), false=value)


def _hashes(row: exp.Expression, salts: list[tuple[str, ...]]) -> list[exp.Expression]:
    """One hash column per salt (h0, h1, …), computed once per row in an inner query: a
    cell draws up to three uniforms from its hash."""
    return [exp.alias_(_cell(row, *s), f"h{i}") for i, s in enumerate(salts)]


HOME_SHARE = 0.9  # of known places: within the pack's own jurisdiction (the rest anywhere)


def _home_places(pack: Pack) -> list[str]:
    """The places of the pack's own jurisdiction (its last layer) that the place variable
    offers; empty without a jurisdiction."""
    if not pack.layers or pack.registry is None or PLACE not in pack.variables:
        return []
    spec = pack.variables[PLACE].spec
    offered = set(spec.values or ()) if spec is not None else set()
    return [p for p in pack.registry.places_within(pack.layers[-1].name) if p in offered]


def generate(
    con: duckdb.DuckDBPyConnection,
    pack: Pack,
    n: int,
    seed: int = 0,
    as_of: date | None = None,
    unknown: float = UNKNOWN_SHARE,
    entities: tuple[str, ...] | None = None,
    holders: float = HOLDERS,
) -> Schema:
    """Create the tables `registry` and `ev__<list>` with n synthetic enterprises."""
    if not 0 <= holders <= 1:
        raise ValueError(f"holders is a share between 0 and 1, not {holders}")
    as_of = as_of or date.today()
    sch = schema(pack)
    rid = exp.column("range")
    row_hash = exp.Anonymous(this="hash", expressions=[rid, _num(seed)])
    rows = exp.select(exp.alias_(rid, RID), exp.alias_(row_hash, ROW)).from_(
        exp.Anonymous(this="range", expressions=[_num(n)])
    )
    salts = [("applicant",), *((name,) for name in sch.inputs), *((e,) for e in sch.events)]
    inner = exp.select(exp.column(RID), *_hashes(exp.column(ROW), salts)).from_(
        exp.alias_(exp.Subquery(this=rows), "r", table=True)
    )
    kinds = list(entities or pack.entities)
    pick = _pick(kinds, _u(exp.column("h0"), 0))
    cols: list[exp.Expression] = [
        exp.column(RID),
        exp.alias_(_maybe(pick, exp.column("h0"), 0.5), "applicant"),
    ]
    home = _home_places(pack)
    for i, name in enumerate(sch.inputs, start=1):
        spec = pack.variables[name].spec
        assert spec is not None
        h = exp.column(f"h{i}")
        value = value_sql(spec, h, as_of)
        if name == PLACE and home:
            # a city's registry: most enterprises registered in its own counties
            value = exp.If(this=_below(h, 2, HOME_SHARE), true=_pick(home, _u(h, 1)), false=value)
        cols.append(exp.alias_(_maybe(value, h, unknown), name))
    for i, name in enumerate(sch.events, start=1 + len(sch.inputs)):
        cols.append(exp.alias_(_maybe(exp.true(), exp.column(f"h{i}"), unknown), name))
    gen = exp.select(*cols).from_(exp.alias_(exp.Subquery(this=inner), "c", table=True))
    create_typed(con, REGISTRY, sch)
    con.execute(f"INSERT INTO {REGISTRY} BY NAME {gen.sql('duckdb')}")
    for name, fields in sch.events.items():
        create_typed(con, events_table(name), sch)
        rows = _events(pack, name, fields, seed, as_of, unknown, holders)
        con.execute(f"INSERT INTO {events_table(name)} BY NAME {rows.sql('duckdb')}")
    return sch


def _events(
    pack: Pack,
    name: str,
    fields: dict[str, str],
    seed: int,
    as_of: date,
    unknown: float,
    holders: float,
) -> exp.Select:
    """The events of one list: 0 to MAX_EVENTS per enterprise whose list is known and that
    is among the `holders`, the count and the gate drawn from the enterprise's row hash
    (slices 0 and 1 of one cell: holders = 1 draws the same events as no gate), each event's
    fields from its slot's hash."""
    var = pack.variables[name]
    rid, k = exp.column(RID, "reg"), exp.column("k", "g")
    row_hash = exp.Anonymous(this="hash", expressions=[rid, _num(seed)])
    cell = _cell(row_hash, name, "n")
    count: exp.Expression = exp.Floor(
        this=exp.Mul(this=_u(cell, 0), expression=_num(MAX_EVENTS + 1))
    )
    if holders < 1:
        count = exp.If(this=_below(cell.copy(), 1, holders), true=count, false=_num(0))
    slot_hash = exp.Anonymous(this="hash", expressions=[rid, k, _num(seed)])
    slots = (
        exp.select(exp.alias_(rid, RID), exp.alias_(slot_hash, ROW))
        .from_(exp.alias_(exp.to_table(REGISTRY), "reg", table=True))
        .join(
            exp.alias_(
                exp.Subquery(
                    this=exp.select(exp.alias_(exp.column("range"), "k")).from_(
                        exp.Anonymous(this="range", expressions=[_num(MAX_EVENTS)])
                    )
                ),
                "g",
                table=True,
            )
        )
        .where(
            exp.and_(
                exp.Is(this=exp.column(name, "reg"), expression=exp.true()),
                exp.LT(this=k, expression=count),
            )
        )
    )
    inner = exp.select(
        exp.column(RID), *_hashes(exp.column(ROW), [(name, f) for f in fields])
    ).from_(exp.alias_(exp.Subquery(this=slots), "s", table=True))
    cols: list[exp.Expression] = [exp.column(RID)]
    for i, fname in enumerate(fields):
        spec = var.fields[fname]
        h = exp.column(f"h{i}")
        value = value_sql(spec, h, as_of)
        if spec.optional:
            value = _maybe(value, h, unknown)
        cols.append(exp.alias_(value, fname))
    return exp.select(*cols).from_(exp.alias_(exp.Subquery(this=inner), "c", table=True))


def profiles(con: duckdb.DuckDBPyConnection, pack: Pack, limit: int | None = None) -> list[dict]:
    """The registry rows as scalar-evaluator facts: {_rid, applicant, facts}."""
    sch = schema(pack)
    q = f"SELECT * FROM {REGISTRY} ORDER BY {RID}" + (f" LIMIT {int(limit)}" if limit else "")
    cur = con.execute(q)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    by_rid = {r[RID]: r for r in rows}
    out = {
        rid: {
            "facts": {k: v for k, v in r.items() if k in sch.inputs and v is not None},
            "applicant": r["applicant"],
            RID: rid,
        }
        for rid, r in by_rid.items()
    }
    for name in sch.events:
        for rid, r in by_rid.items():
            if r[name]:
                out[rid]["facts"][name] = []
        cur = con.execute(f"SELECT * FROM {events_table(name)} ORDER BY {RID}")
        enames = [d[0] for d in cur.description]
        for row in cur.fetchall():
            ev = dict(zip(enames, row, strict=True))
            rid = ev.pop(RID)
            if rid in out:
                out[rid]["facts"][name].append({k: v for k, v in ev.items() if v is not None})
    return list(out.values())
