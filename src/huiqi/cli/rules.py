"""CLI commands of the engine package, registered on the main app: match, rules, check, test."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ..output import write_json
from .console import console, err
from .console import esc as escape

JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON")]
PackOption = Annotated[
    str | None,
    typer.Option(
        "--pack",
        help="规则包（policies/ 下的目录名），连同它所扩展的上级包；默认：全部规则包",
    ),
]


def _json(data: Any) -> None:
    from ..lang.scalar import plain

    write_json(data, fallback=plain)  # plain() turns UNKNOWN into null


def _load(pack_name: str | None):
    """A bundled pack with the packs it extends (None: every pack); exit 2 if unknown."""
    from ..errors import PackErrors
    from ..packs.loader import UnknownPack, bundled_pack

    try:
        return bundled_pack(pack_name)
    except UnknownPack as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    except PackErrors as exc:
        err.print(f"[red]规则包 {pack_name or ''} 有错误[/red]（运行 huiqi check 查看）：")
        for e in exc.errors:
            err.print(f"  {escape(str(e))}")
        raise typer.Exit(1) from None


def _pack_names(pack_name: str | None) -> list[str]:
    """One named pack, or every bundled pack (parents first)."""
    from ..jurisdictions import bundled_registry

    if pack_name is None:
        return bundled_registry().packs
    _load(pack_name)  # exits 2 for an unknown name
    return [pack_name]


def _places(p, packs: list[str]) -> str:
    names = [j.name for j in p.layers if j.pack in packs]
    return " + ".join(names) if names else p.name


def _scope(p) -> str:
    """The jurisdictions a pack composes, for a heading: 中华人民共和国 + 某省 + 某市."""
    return " + ".join(j.name for j in p.layers) if p.layers else p.name


def _wan(value: Any) -> str:
    from ..explain.zh import wan

    return wan(value)


def _amount_cell(r) -> str:
    if r.amount is not None:
        text = _wan(r.amount)
        if r.set_aside_by:
            text = f"0（{_wan(r.gross)} 不予叠加）"
        elif r.gross is not None and r.amount != r.gross:
            text += f"（补差，原 {_wan(r.gross)}）"
        return text
    if r.amount_max is not None:
        if r.set_aside_by:
            return "0（不予叠加）"
        low = f"{_wan(r.amount_min)}–" if r.amount_min is not None else "最高 "
        return f"{low}{_wan(r.amount_max)}"
    if r.rule.amount.type == "unstated":
        return "资金支持，金额未明确"
    return "非资金"


def register(app: typer.Typer) -> None:
    """Add this package's commands to `app`."""
    _coverage_command(app)

    @app.command()
    def match(
        profile: Annotated[Path, typer.Argument(help="申请人画像（JSON 或 YAML 文件）")],
        as_of: Annotated[
            str | None,
            typer.Option("--as-of", help="评估日期 YYYY-MM-DD（默认：画像中的 as_of，或今天）"),
        ] = None,
        as_json: JsonOption = False,
        pack: PackOption = None,
        xlsx: Annotated[
            Path | None, typer.Option("--xlsx", help="另存为 Excel 工作簿（汇总 + 待遇明细）")
        ] = None,
    ) -> None:
        """按画像逐条评估政策规则：符合的奖励与金额、待确定事项、差一点满足的条件。"""
        from ..engine.match import NOT_IN_FORCE, UNDETERMINED, evaluate_profile
        from ..engine.profile import ProfileError, read_profile_file, validate_profile
        from ..explain import render
        from ..explain.zh import gap_text
        from ..safeyaml import InputError

        when: date | None = None
        if as_of:
            try:
                when = date.fromisoformat(as_of)
            except ValueError:
                err.print(f"[red]日期格式应为 YYYY-MM-DD[/red]：{escape(as_of)}")
                raise typer.Exit(2) from None
        try:
            data = read_profile_file(profile)
        except FileNotFoundError:
            err.print(f"[red]找不到画像文件[/red]：{escape(str(profile))}")
            raise typer.Exit(2) from None
        except InputError as exc:  # syntax, limits, duplicate keys: named with file and line
            err.print(f"[red]画像文件无法读取[/red]：{escape(str(exc))}")
            raise typer.Exit(2) from None
        p = _load(pack)
        try:
            prof = validate_profile(data, p.variables, set(p.by_id), p.entities)
        except ProfileError as exc:
            if as_json:
                err.print(
                    json.dumps(
                        {"errors": [x.to_dict() for x in exc.problems]},
                        ensure_ascii=False,
                        indent=2,
                    )
                )
            else:
                err.print(f"[red]画像有 {len(exc.problems)} 处问题，未评估[/red]：")
                for x in exc.problems:
                    err.print(f"  [bold]{escape(x.path)}[/bold]：{escape(x.reason)}")
            raise typer.Exit(2) from None
        when = when or prof.as_of or date.today()
        report = evaluate_profile(p, prof, when)
        if xlsx is not None:
            from ..engine.result import build_result
            from ..engine.workbook import workbook_bytes

            try:
                xlsx.write_bytes(workbook_bytes(build_result(report)))
            except OSError as exc:
                from ..ingest.pipeline import os_reason

                why = os_reason(exc, "写入")
                err.print(f"[red]无法写入[/red]：{escape(str(xlsx))}（{why}）")
                raise typer.Exit(2) from None
            err.print(f"已写入 {escape(str(xlsx))}")
        if as_json:
            _json(report.to_dict())
            return

        console.print(
            f"[bold]{escape(report.label or profile.name)}[/bold]  评估日期 {when}（上年度 = {when.year - 1}）"
            f"  适用政策：{_places(p, report.packs)}，{len(report.results)} 条规则"
        )
        from ..engine.result import build_result
        from .ask import print_money

        summary = build_result(report)
        print_money(summary)
        if summary.support:
            console.print(f"非资金或金额未明确的支持：{len(summary.support)} 项（见下表）")
        eligible = report.eligible
        table = Table(title=f"符合条件的奖励（{len(eligible)} 项）")
        wide = console.width >= 140  # the rule id helps developers; users read the title
        for col in (["规则"] if wide else []) + ["奖励", "金额", "认定方式", "依据"]:
            table.add_column(col, overflow="fold")
        from ..packs.rules import DETERMINATIONS

        for r in eligible:
            note = _details(r)
            cells = [
                escape(r.rule.title) + note,
                _amount_cell(r),
                DETERMINATIONS[r.rule.determination],
                escape(r.rule.citation),
            ]
            table.add_row(*([r.rule.id] if wide else []), *cells)
        console.print(table)
        to_apply = [
            r
            for r in eligible
            if r.rule.determination != "automatic"
            and (r.rule.apply.department or r.rule.apply.window)
        ]
        if to_apply:
            console.print("[bold]申请指引[/bold]（依申请或评审的项目）：")
            for r in to_apply:
                where = "；".join(x for x in (r.rule.apply.department, r.rule.apply.window) if x)
                console.print(f"  · {escape(r.rule.title)}：{escape(where)}")

        pending = [r for r in report.results if r.status == UNDETERMINED]
        if pending:
            t = Table(title=f"待确定（{len(pending)} 项）：回答以下问题即可判定")
            t.add_column("问题", overflow="fold")
            t.add_column("可判定", justify="right")
            t.add_column("涉及的奖励", overflow="fold")
            titles = {r.rule.id: r.rule.title for r in pending}
            questions = report.next_questions()
            for q in questions[:MAX_QUESTIONS]:
                names = [titles[i] for i in q["rules"]]
                shown = "、".join(names[:3]) + (f" 等 {len(names)} 项" if len(names) > 3 else "")
                t.add_row(escape(q["question"] or q["label"]), str(q["decides"]), escape(shown))
            console.print(t)
            if len(questions) > MAX_QUESTIONS:
                console.print(
                    f"[dim]…另有 {len(questions) - MAX_QUESTIONS} 个问题（--json 列出全部）[/dim]"
                )
            if questions:
                q = questions[0]
                console.print(
                    f"下一个问题（可判定 {q['decides']} 条规则）：[bold]{q['question']}[/bold]"
                )

        near = [r for r in report.results if r.near_miss]
        if near:
            t = Table(title="差一点满足")
            t.add_column("规则", overflow="fold")
            t.add_column("奖励", overflow="fold")
            t.add_column("差距", overflow="fold")
            for r in near:
                t.add_row(
                    r.rule.id,
                    escape(r.rule.title),
                    escape("\n".join(gap_text(g, p) for g in r.gaps)),
                )
            console.print(t)
        stale = [r for r in report.results if r.status == NOT_IN_FORCE]
        if stale:
            console.print(
                f"[dim]{len(stale)} 条规则在 {when} 不在有效期内（{render(stale[0].reason)}）[/dim]"
            )

    @app.command()
    def rules(
        doc: Annotated[
            str | None, typer.Option("--doc", help="只列出某文件的规则（编号、文号或标题）")
        ] = None,
        as_json: JsonOption = False,
        pack: PackOption = None,
    ) -> None:
        """政策待遇目录：每条规则的依据、原文、受益主体、金额、方式与有效期。"""
        from ..library.catalogue import find_document
        from ..packs.rules import DETERMINATIONS, KINDS, STACKING_POLICIES

        p = _load(pack)
        selected = p.rules
        provisions = [pv for f in p.files for pv in f.provisions]
        if doc:
            d = find_document(doc, p.documents)
            if d is None:
                err.print(f"[red]规则包 {_scope(p)} 中找不到文件[/red]：{escape(doc)}")
                raise typer.Exit(2)
            selected = [r for r in selected if r.doc_id == d.id]
            provisions = [
                pv for f in p.files if find_document(f.doc, p.documents) == d for pv in f.provisions
            ]
        items = [_catalogue_entry(p, r) for r in selected]
        if as_json:
            _json({"rules": items, "not_encoded": [pv.__dict__ for pv in provisions]})
            return
        docs_shown = sorted({r.doc_title or r.doc for r in selected})
        table = Table(
            title=f"政策待遇目录（{len(items)} 条规则）：{'、'.join(f'《{t}》' for t in docs_shown)}"
        )
        for col in ("规则", "奖励", "条款", "受益主体", "金额", "类型", "方式", "有效期"):
            table.add_column(col, overflow="fold")
        for it, r in zip(items, selected, strict=True):
            amount = it["amount"]
            if it["amount_min"] is not None and it["amount_min"] == it["amount_max"]:
                amount = _wan(it["amount_max"])
            elif it["amount_max"] is not None and r.amount.type == "range":
                amount = f"最高 {_wan(it['amount_max'])}"
            validity = f"{it['validity']['from'] or '—'} 起" + (
                f" 至 {it['validity']['to']}" if it["validity"]["to"] else ""
            )
            if it["validity"]["repealed_by"]:
                validity += f"（已被{escape(it['validity']['repealed_by'])}废止）"
            stack = ""
            if r.stacking:
                stack = f"\n[dim]{STACKING_POLICIES[r.stacking.policy]}：{r.stacking.group}[/dim]"
            table.add_row(
                r.id,
                escape(r.title) + stack,
                escape(r.clause),
                "、".join(p.entities.get(b, b) for b in r.beneficiary),
                amount,
                KINDS[r.kind],
                DETERMINATIONS[r.determination],
                validity,
            )
        console.print(table)
        for pv in provisions:
            console.print(
                f"[yellow]未编码[/yellow] {escape(f'{pv.clause} {pv.title}：{pv.reason}')}"
            )

    @app.command()
    def check(pack: PackOption = None) -> None:
        """检验规则包：表达式、变量、引文是否逐字见于条款、数值是否见于引文、有效期衔接、词汇。"""
        from ..authoring.check import check_all

        failed = 0
        for name, pack_, errors in check_all(_pack_names(pack)):
            if errors:
                failed += len(errors)
                err.print(f"[red]✗ {name}：{len(errors)} 个问题[/red]")
                for e in errors:
                    err.print(f"  {escape(str(e))}")
            else:
                assert pack_ is not None
                console.print(
                    f"[green]✓[/green] {name}：{len(pack_.rules)} 条规则、{len(pack_.variables)} 个变量、"
                    f"{len(pack_.parameters)} 个参数、{len(pack_.provisions)} 条未编码条款，全部通过"
                )
        if failed:
            raise typer.Exit(1)

    @app.command("test")
    def test_cmd(
        pack: PackOption = None,
        boundaries: Annotated[
            bool,
            typer.Option(
                "--boundaries",
                help="列出金额规则的数值门槛（以上、以下、超过、三年内等）两侧是否都有用例",
            ),
        ] = False,
        as_json: JsonOption = False,
    ) -> None:
        """运行规则包中的规则测试用例（policies/<包>/tests/*.yaml）。"""
        from ..authoring.cases import load_cases, run_case
        from ..errors import PackError

        if boundaries:
            _boundaries(pack, as_json)
            return
        results = []
        rule_count = 0
        covered_ids: set[str] = set()
        for name in _pack_names(pack):
            p = _load(name)
            try:
                own = load_cases(p)
            except PackError as exc:
                err.print(f"[red]测试用例文件有误[/red]：{escape(str(exc))}")
                raise typer.Exit(1) from None
            results += [run_case(p, c) for c in own]
            own_rules = {r.id for r in p.rules if p.own(r.id)}
            rule_count += len(own_rules)
            covered_ids |= {rid for c in own for rid in c.expect} & own_rules
        table = Table(title=f"规则测试（{pack or '全部规则包'}）")
        table.add_column("用例", overflow="fold")
        table.add_column("检查项", justify="right")
        table.add_column("结果")
        for res in results:
            table.add_row(
                res.case.id,
                str(len(res.case.expect)),
                "[green]通过[/green]" if res.ok else "[red]失败[/red]",
            )
        console.print(table)
        bad = [r for r in results if not r.ok]
        for res in bad:
            err.print(f"[red]✗ {res.case.id}[/red]")
            for f in res.failures:
                err.print(f"  {escape(str(f))}")
        console.print(
            f"{len(results) - len(bad)}/{len(results)} 个用例通过，"
            f"覆盖 {len(covered_ids)}/{rule_count} 条规则"
        )
        if not results:
            err.print("[red]没有找到任何测试用例[/red]")
            raise typer.Exit(1)
        if bad:
            raise typer.Exit(1)


def _boundaries(pack: str | None, as_json: bool) -> None:
    from ..authoring.boundaries import boundary_coverage
    from ..authoring.cases import load_cases
    from ..errors import PackError

    rows = []
    for name in _pack_names(pack):
        p = _load(name)
        try:
            rows += [(name, b) for b in boundary_coverage(p, load_cases(p))]
        except PackError as exc:
            err.print(f"[red]测试用例文件有误[/red]：{escape(str(exc))}")
            raise typer.Exit(1) from None
    covered = sum(b.covered for _, b in rows)
    at = sum(bool(b.at_threshold) for _, b in rows)
    if as_json:
        _json(
            {
                "boundaries": [{"pack": n, **b.to_dict()} for n, b in rows],
                "total": len(rows),
                "covered": covered,
                "at_threshold": at,
            }
        )
        return
    table = Table(title="两侧缺用例的数值门槛")
    table.add_column("规则", overflow="fold")
    table.add_column("条件", overflow="fold")
    table.add_column("满足", justify="right")
    table.add_column("不满足", justify="right")
    for _name, b in rows:
        if not b.covered:
            table.add_row(
                b.rule, b.label or b.condition, str(len(b.true_cases)), str(len(b.false_cases))
            )
    if covered < len(rows):
        console.print(table)
    console.print(
        f"金额规则的数值门槛 {len(rows)} 个：两侧都有用例 {covered} 个，"
        f"有恰在门槛值上的用例 {at} 个"
    )


def _coverage_command(app: typer.Typer) -> None:
    @app.command()
    def coverage(
        pack: PackOption = None,
        as_json: JsonOption = False,
        strict: Annotated[
            bool, typer.Option("--strict", help="有未覆盖的金额语句时以状态 1 退出")
        ] = False,
        doc: Annotated[
            str | None, typer.Option("--doc", help="只看一份文件（编号、文号或标题）")
        ] = None,
    ) -> None:
        """每份文件中写明金额的语句：已由规则覆盖、标明不可编码、尚未覆盖；以及规则的认定方式。"""
        from ..authoring.coverage import coverage as compute
        from ..library.catalogue import find_document

        p = _load(pack)
        rows = compute(p)
        if doc is not None:
            target = find_document(doc, p.documents)
            if target is None:
                err.print(f"[red]找不到文件[/red]：{escape(doc)}")
                raise typer.Exit(2)
            rows = [r for r in rows if r.doc.id == target.id]
        uncovered = sum(r.count("uncovered") for r in rows)
        if as_json:
            _json({"documents": [r.to_dict() for r in rows], "uncovered": uncovered})
        else:
            table = Table(title=f"金额语句覆盖（{_scope(p)}）")
            for col in (
                "文件",
                "金额语句",
                "已覆盖",
                "不可编码",
                "未覆盖",
                "规则",
                "自动/依申请/裁量",
            ):
                table.add_column(col, overflow="fold", justify="left" if col == "文件" else "right")
            for r in rows:
                d = r.determination
                name = r.doc.doc_number or r.doc.title
                table.add_row(
                    name if len(name) <= 18 else name[:17] + "…",
                    str(len(r.sentences)),
                    str(r.count("covered")),
                    str(r.count("not_encodable")),
                    f"[red]{r.count('uncovered')}[/red]" if r.count("uncovered") else "0",
                    str(r.rules),
                    f"{d['automatic']}/{d['application']}/{d['discretion']}",
                )
            console.print(table)
            for r in rows:
                for s in r.sentences:
                    if s.state == "uncovered":
                        console.print(f"[red]未覆盖[/red] {escape(f'{s.citation}：{s.text}')}")
            console.print(f"未覆盖的金额语句：{uncovered}")
        if strict and uncovered:
            raise typer.Exit(1)


DETAIL_CHARS = 48
MAX_QUESTIONS = 10  # the most useful questions first; the rest are in --json


def _details(r) -> str:
    """Lines under a benefit's title: stacking, payment schedule, notes."""
    rule = r.rule
    from ..explain import render

    lines = [render(r.stacking_note)] if r.stacking_note else []
    if rule.schedule:
        lines.append(f"拨付：{rule.schedule}")
    if rule.note:
        lines.append(f"说明：{rule.note}")
    # The table keeps the gist; `--json` and `huiqi rules --json` carry the full text.
    short = [
        line if len(line) <= DETAIL_CHARS else line[: DETAIL_CHARS - 1] + "…" for line in lines
    ]
    return "".join(f"\n[dim]{escape(line)}[/dim]" for line in short)


def _const(pack, node) -> Decimal | None:
    from ..lang.expr import Num

    return node.value if isinstance(node, Num) else None


def _catalogue_entry(pack, rule) -> dict[str, Any]:
    from ..lang.scalar import plain
    from ..packs.rules import DETERMINATIONS, KINDS

    cr = pack.by_id[rule.id]
    nodes = cr.amount_nodes
    a = rule.amount
    amin = amax = per_item = None
    if a.type == "fixed":
        amin = amax = _const(pack, nodes["fixed"])
    elif a.type == "range":
        amin = _const(pack, nodes["min"]) if "min" in nodes else None
        amax = _const(pack, nodes["max"])
    elif a.type == "percent" and "cap" in nodes:
        amax = _const(pack, nodes["cap"])
    elif a.type == "per_item":
        per_item = _const(pack, nodes["per_item"])
    return {
        "id": rule.id,
        "title": rule.title,
        "document": rule.doc_title or rule.doc,
        "citation": rule.citation,
        "quote": rule.quote,
        "beneficiary": list(rule.beneficiary),
        "amount": a.describe(),
        "amount_type": a.type,
        "amount_min": plain(amin),
        "amount_max": plain(amax),
        "amount_per_item": plain(per_item),
        "kind": rule.kind,
        "kind_label": KINDS[rule.kind],
        "determination": rule.determination,
        "determination_label": DETERMINATIONS[rule.determination],
        "payer": rule.payer,
        "condition": [
            {"expr": pt.expr.text, "clause": pt.clause, "label": pt.label} for pt in rule.when
        ],
        "stacking": (
            {
                "group": rule.stacking.group,
                "policy": rule.stacking.policy,
                "key": rule.stacking.key.text if rule.stacking.key else None,
                "quote": rule.stacking.quote,
            }
            if rule.stacking
            else None
        ),
        "schedule": rule.schedule,
        "note": rule.note,
        "validity": {
            "from": plain(rule.valid_from),
            "to": plain(rule.valid_to),
            "repealed_by": rule.repealed_by,
        },
        "apply": {
            "department": rule.apply.department,
            "window": rule.apply.window,
            "deadline": rule.apply.deadline,
            "materials": list(rule.apply.materials),
            "steps": list(rule.apply.steps),
            "clause": rule.apply.clause,
        },
    }
