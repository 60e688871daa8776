"""The expression language of rules: a lark grammar and a small closed set of AST nodes.

The tree holds only data (no callables, no Python objects besides Decimal, str, bool and
date), so that a later compiler can translate it to SQL. Names are parsed as `Name` and
resolved by the pack (`resolve`) into `Var`, `Param`, `Field` (a field of the event an
aggregate is iterating over) or `Builtin` (`as_of`, `last_year`). See docs/rules.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ..errors import ExprError

GRAMMAR = r"""
?start: expr

?expr: "if" expr "then" expr "else" expr   -> ifexpr
     | or_expr

?or_expr: and_expr
        | or_expr "or" and_expr            -> or_
?and_expr: not_expr
         | and_expr "and" not_expr         -> and_
?not_expr: "not" not_expr                  -> not_
         | comparison
?comparison: arith
           | arith COMP arith              -> compare
           | arith "in" list               -> in_
           | arith "not" "in" list         -> not_in
?arith: term
      | arith PLUS term                    -> binop
      | arith MINUS term                   -> binop
?term: factor
     | term STAR factor                    -> binop
     | term SLASH factor                   -> binop
?factor: MINUS factor                      -> neg
       | atom
?atom: NUMBER                              -> number
     | STRING                              -> string
     | "true"                              -> true
     | "false"                             -> false
     | NAME                                -> name
     | NAME "(" [args] ")"                 -> call
     | "(" expr ")"

args: expr ("," expr)*                     -> plain_args
    | expr "where" expr                    -> where_args
    | expr "for" NAME ["where" expr]       -> for_args

list: "[" [expr ("," expr)*] "]"

COMP: "==" | "!=" | "<=" | ">=" | "<" | ">"
PLUS: "+"
MINUS: "-"
STAR: "*"
SLASH: "/"
NUMBER: /\d+(\.\d+)?(万元|亿元|万|亿|元|%|‱)?/
STRING: /"[^"\n]*"/
NAME: /(?!(if|then|else|and|or|not|in|where|for|true|false)\b)[a-z_][a-z0-9_]*/
%ignore /\s+/
"""

KEYWORDS = frozenset(
    ["if", "then", "else", "and", "or", "not", "in", "where", "for", "true", "false"]
)

#: Functions callable in expressions (fixed whitelist): name -> (min args, max args or None).
FUNCTIONS: dict[str, tuple[int, int | None]] = {
    "min": (1, None),
    "max": (1, None),
    "abs": (1, 1),
    "floor": (1, 1),  # whole part: 10亿元台阶 = floor(revenue / 10亿); SQL FLOOR
    "year": (1, 1),
    "month": (1, 1),
    "date": (1, 1),
    # Places, expanded at resolution into `x in [...]` from the jurisdiction tree (pack data):
    "local": (1, 1),  # local(registered_place): within the jurisdiction of the rule's pack
    "within": (2, 2),  # within(registered_place, "某市"): within a named jurisdiction
}
#: Aggregates over an event list: `count(E)`, `count(E where P)`, `any(E where P)`,
#: `all(E where P)`, `sum(X for E [where P])`, `min(X for E ...)`, `max(X for E ...)`.
AGGREGATES_WHERE = frozenset({"count", "any", "all"})
AGGREGATES_FOR = frozenset({"sum", "min", "max"})
BUILTINS = {"as_of": "date", "last_year": "year"}

UNIT_FACTORS = {
    "": (Decimal(1), "number"),
    "元": (Decimal(1), "money"),
    "万": (Decimal(10_000), "money"),
    "万元": (Decimal(10_000), "money"),
    "亿": (Decimal(100_000_000), "money"),
    "亿元": (Decimal(100_000_000), "money"),
    "%": (Decimal("0.01"), "ratio"),
    "‱": (Decimal("0.0001"), "ratio"),
}


@dataclass(frozen=True, slots=True)
class Pos:
    start: int
    end: int
    line: int
    column: int


NOPOS = Pos(0, 0, 1, 1)


def _rebuild_any(cls: type, values: tuple) -> Node:
    names = _SLOTS.get(cls)
    if names is None:
        names = _SLOTS[cls] = tuple(f.name for f in fields(cls))
    node = object.__new__(cls)
    for name, value in zip(names, values, strict=True):
        object.__setattr__(node, name, value)
    return node


_SLOTS: dict[type, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class Node:
    pos: Pos = field(default=NOPOS, compare=False, repr=False, kw_only=True)

    def __reduce__(self):
        # Trees are pickled by the pack cache by the thousand: a flat tuple per node loads
        # several times faster than dataclasses' generic __setstate__.
        cls = type(self)
        names = _SLOTS.get(cls)
        if names is None:
            names = _SLOTS[cls] = tuple(f.name for f in fields(cls))
        return (_rebuild_any, (cls, tuple(getattr(self, n) for n in names)))


@dataclass(frozen=True, slots=True)
class Num(Node):
    value: Decimal
    unit: str = "number"  # number, money (normalised to 元), ratio (normalised: 10% -> 0.1)
    text: str = ""


@dataclass(frozen=True, slots=True)
class Str(Node):
    value: str


@dataclass(frozen=True, slots=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True, slots=True)
class Name(Node):
    """An unresolved name (parser output only)."""

    name: str


@dataclass(frozen=True, slots=True)
class Var(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Param(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Builtin(Node):
    name: str  # as_of, last_year


@dataclass(frozen=True, slots=True)
class Field(Node):
    """Field `name` of the current item of event list `source`; depth = aggregate nesting."""

    source: str
    name: str
    depth: int = 0


@dataclass(frozen=True, slots=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str  # + - * /
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    op: str  # == != < <= > >=
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class BoolOp(Node):
    op: str  # and, or
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class If(Node):
    cond: Node
    then: Node
    orelse: Node


@dataclass(frozen=True, slots=True)
class In(Node):
    item: Node
    options: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Aggregate(Node):
    func: str  # count, any, all, sum, min, max
    source: str  # name of an events variable
    value: Node | None = None
    where: Node | None = None


def _pos(meta: Any) -> Pos:
    if getattr(meta, "empty", True):
        return NOPOS
    return Pos(meta.start_pos, meta.end_pos, meta.line, meta.column)


def _tok_pos(tok: Token) -> Pos:
    return Pos(tok.start_pos or 0, tok.end_pos or 0, tok.line or 1, tok.column or 1)


def parse_number(text: str) -> Num:
    """A numeric literal with an optional unit: 20万, 1.5亿, 2000元, 10%, 2‱."""
    text = text.strip()
    digits = text.rstrip("万亿元%‱")
    unit = text[len(digits) :]
    if unit not in UNIT_FACTORS:
        raise ValueError(f"无法识别的数值单位：{text}")
    try:
        number = Decimal(digits)
    except InvalidOperation as exc:
        raise ValueError(f"无法识别的数值：{text}") from exc
    factor, kind = UNIT_FACTORS[unit]
    value = number * factor
    if value == value.to_integral_value():
        value = value.quantize(Decimal(1))
    return Num(value.normalize() if kind == "ratio" else value, kind, text)


@v_args(meta=True)
class _ToAst(Transformer):
    def number(self, meta, items):
        tok = items[0]
        return replace(parse_number(str(tok)), pos=_tok_pos(tok))

    def string(self, meta, items):
        tok = items[0]
        return Str(str(tok)[1:-1], pos=_tok_pos(tok))

    def true(self, meta, items):
        return Bool(True, pos=_pos(meta))

    def false(self, meta, items):
        return Bool(False, pos=_pos(meta))

    def name(self, meta, items):
        tok = items[0]
        if str(tok) in KEYWORDS:
            raise ExprError(f"“{tok}”是关键字，不能作名称", tok.line, tok.column)
        return Name(str(tok), pos=_tok_pos(tok))

    def ifexpr(self, meta, items):
        return If(items[0], items[1], items[2], pos=_pos(meta))

    def or_(self, meta, items):
        return _flatten("or", items, _pos(meta))

    def and_(self, meta, items):
        return _flatten("and", items, _pos(meta))

    def not_(self, meta, items):
        return Not(items[0], pos=_pos(meta))

    def compare(self, meta, items):
        return Compare(str(items[1]), items[0], items[2], pos=_pos(meta))

    def in_(self, meta, items):
        return In(items[0], tuple(items[1]), False, pos=_pos(meta))

    def not_in(self, meta, items):
        return In(items[0], tuple(items[1]), True, pos=_pos(meta))

    def list(self, meta, items):
        return [i for i in items if i is not None]

    def binop(self, meta, items):
        return Binary(str(items[1]), items[0], items[2], pos=_pos(meta))

    def neg(self, meta, items):
        operand = items[1]
        if isinstance(operand, Num):
            return replace(operand, value=-operand.value, text="-" + operand.text, pos=_pos(meta))
        return Neg(operand, pos=_pos(meta))

    def plain_args(self, meta, items):
        return ("plain", list(items))

    def where_args(self, meta, items):
        return ("where", items[0], items[1])

    def for_args(self, meta, items):
        return ("for", items[0], items[1], items[2] if len(items) > 2 else None)

    def call(self, meta, items):
        name_tok, args = items[0], items[1]
        func = str(name_tok)
        pos = _pos(meta)
        if args is None:
            args = ("plain", [])
        if args[0] == "plain":
            plain = args[1]
            if func in AGGREGATES_WHERE:
                if len(plain) != 1 or not isinstance(plain[0], Name):
                    raise ExprError(f"{func}(…) 的参数应是一个事件列表名", pos.line, pos.column)
                return Aggregate(func, plain[0].name, None, None, pos=pos)
            if func not in FUNCTIONS:
                raise ExprError(
                    f"未知函数 {func}（可用：{_function_names()}）", pos.line, pos.column
                )
            low, high = FUNCTIONS[func]
            if len(plain) < low or (high is not None and len(plain) > high):
                raise ExprError(f"函数 {func} 的参数个数不对", pos.line, pos.column)
            return Call(func, tuple(plain), pos=pos)
        if args[0] == "where":
            source, where = args[1], args[2]
            if func not in AGGREGATES_WHERE:
                raise ExprError(
                    f"{func}(… where …) 不可用；可用 count/any/all", pos.line, pos.column
                )
            if not isinstance(source, Name):
                raise ExprError(f"{func}(… where …) 的第一项应是事件列表名", pos.line, pos.column)
            return Aggregate(func, source.name, None, where, pos=pos)
        _, value, source_tok, where = args
        if func not in AGGREGATES_FOR:
            raise ExprError(f"{func}(… for …) 不可用；可用 sum/min/max", pos.line, pos.column)
        return Aggregate(func, str(source_tok), value, where, pos=pos)


def _function_names() -> str:
    return "、".join([*FUNCTIONS, *sorted(AGGREGATES_WHERE | AGGREGATES_FOR)])


def _flatten(op: str, items: list[Node], pos: Pos) -> BoolOp:
    out: list[Node] = []
    for item in items:
        if isinstance(item, BoolOp) and item.op == op:
            out.extend(item.items)
        else:
            out.append(item)
    return BoolOp(op, tuple(out), pos=pos)


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)


#: Limits that keep every recursive pass over a tree (type check, evaluation, SQL) far from
#: Python's recursion limit; real rules stay under 1,000 characters and 12 levels.
MAX_SOURCE = 4_000
MAX_DEPTH = 60


def _depth(node: Node) -> int:
    """Depth of a tree, without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_DEPTH:
            break
        stack.extend((c, d + 1) for c in children(n))
    return deepest


#: Parsed trees by source text: trees are immutable, so one text parses once per process
#: (and, through the pack cache, once per content of the pack files).
PARSED: dict[str, Node] = {}


def parse(source: str) -> Node:
    """Parse an expression into an (unresolved) tree; raises ExprError with the position."""
    if not isinstance(source, str):
        source = str(source)
    hit = PARSED.get(source)
    if hit is not None:
        return hit
    if len(source) > MAX_SOURCE:
        raise ExprError(f"表达式过长（{len(source)} 字符，上限 {MAX_SOURCE}）")
    try:
        node = _parse(source)
    except RecursionError:
        raise ExprError(f"表达式嵌套过深（上限 {MAX_DEPTH} 层）") from None
    if _depth(node) > MAX_DEPTH:
        raise ExprError(f"表达式嵌套过深（上限 {MAX_DEPTH} 层）")
    if len(PARSED) < 100_000:
        PARSED[source] = node
    return node


def _parse(source: str) -> Node:
    if not source.strip():
        raise ExprError("表达式为空")
    try:
        tree = _parser().parse(source)
    except UnexpectedCharacters as exc:
        raise ExprError(
            f"无法识别的字符 “{source[exc.pos_in_stream]}”", exc.line, exc.column
        ) from None
    except UnexpectedEOF:
        lines = source.split("\n")
        raise ExprError("表达式不完整", len(lines), len(lines[-1]) + 1) from None
    except UnexpectedToken as exc:
        tok = exc.token
        if tok.type == "$END":
            lines = source.split("\n")
            raise ExprError("表达式不完整", len(lines), len(lines[-1]) + 1) from None
        raise ExprError(f"此处不应出现 “{tok}”", tok.line, tok.column) from None
    except UnexpectedInput as exc:  # pragma: no cover - other lark errors
        raise ExprError(str(exc), getattr(exc, "line", 1), getattr(exc, "column", 1)) from None
    try:
        return _ToAst().transform(tree)
    except Exception as exc:  # lark wraps transformer errors
        inner = getattr(exc, "orig_exc", exc)
        if isinstance(inner, ExprError):
            raise inner from None
        if isinstance(inner, ValueError):
            raise ExprError(str(inner)) from None
        raise


# --- resolution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """What names mean: variables (name -> type), parameters, event fields per events var."""

    variables: dict[str, str]
    parameters: dict[str, str]
    event_fields: dict[str, dict[str, str]]  # events var -> field -> type
    local_places: tuple[str, ...] = ()  # the pack's place and everything under it
    places_within: Any = None  # Callable[[str], list[str]]: a named place and what lies under it


def resolve(node: Node, scope: Scope, stack: tuple[str, ...] = ()) -> Node:
    """Replace every `Name` by what it refers to; raise ExprError for an unknown name."""

    def go(n: Node, st: tuple[str, ...]) -> Node:
        if isinstance(n, Name):
            for depth in range(len(st) - 1, -1, -1):
                if n.name in scope.event_fields.get(st[depth], {}):
                    return Field(st[depth], n.name, depth, pos=n.pos)
            if n.name in scope.variables:
                return Var(n.name, pos=n.pos)
            if n.name in scope.parameters:
                return Param(n.name, pos=n.pos)
            if n.name in BUILTINS:
                return Builtin(n.name, pos=n.pos)
            hint = (
                f"（当前事件 {st[-1]} 的字段：{'、'.join(scope.event_fields[st[-1]])}）"
                if st
                else ""
            )
            raise ExprError(f"未知名称 {n.name}{hint}", n.pos.line, n.pos.column)
        if isinstance(n, Aggregate):
            if scope.variables.get(n.source) != "events":
                raise ExprError(
                    f"{n.func}(…) 需要事件列表，{n.source} 不是", n.pos.line, n.pos.column
                )
            inner = (*st, n.source)
            return replace(
                n,
                value=go(n.value, inner) if n.value is not None else None,
                where=go(n.where, inner) if n.where is not None else None,
            )
        if isinstance(n, (Neg, Not)):
            return replace(n, operand=go(n.operand, st))
        if isinstance(n, (Binary, Compare)):
            return replace(n, left=go(n.left, st), right=go(n.right, st))
        if isinstance(n, BoolOp):
            return replace(n, items=tuple(go(i, st) for i in n.items))
        if isinstance(n, If):
            return replace(n, cond=go(n.cond, st), then=go(n.then, st), orelse=go(n.orelse, st))
        if isinstance(n, In):
            return replace(n, item=go(n.item, st), options=tuple(go(o, st) for o in n.options))
        if isinstance(n, Call):
            if n.func in ("local", "within"):
                return _places(n, tuple(go(a, st) for a in n.args))
            return replace(n, args=tuple(go(a, st) for a in n.args))
        return n

    def _places(n: Call, args: tuple[Node, ...]) -> Node:
        if n.func == "local":
            if not scope.local_places:
                raise ExprError("local(…) 只能用于声明了辖区的规则包", n.pos.line, n.pos.column)
            places: tuple[str, ...] = scope.local_places
        else:
            target = args[1]
            if not isinstance(target, Str):
                raise ExprError('within 的第二个参数应是地名，如 "某市"', n.pos.line, n.pos.column)
            try:
                places = tuple(scope.places_within(target.value)) if scope.places_within else ()
            except KeyError:
                places = ()
            if not places:
                raise ExprError(f"未知地名 {target.value}", target.pos.line, target.pos.column)
        return In(args[0], tuple(Str(p, pos=n.pos) for p in places), pos=n.pos)

    return go(node, stack)


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, (Neg, Not)):
        return (node.operand,)
    if isinstance(node, (Binary, Compare)):
        return (node.left, node.right)
    if isinstance(node, BoolOp):
        return node.items
    if isinstance(node, If):
        return (node.cond, node.then, node.orelse)
    if isinstance(node, In):
        return (node.item, *node.options)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Aggregate):
        return tuple(x for x in (node.value, node.where) if x is not None)
    return ()


def walk(node: Node):
    yield node
    for child in children(node):
        yield from walk(child)


def names_read(node: Node) -> list[str]:
    """Variables read by an expression (event lists by their name), in order, no repeats."""
    seen: dict[str, None] = {}
    for n in walk(node):
        if isinstance(n, Var):
            seen[n.name] = None
        elif isinstance(n, Aggregate):
            seen[n.source] = None
    return list(seen)


def numbers_used(node: Node) -> list[Num]:
    return [n for n in walk(node) if isinstance(n, Num)]


def literal_value(source: Any) -> Decimal | bool | str | date:
    """Evaluate a constant literal written in YAML (e.g. a parameter value: 2000万, 10%)."""
    if isinstance(source, bool):
        return source
    if isinstance(source, (int, float, Decimal)):
        return Decimal(str(source))
    if isinstance(source, date):
        return source
    node = parse(str(source))
    if isinstance(node, Num):
        return node.value
    if isinstance(node, (Str, Bool)):
        return node.value
    raise ValueError(f"不是常量：{source}")
