"""Three-valued evaluation of expressions and rules.

Every expression is compiled once into nested Python closures (no `eval`): a closure takes
the evaluation context and the tuple of event items an aggregate is iterating over, and
returns a value or `UNKNOWN`. Reading a missing input appends its name to `ctx.missing`;
a connective whose result is decided regardless of the unknown part (Kleene logic: `false
and ?` is false, `true or ?` is true) removes what its operands appended, so that after
evaluation `ctx.missing` holds exactly the inputs the undecided result still needs.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from .expr import (
    Aggregate,
    Binary,
    Bool,
    BoolOp,
    Builtin,
    Call,
    Compare,
    Field,
    If,
    In,
    Neg,
    Node,
    Not,
    Num,
    Param,
    Str,
    Var,
    names_read,
    walk,
)


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; test `is UNKNOWN`")


UNKNOWN: Any = _Unknown()
Fn = Callable[["Ctx", tuple], Any]
CENT = Decimal("0.01")

COMPARE_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Ctx:
    """The state of one evaluation: facts of one applicant at one date."""

    __slots__ = ("as_of", "facts", "last_year", "memo", "missing", "params", "program", "trace")

    def __init__(self, program: Program, facts: dict[str, Any], as_of: date) -> None:
        self.program = program
        self.facts = facts
        self.as_of = as_of
        self.last_year = as_of.year - 1
        self.missing: list[str] = []
        self.memo: dict[str, tuple[Any, tuple[str, ...]]] = {}
        self.params: dict[str, Any] = {}
        self.trace: list[Any] = []

    def derived(self, name: str) -> Any:
        hit = self.memo.get(name)
        if hit is None:
            mark = len(self.missing)
            value = self.program.derived[name](self, ())
            hit = (value, tuple(self.missing[mark:]))
            del self.missing[mark:]
            self.memo[name] = hit
        if hit[0] is UNKNOWN:
            self.missing.extend(hit[1])
        return hit[0]

    def param(self, name: str) -> Any:
        if name not in self.params:
            found = self.program.parameters[name].at(self.as_of)
            self.params[name] = UNKNOWN if found is None else found.value
        value = self.params[name]
        if value is UNKNOWN:
            self.missing.append(f"param:{name}")
        return value


@dataclass
class Program:
    """Compiled derived variables and the parameters they may read."""

    derived: dict[str, Fn] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    derived_names: frozenset[str] = frozenset()
    labels: dict[str, str] = field(default_factory=dict)
    derived_inputs: dict[str, tuple[str, ...]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # variable -> declared type (display)

    def inputs_read(self, nodes: Iterable[Node]) -> tuple[str, ...]:
        """The inputs (facts and event lists, never a derived variable) the expressions read,
        with derived variables replaced by what they read in turn; sorted."""
        seen: set[str] = set()
        todo = [name for node in nodes for name in names_read(node)]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(self.derived_inputs.get(name, ()))
        return tuple(sorted(seen - self.derived_names))


def compile_expr(node: Node, derived: frozenset[str] = frozenset()) -> Fn:
    """Compile a resolved expression tree into a closure `fn(ctx, items) -> value|UNKNOWN`."""

    def c(n: Node) -> Fn:
        if isinstance(n, (Num, Str, Bool)):
            value = n.value

            def const(ctx, items, value=value):
                return value

            return const
        if isinstance(n, Var):
            name = n.name
            if name in derived:

                def dvar(ctx, items):
                    hit = ctx.memo.get(name)  # Ctx.derived's memo hit, without its call
                    if hit is None:
                        return ctx.derived(name)
                    if hit[0] is UNKNOWN:
                        ctx.missing.extend(hit[1])
                    return hit[0]

                return dvar

            def var(ctx, items):
                v = ctx.facts.get(name, UNKNOWN)
                if v is UNKNOWN:
                    ctx.missing.append(name)
                return v

            return var
        if isinstance(n, Param):
            pname = n.name

            def param(ctx, items):
                return ctx.param(pname)

            return param
        if isinstance(n, Builtin):
            if n.name == "as_of":
                return lambda ctx, items: ctx.as_of
            return lambda ctx, items: ctx.last_year
        if isinstance(n, Field):
            depth, fname, tag = n.depth, n.name, f"{n.source}.{n.name}"

            def fld(ctx, items):
                v = items[depth].get(fname, UNKNOWN)
                if v is UNKNOWN:
                    ctx.missing.append(tag)
                return v

            return fld
        if isinstance(n, Neg):
            g = c(n.operand)

            def neg(ctx, items):
                v = g(ctx, items)
                return UNKNOWN if v is UNKNOWN else -v

            return neg
        if isinstance(n, Not):
            g = c(n.operand)

            def not_(ctx, items):
                v = g(ctx, items)
                return UNKNOWN if v is UNKNOWN else not v

            return not_
        if isinstance(n, Binary):
            return _binary(n.op, c(n.left), c(n.right))
        if isinstance(n, Compare) and _plain_var(n.left, derived) and _const(n.right):
            # `input <op> constant`, the commonest condition: read the fact in place
            op, name, b = COMPARE_OPS[n.op], n.left.name, n.right.value  # type: ignore[attr-defined]

            def compare_input(ctx, items):
                a = ctx.facts.get(name, UNKNOWN)
                if a is UNKNOWN:
                    ctx.missing.append(name)
                    return UNKNOWN
                return op(a, b)

            return compare_input
        if isinstance(n, Compare):
            op, lf, rf = COMPARE_OPS[n.op], c(n.left), c(n.right)

            def compare(ctx, items):
                a = lf(ctx, items)
                b = rf(ctx, items)
                if a is UNKNOWN or b is UNKNOWN:
                    return UNKNOWN
                return op(a, b)

            return compare
        if isinstance(n, BoolOp):
            return _boolop(n.op, [c(i) for i in n.items], short_circuit=True)
        if isinstance(n, If):
            cf, tf, ef = c(n.cond), c(n.then), c(n.orelse)

            def if_(ctx, items):
                mark = len(ctx.missing)
                cond = cf(ctx, items)
                if cond is True:
                    return tf(ctx, items)
                if cond is False:
                    return ef(ctx, items)
                t, e = tf(ctx, items), ef(ctx, items)
                if t is not UNKNOWN and e is not UNKNOWN and t == e:
                    del ctx.missing[mark:]
                    return t
                return UNKNOWN

            return if_
        if isinstance(n, In) and all(_const(o) for o in n.options) and _plain_var(n.item, derived):
            # `input in [constants]`: read the fact in place, one membership test
            name, opts, negated = n.item.name, tuple(o.value for o in n.options), n.negated  # type: ignore[attr-defined]

            def in_input(ctx, items):
                v = ctx.facts.get(name, UNKNOWN)
                if v is UNKNOWN:
                    ctx.missing.append(name)
                    return UNKNOWN
                return (v in opts) != negated

            return in_input
        if isinstance(n, In) and all(_const(o) for o in n.options):
            # constant options (the usual `x in [...]`): one membership test, same answer
            itf, opts, negated = c(n.item), tuple(o.value for o in n.options), n.negated  # type: ignore[attr-defined]

            def in_const(ctx, items):
                v = itf(ctx, items)
                if v is UNKNOWN:
                    return UNKNOWN
                return (v in opts) != negated

            return in_const
        if isinstance(n, In):
            itf, ofs, negated = c(n.item), [c(o) for o in n.options], n.negated

            def in_(ctx, items):
                v = itf(ctx, items)
                if v is UNKNOWN:
                    return UNKNOWN
                unknown = False
                for of in ofs:
                    o = of(ctx, items)
                    if o is UNKNOWN:
                        unknown = True
                    elif o == v:
                        return not negated
                return UNKNOWN if unknown else negated

            return in_
        if isinstance(n, Call):
            return _call(n.func, [c(a) for a in n.args])
        if isinstance(n, Aggregate):
            return _aggregate(n, c(n.value) if n.value else None, c(n.where) if n.where else None)
        raise TypeError(f"cannot compile {type(n).__name__}")  # pragma: no cover

    return c(node)


def _const(n: Node) -> bool:
    return isinstance(n, (Num, Str, Bool))


def _plain_var(n: Node, derived: frozenset[str]) -> bool:
    """An input read from the facts (not a derived variable)."""
    return isinstance(n, Var) and n.name not in derived


def _binary(op: str, lf: Fn, rf: Fn) -> Fn:
    if op == "/":

        def div(ctx, items):
            a, b = lf(ctx, items), rf(ctx, items)
            if a is UNKNOWN or b is UNKNOWN or b == 0:
                return UNKNOWN  # x / 0 is NULL, as in SQL
            return Decimal(a) / Decimal(b)

        return div
    fn = {"+": operator.add, "-": operator.sub, "*": operator.mul}[op]

    def arith(ctx, items):
        a, b = lf(ctx, items), rf(ctx, items)
        if a is UNKNOWN or b is UNKNOWN:
            return UNKNOWN
        return fn(a, b)

    return arith


def _boolop(op: str, fns: list[Fn], short_circuit: bool) -> Fn:
    decisive = op == "or"  # the operand value that decides: True for or, False for and

    def boolop(ctx, items):
        mark = len(ctx.missing)
        unknown = False
        decided = False
        for f in fns:
            v = f(ctx, items)
            if v is UNKNOWN:
                unknown = True
            elif v is decisive or v == decisive:
                decided = True
                if short_circuit:
                    break
        if decided:
            del ctx.missing[mark:]
            return decisive
        if unknown:
            return UNKNOWN
        return not decisive

    return boolop


def _call(func: str, fns: list[Fn]) -> Fn:
    if func in ("min", "max"):
        pick = min if func == "min" else max

        def minmax(ctx, items):
            vals = [f(ctx, items) for f in fns]
            if any(v is UNKNOWN for v in vals):
                return UNKNOWN
            return pick(vals)

        return minmax
    (g,) = fns
    if func == "abs":
        return lambda ctx, items: UNKNOWN if (v := g(ctx, items)) is UNKNOWN else abs(v)
    if func == "floor":
        return lambda ctx, items: (
            UNKNOWN
            if (v := g(ctx, items)) is UNKNOWN
            else Decimal(v).to_integral_value(ROUND_FLOOR)
        )
    if func == "year":
        return lambda ctx, items: UNKNOWN if (v := g(ctx, items)) is UNKNOWN else v.year
    if func == "month":
        return lambda ctx, items: UNKNOWN if (v := g(ctx, items)) is UNKNOWN else v.month
    if func == "date":
        return lambda ctx, items: (
            UNKNOWN if (v := g(ctx, items)) is UNKNOWN else date.fromisoformat(v)
        )
    raise TypeError(func)  # pragma: no cover


def _aggregate(n: Aggregate, vf: Fn | None, wf: Fn | None) -> Fn:
    source, func = n.source, n.func

    def agg(ctx, items):
        events = ctx.facts.get(source, UNKNOWN)
        if events is UNKNOWN:
            ctx.missing.append(source)
            return UNKNOWN
        mark = len(ctx.missing)
        unknown = False
        count = 0
        total: Any = 0
        best: Any = None
        for ev in events:
            inner = (*items, ev)
            if wf is not None:
                w = wf(ctx, inner)
                if w is UNKNOWN:
                    unknown = True
                    continue
                if not w:
                    if func == "all":
                        del ctx.missing[mark:]
                        return False
                    continue
            if func == "any":
                del ctx.missing[mark:]
                return True
            count += 1
            if vf is not None:
                v = vf(ctx, inner)
                if v is UNKNOWN:
                    unknown = True
                    continue
                total += v
                if best is None or (v < best if func == "min" else v > best):
                    best = v
        if unknown:
            return UNKNOWN
        if func == "any":
            return False
        if func == "all":
            return True
        if func == "count":
            return count
        if func == "sum":
            return total
        return best if best is not None else 0  # min/max of nothing: 0 (SQL: COALESCE(.., 0))

    return agg


# --- traced conditions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Atom:
    """A leaf of a condition's and/or/not structure, traced with the values it read."""

    index: int
    part: int
    node: Node
    text: str
    reads: tuple[str, ...]
    gap_sides: tuple[Fn, Fn] | None  # compiled sides of a numeric threshold comparison


def _is_threshold(node: Node) -> bool:
    if not isinstance(node, Compare) or node.op not in (">=", ">", "<=", "<"):
        return False
    if any(isinstance(x, Aggregate) for x in walk(node)):
        return False
    # `x > 0` / `x >= 1` test for any activity at all: failing them is not a near miss
    for side in (node.left, node.right):
        if isinstance(side, Num) and side.unit == "number" and side.value in (0, 1):
            return False
    return any(isinstance(x, Var) for x in walk(node))


def compile_quick(parts: list[tuple[Node, str]], derived: frozenset[str]) -> Fn:
    """The conjunction of a rule's parts, untraced and short-circuiting: the same value and
    the same `ctx.missing` as `compile_condition`'s (a decided connective drops what its
    operands appended; an undecided one has evaluated them all), at less cost."""
    conjuncts: list[Node] = []

    def flatten(n: Node) -> None:
        # and(and(a, b), c) is and(a, b, c): the same value, the same missing inputs in the
        # same order, one closure level less per rule
        if isinstance(n, BoolOp) and n.op == "and":
            for item in n.items:
                flatten(item)
        else:
            conjuncts.append(n)

    for node, _ in parts:
        flatten(node)
    return _boolop("and", [compile_expr(n, derived) for n in conjuncts], short_circuit=True)


def compile_condition(
    parts: list[tuple[Node, str]], derived: frozenset[str]
) -> tuple[Callable[[Ctx], Any], list[Atom]]:
    """Compile the conjunction of a rule's parts; every atom is evaluated and traced in order."""
    atoms: list[Atom] = []

    # Every level takes (ctx, items) like compile_expr's closures, so that no adapter call
    # sits between a connective and its operands (this runs for every rule of every match).
    def c(n: Node, part: int, text: str) -> Fn:
        if isinstance(n, BoolOp):
            return _boolop(n.op, [c(i, part, text) for i in n.items], short_circuit=False)
        if isinstance(n, Not):
            g = c(n.operand, part, text)

            def not_(ctx, items):
                v = g(ctx, items)
                return UNKNOWN if v is UNKNOWN else not v

            return not_
        fn = compile_expr(n, derived)
        reads = tuple(names_read(n)) + tuple(
            sorted({x.name for x in walk(n) if isinstance(x, Builtin)})
        )
        sides = None
        if _is_threshold(n):
            assert isinstance(n, Compare)
            sides = (compile_expr(n.left, derived), compile_expr(n.right, derived))
        atoms.append(Atom(len(atoms), part, n, text[n.pos.start : n.pos.end], reads, sides))

        def atom(ctx, items):
            v = fn(ctx, ())
            ctx.trace.append(v)
            return v

        return atom

    fns = [c(node, i, text) for i, (node, text) in enumerate(parts)]
    whole = _boolop("and", fns, short_circuit=False)
    return (lambda ctx: whole(ctx, ())), atoms


# --- values -----------------------------------------------------------------------------------


def money(value: Any) -> Decimal:
    """Round a money amount to 分 (half up); integral amounts become whole Decimals."""
    d = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return d.quantize(Decimal(1)) if d == d.to_integral_value() else d


def plain(value: Any) -> Any:
    """A JSON-friendly copy of a value (Decimal -> int/float, date -> ISO, UNKNOWN -> None)."""
    if value is UNKNOWN:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value
