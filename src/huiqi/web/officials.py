"""政策找企业 for officials: upload a registry (CSV or XLSX), see the budget forecast with its
charts, download the result. The same batch code as `huiqi batch` (reader, SQL compiler,
DuckDB runner, report), nothing re-implemented here.

The result files of a run are kept for RESULT_HOURS in a folder under the system temp folder,
named by a random token: the download links carry it, nothing else identifies a run.
"""

from __future__ import annotations

import errno
import re
import secrets
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated

import duckdb
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse

from ..batch.read import ReadError
from . import service
from .pages import _page

PREFIX = "/officials"
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # 10 MB: some ten thousand enterprises in a CSV
MAX_ROWS = 20_000  # enterprises per upload: the page answers within the request
ACCEPTED = (".csv", ".xlsx")
RESULT_HOURS = 2
# The result files kept at once: beyond RUNS_MAX_BYTES less room for one more run, the oldest
# runs go first. When the page wrote the CSV of rows with every run, one upload of MAX_ROWS
# enterprises with most facts unknown wrote 3.0 GB, and ten such uploads within RESULT_HOURS
# filled this machine's disk; the rows are now kept as Parquet (ROWS) and the CSV is made as
# it is downloaded, but a download's sheet, or many runs, still take room.
RUNS_MAX_BYTES = 12 * 2**30
RUN_ROOM_BYTES = 4 * 2**30
BUSY_SECONDS = 600  # a run this recent may still be writing: never pruned for room
MAX_REJECTIONS_SHOWN = 100
# the rows of the per-enterprise files by default: those that call for action (a 20k upload's
# file of every row is 2.6 GB, mostly 不符合; of these rows 0.7 GB)
FOLLOW_UP = "符合,待确定,逾期未申请"
ROW_CHOICES = (
    (FOLLOW_UP, "需要跟进的：符合、待确定、逾期未申请"),
    ("全部", "全部（也包括不符合、未生效或已失效）"),
)
DOWNLOADS = {
    "xlsx": ("result.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "csv": ("result.csv", "text/csv; charset=utf-8"),
    "rules.xlsx": ("result.rules.xlsx", None),
    "documents.xlsx": ("result.documents.xlsx", None),
    "departments.xlsx": ("result.departments.xlsx", None),
    "counties.xlsx": ("result.counties.xlsx", None),
    "report.html": ("result.report.html", "text/html; charset=utf-8"),
}
# the folder of the rows kept (`report.save_rows`), from which the CSV (streamed) and the
# Excel rows are made when downloaded
ROWS = "rows"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _root() -> Path:
    root = Path(tempfile.gettempdir()) / "huiqi-officials"
    root.mkdir(exist_ok=True)
    return root


def _prune(root: Path) -> None:
    """Drop the runs older than RESULT_HOURS, then the oldest ones until those left leave
    RUN_ROOM_BYTES for one more run within RUNS_MAX_BYTES (not a run that may still be
    writing: modified within BUSY_SECONDS)."""
    now = time.time()
    kept: list[tuple[float, int, Path]] = []
    for d in root.iterdir():
        if not d.is_dir():
            continue
        modified = d.stat().st_mtime
        if modified < now - RESULT_HOURS * 3600:
            shutil.rmtree(d, ignore_errors=True)
        else:
            kept.append((modified, _size(d), d))
    total = sum(size for _, size, _ in kept)
    for modified, size, d in sorted(kept):  # the oldest first
        if total <= RUNS_MAX_BYTES - RUN_ROOM_BYTES or modified > now - BUSY_SECONDS:
            break
        shutil.rmtree(d, ignore_errors=True)
        total -= size


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def _no_room(exc: Exception) -> bool:
    """The disk is full: Python's and Arrow's writers say ENOSPC, DuckDB's spill says it in
    words."""
    return getattr(exc, "errno", None) == errno.ENOSPC or "No space left on device" in str(exc)


NO_ROOM = "服务器磁盘空间已满，本次结果无法保存；请稍后再试，或在本机用命令 huiqi batch 评估"


@router.get("", response_class=HTMLResponse)
def officials_page(request: Request) -> Response:
    return _form(request)


def _form(request: Request, message: str = "", status: int = 200, **values) -> Response:
    return _page(
        request,
        "officials.html",
        status,
        message=message,
        today=date.today().isoformat(),
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        max_rows=MAX_ROWS,
        values=values,
        documents=_documents(),
        row_choices=ROW_CHOICES,
        result=None,
    )


def _documents() -> list[tuple[str, str, str]]:
    """The documents one may limit a run to (id, title, 文号)."""
    from ..batch.scope import documents_with_rules

    return documents_with_rules(service.load_pack())


@router.post("", response_class=HTMLResponse)
def officials_run(
    request: Request,
    registry: Annotated[UploadFile, File()],
    as_of: Annotated[str, Form()] = "",
    events: Annotated[UploadFile | None, File()] = None,
    mapping: Annotated[UploadFile | None, File()] = None,
    documents: Annotated[list[str] | None, Form()] = None,
    rows: Annotated[str, Form()] = FOLLOW_UP,
) -> Response:
    """Evaluate the uploaded registry with every rule in force on `as_of` (or the rules of
    the chosen `documents`, by id, with their stacking rivals); the page shows the forecast
    and links the result files, whose per-enterprise rows are those of the conclusions in
    `rows` (`report.kept_statuses`)."""
    from ..batch.compile import RuleCompileError, compile_rules, schema
    from ..batch.html import chart_svg, report_data
    from ..batch.mapping import read_mapping
    from ..batch.read import read_registry
    from ..batch.report import (
        ALL_ROWS,
        kept_statuses,
        label_tables,
        save_rows,
        write_summaries,
    )
    from ..batch.runner import connect, evaluate
    from ..batch.scope import ScopeError, documents_scope, whole_pack
    from ..batch.tables import DuckDBSink
    from ..engine.match import STATUS_LABELS

    chosen = [d for d in documents or [] if d]

    def again(message: str, status: int) -> Response:  # the form again, as it was filled in
        return _form(request, message, status, as_of=as_of, documents=chosen, rows=rows)

    name = Path(registry.filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix not in ACCEPTED:
        return again("请上传 .csv 或 .xlsx 格式的企业登记表", 400)
    try:
        when = date.fromisoformat(as_of) if as_of else date.today()
    except ValueError:
        return again(f"评估日期应为 年-月-日，而不是“{as_of}”", 400)
    try:
        keep = kept_statuses(rows)
    except ValueError as exc:
        return again(f"逐企业结果：{exc}", 400)
    pack = service.load_pack()
    try:
        scope = documents_scope(pack, chosen) if chosen else whole_pack(pack)
    except ScopeError as exc:
        return again(str(exc), 400)
    data = registry.file.read(MAX_UPLOAD_BYTES + 1)
    ev_name = Path(events.filename or "").name if events is not None else ""
    ev_data = events.file.read(MAX_UPLOAD_BYTES + 1) if events is not None and ev_name else b""
    if ev_name and Path(ev_name).suffix.lower() not in ACCEPTED:
        return again("事件列表请上传 .csv 或 .xlsx 格式的文件", 400)
    map_name = Path(mapping.filename or "").name if mapping is not None else ""
    map_data = mapping.file.read(MAX_UPLOAD_BYTES + 1) if mapping is not None and map_name else b""
    if map_name and Path(map_name).suffix.lower() not in ACCEPTED:
        return again("列名对照表请上传 .csv 或 .xlsx 格式的文件", 400)
    if len(data) + len(ev_data) + len(map_data) > MAX_UPLOAD_BYTES:
        return again(f"文件过大（上限 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB）", 413)
    root = _root()
    _prune(root)
    token = secrets.token_urlsafe(18)
    run = root / token
    run.mkdir()
    made = False  # until then, leaving: the run's files go (refused, failed, or no room)
    try:
        upload = run / f"registry{suffix}"
        upload.write_bytes(data)
        ev_upload = run / f"events{Path(ev_name).suffix.lower()}"
        if ev_data:
            ev_upload.write_bytes(ev_data)
        map_upload = run / f"mapping{Path(map_name).suffix.lower()}"
        if map_data:
            map_upload.write_bytes(map_data)

        def named(text: str) -> str:  # the user's file names, never our temp paths
            for path, shown in ((upload, name), (ev_upload, ev_name), (map_upload, map_name)):
                text = text.replace(str(path), f"“{shown}”")
            return text

        con = connect()
        try:
            columns = read_mapping(map_upload, pack) if map_data else None
            reg = read_registry(
                upload,
                pack,
                as_of=when,
                sink=(sink := DuckDBSink(con, schema(pack))),  # as `huiqi batch`: piece by piece
                events=ev_upload if ev_data else None,
                mapping=columns,
            )
        except ReadError as exc:
            return again(named(str(exc)), 400)
        if len(reg.ids) > MAX_ROWS:
            return again(
                f"“{name}”有 {len(reg.ids):,} 家企业，网页一次最多评估 {MAX_ROWS:,} 家；"
                "更大的登记表请用命令 huiqi batch",
                413,
            )
        try:
            # (not compiled for the upload's complete inputs, as `huiqi batch` does: up to
            # 20,000 enterprises that spares less than the second a new compilation of the
            # pack takes, where the same batch is kept from one upload to the next)
            batch = compile_rules(pack, when, "duckdb", scope.rules, received=reg.received > 0)
        except RuleCompileError as exc:  # a pack problem, not the user's
            return again(str(exc), 500)
        evaluate(con, pack, when, batch=batch, keep=keep, views=sink.views())
        listed = scope.keep_listed(con, batch.rules)
        label_tables(con, listed, reg.ids, pack, reg.places)
        # the rows' CSV and sheet are made when downloaded (`officials_download`): the CSV of
        # 20,000 enterprises with most facts unknown is 3.2 GB (kept: 4 MB), and the sheet,
        # written a cell at a time, took 6.7 of 8.6 s for 200 such enterprises
        save_rows(con, run / ROWS, keep)
        write_summaries(con, run / "result.xlsx")  # whatever the rows: the summaries and report
        data_ = report_data(con)
        made = True
    except (OSError, duckdb.Error) as exc:
        if _no_room(exc):
            return again(NO_ROOM, 507)
        raise
    finally:
        if not made:
            shutil.rmtree(run, ignore_errors=True)
    rejections = [named(str(r)) for r in reg.rejections[:MAX_REJECTIONS_SHOWN]]
    downloads = [key for key in DOWNLOADS if _available(run, key)]
    return _page(
        request,
        "officials.html",
        message="",
        today=date.today().isoformat(),
        max_mb=MAX_UPLOAD_BYTES // (1024 * 1024),
        max_rows=MAX_ROWS,
        values={"as_of": when.isoformat(), "documents": chosen, "rows": rows},
        documents=_documents(),
        row_choices=ROW_CHOICES,
        result={
            "rows_kept": ALL_ROWS if keep is None else "、".join(STATUS_LABELS[k] for k in keep),
            "name": name,
            "token": token,
            "titles": scope.titles,
            "as_of": when.isoformat(),
            "rows_in": reg.rows_in,
            "evaluated": len(reg.ids),
            "rejected": len(reg.rejected_rows),
            "rejections": rejections,
            "more_rejections": max(0, len(reg.rejections) - MAX_REJECTIONS_SHOWN),
            "ignored": reg.ignored_columns,
            "notes": [named(t) for t in reg.notes],
            "downloads": downloads,
            **data_,
        },
        chart=chart_svg,
        labels=_LABELS,
    )


_LABELS = {
    "xlsx": "逐企业结果（Excel，下载时生成，行数多时请稍候）",
    "csv": "逐企业结果（CSV）",
    "rules.xlsx": "按规则汇总",
    "documents.xlsx": "按文件汇总",
    "departments.xlsx": "按部门汇总",
    "counties.xlsx": "按注册地汇总",
    "report.html": "测算报告（网页，可离线打开）",
}


def _available(run: Path, key: str) -> bool:
    """The file `key` of DOWNLOADS is there, or (the rows' CSV, or their sheet if they fit
    one) can be made."""
    from ..batch.report import XLSX_MAX_ROWS, rows_in_store

    if (run / DOWNLOADS[key][0]).is_file():
        return True
    if key == "csv":
        return (run / ROWS).is_dir()
    if key == "xlsx" and (run / ROWS).is_dir():
        return rows_in_store(run / ROWS) <= XLSX_MAX_ROWS
    return False


@router.get("/result/{token}/{what}")
def officials_download(token: str, what: str) -> Response:
    from ..batch.report import rows_csv, rows_sheet

    if not _TOKEN.match(token) or what not in DOWNLOADS:
        return _missing()
    fname, media = DOWNLOADS[what]
    run = _root() / token
    path = run / fname
    rows = run / ROWS
    if what in ("csv", "xlsx") and not path.is_file() and rows.is_dir():
        # the rows' files are made from the rows kept when downloaded (`officials_run`)
        if what == "csv":
            return StreamingResponse(
                rows_csv(rows),
                media_type=media,
                headers={"Content-Disposition": _attachment(f"测算结果.{what}")},
            )
        from .service import ApiError

        if not _available(run, what):
            from ..batch.report import XLSX_MAX_ROWS

            raise ApiError(
                413, f"结果超过 Excel 的上限 {XLSX_MAX_ROWS:,} 行，请下载逐企业结果（CSV）"
            )
        part = run / f".{secrets.token_hex(8)}.xlsx"  # two downloads at once: each its own
        try:
            rows_sheet(rows, part)
        except OSError as exc:
            part.unlink(missing_ok=True)
            if _no_room(exc):
                raise ApiError(507, NO_ROOM) from None
            raise
        part.replace(path)
    if not path.is_file():
        return _missing()
    return FileResponse(
        path,
        media_type=media or "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        filename=f"测算结果.{what}",
    )


def _attachment(filename: str) -> str:
    """A Content-Disposition naming a (Chinese) file name, as FileResponse writes one."""
    from urllib.parse import quote

    return f"attachment; filename*=utf-8''{quote(filename)}"


def _missing() -> Response:
    from .service import ApiError

    raise ApiError(404, f"找不到这份结果（结果只保留 {RESULT_HOURS} 小时），请重新上传")
