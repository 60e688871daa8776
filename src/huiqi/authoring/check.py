"""`huiqi check`: prove every rule of every pack against the text of the law.

Fails when: YAML or expression errors; unknown variables or parameters; the cited document or
clause is not in the library; a quote is not verbatim in its clause; a number used in an
amount or a threshold is not stated in the rule's quotes; two rules share an id; the dated
values of a parameter, or the validity windows of rules that replace one another, leave a
gap or overlap; a stacking group mixes policies; a money rule of a local pack has neither a
place condition nor a recorded reason (authoring/locality.py).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from ..errors import PackError, PackErrors
from ..lang.expr import Binary, Num, numbers_used, walk
from ..packs.loader import Pack, load_pack, pack_dirs, pack_root
from .locality import lint_locality
from .numbers import numbers_in
from .overlaps import lint_overlaps
from .vocabulary import lint_vocabulary, tree_reads

STRUCTURAL = {0, 1}  # 0 and 1 (as in `> 0`, `>= 1`) are structure, not numbers of the law


def _flat(text: str) -> str:
    return "".join(text.split())


def check_pack_dir(root: Path, own_only: bool = False) -> tuple[Pack | None, list[PackError]]:
    """Load a pack with the packs it extends and check it; `own_only` keeps the problems of
    the pack's own files (each extended pack is checked on its own)."""
    try:
        pack = load_pack(root)
    except PackErrors as exc:
        return None, exc.errors
    except PackError as exc:
        return None, [exc]
    errors = check_pack(pack)
    if own_only and pack.layers:
        others = tuple(f"{j.root.parent.name}/{j.pack}/" for j in pack.layers[:-1])
        errors = [e for e in errors if not (e.file or "").startswith(others)]
    return pack, errors


def check_all(names: list[str] | None = None) -> list[tuple[str, Pack | None, list[PackError]]]:
    """The named bundled packs with what they extend, or every pack on its own layer."""
    if names is None:
        return [(d.name, *check_pack_dir(d, own_only=True)) for d in pack_dirs()]
    return [(n, *check_pack_dir(pack_root(n))) for n in names]


def check_pack(pack: Pack) -> list[PackError]:
    from ..library.catalogue import find_clause, find_document

    pack.documents  # applies documents.yaml, whose problems join the library's  # noqa: B018
    errors: list[PackError] = list(pack.library_problems)
    errors += lint_vocabulary(pack, readers=tree_reads(pack))
    errors += lint_overlaps(pack)
    errors += lint_locality(pack)

    def verify_quote(
        doc_ref: str,
        clause_ref: str,
        quote: str,
        file: str,
        rule: str | None,
        field: str,
        line: int | None,
    ) -> bool:
        doc = find_document(doc_ref, pack.documents)
        if doc is None:
            errors.append(
                PackError(
                    f"政策库中找不到文件 {doc_ref}", file=file, rule=rule, field=field, line=line
                )
            )
            return False
        clause = find_clause(doc, clause_ref)
        if clause is None:
            errors.append(
                PackError(
                    f"《{doc.title}》中找不到条款 {clause_ref}",
                    file=file,
                    rule=rule,
                    field=field,
                    line=line,
                )
            )
            return False
        if not quote.strip():
            errors.append(PackError("缺少原文引述", file=file, rule=rule, field=field, line=line))
            return False
        if _flat(quote) not in _flat(clause.text):
            errors.append(
                PackError(
                    f"引文不在 {clause.citation} 原文中：“{quote}”",
                    file=file,
                    rule=rule,
                    field=field,
                    line=line,
                )
            )
            return False
        return True

    # Rules: quotes, clauses of parts, numbers.
    groups: dict[str, set[str]] = {}
    for cr in pack.compiled:
        rule = cr.rule
        f, rid, line = rule.where.file, rule.id, rule.where.line
        verify_quote(rule.doc, rule.clause, rule.quote, f, rid, "quote", line)
        stated = numbers_in(rule.quote)
        for q in rule.context:
            verify_quote(
                q.document or rule.doc, q.clause, q.text, f, rid, "context", q.line or line
            )
            stated |= numbers_in(q.text)
        for i, part in enumerate(rule.when):
            if part.clause != rule.clause or part.document:
                doc = find_document(part.document or rule.doc, pack.documents)
                if doc is None:
                    errors.append(
                        PackError(
                            f"政策库中找不到文件 {part.document}",
                            file=f,
                            rule=rid,
                            field=f"when[{i}].document",
                            line=part.expr.where.line,
                        )
                    )
                if doc is not None and find_clause(doc, part.clause) is None:
                    errors.append(
                        PackError(
                            f"找不到条款 {part.clause}",
                            file=f,
                            rule=rid,
                            field=f"when[{i}].clause",
                            line=part.expr.where.line,
                        )
                    )
        if rule.amount.type not in ("none", "unstated") and rule.valid_from is None:
            # An open start would pay achievements of any year: the date must be stated, or
            # assumed with the reason written beside it.
            errors.append(
                PackError(
                    "政策库中该文件没有成文或施行日期：请在 validity.from 写明假定的起始日期，并在注释或 note 中说明依据",
                    file=f,
                    rule=rid,
                    field="validity.from",
                    line=line,
                )
            )
        if rule.apply.late_refused:
            verify_quote(
                rule.apply.late_document or rule.doc,
                rule.apply.late_clause or rule.apply.clause or rule.clause,
                rule.apply.late_refused,
                f,
                rid,
                "apply.late_refused.quote",
                line,
            )
            if not rule.apply.window_months:
                errors.append(
                    PackError(
                        "逾期不予受理须有可计算的申报期限（apply.window_months）",
                        file=f,
                        rule=rid,
                        field="apply.window_months",
                        line=line,
                    )
                )
        elif "不予受理" in rule.apply.deadline and rule.amount.type not in ("none", "unstated"):
            # a hard deadline written only as prose is never evaluated
            errors.append(
                PackError(
                    "申报期限写明“不予受理”，须用 apply.late_refused 引用原文，使逾期申请判为逾期未申请",
                    file=f,
                    rule=rid,
                    field="apply.late_refused",
                    line=line,
                )
            )
        for i, ind in enumerate(rule.independent_of):
            if ind.rule not in pack.by_id:
                errors.append(
                    PackError(
                        f"independent_of 指向不存在的规则 {ind.rule}",
                        file=f,
                        rule=rid,
                        field=f"independent_of[{i}].rule",
                        line=line,
                    )
                )
            # the sentence that allows both must be the law's, verbatim
            verify_quote(
                ind.document or rule.doc,
                ind.clause or rule.clause,
                ind.quote,
                f,
                rid,
                f"independent_of[{i}].quote",
                line,
            )
        if rule.stacking:
            if rule.stacking.quote:
                verify_quote(
                    rule.doc,
                    rule.stacking.clause,
                    rule.stacking.quote,
                    f,
                    rid,
                    "stacking.quote",
                    line,
                )
                stated |= numbers_in(rule.stacking.quote)
            groups.setdefault(rule.stacking.group, set()).add(rule.stacking.policy)
        checked = [(p.expr.field, node) for p, (node, _) in zip(rule.when, cr.parts, strict=False)]
        checked += [(f"amount.{k}", node) for k, node in cr.amount_nodes.items()]
        for field, node in checked:
            for n in walk(node):
                if (
                    isinstance(n, Binary)
                    and n.op == "/"
                    and isinstance(n.right, Num)
                    and n.right.value == 0
                ):
                    errors.append(PackError("除数为 0", file=f, rule=rid, field=field, line=line))
        for field, node in checked:
            for num in numbers_used(node):
                if _structural(num):
                    continue
                if num.value.normalize() not in stated:
                    errors.append(
                        PackError(
                            f"数值 {num.text or num.value} 未见于引文（引文中的数值："
                            f"{'、'.join(sorted({_show(n) for n in stated})) or '无'}）",
                            file=f,
                            rule=rid,
                            field=field,
                            line=line,
                        )
                    )
    for group, policies in groups.items():
        if len(policies) > 1:
            errors.append(
                PackError(f"叠加组 {group} 混用了不同的规则：{'、'.join(sorted(policies))}")
            )

    # Exclusions and provisions are quoted too.
    for rf in pack.files:
        for ex in rf.exclusions:
            verify_quote(rf.doc, ex.clause, ex.quote, rf.path, ex.id, "exclusions", None)
        for pv in rf.provisions:
            verify_quote(rf.doc, pv.clause, pv.quote, rf.path, pv.id, "provisions", None)
            if not pv.reason:
                errors.append(PackError("未编码条款须说明理由 reason", file=rf.path, rule=pv.id))

    # Parameters: citations, numbers, gaps and overlaps.
    for p in pack.parameters.values():
        for v in p.values:
            c = v.citation
            if c.external:  # a law outside the library: recorded, not verifiable here
                quoted = bool(c.doc and c.clause and c.quote.strip())
                if not quoted:
                    errors.append(
                        PackError(
                            "库外依据须写明 doc、clause 与 quote",
                            file=p.file,
                            field=f"parameters.{p.name}",
                            line=c.line,
                        )
                    )
            else:
                quoted = verify_quote(
                    c.doc, c.clause, c.quote, p.file, None, f"parameters.{p.name}", c.line
                )
            numeric = isinstance(v.value, Decimal)
            if (
                quoted
                and numeric
                and v.value not in STRUCTURAL
                and v.value.normalize() not in numbers_in(c.quote)
            ):
                errors.append(
                    PackError(
                        f"数值 {v.text} 未见于引文",
                        file=p.file,
                        field=f"parameters.{p.name}",
                        line=c.line,
                    )
                )
        for problem in p.problems():
            errors.append(
                PackError(
                    f"参数取值的时间段有误：{problem}",
                    file=p.file,
                    field=f"parameters.{p.name}",
                    line=p.line,
                )
            )

    # Rules replacing one another: validity windows must meet exactly.
    by_id = {r.id: r for r in pack.rules}
    for rule in pack.rules:
        if not rule.replaces:
            continue
        old = by_id.get(rule.replaces)
        where = {
            "file": rule.where.file,
            "rule": rule.id,
            "field": "replaces",
            "line": rule.where.line,
        }
        if old is None:
            errors.append(PackError(f"所替代的规则 {rule.replaces} 不存在", **where))
            continue
        if old.valid_to is None or rule.valid_from is None:
            errors.append(
                PackError(f"替代 {old.id} 须两者有效期首尾相接（旧规则缺少终止日期）", **where)
            )
        elif rule.valid_from <= old.valid_to:
            errors.append(
                PackError(
                    f"与被替代规则 {old.id} 的有效期重叠（{old.valid_to} ≥ {rule.valid_from}）",
                    **where,
                )
            )
        elif rule.valid_from > old.valid_to + timedelta(days=1):
            errors.append(
                PackError(
                    f"与被替代规则 {old.id} 的有效期之间有空档（{old.valid_to} 至 {rule.valid_from}）",
                    **where,
                )
            )
    return errors


def _structural(num: Num) -> bool:
    return num.value in STRUCTURAL and num.unit == "number"


def _show(n) -> str:
    return format(n, "f")
