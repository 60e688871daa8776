"""CLI commands of the search package, registered on the main app."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from ..jurisdictions import LEVELS
from ..output import write_json
from .console import clean, esc
from .console import console as out
from .console import err as stderr


def register(app: typer.Typer) -> None:
    """Add this package's commands to `app`."""
    app.command("search")(search_command)


MAX_RULES_SHOWN = 3
# A question is a few words; a pasted page is not a query (and would make every term a
# round trip to the index). The library's search() itself accepts any string.
MAX_QUERY_CHARS = 500


def _rule_lookup(err: Console, pack: str | None = None):
    """Rules beside the clauses they encode; search still works if the pack has an error."""
    from ..engine.lookup import bundled_rule_lookup
    from ..errors import PackErrors
    from ..packs.loader import UnknownPack

    try:
        return bundled_rule_lookup(pack)
    except UnknownPack as exc:
        err.print(f"[red]{esc(exc)}[/red]")
        raise typer.Exit(2) from None
    except PackErrors:
        err.print("[yellow]政策包有错误，结果中不显示规则（运行 huiqi check 查看）[/yellow]")
        return None


def search_command(
    query: Annotated[
        str, typer.Argument(help='要查找的内容，如：人才买房补贴、"研发费用加计扣除"')
    ],
    issuer: Annotated[str | None, typer.Option("--issuer", help="发文机关（包含即可）")] = None,
    from_year: Annotated[str | None, typer.Option("--from-year", help="成文年份起")] = None,
    to_year: Annotated[str | None, typer.Option("--to-year", help="成文年份止")] = None,
    doc_type: Annotated[
        str | None, typer.Option("--type", help="文件类型，如 办法、通知（包含即可）")
    ] = None,
    level: Annotated[
        str | None, typer.Option("--level", help="层级：national / province / city / county")
    ] = None,
    in_force_on: Annotated[
        str | None,
        typer.Option("--in-force-on", help="只看该日有效的文件（YYYY-MM-DD；未注明效力的保留）"),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option("--entity", help="受益主体：enterprise / person / team / park / institution"),
    ] = None,
    amount_only: Annotated[
        bool, typer.Option("--amount-only", help="只看写明金额或比例的条款")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", help="最多返回的条款数")] = 10,
    index: Annotated[
        str | None, typer.Option("--index", help="检索索引文件（默认：内置语料，内存中建立）")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON")] = False,
    pack: Annotated[
        str | None,
        typer.Option("--pack", help="结果旁显示哪个规则包（连同上级包）的规则；默认：全部"),
    ] = None,
) -> None:
    """在政策库中全文检索条款（中文分词、同义词、按文件分组）。"""
    from ..search.api import FilterError, search
    from ..search.index import IndexFileError

    err = stderr
    if len(query) > MAX_QUERY_CHARS:
        err.print(
            f"[red]参数错误[/red]：查询内容过长（{len(query)} 个字符），"
            f"上限为 {MAX_QUERY_CHARS} 个字符"
        )
        raise typer.Exit(2)
    if limit < 1:
        err.print(f"[red]参数错误[/red]：--limit 应为正整数（收到 {limit}）")
        raise typer.Exit(2)
    try:
        results = search(
            query,
            issuer=issuer,
            from_year=from_year,
            to_year=to_year,
            doc_type=doc_type,
            level=level,
            in_force_on=in_force_on,
            entity=entity,
            amount_only=amount_only,
            limit=limit,
            index=index,
            rule_lookup=_rule_lookup(err, pack),
        )
    except FilterError as e:
        err.print(f"[red]参数错误[/red]：{esc(e)}")
        raise typer.Exit(2) from None
    except FileNotFoundError:
        err.print(f"[red]找不到检索索引[/red]：{esc(index)}（先运行 huiqi ingest）")
        raise typer.Exit(2) from None
    except IndexFileError as e:
        err.print(f"[red]检索索引错误[/red]：{esc(e)}")
        raise typer.Exit(2) from None
    if as_json:
        write_json(results.to_dict())
        return
    # What the search understood and could not find: a corrected word, places outside the
    # library, key words no clause contains.
    for note in results.notices:
        if note != results.message:
            out.print(Text(clean(note), style="yellow"))
    if not results.hits:
        out.print(esc(results.message or "没有找到符合条件的条款"))
        return
    head = f"“{clean(results.query.strip())}”：{results.total} 个条款，{len(results.groups)} 份文件"
    if results.relaxed:
        head += "（部分结果只匹配了部分词语）"
    if results.intents:
        head += f"；优先列出写明{'、'.join(results.intents)}的条款"
    out.print(Text(head, style="bold"))
    state = {
        True: "[green]有效[/green]",
        False: "[red]失效[/red]",
        None: "[yellow]效力未注明[/yellow]",
    }
    for group in results.groups:
        out.print()
        meta = " · ".join(
            x
            for x in (
                group.doc_number,
                group.issued_on,
                LEVELS.get(group.level or "", None),
            )
            if x
        )
        out.print(Text(clean(group.title), style="bold cyan"), end="")
        out.print(f"  {esc(meta)}  {state[group.in_force]}", highlight=False)
        for hit in group.clauses:
            line = Text(f"  {hit.rank}. ", style="dim")
            line.append(clean(hit.citation), style="magenta")
            line.append(f"  [{clean(hit.path)}]", style="dim")
            out.print(line)
            snippet = Text("     ")
            for piece, is_hit in hit.fragments:
                snippet.append(clean(piece), style="bold yellow" if is_hit else None)
            out.print(snippet)
            # The rules closest to the query first; the JSON output lists them all.
            ranked = sorted(hit.rules, key=lambda r: -sum(t in r.title for t in results.terms))
            for rule in ranked[:MAX_RULES_SHOWN]:
                out.print(
                    Text(f"     规则：{clean(rule.title)}  {clean(rule.amount)}", style="green")
                )
            if len(ranked) > MAX_RULES_SHOWN:
                out.print(
                    Text(f"     …另有 {len(ranked) - MAX_RULES_SHOWN} 条规则", style="dim green")
                )
