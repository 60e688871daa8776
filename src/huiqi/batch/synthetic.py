"""A deterministic synthetic registry for a pack, generated inside DuckDB.

Every value is a function of (seed, enterprise, variable name[, event number, field]) through
DuckDB's `hash`, so the same seed gives the same registry whatever the thread count or the
row count. Generic over the pack's metadata: for every input variable a realistic value by
type, bounds and enum values (log-normal money, recent years with a bias to 上年度, enums
sampled, dates in the last ten years), about a quarter of the facts unknown (NULL); for every
event list 0–3 events per enterprise, the list itself unknown for about a quarter of them.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import duckdb
from sqlglot import exp

from ..packs.loader import Pack
from ..packs.variables import FieldSpec
from .compile import REGISTRY, RID, Schema, events_table, schema

UNKNOWN_SHARE = 0.25
MAX_EVENTS = 3


def _u(seed: int, *salt: exp.Expression | str) -> exp.Expression:
    """A uniform number in [0, 1) from the hash of the row, the seed and a salt."""
    parts = [
        exp.Literal.number(seed),
        *(exp.Literal.string(s) if isinstance(s, str) else s for s in salt),
    ]
    h = exp.Anonymous(this="hash", expressions=parts)
    return exp.Div(
        this=exp.cast(exp.Mod(this=h, expression=exp.Literal.number(1_000_003)), "DOUBLE"),
        expression=exp.Literal.number(1_000_003.0),
    )


def _clamp(value: exp.Expression, low: Decimal | None, high: Decimal | None) -> exp.Expression:
    if low is not None:
        value = exp.Greatest(this=value, expressions=[exp.Literal.number(str(low))])
    if high is not None:
        value = exp.Least(this=value, expressions=[exp.Literal.number(str(high))])
    return value


def _lognormal(seed: int, salt: list, median: float, sigma: float) -> exp.Expression:
    u1 = exp.Add(this=_u(seed, *salt, "a"), expression=exp.Literal.number(1e-9))
    u2 = _u(seed, *salt, "b")
    z = exp.Mul(
        this=exp.Sqrt(this=exp.Mul(this=exp.Literal.number(-2), expression=exp.Ln(this=u1))),
        expression=exp.Cos(this=exp.Mul(this=exp.Literal.number(2 * math.pi), expression=u2)),
    )
    return exp.Exp(
        this=exp.Add(
            this=exp.Literal.number(math.log(median)),
            expression=exp.Mul(this=exp.Literal.number(sigma), expression=z),
        )
    )


def value_sql(spec: FieldSpec, seed: int, salt: list, as_of: date) -> exp.Expression:
    """A realistic value for one typed slot."""
    low, high = spec.bounds()
    u = _u(seed, *salt, "v")
    if spec.type == "bool":
        return exp.LT(this=u, expression=exp.Literal.number(0.5))
    if spec.type == "enum":
        options = exp.Array(expressions=[exp.Literal.string(v) for v in spec.values])
        index = exp.Add(
            this=exp.cast(
                exp.Floor(this=exp.Mul(this=u, expression=exp.Literal.number(len(spec.values)))),
                "BIGINT",
            ),
            expression=exp.Literal.number(1),
        )
        return exp.Bracket(this=options, expressions=[index])
    if spec.type == "money":
        raw = _lognormal(seed, salt, 5e6, 2.2)
        raw = _clamp(exp.Least(this=raw, expressions=[exp.Literal.number(1e11)]), low, high)
        return exp.cast(exp.Round(this=raw, decimals=exp.Literal.number(0)), "DECIMAL(38, 2)")
    if spec.type == "ratio":
        lo, hi = float(low or 0), float(high if high is not None else 1)
        raw = exp.Add(
            this=exp.Literal.number(lo),
            expression=exp.Mul(this=u, expression=exp.Literal.number(hi - lo)),
        )
        return exp.cast(exp.Round(this=raw, decimals=exp.Literal.number(4)), "DECIMAL(38, 6)")
    if spec.type == "year":
        recent = exp.Sub(
            this=exp.Literal.number(as_of.year - 1),
            expression=exp.cast(
                exp.Floor(this=exp.Mul(this=u, expression=exp.Literal.number(12))), "BIGINT"
            ),
        )
        last = exp.Literal.number(as_of.year - 1)
        pick = exp.If(
            this=exp.LT(this=_u(seed, *salt, "y"), expression=exp.Literal.number(0.4)),
            true=last,
            false=recent,
        )
        return exp.cast(_clamp(pick, low, high), "BIGINT")
    if spec.type == "integer":
        if low is not None and high is not None and high - low <= 50:
            raw = exp.Add(
                this=exp.Literal.number(str(low)),
                expression=exp.Floor(
                    this=exp.Mul(this=u, expression=exp.Literal.number(str(high - low + 1)))
                ),
            )
        else:
            raw = exp.Floor(this=_lognormal(seed, salt, 8, 1.6))
        return exp.cast(_clamp(raw, low, high), "BIGINT")
    if spec.type == "date":
        days = exp.cast(
            exp.Floor(this=exp.Mul(this=u, expression=exp.Literal.number(3650))), "INTEGER"
        )
        start = exp.cast(exp.Literal.string(as_of.isoformat()), "DATE")
        return exp.cast(exp.Sub(this=start, expression=days), "DATE")
    raise ValueError(f"no synthetic value for type {spec.type}")


def _maybe(value: exp.Expression, seed: int, salt: list, share: float) -> exp.Expression:
    return exp.If(
        this=exp.LT(this=_u(seed, *salt, "null"), expression=exp.Literal.number(share)),
        true=exp.null(),
        false=value,
    )


def generate(
    con: duckdb.DuckDBPyConnection,
    pack: Pack,
    n: int,
    seed: int = 0,
    as_of: date | None = None,
    unknown: float = UNKNOWN_SHARE,
    entities: tuple[str, ...] | None = None,
) -> Schema:
    """Create the tables `registry` and `ev__<list>` with n synthetic enterprises."""
    as_of = as_of or date.today()
    sch = schema(pack)
    rid = exp.column(RID)
    cols: list[exp.Expression] = [exp.alias_(exp.column("range"), RID)]
    kinds = list(entities or pack.entities)
    pick = exp.Bracket(
        this=exp.Array(expressions=[exp.Literal.string(k) for k in kinds]),
        expressions=[
            exp.Add(
                this=exp.cast(
                    exp.Floor(
                        this=exp.Mul(
                            this=_u(seed, exp.column("range"), "applicant"),
                            expression=exp.Literal.number(len(kinds)),
                        )
                    ),
                    "BIGINT",
                ),
                expression=exp.Literal.number(1),
            )
        ],
    )
    cols.append(
        exp.alias_(_maybe(pick, seed, [exp.column("range"), "applicant"], 0.5), "applicant")
    )
    for name in sch.inputs:
        spec = pack.variables[name].spec
        assert spec is not None
        salt = [exp.column("range"), name]
        cols.append(
            exp.alias_(_maybe(value_sql(spec, seed, salt, as_of), seed, salt, unknown), name)
        )
    for name in sch.events:
        salt = [exp.column("range"), name]
        cols.append(exp.alias_(_maybe(exp.true(), seed, salt, unknown), name))
    gen = exp.select(*cols).from_(exp.Anonymous(this="range", expressions=[exp.Literal.number(n)]))
    con.execute(f"CREATE OR REPLACE TABLE {REGISTRY} AS {gen.sql('duckdb')}")
    for name, fields in sch.events.items():
        var = pack.variables[name]
        k = exp.column("k", "g")
        count = exp.Floor(
            this=exp.Mul(
                this=_u(seed, exp.column(RID, "r"), name, "n"),
                expression=exp.Literal.number(MAX_EVENTS + 1),
            )
        )
        ev_cols: list[exp.Expression] = [exp.alias_(exp.column(RID, "r"), RID)]
        for fname in fields:
            spec = var.fields[fname]
            salt = [exp.column(RID, "r"), k, name, fname]
            value = value_sql(spec, seed, salt, as_of)
            if spec.optional:
                value = _maybe(value, seed, salt, unknown)
            ev_cols.append(exp.alias_(value, fname))
        sel = (
            exp.select(*ev_cols)
            .from_(exp.alias_(exp.to_table(REGISTRY), "r", table=True))
            .join(
                exp.alias_(
                    exp.Subquery(
                        this=exp.select(exp.alias_(exp.column("range"), "k")).from_(
                            exp.Anonymous(
                                this="range", expressions=[exp.Literal.number(MAX_EVENTS)]
                            )
                        )
                    ),
                    "g",
                    table=True,
                ),
            )
            .where(
                exp.and_(
                    exp.LT(this=k, expression=count),
                    exp.Is(this=exp.column(name, "r"), expression=exp.true()),
                )
            )
        )
        con.execute(f"CREATE OR REPLACE TABLE {events_table(name)} AS {sel.sql('duckdb')}")
    del rid
    return sch


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
