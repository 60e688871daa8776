"""Whole-rule compilation: every rule of a pack (or a subset) into one SQL query over a
registry table, with status, amount, missing inputs and stacking (rivals compared pairwise
within the enterprise's row).

Tables the query reads (see `schema`):

* `registry`: `_rid` (BIGINT, one per enterprise), `applicant` (entity key or NULL), one
  column per input variable (NULL = unknown) and one BOOLEAN column per event list, TRUE
  when the list is known (possibly empty), NULL when unknown;
* `ev__<list>`: one row per event: `_rid` and one column per field.

The result has one row per enterprise and rule: `_rid`, `rule_idx`, `status`, `amount`,
`amount_min`, `amount_max`, `amount_gross`, `set_aside`, `missing` (comma-separated input
names that are NULL, for undetermined rows).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import pyarrow as pa
from sqlglot import exp

from ..engine.match import (
    ELIGIBLE,
    NOT_ELIGIBLE,
    NOT_IN_FORCE,
    OVERDUE,
    UNDETERMINED,
    _in_force,
    overdue,
)
from ..lang.expr import Aggregate, Field, Node, Param, names_read, walk
from ..lang.sql import (
    Env,
    ExprCompiler,
    SqlCompileError,
    Typed,
    alias,
    case,
    cast,
    column_type,
    dec_type,
    is_null,
    is_true,
    not_null,
    paren,
    select,
    some_null,
    to_sql,
    typed_column,
)
from ..packs.loader import CompiledRule, Pack
from .forecast import ForecastItem, forecast_rows
from .sparse import needs_events

REGISTRY = "registry"
RID = "_rid"


class RuleCompileError(SqlCompileError):
    """A rule the SQL back end cannot compile; names the rule."""

    def __init__(self, rule_id: str, why: str) -> None:
        super().__init__(f"规则 {rule_id} 无法编译为 SQL：{why}")
        self.rule_id = rule_id


def events_table(name: str) -> str:
    return f"ev__{name}"


def null_flag(source: str, field: str) -> str:
    """The column: some event of the list has this field unknown."""
    return f"nf__{source}__{field}"


@dataclass
class Schema:
    """The columns of the registry and event tables for a pack."""

    inputs: dict[str, str]  # input variable -> declared type
    events: dict[str, dict[str, str]]  # events variable -> field -> type
    # the values of each choice (enum) column, the kind of applicant among them, keyed by
    # column name in the registry and (list, field) in an event list
    choices: dict[str | tuple[str, str], tuple[str, ...]] = field(default_factory=dict)

    def registry_columns(self) -> dict[str, str]:
        cols = {RID: "BIGINT", "applicant": "VARCHAR"}
        cols.update({n: column_type(t) for n, t in self.inputs.items()})
        cols.update({n: "BOOLEAN" for n in self.events})
        return cols

    def event_columns(self, name: str) -> dict[str, str]:
        return {RID: "BIGINT", **{f: column_type(t) for f, t in self.events[name].items()}}

    def duckdb_columns(self, table: str) -> dict[str, str]:
        """The DuckDB column types of the registry or an event table: a choice is an ENUM of
        its declared values, not VARCHAR. Every reader checks a choice against those values
        first; as an ENUM, grouping by where an enterprise is registered and testing a choice
        compare small integers, not strings (the whole pack's forecast at 1M: a quarter less
        CPU)."""
        if table == REGISTRY:
            cols, key = self.registry_columns(), lambda c: c
        else:
            name = next(n for n in self.events if events_table(n) == table)
            cols, key = self.event_columns(name), lambda c: (name, c)
        out = {}
        for c, t in cols.items():
            values = self.choices.get(key(c))
            out[c] = enum_type(values) if values and t == "VARCHAR" else t
        return out

    def tables(self) -> list[str]:
        return [REGISTRY, *(events_table(n) for n in self.events)]


def enum_type(values: tuple[str, ...]) -> str:
    return f"ENUM({', '.join(exp.Literal.string(v).sql('duckdb') for v in values)})"


def schema(pack: Pack) -> Schema:
    inputs, events = {}, {}
    choices: dict[str | tuple[str, str], tuple[str, ...]] = {"applicant": tuple(pack.entities)}
    for name, var in pack.variables.items():
        if var.derived:
            if var.type == "events":
                raise SqlCompileError(f"derived event list {name} is not supported in SQL")
            continue
        if var.type == "events":
            events[name] = {f: s.type for f, s in var.fields.items()}
            choices.update({(name, f): s.values for f, s in var.fields.items() if s.values})
        else:
            inputs[name] = var.type
            if var.spec is not None and var.spec.values:
                choices[name] = var.spec.values
    return Schema(inputs, events, choices)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table)


# Statuses in the wide rows (s_i) as small integers: the forecast compares and counts them
# per row and rule, which is cheaper on integers than on strings; the long result names them.
STATUS_CODES = {ELIGIBLE: 0, NOT_ELIGIBLE: 1, UNDETERMINED: 2, OVERDUE: 3, NOT_IN_FORCE: 4}


def code(status: str) -> exp.Literal:
    return exp.Literal.number(STATUS_CODES[status])


def is_status(i: int, status: str, table: str | None = None) -> exp.Expression:
    """s_i (of `table`) is `status`."""
    return exp.EQ(this=col(f"s_{i}", table), expression=code(status))


def status_name(column: str) -> str:
    """SQL text: the status named from its code (for the long result)."""
    whens = " ".join(f"WHEN {c} THEN '{s}'" for s, c in STATUS_CODES.items())
    return f"CASE {column} {whens} END"


@dataclass
class RuleInfo:
    """What the result rows refer to: rule_idx -> rule and its document."""

    idx: int
    rule_id: str
    title: str
    doc: str
    group: str | None
    policy: str | None
    determination: str
    department: str = ""


@dataclass(frozen=True)
class CompiledBatch:
    """Read-only: `compile_rules` hands the same batch to every caller with the same arguments.
    `sqls`: the long result (one row per enterprise and rule, stacking applied), one
    statement per chunk of rules; `wide_sqls`, their inner queries: one row per enterprise
    with s_i/a_i/lo_i/hi_i/k_i/m_i/x_i per rule (status, amount, range, stacking key, missing
    inputs, set aside)."""

    wide_sqls: list[str]
    sqls: list[str]
    rules: list[RuleInfo]
    schema: Schema
    dialect: str
    # the forecast: per chunk, the query of its aggregates per place and the items
    # `forecast.forecast_rows` makes the forecast's rows of
    forecast_sqls: list[str] = field(default_factory=list)
    forecast_items: list[tuple[ForecastItem, ...]] = field(default_factory=list)
    # per chunk: the event list all its rules need (`sparse.needs_events`); its forecast
    # reads only the enterprises whose list is unknown or has events, all its rules being
    # 不符合 for the others (None: it reads every enterprise)
    restrictions: list[str | None] = field(default_factory=list)
    everyone_sql: str = ""  # the enterprises of each place (`forecast_rows`'s `everyone`)
    # per chunk: the registry columns its forecast reads enterprises without events by,
    # once per distinct row (`_alike`); None: one by one
    alike: list[tuple[str, ...] | None] = field(default_factory=list)
    # a rule → the earlier rule of its chunk it computes like (`_signature`): its long rows
    # and forecast are read from that rule's columns and aggregates
    computed_like: dict[int, int] = field(default_factory=dict)
    # per chunk: the kinds of applicant its forecast reads (and those of unknown kind), all
    # its rules being 不符合 for the others (`_applicants`); None: every kind
    applicants: list[tuple[str, ...] | None] = field(default_factory=list)

    def reads_part(self, k: int) -> bool:
        """Whether chunk k's forecast reads only some enterprises (those its list leaves open,
        or of its kinds of applicant: `_rows_read`): its rows need the count of every place's
        enterprises (`everyone_sql`)."""
        return self.restrictions[k] is not None or self.applicants[k] is not None

    @property
    def reads_some(self) -> bool:
        """Whether some chunk's forecast reads only some enterprises (`reads_part`)."""
        return any(self.reads_part(k) for k in range(len(self.forecast_sqls)))

    def everyone(self, run: Callable[[str], pa.Table]) -> pa.Table | None:
        """The enterprises of each place, by `run` (a query to Arrow) if `reads_some`; else
        None."""
        return run(self.everyone_sql) if self.reads_some else None

    def chunk_forecast(self, k: int, grouped: pa.Table, everyone: pa.Table | None) -> pa.Table:
        """The forecast's rows of chunk k from what its query gave (`forecast_rows`), counted
        against `everyone` (`everyone`) if the query read only some enterprises."""
        some = everyone if self.reads_part(k) else None
        return forecast_rows(grouped, self.forecast_items[k], some)

    @property
    def sql(self) -> str:
        """The whole long result as one statement."""
        return "\nUNION ALL\n".join(f"SELECT * FROM ({q}) q{i}" for i, q in enumerate(self.sqls))


@dataclass
class _Shape:
    """What the forecast counts and sums of a rule: the statuses its CASE can give, whether
    it has a certain amount (a_i) and a range (lo_i/hi_i) at all, the facts its `missing`
    may name and the wide row's column telling each unknown (`_Builder.fact_column`)."""

    statuses: tuple[str, ...]
    facts: list[str]
    amount: bool = False
    range: bool = False
    fact_cols: list[str] = field(default_factory=list)


class _Aggs:
    """Aggregates registered while compiling rows: one pre-aggregated CTE per event list."""

    def __init__(self) -> None:
        self.by_node: dict[Aggregate, tuple[str, Typed]] = {}
        self.by_source: dict[str, list[tuple[str, Aggregate, Typed]]] = {}
        self.joins_registry: set[str] = set()
        self.field_nulls: dict[str, set[str]] = {}  # list -> fields whose unknowns are named


class _RowEnv(Env):
    def __init__(self, batch: _Builder) -> None:
        self.b = batch

    def var(self, name: str) -> Typed:
        b = self.b
        if name in b.derived_nodes:
            return b.derived(name)
        if name in b.schema.inputs:
            b.used.add(name)
            return typed_column(col(name), b.schema.inputs[name])
        if name in b.schema.events:
            raise SqlCompileError(f"event list {name} used as a value")
        raise SqlCompileError(f"unknown variable {name}")

    def aggregate(self, node: Aggregate) -> Typed:
        return self.b.register_aggregate(node)

    def shared(self, node: Node, build: Callable[[], Typed]) -> Typed:
        return self.b.hoist(node, build)


class _EventEnv(Env):
    """Inside an aggregate: fields of the event row `ev`, variables of the registry row `b`."""

    def __init__(self, batch: _Builder, source: str) -> None:
        self.b, self.source = batch, source

    def var(self, name: str) -> Typed:
        b = self.b
        b.aggs.joins_registry.add(self.source)
        if name in b.derived_nodes:
            node = b.derived_nodes[name]
            if any(isinstance(x, Aggregate) for x in walk(node)):
                raise SqlCompileError(
                    f"derived variable {name} (with an aggregate) inside an aggregate"
                )
            return b.compiler.compile(node, self)
        if name in b.schema.inputs:
            return typed_column(col(name, "b"), b.schema.inputs[name])
        raise SqlCompileError(f"unknown variable {name}")

    def field(self, node: Field) -> Typed:
        if node.source != self.source or node.depth != 0:
            raise SqlCompileError(f"nested event field {node.source}.{node.name}")
        spec = self.b.schema.events[node.source][node.name]
        return typed_column(col(node.name, "ev"), spec)


class _Builder:
    def __init__(
        self, pack: Pack, as_of: date, dialect: str, complete: frozenset[str] = frozenset()
    ) -> None:
        self.pack, self.as_of, self.dialect = pack, as_of, dialect
        self.complete = complete  # inputs never unknown in the registry (`compile_rules`)
        self.schema = schema(pack)
        params = {}
        for name, p in pack.parameters.items():
            found = p.at(as_of)
            params[name] = None if found is None else found.value
        self.params = params
        self.compiler = ExprCompiler(params, as_of, dialect)
        self.derived_nodes: dict[str, Node] = {
            n: v.node for n, v in pack.variables.items() if v.derived and v.node is not None
        }
        self.derived_kind: dict[str, tuple[str, int]] = {}
        self.aggs = _Aggs()
        self.row_env = _RowEnv(self)
        self.derived_sql: dict[str, exp.Expression] = {}
        self._compiling: set[str] = set()
        self.used: set[str] = set()  # input columns the query reads (the others stay out)
        self.shapes: dict[int, _Shape] = {}  # rule_idx -> what the forecast counts of it
        self.hoisted: dict[object, tuple[str, exp.Expression]] = {}  # `in` tests, layer lh
        self.fact_cols: dict[str, tuple[str, exp.Expression]] = {}  # fact -> (column, test)
        self.keys: dict[int, exp.Expression] = {}  # rule_idx -> its stacking key (SQL)

    # --- aggregates and derived variables ----------------------------------------------------

    def register_aggregate(self, node: Aggregate) -> Typed:
        hit = self.aggs.by_node.get(node)
        if hit is not None:
            return Typed(col(hit[0]), hit[1].kind, hit[1].scale)
        if node.source not in self.schema.events:
            raise SqlCompileError(f"{node.source} is not an input event list")
        name = f"agg_{len(self.aggs.by_node)}"
        typed = self.compiler.aggregate(node, _EventEnv(self, node.source))
        self.aggs.by_node[node] = (name, typed)
        self.aggs.by_source.setdefault(node.source, []).append((name, node, typed))
        return Typed(col(name), typed.kind, typed.scale)

    def fact_column(self, fact: str, test: exp.Expression) -> str:
        """A column of the wide row: this fact is unknown (TRUE or FALSE), one per fact and
        chunk, which the forecast counts per rule where the rule is undetermined."""
        if fact not in self.fact_cols:
            self.fact_cols[fact] = (f"u__{len(self.fact_cols)}", test.copy())
        return self.fact_cols[fact][0]

    def hoist(self, node: Node, build: Callable[[], Typed]) -> Typed:
        """An `in` test of input variables as a column computed once per chunk (layer lh):
        DuckDB does not share a repeated one between rules, and `local(registered_place)`, a
        test against 11 strings that most rules make, cost a third of a rule's row time."""
        if any(isinstance(n, (Aggregate, Field)) for n in walk(node)) or not all(
            n in self.schema.inputs for n in names_read(node)
        ):
            return build()
        return Typed(self.share(node, lambda: build().sql), "bool")

    def share(self, key: object, sql: exp.Expression | Callable[[], exp.Expression]) -> exp.Column:
        """The column of layer lh computing `sql` (built on first use) for every use of `key`."""
        hit = self.hoisted.get(key)
        if hit is None:
            value = sql() if callable(sql) else sql
            hit = self.hoisted[key] = (f"in_{len(self.hoisted)}", value)
        return col(hit[0])

    def derived(self, name: str) -> Typed:
        """A derived variable as a column of the derived layers, compiled on first use (only
        the derived variables the chosen rules read are computed)."""
        if name not in self.derived_kind:
            if name in self._compiling:
                raise SqlCompileError(f"derived variable {name} refers to itself")
            self._compiling.add(name)
            try:
                t = self.compiler.compile(self.derived_nodes[name], self.row_env)
            except SqlCompileError as exc:
                raise SqlCompileError(f"derived variable {name}: {exc}") from None
            self._compiling.discard(name)
            self.derived_kind[name] = (t.kind, t.scale)
            self.derived_sql[name] = t.sql
        return Typed(col(name), *self.derived_kind[name])

    @property
    def layers(self) -> list[list[tuple[str, exp.Expression]]]:
        """The compiled derived variables as successive CTEs, each reading only earlier ones."""
        level: dict[str, int] = {}

        def lvl(name: str) -> int:
            if name not in level:
                deps = [d for d in names_read(self.derived_nodes[name]) if d in self.derived_sql]
                level[name] = 1 + max((lvl(d) for d in deps), default=0)
            return level[name]

        for name in self.derived_sql:
            lvl(name)
        top = max(level.values(), default=0)
        return [
            [(n, e) for n, e in self.derived_sql.items() if level[n] == depth]
            for depth in range(1, top + 1)
        ]

    def inputs_of(self, node: Node) -> list[str]:
        """Input variables and event lists a tree reads, through derived variables."""
        out: dict[str, None] = {}
        stack = list(reversed(names_read(node)))
        seen: dict[str, None] = {}  # in the order met: `missing` lists names in this order
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen[name] = None
            if name in self.derived_nodes:
                stack.extend(reversed(names_read(self.derived_nodes[name])))
                for p in walk(self.derived_nodes[name]):
                    if isinstance(p, Param) and self.params.get(p.name) is None:
                        out[f"param:{p.name}"] = None
            else:
                out[name] = None
        for p in walk(node):
            if isinstance(p, Param) and self.params.get(p.name) is None:
                out[f"param:{p.name}"] = None
        # fields of events read (list.field), as the scalar evaluator names an unknown one
        for tree in [node, *(self.derived_nodes[n] for n in seen if n in self.derived_nodes)]:
            for f in walk(tree):
                if isinstance(f, Field) and f.depth == 0 and f.source in self.schema.events:
                    out[f"{f.source}.{f.name}"] = None
        return list(out)

    def facts_of(self, cr: CompiledRule) -> dict[str, None]:
        """The facts a rule's `missing` may name, in the order it names them."""
        reads: dict[str, None] = {}
        for node in [*(n for n, _ in cr.parts), *cr.amount_nodes.values(), *cr.exclusion_nodes]:
            reads.update(dict.fromkeys(self.inputs_of(node)))
        return reads

    # --- rules -------------------------------------------------------------------------------

    def expr(self, node: Node) -> Typed:
        return self.compiler.compile(node, self.row_env)

    def rule_columns(self, cr: CompiledRule, i: int) -> list[tuple[str, exp.Expression]]:
        rule = cr.rule
        null = exp.null()
        # No blanket jurisdiction gate: like the scalar evaluator, a rule bound to where the
        # applicant is registered says so itself (local(registered_place)).
        gates: list[exp.Expression] = []
        not_for = exp.and_(
            not_null(col("applicant")),
            exp.Not(
                this=exp.In(
                    this=col("applicant"),
                    expressions=[exp.Literal.string(b) for b in rule.beneficiary],
                )
            ),
        )
        gates.append(self.share(("applicant", frozenset(rule.beneficiary)), not_for))
        gates += [is_true(self.expr(n).sql) for n in cr.exclusion_nodes]
        parts = [paren(self.expr(node).sql) for node, _ in cr.parts]
        cond = exp.Paren(this=exp.and_(*parts, copy=False)) if parts else exp.true()
        a = rule.amount
        nodes = cr.amount_nodes
        vals = {k: self.expr(v) for k, v in nodes.items()}
        known = [not_null(v.sql) for v in vals.values()]
        amount_ok = exp.and_(*known, copy=False) if known else exp.true()

        def cents(t: Typed) -> exp.Expression:
            if t.kind in ("int", "null") or (t.kind == "dec" and t.scale <= 2):
                return cast(t.sql, dec_type(2))  # exact: rounding to cents would not change it
            # scale <= MAX_SCALE (12) always, so rounding the value as it is rounds it as
            # DECIMAL(38, 12) did
            return self.compiler.narrow(
                t, lambda v: exp.Round(this=v, decimals=exp.Literal.number(2)), dec_type(2)
            )

        amt: exp.Expression = null
        lo: exp.Expression = null
        hi: exp.Expression = null
        if a.type == "fixed":
            amt = cents(vals["fixed"])
        elif a.type == "formula":
            amt = cents(vals["formula"])
        elif a.type == "per_item":
            amt = cents(self.compiler._binary("*", vals["per_item"], vals["count"]))
        elif a.type == "percent":
            raw = cents(self.compiler._binary("*", vals["base"], vals["rate"]))
            amt = raw
            if "cap" in vals:
                cap = cents(vals["cap"])
                amt = case((exp.GT(this=raw, expression=cap), cap.copy()), default=raw.copy())
        elif a.type == "range":
            hi = cents(vals["max"])
            lo = cents(vals["min"]) if "min" in vals else null
        elif a.type not in ("unstated", "none"):
            raise SqlCompileError(f"amount form {a.type}")
        # 逾期未申请, as the scalar engine decides it: a time-limit part (deadline: true) that is
        # the first false part, or conditions met after a binding window closed (as_of is fixed)
        overdue_lit = code(OVERDUE)
        late_parts = []
        if rule.apply.late_refused:
            for d, part in enumerate(rule.when):
                if not part.deadline:
                    continue
                before = [
                    exp.Not(this=exp.Is(this=parts[j].copy(), expression=exp.false()))
                    for j in range(d)
                ]
                late_parts.append(
                    exp.and_(
                        exp.Is(this=parts[d].copy(), expression=exp.false()), *before, copy=False
                    )
                )
        late_branch = [(paren(exp.or_(*late_parts, copy=False)), overdue_lit)] if late_parts else []
        # the condition as a column of the layer before (cd): the CASE tested it twice, and a
        # rule of many parts (the tax rules) paid for it twice (the pack at 1M: -0.5 s)
        met = col(f"c_{i}")
        window_branch = (
            [(exp.Is(this=met.copy(), expression=exp.true()), overdue_lit)]
            if overdue(rule, self.as_of) is not None
            else []
        )
        status = case(
            *[(g, code(NOT_ELIGIBLE)) for g in gates],
            *late_branch,
            (exp.Is(this=met, expression=exp.false()), code(NOT_ELIGIBLE)),
            (is_null(met.copy()), code(UNDETERMINED)),
            *window_branch,
            (exp.Not(this=paren(amount_ok)), code(UNDETERMINED)),
            default=code(ELIGIBLE),
        )
        eligible = is_status(i, ELIGIBLE)
        key: exp.Expression = null
        if cr.key_node is not None:
            key = cast(self.expr(cr.key_node).sql, "VARCHAR")
        self.keys[i] = key
        reads = self.facts_of(cr)
        pieces = []
        unknown: list[tuple[str, exp.Expression]] = []  # (fact, its test), in `missing` order
        for name in reads:
            if name in self.complete:
                continue  # never unknown in the registry evaluated: never missing
            if name.startswith("param:"):
                test: exp.Expression = exp.true()
                pieces.append(exp.Literal.string(name))
            elif "." in name:  # an event of a known list with this field unknown
                source, fname = name.split(".", 1)
                self.aggs.field_nulls.setdefault(source, set()).add(fname)
                test = is_true(col(null_flag(source, fname)))
                pieces.append(case((test.copy(), exp.Literal.string(name))))
            else:
                self.used.add(name)
                test = is_null(col(name))
                pieces.append(case((test.copy(), exp.Literal.string(name))))
            unknown.append((name, test))
        missing = (
            # CONCAT_WS skips NULLs in DuckDB and Spark (sqlglot's ConcatWs would add a NULL test)
            exp.Anonymous(this="CONCAT_WS", expressions=[exp.Literal.string(","), *pieces])
            if pieces
            else exp.Literal.string("")
        )
        undetermined = is_status(i, UNDETERMINED)
        # compiled above even when out of force, so that an untranslatable rule is an error
        if _in_force(rule, self.as_of) is not None:
            self.shapes[i] = _Shape((NOT_IN_FORCE,), [])
            out = [(f"s_{i}", code(NOT_IN_FORCE))]
            return out + [(f"{p}_{i}", null) for p in ("a", "lo", "hi", "k", "m")]
        statuses = [ELIGIBLE, NOT_ELIGIBLE, UNDETERMINED]
        if late_branch or window_branch:
            statuses.append(OVERDUE)
        self.shapes[i] = _Shape(
            tuple(statuses),
            [f for f, _ in unknown],
            amt is not null,
            hi is not null,
            [self.fact_column(f, test) for f, test in unknown],
        )
        return [
            (f"c_{i}", ("before", cond)),
            (f"s_{i}", status),
            # amounts and key read the status column of the same row (second projection)
            (f"a_{i}", ("after", case((eligible, amt)))),
            (f"lo_{i}", ("after", case((eligible, lo)))),
            (f"hi_{i}", ("after", case((eligible, hi)))),
            (f"k_{i}", ("after", case((eligible, key)))),
            (f"m_{i}", ("after", case((undetermined, missing)))),
        ]  # type: ignore[list-item]


def _department(text: str) -> str:
    """The office that takes applications, without the procedure in brackets after it."""
    head = re.split(r"[（(]", text, maxsplit=1)[0].strip()
    return head or "（未写明受理部门）"


def _file_of(pack: Pack) -> dict[str, str]:
    return {r.id: f.doc for f in pack.files for r in f.rules}


CHUNK_RULES = 25


def chunks(rules: list[CompiledRule], lists: dict[int, str] | None = None) -> list[list[int]]:
    """Rule positions in groups of at most CHUNK_RULES (unless one stacking group is larger),
    made of pieces taken in pack order: the rules of one stacking group always together
    (rivals are compared within one row), and a document's rules together as far as they
    fit (they share derived variables and event aggregates, computed once per query).
    DuckDB's planning and the rows it carries grow faster than linearly with the rules in
    one query: twenty queries of 25 rules run far faster than one of 449 (merging whole
    documents that share a group once made a chunk of 222 rules that took 2/3 of the pack's
    time).

    `lists` (`sparse.needs_events`): rules that only enterprises with events of a list can
    meet go into queries of their own, one list each, which the forecast reads only for the
    enterprises whose list is unknown or has events (`restriction`). Pieces whose rules are
    all for one kind of applicant go together, apart from the others: a query whose rules
    are for one kind reads only the rows of that kind where the others are many
    (`_applicants`)."""
    lists = lists or {}
    parts: dict[str, list[int]] = {}
    for i, cr in enumerate(rules):
        st = cr.rule.stacking
        if st is not None:
            key = f"group:{st.group}"
        elif i in lists:
            key = f"list:{lists[i]}:doc:{cr.rule.doc}"
        else:
            key = f"doc:{cr.rule.doc}"
        parts.setdefault(key, []).append(i)
    pieces: list[list[int]] = []
    for key, part in sorted(parts.items(), key=lambda kv: kv[1][0]):
        if key.startswith("group:"):
            pieces.append(part)  # rivals stay in one query, however many
        else:
            pieces += [part[k : k + CHUNK_RULES] for k in range(0, len(part), CHUNK_RULES)]
    # each piece into the first chunk of its list (or of none) and of its one kind of
    # applicant (or of several) with room, not only the last one: a query of one rule
    # scanned the registry and joined a list for 0.07 s at 1M. The whole pack in 32 queries,
    # 19 of one list each; kjjl in 6, 5 of one list each.
    out: list[tuple[tuple[str | None, str | None], list[int]]] = []
    for piece in pieces:
        serves = {b for i in piece for b in rules[i].rule.beneficiary}
        kind = (restriction(piece, lists), serves.pop() if len(serves) == 1 else None)
        room = next((c for k, c in out if k == kind and len(c) + len(piece) <= CHUNK_RULES), None)
        if room is not None:
            room.extend(piece)
        else:
            out.append((kind, list(piece)))
    return [c for _, c in out]


def restriction(part: list[int], lists: dict[int, str]) -> str | None:
    """The event list all the rules of a query need (`sparse.needs_events`), or None."""
    found = {lists.get(i) for i in part}
    return found.pop() if len(found) == 1 else None


def facts_read(pack: Pack, as_of: date, rules: list[CompiledRule] | None = None) -> set[str]:
    """The inputs (registry columns, `list.field` event fields) whose unknowns the rules
    (default: the pack's) name: those `complete` may leave untested."""
    b = _Builder(pack, as_of, "duckdb")
    out: set[str] = set()
    for cr in pack.compiled if rules is None else rules:
        out.update(b.facts_of(cr))
    return out


def compile_rules(
    pack: Pack,
    as_of: date,
    dialect: str = "duckdb",
    rules: list[CompiledRule] | None = None,
    received: bool = False,
    complete: frozenset[str] = frozenset(),
    applicants: tuple[tuple[str, int], ...] = (),
) -> CompiledBatch:
    """Compile rules (default: every rule of the pack) into queries, one per chunk of rules
    (`chunks`); raise RuleCompileError naming the first rule that cannot be compiled. With
    `received`, the queries also read table `received` (benefits already paid: `_rid`, `rule`,
    `amount`, `year`, `key`), which count in the stacking group of their rule as in
    `apply_stacking`: 只能享受一次 sets the winner aside, 补差 / 就高 pay what is left.

    `complete`: inputs known for every enterprise of the registry the batch will evaluate
    (registry columns and `list.field` event fields, `runner.complete_inputs`). They are
    never a missing fact there, so the queries do not test them for one: no column per fact
    and chunk, no count per rule and fact in the forecast, no flag per event field. On the
    benchmark's registry that is 121 of kjjl's 287 fact counts. The results are the same
    for that registry; a batch compiled with `complete` must not evaluate another one.

    `applicants`: the registry's enterprises per kind of applicant ("" for unknown,
    `runner.applicant_counts`). A chunk whose rules in force are all for kinds that leave
    out at least FILTERED_SHARE of them has its forecast read only the others' rows
    (`_applicants`). Without them every forecast reads every row. As with `complete`, the
    results are the same for any registry; only the time differs.

    The last COMPILED_KEPT batches of a pack are kept (compiling a whole pack takes about a
    second; an officials' page run or a test suite asks for the same one again and again)."""
    chosen = list(pack.compiled if rules is None else rules)
    key = (
        "batch",
        as_of,
        dialect,
        tuple(cr.rule.id for cr in chosen),
        received,
        complete,
        applicants,
    )
    with _KEPT_LOCK:
        kept = pack.memo.setdefault("compiled_batches", {})  # oldest first
        hit = kept.get(key)
    if hit is not None:
        return hit
    batch = _compile(pack, as_of, dialect, chosen, received, complete, applicants)
    with _KEPT_LOCK:
        kept[key] = batch
        while len(kept) > COMPILED_KEPT:
            del kept[next(iter(kept))]
    return batch


COMPILED_KEPT = 4  # a whole pack's queries are about 4 MB of text
_KEPT_LOCK = threading.Lock()


def _compile(
    pack: Pack,
    as_of: date,
    dialect: str,
    chosen: list[CompiledRule],
    received: bool,
    complete: frozenset[str],
    counts: tuple[tuple[str, int], ...],
) -> CompiledBatch:
    docs = _file_of(pack)
    infos: list[RuleInfo] = []
    for i, cr in enumerate(chosen):
        st = cr.rule.stacking
        infos.append(
            RuleInfo(
                i,
                cr.rule.id,
                cr.rule.title,
                cr.rule.doc_title or docs.get(cr.rule.id, cr.rule.doc),
                st.group if st else None,
                st.policy if st else None,
                cr.rule.determination,
                _department(cr.rule.apply.department),
            )
        )
    sqls, wides, forecasts, forecast_items, restrictions = [], [], [], [], []
    applicants: list[tuple[str, ...] | None] = []
    computed_like: dict[int, int] = {}
    alike: list[tuple[str, ...] | None] = []
    sch = schema(pack)
    lists = needs_events(pack, as_of, chosen)
    for part in chunks(chosen, lists):
        b = _Builder(pack, as_of, dialect, complete)
        # the layers of a rule's columns: its condition, its status, then what reads the status
        met: list[tuple[str, exp.Expression]] = []
        first: list[tuple[str, exp.Expression]] = []
        second: list[tuple[str, exp.Expression]] = []
        seen_rules: dict[str, int] = {}
        same: dict[int, int] = {}  # a rule → the earlier rule of the chunk it computes like
        for i in part:
            cr = chosen[i]
            try:
                cols = b.rule_columns(cr, i)
            except SqlCompileError as exc:
                raise RuleCompileError(cr.rule.id, str(exc)) from None
            if cr.rule.stacking is None:
                sig = _signature(cols, i, b.shapes[i], dialect)
                if sig in seen_rules:
                    same[i] = seen_rules[sig]
                    continue  # no columns of its own: read from that rule's
                seen_rules[sig] = i
            for name, value in cols:
                if not isinstance(value, tuple):
                    first.append((name, value))
                else:
                    (met if value[0] == "before" else second).append((name, value[1]))
        some_infos = [infos[i] for i in part]
        some_rules = [chosen[i] for i in part]
        third = _stacking(some_infos, some_rules, b.keys)
        worth = _worth_keys(some_rules, part)
        if PLACE in sch.inputs:
            b.used.add(PLACE)  # the forecast's breakdown by county
        tail = _received(pack, as_of, some_infos, some_rules) if received else None
        wide_q, l0, am = _assemble(b, met, first, second, worth, third, tail)
        computed_like.update(same)
        wide = to_sql(wide_q, dialect)
        wides.append(wide)
        paid = _Paid(some_infos, some_rules, tail is not None)
        sqls.append(_long(some_infos, paid, wide, dialect, same))
        _drop_missing(wide_q)
        place = PLACE if PLACE in sch.inputs else None
        needed = restriction(part, lists)
        restrictions.append(needed)
        kinds = _applicants(pack, as_of, some_rules, counts)
        applicants.append(kinds)
        # the forecast's wide rows: only the enterprises the list leaves open and that some
        # rule is for, and those without events read once per distinct row (`_alike`)
        rows = _rows_read(needed, kinds, complete)
        seen = [*b.aggs.by_source, *([RECEIVED] if tail is not None else [])]
        keys = _alike_keys(pack, b, sch)
        if seen == [needed] and needed in complete:
            keys = None  # every row read has events of the list: none to read alike
        alike.append(None if keys is None else tuple(keys))
        if keys is not None:
            rows = _alike(rows, keys, seen, needed)
            l0.select(col(WEIGHT, "r"), copy=False)
            am.select(exp.column(WEIGHT), copy=False)
        if not isinstance(rows, exp.Table):
            l0.from_(alias(rows, "r", table=True), copy=False)
        wide = to_sql(wide_q, dialect)
        weight = WEIGHT if keys is not None else None
        grouped, items = _forecast(some_infos, b.shapes, paid, wide, place, dialect, weight, same)
        forecasts.append(grouped)
        forecast_items.append(items)
    return CompiledBatch(
        wide_sqls=wides,
        sqls=sqls,
        rules=infos,
        schema=sch,
        dialect=dialect,
        forecast_sqls=forecasts,
        forecast_items=forecast_items,
        restrictions=restrictions,
        everyone_sql=_everyone(PLACE if PLACE in sch.inputs else None, dialect),
        alike=alike,
        computed_like=computed_like,
        applicants=applicants,
    )


#: the least share of the registry a chunk's rules must leave out by kind of applicant for
#: its forecast to read only the others' rows. Leaving out rows spread through the registry
#: slows every expression that reads one of its columns on the rows kept (they are read
#: through a selection): the pack at 1M on the benchmark's registry, whose kinds are
#: interleaved, with the queries of 4 kinds of 5 (10% left out) 20-50% slower, those of 2
#: (30%) between 14% faster and 19% slower, those of one (40%) up to 40% faster.
FILTERED_SHARE = 1 / 3


def _applicants(
    pack: Pack, as_of: date, rules: list[CompiledRule], counts: tuple[tuple[str, int], ...]
) -> tuple[str, ...] | None:
    """The kinds of applicant some rule in force among `rules` is for (none if no rule is in
    force), if the registry's enterprises of other kinds (`counts`: per kind, "" unknown)
    are at least FILTERED_SHARE of them: every rule is 不符合 for an applicant of another
    kind (its first test, `rule_columns`' gate), and out of force for anyone when it is (its
    only status). Else None: every row is read."""
    kinds: set[str] = set()
    in_force = False
    for cr in rules:
        if _in_force(cr.rule, as_of) is None:
            kinds.update(cr.rule.beneficiary)
            in_force = True
    total = sum(n for _, n in counts)
    # (an applicant of unknown kind may be any: read, unless no rule is in force)
    left = sum(n for kind, n in counts if not in_force or (kind and kind not in kinds))
    if not total or left < FILTERED_SHARE * total:
        return None
    return tuple(k for k in pack.entities if k in kinds)


def _rows_read(
    needed: str | None, kinds: tuple[str, ...] | None, complete: frozenset[str]
) -> exp.Expression:
    """The registry's rows a chunk's forecast reads: with `needed`, those of the enterprises
    the list leaves open (`_open_for`); with `kinds`, those of an applicant of one of these
    kinds or of unknown kind, none if `kinds` is empty (`_applicants`). The others' statuses
    are the one each rule leaves (不符合, or its only one for a rule out of force), which
    `forecast_rows` counts from every place's enterprises. A subquery, not a WHERE on l0:
    DuckDB put that filter above the joins to the event lists (kjjl at 1M: 0.98 s instead of
    0.87)."""
    conds: list[exp.Expression] = []
    if needed is not None:
        conds.append(_open_for(needed, complete))
    if kinds == ():
        conds.append(exp.false())  # no rule in force: nothing to read
    elif kinds is not None:
        applicant = col("applicant", "g")
        of_kind = exp.In(this=applicant, expressions=[exp.Literal.string(k) for k in kinds])
        conds.append(exp.or_(is_null(applicant.copy()), of_kind, copy=False))
    if not conds:
        return exp.to_table(REGISTRY)
    rows = select(exp.Star()).from_(
        copy=False, expression=alias(exp.to_table(REGISTRY), "g", table=True)
    )
    return exp.Subquery(this=rows.where(exp.and_(*conds, copy=False), copy=False))


def _open_for(name: str, complete: frozenset[str]) -> exp.Expression:
    """The test that an enterprise's rules that need events of list `name` may be anything
    but not eligible: the list unknown, or some event in it."""
    some = exp.In(
        this=col(RID, "g"),
        query=exp.Subquery(
            this=select(col(RID, "ev")).from_(
                copy=False,
                expression=alias(exp.to_table(events_table(name)), "ev", table=True),
            )
        ),
    )
    return some if name in complete else exp.or_(is_null(col(name, "g")), some, copy=False)


WEIGHT = "_w"  # in the forecast's wide rows: how many enterprises a row stands for

#: the most distinct rows (by the columns a query reads) for which `_alike` reads the
#: enterprises without events once per distinct row
ALIKE_MAX = 50_000


def _alike_keys(pack: Pack, b: _Builder, sch: Schema) -> list[str] | None:
    """The registry columns a query's rows are read by (`_alike`), if those can hold at most
    ALIKE_MAX distinct rows whatever the registry: booleans, choices, kinds of applicant and
    lists known or not. None when some column may hold any number (money, years, dates)."""
    keys = [
        c
        for c in sch.registry_columns()
        if c == "applicant" or c in b.used or c in b.aggs.by_source
    ]
    rows = 1
    for c in keys:
        if c == "applicant":
            values = len(pack.entities)
        elif c in sch.events:
            values = 1  # TRUE: known
        else:
            spec = pack.variables[c].spec
            if spec is None or spec.type not in ("bool", "enum"):
                return None
            values = 2 if spec.type == "bool" else len(spec.values or ())
        rows *= values + 1  # and unknown
        if rows > ALIKE_MAX:
            return None
    return keys


def _alike(
    rows: exp.Expression, keys: list[str], seen: list[str], needed: str | None
) -> exp.Subquery:
    """`rows` of the registry as the forecast reads them when the columns a query reads
    (`keys`) hold few distinct rows: the enterprises with a row in one of the tables `seen`
    (the event lists the query reads, benefits already received) one by one, the others
    once per distinct row, with column WEIGHT counting the enterprises it stands for. Their
    `_rid` is NULL, so the joins to the lists find nothing for them, as for enterprises
    without events. Most rules that need an event read a few booleans and choices: kjjl's
    queries of one list read ~306k enterprises at 1M, ~56k of them with events and ~600
    distinct rows of the others."""
    own: exp.Expression = exp.cast(exp.null(), "BIGINT")
    if seen == [needed]:
        # `rows` are those with events in the list or with the list unknown (`_open_for`)
        own = case((not_null(col(str(needed), "g")), col(RID, "g")), default=exp.null())
    elif seen:
        tables = [exp.to_table(n if n == RECEIVED else events_table(n)) for n in seen]
        rids: exp.Expression = select(col(RID)).from_(tables[0])
        for table in tables[1:]:
            rids = exp.union(rids, select(col(RID)).from_(table), distinct=False)
        has = exp.In(this=col(RID, "g"), query=exp.Subquery(this=rids))
        own = case((has, col(RID, "g")), default=exp.null())
    marked = select(*[col(k, "g") for k in keys], alias(own, RID)).from_(
        copy=False, expression=alias(rows, "g", table=True)
    )
    by = [col(k) for k in [*keys, RID]]
    counted = (
        select(*by, alias(exp.Count(this=exp.Star()), WEIGHT))
        .from_(copy=False, expression=alias(exp.Subquery(this=marked), "m", table=True))
        .group_by(*[c.copy() for c in by], copy=False)
    )
    return exp.Subquery(this=counted)


def _select(cols: list[tuple[str, exp.Expression]], source: str) -> exp.Select:
    return select(exp.Star(), *[alias(e, n) for n, e in cols]).from_(copy=False, expression=source)


def _assemble(
    b: _Builder,
    met: list[tuple[str, exp.Expression]],
    first: list[tuple[str, exp.Expression]],
    second: list[tuple[str, exp.Expression]],
    worth: list[tuple[str, exp.Expression]],
    third: list[tuple[str, exp.Expression]],
    tail: _Tail | None = None,
) -> tuple[exp.Select, exp.Select, exp.Select]:
    """registry ⟕ pre-aggregated event CTEs → derived layers → conditions (`met`) → status →
    amounts → worth and keys of stacked rules → stacking (→ benefits already received:
    `tail`) (wide); its first layer (l0, the registry's rows with their event aggregates)
    and its layer of amounts (am: what the layers above it see of a row)."""
    ctes: list[tuple[str, exp.Expression]] = []
    agg_cols: list[tuple[str, exp.Expression]] = []
    for source, items in b.aggs.by_source.items():
        cte = f"a__{source}"
        flags = [(null_flag(source, f), f) for f in sorted(b.aggs.field_nulls.get(source, ()))]
        sel = select(
            alias(col(RID, "ev"), RID),
            *[alias(t.sql, name) for name, _, t in items],
            *[alias(some_null(col(f, "ev")), flag) for flag, f in flags],
        ).from_(copy=False, expression=alias(exp.to_table(events_table(source)), "ev", table=True))
        if source in b.aggs.joins_registry:
            sel = sel.join(
                copy=False,
                expression=alias(exp.to_table(REGISTRY), "b", table=True),
                on=exp.EQ(this=col(RID, "b"), expression=col(RID, "ev")),
            )
        ctes.append((cte, sel.group_by(col(RID, "ev"), copy=False)))
        for name, node, t in items:
            value = case(
                (is_null(col(source, "r")), exp.null()),
                (is_null(col(RID, cte)), ExprCompiler.empty(node, t)),
                default=col(name, cte),
            )
            agg_cols.append((name, value))
        for flag, _ in flags:
            value = case(
                (is_null(col(source, "r")), exp.null()),
                (is_null(col(RID, cte)), exp.false()),
                default=col(flag, cte),
            )
            agg_cols.append((flag, value))
    # only the columns this query reads: the layers below carry them all along (SELECT *)
    base = select(
        *[
            exp.column(c, "r")
            for c in b.schema.registry_columns()
            if c in (RID, "applicant") or c in b.used
        ],
        *[alias(e, n) for n, e in agg_cols],
    ).from_(copy=False, expression=alias(exp.to_table(REGISTRY), "r", table=True))
    for source in b.aggs.by_source:
        cte = f"a__{source}"
        base = base.join(
            copy=False,
            expression=exp.to_table(cte),
            on=exp.EQ(this=col(RID, cte), expression=col(RID, "r")),
            join_type="left",
        )
    ctes.append(("l0", base))
    prev = "l0"
    if b.hoisted:
        ctes.append(("lh", _select(list(b.hoisted.values()), prev)))
        prev = "lh"
    for k, layer in enumerate(b.layers, start=1):
        ctes.append((f"l{k}", _select(layer, prev)))
        prev = f"l{k}"
    if met:
        ctes.append(("cd", _select(met, prev)))
        prev = "cd"
    ctes.append(("st", _select(first, prev)))
    # amounts, keys and missing lists read the status column of the same row
    am = select(
        exp.column(RID),
        # the place stays visible: the forecast is broken down by it
        *([exp.column(PLACE)] if PLACE in b.used else []),
        *[exp.column(n) for n, _ in first],
        *[alias(e, n) for n, e in second],
        *[alias(test, name) for name, test in b.fact_cols.values()],
    ).from_(copy=False, expression="st")
    ctes.append(("am", am))
    # stacking reads the worth and keys of the rivals
    prev = "am"
    if worth:
        ctes.append(("wk", _select(worth, "am")))
        prev = "wk"
    q = select(exp.Star(), *[alias(e, n) for n, e in third]).from_(copy=False, expression=prev)
    if tail is not None:
        ctes.append(("sx", q))
        ctes += tail.ctes
        q = select(exp.Column(this=exp.Star(), table=exp.to_identifier("sx")), *tail.columns)
        q = q.from_(copy=False, expression="sx")
        for table, on in tail.joins:
            q = q.join(copy=False, expression=table, on=on, join_type="left")
    for name, cte_q in ctes:
        q = q.with_(name, as_=cte_q, copy=False)
    return q, base, am


def _stacking(
    infos: list[RuleInfo], rules: list[CompiledRule], keys: dict[int, exp.Expression]
) -> list[tuple[str, exp.Expression]]:
    """x_i: rule i is set aside by a rival of its stacking group with the same key that ranks
    higher (more money; on a tie, the rule quoting the principle, then pack order), as
    `apply_stacking` ranks them. Pairwise in the row: groups are small (≤ 8 rules here), and no
    window or second pass over the long result is needed.

    The comparisons read w_i (what rule i is worth: its amount, else its range's high, low, 0)
    and kk_i (its key, '' for none), computed once per rule in the layer before (`_worth_keys`):
    written out in every comparison, a group of 8 rules cost 56 decimal COALESCEs and 112
    string ones per row, the costliest projection of the forecast (1.3 of 4.3 CPU-s of a
    chunk at 1M). Keys known equal at compile time are not compared at all: the same key
    expression (most groups key on the applicant's year or on as_of's), or two literals."""
    members: dict[str, list[tuple[int, int]]] = {}
    for info, cr in zip(infos, rules, strict=True):
        st = cr.rule.stacking
        if st is not None:
            members.setdefault(st.group, []).append((info.idx, 0 if st.quote else 1))

    def same_key(i: int, j: int) -> exp.Expression:
        a, b = keys.get(i, exp.null()), keys.get(j, exp.null())
        if a == b:  # the same expression on the same row: always equal
            return exp.true()
        lit_a, lit_b = _literal_key(a), _literal_key(b)
        if lit_a is not None and lit_b is not None:
            return exp.true() if lit_a == lit_b else exp.false()
        return exp.EQ(this=col(f"kk_{j}"), expression=col(f"kk_{i}"))

    out: list[tuple[str, exp.Expression]] = []
    for group in members.values():
        for i, nq_i in group:
            beaten = []
            for j, nq_j in group:
                if j == i:
                    continue
                # ties go to the rule that ranks first on (no quote, index): known statically
                cmp = exp.GTE if (nq_j, j) < (nq_i, i) else exp.GT
                eq = same_key(i, j)
                if eq == exp.false():
                    continue
                terms = [is_status(j, ELIGIBLE), cmp(this=col(f"w_{j}"), expression=col(f"w_{i}"))]
                if eq != exp.true():
                    terms.insert(1, eq)
                beaten.append(exp.and_(*terms, copy=False))
            aside = (
                exp.and_(is_status(i, ELIGIBLE), exp.or_(*beaten, copy=False), copy=False)
                if beaten
                else exp.false()
            )
            out.append((f"x_{i}", exp.Coalesce(this=paren(aside), expressions=[exp.false()])))
    return out


def _literal_key(key: exp.Expression) -> str | None:
    """The text of a key that is a constant (a literal, as the compiler casts it), else None."""
    while isinstance(key, (exp.Cast, exp.Paren)):
        key = key.this
    if isinstance(key, exp.Literal):
        return str(key.this)
    return None


def _worth_keys(rules: list[CompiledRule], idxs: list[int]) -> list[tuple[str, exp.Expression]]:
    """w_i and kk_i of the stacked rules, which `_stacking`'s comparisons read."""
    zero = cast(exp.Literal.number(0), dec_type(2))
    out: list[tuple[str, exp.Expression]] = []
    for i, cr in zip(idxs, rules, strict=True):
        if cr.rule.stacking is None:
            continue
        worth = exp.Coalesce(
            this=col(f"a_{i}"), expressions=[col(f"hi_{i}"), col(f"lo_{i}"), zero.copy()]
        )
        key = exp.Coalesce(this=col(f"k_{i}"), expressions=[exp.Literal.string("")])
        out += [(f"w_{i}", worth), (f"kk_{i}", key)]
    return out


LONG_COLUMNS = (
    ("rule_idx", "BIGINT"),
    ("status", "VARCHAR"),
    ("amount", "DECIMAL(38, 2)"),
    ("amount_min", "DECIMAL(38, 2)"),
    ("amount_max", "DECIMAL(38, 2)"),
    ("amount_gross", "DECIMAL(38, 2)"),
    ("set_aside", "BOOLEAN"),
    ("missing", "VARCHAR"),
)


class _Paid:
    """What the result rows say of a rule after stacking, as SQL text over the wide row: set
    aside (by a rival: x_i; by a benefit already received: y_i) and the amount paid (a_i,
    0 when set aside, what is left after 补差 / 就高: t_i)."""

    def __init__(self, infos: list[RuleInfo], rules: list[CompiledRule], received: bool):
        self.stacked = {info.idx for info, cr in zip(infos, rules, strict=True) if cr.rule.stacking}
        self.received = received

    def aside(self, i: int) -> str:
        if i not in self.stacked:
            return "FALSE"
        return f"(x_{i} OR coalesce(y_{i}, FALSE))" if self.received else f"x_{i}"

    def amount(self, i: int) -> str:
        if i not in self.stacked:
            return f"a_{i}"
        left = f"coalesce(t_{i}, a_{i})" if self.received else f"a_{i}"
        return f"CASE WHEN {self.aside(i)} AND a_{i} IS NOT NULL THEN 0 ELSE {left} END"

    def bound(self, i: int, c: str) -> str:
        """amount_min (c = lo) or amount_max (c = hi): both 0 when a range is set aside."""
        if i not in self.stacked:
            return f"{c}_{i}"
        return f"CASE WHEN {self.aside(i)} AND hi_{i} IS NOT NULL THEN 0 ELSE {c}_{i} END"


def _long(
    infos: list[RuleInfo], paid: _Paid, wide_sql: str, dialect: str, same: dict[int, int]
) -> str:
    """One row per enterprise and rule: the wide row unpivoted (UNNEST of a list of structs in
    DuckDB, EXPLODE of an array of named structs in Spark), set-aside amounts zeroed; a rule
    computing like an earlier one (`same`) from that rule's columns. Built as text: every
    name in it is one of ours (s_0, a_0, …), no user text."""
    types = dict(LONG_COLUMNS)
    if dialect == "spark":
        types = {k: v.replace("VARCHAR", "STRING") for k, v in types.items()}
    items = []
    for info in infos:
        # a rule read from another (`same`) is never stacked: `paid` gives that rule's columns
        i = same.get(info.idx, info.idx)
        values = {
            "rule_idx": str(info.idx),
            "status": status_name(f"s_{i}"),
            "amount": paid.amount(i),
            "amount_min": paid.bound(i, "lo"),
            "amount_max": paid.bound(i, "hi"),
            "amount_gross": f"a_{i}",
            "set_aside": paid.aside(i),
            "missing": f"m_{i}",
        }
        fields = [(name, f"CAST({values[name]} AS {types[name]})") for name, _ in LONG_COLUMNS]
        if dialect == "spark":
            items.append("named_struct(" + ", ".join(f"'{n}', {v}" for n, v in fields) + ")")
        else:
            items.append("{" + ", ".join(f"'{n}': {v}" for n, v in fields) + "}")
    names = ", ".join(f"x.{n} AS {n}" for n, _ in LONG_COLUMNS)
    if dialect == "spark":
        listed = f"explode(array({', '.join(items)}))"
    else:
        listed = f"unnest([{', '.join(items)}])"
    return f"SELECT {RID}, {names} FROM (SELECT {RID}, {listed} AS x FROM ({wide_sql}) wide) u"


PLACE = "registered_place"  # the input the forecast is broken down by (county)


def _drop_missing(wide_q: exp.Select) -> None:
    """The wide query without the columns naming each row's missing facts (m_i), which only
    the long result reads: the forecast counts unknown facts from their own flags, and
    DuckDB would parse and bind those expressions before dropping them (the whole pack: a
    tenth of the ~1.2 s its queries spend planning)."""
    for sel in wide_q.find_all(exp.Select):
        kept = [e for e in sel.expressions if not _MISSING.match(e.alias_or_name or "")]
        if len(kept) != len(sel.expressions):
            sel.set("expressions", kept)


_MISSING = re.compile(r"m_\d+$")


def _signature(cols: list[tuple[str, exp.Expression]], i: int, shape: _Shape, dialect: str) -> str:
    """What rule i computes, as text with its own columns (c_i, s_i) named neutrally: two
    rules of a chunk with the same signature have the same status, amounts, range and
    unknown facts on every row. Many rules of a document differ only in what the text says
    of them, not in what the registry can tell (11 honours of one document testing the same
    facts; the 25 measures of a 2020 document, all not yet in force on a date of 2019): such
    a rule is computed once (`_long`'s and `_forecast`'s `same`).
    The columns are renamed in place and back, not in a copy: copying every rule's trees
    took longer than writing them out."""
    own = {f"c_{i}": "c_self", f"s_{i}": "s_self"}
    parts = [repr((shape.statuses, shape.facts, shape.amount, shape.range, shape.fact_cols))]
    for name, value in cols:
        where, e = value if isinstance(value, tuple) else ("", value)
        renamed = [(c, c.this) for c in e.find_all(exp.Column) if not c.table and c.name in own]
        for c, ident in renamed:
            c.set("this", exp.to_identifier(own[ident.name]))
        try:
            parts.append(f"{name.rsplit('_', 1)[0]}:{where}:{to_sql(e, dialect)}")
        finally:
            for c, ident in renamed:
                c.set("this", ident)
    return "\n".join(parts)


def _forecast(
    infos: list[RuleInfo],
    shapes: dict[int, _Shape],
    paid: _Paid,
    wide_sql: str,
    place: str | None,
    dialect: str,
    weight: str | None,
    same: dict[int, int],
) -> tuple[str, tuple[ForecastItem, ...]]:
    """The budget forecast of a chunk from its wide rows, per registered place: the query
    of its aggregates (one row per place) and the items `forecast.forecast_rows` makes the
    forecast's rows of — (place, rule_idx, status, NULL, n, certain total, range low, range
    high) per status, and (place, rule_idx, 'undetermined', fact, n, NULL…) per input unknown
    where the rule is undetermined (what `missing` lists). Set-aside amounts count 0, as in
    the long result. The same figures as grouping the long result
    (tests/test_batch_forecast.py).

    One GROUP BY place over the wide rows with, per rule, a count per status its CASE can
    give but 不符合 (what the others leave of the place's enterprises), the money sums it has
    (amount, range; NULL unless eligible, so they sum the eligible rows) and a count per fact
    it may name (undetermined and that fact unknown: u__k, one column per fact and chunk).
    This replaced unnesting a struct per rule and row, unnesting its split `missing` list
    again and grouping those 20–30M rows per chunk on four keys: at 1M enterprises (kjjl)
    that took ~55% of a chunk's CPU time. No CASE or FILTER per row: `count(*) FILTER (…)`
    per status and fact made the GROUP BY ~20× slower (DuckDB 2.0), `count(CASE …)` left ~5 s
    of CASE projections per chunk; count_if of a comparison is ~3× cheaper than summing bits
    of a per-rule mask of unknowns (the way before).

    For a chunk that reads only some enterprises (`CompiledBatch.reads_part`) the wide rows
    are only those its rules may find anything but not eligible (`_rows_read`): its rows are
    made with every enterprise of each place (`_everyone`), and those not read are counted
    in the status each rule leaves (不符合).
    `weight`: the column of the number of enterprises a wide row stands for (`_alike`), by
    which its counts and sums are multiplied. `same`: rules that compute like an earlier
    rule of the chunk (`_signature`): their items read that rule's aggregates.
    Built as text: every name in it is ours."""

    def count_if(cond: str) -> str:
        return (
            f"count_if({cond})"
            if weight is None
            else f"sum(CASE WHEN {cond} THEN {weight} ELSE 0 END)"
        )

    def total(value: str) -> str:
        return f"sum({value})" if weight is None else f"sum(({value}) * {weight})"

    aggs: list[str] = []
    items: list[ForecastItem] = []
    undetermined = STATUS_CODES[UNDETERMINED]
    for info in infos:
        i = info.idx
        if i in same:  # the items of the rule it computes like, with its own index
            items += [replace(it, rule_idx=i) for it in items if it.rule_idx == same[i]]
            continue
        shape = shapes[i]
        # the money columns are NULL unless the rule is eligible: their sums are its totals
        sums = {}
        if shape.amount:
            sums["c"] = paid.amount(i)
        if shape.range:
            sums["r"] = f"CASE WHEN hi_{i} IS NOT NULL THEN coalesce({paid.bound(i, 'lo')}, 0) END"
            sums["h"] = paid.bound(i, "hi")
        aggs += [f"{total(v)} AS {k}_{i}" for k, v in sums.items()]
        # statuses partition the rows: 不符合 (else the only status) is what the others leave
        left = NOT_ELIGIBLE if NOT_ELIGIBLE in shape.statuses else shape.statuses[-1]
        counted = {s: f"n_{i}_{k}" for k, s in enumerate(shape.statuses) if s != left}
        for status, column in counted.items():
            aggs.append(f"{count_if(f's_{i} = {STATUS_CODES[status]}')} AS {column}")
        c, r, h = (f"{v}_{i}" if v in sums else None for v in "crh")
        for status in shape.statuses:
            items.append(
                ForecastItem(
                    i,
                    status,
                    count=counted.get(status),
                    others=() if status != left else tuple(counted.values()),
                    sums=(c, r, h) if status == ELIGIBLE else (None, None, None),
                )
            )
        for j, (fact, unknown) in enumerate(zip(shape.facts, shape.fact_cols, strict=True)):
            aggs.append(f"{count_if(f's_{i} = {undetermined} AND {unknown}')} AS f_{i}_{j}")
            items.append(ForecastItem(i, UNDETERMINED, fact=fact, count=f"f_{i}_{j}"))
    place_sql = _place_sql(place, dialect)
    n = "count(*)" if weight is None else f"sum({weight})"
    columns = ", ".join([f"{n} AS n", *aggs])
    grouped = f"SELECT {place_sql} AS place, {columns} FROM ({wide_sql}) wide GROUP BY 1"
    return grouped, tuple(items)


def _everyone(place: str | None, dialect: str) -> str:
    """The enterprises of each registered place, all of them: the `n` of a query that reads
    only some (`CompiledBatch.reads_part`), counted once per run, not once per query
    (0.02 s of CPU per query over 1M enterprises)."""
    place_sql = _place_sql(place, dialect)
    registry = exp.to_identifier(REGISTRY, quoted=True).sql(dialect)  # type: ignore[union-attr]
    return f"SELECT {place_sql} AS place, count(*) AS n FROM {registry} GROUP BY 1"


def _place_sql(place: str | None, dialect: str) -> str:
    if place:
        return exp.to_identifier(place, quoted=True).sql(dialect)  # type: ignore[union-attr]
    return "CAST(NULL AS STRING)" if dialect == "spark" else "CAST(NULL AS VARCHAR)"


RECEIVED = "received"  # benefits already paid: _rid, rule, amount, year, key
RECEIVED_COLUMNS = {
    RID: "BIGINT",
    "rule": "VARCHAR",
    "amount": "DECIMAL(38, 2)",
    "year": "BIGINT",
    "key": "VARCHAR",
}


@dataclass
class _Tail:
    """The last layer of a wide query: CTEs, columns and left joins on the stacking layer."""

    ctes: list[tuple[str, exp.Expression]]
    columns: list[exp.Expression]
    joins: list[tuple[exp.Expression, exp.Expression]]


def _received(
    pack: Pack, as_of: date, infos: list[RuleInfo], rules: list[CompiledRule]
) -> _Tail | None:
    """y_i / t_i of each stacked rule: benefits already received in its group whose key
    matches (`apply_stacking`, `_same_key`, `_received_key`) — only the winner (eligible,
    not set aside by a rival) is affected. 只能享受一次 (once): set aside. 补差 (difference) /
    就高 (highest): what is left after the sum / the highest received; none left: set aside.

    `rb`: the received benefits per enterprise, group and key (a benefit without a key, in a
    group keyed by the achievement year, counts for the year before it was received);
    `rg__<n>`: per enterprise of a group, the totals over all keys and over keyless ones;
    `e__<i>`: the line of `rb` whose key is rule i's key."""
    group_of = {
        cr.rule.id: cr.rule.stacking.group for cr in pack.compiled if cr.rule.stacking is not None
    }
    if not group_of:
        return None
    yearly = sorted(
        {
            cr.rule.stacking.group
            for cr in pack.compiled
            if cr.rule.stacking is not None
            and cr.rule.stacking.key is not None
            and cr.rule.stacking.key.text == "last_year"
        }
    )
    lit = exp.Literal.string
    num = exp.Literal.number
    grp = exp.Case(
        this=col("rule"),
        ifs=[exp.If(this=lit(r), true=lit(g)) for r, g in sorted(group_of.items())],
    )
    by_year = case(
        (
            exp.and_(
                exp.In(this=col("grp"), expressions=[lit(g) for g in yearly])
                if yearly
                else exp.false(),
                not_null(col("year")),
            ),
            cast(exp.Sub(this=col("year"), expression=num(1)), "VARCHAR"),
        )
    )
    items = select(col(RID), col("amount"), col("year"), col("key"), alias(grp, "grp"))
    items = items.from_(copy=False, expression=RECEIVED)
    keyed = select(
        col(RID),
        col("grp"),
        col("amount"),
        alias(exp.Coalesce(this=col("key"), expressions=[by_year]), "rkey"),
    ).from_(copy=False, expression=items.subquery("i", copy=False))
    rb = (
        select(
            col(RID),
            col("grp"),
            col("rkey"),
            alias(exp.Count(this=exp.Star()), "n"),
            alias(exp.Sum(this=col("amount")), "s"),
            alias(exp.Max(this=col("amount")), "m"),
        )
        .from_(copy=False, expression=keyed.subquery("k", copy=False))
        .where(not_null(col("grp")), copy=False)
        .group_by(col(RID), col("grp"), col("rkey"), copy=False)
    )
    ctes: list[tuple[str, exp.Expression]] = [("rb", rb)]
    joins: list[tuple[exp.Expression, exp.Expression]] = []
    columns: list[exp.Expression] = []
    groups: dict[str, str] = {}  # group -> its CTE
    zero = cast(num(0), dec_type(2))
    for info, cr in zip(infos, rules, strict=True):
        st = cr.rule.stacking
        if st is None:
            continue
        i = info.idx
        g = groups.get(st.group)
        if g is None:
            g = groups[st.group] = f"rg__{len(groups)}"
            keyless = is_null(col("rkey"))

            def part(func: type[exp.Func], v: str, cond: exp.Expression | None) -> exp.Func:
                val = col(v) if cond is None else case((cond, col(v)))
                return func(this=val)

            ctes.append(
                (
                    g,
                    select(
                        col(RID),
                        alias(part(exp.Sum, "n", None), "all_n"),
                        alias(part(exp.Sum, "s", None), "all_s"),
                        alias(part(exp.Max, "m", None), "all_m"),
                        alias(part(exp.Sum, "n", keyless), "nk_n"),
                        alias(part(exp.Sum, "s", keyless.copy()), "nk_s"),
                        alias(part(exp.Max, "m", keyless.copy()), "nk_m"),
                    )
                    .from_(copy=False, expression="rb")
                    .where(exp.EQ(this=col("grp"), expression=lit(st.group)), copy=False)
                    .group_by(col(RID), copy=False),
                )
            )
            joins.append((exp.to_table(g), exp.EQ(this=col(RID, g), expression=col(RID, "sx"))))
        e = f"e__{i}"
        joins.append(
            (
                alias(exp.to_table("rb"), e, table=True),
                exp.and_(
                    exp.EQ(this=col(RID, e), expression=col(RID, "sx")),
                    exp.EQ(this=col("grp", e), expression=lit(st.group)),
                    exp.EQ(this=col("rkey", e), expression=col(f"k_{i}", "sx")),
                    copy=False,
                ),
            )
        )
        no_key = exp.EQ(
            this=exp.Coalesce(this=col(f"k_{i}", "sx"), expressions=[lit("")]),
            expression=lit(""),
        )

        def matched(kind: str, g: str = g, e: str = e, no_key: exp.Expression = no_key):
            if kind == "m":  # GREATEST skips NULLs in DuckDB and Spark
                keyed = exp.Anonymous(this="GREATEST", expressions=[col("nk_m", g), col("m", e)])
            else:
                keyed = exp.Add(
                    this=exp.Coalesce(this=col(f"nk_{kind}", g), expressions=[num(0)]),
                    expression=exp.Coalesce(this=col(kind, e), expressions=[num(0)]),
                )
            return case((no_key.copy(), col(f"all_{kind}", g)), default=keyed)

        winner = exp.and_(
            is_status(i, ELIGIBLE, "sx"),
            exp.Not(this=col(f"x_{i}", "sx")),
            exp.GT(this=exp.Coalesce(this=matched("n"), expressions=[num(0)]), expression=num(0)),
            copy=False,
        )
        if st.policy not in ("difference", "highest"):  # once
            columns += [alias(winner, f"y_{i}"), alias(cast(exp.null(), dec_type(2)), f"t_{i}")]
            continue
        already = matched("s" if st.policy == "difference" else "m")
        gross = col(f"a_{i}", "sx")
        left = exp.Sub(this=gross, expression=paren(already))
        topped = exp.and_(winner.copy(), not_null(gross.copy()), copy=False)
        columns += [
            alias(
                exp.and_(topped, exp.LTE(this=left, expression=zero.copy()), copy=False), f"y_{i}"
            ),
            alias(
                case(
                    (
                        exp.and_(topped.copy(), exp.GT(this=left.copy(), expression=zero.copy())),
                        cast(left.copy(), dec_type(2)),
                    )
                ),
                f"t_{i}",
            ),
        ]
    return _Tail(ctes, columns, joins)
