"""`huiqi batch`: evaluate a whole registry of enterprises (政策找企业) in DuckDB."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

console = Console()
err = Console(stderr=True)
MAX_REJECTIONS_SHOWN = 50


def register(app: typer.Typer) -> None:
    """Add this package's commands to `app`."""
    app.command("batch")(batch_command)


def batch_command(
    input: Annotated[
        Path, typer.Argument(help="企业登记表：.csv（UTF-8/GBK/GB18030）、.xlsx 或 .parquet")
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="评估日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="结果文件：.csv、.xlsx 或 .parquet")],
    pack: Annotated[str | None, typer.Option("--pack", help="规则包（默认：全部）")] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="事件列表文件（按统一社会信用代码关联）")
    ] = None,
) -> None:
    """对整张企业登记表评估全部规则：每家企业每条规则的结论与金额，以及按规则、按文件的预算测算。"""
    from ..batch.compile import RuleCompileError
    from ..batch.read import ReadError, read_events, read_registry
    from ..batch.report import FORMATS, label_tables, write_result
    from ..batch.runner import connect, evaluate
    from ..batch.tables import write_tables
    from .rules import _load

    try:
        when = date.fromisoformat(as_of)
    except ValueError:
        err.print(f"[red]--as-of 应为日期 YYYY-MM-DD，而不是 {escape(as_of)}[/red]")
        raise typer.Exit(2) from None
    if out.suffix.lower() not in FORMATS:
        err.print(f"[red]{escape(str(out))}：结果文件应为 .csv、.xlsx 或 .parquet[/red]")
        raise typer.Exit(2)
    the_pack = _load(pack)
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("读取登记表…", total=5)
        try:
            registry = read_registry(input, the_pack)
            if events is not None:
                read_events(events, the_pack, registry)
        except ReadError as exc:
            progress.stop()
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from None
        progress.update(task, advance=1, description="载入 DuckDB…")
        from ..batch.compile import compile_rules, schema

        con = connect()
        write_tables(con, schema(the_pack), registry.records)
        progress.update(task, advance=1, description="编译规则为 SQL…")
        try:
            batch = compile_rules(the_pack, when)
        except RuleCompileError as exc:
            progress.stop()
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(1) from None
        progress.update(task, advance=1, description=f"评估 {len(batch.rules)} 条规则…")
        evaluate(con, the_pack, when, batch=batch)
        progress.update(task, advance=1, description="写出结果…")
        label_tables(con, batch.rules, registry.ids)
        try:
            paths = write_result(con, out)
        except ValueError as exc:
            progress.stop()
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(1) from None
        progress.update(task, advance=1)

    for r in registry.rejections[:MAX_REJECTIONS_SHOWN]:
        err.print(f"[yellow]已拒绝[/yellow] {escape(str(r))}")
    if len(registry.rejections) > MAX_REJECTIONS_SHOWN:
        err.print(f"……另有 {len(registry.rejections) - MAX_REJECTIONS_SHOWN} 处问题未列出")
    if registry.ignored_columns:
        err.print(f"未使用的列：{escape('、'.join(registry.ignored_columns))}")
    _summary(con, console)
    evaluated = len(registry.records)
    rejected = len(registry.rejected_rows)
    console.print(f"结果：{escape('、'.join(str(p) for p in paths))}")
    if events is not None:
        console.print(
            f"事件行：读入 {registry.events_in} = 采用 {registry.events_in - registry.events_rejected}"
            f" + 拒绝 {registry.events_rejected}"
        )
    console.print(f"行数：读入 {registry.rows_in} = 评估 {evaluated} + 拒绝 {rejected}")


def _summary(con, console: Console) -> None:
    from ..batch.report import _summary_sql

    rows = con.execute(_summary_sql("doc")).fetchall()
    table = Table(title="按文件测算（前 15 个）")
    for h in ("文件", "符合", "待确定", "确定金额（元）", "评审区间上限（元）", "最常缺少"):
        table.add_column(h)
    for r in rows[:15]:
        doc, eligible, undetermined, _, _, certain, _, high, missing = r
        table.add_row(
            escape(str(doc)),
            str(eligible),
            str(undetermined),
            f"{certain:,}",
            f"{high:,}",
            escape(missing or ""),
        )
    console.print(table)
