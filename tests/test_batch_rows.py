"""The row file (one row per enterprise and rule, `report.write_result`): written in slices of
enterprises, it is the same file as written in one sort, in every format; the missing facts
read as the pack's Chinese labels of the ids the evaluation left."""

from __future__ import annotations

import csv
from datetime import date
from functools import cache

import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from huiqi.batch import report
from huiqi.batch.compile import compile_rules
from huiqi.batch.report import MISSING_HEADER, label_tables, write_result
from huiqi.batch.runner import RESULT, connect, evaluate, forecast
from huiqi.batch.synthetic import DENSE, generate
from huiqi.packs.loader import bundled_pack

AS_OF = date(2019, 3, 1)
N = 50


@cache
def pack():
    return bundled_pack("jiaozuo")


def _evaluated():
    """50 synthetic enterprises against the first 30 rules, the long result stored."""
    con = connect()
    generate(con, pack(), N, seed=3, as_of=AS_OF, holders=DENSE)
    rules = list(pack().compiled)[:30]
    batch = compile_rules(pack(), AS_OF, "duckdb", rules)
    rids, places = zip(
        *con.execute("SELECT _rid, registered_place FROM registry ORDER BY _rid").fetchall(),
        strict=True,
    )
    label_tables(con, batch.rules, [f"E{r:03d}" for r in rids], pack(), list(places), list(rids))
    evaluate(con, pack(), AS_OF, rules, batch, store=True)
    return con, len(rules)


def _files(con, tmp_path, tag: str) -> dict[str, list]:
    out = {}
    for ext in (".parquet", ".csv", ".xlsx"):
        path = tmp_path / f"{tag}{ext}"
        write_result(con, path, html=False)
        if ext == ".parquet":
            out[ext] = pq.read_table(path).to_pylist()
        elif ext == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                out[ext] = list(csv.reader(fh))
        else:
            out[ext] = [list(r) for r in load_workbook(path).active.iter_rows(values_only=True)]
    return out


def test_rows_written_in_slices_are_the_rows_of_one_sort(tmp_path, monkeypatch):
    con, rules = _evaluated()
    whole = _files(con, tmp_path, "whole")
    assert len(report.row_slices(con)) == 1
    monkeypatch.setattr(report, "ROWS_PER_SLICE", 4 * rules)  # 4 enterprises a slice
    slices = report.row_slices(con)
    assert len(slices) == 13  # 50 enterprises, 4 at a time
    sliced = _files(con, tmp_path, "sliced")
    assert sliced == whole
    rows = whole[".parquet"]
    assert len(rows) == N * rules
    # grouped by enterprise, in the registry's order, each with every rule once
    ids = [r["统一社会信用代码"] for r in rows]
    assert ids == sorted(ids) and len(set(ids)) == N
    assert len(whole[".csv"]) == len(whole[".xlsx"]) == N * rules + 1  # and the header


def test_the_sheet_made_from_the_rows_kept_is_the_sheet_written_directly(tmp_path):
    """`rows_sheet` (the officials' page makes its Excel rows from the rows it keeps,
    `save_rows`, when they are first downloaded) gives the sheet `write_rows` writes, cell
    for cell; the store keeps the rows of the conclusions asked for, and says how many."""
    con, _ = _evaluated()
    keep = ["eligible", "undetermined"]
    kept = report.save_rows(con, tmp_path / "rows", keep)
    assert kept == report.rows_kept(con, keep) == report.rows_in_store(tmp_path / "rows") > 1
    report.write_rows(con, tmp_path / "direct.xlsx", keep)
    report.rows_sheet(tmp_path / "rows", tmp_path / "made.xlsx")
    made, direct = (
        list(load_workbook(tmp_path / name).active.iter_rows(values_only=True))
        for name in ("made.xlsx", "direct.xlsx")
    )
    assert made == direct and len(made) == kept + 1
    assert any("、" in str(cell) for row in made for cell in row)  # a list of facts, joined


def test_a_sheet_of_more_rows_than_excel_holds_is_refused_before_it_is_made(tmp_path, monkeypatch):
    con, _ = _evaluated()
    kept = report.save_rows(con, tmp_path / "rows", ["eligible", "undetermined"])
    monkeypatch.setattr(report, "XLSX_MAX_ROWS", kept - 1)
    with pytest.raises(ValueError, match="超过 Excel 的上限"):
        report.rows_sheet(tmp_path / "rows", tmp_path / "made.xlsx")
    assert not (tmp_path / "made.xlsx").exists()


def test_the_csv_streamed_from_the_rows_kept_is_the_csv_written_directly(tmp_path, monkeypatch):
    """`rows_csv` (the officials' page streams the CSV rows from the rows it keeps when they
    are downloaded) gives the bytes `write_rows` writes, BOM and header included, in more
    than one piece when there are more rows than a piece holds, and read in more than one
    slice of enterprises (STREAMED_SLICE_ROWS) in the same order; no rows: the header."""
    con, _ = _evaluated()
    keep = ["eligible", "undetermined"]
    report.save_rows(con, tmp_path / "rows", keep)
    report.write_rows(con, tmp_path / "direct.csv", keep)
    monkeypatch.setattr(report, "BATCH_ROWS", 7)
    monkeypatch.setattr(report, "STREAMED_SLICE_ROWS", 90)  # 3 enterprises × 30 rules a slice
    pieces = [p for p in report.rows_csv(tmp_path / "rows") if p]
    direct = (tmp_path / "direct.csv").read_bytes()
    assert b"".join(pieces) == direct and direct.count(b"\n") > 8 and len(pieces) > 1
    assert "、" in direct.decode("utf-8-sig")  # a list of facts, joined
    assert report.save_rows(con, tmp_path / "none", ["overdue"]) == 0  # (none overdue here)
    report.write_rows(con, tmp_path / "none.csv", ["overdue"])
    streamed = b"".join(report.rows_csv(tmp_path / "none"))
    assert streamed == (tmp_path / "none.csv").read_bytes()
    assert streamed.decode("utf-8-sig") == (
        '"统一社会信用代码","规则编号","政策事项","文件","受理部门","结论","确定金额（元）",'
        '"评审区间下限（元）","评审区间上限（元）","因叠加规定不另行发放","缺少的信息"\n'
    )


def test_missing_facts_are_the_labels_of_the_ids_left_unknown(tmp_path):
    con, _ = _evaluated()
    left = con.execute(
        f"SELECT _rid, rule_idx, missing FROM {RESULT} WHERE missing <> '' ORDER BY 1, 2"
    ).fetchall()
    assert left  # some rules are undetermined for want of facts
    path = tmp_path / "r.parquet"
    write_result(con, path, html=False)
    shown = [r[MISSING_HEADER] for r in pq.read_table(path).to_pylist() if r[MISSING_HEADER]]
    variables = pack().variables

    def label(fact: str) -> str:
        """A fact as the user reads it: 上年度研发费用; an event's field as 认定（年度）; a
        parameter not yet set as 补助上限（参数未定）."""
        if fact.startswith("param:"):
            return f"{pack().parameters[fact[6:]].label}（参数未定）"
        name, _, field = fact.partition(".")
        var = variables[name]
        return f"{var.label}（{var.fields[field].label}）" if field else var.label

    assert len(shown) == len(left)
    for (_, _, missing), labels in zip(left, shown, strict=True):
        assert labels == [label(f) for f in missing.split(",")]
    assert all("_" not in x for labels in shown for x in labels)  # no internal id shown


def test_the_row_file_keeps_the_conclusions_asked_for_and_the_summaries_count_all(tmp_path):
    """`--rows 符合,待确定`: the rows of the full file with those conclusions, in the same
    order; the summaries beside it are those of the full run."""
    con, _ = _evaluated()
    write_result(con, tmp_path / "all.csv", html=False)
    keep = report.kept_statuses("符合、待确定")
    assert keep == ["eligible", "undetermined"]
    write_result(con, tmp_path / "some.csv", html=False, keep=keep)

    def rows(name: str) -> list[list[str]]:
        with (tmp_path / name).open(encoding="utf-8-sig", newline="") as fh:
            return list(csv.reader(fh))

    full, some = rows("all.csv"), rows("some.csv")
    status = full[0].index("结论")
    wanted = [r for r in full[1:] if r[status] in ("符合", "待确定")]
    assert some[0] == full[0] and some[1:] == wanted
    assert {r[status] for r in full[1:]} - {"符合", "待确定"}  # some rows were left out
    for dim in ("rules", "documents", "departments", "counties"):
        assert rows(f"some.{dim}.csv") == rows(f"all.{dim}.csv"), dim


def test_the_conclusions_are_read_in_the_users_words():
    assert report.kept_statuses("全部") is None and report.kept_statuses(" ") is None
    assert report.kept_statuses("逾期未申请，符合") == ["eligible", "overdue"]
    with pytest.raises(ValueError, match=r"“也许”.*待确定"):
        report.kept_statuses("符合,也许")


def test_the_cli_refuses_an_unknown_conclusion_and_rows_with_a_forecast_only_run(tmp_path):
    from typer.testing import CliRunner

    from huiqi.cli import app

    registry = tmp_path / "r.csv"
    registry.write_text("统一社会信用代码,注册地\nA1,焦作市\n", encoding="utf-8")
    base = ["batch", str(registry), "--as-of", "2019-03-01", "--out", str(tmp_path / "o.csv")]
    bad = CliRunner().invoke(app, [*base, "--rows", "也许"])
    assert bad.exit_code == 2 and "也许" in bad.output
    both = CliRunner().invoke(app, [*base, "--rows", "符合", "--forecast-only"])
    assert both.exit_code == 2 and "--forecast-only" in both.output
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize(
    "one_pass", [True, False], ids=["stored whole, then trimmed", "two passes"]
)
def test_a_run_that_keeps_some_rows_stores_those_and_the_eligible_and_forecasts_alike(
    one_pass, monkeypatch
):
    """`evaluate(keep=...)` (what --rows does): the result holds the rows of the kept
    statuses and the eligible ones (the report counts those), exactly as the full result
    has them; the forecast and the report's figures are those of the full run — whether the
    result was small enough to be stored whole and trimmed (the forecast grouped from it)
    or not (the forecast computed from the wide rows, only the kept rows stored)."""
    from huiqi.batch import runner
    from huiqi.batch.html import report_data
    from huiqi.batch.runner import FORECAST

    monkeypatch.setattr(runner, "ONE_PASS_ROWS", N * 30 if one_pass else N * 30 - 1)

    con, _ = _evaluated()
    rules = list(pack().compiled)[:30]
    batch = compile_rules(pack(), AS_OF, "duckdb", rules)
    full = con.execute(f"SELECT * FROM {RESULT} ORDER BY 1, 2").fetchall()
    forecast(con)  # (from the full result)
    figures_of_full = con.execute(f"SELECT * FROM {FORECAST} ORDER BY ALL").fetchall()
    figures = report_data(con)
    con.execute(f"DROP TABLE {FORECAST}")

    steps: list[tuple[int, int]] = []
    evaluate(
        con, pack(), AS_OF, rules, batch, keep=["undetermined"], on_chunk=lambda *s: steps.append(s)
    )
    statuses = {r[2] for r in full}
    assert {"eligible", "undetermined", "not_eligible"} <= statuses  # something is left out
    kept = con.execute(f"SELECT * FROM {RESULT} ORDER BY 1, 2").fetchall()
    assert kept == [r for r in full if r[2] in ("eligible", "undetermined")]
    assert con.execute(f"SELECT * FROM {FORECAST} ORDER BY ALL").fetchall() == figures_of_full
    assert report_data(con) == figures
    # one bar: the chunks of the whole result and the trimming, or of both passes
    assert (
        steps[-1][0] == steps[-1][1] == (len(batch.sqls) + 1 if one_pass else 2 * len(batch.sqls))
    )
    assert [s[0] for s in steps] == list(range(1, steps[-1][1] + 1))


def test_rows_beyond_a_sheet_are_refused_before_writing_counting_the_rows_kept(
    tmp_path, monkeypatch
):
    con, rules = _evaluated()
    eligible = con.execute(f"SELECT count(*) FROM {RESULT} WHERE status = 'eligible'").fetchall()
    monkeypatch.setattr(report, "XLSX_MAX_ROWS", eligible[0][0])
    out = tmp_path / "r.xlsx"
    with pytest.raises(ValueError, match=f"结果有 {N * rules:,} 行，超过 Excel 的上限"):
        report.write_rows(con, out)
    assert not out.exists()
    assert report.write_rows(con, out, keep=["eligible"])  # the rows kept fit
    assert len(list(load_workbook(out).active.iter_rows())) == eligible[0][0] + 1
