"""政策找企业 page (/officials): upload a small registry and an events file, see the forecast,
download the result; bad uploads give Chinese messages naming the row and column."""

from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from huiqi.web import service
from huiqi.web.app import app


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


# Two enterprises of 焦作 (independent legal persons) and one row with a wrong value.
REGISTRY = (
    "统一社会信用代码,注册地,具有独立法人资格\n"
    "91410800A,解放区,是\n"
    "91410800B,温县,是\n"
    "91410800C,解放区,也许\n"
).encode("gbk")
# A was first recognised as 国家高新技术企业 in 2018 (上年度 for 2019-03-01); B has none.
EVENTS = (
    "统一社会信用代码,事件列表,认定类别,认定（备案、入库）年度,是否首次认定\n"
    "91410800A,企业认定（备案）记录,国家高新技术企业,2018,是\n"
    "91410800B,企业认定（备案）记录,,,\n"
).encode()


def _run(client: TestClient, registry: bytes = REGISTRY, name: str = "登记表.csv", **extra):
    files = {"registry": (name, registry, "text/csv")}
    if extra.get("events") is not None:
        files["events"] = ("事件.csv", extra["events"], "text/csv")
    data = {"as_of": "2019-03-01", "documents": extra.get("documents") or []}
    if extra.get("rows") is not None:
        data["rows"] = extra["rows"]
    return client.post("/officials", files=files, data=data)


def test_page_offers_the_upload(client):
    r = client.get("/officials")
    assert r.status_code == 200
    assert "政策找企业" in r.text and 'type="file"' in r.text


def test_upload_forecast_and_download(client):
    r = _run(client, events=EVENTS)
    assert r.status_code == 200, r.text[:2000]
    page = r.text
    # row 4 (the header is row 1) is rejected, naming the uploaded file and the column
    assert (
        "“登记表.csv” 第 4 行，列“具有独立法人资格”：应为“是”或“否”，而不是 &#39;也许&#39;" in page
    )
    assert "读入 3 行 = 评估 2 + 拒绝 1" in page
    assert "<svg" in page and "按受理部门" in page and "按注册地" in page
    token = page.split("/officials/result/")[1].split("/")[0]

    rules = client.get(f"/officials/result/{token}/rules.xlsx")
    assert rules.status_code == 200
    ws = load_workbook(io.BytesIO(rules.content), read_only=True).worksheets[0]
    rows = list(ws.iter_rows(values_only=True))
    head = rows[0]
    by_rule = {row[0]: dict(zip(head, row, strict=False)) for row in rows[1:]}
    # 《焦作市科技创新奖励资金管理暂行办法》第六条: "首次认定的国家高新技术企业……奖励20万元"
    # (rule jz.kjjl.gaoqi_first_cert): A qualifies, B (no recognition) does not.
    got = by_rule["jz.kjjl.gaoqi_first_cert"]
    assert got["符合（家次）"] == 1 and got["不符合（家次）"] == 1
    assert got["确定金额（元）"] == 200000

    report = client.get(f"/officials/result/{token}/report.html")
    assert report.status_code == 200
    assert "<svg" in report.text and "http" not in report.text.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )  # offline: nothing fetched from elsewhere
    rows_csv = client.get(f"/officials/result/{token}/csv")
    assert rows_csv.status_code == 200 and "91410800A" in rows_csv.content.decode("utf-8-sig")


def test_a_run_limited_to_one_document(client):
    """《焦作市加快高新技术企业培育行动方案（2017—2020年）》四1/五4 pays A, first recognised in
    2018, a 20万元 subsidy; 《焦作市科技创新奖励资金管理暂行办法》第六条 pays A 20万元 for the
    same recognition and its 第五条 “奖励资金用于奖励我市已出台奖励政策规定的科技奖励事项”
    makes them one benefit, paid once: on the tie the kjjl award (which quotes that principle)
    is paid. Limited to the plan, the page lists the plan's rules only and its cost for A is
    0 元; the kjjl award is not counted."""
    from huiqi.batch.scope import documents_with_rules

    form = client.get("/officials").text
    plan = "焦作市加快高新技术企业培育行动方案（2017—2020年）"
    (doc_id,) = [i for i, title, _ in documents_with_rules(service.load_pack()) if title == plan]
    assert f'<option value="{doc_id}">{plan}' in form
    r = _run(client, events=EVENTS, documents=[doc_id])
    assert r.status_code == 200, r.text[:2000]
    assert f"只测算：《{plan}》" in r.text
    assert "确定金额合计 0.00 万元" in r.text
    assert f'<option value="{doc_id}" selected>' in r.text  # the choice is kept
    token = r.text.split("/officials/result/")[1].split("/")[0]
    rules = client.get(f"/officials/result/{token}/rules.xlsx")
    rows = list(load_workbook(io.BytesIO(rules.content), read_only=True).worksheets[0].values)
    by_rule = {row[0]: dict(zip(rows[0], row, strict=False)) for row in rows[1:]}
    assert {row["文件"] for row in by_rule.values()} == {plan}
    subsidy = by_rule["jz.gqpy.new_hte_subsidy"]
    assert subsidy["符合（家次）"] == 1 and subsidy["确定金额（元）"] == 0

    r = _run(client, events=EVENTS, documents=["no-such-document"])
    assert r.status_code == 400 and "找不到文件“no-such-document”" in r.text


def test_page_says_how_yearly_columns_were_read(client):
    registry = "统一社会信用代码,注册地,研发费用（万元）,2017年主营业务收入（万元）\n91410800D,温县,3500,9000\n"
    r = _run(client, registry.encode())
    assert r.status_code == 200, r.text[:2000]
    # evaluated on 2019-03-01: 上年度 is 2018
    assert "「研发费用（万元）」未注明年度，按上年度（2018年度）读入" in r.text
    assert "「2017年主营业务收入（万元）」按2017年度读入" in r.text


def test_bad_uploads_are_explained(client):
    r = _run(client, registry=b"x", name="registry.pdf")
    assert r.status_code == 400 and "请上传 .csv 或 .xlsx" in r.text
    r = _run(client, registry="名称\n某公司\n".encode(), name="r.csv")
    assert r.status_code == 400 and "缺少“统一社会信用代码”" in r.text and "“r.csv”" in r.text
    assert "/tmp" not in r.text  # our temp paths never reach the page
    big = b"a" * (11 * 1024 * 1024)
    r = _run(client, registry=big, name="big.csv")
    assert r.status_code == 413 and "10 MB" in r.text
    assert client.get("/officials/result/" + "x" * 24 + "/xlsx").status_code == 404
    assert client.get("/officials/result/../etc/passwd").status_code == 404


def test_a_registry_with_its_own_column_names(client):
    """The optional column mapping: the registry's own headers; a bad entry is shown with
    the uploaded file's name and its line, never a temp path."""
    registry = "纳税人识别号,所在县区,法人资格\n91410800A,解放区,是\n".encode("gbk")
    mapping = (
        "列名,变量\n纳税人识别号,统一社会信用代码\n所在县区,注册地\n法人资格,具有独立法人资格\n"
    )
    files = {
        "registry": ("登记表.csv", registry, "text/csv"),
        "mapping": ("对照.csv", mapping.encode("gbk"), "text/csv"),
    }
    r = client.post("/officials", files=files, data={"as_of": "2019-03-01"})
    assert r.status_code == 200, r.text[:2000]
    assert "读入 1 行 = 评估 1 + 拒绝 0" in r.text
    files["mapping"] = ("对照.csv", "列名,变量\n所在县区,县区\n".encode(), "text/csv")
    r = client.post("/officials", files=files, data={"as_of": "2019-03-01"})
    assert r.status_code == 400
    assert "“对照.csv” 第 2 行：未知变量“县区”" in r.text and "/tmp" not in r.text


def test_too_many_enterprises_for_the_page(client, monkeypatch):
    """The page evaluates at most MAX_ROWS enterprises (counted as they are read)."""
    import huiqi.web.officials as officials

    monkeypatch.setattr(officials, "MAX_ROWS", 2)
    registry = "统一社会信用代码,注册地\nA1,温县\nA2,温县\nA3,温县\n".encode()
    r = _run(client, registry)
    assert r.status_code == 413 and "有 3 家企业，网页一次最多评估 2 家" in r.text
    assert _run(client, "统一社会信用代码,注册地\nA1,温县\nA2,温县\n".encode()).status_code == 200


def test_the_rows_to_follow_up_by_default_and_every_row_on_request(client):
    """The per-enterprise files hold, by default, the rows that call for action (符合, 待确定,
    逾期未申请): B (no recognition) is 不符合 the 高企 award and that row is left out; with
    全部 it is there. The summaries count both enterprises either way."""
    import csv

    def rows_of(r) -> list[dict]:
        token = r.text.split("/officials/result/")[1].split("/")[0]
        got = client.get(f"/officials/result/{token}/csv").content.decode("utf-8-sig")
        return list(csv.DictReader(io.StringIO(got)))

    default = _run(client, events=EVENTS)
    assert "逐企业结果包括：符合、待确定、逾期未申请。" in default.text
    kept = rows_of(default)
    assert {r["结论"] for r in kept} <= {"符合", "待确定", "逾期未申请"}
    award = [r for r in kept if r["规则编号"] == "jz.kjjl.gaoqi_first_cert"]
    assert [r["统一社会信用代码"] for r in award] == ["91410800A"]

    every = _run(client, events=EVENTS, rows="全部")
    assert "逐企业结果包括：全部。" in every.text
    assert '<option value="全部" selected>' in every.text  # the choice is kept
    award = [r for r in rows_of(every) if r["规则编号"] == "jz.kjjl.gaoqi_first_cert"]
    assert sorted(r["结论"] for r in award) == ["不符合", "符合"]
    assert (
        "读入 3 行 = 评估 2 + 拒绝 1" in every.text
        and "读入 3 行 = 评估 2 + 拒绝 1" in default.text
    )

    bad = _run(client, events=EVENTS, rows="也许")
    assert bad.status_code == 400 and "未知的结论“也许”" in bad.text


def test_the_summaries_are_offered_when_the_rows_do_not_fit_a_sheet(client, monkeypatch):
    """Rows beyond Excel's limit go to the CSV only; the summaries and the report are
    downloadable all the same (before, they were written beside the Excel rows only, so a
    large upload offered none)."""
    from huiqi.batch import report

    monkeypatch.setattr(report, "XLSX_MAX_ROWS", 1)
    r = _run(client, events=EVENTS, rows="全部")
    assert r.status_code == 200, r.text[:2000]
    token = r.text.split("/officials/result/")[1].split("/")[0]
    assert f"/officials/result/{token}/xlsx" not in r.text  # the rows do not fit
    asked = client.get(f"/officials/result/{token}/xlsx")  # (a link kept from elsewhere)
    assert asked.status_code == 413 and "请下载逐企业结果（CSV）" in asked.text
    for key in ("csv", "rules.xlsx", "documents.xlsx", "departments.xlsx", "counties.xlsx"):
        assert f"/officials/result/{token}/{key}" in r.text, key
        assert client.get(f"/officials/result/{token}/{key}").status_code == 200, key
    assert client.get(f"/officials/result/{token}/report.html").status_code == 200


def test_the_excel_rows_are_made_when_downloaded_and_are_the_csv_rows(client):
    """The page answers without writing the rows' sheet (cell by cell, the slow part of a
    small run) or their CSV (3.0 GB for 20,000 enterprises with most facts unknown); the
    first download makes the sheet, the next one serves the same file; the CSV is streamed
    as it is made, with a Chinese file name; the sheet's rows are the CSV's (缺少的信息
    joined by 、 in both)."""
    import csv

    from huiqi.web.officials import _root

    r = _run(client, events=EVENTS, rows="全部")
    assert r.status_code == 200, r.text[:2000]
    token = r.text.split("/officials/result/")[1].split("/")[0]
    assert f"/officials/result/{token}/xlsx" in r.text
    # neither the sheet nor the CSV is written with the run: the rows are kept (`save_rows`)
    files = {p.name for p in (_root() / token).iterdir()}
    assert "rows" in files and not files & {"result.xlsx", "result.csv"}

    first = client.get(f"/officials/result/{token}/xlsx")
    assert first.status_code == 200
    sheet = list(load_workbook(io.BytesIO(first.content), read_only=True).worksheets[0].values)
    got = client.get(f"/officials/result/{token}/csv")
    assert got.headers["content-type"].startswith("text/csv")
    assert (
        "filename*=utf-8''%E6%B5%8B%E7%AE%97%E7%BB%93%E6%9E%9C.csv"
        in (got.headers["content-disposition"])
    )
    text = got.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(sheet) == len(rows) > 2 and sheet[0] == tuple(rows[0])
    as_text = [["" if v is None else str(v) for v in row] for row in sheet]
    assert all(
        _same_cell(c, s)
        for csv_row, sheet_row in zip(rows, as_text, strict=True)
        for c, s in zip(csv_row, sheet_row, strict=True)
    )
    assert any("、" in c for row in rows for c in row)  # a list of missing facts, joined
    assert client.get(f"/officials/result/{token}/xlsx").content == first.content


def _same_cell(in_csv: str, in_sheet: str) -> bool:
    """The same cell: the same text, or the same number (the CSV writes 200000.00 where the
    sheet holds the number 200000)."""
    from decimal import Decimal, InvalidOperation

    if in_csv == in_sheet:
        return True
    try:
        return Decimal(in_csv) == Decimal(in_sheet)
    except InvalidOperation:
        return False


@pytest.fixture
def own_root(tmp_path, monkeypatch):
    """The runs' folder of this test alone (the others' runs are not pruned by its budget)."""
    import huiqi.web.officials as officials

    monkeypatch.setattr(officials, "_root", lambda: tmp_path)
    return tmp_path


def _fake_run(root, name: str, size: int, minutes_ago: float):
    import os
    import time

    d = root / name
    d.mkdir()
    (d / "result.csv").write_bytes(b"x" * size)
    then = time.time() - minutes_ago * 60
    os.utime(d, (then, then))
    return d


def test_runs_beyond_the_disk_budget_go_oldest_first(client, own_root, monkeypatch):
    """Runs are kept within RUNS_MAX_BYTES, leaving RUN_ROOM_BYTES for the next: the oldest
    go first, never one that may still be writing (BUSY_SECONDS), and after RESULT_HOURS
    every run goes whatever the room."""
    import huiqi.web.officials as officials

    monkeypatch.setattr(officials, "RUNS_MAX_BYTES", 2500)
    monkeypatch.setattr(officials, "RUN_ROOM_BYTES", 1000)
    expired = _fake_run(own_root, "expired", 10, minutes_ago=3 * 60)
    oldest = _fake_run(own_root, "oldest", 1000, minutes_ago=50)
    older = _fake_run(own_root, "older", 1000, minutes_ago=40)
    busy = _fake_run(own_root, "busy", 2000, minutes_ago=1)
    r = _run(client)
    assert r.status_code == 200, r.text[:2000]
    # 4000 bytes kept, room wanted: at most 1500. The two oldest go (2000 left); `busy`,
    # the next, may still be writing: it stays, although the runs still exceed the budget
    assert not expired.exists() and not oldest.exists() and not older.exists()
    assert busy.exists()
    token = r.text.split("/officials/result/")[1].split("/")[0]
    assert (own_root / token / "rows").is_dir()  # this run's files, where it said


def test_a_full_disk_is_said_not_a_crash(client, own_root, monkeypatch):
    """No room for the result files: the form again with the reason (507), nothing left
    behind; a sheet that cannot be made when downloaded: the same reason."""
    import errno

    import huiqi.batch.report as report

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(report, "_write", full)  # (every file a run writes goes through it)
        r = _run(client)
    assert r.status_code == 507
    assert "服务器磁盘空间已满，本次结果无法保存" in r.text
    assert list(own_root.iterdir()) == []

    r = _run(client)
    assert r.status_code == 200
    token = r.text.split("/officials/result/")[1].split("/")[0]
    monkeypatch.setattr(report, "rows_sheet", full)
    got = client.get(f"/officials/result/{token}/xlsx")
    assert got.status_code == 507 and "服务器磁盘空间已满" in got.text
    left = {p.name for p in (own_root / token).iterdir()}
    assert "result.xlsx" not in left and not [n for n in left if n.startswith(".")]


def test_a_full_disk_is_told_from_other_write_errors():
    import errno

    import duckdb

    from huiqi.web.officials import _no_room

    assert _no_room(OSError(errno.ENOSPC, "No space left on device"))
    spill = 'Could not write file "/tmp/huiqi-duckdb/x.tmp": No space left on device'
    assert _no_room(duckdb.IOException(spill))
    assert not _no_room(OSError(errno.EACCES, "Permission denied"))
    assert not _no_room(duckdb.BinderException("Referenced column not found"))
