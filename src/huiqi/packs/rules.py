"""Rules: one YAML file per policy document, each rule one benefit (see docs/rules.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..errors import ExprError, PackError
from ..lang.expr import Node, parse

DETERMINATIONS = {
    "automatic": "自动兑现",  # conditions decidable from data: 免申即享 candidate
    "application": "依申请",  # conditions checkable, materials or approval needed
    "discretion": "评审裁量",  # expert review, ranking, 一事一议
}
KINDS = {"one_time": "一次性", "yearly": "按年", "monthly": "按月", "per_item": "按项"}
STACKING_POLICIES = {
    "highest": "就高不重复（同组只取最高一项）",
    "difference": "补差（扣除同组已获奖励）",
    "once": "只能享受一次（同组已获过则不再给予）",
}
AMOUNT_TYPES = ("fixed", "formula", "per_item", "percent", "range", "unstated", "none")
RULE_ID = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")


@dataclass(frozen=True)
class Source:
    """Where a piece of a rule is written: file, line and column of the YAML value."""

    file: str
    line: int = 0
    column: int = 0


@dataclass(frozen=True)
class Expr:
    """An expression as written plus its tree (unresolved after loading, resolved by the pack)."""

    text: str
    node: Node
    where: Source
    field: str  # e.g. when[1].expr, amount.cap

    def error(self, exc: ExprError, rule: str | None) -> PackError:
        line = self.where.line + exc.line - 1 if self.where.line else None
        column = (
            (self.where.column + exc.column - 1)
            if exc.line == 1 and self.where.column
            else exc.column
        )
        return PackError(
            exc.message, file=self.where.file, rule=rule, field=self.field, line=line, column=column
        )


@dataclass(frozen=True)
class Quote:
    clause: str  # the text's own numbering: 第八条（四）, 三（五）（第2处）
    text: str
    line: int = 0
    document: str = ""  # another document (an implementing rule); empty: the rule's own


@dataclass(frozen=True)
class Part:
    """One conjunct of a rule's condition, tied to the clause it comes from."""

    expr: Expr
    clause: str
    label: str = ""  # plain-language reading, optional
    # Another document the condition comes from: an implementing rule (实施办法) whose
    # conditions bind the parent's benefit. Empty: the rule's own document.
    document: str = ""
    # A time limit (在获得认定后1年内申请): failing only such parts means the claim is late
    # (逾期未申请), not that the applicant does not qualify.
    deadline: bool = False


@dataclass(frozen=True)
class Amount:
    type: str
    fixed: Expr | None = None
    formula: Expr | None = None
    per_item: Expr | None = None
    count: Expr | None = None
    rate: Expr | None = None
    base: Expr | None = None
    cap: Expr | None = None
    min: Expr | None = None
    max: Expr | None = None
    note: str = ""  # for type none: what the benefit is

    def exprs(self) -> list[Expr]:
        return [
            e
            for e in (
                self.fixed,
                self.formula,
                self.per_item,
                self.count,
                self.rate,
                self.base,
                self.cap,
                self.min,
                self.max,
            )
            if e is not None
        ]

    def describe(self) -> str:
        if self.type == "fixed":
            return self.fixed.text  # type: ignore[union-attr]
        if self.type == "formula":
            return self.formula.text  # type: ignore[union-attr]
        if self.type == "per_item":
            return f"每项 {self.per_item.text} × {self.count.text}"  # type: ignore[union-attr]
        if self.type == "percent":
            cap = f"，最高 {self.cap.text}" if self.cap else ""
            return f"{self.base.text} × {self.rate.text}{cap}"  # type: ignore[union-attr]
        if self.type == "range":
            low = self.min.text if self.min else "—"
            return f"{low} 至 {self.max.text}" if self.min else f"最高 {self.max.text}"  # type: ignore[union-attr]
        if self.type == "unstated":
            return f"金额未明确：{self.note}" if self.note else "金额未明确"
        return self.note or "非资金支持"


@dataclass(frozen=True)
class Stacking:
    group: str
    policy: str
    key: Expr | None = None
    clause: str = ""
    quote: str = ""


@dataclass(frozen=True)
class Independent:
    """A declaration that a rule and another rule of another document may both be paid for
    the same event, with the sentence of the law that allows it."""

    rule: str
    quote: str
    clause: str = ""
    document: str = ""  # where the quote stands (default: this rule's document)


@dataclass(frozen=True)
class Apply:
    department: str = ""
    window: str = ""  # e.g. 次年第一季度
    window_months: tuple[int, int] | None = None  # months of the year after the achievement
    deadline: str = ""
    # The sentence that makes the window binding (逾期不予受理): a claim after it is refused.
    late_refused: str = ""
    late_clause: str = ""
    late_document: str = ""  # where that sentence stands, when it is another document's
    materials: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    clause: str = ""


@dataclass(frozen=True)
class Exclusion:
    """A disqualification applying to every rule of the file when its condition is known true."""

    id: str
    title: str
    clause: str
    quote: str
    when: Expr


@dataclass(frozen=True)
class Provision:
    """A provision recorded but not encoded as an executable rule, with the reason."""

    id: str
    title: str
    clause: str
    quote: str
    reason: str


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    doc: str  # reference to the document as written (title, 文号 or id)
    clause: str
    quote: str
    context: tuple[Quote, ...]
    beneficiary: tuple[str, ...]
    when: tuple[Part, ...]
    amount: Amount
    kind: str
    payer: str
    determination: str
    stacking: Stacking | None
    schedule: str
    apply: Apply
    valid_from: date | None
    valid_to: date | None
    replaces: str | None
    note: str
    where: Source
    benefit: str = "cash"  # cash 现金奖补 | tax_relief 税收减免 (money kept, not paid)
    # why a local money rule has no place condition, with the quote (see authoring/locality.py)
    locality: str = ""
    # filled by the pack from the library:
    doc_id: str = ""
    doc_title: str = ""
    citation: str = ""
    repealed_by: str | None = None
    exclusions: tuple[Exclusion, ...] = field(default_factory=tuple)
    independent_of: tuple[Independent, ...] = ()
    # The period whose facts the rule judges: "last_year" (上年度: awards for last year's
    # achievements, claimed this year) or "as_of" (the situation on the evaluation date, or
    # the tax year of that date). Filled by the loader from what the conditions read.
    period: str = "as_of"

    def exprs(self) -> list[Expr]:
        out = [p.expr for p in self.when] + self.amount.exprs()
        if self.stacking and self.stacking.key:
            out.append(self.stacking.key)
        return out


@dataclass
class RuleFile:
    path: str
    doc: str
    prefix: str
    rules: list[Rule]
    exclusions: list[Exclusion]
    provisions: list[Provision]


def _as_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[PackError] = []

    def expr(self, owner: Any, key: str, field_name: str, rule: str | None) -> Expr | None:
        raw = owner.get(key)
        if raw is None:
            return None
        text = str(raw).strip() if not isinstance(raw, bool) else ("true" if raw else "false")
        where = Source(
            self.file,
            owner.line_of(key) if hasattr(owner, "line_of") else 0,
            owner.value_columns.get(key, 0) if hasattr(owner, "value_columns") else 0,
        )
        try:
            node = parse(text)
        except ExprError as exc:
            self.errors.append(Expr(text, None, where, field_name).error(exc, rule))  # type: ignore[arg-type]
            return None
        return Expr(text, node, where, field_name)

    def fail(
        self, message: str, rule: str | None, field_name: str | None, line: int | None
    ) -> None:
        self.errors.append(
            PackError(message, file=self.file, rule=rule, field=field_name, line=line)
        )


def load_rule_file(data: Any, file: str) -> tuple[RuleFile | None, list[PackError]]:
    r = _Reader(file)
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        return None, [PackError("规则文件应包含 document: 与 rules: 列表", file=file)]
    r.errors += schema_errors(data, file)
    doc = str(data.get("document") or "")
    if not doc:
        r.fail("缺少 document（所编码的政策文件：标题、文号或编号）", None, "document", None)
    defaults = data.get("defaults") or {}
    prefix = str(data.get("prefix") or "")

    for key in ("exclusions", "provisions"):
        if data.get(key) is not None and not isinstance(data.get(key), list):
            r.fail(
                f"{key} 应为列表",
                None,
                key,
                data.line_of(key) if hasattr(data, "line_of") else None,
            )
    if not isinstance(defaults, dict):
        r.fail("defaults 应为映射", None, "defaults", None)
        defaults = {}
    exclusions: list[Exclusion] = []
    for i, raw in enumerate(_items(r, data.get("exclusions"), "exclusions")):
        when = r.expr(raw, "when", f"exclusions[{i}].when", raw.get("id"))
        if when is not None:
            exclusions.append(
                Exclusion(
                    str(raw.get("id") or f"exclusion{i}"),
                    str(raw.get("title") or ""),
                    str(raw.get("clause") or ""),
                    str(raw.get("quote") or ""),
                    when,
                )
            )
    provisions = [
        Provision(
            str(p.get("id") or f"provision{i}"),
            str(p.get("title") or ""),
            str(p.get("clause") or ""),
            str(p.get("quote") or ""),
            str(p.get("reason") or ""),
        )
        for i, p in enumerate(_items(r, data.get("provisions"), "provisions"))
    ]

    rules: list[Rule] = []
    for raw in data["rules"]:
        rule = _read_rule(r, raw, defaults, doc, tuple(exclusions))
        if rule is not None:
            rules.append(rule)
    return RuleFile(file, doc, prefix, rules, exclusions, provisions), r.errors


def _items(r: _Reader, value: Any, key: str) -> list[dict]:
    """The mapping entries of a list field; other entries are reported, not crashed on."""
    if not isinstance(value, list):
        return []
    out = []
    for i, item in enumerate(value):
        if isinstance(item, dict):
            out.append(item)
        else:
            r.fail("应为映射", None, f"{key}[{i}]", None)
    return out


def _merged(raw: dict, defaults: dict, key: str) -> Any:
    if key in raw:
        return raw[key]
    return defaults.get(key)


def _read_rule(
    r: _Reader, raw: Any, defaults: dict, doc: str, exclusions: tuple[Exclusion, ...]
) -> Rule | None:
    if not isinstance(raw, dict):
        r.fail("规则应为映射", None, None, None)
        return None
    rid = str(raw.get("id") or "")
    line = raw.line
    n_errors = len(r.errors)
    if not RULE_ID.fullmatch(rid):
        r.fail(f"规则编号 {rid!r} 应形如 jz.kjjl.gaoqi_first_cert", rid or None, "id", line)
    for key in ("title", "clause", "quote"):
        if not raw.get(key):
            r.fail(f"缺少 {key}", rid, key, line)
    unknown = set(raw) - RULE_KEYS
    if unknown:
        r.fail(f"未知字段 {'、'.join(sorted(unknown))}", rid, None, line)

    clause = str(raw.get("clause") or "")
    context_raw = raw.get("context") or []
    if not isinstance(context_raw, list):  # (reported by the shape check: 应为列表)
        context_raw = []
    context = []
    for i, c in enumerate(context_raw):
        if not isinstance(c, dict):
            r.fail("context 的每一项须写明 quote（相关条款的原文）", rid, f"context[{i}]", line)
            continue
        quote = Quote(
            str(c.get("clause") or clause),
            str(c.get("quote") or ""),
            c.line,
            str(c.get("document") or ""),
        )
        context.append(quote)

    # Condition: a string, or a list of parts each {expr, clause?, label?}.
    parts: list[Part] = []
    when_raw = raw.get("when")
    if when_raw is None:
        r.fail("缺少条件 when", rid, "when", line)
    elif isinstance(when_raw, list):
        for i, item in enumerate(when_raw):
            if isinstance(item, dict):
                e = r.expr(item, "expr", f"when[{i}].expr", rid)
                if e is not None:
                    parts.append(
                        Part(
                            e,
                            str(item.get("clause") or clause),
                            str(item.get("label") or ""),
                            str(item.get("document") or ""),
                            item.get("deadline") is True,
                        )
                    )
            else:
                holder = _Holder({"expr": item}, raw.line_of("when") + i + 1)
                e = r.expr(holder, "expr", f"when[{i}]", rid)
                if e is not None:
                    parts.append(Part(e, clause))
    else:
        e = r.expr(raw, "when", "when", rid)
        if e is not None:
            parts.append(Part(e, clause))

    amount = _read_amount(r, raw.get("amount"), rid, line)

    stacking = None
    st = raw.get("stacking")
    if st:
        policy = str(st.get("policy") or "")
        if policy not in STACKING_POLICIES:
            r.fail(
                f"叠加规则 policy 应为 {'、'.join(STACKING_POLICIES)} 之一",
                rid,
                "stacking.policy",
                st.line,
            )
        stacking = Stacking(
            str(st.get("group") or ""),
            policy,
            r.expr(st, "key", "stacking.key", rid),
            str(st.get("clause") or clause),
            str(st.get("quote") or ""),
        )
        if not stacking.group:
            r.fail("叠加规则缺少 group", rid, "stacking.group", st.line)
        if policy == "difference" and stacking.key is None:
            # Without a key, 补差 subtracts every award the group ever paid (a 2018 step award
            # would cancel a 2020 one): the text's unit of "the same benefit" must be named.
            r.fail(
                "补差（difference）须用 key 写明“同一事项”的范围（如同一年度、同一级别、同一项目），"
                "否则会扣除该组历年所有已获奖励",
                rid,
                "stacking.key",
                st.line,
            )

    determination = str(_merged(raw, defaults, "determination") or "")
    if determination not in DETERMINATIONS:
        r.fail(f"determination 应为 {'、'.join(DETERMINATIONS)} 之一", rid, "determination", line)
    kind = str(_merged(raw, defaults, "kind") or "")
    if kind not in KINDS:
        r.fail(f"kind 应为 {'、'.join(KINDS)} 之一", rid, "kind", line)
    benefit = str(_merged(raw, defaults, "benefit") or "cash")
    if benefit not in BENEFITS:
        r.fail(f"benefit 应为 {'、'.join(BENEFITS)} 之一", rid, "benefit", line)
    ben = _merged(raw, defaults, "beneficiary") or []
    beneficiary = tuple([ben] if isinstance(ben, str) else ben)
    if not beneficiary:
        r.fail("缺少受益主体 beneficiary", rid, "beneficiary", line)

    ap = dict(defaults.get("apply") or {})
    ap.update(raw.get("apply") or {})
    months = ap.get("window_months")
    apply = Apply(
        department=str(ap.get("department") or ""),
        window=str(ap.get("window") or ""),
        window_months=(int(months[0]), int(months[1])) if months else None,
        deadline=str(ap.get("deadline") or ""),
        late_refused=str((ap.get("late_refused") or {}).get("quote") or ""),
        late_clause=str((ap.get("late_refused") or {}).get("clause") or ""),
        late_document=str((ap.get("late_refused") or {}).get("document") or ""),
        materials=tuple(str(m) for m in ap.get("materials") or ()),
        steps=tuple(str(s) for s in ap.get("steps") or ()),
        clause=str(ap.get("clause") or ""),
    )
    validity = dict(defaults.get("validity") or {})
    validity.update(raw.get("validity") or {})
    try:
        valid_from, valid_to = _as_date(validity.get("from")), _as_date(validity.get("to"))
    except ValueError as exc:
        r.fail(f"有效期日期有误：{exc}", rid, "validity", line)
        valid_from = valid_to = None
    if valid_from and valid_to and valid_from > valid_to:
        r.fail(f"有效期起始日 {valid_from} 晚于截止日 {valid_to}", rid, "validity", line)

    independent = []
    for i, item in enumerate(raw.get("independent_of") or []):
        if not isinstance(item, dict) or not item.get("rule") or not item.get("quote"):
            r.fail(
                "independent_of 的每一项须写明 rule（另一条规则）和 quote（允许同时享受的原文）",
                rid,
                f"independent_of[{i}]",
                line,
            )
            continue
        independent.append(
            Independent(
                str(item["rule"]),
                str(item["quote"]).strip(),
                str(item.get("clause") or ""),
                str(item.get("document") or ""),
            )
        )

    if len(r.errors) > n_errors or amount is None:
        return None
    return Rule(
        id=rid,
        title=str(raw["title"]),
        doc=str(raw.get("document") or doc),
        clause=clause,
        quote=str(raw["quote"]).strip(),
        context=tuple(context),
        beneficiary=beneficiary,
        when=tuple(parts),
        amount=amount,
        kind=kind,
        payer=str(_merged(raw, defaults, "payer") or ""),
        determination=determination,
        stacking=stacking,
        schedule=str(_merged(raw, defaults, "schedule") or ""),
        apply=apply,
        valid_from=valid_from,
        valid_to=valid_to,
        replaces=str(raw["replaces"]) if raw.get("replaces") else None,
        note=str(raw.get("note") or ""),
        locality=str(_merged(raw, defaults, "locality") or "").strip(),
        benefit=benefit,
        where=Source(r.file, line),
        exclusions=exclusions,
        independent_of=tuple(independent),
    )


BENEFITS = {"cash": "现金奖补", "tax_relief": "税收减免"}
RULE_KEYS = {
    "benefit",
    "id",
    "title",
    "document",
    "clause",
    "quote",
    "context",
    "beneficiary",
    "when",
    "amount",
    "kind",
    "payer",
    "determination",
    "stacking",
    "schedule",
    "apply",
    "validity",
    "replaces",
    "note",
    "independent_of",
    "locality",
}


_PART_KEYS = {"expr", "clause", "label", "document", "deadline"}
_STACKING_KEYS = {"group", "policy", "key", "clause", "quote"}
_APPLY_KEYS = {
    "department",
    "window",
    "window_months",
    "deadline",
    "late_refused",
    "materials",
    "steps",
    "clause",
}
_AMOUNT_KEYS = {"fixed", "formula", "per_item", "count", "percent", "of", "cap", "min", "max"}
#: Every key a rule file may hold, by place: a key outside these is a typo (`exclusion:` for
#: `exclusions:`, `wehn:` in an exclusion) and an error, never silently ignored.
SCHEMA: dict[str, set[str]] = {
    "": {"document", "defaults", "exclusions", "provisions", "rules", "prefix"},
    "defaults": RULE_KEYS
    - {"id", "title", "clause", "quote", "when", "amount", "replaces", "independent_of"},
    "exclusions[]": {"id", "title", "clause", "quote", "when"},
    "provisions[]": {"id", "title", "clause", "quote", "reason"},
    "rules[]": RULE_KEYS,
    "rules[].when[]": _PART_KEYS,
    "rules[].context[]": {"clause", "quote", "document"},
    "rules[].independent_of[]": {"rule", "quote", "clause", "document"},
    "rules[].amount": _AMOUNT_KEYS | {"unstated", "none"},
    **{f"{where}.stacking": _STACKING_KEYS for where in ("rules[]", "defaults")},
    **{f"{where}.apply": _APPLY_KEYS for where in ("rules[]", "defaults")},
    **{f"{where}.validity": {"from", "to"} for where in ("rules[]", "defaults")},
    **{
        f"{where}.apply.late_refused": {"clause", "quote", "document"}
        for where in ("rules[]", "defaults")
    },
}
#: Which places hold a mapping (others are lists of mappings or scalars).
_LISTS = {"exclusions", "provisions", "rules", "when", "context", "independent_of"}


def schema_errors(data: Any, file: str) -> list[PackError]:
    """Unknown keys and wrong shapes anywhere in a rule file, each with its line."""
    out: list[PackError] = []

    def visit(node: Any, place: str, where: str) -> None:
        allowed = SCHEMA.get(place)
        if allowed is None or not isinstance(node, dict):
            return
        for key, value in node.items():
            line = node.line_of(key) if hasattr(node, "line_of") else None
            if key not in allowed:
                near = ", ".join(sorted(allowed))
                out.append(
                    PackError(
                        f"未知的键 {key!r}（此处可用：{near}）",
                        file=file,
                        field=f"{where}{key}" if where else str(key),
                        line=line,
                    )
                )
                continue
            child = f"{place}.{key}" if place else str(key)
            if key in _LISTS:
                if value is None:
                    continue
                if not isinstance(value, list):
                    if key == "when" and isinstance(value, (str, bool)):
                        continue  # a condition written as one string
                    out.append(PackError("应为列表", file=file, field=f"{where}{key}", line=line))
                    continue
                for i, item in enumerate(value):
                    visit(item, f"{child}[]", f"{where}{key}[{i}].")
            elif isinstance(value, dict):
                visit(value, child, f"{where}{key}.")

    if isinstance(data, dict):
        visit(data, "", "")
    return out


class _Holder(dict):
    """Wraps a bare list item so it can be read like a mapping value."""

    def __init__(self, data: dict, line: int) -> None:
        super().__init__(data)
        self.line = line

    def line_of(self, key: str) -> int:
        return self.line


def _read_amount(r: _Reader, raw: Any, rid: str, line: int) -> Amount | None:
    if raw is None or raw == "none":
        return Amount("none")
    if not isinstance(raw, dict):
        r.fail(
            "amount 应为映射（fixed / formula / per_item+count / percent+of+cap / min..max / unstated / none）",
            rid,
            "amount",
            line,
        )
        return None
    keys = set(raw)
    if "none" in keys:
        return Amount("none", note=str(raw["none"] or ""))
    if "unstated" in keys:  # money whose amount the text leaves open (另行制定, 一定比例, 给予补贴)
        return Amount("unstated", note=str(raw["unstated"] or ""))
    if "fixed" in keys:
        return Amount("fixed", fixed=r.expr(raw, "fixed", "amount.fixed", rid))
    if "formula" in keys:
        return Amount("formula", formula=r.expr(raw, "formula", "amount.formula", rid))
    if "per_item" in keys:
        if "count" not in keys:
            r.fail("按项金额须给出 count", rid, "amount.count", raw.line)
            return None
        return Amount(
            "per_item",
            per_item=r.expr(raw, "per_item", "amount.per_item", rid),
            count=r.expr(raw, "count", "amount.count", rid),
        )
    if "percent" in keys:
        if "of" not in keys:
            r.fail("比例金额须给出基数 of", rid, "amount.of", raw.line)
            return None
        return Amount(
            "percent",
            rate=r.expr(raw, "percent", "amount.percent", rid),
            base=r.expr(raw, "of", "amount.of", rid),
            cap=r.expr(raw, "cap", "amount.cap", rid),
        )
    if "max" in keys:
        return Amount(
            "range",
            min=r.expr(raw, "min", "amount.min", rid),
            max=r.expr(raw, "max", "amount.max", rid),
        )
    r.fail("无法识别的 amount", rid, "amount", raw.line)
    return None
