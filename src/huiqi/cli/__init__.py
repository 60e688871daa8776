"""The `huiqi` command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.table import Table
from rich.tree import Tree

from ..jurisdictions import LEVELS
from ..output import write_json
from ..resources import bundled_corpus
from .console import console, err, esc

if TYPE_CHECKING:  # the ingest pipeline loads only for the commands that read texts
    from ..ingest.pipeline import IngestResult

# The database layer (SQLAlchemy, ~0.4 s to import) is imported by the commands that use it,
# so `huiqi match`, `rules` and `search` start without it.

app = typer.Typer(
    help="惠企：政策库、规则引擎与政策匹配", no_args_is_help=True, add_completion=False
)

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db", help="数据库：SQLite 文件路径或 SQLAlchemy URL（默认 $HUIQI_DB 或 ./huiqi.db）"
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON")]

ECHO_CHARS = 200  # an argument echoed in an error message is cut to this length


def _json(data: Any) -> None:
    write_json(data)


def _open_library(db: str | None, *, create: bool = False):
    """The library at --db, or a clear error and exit status 2."""
    from ..library.store import LibraryError, open_library

    try:
        return open_library(db, create=create)
    except LibraryError as exc:
        err.print(f"[red]政策库错误[/red]：{esc(exc)}")
        raise typer.Exit(2) from None


@contextmanager
def _library_errors(db: str | None) -> Iterator[None]:
    """Database failures after opening (a read-only or corrupt file) as a clear error."""
    import sqlite3

    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except (SQLAlchemyError, sqlite3.Error) as exc:
        what = "无法写入" if "readonly" in str(exc) else "无法读取或写入"
        err.print(f"[red]政策库错误[/red]：{what}政策库 {esc(db or '')}".rstrip())
        raise typer.Exit(2) from None


@app.command()
def ingest(
    # Strings, not Paths: a path the OS cannot take (a NUL byte) is reported by ingest in
    # Chinese with the other unreadable files, not refused by the argument parser.
    paths: Annotated[
        list[str] | None, typer.Argument(help="政策文本文件或目录（默认：内置语料）")
    ] = None,
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="不打印警告")] = False,
) -> None:
    """读取政策原文，拆分为文件与条款，存入政策库。"""
    from ..ingest.pipeline import ingest_paths, reconcile, resolve

    targets = [Path(p) for p in paths] if paths else bundled_corpus()
    from ..library.store import default_url
    from ..search import rebuild_index

    library = _open_library(db, create=True)
    with console.status("正在解析政策文本…"):
        result = ingest_paths(targets)
    with _library_errors(db), console.status("正在入库…"):
        stored = {d.id: d for d in library.all_documents()}
        result.notices.extend(reconcile(result.documents, stored))
        resolve(result.documents, known=list(stored.values()))
        library.save(result.documents)
    # The library now holds what it held, with this run's documents replacing theirs.
    stored.update((d.id, d) for d in result.documents)
    index_file = None
    if result.documents:  # nothing new read: the index is as it was
        with _library_errors(db), console.status("正在重建检索索引…"):
            index_file = rebuild_index(list(stored.values()), db or default_url())
    _report_ingest(result, quiet)
    if index_file:
        console.print(f"检索索引：{esc(index_file)}", soft_wrap=True)
    if not result.documents and (result.errors or not result.files):
        raise typer.Exit(1)  # nothing could be read


def _report_ingest(result: IngestResult, quiet: bool) -> None:
    """Errors, rejections, skipped files and conflicts always; warnings unless -q."""
    for error in result.errors:
        err.print(f"[red]错误[/red] {esc(error)}")
    for rejection in result.rejections:
        err.print(f"[magenta]未入库[/magenta] {esc(rejection)}")
    for note in result.notices:
        err.print(f"[magenta]注意[/magenta] {esc(note)}")
    for skipped in result.skipped:
        err.print(f"[yellow]跳过[/yellow] {esc(skipped)}")
    if not quiet:
        for warning in result.warnings:
            err.print(f"[yellow]警告[/yellow] {esc(warning)}")
    _report_files(result)
    clauses = sum(sum(1 for _ in d.walk()) for d in result.documents)
    console.print(
        f"已读取 {len(result.files)} 个文件，入库 {len(result.documents)} 份文件、{clauses} 个条款"
        + (f"；{len(result.errors)} 个文件无法读取" if result.errors else "")
        + (f"；跳过 {len(result.skipped)} 个文件" if result.skipped else "")
    )
    console.print(
        f"共 {result.lines_in} 行：{result.lines_placed} 行归入文件，"
        f"{result.lines_reported} 行未入库并已报告"
    )


def _report_files(result: IngestResult) -> None:
    """Per file read: the documents found, each with its 文号, title, clauses and warnings."""
    by_file: dict[str, list] = {}
    for d in result.documents:
        by_file.setdefault(d.source, []).append(d)
    for name in result.files:
        docs = by_file.get(name, [])
        console.print(f"{esc(name)}：{len(docs)} 份文件", soft_wrap=True)
        for d in docs:
            clauses = sum(1 for _ in d.walk())
            number = d.doc_number or "无文号"
            title = d.title if d.title_in_text else f"{d.title}（原文无标题）"
            console.print(
                f"  {esc(number)} 《{esc(title)}》 {clauses} 个条款"
                + (f"，{len(d.warnings)} 条警告" if d.warnings else ""),
                soft_wrap=True,
            )


def _in_force_label(row: dict[str, Any], today: date) -> str:
    repealed = any(r["kind"] == "repealed_by" for r in row.get("relations", []))
    from ..library.store import in_force

    state = in_force(row, today, repealed)
    return {True: "有效", False: "失效", None: "未注明"}[state]


@app.command()
def docs(db: DbOption = None, as_json: JsonOption = False) -> None:
    """列出政策库中的全部文件。"""
    library = _open_library(db)
    with _library_errors(db):
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
        cells = [esc(d["id"]), esc(d["doc_number"] or "—"), esc(d["title"])]
        cells.append(str(d["issued_on"] or "—"))
        if wide:
            cells += [esc(d["doc_type"] or "—"), LEVELS.get(d["level"] or "", "—")]
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
    library = _open_library(db)
    with _library_errors(db):
        data = library.get_document(doc)
        node = library.get_clause(doc, clause) if data is not None and clause is not None else None
    if data is None:
        err.print(
            f"[red]找不到文件[/red]：{esc(doc, ECHO_CHARS)}（可用 huiqi docs 查看编号与文号）"
        )
        raise typer.Exit(2)
    if clause is not None:
        if node is None:
            err.print(f"[red]找不到条款[/red]：{esc(clause, ECHO_CHARS)}（文件 {esc(data['id'])}）")
            raise typer.Exit(2)
        if as_json:
            _json(node)
        else:
            console.print(_tree(node["citation"], [node]), highlight=False)
        return
    if as_json:
        _json(data)
        return
    head = [
        f"[bold]{esc(data['title'])}[/bold]",
        f"文号：{esc(data['doc_number'] or '—')}    编号：{esc(data['id'])}",
        f"发文机关：{esc('、'.join(data['issuers']) or '—')}    成文日期：{data['issued_on'] or '—'}",
        f"施行：{data['effective_from'] or '—'} 至 {data['effective_to'] or '—'}    "
        f"效力：{_in_force_label(data, date.today())}",
        f"来源：{esc(data['source'])} 第{data['line_start']}–{data['line_end']}行",
    ]
    for line in head:
        console.print(line, highlight=False)
    for rel in data["relations"]:
        target = esc(rel["target_title"] or rel["target_number"] or "")
        where = f"（{esc(rel['target_id'])}）" if rel["target_id"] else "（库外）"
        label = RELATION_LABELS.get(rel["kind"], "相关")
        console.print(f"  {label}：{target} {where}", highlight=False)
    console.print(_tree(data["doc_number"] or data["title"], data["clauses"]), highlight=False)


RELATION_LABELS = {
    "repeals": "废止",
    "repealed_by": "被废止",
    "cites": "引用",
    "attaches": "印发",
    "attached_to": "印发于",
}


def _tree(title: str, nodes: list[dict[str, Any]]) -> Tree:
    tree = Tree(esc(title))

    def add(branch: Tree, items: list[dict[str, Any]]) -> None:
        for n in items:
            text = n["text"].replace("\n", " ")
            more = "…" if len(text) > 120 else ""
            label = f"[cyan]{esc(n['path'])}[/cyan] {esc(text[:120])}{more}"
            add(branch.add(label), n["children"])

    add(tree, nodes)
    return tree


def main() -> None:  # pragma: no cover
    app()


# Commands owned by other packages register themselves here.
from .ask import register as _register_ask  # noqa: E402
from .batch import register as _register_batch  # noqa: E402
from .rules import register as _register_engine  # noqa: E402
from .search import register as _register_search  # noqa: E402
from .serve import register as _register_serve  # noqa: E402

_register_engine(app)
_register_search(app)
_register_ask(app)
_register_batch(app)
_register_serve(app)
