"""The `huiqi` command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from ..ingest.pipeline import ingest_paths, resolve
from ..output import write_json
from ..resources import bundled_corpus

# The database layer (SQLAlchemy, ~0.4 s to import) is imported by the commands that use it,
# so `huiqi match`, `rules` and `search` start without it.

app = typer.Typer(
    help="惠企：政策库、规则引擎与政策匹配", no_args_is_help=True, add_completion=False
)
console = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="数据库：SQLite 文件路径或 SQLAlchemy URL（默认 $HUIQI_DB 或 ./huiqi.db）"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON")]

LEVELS = {"national": "国家", "province": "省", "city": "市", "county": "县（市）"}


def _json(data: Any) -> None:
    write_json(data)


@app.command()
def ingest(
    paths: Annotated[
        list[Path] | None, typer.Argument(help="政策文本文件或目录（默认：内置语料）")
    ] = None,
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="不打印警告")] = False,
) -> None:
    """读取政策原文，拆分为文件与条款，存入政策库。"""
    targets = list(paths) if paths else bundled_corpus()
    from ..library.store import Library, default_url
    from ..search import rebuild_index

    library = Library(db)
    with console.status("正在解析政策文本…"):
        result = ingest_paths(targets)
        stored = {d.id: d for d in library.all_documents()}
        resolve(result.documents, known=list(stored.values()))
        library.save(result.documents)
    # The library now holds what it held, with this run's documents replacing theirs.
    stored.update((d.id, d) for d in result.documents)
    index_file = None
    if result.documents:  # nothing new read: the index is as it was
        with console.status("正在重建检索索引…"):
            index_file = rebuild_index(list(stored.values()), db or default_url())
    for error in result.errors:
        err.print(f"[red]错误[/red] {error}")
    if not quiet:
        for warning in result.warnings:
            err.print(f"[yellow]警告[/yellow] {warning}")
    clauses = sum(sum(1 for _ in d.walk()) for d in result.documents)
    console.print(
        f"已读取 {len(result.files)} 个文件，入库 {len(result.documents)} 份文件、{clauses} 个条款"
        + (f"；{len(result.errors)} 个文件无法读取" if result.errors else "")
    )
    if index_file:
        console.print(f"检索索引：{index_file}")
    if result.errors and not result.documents:
        raise typer.Exit(1)


def _in_force_label(row: dict[str, Any], today: date) -> str:
    repealed = any(r["kind"] == "repealed_by" for r in row.get("relations", []))
    from ..library.store import in_force

    state = in_force(row, today, repealed)
    return {True: "有效", False: "失效", None: "未注明"}[state]


@app.command()
def docs(db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出政策库中的全部文件。"""
    from ..library.store import Library

    library = Library(db)
    full = library.full_documents()
    today = date.today()
    if as_json:
        out = []
        for d in full:
            item = {k: v for k, v in d.items() if k != "clauses"}
            item["in_force"] = {"有效": True, "失效": False}.get(_in_force_label(d, today))
            out.append(item)
        _json(out)
        return
    if not full:
        console.print("政策库为空：先运行 [bold]huiqi ingest[/bold]")
        return
    table = Table(
        title=f"政策库（{len(full)} 份文件）",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    wide = console.width >= 120  # a narrow terminal keeps the title readable
    columns = (
        ["编号", "文号", "标题", "成文日期"] + (["类型", "层级"] if wide else []) + ["效力", "条款"]
    )
    for name in columns:
        table.add_column(
            name,
            no_wrap=name != "标题",
            ratio=1 if name == "标题" else None,
            min_width={"标题": 16, "条款": 4}.get(name),
            overflow="fold",
            style="cyan" if name == "编号" else None,
            justify="right" if name == "条款" else "left",
        )
    for d in full:
        cells = [d["id"], d["doc_number"] or "—", d["title"], str(d["issued_on"] or "—")]
        if wide:
            cells += [d["doc_type"] or "—", LEVELS.get(d["level"] or "", "—")]
        table.add_row(*cells, _in_force_label(d, today), str(d["clause_count"]))
    console.print(table)


@app.command()
def show(
    doc: Annotated[str, typer.Argument(help="文件编号、文号或标题")],
    clause: Annotated[
        str | None,
        typer.Option("--clause", help="条款路径（如 a18、i4.p3.n3）或标注（如 第十八条）"),
    ] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """显示一份文件或其中一个条款。"""
    from ..library.store import Library

    library = Library(db)
    data = library.get_document(doc)
    if data is None:
        err.print(f"[red]找不到文件[/red]：{doc}（可用 huiqi docs 查看编号与文号）")
        raise typer.Exit(2)
    if clause is not None:
        node = library.get_clause(doc, clause)
        if node is None:
            err.print(f"[red]找不到条款[/red]：{clause}（文件 {data['id']}）")
            raise typer.Exit(2)
        if as_json:
            _json(node)
        else:
            console.print(_tree(node["citation"], [node]))
        return
    if as_json:
        _json(data)
        return
    head = [
        f"[bold]{data['title']}[/bold]",
        f"文号：{data['doc_number'] or '—'}    编号：{data['id']}",
        f"发文机关：{'、'.join(data['issuers']) or '—'}    成文日期：{data['issued_on'] or '—'}",
        f"施行：{data['effective_from'] or '—'} 至 {data['effective_to'] or '—'}    "
        f"效力：{_in_force_label(data, date.today())}",
        f"来源：{data['source']} 第{data['line_start']}–{data['line_end']}行",
    ]
    for line in head:
        console.print(line)
    for rel in data["relations"]:
        target = rel["target_title"] or rel["target_number"] or ""
        where = f"（{rel['target_id']}）" if rel["target_id"] else "（库外）"
        console.print(f"  {RELATION_LABELS.get(rel['kind'], rel['kind'])}：{target} {where}")
    console.print(_tree(data["doc_number"] or data["title"], data["clauses"]))


RELATION_LABELS = {
    "repeals": "废止",
    "repealed_by": "被废止",
    "cites": "引用",
    "attaches": "印发",
    "attached_to": "印发于",
}


def _tree(title: str, nodes: list[dict[str, Any]]) -> Tree:
    tree = Tree(title)

    def add(branch: Tree, items: list[dict[str, Any]]) -> None:
        for n in items:
            text = n["text"].replace("\n", " ")
            label = f"[cyan]{n['path']}[/cyan] {text[:120]}{'…' if len(text) > 120 else ''}"
            add(branch.add(label), n["children"])

    add(tree, nodes)
    return tree


def main() -> None:  # pragma: no cover
    app()


# Commands owned by other packages register themselves here.
from .batch import register as _register_batch  # noqa: E402
from .rules import register as _register_engine  # noqa: E402
from .search import register as _register_search  # noqa: E402

_register_engine(app)
_register_search(app)
_register_batch(app)
