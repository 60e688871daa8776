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
        str,
        typer.Argument(
            help="企业登记表：.csv（UTF-8/GBK/GB18030）、.xlsx、.parquet，或 DuckDB 数据库文件中的表"
            "（登记库.duckdb:表名）；Spark 引擎下也可为 Parquet 目录或数据仓库表 table:库名.表名"
        ),
    ],
    as_of: Annotated[str, typer.Option("--as-of", help="评估日期 YYYY-MM-DD")],
    out: Annotated[Path, typer.Option("--out", help="结果文件：.csv、.xlsx 或 .parquet")],
    pack: Annotated[str | None, typer.Option("--pack", help="规则包（默认：全部）")] = None,
    document: Annotated[
        list[str] | None,
        typer.Option(
            "--document",
            "-d",
            help="只测算这些文件的规则（文号或标题，可重复）；与之叠加比较的其他文件规则一并评估，但不列出",
        ),
    ] = None,
    events: Annotated[
        Path | None, typer.Option("--events", help="事件列表文件（按统一社会信用代码关联）")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="列名对照表（登记表列名 → 变量名或中文名称，可注明单位）：.csv、.xlsx 或 .yaml",
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option("--engine", help="计算引擎：duckdb（本机）或 spark")
    ] = "duckdb",
    spark_master: Annotated[
        str | None,
        typer.Option("--spark-master", help="Spark 集群地址，如 spark://主机:7077、yarn；默认本机"),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option("--memory-limit", help="DuckDB 内存上限，如 4GB；超出部分写入临时目录"),
    ] = None,
    html: Annotated[bool, typer.Option("--html/--no-html", help="是否生成 HTML 测算报告")] = True,
    forecast_only: Annotated[
        bool,
        typer.Option(
            "--forecast-only",
            help="只做预算测算（按规则、文件、部门、县汇总），不逐户逐条输出；适合几十万、上百万家企业",
        ),
    ] = False,
    rows: Annotated[
        str,
        typer.Option(
            "--rows",
            help="逐户结果保留哪些结论的行，如 符合,待确定（默认 全部；汇总总是计入全部企业）",
        ),
    ] = "全部",
) -> None:
    """对整张企业登记表评估全部规则：每家企业每条规则的结论与金额，以及按规则、文件、部门、县（市、区）的预算测算和 HTML 报告。"""
    import pyarrow as pa

    from ..batch.columns import Block
    from ..batch.compile import RuleCompileError, compile_rules, schema
    from ..batch.read import ReadError, read_registry
    from ..batch.report import FORMATS, kept_statuses, label_tables, write_result
    from ..batch.runner import applicant_counts, complete_inputs, connect, evaluate
    from ..batch.tables import DuckDBSink, block_tables
    from .rules import _load

    try:
        when = date.fromisoformat(as_of)
    except ValueError:
        err.print(f"[red]--as-of 应为日期 YYYY-MM-DD，而不是 {escape(as_of)}[/red]")
        raise typer.Exit(2) from None
    if out.suffix.lower() not in FORMATS:
        err.print(f"[red]{escape(str(out))}：结果文件应为 .csv、.xlsx 或 .parquet[/red]")
        raise typer.Exit(2)
    try:  # before the run, not after it: a folder that cannot be made loses no work
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from ..ingest.pipeline import os_reason

        why = os_reason(exc, "写入")
        err.print(f"[red]{escape(str(out.parent))}：无法建立结果文件夹（{why}）[/red]")
        raise typer.Exit(2) from None
    try:
        keep = kept_statuses(rows)
    except ValueError as exc:
        err.print(f"[red]--rows：{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    if forecast_only and keep is not None:
        err.print("[red]--rows 只用于逐户结果，不能与 --forecast-only 同用[/red]")
        raise typer.Exit(2)
    if engine not in ("duckdb", "spark"):
        err.print(f"[red]--engine 应为 duckdb 或 spark，而不是 {escape(engine)}[/red]")
        raise typer.Exit(2)
    from ..batch.spark import is_table

    where_it_lives = is_table(input) or Path(input).is_dir()
    if where_it_lives and engine != "spark":
        err.print(f"[red]{escape(input)}：数据仓库表或 Parquet 目录须用 --engine spark[/red]")
        raise typer.Exit(2)
    # Spark reads a Parquet registry itself (no events file: those are matched by the reader)
    in_spark = engine == "spark" and (
        where_it_lives or (input.lower().endswith(".parquet") and events is None)
    )
    if where_it_lives and events is not None:
        err.print("[red]直接读取数据仓库表时暂不支持 --events；请改用文件输入[/red]")
        raise typer.Exit(2)
    the_pack = _load(pack)
    from ..batch.scope import ScopeError, documents_scope, whole_pack

    try:
        scope = documents_scope(the_pack, document) if document else whole_pack(the_pack)
    except ScopeError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    columns_of = None
    if mapping is not None:
        from ..batch.mapping import read_mapping

        try:
            columns_of = read_mapping(mapping, the_pack)
        except ReadError as exc:
            err.print(f"[red]{escape(str(exc))}[/red]")
            raise typer.Exit(2) from None
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
    ]
    registry = None
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("读取登记表…", total=5)

        def fail(message: str, code: int) -> typer.Exit:
            progress.stop()
            err.print(f"[red]{escape(message)}[/red]")
            return typer.Exit(code)

        con = connect(memory_limit=memory_limit)
        sch = schema(the_pack)
        # Handed on as it is read, a piece at a time: into DuckDB, or as Arrow tables for
        # Spark (columns take a fraction of the memory of records); an events file is read
        # first and each enterprise's events added as the registry reaches it.
        # under a memory limit the registry goes into DuckDB's own tables, which spill
        to_duckdb = DuckDBSink(con, sch, keep_bytes=0 if memory_limit else None)
        pieces: dict[str, list[pa.Table]] = {}  # Spark: each table's pieces
        read = 0  # enterprises read

        def into_engine(block: Block) -> None:
            nonlocal read
            if engine == "spark":
                for name, table in block_tables(sch, block).items():
                    pieces.setdefault(name, []).append(table)
            else:
                to_duckdb(block)
            read += len(block)
            progress.update(task, description=f"读取登记表（已读入 {read:,} 家）…")

        if not in_spark:
            try:
                registry = read_registry(
                    Path(input),
                    the_pack,
                    as_of=when,
                    sink=into_engine,
                    events=events,
                    mapping=columns_of,
                )
            except ReadError as exc:
                raise fail(str(exc), 2) from None
        progress.update(task, advance=1, description="编译规则为 SQL…")
        try:
            received = registry is not None and registry.received > 0
            # (on Spark the registry may be a catalogue table: every fact is tested there,
            # every row read)
            duck = engine == "duckdb"
            complete = complete_inputs(con, the_pack, when, scope.rules) if duck else frozenset()
            kinds = applicant_counts(con) if duck else ()
            batch = compile_rules(
                the_pack,
                when,
                engine,
                scope.rules,
                received=received,
                complete=complete,
                applicants=kinds,
            )
        except RuleCompileError as exc:
            raise fail(str(exc), 1) from None
        progress.update(
            task, advance=1, description=f"载入 {'Spark' if engine == 'spark' else 'DuckDB'}…"
        )
        if engine == "spark":
            from ..batch import spark as sp

            session = sp.session(spark_master)
            if registry is not None:
                sp.load_arrow(session, {n: pa.concat_tables(p) for n, p in pieces.items()})
                rids, keys, places = None, registry.ids, registry.places
            else:
                try:
                    loaded = sp.load_source(session, input, the_pack, sch, columns_of)
                except ReadError as exc:
                    raise fail(str(exc), 2) from None
                rids, keys, places = sp.ids(loaded)
            progress.update(
                task, advance=1, description=f"在 Spark 上评估 {len(batch.rules)} 条规则…"
            )
            try:
                sp.evaluate(session, batch, con, store=not forecast_only, keep=keep)
            except Exception as exc:  # Spark reports a bad value or cast as a Java error
                raise fail(f"Spark 评估失败：{type(exc).__name__}：{str(exc)[:500]}", 1) from None
        else:
            assert registry is not None
            rids, keys, places = None, registry.ids, registry.places
            progress.update(task, advance=1, description=f"评估 {len(batch.rules)} 条规则…")
            n_rules = len(batch.rules)

            def step(done: int, of: int) -> None:
                progress.update(task, description=f"评估 {n_rules} 条规则（第 {done}/{of} 组）…")

            evaluate(
                con,
                the_pack,
                when,
                batch=batch,
                store=not forecast_only,
                on_chunk=step,
                keep=keep,
                views=to_duckdb.views(),
            )
        progress.update(task, advance=1, description="写出结果与报告…")
        listed = scope.keep_listed(con, batch.rules)
        label_tables(con, listed, keys, the_pack, places, rids)
        try:
            paths = write_result(con, out, html=html, keep=keep)
        except ValueError as exc:
            raise fail(str(exc), 1) from None
        except OSError as exc:  # disk full, no permission, …
            from ..ingest.pipeline import os_reason

            raise fail(f"{out}：无法写出结果（{os_reason(exc, '写入')}）", 1) from None
        progress.update(task, advance=1)

    if registry is not None:
        for r in registry.rejections[:MAX_REJECTIONS_SHOWN]:
            err.print(f"[yellow]已拒绝[/yellow] {escape(str(r))}")
        if len(registry.rejections) > MAX_REJECTIONS_SHOWN:
            err.print(f"……另有 {len(registry.rejections) - MAX_REJECTIONS_SHOWN} 处问题未列出")
        for note in registry.notes:
            err.print(escape(note))
        if registry.ignored_columns:
            err.print(f"未使用的列：{escape('、'.join(registry.ignored_columns))}")
    _summary(con, console)
    console.print(f"结果：{escape('、'.join(str(p) for p in paths))}")
    if registry is None:
        console.print(f"评估企业：{len(keys)} 家")
        return
    evaluated = len(registry.ids)
    rejected = len(registry.rejected_rows)
    if events is not None:
        console.print(
            f"事件行：读入 {registry.events_in} = 采用 {registry.events_in - registry.events_rejected}"
            f" + 拒绝 {registry.events_rejected}"
        )
    console.print(f"行数：读入 {registry.rows_in} = 评估 {evaluated} + 拒绝 {rejected}")


def _summary(con, console: Console) -> None:
    from rich.cells import cell_len

    from ..batch.html import wan
    from ..batch.report import summary_sql

    rows = con.execute(summary_sql("documents")).fetchall()
    table = Table(title="按文件测算（前 15 个）")
    lines = []
    for r in rows[:15]:
        doc, eligible, undetermined, _, _, _, certain, _, high, missing = r
        figures = [f"{eligible:,}", f"{undetermined:,}", wan(certain), wan(high)]
        lines.append((escape(str(doc)), figures, escape(missing or "")))
    # One line per document (a long title wrapped at its space read as a row of blanks),
    # the figures always whole: a no-wrap column measures as wide as its longest text, so
    # both texts get bounded widths (the title up to 30 cells, 最常缺少 what is left), or
    # Rich squeezes the figures out first.
    heads = ("符合", "待确定", "确定金额（万元）", "评审区间上限（万元）")
    widths = [
        max([cell_len(h), *(cell_len(figs[k]) for _, figs, _ in lines)])
        for k, h in enumerate(heads)
    ]
    left = console.width - sum(widths) - 3 * (len(heads) + 2) - 1  # borders and padding
    title = max(8, min(30, left - 8))
    table.add_column("文件", no_wrap=True, overflow="ellipsis", max_width=title)
    for h, wide in zip(heads, widths, strict=True):
        table.add_column(h, justify="right", no_wrap=True, min_width=wide)
    table.add_column("最常缺少", no_wrap=True, overflow="ellipsis", max_width=max(8, left - title))
    for doc, figures, missing in lines:
        table.add_row(doc, *figures, missing)
    console.print(table)
